//! Regression tests for rules, scenarios and authoring, each named after
//! the problem it pins (issue 10). The bad files themselves are in the
//! bad-input corpus (`tests/bad_input/`) with their reviewed messages; these
//! tests pin what the commands do with them.

use crate::support::run::Run;

#[test]
fn a_typo_in_an_expected_id_is_a_load_error_not_a_failing_case() {
    for file in [
        "tests/bad_input/scenario/expect-unknown-ids.yaml",
        "tests/bad_input/scenario/timeline-check-unknown-ids.yaml",
    ] {
        let (out, err) = Run::new(&["test", file]).expect(2);
        assert!(!out.contains("FAIL"), "{file}: no case runs:\n{out}");
        assert!(err.contains("did you mean"), "{file}:\n{err}");
    }
    let (_, err) = Run::new(&["test", "tests/bad_input/scenario/expect-unknown-ids.yaml"]).expect(2);
    for expected in [
        "unknown location `Z`",
        "unknown staff member `bob`",
        "unknown rule `reply-to-locaton-message`",
        "did you mean `reply-to-location-message`?",
        "`logged-in` is a delivery rule, which does not decide an inbound case",
        "unknown rule `smss`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

use std::path::Path;

use commroute::authoring::coverage;
use commroute::{scenario, RuleSet};

fn shipped() -> RuleSet {
    RuleSet::load_dir(Path::new("rules")).unwrap()
}

#[test]
fn coverage_counts_every_decision_a_timeline_scenario_makes_including_push_fallbacks() {
    let rules = shipped();
    let path = Path::new("scenarios/timelines/push-failure-fallback.yaml");
    let report = scenario::run_file(path, &rules, None).unwrap();
    let c = coverage::measure(&rules, &[report]);
    let count = |policy: &str, rule: &str| {
        c.rules
            .iter()
            .find(|r| r.policy == policy && r.rule == rule)
            .map(|r| r.count)
            .unwrap()
    };
    // Three staff messages go by push; each failed push is decided again
    // without push: SMS for paul, nothing for gwen, then email for gwen.
    assert_eq!(
        [
            count("outbound", "push"),
            count("outbound", "sms"),
            count("outbound", "unreachable"),
            count("outbound", "email")
        ],
        [3, 1, 1, 1]
    );
    assert_eq!(count("text", "child-account-name-on-global-push"), 2);
    assert_eq!((c.cases, c.decisions), (0, 6));
}

#[test]
fn coverage_of_the_timeline_scenarios_is_not_zero() {
    let (out, _) = Run::new(&["coverage", "scenarios/timelines"]).expect(0);
    assert!(!out.contains("(0 of 18)"), "{out}");
    assert!(out.contains("by 0 cases and "), "{out}");
    // A client writes to a location that started no conversation, and the
    // delivery grants admit staff live.
    assert!(out.contains("out-of-the-blue-one-location"), "{out}");
    for line in out.lines().filter(|l| l.contains(" grant ")) {
        assert!(line.contains("admitted"), "{line}");
    }
}

#[test]
fn a_failing_timeline_check_shows_why_as_a_failing_case_does() {
    let text = std::fs::read_to_string("scenarios/timelines/failed-sms-notice-and-cue.yaml")
        .unwrap()
        .replace(
            "world: ../../examples/glow-world.yaml",
            &format!(
                "world: {}",
                Path::new("examples/glow-world.yaml").canonicalize().unwrap().display()
            ),
        )
        .replace("audio_cue: [sam]}", "audio_cue: [rita]}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failing.yaml");
    std::fs::write(&path, text).unwrap();
    let report = scenario::run_file(&path, &shipped(), None).unwrap();
    let failed: Vec<_> = report.cases.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1);
    let text = failed[0].failure_text();
    // The decision behind the cue: the delivery policy applied as if the
    // client had written, staff member by staff member.
    assert!(text.contains("    audio_cue      [rita]     [sam]\n"), "{text}");
    assert!(text.contains("    why:\n"), "{text}");
    assert!(
        text.contains("      logged-in-at-landing-location applied for `sam`: "),
        "{text}"
    );
    assert!(text.contains("      logged-in did not apply for `omar`: "), "{text}");
}
