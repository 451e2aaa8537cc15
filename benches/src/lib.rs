//! Benchmarks live as `[[bench]]` targets; this library is empty.
