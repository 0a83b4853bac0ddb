//! The decision writer: decision and error lines of `route batch`, written
//! by hand with ids escaped once per run ([`Names`]). Reading event lines is
//! in `lines.rs` and `scan.rs`.

use std::io::Write;

use crate::engine::decision::{InboundDecision, OutboundDecision};
use crate::rules::RuleSet;
use crate::world::World;

/// Appends `s` as a JSON string, quotes included.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&b[start..i]);
                let _ = write!(out, "\\u{c:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

fn json_quoted(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 2);
    push_json_str(&mut v, s);
    v
}

/// The `version` field of every line, after its `type`: the version of
/// commroute that wrote it, as in all JSON the command line writes.
const VERSION: &[u8] = concat!(",\"version\":\"", env!("CARGO_PKG_VERSION"), "\"").as_bytes();

/// Every id and text a decision line names, escaped once per run.
#[derive(Debug)]
pub(crate) struct Names {
    /// How every decision line ends: `}\n`, or the versions first
    /// ([`Names::with_versions`]).
    end: Vec<u8>,
    locations: Vec<Vec<u8>>,
    staff: Vec<Vec<u8>>,
    inbound_rules: Vec<Vec<u8>>,
    outbound_rules: Vec<Vec<u8>>,
    ghost_texts: Vec<Vec<u8>>,
    text_rules: Vec<Vec<u8>>,
}

impl Names {
    pub(crate) fn new(rules: &RuleSet, world: &World) -> Names {
        Names {
            end: b"}\n".to_vec(),
            locations: world.locations.iter().map(|l| json_quoted(&l.id)).collect(),
            staff: world.staff.iter().map(|s| json_quoted(&s.id)).collect(),
            inbound_rules: rules.inbound.rules.rules.iter().map(|r| json_quoted(&r.id)).collect(),
            outbound_rules: rules.outbound.rules.rules.iter().map(|r| json_quoted(&r.id)).collect(),
            ghost_texts: rules
                .outbound
                .rules
                .rules
                .iter()
                .map(|r| json_quoted(&r.outcome.ghost_text))
                .collect(),
            text_rules: rules.outbound.text.rules.iter().map(|r| json_quoted(&r.id)).collect(),
        }
    }

    /// The names of another world (an event's inline facts), with the same
    /// line ending as these.
    pub(crate) fn for_world(&self, rules: &RuleSet, world: &World) -> Names {
        Names {
            end: self.end.clone(),
            ..Names::new(rules, world)
        }
    }

    /// The same names, ending every decision line with
    /// `,"rule_set":..,"world_version":..}`: the decision service's lines.
    pub(crate) fn with_versions(mut self, rule_set: &str, world_version: &str) -> Names {
        let mut end = b",\"rule_set\":".to_vec();
        push_json_str(&mut end, rule_set);
        end.extend_from_slice(b",\"world_version\":");
        push_json_str(&mut end, world_version);
        end.extend_from_slice(b"}\n");
        self.end = end;
        self
    }

    /// `{"id":..,"type":"inbound","version":..,"lands_at":[..],"delivered_to":[..],"rule":..}`
    pub(crate) fn write_inbound(&self, out: &mut Vec<u8>, id_json: &[u8], d: &InboundDecision) {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(id_json);
        out.extend_from_slice(b",\"type\":\"inbound\"");
        out.extend_from_slice(VERSION);
        out.extend_from_slice(b",\"lands_at\":[");
        for (i, l) in d.lands_at.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.locations[l as usize]);
        }
        out.extend_from_slice(b"],\"delivered_to\":[");
        for (i, r) in d.delivered_to.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.staff[r.staff as usize]);
        }
        out.extend_from_slice(b"],\"rule\":");
        out.extend_from_slice(&self.inbound_rules[d.rule]);
        out.extend_from_slice(&self.end);
    }

    /// `{"id":..,"type":"outbound","version":..,"channel":..,"ghost_text":..,"text":..,"rule":..,"text_rule":..}`
    pub(crate) fn write_outbound(&self, out: &mut Vec<u8>, id_json: &[u8], d: &OutboundDecision) {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(id_json);
        out.extend_from_slice(b",\"type\":\"outbound\"");
        out.extend_from_slice(VERSION);
        out.extend_from_slice(b",\"channel\":\"");
        out.extend_from_slice(d.channel.name().as_bytes());
        out.extend_from_slice(b"\",\"ghost_text\":");
        match &d.scripted_ghost_text {
            Some(text) => push_json_str(out, text),
            None => out.extend_from_slice(&self.ghost_texts[d.rule]),
        }
        out.extend_from_slice(b",\"text\":");
        push_json_str(out, &d.text);
        out.extend_from_slice(b",\"rule\":");
        out.extend_from_slice(&self.outbound_rules[d.rule]);
        out.extend_from_slice(b",\"text_rule\":");
        out.extend_from_slice(&self.text_rules[d.text_rule]);
        out.extend_from_slice(&self.end);
    }
}

/// `{"id":..,"type":"error","version":..,"line":N,"error":..}`; `id_json` is `null` when
/// the line has no readable id.
pub(crate) fn write_error(out: &mut Vec<u8>, id_json: &[u8], line: u64, message: &str) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(id_json);
    out.extend_from_slice(b",\"type\":\"error\"");
    out.extend_from_slice(VERSION);
    let _ = write!(out, ",\"line\":{line},\"error\":");
    push_json_str(out, message);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_versions_ends_each_decision_line_with_the_two_versions() {
        let rules = RuleSet::shipped();
        let world = World::builder().build().unwrap();
        let names = Names::new(&rules, &world).with_versions("5655545e697ed476", "none");
        let d = OutboundDecision {
            channel: crate::rules::facts::Channel::Sms,
            rule: 0,
            text_rule: 0,
            text: "hi".into(),
            scripted_ghost_text: None,
            trace: None,
        };
        let mut out = Vec::new();
        names.write_outbound(&mut out, b"\"e1\"", &d);
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.ends_with(",\"rule_set\":\"5655545e697ed476\",\"world_version\":\"none\"}\n"),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["text"], "hi");
    }

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for s in [
            "plain",
            "quote \" and \\ back",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}",
            "café ☕",
            "",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
    }
}
