//! `commroute serve`: turns flags into a [`crate::serve::Config`], sets up
//! the log, loads the first snapshot (its problems end the run with exit 2,
//! like any bad input), says where it listens, and runs the service.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::serve::{self, Config, Snapshot, Sources, Token};

use super::{err, CliResult, Exit, RulesArg, SHIPPED_RULES_NOTE};

/// The most worker threads `--workers` takes.
const MAX_WORKERS: u64 = 1024;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on (`127.0.0.1:0` picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// The world file requests name ids of; without it, every request carries its facts inline
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// Worker threads, 1 to 1024 [default: one per core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS))]
    workers: Option<u64>,
    /// The largest request body, in bytes (a batch body may be any size)
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_body: u64,
    /// How long one request may take, reading its body included, in milliseconds (batch excepted)
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// Do not reload when a rules file or the world file changes (SIGHUP and `POST /v1/reload` still do)
    #[arg(long)]
    no_watch: bool,
    /// Append every decision to FILE as a JSON line (created if missing; flushed on shutdown)
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// A file whose first line is the bearer token every endpoint but /healthz and /readyz requires
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// After SIGTERM or SIGINT, how long /readyz answers 503 while requests are still taken, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    drain_ms: u64,
    /// The log's format on stderr: `text` for people, `json` for one JSON object a line
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// The least severe log lines written; `debug` adds a line per request
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: LogLevel,
    /// Let the playground's rules page save the rules files (they then hot-reload); without it, it offers them to download
    #[arg(long)]
    allow_edit: bool,
    /// The conversation store the playground's inbox shows (written by `commroute simulate`)
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// The scenario files the playground's impact panel runs [default: scenarios/ when it exists]
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    #[command(flatten)]
    rules: RulesArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn filter(self) -> tracing::Level {
        match self {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

/// The log on stderr: text (coloured on a terminal) or one JSON object a
/// line. Written as each line happens, unbuffered, so nothing is left to
/// flush at exit.
fn init_log(format: LogFormat, level: LogLevel) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level.filter());
    // A second subscriber (never, in the binary) would be refused; the
    // first one stays.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    // A panic (a bug) is a log line too, in the log's format, its message
    // escaped; the request that panicked is answered with a 500.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(
            panic = %crate::text::brief(&crate::text::shown(&message)),
            at = at.as_deref().unwrap_or("?"),
            "panic"
        );
    }));
}

pub(crate) fn run(a: Args) -> CliResult {
    let rules = match a.rules.dir() {
        Some(dir) => Some(dir),
        None if Path::new("rules").is_dir() => Some(PathBuf::from("rules")),
        None => {
            err(SHIPPED_RULES_NOTE);
            None
        }
    };
    let token = match &a.token_file {
        Some(path) => Some(Token::read(path).map_err(anyhow::Error::from)?),
        None => None,
    };
    let mut config = Config {
        listen: a.listen,
        sources: Sources { rules, world: a.world },
        max_body: usize::try_from(a.max_body).unwrap_or(usize::MAX),
        timeout: Duration::from_millis(a.timeout_ms),
        watch: !a.no_watch,
        decision_log: a.decision_log,
        token,
        drain: Duration::from_millis(a.drain_ms),
        allow_edit: a.allow_edit,
        db: a.db,
        scenarios: a
            .scenarios
            .or_else(|| Some(PathBuf::from("scenarios")).filter(|d| d.is_dir())),
        ..Config::default()
    };
    if let Some(n) = a.workers {
        config.workers = usize::try_from(n).unwrap_or(1);
    }
    let snapshot = Snapshot::load(&config.sources)?;
    init_log(a.log_format, a.log_level);
    let (workers, max_body, timeout_ms, auth) = (
        config.workers,
        config.max_body,
        a.timeout_ms,
        if config.token.is_some() { "bearer token" } else { "none" },
    );
    let (rule_set, world_version) = (snapshot.rule_set.clone(), snapshot.world_version.clone());
    let format = a.log_format;
    serve::run(config, snapshot, move |addr| {
        // The first line after loading, in the log's format: tests and
        // scripts wait for `listening on http://ADDR`.
        match format {
            LogFormat::Text => err(&format!("listening on http://{addr}\n")),
            LogFormat::Json => tracing::info!(address = %addr, "listening on http://{addr}"),
        }
        tracing::info!(
            %rule_set,
            %world_version,
            workers,
            max_body,
            timeout_ms,
            auth,
            "serving"
        );
    })?;
    Ok(Exit::Ok)
}
