//! Criterion benchmarks of twofold, side by side with peer libraries.
//!
//! Run with `cargo bench -p twofold-benches`; the CI runs each once in test mode
//! (`cargo test -p twofold-benches --benches`).

/// The workspace README, whose Quick start `cargo test --doc` compiles here:
/// this package depends on both `twofold` and `twofold-store-sqlx`, which the
/// Quick start uses (a dev-dependency of the facade on the store would be a cycle).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeQuickStart;
