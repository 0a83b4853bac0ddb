//! `GET /metrics`: exact counts after known requests.

use std::collections::BTreeMap;

use super::server::Server;

/// One sample of the metrics text: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of an OpenMetrics text; fails the test on a line it cannot read.
pub fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let mut labels = BTreeMap::new();
                let mut chars = rest.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
                    assert_eq!(chars.next(), Some('"'), "a quoted label value: {line}");
                    let mut value = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => value.push(chars.next().expect("an escaped character")),
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                    labels.insert(key, value);
                }
                (name.to_owned(), labels)
            }
        };
        out.push(Sample { name, labels, value });
    }
    out
}

/// The value of the sample `name` with exactly `labels`; fails the test when there is none.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .unwrap_or_else(|| panic!("no sample {name}{want:?} in {samples:#?}"))
        .value
}

/// `GET /metrics`, checked for its content type and its `# EOF`, parsed.
pub fn scrape(s: &Server) -> Vec<Sample> {
    let r = s.get("/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(r.body.ends_with("# EOF\n"), "{}", r.body);
    parse(&r.body)
}

#[test]
fn metrics_count_decisions_by_rule_errors_by_kind_and_latency_by_endpoint() {
    let s = Server::glow();
    for i in 0..3 {
        let r = s.post(
            "/v1/inbound",
            &format!(r#"{{"id":"e{i}","client":"cleo","answering":"campaign@B"}}"#),
        );
        assert_eq!(r.json()["rule"], "campaign-reply-with-history");
    }
    let out = s.post(
        "/v1/outbound",
        r#"{"client":"cleo","from_account":"glow-downtown","text":"hi"}"#,
    );
    let out_rule = out.json()["rule"].as_str().expect("an outbound rule").to_owned();
    let explained = s.post(
        "/v1/outbound?explain=true",
        r#"{"client":"cleo","from_account":"glow-downtown"}"#,
    );
    assert_eq!(explained.status, 200, "{}", explained.body);
    assert_eq!(s.post("/v1/inbound", r#"{"client":"cleoo"}"#).status, 422);
    assert_eq!(s.post("/v1/inbound", r#"{"client":3}"#).status, 400);
    assert_eq!(s.post("/v1/inbound?explain=maybe", r#"{"client":"cleo"}"#).status, 400);
    assert_eq!(s.get("/v1/nope/42").status, 404);
    assert_eq!(s.get("/v1/outbound").status, 405);

    let m = scrape(&s);
    let decisions = "commroute_decisions_total";
    assert_eq!(
        value(
            &m,
            decisions,
            &[("policy", "inbound"), ("rule", "campaign-reply-with-history")]
        ),
        3.0
    );
    assert_eq!(
        value(&m, decisions, &[("policy", "outbound"), ("rule", &out_rule)]),
        2.0,
        "explained decisions count too"
    );
    let all: f64 = m.iter().filter(|x| x.name == decisions).map(|x| x.value).sum();
    assert_eq!(all, 5.0, "no other decision counted");
    // Every rule has its counter from the start, at 0.
    let rules = s.get("/v1/rules").json();
    for r in rules["rules"].as_array().unwrap() {
        let policy = r["policy"].as_str().unwrap();
        if policy == "inbound" || policy == "outbound" {
            value(
                &m,
                decisions,
                &[("policy", policy), ("rule", r["id"].as_str().unwrap())],
            );
        }
    }

    let errors = "commroute_errors_total";
    assert_eq!(value(&m, errors, &[("kind", "invalid_field")]), 1.0);
    assert_eq!(value(&m, errors, &[("kind", "bad_request")]), 2.0);
    assert_eq!(value(&m, errors, &[("kind", "not_found")]), 1.0);
    assert_eq!(value(&m, errors, &[("kind", "method_not_allowed")]), 1.0);
    assert_eq!(value(&m, errors, &[("kind", "timeout")]), 0.0, "every kind starts at 0");

    let count = "commroute_request_duration_seconds_count";
    assert_eq!(value(&m, count, &[("endpoint", "/v1/inbound")]), 6.0);
    assert_eq!(value(&m, count, &[("endpoint", "/v1/outbound")]), 3.0);
    assert_eq!(value(&m, count, &[("endpoint", "unmatched")]), 1.0);
    assert!(
        !m.iter().any(|x| x.labels.values().any(|v| v.contains("nope"))),
        "a raw path never becomes a label"
    );
    let inf = value(
        &m,
        "commroute_request_duration_seconds_bucket",
        &[("endpoint", "/v1/inbound"), ("le", "+Inf")],
    );
    assert_eq!(inf, 6.0);

    let status = s.get("/v1/status").json();
    assert_eq!(
        value(
            &m,
            "commroute_rule_set_info",
            &[
                ("rule_set", status["rule_set"].as_str().unwrap()),
                ("world_version", status["world_version"].as_str().unwrap()),
            ],
        ),
        1.0
    );
    for result in ["applied", "unchanged", "refused"] {
        assert_eq!(value(&m, "commroute_reloads_total", &[("result", result)]), 0.0);
    }
    assert_eq!(value(&m, "commroute_decision_log_lines_total", &[]), 0.0);
    assert_eq!(value(&m, "commroute_decision_log_waits_total", &[]), 0.0);

    // The first scrape and the reads after it are in the second scrape.
    let m2 = scrape(&s);
    assert_eq!(value(&m2, count, &[("endpoint", "/metrics")]), 1.0);
    assert_eq!(value(&m2, count, &[("endpoint", "/v1/rules")]), 1.0);
    assert_eq!(value(&m2, count, &[("endpoint", "/v1/status")]), 1.0);
}

#[test]
fn batch_decisions_are_counted_by_rule_and_the_batch_timed_once() {
    let s = Server::glow();
    let mut body = String::new();
    for i in 0..50 {
        body.push_str(&format!(
            "{{\"id\":\"b{i}\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"campaign@B\"}}\n"
        ));
    }
    body.push_str("{\"id\":\"bad\",\"type\":\"inbound\",\"client\":\"nobody\"}\nnot json\n");
    let answer = super::batch::post_batch(&s, body.as_bytes());
    assert_eq!(answer.lines().count(), 52);
    let m = scrape(&s);
    assert_eq!(
        value(
            &m,
            "commroute_decisions_total",
            &[("policy", "inbound"), ("rule", "campaign-reply-with-history")]
        ),
        50.0
    );
    assert_eq!(value(&m, "commroute_batch_error_lines_total", &[]), 2.0);
    assert_eq!(
        value(
            &m,
            "commroute_request_duration_seconds_count",
            &[("endpoint", "/v1/batch")]
        ),
        1.0
    );
}
