//! A condition written back as it would be written in a rules file, for
//! explanations, listings and error messages.

use std::fmt;

use crate::rules::condition::{Cond, Op, SetExpr, Test};
use crate::rules::facts::FactType;

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
