//! Metrics and traces (issue 22, docs/monitoring.md): `/v1/sys/metrics` scraped from a running
//! server after a scripted workload and parsed by the official Prometheus Python client's
//! parsers; the unauthenticated `metrics_listen`; tenant labels only on request; OTLP spans
//! received by a collector stand-in that decodes them with the official `opentelemetry-proto`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use scaivault_testpeers::free_port;
use serde_json::{Value, json};

use crate::common::prod::ProdServer;
use crate::common::{Api, TestServer, assert_error};

const PARSER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics/parse.py");
const COLLECTOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/metrics/otlp_collector.py"
);

/// One parsed sample: family name, sample name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    family: String,
    family_type: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses an exposition with prometheus_client (`format`: text or openmetrics).
fn parse(text: &str, format: &str) -> Vec<Sample> {
    let mut child = Command::new("python3")
        .args([PARSER, format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs the prometheus_client parser");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the {format} exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut samples = Vec::new();
    for f in families {
        for s in f["samples"].as_array().unwrap() {
            samples.push(Sample {
                family: f["name"].as_str().unwrap().to_owned(),
                family_type: f["type"].as_str().unwrap().to_owned(),
                name: s["name"].as_str().unwrap().to_owned(),
                labels: serde_json::from_value(s["labels"].clone()).unwrap(),
                value: s["value"].as_f64().unwrap_or(f64::INFINITY),
            });
        }
    }
    samples
}

async fn scrape_raw(api: &Api, accept: Option<&str>) -> (u16, String, String) {
    let mut rb = api.request(reqwest::Method::GET, "/v1/sys/metrics");
    if let Some(a) = accept {
        rb = rb.header("accept", a);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

async fn scrape(api: &Api) -> Vec<Sample> {
    let (status, ct, text) = scrape_raw(api, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse(&text, "text")
}

/// The value of the sample `name` whose labels include `labels` (0 when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// The secrets wildcard route answers under its operations' own OpenAPI templates.
const SECRET_ROUTE: &str = "/v1/secrets/{path}";

#[tokio::test(flavor = "multi_thread")]
async fn counters_move_by_exactly_the_workload_and_carry_no_path_tenant_or_value() {
    let server = TestServer::start();
    let root = server.client();
    let before = scrape(&root).await;

    // The workload: 5 writes, 7 reads, 2 reads of a missing secret, 1 refused read.
    let secret_value = "s3cr3t-value-never-a-label";
    for i in 0..5 {
        let (s, body) = root
            .put(
                &format!("/v1/secrets/metrics-test/app{i}/password"),
                json!({"data": {"password": secret_value}}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
    for i in 0..7 {
        let (s, _) = root
            .get(&format!("/v1/secrets/metrics-test/app{}/password", i % 5))
            .await;
        assert_eq!(s, 200);
    }
    for _ in 0..2 {
        let (s, body) = root.get("/v1/secrets/metrics-test/missing").await;
        assert_error(s, &body, 404, "secret_not_found");
    }
    let (s, created) = root
        .post(
            "/v1/auth/tokens",
            json!({"name": "no secrets", "scopes": ["audit:read"], "ttl": "1h"}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let limited = root.with_token(created["token"].as_str().unwrap());
    let (s, body) = limited.get("/v1/secrets/metrics-test/app0/password").await;
    assert_error(s, &body, 403, "access_denied");

    let after = scrape(&root).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let req = "scaivault_http_requests_total";
    assert_eq!(
        delta(
            req,
            &[
                ("route", SECRET_ROUTE),
                ("method", "PUT"),
                ("status", "2xx")
            ]
        ),
        5.0
    );
    assert_eq!(
        delta(
            req,
            &[
                ("route", SECRET_ROUTE),
                ("method", "GET"),
                ("status", "2xx")
            ]
        ),
        7.0
    );
    assert_eq!(
        delta(
            req,
            &[
                ("route", SECRET_ROUTE),
                ("method", "GET"),
                ("status", "4xx")
            ]
        ),
        3.0
    );
    assert_eq!(
        delta(
            "scaivault_http_errors_total",
            &[("code", "secret_not_found")]
        ),
        2.0
    );
    assert_eq!(delta("scaivault_authz_denials_total", &[]), 1.0);
    // Both tokens were checked against the store once and are cached afterwards: successes
    // are at least the requests, failures none.
    assert!(
        delta(
            "scaivault_auth_attempts_total",
            &[("kind", "token"), ("result", "success")]
        ) >= 16.0
    );
    assert_eq!(
        delta(
            "scaivault_auth_attempts_total",
            &[("kind", "token"), ("result", "failure")]
        ),
        0.0
    );
    // Every write is one SQLite commit at least, and 5 secret writes went through the store.
    assert_eq!(
        delta(
            "scaivault_store_operations_total",
            &[("operation", "write_secret"), ("result", "ok")]
        ),
        5.0
    );
    assert!(delta("scaivault_audit_entries_appended_total", &[]) >= 15.0);
    assert!(delta("scaivault_sqlite_write_batch_size_count", &[]) >= 5.0);

    // The latency histogram agrees with the counter, and its buckets are cumulative.
    let count = value(
        &after,
        "scaivault_http_request_duration_seconds_count",
        &[
            ("route", SECRET_ROUTE),
            ("method", "PUT"),
            ("status", "2xx"),
        ],
    );
    assert_eq!(
        count,
        value(
            &after,
            req,
            &[
                ("route", SECRET_ROUTE),
                ("method", "PUT"),
                ("status", "2xx")
            ]
        )
    );
    check_histograms(&after);

    // Bounded labels: no path, no tenant id, no value, anywhere.
    for s in &after {
        for (k, v) in &s.labels {
            assert!(
                !["path", "tenant", "tenant_id", "secret"].contains(&k.as_str()),
                "{s:?}"
            );
            assert!(!v.contains("metrics-test"), "a secret path leaked: {s:?}");
            assert!(!v.contains(secret_value), "a value leaked: {s:?}");
            assert!(!v.contains("tnt_dev"), "a tenant id leaked: {s:?}");
        }
    }
    let build = after
        .iter()
        .find(|s| s.name == "scaivault_build_info")
        .expect("build info");
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(value(&after, "scaivault_keyring_sealed", &[]), 0.0);
}

/// Every histogram: buckets non-decreasing in `le`, the `+Inf` bucket equal to `_count`.
fn check_histograms(samples: &[Sample]) {
    // Keyed by family and the labels other than `le`.
    type SeriesKey = (String, Vec<(String, String)>);
    let mut series: BTreeMap<SeriesKey, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for s in samples.iter().filter(|s| s.family_type == "histogram") {
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "le")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let key = (s.family.clone(), labels);
        if s.name.ends_with("_bucket") {
            let le = s.labels["le"].parse::<f64>().unwrap_or(f64::INFINITY);
            series.entry(key).or_default().push((le, s.value));
        } else if s.name.ends_with("_count") {
            counts.insert(key, s.value);
        }
    }
    assert!(!series.is_empty(), "no histogram was exported");
    for (key, mut buckets) in series {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in buckets.windows(2) {
            assert!(pair[0].1 <= pair[1].1, "{key:?}: {buckets:?}");
        }
        let inf = buckets.last().unwrap();
        assert!(inf.0.is_infinite(), "{key:?} has no +Inf bucket");
        assert_eq!(Some(&inf.1), counts.get(&key), "{key:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cardinality_stays_bounded_after_ten_thousand_distinct_paths() {
    let server = TestServer::start();
    let root = server.client();
    // Warm every series the loop can touch (a 404 read and a 200 read of the same route).
    let (s, _) = root
        .put("/v1/secrets/card/warm", json!({"data": {"v": "1"}}))
        .await;
    assert_eq!(s, 201);
    let _ = root.get("/v1/secrets/card/warm").await;
    let _ = root.get("/v1/secrets/card/missing").await;
    let _ = root.anonymous().get("/no/such/route/warm").await;
    let _ = scrape(&root).await;
    let before: BTreeSet<String> = series_keys(&scrape(&root).await);

    // 16 clients in parallel, 10,000 distinct secret paths and 1,000 unknown routes.
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..16 {
        let root = root.clone();
        workers.spawn(async move {
            for i in (w..10_000).step_by(16) {
                let (s, _) = root.get(&format!("/v1/secrets/card/n{i}/x{i}")).await;
                assert_eq!(s, 404);
                if i % 10 == 0 {
                    let (s, _) = root.anonymous().get(&format!("/probe/{i}")).await;
                    assert_eq!(s, 404);
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }

    let after = scrape(&root).await;
    let after_keys = series_keys(&after);
    let new: Vec<&String> = after_keys.difference(&before).collect();
    // Background work (the access-counter flush) may add its fixed series; nothing the
    // 11,000 distinct paths named does.
    assert!(
        new.iter()
            .all(|k| !k.contains("card/") && !k.contains("probe") && !k.contains("unmatched")),
        "series named after request paths: {new:?}"
    );
    assert!(new.len() < 60, "{} new series: {new:?}", new.len());
    assert!(after_keys.len() < 1000, "{} series", after_keys.len());
    assert!(
        value(
            &after,
            "scaivault_http_requests_total",
            &[
                ("route", SECRET_ROUTE),
                ("method", "GET"),
                ("status", "4xx")
            ]
        ) >= 10_001.0
    );
    assert!(
        value(
            &after,
            "scaivault_http_requests_total",
            &[("route", "unmatched")]
        ) >= 1_001.0
    );
}

/// Name and labels of every sample, as one string each.
fn series_keys(samples: &[Sample]) -> BTreeSet<String> {
    samples
        .iter()
        .map(|s| format!("{}{:?}", s.name, s.labels))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn openmetrics_on_request_passes_the_strict_parser() {
    let server = TestServer::start();
    let root = server.client();
    let (s, _) = root
        .put("/v1/secrets/om/a", json!({"data": {"v": "1"}}))
        .await;
    assert_eq!(s, 201);
    let (status, ct, text) = scrape_raw(
        &root,
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(text.ends_with("# EOF\n"));
    let samples = parse(&text, "openmetrics");
    let writes = samples
        .iter()
        .find(|s| {
            s.name == "scaivault_http_requests_total"
                && s.labels.get("method").map(String::as_str) == Some("PUT")
        })
        .expect("the PUT counter");
    assert_eq!(writes.family, "scaivault_http_requests");
    assert_eq!(writes.family_type, "counter");
    assert_eq!(writes.value, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn scraping_needs_metrics_read_of_the_installation() {
    let server = TestServer::start();
    let root = server.client();
    let (status, _, text) = scrape_raw(&root.anonymous(), None).await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_error(status, &body, 401, "authentication_required");
    // A tenant admin holds every tenant scope, but metrics:read is not one of them.
    let (s, created) = root
        .post(
            "/v1/auth/tokens",
            json!({"name": "everything but metrics", "scopes": ["secrets:read", "audit:read"], "ttl": "1h"}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let limited = root.with_token(created["token"].as_str().unwrap());
    let (status, _, text) = scrape_raw(&limited, None).await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_error(status, &body, 403, "access_denied");
    let (s, created) = root
        .post(
            "/v1/auth/tokens",
            json!({"name": "prometheus", "scopes": ["metrics:read"], "ttl": "1h"}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let scraper = root.with_token(created["token"].as_str().unwrap());
    let (status, _, _) = scrape_raw(&scraper, None).await;
    assert_eq!(status, 200);
    // The same token reads no secret.
    let (s, body) = scraper.get("/v1/secrets/anything").await;
    assert_error(s, &body, 403, "access_denied");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_listen_serves_without_a_token_and_tenant_labels_are_opt_in() {
    let port = free_port();
    let server = ProdServer::start(&format!(
        "metrics_listen = \"127.0.0.1:{port}\"\nmetrics_per_tenant = true\n"
    ));
    let admin = server.admin();
    let (s, body) = admin
        .put("/v1/secrets/labelled/a", json!({"data": {"v": "1"}}))
        .await;
    assert_eq!(s, 201, "{body}");
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let samples = parse(&text, "text");
    assert_eq!(
        value(
            &samples,
            "scaivault_tenant_requests_total",
            &[("tenant", "tnt_ops"), ("status", "2xx")]
        ),
        1.0
    );
    // The metrics listener serves nothing else.
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/v1/secrets/labelled/a"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);

    // Off: nothing recorded, the route answers 404.
    let off = ProdServer::start("metrics_enabled = false\n");
    let (status, _, text) = scrape_raw(&off.admin(), None).await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn otlp_spans_of_one_request_arrive_with_their_parent_and_children() {
    let mut collector = Command::new("python3")
        .arg(COLLECTOR)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs the OTLP collector stand-in");
    // The collector prints "listening on PORT", then one JSON line per span received: the
    // test waits on those lines (events), never on a clock.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = collector.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("the collector starts");
    let port = first
        .trim()
        .strip_prefix("listening on ")
        .expect("collector announces its port")
        .to_owned();
    let server = ProdServer::start(&format!("otlp_endpoint = \"http://127.0.0.1:{port}\"\n"));
    let admin = server.admin();

    // The caller's trace: W3C traceparent (version 00, sampled).
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let resp = admin
        .request(reqwest::Method::PUT, "/v1/secrets/traced/a")
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"data": {"v": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();

    // Collect spans as the batch exporter delivers them, until the request span and its
    // store child are in (bounded: the exporter's batch delay is seconds, not minutes).
    let mut spans: Vec<Value> = Vec::new();
    loop {
        let has_request = spans.iter().any(|s| s["parent_span_id"] == caller_span);
        let has_child = spans.iter().any(|s| s["name"] == "store");
        if has_request && has_child {
            break;
        }
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("spans of the request did not arrive: {spans:?}"));
        let span: Value = serde_json::from_str(&line).unwrap();
        if span["trace_id"] == trace_id {
            spans.push(span);
        }
    }
    let _ = collector.kill();
    let _ = collector.wait();
    let request = spans
        .iter()
        .find(|s| s["parent_span_id"] == caller_span)
        .unwrap();
    assert_eq!(request["name"], "PUT /v1/secrets/{path}");
    assert_eq!(request["attributes"]["request_id"], request_id.as_str());
    assert_eq!(request["attributes"]["http.route"], "/v1/secrets/{path}");
    assert_eq!(request["service"], "scaivault");
    let store = spans
        .iter()
        .find(|s| s["name"] == "store" && s["attributes"]["operation"] == "write_secret")
        .expect("the write's store span");
    assert_eq!(store["parent_span_id"], request["span_id"]);
    // No span names or attributes carry the secret's path.
    for s in &spans {
        assert!(!s.to_string().contains("traced/a"), "{s}");
    }
}

/// Runs Prometheus's own `promtool` (Debian's `prometheus` package; `.ci/run` installs it).
fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool is needed (apt-get install prometheus; .ci/run installs it): {e}")
        });
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

#[tokio::test(flavor = "multi_thread")]
async fn promtool_lints_the_scrape_and_checks_the_shipped_rules_and_dashboard() {
    // A scrape with every kind of series populated passes promtool's linter (names, units,
    // help texts, counter suffixes, histogram shape).
    let server = TestServer::start();
    let root = server.client();
    let (s, _) = root
        .put("/v1/secrets/lint/a", json!({"data": {"v": "1"}}))
        .await;
    assert_eq!(s, 201);
    let _ = root.get("/v1/secrets/lint/a").await;
    let _ = root.get("/v1/secrets/lint/missing").await;
    let (status, _, text) = scrape_raw(&root, None).await;
    assert_eq!(status, 200);
    let (ok, out) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "promtool check metrics:\n{out}");

    // The alert rules parse and type-check.
    let rules = format!("{REPO}/deploy/monitoring/alerts.yml");
    let (ok, out) = promtool(&["check", "rules", &rules], None);
    assert!(ok, "promtool check rules:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");

    // Every query of the dashboard is valid PromQL: each becomes a recording rule (Grafana's
    // variables replaced by what they expand to) and promtool checks them.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{REPO}/deploy/monitoring/grafana-dashboard.json"))
            .unwrap(),
    )
    .unwrap();
    let mut records = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "5m")
                .replace("$instance", ".*");
            records.push(json!({"record": format!("dashboard:panel{}:{}", panel["id"], target["refId"].as_str().unwrap()), "expr": expr}));
        }
    }
    assert!(records.len() > 20, "{} dashboard queries", records.len());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yml");
    // JSON is YAML: promtool reads it as a rule file.
    std::fs::write(
        &file,
        json!({"groups": [{"name": "dashboard", "rules": records}]}).to_string(),
    )
    .unwrap();
    let (ok, out) = promtool(&["check", "rules", file.to_str().unwrap()], None);
    assert!(ok, "the dashboard's queries:\n{out}");
}
