//! `commroute serve`: turns flags into a [`crate::serve::Config`], loads the
//! first snapshot (its problems end the run with exit 2, like any bad
//! input), says where it listens, and runs the service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::serve::{self, Config, Snapshot, Sources};

use super::{err, CliResult, Exit, RulesArg, SHIPPED_RULES_NOTE};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on (`127.0.0.1:0` picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// The world file requests name ids of; without it, every request carries its facts inline
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// Worker threads [default: one per core]
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// The largest request body, in bytes (a batch body may be any size)
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    max_body: usize,
    /// How long one request may take, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    /// Do not reload when a rules file or the world file changes (SIGHUP and `POST /v1/reload` still do)
    #[arg(long)]
    no_watch: bool,
    /// Append every decision to FILE as a JSON line (created if missing; flushed on shutdown)
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    #[command(flatten)]
    rules: RulesArg,
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
    let mut config = Config {
        listen: a.listen,
        sources: Sources { rules, world: a.world },
        max_body: a.max_body,
        timeout: Duration::from_millis(a.timeout_ms),
        watch: !a.no_watch,
        decision_log: a.decision_log,
        ..Config::default()
    };
    if let Some(n) = a.workers {
        config.workers = n;
    }
    let snapshot = Snapshot::load(&config.sources)?;
    serve::run(config, snapshot, |addr| {
        err(&format!("listening on http://{addr}\n"));
    })?;
    Ok(Exit::Ok)
}
