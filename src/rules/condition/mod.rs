//! The declarative condition vocabulary: the compiled `Cond` tree and its
//! parts.
//!
//! A condition in a rules file is one of:
//!
//! * `always`, the catch-all;
//! * `{all: [...]}`, `{any: [...]}`, `{not: ...}` (a bare list means `all`);
//! * `{<fact>: <test>}`, e.g. `client.locations: {count_at_least: 2}`;
//! * `{rhai: <script>}`, the escape hatch (see [`crate::rules::script`]).
//!
//! This file holds the types and the walks over their shape. Reading them from
//! a rules file is in `parse.rs`, which checks every fact name, test and value
//! against the fact catalogue ([`crate::rules::facts`]). Deciding is in
//! `eval.rs`: plain `match`es over the event's [`Ctx`](crate::rules::facts::Ctx),
//! with nothing parsed or looked up by name. `display.rs` writes a condition
//! back as it would be written in a rules file. The sentences that explain why
//! a condition held or not live with the other explanation text, in
//! [`crate::engine::explain`].

mod display;
mod eval;
mod parse;

pub(crate) use parse::Reader;

use crate::diag::Pos;
use crate::rules::facts::Fact;
use crate::rules::script::Script;

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Always,
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Test(Box<Test>),
    Script(Box<ScriptCond>),
}

/// One test of one fact, e.g. `client.last_appointment: {present: true}`.
#[derive(Debug, Clone)]
pub(crate) struct Test {
    pub(crate) fact: Fact,
    pub(crate) op: Op,
    pub(crate) pos: Pos,
}

/// A condition written in Rhai.
#[derive(Debug, Clone)]
pub(crate) struct ScriptCond {
    pub(crate) script: Script,
    pub(crate) pos: Pos,
}

/// The tests, by the type of fact they apply to.
#[derive(Debug, Clone)]
pub(crate) enum Op {
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
    /// A location fact or a set-of-locations fact, e.g. `client.locations`.
    Fact(Fact),
    /// Location ids as written, checked against the world when evaluated.
    Literal(Vec<String>),
    /// `{intersection: [...]}`: the locations in every part.
    Intersection(Vec<SetExpr>),
    /// `{union: [...]}`: the locations in any part.
    Union(Vec<SetExpr>),
    /// `{rhai: ...}`: a script that gives ids.
    Script(Box<Script>),
}

impl Cond {
    /// Where the condition starts in its file, when it is a test or a script.
    pub(crate) fn pos(&self) -> Option<Pos> {
        match self {
            Cond::Test(t) => Some(t.pos),
            Cond::Script(s) => Some(s.pos),
            Cond::All(p) | Cond::Any(p) => p.first().and_then(Cond::pos),
            Cond::Not(c) => c.pos(),
            Cond::Always => None,
        }
    }

    /// Whether evaluating this needs a script.
    pub(crate) fn uses_script(&self) -> bool {
        self.any_set_or_script(&SetExpr::uses_script)
    }

    /// Whether evaluating this can fail: a script can, and so can a literal
    /// list of location ids, which the world may not have.
    pub(crate) fn can_fail(&self) -> bool {
        self.any_set_or_script(&SetExpr::can_fail)
    }

    /// True if the tree has a script condition, or a set operand for which
    /// `set` says yes.
    fn any_set_or_script(&self, set: &impl Fn(&SetExpr) -> bool) -> bool {
        match self {
            Cond::Script(_) => true,
            Cond::All(p) | Cond::Any(p) => p.iter().any(|c| c.any_set_or_script(set)),
            Cond::Not(c) => c.any_set_or_script(set),
            Cond::Test(t) => match &t.op {
                Op::In(s) | Op::SharesAnyWith(s) | Op::SharesNoneWith(s) | Op::Contains(s) => set(s),
                _ => false,
            },
            Cond::Always => false,
        }
    }

    /// Calls `f` on every test in the tree.
    pub(crate) fn visit_tests<'a>(&'a self, f: &mut impl FnMut(&'a Test)) {
        match self {
            Cond::Test(t) => f(t),
            Cond::All(p) | Cond::Any(p) => p.iter().for_each(|c| c.visit_tests(f)),
            Cond::Not(c) => c.visit_tests(f),
            Cond::Always | Cond::Script(_) => {}
        }
    }
}

impl SetExpr {
    /// Whether evaluating this needs a script.
    pub(crate) fn uses_script(&self) -> bool {
        match self {
            SetExpr::Script(_) => true,
            SetExpr::Intersection(p) | SetExpr::Union(p) => p.iter().any(SetExpr::uses_script),
            _ => false,
        }
    }

    /// Whether evaluating this can fail: a script, or literal ids.
    pub(crate) fn can_fail(&self) -> bool {
        match self {
            SetExpr::Script(_) | SetExpr::Literal(_) => true,
            SetExpr::Intersection(p) | SetExpr::Union(p) => p.iter().any(SetExpr::can_fail),
            SetExpr::Fact(_) => false,
        }
    }
}
