//! The YAML loader's nesting limit against an independent parser (issue 16).
//!
//! The limit once counted `[` and `{` characters line by line, including
//! those inside plain text, so `Sorry :-[ we are late` written unquoted
//! seventy times made a valid timeline "nest deeper than 64 levels". It now
//! counts collections as the parser sees them. Here generated documents, with
//! scalars full of brackets, braces, quotes, `#`, `:` and emoji, plain and
//! quoted, in block and flow style, nested to random depths around the limit,
//! are read by commroute and by libyaml (through `serde_norway`): every
//! document libyaml reads with at most 64 levels below the top-level mapping
//! must load, and every deeper one must be refused with the depth error.

use commroute::yaml::{Doc, MAX_DEPTH};
use commroute::Source;
use proptest::prelude::*;

use crate::support::proptest as config;

/// A node of a generated document.
#[derive(Debug, Clone)]
enum Node {
    Plain(String),
    Single(String),
    Double(String),
    List(Vec<Node>, bool),
    Map(Vec<(String, Node)>, bool),
}

/// A small, deterministic generator, seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What message texts are made of: brackets, braces, quotes, `#`, `:`,
/// emoji and ordinary letters.
const PIECES: &[&str] = &[
    "[", "]", "{", "}", "(", ")", "'", "\"", "#", ":", ",", "-", "?", "!", "&", "*", "|", ">", "%", "@", "`", ":-[",
    ":-{", "[1", "Store [", "😀", "🎉", "é", "ß", "a", "b", "sorry", "we are", "late", " ", " ", "x", "0", "9",
];

fn text(rng: &mut Rng) -> String {
    let n = 1 + rng.below(8);
    (0..n)
        .map(|_| PIECES[rng.below(PIECES.len() as u64) as usize])
        .collect()
}

/// Whether `s` can be written as a plain (unquoted) scalar: in block style,
/// or also inside `[...]`/`{...}` (`flow`), where brackets, braces and commas
/// end a plain scalar.
fn plain_ok(s: &str, flow: bool) -> bool {
    let first = s.chars().next();
    let starts_ok = first.is_some_and(|c| !"-?:,[]{}#&*!|>'\"%@` ".contains(c));
    let block_ok = !s.ends_with([' ', ':']) && !s.contains(": ") && !s.contains(" #") && !s.contains('\t');
    // Inside `[...]`/`{...}`, libyaml (YAML 1.1) ends a plain scalar at any
    // `:` as well. And yaml-rust2 refuses ` -` right before the `,`, `]` or
    // `}` that ends a plain scalar in flow style ("plain scalar cannot start
    // with '-' followed by ,[]{}"), which libyaml reads: that is the parser's
    // own quirk, not the nesting count under test, so it is avoided here.
    let flow_ok = !flow || !(s.contains(['[', ']', '{', '}', ',', ':']) || s.ends_with('-'));
    starts_ok && block_ok && flow_ok
}

fn scalar(rng: &mut Rng) -> Node {
    let t = text(rng);
    match rng.below(3) {
        0 => Node::Plain(t),
        1 => Node::Single(t),
        _ => Node::Double(t),
    }
}

/// A node whose deepest collection is `depth` levels down (0: a scalar),
/// with random siblings of smaller depth; `flow` once a flow collection was
/// opened above (everything inside it is flow style too).
fn node(rng: &mut Rng, depth: usize, flow: bool) -> Node {
    if depth == 0 {
        return scalar(rng);
    }
    let flow = flow || rng.chance(15);
    let siblings = rng.below(3) as usize;
    let spine_at = rng.below(siblings as u64 + 1) as usize;
    let mut items: Vec<Node> = (0..=siblings)
        .map(|i| {
            if i == spine_at {
                node(rng, depth - 1, flow)
            } else {
                let d = rng.below(depth.min(3) as u64) as usize;
                node(rng, d, flow)
            }
        })
        .collect();
    if rng.chance(50) {
        Node::List(std::mem::take(&mut items), flow)
    } else {
        let entries = items
            .into_iter()
            .enumerate()
            .map(|(i, n)| (format!("k{i}"), n))
            .collect();
        Node::Map(entries, flow)
    }
}

fn quoted(node: &Node, flow: bool) -> String {
    match node {
        Node::Plain(t) if plain_ok(t, flow) => t.clone(),
        Node::Plain(t) | Node::Double(t) => format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")),
        Node::Single(t) => format!("'{}'", t.replace('\'', "''")),
        _ => unreachable!(),
    }
}

/// A node in flow style.
fn flow(node: &Node) -> String {
    match node {
        Node::List(items, _) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Node::Map(entries, _) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        scalar => quoted(scalar, true),
    }
}

/// A node after `key:` or `-` at indentation `indent`, in block style unless
/// it is a flow collection or empty.
fn block(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent + 2);
    match node {
        Node::List(items, false) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                out.push_str(&pad);
                out.push('-');
                block(item, indent + 2, out);
            }
        }
        Node::Map(entries, false) if !entries.is_empty() => {
            out.push('\n');
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(k);
                out.push(':');
                block(v, indent + 2, out);
            }
        }
        Node::List(..) | Node::Map(..) => {
            out.push(' ');
            out.push_str(&flow(node));
            out.push('\n');
        }
        scalar => {
            out.push(' ');
            out.push_str(&quoted(scalar, false));
            out.push('\n');
        }
    }
}

/// A document: a top-level mapping whose deepest value nests `depth` levels.
fn document(seed: u64, depth: usize) -> String {
    let mut rng = Rng(seed | 1);
    let mut out = String::new();
    let keys = 1 + rng.below(3) as usize;
    let spine_at = rng.below(keys as u64) as usize;
    for i in 0..keys {
        let d = if i == spine_at { depth } else { rng.below(4) as usize };
        let value = node(&mut rng, d, false);
        out.push_str(&format!("key{i}:"));
        block(&value, 0, &mut out);
        if rng.chance(20) {
            out.push_str("# a comment with [[[{{ brackets\n");
        }
    }
    out
}

/// How many levels libyaml sees below the top-level mapping.
fn their_depth(v: &serde_norway::Value) -> usize {
    fn depth(v: &serde_norway::Value) -> usize {
        match v {
            serde_norway::Value::Sequence(s) => 1 + s.iter().map(depth).max().unwrap_or(0),
            serde_norway::Value::Mapping(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    depth(v) - 1
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let theirs: serde_norway::Value = match serde_norway::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "libyaml refuses the generated document: {e}\n{text}"
            )))
        }
    };
    let depth = their_depth(&theirs);
    let ours = Doc::parse(Source::new("generated.yaml", text.to_owned()));
    if depth <= MAX_DEPTH {
        prop_assert!(ours.is_ok(), "{depth} levels, refused: {}\n{text}", ours.err().unwrap());
    } else {
        let err = ours.err().map(|e| e.to_string()).unwrap_or_default();
        prop_assert!(
            err.contains("the file nests deeper than 64 levels"),
            "{depth} levels, not refused for its depth: {err}\n{text}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config::proptest_config(10_000))]

    #[test]
    fn the_nesting_limit_agrees_with_libyaml(seed in any::<u64>(), depth in 0usize..=90) {
        check(&document(seed, depth))?;
    }
}

#[test]
fn the_limit_is_exactly_64_levels_below_the_top_level_mapping() {
    for (depth, ok) in [(64, true), (65, false)] {
        let flow = format!("a: {}x{}\n", "[".repeat(depth), "]".repeat(depth));
        check(&flow).unwrap();
        assert_eq!(Doc::parse(Source::new("t.yaml", flow)).is_ok(), ok);
        let mut block = String::from("a:\n");
        for level in 1..=depth {
            block.push_str(&format!("{}k{level}:\n", " ".repeat(2 * level)));
        }
        block.push_str(&format!("{}x\n", " ".repeat(2 * depth + 2)));
        // The last key holds the scalar `x`: `depth` mappings below `a`.
        check(&block).unwrap();
    }
}
