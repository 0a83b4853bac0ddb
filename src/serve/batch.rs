//! `POST /v1/batch`: event lines in, decision lines out, both streamed.
//!
//! The request body is read on a blocking thread as a plain [`Read`] and
//! fed to the library's batch pipeline ([`crate::jsonl::batch`]), the same
//! code as `route batch`: the same framing, the same error lines, the same
//! order. Its output goes back through a small bounded channel to the
//! streamed response body. Every stage holds a few chunks at most, so
//! memory stays bounded whatever the size of the body, and a slow client
//! slows the pipeline instead of filling memory. Decision lines carry
//! `rule_set` and `world_version`, like every decision answer. The decisions
//! are counted in the metrics and written to the decision log.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::live::Snapshot;
use super::log::{self, DecisionLog};
use super::metrics::{MeasuredByHandler, RuleCounters, BATCH};
use super::App;
use crate::jsonl::batch::{self, Options, Watch};
use crate::jsonl::Direction;
use crate::progress::Progress;

/// Output chunks waiting for the client.
const DEPTH: usize = 4;

/// `POST /v1/batch`.
pub(crate) async fn batch(State(app): State<Arc<App>>, body: Body) -> Response {
    let started = Instant::now();
    let snap = app.live.current();
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(DEPTH);
    let handle = tokio::runtime::Handle::current();
    let threads = app.batch_threads;
    tokio::task::spawn_blocking(move || {
        let input = BodyReader {
            stream: body.into_data_stream(),
            handle,
            current: Bytes::new(),
        };
        let mut output = ChannelWriter { tx: tx.clone() };
        let watch = ServeWatch {
            counters: app.metrics.rule_counters(&snap),
            log: app.log.as_ref(),
            snap: &snap,
        };
        let result = batch::run_watched(
            &snap.rules,
            &snap.world,
            &snap.names,
            input,
            &mut output,
            Options { threads },
            &Progress::new(),
            &watch,
        );
        match result {
            Ok(summary) => app.metrics.batch_error_lines(summary.errors),
            // The client went away: nobody to tell.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                tracing::warn!(error = %e, "a batch stopped before its end");
                // An error item aborts the response, so the client sees a
                // cut answer rather than a complete-looking one.
                let _ = tx.blocking_send(Err(e));
            }
        }
        app.metrics.took(BATCH, started.elapsed());
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    resp.extensions_mut().insert(MeasuredByHandler);
    resp
}

/// The request body as a blocking reader.
struct BodyReader {
    stream: axum::body::BodyDataStream,
    handle: tokio::runtime::Handle,
    current: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Decision lines to the response body; a client gone is a broken pipe.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client has gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts a batch's decisions by rule and logs them, a chunk at a time.
struct ServeWatch<'a> {
    counters: Arc<RuleCounters>,
    log: Option<&'a DecisionLog>,
    snap: &'a Snapshot,
}

/// What a worker notes about one chunk.
struct Notes {
    inbound: Vec<u64>,
    outbound: Vec<u64>,
    log: Vec<u8>,
    lines: u64,
    at: String,
}

impl Watch for ServeWatch<'_> {
    type Notes = Notes;

    fn notes(&self) -> Notes {
        Notes {
            inbound: vec![0; self.counters.len(Direction::Inbound)],
            outbound: vec![0; self.counters.len(Direction::Outbound)],
            log: Vec::new(),
            lines: 0,
            at: if self.log.is_some() { log::now() } else { String::new() },
        }
    }

    fn decided(&self, notes: &mut Notes, event: &str, decision: &[u8], direction: Direction, rule: usize) {
        let counts = match direction {
            Direction::Inbound => &mut notes.inbound,
            Direction::Outbound => &mut notes.outbound,
        };
        if let Some(n) = counts.get_mut(rule) {
            *n += 1;
        }
        if self.log.is_some() {
            log::push_line(
                &mut notes.log,
                event.as_bytes(),
                b"null",
                direction,
                &notes.at,
                self.snap,
                decision,
            );
            notes.lines += 1;
        }
    }

    fn written(&self, notes: Notes) {
        for (direction, counts) in [
            (Direction::Inbound, &notes.inbound),
            (Direction::Outbound, &notes.outbound),
        ] {
            for (rule, &n) in counts.iter().enumerate().filter(|(_, &n)| n > 0) {
                self.counters.add(direction, rule, n);
            }
        }
        if let Some(log) = self.log {
            if notes.lines > 0 {
                log.send_blocking(notes.log, notes.lines);
            }
        }
    }
}
