//! Evaluating events against a rule set: pure functions, no parsing, no I/O.
//!
//! Each function exists in a fast form (no trace, used on the hot path and in
//! batch) and an explaining form that records every rule considered and why it
//! did or did not apply. Both share one implementation, selected by a const
//! generic, so they cannot drift apart.
//!
//! Events and their resolution against a world are in `event.rs`, decisions
//! and their reports in `decision.rs`, and every sentence that explains a
//! decision in `explain.rs`.

pub mod decision;
pub mod event;
pub(crate) mod explain;
#[cfg(test)]
mod index_differential;

use std::path::PathBuf;

use smallvec::SmallVec;

use crate::engine::decision::{
    InboundDecision, InboundTrace, OutboundDecision, OutboundTrace, Recipient, RuleStep, StaffStep,
};
use crate::engine::event::{Inbound, Outbound, Start};
use crate::rules::condition::Cond;
use crate::rules::facts::{Answering, Channel, Ctx, Starter};
use crate::rules::script::Sandbox;
use crate::rules::{FirstMatch, Piece, PolicyFile, Rule, RuleError, RuleSet};
use crate::world::{StaffIdx, World};

/// A rule that could not be evaluated (a script failed or exceeded its limits,
/// or a literal location id is not in this world): which rule, where it is
/// written, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule `{rule}` ({}:{line}) failed: {message}", file.display())]
pub struct EvalError {
    /// The id of the rule that failed.
    pub rule: String,
    /// The rules file it is written in.
    pub file: PathBuf,
    /// The line of its `- id:`.
    pub line: usize,
    /// Why it failed, in words: `cause` as text.
    pub message: String,
    /// Why it failed.
    pub cause: RuleError,
}

fn eval_err<O>(file: &PolicyFile, rule: &Rule<O>, cause: RuleError) -> EvalError {
    EvalError {
        rule: rule.id.clone(),
        file: file.path.clone(),
        line: rule.pos.line,
        message: cause.to_string(),
        cause,
    }
}

/// Finds the first rule whose condition holds, recording steps when tracing.
///
/// The fast path asks the policy's index for the rules the event's discrete
/// facts admit and tests only those, in file order; the explaining path walks
/// every rule, to say why each one before the decider did not apply.
fn first_match<'r, O, const TRACE: bool>(
    file: &PolicyFile,
    policy: &'r FirstMatch<O>,
    ctx: &Ctx,
    steps: &mut Vec<RuleStep>,
) -> Result<(usize, &'r Rule<O>), EvalError> {
    let rules = &policy.rules;
    let sb = &file.sandbox;
    if !TRACE {
        if let Some(index) = &policy.index {
            let found = index.first(ctx, |i, can_fail| {
                let rule = &rules[i];
                if can_fail {
                    rule.when.holds(ctx, sb).map_err(|m| eval_err(file, rule, m))
                } else {
                    Ok(rule.when.holds_infallible(ctx))
                }
            })?;
            // Loading guarantees the last rule is `when: always`, which every
            // event admits.
            let i = found.expect("a first-match policy ends with a catch-all rule");
            return Ok((i, &rules[i]));
        }
        return first_match_walk(file, rules, ctx);
    }
    for (i, rule) in rules.iter().enumerate() {
        let failure = rule.when.why_not(ctx, sb).map_err(|m| eval_err(file, rule, m))?;
        let applied = failure.is_none();
        let because = if applied {
            Some(rule.when.why(ctx, sb).map_err(|m| eval_err(file, rule, m))?)
        } else {
            None
        };
        steps.push(RuleStep {
            rule: i,
            failure,
            because,
        });
        if applied {
            return Ok((i, rule));
        }
    }
    unreachable!("a first-match policy ends with a catch-all rule")
}

/// The first rule whose condition holds, testing every rule in file order:
/// what the index must always agree with.
pub(crate) fn first_match_walk<'r, O>(
    file: &PolicyFile,
    rules: &'r [Rule<O>],
    ctx: &Ctx,
) -> Result<(usize, &'r Rule<O>), EvalError> {
    for (i, rule) in rules.iter().enumerate() {
        if rule
            .when
            .holds(ctx, &file.sandbox)
            .map_err(|m| eval_err(file, rule, m))?
        {
            return Ok((i, rule));
        }
    }
    // Loading guarantees the last rule is `when: always`.
    unreachable!("a first-match policy ends with a catch-all rule")
}

#[inline(always)]
fn holds<O>(file: &PolicyFile, rule: &Rule<O>, cond: &Cond, ctx: &Ctx, sb: &Sandbox) -> Result<bool, EvalError> {
    cond.holds(ctx, sb).map_err(|m| eval_err(file, rule, m))
}

/// The channel an outbound rule gives: its literal, or what its script says.
fn channel_of(
    o: &crate::rules::OutboundPolicy,
    r: &Rule<crate::rules::ChannelChoice>,
    ctx: &Ctx,
) -> Result<Channel, EvalError> {
    let Some(script) = &r.outcome.channel_script else {
        return Ok(r.outcome.channel);
    };
    let out = o.file.sandbox.run(script, ctx).map_err(|m| eval_err(&o.file, r, m))?;
    let name = out.into_immutable_string().unwrap_or_default();
    Channel::parse(&name).ok_or_else(|| eval_err(&o.file, r, RuleError::NotAChannel { gave: name.to_string() }))
}

/// The facts of an inbound event.
pub(crate) fn inbound_ctx<'w>(world: &'w World, ev: &Inbound) -> Ctx<'w> {
    let mut ctx = Ctx::new(world, ev.client);
    match ev.start {
        Start::Client { answering, location } => {
            ctx.started_by = Starter::Client;
            ctx.answering = answering;
            ctx.answered_location = location;
        }
        Start::Staff { staff, from } => {
            ctx.started_by = Starter::Staff;
            ctx.answering = Answering::Nothing;
            ctx.staff = Some((staff, &world.staff[staff as usize]));
            ctx.started_from = Some(from);
        }
    }
    ctx
}

impl RuleSet {
    /// Where a client's message lands and who receives it live.
    pub fn route_inbound(&self, world: &World, ev: &Inbound) -> Result<InboundDecision, EvalError> {
        self.inbound_impl::<false>(world, ev)
    }

    /// The same decision, with a trace of every rule and staff member considered.
    pub fn explain_inbound(&self, world: &World, ev: &Inbound) -> Result<InboundDecision, EvalError> {
        self.inbound_impl::<true>(world, ev)
    }

    /// Which channel carries a staff message, and its final text.
    pub fn route_outbound(&self, world: &World, ev: &Outbound) -> Result<OutboundDecision, EvalError> {
        Ok(self
            .outbound_impl::<false>(world, ev, &[])?
            .expect("a first-match policy ends with a catch-all rule"))
    }

    /// The same decision, with a trace of every outbound and text rule considered.
    pub fn explain_outbound(&self, world: &World, ev: &Outbound) -> Result<OutboundDecision, EvalError> {
        Ok(self
            .outbound_impl::<true>(world, ev, &[])?
            .expect("a first-match policy ends with a catch-all rule"))
    }

    /// The outbound policy evaluated again for a message whose earlier
    /// attempts went out on `tried` and failed: rules whose channel was
    /// already tried are skipped, so the next eligible rule decides (with the
    /// shipped rules: SMS, then email). `None` when every remaining rule
    /// names a tried channel.
    pub(crate) fn route_outbound_fallback(
        &self,
        world: &World,
        ev: &Outbound,
        tried: &[Channel],
    ) -> Result<Option<OutboundDecision>, EvalError> {
        self.outbound_impl::<false>(world, ev, tried)
    }

    fn inbound_impl<'w, const TRACE: bool>(
        &self,
        world: &'w World,
        ev: &Inbound,
    ) -> Result<InboundDecision, EvalError> {
        let mut ctx = inbound_ctx(world, ev);
        let mut trace = InboundTrace::default();
        let file = &self.inbound.file;
        let (rule, r) = first_match::<_, TRACE>(file, &self.inbound.rules, &ctx, &mut trace.rules)?;
        let lands_at = r.outcome.eval(&ctx, &file.sandbox).map_err(|m| eval_err(file, r, m))?;
        ctx.lands_at = lands_at;

        let d = &self.delivery;
        let sb = &d.file.sandbox;
        // The staff who can pass the indexed gates at a landing location.
        let indexed = |l| {
            if d.live_gate {
                world.live_staff_with_access(l)
            } else {
                world.staff_with_access(l)
            }
        };
        let mut delivered_to = Vec::with_capacity(if TRACE || !d.access_gate {
            0
        } else {
            ctx.lands_at.iter().map(|l| indexed(l).len()).sum()
        });
        let mut consider = |s: StaffIdx, ctx: &mut Ctx<'w>, trace: &mut InboundTrace| -> Result<(), EvalError> {
            ctx.recipient = Some((s, &world.staff[s as usize]));
            if TRACE {
                let mut step = StaffStep {
                    staff: s,
                    gate: None,
                    grants: Vec::new(),
                    refused: Vec::new(),
                };
                for (g, gate) in d.gates.iter().enumerate() {
                    if let Some(f) = gate.when.why_not(ctx, sb).map_err(|m| eval_err(&d.file, gate, m))? {
                        step.gate = Some((g, f));
                        break;
                    }
                }
                if step.gate.is_none() {
                    for (g, grant) in d.grants.iter().enumerate() {
                        match grant.when.why_not(ctx, sb).map_err(|m| eval_err(&d.file, grant, m))? {
                            None => step
                                .grants
                                .push((g, grant.when.why(ctx, sb).map_err(|m| eval_err(&d.file, grant, m))?)),
                            Some(f) => step.refused.push((g, f)),
                        }
                    }
                }
                if step.receives() {
                    delivered_to.push(Recipient {
                        staff: s,
                        grant: step.grants[0].0,
                    });
                }
                trace.staff.push(step);
            } else {
                // Staff come from the world's index, which already guarantees
                // the access gate (and the logged-in gate when there is one).
                for &g in &d.unindexed_gates {
                    let gate = &d.gates[g];
                    if !holds(&d.file, gate, &gate.when, ctx, sb)? {
                        return Ok(());
                    }
                }
                for (g, grant) in d.grants.iter().enumerate() {
                    if holds(&d.file, grant, &grant.when, ctx, sb)? {
                        delivered_to.push(Recipient { staff: s, grant: g });
                        break;
                    }
                }
            }
            Ok(())
        };
        if TRACE || !d.access_gate {
            for s in 0..world.staff.len() as StaffIdx {
                consider(s, &mut ctx, &mut trace)?;
            }
        } else {
            // A gate requires access to a landing location: only staff with
            // such access can pass, and the world indexes them by location.
            let landing = ctx.lands_at.clone();
            if landing.len() == 1 {
                for &s in indexed(landing.as_slice()[0]) {
                    consider(s, &mut ctx, &mut trace)?;
                }
            } else {
                let mut candidates: SmallVec<[StaffIdx; 32]> =
                    landing.iter().flat_map(|l| indexed(l).iter().copied()).collect();
                candidates.sort_unstable();
                candidates.dedup();
                for s in candidates {
                    consider(s, &mut ctx, &mut trace)?;
                }
            }
        }
        Ok(InboundDecision {
            lands_at: ctx.lands_at,
            rule,
            delivered_to,
            trace: TRACE.then(|| Box::new(trace)),
        })
    }

    fn outbound_impl<const TRACE: bool>(
        &self,
        world: &World,
        ev: &Outbound,
        skip: &[Channel],
    ) -> Result<Option<OutboundDecision>, EvalError> {
        let mut ctx = Ctx::new(world, ev.client);
        ctx.sender = Some(ev.sender);
        ctx.text = &ev.text;
        let mut trace = OutboundTrace::default();
        let o = &self.outbound;
        let (rule, r, channel) = if skip.is_empty() {
            let (i, r) = first_match::<_, TRACE>(&o.file, &o.rules, &ctx, &mut trace.rules)?;
            (i, r, channel_of(o, r, &ctx)?)
        } else {
            let mut found = None;
            for (i, r) in o.rules.rules.iter().enumerate() {
                if r.outcome.channel_script.is_none() && skip.contains(&r.outcome.channel) {
                    continue;
                }
                if holds(&o.file, r, &r.when, &ctx, &o.file.sandbox)? {
                    let channel = channel_of(o, r, &ctx)?;
                    if !skip.contains(&channel) {
                        found = Some((i, r, channel));
                        break;
                    }
                }
            }
            match found {
                Some(f) => f,
                None => return Ok(None),
            }
        };
        ctx.channel = channel;
        let scripted_ghost_text = match &r.outcome.ghost_text_script {
            None => None,
            Some(script) => {
                let out = o.file.sandbox.run(script, &ctx).map_err(|m| eval_err(&o.file, r, m))?;
                match out.into_immutable_string() {
                    Ok(s) => Some(s.to_string()),
                    Err(gave) => {
                        let cause = RuleError::NotText {
                            gave,
                            what: "a ghost text",
                        };
                        return Err(eval_err(&o.file, r, cause));
                    }
                }
            }
        };
        let (text_rule, t) = first_match::<_, TRACE>(&o.file, &o.text, &ctx, &mut trace.text)?;
        let mut text = String::with_capacity(ev.text.len() + 32);
        for piece in &t.outcome.0 {
            match piece {
                Piece::Literal(s) => text.push_str(s),
                Piece::Text => text.push_str(&ev.text),
                Piece::Fact(f) => text.push_str(ctx.text_of(*f)),
                Piece::Script(script) => {
                    let out = o.file.sandbox.run(script, &ctx).map_err(|m| eval_err(&o.file, t, m))?;
                    match out.into_immutable_string() {
                        Ok(s) => text.push_str(&s),
                        Err(gave) => {
                            let cause = RuleError::NotText {
                                gave,
                                what: "a message text",
                            };
                            return Err(eval_err(&o.file, t, cause));
                        }
                    }
                }
            }
        }
        Ok(Some(OutboundDecision {
            channel,
            scripted_ghost_text,
            rule,
            text_rule,
            text,
            trace: TRACE.then(|| Box::new(trace)),
        }))
    }
}
