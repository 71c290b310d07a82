//! One event followed by its trace: a node (in this process, its spans exported over OTLP as
//! `vidkryto-node`) files a petition; its relay publishes the event under a child span and puts
//! the span's `traceparent` on the NATS message; a `vidkryto association run` process with
//! `VIDKRYTO_OTLP_ENDPOINT` set reads it from the ingest stream and, once committed, exports
//! its commit span as the relay span's child. An OTLP collector of this test receives all
//! three and checks the chain: one trace, each span the child of the one before, each naming
//! the hromada and the event's log position.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use system_tests::process::AssociationProcess;
use system_tests::{Civic, TestAssociation, TestNode, VINNYTSIA, code};
use testkit::NatsServer;

/// A span as received, with the service that sent it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|a| a.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// An OTLP/gRPC trace collector that keeps every span it is sent.
#[derive(Clone, Debug, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[async_trait::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| attribute(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    /// Serves on a free loopback port; the endpoint to export to.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        format!("http://{addr}")
    }

    fn named(&self, name: &str) -> Vec<Received> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.span.name == name)
            .cloned()
            .collect()
    }
}

/// Waits up to `within` for a span that `matches`.
async fn wait_span(
    collector: &Collector,
    name: &str,
    within: Duration,
    matches: impl Fn(&Received) -> bool,
) -> Received {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = collector.named(name).into_iter().find(&matches) {
            return found;
        }
        let seen: BTreeMap<String, usize> =
            collector
                .spans
                .lock()
                .unwrap()
                .iter()
                .fold(BTreeMap::new(), |mut m, s| {
                    *m.entry(s.span.name.clone()).or_default() += 1;
                    m
                });
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {name} span after {within:?}; received {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_event_is_followed_from_the_command_to_the_association_commit() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let traces = vidkryto::otlp::install(&endpoint, "vidkryto-node").expect("traces installed");

    let nats = NatsServer::start().await.unwrap();
    let mut setup = TestAssociation::start(&nats.url()).await;
    let node = TestNode::start(VINNYTSIA, 100, &nats.url()).await;
    setup.enroll(&node).await;
    setup.stop().await;
    let association = AssociationProcess::start_with_env(
        env!("CARGO_BIN_EXE_vidkryto-under-test"),
        &AssociationProcess::run_args(&setup, false),
        &[
            ("VIDKRYTO_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );

    let mut civic = Civic::of(&node).await;
    civic.file("Traced bus route", "transport").await;
    let hromada = code(VINNYTSIA).to_string();

    // The node's command: its span names the events' positions.
    tokio::task::block_in_place(|| traces.flush());
    let command = wait_span(
        &collector,
        "vidkryto.node.command",
        Duration::from_secs(10),
        |s| {
            s.attribute("vidkryto.hromada").as_deref() == Some(&hromada)
                && s.attribute("vidkryto.command").as_deref() == Some("petition.filed")
        },
    )
    .await;
    assert_eq!(command.service, "vidkryto-node");
    assert!(
        command.span.parent_span_id.is_empty(),
        "the command is the root"
    );
    let seq = command
        .attribute("vidkryto.log.first_seq")
        .expect("the command's log position");
    assert_eq!(
        command.attribute("vidkryto.log.last_seq").as_deref(),
        Some(seq.as_str())
    );

    // The relay's publish, ended by JetStream's acknowledgement.
    let publish = wait_span(
        &collector,
        "vidkryto.relay.publish",
        Duration::from_secs(10),
        |s| s.span.trace_id == command.span.trace_id,
    )
    .await;
    assert_eq!(publish.span.parent_span_id, command.span.span_id);
    assert_eq!(publish.attribute("vidkryto.log.seq"), Some(seq.clone()));
    assert_eq!(publish.attribute("vidkryto.hromada"), Some(hromada.clone()));
    assert!(
        publish.attribute("vidkryto.stream.seq").is_some(),
        "acknowledged"
    );

    // The association, another process, read the trace from the message's header.
    let commit = wait_span(
        &collector,
        "vidkryto.association.commit",
        Duration::from_secs(30),
        |s| s.span.trace_id == command.span.trace_id,
    )
    .await;
    assert_eq!(commit.service, "vidkryto-association");
    assert_eq!(commit.span.parent_span_id, publish.span.span_id);
    assert_eq!(commit.attribute("vidkryto.log.seq"), Some(seq.clone()));
    assert_eq!(commit.attribute("vidkryto.hromada"), Some(hromada.clone()));
    assert!(
        commit.span.status.as_ref().is_none_or(|s| s.code != 2),
        "committed"
    );
    assert!(
        commit.span.start_time_unix_nano >= command.span.start_time_unix_nano
            && commit.span.end_time_unix_nano >= commit.span.start_time_unix_nano,
        "the commit follows the command"
    );
    // The association's figures hold the event the span says it committed.
    let seq: u64 = seq.parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while association.summary().await.events_verified < seq {
        assert!(tokio::time::Instant::now() < deadline, "not in the figures");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Exactly one commit span for the event, a while later too: it was committed once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let commits = collector
        .named("vidkryto.association.commit")
        .into_iter()
        .filter(|s| s.span.trace_id == command.span.trace_id)
        .count();
    assert_eq!(commits, 1);
    tokio::task::block_in_place(|| traces.shutdown());
}
