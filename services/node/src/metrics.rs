//! Prometheus metrics of a node: commands by name and outcome, their latency, the log's size
//! and the relay's progress; served as OpenMetrics text on `/metrics`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::NodeError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: &'static str,
    outcome: &'static str,
}

/// The node's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    commands: Family<CommandLabels, Counter>,
    command_seconds: Histogram,
    pub log_size: Gauge<u64, AtomicU64>,
    pub relay_acked_seq: Gauge<u64, AtomicU64>,
    pub relay_connected: Gauge<u64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vidkryto_node");
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register(
            "commands",
            "Commands handled, by command and outcome",
            commands.clone(),
        );
        // 100 µs to ~3 s.
        let command_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        registry.register(
            "command_duration_seconds",
            "Time to handle one command",
            command_seconds.clone(),
        );
        let log_size = Gauge::<u64, AtomicU64>::default();
        registry.register("log_size", "Events in the node's log", log_size.clone());
        let relay_acked_seq = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "relay_acked_seq",
            "Last log sequence acknowledged by JetStream",
            relay_acked_seq.clone(),
        );
        let relay_connected = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "relay_connected",
            "1 while the relay is talking to JetStream",
            relay_connected.clone(),
        );
        Self {
            registry,
            commands,
            command_seconds,
            log_size,
            relay_acked_seq,
            relay_connected,
        }
    }
}

impl Metrics {
    /// Records one command.
    pub fn command(&self, command: &'static str, error: Option<&NodeError>, took: Duration) {
        let outcome = match error {
            None => "ok",
            Some(
                NodeError::Invalid(_) | NodeError::Domain(domain::DomainError::Invalid { .. }),
            ) => "invalid",
            Some(NodeError::Domain(domain::DomainError::Refused { .. })) => "refused",
            Some(
                NodeError::NotFound(_) | NodeError::Domain(domain::DomainError::NotFound { .. }),
            ) => "not_found",
            Some(_) => "error",
        };
        self.commands
            .get_or_create(&CommandLabels { command, outcome })
            .inc();
        self.command_seconds.observe(took.as_secs_f64());
    }

    /// Records a command refused at the door (`unauthenticated`, `permission_denied`, or
    /// `invalid` for a participant subject the credential decides).
    pub fn refused(&self, command: &'static str, code: tonic::Code) {
        let outcome = match code {
            tonic::Code::Unauthenticated => "unauthenticated",
            tonic::Code::PermissionDenied => "permission_denied",
            tonic::Code::InvalidArgument => "invalid",
            _ => "error",
        };
        self.commands
            .get_or_create(&CommandLabels { command, outcome })
            .inc();
    }

    /// The metrics as OpenMetrics text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// Serves `/metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
