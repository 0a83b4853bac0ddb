//! Timeline scenarios: a scenario file with `events:` and `checks:` instead
//! of `cases:`. Reading the checks and running them lives here; the events
//! are read by the timeline reader (`replay::timeline`) and replayed by the
//! same pipeline as `commroute simulate` (`replay::pipeline`), into a store
//! in memory. Each check then reads one thing (an event's outcome, a
//! location's conversation list, a client's conversation, the SMS usage)
//! and compares the fields it states.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use marked_yaml::Node;
use serde::Serialize;

use crate::diag::{one_of, Pos};
use crate::progress::Progress;
use crate::replay::pipeline::{replay_timeline, OpenTimeline, ReplayOptions, Replayed};
use crate::replay::simulate::{EventReport, Made};
use crate::replay::store::{ConversationView, Store, UsageBy, UsageRow, IN_STORE};
use crate::replay::timeline::{self, Event, What};
use crate::rules::RuleSet;
use crate::world::World;
use crate::yaml::{self, Doc};

use super::{client_ref, loc_ref, staff_ref, Actual, CaseReport, Mismatch};

/// The events of a timeline scenario and what must come out.
#[derive(Debug, Clone)]
pub struct TimelineSpec {
    pub(crate) world: World,
    pub(crate) events: Vec<Event>,
    pub(crate) checks: Vec<Check>,
}

/// One entry of `checks:`: what it reads and the values it expects.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub name: String,
    pub pos: Pos,
    pub subject: Subject,
    /// Expected values, written as the actual ones are shown (`[a, b]` for lists).
    pub expect: Vec<(String, String)>,
}

/// What a check reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    Event(String),
    Conversations { location: String, in_store: bool },
    Conversation(String),
    Usage,
}

impl Subject {
    fn keys(&self) -> &'static [&'static str] {
        match self {
            Subject::Event(_) => &["channel", "lands_at", "sent_from", "live", "notices", "audio_cue"],
            Subject::Conversations { .. } => &["count", "clients", "unread"],
            Subject::Conversation(_) => &[
                "messages",
                "channels",
                "statuses",
                "attempts",
                "texts",
                "notices",
                "audio_cue",
                "unread",
            ],
            Subject::Usage => &[
                "sms_inbound",
                "sms_outbound",
                "sms_messages",
                "segments",
                "mms_messages",
            ],
        }
    }
}

/// What a timeline scenario produced: every event's report, every
/// conversation and the usage, for the reviewed snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineOutcome {
    /// What each event of the timeline did, in timeline order.
    pub events: Vec<EventReport>,
    /// Every conversation the replay stored, with its messages.
    pub conversations: Vec<ConversationView>,
    /// SMS and MMS usage per account and month.
    pub usage_by_account: Vec<UsageRow>,
    /// SMS and MMS usage per location and month.
    pub usage_by_location: Vec<UsageRow>,
    /// Every decision the rules made, explained, with its event's position
    /// (for `coverage`, and for why a check failed).
    #[serde(skip)]
    pub(crate) decisions: Vec<(i64, Made)>,
}

const CHECK_KEYS: &[&str] = &[
    "name",
    "event",
    "conversations",
    "in_store",
    "conversation",
    "usage",
    "expect",
];

/// Reads `checks:`, checking every id against the world and the events.
pub(crate) fn read_checks(doc: &mut Doc, node: &Node, world: &World, events: &[Event]) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(seq) = doc.sequence(node, "`checks`", None) else {
        return out;
    };
    for item in seq.iter() {
        let Some(m) = doc.mapping(item, "each check", None) else {
            continue;
        };
        let pos = Pos::of(m.span());
        // A misspelt `name` (reported below as an unknown key) still names the check.
        let name = yaml::get(m, "name").or_else(|| yaml::misspelt(m, "name", CHECK_KEYS));
        let Some(name) = name.and_then(|n| doc.string(n, "`name`", None)) else {
            doc.error(
                pos,
                None,
                "this check has no `name`",
                Some("give each check a short `name` saying what it shows".into()),
            );
            continue;
        };
        let subject_s = format!("check `{}`", name.value);
        let subj = Some(subject_s.as_str());
        doc.check_keys(m, CHECK_KEYS, "a check", subj);
        let get = |doc: &mut Doc, k: &str| yaml::get(m, k).and_then(|n| doc.string(n, &format!("`{k}`"), subj));
        let mut subjects = Vec::new();
        if let Some(e) = get(doc, "event") {
            if !events.iter().any(|ev| ev.id == e.value) {
                let help = crate::diag::did_you_mean(&e.value, events.iter().map(|ev| ev.id.as_str()))
                    .map(|s| format!("did you mean `{s}`?"));
                doc.error(e.pos, subj, format!("no event has the id `{}`", e.value), help);
            }
            subjects.push(Subject::Event(e.value));
        }
        if let Some(l) = get(doc, "conversations") {
            loc_ref(doc, world, &l, subj);
            let in_store = yaml::get(m, "in_store")
                .and_then(|n| doc.boolean(n, "`in_store`", subj))
                .unwrap_or(false);
            subjects.push(Subject::Conversations {
                location: l.value,
                in_store,
            });
        }
        if let Some(c) = get(doc, "conversation") {
            client_ref(doc, world, &c, subj);
            subjects.push(Subject::Conversation(c.value));
        }
        if yaml::get(m, "usage").is_some() {
            subjects.push(Subject::Usage);
        }
        // A misspelt subject is reported once, as an unknown key.
        let misspelt = ["event", "conversations", "conversation", "usage"]
            .iter()
            .any(|k| yaml::misspelt(m, k, CHECK_KEYS).is_some());
        if subjects.is_empty() && misspelt {
            continue;
        }
        if subjects.len() != 1 {
            doc.error(
                pos,
                subj,
                "a check reads exactly one of `event`, `conversations`, `conversation` or `usage`",
                Some("split it into several checks".into()),
            );
            continue;
        }
        let subject = subjects.pop().expect("one subject");
        let Some(e) = yaml::get(m, "expect") else {
            if yaml::misspelt(m, "expect", CHECK_KEYS).is_some() {
                continue;
            }
            doc.error(
                pos,
                subj,
                "this check has no `expect`",
                Some(format!("state any of {}", one_of(subject.keys()))),
            );
            continue;
        };
        let Some(em) = doc.mapping(e, "`expect`", subj) else {
            continue;
        };
        doc.check_keys(em, subject.keys(), "the `expect` of this check", subj);
        let mut expect = Vec::new();
        for (k, v) in em.iter() {
            check_ids(doc, world, &subject, k.as_str(), v, subj);
            let value = match v {
                Node::Sequence(s) => {
                    let items: Vec<String> = s.iter().map(timeline_scalar).collect();
                    format!("[{}]", items.join(", "))
                }
                Node::Mapping(_) => {
                    doc.error(
                        Pos::of(v.span()),
                        subj,
                        format!("`{}` must be a value or a list", k.as_str()),
                        None,
                    );
                    continue;
                }
                Node::Scalar(s) => s.as_str().to_owned(),
            };
            expect.push((k.as_str().to_owned(), value));
        }
        out.push(Check {
            name: name.value,
            pos,
            subject,
            expect,
        });
    }
    out
}

/// Checks the ids an expected value names against the world: locations,
/// staff and clients, and the `id: count` entries of `unread`.
fn check_ids(doc: &mut Doc, world: &World, subject: &Subject, key: &str, value: &Node, subj: Option<&str>) {
    #[derive(Clone, Copy)]
    enum Id {
        Location,
        Staff,
        Client,
    }
    let kind = match (subject, key) {
        (Subject::Event(_), "lands_at" | "sent_from") => Id::Location,
        (Subject::Event(_) | Subject::Conversation(_), "live" | "audio_cue") => Id::Staff,
        (Subject::Conversations { .. }, "clients" | "unread") => Id::Client,
        (Subject::Conversation(_), "unread") => Id::Location,
        _ => return,
    };
    let items: Vec<&Node> = match value {
        Node::Sequence(s) => s.iter().collect(),
        other => vec![other],
    };
    for item in items {
        let Node::Scalar(s) = item else { continue };
        let mut id = yaml::str_of(s);
        if key == "unread" {
            // `cleo: 1`: the id is what comes before the count.
            match id.value.split_once(':') {
                Some((name, _)) => id.value = name.trim_end().to_owned(),
                None => continue,
            }
        }
        // `-`: the event was sent from nowhere, which is a value, not an id.
        if key == "sent_from" && id.value == "-" {
            continue;
        }
        match kind {
            Id::Location => {
                loc_ref(doc, world, &id, subj);
            }
            Id::Staff => {
                staff_ref(doc, world, &id, subj);
            }
            Id::Client => {
                client_ref(doc, world, &id, subj);
            }
        }
    }
}

fn timeline_scalar(n: &Node) -> String {
    match n {
        Node::Scalar(s) => s.as_str().to_owned(),
        Node::Sequence(s) => format!("[{}]", s.iter().map(timeline_scalar).collect::<Vec<_>>().join(", ")),
        Node::Mapping(_) => "{…}".into(),
    }
}

fn bracketed<S: AsRef<str>>(v: impl IntoIterator<Item = S>) -> String {
    format!(
        "[{}]",
        v.into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Replays the events into a store in memory and runs every check.
pub(crate) fn run(
    spec: &TimelineSpec,
    path: &Path,
    rules: &RuleSet,
    filter: Option<&str>,
    progress: &Progress,
) -> (Vec<CaseReport>, Option<TimelineOutcome>) {
    let store = match Store::in_memory() {
        Ok(s) => s,
        Err(e) => return (vec![broken("replay", e.to_string())], None),
    };
    let timeline = OpenTimeline::loaded(path, spec.world.clone(), spec.events.clone());
    let options = ReplayOptions {
        keep_decisions: true,
        ..ReplayOptions::default()
    };
    let mut events: Vec<EventReport> = Vec::new();
    let replayed = replay_timeline(
        rules,
        timeline,
        store,
        options,
        |b| {
            events.extend_from_slice(b);
            Ok(())
        },
        progress,
    );
    let mut sim = match replayed {
        Ok(Replayed {
            simulator,
            result: Ok(_),
        }) => simulator,
        Ok(Replayed { result: Err(e), .. }) | Err(e) => return (vec![broken("replay", e.to_string())], None),
    };
    let store = &sim.store;
    let outcome = (|| -> Result<TimelineOutcome, crate::replay::store::StoreError> {
        let mut conversations = Vec::new();
        for c in store.clients()? {
            conversations.extend(store.conversation(&c)?);
        }
        Ok(TimelineOutcome {
            events,
            conversations,
            usage_by_account: store.usage(UsageBy::Account, None)?,
            usage_by_location: store.usage(UsageBy::Location, None)?,
            decisions: Vec::new(),
        })
    })();
    let mut outcome = match outcome {
        Ok(o) => o,
        Err(e) => return (vec![broken("replay", e.to_string())], None),
    };
    outcome.decisions = sim.decisions.take().unwrap_or_default();
    let why = Why {
        rules,
        world: &sim.world,
        events: &spec.events,
        decisions: &outcome.decisions,
    };
    let reports = spec
        .checks
        .iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f) || path.to_string_lossy().contains(f)))
        .map(|c| {
            let mut report = run_check(c, store, &outcome);
            if !report.passed {
                report.why = why.of(&c.subject);
            }
            report
        })
        .collect();
    (reports, Some(outcome))
}

fn broken(name: &str, error: String) -> CaseReport {
    CaseReport {
        name: name.into(),
        line: 0,
        passed: false,
        mismatches: Vec::new(),
        actual: Actual::Error { error },
        why: Vec::new(),
        time: Duration::ZERO,
    }
}

/// Why a check came out as it did: the trace of every decision the rules
/// made for what it reads, in the words a failing case uses.
struct Why<'a> {
    rules: &'a RuleSet,
    world: &'a World,
    events: &'a [Event],
    decisions: &'a [(i64, Made)],
}

impl Why<'_> {
    fn of(&self, subject: &Subject) -> Vec<String> {
        // Positions are 1-based, in timeline order.
        let seqs: Vec<i64> = match subject {
            Subject::Event(id) => self
                .events
                .iter()
                .position(|e| &e.id == id)
                .map(|i| i as i64 + 1)
                .into_iter()
                .collect(),
            Subject::Conversation(client) => {
                let Some(c) = self.world.client(client) else {
                    return Vec::new();
                };
                let mut sent = Vec::new();
                let mut seqs = Vec::new();
                for (i, e) in self.events.iter().enumerate() {
                    let about = match &e.what {
                        What::ClientMessage { client, .. } => *client == c,
                        What::StaffMessage { client, .. } => {
                            if *client == c {
                                sent.push(e.id.as_str());
                            }
                            *client == c
                        }
                        What::Delivery { message, .. } => sent.contains(&message.as_str()),
                        _ => false,
                    };
                    if about {
                        seqs.push(i as i64 + 1);
                    }
                }
                seqs
            }
            // Lists and usage add up the whole timeline: the snapshot shows it.
            Subject::Conversations { .. } | Subject::Usage => return Vec::new(),
        };
        let prefix = matches!(subject, Subject::Conversation(_));
        let mut out = Vec::new();
        for (seq, made) in self.decisions.iter().filter(|(s, _)| seqs.contains(s)) {
            let trace = match made {
                Made::Inbound(d) => d.report(self.rules, self.world).trace,
                Made::Outbound(d) => d.report(self.rules).trace,
            };
            let event = &self.events[*seq as usize - 1].id;
            out.extend(trace.iter().map(|line| match prefix {
                true => format!("{event}: {}", line.sentence()),
                false => line.sentence(),
            }));
        }
        out
    }
}

fn run_check(c: &Check, store: &Store, o: &TimelineOutcome) -> CaseReport {
    let started = Instant::now();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        seen.insert(k.to_owned(), v);
    };
    match &c.subject {
        Subject::Event(id) => {
            if let Some(r) = o.events.iter().find(|r| &r.id == id) {
                put("channel", r.channel.unwrap_or("-").to_owned());
                put("lands_at", bracketed(&r.lands_at));
                put("sent_from", r.sent_from.clone().unwrap_or_else(|| "-".into()));
                put("live", bracketed(&r.live));
                put("notices", bracketed(&r.notices));
                put("audio_cue", bracketed(&r.audio_cue));
            }
        }
        Subject::Conversations { location, in_store } => {
            let limit = in_store.then_some(IN_STORE);
            match store.conversations_at(location, limit) {
                Ok(rows) => {
                    put("count", rows.len().to_string());
                    put("clients", bracketed(rows.iter().map(|r| &r.client)));
                    put(
                        "unread",
                        bracketed(rows.iter().map(|r| format!("{}: {}", r.client, r.unread))),
                    );
                }
                Err(e) => put("error", e.to_string()),
            }
        }
        Subject::Conversation(client) => {
            if let Some(v) = o.conversations.iter().find(|v| &v.client == client) {
                put("messages", v.messages.len().to_string());
                put("channels", bracketed(v.messages.iter().map(|m| &m.channel)));
                put("statuses", bracketed(v.messages.iter().map(|m| &m.status)));
                put("texts", bracketed(v.messages.iter().map(|m| &m.text)));
                put(
                    "attempts",
                    bracketed(v.messages.iter().filter(|m| !m.attempts.is_empty()).map(|m| {
                        m.attempts
                            .iter()
                            .map(|a| format!("{} {}", a.channel, a.status))
                            .collect::<Vec<_>>()
                            .join(" then ")
                    })),
                );
                let notices = v.messages.iter().flat_map(|m| m.notices.iter());
                put("notices", bracketed(notices.clone().map(|n| &n.text)));
                put("audio_cue", bracketed(notices.flat_map(|n| n.audio_cue_to.iter())));
                put("unread", bracketed(v.unread.iter().map(|(l, n)| format!("{l}: {n}"))));
            } else {
                put("messages", "0".into());
            }
        }
        Subject::Usage => {
            let sum = |f: fn(&UsageRow) -> i64| o.usage_by_account.iter().map(f).sum::<i64>().to_string();
            put("sms_inbound", sum(|r| r.sms_inbound));
            put("sms_outbound", sum(|r| r.sms_outbound));
            put("sms_messages", sum(|r| r.sms_messages));
            put("segments", sum(|r| r.segments));
            put("mms_messages", sum(|r| r.mms_messages));
        }
    }
    let mismatches: Vec<Mismatch> = c
        .expect
        .iter()
        .filter_map(|(k, v)| {
            let actual = seen.get(k).cloned().unwrap_or_else(|| "(nothing)".into());
            (&actual != v).then(|| Mismatch {
                field: static_key(k),
                expected: v.clone(),
                actual,
            })
        })
        .collect();
    CaseReport {
        name: c.name.clone(),
        line: c.pos.line,
        passed: mismatches.is_empty(),
        mismatches,
        actual: Actual::Check(seen),
        why: Vec::new(),
        time: started.elapsed(),
    }
}

/// Mismatch fields are static names; map a check's key to its constant.
fn static_key(k: &str) -> &'static str {
    const ALL: &[&str] = &[
        "channel",
        "lands_at",
        "sent_from",
        "live",
        "notices",
        "audio_cue",
        "count",
        "clients",
        "unread",
        "messages",
        "channels",
        "statuses",
        "attempts",
        "texts",
        "sms_inbound",
        "sms_outbound",
        "sms_messages",
        "segments",
        "mms_messages",
    ];
    ALL.iter().find(|a| **a == k).copied().unwrap_or("?")
}

/// Reads the `events:` of a timeline scenario.
pub(crate) fn read_scenario_events(doc: &mut Doc, node: &Node, world: &World, path: &Path) -> Vec<Event> {
    timeline::read_yaml_events(doc, node, world, path.parent().unwrap_or(Path::new(".")))
}
