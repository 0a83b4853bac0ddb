//! `commroute usage`: SMS and MMS usage per month, by account or location.

use std::path::PathBuf;

use crate::replay::store::UsageBy;
use anyhow::anyhow;
use clap::ValueEnum;

use super::conversations::open;
use super::output::{json_line, markdown_cell, shown_owned, Grid};
use super::simulate::DEFAULT_DB;
use super::{out, out_exact, CliResult, Exit, FormatChoice, Layout, TableFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum By {
    #[default]
    Account,
    Location,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB)]
    db: PathBuf,
    /// Group by the billed account or location
    #[arg(long, value_enum, default_value_t)]
    by: By,
    /// Only this month
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: TableFormat,
}

/// Checks `--month`: `YYYY-MM`, a month that exists (jiff decides).
fn check_month(m: &str) -> Result<(), String> {
    let b = m.as_bytes();
    let shape =
        b.len() == 7 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[5..].iter().all(u8::is_ascii_digit);
    if !shape {
        return Err(format!("--month `{m}`: write a month as YYYY-MM, e.g. 2026-03"));
    }
    let (year, month) = (m[..4].parse().expect("digits"), m[5..].parse().expect("digits"));
    crate::replay::timeline::check_date(year, month, 1)
        .map_err(|e| format!("--month `{m}`: {e}; write a month as YYYY-MM, e.g. 2026-03"))
}

pub(crate) fn run(a: Args) -> CliResult {
    if let Some(m) = &a.month {
        check_month(m).map_err(|e| anyhow!(e))?;
    }
    let store = open(&a.db)?;
    let by = match a.by {
        By::Account => UsageBy::Account,
        By::Location => UsageBy::Location,
    };
    let key = match a.by {
        By::Account => "account",
        By::Location => "location",
    };
    let rows = store
        .usage(by, a.month.as_deref())
        .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?;
    let mut text = String::new();
    match a.format {
        TableFormat::Json => {
            for r in &rows {
                let mut v = serde_json::to_value(r).expect("rows serialise");
                if let Some(m) = v.as_object_mut() {
                    let k = m.remove("key").unwrap_or_default();
                    m.insert(key.into(), k);
                }
                text.push_str(&json_line("usage", &v));
            }
        }
        TableFormat::Csv => {
            text.push_str(&format!(
                "month,{key},sms_inbound,sms_outbound,sms_messages,sms_segments,mms_messages\n"
            ));
            for r in &rows {
                text.push_str(&format!(
                    "{},{},{},{},{},{},{}\n",
                    r.month,
                    csv_field(&r.key),
                    r.sms_inbound,
                    r.sms_outbound,
                    r.sms_messages,
                    r.segments,
                    r.mms_messages
                ));
            }
        }
        TableFormat::Auto | TableFormat::Table | TableFormat::Markdown => {
            let layout = a.format.layout().expect("a layout for people");
            let mut t = Grid::new(&[
                "month",
                key,
                "SMS in",
                "SMS out",
                "SMS messages",
                "SMS segments",
                "MMS messages",
            ])
            .ids(&[1]);
            for r in &rows {
                t.add_row(vec![
                    shown_owned(&r.month),
                    shown_owned(&r.key),
                    r.sms_inbound.to_string(),
                    r.sms_outbound.to_string(),
                    r.sms_messages.to_string(),
                    r.segments.to_string(),
                    r.mms_messages.to_string(),
                ]);
            }
            if layout == Layout::Markdown {
                text.push_str(&markdown_summary(&rows, key, a.month.as_deref()));
            }
            if rows.is_empty() {
                if layout != Layout::Markdown {
                    text.push_str("no SMS or MMS usage\n");
                }
            } else {
                text.push_str(&t.render(layout));
            }
        }
    }
    match a.format.layout() {
        Some(_) => out(&text)?,
        None => out_exact(&text)?,
    }
    Ok(Exit::Ok)
}

/// The heading and the sentence above the markdown table.
fn markdown_summary(rows: &[crate::replay::store::UsageRow], key: &str, month: Option<&str>) -> String {
    let months: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.month.as_str()).collect();
    let segments: i64 = rows.iter().map(|r| r.segments).sum();
    let mms: i64 = rows.iter().map(|r| r.mms_messages).sum();
    let when = match month {
        Some(m) => format!("In {}", markdown_cell(&shown_owned(m))),
        None if months.len() == 1 => "In 1 month".to_owned(),
        None => format!("Over {} months", months.len()),
    };
    let sentence = if rows.is_empty() {
        format!("{when}: no SMS or MMS usage.")
    } else {
        format!("{when}: {segments} SMS segments and {mms} MMS messages, by {key}.")
    };
    format!("## SMS and MMS usage\n\n{sentence}\n\n")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
