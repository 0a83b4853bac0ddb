//! The tests that drive the `commroute` binary, one test binary with a
//! module per area (linking the library, SQLite and Rhai once instead of
//! once per file). Library-level tests are in `tests/lib/`; the datatest
//! harnesses (`tests/scenarios.rs`, `tests/bad_input.rs`, `tests/schemas.rs`)
//! stay binaries of their own so each file is its own named test.
//!
//! Snapshots are in `tests/cli/snapshots/`, named after the module
//! (`cli__simulate__table.snap`).

// Shared with `tests/lib/`, so it lives beside both.
#[path = "../support/mod.rs"]
mod support;

mod authoring;
mod batch;
mod browser;
mod commands;
mod conventions;
mod diff;
mod output;
mod photos;
mod progress;
mod regression;
mod resume;
mod rules_regression;
pub mod serve;
mod simulate;
mod terminal;
