//! Criterion benchmarks of twofold, side by side with peer libraries.
//!
//! Run with `cargo bench -p twofold-benches`; the CI runs each once in test mode
//! (`cargo test -p twofold-benches --benches`).
