//! Reading conditions and location expressions from a rules file.
//!
//! [`Reader`] turns YAML nodes into a [`Cond`] or a [`SetExpr`], checking each
//! fact, test and value against the fact catalogue and reporting every problem
//! against its rule, with a position and a hint. Nothing here runs at decision
//! time: evaluation is in `eval.rs`.

use marked_yaml::Node;

use crate::diag::{did_you_mean, one_of, Pos};
use crate::rules::condition::{Cond, Op, ScriptCond, SetExpr, Test};
use crate::rules::facts::{Fact, FactType, PolicyKind};
use crate::rules::script::{Returns, Sandbox, Script};
use crate::yaml::{describe, Doc};

const CONDITION_FORMS: &str =
    "a condition is `always`, `{all: [...]}`, `{any: [...]}`, `{not: ...}`, `{rhai: \"...\"}` or `{<fact>: <test>}`";

/// Reads conditions and set expressions for one policy, reporting problems
/// against one rule.
pub(crate) struct Reader<'a> {
    pub(crate) doc: &'a mut Doc,
    pub(crate) sandbox: &'a Sandbox,
    pub(crate) policy: PolicyKind,
    pub(crate) subject: String,
    /// The keys the rule being read may have (a missing key that a
    /// misspelt one was meant to be is reported once, as the unknown key).
    pub(crate) keys: &'a [&'a str],
}

impl Reader<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>, help: Option<String>) {
        let subject = self.subject.clone();
        self.doc.error(pos, Some(&subject), message, help);
    }

    pub(crate) fn condition(&mut self, node: &Node, depth: usize) -> Option<Cond> {
        if depth > crate::yaml::MAX_DEPTH {
            self.err(Pos::of(node.span()), "the condition nests too deeply", None);
            return None;
        }
        match node {
            Node::Scalar(s) if s.as_str() == "always" => Some(Cond::Always),
            Node::Scalar(s) => {
                let help = match Fact::by_name(s.as_str()) {
                    Some(f) if f.info().ty == FactType::Bool => {
                        format!("to test a yes/no fact write `{}: true`", f.name())
                    }
                    _ => CONDITION_FORMS.to_string(),
                };
                self.err(
                    Pos::of(s.span()),
                    format!("`{}` is not a condition", s.as_str()),
                    Some(help),
                );
                None
            }
            Node::Sequence(seq) => {
                let parts: Vec<Option<Cond>> = seq.iter().map(|n| self.condition(n, depth + 1)).collect();
                parts.into_iter().collect::<Option<Vec<_>>>().map(Cond::All)
            }
            Node::Mapping(m) => {
                let pos = Pos::of(m.span());
                if m.len() != 1 {
                    self.err(
                        pos,
                        format!("a condition has exactly one key, found {}", m.len()),
                        Some("to require several tests, list them under `all:`".into()),
                    );
                    return None;
                }
                let (key, value) = m.iter().next().expect("one entry");
                let kpos = Pos::of(key.span());
                match key.as_str() {
                    "all" | "any" => {
                        let seq =
                            self.doc
                                .sequence(value, &format!("`{}`", key.as_str()), Some(&self.subject.clone()))?;
                        if seq.is_empty() {
                            self.err(kpos, format!("`{}` needs at least one condition", key.as_str()), None);
                            return None;
                        }
                        let parts: Vec<Option<Cond>> = seq.iter().map(|n| self.condition(n, depth + 1)).collect();
                        let parts = parts.into_iter().collect::<Option<Vec<_>>>()?;
                        Some(if key.as_str() == "all" {
                            Cond::All(parts)
                        } else {
                            Cond::Any(parts)
                        })
                    }
                    "not" => Some(Cond::Not(Box::new(self.condition(value, depth + 1)?))),
                    "rhai" => {
                        let script = self.script(value, Returns::Bool)?;
                        Some(Cond::Script(Box::new(ScriptCond { script, pos: kpos })))
                    }
                    name => {
                        let fact = self.fact(name, kpos)?;
                        let op = self.test(fact, value)?;
                        Some(Cond::Test(Box::new(Test { fact, op, pos: kpos })))
                    }
                }
            }
        }
    }

    /// A fact name that this policy may read.
    fn fact(&mut self, name: &str, pos: Pos) -> Option<Fact> {
        let readable = Fact::names_for(self.policy);
        match Fact::by_name(name) {
            Some(f) if f.readable_in(self.policy) => Some(f),
            Some(_) => {
                self.err(
                    pos,
                    format!("`{name}` cannot be read by {} rules", self.policy.name()),
                    Some(format!("{} rules can read {}", self.policy.name(), one_of(&readable))),
                );
                None
            }
            None => {
                let help = match did_you_mean(name, readable.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("{} rules can read {}", self.policy.name(), one_of(&readable)),
                };
                self.err(pos, format!("unknown fact `{name}`"), Some(help));
                None
            }
        }
    }

    /// The test of one fact: a literal value, or a `{test: operand}` mapping.
    fn test(&mut self, fact: Fact, node: &Node) -> Option<Op> {
        let info = fact.info();
        let pos = Pos::of(node.span());
        if let Node::Scalar(s) = node {
            return self.literal(fact, s.as_str(), pos);
        }
        let Node::Mapping(m) = node else {
            self.err(
                pos,
                format!(
                    "the test of `{}` must be a value or a `{{test: operand}}` mapping, found {}",
                    info.name,
                    describe(node)
                ),
                Some(tests_for(info.ty)),
            );
            return None;
        };
        if m.len() != 1 {
            self.err(
                pos,
                format!("a test has exactly one key, found {}", m.len()),
                Some(tests_for(info.ty)),
            );
            return None;
        }
        let (key, value) = m.iter().next().expect("one entry");
        let kpos = Pos::of(key.span());
        let op = key.as_str();
        let allowed = allowed_ops(info.ty);
        if !allowed.contains(&op) {
            let help = match did_you_mean(op, allowed.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? {}", tests_for(info.ty)),
                None => tests_for(info.ty),
            };
            self.err(
                kpos,
                format!(
                    "`{op}` is not a test for `{}`, which is {}",
                    info.name,
                    info.ty.a_name()
                ),
                Some(help),
            );
            return None;
        }
        self.operand(fact, op, value)
    }

    /// The operand of an allowed `{test: operand}` for `fact`.
    fn operand(&mut self, fact: Fact, op: &str, value: &Node) -> Option<Op> {
        let info = fact.info();
        let subject = self.subject.clone();
        match op {
            "present" => self.doc.boolean(value, "`present`", Some(&subject)).map(Op::Present),
            "one_of" => {
                let FactType::Enum(words) = info.ty else {
                    unreachable!("allowed_ops gates one_of")
                };
                let items = self.doc.strings(value, "`one_of`", Some(&subject))?;
                let mut mask = 0u32;
                for it in items {
                    match words.iter().position(|w| *w == it.value) {
                        Some(i) => mask |= 1 << i,
                        None => {
                            self.err(
                                it.pos,
                                format!("`{}` is not a value of `{}`", it.value, info.name),
                                Some(format!("`{}` is one of {}", info.name, one_of(words))),
                            );
                            return None;
                        }
                    }
                }
                Some(Op::OneOf(mask))
            }
            "count" | "count_at_least" | "count_at_most" => {
                let n = self.doc.integer(value, &format!("`{op}`"), Some(&subject))?;
                if n < 0 {
                    self.err(
                        Pos::of(value.span()),
                        format!("`{op}` must be zero or more, found {n}"),
                        None,
                    );
                    return None;
                }
                let n = n as usize;
                Some(match op {
                    "count" => Op::Count(n),
                    "count_at_least" => Op::CountAtLeast(n),
                    _ => Op::CountAtMost(n),
                })
            }
            "in" => self.set_expr(value, 0).map(Op::In),
            "shares_any_with" => self.set_expr(value, 0).map(Op::SharesAnyWith),
            "shares_none_with" => self.set_expr(value, 0).map(Op::SharesNoneWith),
            "contains" => self.set_expr(value, 0).map(Op::Contains),
            "same_as" => {
                let s = self.doc.string(value, "`same_as`", Some(&subject))?;
                let other = self.fact(&s.value, s.pos)?;
                if other.info().ty != info.ty {
                    self.err(
                        s.pos,
                        format!(
                            "`{}` is {} and `{}` is {}: they cannot be the same",
                            info.name,
                            info.ty.a_name(),
                            other.name(),
                            other.info().ty.a_name()
                        ),
                        None,
                    );
                    return None;
                }
                Some(Op::SameAs(other))
            }
            _ => unreachable!("every allowed test is handled"),
        }
    }

    /// A literal value as the test: `true`, a word, a location or account id.
    fn literal(&mut self, fact: Fact, v: &str, pos: Pos) -> Option<Op> {
        let info = fact.info();
        match info.ty {
            FactType::Bool => match v {
                "true" => Some(Op::Bool(true)),
                "false" => Some(Op::Bool(false)),
                _ => {
                    self.err(
                        pos,
                        format!("`{}` is yes/no: write `true` or `false`, not `{v}`", info.name),
                        None,
                    );
                    None
                }
            },
            FactType::Enum(words) => match words.iter().position(|w| *w == v) {
                Some(i) => Some(Op::Word(i as u8)),
                None => {
                    self.err(
                        pos,
                        format!("`{v}` is not a value of `{}`", info.name),
                        Some(format!("`{}` is one of {}", info.name, one_of(words))),
                    );
                    None
                }
            },
            FactType::Location => Some(Op::LocationIs(v.to_owned())),
            FactType::Account => Some(Op::AccountIs(v.to_owned())),
            FactType::LocationSet => {
                self.err(
                    pos,
                    format!("`{}` is a set of locations: give a test, not a value", info.name),
                    Some(tests_for(info.ty)),
                );
                None
            }
            FactType::Text => {
                self.err(
                    pos,
                    format!(
                        "`{}` is text for message templates; conditions cannot test it",
                        info.name
                    ),
                    None,
                );
                None
            }
        }
    }

    /// A set of locations: a fact, a list of ids, `intersection`, `union` or `rhai`.
    pub(crate) fn set_expr(&mut self, node: &Node, depth: usize) -> Option<SetExpr> {
        if depth > crate::yaml::MAX_DEPTH {
            self.err(Pos::of(node.span()), "the location expression nests too deeply", None);
            return None;
        }
        match node {
            Node::Scalar(s) => {
                let pos = Pos::of(s.span());
                let name = s.as_str();
                if !name.contains('.') {
                    self.err(
                        pos,
                        format!("`{name}` is not a fact that gives locations"),
                        Some(format!(
                            "to name locations write a list such as `[{name}]`; facts that give locations: {}",
                            one_of(&self.location_facts())
                        )),
                    );
                    return None;
                }
                let fact = self.fact(name, pos)?;
                match fact.info().ty {
                    FactType::Location | FactType::LocationSet => Some(SetExpr::Fact(fact)),
                    other => {
                        self.err(
                            pos,
                            format!("`{name}` is {}, not a location or a set of locations", other.a_name()),
                            Some(format!("facts that give locations: {}", one_of(&self.location_facts()))),
                        );
                        None
                    }
                }
            }
            Node::Sequence(_) => {
                let items = self
                    .doc
                    .strings(node, "a list of locations", Some(&self.subject.clone()))?;
                Some(SetExpr::Literal(items.into_iter().map(|s| s.value).collect()))
            }
            Node::Mapping(m) => {
                if m.len() != 1 {
                    self.err(
                        Pos::of(m.span()),
                        "a location expression has exactly one key",
                        Some("write a fact, a list `[A, B]`, `{intersection: [...]}`, `{union: [...]}` or `{rhai: \"...\"}`".into()),
                    );
                    return None;
                }
                let (key, value) = m.iter().next().expect("one entry");
                match key.as_str() {
                    "intersection" | "union" => {
                        let seq =
                            self.doc
                                .sequence(value, &format!("`{}`", key.as_str()), Some(&self.subject.clone()))?;
                        if seq.len() < 2 {
                            self.err(
                                Pos::of(key.span()),
                                format!("`{}` needs at least two sets", key.as_str()),
                                None,
                            );
                            return None;
                        }
                        let parts: Vec<Option<SetExpr>> = seq.iter().map(|n| self.set_expr(n, depth + 1)).collect();
                        let parts = parts.into_iter().collect::<Option<Vec<_>>>()?;
                        Some(if key.as_str() == "union" {
                            SetExpr::Union(parts)
                        } else {
                            SetExpr::Intersection(parts)
                        })
                    }
                    "rhai" => self
                        .script(value, Returns::Locations)
                        .map(|s| SetExpr::Script(Box::new(s))),
                    other => {
                        self.err(
                            Pos::of(key.span()),
                            format!("unknown location expression `{other}`"),
                            Some("write a fact, a list `[A, B]`, `{intersection: [...]}`, `{union: [...]}` or `{rhai: \"...\"}`".into()),
                        );
                        None
                    }
                }
            }
        }
    }

    fn location_facts(&self) -> Vec<&'static str> {
        Fact::ALL
            .iter()
            .filter(|f| f.readable_in(self.policy) && matches!(f.info().ty, FactType::Location | FactType::LocationSet))
            .map(|f| f.name())
            .collect()
    }

    /// Compiles a script, mapping positions inside it back to the file.
    pub(crate) fn script(&mut self, node: &Node, returns: Returns) -> Option<Script> {
        let subject = self.subject.clone();
        let src = self.doc.string(node, "`rhai`", Some(&subject))?;
        match self.sandbox.compile(&src.value, self.policy, returns) {
            Ok(s) => Some(s),
            Err(p) => {
                let pos = script_pos(&self.doc.source, src.pos, p.line, p.col);
                self.err(pos, format!("in the Rhai script: {}", p.message), p.help);
                None
            }
        }
    }
}

/// Maps a line and column inside a script back to the file. A script on one
/// line starts at the scalar (after its quote); a block scalar (`|`) starts on
/// the next line, at the block's indentation.
///
/// Lines are found through the source's line index: a file with thousands of
/// failing scripts is not scanned once per script.
fn script_pos(source: &crate::diag::Source, start: Pos, line: usize, col: usize) -> Pos {
    let Some(first) = source.line(start.line) else {
        return start;
    };
    let at: String = first.chars().skip(start.col.saturating_sub(1)).collect();
    let indent_of = |line_no: usize| {
        source
            .line(line_no)
            .map(|l| l.len() - l.trim_start().len())
            .unwrap_or(0)
    };
    if at.starts_with('|') || at.starts_with('>') {
        let body_line = start.line + line;
        return Pos::new(body_line, indent_of(body_line) + col);
    }
    let quote = usize::from(at.starts_with('"') || at.starts_with('\''));
    if line == 1 {
        start.shifted(quote + col - 1)
    } else {
        // Later lines of a block or folded scalar keep the block's indentation.
        let target = start.line + line - 1;
        Pos::new(target, indent_of(target) + col)
    }
}

fn allowed_ops(ty: FactType) -> &'static [&'static str] {
    match ty {
        FactType::Bool => &[],
        FactType::Enum(_) => &["one_of"],
        FactType::Location => &["present", "in", "same_as"],
        FactType::Account => &["present", "same_as"],
        FactType::LocationSet => &[
            "count",
            "count_at_least",
            "count_at_most",
            "shares_any_with",
            "shares_none_with",
            "contains",
        ],
        FactType::Text => &[],
    }
}

fn tests_for(ty: FactType) -> String {
    match ty {
        FactType::Bool => "a yes/no fact is tested with `true` or `false`".into(),
        FactType::Enum(words) => format!("write one of {}, or `{{one_of: [...]}}`", one_of(words)),
        FactType::Location => "write a location id, `{present: true|false}`, `{in: <locations>}` or `{same_as: <fact>}`".into(),
        FactType::Account => "write an account id, `{present: true|false}` or `{same_as: <fact>}`".into(),
        FactType::LocationSet => "tests for a set: `{count: N}`, `{count_at_least: N}`, `{count_at_most: N}`, `{shares_any_with: <locations>}`, `{shares_none_with: <locations>}`, `{contains: <locations>}`".into(),
        FactType::Text => "text facts are for templates only".into(),
    }
}
