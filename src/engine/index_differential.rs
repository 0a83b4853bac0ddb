//! The rule index against the plain walk: on generated rule sets and every
//! event of a small world, the indexed first match must pick the same rule,
//! or fail on the same rule, as testing every rule in file order.
//!
//! Rule sets are generated as rules-file text over the whole vocabulary of
//! the inbound, outbound and text policies (words, yes/no facts, presence,
//! location and account ids, counts large and small, set tests, literal ids
//! the world does not have, Rhai scripts that throw, `all`/`any`/`not`
//! nested), so they also go through the loader as a user's would.
//! `PROPTEST_CASES` scales the number of rule sets (default 1,500: about
//! 400,000 compared decisions).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRunner};

use crate::diag::Source;
use crate::engine::event::{Inbound, Outbound};
use crate::engine::{first_match, first_match_walk, inbound_ctx, EvalError};
use crate::rules::facts::{Channel, Ctx};
use crate::rules::index::RuleIndex;
use crate::rules::{FirstMatch, PolicyFile, RuleSet, SHIPPED};
use crate::world::World;

const WORLD: &str = include_str!("../../examples/glow-world.yaml");

fn world() -> World {
    World::parse(Source::new("glow-world.yaml", WORLD)).expect("the example world loads")
}

/// Every inbound event of the world: each client answering each kind of
/// message of each location, writing out of the blue, and replying to each
/// staff member from each of their locations.
fn inbound_events(world: &World) -> Vec<Inbound> {
    let mut out = Vec::new();
    for client in &world.clients {
        let mut requests = vec![crate::InboundRequest {
            client: client.id.to_string(),
            ..Default::default()
        }];
        for kind in ["confirmation", "reminder", "campaign", "other"] {
            for loc in &world.locations {
                requests.push(crate::InboundRequest {
                    client: client.id.to_string(),
                    answering: Some(format!("{kind}@{}", loc.id)),
                    ..Default::default()
                });
            }
        }
        for staff in &world.staff {
            for l in staff.locations.iter() {
                requests.push(crate::InboundRequest {
                    client: client.id.to_string(),
                    staff: Some(staff.id.to_string()),
                    from: Some(world.loc_id(l).to_owned()),
                    ..Default::default()
                });
            }
        }
        out.extend(requests.iter().filter_map(|r| r.resolve(world).ok()));
    }
    out
}

/// Every client written to from every account.
fn outbound_events(world: &World) -> Vec<Outbound> {
    let mut out = Vec::new();
    for client in &world.clients {
        for account in &world.accounts {
            let r = crate::OutboundRequest {
                client: client.id.to_string(),
                from_account: account.id.clone(),
                text: "See you at 3pm".into(),
            };
            out.extend(r.resolve(world).ok());
        }
    }
    out
}

/// A test of one fact, as a rules file writes it, for the inbound policy.
fn inbound_test() -> impl Strategy<Value = String> {
    let loc = prop::sample::select(vec!["A", "B", "C", "Z"]);
    let loc_fact = prop::sample::select(vec![
        "conversation.answered_location",
        "conversation.started_from",
        "client.last_appointment",
    ]);
    let set_fact = prop::sample::select(vec!["client.locations", "staff.locations"]);
    prop_oneof![
        prop::sample::select(vec!["client", "staff"]).prop_map(|w| format!("conversation.started_by: {w}")),
        prop::sample::select(vec!["confirmation", "reminder", "campaign", "other", "nothing"])
            .prop_map(|w| format!("conversation.answering: {w}")),
        prop::sample::subsequence(vec!["confirmation", "reminder", "campaign", "other", "nothing"], 1..4)
            .prop_map(|w| format!("conversation.answering: {{one_of: [{}]}}", w.join(", "))),
        (common_bool(), any::<bool>()).prop_map(|(f, b)| format!("{f}: {b}")),
        (loc_fact.clone(), any::<bool>()).prop_map(|(f, b)| format!("{f}: {{present: {b}}}")),
        (loc_fact.clone(), loc.clone()).prop_map(|(f, l)| format!("{f}: {l}")),
        (loc_fact.clone(), loc_fact.clone()).prop_map(|(f, g)| format!("{f}: {{same_as: {g}}}")),
        (loc_fact.clone(), set_fact.clone()).prop_map(|(f, s)| format!("{f}: {{in: {s}}}")),
        (loc_fact, prop::sample::subsequence(vec!["A", "B", "C", "Z"], 1..3))
            .prop_map(|(f, ls)| format!("{f}: {{in: [{}]}}", ls.join(", "))),
        (set_fact.clone(), counts()).prop_map(|(f, c)| format!("{f}: {c}")),
        (
            set_fact.clone(),
            prop::sample::select(vec!["shares_any_with", "shares_none_with", "contains"]),
            set_fact
        )
            .prop_map(|(f, op, g)| format!("{f}: {{{op}: {g}}}")),
        Just("client.locations: {shares_any_with: [A, Z]}".to_owned()),
        prop::sample::select(vec!["glow-group", "glow-downtown", "nobody"])
            .prop_map(|a| format!("client.account: {a}")),
        scripts(),
    ]
}

/// A test of one fact for the outbound and text policies.
fn outbound_test(text: bool) -> impl Strategy<Value = String> {
    let account = prop::sample::select(vec!["glow-group", "glow-downtown", "glow-uptown", "nobody"]);
    let account_fact = prop::sample::select(vec!["sender.account", "sender.parent_account", "client.account"]);
    let channel = if text {
        prop::sample::select(vec!["push", "sms", "email", "none"])
            .prop_map(|c| format!("message.channel: {c}"))
            .boxed()
    } else {
        Just("client.global: true".to_owned()).boxed()
    };
    prop_oneof![
        (common_bool(), any::<bool>()).prop_map(|(f, b)| format!("{f}: {b}")),
        (account_fact.clone(), account).prop_map(|(f, a)| format!("{f}: {a}")),
        (account_fact.clone(), any::<bool>()).prop_map(|(f, b)| format!("{f}: {{present: {b}}}")),
        (account_fact.clone(), account_fact).prop_map(|(f, g)| format!("{f}: {{same_as: {g}}}")),
        counts().prop_map(|c| format!("client.locations: {c}")),
        prop::sample::select(vec!["A", "B", "C", "Z"]).prop_map(|l| format!("client.last_appointment: {l}")),
        channel,
        scripts(),
    ]
}

fn common_bool() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "client.guest_app",
        "client.global",
        "client.phone_valid",
        "client.sms_opt_in",
        "client.email_valid",
        "client.email_opt_in",
    ])
}

/// Counts small enough to be indexed, and one that is not.
fn counts() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["count", "count_at_least", "count_at_most"]),
        prop_oneof![0usize..4, Just(100)],
    )
        .prop_map(|(op, n)| format!("{{{op}: {n}}}"))
}

/// Scripts that hold, fail to hold, or throw, depending on the client.
fn scripts() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#"rhai: "client.locations.len() > 1""#.to_owned(),
        // Out of bounds, so it fails, for clients with fewer than three locations.
        r#"rhai: "client.locations[2] == \"A\"""#.to_owned(),
    ])
}

/// A condition: a test, or `all`/`any`/`not` of conditions, or `always`.
fn condition(test: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    let leaf = prop_oneof![9 => test.prop_map(|t| format!("{{{t}}}")), 1 => Just("always".to_owned())];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|p| format!("{{all: [{}]}}", p.join(", "))),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|p| format!("{{any: [{}]}}", p.join(", "))),
            inner.prop_map(|c| format!("{{not: {c}}}")),
        ]
    })
}

fn conditions(test: BoxedStrategy<String>) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(condition(test), 1..24)
}

fn inbound_file(conds: &[String]) -> String {
    let mut s = String::from("policy: inbound\ndescription: generated\nrules:\n");
    for (i, c) in conds.iter().enumerate() {
        s.push_str(&format!(
            "  - id: r{i}\n    description: generated\n    when: {c}\n    lands_at: client.locations\n"
        ));
    }
    s.push_str("  - id: last\n    description: catch-all\n    when: always\n    lands_at: client.locations\n");
    s
}

fn outbound_file(channel: &[String], text: &[String]) -> String {
    let mut s = String::from("policy: outbound\ndescription: generated\nrules:\n");
    for (i, c) in channel.iter().enumerate() {
        s.push_str(&format!(
            "  - id: c{i}\n    description: generated\n    when: {c}\n    channel: sms\n    ghost_text: g\n"
        ));
    }
    s.push_str("  - id: c-last\n    description: catch-all\n    when: always\n    channel: none\n    ghost_text: g\n");
    s.push_str("text:\n");
    for (i, c) in text.iter().enumerate() {
        s.push_str(&format!(
            "  - id: t{i}\n    description: generated\n    when: {c}\n    text: \"{{text}}\"\n"
        ));
    }
    s.push_str("  - id: t-last\n    description: catch-all\n    when: always\n    text: \"{text}\"\n");
    s
}

/// The index of a policy, whatever its number of rules.
fn index_of<O>(policy: &FirstMatch<O>) -> Option<RuleIndex> {
    RuleIndex::build(policy.rules.iter().map(|r| &r.when))
}

/// The deciding rule's number, or the failing rule's id.
fn indexed<O>(file: &PolicyFile, policy: &FirstMatch<O>, ctx: &Ctx) -> Result<usize, EvalError> {
    first_match::<_, false>(file, policy, ctx, &mut Vec::new()).map(|(i, _)| i)
}

fn walked<O>(file: &PolicyFile, policy: &FirstMatch<O>, ctx: &Ctx) -> Result<usize, EvalError> {
    first_match_walk(file, &policy.rules, ctx).map(|(i, _)| i)
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500);
    Config {
        cases,
        rng_algorithm: RngAlgorithm::XorShift,
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn the_indexed_first_match_decides_as_walking_every_rule_does() {
    let world = world();
    let inbound = inbound_events(&world);
    let outbound = outbound_events(&world);
    assert!(
        inbound.len() > 100 && outbound.len() > 15,
        "the event lists cover the world: {} inbound, {} outbound",
        inbound.len(),
        outbound.len()
    );
    let delivery = SHIPPED[1].1;
    let compared = std::cell::Cell::new(0u64);
    let indexed_sets = std::cell::Cell::new(0u64);
    let strategy = (
        conditions(inbound_test().boxed()),
        conditions(outbound_test(false).boxed()),
        conditions(outbound_test(true).boxed()),
    );
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |(inb, chan, text)| {
            let mut rules = RuleSet::parse(
                Source::new("inbound.yaml", inbound_file(&inb)),
                Source::new("delivery.yaml", delivery),
                Source::new("outbound.yaml", outbound_file(&chan, &text)),
            )
            .map_err(|d| TestCaseError::fail(format!("generated rules must load:\n{d}")))?;
            // Every policy gets its index here, however few its rules.
            rules.inbound.rules.index = index_of(&rules.inbound.rules);
            rules.outbound.rules.index = index_of(&rules.outbound.rules);
            rules.outbound.text.index = index_of(&rules.outbound.text);
            indexed_sets.set(indexed_sets.get() + rules.inbound.rules.index.is_some() as u64);
            for ev in &inbound {
                let ctx = inbound_ctx(&world, ev);
                let file = &rules.inbound.file;
                prop_assert_eq!(
                    indexed(file, &rules.inbound.rules, &ctx),
                    walked(file, &rules.inbound.rules, &ctx),
                    "inbound rules:\n{}\nevent: {:?}",
                    inbound_file(&inb),
                    ev
                );
                compared.set(compared.get() + 1);
            }
            let o = &rules.outbound;
            for ev in &outbound {
                let mut ctx = Ctx::new(&world, ev.client);
                ctx.sender = Some(ev.sender);
                prop_assert_eq!(
                    indexed(&o.file, &o.rules, &ctx),
                    walked(&o.file, &o.rules, &ctx),
                    "outbound rules:\n{}",
                    outbound_file(&chan, &text)
                );
                for channel in [Channel::Push, Channel::Sms, Channel::Email, Channel::None] {
                    ctx.channel = channel;
                    prop_assert_eq!(
                        indexed(&o.file, &o.text, &ctx),
                        walked(&o.file, &o.text, &ctx),
                        "text rules:\n{}",
                        outbound_file(&chan, &text)
                    );
                    compared.set(compared.get() + 1);
                }
                compared.set(compared.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    let (compared, indexed_sets) = (compared.get(), indexed_sets.get());
    eprintln!("compared {compared} decisions; {indexed_sets} inbound policies were indexed");
    assert!(
        compared >= 100_000 || config().cases < 1_500,
        "{compared} decisions compared"
    );
    assert!(indexed_sets > 0, "some generated policies are indexed");
}
