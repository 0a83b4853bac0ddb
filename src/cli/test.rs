//! `commroute test`: run scenario files, one row per case, `N passed, M failed`;
//! JUnit XML for CI; `--watch` to run again whenever a rules or scenario file changes.

use std::path::PathBuf;

use crate::scenario::{self, junit, CaseReport, DefaultDir, SuiteReport};
use crate::watch::{Watch, WatchOptions};

use super::output::{json_line, markdown_code, shown_owned, Grid};
use super::style::{self, FAIL, PASS};
use super::{
    diagnostics, err, out, out_exact, out_painted, report, CliResult, Exit, FormatChoice, Layout, RulesArg, RulesFrom,
    TestFormat,
};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Scenario files or directories (`-`: one scenario file read from stdin) [default: scenarios]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RulesArg,
    /// Only run cases whose name or file path contains TEXT
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: TestFormat,
    /// List only the failing cases (each with expected and actual), then the summary
    #[arg(long)]
    only_failures: bool,
    /// Run again whenever a rules or scenario file changes (stop with Ctrl-C)
    #[arg(long)]
    watch: bool,
}

pub(crate) fn run(args: Args) -> CliResult {
    if args.watch && args.paths.iter().any(|p| super::stdin::is_stdin(p)) {
        return Err(anyhow::anyhow!("--watch cannot watch stdin (`-`); give the scenario file's path").into());
    }
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
    if args.only_failures && args.format == TestFormat::Junit {
        return Err(anyhow::anyhow!(
            "--only-failures does not apply to --format junit, which reports every case; use table, json or markdown"
        )
        .into());
    }
    let (rules, from) = args.rules.load()?;
    let paths = scenario_paths(args);
    let suite = super::stdin::suite(&paths, Some(&rules))?.run(&rules, args.filter.as_deref());
    let (passed, failed) = (suite.passed(), suite.failed());
    match (args.format, args.format.layout()) {
        (TestFormat::Junit, _) => out_exact(&junit::xml(&suite.files, &suite.broken).map_err(anyhow::Error::from)?)?,
        (_, None) => out_exact(&json_lines(&suite, &from, args.only_failures))?,
        (_, Some(Layout::Markdown)) => out(&human_text(&suite, Layout::Markdown, args.only_failures))?,
        (_, Some(layout)) => out_painted(&human_text(&suite, layout, args.only_failures), paint)?,
    }
    if !suite.broken.is_empty() {
        diagnostics(&suite.broken.clone().sorted());
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

/// One JSON line per case (per failing case with `--only-failures`), then the summary.
fn json_lines(suite: &SuiteReport, from: &RulesFrom, only_failures: bool) -> String {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        file: String,
        #[serde(flatten)]
        case: &'a CaseReport,
    }
    let mut text = String::new();
    for r in &suite.files {
        for c in r.cases.iter().filter(|c| !(only_failures && c.passed)) {
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

/// Colours a table's results: `pass` green, `FAIL` red, and the summary
/// line green when nothing failed, else red.
fn paint(text: &str) -> String {
    let text = style::words(text, &[("pass", PASS), ("FAIL", FAIL)]);
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let summary = line.trim_end().split_once(" passed, ").and_then(|(p, f)| {
            let failed = f.strip_suffix(" failed")?;
            (p.parse::<usize>().is_ok() && failed.parse::<usize>().is_ok()).then_some(failed != "0")
        });
        match summary {
            Some(failed) => {
                let body = line.trim_end_matches('\n');
                out.push_str(&style::paint(body, if failed { FAIL } else { PASS }));
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// One row per case (per failing case with `--only-failures`), then each
/// failure in full, then `N passed, M failed`; with `--quiet`, the summary
/// alone. In markdown: a heading, the summary as a sentence, the table and
/// the failures as a code block.
fn human_text(suite: &SuiteReport, layout: Layout, only_failures: bool) -> String {
    let (passed, failed) = (suite.passed(), suite.failed());
    let quiet = super::ui::get().quiet;
    let mut text = String::new();
    if layout == Layout::Markdown {
        let total = passed + failed;
        let sentence = match failed {
            0 if total == 1 => "The 1 scenario case passes.".to_owned(),
            0 => format!("All {total} scenario cases pass."),
            _ => format!("{failed} of {total} scenario cases fail."),
        };
        text.push_str(&format!("## Scenario tests\n\n{sentence}\n"));
        if quiet {
            return text;
        }
        text.push('\n');
    } else if quiet {
        return format!("{passed} passed, {failed} failed\n");
    }
    // The result first, where a reader of a CI log looks for FAIL; the case
    // name, the longest cell, last.
    let mut t = Grid::new(&["result", "deciding rule", "file", "case"]).ids(&[1]);
    let mut details = String::new();
    for r in &suite.files {
        for c in r.cases.iter().filter(|c| !(only_failures && c.passed)) {
            let file = shown_owned(&r.path.display().to_string());
            t.add_row(vec![
                if c.passed { "pass" } else { "FAIL" }.into(),
                shown_owned(c.rule()),
                file.clone(),
                shown_owned(&c.name),
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
    if !t.is_empty() {
        text.push_str(&t.render(layout));
    }
    if layout == Layout::Markdown {
        if !details.is_empty() {
            text.push_str("\n### Failures\n\n");
            text.push_str(&markdown_code(details.trim_start_matches('\n')));
        }
        return text;
    }
    text.push_str(&details);
    if !details.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("{passed} passed, {failed} failed\n"));
    text
}
