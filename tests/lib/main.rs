//! The tests of the library itself, one test binary with a module per
//! area: analysis, broken rules, the facts' documentation, hostile input,
//! the differential model, the phone-number subset, the Rhai sandbox and
//! YAML nesting. Tests that run the `commroute` binary are in `tests/cli/`.
//!
//! Run one area with its module path, e.g. `cargo test --test lib model::`.

// Shared with `tests/cli/`, so it lives beside both.
#[path = "../support/mod.rs"]
mod support;

mod analyze;
mod broken_rules;
mod docs;
mod hostile;
mod model;
mod phone_subset;
mod sandbox;
mod yaml_depth;
