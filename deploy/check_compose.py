#!/usr/bin/env python3
"""Validates the compose files with docker-compose, without a daemon: each combination merges
and parses; the base publishes no port, the development overlay publishes only on 127.0.0.1,
the production overlay publishes exactly the gateway (8000) and the website (5000); every
secret of .env.example is required, with its message; each role runs with PUPERO_MIGRATE=check
after `migrate`, only the wallet role runs the wallet jobs, and neither the gateway nor the
website is given a secret.

    python3 deploy/check_compose.py
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BASE = ["-f", "compose.yaml"]
DEV = BASE + ["-f", "compose.dev.yaml"]
PROD = BASE + ["-f", "compose.prod.yaml"]
PUPERO_SERVICES = {"migrate", "auth", "offers", "ledger", "wallet"}


def example_secrets():
    """The variables .env.example asks for (uncommented lines), filled with test values."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        values[name] = value or f"test-{name.lower()}"
    return values


def compose(files, env, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
        for name, value in env.items():
            f.write(f"{name}={value}\n")
        env_file = f.name
    try:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PUPERO_")}
        return subprocess.run(
            ["docker-compose", "--env-file", env_file, "-p", "pupero", *files, *args],
            cwd=ROOT, env=clean, capture_output=True, text=True,
        )
    finally:
        os.unlink(env_file)


def config(files, env):
    done = compose(files, env, "config")
    if done.returncode != 0:
        sys.exit(f"docker-compose {' '.join(files)} config failed:\n{done.stderr}")
    return yaml.safe_load(done.stdout)


def published(merged):
    """(service, host ip, host port) of every published port."""
    out = []
    for name, service in merged["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                out.append((name, port.get("host_ip", ""), str(port.get("published"))))
            else:
                parts = str(port).split(":")
                ip = parts[0] if len(parts) == 3 else ""
                out.append((name, ip, parts[-2] if len(parts) >= 2 else parts[0]))
    return out


def main():
    env = example_secrets()
    failures = []

    base = config(BASE, env)
    if published(base):
        failures.append(f"the base publishes ports: {published(base)}")
    for name in PUPERO_SERVICES:
        service = base["services"].get(name)
        if service is None:
            failures.append(f"no service {name}")
            continue
        if name != "migrate":
            if service["environment"].get("PUPERO_MIGRATE") != "check":
                failures.append(f"{name} does not run with PUPERO_MIGRATE=check")
            if "migrate" not in service.get("depends_on", {}):
                failures.append(f"{name} does not wait for migrate")

    for name in ("web", "gateway"):
        given = base["services"][name].get("environment", {})
        leaked = [secret for secret in env if secret in given or any(
            isinstance(v, str) and env[secret] in v for v in given.values())]
        if leaked:
            failures.append(f"{name} is given secrets: {leaked}")
    for role in ("auth", "offers", "ledger", "wallet"):
        command = base["services"][role].get("command")
        if command != ["serve", "--role", role]:
            failures.append(f"{role} runs {command}")
        jobs = base["services"][role]["environment"].get("PUPERO_WALLET_WORKER")
        if jobs != ("on" if role == "wallet" else "off"):
            failures.append(f"{role} has PUPERO_WALLET_WORKER={jobs}")

    dev = config(DEV, env)
    for service, ip, port in published(dev):
        if ip != "127.0.0.1":
            failures.append(f"dev publishes {service}:{port} beyond 127.0.0.1")

    prod = config(PROD, env)
    ports = sorted((service, port) for service, _, port in published(prod))
    if ports != [("gateway", "8000"), ("web", "5000")]:
        failures.append(f"prod publishes {ports}, not exactly gateway:8000 and web:5000")
    for role in ("auth", "offers", "ledger", "wallet"):
        if prod["services"][role]["environment"].get("PUPERO_MODE") != "production":
            failures.append(f"prod does not run {role} in production mode")
    for role in ("auth", "offers", "ledger", "wallet"):
        if dev["services"][role]["environment"].get("PUPERO_MODE") != "dev":
            failures.append(f"dev does not run {role} in development mode")

    for secret in env:
        missing = {k: v for k, v in env.items() if k != secret}
        done = compose(PROD, missing, "config", "-q")
        if done.returncode == 0 or f"set {secret} in .env" not in done.stderr:
            failures.append(f"{secret} is not required with its message: {done.stderr.strip()[:200]}")

    if failures:
        sys.exit("compose files:\n  " + "\n  ".join(failures))
    print("compose files: base, dev and prod merge; ports and secrets as intended")


if __name__ == "__main__":
    main()
