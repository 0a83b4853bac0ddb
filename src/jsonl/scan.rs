//! The event parser: a line's text to an [`EventLine`].
//!
//! Nearly every event line has one shape: a flat object of known keys whose
//! values are plain strings. [`scan_event`] reads that shape without
//! allocating, borrowing the fields from the line. Anything else (escapes,
//! `null`, unknown or repeated keys, a syntax error) makes the scanner give
//! up, and the line goes through `serde_json` and [`EventLine`] as usual, so
//! the two accept exactly the same lines and report errors the same way.
//! [`parse_event`] puts the two together. Cutting input into lines is done
//! in `lines.rs`, before a line gets here.

use crate::engine::event::{InboundRequest, OutboundRequest};
use crate::jsonl::EventLine;

/// Whether an event is a client's or a staff member's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Inbound,
    Outbound,
}

/// An event line's fields, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScannedEvent<'a> {
    pub(crate) id: &'a str,
    pub(crate) direction: Direction,
    pub(crate) client: &'a str,
    pub(crate) answering: Option<&'a str>,
    pub(crate) staff: Option<&'a str>,
    pub(crate) from: Option<&'a str>,
    pub(crate) from_account: Option<&'a str>,
    pub(crate) text: Option<&'a str>,
}

/// Reads the common shape of an event line without allocating; `None` means
/// "not sure", and the caller parses the line with [`EventLine`] instead.
pub(crate) fn scan_event(line: &str) -> Option<ScannedEvent<'_>> {
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
    let direction = match ty? {
        "inbound" if from_account.is_none() && text.is_none() => Direction::Inbound,
        "outbound" if answering.is_none() && staff.is_none() && from.is_none() && from_account.is_some() => {
            Direction::Outbound
        }
        _ => return None,
    };
    Some(ScannedEvent {
        id: id?,
        direction,
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

impl ScannedEvent<'_> {
    /// The same event as [`EventLine`] gives (for tests and for callers that
    /// want owned values).
    pub(crate) fn to_event_line(self) -> EventLine {
        let s = |v: Option<&str>| v.map(str::to_owned);
        match self.direction {
            Direction::Inbound => EventLine::Inbound {
                id: self.id.to_owned(),
                request: InboundRequest {
                    client: self.client.to_owned(),
                    answering: s(self.answering),
                    staff: s(self.staff),
                    from: s(self.from),
                },
                facts: None,
            },
            Direction::Outbound => EventLine::Outbound {
                id: self.id.to_owned(),
                request: OutboundRequest {
                    client: self.client.to_owned(),
                    from_account: self.from_account.unwrap_or_default().to_owned(),
                    text: self.text.unwrap_or_default().to_owned(),
                },
                facts: None,
            },
        }
    }
}

/// An event line, parsed: borrowed from the line when the scanner could
/// read it, owned when it took `serde_json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParsedEvent<'a> {
    /// The common shape, read by [`scan_event`].
    Scanned(ScannedEvent<'a>),
    /// Anything else, read by `serde_json`.
    Owned(EventLine),
}

impl ParsedEvent<'_> {
    /// The event as an owned [`EventLine`].
    pub(crate) fn into_event_line(self) -> EventLine {
        match self {
            ParsedEvent::Scanned(ev) => ev.to_event_line(),
            ParsedEvent::Owned(ev) => ev,
        }
    }
}

/// Parses one event line's text: the scanner first, `serde_json` when the
/// scanner is not sure. The error is `serde_json`'s, with its column.
pub(crate) fn parse_event(text: &str) -> Result<ParsedEvent<'_>, serde_json::Error> {
    match scan_event(text) {
        Some(ev) => Ok(ParsedEvent::Scanned(ev)),
        None => serde_json::from_str(text).map(ParsedEvent::Owned),
    }
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
            if let Some(fast) = scan_event(line) {
                scanned += 1;
                assert_eq!(Some(fast.to_event_line()), slow(line), "{line}");
            }
        }
        // The common shapes must take the fast path.
        assert!(scanned >= 6, "{scanned}");
        for line in &lines[..5] {
            assert!(scan_event(line).is_some(), "{line}");
        }
    }
}
