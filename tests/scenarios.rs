//! Every scenario file under `scenarios/` is its own named test.
//!
//! A timeline scenario (`events:` and `checks:`) is replayed through the
//! simulator into a store in memory; its snapshot holds what every event did,
//! every conversation and the SMS usage.
//!
//! Each test loads and runs the file through `commroute::scenario::Suite`,
//! the same path behind `commroute test`, against the rules in `rules/`; the
//! files are those under the same default folder. A failing
//! case fails the test with expected and actual side by side and the trace;
//! then the full decision of every case (landing, recipients, deciding rule,
//! and why each earlier rule did not apply) is compared with its reviewed
//! snapshot in `tests/snapshots/`.

use std::path::Path;

use commroute::scenario::{self, Suite};
use commroute::RuleSet;

fn scenario_file(path: &Path) -> datatest_stable::Result<()> {
    let rules = RuleSet::load_dir(Path::new("rules")).map_err(|d| d.to_string())?;
    let suite = Suite::load(&[path.to_path_buf()], Some(&rules)).map_err(|d| d.to_string())?;
    if !suite.broken.is_empty() {
        return Err(suite.broken.to_string().into());
    }
    let mut files = suite.run(&rules, None).files;
    let report = files.pop().expect("a file that loads gives one report");
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
        .strip_prefix(scenario::DEFAULT_DIR)
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
    { test = scenario_file, root = scenario::DEFAULT_DIR, pattern = r"\.ya?ml$" },
}
