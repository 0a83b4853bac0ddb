//! `commroute test`: run scenario files, one row per case, `N passed, M failed`;
//! JUnit XML for CI; `--watch` to run again whenever a rules or scenario file changes.

use std::path::PathBuf;

use crate::scenario::{self, junit, CaseReport, DefaultDir, Suite, SuiteReport};
use crate::watch::{Watch, WatchOptions};

use super::output::{json_line, shown_owned, table};
use super::{err, out, out_exact, report, CliResult, Exit, RulesArg, RulesFrom};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub(crate) enum TestFormat {
    #[default]
    Table,
    Json,
    /// JUnit XML, for CI systems
    Junit,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Scenario files or directories [default: scenarios]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RulesArg,
    /// Only run cases whose name or file path contains TEXT
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: TestFormat,
    /// Run again whenever a rules or scenario file changes (stop with Ctrl-C)
    #[arg(long)]
    watch: bool,
}

pub(crate) fn run(args: Args) -> CliResult {
    if !args.watch {
        return run_once(&args);
    }
    // Watch before the first run, so a change made while it runs is seen.
    let (tx, changes) = std::sync::mpsc::channel();
    let watch = Watch::start(&watched_paths(&args), WatchOptions::default(), move |changed| {
        let _ = tx.send(changed);
    })
    .map_err(anyhow::Error::from)?;
    loop {
        if let Err(failure) = run_once(&args) {
            report(&failure);
        }
        if watch.polling() {
            err("watching the rules and scenario files for changes, polling: this file system gives no change events (Ctrl-C to stop)\n");
        } else {
            err("watching the rules and scenario files for changes (Ctrl-C to stop)\n");
        }
        if changes.recv().is_err() {
            return Ok(Exit::Ok);
        }
        // Changes made while the scenarios ran are in the next run.
        while changes.try_recv().is_ok() {}
    }
}

/// Every path the run reads that may change: the rules and the scenario paths.
fn watched_paths(args: &Args) -> Vec<PathBuf> {
    let mut paths = scenario_paths(args);
    paths.push(args.rules.dir().unwrap_or_else(|| PathBuf::from("rules")));
    paths
}

fn scenario_paths(args: &Args) -> Vec<PathBuf> {
    scenario::paths_or_default(&args.paths, DefaultDir::Required)
}

fn run_once(args: &Args) -> CliResult {
    let (rules, from) = args.rules.load()?;
    let paths = scenario_paths(args);
    let suite = Suite::load(&paths, Some(&rules))?.run(&rules, args.filter.as_deref());
    let (passed, failed) = (suite.passed(), suite.failed());
    match args.format {
        TestFormat::Junit => out_exact(&junit::xml(&suite.files, &suite.broken).map_err(anyhow::Error::from)?)?,
        TestFormat::Json => out_exact(&json_lines(&suite, &from))?,
        TestFormat::Table => out(&table_text(&suite))?,
    }
    if !suite.broken.is_empty() {
        err(&format!("{}\n", suite.broken.clone().sorted()));
        return Ok(Exit::Usage);
    }
    if passed + failed == 0 {
        let failure = match &args.filter {
            Some(f) => anyhow::anyhow!("no scenario case matches `{f}`"),
            None => anyhow::anyhow!(
                "no scenario cases found in {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        report(&failure.into());
        return Ok(Exit::Usage);
    }
    Ok(if failed > 0 { Exit::Failed } else { Exit::Ok })
}

/// One JSON line per case, then the summary.
fn json_lines(suite: &SuiteReport, from: &RulesFrom) -> String {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        file: String,
        #[serde(flatten)]
        case: &'a CaseReport,
    }
    let mut text = String::new();
    for r in &suite.files {
        for c in &r.cases {
            text.push_str(&json_line(
                "case",
                &Line {
                    file: r.path.display().to_string(),
                    case: c,
                },
            ));
        }
    }
    text.push_str(&json_line(
        "summary",
        &serde_json::json!({"passed": suite.passed(), "failed": suite.failed(), "broken_files": suite.broken.len(), "rules": from.json()}),
    ));
    text
}

/// One row per case, then each failure in full, then `N passed, M failed`.
fn table_text(suite: &SuiteReport) -> String {
    let mut t = table(&["file", "case", "result", "deciding rule"]);
    let mut details = String::new();
    for r in &suite.files {
        for c in &r.cases {
            let file = shown_owned(&r.path.display().to_string());
            t.add_row(vec![
                file.clone(),
                shown_owned(&c.name),
                if c.passed { "pass" } else { "FAIL" }.into(),
                shown_owned(c.rule()),
            ]);
            if !c.passed {
                details.push_str(&format!(
                    "\nFAIL {file}:{} › {}\n{}",
                    c.line,
                    shown_owned(&c.name),
                    c.failure_text()
                ));
            }
        }
    }
    let mut text = String::new();
    if !suite.files.is_empty() {
        text.push_str(&format!("{t}\n"));
    }
    text.push_str(&details);
    if !details.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("{} passed, {} failed\n", suite.passed(), suite.failed()));
    text
}
