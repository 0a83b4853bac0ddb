//! `commroute diff`: an unchanged rule set reports nothing; a change lists
//! exactly the classes, scenario cases and recorded events it alters.

use std::path::{Path, PathBuf};

use commroute::authoring::analysis::{Classes, Place};
use commroute::authoring::impact::{self, Recorded};
use commroute::scenario::{self, ScenarioFile, Suite};
use commroute::{EventLine, InboundRequest, RuleSet, Source, World};

use crate::support::process;

fn shipped() -> RuleSet {
    RuleSet::load_dir(Path::new("rules")).unwrap()
}

fn scenarios() -> Vec<ScenarioFile> {
    let suite = Suite::load(&[PathBuf::from(scenario::DEFAULT_DIR)], None).unwrap();
    assert!(suite.broken.is_empty(), "{}", suite.broken);
    suite.files
}

/// The shipped rules with `reply-to-location-message` moved above
/// `campaign-reply-with-history`: campaign replies go to the campaign's location.
fn campaign_rule_moved_down() -> RuleSet {
    let read = |f: &str| std::fs::read_to_string(format!("rules/{f}")).unwrap();
    let t = read("inbound.yaml");
    let a = t.find("  - id: campaign-reply-with-history\n").unwrap();
    let b = t.find("  - id: reply-to-location-message\n").unwrap();
    let c = t.find("  - id: out-of-the-blue-with-history\n").unwrap();
    let moved = format!("{}{}{}{}", &t[..a], &t[b..c], &t[a..b], &t[c..]);
    RuleSet::parse(
        Source::new("head/inbound.yaml", moved),
        Source::new("head/delivery.yaml", read("delivery.yaml")),
        Source::new("head/outbound.yaml", read("outbound.yaml")),
    )
    .unwrap()
}

fn event(id: &str, answering: &str) -> Recorded {
    Recorded {
        line: 1,
        event: EventLine::Inbound {
            id: id.into(),
            request: InboundRequest {
                client: "cleo".into(),
                answering: Some(answering.into()),
                ..Default::default()
            },
        },
    }
}

#[test]
fn an_unchanged_rule_set_reports_no_changes() {
    let world = World::load(Path::new("examples/glow-world.yaml")).unwrap();
    let events = [event("e1", "campaign@B"), event("e2", "confirmation@A")];
    let i = impact::compare(&shipped(), &shipped(), &scenarios(), Some((&world, &events)));
    assert!(i.is_unchanged(), "{:#?}", i.changes);
    assert!(
        i.classes > 300 && i.cases > 40,
        "{} classes, {} cases",
        i.classes,
        i.cases
    );
    assert_eq!((i.events, i.events_changed), (2, 0));
}

#[test]
fn moving_the_campaign_rule_down_changes_exactly_the_campaign_replies_with_history() {
    let base = shipped();
    let head = campaign_rule_moved_down();
    let world = World::load(Path::new("examples/glow-world.yaml")).unwrap();
    // Cleo (last appointment A) answers campaigns from B and from A, and a confirmation.
    let events = [
        event("from-b", "campaign@B"),
        event("from-a", "campaign@A"),
        event("confirmation", "confirmation@A"),
    ];
    let i = impact::compare(&base, &head, &scenarios(), Some((&world, &events)));

    // Exactly the classes where a client with a last appointment answers a campaign.
    let classes = Classes::for_rules(&[&base, &head]);
    let mut expected: Vec<String> = classes
        .inbound_classes()
        .filter(|c| !c.started_by_staff && c.answering.name() == "campaign" && c.last != Place::None)
        .map(|c| c.describe())
        .collect();
    let mut changed: Vec<String> = i
        .changes
        .iter()
        .filter(|c| c.kind == "class")
        .map(|c| c.input.clone())
        .collect();
    expected.sort();
    changed.sort();
    assert_eq!(changed, expected);
    for c in i.changes.iter().filter(|c| c.kind == "class") {
        assert_eq!(
            (c.old_rule.as_str(), c.new_rule.as_str()),
            ("campaign-reply-with-history", "reply-to-location-message")
        );
    }

    // The two campaign events fall in changed classes; the confirmation does not.
    let touched: usize = i.changes.iter().filter_map(|c| c.events).sum();
    assert_eq!(touched, 2);
    // Both change their deciding rule (from A, Cleo's last appointment, it still lands at A).
    assert_eq!(i.events_changed, 2);

    // Scenario #9's three cases change, nothing else.
    let cases: Vec<&str> = i
        .changes
        .iter()
        .filter(|c| c.kind == "case")
        .map(|c| c.input.as_str())
        .collect();
    assert_eq!(cases.len(), 3, "{cases:#?}");
    assert!(cases
        .iter()
        .all(|c| c.contains("09-campaign-reply-goes-to-last-appointment.yaml")));
}

#[test]
fn the_base_can_be_a_git_revision() {
    // The rules at HEAD parse through git; a revision that does not exist is an error naming it.
    // git runs in a child process: give it a deadline.
    process::within(process::DEADLINE, "`git show`", || {
        if std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            impact::load_revision("HEAD", Path::new("rules")).unwrap();
            let err = impact::load_revision("no-such-revision", Path::new("rules"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("`no-such-revision:rules/inbound.yaml`"), "{err}");
        }
    });
}

#[test]
fn a_bad_event_line_names_its_line_and_column() {
    let world = World::load(Path::new("examples/glow-world.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(
        &path,
        "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\"}\n\n{\"id\":\"e2\",\"type\":\"inbound\",\"client\":\"nobody\"}\n{\"id\":\n",
    )
    .unwrap();
    let err = impact::read_recorded_events(&path, &world).unwrap_err().to_string();
    assert!(err.contains("events.jsonl:3:1"), "{err}");
    assert!(err.contains("`nobody`"), "{err}");
    assert!(err.contains("events.jsonl:4:"), "{err}");
}
