//! The scenario loader: any bytes as a scenario file (inline worlds, cases,
//! overrides). A file that loads is run against the shipped rules.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use commroute::scenario::ScenarioFile;
use commroute::Source;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A relative `world:` path resolves next to this (nonexistent) file.
    match ScenarioFile::parse(Source::new("fuzz-scenarios/case.yaml", text)) {
        Ok(file) => {
            let _ = file.run(common::shipped(), None);
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            let _ = diags.to_string();
        }
    }
});
