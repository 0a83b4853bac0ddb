//! Reading YAML with positions, collecting every problem.
//!
//! All of commroute's files (rules, worlds, scenarios) are read through this
//! module: `marked_yaml` keeps the line and column of every node, and [`Doc`]
//! offers small typed accessors that record a [`Diagnostic`] and carry on
//! instead of stopping at the first problem. Anchors and aliases are refused by
//! the loader, so an alias bomb cannot expand. The loader ([`loader`]) builds
//! `marked_yaml`'s nodes itself so that one long top-level list can be read
//! entry by entry ([`Doc::parse_streaming`]).

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, Node};

mod loader;
pub use loader::Stream;

use crate::diag::{did_you_mean, one_of, Diagnostic, Diagnostics, Pos, Source};

/// The deepest nesting accepted in any file; deeper input is refused before
/// anything walks it, so hostile files cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A string read from a file, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str {
    pub value: String,
    pub pos: Pos,
}

impl Str {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// A YAML document being read: its source and the problems found so far.
pub struct Doc {
    pub source: Source,
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
        if let Some(pos) = too_deep(&source.text) {
            return Err(
                Diagnostic::at(&source, pos, format!("the file nests deeper than {MAX_DEPTH} levels"))
                    .help("flatten the structure; no commroute file needs this much nesting")
                    .into(),
            );
        }
        let text = source.text.clone();
        // The parser is not ours: make sure no input can turn into a panic.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader::parse(text.chars(), stream)));
        let node = match parsed {
            Ok(Ok(node)) => node,
            Ok(Err(e)) => return Err(load_error(&source, e).into()),
            Err(_) => {
                return Err(
                    Diagnostic::new(&source.path, Pos::default(), "the YAML parser could not read this file")
                        .help("check the file is plain YAML without anchors, aliases or tags")
                        .into(),
                )
            }
        };
        Ok((
            Doc {
                source,
                diags: Diagnostics::default(),
            },
            node,
        ))
    }

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

pub fn str_of(s: &MarkedScalarNode) -> Str {
    Str {
        value: s.as_str().to_owned(),
        pos: Pos::of(s.span()),
    }
}

pub fn describe(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a single value",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

fn load_error(source: &Source, e: LoadError) -> Diagnostic {
    let at = |m: &marked_yaml::Marker| Pos::new(m.line(), m.column());
    match e {
        LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => {
            Diagnostic::at(source, at(&m), "the file must be a YAML mapping of `key: value` lines")
        }
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

/// Finds where bracket or indentation nesting exceeds [`MAX_DEPTH`], with a
/// cheap scan that needs no parser (so it is safe on hostile input).
fn too_deep(text: &str) -> Option<Pos> {
    let mut depth = 0usize;
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line_too_deep(line, i + 1, &mut depth))
}

/// [`too_deep`] for one line (`number` from 1), carrying the bracket depth
/// from line to line.
fn line_too_deep(line: &str, number: usize, depth: &mut usize) -> Option<Pos> {
    // Block nesting: indentation, and the indicators that open a nested
    // node on the same line (`- ` entries, `? ` keys, `: ` values). A
    // line of a hundred thousand `? ` overflowed the parser's stack.
    let trimmed = line.trim_start_matches([' ', '-', '?', ':']);
    let indent = line.len() - trimmed.len();
    if indent / 2 > MAX_DEPTH * 2 {
        return Some(Pos::new(number, indent + 1));
    }
    let mut quote: Option<char> = None;
    for (j, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"') | (None, '\'') => quote = Some(c),
            (None, '#') => break,
            (None, '[') | (None, '{') => {
                *depth += 1;
                if *depth > MAX_DEPTH {
                    return Some(Pos::new(number, j + 1));
                }
            }
            (None, ']') | (None, '}') => *depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// A file's characters, read line by line as the parser asks for them, so
/// a large file is never held whole. The checks [`Source::read`] and
/// [`too_deep`] make on a whole text are made line by line; the first one
/// that fails ends the characters early and is remembered in `failed`.
struct FileChars<R> {
    reader: R,
    bytes: Vec<u8>,
    line: String,
    at: usize,
    number: usize,
    depth: usize,
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
            number: 0,
            depth: 0,
            total: 0,
            failed: false,
        }
    }

    /// Reads and checks the next line; `false` at the end or on a failed check.
    fn next_line(&mut self) -> bool {
        self.bytes.clear();
        let read = match self.reader.read_until(b'\n', &mut self.bytes) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(_) => {
                self.failed = true;
                return false;
            }
        };
        self.total += read as u64;
        self.number += 1;
        let bytes = std::mem::take(&mut self.bytes);
        self.line = match String::from_utf8(bytes) {
            Ok(line) => line,
            Err(_) => {
                self.failed = true;
                return false;
            }
        };
        self.at = 0;
        let content = self.line.trim_end_matches('\n').trim_end_matches('\r');
        if self.total > crate::diag::MAX_FILE_SIZE || line_too_deep(content, self.number, &mut self.depth).is_some() {
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
    /// Parses a file as it is read, like [`Doc::parse_streaming`], without
    /// ever holding its whole text: a large world is parsed in a few
    /// kilobytes beyond what is built from it. The returned document has no
    /// text, so its diagnostics carry no line excerpt; any problem at all
    /// (unreadable, too large, not UTF-8, nested too deep, invalid YAML)
    /// returns `None`, and callers that want the full report read the file
    /// again with [`Source::read`] and [`Doc::parse_streaming`].
    pub fn parse_file_streaming(path: &std::path::Path, stream: Option<Stream<'_>>) -> Option<(Doc, Node)> {
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        // Only a regular file can be read a second time, as a file with a
        // problem is: a pipe or a device is read once, whole, by `Source::read`.
        if !meta.is_file() || meta.len() > crate::diag::MAX_FILE_SIZE {
            return None;
        }
        // One byte past the limit is enough to know a pipe or device is too long.
        let file = std::io::Read::take(file, crate::diag::MAX_FILE_SIZE + 1);
        let mut chars = FileChars::new(std::io::BufReader::with_capacity(1 << 16, file));
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader::parse(&mut chars, stream)));
        // The parser stops after the first document; the whole-text reading
        // checks every line, so check the rest of the file too.
        while !chars.failed && chars.next_line() {}
        match parsed {
            Ok(Ok(node)) if !chars.failed => Some((
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
    fn nesting_by_block_indicators_on_one_line_is_refused_before_parsing() {
        for indicator in ["- ", "? ", ": ", "- ? "] {
            let text = format!("{}x\n", indicator.repeat(100_000));
            let err = parse(&text).err().unwrap();
            assert!(err.0[0].message.contains("nests deeper"), "{indicator:?}: {err}");
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
