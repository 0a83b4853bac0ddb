//! The declarative condition vocabulary, compiled to native predicates.
//!
//! A condition in a rules file is one of:
//!
//! * `always`, the catch-all;
//! * `{all: [...]}`, `{any: [...]}`, `{not: ...}` (a bare list means `all`);
//! * `{<fact>: <test>}`, e.g. `client.locations: {count_at_least: 2}`;
//! * `{rhai: <script>}`, the escape hatch (see [`crate::rules::script`]).
//!
//! Loading checks every fact name, test and value against the fact catalogue
//! ([`crate::rules::facts`]) and builds a [`Cond`] tree that is evaluated by plain
//! `match`es over the event's [`Ctx`]: nothing is parsed or looked up by name
//! while deciding. The same tree also explains itself: [`Cond::why_not`] names
//! the first test that failed and the value it saw.

use std::fmt;

use marked_yaml::Node;

use crate::diag::{did_you_mean, one_of, Pos};
use crate::rules::facts::{Ctx, Fact, FactType, PolicyKind};
use crate::rules::script::{self, Returns, Sandbox, Script};
use crate::world::locset::LocSet;
use crate::yaml::{describe, Doc};

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Cond {
    Always,
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Test(Box<Test>),
    Script(Box<ScriptCond>),
}

/// One test of one fact, e.g. `client.last_appointment: {present: true}`.
#[derive(Debug, Clone)]
pub struct Test {
    pub fact: Fact,
    pub op: Op,
    pub pos: Pos,
}

/// A condition written in Rhai.
#[derive(Debug, Clone)]
pub struct ScriptCond {
    pub script: Script,
    pub pos: Pos,
}

/// The tests, by the type of fact they apply to.
#[derive(Debug, Clone)]
pub enum Op {
    /// yes/no facts: `client.guest_app: true`.
    Bool(bool),
    /// word facts: `conversation.started_by: staff` (the index of the word).
    Word(u8),
    /// word facts: `{one_of: [confirmation, reminder]}` (a bit per word).
    OneOf(u32),
    /// optional facts: `{present: true}`.
    Present(bool),
    /// location facts: a literal location id.
    LocationIs(String),
    /// account facts: a literal account id.
    AccountIs(String),
    /// location facts: `{in: <set>}`.
    In(SetExpr),
    /// location and account facts: `{same_as: <fact>}`.
    SameAs(Fact),
    /// set facts.
    Count(usize),
    CountAtLeast(usize),
    CountAtMost(usize),
    SharesAnyWith(SetExpr),
    SharesNoneWith(SetExpr),
    /// set facts: every location of the operand is in the set.
    Contains(SetExpr),
}

/// An expression that gives a set of locations: a fact, a list of ids, an
/// intersection or union of those, or a script.
#[derive(Debug, Clone)]
pub enum SetExpr {
    Fact(Fact),
    Literal(Vec<String>),
    Intersection(Vec<SetExpr>),
    Union(Vec<SetExpr>),
    Script(Box<Script>),
}

/// Why a condition did not hold: the test, where it is, the value it saw and
/// a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub condition: String,
    #[serde(skip)]
    pub pos: Pos,
    pub saw: String,
    pub reason: String,
}

/// A failure while evaluating (only scripts can fail, or a literal id that the
/// world does not have).
pub type EvalResult<T> = Result<T, String>;

const CONDITION_FORMS: &str =
    "a condition is `always`, `{all: [...]}`, `{any: [...]}`, `{not: ...}`, `{rhai: \"...\"}` or `{<fact>: <test>}`";

// ---------------------------------------------------------------------------
// Loading

/// Reads conditions and set expressions for one policy, reporting problems
/// against one rule.
pub struct Reader<'a> {
    pub doc: &'a mut Doc,
    pub sandbox: &'a Sandbox,
    pub policy: PolicyKind,
    pub subject: String,
    /// The keys the rule being read may have (a missing key that a
    /// misspelt one was meant to be is reported once, as the unknown key).
    pub keys: &'a [&'a str],
}

impl Reader<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>, help: Option<String>) {
        let subject = self.subject.clone();
        self.doc.error(pos, Some(&subject), message, help);
    }

    pub fn condition(&mut self, node: &Node, depth: usize) -> Option<Cond> {
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

    fn test(&mut self, fact: Fact, node: &Node) -> Option<Op> {
        let info = fact.info();
        let pos = Pos::of(node.span());
        // Scalar forms: a literal value.
        if let Node::Scalar(s) = node {
            let v = s.as_str();
            return match info.ty {
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
            };
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

    /// A set of locations: a fact, a list of ids, `intersection`, `union` or `rhai`.
    pub fn set_expr(&mut self, node: &Node, depth: usize) -> Option<SetExpr> {
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
    pub fn script(&mut self, node: &Node, returns: Returns) -> Option<Script> {
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

// ---------------------------------------------------------------------------
// Evaluation

impl SetExpr {
    pub fn eval(&self, ctx: &Ctx, sb: &Sandbox) -> EvalResult<LocSet> {
        Ok(match self {
            SetExpr::Fact(f) if f.is_set() => ctx.set(*f).clone(),
            SetExpr::Fact(f) => ctx.location(*f).map(LocSet::one).unwrap_or_default(),
            SetExpr::Literal(ids) => {
                let mut set = LocSet::new();
                for id in ids {
                    match ctx.world.location(id) {
                        Some(l) => set.insert(l),
                        None => {
                            return Err(format!(
                                "the rules name location `{id}`, which this world does not have"
                            ))
                        }
                    }
                }
                set
            }
            SetExpr::Intersection(parts) => {
                let mut acc = parts[0].eval(ctx, sb)?;
                for p in &parts[1..] {
                    acc = acc.intersection(&p.eval(ctx, sb)?);
                }
                acc
            }
            SetExpr::Union(parts) => {
                let mut acc = parts[0].eval(ctx, sb)?;
                for p in &parts[1..] {
                    acc = acc.union(&p.eval(ctx, sb)?);
                }
                acc
            }
            SetExpr::Script(s) => script::as_locations(sb.run(s, ctx)?, ctx)?,
        })
    }

    /// Whether evaluating this needs a script.
    pub fn uses_script(&self) -> bool {
        match self {
            SetExpr::Script(_) => true,
            SetExpr::Intersection(p) | SetExpr::Union(p) => p.iter().any(SetExpr::uses_script),
            _ => false,
        }
    }

    fn label(&self) -> String {
        match self {
            SetExpr::Fact(f) => f.info().label.to_owned(),
            _ => format!("`{self}`"),
        }
    }
}

impl Test {
    #[inline]
    pub fn holds(&self, ctx: &Ctx, sb: &Sandbox) -> EvalResult<bool> {
        let f = self.fact;
        Ok(match &self.op {
            Op::Bool(b) => ctx.bool(f) == *b,
            Op::Word(w) => ctx.word(f) == *w,
            Op::OneOf(mask) => mask & (1 << ctx.word(f)) != 0,
            Op::Present(p) => match f.is_account() {
                true => ctx.account(f).is_some() == *p,
                false => ctx.location(f).is_some() == *p,
            },
            Op::LocationIs(id) => ctx.location(f).is_some_and(|l| ctx.world.loc_id(l) == id),
            Op::AccountIs(id) => ctx.account(f).is_some_and(|a| ctx.world.accounts[a as usize].id == *id),
            Op::In(set) => match ctx.location(f) {
                Some(l) => match set {
                    SetExpr::Fact(g) if g.is_set() => ctx.set(*g).contains(l),
                    _ => set.eval(ctx, sb)?.contains(l),
                },
                None => false,
            },
            Op::SameAs(g) => match f.is_account() {
                true => ctx.account(f).is_some() && ctx.account(f) == ctx.account(*g),
                false => ctx.location(f).is_some() && ctx.location(f) == ctx.location(*g),
            },
            Op::Count(n) => ctx.set(f).len() == *n,
            Op::CountAtLeast(n) => ctx.set(f).len() >= *n,
            Op::CountAtMost(n) => ctx.set(f).len() <= *n,
            Op::SharesAnyWith(other) => self.shares(ctx, sb, other)?,
            Op::SharesNoneWith(other) => !self.shares(ctx, sb, other)?,
            Op::Contains(other) => {
                let mine = ctx.set(f);
                other.eval(ctx, sb)?.iter().all(|l| mine.contains(l))
            }
        })
    }

    #[inline]
    fn shares(&self, ctx: &Ctx, sb: &Sandbox, other: &SetExpr) -> EvalResult<bool> {
        let mine = ctx.set(self.fact);
        Ok(match other {
            SetExpr::Fact(g) if g.is_set() => mine.intersects(ctx.set(*g)),
            SetExpr::Fact(g) => ctx.location(*g).is_some_and(|l| mine.contains(l)),
            _ => mine.intersects(&other.eval(ctx, sb)?),
        })
    }

    /// The words a word test accepts, as written: `staff` or `confirmation, reminder`.
    fn expected_words(&self) -> String {
        let FactType::Enum(words) = self.fact.info().ty else {
            return String::new();
        };
        match self.op {
            Op::Word(w) => words[w as usize].to_owned(),
            Op::OneOf(mask) => words
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, w)| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        }
    }

    /// The locations this set fact has in common with `other`, as shown to people.
    fn common(&self, ctx: &Ctx, sb: &Sandbox, other: &SetExpr) -> String {
        other
            .eval(ctx, sb)
            .map(|s| crate::rules::facts::Value::Set(s.intersection(ctx.set(self.fact))).show(ctx.world))
            .unwrap_or_default()
    }

    /// A sentence saying why this test failed, with the values seen.
    fn failure(&self, ctx: &Ctx, sb: &Sandbox) -> Failure {
        let info = self.fact.info();
        let w = ctx.world;
        let seen = ctx.value(self.fact);
        let saw = seen.show(w);
        let operand = |e: &SetExpr| {
            e.eval(ctx, sb)
                .map(|s| crate::rules::facts::Value::Set(s).show(w))
                .unwrap_or_else(|e| e)
        };
        let reason = match &self.op {
            Op::Bool(true) => info.absent.unwrap_or(info.label).to_string(),
            Op::Bool(false) => info.label.to_string(),
            Op::Word(_) => format!("{} is `{saw}`, not `{}`", info.label, self.expected_words()),
            Op::OneOf(_) => format!("{} is `{saw}`, not one of {}", info.label, self.expected_words()),
            Op::Present(true) => info
                .absent
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} is missing", info.label)),
            Op::Present(false) => format!("{} is `{saw}`", info.label),
            Op::LocationIs(_) | Op::AccountIs(_) if saw == "none" => info
                .absent
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} is missing", info.label)),
            Op::LocationIs(_) | Op::AccountIs(_) => format!("{} is `{saw}`", info.label),
            Op::In(set) => match ctx.location(self.fact) {
                None => info
                    .absent
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{} is missing", info.label)),
                Some(_) => format!("{} `{saw}` is not among {} `{}`", info.label, set.label(), operand(set)),
            },
            Op::SameAs(g) => format!(
                "{} is `{saw}` and {} is `{}`",
                info.label,
                g.info().label,
                ctx.value(*g).show(w)
            ),
            Op::Count(_) | Op::CountAtLeast(_) | Op::CountAtMost(_) => {
                let n = ctx.set(self.fact).len();
                let wanted = match &self.op {
                    Op::Count(k) => format!("exactly {k}"),
                    Op::CountAtLeast(k) => format!("at least {k}"),
                    Op::CountAtMost(k) => format!("at most {k}"),
                    _ => unreachable!(),
                };
                format!("{} `{saw}` number {n}, not {wanted}", info.label)
            }
            Op::SharesAnyWith(other) => {
                format!(
                    "{} `{saw}` and {} `{}` have no location in common",
                    info.label,
                    other.label(),
                    operand(other)
                )
            }
            Op::SharesNoneWith(other) => {
                let common = self.common(ctx, sb, other);
                format!(
                    "{} `{saw}` and {} `{}` have `{common}` in common",
                    info.label,
                    other.label(),
                    operand(other)
                )
            }
            Op::Contains(other) => format!(
                "{} `{saw}` lack some of {} `{}`",
                info.label,
                other.label(),
                operand(other)
            ),
        };
        Failure {
            condition: self.to_string(),
            pos: self.pos,
            saw,
            reason,
        }
    }
}

impl Test {
    /// A sentence saying why this test held, with the values seen.
    fn success(&self, ctx: &Ctx, sb: &Sandbox) -> String {
        let info = self.fact.info();
        let w = ctx.world;
        let saw = ctx.value(self.fact).show(w);
        let operand = |e: &SetExpr| {
            e.eval(ctx, sb)
                .map(|s| crate::rules::facts::Value::Set(s).show(w))
                .unwrap_or_else(|e| e)
        };
        match &self.op {
            Op::Bool(true) => info.label.to_string(),
            Op::Bool(false) => info.absent.unwrap_or(info.label).to_string(),
            Op::Word(_) | Op::OneOf(_) | Op::LocationIs(_) | Op::AccountIs(_) | Op::Present(true) => {
                format!("{} is `{saw}`", info.label)
            }
            Op::Present(false) => info
                .absent
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} is missing", info.label)),
            Op::In(set) => format!("{} is `{saw}`, one of {} `{}`", info.label, set.label(), operand(set)),
            Op::SameAs(g) => format!("{} and {} are both `{saw}`", info.label, g.info().label),
            Op::Count(_) | Op::CountAtLeast(_) | Op::CountAtMost(_) => {
                let n = ctx.set(self.fact).len();
                format!("{} `{saw}` number {n}", info.label)
            }
            Op::SharesAnyWith(other) => {
                let common = self.common(ctx, sb, other);
                format!(
                    "{} `{saw}` and {} `{}` have `{common}` in common",
                    info.label,
                    other.label(),
                    operand(other)
                )
            }
            Op::SharesNoneWith(other) => format!(
                "{} `{saw}` and {} `{}` have no location in common",
                info.label,
                other.label(),
                operand(other)
            ),
            Op::Contains(other) => format!("{} `{saw}` include {} `{}`", info.label, other.label(), operand(other)),
        }
    }
}

impl Cond {
    /// Whether the condition holds: the fast path, with no explanation.
    #[inline]
    pub fn holds(&self, ctx: &Ctx, sb: &Sandbox) -> EvalResult<bool> {
        match self {
            Cond::Always => Ok(true),
            Cond::Test(t) => t.holds(ctx, sb),
            Cond::All(parts) => {
                for p in parts {
                    if !p.holds(ctx, sb)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Cond::Any(parts) => {
                for p in parts {
                    if p.holds(ctx, sb)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Cond::Not(c) => Ok(!c.holds(ctx, sb)?),
            Cond::Script(s) => script::as_bool(&sb.run(&s.script, ctx)?),
        }
    }

    /// `None` when the condition holds; otherwise the first test that failed.
    pub fn why_not(&self, ctx: &Ctx, sb: &Sandbox) -> EvalResult<Option<Failure>> {
        Ok(match self {
            Cond::Always => None,
            Cond::Test(t) => {
                if t.holds(ctx, sb)? {
                    None
                } else {
                    Some(t.failure(ctx, sb))
                }
            }
            Cond::All(parts) => {
                for p in parts {
                    if let Some(f) = p.why_not(ctx, sb)? {
                        return Ok(Some(f));
                    }
                }
                None
            }
            Cond::Any(parts) => {
                let mut reasons = Vec::new();
                let mut first = None;
                for p in parts {
                    match p.why_not(ctx, sb)? {
                        None => return Ok(None),
                        Some(f) => {
                            reasons.push(f.reason.clone());
                            first.get_or_insert(f);
                        }
                    }
                }
                let first = first.expect("`any` has at least one part");
                Some(Failure {
                    condition: format!(
                        "any: [{}]",
                        parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                    pos: first.pos,
                    saw: first.saw,
                    reason: format!("none of the alternatives held: {}", reasons.join("; ")),
                })
            }
            Cond::Not(c) => {
                if c.holds(ctx, sb)? {
                    Some(Failure {
                        condition: self.to_string(),
                        pos: c.pos().unwrap_or_default(),
                        saw: String::from("it held"),
                        reason: format!("`{c}` held"),
                    })
                } else {
                    None
                }
            }
            Cond::Script(s) => {
                let out = sb.run(&s.script, ctx)?;
                if script::as_bool(&out)? {
                    None
                } else {
                    let reads = sb.reads(&s.script, ctx);
                    let saw = reads
                        .iter()
                        .map(|(n, v)| format!("{n} = {v}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    Some(Failure {
                        condition: format!("rhai: {}", s.script.source.trim()),
                        pos: s.pos,
                        reason: if saw.is_empty() {
                            "the Rhai condition gave false".into()
                        } else {
                            format!("the Rhai condition gave false (it read {saw})")
                        },
                        saw,
                    })
                }
            }
        })
    }

    /// Why a condition that holds held, in plain words with the values seen:
    /// every test of an `all`, the first alternative of an `any` that held.
    pub fn why(&self, ctx: &Ctx, sb: &Sandbox) -> EvalResult<String> {
        Ok(match self {
            Cond::Always => "it is the catch-all (`when: always`)".into(),
            Cond::Test(t) => t.success(ctx, sb),
            Cond::All(parts) => parts
                .iter()
                .map(|p| p.why(ctx, sb))
                .collect::<EvalResult<Vec<_>>>()?
                .join(" and "),
            Cond::Any(parts) => {
                for p in parts {
                    if p.holds(ctx, sb)? {
                        return p.why(ctx, sb);
                    }
                }
                "one of the alternatives held".into()
            }
            Cond::Not(c) => match c.why_not(ctx, sb)? {
                Some(f) => f.reason,
                None => format!("`{c}` did not hold"),
            },
            Cond::Script(s) => {
                let reads = sb.reads(&s.script, ctx);
                let saw = reads
                    .iter()
                    .map(|(n, v)| format!("{n} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if saw.is_empty() {
                    "the Rhai condition gave true".into()
                } else {
                    format!("the Rhai condition gave true (it read {saw})")
                }
            }
        })
    }

    /// Where the condition starts in its file, when it is a test or a script.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            Cond::Test(t) => Some(t.pos),
            Cond::Script(s) => Some(s.pos),
            Cond::All(p) | Cond::Any(p) => p.first().and_then(Cond::pos),
            Cond::Not(c) => c.pos(),
            Cond::Always => None,
        }
    }

    pub fn uses_script(&self) -> bool {
        match self {
            Cond::Script(_) => true,
            Cond::All(p) | Cond::Any(p) => p.iter().any(Cond::uses_script),
            Cond::Not(c) => c.uses_script(),
            Cond::Test(t) => match &t.op {
                Op::In(s) | Op::SharesAnyWith(s) | Op::SharesNoneWith(s) | Op::Contains(s) => s.uses_script(),
                _ => false,
            },
            Cond::Always => false,
        }
    }

    /// Calls `f` on every test in the tree.
    pub fn visit_tests<'a>(&'a self, f: &mut impl FnMut(&'a Test)) {
        match self {
            Cond::Test(t) => f(t),
            Cond::All(p) | Cond::Any(p) => p.iter().for_each(|c| c.visit_tests(f)),
            Cond::Not(c) => c.visit_tests(f),
            Cond::Always | Cond::Script(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Display: the condition as it would be written in a rules file.

impl fmt::Display for SetExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetExpr::Fact(x) => f.write_str(x.name()),
            SetExpr::Literal(ids) => write!(f, "[{}]", ids.join(", ")),
            SetExpr::Intersection(p) | SetExpr::Union(p) => {
                let name = if matches!(self, SetExpr::Union(_)) {
                    "union"
                } else {
                    "intersection"
                };
                write!(
                    f,
                    "{{{name}: [{}]}}",
                    p.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
                )
            }
            SetExpr::Script(s) => write!(f, "{{rhai: {:?}}}", s.source.trim()),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Bool(b) => write!(f, "{b}"),
            Op::Word(_) | Op::OneOf(_) => f.write_str("<word>"),
            Op::Present(p) => write!(f, "{{present: {p}}}"),
            Op::LocationIs(id) | Op::AccountIs(id) => f.write_str(id),
            Op::In(s) => write!(f, "{{in: {s}}}"),
            Op::SameAs(g) => write!(f, "{{same_as: {}}}", g.name()),
            Op::Count(n) => write!(f, "{{count: {n}}}"),
            Op::CountAtLeast(n) => write!(f, "{{count_at_least: {n}}}"),
            Op::CountAtMost(n) => write!(f, "{{count_at_most: {n}}}"),
            Op::SharesAnyWith(s) => write!(f, "{{shares_any_with: {s}}}"),
            Op::SharesNoneWith(s) => write!(f, "{{shares_none_with: {s}}}"),
            Op::Contains(s) => write!(f, "{{contains: {s}}}"),
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.fact.info();
        match (&self.op, info.ty) {
            (Op::Word(w), FactType::Enum(words)) => write!(f, "{}: {}", info.name, words[*w as usize]),
            (Op::OneOf(mask), FactType::Enum(words)) => {
                let chosen: Vec<&str> = words
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, w)| *w)
                    .collect();
                write!(f, "{}: {{one_of: [{}]}}", info.name, chosen.join(", "))
            }
            (op, _) => write!(f, "{}: {op}", info.name),
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |p: &[Cond]| p.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
        match self {
            Cond::Always => f.write_str("always"),
            Cond::All(p) => write!(f, "all: [{}]", list(p)),
            Cond::Any(p) => write!(f, "any: [{}]", list(p)),
            Cond::Not(c) => write!(f, "not: {{{c}}}"),
            Cond::Test(t) => write!(f, "{t}"),
            Cond::Script(s) => write!(f, "rhai: {:?}", s.script.source.trim()),
        }
    }
}
