//! The scenario suite must catch a broken rules change: with rules 5 and 6 of
//! the inbound policy swapped (a campaign reply then goes to the campaign's
//! location instead of the last appointment), documented scenario #9 fails,
//! and the failure names the scenario file and the case.

use std::path::{Path, PathBuf};

use commroute::scenario::{self, Suite};
use commroute::RuleSet;

use crate::support::rules::copy_shipped_rules;

/// Copies the shipped rules into a temporary directory with two inbound rules swapped.
fn rules_with_swapped(first: &str, second: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    let text = std::fs::read_to_string("rules/inbound.yaml").unwrap();
    let a = text.find(&format!("  - id: {first}\n")).expect("first rule");
    let b = text.find(&format!("  - id: {second}\n")).expect("second rule");
    assert!(a < b, "the rules are in the shipped order");
    let end = text[b + 1..]
        .find("\n  - id: ")
        .map(|i| b + 1 + i + 1)
        .unwrap_or(text.len());
    let swapped = format!("{}{}{}{}", &text[..a], &text[b..end], &text[a..b], &text[end..]);
    assert_ne!(swapped, text);
    std::fs::write(dir.path().join("inbound.yaml"), swapped).unwrap();
    dir
}

fn failing_cases(rules: &RuleSet) -> Vec<(PathBuf, String)> {
    let suite = Suite::load(&[PathBuf::from(scenario::DEFAULT_DIR)], Some(rules)).unwrap();
    assert!(suite.broken.is_empty(), "{}", suite.broken);
    let mut out = Vec::new();
    for report in suite.run(rules, None).files {
        for c in report.cases.iter().filter(|c| !c.passed) {
            out.push((report.path.clone(), c.name.clone()));
        }
    }
    out
}

#[test]
fn shipped_rules_pass_every_scenario() {
    let rules = RuleSet::load_dir(Path::new("rules")).unwrap();
    assert_eq!(failing_cases(&rules), Vec::<(PathBuf, String)>::new());
}

#[test]
fn swapping_inbound_rules_5_and_6_is_caught_by_scenario_9() {
    let dir = rules_with_swapped("campaign-reply-with-history", "reply-to-location-message");
    let rules = RuleSet::load_dir(dir.path()).expect("the swapped rules are still valid rules");
    assert_eq!(rules.inbound.rules.rules[4].id, "reply-to-location-message");
    let failing = failing_cases(&rules);
    let files: Vec<String> = failing
        .iter()
        .map(|(f, _)| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| f == "09-campaign-reply-goes-to-last-appointment.yaml"),
        "only scenario 9 depends on the order of these two rules: {failing:?}"
    );
    assert_eq!(failing.len(), 3, "every case of scenario 9 fails: {failing:?}");
    assert!(failing
        .iter()
        .any(|(_, case)| case == "lands at B, received by B's staff and not by the campaign's location"));
}
