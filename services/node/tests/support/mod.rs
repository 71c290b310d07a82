//! Test support: a node started in-process on a fresh directory and a free port, gRPC clients
//! for it, and readers of what reached JetStream.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use event_store_core::{MunicipalityCode, Timestamp};
use futures_util::StreamExt as _;
use node::RunningNode;
use node::auth::clients::Credential;
use node::auth::{AuthedNodeClient, Permission};
use node::config::{InitOptions, NodeSettings, Overrides, StatuteSettings};
use node::executor::Clock;
use proto::node::v1::log_service_client::LogServiceClient;
use proto::node::v1::node_service_client::NodeServiceClient;
use tonic::transport::Channel;

/// Koriukivka hromada (Chernihiv oblast): its statute asks 100 signatures in 60 days.
pub const KORIUKIVKA: &str = "UA74040130000074451";

pub fn municipality() -> MunicipalityCode {
    MunicipalityCode::parse(KORIUKIVKA).unwrap()
}

/// A clock the test moves.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(Timestamp::now().0)))
    }
    pub fn advance_days(&self, days: i64) {
        self.0.fetch_add(days * 86_400_000_000, Ordering::SeqCst);
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }
    pub fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
    pub fn clock(&self) -> Clock {
        let t = self.0.clone();
        Arc::new(move || Timestamp(t.load(Ordering::SeqCst)))
    }
}

pub struct TestNode {
    pub dir: tempfile::TempDir,
    pub running: Option<RunningNode>,
    pub nats_url: Option<String>,
    pub clock: TestClock,
    /// Where it listens (`127.0.0.1:0` unless a test needs a known port).
    pub listen: String,
    /// The API token of the machine client `tests`, which has every permission (it plays the
    /// hromada's e-petition platform and its council).
    pub token: String,
}

impl TestNode {
    /// A new node of Koriukivka with the given statute threshold, relaying to `nats_url`.
    pub async fn start(nats_url: Option<String>, threshold: u32) -> Self {
        Self::start_configured(nats_url, threshold, "").await
    }

    /// A new node whose `node.toml` also holds `tables` (TOML tables an operator would add,
    /// such as `[oidc]` or `[tls]`).
    pub async fn start_configured(nats_url: Option<String>, threshold: u32, tables: &str) -> Self {
        Self::start_listening("127.0.0.1:0", nats_url, threshold, tables).await
    }

    /// [`start_configured`](Self::start_configured) listening on `listen`.
    pub async fn start_listening(
        listen: &str,
        nats_url: Option<String>,
        threshold: u32,
        tables: &str,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let options = InitOptions {
            municipality: municipality(),
            statute: StatuteSettings {
                signature_threshold: threshold,
                collection_period_days: 60,
                answer_deadline_working_days: 10,
                rule_version: 1,
            },
            listen: "127.0.0.1:0".into(),
            nats_url: nats_url.clone().unwrap_or_default(),
            storage: "node.sqlite".into(),
        };
        node::config::init(dir.path(), &options).unwrap();
        if !tables.is_empty() {
            let path = dir.path().join(node::config::CONFIG_FILE);
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, format!("{text}\n{tables}\n")).unwrap();
        }
        let token = add_client(dir.path(), "tests", &Permission::ALL);
        let mut node = Self {
            dir,
            running: None,
            nats_url,
            clock: TestClock::new(),
            listen: listen.to_owned(),
            token,
        };
        node.boot().await;
        node
    }

    pub fn settings(&self) -> NodeSettings {
        NodeSettings::load(
            self.dir.path(),
            Overrides {
                listen: Some(self.listen.clone()),
                metrics_listen: Some("127.0.0.1:0".into()),
                ..Overrides::default()
            },
        )
        .unwrap()
    }

    pub async fn boot(&mut self) {
        let running = node::start_with_clock(self.settings(), self.clock.clock())
            .await
            .unwrap();
        self.running = Some(running);
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.running.as_ref().unwrap().grpc_addr())
    }

    /// Events in the node's log now.
    pub fn log_size(&self) -> u64 {
        *self.running.as_ref().unwrap().log_size().borrow()
    }

    /// A client holding the `tests` token.
    pub async fn client(&self) -> AuthedNodeClient {
        node::auth::connect(&self.url(), &self.token, None)
            .await
            .unwrap()
    }

    /// A client presenting no credential.
    pub async fn anonymous_client(&self) -> NodeServiceClient<Channel> {
        NodeServiceClient::connect(self.url()).await.unwrap()
    }

    pub async fn log_client(&self) -> LogServiceClient<Channel> {
        LogServiceClient::connect(self.url()).await.unwrap()
    }

    /// The whole log, as `LogService.ReadLog` streams it.
    pub async fn read_whole_log(&self) -> Vec<proto::node::v1::LogEntry> {
        let mut stream = self
            .log_client()
            .await
            .read_log(proto::node::v1::ReadLogRequest {
                from_seq: 1,
                limit: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let mut entries = Vec::new();
        while let Some(entry) = stream.message().await.unwrap() {
            entries.push(entry);
        }
        entries
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("node.sqlite")
    }

    /// Waits until the relay has JetStream acknowledge `seq`.
    pub async fn wait_relayed(&self, seq: u64, timeout: Duration) {
        let mut status = self.running.as_ref().unwrap().relay_status().unwrap();
        let reached = tokio::time::timeout(timeout, status.wait_for(|s| s.acked_seq >= seq))
            .await
            .is_ok();
        assert!(
            reached,
            "relay did not reach {seq} in {timeout:?}: {:?}",
            status.borrow()
        );
    }
}

/// Adds a machine client with `permissions` to the node in `dir`; returns its API token.
pub fn add_client(dir: &std::path::Path, name: &str, permissions: &[Permission]) -> String {
    node::auth::clients::add(dir, name, permissions.to_vec(), Credential::Token)
        .unwrap()
        .unwrap()
}

pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// One event message as JetStream holds it.
#[derive(Debug)]
pub struct Relayed {
    pub stream_seq: u64,
    pub log_seq: u64,
    pub msg_id: String,
    pub payload: Vec<u8>,
}

/// Every event message on the municipality's events subject, in stream order.
pub async fn relayed_events(nats_url: &str, expected: usize) -> Vec<Relayed> {
    let client = async_nats::connect(nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js
        .get_stream(wire::stream_name(&municipality()))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: wire::event_subject(&municipality()),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    while out.len() < expected {
        let next = tokio::time::timeout(Duration::from_secs(10), messages.next()).await;
        let Ok(Some(Ok(msg))) = next else { break };
        let info = msg.info().unwrap();
        let headers = msg.headers.clone().unwrap_or_default();
        let header = |name: &str| {
            headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        out.push(Relayed {
            stream_seq: info.stream_sequence,
            log_seq: header(wire::SEQ_HEADER).parse().unwrap_or(0),
            msg_id: header("Nats-Msg-Id"),
            payload: msg.payload.to_vec(),
        });
    }
    // Nothing beyond the expected messages.
    if let Ok(Some(Ok(extra))) =
        tokio::time::timeout(Duration::from_millis(300), messages.next()).await
    {
        panic!(
            "unexpected extra message {:?}",
            extra.info().map(|i| i.stream_sequence)
        );
    }
    out
}
