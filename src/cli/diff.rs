//! `commroute diff`: every input whose outcome a rules change alters.

use std::path::PathBuf;

use crate::authoring::impact::{self, Impact};
use crate::scenario::{self, DefaultDir, Suite};
use crate::{RuleSet, World};
use anyhow::Context;

use super::output::{json_line, shown_owned, table};
use super::progress::{self, Bar};
use super::{out, out_exact, CliResult, Exit, Format};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The rules before the change: a directory, or a git revision (its `rules/` is read through git)
    #[arg(long, value_name = "REV_OR_DIR")]
    base: String,
    /// The rules after the change [default: rules]
    #[arg(long, value_name = "DIR", default_value = "rules")]
    head: PathBuf,
    /// Recorded events, JSON Lines (the format `route` takes); needs --world
    #[arg(long, value_name = "FILE", requires = "world")]
    events: Option<PathBuf>,
    /// The world the recorded events refer to
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// Scenario files or directories to compare on [default: scenarios, if present]
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// Exit 1 when any outcome changed
    #[arg(long)]
    deny_changes: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(args: Args) -> CliResult {
    let base = impact::load_base(&args.base, &args.head)?;
    let head = RuleSet::load_dir(&args.head)?;
    let paths = scenario::paths_or_default(&args.scenarios, DefaultDir::IfPresent);
    let suite = Suite::load(&paths, None)?;
    let world = match &args.world {
        Some(w) => Some(World::load(w)?),
        None => None,
    };
    // Recorded events are read (a bar in bytes), then compared (in events).
    let bar = match &args.events {
        Some(e) => Bar::start("diff", "events", progress::size_of(e)),
        None => Bar::start_hidden(),
    };
    let events = match (&args.events, &world) {
        (Some(e), Some(w)) => Some(impact::read_recorded_events_with(e, w, bar.progress())?),
        _ => None,
    };
    if !suite.broken.is_empty() {
        return Err(suite.broken.sorted().into());
    }
    let recorded = match (&world, &events) {
        (Some(w), Some(e)) => Some((w, e.as_slice())),
        _ => None,
    };
    if let Some(e) = &events {
        bar.progress().begin_items(e.len() as u64);
    }
    let result = impact::compare_with(&base, &head, &suite.files, recorded, bar.progress());
    bar.finish();
    let text = render(&result, args.format);
    match args.format {
        Format::Json => out_exact(&text),
        Format::Table => out(&text),
    }
    .context("writing the report")?;
    Ok(if args.deny_changes && !result.is_unchanged() {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

fn render(i: &Impact, format: Format) -> String {
    let mut text = String::new();
    let summary = format!(
        "{}; compared {} classes, {} scenario cases, {} recorded events ({} changed)",
        if i.is_unchanged() {
            "no changes".to_string()
        } else {
            format!("{} changes", i.changes.len())
        },
        i.classes,
        i.cases,
        i.events,
        i.events_changed
    );
    match format {
        Format::Json => {
            for c in &i.changes {
                text.push_str(&json_line("change", c));
            }
            text.push_str(&json_line(
                "summary",
                &serde_json::json!({
                    "changes": i.changes.len(), "classes": i.classes, "cases": i.cases,
                    "events": i.events, "events_changed": i.events_changed,
                }),
            ));
        }
        Format::Table => {
            if !i.changes.is_empty() {
                let mut t = table(&["input", "old outcome", "new outcome", "old rule", "new rule", "events"]);
                for c in &i.changes {
                    let input = if c.example.is_empty() {
                        format!("{} {}: {}", c.policy, c.kind, shown_owned(&c.input))
                    } else {
                        format!(
                            "{} {}: {} (e.g. {})",
                            c.policy,
                            c.kind,
                            shown_owned(&c.input),
                            shown_owned(&c.example)
                        )
                    };
                    t.add_row(vec![
                        input,
                        shown_owned(&c.old_outcome),
                        shown_owned(&c.new_outcome),
                        shown_owned(&c.old_rule),
                        shown_owned(&c.new_rule),
                        c.events.map(|n| n.to_string()).unwrap_or_default(),
                    ]);
                }
                text.push_str(&format!("{t}\n"));
            }
            text.push_str(&summary);
            text.push('\n');
        }
    }
    text
}
