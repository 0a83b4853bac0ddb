//! Batch routing: millions of recorded events in, one decision per line out,
//! in input order, on every core, in constant memory.
//!
//! A reader thread cuts the input into chunks of whole lines (about 64 KiB
//! each) and deals them round-robin to the workers; each worker decides its
//! chunk's lines into an output buffer; the calling thread collects the
//! buffers in the same round-robin order and writes them, so the output keeps
//! the input's order without sorting. Every channel is bounded, so at most a
//! few chunks per worker are in flight whatever the size of the input. A line
//! that cannot be decided becomes an error line naming its id and line number;
//! the run goes on. Each line is framed and parsed by the same code as every
//! JSON Lines reader ([`crate::jsonl`]): the chunks only decide where the
//! work is cut.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use crate::engine::event::{resolve_inbound, resolve_outbound, Outbound};
use crate::jsonl::{
    frame, parse_event, push_json_str, write_error, Direction, EventLine, LineProblem, Names, ParsedEvent, MAX_LINE,
};
use crate::progress::Progress;
use crate::rules::RuleSet;
use crate::world::World;

/// How many bytes of input a chunk holds (it ends at the last whole line).
const CHUNK: usize = 64 * 1024;
/// Chunks queued per worker, each way.
const DEPTH: usize = 2;

/// How to run a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Worker threads (the reader and writer threads come on top).
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Client messages decided.
    pub inbound: u64,
    /// Staff messages decided.
    pub outbound: u64,
    /// Lines that became error lines.
    pub errors: u64,
    /// Blank lines and `#` comment lines, skipped.
    pub blank: u64,
    /// How long the batch took, reading to writing.
    pub elapsed: Duration,
}

impl BatchSummary {
    /// Events decided, both ways.
    pub fn decided(&self) -> u64 {
        self.inbound + self.outbound
    }

    fn add(&mut self, other: &BatchSummary) {
        self.inbound += other.inbound;
        self.outbound += other.outbound;
        self.errors += other.errors;
        self.blank += other.blank;
    }
}

impl std::fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} decisions ({} inbound, {} outbound), {} error{} in {:.2} s ({:.0} decisions/s)",
            self.decided(),
            self.inbound,
            self.outbound,
            self.errors,
            if self.errors == 1 { "" } else { "s" },
            secs,
            if secs > 0.0 { self.decided() as f64 / secs } else { 0.0 }
        )
    }
}

/// A run of whole lines and the number of the first.
struct Chunk {
    first_line: u64,
    data: Vec<u8>,
    /// The chunk stands for one line over [`MAX_LINE`], already skipped.
    oversized: bool,
}

struct Done<N> {
    out: Vec<u8>,
    summary: BatchSummary,
    notes: N,
}

/// Sees every decided line of a batch: the decision service counts and logs
/// them through it. `route batch` watches with `()`, which does nothing and
/// compiles to nothing.
pub(crate) trait Watch: Sync {
    /// What the watch notes about one chunk, on the worker that decides it.
    type Notes: Send;
    /// Fresh notes for a chunk.
    fn notes(&self) -> Self::Notes;
    /// One event line decided: its text, its decision line (newline
    /// included), its direction and the index of the deciding rule.
    fn decided(&self, notes: &mut Self::Notes, event: &str, decision: &[u8], direction: Direction, rule: usize);
    /// A chunk's notes, on the writing thread, in input order, once the
    /// chunk's decision lines are written.
    fn written(&self, notes: Self::Notes);
}

impl Watch for () {
    type Notes = ();
    fn notes(&self) {}
    #[inline(always)]
    fn decided(&self, _: &mut (), _: &str, _: &[u8], _: Direction, _: usize) {}
    fn written(&self, _: ()) {}
}

/// Routes every event line of `input` and writes one decision line per event
/// line to `output`, in order. Fails only when reading or writing fails; bad
/// lines become error lines, counted in the summary.
pub fn run(
    rules: &RuleSet,
    world: &World,
    input: impl Read + Send,
    output: &mut impl Write,
    options: Options,
) -> io::Result<BatchSummary> {
    run_with_progress(rules, world, input, output, options, &Progress::new())
}

/// [`run`], adding each chunk's bytes and lines to `progress` as the
/// reader cuts it (one atomic addition per 64 KiB of input).
pub fn run_with_progress(
    rules: &RuleSet,
    world: &World,
    input: impl Read + Send,
    output: &mut impl Write,
    options: Options,
    progress: &Progress,
) -> io::Result<BatchSummary> {
    run_watched(
        rules,
        world,
        &Names::new(rules, world),
        input,
        output,
        options,
        progress,
        &(),
    )
}

/// [`run_with_progress`] with the decision lines written by `names`, and
/// every decided line shown to `watch`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_watched<W: Watch>(
    rules: &RuleSet,
    world: &World,
    names: &Names,
    input: impl Read + Send,
    output: &mut impl Write,
    options: Options,
    progress: &Progress,
    watch: &W,
) -> io::Result<BatchSummary> {
    // Once, on one thread, rather than on each client's first outbound line
    // (a no-op when the world was validated already). Part of loading the
    // world, not of routing: the summary's time starts after it.
    world.validate_contacts();
    let started = Instant::now();
    let workers = options.threads.max(1);
    let mut total = BatchSummary::default();
    std::thread::scope(|scope| -> io::Result<()> {
        let mut to_workers = Vec::with_capacity(workers);
        let mut from_workers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = sync_channel::<Chunk>(DEPTH);
            let (dtx, drx) = sync_channel::<Done<W::Notes>>(DEPTH);
            to_workers.push(tx);
            from_workers.push(drx);
            scope.spawn(move || work(rules, world, names, watch, rx, dtx));
        }
        // A leading byte-order mark is not part of the first line.
        let reader = scope.spawn(move || read_chunks(crate::diag::WithoutBom::new(input), to_workers, progress));
        // Collect in the order the reader dealt: worker 0, 1, ..., 0, 1, ...
        let mut write_result = Ok(());
        'collect: loop {
            for rx in &from_workers {
                let Ok(done) = rx.recv() else { break 'collect };
                total.add(&done.summary);
                if let Err(e) = output.write_all(&done.out) {
                    write_result = Err(e);
                    break 'collect;
                }
                watch.written(done.notes);
            }
        }
        // On a write error, dropping the receivers stops the workers, which
        // stops the reader.
        drop(from_workers);
        let read_result = reader.join().expect("the reader thread does not panic");
        write_result?;
        read_result?;
        output.flush()
    })?;
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Cuts the input into chunks of whole lines and deals them round-robin.
fn read_chunks(mut input: impl Read, workers: Vec<SyncSender<Chunk>>, progress: &Progress) -> io::Result<()> {
    let mut next = 0usize;
    let mut line_no = 1u64;
    let mut carry: Vec<u8> = Vec::new();
    let mut eof = false;
    let mut send = |chunk: Chunk| -> bool {
        let ok = workers[next].send(chunk).is_ok();
        next = (next + 1) % workers.len();
        ok
    };
    while !eof {
        let mut buf = Vec::with_capacity(CHUNK + carry.len() + 4096);
        buf.append(&mut carry);
        // Fill to CHUNK bytes, then further only until a line ends.
        let mut scanned = 0;
        let cut = loop {
            if buf.len() >= CHUNK {
                if let Some(p) = buf[scanned..].iter().rposition(|&b| b == b'\n') {
                    break Some(scanned + p + 1);
                }
                scanned = buf.len();
            }
            // No line end in sight: one line, longer than a line may be
            // (one byte more is room for a `\r` before the `\n`).
            if buf.len() > MAX_LINE + 1 {
                break None;
            }
            let want = CHUNK.max(buf.len() / 2);
            let len = buf.len();
            buf.resize(len + want, 0);
            let n = loop {
                match input.read(&mut buf[len..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    buf.truncate(len);
                    return Err(e);
                }
            };
            buf.truncate(len + n);
            if n == 0 {
                eof = true;
                break Some(buf.len());
            }
        };
        match cut {
            Some(cut) => {
                carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                if buf.is_empty() {
                    continue;
                }
                let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
                let first_line = line_no;
                line_no += lines + u64::from(buf.last() != Some(&b'\n'));
                progress.add(buf.len() as u64, line_no - first_line);
                if !send(Chunk {
                    first_line,
                    data: buf,
                    oversized: false,
                }) {
                    return Ok(());
                }
            }
            None => {
                // One line longer than MAX_LINE: report it, skip to its end.
                let first_line = line_no;
                line_no += 1;
                let mut tail = [0u8; 8192];
                let mut skipped = buf.len() as u64;
                loop {
                    let n = match input.read(&mut tail) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => other?,
                    };
                    if n == 0 {
                        eof = true;
                        break;
                    }
                    if let Some(p) = tail[..n].iter().position(|&b| b == b'\n') {
                        carry.extend_from_slice(&tail[p + 1..n]);
                        skipped += p as u64 + 1;
                        break;
                    }
                    skipped += n as u64;
                }
                progress.add(skipped, 1);
                if !send(Chunk {
                    first_line,
                    data: Vec::new(),
                    oversized: true,
                }) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

fn work<W: Watch>(
    rules: &RuleSet,
    world: &World,
    names: &Names,
    watch: &W,
    rx: Receiver<Chunk>,
    tx: SyncSender<Done<W::Notes>>,
) {
    let mut outbound = Outbound {
        client: 0,
        sender: 0,
        text: String::new(),
    };
    let mut id_json = Vec::with_capacity(64);
    for chunk in rx {
        let mut out = Vec::with_capacity(chunk.data.len() * 2);
        let mut summary = BatchSummary::default();
        let mut notes = watch.notes();
        if chunk.oversized {
            summary.errors += 1;
            write_error(&mut out, b"null", chunk.first_line, &too_long());
        }
        let data = chunk.data.strip_suffix(b"\n").unwrap_or(&chunk.data);
        let lines = if chunk.oversized {
            None
        } else {
            Some(data.split(|&b| b == b'\n'))
        };
        for (n, line) in (chunk.first_line..).zip(lines.into_iter().flatten()) {
            // The same framing as every JSON Lines reader. A line over the
            // limit may come here whole when its end came in the same read.
            let text = match frame(line, MAX_LINE) {
                Ok(Some(text)) => text,
                Ok(None) => {
                    summary.blank += 1;
                    continue;
                }
                Err(problem) => {
                    summary.errors += 1;
                    write_error(&mut out, b"null", n, &problem.to_string());
                    continue;
                }
            };
            decide_line(
                rules,
                world,
                names,
                watch,
                &mut notes,
                text,
                n,
                &mut outbound,
                &mut id_json,
                &mut out,
                &mut summary,
            );
        }
        if tx.send(Done { out, summary, notes }).is_err() {
            return;
        }
    }
}

fn too_long() -> String {
    LineProblem::TooLong { max: MAX_LINE }.to_string()
}

/// Decides one framed event line, appending its decision or error line to `out`.
#[allow(clippy::too_many_arguments)]
fn decide_line<W: Watch>(
    rules: &RuleSet,
    world: &World,
    names: &Names,
    watch: &W,
    notes: &mut W::Notes,
    line: &str,
    line_no: u64,
    outbound: &mut Outbound,
    id_json: &mut Vec<u8>,
    out: &mut Vec<u8>,
    summary: &mut BatchSummary,
) {
    id_json.clear();
    let start = out.len();
    let result = match parse_event(line) {
        Ok(ParsedEvent::Scanned(ev)) => {
            // The scanner only accepts ids without escapes: quote as is.
            id_json.push(b'"');
            id_json.extend_from_slice(ev.id.as_bytes());
            id_json.push(b'"');
            match ev.direction {
                Direction::Inbound => decide_inbound(
                    rules,
                    world,
                    names,
                    ev.client,
                    ev.answering,
                    ev.staff,
                    ev.from,
                    id_json,
                    out,
                ),
                Direction::Outbound => decide_outbound(
                    rules,
                    world,
                    names,
                    ev.client,
                    ev.from_account.unwrap_or_default(),
                    ev.text.unwrap_or_default(),
                    outbound,
                    id_json,
                    out,
                ),
            }
        }
        Ok(ParsedEvent::Owned(ev)) => {
            push_json_str(id_json, ev.id());
            decide_owned(rules, world, names, &ev, outbound, id_json, out)
        }
        Err(e) => {
            // Name the line's id when it has one, even if the rest is wrong.
            match serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("id").and_then(|id| id.as_str().map(str::to_owned)))
            {
                Some(id) => push_json_str(id_json, &id),
                None => id_json.extend_from_slice(b"null"),
            }
            Err(format!("not an event line: {e}"))
        }
    };
    match result {
        Ok((direction, rule)) => {
            match direction {
                Direction::Inbound => summary.inbound += 1,
                Direction::Outbound => summary.outbound += 1,
            }
            watch.decided(notes, line, &out[start..], direction, rule);
        }
        Err(message) => {
            summary.errors += 1;
            write_error(out, id_json, line_no, &message);
        }
    }
}

/// Decides an event line read by `serde_json`: with inline facts, in the
/// world those facts make for this line alone.
fn decide_owned(
    rules: &RuleSet,
    world: &World,
    names: &Names,
    ev: &EventLine,
    outbound: &mut Outbound,
    id_json: &[u8],
    out: &mut Vec<u8>,
) -> Result<(Direction, usize), String> {
    let here = ev.world(world).map_err(|e| e.to_string())?;
    let own_names;
    let names = match &here {
        Cow::Borrowed(_) => names,
        Cow::Owned(w) => {
            own_names = names.for_world(rules, w);
            &own_names
        }
    };
    match ev {
        EventLine::Inbound { request: r, .. } => decide_inbound(
            rules,
            &here,
            names,
            &r.client,
            r.answering.as_deref(),
            r.staff.as_deref(),
            r.from.as_deref(),
            id_json,
            out,
        ),
        EventLine::Outbound { request: r, .. } => decide_outbound(
            rules,
            &here,
            names,
            &r.client,
            &r.from_account,
            &r.text,
            outbound,
            id_json,
            out,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn decide_inbound(
    rules: &RuleSet,
    world: &World,
    names: &Names,
    client: &str,
    answering: Option<&str>,
    staff: Option<&str>,
    from: Option<&str>,
    id_json: &[u8],
    out: &mut Vec<u8>,
) -> Result<(Direction, usize), String> {
    let ev = resolve_inbound(world, client, answering, staff, from).map_err(|e| e.to_string())?;
    let d = rules.route_inbound(world, &ev).map_err(|e| e.to_string())?;
    names.write_inbound(out, id_json, &d);
    Ok((Direction::Inbound, d.rule))
}

#[allow(clippy::too_many_arguments)]
fn decide_outbound(
    rules: &RuleSet,
    world: &World,
    names: &Names,
    client: &str,
    from_account: &str,
    text: &str,
    ev: &mut Outbound,
    id_json: &[u8],
    out: &mut Vec<u8>,
) -> Result<(Direction, usize), String> {
    let (c, sender) = resolve_outbound(world, client, from_account).map_err(|e| e.to_string())?;
    ev.client = c;
    ev.sender = sender;
    ev.text.clear();
    ev.text.push_str(text);
    let d = rules.route_outbound(world, ev).map_err(|e| e.to_string())?;
    names.write_outbound(out, id_json, &d);
    Ok((Direction::Outbound, d.rule))
}
