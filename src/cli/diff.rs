//! `commroute diff`: every input whose outcome a rules change alters.

use std::path::PathBuf;

use crate::authoring::impact::{self, Impact};
use crate::scenario::{self, DefaultDir};
use crate::RuleSet;
use anyhow::Context;

use super::output::{count, json_line, shown_owned, Grid};
use super::progress::{self, Bar};
use super::{out, out_exact, CliResult, Exit, FormatChoice, Layout, ReportFormat};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The rules before the change: a directory, or a git revision (its `rules/` is read through git)
    #[arg(long, value_name = "REV_OR_DIR")]
    base: String,
    /// The rules after the change
    #[arg(long, value_name = "DIR", default_value = "rules")]
    head: PathBuf,
    /// Recorded events, JSON Lines (the format `route` takes; `-` for stdin); needs --world
    #[arg(long, value_name = "FILE", requires = "world")]
    events: Option<PathBuf>,
    /// The world the recorded events refer to (`-` for stdin)
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// Scenario files or directories to compare on (`-`: one scenario file read from stdin) [default: scenarios, if present]
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// Exit 1 when any outcome changed
    #[arg(long)]
    deny_changes: bool,
    /// Also show each changed class's example input (a witness, with its ids) and who receives it live before and after
    #[arg(long)]
    witness: bool,
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
}

pub(crate) fn run(args: Args) -> CliResult {
    let base = impact::load_base(&args.base, &args.head)?;
    let head = RuleSet::load_dir(&args.head)?;
    let paths = scenario::paths_or_default(&args.scenarios, DefaultDir::IfPresent);
    let suite = super::stdin::suite(&paths, None)?;
    let world = match &args.world {
        Some(w) => Some(super::stdin::world(w)?),
        None => None,
    };
    // Recorded events are read (a bar in bytes), then compared (in events).
    let bar = match &args.events {
        Some(e) => Bar::start("diff", "events", progress::size_of(e)),
        None => Bar::start_hidden(),
    };
    let events = match (&args.events, &world) {
        (Some(e), Some(w)) => Some(super::stdin::recorded_events(e, w, bar.progress())?),
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
    let text = match args.format.layout() {
        None => json(&result),
        Some(layout) => human(&result, layout, args.witness),
    };
    match args.format.layout() {
        None => out_exact(&text),
        Some(_) => out(&text),
    }
    .context("writing the report")?;
    Ok(if args.deny_changes && !result.is_unchanged() {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// One JSON line per change, then the summary.
fn json(i: &Impact) -> String {
    let mut text = String::new();
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
    text
}

/// `old → new`, or the value alone when it did not change.
fn old_new(old: &str, new: &str) -> String {
    if old == new {
        format!("{} (unchanged)", shown_owned(old))
    } else {
        format!("{} → {}", shown_owned(old), shown_owned(new))
    }
}

/// One row per change: what changed, its outcome and deciding rule before
/// and after, then the summary. The example input of a class only with
/// `--witness`; the recorded events of a class only with `--events`.
fn human(i: &Impact, layout: Layout, witness: bool) -> String {
    let mut t = Grid::new(&[
        "policy",
        "input",
        "outcome",
        "deciding rule",
        "events",
        "example",
        "received live by",
    ])
    .ids(&[3]);
    for c in &i.changes {
        let mut outcome = old_new(&c.old_outcome, &c.new_outcome);
        if c.old_live.is_some() && !witness {
            outcome.push_str("; who receives it live changes too");
        }
        let live = match (&c.old_live, &c.new_live) {
            (Some(old), Some(new)) if witness => old_new(old, new),
            _ => String::new(),
        };
        t.add_row(vec![
            c.policy.to_owned(),
            shown_owned(&c.input),
            outcome,
            old_new(&c.old_rule, &c.new_rule),
            match (c.events, c.events_of_class) {
                (Some(n), Some(all)) if n != all => format!("{n} of {all}"),
                (Some(n), _) => n.to_string(),
                _ => String::new(),
            },
            if witness {
                shown_owned(&c.example)
            } else {
                String::new()
            },
            live,
        ]);
    }
    let mut text = String::new();
    if layout == Layout::Markdown {
        text.push_str(&format!("## Impact of the rules change\n\n{}\n\n", sentence(i)));
        if !t.is_empty() {
            text.push_str(&t.render(layout));
            text.push('\n');
        }
        text.push_str(&format!(
            "Compared {}, {} and {}.\n",
            count(i.classes, "class of input", "classes of input"),
            count(i.cases, "scenario case", "scenario cases"),
            count(i.events, "recorded event", "recorded events"),
        ));
        return text;
    }
    if !t.is_empty() {
        text.push_str(&t.render(layout));
    }
    text.push_str(&format!(
        "{}; compared {} classes, {} scenario cases, {} recorded events ({} changed)\n",
        if i.is_unchanged() {
            "no changes".to_string()
        } else {
            format!("{} changes", i.changes.len())
        },
        i.classes,
        i.cases,
        i.events,
        i.events_changed
    ));
    text
}

/// The change in one sentence: "This change moves where 3 kinds of
/// conversation land."
fn sentence(i: &Impact) -> String {
    let classes = |policy: &str, moved: bool| {
        i.changes
            .iter()
            .filter(|c| c.kind == "class" && c.policy == policy && (c.old_outcome != c.new_outcome) == moved)
            .count()
    };
    let kinds = |n: usize, what: &str| {
        if n == 1 {
            format!("1 kind of {what}")
        } else {
            format!("{n} kinds of {what}")
        }
    };
    let mut parts = Vec::new();
    match classes("inbound", true) {
        0 => {}
        1 => parts.push("moves where 1 kind of conversation lands".to_owned()),
        n => parts.push(format!("moves where {n} kinds of conversation land")),
    }
    let n = classes("inbound", false);
    if n > 0 {
        parts.push(format!("changes which rule decides {}", kinds(n, "conversation")));
    }
    let n = classes("outbound", true);
    if n > 0 {
        parts.push(format!("changes the channel or text of {}", kinds(n, "staff message")));
    }
    let n = classes("outbound", false);
    if n > 0 {
        parts.push(format!("changes which rule decides {}", kinds(n, "staff message")));
    }
    let cases = i.changes.iter().filter(|c| c.kind == "case").count();
    if cases > 0 {
        parts.push(format!(
            "changes the result of {}",
            count(cases, "scenario case", "scenario cases")
        ));
    }
    if i.events_changed > 0 {
        parts.push(format!(
            "changes the outcome of {} of {} recorded events",
            i.events_changed, i.events
        ));
    }
    match parts.len() {
        0 => "This change moves nothing: no class of input, scenario case or recorded event is decided differently."
            .to_owned(),
        1 => format!("This change {}.", parts[0]),
        n => format!("This change {} and {}.", parts[..n - 1].join(", "), parts[n - 1]),
    }
}
