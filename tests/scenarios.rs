//! Every scenario file under `scenarios/` is its own named test.
//!
//! A timeline scenario (`events:` and `checks:`) is replayed through the
//! simulator into a store in memory; its snapshot holds what every event did,
//! every conversation and the SMS usage.
//!
//! Each test runs the file through `commroute::scenario::run_file`, the same
//! function behind `commroute test`, against the rules in `rules/`. A failing
//! case fails the test with expected and actual side by side and the trace;
//! then the full decision of every case (landing, recipients, deciding rule,
//! and why each earlier rule did not apply) is compared with its reviewed
//! snapshot in `tests/snapshots/`.

use std::path::Path;

use commroute::{scenario, RuleSet};

fn scenario_file(path: &Path) -> datatest_stable::Result<()> {
    let rules = RuleSet::load_dir(Path::new("rules")).map_err(|d| d.to_string())?;
    let report = scenario::run_file(path, &rules, None).map_err(|d| d.to_string())?;
    if report.cases.is_empty() {
        return Err(format!("{} has no cases", path.display()).into());
    }
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("FAIL {}:{} › {}\n{}", path.display(), c.line, c.name, c.failure_text()))
        .collect();
    if !failures.is_empty() {
        return Err(failures.join("\n").into());
    }
    let suffix = path
        .strip_prefix("scenarios")
        .unwrap_or(path)
        .with_extension("")
        .to_string_lossy()
        .replace(['/', '\\'], "__");
    insta::with_settings!({
        snapshot_suffix => suffix,
        prepend_module_to_snapshot => false,
        omit_expression => true,
        info => &path.display().to_string(),
    }, {
        match &report.timeline {
            // A timeline: every event's outcome, every conversation and the usage.
            Some(outcome) => insta::assert_yaml_snapshot!("scenario", outcome),
            None => insta::assert_yaml_snapshot!("scenario", &report.cases),
        }
    });
    Ok(())
}

datatest_stable::harness! {
    { test = scenario_file, root = "scenarios", pattern = r"\.ya?ml$" },
}
