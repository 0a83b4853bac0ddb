//! Regression tests for rules, scenarios and authoring, each named after
//! the problem it pins (issue 10). The bad files themselves are in the
//! bad-input corpus (`tests/bad_input/`) with their reviewed messages; these
//! tests pin what the commands do with them.

#[path = "support/run.rs"]
mod run;
use run::Run;

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
