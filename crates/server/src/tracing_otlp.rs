//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless `otlp_endpoint` is set
//! (docs/monitoring.md). Spans come from `tracing`: one `request` span per HTTP request (a
//! W3C `traceparent` header makes it the child of the caller's span) with the store, audit and
//! webhook work as its children. Spans are batched and sent by the SDK's own thread, so a slow
//! or absent collector never delays a request; spans that do not fit the queue are dropped.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::filter::{LevelFilter, Targets};

use crate::StartupError;

/// Whether an OTLP layer is installed in this process (spans are exported).
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The OTLP/HTTP path the collector receives traces on, after the configured base URL.
const TRACES_PATH: &str = "/v1/traces";

/// A tracer provider exporting to `endpoint` (`http://collector:4318`; `/v1/traces` is added).
pub fn provider(endpoint: &str) -> Result<SdkTracerProvider, StartupError> {
    let url = format!("{}{TRACES_PATH}", endpoint.trim_end_matches('/'));
    // The blocking HTTP client is built, used and dropped on the exporter's own thread: a
    // thread of its own keeps it out of the async runtime (which forbids blocking clients).
    let built = std::thread::spawn(move || {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url)
            .with_headers(Default::default())
            .build()
    })
    .join()
    .map_err(|_| StartupError::Config("otlp_endpoint: the exporter could not be built".into()))?;
    let exporter = built.map_err(|e| StartupError::Config(format!("otlp_endpoint: {e}")))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("scaivault")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build())
}

/// The `tracing` layer sending ScaiVault's spans (DEBUG and up, so the store, audit and webhook
/// spans too) to `provider`.
pub fn layer<S>(provider: &SdkTracerProvider) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    let tracer = provider.tracer("scaivault");
    EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
    let targets = Targets::new()
        .with_target("scaivault_server", LevelFilter::DEBUG)
        .with_target("scaivault_store", LevelFilter::DEBUG)
        .with_default(LevelFilter::OFF);
    // Spans only: log events (which name paths at DEBUG) stay in the log, out of traces.
    let spans_only = tracing_subscriber::filter::filter_fn(|meta| meta.is_span());
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(targets.and(spans_only))
        .boxed()
}

/// Makes `span` the child of the remote span a W3C `traceparent` header names (when tracing is
/// on and the header is valid; otherwise the span starts a new trace).
pub fn adopt_remote_parent(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !headers.contains_key("traceparent") {
        return;
    }
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(context);
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Renames an exported span after it started (the secrets routes know their operation's
/// template only once they ran). `otel.name` recorded late is ignored once a span has children,
/// so this goes through the OpenTelemetry span itself; without tracing it does nothing.
pub fn rename(span: &tracing::Span, name: impl FnOnce() -> String) {
    if !EXPORTING.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    span.context().span().update_name(name());
}
