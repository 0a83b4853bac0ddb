//! Helpers shared by the test binaries (`tests/cli/main.rs`,
//! `tests/lib/main.rs`): processes with deadlines, one invocation of the
//! binary, the shipped rules copied, and the property tests' configuration.
//! No tests live here.
// Each test binary uses part of this.
#![allow(dead_code)]

pub mod process;
pub mod proptest;
pub mod rules;
pub mod run;
