//! The property tests' configuration (`model.rs`, `phone_subset.rs`).

use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm};

/// `default_cases` cases unless `PROPTEST_CASES` says otherwise.
pub fn proptest_config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // The default ChaCha generator is a fifth of the run time in a debug build.
        rng_algorithm: RngAlgorithm::XorShift,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}
