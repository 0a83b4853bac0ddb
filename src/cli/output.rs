//! Tables and JSON lines for people and programs.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

/// A table with a header row, sized to the terminal when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<u16>().ok()) {
        t.set_width(w);
    }
    t
}

/// A two-column table of labelled values.
pub fn fields(rows: &[(&str, String)]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<u16>().ok()) {
        t.set_width(w);
    }
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v.clone()]);
    }
    format!("{t}\n")
}

/// One JSON document on one line, with a `type` field first.
pub fn json_line(kind: &str, value: &impl serde::Serialize) -> String {
    let mut v = serde_json::to_value(value).expect("reports serialise");
    if let serde_json::Value::Object(map) = &mut v {
        let mut with_type = serde_json::Map::new();
        with_type.insert("type".into(), kind.into());
        with_type.extend(std::mem::take(map));
        *map = with_type;
    }
    format!("{v}\n")
}

/// One CSV record (RFC 4180: fields with commas, quotes or newlines are quoted).
pub fn csv_line(fields: &[&str]) -> String {
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
