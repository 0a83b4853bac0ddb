//! The service's metrics, served at `GET /metrics` in the OpenMetrics text
//! format through `prometheus-client`.
//!
//! The hot path is kept to atomic additions: the decision counters of every
//! rule are created once per rule set ([`Metrics::prepare`]) and found by
//! the rule's index, latency histograms are found by the route template's
//! index in [`ENDPOINTS`], and nothing on the request path allocates a
//! label. What is read only when scraped (the reloads, the loaded versions,
//! the decision log's counts) is gathered then, in [`scrape`].

use std::fmt;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::error::ErrorKind;
use super::live::Snapshot;
use super::App;
use crate::jsonl::Direction;

/// The route templates latency is measured by. A path that is none of them
/// counts as `unmatched`, so a raw path never becomes a label.
pub(crate) const ENDPOINTS: &[&str] = &[
    "/v1/inbound",
    "/v1/outbound",
    "/v1/batch",
    "/v1/reload",
    "/v1/rules",
    "/v1/rules/files",
    "/v1/rules/check",
    "/v1/status",
    "/v1/openapi.json",
    "/metrics",
    "/healthz",
    "/readyz",
    "unmatched",
];

/// The index of `/v1/batch` in [`ENDPOINTS`].
pub(crate) const BATCH: usize = 2;

/// Every kind of error answer, counted from 0.
const KINDS: [ErrorKind; 10] = [
    ErrorKind::BadRequest,
    ErrorKind::InvalidField,
    ErrorKind::Undecided,
    ErrorKind::Unauthorized,
    ErrorKind::TooLarge,
    ErrorKind::Timeout,
    ErrorKind::NotFound,
    ErrorKind::MethodNotAllowed,
    ErrorKind::UnsupportedMediaType,
    ErrorKind::Unavailable,
];

/// Latency bucket bounds, in seconds: 50 µs to 10 s.
const BUCKETS: [f64; 15] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    policy: String,
    rule: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// The decision counters of one rule set, by rule index.
#[derive(Debug)]
pub(crate) struct RuleCounters {
    rule_set: String,
    inbound: Vec<Counter>,
    outbound: Vec<Counter>,
}

impl RuleCounters {
    /// Counts `n` decisions of `direction` by the rule at `rule`.
    pub(crate) fn add(&self, direction: Direction, rule: usize, n: u64) {
        let counters = match direction {
            Direction::Inbound => &self.inbound,
            Direction::Outbound => &self.outbound,
        };
        if let Some(c) = counters.get(rule) {
            c.inc_by(n);
        }
    }

    /// How many rules each direction has.
    pub(crate) fn len(&self, direction: Direction) -> usize {
        match direction {
            Direction::Inbound => self.inbound.len(),
            Direction::Outbound => self.outbound.len(),
        }
    }
}

/// Every metric the service keeps.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    rules: ArcSwap<RuleCounters>,
    latency: Vec<Histogram>,
    errors: Vec<(&'static str, Counter)>,
    other_errors: Family<KindLabels, Counter>,
    batch_error_lines: Counter,
}

impl Metrics {
    /// The metrics, with the decision counters of `first`'s rules at 0.
    pub(crate) fn new(first: &Snapshot) -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "commroute_decisions",
            "Decisions, by policy (inbound or outbound) and the rule that decided",
            decisions.clone(),
        );
        let latency_family = Family::<EndpointLabels, Histogram>::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register_with_unit(
            "commroute_request_duration",
            "Time from request to response, by endpoint (route template); for /v1/batch, to the end of the streamed answer",
            Unit::Seconds,
            latency_family.clone(),
        );
        let latency = ENDPOINTS
            .iter()
            .map(|e| {
                latency_family
                    .get_or_create(&EndpointLabels {
                        endpoint: (*e).to_owned(),
                    })
                    .clone()
            })
            .collect();
        let errors_family = Family::<KindLabels, Counter>::default();
        registry.register(
            "commroute_errors",
            "Error answers, by kind (the `error` field of the answer)",
            errors_family.clone(),
        );
        let errors = KINDS
            .iter()
            .map(|k| {
                let c = errors_family
                    .get_or_create(&KindLabels {
                        kind: k.name().to_owned(),
                    })
                    .clone();
                (k.name(), c)
            })
            .collect();
        let batch_error_lines = Counter::default();
        registry.register(
            "commroute_batch_error_lines",
            "Lines of /v1/batch bodies answered with an error line instead of a decision",
            batch_error_lines.clone(),
        );
        let rules = ArcSwap::from_pointee(rule_counters(&decisions, first));
        Metrics {
            registry,
            decisions,
            rules,
            latency,
            errors,
            other_errors: errors_family,
            batch_error_lines,
        }
    }

    /// Creates the decision counters of `snapshot`'s rules (at 0 for a rule
    /// never seen), so deciding with it is one atomic addition. Call it when
    /// a snapshot goes live; a snapshot not prepared is prepared by its
    /// first decision.
    pub(crate) fn prepare(&self, snapshot: &Snapshot) {
        if self.rules.load().rule_set != snapshot.rule_set {
            self.rules.store(Arc::new(rule_counters(&self.decisions, snapshot)));
        }
    }

    /// The decision counters of `snapshot`'s rules.
    pub(crate) fn rule_counters(&self, snapshot: &Snapshot) -> Arc<RuleCounters> {
        let current = self.rules.load_full();
        if current.rule_set == snapshot.rule_set {
            return current;
        }
        self.prepare(snapshot);
        self.rules.load_full()
    }

    /// Counts one decision of `direction` by the rule at `rule` of `snapshot`.
    pub(crate) fn decided(&self, snapshot: &Snapshot, direction: Direction, rule: usize) {
        let current = self.rules.load();
        if current.rule_set == snapshot.rule_set {
            current.add(direction, rule, 1);
        } else {
            drop(current);
            self.rule_counters(snapshot).add(direction, rule, 1);
        }
    }

    /// Adds one request to the latency histogram of the endpoint at `endpoint` in [`ENDPOINTS`].
    pub(crate) fn took(&self, endpoint: usize, elapsed: Duration) {
        if let Some(h) = self.latency.get(endpoint) {
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// Counts one error answer: its [`ErrorKind`] when it carries one, or
    /// `http_NNN` for an error status from elsewhere (a layer of tower-http,
    /// axum's own rejections).
    pub(crate) fn error(&self, resp: &Response) {
        let kind = resp
            .extensions()
            .get::<ErrorKind>()
            .copied()
            .or_else(|| kind_of(resp.status()));
        match kind.and_then(|k| self.errors.iter().find(|(name, _)| *name == k.name())) {
            Some((_, c)) => {
                c.inc();
            }
            None => {
                self.other_errors
                    .get_or_create(&KindLabels {
                        kind: format!("http_{}", resp.status().as_u16()),
                    })
                    .inc();
            }
        }
    }

    /// Counts `n` error lines of a batch.
    pub(crate) fn batch_error_lines(&self, n: u64) {
        self.batch_error_lines.inc_by(n);
    }
}

fn rule_counters(decisions: &Family<DecisionLabels, Counter>, snapshot: &Snapshot) -> RuleCounters {
    let counter = |policy: &str, rule: &str| {
        decisions
            .get_or_create(&DecisionLabels {
                policy: policy.to_owned(),
                rule: rule.to_owned(),
            })
            .clone()
    };
    let r = &snapshot.rules;
    RuleCounters {
        rule_set: snapshot.rule_set.clone(),
        inbound: r
            .inbound
            .rules
            .rules
            .iter()
            .map(|x| counter("inbound", &x.id))
            .collect(),
        outbound: r
            .outbound
            .rules
            .rules
            .iter()
            .map(|x| counter("outbound", &x.id))
            .collect(),
    }
}

/// The kind an error status stands for, for answers that carry no
/// [`ErrorKind`].
fn kind_of(status: StatusCode) -> Option<ErrorKind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.status() == status && *k != ErrorKind::Undecided)
}

/// Marks a response whose latency its handler measures itself, at the end
/// of its streamed body (`/v1/batch`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MeasuredByHandler;

/// The middleware: times every request by its route template and counts
/// every error answer. It must be the outermost layer, so that it sees the
/// answers of every other layer too.
pub(crate) async fn observe(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let endpoint = ENDPOINTS.iter().position(|e| *e == path).unwrap_or(ENDPOINTS.len() - 1);
    let started = Instant::now();
    let resp = next.run(req).await;
    if resp.status().is_client_error() || resp.status().is_server_error() {
        app.metrics.error(&resp);
    }
    if resp.extensions().get::<MeasuredByHandler>().is_none() {
        app.metrics.took(endpoint, started.elapsed());
    }
    resp
}

/// The reload counts `commroute_reloads_total` exports: the reloader's own.
pub(crate) fn reload_counts(app: &App) -> super::reload::Counts {
    app.reloads.counts()
}

/// What is read when scraped, not kept as metrics.
#[derive(Debug)]
struct ScrapeTime {
    rule_set: String,
    world_version: String,
    reloads: super::reload::Counts,
    log: super::log::Counts,
}

impl Collector for ScrapeTime {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut m = enc.encode_descriptor(
            "commroute_reloads",
            "Reloads of the rules and world, by result: applied (new versions went live), unchanged (same versions, nothing swapped) or refused (problems; the old set kept serving).",
            None,
            MetricType::Counter,
        )?;
        let r = &self.reloads;
        for (result, n) in [
            ("applied", r.applied),
            ("unchanged", r.unchanged),
            ("refused", r.refused),
        ] {
            ConstCounter::new(n).encode(m.encode_family(&[("result", result)])?)?;
        }
        let mut m = enc.encode_descriptor(
            "commroute_rule_set",
            "The versions deciding new requests: the rules' digest and the world file's.",
            None,
            MetricType::Info,
        )?;
        m.encode_info(&[
            ("rule_set", self.rule_set.as_str()),
            ("world_version", self.world_version.as_str()),
        ])?;
        let log = &self.log;
        for (name, help, n) in [
            (
                "commroute_decision_log_lines",
                "Lines written to the decision log.",
                log.lines,
            ),
            (
                "commroute_decision_log_waits",
                "Decisions that waited because the decision log's buffer was full.",
                log.waits,
            ),
            (
                "commroute_decision_log_errors",
                "Failed writes or syncs of the decision log.",
                log.errors,
            ),
            (
                "commroute_decision_log_lost_lines",
                "Decision-log lines lost to failed writes.",
                log.lost,
            ),
        ] {
            let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(n).encode(m)?;
        }
        Ok(())
    }
}

/// `GET /metrics`: every metric, in the OpenMetrics text format.
pub(crate) async fn scrape(State(app): State<Arc<App>>) -> Response {
    let snap = app.live.current();
    app.metrics.prepare(&snap);
    let mut now = Registry::default();
    now.register_collector(Box::new(ScrapeTime {
        rule_set: snap.rule_set.clone(),
        world_version: snap.world_version.clone(),
        reloads: reload_counts(&app),
        log: app.log.as_ref().map(|l| l.counts()).unwrap_or_default(),
    }));
    let mut text = String::with_capacity(16 * 1024);
    let encoded = prometheus_client::encoding::text::encode_registry(&mut text, &app.metrics.registry)
        .and_then(|()| prometheus_client::encoding::text::encode(&mut text, &now));
    if encoded.is_err() {
        return super::ApiError::new(ErrorKind::Unavailable, "the metrics could not be written").into_response();
    }
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::{Config, Sources};
    use std::sync::atomic::Ordering;

    fn text(app: &Arc<App>) -> String {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let resp = rt.block_on(scrape(State(app.clone())));
        let body = rt.block_on(axum::body::to_bytes(resp.into_body(), usize::MAX)).unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[test]
    fn a_new_rule_set_gets_its_counters_and_the_same_rule_keeps_counting() {
        let first = Snapshot::load(&Sources::default()).unwrap();
        let app = super::super::app(&Config::default(), first, None);
        let snap = app.live.current();
        let rule = snap.rules.inbound.rules.rules[0].id.clone();
        app.metrics.decided(&snap, Direction::Inbound, 0);
        // A reload with other rule files: same rule ids, another digest.
        let mut next = Snapshot::load(&Sources::default()).unwrap();
        next.rule_set = "0123456789abcdef".into();
        app.metrics.decided(&next, Direction::Inbound, 0);
        app.metrics.decided(&next, Direction::Inbound, 0);
        assert_eq!(app.metrics.rules.load().rule_set, "0123456789abcdef");
        let t = text(&app);
        let series = format!("commroute_decisions_total{{policy=\"inbound\",rule=\"{rule}\"}} 3\n");
        assert!(t.contains(&series), "{series} in\n{t}");
    }

    #[test]
    fn reloads_are_exported_by_result() {
        let app = super::super::app(&Config::default(), Snapshot::load(&Sources::default()).unwrap(), None);
        app.reloads.applied.fetch_add(1, Ordering::Relaxed);
        app.reloads.refused.fetch_add(2, Ordering::Relaxed);
        let t = text(&app);
        assert!(t.contains("commroute_reloads_total{result=\"applied\"} 1\n"), "{t}");
        assert!(t.contains("commroute_reloads_total{result=\"unchanged\"} 0\n"), "{t}");
        assert!(t.contains("commroute_reloads_total{result=\"refused\"} 2\n"), "{t}");
        assert!(t.contains("# TYPE commroute_rule_set info\n"), "{t}");
        assert_eq!(t.matches("# EOF").count(), 1);
        assert!(t.ends_with("# EOF\n"));
    }

    #[test]
    fn an_error_status_without_a_kind_is_counted_by_its_status() {
        let app = super::super::app(&Config::default(), Snapshot::load(&Sources::default()).unwrap(), None);
        let plain = |code: u16| (StatusCode::from_u16(code).unwrap(), "plain").into_response();
        app.metrics.error(&plain(413));
        app.metrics.error(&plain(500));
        app.metrics
            .error(&super::super::ApiError::new(ErrorKind::Undecided, "x").into_response());
        let t = text(&app);
        assert!(t.contains("commroute_errors_total{kind=\"too_large\"} 1\n"), "{t}");
        assert!(t.contains("commroute_errors_total{kind=\"http_500\"} 1\n"), "{t}");
        assert!(t.contains("commroute_errors_total{kind=\"undecided\"} 1\n"), "{t}");
    }
}
