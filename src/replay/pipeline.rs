//! The replay pipeline: a timeline file opened, its events streamed through
//! the [`Simulator`] into the conversation store, batch by batch.
//!
//! This is the path `commroute simulate` runs and timeline scenarios run,
//! so both replay the same way. A YAML timeline is loaded whole; a JSON
//! Lines timeline is read and checked on a second thread, a bounded number
//! of chunks ahead of the replay, so memory stays flat however long it is.
//! What each event does is decided in [`crate::replay::simulate`]; how the
//! reports are shown is up to the caller. Nothing here prints.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::diag::Diagnostics;
use crate::progress::Progress;
use crate::replay::simulate::{self, Batching, EventReport, ReplaySummary, SimError, Simulator};
use crate::replay::store::Store;
use crate::replay::timeline::{Event, JsonlTimeline, YamlTimeline};
use crate::rules::RuleSet;
use crate::world::World;

/// How many events the reading thread sends at once.
const CHUNK: usize = 1024;

/// How many chunks the reading thread may be ahead of the replay.
const CHUNKS_AHEAD: usize = 4;

/// What a JSON Lines timeline is read from: a file, or standard input.
pub type TimelineReader = Box<dyn BufRead + Send>;

/// The two formats of a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineFormat {
    /// A YAML document with `world` and `events`, read whole.
    Yaml,
    /// A world line, then one JSON event per line, streamed.
    Jsonl,
}

impl TimelineFormat {
    /// The format a file's extension says: JSON Lines for `.jsonl` and
    /// `.ndjson`, YAML for anything else.
    pub fn of_path(path: &Path) -> TimelineFormat {
        if is_jsonl(path) {
            TimelineFormat::Jsonl
        } else {
            TimelineFormat::Yaml
        }
    }

    /// The format a stream's first bytes say, when it has no name to go
    /// by: JSON Lines when its first character other than white space is `{`
    /// (the world line), else YAML.
    /// A YAML timeline written as one flow mapping (`{world: ...}`) needs
    /// its format given.
    pub fn sniff(head: &[u8]) -> TimelineFormat {
        let head = head.strip_prefix(crate::diag::BOM).unwrap_or(head);
        if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            TimelineFormat::Jsonl
        } else {
            TimelineFormat::Yaml
        }
    }
}

/// The events of a timeline, as they will be replayed.
pub enum TimelineEvents {
    /// A JSON Lines timeline, read line by line while it is replayed.
    Streamed(Box<JsonlTimeline<TimelineReader>>),
    /// Events read already: a YAML timeline, or a timeline scenario's `events`.
    Loaded(Vec<Event>),
}

/// A timeline ready to replay: the world at its start and its events.
pub struct OpenTimeline {
    /// The timeline file, for messages about its events and for photo paths.
    pub path: PathBuf,
    /// The world when the timeline starts.
    pub world: World,
    /// Its events, in order.
    pub events: TimelineEvents,
}

impl OpenTimeline {
    /// Opens a timeline file: JSON Lines (`.jsonl`, `.ndjson`) is streamed,
    /// anything else is read as YAML, whole.
    pub fn open(path: &Path) -> Result<OpenTimeline, Diagnostics> {
        OpenTimeline::open_as(path, TimelineFormat::of_path(path))
    }

    /// Opens a timeline file in the format given, whatever its extension.
    pub fn open_as(path: &Path, format: TimelineFormat) -> Result<OpenTimeline, Diagnostics> {
        match format {
            TimelineFormat::Jsonl => {
                let (file, _) = crate::diag::Source::open(path)?;
                OpenTimeline::read(path, Box::new(BufReader::with_capacity(1 << 16, file)), format)
            }
            TimelineFormat::Yaml => OpenTimeline::yaml(path, YamlTimeline::load(path)?),
        }
    }

    /// A timeline read from a stream (standard input, say), named `name`
    /// in messages. World files and photos it names are relative to the
    /// folder of `name` (the working directory for `<stdin>`).
    pub fn read(name: &Path, mut reader: TimelineReader, format: TimelineFormat) -> Result<OpenTimeline, Diagnostics> {
        match format {
            TimelineFormat::Jsonl => {
                let tl = JsonlTimeline::new(name, reader)?;
                Ok(OpenTimeline {
                    path: name.to_path_buf(),
                    world: tl.world.clone(),
                    events: TimelineEvents::Streamed(Box::new(tl)),
                })
            }
            TimelineFormat::Yaml => {
                let source = crate::diag::Source::from_reader(name, &mut reader)?;
                OpenTimeline::yaml(name, YamlTimeline::parse(source)?)
            }
        }
    }

    fn yaml(path: &Path, tl: YamlTimeline) -> Result<OpenTimeline, Diagnostics> {
        Ok(OpenTimeline {
            path: path.to_path_buf(),
            world: tl.world,
            events: TimelineEvents::Loaded(tl.events),
        })
    }

    /// Events read already, such as a timeline scenario's, starting from `world`.
    pub fn loaded(path: &Path, world: World, events: Vec<Event>) -> OpenTimeline {
        OpenTimeline {
            path: path.to_path_buf(),
            world,
            events: TimelineEvents::Loaded(events),
        }
    }
}

/// Whether a timeline file is JSON Lines, by its extension.
fn is_jsonl(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "jsonl" || e == "ndjson")
}

/// How a replay runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayOptions {
    /// When to commit.
    pub batching: Batching,
    /// Leave out each report's description of its event (its id, time and
    /// what happened), when nobody reads them (`simulate --quiet`).
    pub quiet: bool,
    /// Keep every decision the rules make, explained (timeline scenarios
    /// use them for `coverage` and to say why a check failed).
    pub keep_decisions: bool,
}

/// What a replay left: the simulator, holding the world and the store as
/// the last commit left them, and how the replay ended.
pub struct Replayed<'r> {
    /// The world as the timeline left it, the store, and the kept decisions.
    pub simulator: Simulator<'r>,
    /// The totals, or why the replay stopped (after committing the events
    /// before the one that failed).
    pub result: Result<ReplaySummary, SimError>,
}

/// Replays a timeline into `store`, committing in batches; `on_commit`
/// receives each batch's reports right after its commit. The events applied
/// are added to `progress` (and for a streamed timeline the bytes read), a
/// few hundred at a time; setting a total is up to the caller.
///
/// The outer error means nothing was replayed: the store's conversations
/// could not be read.
pub fn replay_timeline<'r, F>(
    rules: &'r RuleSet,
    timeline: OpenTimeline,
    store: Store,
    options: ReplayOptions,
    on_commit: F,
    progress: &Progress,
) -> Result<Replayed<'r>, SimError>
where
    F: FnMut(&[EventReport]) -> std::io::Result<()>,
{
    let mut simulator = Simulator::new(rules, timeline.world, store, timeline.path)?;
    simulator.describe = !options.quiet;
    if options.keep_decisions {
        simulator.decisions = Some(Vec::new());
    }
    let result = match timeline.events {
        TimelineEvents::Loaded(events) => simulate::replay_with(
            &mut simulator,
            events.into_iter().map(Ok),
            options.batching,
            on_commit,
            drop,
            progress,
        ),
        TimelineEvents::Streamed(tl) => replay_streamed(&mut simulator, *tl, options.batching, on_commit, progress),
    };
    Ok(Replayed { simulator, result })
}

/// Replays a JSON Lines timeline read on a second thread.
///
/// Reading and checking lines runs a bounded number of chunks ahead of the
/// replay, so memory stays flat. Applied events go back to the reading
/// thread to be freed there, where they were allocated (see
/// [`simulate::replay_with`]); it frees what came back before each chunk it
/// sends, so at most a few chunks wait.
fn replay_streamed<F>(
    sim: &mut Simulator,
    mut tl: JsonlTimeline<TimelineReader>,
    batching: Batching,
    on_commit: F,
    progress: &Progress,
) -> Result<ReplaySummary, SimError>
where
    F: FnMut(&[EventReport]) -> std::io::Result<()>,
{
    let (tx, rx) = mpsc::sync_channel::<Vec<_>>(CHUNKS_AHEAD);
    let (back_tx, back_rx) = mpsc::channel::<Vec<Event>>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut reported = 0;
            while let Some(e) = tl.next_event() {
                let stop = e.is_err();
                chunk.push(e);
                let full = chunk.len() == CHUNK || stop;
                if full {
                    let bytes = tl.bytes_read();
                    progress.add(bytes - reported, 0);
                    reported = bytes;
                    back_rx.try_iter().for_each(drop);
                    if tx
                        .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                        .is_err()
                        || stop
                    {
                        return;
                    }
                }
            }
            progress.add(tl.bytes_read() - reported, 0);
            let _ = tx.send(chunk);
        });
        let mut used = Vec::with_capacity(CHUNK);
        let done = |ev| {
            used.push(ev);
            if used.len() == CHUNK {
                let _ = back_tx.send(std::mem::replace(&mut used, Vec::with_capacity(CHUNK)));
            }
        };
        let result = simulate::replay_with(sim, rx.iter().flatten(), batching, on_commit, done, progress);
        drop(rx);
        let _ = reader.join();
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays `timeline` into a new database; its reports, totals and dump.
    fn replay_into(db: &Path, timeline: OpenTimeline) -> (Vec<EventReport>, ReplaySummary, String) {
        let streamed = matches!(timeline.events, TimelineEvents::Streamed(_));
        let rules = RuleSet::shipped();
        let mut reports = Vec::new();
        let options = ReplayOptions {
            batching: Batching {
                events: 5,
                ..Batching::default()
            },
            ..ReplayOptions::default()
        };
        let progress = Progress::new();
        let replayed = replay_timeline(
            &rules,
            timeline,
            Store::open(db).unwrap(),
            options,
            |b| {
                reports.extend_from_slice(b);
                Ok(())
            },
            &progress,
        )
        .unwrap();
        // Every event is counted, and a streamed file is read to its end.
        assert_eq!(progress.items(), reports.len() as u64);
        if streamed {
            let size = std::fs::metadata("examples/day.jsonl").unwrap().len();
            assert_eq!(progress.bytes(), size);
        }
        let summary = replayed.result.unwrap();
        (reports, summary, replayed.simulator.store.dump().unwrap())
    }

    /// A streamed timeline and the same events loaded whole leave the same
    /// store and give the same reports, in the same batches, and both count
    /// every event as progress (a streamed one every byte too).
    #[test]
    fn a_streamed_timeline_and_its_loaded_events_replay_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = Path::new("examples/day.jsonl");
        let streamed = replay_into(&dir.path().join("streamed.db"), OpenTimeline::open(path).unwrap());

        let mut tl = JsonlTimeline::open(path).unwrap();
        let mut events = Vec::new();
        while let Some(e) = tl.next_event() {
            events.push(e.unwrap());
        }
        let loaded = OpenTimeline::loaded(path, tl.world.clone(), events);
        let loaded = replay_into(&dir.path().join("loaded.db"), loaded);

        assert_eq!(streamed.1.events, 12);
        assert_eq!(streamed.1.batches, 3, "5 + 5 + 2 events");
        assert_eq!(streamed, loaded);
    }

    /// A line that cannot be read stops a streamed replay after the events
    /// before it are committed, and the reading thread ends.
    #[test]
    fn a_bad_line_stops_a_streamed_replay_after_committing_what_came_before() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string("examples/day.jsonl").unwrap();
        // The world line names the example's world by its full path.
        let world = Path::new("examples/glow-world.yaml").canonicalize().unwrap();
        let world_line = format!("{{\"type\":\"world\",\"path\":\"{}\"}}", world.display());
        let mut lines: Vec<&str> = text.lines().collect();
        lines[0] = &world_line;
        lines.insert(4, "{\"type\":\"no such type\"}");
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();

        let rules = RuleSet::shipped();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let mut reports = Vec::new();
        let replayed = replay_timeline(
            &rules,
            OpenTimeline::open(&path).unwrap(),
            store,
            ReplayOptions::default(),
            |b| {
                reports.extend_from_slice(b);
                Ok(())
            },
            &Progress::new(),
        )
        .unwrap();
        let Err(SimError::Input(d)) = replayed.result else {
            panic!("the bad line stops the replay")
        };
        assert_eq!(d.pos.line, 5, "{d}");
        assert_eq!(reports.len(), 3);
        assert_eq!(replayed.simulator.store.last_seq().unwrap(), 3);
    }
}
