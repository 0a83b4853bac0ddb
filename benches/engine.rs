//! Benchmarks of the routing engine (`cargo bench`), with divan.
//!
//! Each group answers one question of issue 5's targets; the README lists the
//! figures. Inputs come from `commroute::generate`, the same generator as
//! `examples/generate.rs`: a world with 300 locations, 2,000 staff (about 20
//! per location) in 40 accounts. Decision benchmarks use 5,000 clients (the
//! decision does not depend on how many clients exist); `world_load` and
//! `batch` use the full 100,000.

use std::sync::LazyLock;

use commroute::diag::Source;
use commroute::engine::event::{Inbound, Outbound};
use commroute::generate::{write_events, write_world, Model, Shape};
use commroute::jsonl::batch;
use commroute::rules::SHIPPED;
use commroute::{EventLine, RuleSet, World};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

struct Fixture {
    world: World,
    rules: RuleSet,
    /// One client answering a confirmation from the location with the
    /// number of staff closest to 20.
    inbound_one: Inbound,
    /// The location `inbound_one` answers.
    inbound_one_location: u16,
    outbound_one: Outbound,
    /// 1,024 generated events of each kind, resolved.
    inbound_mixed: Vec<Inbound>,
    outbound_mixed: Vec<Outbound>,
}

fn generated(shape: &Shape, events: u64) -> (String, Model, String) {
    let mut yaml = Vec::new();
    let model = write_world(shape, &mut yaml).expect("writing to memory");
    let mut ev = Vec::new();
    write_events(&model, events, shape.seed, &mut ev).expect("writing to memory");
    (
        String::from_utf8(yaml).expect("utf-8"),
        model,
        String::from_utf8(ev).expect("utf-8"),
    )
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let shape = Shape {
        clients: 5_000,
        ..Shape::LARGE
    };
    let (yaml, _, events) = generated(&shape, 4_000);
    let world = World::parse(Source::new("bench-world.yaml", yaml)).expect("the generated world loads");
    let rules = RuleSet::shipped();
    let mut inbound_mixed = Vec::new();
    let mut outbound_mixed = Vec::new();
    for line in events.lines() {
        match serde_json::from_str::<EventLine>(line).expect("generated lines parse") {
            EventLine::Inbound { request, .. } if inbound_mixed.len() < 1024 => {
                inbound_mixed.push(request.resolve(&world).expect("generated events resolve"))
            }
            EventLine::Outbound { request, .. } if outbound_mixed.len() < 1024 => {
                outbound_mixed.push(request.resolve(&world).expect("generated events resolve"))
            }
            _ => {}
        }
    }
    // The location whose staff count is closest to 20, and a client of it.
    let loc = (0..world.locations.len() as u16)
        .min_by_key(|l| (world.staff_with_access(*l).len() as i64 - 20).abs())
        .expect("locations");
    let client = world
        .clients
        .iter()
        .position(|c| c.locations.contains(loc))
        .expect("a client of that location");
    let inbound_one = commroute::InboundRequest {
        client: world.clients[client].id.to_string(),
        answering: Some(format!("confirmation@{}", world.loc_id(loc))),
        ..Default::default()
    }
    .resolve(&world)
    .expect("resolves");
    let d = rules.route_inbound(&world, &inbound_one).expect("decides");
    assert_eq!(rules.inbound.rules.rules[d.rule].id, "reply-to-location-message");
    eprintln!(
        "inbound_one: location {} has {} staff with access, {} receive live",
        world.loc_id(loc),
        world.staff_with_access(loc).len(),
        d.delivered_to.len()
    );
    // An SMS client: the outbound rules try push first, then decide sms.
    let sms = (0..world.clients.len())
        .position(|i| {
            let c = &world.clients[i];
            !c.guest_app && world.contact(i as u32).phone_valid() && c.sms_opt_in
        })
        .expect("an SMS client");
    let outbound_one = commroute::OutboundRequest {
        client: world.clients[sms].id.to_string(),
        from_account: world.accounts[world.clients[sms].account as usize].id.clone(),
        text: "See you at 3pm!".into(),
    }
    .resolve(&world)
    .expect("resolves");
    Fixture {
        world,
        rules,
        inbound_one,
        inbound_one_location: loc,
        outbound_one,
        inbound_mixed,
        outbound_mixed,
    }
});

/// The shipped rules with the inbound policy replaced.
fn with_inbound(inbound: &str) -> RuleSet {
    let [_, d, o] = SHIPPED.map(|(name, text)| Source::new(format!("<shipped>/rules/{name}"), text));
    RuleSet::parse(Source::new("bench/inbound.yaml", inbound.to_owned()), d, o).expect("bench rules are valid")
}

const HEADER: &str = "policy: inbound\ndescription: bench\nrules:\n";

/// The rule counts of the scaling benchmarks.
const RULE_COUNTS: [usize; 5] = [1, 10, 50, 200, 1_000];

/// Rule `i` of a generated policy that must not apply to `inbound_one` (a
/// client answering a confirmation from location `at`): the realistic mix of
/// a group with per-location and per-tenant exceptions. Eight kinds in turn:
///
/// 0. a campaign answered at one location (word and location id);
/// 1. a confirmation or reminder answered at another location (a set of
///    words, a location id: only the id tells it from the event);
/// 2. a conversation a staff member started from one location, with a set test;
/// 3. a tenant's "other" messages (account id and word);
/// 4. clients of four or more locations with no history (count, presence);
/// 5. a client answering a location they are not a client of: a set test
///    the index cannot decide, so it is tested for every event that answers a
///    location (one rule in eight);
/// 6. reminders from clients with a history (word, presence);
/// 7. a set test, then out of the blue (set test, word).
fn miss(i: usize, world: &World, at: u16) -> String {
    let n = world.locations.len();
    let mut other = (i * 7 + 1) % n;
    if other == at as usize {
        other = (other + 1) % n;
    }
    let loc = |l: usize| world.loc_id(l as u16).to_owned();
    let account = &world.accounts[i % world.accounts.len()].id;
    match i % 8 {
        0 => format!("{{all: [conversation.answering: campaign, conversation.answered_location: {}]}}", loc(i % n)),
        1 => format!(
            "{{all: [conversation.answering: {{one_of: [confirmation, reminder]}}, conversation.answered_location: {}]}}",
            loc(other)
        ),
        2 => format!(
            "{{all: [conversation.started_by: staff, conversation.started_from: {}, client.locations: {{shares_none_with: staff.locations}}]}}",
            loc(i % n)
        ),
        3 => format!("{{all: [client.account: {account}, conversation.answering: other]}}"),
        4 => "{all: [client.locations: {count_at_least: 4}, client.last_appointment: {present: false}]}".into(),
        5 => "{not: {conversation.answered_location: {in: client.locations}}}".into(),
        6 => "{all: [conversation.answering: reminder, client.last_appointment: {present: true}]}".into(),
        _ => "{all: [client.locations: {shares_any_with: staff.locations}, conversation.answering: nothing]}".into(),
    }
}

/// A generated inbound policy of `n` rules, then the catch-all. The rule at
/// `decides` (0-based) is the shipped policy's answer to a location's
/// message (`conversation.answering: {one_of: [...]}`); the others are misses.
fn generated_policy(n: usize, decides: usize) -> String {
    let f = &*FIXTURE;
    let at = f.inbound_one_location;
    let mut s = String::from(HEADER);
    for i in 0..n {
        let (id, when) = if i == decides {
            (
                "decides".to_owned(),
                "{conversation.answering: {one_of: [confirmation, reminder, campaign, other]}}".to_owned(),
            )
        } else {
            (format!("miss-{i}"), miss(i, &f.world, at))
        };
        s.push_str(&format!(
            "  - id: {id}\n    description: generated\n    when: {when}\n    lands_at: conversation.answered_location\n"
        ));
    }
    s.push_str(
        "  - id: catch-all\n    description: never reached here\n    when: always\n    lands_at: client.locations\n",
    );
    s
}

/// The policy of `n` rules with the rule at `decides` deciding, checked
/// (outside any timed loop) to decide `inbound_one` with exactly that rule.
fn policy_deciding_at(n: usize, decides: usize) -> RuleSet {
    let f = &*FIXTURE;
    let rules = with_inbound(&generated_policy(n, decides));
    let d = rules.route_inbound(&f.world, &f.inbound_one).expect("decides");
    assert_eq!(
        rules.inbound.rules.rules[d.rule].id, "decides",
        "{n} rules: the wrong rule decided"
    );
    assert_eq!(d.rule, decides, "{n} rules");
    // The explaining walk over every rule agrees.
    assert_eq!(
        rules.explain_inbound(&f.world, &f.inbound_one).expect("decides").rule,
        decides
    );
    rules
}

/// For each rule count, the policy whose last rule decides.
static LAST_DECIDES: LazyLock<Vec<(usize, RuleSet)>> = LazyLock::new(|| {
    RULE_COUNTS
        .iter()
        .map(|&n| {
            let rules = policy_deciding_at(n, n - 1);
            if let Some(s) = rules.inbound.rules.index_stats() {
                eprintln!(
                    "{n} rules: indexed on {} facts, {} values, {} bytes, built in {:?}",
                    s.facts, s.slots, s.bytes, s.build_time
                );
            }
            (n, rules)
        })
        .collect()
});

/// For each rule count, the policy whose third rule decides (the first for one rule).
static EARLY_DECIDES: LazyLock<Vec<(usize, RuleSet)>> = LazyLock::new(|| {
    RULE_COUNTS
        .iter()
        .map(|&n| (n, policy_deciding_at(n, 2.min(n - 1))))
        .collect()
});

fn policy(list: &[(usize, RuleSet)], n: usize) -> &RuleSet {
    &list.iter().find(|(k, _)| *k == n).expect("a generated rule count").1
}

/// One Rhai condition, then the shipped rules' deciding rule for this event.
static ONE_RHAI: LazyLock<RuleSet> = LazyLock::new(|| {
    let rules = with_inbound(&format!(
        "{HEADER}  - id: script\n    description: one script\n    when: {{rhai: \"client.locations.len() > 3\"}}\n    lands_at: client.locations\n  - id: last\n    description: decides\n    when: always\n    lands_at: conversation.answered_location\n"
    ));
    // The script is evaluated and says no, so the rule after it decides.
    let f = &*FIXTURE;
    let d = rules.explain_inbound(&f.world, &f.inbound_one).expect("decides");
    assert_eq!(d.rule, 1, "the script's rule must not decide");
    assert_eq!(rules.route_inbound(&f.world, &f.inbound_one).expect("decides").rule, 1);
    rules
});

/// The shipped inbound policy as one Rhai script (delivery stays native).
pub const INBOUND_AS_RHAI: &str = r#"
let last = client.last_appointment;
let has_last = type_of(last) != "()";
if conversation.started_by == "staff" {
    let common = [];
    for l in client.locations { if staff.locations.contains(l) { common.push(l); } }
    if common.is_empty() { [conversation.started_from] }
    else if client.locations.len() >= 2 && !has_last { client.locations }
    else if has_last && staff.locations.contains(last) { [last] }
    else { common }
} else if conversation.answering == "campaign" && has_last { [last] }
else if conversation.answering != "nothing" { [conversation.answered_location] }
else if has_last { [last] }
else { client.locations }
"#;

static RHAI_BASELINE: LazyLock<RuleSet> = LazyLock::new(|| {
    let script = INBOUND_AS_RHAI.trim().replace('\n', "\n        ");
    let rules = with_inbound(&format!(
        "{HEADER}  - id: all-in-rhai\n    description: the shipped inbound policy as one script\n    when: always\n    lands_at:\n      rhai: |\n        {script}\n"
    ));
    // The baseline must decide exactly what the native rules decide.
    let f = &*FIXTURE;
    for ev in &f.inbound_mixed {
        let native = f.rules.route_inbound(&f.world, ev).expect("decides");
        let script = rules.route_inbound(&f.world, ev).expect("decides");
        assert_eq!(native.lands_at, script.lands_at, "{ev:?}");
        assert_eq!(native.delivered_to, script.delivered_to, "{ev:?}");
    }
    rules
});

#[divan::bench_group(sample_count = 200, sample_size = 2_000)]
mod inbound {
    use super::*;

    /// Landing plus live recipients at the location with about 20 staff.
    #[divan::bench]
    fn shipped_rules_20_staff(b: Bencher) {
        let f = &*FIXTURE;
        b.bench(|| f.rules.route_inbound(&f.world, black_box(&f.inbound_one)).unwrap());
    }

    /// 1,024 generated inbound events in turn (every rule path, varied staff counts).
    #[divan::bench]
    fn shipped_rules_mixed(b: Bencher) {
        let f = &*FIXTURE;
        let mut i = 0;
        b.bench_local(|| {
            i = (i + 1) & 1023;
            f.rules.route_inbound(&f.world, black_box(&f.inbound_mixed[i])).unwrap()
        });
    }

    /// The same 1,024 events with the inbound policy written as one Rhai script.
    #[divan::bench]
    fn rhai_baseline_mixed(b: Bencher) {
        let f = &*FIXTURE;
        let rules = &*RHAI_BASELINE;
        let mut i = 0;
        b.bench_local(|| {
            i = (i + 1) & 1023;
            rules.route_inbound(&f.world, black_box(&f.inbound_mixed[i])).unwrap()
        });
    }

    /// The single event of `shipped_rules_20_staff`, with the Rhai policy.
    #[divan::bench]
    fn rhai_baseline_20_staff(b: Bencher) {
        let f = &*FIXTURE;
        let rules = &*RHAI_BASELINE;
        b.bench(|| rules.route_inbound(&f.world, black_box(&f.inbound_one)).unwrap());
    }

    /// `n` generated rules of the realistic mix, the last one deciding
    /// (plus delivery at the 20-staff location).
    #[divan::bench(args = RULE_COUNTS)]
    fn rules_last_decides(b: Bencher, n: usize) {
        let f = &*FIXTURE;
        let rules = policy(&LAST_DECIDES, n);
        b.bench(|| rules.route_inbound(&f.world, black_box(&f.inbound_one)).unwrap());
    }

    /// The same policies with the third rule deciding.
    #[divan::bench(args = RULE_COUNTS)]
    fn rules_early_decides(b: Bencher, n: usize) {
        let f = &*FIXTURE;
        let rules = policy(&EARLY_DECIDES, n);
        b.bench(|| rules.route_inbound(&f.world, black_box(&f.inbound_one)).unwrap());
    }

    /// A decision that evaluates one Rhai condition (plus delivery).
    #[divan::bench]
    fn one_rhai_condition(b: Bencher) {
        let f = &*FIXTURE;
        let rules = &*ONE_RHAI;
        b.bench(|| rules.route_inbound(&f.world, black_box(&f.inbound_one)).unwrap());
    }
}

#[divan::bench_group(sample_count = 200, sample_size = 2_000)]
mod outbound {
    use super::*;

    /// An SMS client: push is tried, SMS decides, the text is templated.
    #[divan::bench]
    fn shipped_rules(b: Bencher) {
        let f = &*FIXTURE;
        b.bench(|| f.rules.route_outbound(&f.world, black_box(&f.outbound_one)).unwrap());
    }

    #[divan::bench]
    fn shipped_rules_mixed(b: Bencher) {
        let f = &*FIXTURE;
        let mut i = 0;
        b.bench_local(|| {
            i = (i + 1) & 1023;
            f.rules
                .route_outbound(&f.world, black_box(&f.outbound_mixed[i]))
                .unwrap()
        });
    }
}

/// The large world as YAML text, generated once.
static LARGE: LazyLock<(String, String)> = LazyLock::new(|| {
    let (yaml, _, events) = generated(&Shape::LARGE, BATCH_EVENTS);
    (yaml, events)
});

const BATCH_EVENTS: u64 = 200_000;

/// Loading 100,000 clients, 2,000 staff, 300 locations in 40 accounts,
/// including every phone and email validation.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn world_load_large(b: Bencher) {
    let yaml = &LARGE.0;
    b.bench(|| {
        let w = World::parse(Source::new("world.yaml", yaml.clone())).unwrap();
        // What the commands deciding for many clients do once loaded
        // (loading alone leaves phones to be validated on first ask).
        w.validate_contacts();
        w
    });
}

/// The same world read from a file, as `commroute` reads it: parsed as the
/// file is read, without holding its text.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn world_load_large_file(b: Bencher) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("world.yaml");
    std::fs::write(&path, &LARGE.0).expect("the world is written");
    b.bench(|| {
        let w = World::load(&path).unwrap();
        w.validate_contacts();
        w
    });
}

/// JSON Lines in, decision lines out, all cores: 200,000 generated events
/// against the large world.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn batch_throughput(b: Bencher) {
    let (yaml, events) = &*LARGE;
    let world = World::parse(Source::new("world.yaml", yaml.clone())).unwrap();
    let rules = RuleSet::shipped();
    b.counter(ItemsCount::new(BATCH_EVENTS)).bench(|| {
        let summary = batch::run(
            &rules,
            &world,
            events.as_bytes(),
            &mut std::io::sink(),
            batch::Options::default(),
        )
        .unwrap();
        assert_eq!(summary.errors, 0);
        summary
    });
}

/// Loading the rules with the generated 1,000-rule inbound policy: reading,
/// checking, compiling and indexing, plus the shipped delivery and outbound
/// files.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn rules_load_1000(b: Bencher) {
    let text = generated_policy(1_000, 999);
    b.bench(|| with_inbound(black_box(&text)));
}
