//! Tables and JSON lines for people and programs.
//!
//! Every value of data put into a table or a sentence goes through [`shown`]
//! first (control and bidi characters escaped, newlines included), so it
//! cannot reach the terminal as a control sequence or fake a row; JSON is
//! exact, with DEL and C1 controls written as `\u00XX` escapes.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

/// A table with a header row, sized to the terminal when there is one.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if let Some(w) = super::ui::get().width {
        t.set_width(w);
    }
    t
}

/// A two-column table of labelled values.
pub(crate) fn fields(rows: &[(&str, String)]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = super::ui::get().width {
        t.set_width(w);
    }
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v.clone()]);
    }
    format!("{t}\n")
}

/// One value of data as a table cell or part of a sentence shows it.
pub(crate) fn shown_owned(s: &str) -> String {
    crate::text::shown(s).into_owned()
}

/// One JSON document on one line, with a `type` field first and the
/// `version` of the output ([`super::JSON_VERSION`]) second.
pub(crate) fn json_line(kind: &str, value: &impl serde::Serialize) -> String {
    let mut v = serde_json::to_value(value).expect("reports serialise");
    if let serde_json::Value::Object(map) = &mut v {
        let mut with_type = serde_json::Map::new();
        with_type.insert("type".into(), kind.into());
        with_type.insert("version".into(), super::JSON_VERSION.into());
        with_type.extend(std::mem::take(map));
        *map = with_type;
    }
    json_controls_escaped(format!("{v}\n"))
}

/// JSON text with DEL and the C1 controls (U+007F–U+009F), which
/// `serde_json` writes raw, written as `\u00XX` escapes: the same JSON value,
/// without characters a terminal may act on. They can only occur inside
/// strings, where the escape is valid.
pub(crate) fn json_controls_escaped(json: String) -> String {
    // DEL is 0x7F; U+0080–U+009F are 0xC2 0x80–0x9F in UTF-8.
    if !json.bytes().any(|b| b == 0x7f || b == 0xc2) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// One CSV record (RFC 4180: fields with commas, quotes or newlines are quoted).
pub(crate) fn csv_line(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                (*f).to_owned()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}
