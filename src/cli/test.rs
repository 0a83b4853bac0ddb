//! `commroute test`: run scenario files, one row per case, `N passed, M failed`.

use std::path::PathBuf;

use commroute::scenario::{self, FileReport};

use super::output::{json_line, table};
use super::{out, CliResult, Exit, Format, RulesArg};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or directories [default: scenarios]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RulesArg,
    /// Only run cases whose name or file path contains TEXT
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args) -> CliResult {
    let (rules, _) = args.rules.load()?;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        args.paths
    };
    let files = scenario::discover(&paths)?;
    let mut reports: Vec<FileReport> = Vec::new();
    let mut broken = commroute::Diagnostics::default();
    for f in &files {
        match scenario::run_file(f, &rules, args.filter.as_deref()) {
            Ok(r) => reports.push(r),
            Err(d) => broken.extend(d),
        }
    }
    let passed: usize = reports.iter().map(FileReport::passed).sum();
    let failed: usize = reports.iter().map(FileReport::failed).sum();
    match args.format {
        Format::Json => {
            let mut text = String::new();
            for r in &reports {
                for c in &r.cases {
                    #[derive(serde::Serialize)]
                    struct Line<'a> {
                        file: String,
                        #[serde(flatten)]
                        case: &'a scenario::CaseReport,
                    }
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
                &serde_json::json!({"passed": passed, "failed": failed, "broken_files": broken.len()}),
            ));
            out(&text)?;
        }
        Format::Table => {
            let mut t = table(&["file", "case", "result", "deciding rule"]);
            let mut details = String::new();
            for r in &reports {
                for c in &r.cases {
                    let file = r.path.display().to_string();
                    t.add_row(vec![
                        file.clone(),
                        c.name.clone(),
                        if c.passed { "pass" } else { "FAIL" }.into(),
                        c.rule().to_owned(),
                    ]);
                    if !c.passed {
                        details.push_str(&format!("\nFAIL {file}:{} › {}\n{}", c.line, c.name, c.failure_text()));
                    }
                }
            }
            let mut text = String::new();
            if !reports.is_empty() {
                text.push_str(&format!("{t}\n"));
            }
            text.push_str(&details);
            if !details.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("{passed} passed, {failed} failed\n"));
            out(&text)?;
        }
    }
    if !broken.is_empty() {
        eprintln!("{}", broken.sorted());
        return Ok(Exit::Usage);
    }
    if passed + failed == 0 {
        match &args.filter {
            Some(f) => eprintln!("error: no scenario case matches `{f}`"),
            None => eprintln!(
                "error: no scenario cases found in {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
        return Ok(Exit::Usage);
    }
    Ok(if failed > 0 { Exit::Failed } else { Exit::Ok })
}
