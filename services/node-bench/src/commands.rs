//! Command load on a node: `sign_petition` from concurrent callers over published petitions,
//! through the library (a `NodeCore` over a fresh SQLite log, next to bare `Log::append` of one
//! event per call) and through gRPC (concurrent tonic clients against a started node, and one
//! sequential client for latency).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use domain::petition::{PetitionEvent, PetitionSigned, StatuteRule};
use domain::{NodeSecret, PetitionId, PseudonymTag};
use event_store::{CheckpointPolicy, ExpectedVersion, Log, NewEvent};
use event_store_core::checkpoint::NoteSigner;
use event_store_core::{EventId, MunicipalityCode, StreamId, Timestamp, origin_for};
use event_store_sqlite::{Durability, SqliteBackend};
use node::auth::{AuthedNodeClient, Bearer};
use node::command::{Action, NodeCommand, PetitionStep, Subject};
use node::config::{InitOptions, NodeSettings, Overrides, StatuteSettings};
use node::{NodeCore, RunningNode};
use proto::node::v1 as pb;
use proto::node::v1::node_service_client::NodeServiceClient;
use tokio::task::JoinSet;
use tonic::transport::Endpoint;
use uuid::Uuid;

use crate::report::percentile;

/// Koriukivka hromada (Chernihiv oblast).
pub const MUNICIPALITY: &str = "UA74040130000074451";
/// Published petitions the signatures are spread over.
pub const PETITIONS: usize = 20;
/// Concurrent callers (tasks or gRPC clients).
pub const CALLERS: usize = 16;
/// The statute's threshold: the largest the domain allows, so no signature of the load also
/// records a threshold event and every command appends exactly one event.
pub const THRESHOLD: u32 = domain::petition::SIGNATURE_THRESHOLD_MAX;
/// Longest one command may take before the run is abandoned.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest one load (all callers) may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(900);
/// Longest wait for a gRPC connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a started node to stop.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// Sequential commands sent before the latency is measured (connection and caches warm).
const LATENCY_WARMUP: usize = 50;

pub fn municipality() -> anyhow::Result<MunicipalityCode> {
    MunicipalityCode::parse(MUNICIPALITY).context("municipality code")
}

fn statute() -> StatuteRule {
    StatuteRule {
        signature_threshold: THRESHOLD,
        collection_period_days: 60,
        answer_deadline_working_days: 10,
        rule_version: 1,
    }
}

/// A fresh log in `dir`: SQLite, WAL, `synchronous=FULL`, the default checkpoint policy.
pub async fn open_log(dir: &Path) -> anyhow::Result<Arc<Log<SqliteBackend>>> {
    let backend = SqliteBackend::open(&dir.join("node.sqlite"), Durability::Full)
        .await
        .context("failed to open the SQLite log")?;
    let m = municipality()?;
    let signer = NoteSigner::from_seed(&origin_for(&m), [7; 32])?;
    let log = Log::open(backend, m, signer, CheckpointPolicy::default())
        .await
        .context("failed to open the log")?;
    Ok(Arc::new(log))
}

/// Awaits every task of a load, bounded by [`LOAD_TIMEOUT`]; the first failure ends the load
/// (the other tasks are aborted when the set drops).
async fn join_load(mut tasks: JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + LOAD_TIMEOUT;
    while let Some(joined) = tokio::time::timeout_at(deadline, tasks.join_next())
        .await
        .with_context(|| format!("the load did not finish within {LOAD_TIMEOUT:?}"))?
    {
        joined.context("a load task panicked")??;
    }
    Ok(())
}

/// Bare log: `commands` appends of one signature-sized event from [`CALLERS`] tasks (the log
/// may commit concurrent calls as one group). The node adds domain rules and state to this.
pub async fn log_append_run(commands: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let log = open_log(dir.path()).await?;
    let petitions: Vec<PetitionId> = (0..PETITIONS).map(|_| PetitionId(Uuid::now_v7())).collect();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for caller in 0..CALLERS {
        let (log, petitions) = (log.clone(), petitions.clone());
        tasks.spawn(async move {
            for i in (caller..commands).step_by(CALLERS) {
                let petition = petitions[i % PETITIONS];
                let at = Timestamp::now();
                let mut tag = [0u8; 32];
                tag[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let encoded = domain::encode(&domain::Event::Petition(PetitionEvent::Signed(
                    PetitionSigned {
                        petition_id: petition,
                        signer: PseudonymTag(tag),
                        at,
                    },
                )));
                let event = NewEvent {
                    event_id: EventId::new_v7(),
                    event_type: encoded.event_type,
                    schema_version: encoded.schema_version,
                    recorded_at: at,
                    payload: encoded.payload,
                };
                tokio::time::timeout(
                    COMMAND_TIMEOUT,
                    log.append(StreamId(petition.0), ExpectedVersion::Any, vec![event]),
                )
                .await
                .context("an append timed out")?
                .context("an append failed")?;
            }
            Ok(())
        });
    }
    join_load(tasks).await?;
    let took = started.elapsed();
    ensure!(log.size() == commands as u64, "log size {}", log.size());
    Ok(commands as f64 / took.as_secs_f64())
}

/// The library: `commands` `sign_petition` calls from [`CALLERS`] tasks on a `NodeCore`.
pub async fn library_run(commands: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let log = open_log(dir.path()).await?;
    let core = Arc::new(
        NodeCore::open(
            log.clone(),
            node::texts::TextStore::open(dir.path()).await?,
            NodeSecret::from_bytes([9; 32]),
            statute(),
            Vec::new(),
            node::executor::system_clock(),
        )
        .await
        .context("failed to open the node core")?,
    );
    let mut petitions = Vec::with_capacity(PETITIONS);
    for n in 0..PETITIONS {
        let request = Uuid::now_v7();
        core.run(NodeCommand {
            request,
            action: Action::FilePetition {
                author_subject: Subject::parse("author_subject", "diia:author".to_owned())?,
                title: node::command::Private(format!("Освітлення вулиці № {n}")),
                text: node::command::Private(
                    "Просимо встановити ліхтарі вздовж вулиці до школи.".to_owned(),
                ),
                category: "infrastructure".to_owned(),
            },
        })
        .await
        .context("failed to file a petition")?;
        core.run(NodeCommand {
            request: Uuid::now_v7(),
            action: Action::Petition(PetitionId(request), PetitionStep::Publish),
        })
        .await
        .context("failed to publish a petition")?;
        petitions.push(PetitionId(request));
    }
    let before = log.size();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for caller in 0..CALLERS {
        let (core, petitions) = (core.clone(), petitions.clone());
        tasks.spawn(async move {
            for i in (caller..commands).step_by(CALLERS) {
                let signer_subject = Subject::parse("signer_subject", format!("diia:citizen-{i}"))?;
                let sign = NodeCommand {
                    request: Uuid::now_v7(),
                    action: Action::Petition(
                        petitions[i % PETITIONS],
                        PetitionStep::Sign { signer_subject },
                    ),
                };
                let outcome = tokio::time::timeout(COMMAND_TIMEOUT, core.run(sign))
                    .await
                    .context("a command timed out")?
                    .context("a command failed")?;
                ensure!(!outcome.deduplicated, "a new command was deduplicated");
            }
            Ok(())
        });
    }
    join_load(tasks).await?;
    let took = started.elapsed();
    ensure!(
        log.size() == before + commands as u64,
        "log grew by {}, not {commands}",
        log.size() - before
    );
    Ok(commands as f64 / took.as_secs_f64())
}

/// A node started in-process on a fresh directory, listening on a free loopback port, with
/// its own fresh `nats-server` when it relays (a stream holding another log's events would
/// rightly stop the relay).
#[derive(Debug)]
pub struct StartedNode {
    _dir: tempfile::TempDir,
    running: RunningNode,
    nats: Option<testkit::NatsServer>,
    /// The API token of the machine client `bench` (every permission).
    pub token: String,
}

impl StartedNode {
    /// Initialises and starts a node; it relays to a fresh `nats-server`, or runs offline.
    pub async fn start(relaying: bool) -> anyhow::Result<Self> {
        Self::start_configured(relaying, "").await
    }

    /// [`StartedNode::start`] with `tables` (TOML, such as `[oidc]` and `[tls]`) added to its
    /// config file.
    pub async fn start_configured(relaying: bool, tables: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let nats = if relaying {
            testkit::nats_server_binary()?;
            Some(
                testkit::NatsServer::start()
                    .await
                    .context("failed to start nats-server")?,
            )
        } else {
            None
        };
        let nats_url = nats.as_ref().map(|n| n.url()).unwrap_or_default();
        let options = InitOptions {
            municipality: municipality()?,
            statute: StatuteSettings {
                signature_threshold: THRESHOLD,
                collection_period_days: 60,
                answer_deadline_working_days: 10,
                rule_version: 1,
            },
            listen: "127.0.0.1:0".to_owned(),
            nats_url: nats_url.clone(),
            storage: "node.sqlite".to_owned(),
        };
        node::config::init(dir.path(), &options)?;
        if !tables.is_empty() {
            let path = dir.path().join(node::config::CONFIG_FILE);
            let text = std::fs::read_to_string(&path)?;
            std::fs::write(&path, format!("{text}\n{tables}\n"))?;
        }
        let token = node::auth::clients::add(
            dir.path(),
            "bench",
            node::auth::Permission::ALL.to_vec(),
            node::auth::clients::Credential::Token,
        )?
        .context("a token client has a token")?;
        let settings = NodeSettings::load(
            dir.path(),
            Overrides {
                listen: Some("127.0.0.1:0".to_owned()),
                nats_url: Some(nats_url),
                ..Overrides::default()
            },
        )?;
        let running = node::start(settings)
            .await
            .context("failed to start the node")?;
        Ok(Self {
            _dir: dir,
            running,
            nats,
            token,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.running.grpc_addr())
    }

    /// The node's gRPC port.
    pub fn port(&self) -> u16 {
        self.running.grpc_addr().port()
    }

    /// The node's directory.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn log_size(&self) -> u64 {
        *self.running.log_size().borrow()
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        tokio::time::timeout(SHUTDOWN_TIMEOUT, self.running.shutdown())
            .await
            .context("the node did not stop in time")?;
        if let Some(mut nats) = self.nats {
            nats.stop().await.context("failed to stop nats-server")?;
        }
        Ok(())
    }
}

/// A gRPC client of the node at `url` holding `token`, every call bounded by
/// [`COMMAND_TIMEOUT`].
pub async fn connect(url: &str, token: &str) -> anyhow::Result<AuthedNodeClient> {
    let channel = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("{url} is not a gRPC endpoint"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(COMMAND_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("failed to connect to {url}"))?;
    Ok(NodeServiceClient::with_interceptor(
        channel,
        Bearer::new(token)?,
    ))
}

/// Files and publishes [`PETITIONS`] petitions over gRPC; returns their ids.
pub async fn grpc_petitions(url: &str, token: &str) -> anyhow::Result<Vec<String>> {
    file_and_publish(&mut connect(url, token).await?).await
}

/// Files and publishes [`PETITIONS`] petitions through `client`; returns their ids.
pub async fn file_and_publish(client: &mut AuthedNodeClient) -> anyhow::Result<Vec<String>> {
    let mut petitions = Vec::with_capacity(PETITIONS);
    for n in 0..PETITIONS {
        let id = client
            .file_petition(pb::FilePetitionRequest {
                request_id: Uuid::now_v7().to_string(),
                author_subject: "diia:author".to_owned(),
                title: format!("Освітлення вулиці № {n}"),
                text: "Просимо встановити ліхтарі вздовж вулиці до школи.".to_owned(),
                category: "infrastructure".to_owned(),
            })
            .await
            .context("failed to file a petition")?
            .into_inner()
            .stream_id;
        client
            .publish_petition(pb::PublishPetitionRequest {
                request_id: Uuid::now_v7().to_string(),
                petition_id: id.clone(),
            })
            .await
            .context("failed to publish a petition")?;
        petitions.push(id);
    }
    Ok(petitions)
}

fn sign_request(petitions: &[String], i: usize, tag: &str) -> pb::SignPetitionRequest {
    pb::SignPetitionRequest {
        request_id: Uuid::now_v7().to_string(),
        petition_id: petitions[i % petitions.len()].clone(),
        signer_subject: format!("diia:{tag}-{i}"),
    }
}

/// `commands` `SignPetition` calls from [`CALLERS`] clients, each on its own connection;
/// signer subjects are `diia:<tag>-<i>`, so `tag` must differ between loads on one node.
/// Returns commands/s (connections are opened before the clock starts).
pub async fn grpc_load(
    url: &str,
    token: &str,
    petitions: &[String],
    commands: usize,
    tag: &str,
) -> anyhow::Result<f64> {
    let mut clients = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        clients.push(connect(url, token).await?);
    }
    let petitions: Arc<[String]> = petitions.into();
    let tag = tag.to_owned();
    sign_load(clients, commands, move |i| {
        Ok(tonic::Request::new(sign_request(&petitions, i, &tag)))
    })
    .await
}

/// `commands` signatures from `clients` (command `i` from client `i % clients`), each request
/// made by `request(i)`; returns commands/s. The clients are connected before the clock starts.
pub async fn sign_load<T, R>(
    clients: Vec<NodeServiceClient<T>>,
    commands: usize,
    request: R,
) -> anyhow::Result<f64>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Send + 'static,
    T::Error: Into<tonic::codegen::StdError>,
    T::Future: Send,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    R: Fn(usize) -> anyhow::Result<tonic::Request<pb::SignPetitionRequest>> + Send + Sync + 'static,
{
    let callers = clients.len();
    let request = Arc::new(request);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (caller, mut client) in clients.into_iter().enumerate() {
        let request = request.clone();
        tasks.spawn(async move {
            for i in (caller..commands).step_by(callers) {
                let result = client
                    .sign_petition(request(i)?)
                    .await
                    .context("a command failed")?
                    .into_inner();
                ensure!(result.first_seq > 0, "a new command appended nothing");
            }
            Ok(())
        });
    }
    join_load(tasks).await?;
    Ok(commands as f64 / started.elapsed().as_secs_f64())
}

/// gRPC throughput on a fresh node, relaying to its own `nats-server` or offline.
pub async fn grpc_run(commands: usize, relaying: bool) -> anyhow::Result<f64> {
    let node = StartedNode::start(relaying).await?;
    let url = node.url();
    let petitions = grpc_petitions(&url, &node.token).await?;
    let before = node.log_size();
    let rate = grpc_load(&url, &node.token, &petitions, commands, "citizen").await?;
    let grew = node.log_size() - before;
    node.stop().await?;
    ensure!(
        grew == commands as u64,
        "log grew by {grew}, not {commands}"
    );
    Ok(rate)
}

/// Latency of sequential commands from one client, in one run.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    /// The percentiles of `samples`.
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self {
            p50: percentile(&samples, 50),
            p99: percentile(&samples, 99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// One client, `commands` sequential `SignPetition` calls (after a warm-up) on a fresh node,
/// relaying to its own `nats-server` or offline.
pub async fn latency_run(commands: usize, relaying: bool) -> anyhow::Result<Latency> {
    let node = StartedNode::start(relaying).await?;
    let url = node.url();
    let petitions = grpc_petitions(&url, &node.token).await?;
    let mut client = connect(&url, &node.token).await?;
    for i in 0..LATENCY_WARMUP {
        client
            .sign_petition(sign_request(&petitions, i, "warmup"))
            .await
            .context("a warm-up command failed")?;
    }
    let mut samples = Vec::with_capacity(commands);
    for i in 0..commands {
        let request = sign_request(&petitions, i, "citizen");
        let started = Instant::now();
        client
            .sign_petition(request)
            .await
            .context("a command failed")?;
        samples.push(started.elapsed());
    }
    node.stop().await?;
    Ok(Latency::of(samples))
}
