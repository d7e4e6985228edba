//! Logging and tracing: a fmt subscriber filtered by `RUST_LOG`, plus an
//! OpenTelemetry layer only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! RPC spans join the caller's trace when it sends W3C `traceparent`
//! (see `rpc_trace`).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

/// Flushes exported spans when dropped at exit.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: flushing traces failed: {error}");
        }
    }
}

/// Installs the global subscriber. Call inside the tokio runtime: the OTLP
/// exporter's channel spawns on it.
pub fn init(service_name: &'static str) -> TelemetryGuard {
    install(service_name, otlp_enabled().then_some(None))
}

/// Like [`init`], but exports spans to the OTLP/gRPC collector at
/// `endpoint` whatever the environment says; for tests that run their own
/// collector.
pub fn init_exporting_to(service_name: &'static str, endpoint: &str) -> TelemetryGuard {
    install(service_name, Some(Some(endpoint)))
}

/// `export`: `None` for no OTLP layer, `Some(None)` to export where the
/// environment says, `Some(Some(endpoint))` to export to `endpoint`.
fn install(service_name: &'static str, export: Option<Option<&str>>) -> TelemetryGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,h2=warn,tower=warn")
    });
    let provider = export.and_then(|endpoint| otlp_provider(service_name, endpoint));
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(otel_layer);
    if registry.try_init().is_err() {
        // Tests build several applications in one process; the first
        // subscriber stays.
    }
    TelemetryGuard { provider }
}

/// The Rust SDK ignores `OTEL_SDK_DISABLED`, so honour it (and
/// `OTEL_TRACES_EXPORTER=none`) here.
fn otlp_enabled() -> bool {
    let set = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        && set("OTEL_SDK_DISABLED").is_none_or(|value| !value.eq_ignore_ascii_case("true"))
        && set("OTEL_TRACES_EXPORTER").is_none_or(|value| !value.eq_ignore_ascii_case("none"))
}

fn otlp_provider(service_name: &'static str, endpoint: Option<&str>) -> Option<SdkTracerProvider> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let exporter = match builder.build() {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("warning: trace export disabled: {error}");
            return None;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name)
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}
