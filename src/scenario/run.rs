//! Running a loaded scenario file: each case's decision compared with what
//! it expects, and the reports that say so. Loading is in `load.rs`;
//! finding files and running a whole suite is in `discover.rs`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{timeline_checks, Case, CaseEvent, ScenarioFile};
use crate::diag::Diagnostics;
use crate::engine::decision::{InboundReport, OutboundReport};
use crate::progress::Progress;
use crate::rules::RuleSet;

/// What a case produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Actual {
    /// An inbound case's decision.
    Inbound(InboundReport),
    /// An outbound case's decision.
    Outbound(OutboundReport),
    /// A rule could not be evaluated.
    Error {
        /// The evaluation error, as the user sees it.
        error: String,
    },
    /// What a timeline check read, field by field.
    Check(std::collections::BTreeMap<String, String>),
}

/// One expected field that came out differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The expectation's key (`lands_at`, `channel`...).
    pub field: &'static str,
    /// What the case expects, as written.
    pub expected: String,
    /// What came out.
    pub actual: String,
}

/// One case (or timeline check) run: passed or not, and what came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// The line of the case in its file.
    #[serde(skip)]
    pub line: usize,
    /// Whether everything expected came out.
    pub passed: bool,
    /// The expected fields that came out differently.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<Mismatch>,
    /// What the case produced.
    pub actual: Actual,
    /// For a failing timeline check: the trace of the decisions behind what
    /// it read (a case's trace is in `actual`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    /// How long the case took to decide and compare (a timeline check: to
    /// read what it checks; the replay is in [`FileReport::time`]). Left
    /// out of JSON so that output stays the same from run to run.
    #[serde(skip)]
    pub time: Duration,
}

impl CaseReport {
    /// The deciding rule, when there is one.
    pub fn rule(&self) -> &str {
        match &self.actual {
            Actual::Inbound(r) => &r.rule,
            Actual::Outbound(r) => &r.rule,
            Actual::Error { .. } | Actual::Check(_) => "-",
        }
    }

    /// Expected and actual side by side, then the trace in plain words;
    /// values from the files are shown escaped ([`crate::text::shown`]).
    pub fn failure_text(&self) -> String {
        use crate::text::shown;
        let mut out = String::new();
        let width = self
            .mismatches
            .iter()
            .map(|m| shown(&m.expected).len())
            .max()
            .unwrap_or(8)
            .max(8);
        out.push_str(&format!("    {:<14} {:<width$}   actual\n", "", "expected"));
        for m in &self.mismatches {
            let (expected, actual) = (shown(&m.expected), shown(&m.actual));
            out.push_str(&format!("    {:<14} {:<width$}   {actual}\n", m.field, expected));
        }
        match &self.actual {
            Actual::Error { error } => out.push_str(&format!("    error: {}\n", shown(error))),
            Actual::Check(_) if self.why.is_empty() => {}
            Actual::Check(_) => {
                out.push_str("    why:\n");
                for line in &self.why {
                    out.push_str(&format!("      {}\n", shown(line)));
                }
            }
            Actual::Inbound(InboundReport { trace, .. }) | Actual::Outbound(OutboundReport { trace, .. }) => {
                out.push_str("    why:\n");
                for line in trace {
                    out.push_str(&format!("      {}\n", shown(&line.sentence())));
                }
            }
        }
        out
    }
}

/// One scenario file run: a report per case (or timeline check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The scenario file.
    pub path: PathBuf,
    /// One report per case run, in file order.
    pub cases: Vec<CaseReport>,
    /// For a timeline scenario: every event's report, the conversations and
    /// the usage it left behind.
    #[serde(skip)]
    pub timeline: Option<timeline_checks::TimelineOutcome>,
    /// How long running the file took: its cases, or its timeline's replay
    /// and checks.
    #[serde(skip)]
    pub time: Duration,
}

impl FileReport {
    /// The cases that passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// The cases that failed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

impl ScenarioFile {
    /// Runs every case (or those whose name contains `filter`) against `rules`.
    pub fn run(&self, rules: &RuleSet, filter: Option<&str>) -> FileReport {
        self.run_with(rules, filter, &Progress::new())
    }

    /// How much work running it is, as [`ScenarioFile::run_with`] counts
    /// progress: its cases, or its timeline's events.
    pub fn work(&self) -> u64 {
        (self.cases.len() + self.timeline.as_ref().map_or(0, |t| t.events.len())) as u64
    }

    /// [`ScenarioFile::run`], adding each case run, and a timeline's events
    /// every few hundred, to `progress`.
    pub fn run_with(&self, rules: &RuleSet, filter: Option<&str>, progress: &Progress) -> FileReport {
        let started = Instant::now();
        if let Some(spec) = &self.timeline {
            let (cases, outcome) = timeline_checks::run(spec, &self.path, rules, filter, progress);
            return FileReport {
                path: self.path.clone(),
                cases,
                timeline: outcome,
                time: started.elapsed(),
            };
        }
        let cases = self
            .cases
            .iter()
            .filter(|c| filter.is_none_or(|f| c.name.contains(f) || self.path.to_string_lossy().contains(f)))
            .map(|c| {
                let report = run_case(c, rules);
                progress.add(0, 1);
                report
            })
            .collect();
        FileReport {
            path: self.path.clone(),
            cases,
            timeline: None,
            time: started.elapsed(),
        }
    }
}

/// Loads and runs one scenario file, checking its expected rules against
/// `rules`: what [`super::Suite`] does for each file it finds.
pub fn run_file(path: &Path, rules: &RuleSet, filter: Option<&str>) -> Result<FileReport, Diagnostics> {
    Ok(ScenarioFile::load_for(path, rules)?.run(rules, filter))
}

/// Decides one case with the explaining evaluator and compares every
/// expected field with what came out.
pub(crate) fn run_case(case: &Case, rules: &RuleSet) -> CaseReport {
    let started = Instant::now();
    let world = &case.world;
    let e = &case.expect;
    let mut mismatches = Vec::new();
    let mut check = |field: &'static str, expected: Option<String>, actual: String| {
        if let Some(expected) = expected {
            if expected != actual {
                mismatches.push(Mismatch {
                    field,
                    expected,
                    actual,
                });
            }
        }
    };
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    let actual = match &case.event {
        CaseEvent::Inbound(ev) => match rules.explain_inbound(world, ev) {
            Ok(d) => {
                let r = d.report(rules, world);
                check("lands_at", e.lands_at.as_deref().map(list), list(&r.lands_at));
                check(
                    "delivered_to",
                    e.delivered_to.as_deref().map(list),
                    list(&r.delivered_to),
                );
                check("rule", e.rule.clone(), r.rule.clone());
                Actual::Inbound(r)
            }
            Err(err) => Actual::Error { error: err.to_string() },
        },
        CaseEvent::Outbound(ev) => match rules.explain_outbound(world, ev) {
            Ok(d) => {
                let r = d.report(rules);
                check("channel", e.channel.map(|c| c.to_string()), r.channel.to_string());
                check("ghost_text", e.ghost_text.clone(), r.ghost_text.clone());
                check("text", e.text.clone(), r.text.clone());
                check("rule", e.rule.clone(), r.rule.clone());
                Actual::Outbound(r)
            }
            Err(err) => Actual::Error { error: err.to_string() },
        },
    };
    let passed = mismatches.is_empty() && !matches!(actual, Actual::Error { .. });
    CaseReport {
        name: case.name.clone(),
        line: case.pos.line,
        passed,
        mismatches,
        actual,
        why: Vec::new(),
        time: started.elapsed(),
    }
}
