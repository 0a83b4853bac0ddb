//! `commroute conversations` and `commroute conversation`: read the
//! conversation store that `simulate` wrote.

use std::path::{Path, PathBuf};

use crate::replay::store::{list_summary, unknown_client_hint, unknown_location_hint, Store, IN_STORE};
use anyhow::anyhow;

use super::output::{fields, json_line, shown_owned, Grid};
use super::simulate::DEFAULT_DB;
use super::{out, out_exact, CliResult, Exit, Format, FormatChoice, Layout};

#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// The conversation store written by `commroute simulate`
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB)]
    db: PathBuf,
    /// The location whose conversations to list
    #[arg(long, value_name = "ID")]
    location: String,
    /// Show what the store's screen shows: the 10 most recent
    #[arg(long)]
    in_store: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Debug, clap::Args)]
pub(crate) struct OneArgs {
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB)]
    db: PathBuf,
    /// The client whose conversation to show
    #[arg(long, value_name = "ID")]
    client: String,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn open(db: &Path) -> anyhow::Result<Store> {
    if !db.exists() {
        return Err(anyhow!(
            "no database at `{}`; replay a timeline into it first with `commroute simulate TIMELINE --db {}`",
            db.display(),
            db.display()
        ));
    }
    // Read-only: the reading commands never write, not even an index.
    Ok(Store::open_read_only(db)?)
}

pub(crate) fn list(a: ListArgs) -> CliResult {
    let store = open(&a.db)?;
    let all = store
        .conversations_at(&a.location, None)
        .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?;
    if all.is_empty() {
        // Not "0 conversations": the store knows no such location (a typo,
        // or another store), and saying nothing would hide it.
        let known = store
            .locations()
            .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?;
        let hint = unknown_location_hint(&a.location, &known);
        return Err(anyhow!(
            "no conversation in `{}` concerns location `{}`{hint}",
            a.db.display(),
            a.location
        )
        .into());
    }
    let total = all.len();
    let listed = if a.in_store {
        &all[..total.min(IN_STORE)]
    } else {
        &all[..]
    };
    match a.format.layout() {
        None => {
            let mut text = String::new();
            for c in listed {
                text.push_str(&json_line("conversation", c));
            }
            text.push_str(&json_line(
                "summary",
                &serde_json::json!({"location": a.location, "shown": listed.len(), "total": total}),
            ));
            out_exact(&text)?;
        }
        Some(layout) => {
            let mut t =
                Grid::new(&["client", "last activity", "last message", "channel", "status", "unread"]).ids(&[0]);
            for c in listed {
                let arrow = if c.direction == "inbound" { "←" } else { "→" };
                t.add_row(vec![
                    shown_owned(&c.client),
                    shown_owned(&c.last_at),
                    format!("{arrow} {}", shown_owned(&c.last_message)),
                    shown_owned(&c.channel),
                    shown_owned(&c.status),
                    c.unread.to_string(),
                ]);
            }
            let mut text = if listed.is_empty() {
                String::new()
            } else {
                t.render(layout)
            };
            text.push_str(&list_summary(
                listed.len(),
                total,
                &shown_owned(&a.location),
                a.in_store,
            ));
            text.push('\n');
            out(&text)?;
        }
    }
    Ok(Exit::Ok)
}

pub(crate) fn one(a: OneArgs) -> CliResult {
    let store = open(&a.db)?;
    let Some(c) = store
        .conversation(&a.client)
        .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?
    else {
        let known = store
            .clients()
            .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?;
        let hint = unknown_client_hint(&a.client, &known);
        return Err(anyhow!(
            "client `{}` has no conversation in `{}`{hint}",
            a.client,
            a.db.display()
        )
        .into());
    };
    match a.format.layout() {
        None => out_exact(&json_line("conversation", &c))?,
        Some(layout) => {
            let started = c.started_words(shown_owned);
            let unread = c
                .unread
                .iter()
                .map(|(l, n)| format!("{}: {n}", shown_owned(l)))
                .collect::<Vec<_>>()
                .join(", ");
            let list = |ids: &[String]| ids.iter().map(|i| shown_owned(i)).collect::<Vec<_>>().join(", ");
            let mut text = fields(
                &[
                    ("client", shown_owned(&c.client)),
                    ("started by", started),
                    ("unread", unread),
                ],
                layout,
            );
            let mut t = Grid::new(&["time", "", "channel", "from", "text", "where", "status"]).ids(&[3]);
            for m in &c.messages {
                let inbound = m.direction == "inbound";
                // Data is shown escaped; the line breaks inside a cell are ours.
                let mut text = shown_owned(&m.text);
                for p in &m.attachments {
                    text.push_str(&format!("\n[photo {}]", shown_owned(p)));
                }
                for a in m.attempts.iter().skip(1).filter(|a| a.text != m.text) {
                    text.push_str(&format!("\n[by {}: {}]", shown_owned(&a.channel), shown_owned(&a.text)));
                }
                let place = if inbound {
                    let mut s = format!("landed at {}", list(&m.locations));
                    if !m.live_to.is_empty() {
                        s.push_str(&format!("\nlive: {}", list(&m.live_to)));
                    }
                    s
                } else {
                    format!("sent from {}", list(&m.locations))
                };
                let mut status = shown_owned(&m.status);
                if m.attempts.len() > 1 {
                    status = m
                        .attempts
                        .iter()
                        .map(|x| format!("{} {}", shown_owned(&x.channel), shown_owned(&x.status)))
                        .collect::<Vec<_>>()
                        .join(" → ");
                }
                t.add_row(vec![
                    shown_owned(&m.at),
                    if inbound { "←" } else { "→" }.into(),
                    shown_owned(&m.channel),
                    shown_owned(&m.sender),
                    text,
                    place,
                    status,
                ]);
                for n in &m.notices {
                    let cue = n.cue_words(shown_owned);
                    t.add_row(vec![
                        shown_owned(&n.at),
                        "!".into(),
                        String::new(),
                        String::new(),
                        shown_owned(&n.text),
                        cue,
                        String::new(),
                    ]);
                }
            }
            if layout != Layout::Table {
                text.push('\n');
            }
            text.push_str(&t.render(layout));
            out(&text)?;
        }
    }
    Ok(Exit::Ok)
}
