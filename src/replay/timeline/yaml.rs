//! YAML timelines: a world and an `events:` list, read whole so that every
//! problem is reported at once, each at its key. Events are turned into JSON
//! and read as a [`WrittenEvent`], like the lines of a JSON Lines timeline
//! (`jsonl.rs`); resolving them is in `resolve.rs`.

use std::path::Path;

use marked_yaml::Node;

use crate::diag::{Diagnostics, Pos, Source};
use crate::world::World;
use crate::yaml::{self, Doc};

use super::{resolve, serde_message, Event, WrittenEvent};

/// A YAML timeline, read whole.
#[derive(Debug, Clone)]
pub struct YamlTimeline {
    /// The timeline's `description`, empty when it has none.
    pub description: String,
    pub(crate) world: World,
    pub(crate) events: Vec<Event>,
}

/// Reads `world:` (inline or a path relative to the file) from a mapping.
fn read_timeline_world(doc: &mut Doc, top: &marked_yaml::types::MarkedMappingNode, path: &Path) -> Option<World> {
    match yaml::get(top, "world") {
        None => {
            doc.error(
                Pos::new(1, 1),
                None,
                "the file has no `world`",
                Some("give `world:` inline, or a path to a world file relative to this file".into()),
            );
            None
        }
        Some(Node::Scalar(s)) => {
            let rel = s.as_str().to_owned();
            let full = path.parent().unwrap_or(Path::new(".")).join(&rel);
            match World::load(&full) {
                Ok(w) => Some(w),
                Err(e) => {
                    if full.exists() {
                        doc.diags.extend(e);
                    } else {
                        doc.error(
                            Pos::of(s.span()),
                            None,
                            format!("cannot read the world file `{rel}`"),
                            Some(format!("the path is relative to this file: {}", full.display())),
                        );
                    }
                    None
                }
            }
        }
        Some(n) => World::from_node(doc, n),
    }
}

/// Turns a YAML node into JSON so events are read by the same code in both
/// formats (`true`/`false` become booleans, every other scalar a string).
fn to_json(node: &Node) -> serde_json::Value {
    match node {
        Node::Scalar(s) => match s.as_str() {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            v => serde_json::Value::String(v.to_owned()),
        },
        Node::Sequence(seq) => seq.iter().map(to_json).collect(),
        Node::Mapping(m) => m
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// Reads the `events:` list of a YAML document, reporting every problem.
pub(crate) fn read_yaml_events(doc: &mut Doc, node: &Node, world: &World, base: &Path) -> Vec<Event> {
    let mut events = Vec::new();
    let Some(seq) = doc.sequence(node, "`events`", None) else {
        return events;
    };
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut last_at = String::new();
    for item in seq.iter() {
        let Some(m) = doc.mapping(item, "each event", None) else {
            continue;
        };
        let pos = Pos::of(m.span());
        let id = yaml::get(m, "id").map(|n| to_json(n).as_str().unwrap_or_default().to_owned());
        let subject = id.as_ref().map(|i| format!("event `{i}`"));
        // Yes/no fields first, so a wrong value is reported at its key.
        let mut bad_bool = false;
        for key in ["guest_app", "sms_opt_in", "email_opt_in"] {
            if let Some(n) = yaml::get(m, key) {
                bad_bool |= doc.boolean(n, &format!("`{key}`"), subject.as_deref()).is_none();
            }
        }
        if bad_bool {
            continue;
        }
        if let Some(id) = &id {
            if let Some(first) = seen.get(id) {
                doc.error(
                    yaml::key_pos(m, "id").unwrap_or(pos),
                    subject.as_deref(),
                    format!("duplicate event id `{id}`"),
                    Some(format!(
                        "the same id is used at line {first}; every event needs its own id"
                    )),
                );
                continue;
            }
            seen.insert(id.clone(), pos.line);
        }
        let raw: WrittenEvent = match serde_json::from_value(to_json(item)) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                let key_pos = msg.split('`').nth(1).and_then(|k| yaml::key_pos(m, k)).unwrap_or(pos);
                doc.error(key_pos, subject.as_deref(), serde_message(&msg), None);
                continue;
            }
        };
        match resolve(raw, world, base, pos.line) {
            Ok(ev) => {
                if ev.at < last_at {
                    doc.error(
                        yaml::key_pos(m, "at").unwrap_or(pos),
                        subject.as_ref().map(|s| format!("{s}, field `at`")).as_deref(),
                        format!("`{}` is earlier than the event before it (`{last_at}`)", ev.at),
                        Some("events are replayed in order: sort them by time".into()),
                    );
                }
                last_at = ev.at.clone();
                events.push(ev);
            }
            Err(fe) => {
                let at = fe.field.as_deref().and_then(|f| yaml::key_pos(m, f)).unwrap_or(pos);
                // The event and the field, as a JSON Lines timeline names them.
                let subject = match (&subject, &fe.field) {
                    (Some(s), Some(f)) => Some(format!("{s}, field `{f}`")),
                    (s, _) => s.clone(),
                };
                doc.error(at, subject.as_deref(), fe.message, fe.help);
            }
        }
    }
    events
}

impl YamlTimeline {
    /// Reads a YAML timeline file and its world, reporting every problem at once.
    pub fn load(path: &Path) -> Result<YamlTimeline, Diagnostics> {
        YamlTimeline::parse(Source::read(path)?)
    }

    /// Reads a YAML timeline from its text; world files and photos it
    /// names are relative to the folder of the source's path.
    pub fn parse(source: Source) -> Result<YamlTimeline, Diagnostics> {
        let path = source.path.clone();
        let path = path.as_path();
        let (mut doc, node) = Doc::parse(source)?;
        let Some(top) = doc.mapping(&node, "a timeline", None) else {
            return Err(doc.diags);
        };
        // A timeline scenario's `checks` are for `commroute test`; replaying ignores them.
        doc.check_keys(top, &["description", "world", "events", "checks"], "a timeline", None);
        let description = yaml::get(top, "description")
            .and_then(|n| doc.string(n, "`description`", None))
            .map(|s| s.value)
            .unwrap_or_default();
        let world = read_timeline_world(&mut doc, top, path);
        let events = match (yaml::get(top, "events"), &world) {
            (Some(n), Some(w)) => read_yaml_events(&mut doc, n, w, path.parent().unwrap_or(Path::new("."))),
            (None, _) => {
                doc.error(
                    Pos::new(1, 1),
                    None,
                    "the timeline has no `events`",
                    Some("add `events:` with one entry per event".into()),
                );
                Vec::new()
            }
            _ => Vec::new(),
        };
        doc.finish(())?;
        Ok(YamlTimeline {
            description,
            world: world.expect("a world was read when there is no problem"),
            events,
        })
    }
}
