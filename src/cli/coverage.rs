//! `commroute coverage`: which rules the scenarios reach, with a threshold.

use std::path::PathBuf;

use crate::authoring::coverage::{self, Coverage};
use crate::scenario::{self, DefaultDir, Suite};

use super::output::{json_line, shown_owned, table};
use super::progress::Bar;
use super::{err, out, out_exact, CliResult, Exit, Format, RulesArg, RulesFrom};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Scenario files or directories [default: scenarios]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RulesArg,
    /// Exit 1 when fewer than PERCENT of the rules and grants are reached
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    min: Option<f64>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
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
    let suite = Suite::load(&paths, Some(&rules))?;
    if !suite.broken.is_empty() {
        return Err(suite.broken.sorted().into());
    }
    let bar = Bar::start("coverage", "cases and events", None);
    bar.progress().begin_items(suite.work());
    let report = suite.run_with(&rules, None, bar.progress());
    bar.finish();
    let c = coverage::measure(&rules, &report.files);
    let text = render(&c, args.format, &from);
    match args.format {
        Format::Json => out_exact(&text)?,
        Format::Table => out(&text)?,
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

fn render(c: &Coverage, format: Format, from: &RulesFrom) -> String {
    let mut text = String::new();
    match format {
        Format::Json => {
            for r in &c.rules {
                text.push_str(&json_line("rule", r));
            }
            text.push_str(&json_line(
                "summary",
                &serde_json::json!({"cases": c.cases, "decisions": c.decisions, "covered": c.covered, "total": c.total, "percent": c.percent(), "rules": from.json()}),
            ));
        }
        Format::Table => {
            let mut t = table(&["policy", "rule", "kind", "reached by"]);
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
            text.push_str(&format!("{t}\n"));
            let unreached: Vec<String> = c.unreached().map(|r| shown_owned(&r.rule)).collect();
            if !unreached.is_empty() {
                text.push_str(&format!("no case reaches: {}\n", unreached.join(", ")));
            }
            text.push_str(&format!(
                "{:.1}% of rules and grants reached ({} of {}) by {} cases and {} timeline decisions\n",
                c.percent(),
                c.covered,
                c.total,
                c.cases,
                c.decisions
            ));
        }
    }
    text
}
