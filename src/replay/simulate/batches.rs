//! Replaying events in batches: each batch one transaction, its reports
//! handed out after its commit, and a resumed run checking that every
//! position an earlier run recorded still holds the same event.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::diag::Diagnostic;
use crate::progress::{self, Progress};
use crate::replay::timeline::{Digest, Event};

use super::{EventReport, SimError, Simulator};

/// Totals of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReplaySummary {
    /// Events replayed.
    pub events: u64,
    /// Events applied and written by this run.
    pub applied: u64,
    /// Events an earlier run had written: applied to the world, not written again.
    pub already_recorded: u64,
    /// Commits.
    pub batches: u64,
}

/// What a resumed replay finds at a position an earlier run recorded.
enum AtPosition {
    /// This event, the same in every field: nothing to write.
    Same,
    /// No event: it is written.
    Free,
    /// Another event, or this one edited since: the error that says so.
    Differs(SimError),
}

/// Compares the event at a recorded position with what the store holds.
fn at_position(sim: &Simulator, seq: i64, ev: &Event) -> Result<AtPosition, SimError> {
    let help = || {
        Some(
            "replay a timeline into the database it was first replayed into, as it was then, or use a new `--db`"
                .into(),
        )
    };
    let recorded = match sim.store.recorded(&ev.id)? {
        Some(r) if r.seq == seq => r,
        // The usual case is one lookup by id; which event holds the
        // position instead is only looked for to say so.
        _ => {
            return Ok(match sim.store.event_at(seq)? {
                Some(id) => AtPosition::Differs(sim.input(
                    ev,
                    format!(
                        "the database holds event `{id}` at position {seq} of the timeline, this timeline has `{}`",
                        ev.id
                    ),
                    help(),
                )),
                None => AtPosition::Free,
            })
        }
    };
    let mut changed: Vec<String> = Vec::new();
    if recorded.at != ev.at {
        changed.push(format!("`at` (`{}` when recorded, `{}` now)", recorded.at, ev.at));
    }
    if recorded.kind != ev.what.kind() {
        changed.push(format!(
            "`type` (`{}` when recorded, `{}` now)",
            recorded.kind,
            ev.what.kind()
        ));
    }
    changed.extend(
        Digest::differing(&recorded.digest, ev.digest.as_bytes())
            .into_iter()
            .map(|f| format!("`{f}`")),
    );
    if changed.is_empty() {
        return Ok(AtPosition::Same);
    }
    let fields = match changed.len() {
        1 => format!("its {} differs", changed[0]),
        n => format!("its {} and {} differ", changed[..n - 1].join(", "), changed[n - 1]),
    };
    Ok(AtPosition::Differs(sim.input(
        ev,
        format!("it changed since the database recorded it at position {seq}: {fields}"),
        help(),
    )))
}

/// How often a replay commits: after `events` events, or when `interval` has
/// passed since the batch began, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Commit after this many events.
    pub events: usize,
    /// Commit when this much time has passed since the batch began.
    pub interval: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            events: 100_000,
            interval: Duration::from_millis(200),
        }
    }
}

/// Replays events in order, committing in batches; `on_commit` receives each
/// batch's reports right after its commit. Stops at the first event that
/// cannot be applied, after committing the events before it.
#[cfg(test)]
pub(crate) fn replay<I, F>(
    sim: &mut Simulator,
    events: I,
    batching: Batching,
    on_commit: F,
) -> Result<ReplaySummary, SimError>
where
    I: IntoIterator<Item = Result<Event, Diagnostic>>,
    F: FnMut(&[EventReport]) -> std::io::Result<()>,
{
    replay_with(sim, events, batching, on_commit, drop, &Progress::new())
}

/// Replays events in order, committing in batches, like `replay`; hands
/// each applied event to `done` and adds the events applied to `progress`
/// every [`progress::EVERY`] events.
/// Events read on another thread are best freed there: freeing memory that
/// another thread allocated takes a lock of that thread's allocator arena,
/// which cost a streamed replay about 8% of its time (`simulate` sends them
/// back to its reading thread).
pub(crate) fn replay_with<I, F, D>(
    sim: &mut Simulator,
    events: I,
    batching: Batching,
    mut on_commit: F,
    mut done: D,
    progress: &Progress,
) -> Result<ReplaySummary, SimError>
where
    I: IntoIterator<Item = Result<Event, Diagnostic>>,
    F: FnMut(&[EventReport]) -> std::io::Result<()>,
    D: FnMut(Event),
{
    let recorded = sim.store.last_seq()?;
    let mut summary = ReplaySummary::default();
    let mut pending: Vec<EventReport> = Vec::with_capacity(batching.events.min(1 << 16));
    let mut started = Instant::now();
    sim.store.begin()?;
    let mut failure = None;
    for (i, ev) in events.into_iter().enumerate() {
        let seq = i as i64 + 1;
        let ev = match ev {
            Ok(ev) => ev,
            Err(d) => {
                failure = Some(SimError::Input(Box::new(d)));
                break;
            }
        };
        // Positions up to the last recorded one were applied by an earlier
        // run of this timeline: the event there must be this one, whole,
        // and nothing is written again.
        let write = if seq <= recorded {
            match at_position(sim, seq, &ev) {
                Ok(AtPosition::Same) => false,
                Ok(AtPosition::Free) => true,
                Ok(AtPosition::Differs(e)) | Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        } else {
            true
        };
        match sim.step(seq, &ev, write) {
            Ok(r) => pending.push(r),
            Err(e) => {
                // The event was not applied and left nothing (`step` gave
                // its id back): a run of the corrected timeline can apply it.
                failure = Some(e);
                break;
            }
        }
        done(ev);
        summary.events += 1;
        if summary.events % progress::EVERY == 0 {
            progress.add(0, progress::EVERY);
        }
        if write {
            summary.applied += 1;
        } else {
            summary.already_recorded += 1;
        }
        // Reading the clock costs more than an event: look at it every 64 events.
        if pending.len() >= batching.events || (i % 64 == 63 && started.elapsed() >= batching.interval) {
            sim.flush()?;
            sim.store.commit()?;
            summary.batches += 1;
            on_commit(&pending).map_err(SimError::Output)?;
            pending.clear();
            sim.store.begin()?;
            started = Instant::now();
        }
    }
    progress.add(0, summary.events % progress::EVERY);
    if sim.must_roll_back {
        // Not committed, so not printed: the next run applies these again.
        sim.store.rollback()?;
        return Err(failure.expect("a roll-back follows a failed event"));
    }
    sim.flush()?;
    sim.store.commit()?;
    summary.batches += 1;
    on_commit(&pending).map_err(SimError::Output)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::replay::store::Store;
    use crate::replay::timeline::JsonlTimeline;
    use crate::rules::RuleSet;
    use crate::world::World;

    fn day() -> (World, Vec<Event>) {
        let mut tl = JsonlTimeline::open(Path::new("examples/day.jsonl")).unwrap();
        let world = tl.world.clone();
        let mut events = Vec::new();
        while let Some(e) = tl.next_event() {
            events.push(e.unwrap());
        }
        (world, events)
    }

    /// Two replays of one new database, interleaved as two processes
    /// started together were: the second finds the database empty, then
    /// the first writes and commits every event, then the second writes.
    /// (`simulate` takes the replay lock, so two processes cannot do this;
    /// the stores here are opened without it to show the second writer's
    /// own behaviour.)
    #[test]
    #[allow(clippy::result_large_err)] // the events' `Diagnostic`, as `replay` takes them
    fn a_second_writer_that_finds_its_position_taken_never_deletes_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let rules = RuleSet::shipped();
        let (world, events) = day();
        let path = PathBuf::from("examples/day.jsonl");

        let mut second =
            Simulator::new(&rules, world.clone(), Store::open_unclaimed(&db).unwrap(), path.clone()).unwrap();
        let mut first_dump = None;
        let interleaved = events.clone().into_iter().enumerate().map(|(i, e)| {
            if i == 0 {
                // The second writer has read what was recorded (nothing).
                let store = Store::open_unclaimed(&db).unwrap();
                let mut first = Simulator::new(&rules, world.clone(), store, path.clone()).unwrap();
                replay(
                    &mut first,
                    events.clone().into_iter().map(Ok),
                    Batching::default(),
                    |_| Ok(()),
                )
                .unwrap();
                first_dump = Some(first.store.dump().unwrap());
            }
            Ok(e)
        });
        let err = replay(&mut second, interleaved, Batching::default(), |_| Ok(())).unwrap_err();
        assert!(
            err.to_string()
                .contains("position 1 of the timeline was saved by another run while this one ran"),
            "{err}"
        );
        drop(second);
        let first_dump = first_dump.unwrap();
        assert!(
            first_dump.contains("\"d1\"|1|"),
            "the first writer recorded d1 at position 1"
        );
        assert_eq!(
            Store::open_read_only(&db).unwrap().dump().unwrap(),
            first_dump,
            "the second writer deleted or changed a row of the first"
        );
    }

    /// Positions are recorded without gaps, but should one be missing (a
    /// row lost to a writer without the replay lock), the event there is
    /// written again, never skipped as if it were recorded.
    #[test]
    fn a_recorded_position_without_its_event_is_written_again_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let rules = RuleSet::shipped();
        let (world, events) = day();
        let run = || {
            let mut sim = Simulator::new(&rules, world.clone(), Store::open(&db).unwrap(), "day.jsonl".into()).unwrap();
            let summary = replay(
                &mut sim,
                events.clone().into_iter().map(Ok),
                Batching::default(),
                |_| Ok(()),
            )
            .unwrap();
            (summary, sim.store.dump().unwrap())
        };
        let (_, whole) = run();
        // d11, a logout at position 11, writes nothing but its `events` row.
        let store = Store::open(&db).unwrap();
        assert_eq!(
            store.conn.execute("DELETE FROM events WHERE id = 'd11'", []).unwrap(),
            1
        );
        drop(store);
        let (summary, again) = run();
        assert_eq!((summary.applied, summary.already_recorded), (1, 11));
        assert_eq!(again, whole);
    }
}
