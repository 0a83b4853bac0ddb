//! `commroute conversations` and `commroute conversation`: read the
//! conversation store that `simulate` wrote.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use commroute::store::{Store, IN_STORE};

use super::output::{fields, json_line, table};
use super::simulate::DEFAULT_DB;
use super::{out, CliResult, Exit, Format};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
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
pub struct OneArgs {
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB)]
    db: PathBuf,
    /// The client whose conversation to show
    #[arg(long, value_name = "ID")]
    client: String,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn open(db: &Path) -> anyhow::Result<Store> {
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

pub fn list(a: ListArgs) -> CliResult {
    let store = open(&a.db)?;
    let all = store
        .conversations_at(&a.location, None)
        .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?;
    let total = all.len();
    let shown = if a.in_store {
        &all[..total.min(IN_STORE)]
    } else {
        &all[..]
    };
    match a.format {
        Format::Json => {
            let mut text = String::new();
            for c in shown {
                text.push_str(&json_line("conversation", c));
            }
            text.push_str(&json_line(
                "summary",
                &serde_json::json!({"location": a.location, "shown": shown.len(), "total": total}),
            ));
            out(&text)?;
        }
        Format::Table => {
            let mut t = table(&["client", "last activity", "last message", "channel", "status", "unread"]);
            for c in shown {
                let arrow = if c.direction == "inbound" { "←" } else { "→" };
                t.add_row(vec![
                    c.client.clone(),
                    c.last_at.clone(),
                    format!("{arrow} {}", c.last_message),
                    c.channel.clone(),
                    c.status.clone(),
                    c.unread.to_string(),
                ]);
            }
            let mut text = if shown.is_empty() {
                String::new()
            } else {
                format!("{t}\n")
            };
            let noun = if total == 1 { "conversation" } else { "conversations" };
            text.push_str(&if a.in_store {
                format!(
                    "{} of {total} {noun} at {} (the store's screen shows at most {IN_STORE})\n",
                    shown.len(),
                    a.location
                )
            } else {
                format!("{total} {noun} at {}\n", a.location)
            });
            out(&text)?;
        }
    }
    Ok(Exit::Ok)
}

pub fn one(a: OneArgs) -> CliResult {
    let store = open(&a.db)?;
    let Some(c) = store
        .conversation(&a.client)
        .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?
    else {
        let known = store
            .clients()
            .map_err(|e| anyhow::Error::from(e.while_reading(&a.db)))?;
        let hint = commroute::diag::did_you_mean(&a.client, known.iter().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(anyhow!(
            "client `{}` has no conversation in `{}`{hint}",
            a.client,
            a.db.display()
        )
        .into());
    };
    match a.format {
        Format::Json => out(&json_line("conversation", &c))?,
        Format::Table => {
            let started = match (&c.staff, &c.started_from) {
                (Some(s), Some(f)) => format!("staff: {s} from {f}"),
                _ if c.answering == "nothing" => "the client, out of the blue".into(),
                _ => format!("the client, answering a {}", c.answering),
            };
            let unread = c
                .unread
                .iter()
                .map(|(l, n)| format!("{l}: {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut text = fields(&[
                ("client", c.client.clone()),
                ("started by", started),
                ("unread", unread),
            ]);
            let mut t = table(&["time", "", "channel", "from", "text", "where", "status"]);
            for m in &c.messages {
                let inbound = m.direction == "inbound";
                let mut text = m.text.clone();
                for p in &m.attachments {
                    text.push_str(&format!("\n[photo {p}]"));
                }
                for a in m.attempts.iter().skip(1).filter(|a| a.text != m.text) {
                    text.push_str(&format!("\n[by {}: {}]", a.channel, a.text));
                }
                let place = if inbound {
                    let mut s = format!("landed at {}", m.locations.join(", "));
                    if !m.live_to.is_empty() {
                        s.push_str(&format!("\nlive: {}", m.live_to.join(", ")));
                    }
                    s
                } else {
                    format!("sent from {}", m.locations.join(", "))
                };
                let mut status = m.status.clone();
                if m.attempts.len() > 1 {
                    status = m
                        .attempts
                        .iter()
                        .map(|x| format!("{} {}", x.channel, x.status))
                        .collect::<Vec<_>>()
                        .join(" → ");
                }
                t.add_row(vec![
                    m.at.clone(),
                    if inbound { "←" } else { "→" }.into(),
                    m.channel.clone(),
                    m.sender.clone(),
                    text,
                    place,
                    status,
                ]);
                for n in &m.notices {
                    let cue = if n.audio_cue_to.is_empty() {
                        "nobody live to hear the audio cue".to_owned()
                    } else {
                        format!("audio cue for {}", n.audio_cue_to.join(", "))
                    };
                    t.add_row(vec![
                        n.at.clone(),
                        "!".into(),
                        String::new(),
                        String::new(),
                        n.text.clone(),
                        cue,
                        String::new(),
                    ]);
                }
            }
            text.push_str(&format!("{t}\n"));
            out(&text)?;
        }
    }
    Ok(Exit::Ok)
}
