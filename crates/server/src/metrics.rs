//! Prometheus metrics (docs/monitoring.md): the recorder, the catalogue of every series, the
//! HTTP labels, the OpenMetrics rendering and the periodic gauges read from the store.
//!
//! Instrumented code anywhere (this crate, the store) records through the `metrics` facade;
//! the recorder installed here keeps the values and renders them on a scrape. With metrics
//! off (`metrics_enabled = false`) no recorder is installed and every record is a no-op.
//!
//! Labels are bounded by construction: route templates (never a request path), methods from a
//! fixed list, status classes, error codes (a closed enum), store operation names (the store
//! trait's methods). Tenant ids appear only with `metrics_per_tenant = true`, and then only on
//! `scaivault_tenant_requests_total`. No label ever carries a secret path or value.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Bucket bounds (seconds) of every latency histogram: from a cached read (~50 µs) to a slow
/// webhook or database round trip.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Bucket bounds of the SQLite writer's batch sizes (jobs per commit; at most 64).
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0];

/// What kind of series a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One series of the catalogue: its name, kind, labels and help text. docs/monitoring.md lists
/// every one (a test compares the two).
#[derive(Debug, Clone, Copy)]
pub struct Series {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn series(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Series {
    Series {
        name,
        kind,
        labels,
        help,
    }
}

use Kind::{Counter, Gauge, Histogram};

/// Every series ScaiVault exports.
pub const CATALOGUE: &[Series] = &[
    series(
        "scaivault_build_info",
        Gauge,
        &["version", "commit"],
        "Always 1; the labels say which build runs.",
    ),
    series(
        "scaivault_http_requests_total",
        Counter,
        &["route", "method", "status"],
        "HTTP requests answered, by route template, method and status class (2xx..5xx).",
    ),
    series(
        "scaivault_http_request_duration_seconds",
        Histogram,
        &["route", "method", "status"],
        "Time from the request's arrival to its response headers.",
    ),
    series(
        "scaivault_http_errors_total",
        Counter,
        &["code"],
        "Error responses by the API's error code (docs/troubleshooting.md).",
    ),
    series(
        "scaivault_tenant_requests_total",
        Counter,
        &["tenant", "status"],
        "Audited requests per target tenant and status class; only with metrics_per_tenant = true.",
    ),
    series(
        "scaivault_auth_attempts_total",
        Counter,
        &["kind", "result"],
        "Credential checks by kind (token, jwt, none) and result (success, failure).",
    ),
    series(
        "scaivault_authz_denials_total",
        Counter,
        &[],
        "Requests refused with access_denied (missing scope, role or path permission).",
    ),
    series(
        "scaivault_rate_limit_refusals_total",
        Counter,
        &["dimension"],
        "Requests refused by a rate limit, by its dimension: identity, tenant, unauthenticated, auth_failures.",
    ),
    series(
        "scaivault_store_operations_total",
        Counter,
        &["operation", "result"],
        "Store operations (the store trait's methods; cache hits are not operations) by result.",
    ),
    series(
        "scaivault_store_operation_duration_seconds",
        Histogram,
        &["operation"],
        "Store operation latency.",
    ),
    series(
        "scaivault_sqlite_write_batch_size",
        Histogram,
        &[],
        "Write jobs committed together by the SQLite writer (group commit).",
    ),
    series(
        "scaivault_sqlite_commit_duration_seconds",
        Histogram,
        &[],
        "Time the SQLite writer takes to commit one batch (including fsync).",
    ),
    series(
        "scaivault_db_pool_connections",
        Gauge,
        &["pool", "state"],
        "Database pool connections by pool (postgres, sqlite_read) and state (in_use, idle, max).",
    ),
    series(
        "scaivault_audit_entries_appended_total",
        Counter,
        &[],
        "Audit entries written to the hash chains.",
    ),
    series(
        "scaivault_audit_append_duration_seconds",
        Histogram,
        &[],
        "Time to append a request's audit entry when it is not written with the change itself.",
    ),
    series(
        "scaivault_audit_append_failures_total",
        Counter,
        &[],
        "Audit entries that could not be written (the request failed closed).",
    ),
    series(
        "scaivault_audit_head_seq",
        Gauge,
        &[],
        "Sequence number of the newest audit entry (all chains).",
    ),
    series(
        "scaivault_audit_sink_lag_entries",
        Gauge,
        &[],
        "Audit entries not yet delivered to the SIEM sink (file or syslog).",
    ),
    series(
        "scaivault_audit_sink_failures_total",
        Counter,
        &[],
        "SIEM sink delivery rounds that failed (retried next round).",
    ),
    series(
        "scaivault_webhook_deliveries_total",
        Counter,
        &["result"],
        "Webhook delivery attempts by result (delivered, failed, dead_lettered).",
    ),
    series(
        "scaivault_webhook_dead_letters",
        Gauge,
        &[],
        "Dead-lettered webhook events held in the store.",
    ),
    series(
        "scaivault_webhook_outbox_lag_events",
        Gauge,
        &[],
        "Events after the cursor of the slowest webhook subscription.",
    ),
    series(
        "scaivault_webhook_subscriptions_retrying",
        Gauge,
        &[],
        "Webhook subscriptions whose next event is being retried.",
    ),
    series(
        "scaivault_longpoll_waiters",
        Gauge,
        &[],
        "Subscription long-polls waiting for events on this node.",
    ),
    series(
        "scaivault_rotation_runs_total",
        Counter,
        &["result"],
        "Scheduled rotations by result (succeeded, failed).",
    ),
    series(
        "scaivault_rotation_warnings_total",
        Counter,
        &[],
        "Upcoming-rotation warnings sent (rotation.upcoming events).",
    ),
    series(
        "scaivault_rotations_due",
        Gauge,
        &[],
        "Secrets whose scheduled rotation time has passed.",
    ),
    series(
        "scaivault_secrets",
        Gauge,
        &[],
        "Secrets in the store (not soft-deleted).",
    ),
    series(
        "scaivault_secret_versions",
        Gauge,
        &[],
        "Secret versions held (every secret's kept versions).",
    ),
    series(
        "scaivault_secrets_expiring",
        Gauge,
        &[],
        "Secrets that expire within the next 7 days.",
    ),
    series(
        "scaivault_certificates",
        Gauge,
        &["expiry"],
        "Unrevoked issued certificates by expiry bucket (expired, 7d, 30d, later).",
    ),
    series(
        "scaivault_leases",
        Gauge,
        &["state"],
        "Dynamic-credential leases by state (live, revocation_failed).",
    ),
    series(
        "scaivault_lease_revocation_failures_total",
        Counter,
        &[],
        "Lease revocations that failed (retried with backoff).",
    ),
    series(
        "scaivault_keyring_sealed",
        Gauge,
        &[],
        "1 while the server is sealed (the root key provider unavailable), else 0.",
    ),
    series(
        "scaivault_metrics_refresh_duration_seconds",
        Gauge,
        &[],
        "How long the last refresh of the store-derived gauges took.",
    ),
];

/// The process's recorder handle: installed once, shared by every server in the process.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The metrics side of the server state.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
    /// `metrics_per_tenant`: tenant ids as labels (on one series).
    pub per_tenant: bool,
}

impl Metrics {
    /// Metrics off: nothing recorded, the endpoint answers 404.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Installs the process-wide recorder (once) and describes every series.
    pub fn install(per_tenant: bool) -> Self {
        let handle = HANDLE.get_or_init(build_and_install).clone();
        Self { handle, per_tenant }
    }

    pub fn enabled(&self) -> bool {
        self.handle.is_some()
    }

    /// The Prometheus text exposition format (0.0.4), or `None` with metrics off.
    pub fn render(&self) -> Option<String> {
        self.handle.as_ref().map(PrometheusHandle::render)
    }

    /// Drains recorded histogram samples into their buckets (bounded memory between scrapes).
    pub fn upkeep(&self) {
        if let Some(handle) = &self.handle {
            handle.run_upkeep();
        }
    }
}

fn build_and_install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("scaivault_sqlite_write_batch_size".into()),
                &BATCH_BUCKETS,
            )
        });
    let recorder = match builder {
        Ok(b) => b.build_recorder(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder could not be built; metrics are off");
            return None;
        }
    };
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; ScaiVault's metrics are off");
        return None;
    }
    for s in CATALOGUE {
        let unit = if s.name.ends_with("_seconds") {
            Some(Unit::Seconds)
        } else {
            None
        };
        match (s.kind, unit) {
            (Kind::Counter, _) => metrics::describe_counter!(s.name, s.help),
            (Kind::Gauge, Some(u)) => metrics::describe_gauge!(s.name, u, s.help),
            (Kind::Gauge, None) => metrics::describe_gauge!(s.name, s.help),
            (Kind::Histogram, Some(u)) => metrics::describe_histogram!(s.name, u, s.help),
            (Kind::Histogram, None) => metrics::describe_histogram!(s.name, s.help),
        }
    }
    metrics::gauge!(
        "scaivault_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "commit" => env!("SCAIVAULT_GIT_COMMIT"),
    )
    .set(1.0);
    Some(handle)
}

// --- HTTP ------------------------------------------------------------------------------------

/// A response extension naming the route template when one router route serves several
/// documented operations (the secrets wildcard): the metrics and the request span use it in
/// place of the router's own pattern.
#[derive(Debug, Clone, Copy)]
pub struct RouteTemplate(pub &'static str);

/// The method label: the standard methods, anything else `other` (bounded).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status label: its class.
pub fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Records one answered request. `route` is the matched route template (`None`: no route
/// matched, labelled `unmatched`, so probing unknown paths adds no series).
pub fn record_request(
    route: Option<&str>,
    method: &Method,
    status: StatusCode,
    error: Option<scaivault_proto::ErrorCode>,
    elapsed: Duration,
) {
    let route = route.unwrap_or("unmatched").to_owned();
    let method = method_label(method);
    let status_class = status_label(status);
    metrics::counter!(
        "scaivault_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status_class,
    )
    .increment(1);
    metrics::histogram!(
        "scaivault_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => status_class,
    )
    .record(elapsed.as_secs_f64());
    if let Some(code) = error {
        metrics::counter!("scaivault_http_errors_total", "code" => code.as_str()).increment(1);
        if code == scaivault_proto::ErrorCode::AccessDenied {
            metrics::counter!("scaivault_authz_denials_total").increment(1);
        }
    }
}

/// Adds one to a gauge for as long as it lives (the long-polls waiting now).
#[derive(Debug)]
pub struct GaugeGuard(&'static str);

impl GaugeGuard {
    pub fn new(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        Self(name)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

// --- OpenMetrics ---------------------------------------------------------------------------

/// The media type of the Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The media type of OpenMetrics text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header asks for OpenMetrics (as Prometheus does when it prefers it).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// The same samples as OpenMetrics text. The two formats differ, for what is rendered here,
/// only in that an OpenMetrics counter family is named without its samples' `_total` suffix
/// and the exposition ends with `# EOF`. Every counter of the catalogue ends in `_total`.
pub fn to_openmetrics(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        let family_line = line
            .strip_prefix("# TYPE ")
            .map(|rest| ("# TYPE ", rest))
            .or_else(|| line.strip_prefix("# HELP ").map(|rest| ("# HELP ", rest)));
        match family_line {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = if is_counter(name) {
                    name.strip_suffix("_total").unwrap_or(name)
                } else {
                    name
                };
                out.push_str(prefix);
                out.push_str(name);
                if !tail.is_empty() {
                    out.push(' ');
                    out.push_str(tail);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out.push_str("# EOF\n");
    out
}

fn is_counter(name: &str) -> bool {
    CATALOGUE
        .iter()
        .any(|s| s.name == name && s.kind == Kind::Counter)
}

// --- gauges refreshed from the store --------------------------------------------------------

/// How far ahead `scaivault_secrets_expiring` looks.
const EXPIRING_WITHIN: Duration = Duration::from_secs(7 * 86_400);

/// Reads the store-wide counts into their gauges (every `metrics_refresh_interval`). Every node
/// reports the same store-wide numbers; dashboards take `max` across instances.
pub async fn refresh(state: &AppState) {
    if !state.metrics.enabled() {
        return;
    }
    let started = std::time::Instant::now();
    let now = state.clock.now();
    match state.store.gauge_snapshot(now, now + EXPIRING_WITHIN).await {
        Ok(g) => {
            let set = |name: &'static str, v: u64| metrics::gauge!(name).set(v as f64);
            set("scaivault_secrets", g.secrets);
            set("scaivault_secret_versions", g.versions);
            set("scaivault_secrets_expiring", g.secrets_expiring);
            set("scaivault_rotations_due", g.rotations_due);
            set("scaivault_webhook_dead_letters", g.dead_letters);
            set("scaivault_webhook_outbox_lag_events", g.webhook_lag);
            set(
                "scaivault_webhook_subscriptions_retrying",
                g.webhooks_retrying,
            );
            set("scaivault_audit_head_seq", g.audit_head_seq);
            // The sink's cursor exists once it has delivered (only where a sink is configured).
            if let Ok(Some(cursor)) = state.store.get_system(crate::audit_sink::CURSOR_KEY).await
                && let Ok(cursor) = cursor.parse::<u64>()
            {
                set(
                    "scaivault_audit_sink_lag_entries",
                    g.audit_head_seq.saturating_sub(cursor),
                );
            }
            for (bucket, v) in [
                ("expired", g.certs_expired),
                ("7d", g.certs_7d),
                ("30d", g.certs_30d),
                ("later", g.certs_later),
            ] {
                metrics::gauge!("scaivault_certificates", "expiry" => bucket).set(v as f64);
            }
            metrics::gauge!("scaivault_leases", "state" => "live").set(g.live_leases as f64);
            metrics::gauge!("scaivault_leases", "state" => "revocation_failed")
                .set(g.leases_revocation_failed as f64);
        }
        Err(e) => tracing::warn!(error = %e, "could not refresh the store gauges"),
    }
    state.store.record_pool_metrics();
    metrics::gauge!("scaivault_metrics_refresh_duration_seconds")
        .set(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn catalogue_names_are_unique_and_counters_end_in_total() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        for s in CATALOGUE {
            assert!(s.name.starts_with("scaivault_"), "{}", s.name);
            assert_eq!(
                s.kind == Kind::Counter,
                s.name.ends_with("_total"),
                "{}",
                s.name
            );
            assert!(!s.labels.contains(&"path"), "{}", s.name);
        }
    }

    #[test]
    fn status_and_method_labels_are_bounded() {
        assert_eq!(status_label(StatusCode::OK), "2xx");
        assert_eq!(status_label(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_label(StatusCode::SERVICE_UNAVAILABLE), "5xx");
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"PROPFIND").unwrap_or(Method::TRACE);
        assert_eq!(method_label(&odd), "other");
    }

    #[test]
    fn openmetrics_renames_counter_families_and_ends_with_eof() {
        let text = "# HELP scaivault_authz_denials_total Requests refused.\n\
                    # TYPE scaivault_authz_denials_total counter\n\
                    scaivault_authz_denials_total 3\n\n\
                    # TYPE scaivault_secrets gauge\n\
                    scaivault_secrets 7\n";
        let om = to_openmetrics(text);
        assert_eq!(
            om,
            "# HELP scaivault_authz_denials Requests refused.\n\
             # TYPE scaivault_authz_denials counter\n\
             scaivault_authz_denials_total 3\n\
             # TYPE scaivault_secrets gauge\n\
             scaivault_secrets 7\n\
             # EOF\n"
        );
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(None));
    }
    fn repo_file(relative: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every `scaivault_...` metric name a text mentions (histogram sample suffixes removed).
    fn names_mentioned(text: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for (at, _) in text.match_indices("scaivault_") {
            if text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| {
                    let base = name.strip_suffix(suffix)?;
                    CATALOGUE
                        .iter()
                        .any(|s| s.name == base && s.kind == Kind::Histogram)
                        .then(|| base.to_owned())
                })
                .unwrap_or(name);
            names.insert(base);
        }
        names
    }

    fn catalogue_names() -> BTreeSet<String> {
        CATALOGUE.iter().map(|s| s.name.to_owned()).collect()
    }

    #[test]
    fn monitoring_doc_lists_exactly_the_catalogue() {
        let doc = repo_file("docs/monitoring.md");
        let mut rows = Vec::new();
        for line in doc.lines().filter(|l| l.starts_with("| `scaivault_")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`');
            let labels: Vec<&str> = cells[3]
                .split(',')
                .map(|l| l.trim().trim_matches('`'))
                .filter(|l| !l.is_empty())
                .collect();
            rows.push((name.to_owned(), cells[2].to_owned(), labels.join(",")));
        }
        let expected: Vec<(String, String, String)> = CATALOGUE
            .iter()
            .map(|s| {
                let kind = match s.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                    Kind::Histogram => "histogram",
                };
                (s.name.to_owned(), kind.to_owned(), s.labels.join(","))
            })
            .collect();
        assert_eq!(rows, expected, "docs/monitoring.md's series table");
        let unknown: Vec<String> = names_mentioned(&doc)
            .difference(&catalogue_names())
            .cloned()
            .collect();
        assert!(unknown.is_empty(), "docs/monitoring.md names {unknown:?}");
    }

    #[test]
    fn alert_rules_and_dashboard_use_only_catalogue_series() {
        let rules = repo_file("deploy/monitoring/alerts.yml");
        let dashboard = repo_file("deploy/monitoring/grafana-dashboard.json");
        let doc = repo_file("docs/monitoring.md");
        for (file, text) in [
            ("alerts.yml", &rules),
            ("grafana-dashboard.json", &dashboard),
        ] {
            let unknown: Vec<String> = names_mentioned(text)
                .difference(&catalogue_names())
                .cloned()
                .collect();
            assert!(unknown.is_empty(), "{file} uses {unknown:?}");
        }
        // Every alert of the rules file is in the docs' table, and no other.
        let alerts: BTreeSet<&str> = rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- alert: "))
            .collect();
        let documented: BTreeSet<&str> = doc
            .lines()
            .filter(|l| l.starts_with("| `ScaiVault"))
            .filter_map(|l| l.split('`').nth(1))
            .collect();
        assert_eq!(alerts, documented);
    }

    /// The label keys (`"key" => value`) of a recording call whose arguments follow the name,
    /// up to the call's closing parenthesis (the one followed by `.` or `;`), sorted.
    fn label_keys(args: &str) -> Vec<&str> {
        let mut end = args.len();
        for (i, _) in args.match_indices(')') {
            let next = args[i + 1..].trim_start().chars().next();
            if matches!(next, Some('.') | Some(';')) {
                end = i;
                break;
            }
        }
        let args = &args[..end];
        let mut keys: Vec<&str> = args
            .match_indices("\" =>")
            .filter_map(|(i, _)| {
                let start = args[..i].rfind('"')? + 1;
                Some(&args[start..i])
            })
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Every series the code records is in the catalogue with the catalogue's label keys, and
    /// every catalogue series is recorded somewhere: a misspelt name or label in a `counter!`
    /// would otherwise be a silent, undocumented series.
    #[test]
    fn instrumented_names_are_the_catalogue() {
        let mut recorded = BTreeSet::new();
        let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().map_while(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    if !path.ends_with("target") && !path.ends_with("tests") {
                        stack.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (at, _) in text.match_indices("\"scaivault_") {
                    let before = text[..at].trim_end();
                    let recording = [
                        "counter!(",
                        "gauge!(",
                        "histogram!(",
                        "GaugeGuard::new(",
                        "set(",
                    ]
                    .iter()
                    .any(|call| before.ends_with(call));
                    if recording {
                        let name: String =
                            text[at + 1..].chars().take_while(|c| *c != '"').collect();
                        let keys = label_keys(&text[at + 1 + name.len() + 1..]);
                        if let Some(series) = CATALOGUE.iter().find(|s| s.name == name) {
                            let mut want: Vec<&str> = series.labels.to_vec();
                            want.sort_unstable();
                            assert_eq!(keys, want, "labels of {name} in {}", path.display());
                        }
                        recorded.insert(name);
                    }
                }
            }
        }
        assert_eq!(recorded, catalogue_names());
    }
}
