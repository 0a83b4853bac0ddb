//! `commroute coverage`: which rules the scenarios reach, with a threshold.

use std::path::PathBuf;

use crate::authoring::coverage::{self, Coverage};
use crate::scenario::{self, DefaultDir};

use super::output::{json_line, markdown_cell, shown_owned, Grid};
use super::progress::Bar;
use super::{err, out, out_exact, CliResult, Exit, FormatChoice, Layout, ReportFormat, RulesArg, RulesFrom};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Scenario files or directories (`-`: one scenario file read from stdin) [default: scenarios]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RulesArg,
    /// Exit 1 when fewer than PERCENT of the rules and grants are reached
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    min: Option<f64>,
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
}

fn percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a percentage from 0 to 100")),
    }
}

pub(crate) fn run(args: Args) -> CliResult {
    let (rules, from) = args.rules.load()?;
    let paths = scenario::paths_or_default(&args.paths, DefaultDir::Required);
    let suite = super::stdin::suite(&paths, Some(&rules))?;
    if !suite.broken.is_empty() {
        return Err(suite.broken.sorted().into());
    }
    let bar = Bar::start("coverage", "cases and events", None);
    bar.progress().begin_items(suite.work());
    let report = suite.run_with(&rules, None, bar.progress());
    bar.finish();
    let c = coverage::measure(&rules, &report.files);
    let text = render(&c, args.format, &from);
    match args.format.layout() {
        None => out_exact(&text)?,
        Some(_) => out(&text)?,
    }
    let failed = report.failed();
    if failed > 0 {
        err(&format!(
            "note: {failed} scenario cases fail; `commroute test` shows why\n"
        ));
    }
    Ok(match args.min {
        Some(min) if c.percent() + 1e-9 < min => {
            err(&format!(
                "error: coverage {:.1}% is below the minimum {min}%\n",
                c.percent()
            ));
            Exit::Failed
        }
        _ => Exit::Ok,
    })
}

fn render(c: &Coverage, format: ReportFormat, from: &RulesFrom) -> String {
    let mut text = String::new();
    match format.layout() {
        None => {
            for r in &c.rules {
                text.push_str(&json_line("rule", r));
            }
            text.push_str(&json_line(
                "summary",
                &serde_json::json!({"cases": c.cases, "decisions": c.decisions, "covered": c.covered, "total": c.total, "percent": c.percent(), "rules": from.json()}),
            ));
        }
        Some(layout) => {
            let mut t = Grid::new(&["policy", "rule", "kind", "reached by"]).ids(&[1]);
            for r in &c.rules {
                let reached = match (r.kind, r.count) {
                    ("gate", 0) => "refused nobody".to_string(),
                    ("gate", n) => format!("refused {n} staff"),
                    (_, 0) => "NOT REACHED".to_string(),
                    ("grant", n) => format!("admitted {n} staff"),
                    (_, 1) => "decided once".to_string(),
                    (_, n) => format!("decided {n} times"),
                };
                t.add_row(vec![
                    r.policy.to_string(),
                    shown_owned(&r.rule),
                    r.kind.to_string(),
                    reached,
                ]);
            }
            let unreached: Vec<String> = c.unreached().map(|r| shown_owned(&r.rule)).collect();
            let summary = format!(
                "{:.1}% of rules and grants reached ({} of {}) by {} cases and {} timeline decisions",
                c.percent(),
                c.covered,
                c.total,
                c.cases,
                c.decisions
            );
            if layout == Layout::Markdown {
                text.push_str(&format!("## Rule coverage\n\n{summary}.\n"));
                if !unreached.is_empty() {
                    let names: Vec<String> = unreached.iter().map(|r| markdown_cell(r)).collect();
                    text.push_str(&format!("No scenario case reaches {}.\n", names.join(", ")));
                }
                text.push('\n');
                text.push_str(&t.render(layout));
                return text;
            }
            text.push_str(&t.render(layout));
            if !unreached.is_empty() {
                text.push_str(&format!("no case reaches: {}\n", unreached.join(", ")));
            }
            text.push_str(&summary);
            text.push('\n');
        }
    }
    text
}
