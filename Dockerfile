# The `pupero` binary in a small non-root image. One image runs every command: `serve`,
# `worker`, `web`, `migrate` (see compose.yaml).
#
#   docker build -t pupero .
#
# Dependencies are compiled in a layer of their own (cargo-chef), so a change to Pupero's code
# rebuilds only Pupero.
#
# The runtime base is an argument only so that the test suite can build this file's last stage
# on a stand-in made of the same Debian 12 libraries (deploy/check_image.sh), with no registry.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM rust:1-bookworm AS chef
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
COPY .cargo .cargo
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin pupero \
 && mkdir -p /out/data && touch /out/data/.keep \
 && cp target/release/pupero /out/pupero

# glibc, libgcc and CA certificates, no shell: the binary needs nothing else (SQLite is built in).
FROM ${RUNTIME_IMAGE}
COPY --from=builder /out/pupero /usr/local/bin/pupero
# The data directory (an embedded SQLite database) must belong to the runtime user before a
# fresh named volume is mounted on it: Docker copies this ownership into the new volume. Only a
# --chown copy of a non-empty directory sets it.
COPY --from=builder --chown=65532:65532 /out/data /data
USER 65532:65532
ENV PUPERO_DATA_DIR=/data \
    PUPERO_LISTEN=0.0.0.0:8000 \
    PUPERO_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8000 5000
# No curl in the image: the binary probes itself (GET /readyz on PUPERO_LISTEN).
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/pupero", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/pupero"]
CMD ["serve"]
