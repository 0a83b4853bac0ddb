//! Reading and checking a scenario file: its world, its cases (with their
//! logins, logouts and access changes) and what they expect. Every id is
//! checked against the world here, so running a case only evaluates rules.
//! A timeline's events and checks are read by [`super::timeline_checks`].

use std::path::Path;
use std::sync::Arc;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;

use super::{login, timeline_checks, Case, CaseEvent, Expect, ScenarioFile, WorldRef};
use crate::diag::{one_of, Diagnostics, Pos, Source};
use crate::engine::event::{InboundRequest, OutboundRequest};
use crate::rules::facts::{Channel, CHANNEL_VALUES};
use crate::rules::RuleSet;
use crate::world::locset::LocSet;
use crate::world::World;
use crate::yaml::{self, Doc, Str};

impl ScenarioFile {
    /// Loads the scenario file at `path`, checking every id against its world.
    pub fn load(path: &Path) -> Result<ScenarioFile, Diagnostics> {
        ScenarioFile::parse(Source::read(path)?)
    }

    /// Loads a scenario file to run against `rules`: as [`ScenarioFile::load`],
    /// and every rule a case expects must be one of theirs that can decide
    /// that kind of case. A typo there would otherwise be an ordinary failing
    /// case, which reads as a rules regression.
    pub fn load_for(path: &Path, rules: &RuleSet) -> Result<ScenarioFile, Diagnostics> {
        ScenarioFile::parse_with(Source::read(path)?, Some(rules))
    }
}

const TOP_KEYS: &[&str] = &["description", "world", "cases", "events", "checks"];
const CASE_KEYS: &[&str] = &[
    "name",
    "description",
    "login",
    "logout",
    "access",
    "inbound",
    "outbound",
    "expect",
];
const INBOUND_KEYS: &[&str] = &["client", "answering", "staff", "from"];
const OUTBOUND_KEYS: &[&str] = &["client", "from_account", "text"];
const EXPECT_INBOUND: &[&str] = &["lands_at", "delivered_to", "rule"];
const EXPECT_OUTBOUND: &[&str] = &["channel", "ghost_text", "text", "rule"];

impl ScenarioFile {
    /// Parses a scenario file, checking every id against its world (rule
    /// ids are checked by [`ScenarioFile::load_for`]).
    pub fn parse(source: Source) -> Result<ScenarioFile, Diagnostics> {
        ScenarioFile::parse_with(source, None)
    }

    /// Parses a scenario file to run against `rules`, with the checks of
    /// [`ScenarioFile::load_for`]; standard input, say.
    pub fn parse_for(source: Source, rules: &RuleSet) -> Result<ScenarioFile, Diagnostics> {
        ScenarioFile::parse_with(source, Some(rules))
    }

    fn parse_with(source: Source, rules: Option<&RuleSet>) -> Result<ScenarioFile, Diagnostics> {
        let path = source.path.clone();
        let (mut doc, node) = Doc::parse(source)?;
        let Some(top) = doc.mapping(&node, "a scenario file", None) else {
            return Err(doc.diags);
        };
        doc.check_keys(top, TOP_KEYS, "a scenario file", None);
        let description = yaml::get(top, "description")
            .and_then(|n| doc.string(n, "`description`", None))
            .map(|s| s.value)
            .unwrap_or_default();
        let (world, world_ref) = read_world(&mut doc, top, &path);
        if let Some(events) = yaml::get(top, "events") {
            let spec = read_timeline(&mut doc, top, events, world, &path);
            doc.finish(())?;
            return Ok(ScenarioFile {
                path,
                description,
                world_ref,
                cases: Vec::new(),
                timeline: spec,
            });
        }
        let cases = read_cases(&mut doc, top, world.as_ref(), rules);
        doc.finish(())?;
        Ok(ScenarioFile {
            path,
            description,
            world_ref,
            cases,
            timeline: None,
        })
    }
}

/// The scenario's `world`: inline, or read from a path relative to the file.
fn read_world(doc: &mut Doc, top: &MarkedMappingNode, path: &Path) -> (Option<World>, WorldRef) {
    match yaml::get(top, "world") {
        // Misspelt: reported once, as an unknown key.
        None if yaml::misspelt(top, "world", TOP_KEYS).is_some() => (None, WorldRef::Inline),
        None => {
            doc.error(
                Pos::new(1, 1),
                None,
                "the scenario has no `world`",
                Some("give `world:` inline, or a path to a world file relative to this file".into()),
            );
            (None, WorldRef::Inline)
        }
        Some(Node::Scalar(s)) => {
            let rel = s.as_str().to_owned();
            let full = path.parent().unwrap_or(Path::new(".")).join(&rel);
            match World::load(&full) {
                Ok(w) => (Some(w), WorldRef::Path(rel)),
                Err(e) => {
                    let pos = Pos::of(s.span());
                    if full.exists() {
                        // Problems inside the world file keep their own locations.
                        doc.diags.extend(e);
                    } else {
                        doc.error(
                            pos,
                            None,
                            format!("cannot read the world file `{rel}`"),
                            Some(format!("the path is relative to this file: {}", full.display())),
                        );
                    }
                    (None, WorldRef::Path(rel))
                }
            }
        }
        Some(n) => (World::from_node(doc, n), WorldRef::Inline),
    }
}

/// A timeline scenario's `events` and `checks` (read by [`timeline_checks`]).
fn read_timeline(
    doc: &mut Doc,
    top: &MarkedMappingNode,
    events: &Node,
    world: Option<World>,
    path: &Path,
) -> Option<timeline_checks::TimelineSpec> {
    if let Some(k) = yaml::key_pos(top, "cases") {
        doc.error(
            k,
            None,
            "a scenario has either `cases` or `events`, not both",
            Some("put the timeline in a file of its own".into()),
        );
    }
    let world = world?;
    let evs = timeline_checks::read_scenario_events(doc, events, &world, path);
    let checks = match yaml::get(top, "checks") {
        Some(n) => timeline_checks::read_checks(doc, n, &world, &evs),
        None if yaml::misspelt(top, "checks", TOP_KEYS).is_some() => Vec::new(),
        None => {
            doc.error(
                Pos::new(1, 1),
                None,
                "the timeline scenario has no `checks`",
                Some("add `checks:` saying what the events must leave behind".into()),
            );
            Vec::new()
        }
    };
    Some(timeline_checks::TimelineSpec {
        world,
        events: evs,
        checks,
    })
}

/// The `cases` of a scenario without `events`, each name used once.
fn read_cases(doc: &mut Doc, top: &MarkedMappingNode, world: Option<&World>, rules: Option<&RuleSet>) -> Vec<Case> {
    let mut cases = Vec::new();
    // A misspelt `events` is reported once, as an unknown key.
    let misspelt_events = yaml::misspelt(top, "events", TOP_KEYS).is_some();
    if let Some(k) = yaml::key_pos(top, "checks").filter(|_| !misspelt_events) {
        doc.error(
            k,
            None,
            "`checks` belong to a timeline scenario, which has `events`",
            None,
        );
    }
    match yaml::get(top, "cases") {
        None if misspelt_events || yaml::misspelt(top, "cases", TOP_KEYS).is_some() => {}
        None => doc.error(
            Pos::new(1, 1),
            None,
            "the scenario has no `cases`",
            Some("add `cases:` with at least one case".into()),
        ),
        Some(n) => {
            if let (Some(seq), Some(world)) = (doc.sequence(n, "`cases`", None), world) {
                let world = Arc::new(world.clone());
                let mut names: Vec<Str> = Vec::new();
                for item in seq.iter() {
                    if let Some(case) = read_case(doc, item, &world, rules) {
                        if let Some(prev) = names.iter().find(|n| n.value == case.name) {
                            doc.error(
                                case.pos,
                                Some(&format!("case `{}`", case.name)),
                                format!("duplicate case name `{}`", case.name),
                                Some(format!(
                                    "the same name is used at line {}; names identify cases in reports",
                                    prev.pos.line
                                )),
                            );
                        }
                        names.push(Str {
                            value: case.name.clone(),
                            pos: case.pos,
                        });
                        cases.push(case);
                    }
                }
            }
        }
    }
    cases
}

/// One entry of `cases`, resolved against the world; `None` when it has
/// problems (all reported).
fn read_case(doc: &mut Doc, node: &Node, base: &Arc<World>, rules: Option<&RuleSet>) -> Option<Case> {
    let m = doc.mapping(node, "each case", None)?;
    let pos = Pos::of(m.span());
    // A misspelt `name` (reported below as an unknown key) still names the case.
    let name = yaml::get(m, "name").or_else(|| yaml::misspelt(m, "name", CASE_KEYS));
    let Some(name) = name.and_then(|n| doc.string(n, "`name`", None)) else {
        doc.error(
            pos,
            None,
            "this case has no `name`",
            Some("give each case a short `name` saying what it shows".into()),
        );
        return None;
    };
    let subject = format!("case `{}`", name.value);
    let subj = Some(subject.as_str());
    doc.check_keys(m, CASE_KEYS, "a case", subj);
    let before = doc.diags.len();

    let world = case_world(doc, m, base, subj);

    let one_event = "a case has exactly one event: `inbound` or `outbound`";
    let example = "`inbound: {client: cleo, answering: confirmation@A}` or `outbound: {client: cleo, from_account: glow-downtown}`";
    let event = match (yaml::get(m, "inbound"), yaml::get(m, "outbound")) {
        (Some(n), None) => read_inbound(doc, n, &world, subj),
        (None, Some(n)) => read_outbound(doc, n, &world, subj),
        (Some(_), Some(n)) => {
            doc.error(Pos::of(n.span()), subj, one_event, Some(example.into()));
            None
        }
        (None, None) => {
            // A misspelt event is reported once, as an unknown key.
            let misspelt = ["inbound", "outbound"]
                .iter()
                .any(|k| yaml::misspelt(m, k, CASE_KEYS).is_some());
            if !misspelt {
                doc.error(pos, subj, one_event, Some(example.into()));
            }
            None
        }
    };
    // The kind of event is what the case says, even when the event itself is wrong.
    let kind = match (yaml::get(m, "inbound"), yaml::get(m, "outbound")) {
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        _ => None,
    };
    let expect = match yaml::get(m, "expect") {
        Some(n) => kind.and_then(|inbound| read_expect(doc, n, inbound, &world, rules, subj)),
        None if yaml::misspelt(m, "expect", CASE_KEYS).is_some() => None,
        None => {
            doc.error(pos, subj, "the case has no `expect`", Some("say what must come out, e.g. `expect: {lands_at: [A], delivered_to: [sam], rule: reply-to-location-message}`".into()));
            None
        }
    };
    if doc.diags.len() > before {
        return None;
    }
    Some(Case {
        name: name.value,
        pos,
        world,
        event: event?,
        expect: expect?,
    })
}

/// The world a case runs in: its base world after the case's `logout`,
/// `login` and `access` changes (the base itself when there are none).
fn case_world(doc: &mut Doc, m: &MarkedMappingNode, base: &Arc<World>, subj: Option<&str>) -> Arc<World> {
    let mut world: Option<World> = None;
    fn w<'a>(world: &'a mut Option<World>, base: &World) -> &'a mut World {
        world.get_or_insert_with(|| base.clone())
    }
    if let Some(n) = yaml::get(m, "logout") {
        for s in doc.strings(n, "`logout`", subj).unwrap_or_default() {
            if let Some(ix) = staff_ref(doc, base, &s, subj) {
                w(&mut world, base).set_login(ix, None);
            }
        }
    }
    if let Some(n) = yaml::get(m, "login") {
        if let Some(map) = doc.mapping(n, "`login`", subj) {
            for (k, v) in map.iter() {
                let sid = yaml::str_of(k);
                let Some(ix) = staff_ref(doc, base, &sid, subj) else {
                    continue;
                };
                let Some(loc) = doc.string(v, "the location in `login`", subj) else {
                    continue;
                };
                let Some(l) = loc_ref(doc, base, &loc, subj) else {
                    continue;
                };
                if !login::may_log_in(base, ix, l) {
                    let staff = &base.staff[ix as usize];
                    doc.error(
                        loc.pos,
                        subj,
                        format!(
                            "staff member `{}` cannot log in at `{}`: it is not one of their locations",
                            sid.value, loc.value
                        ),
                        Some(format!("their locations: {}", one_of(&base.loc_ids(&staff.locations)))),
                    );
                    continue;
                }
                w(&mut world, base).set_login(ix, Some(l));
            }
        }
    }
    if let Some(n) = yaml::get(m, "access") {
        if let Some(map) = doc.mapping(n, "`access`", subj) {
            for (k, v) in map.iter() {
                let sid = yaml::str_of(k);
                let Some(ix) = staff_ref(doc, base, &sid, subj) else {
                    continue;
                };
                let locs = doc.strings(v, "the locations in `access`", subj).unwrap_or_default();
                let set: LocSet = locs.iter().filter_map(|l| loc_ref(doc, base, l, subj)).collect();
                w(&mut world, base).set_access(ix, set);
            }
        }
    }
    world.map(Arc::new).unwrap_or_else(|| base.clone())
}

pub(super) fn staff_ref(doc: &mut Doc, world: &World, id: &Str, subj: Option<&str>) -> Option<u32> {
    let known = world.staff.iter().map(|s| s.id.as_str());
    look_up(
        doc,
        world.staff_member(&id.value),
        id,
        subj,
        ("staff member", "staff"),
        known,
    )
}

pub(super) fn loc_ref(doc: &mut Doc, world: &World, id: &Str, subj: Option<&str>) -> Option<u16> {
    let known = world.locations.iter().map(|l| l.id.as_str());
    look_up(
        doc,
        world.location(&id.value),
        id,
        subj,
        ("location", "locations"),
        known,
    )
}

pub(super) fn client_ref(doc: &mut Doc, world: &World, id: &Str, subj: Option<&str>) -> Option<u32> {
    let known = world.clients.iter().map(|c| c.id.as_str());
    look_up(doc, world.client(&id.value), id, subj, ("client", "clients"), known)
}

/// A looked-up reference, or an error naming it with the closest known id
/// (or listing the known ids when none is close).
fn look_up<'w, T>(
    doc: &mut Doc,
    found: Option<T>,
    id: &Str,
    subj: Option<&str>,
    (what, plural): (&str, &str),
    known: impl Iterator<Item = &'w str>,
) -> Option<T> {
    if found.is_none() {
        let known: Vec<&str> = known.collect();
        let help = match crate::diag::did_you_mean(&id.value, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the world's {plural}: {}", one_of(&known)),
        };
        doc.error(id.pos, subj, format!("unknown {what} `{}`", id.value), Some(help));
    }
    found
}

/// The string fields of an event mapping that are present, with positions.
fn event_fields(
    doc: &mut Doc,
    m: &MarkedMappingNode,
    keys: &[&'static str],
    subj: Option<&str>,
) -> Vec<(&'static str, Str)> {
    let mut out = Vec::new();
    for key in keys {
        if let Some(s) = yaml::get(m, key).and_then(|n| doc.string(n, &format!("`{key}`"), subj)) {
            out.push((*key, s));
        }
    }
    out
}

fn read_inbound(doc: &mut Doc, node: &Node, world: &World, subj: Option<&str>) -> Option<CaseEvent> {
    let m = doc.mapping(node, "`inbound`", subj)?;
    doc.check_keys(m, INBOUND_KEYS, "`inbound`", subj);
    let f = event_fields(doc, m, INBOUND_KEYS, subj);
    let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, s)| s.clone());
    let Some(client) = get("client") else {
        doc.error(
            Pos::of(m.span()),
            subj,
            "`inbound` has no `client`",
            Some("name the client who writes: `client: cleo`".into()),
        );
        return None;
    };
    let req = InboundRequest {
        client: client.value.clone(),
        answering: get("answering").map(|s| s.value),
        staff: get("staff").map(|s| s.value),
        from: get("from").map(|s| s.value),
    };
    match req.resolve(world) {
        Ok(ev) => Some(CaseEvent::Inbound(ev)),
        Err(e) => {
            let pos = get(e.field).map(|s| s.pos).unwrap_or(Pos::of(m.span()));
            doc.error(pos, subj, format!("`{}`: {}", e.field, e.message), None);
            None
        }
    }
}

fn read_outbound(doc: &mut Doc, node: &Node, world: &World, subj: Option<&str>) -> Option<CaseEvent> {
    let m = doc.mapping(node, "`outbound`", subj)?;
    doc.check_keys(m, OUTBOUND_KEYS, "`outbound`", subj);
    let f = event_fields(doc, m, OUTBOUND_KEYS, subj);
    let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, s)| s.clone());
    let (Some(client), Some(account)) = (get("client"), get("from_account")) else {
        doc.error(
            Pos::of(m.span()),
            subj,
            "`outbound` needs `client` and `from_account`",
            Some("e.g. `outbound: {client: cleo, from_account: glow-downtown, text: See you}`".into()),
        );
        return None;
    };
    let req = OutboundRequest {
        client: client.value,
        from_account: account.value,
        text: get("text").map(|s| s.value).unwrap_or_default(),
    };
    match req.resolve(world) {
        Ok(ev) => Some(CaseEvent::Outbound(ev)),
        Err(e) => {
            let pos = get(e.field).map(|s| s.pos).unwrap_or(Pos::of(m.span()));
            doc.error(pos, subj, format!("`{}`: {}", e.field, e.message), None);
            None
        }
    }
}

/// Reads a case's `expect`; every location and staff id it names is checked
/// against the world, and the rule against `rules` when they are given.
fn read_expect(
    doc: &mut Doc,
    node: &Node,
    inbound: bool,
    world: &World,
    rules: Option<&RuleSet>,
    subj: Option<&str>,
) -> Option<Expect> {
    let m = doc.mapping(node, "`expect`", subj)?;
    let keys = if inbound { EXPECT_INBOUND } else { EXPECT_OUTBOUND };
    doc.check_keys(
        m,
        keys,
        if inbound {
            "`expect` of an inbound case"
        } else {
            "`expect` of an outbound case"
        },
        subj,
    );
    let mut e = Expect::default();
    let ids = |doc: &mut Doc, k: &str| -> Option<Vec<String>> {
        let n = yaml::get(m, k)?;
        if let Node::Scalar(s) = n {
            if s.as_str().is_empty() {
                return Some(Vec::new());
            }
        }
        let items = doc.strings(n, &format!("`{k}`"), subj)?;
        for id in &items {
            if k == "lands_at" {
                loc_ref(doc, world, id, subj);
            } else {
                staff_ref(doc, world, id, subj);
            }
        }
        let mut v: Vec<String> = items.into_iter().map(|s| s.value).collect();
        v.sort();
        Some(v)
    };
    let text = |doc: &mut Doc, k: &str| {
        yaml::get(m, k)
            .and_then(|n| doc.string(n, &format!("`{k}`"), subj))
            .map(|s| s.value)
    };
    let rule = yaml::get(m, "rule").and_then(|n| doc.string(n, "`rule`", subj));
    if let (Some(rule), Some(rules)) = (&rule, rules) {
        rule_ref(doc, rules, rule, inbound, subj);
    }
    e.rule = rule.map(|r| r.value);
    if inbound {
        e.lands_at = ids(doc, "lands_at");
        e.delivered_to = ids(doc, "delivered_to");
        for (k, present) in [
            ("lands_at", e.lands_at.is_some()),
            ("delivered_to", e.delivered_to.is_some()),
            ("rule", e.rule.is_some()),
        ] {
            if !present {
                doc.error(
                    Pos::of(m.span()),
                    subj,
                    format!("`expect` has no `{k}`"),
                    Some("an inbound case states `lands_at`, `delivered_to` (`[]` for nobody) and `rule`".into()),
                );
            }
        }
    } else {
        if let Some(c) = yaml::get(m, "channel").and_then(|n| doc.string(n, "`channel`", subj)) {
            match Channel::parse(&c.value) {
                Some(ch) => e.channel = Some(ch),
                None => doc.error(
                    c.pos,
                    subj,
                    format!("`{}` is not a channel", c.value),
                    Some(format!("a channel is {}", one_of(CHANNEL_VALUES))),
                ),
            }
        }
        e.ghost_text = text(doc, "ghost_text");
        e.text = text(doc, "text");
        for (k, present) in [
            ("channel", yaml::get(m, "channel").is_some()),
            ("ghost_text", e.ghost_text.is_some()),
            ("rule", e.rule.is_some()),
        ] {
            if !present {
                doc.error(
                    Pos::of(m.span()),
                    subj,
                    format!("`expect` has no `{k}`"),
                    Some(
                        "an outbound case states `channel`, `ghost_text` and `rule` (and `text` when it matters)"
                            .into(),
                    ),
                );
            }
        }
    }
    Some(e)
}

/// Checks that a case's expected rule is one that decides that kind of
/// case: an inbound rule for an inbound case, an outbound channel rule for
/// an outbound one.
fn rule_ref(doc: &mut Doc, rules: &RuleSet, id: &Str, inbound: bool, subj: Option<&str>) {
    let (known, what): (Vec<&str>, _) = match inbound {
        true => (
            rules.inbound.rules.rules.iter().map(|r| r.id.as_str()).collect(),
            "inbound",
        ),
        false => (
            rules.outbound.rules.rules.iter().map(|r| r.id.as_str()).collect(),
            "outbound",
        ),
    };
    if known.contains(&id.value.as_str()) {
        return;
    }
    let message = match rules.rule_ids().into_iter().find(|(_, r)| *r == id.value) {
        Some((policy, _)) => format!(
            "`{}` is a {} rule, which does not decide an {what} case",
            id.value,
            policy.name()
        ),
        None => format!("unknown rule `{}`", id.value),
    };
    let help = match crate::diag::did_you_mean(&id.value, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("the {what} rules are {}", one_of(&known)),
    };
    doc.error(id.pos, subj, message, Some(help));
}
