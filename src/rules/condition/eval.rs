//! Deciding whether a compiled condition holds for one event.
//!
//! These are the fast paths the engine calls for every rule: plain `match`es
//! over the event's facts, with no parsing, no lookups by name and no
//! sentences. Explaining a result is in [`crate::engine::explain`].

use crate::rules::condition::{Cond, Op, SetExpr, Test};
use crate::rules::facts::Ctx;
use crate::rules::script::{self, Sandbox};
use crate::rules::RuleError;
use crate::world::locset::LocSet;

impl SetExpr {
    pub(crate) fn eval(&self, ctx: &Ctx, sb: &Sandbox) -> Result<LocSet, RuleError> {
        Ok(match self {
            SetExpr::Fact(f) if f.is_set() => ctx.set(*f).clone(),
            SetExpr::Fact(f) => ctx.location(*f).map(LocSet::one).unwrap_or_default(),
            SetExpr::Literal(ids) => {
                let mut set = LocSet::new();
                for id in ids {
                    match ctx.world.location(id) {
                        Some(l) => set.insert(l),
                        None => return Err(RuleError::UnknownLocation { id: id.clone() }),
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
}

impl Test {
    #[inline]
    pub(crate) fn holds(&self, ctx: &Ctx, sb: &Sandbox) -> Result<bool, RuleError> {
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
    fn shares(&self, ctx: &Ctx, sb: &Sandbox, other: &SetExpr) -> Result<bool, RuleError> {
        let mine = ctx.set(self.fact);
        Ok(match other {
            SetExpr::Fact(g) if g.is_set() => mine.intersects(ctx.set(*g)),
            SetExpr::Fact(g) => ctx.location(*g).is_some_and(|l| mine.contains(l)),
            _ => mine.intersects(&other.eval(ctx, sb)?),
        })
    }
}

impl Cond {
    /// Whether the condition holds: the fast path, with no explanation.
    #[inline]
    pub(crate) fn holds(&self, ctx: &Ctx, sb: &Sandbox) -> Result<bool, RuleError> {
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
}

/// The same decisions for conditions that cannot fail (no script, no
/// literal location ids: [`Cond::can_fail`] is false), without the `Result`
/// a failure would need. The rule index calls these for such rules; every
/// other rule goes through [`Cond::holds`].
impl SetExpr {
    fn eval_infallible(&self, ctx: &Ctx) -> LocSet {
        match self {
            SetExpr::Fact(f) if f.is_set() => ctx.set(*f).clone(),
            SetExpr::Fact(f) => ctx.location(*f).map(LocSet::one).unwrap_or_default(),
            SetExpr::Intersection(parts) => parts[1..].iter().fold(parts[0].eval_infallible(ctx), |acc, p| {
                acc.intersection(&p.eval_infallible(ctx))
            }),
            SetExpr::Union(parts) => parts[1..].iter().fold(parts[0].eval_infallible(ctx), |acc, p| {
                acc.union(&p.eval_infallible(ctx))
            }),
            // `can_fail` is true for these, so they never get here; an
            // empty set is what a failed lookup would have contributed.
            SetExpr::Literal(_) | SetExpr::Script(_) => LocSet::new(),
        }
    }
}

impl Test {
    #[inline]
    fn holds_infallible(&self, ctx: &Ctx) -> bool {
        let f = self.fact;
        match &self.op {
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
                    _ => set.eval_infallible(ctx).contains(l),
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
            Op::SharesAnyWith(other) => self.shares_infallible(ctx, other),
            Op::SharesNoneWith(other) => !self.shares_infallible(ctx, other),
            Op::Contains(other) => {
                let mine = ctx.set(f);
                other.eval_infallible(ctx).iter().all(|l| mine.contains(l))
            }
        }
    }

    #[inline]
    fn shares_infallible(&self, ctx: &Ctx, other: &SetExpr) -> bool {
        let mine = ctx.set(self.fact);
        match other {
            SetExpr::Fact(g) if g.is_set() => mine.intersects(ctx.set(*g)),
            SetExpr::Fact(g) => ctx.location(*g).is_some_and(|l| mine.contains(l)),
            _ => mine.intersects(&other.eval_infallible(ctx)),
        }
    }
}

impl Cond {
    /// Whether a condition that cannot fail holds ([`Cond::can_fail`] must
    /// be false; a script in it would count as not holding).
    pub(crate) fn holds_infallible(&self, ctx: &Ctx) -> bool {
        match self {
            Cond::Always => true,
            Cond::Test(t) => t.holds_infallible(ctx),
            Cond::All(parts) => parts.iter().all(|p| p.holds_infallible(ctx)),
            Cond::Any(parts) => parts.iter().any(|p| p.holds_infallible(ctx)),
            Cond::Not(c) => !c.holds_infallible(ctx),
            Cond::Script(_) => false,
        }
    }
}
