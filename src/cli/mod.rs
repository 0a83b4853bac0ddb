//! The command line: the only place that knows clap and comfy-table.
//!
//! Arguments are turned into the library's own types straight away; each
//! subcommand lives in its own file and returns an [`Exit`]. Results go to
//! stdout, diagnostics to stderr; a closed pipe is not an error.

mod analyze;
mod check;
mod check_photo;
mod conversations;
mod coverage;
mod diff;
mod output;
mod route;
mod schema;
mod simulate;
mod test;
mod usage;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use commroute::{Diagnostics, RuleSet};

/// How a run ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything held.
    Ok = 0,
    /// A check said no: a scenario failed, or `check` found problems.
    Failed = 1,
    /// The command line or an input file was wrong.
    Usage = 2,
}

/// An error that ends the run: bad input files (all their problems), or
/// anything else with its context chain.
pub enum Failure {
    Diagnostics(Diagnostics),
    Other(anyhow::Error),
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Self {
        Failure::Diagnostics(d)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

pub type CliResult = Result<Exit, Failure>;

#[derive(Debug, Parser)]
#[command(
    name = "commroute",
    version,
    about = "Decide where a salon group's client messages land and which channel carries staff replies",
    long_about = "Decide where a salon group's client messages land, who receives them live, and which channel carries staff replies.\n\nRules live in YAML files (rules/inbound.yaml, rules/delivery.yaml, rules/outbound.yaml); documented scenarios live in scenarios/.\n\nExit codes: 0 ok, 1 a check or scenario failed, 2 a usage or input error."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the rules and print every problem.
    Check(check::Args),
    /// Run scenario files and report each case.
    Test(test::Args),
    /// Decide one message.
    #[command(subcommand)]
    Route(route::Command),
    /// Replay a timeline through the rules and save every conversation.
    Simulate(simulate::Args),
    /// A location's conversations, most recent activity first.
    Conversations(conversations::ListArgs),
    /// One client's whole conversation, with delivery status and notices.
    Conversation(conversations::OneArgs),
    /// SMS and MMS usage per month, by account or location.
    Usage(usage::Args),
    /// Check files against the photo rules (type from content, size limit).
    CheckPhoto(check_photo::Args),
    /// Every class of input, its outcome and deciding rule; shadowed rules and gaps.
    Analyze(analyze::Args),
    /// Every input whose outcome changes between two rule sets.
    Diff(diff::Args),
    /// Which rules the scenarios reach; exit 1 below --min.
    Coverage(coverage::Args),
    /// Print the JSON Schema of a kind of file, for editors.
    Schema(schema::Args),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// The formats of the commands whose output is one table (`analyze`, `usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TableFormat {
    #[default]
    Table,
    Json,
    Csv,
}

/// Where the rules come from: `--rules DIR`, else `./rules` if it exists,
/// else the shipped rules built into the binary.
#[derive(Debug, clap::Args)]
pub struct RulesArg {
    /// Directory holding inbound.yaml, delivery.yaml and outbound.yaml [default: ./rules if present, else the shipped rules]
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
}

impl RulesArg {
    /// The directory given with `--rules`, if any.
    pub fn dir(&self) -> Option<PathBuf> {
        self.rules.clone()
    }

    pub fn load(&self) -> Result<(RuleSet, String), Diagnostics> {
        match &self.rules {
            Some(dir) => Ok((RuleSet::load_dir(dir)?, dir.display().to_string())),
            None if Path::new("rules").is_dir() => Ok((RuleSet::load_dir(Path::new("rules"))?, "rules".into())),
            None => Ok((RuleSet::shipped(), "the shipped rules".into())),
        }
    }
}

pub fn main() -> std::process::ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { Exit::Usage } else { Exit::Ok };
            let _ = e.print();
            return std::process::ExitCode::from(code as u8);
        }
    };
    let result = match args.command {
        Command::Check(a) => check::run(a),
        Command::Test(a) => test::run(a),
        Command::Route(c) => route::run(c),
        Command::Simulate(a) => simulate::run(a),
        Command::Conversations(a) => conversations::list(a),
        Command::Conversation(a) => conversations::one(a),
        Command::Usage(a) => usage::run(a),
        Command::CheckPhoto(a) => check_photo::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Coverage(a) => coverage::run(a),
        Command::Schema(a) => schema::run(a),
    };
    let code = match result {
        Ok(code) => code,
        Err(Failure::Diagnostics(d)) => {
            eprintln!("{d}");
            Exit::Usage
        }
        Err(Failure::Other(e)) => {
            if is_broken_pipe(&e) {
                Exit::Ok
            } else {
                eprintln!("error: {e:#}");
                Exit::Usage
            }
        }
    };
    std::process::ExitCode::from(code as u8)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes to stdout; a closed pipe ends the run quietly.
pub fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
