//! Reading YAML with positions, collecting every problem.
//!
//! All of commroute's files (rules, worlds, scenarios) are read through this
//! module: `marked_yaml` keeps the line and column of every node, and [`Doc`]
//! offers small typed accessors that record a [`Diagnostic`] and carry on
//! instead of stopping at the first problem. Anchors and aliases are refused by
//! the loader, so an alias bomb cannot expand. The loader (`loader.rs`) builds
//! `marked_yaml`'s nodes itself so that one long top-level list can be read
//! entry by entry ([`Doc::parse_streaming`]).

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, Node};

mod loader;
use loader::LoadStop;
pub use loader::Stream;

use crate::diag::{did_you_mean, one_of, Diagnostic, Diagnostics, Pos, Source};

/// The deepest nesting accepted in any file: lists and mappings inside the
/// top-level mapping, as the parser sees them (never brackets inside a
/// scalar or a comment). A deeper collection stops the reading where it
/// opens, before anything is built or walked below it, so hostile files
/// cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A string read from a file, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str {
    /// The text as written (numbers and booleans keep their spelling).
    pub value: String,
    /// Where the value starts in its file.
    pub pos: Pos,
}

impl Str {
    /// The text, without its position.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// A YAML document being read: its source and the problems found so far.
pub struct Doc {
    /// The file being read, kept to quote its lines in diagnostics.
    pub source: Source,
    /// Every problem recorded so far; reading goes on after each.
    pub diags: Diagnostics,
}

impl Doc {
    /// Parses the source. Syntax errors stop here: nothing else can be read.
    pub fn parse(source: Source) -> Result<(Doc, Node), Diagnostics> {
        Doc::parse_streaming(source, None)
    }

    /// Parses the source like [`Doc::parse`], except that the entries of the
    /// top-level list `stream.key` are handed to `stream.sink` one at a time
    /// as they are read, instead of being kept in the tree (which then holds
    /// an empty list there). A large world's `clients:` is read this way.
    pub fn parse_streaming(source: Source, stream: Option<Stream<'_>>) -> Result<(Doc, Node), Diagnostics> {
        let text = source.text.clone();
        let mut chars = Checked::new(text.chars());
        // The parser is not ours: make sure no input can turn into a panic.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader::parse(&mut chars, stream)));
        if let Some(bad) = chars.bad {
            return Err(bad.diagnostic(&source).into());
        }
        let node = match parsed {
            Ok(Ok(node)) => node,
            Ok(Err(LoadStop::Yaml(LoadError::ScanError(m, e)))) if e.info().contains("recursion limit exceeded") => {
                // The scanner looks ahead along a line for a key's `:` and
                // stops at 255 open flow collections, before the parser has
                // said where they open. Read again up to that point: the
                // loader then stops where the 65th level opens.
                let upto = Checked::new(text.chars().take(m.character()));
                return Err(match loader::parse(upto, None) {
                    Err(e @ LoadStop::TooDeep(_)) => load_error(&source, e),
                    _ => load_error(&source, LoadStop::TooDeep(m)),
                }
                .into());
            }
            Ok(Err(e)) => return Err(load_error(&source, e).into()),
            Err(_) => return Err(parser_panicked(&source.path).into()),
        };
        Ok((
            Doc {
                source,
                diags: Diagnostics::default(),
            },
            node,
        ))
    }

    /// Records a problem at `pos`, quoting the file's line, with the entry it
    /// concerns and what would be valid when known.
    pub fn error(&mut self, pos: Pos, subject: Option<&str>, message: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::at(&self.source, pos, message);
        if let Some(s) = subject {
            d = d.subject(s);
        }
        if let Some(h) = help {
            d = d.help(h);
        }
        self.diags.push(d);
    }

    /// The node as a mapping, or a recorded error.
    pub fn mapping<'a>(&mut self, node: &'a Node, what: &str, subject: Option<&str>) -> Option<&'a MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            other => {
                self.error(
                    Pos::of(other.span()),
                    subject,
                    format!(
                        "{what} must be a mapping of `key: value` lines, found {}",
                        describe(other)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// The node as a list, or a recorded error.
    pub fn sequence<'a>(
        &mut self,
        node: &'a Node,
        what: &str,
        subject: Option<&str>,
    ) -> Option<&'a MarkedSequenceNode> {
        match node {
            Node::Sequence(s) => Some(s),
            other => {
                self.error(
                    Pos::of(other.span()),
                    subject,
                    format!("{what} must be a list, found {}", describe(other)),
                    Some("write one `- item` per line, or `[a, b]`".into()),
                );
                None
            }
        }
    }

    /// Records every key of `map` that is not in `allowed`, suggesting the
    /// closest allowed one.
    pub fn check_keys(&mut self, map: &MarkedMappingNode, allowed: &[&str], what: &str, subject: Option<&str>) {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let help = match did_you_mean(key.as_str(), allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? valid keys are {}", one_of(allowed)),
                    None => format!("valid keys are {}", one_of(allowed)),
                };
                self.error(
                    Pos::of(key.span()),
                    subject,
                    format!("unknown key `{}` in {what}", key.as_str()),
                    Some(help),
                );
            }
        }
    }

    /// A scalar read as a string (numbers and booleans keep their spelling).
    pub fn string(&mut self, node: &Node, what: &str, subject: Option<&str>) -> Option<Str> {
        match node {
            Node::Scalar(s) => Some(str_of(s)),
            other => {
                self.error(
                    Pos::of(other.span()),
                    subject,
                    format!("{what} must be a single value, found {}", describe(other)),
                    None,
                );
                None
            }
        }
    }

    /// A scalar read as `true` or `false`, or a recorded error.
    pub fn boolean(&mut self, node: &Node, what: &str, subject: Option<&str>) -> Option<bool> {
        let s = self.string(node, what, subject)?;
        match s.value.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.error(
                    s.pos,
                    subject,
                    format!("{what} must be `true` or `false`, found `{}`", s.value),
                    None,
                );
                None
            }
        }
    }

    /// A scalar read as a whole number, or a recorded error.
    pub fn integer(&mut self, node: &Node, what: &str, subject: Option<&str>) -> Option<i64> {
        let s = self.string(node, what, subject)?;
        match s.value.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(
                    s.pos,
                    subject,
                    format!("{what} must be a whole number, found `{}`", s.value),
                    None,
                );
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a one-item list.
    pub fn strings(&mut self, node: &Node, what: &str, subject: Option<&str>) -> Option<Vec<Str>> {
        match node {
            Node::Scalar(s) => Some(vec![str_of(s)]),
            Node::Sequence(seq) => {
                let mut out = Vec::with_capacity(seq.len());
                for item in seq.iter() {
                    out.push(self.string(item, &format!("each item of {what}"), subject)?);
                }
                Some(out)
            }
            Node::Mapping(m) => {
                self.error(
                    Pos::of(m.span()),
                    subject,
                    format!("{what} must be a list of values, found a mapping"),
                    None,
                );
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded, otherwise every problem, sorted.
    pub fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        self.diags.into_result(value)
    }
}

/// Looks up `key` in `map`, returning the key's position too.
pub fn get<'a>(map: &'a MarkedMappingNode, key: &str) -> Option<&'a Node> {
    map.get_node(key)
}

/// Where a key sits in the file, for errors about the entry as a whole.
pub fn key_pos(map: &MarkedMappingNode, key: &str) -> Option<Pos> {
    map.keys().find(|k| k.as_str() == key).map(|k| Pos::of(k.span()))
}

/// The value of a key of `map` that was meant to be `key`: a key not in
/// `allowed` whose closest valid key is `key`. [`Doc::check_keys`] reports
/// that key with `did you mean`, so a missing `key` is not reported again
/// (one mistake, one error), and an entry may still be known by its
/// misspelt `id`.
pub fn misspelt<'a>(map: &'a MarkedMappingNode, key: &str, allowed: &[&str]) -> Option<&'a Node> {
    map.iter()
        .find(|(k, _)| {
            !allowed.contains(&k.as_str())
                && crate::diag::did_you_mean(k.as_str(), allowed.iter().copied()) == Some(key)
        })
        .map(|(_, v)| v)
}

pub(crate) fn str_of(s: &MarkedScalarNode) -> Str {
    Str {
        value: s.as_str().to_owned(),
        pos: Pos::of(s.span()),
    }
}

pub(crate) fn describe(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a single value",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

fn parser_panicked(path: &std::path::Path) -> Diagnostic {
    Diagnostic::new(path, Pos::default(), "the YAML parser could not read this file")
        .help("check the file is plain YAML without anchors, aliases or tags")
}

fn load_error(source: &Source, e: LoadStop) -> Diagnostic {
    let at = |m: &marked_yaml::Marker| Pos::new(m.line(), m.column());
    let e = match e {
        LoadStop::TooDeep(m) => {
            return Diagnostic::at(source, at(&m), format!("the file nests deeper than {MAX_DEPTH} levels"))
                .help("flatten the structure; no commroute file needs this much nesting")
        }
        LoadStop::SecondDocument(m) => {
            return Diagnostic::at(
                source,
                at(&m),
                "the file holds a second YAML document; commroute reads one document per file",
            )
            .help("remove the `---` line and what follows it, or move it to a file of its own")
        }
        // The scanner looks ahead along a line for a key's `:` and stops at
        // 255 open flow collections; that is real nesting too.
        LoadStop::Yaml(LoadError::ScanError(m, e)) if e.info().contains("recursion limit exceeded") => {
            return load_error(source, LoadStop::TooDeep(m))
        }
        LoadStop::Yaml(e) => e,
    };
    match e {
        // Not YAML of `key: value` lines at all (a text file of another kind,
        // or a file named by mistake): say so without quoting its contents.
        LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => Diagnostic::new(
            &source.path,
            at(&m),
            "the file is not YAML of `key: value` lines: its top level is not a mapping",
        )
        .help("check the path names the file you meant"),
        LoadError::UnexpectedAnchor(m) => Diagnostic::at(source, at(&m), "YAML anchors and aliases are not supported")
            .help("write the value out in full where it is needed"),
        LoadError::MappingKeyMustBeScalar(m) => Diagnostic::at(
            source,
            at(&m),
            "a mapping key must be a single value, not a list or a mapping",
        ),
        LoadError::UnexpectedTag(m) => {
            Diagnostic::at(source, at(&m), "YAML tags (`!name`) are not supported").help("remove the tag")
        }
        LoadError::ScanError(m, e) => {
            Diagnostic::at(source, at(&m), format!("invalid YAML: {}", e.info())).help("check indentation and quoting")
        }
        LoadError::DuplicateKey(inner) => {
            let first = Pos::of(inner.prev_key.span());
            Diagnostic::at(
                source,
                Pos::of(inner.key.span()),
                format!("the key `{}` appears twice in the same mapping", inner.key.as_str()),
            )
            .help(format!("it was first given at line {}; keep one", first.line))
        }
    }
}

/// Whether YAML forbids the character anywhere in a file: the C0 controls
/// but tab, line feed and carriage return, DEL, the C1 controls but NEL, and
/// the two noncharacters U+FFFE and U+FFFF (YAML 1.2, `c-printable`). The
/// parser takes a NUL for the end of the file and silently drops the rest,
/// so every one of them is refused before it reaches the parser.
pub fn yaml_forbids(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\x7f'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
}

/// A character YAML forbids, and where it was.
#[derive(Debug, Clone, Copy)]
struct BadChar {
    pos: Pos,
    c: char,
}

impl BadChar {
    fn diagnostic(&self, source: &Source) -> Diagnostic {
        let code = self.c as u32;
        let name = match self.c {
            '\0' => " (NUL)".to_owned(),
            '\x1b' => " (ESC)".to_owned(),
            '\x7f' => " (DEL)".to_owned(),
            _ => String::new(),
        };
        let message = format!("the file holds the control character U+{code:04X}{name}, which YAML does not allow");
        if crate::diag::looks_binary(source.text.as_bytes()) {
            return Diagnostic::new(&source.path, Pos::default(), "the file is binary, not YAML text")
                .help("check the path names the file you meant");
        }
        let escape = if code <= 0xff {
            format!("\\x{code:02x}")
        } else {
            format!("\\u{code:04x}")
        };
        Diagnostic::at(source, self.pos, message).help(format!(
            "remove it; if a text needs it, write it as `{escape}` inside double quotes"
        ))
    }
}

/// The characters of a file on their way to the parser: a leading byte-order
/// mark is skipped (editors on Windows write one), and the first character
/// YAML forbids ends them, remembered in `bad` with its line and column.
struct Checked<I> {
    chars: I,
    line: usize,
    col: usize,
    bad: Option<BadChar>,
}

impl<I: Iterator<Item = char>> Checked<I> {
    fn new(chars: I) -> Self {
        Checked {
            chars,
            line: 1,
            col: 0,
            bad: None,
        }
    }
}

impl<I: Iterator<Item = char>> Iterator for Checked<I> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if self.bad.is_some() {
            return None;
        }
        let mut c = self.chars.next()?;
        if self.line == 1 && self.col == 0 && c == '\u{feff}' {
            c = self.chars.next()?;
        }
        if c == '\n' {
            self.line += 1;
            self.col = 0;
        } else {
            self.col += 1;
        }
        if yaml_forbids(c) {
            self.bad = Some(BadChar {
                pos: Pos::new(self.line, self.col),
                c,
            });
            return None;
        }
        Some(c)
    }
}

/// A file's characters, read line by line as the parser asks for them, so
/// a large file is never held whole. The checks [`Source::read`] makes on a
/// whole text (size, UTF-8) are made line by line; the first one that fails
/// ends the characters early and is remembered in `failed`.
struct FileChars<R> {
    reader: R,
    bytes: Vec<u8>,
    line: String,
    at: usize,
    total: u64,
    failed: bool,
}

impl<R: std::io::BufRead> FileChars<R> {
    fn new(reader: R) -> Self {
        FileChars {
            reader,
            bytes: Vec::new(),
            line: String::new(),
            at: 0,
            total: 0,
            failed: false,
        }
    }

    /// Reads and checks the next line; `false` at the end or on a failed check.
    fn next_line(&mut self) -> bool {
        self.bytes.clear();
        // One byte past the limit is enough to know the file is too long,
        // however long its lines.
        let left = (crate::diag::MAX_FILE_SIZE + 1).saturating_sub(self.total);
        let read = match std::io::BufRead::read_until(
            &mut std::io::Read::take(&mut self.reader, left),
            b'\n',
            &mut self.bytes,
        ) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(_) => {
                self.failed = true;
                return false;
            }
        };
        self.total += read as u64;
        let bytes = std::mem::take(&mut self.bytes);
        self.line = match String::from_utf8(bytes) {
            Ok(line) => line,
            Err(_) => {
                self.failed = true;
                return false;
            }
        };
        self.at = 0;
        if self.total > crate::diag::MAX_FILE_SIZE {
            self.failed = true;
            return false;
        }
        true
    }
}

impl<R: std::io::BufRead> Iterator for FileChars<R> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        loop {
            if let Some(c) = self.line[self.at..].chars().next() {
                self.at += c.len_utf8();
                return Some(c);
            }
            if self.failed || !self.next_line() {
                return None;
            }
        }
    }
}

impl Doc {
    /// Parses an open regular file as it is read, like
    /// [`Doc::parse_streaming`], without ever holding its whole text: a large
    /// world is parsed in a few kilobytes beyond what is built from it. The
    /// returned document has no text, so its diagnostics carry no line
    /// excerpt; any problem at all (unreadable, too large, not UTF-8, a
    /// character YAML forbids, nested too deep, invalid YAML) returns `None`,
    /// and callers that want the full report rewind the same file and read
    /// it whole with [`Source::from_file`] and [`Doc::parse_streaming`]
    /// (a file is opened once: a second open of a pipe can wait forever).
    pub fn parse_file_streaming(
        path: &std::path::Path,
        file: &mut std::fs::File,
        stream: Option<Stream<'_>>,
    ) -> Option<(Doc, Node)> {
        let mut chars = FileChars::new(std::io::BufReader::with_capacity(1 << 16, file));
        let mut checked = Checked::new(&mut chars);
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader::parse(&mut checked, stream)));
        let bad = checked.bad.is_some();
        match parsed {
            Ok(Ok(node)) if !chars.failed && !bad => Some((
                Doc {
                    source: Source::new(path, ""),
                    diags: Diagnostics::default(),
                },
                node,
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Doc, Node), Diagnostics> {
        Doc::parse(Source::new("t.yaml", text))
    }

    #[test]
    fn anchors_are_refused_with_position() {
        let err = parse("a: &x [1]\nb: *x\n").err().unwrap();
        assert!(err.0[0].message.contains("anchors"), "{err}");
    }

    #[test]
    fn a_scalar_with_an_anchor_and_a_tag_is_refused_for_its_anchor_as_marked_yaml_does() {
        for text in ["a: &x !!str foo\n", "a: !!str &x foo\n"] {
            let err = parse(text).err().unwrap();
            assert!(err.0[0].message.contains("anchors"), "{text:?}: {err}");
            let theirs = marked_yaml::parse_yaml(0, text).unwrap_err();
            assert!(matches!(theirs, LoadError::UnexpectedAnchor(_)), "{theirs}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let text = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&text).err().unwrap();
        assert!(err.0[0].message.contains("nests deeper"), "{err}");
    }

    #[test]
    fn nesting_by_block_indicators_on_one_line_is_refused_without_recursing() {
        // A list of lists a hundred thousand deep, on one line.
        let text = format!("a:\n{}x\n", "- ".repeat(100_000));
        let err = parse(&text).err().unwrap();
        assert_eq!(err.0[0].message, "the file nests deeper than 64 levels", "{err}");
        // The 65th list opens at the 65th `-`.
        assert_eq!(err.0[0].pos, Pos::new(2, 2 * 64 + 1), "{err}");
        // Explicit keys and values nested the same way are refused as the
        // first key that is not a single value, before anything deeper is read.
        for indicator in ["? ", ": ", "- ? "] {
            let text = format!("{}x\n", indicator.repeat(100_000));
            assert!(parse(&text).is_err(), "{indicator:?}");
        }
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let err = parse("a: 1\na: 2\n").err().unwrap();
        assert_eq!(err.0[0].pos, Pos::new(2, 1));
        assert!(err.0[0].help.as_deref().unwrap().contains("line 1"));
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let (mut doc, node) = parse("naem: x\n").unwrap();
        let map = doc.mapping(&node, "the file", None).unwrap();
        doc.check_keys(map, &["name", "id"], "an account", Some("account `x`"));
        let d = &doc.diags.0[0];
        assert_eq!(d.message, "unknown key `naem` in an account");
        assert!(d.help.as_deref().unwrap().starts_with("did you mean `name`?"));
    }
}
