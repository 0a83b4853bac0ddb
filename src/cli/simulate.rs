//! `commroute simulate`: replay a timeline into the conversation store and
//! print what each event did, batch by batch, after each commit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::replay::pipeline::{replay_timeline, OpenTimeline, ReplayOptions, TimelineEvents};
use crate::replay::simulate::{Batching, EventReport, ReplaySummary, SimError};
use crate::replay::store::Store;
use anyhow::Context;

use super::output::{json_controls_escaped, json_line, shown_owned};
use super::progress::{self, Bar};
use super::{err, CliResult, Exit, Failure, Format, RulesArg};

/// The database `simulate` and the reading commands use when `--db` is not given.
pub const DEFAULT_DB: &str = "commroute.db";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The timeline: YAML (`.yaml`, `.yml`) or JSON Lines (`.jsonl`, `.ndjson`)
    #[arg(value_name = "TIMELINE")]
    timeline: PathBuf,
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

/// The last line of the output: the replay's totals.
fn summary_text(format: Format, summary: &ReplaySummary, rules: String, db: &Path) -> String {
    match format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct SummaryLine<'a> {
                #[serde(flatten)]
                summary: &'a ReplaySummary,
                rules: String,
            }
            json_line("summary", &SummaryLine { summary, rules })
        }
        Format::Table => format!(
            "{} events: {} applied, {} already recorded; saved in {}\n",
            summary.events,
            summary.applied,
            summary.already_recorded,
            shown_owned(&db.display().to_string())
        ),
    }
}

/// Writes one committed batch's reports: the table's header first, then a
/// row (or a JSON line) per event.
fn write_rows(outw: &mut impl Write, header: &mut bool, format: Format, batch: &[EventReport]) -> std::io::Result<()> {
    if std::mem::take(header) {
        writeln!(
            outw,
            "{:<20}  {:<10}  {:<49}  {:<7}  {:<9}  {:<16}  notices",
            "time", "event", "what", "channel", "where", "received live by"
        )?;
    }
    for r in batch {
        match format {
            Format::Json => {
                // `{"type":"event",` then the report's own fields: the
                // same line `json_line` gives, without building a map.
                let body = json_controls_escaped(serde_json::to_string(r).expect("reports serialise"));
                outw.write_all(b"{\"type\":\"event\",")?;
                outw.write_all(&body.as_bytes()[1..])?;
                outw.write_all(b"\n")?;
            }
            Format::Table => outw.write_all(crate::text::guarded(&row(r)).as_bytes())?,
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
    let format = args.format;
    let ui = super::ui::get();
    let quiet = ui.quiet;
    let mut header = format == Format::Table && !quiet;
    let t0 = Instant::now();
    // The bar counts bytes of a streamed timeline, events of one read whole.
    let bar = Bar::start("replaying", "events", progress::size_of(&args.timeline));
    let timeline = OpenTimeline::open(&args.timeline)?;
    if let TimelineEvents::Loaded(events) = &timeline.events {
        bar.progress().begin_items(events.len() as u64);
    }
    let mut print = |batch: &[EventReport]| -> std::io::Result<()> {
        if quiet {
            return Ok(());
        }
        // Rows for a terminal take the bar off it while they are written.
        if ui.out_terminal {
            bar.suspend(|| write_rows(&mut outw, &mut header, format, batch))
        } else {
            write_rows(&mut outw, &mut header, format, batch)
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
            let text = summary_text(format, &s, from.json(), &args.db);
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
