//! `commroute analyze` against the contract: the nine documented scenarios,
//! row by row, must agree with the decision matrix of the shipped rules; the
//! shipped rules have no shadowed rule and no gap; a rule set with a shadowed
//! rule and one with a gap are caught, naming the rules and the inputs.

use std::collections::BTreeSet;

use commroute::authoring::analysis::{
    self, Access, Analysis, Assoc, Classes, InboundClass, Login, RecipientClass, Row,
};
use commroute::{InboundRequest, RuleSet, Source, World};

fn shipped() -> (RuleSet, Classes, Analysis) {
    let rules = RuleSet::load_dir("rules".as_ref()).unwrap();
    let classes = Classes::for_rules(&[&rules]);
    let a = analysis::analyze(&rules, &classes);
    (rules, classes, a)
}

/// A contract row: the client's locations (and last appointment), the staff
/// member's locations, and who started it.
struct Contract {
    client: &'static [&'static str],
    last: Option<&'static str>,
    staff: &'static [&'static str],
    /// `Some("confirmation@A")` when the client answers, `None` when staff started it from `from`.
    answering: Option<&'static str>,
    from: Option<&'static str>,
    lands_at: &'static [&'static str],
    rule: &'static str,
}

fn world(c: &Contract) -> World {
    let list = |v: &[&str]| format!("[{}]", v.join(", "));
    let mut y = String::from(
        "accounts: [{id: glow, name: Glow}]\nlocations: [{id: A, name: Downtown, account: glow}, {id: B, name: Midtown, account: glow}]\n",
    );
    y.push_str(&format!(
        "staff: [{{id: sam, name: Sam, locations: {}}}]\n",
        list(c.staff)
    ));
    y.push_str(&format!(
        "clients: [{{id: cleo, name: Cleo, account: glow, locations: {}{}}}]\n",
        list(c.client),
        c.last
            .map(|l| format!(", last_appointment_at: {l}"))
            .unwrap_or_default()
    ));
    World::parse(Source::new("contract.yaml", y)).unwrap()
}

/// Finds the contract row's class in the matrix and checks its outcome.
fn check(c: Contract) -> (Row, RecipientClass) {
    let (_, classes, a) = shipped();
    let w = world(&c);
    let req = InboundRequest {
        client: "cleo".into(),
        answering: c.answering.map(str::to_owned),
        staff: c.from.map(|_| "sam".to_owned()),
        from: c.from.map(str::to_owned),
    };
    let ev = req.resolve(&w).unwrap();
    let class = InboundClass::of(&w, &ev, &classes.dims);
    let row = a
        .inbound_row(&class)
        .expect("every input has a class in the matrix")
        .clone();
    assert_eq!(row.rule, c.rule, "deciding rule for {}", row.description);
    let expected = commroute::world::locset::LocSet::from_unsorted(c.lands_at.iter().map(|l| w.location(l).unwrap()));
    assert_eq!(
        row.roles,
        analysis::roles(&w, &ev, &expected),
        "the matrix lands {} at {} ({}), the contract at {:?}",
        row.description,
        row.outcome,
        row.example,
        c.lands_at
    );
    // How the contract's staff member relates to where it lands.
    let lands: BTreeSet<&str> = c.lands_at.iter().copied().collect();
    let mine: BTreeSet<&str> = c.staff.iter().copied().collect();
    let assoc = match mine.intersection(&lands).count() {
        0 => Assoc::None,
        n if n == lands.len() => Assoc::All,
        _ => Assoc::Some,
    };
    let sam = RecipientClass {
        starter: c.from.is_some(),
        assoc,
        login: Login::Out,
        access: Access::Own,
    };
    (row, sam)
}

fn live(row: &Row, r: RecipientClass) -> Option<String> {
    row.live
        .iter()
        .find(|c| c.recipient == r)
        .unwrap_or_else(|| panic!("no recipient class {r} in {}", row.description))
        .grant
        .clone()
}

fn logged_in(r: RecipientClass, login: Login) -> RecipientClass {
    RecipientClass { login, ..r }
}

#[test]
fn shipped_rules_have_no_shadowed_rule_and_no_gap() {
    let (_, _, a) = shipped();
    assert_eq!(a.shadowed, vec![]);
    assert_eq!(a.gaps, vec![]);
    assert!(
        a.rows.iter().all(|r| r.partial.is_empty()),
        "the shipped rules are all declarative"
    );
    // A finding, not a failure: a staff member logged in at a location is
    // associated with it, and whoever started a conversation shares a location
    // with where the reply lands, so these two grants never admit anyone
    // `associated-with-landing-location` does not.
    let redundant: Vec<&str> = a.redundant.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(redundant, ["logged-in-at-landing-location", "started-the-conversation"]);
    assert!(a
        .redundant
        .iter()
        .all(|r| r.by.contains(&"associated-with-landing-location".to_string())));
}

#[test]
fn contract_1_client_replies_staff_at_both_locations() {
    let (row, sam) = check(Contract {
        client: &["A"],
        last: None,
        staff: &["A", "B"],
        answering: Some("confirmation@A"),
        from: None,
        lands_at: &["A"],
        rule: "reply-to-location-message",
    });
    assert!(live(&row, logged_in(sam, Login::AtLanding)).is_some(), "logged in at A");
    assert!(live(&row, logged_in(sam, Login::Elsewhere)).is_some(), "logged in at B");
    assert_eq!(live(&row, sam), None, "not logged in: it waits at A");
}

#[test]
fn contract_2_staff_at_both_locations_starts() {
    let (row, sam) = check(Contract {
        client: &["A"],
        last: None,
        staff: &["A", "B"],
        answering: None,
        from: Some("A"),
        lands_at: &["A"],
        rule: "staff-conversation-shared-locations",
    });
    assert!(live(&row, logged_in(sam, Login::AtLanding)).is_some(), "logged in at A");
    assert!(live(&row, logged_in(sam, Login::Elsewhere)).is_some(), "logged in at B");
    assert_eq!(live(&row, sam), None, "not logged in: it waits at A");
}

#[test]
fn contract_3_client_of_another_location_replies() {
    let (row, sam) = check(Contract {
        client: &["B"],
        last: None,
        staff: &["A"],
        answering: Some("confirmation@B"),
        from: None,
        lands_at: &["B"],
        rule: "reply-to-location-message",
    });
    // Sam (of A, logged in at A) does not receive it; staff of B logged in at B do.
    assert_eq!(live(&row, logged_in(sam, Login::Elsewhere)), None);
    let staff_of_b = RecipientClass {
        assoc: Assoc::All,
        login: Login::AtLanding,
        ..sam
    };
    assert_eq!(live(&row, staff_of_b).as_deref(), Some("logged-in-at-landing-location"));
}

#[test]
fn contract_4_staff_of_another_location_starts() {
    check(Contract {
        client: &["A"],
        last: None,
        staff: &["B"],
        answering: None,
        from: Some("B"),
        lands_at: &["B"],
        rule: "staff-conversation-no-shared-location",
    });
}

#[test]
fn contract_5_multi_location_client_replies() {
    check(Contract {
        client: &["A", "B"],
        last: None,
        staff: &["B"],
        answering: Some("confirmation@A"),
        from: None,
        lands_at: &["A"],
        rule: "reply-to-location-message",
    });
}

#[test]
fn contract_6_staff_starts_with_multi_location_client_without_history() {
    check(Contract {
        client: &["A", "B"],
        last: None,
        staff: &["B"],
        answering: None,
        from: Some("B"),
        lands_at: &["A", "B"],
        rule: "staff-conversation-multi-location-no-history",
    });
}

#[test]
fn contract_7_client_with_history_replies() {
    check(Contract {
        client: &["A", "B"],
        last: Some("A"),
        staff: &["B"],
        answering: Some("confirmation@A"),
        from: None,
        lands_at: &["A"],
        rule: "reply-to-location-message",
    });
}

#[test]
fn contract_8_staff_starts_with_client_with_history() {
    check(Contract {
        client: &["A", "B"],
        last: Some("A"),
        staff: &["B"],
        answering: None,
        from: Some("B"),
        lands_at: &["B"],
        rule: "staff-conversation-shared-locations",
    });
}

#[test]
fn contract_9_campaign_reply_goes_to_last_appointment() {
    check(Contract {
        client: &["A", "B"],
        last: Some("B"),
        staff: &["A"],
        answering: Some("campaign@A"),
        from: None,
        lands_at: &["B"],
        rule: "campaign-reply-with-history",
    });
}

/// The shipped rules with `inbound.yaml` changed by `edit`.
pub fn altered(edit: impl Fn(&str) -> String) -> RuleSet {
    let read = |f: &str| std::fs::read_to_string(format!("rules/{f}")).unwrap();
    let inbound = edit(&read("inbound.yaml"));
    assert_ne!(inbound, read("inbound.yaml"), "the edit changed something");
    RuleSet::parse(
        Source::new("altered/inbound.yaml", inbound),
        Source::new("altered/delivery.yaml", read("delivery.yaml")),
        Source::new("altered/outbound.yaml", read("outbound.yaml")),
    )
    .unwrap()
}

#[test]
fn a_rule_moved_below_a_broader_one_is_reported_shadowed_by_it() {
    // `reply-to-location-message` moved above `campaign-reply-with-history`
    // takes every campaign reply.
    let rules = altered(|t| {
        let a = t.find("  - id: campaign-reply-with-history\n").unwrap();
        let b = t.find("  - id: reply-to-location-message\n").unwrap();
        let c = t.find("  - id: out-of-the-blue-with-history\n").unwrap();
        format!("{}{}{}{}", &t[..a], &t[b..c], &t[a..b], &t[c..])
    });
    let a = analysis::analyze(&rules, &Classes::for_rules(&[&rules]));
    assert_eq!(a.gaps, vec![]);
    assert_eq!(
        a.shadowed
            .iter()
            .map(|s| (s.policy, s.rule.as_str(), s.by.clone()))
            .collect::<Vec<_>>(),
        vec![(
            "inbound",
            "campaign-reply-with-history",
            vec!["reply-to-location-message".to_string()]
        )]
    );
}

#[test]
fn without_the_no_shared_location_rule_staff_conversations_land_nowhere() {
    // Without rule 1, a staff conversation with a client who shares no
    // location falls to the intersection rule: an empty set, a gap.
    let rules = altered(|t| {
        let a = t.find("  - id: staff-conversation-no-shared-location\n").unwrap();
        let b = t
            .find("  - id: staff-conversation-multi-location-no-history\n")
            .unwrap();
        format!("{}{}", &t[..a], &t[b..])
    });
    let classes = Classes::for_rules(&[&rules]);
    let a = analysis::analyze(&rules, &classes);
    assert_eq!(a.shadowed, vec![]);
    assert!(!a.gaps.is_empty());
    let gap_rows: Vec<&Row> = a.rows.iter().filter(|r| r.gap.is_some()).collect();
    assert_eq!(gap_rows.len(), a.gaps.len());
    for r in &gap_rows {
        assert_eq!(r.outcome, "lands at []", "{}", r.description);
        assert!(r.description.contains("they share no location"), "{}", r.description);
    }
    // Every staff-started class that shares nothing and is not caught by the
    // multi-location rule is a gap, and nothing else is.
    let expected = classes
        .inbound_classes()
        .filter(|c| {
            c.started_by_staff
                && c.from != analysis::Place::Shared
                && c.last != analysis::Place::Shared
                && !c.more_shared
                && !(c.client_count >= 2 && c.last == analysis::Place::None)
        })
        .count();
    assert_eq!(gap_rows.len(), expected);
    assert!(
        a.gaps[0].reason.contains("staff-conversation-shared-locations"),
        "{}",
        a.gaps[0].reason
    );
}

#[test]
fn rules_with_rhai_are_evaluated_on_the_witnesses_and_marked() {
    let rules = altered(|t| {
        t.replace(
            "        - conversation.answering: campaign\n        - client.last_appointment: {present: true}\n",
            "        - conversation.answering: campaign\n        - rhai: \"client.last_appointment != ()\"\n",
        )
    });
    let a = analysis::analyze(&rules, &Classes::for_rules(&[&rules]));
    assert!(a.clean(), "{:?} {:?}", a.shadowed, a.gaps);
    let campaign = a
        .rows
        .iter()
        .find(|r| r.rule == "campaign-reply-with-history")
        .expect("the Rhai rule still decides campaign replies with history");
    assert_eq!(campaign.partial, ["campaign-reply-with-history (uses Rhai)"]);
    // The matrix is the same as with the declarative rule.
    let (_, _, shipped) = shipped();
    let outcomes = |a: &Analysis| {
        a.rows
            .iter()
            .map(|r| (r.class.clone(), r.outcome.clone(), r.rule.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(outcomes(&a), outcomes(&shipped));
}

#[test]
fn a_grant_that_admits_nobody_past_the_gates_is_reported() {
    let read = |f: &str| std::fs::read_to_string(format!("rules/{f}")).unwrap();
    let delivery = format!(
        "{}\n  - id: logged-out-staff
    description: Contradicts the logged-in gate, so it can never admit anyone.
    when:
      recipient.logged_in: false

  - id: staff-of-the-client
    description: Relates the recipient to the client, not to where the message lands.
    when:
      recipient.locations: {{shares_any_with: client.locations}}
",
        read("delivery.yaml").trim_end()
    );
    let rules = RuleSet::parse(
        Source::new("altered/inbound.yaml", read("inbound.yaml")),
        Source::new("altered/delivery.yaml", delivery),
        Source::new("altered/outbound.yaml", read("outbound.yaml")),
    )
    .unwrap();
    let a = analysis::analyze(&rules, &Classes::for_rules(&[&rules]));
    let shadowed: Vec<(&str, &str)> = a.shadowed.iter().map(|s| (s.policy, s.rule.as_str())).collect();
    assert_eq!(shadowed, [("delivery", "logged-out-staff")]);
    assert_eq!(a.shadowed[0].by, ["logged-in", "access-to-a-landing-location"]);
    let row = &a.rows[0];
    assert_eq!(
        row.partial,
        ["staff-of-the-client (relates a recipient to something other than where the message lands)"]
    );
}

#[test]
fn every_class_has_its_own_description_and_witness() {
    let (_, _, a) = shipped();
    let mut seen = BTreeSet::new();
    for r in &a.rows {
        assert!(
            seen.insert((r.policy, r.description.clone())),
            "two classes read `{}`",
            r.description
        );
    }
    let keys: BTreeSet<&str> = a.rows.iter().map(|r| r.class.as_str()).collect();
    assert_eq!(keys.len(), a.rows.len());
}

/// The matrix stands for every input: every event of the example world falls
/// into a class whose row has the same deciding rule and lands at locations
/// with the same roles as the real decision.
#[test]
fn every_event_of_the_example_world_is_decided_as_its_class_row_says() {
    let (rules, classes, a) = shipped();
    let w = World::load("examples/glow-world.yaml".as_ref()).unwrap();
    let mut requests = Vec::new();
    for c in &w.clients {
        requests.push(InboundRequest {
            client: c.id.to_string(),
            ..Default::default()
        });
        for kind in ["confirmation", "reminder", "campaign", "other"] {
            for l in &w.locations {
                requests.push(InboundRequest {
                    client: c.id.to_string(),
                    answering: Some(format!("{kind}@{}", l.id)),
                    ..Default::default()
                });
            }
        }
        for s in &w.staff {
            for l in w.loc_ids(&s.locations) {
                requests.push(InboundRequest {
                    client: c.id.to_string(),
                    staff: Some(s.id.clone()),
                    from: Some(l),
                    ..Default::default()
                });
            }
        }
    }
    assert!(requests.len() > 100);
    for req in &requests {
        let ev = req.resolve(&w).unwrap();
        let class = InboundClass::of(&w, &ev, &classes.dims);
        let row = a.inbound_row(&class).unwrap_or_else(|| panic!("no class for {req:?}"));
        let d = rules.route_inbound(&w, &ev).unwrap();
        assert_eq!(
            rules.inbound.rules.rules[d.rule].id, row.rule,
            "{req:?} in {}",
            row.description
        );
        assert_eq!(
            analysis::roles(&w, &ev, &d.lands_at),
            row.roles,
            "{req:?} in {}",
            row.description
        );
    }
    for c in &w.clients {
        for acct in &w.accounts {
            let req = commroute::OutboundRequest {
                client: c.id.to_string(),
                from_account: acct.id.clone(),
                text: "hi".into(),
            };
            let ev = req.resolve(&w).unwrap();
            let row = a
                .outbound_row(&analysis::OutboundClass::of(&w, &ev))
                .unwrap_or_else(|| panic!("no class for {req:?}"));
            let d = rules.route_outbound(&w, &ev).unwrap();
            assert_eq!(rules.outbound.rules.rules[d.rule].id, row.rule, "{req:?}");
            assert_eq!(
                Some(&rules.outbound.text.rules[d.text_rule].id),
                row.text_rule.as_ref(),
                "{req:?}"
            );
        }
    }
}

/// The same on generated worlds: up to six locations, random client and staff
/// locations, last appointments and answered locations (a fixed seed, so the
/// test is deterministic).
#[test]
fn every_event_of_generated_worlds_is_decided_as_its_class_row_says() {
    let (rules, classes, a) = shipped();
    let mut seed: u64 = 0x0005_eed4;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let ids = ["A", "B", "C", "D", "E", "F"];
    for _ in 0..400 {
        let n = 1 + next(6) as usize;
        let pick = |next: &mut dyn FnMut(u64) -> u64| -> Vec<&str> {
            let mut v: Vec<&str> = ids[..n].iter().copied().filter(|_| next(2) == 0).collect();
            if v.is_empty() {
                v.push(ids[next(n as u64) as usize]);
            }
            v
        };
        let client = pick(&mut next);
        let staff = pick(&mut next);
        let last = (next(2) == 0).then(|| client[next(client.len() as u64) as usize]);
        let mut y = String::from("accounts: [{id: g, name: G}]\nlocations:\n");
        for l in &ids[..n] {
            y.push_str(&format!("  - {{id: {l}, name: {l}, account: g}}\n"));
        }
        y.push_str(&format!(
            "staff: [{{id: s, name: S, locations: [{}]}}]\n",
            staff.join(", ")
        ));
        y.push_str(&format!(
            "clients: [{{id: c, name: C, account: g, locations: [{}]{}}}]\n",
            client.join(", "),
            last.map(|l| format!(", last_appointment_at: {l}")).unwrap_or_default()
        ));
        let w = World::parse(Source::new("generated.yaml", y)).unwrap();
        let req = match next(3) {
            0 => InboundRequest {
                client: "c".into(),
                staff: Some("s".into()),
                from: Some(staff[next(staff.len() as u64) as usize].into()),
                ..Default::default()
            },
            1 => InboundRequest {
                client: "c".into(),
                ..Default::default()
            },
            _ => InboundRequest {
                client: "c".into(),
                answering: Some(format!(
                    "{}@{}",
                    ["confirmation", "reminder", "campaign", "other"][next(4) as usize],
                    ids[next(n as u64) as usize]
                )),
                ..Default::default()
            },
        };
        let ev = req.resolve(&w).unwrap();
        let class = InboundClass::of(&w, &ev, &classes.dims);
        let row = a
            .inbound_row(&class)
            .unwrap_or_else(|| panic!("no class for {req:?} in {w:?}"));
        let d = rules.route_inbound(&w, &ev).unwrap();
        assert_eq!(
            rules.inbound.rules.rules[d.rule].id, row.rule,
            "{req:?} in {}",
            row.description
        );
        assert_eq!(
            analysis::roles(&w, &ev, &d.lands_at),
            row.roles,
            "{req:?} in {}",
            row.description
        );
    }
}

/// The shipped inbound rules with `rule` (a YAML list entry) put first.
fn with_first_rule(rule: &str) -> RuleSet {
    altered(|t| t.replacen("rules:\n", &format!("rules:\n{rule}"), 1))
}

#[test]
fn a_condition_script_that_gives_a_string_is_a_load_error_not_a_rule_that_never_holds() {
    let read = |f: &str| std::fs::read_to_string(format!("rules/{f}")).unwrap();
    let inbound = read("inbound.yaml").replacen(
        "rules:\n",
        "rules:\n  - id: scripted\n    description: answers in words\n    when:\n      rhai: 'if client.global { \"yes\" } else { \"no\" }'\n    lands_at: client.locations\n",
        1,
    );
    let err = RuleSet::parse(
        Source::new("altered/inbound.yaml", inbound),
        Source::new("altered/delivery.yaml", read("delivery.yaml")),
        Source::new("altered/outbound.yaml", read("outbound.yaml")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "rule `scripted`: in the Rhai script: it gives a string here, but a condition must give `true` or `false`"
        ),
        "{err}"
    );
}

#[test]
fn a_script_that_fails_is_reported_as_failing_not_as_a_condition_never_met() {
    // Only running it tells that the script gives a string: it loads, and
    // fails on every input. The analysis must say it fails (gaps), and call
    // neither it nor the rules after it (which it kept from being tried)
    // shadowed, nor the grants (never tried either).
    let rules = with_first_rule(
        "  - id: scripted\n    description: answers in words\n    when:\n      rhai: 'let answer = if client.global { \"yes\" } else { \"no\" }; answer'\n    lands_at: client.locations\n",
    );
    let a = analysis::analyze(&rules, &Classes::for_rules(&[&rules]));
    assert_eq!(a.shadowed, vec![], "nothing is known to be shadowed");
    assert!(!a.gaps.is_empty());
    for g in a.gaps.iter().filter(|g| g.policy == "inbound") {
        assert!(
            g.reason.starts_with("rule `scripted` fails: the script gave a string"),
            "{}",
            g.reason
        );
    }
    assert!(!a.clean(), "a failing rule still fails the analysis");
}

#[test]
fn a_rule_whose_script_fails_where_it_is_tried_is_said_to_fail_not_never_to_hold() {
    // A rule that takes every input comes first, so the failing rule never
    // decides; where it is tried after it, its script fails.
    let rules = with_first_rule(
        "  - id: takes-everything\n    description: every input\n    when: {conversation.started_by: {one_of: [client, staff]}}\n    lands_at: client.locations\n  - id: scripted\n    description: answers in words\n    when:\n      rhai: 'let answer = \"yes\"; answer'\n    lands_at: client.locations\n",
    );
    let a = analysis::analyze(&rules, &Classes::for_rules(&[&rules]));
    assert_eq!(a.gaps, vec![]);
    let scripted = a
        .shadowed
        .iter()
        .find(|s| s.rule == "scripted")
        .expect("the failing rule never decides");
    assert_eq!(scripted.by, ["takes-everything"]);
    assert!(
        scripted
            .reason
            .starts_with("`scripted` never decides: every input reaches `takes-everything` first, and where `scripted` is tried it fails: the script gave a string"),
        "{}",
        scripted.reason
    );
    assert!(!scripted.reason.contains("never be met"), "{}", scripted.reason);
}
