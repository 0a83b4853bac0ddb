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
mod completions;
mod conversations;
mod coverage;
mod diff;
#[cfg(test)]
mod hostile_output;
mod man;
mod output;
mod progress;
mod route;
mod schema;
mod serve;
mod simulate;
mod stdin;
mod style;
mod test;
pub(crate) mod ui;
mod usage;

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{text, Diagnostic, Diagnostics, RuleSet};
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
pub(crate) use output::{Format, FormatChoice, Layout, ReportFormat, TableFormat, TestFormat};

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

/// What `--version` prints after the name: the crate's version and the
/// version of the rules file format it reads.
fn version_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (rules format {})",
            env!("CARGO_PKG_VERSION"),
            crate::RULES_FORMAT_VERSION
        )
    })
}

/// The `version` field of every JSON object the command line writes: the
/// crate's version (see the README, "JSON output").
pub(crate) const JSON_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The whole command tree, as clap parses it; completions and manual
/// pages are made from it too.
pub(crate) fn command() -> clap::Command {
    Args::command()
}

#[derive(Debug, Parser)]
#[command(
    name = "commroute",
    version = version_text(),
    propagate_version = true,
    after_help = "Examples:\n  commroute check\n  commroute route inbound --world examples/glow-world.yaml --client cleo --answering campaign@B --explain",
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
    #[command(after_help = "Examples:\n  commroute check\n  commroute check --rules ../salon-rules/rules")]
    Check(check::Args),
    /// Run scenario files and report each case.
    #[command(
        after_help = "Examples:\n  commroute test --filter campaign\n  commroute test scenarios/inbound --format junit > junit.xml\n  commroute route inbound --world w.yaml --client cleo --save-case /dev/stdout | commroute test -"
    )]
    Test(test::Args),
    /// Decide one message.
    #[command(
        subcommand,
        after_help = "Examples:\n  commroute route inbound --world examples/glow-world.yaml --client cleo --answering campaign@B\n  commroute route outbound --world examples/glow-world.yaml --client cleo --from-account glow-downtown"
    )]
    Route(route::RouteCommand),
    /// Replay a timeline through the rules and save every conversation.
    #[command(
        after_help = "Examples:\n  commroute simulate examples/day.jsonl --db day.db\n  cat day.jsonl | commroute simulate - --timeline-format jsonl --db day.db"
    )]
    Simulate(simulate::Args),
    /// A location's conversations, most recent activity first.
    #[command(
        after_help = "Examples:\n  commroute conversations --db day.db --location A\n  commroute conversations --db day.db --location A --in-store"
    )]
    Conversations(conversations::ListArgs),
    /// One client's whole conversation, with delivery status and notices.
    #[command(after_help = "Examples:\n  commroute conversation --db day.db --client cleo")]
    Conversation(conversations::OneArgs),
    /// SMS and MMS usage per month, by account or location.
    #[command(
        after_help = "Examples:\n  commroute usage --db day.db\n  commroute usage --db day.db --by location --month 2026-03 --format csv"
    )]
    Usage(usage::Args),
    /// Check files against the photo rules (type from content, size limit).
    #[command(
        after_help = "Examples:\n  commroute check-photo scenarios/timelines/photos/*.png\n  curl -s https://example.com/p.jpg | commroute check-photo -"
    )]
    CheckPhoto(check_photo::Args),
    /// Every class of input, its outcome and deciding rule; shadowed rules and gaps.
    #[command(after_help = "Examples:\n  commroute analyze\n  commroute analyze --witness 3 > witness.yaml")]
    Analyze(analyze::Args),
    /// Every input whose outcome changes between two rule sets.
    #[command(
        after_help = "Examples:\n  commroute diff --base main\n  commroute diff --base ../old-rules --head rules --deny-changes"
    )]
    Diff(diff::Args),
    /// Which rules the scenarios reach; exit 1 below --min.
    #[command(after_help = "Examples:\n  commroute coverage\n  commroute coverage --min 100")]
    Coverage(coverage::Args),
    /// Print the JSON Schema of a kind of file, for editors.
    #[command(after_help = "Examples:\n  commroute schema world > world.schema.json\n  commroute schema rules")]
    Schema(schema::Args),
    /// Print the shell completion script for bash, zsh, fish, PowerShell or elvish.
    #[command(
        after_help = "Examples:\n  commroute completions bash > ~/.local/share/bash-completion/completions/commroute\n  commroute completions fish > ~/.config/fish/completions/commroute.fish"
    )]
    Completions(completions::Args),
    /// Print a command's manual page, or write every page with --out.
    #[command(
        after_help = "Examples:\n  commroute man route inbound | man -l -\n  commroute man --out ~/.local/share/man/man1"
    )]
    Man(man::Args),
    /// Run the decision service: HTTP/JSON decisions for backends.
    #[command(
        after_help = "Examples:\n  commroute serve --world examples/glow-world.yaml\n  curl -s localhost:7878/v1/inbound -d '{\"client\":\"cleo\",\"answering\":\"campaign@B\"}'"
    )]
    Serve(serve::Args),
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
    // Usage errors come before the arguments are known: they follow what
    // the command line seems to ask for.
    let asked = Asked::of(&argv);
    ui::init(asked.color, false);
    set_json_errors(asked.json);
    let parse = |argv: &[std::ffi::OsString]| command().color(asked.clap_color()).try_get_matches_from(argv);
    let matches = match parse(&argv) {
        Ok(m) => m,
        Err(e) if e.use_stderr() => {
            // Usage errors quote what was typed, and clap cannot tell its
            // own line breaks from those in a value: the error is rendered
            // for the arguments as shown (escaped), which fail the same way.
            let shown: Vec<std::ffi::OsString> = argv
                .iter()
                .map(|a| text::shown(&a.to_string_lossy()).into_owned().into())
                .collect();
            let e = match parse(&shown) {
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
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => {
            err(&e.render().to_string());
            return Exit::Usage;
        }
    };
    let leaf = leaf(&matches);
    set_json_errors(is_json(leaf));
    ui::init(args.color, args.quiet);
    if let Err(message) = stdin::check_one(leaf) {
        report(&anyhow::anyhow!(message).into());
        return Exit::Usage;
    }
    let result = match args.command {
        Command::Check(a) => check::run(a),
        Command::Test(a) => test::run(a),
        Command::Route(c) => route::run(c),
        Command::Simulate(a) => simulate::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Conversations(a) => conversations::list(a),
        Command::Conversation(a) => conversations::one(a),
        Command::Usage(a) => usage::run(a),
        Command::CheckPhoto(a) => check_photo::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Coverage(a) => coverage::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
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

/// The matches of the subcommand that runs (`route inbound`'s, say).
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf(sub),
        None => matches,
    }
}

/// Whether the running command was given `--format json`.
fn is_json(leaf: &ArgMatches) -> bool {
    match leaf.try_get_raw("format") {
        Ok(Some(mut values)) => values.any(|v| v == "json"),
        _ => false,
    }
}

/// `--color` and `--format json` as the raw command line gives them, for
/// messages written before clap has parsed it (usage errors).
struct Asked {
    color: ui::ColorChoice,
    json: bool,
}

impl Asked {
    fn of(argv: &[std::ffi::OsString]) -> Asked {
        let mut asked = Asked {
            color: ui::ColorChoice::Auto,
            json: false,
        };
        let args: Vec<String> = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        for (i, a) in args.iter().enumerate() {
            if a == "--" {
                break;
            }
            let value = |flag: &str| {
                a.strip_prefix(flag)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(str::to_owned)
                    .or_else(|| (a == flag).then(|| args.get(i + 1).cloned()).flatten())
            };
            if let Some(v) = value("--color") {
                asked.color = ui::ColorChoice::from_str(&v, false).unwrap_or(asked.color);
            }
            if let Some(v) = value("--format") {
                asked.json = v == "json";
            }
        }
        asked
    }

    fn clap_color(&self) -> clap::ColorChoice {
        match self.color {
            ui::ColorChoice::Auto => clap::ColorChoice::Auto,
            ui::ColorChoice::Always => clap::ColorChoice::Always,
            ui::ColorChoice::Never => clap::ColorChoice::Never,
        }
    }
}

thread_local! {
    /// Whether messages on stderr are JSON objects (`--format json`).
    static JSON_ERRORS: Cell<bool> = const { Cell::new(false) };
}

fn set_json_errors(on: bool) {
    JSON_ERRORS.with(|j| j.set(on));
}

fn json_errors() -> bool {
    JSON_ERRORS.with(Cell::get)
}

/// A diagnostic as a JSON object on stderr (under `--format json`).
#[derive(serde::Serialize)]
struct ErrorLine<'a> {
    /// The file, `<stdin>`, or null when the error is about no file.
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    /// The rule the problem is in, when it is about one.
    rule: Option<&'a str>,
    /// What the problem is about, e.g. "rule `push`" or "client `cleo`".
    subject: Option<&'a str>,
    message: std::borrow::Cow<'a, str>,
    help: Option<&'a str>,
}

impl<'a> ErrorLine<'a> {
    fn of(d: &'a Diagnostic) -> Self {
        let at = d.pos.line > 0;
        let rule = d.rule_id();
        ErrorLine {
            file: Some(d.path.display().to_string()),
            line: at.then_some(d.pos.line),
            column: at.then_some(d.pos.col),
            rule,
            subject: d.subject.as_deref(),
            message: text::brief(&d.message),
            help: d.help.as_deref(),
        }
    }

    fn message(message: std::borrow::Cow<'a, str>, help: Option<&'a str>) -> Self {
        ErrorLine {
            file: None,
            line: None,
            column: None,
            rule: None,
            subject: None,
            message,
            help,
        }
    }
}

/// Prints an error that ended a run on stderr.
pub(crate) fn report(failure: &Failure) {
    match failure {
        Failure::Diagnostics(d) => diagnostics(d),
        // The chain is one line: a value quoted in it is shortened and shown
        // escaped, newlines included, so it cannot fake a line of its own.
        Failure::Other(e) if json_errors() => {
            let chain = format!("{e:#}");
            err_exact(&output::json_line(
                "error",
                &ErrorLine::message(text::brief(&chain), None),
            ));
        }
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

/// Prints the problems of input files on stderr: rendered for people, or
/// one JSON object per problem under `--format json`.
pub(crate) fn diagnostics(d: &Diagnostics) {
    if json_errors() {
        for one in &d.0 {
            err_exact(&output::json_line("error", &ErrorLine::of(one)));
        }
    } else {
        err(&format!("{d}\n"));
    }
}

/// Writes human-readable output to stdout as [`out`] does, with colour
/// added by `paint` when stdout is coloured (`--color`).
pub(crate) fn out_painted(text: &str, paint: impl Fn(&str) -> String) -> anyhow::Result<()> {
    let guarded = text::guarded(text);
    if ui::get().out_color {
        out_exact(&paint(&guarded))
    } else {
        out_exact(&guarded)
    }
}

/// Writes a message to stderr, guarded like [`out`], its `error:`,
/// `warning:` and `note:` labels coloured when stderr is (`--color`).
/// Under `--format json` each message is a JSON object instead:
/// `{"type":"error"|"warning"|"note","version":...,"message":...}`.
pub(crate) fn err(text: &str) {
    if json_errors() {
        err_exact(&json_message(text));
        return;
    }
    let text = text::guarded(text);
    if ui::get().err_color {
        err_exact(&style::labels(&text, &[]));
    } else {
        err_exact(&text);
    }
}

/// A message for stderr as one JSON object: its type from its label
/// (`error:`, `warning:`, `note:`; a message without one is a note), its
/// first line the message and the lines after it the help.
fn json_message(text: &str) -> String {
    let text = text.trim_end();
    let (kind, rest) = [("error", "error:"), ("warning", "warning:"), ("note", "note:")]
        .iter()
        .find_map(|(kind, label)| text.strip_prefix(label).map(|rest| (*kind, rest.trim_start())))
        .unwrap_or(("note", text));
    // The first paragraph is the message (clap lists missing arguments on
    // the lines after its first); what follows a blank line is the help.
    let (message, help) = match rest.split_once("\n\n") {
        Some((first, more)) => (first, Some(more.trim())),
        None => (rest, None),
    };
    let message: Vec<&str> = message.lines().map(str::trim).collect();
    let message = message.join(" ");
    let help = help.filter(|h| !h.is_empty());
    if kind == "error" {
        return output::json_line(kind, &ErrorLine::message(text::brief(&message), help));
    }
    /// A note or a warning: what it says, and nothing about a file.
    #[derive(serde::Serialize)]
    struct NoteLine<'a> {
        message: std::borrow::Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        help: Option<&'a str>,
    }
    output::json_line(
        kind,
        &NoteLine {
            message: text::brief(&message),
            help,
        },
    )
}

/// Writes to stderr exactly as given.
fn err_exact(text: &str) {
    if !capture::stderr(text) {
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

#[cfg(test)]
mod convention_tests {
    use super::*;

    /// Every command and subcommand, walked from clap's tree, with its path.
    fn every_command() -> Vec<(String, clap::Command)> {
        fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            let path = if prefix.is_empty() {
                cmd.get_name().to_owned()
            } else {
                format!("{prefix} {}", cmd.get_name())
            };
            out.push((path.clone(), cmd.clone()));
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(&path, sub, out);
            }
        }
        let mut cmd = command();
        cmd.build();
        let mut out = Vec::new();
        walk("", &cmd, &mut out);
        out
    }

    #[test]
    fn every_help_ends_with_examples() {
        let commands = every_command();
        assert!(commands.len() >= 18, "{}", commands.len());
        for (path, mut cmd) in commands {
            for help in [cmd.render_help().to_string(), cmd.render_long_help().to_string()] {
                let (_, examples) = help
                    .split_once("\nExamples:\n")
                    .unwrap_or_else(|| panic!("`{path} --help` has no examples:\n{help}"));
                // One to three commands (a long one may wrap onto a second line).
                let commands = examples.lines().filter(|l| l.starts_with("  commroute ")).count();
                assert!((1..=3).contains(&commands), "`{path}`: {examples}");
            }
        }
    }

    #[test]
    fn every_command_gets_a_manual_page() {
        let pages = man::pages();
        let names: Vec<String> = every_command()
            .into_iter()
            .map(|(path, _)| path.replace(' ', "-"))
            .collect();
        let paged: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(paged, names);
        for (name, page) in &pages {
            for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"] {
                assert!(page.contains(&format!(".SH {section}")), "{name}: {section}");
            }
        }
    }

    #[test]
    fn json_messages_take_their_type_from_the_label() {
        let line: serde_json::Value = serde_json::from_str(&json_message("note: using the shipped rules\n")).unwrap();
        assert_eq!(line["type"], "note");
        assert_eq!(line["version"], JSON_VERSION);
        assert_eq!(line["message"], "using the shipped rules");
        let line: serde_json::Value = serde_json::from_str(&json_message(
            "error: missing:\n  --client <ID>\n\nUsage: commroute x\n",
        ))
        .unwrap();
        assert_eq!(line["type"], "error");
        assert_eq!(line["message"], "missing: --client <ID>");
        assert_eq!(line["help"], "Usage: commroute x");
        let line: serde_json::Value = serde_json::from_str(&json_message("12 events\n")).unwrap();
        assert_eq!(line["type"], "note");
    }
}
