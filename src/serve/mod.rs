//! The decision service (`commroute serve`): the engine behind HTTP/JSON,
//! for backends in any language.
//!
//! The service holds one [`Snapshot`] (rules and world, loaded and validated
//! together) in a [`Live`] slot and decides every request with the snapshot
//! current when the request started. Endpoints (`api.rs`) read requests into
//! the library's types and write the same decision lines as `route batch`,
//! plus the versions of the rules and world that decided. Errors are JSON
//! naming the field at fault (`error.rs`).

mod api;
mod batch;
mod error;
mod live;
mod log;
mod metrics;
#[cfg(test)]
mod no_panic;
mod openapi;
mod ops;
mod pages;
mod playground;
mod reload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

pub use error::{ApiError, ErrorKind};
pub use live::{Live, Snapshot, Sources};
pub use ops::{Token, TokenError};
pub use reload::{Counts, Outcome, Problem, Report, Trigger};

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (`127.0.0.1:7878` by default).
    pub listen: SocketAddr,
    /// Where the rules and the world come from.
    pub sources: Sources,
    /// Worker threads of the runtime.
    pub workers: usize,
    /// The largest request body accepted, in bytes (batch bodies excepted).
    pub max_body: usize,
    /// How long one request may take.
    pub timeout: Duration,
    /// Whether to reload when a rules file or the world file changes.
    pub watch: bool,
    /// Where every decision is appended as a JSON line, if anywhere.
    pub decision_log: Option<PathBuf>,
    /// The bearer token every endpoint but `/healthz` and `/readyz` needs;
    /// `None` for none.
    pub token: Option<Token>,
    /// How long `/readyz` answers 503 after SIGTERM or SIGINT while
    /// requests are still taken, before the listener closes.
    pub drain: Duration,
    /// Whether the playground's rules page may write the rules files
    /// (`--allow-edit`); they then hot-reload like any edit.
    pub allow_edit: bool,
    /// The conversation store the playground's inbox shows (`--db`).
    pub db: Option<PathBuf>,
    /// The scenario files whose cases the playground's impact panel runs
    /// (`--scenarios`, `scenarios/` when it exists).
    pub scenarios: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            sources: Sources::default(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_body: 64 * 1024,
            timeout: Duration::from_secs(10),
            watch: true,
            decision_log: None,
            token: None,
            drain: Duration::ZERO,
            allow_edit: false,
            db: None,
            scenarios: None,
        }
    }
}

/// What every request shares.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) live: Live,
    pub(crate) sources: Sources,
    /// Events without an id are numbered `BOOT-N`.
    pub(crate) boot: String,
    pub(crate) next_id: AtomicU64,
    /// Cleared when shutdown begins: `/readyz` then says so.
    pub(crate) ready: AtomicBool,
    /// Hot reload: the reloader and its counts (`applied`, `unchanged`, `refused`).
    pub(crate) reloads: reload::Reloader,
    /// What `GET /metrics` shows.
    pub(crate) metrics: metrics::Metrics,
    /// The decision log, with `--decision-log`.
    pub(crate) log: Option<log::DecisionLog>,
    /// Worker threads of a `/v1/batch` pipeline.
    pub(crate) batch_threads: usize,
    /// How long `POST /v1/reload` waits for its reload before answering 202
    /// (within the request timeout).
    pub(crate) reload_wait: Duration,
    /// The decision log's path, with `--decision-log` (the playground's
    /// impact panel counts the recorded decisions a change touches).
    pub(crate) decision_log: Option<PathBuf>,
    /// Whether the playground may write the rules files (`--allow-edit`).
    pub(crate) allow_edit: bool,
    /// The conversation store the inbox shows (`--db`).
    pub(crate) db: Option<PathBuf>,
    /// Turns `true` when shutdown stops taking connections: the inbox's
    /// event streams, which never end by themselves, end then, so that
    /// the requests in flight can finish.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    /// `GET /v1/analyze`'s last answer and the rule set it is for: the
    /// matrix is the same until the rules change.
    pub(crate) analyzed: std::sync::Mutex<Option<(String, Arc<Vec<u8>>)>>,
    /// The scenario files the impact panel runs.
    pub(crate) scenarios: Option<PathBuf>,
}

/// The service's routes over `snapshot`: what [`run`] serves, and what tests
/// can call without a socket. Only [`run`] opens `config.decision_log`; these
/// routes log nothing.
pub fn router(config: &Config, snapshot: Snapshot) -> Router {
    full(config, app(config, snapshot, None))
}

/// The service's router over `app`, behind the token, limits, timeout, JSON
/// errors and request log, with the metrics' layer outermost, so that it
/// times every request and counts every error answer, those of the other
/// layers included.
fn full(config: &Config, app: Arc<App>) -> Router {
    let router = ops::with_ops(
        router_of(app.clone()),
        ops::Ops {
            token: config.token.clone(),
            max_body: config.max_body,
            timeout: config.timeout,
        },
    );
    router.layer(axum::middleware::from_fn_with_state(app, metrics::observe))
}

pub(crate) fn app(config: &Config, snapshot: Snapshot, log: Option<log::DecisionLog>) -> Arc<App> {
    let boot = jiff::Timestamp::now().as_millisecond();
    let metrics = metrics::Metrics::new(&snapshot);
    Arc::new(App {
        live: Live::new(snapshot),
        sources: config.sources.clone(),
        boot: format!("{boot:x}"),
        next_id: AtomicU64::new(1),
        ready: AtomicBool::new(true),
        reloads: reload::Reloader::default(),
        metrics,
        log,
        batch_threads: config.workers.max(1),
        reload_wait: config
            .timeout
            .saturating_sub((config.timeout / 10).min(Duration::from_secs(1))),
        decision_log: config.decision_log.clone(),
        allow_edit: config.allow_edit,
        db: config.db.clone(),
        stopping: tokio::sync::watch::Sender::new(false),
        analyzed: std::sync::Mutex::new(None),
        scenarios: config.scenarios.clone(),
    })
}

fn router_of(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/inbound", post(api::inbound))
        .route("/v1/outbound", post(api::outbound))
        .route("/v1/rules", get(api::rules))
        .route("/v1/status", get(api::status))
        .route("/v1/reload", post(reload::post))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        // No body limit: a batch body streams through in bounded memory.
        .route("/v1/batch", post(batch::batch))
        .route("/metrics", get(metrics::scrape))
        .route("/v1/openapi.json", get(openapi::document))
        .merge(pages::routes())
        .merge(playground::routes())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(app)
}

/// Serves `snapshot` until SIGTERM or SIGINT, then finishes the requests in
/// flight and returns. Reloads on SIGHUP, on `POST /v1/reload` and, with
/// `config.watch`, when a rules file or the world file changes. `on_listening` is told the bound address (the port
/// the system chose, for `--listen 127.0.0.1:0`) before the first request.
pub fn run(config: Config, snapshot: Snapshot, on_listening: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    use anyhow::Context;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.max(1))
        .enable_all()
        .build()
        .context("cannot start the service's threads")?;
    let log = match &config.decision_log {
        Some(path) => Some(
            log::DecisionLog::open(path)
                .with_context(|| format!("cannot open the decision log `{}`", path.display()))?,
        ),
        None => None,
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let app = app(&config, snapshot, log);
        // Before the address is told: a SIGHUP or an edit from then on reloads.
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
            let on_hup = app.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    reload::ask(&on_hup, reload::Trigger::Signal);
                }
            });
        }
        let _watch = if config.watch {
            reload::watch(&app).context("cannot watch the rules and world files (--no-watch serves without)")?
        } else {
            None
        };
        on_listening(listener.local_addr().context("cannot read the bound address")?);
        let router = full(&config, app.clone());
        let drain = config.drain;
        // Once shutdown begins, the requests in flight get the timeout (and
        // a second) to finish. Without a bound, a client that never
        // finishes its headers would hold the process up forever.
        let grace = config.timeout + Duration::from_secs(1);
        let stopping = Arc::new(tokio::sync::Notify::new());
        let stopped = stopping.clone();
        let shutting_down = app.clone();
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let signal = shutdown_signal().await;
            shutting_down.ready.store(false, std::sync::atomic::Ordering::Release);
            if !drain.is_zero() {
                tracing::info!(
                    signal,
                    drain_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX),
                    "shutdown began: /readyz answers 503; requests are still taken until the drain ends"
                );
                tokio::select! {
                    () = tokio::time::sleep(drain) => {},
                    _ = shutdown_signal() => {},
                }
            }
            tracing::info!(signal, "shutdown: no new connections; finishing the requests in flight");
            stopping.notify_one();
            shutting_down.stopping.send_replace(true);
        });
        let cut = async move {
            stopped.notified().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = std::future::IntoFuture::into_future(serve) => {
                served.context("the service stopped")?;
                tracing::info!("stopped: every request in flight was answered");
            }
            () = cut => {
                tracing::warn!(
                    grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                    "stopped with connections still open after the grace period: what they were sending was cut"
                );
            }
        }
        // Every request is answered (or cut): write out and sync the decision log.
        if let Some(log) = &app.log {
            log.finish().await;
        }
        Ok(())
    });
    // Tasks still running (a cut connection) are dropped, not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, with the signal's name.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "SIGINT",
        () = term => "SIGTERM",
    }
}
