//! Line framing: how every JSON Lines input of commroute is cut into lines.
//!
//! One set of rules for `route batch`, `diff --events` and JSON Lines
//! timelines: lines end at `\n` (a `\r` before it is dropped), are numbered
//! from 1, may be at most [`MAX_LINE`] bytes, must be UTF-8, and are skipped
//! when blank or a `#` comment. A leading byte-order mark is dropped. What a
//! line holds (an event, a timeline event) is parsed elsewhere; this file
//! only frames it. [`EventLines`] puts the framing and the event parser
//! together for callers that read events one by one.

use std::io::BufRead;

use crate::jsonl::scan::parse_event;
use crate::jsonl::EventLine;

/// The longest line any JSON Lines input may have: 1 MiB, not counting its
/// line end. A recorded event is a few hundred bytes, but its `text` is a
/// whole message, and an email with a quoted thread can run to tens of
/// kilobytes: 1 MiB holds any real event with room to spare. A longer line
/// is refused and skipped to its end without being held, so memory stays
/// bounded whatever the input.
pub const MAX_LINE: usize = 1024 * 1024;

/// Why one line cannot be read, before or while parsing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// The line is longer than the limit; it was skipped without being held.
    #[error("the line is longer than {max} bytes")]
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
    /// The line is not UTF-8 text.
    #[error("the line is not valid UTF-8 text")]
    NotUtf8,
    /// The line is not a JSON event; `column` is where the JSON reader stopped.
    #[error("{message}")]
    Json {
        /// The JSON reader's message.
        message: String,
        /// The column the JSON reader stopped at (1-based, 0 when unknown).
        column: usize,
    },
}

/// Why a line of JSON Lines is not an event. Each names its line, so the
/// other lines can still be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// One line is wrong; reading can go on with the next.
    #[error("line {line}: {problem}")]
    Line {
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// The input itself cannot be read.
    #[error("cannot read the events: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether a line is skipped without being read: blank (ASCII whitespace
/// only), or a comment whose first non-blank character is `#`. No JSON
/// value starts with `#`, so skipping comments cannot hide an event, and
/// hand-written event files and timelines can say what they test. The test
/// is on bytes, so a comment's text need not be UTF-8.
fn is_skipped(line: &[u8]) -> bool {
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        None | Some(b'#') => true,
        Some(_) => false,
    }
}

/// Frames one line given without its `\n`: `Ok(None)` for a line that is
/// skipped (blank or a comment), the line's text otherwise. The length is
/// checked first, so an overlong line is refused whatever it holds.
pub(crate) fn frame(line: &[u8], max: usize) -> Result<Option<&str>, LineProblem> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max {
        return Err(LineProblem::TooLong { max });
    }
    if is_skipped(line) {
        return Ok(None);
    }
    std::str::from_utf8(line).map(Some).map_err(|_| LineProblem::NotUtf8)
}

/// Streams the framed lines of a reader: each line that is not skipped,
/// with its number. A line over the limit is skipped to its end without
/// being held and reported, so memory stays bounded whatever the input.
pub(crate) struct LineReader<R> {
    reader: R,
    /// The number of the last line read.
    line: usize,
    max: usize,
    buf: Vec<u8>,
    /// Whether a byte-order mark may still come (only before the first line).
    at_start: bool,
    /// Bytes consumed from the reader, line ends and skipped lines included.
    bytes: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Reads from the start of an input (a byte-order mark is dropped).
    pub(crate) fn new(reader: R, max: usize) -> Self {
        LineReader {
            reader,
            line: 0,
            max,
            buf: Vec::new(),
            at_start: true,
            bytes: 0,
        }
    }

    /// Reads on from a reader whose first `lines` lines were read already.
    pub(crate) fn after(reader: R, lines: usize, max: usize) -> Self {
        LineReader {
            line: lines,
            at_start: false,
            ..LineReader::new(reader, max)
        }
    }

    /// The number of the last line read (0 before the first).
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// How many bytes were read from the reader so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reads one line into `buf` (without its `\n`), keeping at most one
    /// byte more than the limit (room for a `\r`). `None` at the end of the
    /// input; `Some(false)` for a line that was too long.
    fn read_raw(&mut self) -> Result<Option<bool>, std::io::Error> {
        self.buf.clear();
        if std::mem::take(&mut self.at_start) {
            let head = self.reader.fill_buf()?;
            if head.starts_with(crate::diag::BOM) {
                self.reader.consume(crate::diag::BOM.len());
                self.bytes += crate::diag::BOM.len() as u64;
            }
        }
        let mut any = false;
        let mut fits = true;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (chunk, used, end) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if fits && self.buf.len() + chunk.len() <= self.max + 1 {
                self.buf.extend_from_slice(chunk);
            } else if fits {
                fits = false;
                self.buf = Vec::new();
            }
            self.reader.consume(used);
            self.bytes += used as u64;
            if end {
                break;
            }
        }
        Ok(any.then_some(fits))
    }

    /// The next line that is not skipped, with its number; `None` at the end.
    pub(crate) fn next_line(&mut self) -> Option<Result<(usize, &str), LineError>> {
        loop {
            let fits = match self.read_raw() {
                Ok(Some(fits)) => fits,
                Ok(None) => return None,
                Err(e) => return Some(Err(LineError::Io(e))),
            };
            self.line += 1;
            if !fits {
                let problem = LineProblem::TooLong { max: self.max };
                return Some(Err(LineError::Line {
                    line: self.line,
                    problem,
                }));
            }
            if !is_skipped(&self.buf) {
                break;
            }
        }
        let line = self.line;
        Some(match frame(&self.buf, self.max) {
            Ok(Some(text)) => Ok((line, text)),
            Ok(None) => unreachable!("skipped lines were passed over above"),
            Err(problem) => Err(LineError::Line { line, problem }),
        })
    }
}

/// Reads events from JSON Lines, one per line, with their line numbers:
/// the reader of `diff --events`, with the framing and the event parser
/// `route batch` uses. Blank lines and `#` comments are skipped; a line over
/// the length limit is skipped to its end and reported, so memory stays
/// bounded whatever the input.
///
/// ```
/// use commroute::jsonl::EventLines;
/// let input = "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\"}\n\nnot json\n";
/// let read: Vec<_> = EventLines::new(input.as_bytes()).collect();
/// assert_eq!(read[0].as_ref().unwrap().1.id(), "e1");
/// assert!(read[1].as_ref().unwrap_err().to_string().starts_with("line 3: "));
/// ```
pub struct EventLines<R> {
    lines: LineReader<R>,
}

impl<R: BufRead> EventLines<R> {
    /// A reader with the limit every command uses, [`MAX_LINE`].
    pub fn new(reader: R) -> Self {
        EventLines::with_max(reader, MAX_LINE)
    }

    /// A reader with another line length limit, for tests and fuzzing: a
    /// small limit reaches the overlong-line path with small inputs.
    pub fn with_max(reader: R, max: usize) -> Self {
        EventLines {
            lines: LineReader::new(reader, max),
        }
    }

    /// How many bytes of the input were read so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.lines.bytes()
    }
}

impl<R: BufRead> Iterator for EventLines<R> {
    type Item = Result<(usize, EventLine), LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, text) = match self.lines.next_line()? {
            Ok(read) => read,
            Err(e) => return Some(Err(e)),
        };
        Some(match parse_event(text) {
            Ok(event) => Ok((line, event.into_event_line())),
            Err(e) => Err(LineError::Line {
                line,
                problem: LineProblem::Json {
                    message: e.to_string(),
                    column: e.column(),
                },
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_over_the_limit_is_skipped_to_its_end_and_reported() {
        let long = format!("{{\"id\":\"{}\"}}", "x".repeat(100));
        let input = format!("{long}\r\n{}\n", r#"{"id":"e2","type":"inbound","client":"cleo"}"#);
        let read: Vec<_> = EventLines::with_max(std::io::BufReader::with_capacity(16, input.as_bytes()), 64).collect();
        assert_eq!(read.len(), 2);
        assert_eq!(
            read[0].as_ref().unwrap_err().to_string(),
            "line 1: the line is longer than 64 bytes"
        );
        assert_eq!(read[1].as_ref().unwrap().0, 2);
        assert_eq!(read[1].as_ref().unwrap().1.id(), "e2");
    }

    #[test]
    fn lines_of_invalid_utf8_and_blank_lines() {
        let input: &[u8] =
            b"\n  \n\xff\xfe\n{\"id\":\"e\",\"type\":\"outbound\",\"client\":\"c\",\"from_account\":\"a\"}";
        let read: Vec<_> = EventLines::new(input).collect();
        assert_eq!(
            read[0].as_ref().unwrap_err().to_string(),
            "line 3: the line is not valid UTF-8 text"
        );
        assert_eq!(read[1].as_ref().unwrap().0, 4);
        assert_eq!(read.len(), 2);
    }

    #[test]
    fn the_limit_does_not_count_the_line_end() {
        let at_limit = "x".repeat(8);
        for (input, refused) in [
            (format!("{at_limit}\n"), false),
            (format!("{at_limit}\r\n"), false),
            (at_limit.clone(), false),
            (format!("{at_limit}y\n"), true),
            (format!("{at_limit}y\r\n"), true),
            (format!("{at_limit}\r\r\n"), true),
        ] {
            let mut lines = LineReader::new(input.as_bytes(), 8);
            let read = lines.next_line().unwrap();
            assert_eq!(
                matches!(
                    read,
                    Err(LineError::Line {
                        problem: LineProblem::TooLong { .. },
                        ..
                    })
                ),
                refused,
                "{input:?}"
            );
            assert_eq!(frame(input.trim_end_matches('\n').as_bytes(), 8).is_err(), refused);
        }
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_and_still_counted() {
        let input = b"\xef\xbb\xbf# a comment\n   # indented, \xff not UTF-8\n \t\r\n{}\n#\n\n[]";
        let mut lines = LineReader::new(&input[..], MAX_LINE);
        assert_eq!(lines.next_line().unwrap().unwrap(), (4, "{}"));
        assert_eq!(lines.next_line().unwrap().unwrap(), (7, "[]"));
        assert!(lines.next_line().is_none());
        assert_eq!(lines.line(), 7);
    }
}
