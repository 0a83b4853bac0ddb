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
}

/// The service's routes over `snapshot`: what [`run`] serves, and what tests
/// can call without a socket. Only [`run`] opens `config.decision_log`; these
/// routes log nothing.
pub fn router(config: &Config, snapshot: Snapshot) -> Router {
    router_of(app(config, snapshot, None))
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
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        // Keep this layer last (outermost): it times every request and
        // counts every error answer, those of the other layers included.
        .layer(axum::middleware::from_fn_with_state(app.clone(), metrics::observe))
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
    runtime.block_on(async move {
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
        let router = router_of(app.clone());
        let shutting_down = app.clone();
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                shutting_down.ready.store(false, std::sync::atomic::Ordering::Release);
            })
            .await
            .context("the service stopped");
        // Every request is answered: write out and sync the decision log.
        if let Some(log) = &app.log {
            log.finish().await;
        }
        served
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
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
        () = ctrl_c => {},
        () = term => {},
    }
}
