//! Deciding whether a compiled condition holds for one event.
//!
//! These are the fast paths the engine calls for every rule: plain `match`es
//! over the event's facts, with no parsing, no lookups by name and no
//! sentences. Explaining a result is in [`crate::engine::explain`].
//!
//! One implementation ([`Decide`]) serves two callers: [`Cond::holds`], for
//! any condition, and [`Cond::holds_infallible`], for conditions that cannot
//! fail (no script, no literal location ids), which the rule index calls
//! without the cost of a `Result` that could only ever be `Ok`.

use crate::rules::condition::{Cond, Op, SetExpr, Test};
use crate::rules::facts::Ctx;
use crate::rules::script::{self, Sandbox};
use crate::rules::RuleError;
use std::convert::Infallible;

use crate::rules::condition::ScriptCond;
use crate::world::locset::LocSet;

/// What deciding needs besides the event's facts: the sets that can fail to
/// be made (literal ids the world may lack, scripts), and script conditions.
trait Decide {
    type Error;
    fn leaf(&self, set: &SetExpr, ctx: &Ctx) -> Result<LocSet, Self::Error>;
    fn script(&self, cond: &ScriptCond, ctx: &Ctx) -> Result<bool, Self::Error>;
}

/// Everything, through the rules file's sandbox.
struct Sandboxed<'a>(&'a Sandbox);

impl Decide for Sandboxed<'_> {
    type Error = RuleError;
    fn leaf(&self, set: &SetExpr, ctx: &Ctx) -> Result<LocSet, RuleError> {
        Ok(match set {
            SetExpr::Literal(ids) => {
                let mut out = LocSet::new();
                for id in ids {
                    match ctx.world.location(id) {
                        Some(l) => out.insert(l),
                        None => return Err(RuleError::UnknownLocation { id: id.clone() }),
                    }
                }
                out
            }
            SetExpr::Script(s) => script::as_locations(self.0.run(s, ctx)?, ctx)?,
            // `SetExpr::eval_by` makes the others itself.
            SetExpr::Fact(_) | SetExpr::Intersection(_) | SetExpr::Union(_) => LocSet::new(),
        })
    }
    fn script(&self, cond: &ScriptCond, ctx: &Ctx) -> Result<bool, RuleError> {
        script::as_bool(&self.0.run(&cond.script, ctx)?)
    }
}

/// Conditions that cannot fail ([`Cond::can_fail`] is false): they have no
/// literal ids and no scripts, so neither method is ever called with one;
/// an empty set and "no" are what they would stand for.
struct NoFailure;

impl Decide for NoFailure {
    type Error = Infallible;
    fn leaf(&self, _: &SetExpr, _: &Ctx) -> Result<LocSet, Infallible> {
        Ok(LocSet::new())
    }
    fn script(&self, _: &ScriptCond, _: &Ctx) -> Result<bool, Infallible> {
        Ok(false)
    }
}

impl SetExpr {
    /// The set, with literal ids checked against the world and scripts run
    /// in the sandbox.
    pub(crate) fn eval(&self, ctx: &Ctx, sb: &Sandbox) -> Result<LocSet, RuleError> {
        self.eval_by(ctx, &Sandboxed(sb))
    }

    fn eval_by<D: Decide>(&self, ctx: &Ctx, d: &D) -> Result<LocSet, D::Error> {
        Ok(match self {
            SetExpr::Fact(f) if f.is_set() => ctx.set(*f).clone(),
            SetExpr::Fact(f) => ctx.location(*f).map(LocSet::one).unwrap_or_default(),
            SetExpr::Intersection(parts) => {
                let mut acc = parts[0].eval_by(ctx, d)?;
                for p in &parts[1..] {
                    acc = acc.intersection(&p.eval_by(ctx, d)?);
                }
                acc
            }
            SetExpr::Union(parts) => {
                let mut acc = parts[0].eval_by(ctx, d)?;
                for p in &parts[1..] {
                    acc = acc.union(&p.eval_by(ctx, d)?);
                }
                acc
            }
            SetExpr::Literal(_) | SetExpr::Script(_) => d.leaf(self, ctx)?,
        })
    }
}

impl Test {
    /// Whether the test holds, scripts and literal ids included.
    #[inline]
    pub(crate) fn holds(&self, ctx: &Ctx, sb: &Sandbox) -> Result<bool, RuleError> {
        self.decide(ctx, &Sandboxed(sb))
    }

    #[inline]
    fn decide<D: Decide>(&self, ctx: &Ctx, d: &D) -> Result<bool, D::Error> {
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
                    _ => set.eval_by(ctx, d)?.contains(l),
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
            Op::SharesAnyWith(other) => self.shares(ctx, d, other)?,
            Op::SharesNoneWith(other) => !self.shares(ctx, d, other)?,
            Op::Contains(other) => {
                let mine = ctx.set(f);
                other.eval_by(ctx, d)?.iter().all(|l| mine.contains(l))
            }
        })
    }

    #[inline]
    fn shares<D: Decide>(&self, ctx: &Ctx, d: &D, other: &SetExpr) -> Result<bool, D::Error> {
        let mine = ctx.set(self.fact);
        Ok(match other {
            SetExpr::Fact(g) if g.is_set() => mine.intersects(ctx.set(*g)),
            SetExpr::Fact(g) => ctx.location(*g).is_some_and(|l| mine.contains(l)),
            _ => mine.intersects(&other.eval_by(ctx, d)?),
        })
    }
}

impl Cond {
    fn decide<D: Decide>(&self, ctx: &Ctx, d: &D) -> Result<bool, D::Error> {
        match self {
            Cond::Always => Ok(true),
            Cond::Test(t) => t.decide(ctx, d),
            Cond::All(parts) => {
                for p in parts {
                    if !p.decide(ctx, d)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Cond::Any(parts) => {
                for p in parts {
                    if p.decide(ctx, d)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Cond::Not(c) => Ok(!c.decide(ctx, d)?),
            Cond::Script(s) => d.script(s, ctx),
        }
    }

    /// Whether the condition holds: the fast path, with no explanation.
    #[inline]
    pub(crate) fn holds(&self, ctx: &Ctx, sb: &Sandbox) -> Result<bool, RuleError> {
        self.decide(ctx, &Sandboxed(sb))
    }

    /// Whether a condition that cannot fail holds ([`Cond::can_fail`] must
    /// be false: a script in it would count as not holding, a literal list
    /// of ids as empty).
    #[inline]
    pub(crate) fn holds_infallible(&self, ctx: &Ctx) -> bool {
        let Ok(holds) = self.decide(ctx, &NoFailure);
        holds
    }
}
