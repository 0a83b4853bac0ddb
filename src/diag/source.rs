//! Reading a file once: its size and encoding checked, a byte-order mark
//! dropped, binary data and things that are not files refused, and its text
//! kept with fast line and character-column lookups for diagnostics.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::{Diagnostic, Diagnostics, Pos, SNIPPET_WIDTH};

/// The largest file commroute reads: 32 MiB. A world of 100,000 clients is
/// about 20 MiB; anything larger is refused with a clear error instead of
/// being parsed into a tree many times its size.
pub const MAX_FILE_SIZE: u64 = 32 * 1024 * 1024;

/// The UTF-8 byte-order mark, accepted (and dropped) at the start of every file.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A reader that drops a leading UTF-8 byte-order mark, for the inputs read
/// as a stream (JSON Lines events, stdin) rather than as a [`Source`].
pub struct WithoutBom<R> {
    inner: R,
    head: [u8; 3],
    /// The bytes of `head` still to hand out: `at..len`.
    at: usize,
    len: usize,
    started: bool,
}

impl<R: Read> WithoutBom<R> {
    /// Wraps a stream whose first bytes may be a byte order mark.
    pub fn new(inner: R) -> Self {
        WithoutBom {
            inner,
            head: [0; 3],
            at: 0,
            len: 0,
            started: false,
        }
    }
}

impl<R: Read> Read for WithoutBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.started {
            // Up to three bytes, however the input comes in.
            while self.len < 3 {
                match self.inner.read(&mut self.head[self.len..]) {
                    Ok(0) => break,
                    Ok(n) => self.len += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.started = true;
            if self.head[..self.len] == *BOM {
                self.len = 0;
            }
        }
        if self.at < self.len {
            let n = buf.len().min(self.len - self.at);
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// The name standard input goes by in messages, where a file's path would be.
pub const STDIN_NAME: &str = "<stdin>";

fn too_large(path: &Path) -> Diagnostics {
    Diagnostic::new(
        path,
        Pos::default(),
        format!(
            "the file is larger than {} MiB, the most commroute reads",
            MAX_FILE_SIZE >> 20
        ),
    )
    .help("split the file, or check it is the file you meant")
    .into()
}

fn cannot_read(path: &Path, e: &std::io::Error) -> Diagnostics {
    Diagnostic::new(path, Pos::default(), format!("cannot read the file: {e}")).into()
}

/// Whether a file's bytes are binary data rather than text of any encoding:
/// more than one byte in sixteen of its first 8 KiB a control character that
/// text does not use (a stray NUL in a text file is not enough: that one is
/// reported where it is). Diagnostics never quote such a file.
pub fn looks_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    let controls = head
        .iter()
        .filter(|b| matches!(b, 0..=8 | 0x0e..=0x1a | 0x1c..=0x1f))
        .count();
    controls * 16 > head.len()
}

/// What a path names when it is not a regular file, from its metadata (which
/// is read without opening the file, so a named pipe cannot block):
/// `a named pipe (FIFO)`, `a character device`, ...; `None` for a file.
pub fn not_a_file(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// A source file: its name as the user gave it and its text, shared cheaply.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's name as the user gave it, for diagnostics.
    pub path: PathBuf,
    /// The file's text, without a leading byte order mark.
    pub text: Arc<str>,
    /// Where each line starts, found the first time a line is looked up, so
    /// that a file with many problems is not scanned once per problem.
    line_starts: Arc<OnceLock<Vec<usize>>>,
    /// The byte offset of every [`CHAR_MARK`]-th character, built the first
    /// time a long line is quoted, so that a column of a line of megabytes is
    /// found without scanning the line once per problem.
    char_marks: Arc<OnceLock<Vec<usize>>>,
}

/// How many characters apart the marks of [`Source::char_marks`] are.
const CHAR_MARK: usize = 256;

impl Source {
    /// A source from text already in memory (the shipped rules, a file read
    /// from git, tests), with none of the size and encoding checks of [`Source::read`].
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
            line_starts: Arc::default(),
            char_marks: Arc::default(),
        }
    }

    /// Reads a file, turning I/O and encoding problems into a diagnostic.
    /// Files larger than [`MAX_FILE_SIZE`] are refused before they are read
    /// (by their size on disk) or as soon as the limit is passed (devices and
    /// pipes, whose size is unknown), so memory stays bounded.
    pub fn read(path: &Path) -> Result<Source, Diagnostics> {
        let (mut file, meta) = Source::open(path)?;
        Source::from_file(path, &mut file, &meta)
    }

    /// Opens a file once for reading, refusing a directory. Callers that may
    /// read a file twice (streamed, then whole for a full report) rewind this
    /// handle: opening a pipe a second time waits for a writer that may never
    /// come.
    pub fn open(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), Diagnostics> {
        let file = std::fs::File::open(path).map_err(|e| cannot_read(path, &e))?;
        let meta = file.metadata().map_err(|e| cannot_read(path, &e))?;
        if meta.is_dir() {
            return Err(Diagnostic::new(path, Pos::default(), "cannot read the file: it is a directory").into());
        }
        Ok((file, meta))
    }

    /// Reads an open file whole (see [`Source::read`]), from where it stands.
    /// A leading UTF-8 byte-order mark is dropped: editors on Windows write
    /// one, and it is not part of the text.
    pub fn from_file(path: &Path, file: &mut std::fs::File, meta: &std::fs::Metadata) -> Result<Source, Diagnostics> {
        if meta.len() > MAX_FILE_SIZE {
            return Err(too_large(path));
        }
        Source::read_all(path, file, meta.len() as usize)
    }

    /// Reads a stream whole, with the checks of [`Source::read`]: standard
    /// input, say, named [`STDIN_NAME`] in messages. At most
    /// [`MAX_FILE_SIZE`] bytes are read; a longer stream is refused.
    pub fn from_reader(path: &Path, reader: &mut impl Read) -> Result<Source, Diagnostics> {
        Source::read_all(path, reader, 0)
    }

    /// Reads up to [`MAX_FILE_SIZE`] bytes and checks they are UTF-8 text.
    fn read_all(path: &Path, reader: &mut impl Read, capacity: usize) -> Result<Source, Diagnostics> {
        let mut bytes = Vec::with_capacity(capacity);
        reader
            .take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| cannot_read(path, &e))?;
        if bytes.len() as u64 > MAX_FILE_SIZE {
            return Err(too_large(path));
        }
        if bytes.starts_with(BOM) {
            bytes.drain(..BOM.len());
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source::new(path, text)),
            Err(e) => {
                let bytes = e.as_bytes();
                let bad = e.utf8_error().valid_up_to();
                if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
                    return Err(
                        Diagnostic::new(path, Pos::default(), "the file is UTF-16 text, not UTF-8")
                            .help("save the file as UTF-8")
                            .into(),
                    );
                }
                // Not UTF-8 and a NUL near its start: no text file looks so.
                if looks_binary(bytes) || bytes[..bytes.len().min(8192)].contains(&0) {
                    return Err(Diagnostic::new(path, Pos::default(), "the file is binary, not text")
                        .help("check the path names the file you meant")
                        .into());
                }
                let line = bytes[..bad].iter().filter(|b| **b == b'\n').count() + 1;
                let start = bytes[..bad].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                let end = bytes[bad..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |i| bad + i);
                // Columns count characters, as editors do; the bad bytes show as `�`.
                let col = String::from_utf8_lossy(&bytes[start..bad]).chars().count() + 1;
                let mut d = Diagnostic::new(path, Pos::new(line, col), "the file is not valid UTF-8 text")
                    .help("save the file as UTF-8");
                d.snippet = Some(String::from_utf8_lossy(&bytes[start..end]).into_owned());
                Err(d.into())
            }
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    fn char_marks(&self) -> &[usize] {
        self.char_marks
            .get_or_init(|| self.text.char_indices().step_by(CHAR_MARK).map(|(i, _)| i).collect())
    }

    /// The index (from 0, in characters) of the character starting at byte
    /// `byte` of the text (or of the end, at its length).
    fn char_at_byte(&self, byte: usize) -> usize {
        let marks = self.char_marks();
        let k = marks.partition_point(|&m| m <= byte).saturating_sub(1);
        let from = marks.get(k).copied().unwrap_or(0);
        k * CHAR_MARK + self.text[from..byte].chars().count()
    }

    /// The byte offset of character `index` (from 0) of the text, or its
    /// length past the end.
    fn byte_at_char(&self, index: usize) -> usize {
        match self.char_marks().get(index / CHAR_MARK) {
            None => self.text.len(),
            Some(&m) => self.text[m..]
                .char_indices()
                .nth(index % CHAR_MARK)
                .map_or(self.text.len(), |(i, _)| m + i),
        }
    }

    /// Line `line` (from 1) as a diagnostic keeps it: whole when it is
    /// short, else [`SNIPPET_WIDTH`] characters around column `col`, with
    /// `…` where the line goes on, and the caret's column in that excerpt.
    /// The cost does not grow with the line's length.
    pub(super) fn excerpt(&self, line: usize, col: usize) -> Option<(String, Option<usize>)> {
        let text = self.line(line)?;
        // At most 4 bytes a character: short enough to show whole.
        if text.len() <= 4 * (SNIPPET_WIDTH + 2) {
            return Some((text.to_owned(), None));
        }
        let first = self.line_starts()[line - 1];
        let c0 = self.char_at_byte(first);
        let n = self.char_at_byte(first + text.len()) - c0;
        if n <= SNIPPET_WIDTH + 2 {
            return Some((text.to_owned(), None));
        }
        let caret = col.saturating_sub(1).min(n);
        let start = caret.saturating_sub(SNIPPET_WIDTH / 2).min(n - SNIPPET_WIDTH);
        let end = start + SNIPPET_WIDTH;
        let from = self.byte_at_char(c0 + start) - first;
        let to = self.byte_at_char(c0 + end) - first;
        let (left, right) = (start > 0, end < n);
        let snippet = format!(
            "{}{}{}",
            if left { "…" } else { "" },
            &text[from..to],
            if right { "…" } else { "" }
        );
        Some((snippet, Some(caret - start + usize::from(left) + 1)))
    }

    /// How many lines the text has, as `str::lines` counts them.
    pub(super) fn line_count(&self) -> usize {
        if self.text.is_empty() {
            return 0;
        }
        self.line_starts().len() - usize::from(self.text.ends_with('\n'))
    }

    /// Line `line` (from 1), as `str::lines` gives it.
    pub(crate) fn line(&self, line: usize) -> Option<&str> {
        if line == 0 || line > self.line_count() {
            return None;
        }
        let starts = self.line_starts();
        let start = starts[line - 1];
        Some(match starts.get(line) {
            // Ended by a newline: without it, and without a `\r` before it.
            Some(next) => {
                let l = &self.text[start..next - 1];
                l.strip_suffix('\r').unwrap_or(l)
            }
            None => &self.text[start..],
        })
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn lines_are_found_as_str_lines_gives_them() {
        for text in [
            "",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "\n\n",
            "a\r",
            "x\ny\r\nz\r",
            "é\nü\n",
        ] {
            let source = Source::new("t", text);
            assert_eq!(source.line_count(), text.lines().count(), "{text:?}");
            for n in 0..=text.lines().count() + 1 {
                let expected = n.checked_sub(1).and_then(|i| text.lines().nth(i));
                assert_eq!(source.line(n), expected, "{text:?} line {n}");
            }
        }
    }
}
