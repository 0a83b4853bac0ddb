//! The command line: the only place that knows clap and comfy-table.
//!
//! Arguments are turned into the library's own types straight away; each
//! subcommand lives in its own file and returns an `Exit`. Results go to
//! stdout, diagnostics to stderr; a closed pipe is not an error.

mod analyze;
mod check;
mod check_photo;
#[cfg(test)]
mod ci_recipe;
mod conversations;
mod coverage;
mod diff;
#[cfg(test)]
mod hostile_output;
mod output;
mod progress;
mod route;
mod schema;
mod simulate;
mod test;
pub(crate) mod ui;
mod usage;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{text, Diagnostics, RuleSet};
use clap::{Parser, Subcommand, ValueEnum};

/// How a run ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Everything held.
    Ok = 0,
    /// A check said no: a scenario failed, or `check` found problems.
    Failed = 1,
    /// The command line or an input file was wrong.
    Usage = 2,
}

/// An error that ends the run: bad input files (all their problems), or
/// anything else with its context chain.
pub(crate) enum Failure {
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

pub(crate) type CliResult = Result<Exit, Failure>;

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
    /// When to colour the output: auto (a terminal, and NO_COLOR unset), always or never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t, global = true)]
    color: ui::ColorChoice,
    /// Print no progress, and only the summary where a command has one
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the rules and print every problem.
    Check(check::Args),
    /// Run scenario files and report each case.
    Test(test::Args),
    /// Decide one message.
    #[command(subcommand)]
    Route(route::RouteCommand),
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
pub(crate) enum Format {
    #[default]
    Table,
    Json,
}

/// The formats of the commands whose output is one table (`analyze`, `usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum TableFormat {
    #[default]
    Table,
    Json,
    Csv,
}

/// Where the rules come from: `--rules DIR`, else `./rules` if it exists,
/// else the shipped rules built into the binary.
#[derive(Debug, clap::Args)]
pub(crate) struct RulesArg {
    /// Directory holding inbound.yaml, delivery.yaml and outbound.yaml [default: ./rules if present, else the shipped rules]
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
}

/// Which rules a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RulesFrom {
    /// A directory: `--rules DIR`, or `./rules`.
    Dir(PathBuf),
    /// The shipped rules built into the binary.
    Shipped,
}

impl RulesFrom {
    /// The `rules` field of JSON output: the directory, or `shipped`.
    pub(crate) fn json(&self) -> String {
        match self {
            RulesFrom::Dir(d) => d.display().to_string(),
            RulesFrom::Shipped => "shipped".into(),
        }
    }
}

impl std::fmt::Display for RulesFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RulesFrom::Dir(d) => write!(f, "{}", text::shown(&d.display().to_string())),
            RulesFrom::Shipped => write!(f, "the shipped rules"),
        }
    }
}

/// The note on stderr when no rules directory is given or found.
pub(crate) const SHIPPED_RULES_NOTE: &str =
    "note: using the shipped rules built into commroute (no ./rules here); pass --rules DIR to use your own\n";

impl RulesArg {
    /// The directory given with `--rules`, if any.
    pub(crate) fn dir(&self) -> Option<PathBuf> {
        self.rules.clone()
    }

    /// Loads the rules; says so on stderr when they are the shipped ones,
    /// which are used silently otherwise (outside a checkout, say).
    pub(crate) fn load(&self) -> Result<(RuleSet, RulesFrom), Diagnostics> {
        match &self.rules {
            Some(dir) => Ok((RuleSet::load_dir(dir)?, RulesFrom::Dir(dir.clone()))),
            None if Path::new("rules").is_dir() => {
                Ok((RuleSet::load_dir(Path::new("rules"))?, RulesFrom::Dir("rules".into())))
            }
            None => {
                err(SHIPPED_RULES_NOTE);
                Ok((RuleSet::shipped(), RulesFrom::Shipped))
            }
        }
    }
}

/// The `commroute` binary: runs the command line it was started with and
/// returns its exit code (0 ok, 1 a check failed, 2 a usage or input error).
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run(std::env::args_os()) as u8)
}

/// Runs one command line (program name first), as the binary does, and
/// returns how it ended. Tests call it in-process with [`capture`].
pub(crate) fn run<I, T>(args: I) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let args = match Args::try_parse_from(&argv) {
        Ok(a) => a,
        Err(e) if e.use_stderr() => {
            // Usage errors quote what was typed, and clap cannot tell its
            // own line breaks from those in a value: the error is rendered
            // for the arguments as shown (escaped), which fail the same way.
            let shown: Vec<String> = argv
                .iter()
                .map(|a| text::shown(&a.to_string_lossy()).into_owned())
                .collect();
            let e = match Args::try_parse_from(&shown) {
                Err(again) if again.kind() == e.kind() => again,
                _ => e,
            };
            err(&e.render().to_string());
            return Exit::Usage;
        }
        Err(e) => {
            // `--help` and `--version`: our own text, with its styles.
            let _ = e.print();
            return Exit::Ok;
        }
    };
    ui::init(args.color, args.quiet);
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
    match result {
        Ok(code) => code,
        Err(failure) => {
            if let Failure::Other(e) = &failure {
                if is_broken_pipe(e) {
                    return Exit::Ok;
                }
            }
            report(&failure);
            Exit::Usage
        }
    }
}

/// Prints an error that ended a run on stderr.
pub(crate) fn report(failure: &Failure) {
    match failure {
        Failure::Diagnostics(d) => err(&format!("{d}\n")),
        // The chain is one line: a value quoted in it is shortened and shown
        // escaped, newlines included, so it cannot fake a line of its own.
        Failure::Other(e) => err(&format!("error: {}\n", text::shown(&text::brief(&format!("{e:#}"))))),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes human-readable output (tables, sentences) to stdout, guarded: a
/// control or bidi character that reached the text is shown escaped
/// ([`text::guarded`]); the text's own line feeds stay. A closed pipe ends
/// the run quietly.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    out_exact(&text::guarded(text))
}

/// Writes machine-readable output (JSON, CSV, XML) to stdout exactly as given.
pub(crate) fn out_exact(text: &str) -> anyhow::Result<()> {
    let mut stdout = stdout();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes a message to stderr, guarded like [`out`].
pub(crate) fn err(text: &str) {
    let text = text::guarded(text);
    if !capture::stderr(&text) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Stdout, or the capture buffer when a test captures the output.
pub(crate) fn stdout() -> Box<dyn Write> {
    if capture::active() {
        Box::new(capture::Stdout)
    } else {
        Box::new(std::io::stdout().lock())
    }
}

/// In-process runs for tests: what a run wrote to stdout and stderr.
pub(crate) mod capture {
    use std::cell::RefCell;
    use std::io::Write;

    thread_local! {
        static BUFFERS: RefCell<Option<(Vec<u8>, Vec<u8>)>> = const { RefCell::new(None) };
    }

    pub(crate) fn active() -> bool {
        BUFFERS.with(|b| b.borrow().is_some())
    }

    /// Appends to the captured stderr; false when nothing is captured.
    pub(crate) fn stderr(text: &str) -> bool {
        BUFFERS.with(|b| match b.borrow_mut().as_mut() {
            Some((_, err)) => {
                err.extend_from_slice(text.as_bytes());
                true
            }
            None => false,
        })
    }

    /// A writer appending to the captured stdout.
    pub(crate) struct Stdout;

    impl Write for Stdout {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            BUFFERS.with(|b| {
                if let Some((out, _)) = b.borrow_mut().as_mut() {
                    out.extend_from_slice(buf);
                }
            });
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `f` on this thread with stdout and stderr captured; returns its
    /// result and the bytes written to each.
    #[cfg(test)]
    pub(crate) fn run<R>(f: impl FnOnce() -> R) -> (R, Vec<u8>, Vec<u8>) {
        BUFFERS.with(|b| *b.borrow_mut() = Some((Vec::new(), Vec::new())));
        let r = f();
        let (out, err) = BUFFERS.with(|b| b.borrow_mut().take()).unwrap_or_default();
        (r, out, err)
    }
}
