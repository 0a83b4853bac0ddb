//! The bad-input corpus: every malformed rules, world and scenario file under
//! `tests/bad_input/` is its own test, and the exact message a user sees is a
//! reviewed snapshot. Each file must be refused; a file that loads is a failure.
//!
//! Rules files are named after the policy they replace (`inbound-*.yaml`,
//! `delivery-*.yaml`, `outbound-*.yaml`); the other two policies are the
//! shipped ones, so each file is checked exactly as `commroute check` would.

use std::path::Path;

use commroute::scenario::ScenarioFile;
use commroute::{RuleSet, Source, World};

fn snapshot(group: &str, path: &Path, message: String) {
    let stem = path.file_stem().unwrap().to_string_lossy();
    insta::with_settings!({
        snapshot_suffix => format!("{group}__{stem}"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        info => &path.display().to_string(),
    }, {
        insta::assert_snapshot!("bad_input", message);
    });
}

fn rules_file(path: &Path) -> datatest_stable::Result<()> {
    let name = path.file_name().unwrap().to_string_lossy();
    let slot = ["inbound-", "delivery-", "outbound-"]
        .iter()
        .position(|p| name.starts_with(p))
        .ok_or("rules corpus files start with inbound-, delivery- or outbound-")?;
    let mut sources: Vec<Source> = commroute::rules::FILES
        .iter()
        .map(|f| Source::read(&Path::new("rules").join(f)).unwrap())
        .collect();
    sources[slot] = Source::read(path).map_err(|d| d.to_string())?;
    let [i, d, o]: [Source; 3] = sources.try_into().unwrap();
    match RuleSet::parse(i, d, o) {
        Ok(_) => Err(format!("{} was accepted, but it is malformed", path.display()).into()),
        Err(diags) => {
            snapshot("rules", path, diags.to_string());
            Ok(())
        }
    }
}

fn world_file(path: &Path) -> datatest_stable::Result<()> {
    match World::load(path) {
        Ok(_) => Err(format!("{} was accepted, but it is malformed", path.display()).into()),
        Err(diags) => {
            snapshot("world", path, diags.to_string());
            Ok(())
        }
    }
}

/// Scenario files are loaded as `commroute test` loads them: against the
/// shipped rules, so an expected rule that does not exist is refused too.
fn scenario_file(path: &Path) -> datatest_stable::Result<()> {
    let rules = RuleSet::load_dir(Path::new("rules")).map_err(|d| d.to_string())?;
    match ScenarioFile::load_for(path, &rules) {
        Ok(_) => Err(format!("{} was accepted, but it is malformed", path.display()).into()),
        Err(diags) => {
            snapshot("scenario", path, diags.to_string());
            Ok(())
        }
    }
}

datatest_stable::harness! {
    { test = rules_file, root = "tests/bad_input/rules", pattern = r"\.yaml$" },
    { test = world_file, root = "tests/bad_input/world", pattern = r"\.yaml$" },
    { test = scenario_file, root = "tests/bad_input/scenario", pattern = r"\.yaml$" },
}
