//! The JSON Lines of batch routing: reading event lines fast, writing decision
//! lines.
//!
//! Event lines are defined by [`EventLine`]; this module adds a scanner for
//! the shape nearly every line has (a flat object of known keys whose values
//! are plain strings) that borrows its fields from the line instead of
//! allocating them. Anything else (escapes, `null`, unknown or repeated keys,
//! invalid UTF-8, a syntax error) makes the scanner give up, and the line goes
//! through `serde_json` and [`EventLine`] as usual, so the two accept exactly
//! the same lines and report errors the same way. Decision lines are written
//! by hand with ids escaped once per run ([`Names`]).

pub mod batch;

use std::io::Write;

use crate::engine::decision::{InboundDecision, OutboundDecision};
use crate::engine::event::EventLine;
use crate::rules::RuleSet;
use crate::world::World;

/// Whether an event is a client's or a staff member's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Inbound,
    Outbound,
}

/// An event line's fields, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub client: &'a str,
    pub answering: Option<&'a str>,
    pub staff: Option<&'a str>,
    pub from: Option<&'a str>,
    pub from_account: Option<&'a str>,
    pub text: Option<&'a str>,
}

/// Reads the common shape of an event line without allocating; `None` means
/// "not sure", and the caller parses the line with [`EventLine`] instead.
pub fn scan_event(line: &[u8]) -> Option<RawEvent<'_>> {
    let line = std::str::from_utf8(line).ok()?;
    let b = line.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    // Slots: id, type, client, answering, staff, from, from_account, text.
    let mut slots: [Option<&str>; 8] = [None; 8];
    loop {
        let (key, j) = plain_string(line, i)?;
        i = skip_ws(b, j);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let (value, j) = plain_string(line, i)?;
        let slot = match key {
            "id" => 0,
            "type" => 1,
            "client" => 2,
            "answering" => 3,
            "staff" => 4,
            "from" => 5,
            "from_account" => 6,
            "text" => 7,
            _ => return None,
        };
        if slots[slot].replace(value).is_some() {
            return None;
        }
        i = skip_ws(b, j);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    if skip_ws(b, i + 1) != b.len() {
        return None;
    }
    let [id, ty, client, answering, staff, from, from_account, text] = slots;
    let kind = match ty? {
        "inbound" if from_account.is_none() && text.is_none() => Kind::Inbound,
        "outbound" if answering.is_none() && staff.is_none() && from.is_none() && from_account.is_some() => {
            Kind::Outbound
        }
        _ => return None,
    };
    Some(RawEvent {
        id: id?,
        kind,
        client: client?,
        answering,
        staff,
        from,
        from_account,
        text,
    })
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// A JSON string at `i` with no escapes and no control characters; returns
/// its contents and the index after the closing quote.
fn plain_string(s: &str, i: usize) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut j = start;
    loop {
        match *b.get(j)? {
            b'"' => return Some((&s[start..j], j + 1)),
            b'\\' | 0..=0x1f => return None,
            _ => j += 1,
        }
    }
}

impl RawEvent<'_> {
    /// The same event as [`EventLine`] gives (for tests and for callers that
    /// want owned values).
    pub fn to_event_line(&self) -> EventLine {
        let s = |v: Option<&str>| v.map(str::to_owned);
        match self.kind {
            Kind::Inbound => EventLine::Inbound {
                id: self.id.to_owned(),
                request: crate::engine::event::InboundRequest {
                    client: self.client.to_owned(),
                    answering: s(self.answering),
                    staff: s(self.staff),
                    from: s(self.from),
                },
            },
            Kind::Outbound => EventLine::Outbound {
                id: self.id.to_owned(),
                request: crate::engine::event::OutboundRequest {
                    client: self.client.to_owned(),
                    from_account: self.from_account.unwrap_or_default().to_owned(),
                    text: self.text.unwrap_or_default().to_owned(),
                },
            },
        }
    }
}

/// Appends `s` as a JSON string, quotes included.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
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

fn quoted(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 2);
    push_json_str(&mut v, s);
    v
}

/// Every id and text a decision line names, escaped once per run.
pub struct Names {
    locations: Vec<Vec<u8>>,
    staff: Vec<Vec<u8>>,
    inbound_rules: Vec<Vec<u8>>,
    outbound_rules: Vec<Vec<u8>>,
    ghost_texts: Vec<Vec<u8>>,
    text_rules: Vec<Vec<u8>>,
}

impl Names {
    pub fn new(rules: &RuleSet, world: &World) -> Names {
        Names {
            locations: world.locations.iter().map(|l| quoted(&l.id)).collect(),
            staff: world.staff.iter().map(|s| quoted(&s.id)).collect(),
            inbound_rules: rules.inbound.rules.rules.iter().map(|r| quoted(&r.id)).collect(),
            outbound_rules: rules.outbound.rules.rules.iter().map(|r| quoted(&r.id)).collect(),
            ghost_texts: rules
                .outbound
                .rules
                .rules
                .iter()
                .map(|r| quoted(&r.outcome.ghost_text))
                .collect(),
            text_rules: rules.outbound.text.rules.iter().map(|r| quoted(&r.id)).collect(),
        }
    }

    /// `{"id":..,"type":"inbound","lands_at":[..],"delivered_to":[..],"rule":..}`
    pub fn write_inbound(&self, out: &mut Vec<u8>, id_json: &[u8], d: &InboundDecision) {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(id_json);
        out.extend_from_slice(b",\"type\":\"inbound\",\"lands_at\":[");
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
        out.extend_from_slice(b"}\n");
    }

    /// `{"id":..,"type":"outbound","channel":..,"ghost_text":..,"text":..,"rule":..,"text_rule":..}`
    pub fn write_outbound(&self, out: &mut Vec<u8>, id_json: &[u8], d: &OutboundDecision) {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(id_json);
        out.extend_from_slice(b",\"type\":\"outbound\",\"channel\":\"");
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
        out.extend_from_slice(b"}\n");
    }
}

/// `{"id":..,"type":"error","line":N,"error":..}`; `id_json` is `null` when
/// the line has no readable id.
pub fn write_error(out: &mut Vec<u8>, id_json: &[u8], line: u64, message: &str) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(id_json);
    let _ = write!(out, ",\"type\":\"error\",\"line\":{line},\"error\":");
    push_json_str(out, message);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `EventLine` makes of a line, for comparison.
    fn slow(line: &str) -> Option<EventLine> {
        serde_json::from_str(line).ok()
    }

    #[test]
    fn the_scanner_agrees_with_event_line_whenever_it_answers() {
        let lines = [
            r#"{"id":"e1","type":"inbound","client":"cleo","answering":"confirmation@A"}"#,
            r#"{"id":"e2","type":"inbound","client":"cleo","staff":"sam","from":"A"}"#,
            r#"{"id":"e3","type":"inbound","client":"nina"}"#,
            r#"{"id":"e4","type":"outbound","client":"gwen","from_account":"glow-uptown","text":"See you at 3pm!"}"#,
            r#"  { "type" : "outbound" , "id":"e5", "from_account":"a","client":"c" }  "#,
            r#"{"id":"e6","type":"outbound","client":"gwen","from_account":"g","text":"caf\u00e9"}"#,
            r#"{"id":"e7","type":"outbound","client":"gwen","from_account":"g","text":"café ☕"}"#,
            r#"{"id":"e8","type":"inbound","client":"cleo","answering":null}"#,
            r#"{"id":"e9","type":"inbound","client":"cleo","extra":"ignored?"}"#,
            r#"{"id":"e10","type":"inbound","client":"cleo","client":"twice"}"#,
            r#"{"id":"e11","type":"Inbound","client":"cleo"}"#,
            r#"{"id":"e12","type":"inbound"}"#,
            r#"{"id":12,"type":"inbound","client":"cleo"}"#,
            r#"{"type":"inbound","client":"cleo"}"#,
            r#"{"id":"e13","type":"outbound","client":"gwen"}"#,
            r#"{"id":"e14","type":"inbound","client":"cleo","text":"hi"}"#,
            r#"{"id":"e15","type":"outbound","client":"gwen","from_account":"g","staff":"sam"}"#,
            r#"{"id":"e16","type":"inbound","client":"cleo"} trailing"#,
            r#"{"id":"e17","type":"inbound","client":"cleo",}"#,
            r#"{"id":"e18","type":"inbound","client":"cleo""#,
            r#"["e19"]"#,
            "",
            "{}",
            r#"{"id":"e20","type":"inbound","client":"cl	eo"}"#,
            "{\"id\":\"e21\",\"type\":\"inbound\",\"client\":\"cleo\"}\r",
        ];
        let mut scanned = 0;
        for line in lines {
            if let Some(fast) = scan_event(line.as_bytes()) {
                scanned += 1;
                assert_eq!(Some(fast.to_event_line()), slow(line), "{line}");
            }
        }
        // The common shapes must take the fast path.
        assert!(scanned >= 6, "{scanned}");
        for line in &lines[..5] {
            assert!(scan_event(line.as_bytes()).is_some(), "{line}");
        }
    }

    #[test]
    fn invalid_utf8_is_left_to_serde() {
        let mut line = br#"{"id":"e1","type":"inbound","client":"#.to_vec();
        line.extend_from_slice(b"\"\xff\"}");
        assert!(scan_event(&line).is_none());
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
