//! Diagnostics a person can act on.
//!
//! Every problem found while loading a file becomes a [`Diagnostic`]: the file,
//! the line and column, the entry it concerns (a rule id, a client id, a case
//! name), what is wrong and what would be valid. Loaders collect all of them
//! before giving up, so one run shows every problem at once. [`Diagnostics`]
//! renders them with a source gutter and a caret, the way compilers do.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A position in a source file, 1-based like editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub const fn new(line: usize, col: usize) -> Self {
        Pos { line, col }
    }

    /// The position of a YAML node, or 1:1 when the parser gave none.
    pub fn of(span: &marked_yaml::Span) -> Self {
        span.start()
            .map(|m| Pos::new(m.line(), m.column()))
            .unwrap_or(Pos::new(1, 1))
    }

    /// The position `offset` characters further along the same line.
    pub fn shifted(self, offset: usize) -> Self {
        Pos::new(self.line, self.col + offset)
    }
}

/// The largest file commroute reads: 32 MiB. A world of 100,000 clients is
/// about 20 MiB; anything larger is refused with a clear error instead of
/// being parsed into a tree many times its size.
pub const MAX_FILE_SIZE: u64 = 32 * 1024 * 1024;

/// A source file: its name as the user gave it and its text, shared cheaply.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: Arc<str>,
    /// Where each line starts, found the first time a line is looked up, so
    /// that a file with many problems is not scanned once per problem.
    line_starts: Arc<OnceLock<Vec<usize>>>,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
            line_starts: Arc::default(),
        }
    }

    /// Reads a file, turning I/O and encoding problems into a diagnostic.
    /// Files larger than [`MAX_FILE_SIZE`] are refused before they are read
    /// (by their size on disk) or as soon as the limit is passed (devices and
    /// pipes, whose size is unknown), so memory stays bounded.
    pub fn read(path: &Path) -> Result<Source, Diagnostics> {
        let cannot = |e: std::io::Error| -> Diagnostics {
            Diagnostic::new(path, Pos::default(), format!("cannot read the file: {e}")).into()
        };
        let too_large = || -> Diagnostics {
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
        };
        let file = std::fs::File::open(path).map_err(cannot)?;
        let meta = file.metadata().map_err(cannot)?;
        if meta.is_dir() {
            return Err(Diagnostic::new(path, Pos::default(), "cannot read the file: it is a directory").into());
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(cannot)?;
        if bytes.len() as u64 > MAX_FILE_SIZE {
            return Err(too_large());
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source::new(path, text)),
            Err(e) => {
                let bytes = e.as_bytes();
                let bad = e.utf8_error().valid_up_to();
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

    /// How many lines the text has, as `str::lines` counts them.
    fn line_count(&self) -> usize {
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

/// One problem in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// Line 0 means the problem concerns the whole file.
    pub pos: Pos,
    /// What the problem is about, e.g. "rule `push`" or "client `cleo`".
    pub subject: Option<String>,
    pub message: String,
    pub help: Option<String>,
    /// The offending line, kept so the diagnostic renders without the file.
    pub snippet: Option<String>,
}

impl Diagnostic {
    pub fn new(path: impl Into<PathBuf>, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.into(),
            pos,
            subject: None,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    /// A diagnostic at `pos` in `source`, carrying the offending line.
    pub fn at(source: &Source, pos: Pos, message: impl Into<String>) -> Self {
        // A parser may point just past the last line (an unclosed list): show
        // the end of the last line instead.
        let lines = source.line_count();
        let pos = match source.line(lines) {
            Some(last) if pos.line > lines => Pos::new(lines, last.chars().count() + 1),
            _ => pos,
        };
        let mut d = Diagnostic::new(source.path.clone(), pos, message);
        d.snippet = source.line(pos.line).map(str::to_owned);
        d
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col`, or just the file when there is no position.
    pub fn location(&self) -> String {
        if self.pos.line == 0 {
            self.path.display().to_string()
        } else {
            format!("{}:{}:{}", self.path.display(), self.pos.line, self.pos.col)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: ")?;
        if let Some(subject) = &self.subject {
            write!(f, "{subject}: ")?;
        }
        writeln!(f, "{}", self.message)?;
        writeln!(f, "  --> {}", self.location())?;
        if let Some(snippet) = &self.snippet {
            let num = self.pos.line.to_string();
            let pad = " ".repeat(num.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{num} | {snippet}")?;
            // The caret goes under the column, counting characters, not bytes.
            let indent: String = snippet
                .chars()
                .take(self.pos.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} | {indent}^")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one load, in file and position order.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Sorts by file and position so output is stable and reads top to bottom.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| (&a.path, a.pos).cmp(&(&b.path, b.pos)));
        self.0.dedup();
        self
    }

    /// `Ok(value)` when nothing was reported, otherwise every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self.sorted())
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        match self.0.len() {
            0 => Ok(()),
            1 => write!(f, "\n1 problem found"),
            n => write!(f, "\n{n} problems found"),
        }
    }
}

/// Suggests the closest known name for a typo, if one is close enough.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, k)| *d <= (k.len().max(word.len()) / 3).max(1) && *d < word.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and swaps of two neighbouring characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Lists names for a help line: `` `a`, `b` or `c` ``.
pub fn one_of<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{}`", n.as_ref())).collect();
    match quoted.len() {
        0 => String::from("nothing"),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("client.locatons", ["client.locations", "staff.locations"]),
            Some("client.locations")
        );
        assert_eq!(did_you_mean("zzz", ["client.locations"]), None);
    }

    #[test]
    fn renders_gutter_and_caret_under_the_column() {
        let src = Source::new("rules/x.yaml", "a: 1\n  bad: 2\n");
        let d = Diagnostic::at(&src, Pos::new(2, 3), "unknown key `bad`")
            .subject("rule `r`")
            .help("use `a`");
        let text = d.to_string();
        assert_eq!(
            text,
            "error: rule `r`: unknown key `bad`\n  --> rules/x.yaml:2:3\n  |\n2 |   bad: 2\n  |   ^\n  = help: use `a`\n"
        );
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
