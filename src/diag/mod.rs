//! Diagnostics a person can act on.
//!
//! Every problem found while loading a file becomes a [`Diagnostic`]: the file,
//! the line and column, the entry it concerns (a rule id, a client id, a case
//! name), what is wrong and what would be valid. Loaders collect all of them
//! before giving up, so one run shows every problem at once. [`Diagnostics`]
//! renders them with a source gutter and a caret, the way compilers do.

use std::fmt;
use std::path::PathBuf;

use crate::text;

mod source;

pub use source::{looks_binary, not_a_file, Source, WithoutBom, BOM, MAX_FILE_SIZE, STDIN_NAME};

/// A position in a source file, 1-based like editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// The line, from 1; 0 when the position is the whole file.
    pub line: usize,
    /// The column, from 1.
    pub col: usize,
}

impl Pos {
    /// The position at `line` and `col`, both from 1.
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

/// One problem in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in, as the user named it.
    pub path: PathBuf,
    /// Line 0 means the problem concerns the whole file.
    pub pos: Pos,
    /// What the problem is about, e.g. "rule `push`" or "client `cleo`".
    pub subject: Option<String>,
    /// What is wrong, in a sentence.
    pub message: String,
    /// What would be valid, or how to fix it, when there is something to say.
    pub help: Option<String>,
    /// The offending line, kept so the diagnostic renders without the file;
    /// for a long line, only an excerpt around the column (see [`Diagnostic::at`]).
    pub snippet: Option<String>,
    /// The caret's column in `snippet` when the snippet is an excerpt of
    /// the line (otherwise the caret goes under `pos.col`).
    pub snippet_col: Option<usize>,
}

impl Diagnostic {
    /// A problem at `pos` in `path`, without a subject, help or source line.
    pub fn new(path: impl Into<PathBuf>, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.into(),
            pos,
            subject: None,
            message: message.into(),
            help: None,
            snippet: None,
            snippet_col: None,
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
        // Only an excerpt of a long line is kept: a file of one 13 MB line
        // with many problems must not hold (or scan) the line per problem.
        if let Some((snippet, col)) = source.excerpt(pos.line, pos.col) {
            d.snippet = Some(snippet);
            d.snippet_col = col;
        }
        d
    }

    /// Names the entry the problem concerns, e.g. "rule `push`".
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The id of the rule the problem is in, when its subject is a rule
    /// (`rule `push``).
    pub fn rule_id(&self) -> Option<&str> {
        self.subject
            .as_deref()
            .and_then(|s| s.strip_prefix("rule `"))
            .and_then(|s| s.split_once('`'))
            .map(|(id, _)| id)
    }

    /// Adds what would be valid, or how to fix it.
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
    /// Renders the diagnostic for a person. Everything taken from the input
    /// (the path, quoted values, the source line) is shown with control and
    /// bidi characters escaped ([`text::shown`]), long quoted values and
    /// long lines as excerpts, and the caret under the right character of
    /// the line as shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |s: &str| text::shown(&text::brief(s)).into_owned();
        write!(f, "error: ")?;
        if let Some(subject) = &self.subject {
            write!(f, "{}: ", show(subject))?;
        }
        writeln!(f, "{}", show(&self.message))?;
        writeln!(f, "  --> {}", show(&self.location()))?;
        if let Some(snippet) = &self.snippet {
            let num = self.pos.line.to_string();
            let pad = " ".repeat(num.len());
            let w = Window::new(snippet, self.snippet_col.unwrap_or(self.pos.col));
            writeln!(f, "{pad} |")?;
            writeln!(f, "{num} | {}", w.shown())?;
            writeln!(f, "{pad} | {}^", " ".repeat(w.caret_indent()))?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {}", show(help))?;
        }
        Ok(())
    }
}

/// At most this many characters of a source line are quoted under a
/// diagnostic, around the column it points at.
pub const SNIPPET_WIDTH: usize = 120;

/// The part of a source line shown under a diagnostic: the whole line when
/// it is short, else [`SNIPPET_WIDTH`] characters around the caret, with `…`
/// where the line goes on.
struct Window<'a> {
    /// The shown characters.
    part: &'a str,
    /// The caret's index among the characters of `part` (may be its length:
    /// just past the end).
    caret: usize,
    left_cut: bool,
    right_cut: bool,
}

impl<'a> Window<'a> {
    /// The window of `line` around column `col` (1-based, in characters).
    fn new(line: &'a str, col: usize) -> Self {
        let n = line.chars().count();
        let caret = col.saturating_sub(1).min(n);
        // Short lines are shown whole, also when they are an excerpt made
        // by `Source::excerpt` (SNIPPET_WIDTH characters and two `…`).
        if n <= SNIPPET_WIDTH + 2 {
            return Window {
                part: line,
                caret,
                left_cut: false,
                right_cut: false,
            };
        }
        let start = caret.saturating_sub(SNIPPET_WIDTH / 2).min(n - SNIPPET_WIDTH);
        let end = start + SNIPPET_WIDTH;
        let at = |k: usize| line.char_indices().nth(k).map_or(line.len(), |(i, _)| i);
        let (from, to) = (at(start), at(end));
        Window {
            part: &line[from..to],
            caret: caret - start,
            left_cut: start > 0,
            right_cut: end < n,
        }
    }

    /// The window as shown, escapes and `…` marks included.
    fn shown(&self) -> String {
        let mut s = String::with_capacity(self.part.len() + 6);
        if self.left_cut {
            s.push('…');
        }
        for c in self.part.chars() {
            text::push_shown(&mut s, c);
        }
        if self.right_cut {
            s.push('…');
        }
        s
    }

    /// How many columns the caret is indented under [`Window::shown`].
    fn caret_indent(&self) -> usize {
        usize::from(self.left_cut) + self.part.chars().take(self.caret).map(text::shown_len).sum::<usize>()
    }
}

/// Every problem found in one load, in file and position order.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Records one more problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Adds every problem another load (or another file) found.
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

/// Names longer than this many characters get no suggestion, and are not
/// suggested: nobody mistypes a 256-character id by one letter, and
/// comparing two long strings costs the product of their lengths.
pub const SUGGEST_MAX_CHARS: usize = 256;

/// Suggests the closest known name for a typo, if one is close enough: the
/// same name in another case, or one at most a third of the longer name's
/// characters apart (at least one edit), counting insertions, deletions,
/// substitutions and swaps of neighbouring characters (`strsim::osa_distance`).
///
/// The work is bounded whatever the input: a word or candidate longer than
/// [`SUGGEST_MAX_CHARS`] is skipped, and so is a candidate whose length alone
/// puts it too far away, before any distance is computed.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // A character is at most 4 bytes: longer than this many bytes is too long.
    if word.len() > 4 * SUGGEST_MAX_CHARS {
        return None;
    }
    let n = word.chars().count();
    if n > SUGGEST_MAX_CHARS {
        return None;
    }
    let mut best: Option<(usize, &'a str)> = None;
    for k in known {
        if k.len() > 4 * SUGGEST_MAX_CHARS {
            continue;
        }
        let m = k.chars().count();
        let limit = (n.max(m) / 3).max(1);
        // The distance is at least the difference in length.
        if n.abs_diff(m) > limit || m > SUGGEST_MAX_CHARS {
            continue;
        }
        // The same name in another case is the closest there is.
        let d = if k.eq_ignore_ascii_case(word) {
            0
        } else {
            strsim::osa_distance(word, k)
        };
        if d <= limit && d < n && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
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
mod shown_tests {
    use super::*;

    /// The quoted line and the caret line of a rendered diagnostic.
    fn quoted(text: &str) -> (&str, &str) {
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| l.ends_with('^')).expect("a caret line");
        (lines[at - 1], lines[at])
    }

    /// Characters, not bytes: where `needle` starts in `line`, and where the caret is.
    fn columns(line: &str, caret: &str, needle: &str) -> (usize, usize) {
        let byte = line.find(needle).unwrap_or_else(|| panic!("`{needle}` in {line}"));
        (line[..byte].chars().count(), caret.chars().count() - 1)
    }

    fn has_control(text: &str) -> bool {
        text.chars().any(|c| c != '\n' && (crate::text::is_escaped(c)))
    }

    #[test]
    fn control_characters_in_a_diagnostic_are_shown_escaped_with_the_caret_still_under_the_column() {
        let line = "  - {id: \"a\u{1b}[2J\", name: \u{202e}Cleo\t\u{9b}x, bad: 1}";
        let src = Source::new("w.yaml", format!("clients:\n{line}\n"));
        let col = line[..line.find("bad").unwrap()].chars().count() + 1;
        let d = Diagnostic::at(&src, Pos::new(2, col), "unknown key `bad\u{1b}]0;title\u{7}`")
            .subject("client `a\u{1b}[2J`")
            .help("did you mean `\u{202e}name`?");
        let text = d.to_string();
        assert!(!has_control(&text), "{text:?}");
        assert!(
            text.starts_with("error: client `a\\u{1b}[2J`: unknown key `bad\\u{1b}]0;title\\u{7}`\n"),
            "{text}"
        );
        assert!(text.contains("= help: did you mean `\\u{202e}name`?"), "{text}");
        let (shown, caret) = quoted(&text);
        assert!(shown.contains("name: \\u{202e}Cleo\\t\\u{9b}x, bad: 1}"), "{shown}");
        let (want, got) = columns(shown, caret, "bad");
        assert_eq!(got, want, "the caret is under `bad`:\n{shown}\n{caret}");
    }

    #[test]
    fn a_message_cannot_fake_a_diagnostic_line() {
        let d = Diagnostic::new("w.yaml", Pos::new(1, 1), "unknown client `x\n  --> elsewhere.yaml:9:9`");
        let text = d.to_string();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("`x\\n  --> elsewhere.yaml:9:9`"), "{text}");
    }

    #[test]
    fn a_diagnostic_quotes_at_most_a_short_excerpt_of_a_long_line() {
        // One line of 3 MB, the problem in the middle: the diagnostic keeps
        // (and shows) about SNIPPET_WIDTH characters around it.
        let half = "x, ".repeat(500_000);
        let line = format!("a: [{half}bad, {half}]");
        let src = Source::new("w.yaml", line.clone());
        let col = line.find("bad").unwrap() + 1;
        let d = Diagnostic::at(&src, Pos::new(1, col), "unknown value `bad`");
        assert!(d.snippet.as_ref().unwrap().chars().count() <= SNIPPET_WIDTH + 2);
        let text = d.to_string();
        assert!(text.len() < 600, "{} bytes:\n{text}", text.len());
        assert!(text.contains(&format!("--> w.yaml:1:{col}")), "{text}");
        let (shown, caret) = quoted(&text);
        assert!(shown.starts_with("1 | …x, x,") && shown.ends_with("x, x…"), "{shown}");
        let (want, got) = columns(shown, caret, "bad");
        assert_eq!(got, want, "\n{shown}\n{caret}");

        // Near either end of the line, the excerpt starts or ends with it.
        for (col, start, end) in [(1, "1 | a: [x,", "…"), (line.chars().count() + 1, "1 | …", "x, ]")] {
            let text = Diagnostic::at(&src, Pos::new(1, col), "m").to_string();
            let (shown, caret) = quoted(&text);
            assert!(shown.starts_with(start) && shown.ends_with(end), "{shown}");
            assert_eq!(
                caret.chars().count() - 1,
                4 + (if col == 1 { 0 } else { shown.chars().count() - 4 })
            );
        }
    }

    #[test]
    fn many_problems_on_one_long_line_cost_no_scan_of_the_line_each() {
        // 40,000 problems on one 4 MB line: scanning (or copying) the line
        // per problem is 160 GB of work; finding each column through the
        // character marks is a few microseconds.
        let line = "a: b, ".repeat(700_000);
        let src = Source::new("w.yaml", line.clone());
        let t = std::time::Instant::now();
        let diags: Vec<Diagnostic> = (0..40_000)
            .map(|i| Diagnostic::at(&src, Pos::new(1, 1 + i * 100), "problem"))
            .collect();
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(diags
            .iter()
            .all(|d| d.snippet.as_ref().unwrap().len() < 4 * SNIPPET_WIDTH));
    }

    #[test]
    fn excerpts_of_long_lines_of_any_characters_match_the_line() {
        // Multi-byte characters, a line that is not the first, columns from
        // the start to just past the end.
        let line: String = "aé日\u{1f600}b".chars().cycle().take(3_000).collect();
        let src = Source::new("w.yaml", format!("first line é\r\n{line}\r\nlast"));
        let chars: Vec<char> = line.chars().collect();
        let n = chars.len();
        for col in (1..=n + 1).step_by(97).chain([1, 2, 60, 61, 62, n - 60, n, n + 1]) {
            let (snippet, at) = src.excerpt(2, col).unwrap();
            let caret = (col - 1).min(n);
            let start = caret.saturating_sub(SNIPPET_WIDTH / 2).min(n - SNIPPET_WIDTH);
            let end = start + SNIPPET_WIDTH;
            let mut want = String::new();
            if start > 0 {
                want.push('…');
            }
            want.extend(&chars[start..end]);
            if end < n {
                want.push('…');
            }
            assert_eq!(snippet, want, "col {col}");
            assert_eq!(at, Some(caret - start + usize::from(start > 0) + 1), "col {col}");
        }
        assert_eq!(src.excerpt(1, 3).unwrap(), ("first line é".to_owned(), None));
        assert_eq!(src.excerpt(3, 1).unwrap(), ("last".to_owned(), None));
        assert_eq!(src.excerpt(4, 1), None);
    }

    #[test]
    fn a_long_snippet_set_whole_is_cut_when_shown() {
        // Source::read sets the whole line of an invalid UTF-8 file.
        let mut d = Diagnostic::new("w.yaml", Pos::new(1, 5000), "the file is not valid UTF-8 text");
        d.snippet = Some(format!("{}\u{fffd}{}", "é".repeat(4999), "é".repeat(5000)));
        let text = d.to_string();
        let (shown, caret) = quoted(&text);
        assert!(shown.chars().count() <= SNIPPET_WIDTH + 6, "{shown}");
        let (want, got) = columns(shown, caret, "\u{fffd}");
        assert_eq!(got, want);
    }

    #[test]
    fn a_huge_value_quoted_in_a_message_is_shortened() {
        let id = "q".repeat(12 << 20);
        let d = Diagnostic::new("w.yaml", Pos::new(3, 7), format!("unknown location `{id}`"))
            .subject(format!("client `{id}`"));
        let text = d.to_string();
        assert!(text.len() < 400, "{} bytes", text.len());
        assert!(text.starts_with("error: client `qqq"), "{text}");
        assert!(text.contains("…"), "{text}");
    }

    #[test]
    fn did_you_mean_costs_no_time_or_memory_per_byte_of_a_huge_id() {
        // Was 25 s and 1.9 GB (release) for a 12 MB id: a full distance
        // matrix per candidate. Now a length check first, then nothing.
        let id = "x".repeat(12 << 20);
        let t = std::time::Instant::now();
        assert_eq!(did_you_mean(&id, ["A", "B", "cleo", "x"]), None);
        // Two long names of equal length are not compared either.
        let long = "a".repeat(100_000);
        let other = format!("{}b", "a".repeat(99_999));
        assert_eq!(did_you_mean(&long, [other.as_str()]), None);
        assert!(t.elapsed() < std::time::Duration::from_secs(1), "{:?}", t.elapsed());
        // Close names are still found, by characters.
        assert_eq!(did_you_mean("clinet", ["client", "staff"]), Some("client"));
        assert_eq!(did_you_mean("Zürihc", ["Zürich", "Bern"]), Some("Zürich"));
        assert_eq!(did_you_mean("a", ["A", "B"]), Some("A"));
        assert_eq!(did_you_mean("c", ["A", "B"]), None);
        assert!(did_you_mean(&"a".repeat(200), [format!("{}b", "a".repeat(199)).as_str()]).is_some());
    }
}
