//! `commroute simulate`: replay a timeline into the conversation store and
//! print what each event did, batch by batch, after each commit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::replay::pipeline::{replay_timeline, ReplayOptions, TimelineEvents, TimelineFormat};
use crate::replay::simulate::{Batching, EventReport, ReplaySummary, SimError};
use crate::replay::store::Store;
use anyhow::Context;

use super::output::{json_controls_escaped, json_line, shown_owned};
use super::progress::{self, Bar};
use super::{err, CliResult, Exit, Failure, Format, FormatChoice, RulesArg};

/// The database `simulate` and the reading commands use when `--db` is not given.
pub const DEFAULT_DB: &str = "commroute.db";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The timeline: YAML (`.yaml`, `.yml`) or JSON Lines (`.jsonl`, `.ndjson`); `-` for stdin
    #[arg(value_name = "TIMELINE")]
    timeline: PathBuf,
    /// The timeline's format [default: from the extension; for stdin, JSON Lines when it starts with `{`, else YAML]
    #[arg(long, value_enum, value_name = "FORMAT")]
    timeline_format: Option<TimelineFormatArg>,
    /// The conversation store (SQLite); created if missing, resumed if present
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB)]
    db: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Commit after this many events (or every 200 ms, whichever comes first)
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    batch: usize,
    #[command(flatten)]
    rules: RulesArg,
}

/// `--timeline-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TimelineFormatArg {
    /// A YAML document with `world` and `events`
    Yaml,
    /// A world line, then one JSON event per line
    Jsonl,
}

/// One line of the streamed table; values from the timeline are shown
/// escaped, so a message text cannot fake a line.
fn row(r: &EventReport) -> String {
    let mut what = String::new();
    let words = r.what.as_ref().map(ToString::to_string).unwrap_or_default();
    for c in words.chars() {
        if what.chars().count() + crate::text::shown_len(c) > 48 {
            what.push('…');
            break;
        }
        crate::text::push_shown(&mut what, c);
    }
    let list = |ids: &[String], sep: &str| ids.iter().map(|i| shown_owned(i)).collect::<Vec<_>>().join(sep);
    let mut notes = list(&r.notices, "; ");
    if !r.audio_cue.is_empty() {
        if !notes.is_empty() {
            notes.push_str("; ");
        }
        notes.push_str(&format!("audio cue for {}", list(&r.audio_cue, ", ")));
    }
    if r.already_recorded {
        notes = "already recorded, skipped".into();
    }
    format!(
        "{:<20}  {:<10}  {:<49}  {:<7}  {:<9}  {:<16}  {}\n",
        shown_owned(&r.at),
        shown_owned(&r.id),
        what,
        r.channel.unwrap_or(""),
        match &r.sent_from {
            Some(f) => format!("from {}", shown_owned(f)),
            None => list(&r.lands_at, ","),
        },
        list(&r.live, ","),
        notes
    )
    .trim_end()
    .to_owned()
        + "\n"
}

/// How each event's JSON line starts: its `type` and `version`, then the
/// report's own fields follow.
const EVENT_LINE_START: &str = concat!("{\"type\":\"event\",\"version\":\"", env!("CARGO_PKG_VERSION"), "\",");

/// The last line of the output: the replay's totals.
fn summary_text(json: bool, summary: &ReplaySummary, rules: String, db: &Path) -> String {
    if json {
        #[derive(serde::Serialize)]
        struct SummaryLine<'a> {
            #[serde(flatten)]
            summary: &'a ReplaySummary,
            rules: String,
        }
        json_line("summary", &SummaryLine { summary, rules })
    } else {
        format!(
            "{} events: {} applied, {} already recorded; saved in {}\n",
            summary.events,
            summary.applied,
            summary.already_recorded,
            shown_owned(&db.display().to_string())
        )
    }
}

/// Writes one committed batch's reports: the table's header first, then a
/// row (or a JSON line) per event.
fn write_rows(outw: &mut impl Write, header: &mut bool, json: bool, batch: &[EventReport]) -> std::io::Result<()> {
    if std::mem::take(header) {
        writeln!(
            outw,
            "{:<20}  {:<10}  {:<49}  {:<7}  {:<9}  {:<16}  notices",
            "time", "event", "what", "channel", "where", "received live by"
        )?;
    }
    for r in batch {
        if json {
            // `{"type":"event","version":...,` then the report's own
            // fields: the same line `json_line` gives, without building a map.
            let body = json_controls_escaped(serde_json::to_string(r).expect("reports serialise"));
            outw.write_all(EVENT_LINE_START.as_bytes())?;
            outw.write_all(&body.as_bytes()[1..])?;
            outw.write_all(b"\n")?;
        } else {
            outw.write_all(crate::text::guarded(&row(r)).as_bytes())?;
        }
    }
    outw.flush()
}

pub fn run(args: Args) -> CliResult {
    let (rules, from) = args.rules.load()?;
    // Claims the database for the whole run before anything is read from
    // it; every error names the file.
    let store = Store::open(&args.db).map_err(anyhow::Error::from)?;
    let batching = Batching {
        events: args.batch.max(1),
        ..Batching::default()
    };
    let mut outw = std::io::BufWriter::with_capacity(1 << 16, super::stdout());
    // The streamed lines are the same on a terminal and in a pipe: they are
    // printed batch by batch, before the widths of later rows are known.
    let json = args.format.layout().is_none();
    let ui = super::ui::get();
    let quiet = ui.quiet;
    let mut header = !json && !quiet;
    let t0 = Instant::now();
    let timeline_format = args.timeline_format.map(|f| match f {
        TimelineFormatArg::Yaml => TimelineFormat::Yaml,
        TimelineFormatArg::Jsonl => TimelineFormat::Jsonl,
    });
    // The bar counts bytes of a streamed timeline, events of one read whole.
    let bar = Bar::start("replaying", "events", progress::size_of(&args.timeline));
    let timeline = super::stdin::timeline(&args.timeline, timeline_format)?;
    if let TimelineEvents::Loaded(events) = &timeline.events {
        bar.progress().begin_items(events.len() as u64);
    }
    let mut print = |batch: &[EventReport]| -> std::io::Result<()> {
        if quiet {
            return Ok(());
        }
        // Rows for a terminal take the bar off it while they are written.
        if ui.out_terminal {
            bar.suspend(|| write_rows(&mut outw, &mut header, json, batch))
        } else {
            write_rows(&mut outw, &mut header, json, batch)
        }
    };
    let options = ReplayOptions {
        batching,
        quiet,
        keep_decisions: false,
    };
    let result = replay_timeline(&rules, timeline, store, options, &mut print, bar.progress())
        .map_err(anyhow::Error::from)?
        .result;
    bar.finish();
    let elapsed = t0.elapsed();
    match result {
        Ok(s) => {
            let text = summary_text(json, &s, from.json(), &args.db);
            outw.write_all(text.as_bytes()).context("writing the output")?;
            outw.flush().context("writing the output")?;
            err(&format!(
                "replayed {} events in {:.3} s ({:.0} events/s, {} commits)\n",
                s.events,
                elapsed.as_secs_f64(),
                s.events as f64 / elapsed.as_secs_f64().max(1e-9),
                s.batches
            ));
            Ok(Exit::Ok)
        }
        Err(SimError::Input(d)) => {
            outw.flush().ok();
            Err(Failure::Diagnostics((*d).into()))
        }
        Err(SimError::Output(e)) => Err(Failure::Other(anyhow::Error::from(e).context("writing the output"))),
        Err(SimError::Store(e)) => Err(Failure::Other(e.while_writing(&args.db).into())),
        Err(e) => Err(Failure::Other(anyhow::Error::from(e))),
    }
}
