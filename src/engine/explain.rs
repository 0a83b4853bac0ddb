//! Every sentence that explains a decision, in one place: why a condition
//! held or did not (with the values it saw), a trace line in words, and the
//! headings of `--explain`.
//!
//! Deciding never comes here: the engine's fast path calls
//! `Cond::holds` only, and the explaining
//! path calls `why_not` and `why` below after the same evaluation. Loading
//! problems are worded where they are found (`rules/load.rs`,
//! `rules/condition/parse.rs`), and evaluation errors by their types
//! ([`crate::rules::RuleError`], [`crate::engine::EvalError`]).

use crate::diag::Pos;
use crate::engine::decision::TraceLine;
use crate::rules::condition::{Cond, Op, SetExpr, Test};
use crate::rules::facts::{Ctx, FactType, Value};
use crate::rules::script::{self, Sandbox};
use crate::rules::RuleError;

/// Why a condition did not hold: the test, where it is, the value it saw and
/// a sentence for people. It is the `failed` object of a trace line in JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnmetCondition {
    /// The condition that did not hold, as written in the rules file.
    pub condition: String,
    /// Where it is in its file.
    #[serde(skip)]
    pub pos: Pos,
    /// The value it saw.
    pub saw: String,
    /// Why it did not hold, in words.
    pub reason: String,
}

impl SetExpr {
    fn label(&self) -> String {
        match self {
            SetExpr::Fact(f) => f.info().label.to_owned(),
            _ => format!("`{self}`"),
        }
    }
}

impl Test {
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
            .map(|s| Value::Set(s.intersection(ctx.set(self.fact))).show(ctx.world))
            .unwrap_or_default()
    }

    /// A sentence saying why this test failed, with the values seen.
    fn unmet(&self, ctx: &Ctx, sb: &Sandbox) -> UnmetCondition {
        let info = self.fact.info();
        let w = ctx.world;
        let seen = ctx.value(self.fact);
        let saw = seen.show(w);
        let operand = |e: &SetExpr| {
            e.eval(ctx, sb)
                .map(|s| Value::Set(s).show(w))
                .unwrap_or_else(|e| e.to_string())
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
        UnmetCondition {
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
                .map(|s| Value::Set(s).show(w))
                .unwrap_or_else(|e| e.to_string())
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
    /// `None` when the condition holds; otherwise the first test that failed.
    pub(crate) fn why_not(&self, ctx: &Ctx, sb: &Sandbox) -> Result<Option<UnmetCondition>, RuleError> {
        Ok(match self {
            Cond::Always => None,
            Cond::Test(t) => {
                if t.holds(ctx, sb)? {
                    None
                } else {
                    Some(t.unmet(ctx, sb))
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
                Some(UnmetCondition {
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
                    Some(UnmetCondition {
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
                    Some(UnmetCondition {
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
    pub(crate) fn why(&self, ctx: &Ctx, sb: &Sandbox) -> Result<String, RuleError> {
        Ok(match self {
            Cond::Always => "it is the catch-all (`when: always`)".into(),
            Cond::Test(t) => t.success(ctx, sb),
            Cond::All(parts) => parts
                .iter()
                .map(|p| p.why(ctx, sb))
                .collect::<Result<Vec<_>, RuleError>>()?
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
}

impl TraceLine {
    /// The line in plain words.
    pub fn sentence(&self) -> String {
        let who = self.staff.as_ref().map(|s| format!(" for `{s}`")).unwrap_or_default();
        match (&self.failed, &self.because) {
            (None, Some(b)) => format!("{} applied{who}: {b}", self.rule),
            (None, None) => format!("{} applied{who}", self.rule),
            (Some(f), _) => format!("{} did not apply{who}: {}", self.rule, f.reason),
        }
    }
}

/// The heading `--explain` prints before the lines of one policy (without
/// its colon).
fn heading(policy: &str) -> &'static str {
    match policy {
        "inbound" => "where it lands (inbound policy: the first rule that applies decides)",
        "delivery" => "who receives it live (delivery policy: every gate must hold, any grant admits)",
        "outbound" => "the channel (outbound policy: the first rule that applies decides)",
        _ => "the text (outbound `text` rules: the first that applies decides)",
    }
}

/// One policy's part of an explanation: its heading and one sentence per
/// rule considered, the words `route --explain` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExplainSection {
    /// `inbound`, `delivery`, `outbound` or `text`.
    pub policy: &'static str,
    /// What the policy decides and how.
    pub heading: &'static str,
    /// One line per trace line of the policy, in order.
    pub lines: Vec<ExplainLine>,
}

/// One sentence of an explanation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExplainLine {
    /// Whether the rule applied (its trace line's `applied`).
    pub applied: bool,
    /// The sentence, shown terminal-safe.
    pub text: String,
}

/// A trace as sections of sentences, one per policy in the trace's order:
/// what [`trace_text`] prints, for pages that lay it out themselves.
pub fn explanation(trace: &[TraceLine]) -> Vec<ExplainSection> {
    let mut out: Vec<ExplainSection> = Vec::new();
    for line in trace {
        if out.last().is_none_or(|s| s.policy != line.policy) {
            out.push(ExplainSection {
                policy: line.policy,
                heading: heading(line.policy),
                lines: Vec::new(),
            });
        }
        out.last_mut().expect("a section").lines.push(ExplainLine {
            applied: line.applied,
            text: crate::text::shown(&line.sentence()).into_owned(),
        });
    }
    out
}

/// A trace in plain words, one section per policy, as `route --explain`
/// prints it. Every value is shown terminal-safe.
pub(crate) fn trace_text(trace: &[TraceLine]) -> String {
    let mut s = String::new();
    for section in explanation(trace) {
        s.push_str(&format!("\n{}:\n", section.heading));
        for line in section.lines {
            s.push_str(&format!("  {}\n", line.text));
        }
    }
    s
}
