//! JSON Lines timelines: a first line naming or holding the world, then one
//! event per line, streamed so memory does not grow with the timeline's
//! length. Lines are framed by the reader every JSON Lines input uses
//! ([`crate::jsonl`]: one line limit, blank and `#` comment lines skipped);
//! each line is then read as a [`WrittenEvent`] and resolved (`resolve.rs`).
//! A bad line stops the replay there.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diag::{Diagnostic, Diagnostics, Pos, Source};
use crate::world::World;

use super::resolve::resolve_what;
use super::{serde_message, Event, FieldError, WrittenEvent};
use crate::jsonl::{LineError, LineProblem, LineReader, MAX_LINE};

/// The first line of a JSON Lines timeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldLine<'a> {
    #[serde(rename = "type")]
    kind: String,
    /// A world file, relative to the timeline.
    path: Option<String>,
    /// Or the world itself, as JSON, exactly as it is written in the line.
    #[serde(borrow)]
    world: Option<&'a serde_json::value::RawValue>,
}

/// A JSON Lines timeline being streamed: the world, then events one by one.
pub struct JsonlTimeline<R> {
    /// The timeline file, for messages.
    pub(crate) path: PathBuf,
    /// The world its first line names or holds.
    pub(crate) world: World,
    /// The event lines, framed like every JSON Lines input.
    lines: LineReader<R>,
    base: PathBuf,
    last_at: String,
    /// The length of the world line, line end included.
    world_bytes: u64,
}

impl JsonlTimeline<std::io::BufReader<std::fs::File>> {
    /// Opens a timeline file and reads its world line.
    #[cfg(test)]
    pub(crate) fn open(path: &Path) -> Result<Self, Diagnostics> {
        let f = std::fs::File::open(path).map_err(|e| {
            Diagnostics::from(Diagnostic::new(
                path,
                Pos::default(),
                format!("cannot read the file: {e}"),
            ))
        })?;
        JsonlTimeline::new(path, std::io::BufReader::with_capacity(1 << 16, f))
    }
}

impl<R: BufRead> JsonlTimeline<R> {
    /// Reads the world line of a timeline from `reader` (`path` names it in
    /// messages, and world paths are relative to it); the events follow.
    pub fn new(path: &Path, mut reader: R) -> Result<Self, Diagnostics> {
        let here = |line: usize, message: String| {
            Diagnostics::from(
                Diagnostic::new(path, Pos::new(line, 1), message)
                    .help("the first line names the world: {\"type\":\"world\",\"path\":\"world.yaml\"}, or holds it: {\"type\":\"world\",\"world\":{\"accounts\":[...],...}}"),
            )
        };
        // The world line may hold a whole world, so it may be as long as a
        // world file, and no longer: read one byte past that at most.
        let mut bytes = Vec::new();
        let limit = crate::diag::MAX_FILE_SIZE;
        std::io::Read::take(&mut reader, limit + 1)
            .read_until(b'\n', &mut bytes)
            .map_err(|e| here(1, format!("cannot read the file: {e}")))?;
        if bytes.len() as u64 > limit {
            return Err(here(
                1,
                format!(
                    "the first line is longer than {} MiB, the most a world may take",
                    limit >> 20
                ),
            ));
        }
        let world_bytes = bytes.len() as u64;
        if bytes.starts_with(crate::diag::BOM) {
            bytes.drain(..crate::diag::BOM.len());
        }
        let buf = String::from_utf8(bytes).map_err(|_| here(1, "the first line is not valid UTF-8 text".into()))?;
        let first: WorldLine = serde_json::from_str(&buf).map_err(|e| here(1, serde_message(&e.to_string())))?;
        if first.kind != "world" {
            return Err(here(
                1,
                format!(
                    "the first line is a `{}`, not the world",
                    first.kind.chars().take(40).collect::<String>()
                ),
            ));
        }
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let world = match (&first.path, first.world) {
            (Some(p), None) => World::load(&base.join(p))?,
            // JSON is YAML: the inline world is read by the same loader as a
            // world file, from the line as it is written (no copy of it is
            // built), with the rest of the line blanked out so that every
            // problem is reported at its column of the timeline's line 1.
            (None, Some(w)) => {
                let start = w.get().as_ptr() as usize - buf.as_ptr() as usize;
                let mut text = " ".repeat(buf[..start].chars().count());
                text.push_str(w.get());
                World::parse(Source::new(path, text))?
            }
            _ => return Err(here(1, "the world line gives either `path` or `world`".into())),
        };
        Ok(JsonlTimeline {
            path: path.to_path_buf(),
            world,
            lines: LineReader::after(reader, 1, MAX_LINE),
            base,
            last_at: String::new(),
            world_bytes,
        })
    }

    /// How many bytes of the file were read so far, the world line's
    /// included, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.world_bytes + self.lines.bytes()
    }

    /// The next event, `None` at the end, or the problem with its line.
    pub fn next_event(&mut self) -> Option<Result<Event, Diagnostic>> {
        let (line, text) = match self.lines.next_line()? {
            Ok(read) => read,
            Err(e) => return Some(Err(self.line_error(e))),
        };
        // The event by its id when it has one, and the field.
        let diag = |id: Option<&str>, fe: FieldError| {
            let col = fe.field.as_deref().and_then(|f| value_column(text, f)).unwrap_or(1);
            let mut d = Diagnostic::new(&self.path, Pos::new(line, col), fe.message);
            match (id.filter(|i| !i.is_empty()), fe.field) {
                (Some(id), Some(f)) => d = d.subject(format!("event `{id}`, field `{f}`")),
                (Some(id), None) => d = d.subject(format!("event `{id}`")),
                (None, Some(f)) => d = d.subject(format!("field `{f}`")),
                (None, None) => {}
            }
            if let Some(h) = fe.help {
                d = d.help(h);
            }
            d
        };
        let mut raw: WrittenEvent = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                return Some(Err(diag(
                    None,
                    FieldError {
                        field: None,
                        message: serde_message(&e.to_string()),
                        help: None,
                    },
                )))
            }
        };
        let ev = match resolve_what(&mut raw, &self.world, &self.base) {
            Ok((what, digest)) => Event {
                id: raw.id,
                at: raw.at,
                line,
                what,
                digest,
            },
            Err(fe) => return Some(Err(diag(Some(&raw.id), fe))),
        };
        if ev.at < self.last_at {
            return Some(Err(diag(
                Some(&ev.id),
                FieldError {
                    field: Some("at".into()),
                    message: format!("`{}` is earlier than the event before it (`{}`)", ev.at, self.last_at),
                    help: Some("events are replayed in order: sort them by time".into()),
                },
            )));
        }
        self.last_at.clone_from(&ev.at);
        Some(Ok(ev))
    }

    /// A line that could not be framed, as a diagnostic at its line.
    fn line_error(&self, e: LineError) -> Diagnostic {
        match e {
            LineError::Line { line, problem } => {
                let d = Diagnostic::new(&self.path, Pos::new(line, 1), problem.to_string());
                match problem {
                    LineProblem::TooLong { .. } => d.help("an event is one short JSON object per line"),
                    _ => d,
                }
            }
            LineError::Io(e) => Diagnostic::new(
                &self.path,
                Pos::new(self.lines.line() + 1, 1),
                format!("cannot read the line: {e}"),
            ),
        }
    }
}

/// The column (1-based, in characters) where the value of the top-level
/// `field` starts in a JSON object's line, so that a problem with a field
/// points at it; `None` when the key is not written plainly. Only problems
/// call this: the events that read well never pay for it.
fn value_column(line: &str, field: &str) -> Option<usize> {
    let key = format!("\"{field}\"");
    let mut from = 0;
    while let Some(at) = line[from..].find(&key) {
        let after = from + at + key.len();
        let rest = line[after..].trim_start();
        if let Some(value) = rest.strip_prefix(':') {
            let start = line.len() - value.trim_start().len();
            return Some(line[..start].chars().count() + 1);
        }
        from = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_problem_points_at_the_value_of_that_field() {
        let line = r#"{"id":"x1", "at" : "2026-02-31T10:00:00Z","type":"logout","text":"\"at\":no"}"#;
        assert_eq!(value_column(line, "at"), Some(20));
        assert_eq!(value_column(line, "id"), Some(7));
        assert_eq!(value_column(line, "staff"), None);
        // Characters, not bytes: the column editors show.
        assert_eq!(value_column(r#"{"text":"é","at":"x"}"#, "at"), Some(18));
    }

    /// Event lines and timeline lines are framed by the same code: the same
    /// lines skipped, the same refused, at the same numbers.
    #[test]
    fn timeline_lines_are_framed_like_event_lines() {
        let world = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/glow-world.yaml");
        let event = |id: &str, second: u8| {
            format!("{{\"id\":\"{id}\",\"at\":\"2026-03-02T09:00:0{second}Z\",\"type\":\"logout\",\"staff\":\"sam\"}}")
        };
        let mut input = format!("{{\"type\":\"world\",\"path\":{world:?}}}\n# a comment\n \t\n").into_bytes();
        input.extend_from_slice(format!("{}\r\n", event("e1", 1)).as_bytes());
        input.extend_from_slice(b"\xff\xfe\n");
        input.extend_from_slice(&vec![b'x'; MAX_LINE + 1]);
        input.push(b'\n');
        input.extend_from_slice(event("e2", 2).as_bytes());
        let mut timeline = JsonlTimeline::new(Path::new("t.jsonl"), &input[..]).unwrap();
        let mut read = Vec::new();
        while let Some(next) = timeline.next_event() {
            read.push(match next {
                Ok(ev) => (ev.line, ev.id),
                Err(d) => (d.pos.line, d.message),
            });
        }
        let framed: Vec<(usize, String)> = crate::jsonl::EventLines::new(&input[..])
            .map(|r| match r {
                Ok((line, ev)) => (line, ev.id().to_owned()),
                Err(LineError::Line { line, problem }) => (line, problem.to_string()),
                Err(e) => panic!("{e}"),
            })
            .collect();
        let too_long = LineProblem::TooLong { max: MAX_LINE }.to_string();
        assert_eq!(
            read,
            [
                (4, "e1".to_owned()),
                (5, LineProblem::NotUtf8.to_string()),
                (6, too_long.clone()),
                (7, "e2".to_owned())
            ]
        );
        // The event reader refuses the timeline's events (they are not event
        // lines), but frames the same lines.
        let lines: Vec<usize> = framed.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [1, 4, 5, 6, 7]);
        assert_eq!(framed[2].1, LineProblem::NotUtf8.to_string());
        assert_eq!(framed[3].1, too_long);
    }
}
