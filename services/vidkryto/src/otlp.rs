//! OpenTelemetry traces over OTLP/gRPC, off by default: `VIDKRYTO_OTLP_ENDPOINT` (for example
//! `http://127.0.0.1:4317`) turns them on. Spans follow one event from the node's command
//! through its relay and the NATS `traceparent` header to the association's commit
//! (`wire::trace`).
//!
//! Spans leave in batches from a bounded queue (the SDK's `OTEL_BSP_*` settings: 2,048 spans,
//! every 5 s by default), so a collector that is slow or gone drops spans, never slows the
//! ingest. Sampling follows `OTEL_TRACES_SAMPLER` (always on by default; an association honours
//! the node's sampling decision); the service name is the role's unless `OTEL_SERVICE_NAME`
//! says otherwise.

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The variable that turns traces on, holding the collector's OTLP/gRPC endpoint.
pub const ENDPOINT_VAR: &str = "VIDKRYTO_OTLP_ENDPOINT";
/// One export waits this long at most.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Spans still queued when the process stops get this long to leave.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Installed traces: flushed and stopped by [`Traces::shutdown`].
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

/// Installs the exporter when [`ENDPOINT_VAR`] is set (to anything but the empty string).
/// Must run inside the tokio runtime the process serves on.
pub fn from_env(service: &str) -> anyhow::Result<Option<Traces>> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => install(endpoint.trim(), service).map(Some),
        _ => Ok(None),
    }
}

/// Exports this process's spans to the OTLP/gRPC collector at `endpoint` as `service`, and
/// turns the spans of `wire::trace` on.
pub fn install(endpoint: &str, service: &str) -> anyhow::Result<Traces> {
    let host = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    if host.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
        anyhow::bail!("{ENDPOINT_VAR}: {endpoint:?} is not an http:// or https:// URL");
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .with_context(|| format!("{ENDPOINT_VAR}: cannot export to {endpoint}"))?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_owned());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            resource
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    wire::trace::enable();
    Ok(Traces { provider })
}

impl Traces {
    /// Sends what is queued now.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "traces were not all sent");
        }
    }

    /// Sends what is queued (within a few seconds) and stops exporting.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(error = %e, "traces were not all sent at shutdown");
        }
    }
}
