//! Running the association: the database, the witness key, the ingest, the read model and the
//! gRPC server (national, federation, audit, health, reflection; gRPC-Web for browsers), and
//! the dashboard's static files on the same listener.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use event_store_core::checkpoint::{NoteSigner, NoteVerifier};
use proto::audit::v1::audit_service_server::AuditServiceServer;
use proto::federation::v1::federation_service_server::FederationServiceServer;
use proto::national::v1::national_service_server::NationalServiceServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admission::{RequestLimitLayer, limit_connections};
use crate::api::audit::AuditApi;
use crate::api::federation::{Admin, FederationApi};
use crate::api::national::NationalApi;
use crate::api::streams::StreamLimits;
use crate::enrolment::Enrolment;
use crate::ingest::{self, Ingest, IngestConfig, IngestProgress, Topology};
use crate::lease::Lease;
use crate::read::ReadModel;
use crate::read::digests::Digests;
use crate::store::Store;
use crate::tls::{TlsIdentity, accept_tls};
use reference::Reference;

/// The server-streaming methods, whose replies are never compressed (`wire::compress`).
const STREAMS: &[&str] = &[
    "/vidkryto.national.v1.NationalService/WatchUpdates",
    "/vidkryto.audit.v1.AuditService/ReadLog",
    "/grpc.health.v1.Health/Watch",
];
/// Requests are small (codes, filters, page tokens): anything larger is refused.
const REQUEST_SIZE_MAX: usize = 16 * 1024;
/// How long a request's handler may take until its response starts (a stream's body is
/// bounded by `api::streams`): the slowest unary call waits for a reader connection (5 s) and
/// a statement (10 s), or for a digest scan (which, if longer, goes on for the next caller).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests one connection has in flight; more wait on that connection.
const CONCURRENCY_PER_CONNECTION: usize = 256;
const HTTP2_STREAMS_MAX: u32 = 1_024;
/// The dashboard's page: scripts, styles and data from this origin only, no inline scripts and
/// no `eval` (its protobuf codec interprets the API's descriptor instead of compiling code
/// from it); `'unsafe-inline'` styles because ECharts sets inline styles on its tooltips.
const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self'; \
                             style-src 'self' 'unsafe-inline'; \
                             img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; \
                             base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// Connections open at once, from all clients. A dashboard visitor holds one (HTTP/2) or up to
/// six (gRPC-Web over HTTP/1.1), an auditor one; each costs a descriptor and some tens of KiB
/// of buffers, so 2,048 serve hundreds of visitors at once in about 100 MiB and far below the
/// service's 65,536 descriptors (`deploy/systemd`).
pub const CONNECTIONS_MAX: usize = 2_048;
/// Requests in flight at once, from all connections. Most are answered from memory in
/// microseconds; those reading PostgreSQL wait for one of the read side's 8 connections, so
/// more in flight would only queue there. Each holds at most a 16 KiB request and a 512 KiB
/// page, a few hundred MiB in the worst case.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 512;
/// A connection older than this is asked to close (HTTP/2 GOAWAY; clients reconnect at once),
/// so no client holds a place for good, not even one that opened a connection and sends
/// nothing.
const CONNECTION_AGE_MAX: Duration = Duration::from_secs(60 * 60);
/// What a connection asked to close may still take: the longest stream's lifetime
/// (`api::streams::WATCH_LIFETIME_MAX`), so no stream is cut short by it.
const CONNECTION_AGE_GRACE: Duration = Duration::from_secs(15 * 60);
/// HTTP/2 pings on a quiet connection, and how long the answer may take: a client gone
/// without closing (a dropped network) frees its place within 80 s, not at the age bound.
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The bounds on what clients may hold of the server; `Default` is the constants above and in
/// `api::streams` (tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServingLimits {
    pub connections_max: usize,
    pub requests_in_flight_max: usize,
    pub streams: StreamLimits,
}

impl Default for ServingLimits {
    fn default() -> Self {
        Self {
            connections_max: CONNECTIONS_MAX,
            requests_in_flight_max: REQUESTS_IN_FLIGHT_MAX,
            streams: StreamLimits::default(),
        }
    }
}
/// The witness's name in cosignature lines.
pub const WITNESS_NAME: &str = "vidkryto-association";

/// What the association runs with. Its `Debug` shows URLs through `wire::redacted_url` and
/// never the admin token (the witness key's own `Debug` hides its secret).
#[derive(Clone)]
pub struct AssociationSettings {
    /// PostgreSQL URL of the association's database (created if missing).
    pub database_url: String,
    pub nats_url: String,
    pub listen: SocketAddr,
    pub witness: NoteSigner,
    /// Bearer token for the admin methods; `None` disables them.
    pub admin_token: Option<String>,
    pub ingest_batch_events_max: usize,
    pub ingest_commit_interval: Duration,
    /// Where the nodes' streams live (their own JetStream domains behind leaf nodes, or the
    /// association's JetStream) and the ingest stream's replicas.
    pub topology: Topology,
    /// The dashboard's built assets (`services/dashboard/dist`), served on the gRPC listener
    /// for `GET` requests; `None` serves no page.
    pub dashboard_dir: Option<PathBuf>,
    /// What clients may hold of the server at once.
    pub limits: ServingLimits,
    /// The listener's certificate and key: with them it serves TLS only; without, plain text,
    /// and admin calls only from loopback (`wire::credentials_transport_allowed`).
    pub tls: Option<TlsIdentity>,
    /// How often the association states its projection when it moved
    /// (`statements::STATEMENT_INTERVAL_DEFAULT`).
    pub statement_interval: Duration,
    /// Whether the ingest writes the practice catalogue (on; off only to measure its cost).
    pub catalogue: bool,
    /// Where the size and root of the association's log it last signed are kept, beside the
    /// witness key (`decisions::LOG_HEAD_FILE`); `None` only for benches.
    pub log_head: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`GET /metrics`); `None` serves none.
    pub metrics_listen: Option<SocketAddr>,
}

impl std::fmt::Debug for AssociationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            database_url,
            nats_url,
            listen,
            witness,
            admin_token,
            ingest_batch_events_max,
            ingest_commit_interval,
            topology,
            dashboard_dir,
            limits,
            tls,
            statement_interval,
            catalogue,
            log_head,
            metrics_listen,
        } = self;
        f.debug_struct("AssociationSettings")
            .field("database_url", &wire::redacted_url(database_url))
            .field("nats_url", &wire::redacted_url(nats_url))
            .field("listen", listen)
            .field("witness", witness)
            .field("admin_token", &admin_token.as_ref().map(|_| "<redacted>"))
            .field("ingest_batch_events_max", ingest_batch_events_max)
            .field("ingest_commit_interval", ingest_commit_interval)
            .field("topology", topology)
            .field("dashboard_dir", dashboard_dir)
            .field("limits", limits)
            .field("tls", tls)
            .field("statement_interval", statement_interval)
            .field("catalogue", catalogue)
            .field("log_head", log_head)
            .field("metrics_listen", metrics_listen)
            .finish()
    }
}

impl AssociationSettings {
    /// Settings from a directory made by `vidkryto association init` (`witness.key`,
    /// `admin.token`).
    pub fn from_dir(
        dir: &Path,
        database_url: String,
        nats_url: String,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let witness = load_witness(&dir.join(WITNESS_KEY_FILE))?;
        let token_path = dir.join(ADMIN_TOKEN_FILE);
        let admin_token = match wire::read_secret_file(&token_path) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        Ok(Self {
            database_url,
            nats_url,
            listen,
            witness,
            admin_token,
            ingest_batch_events_max: IngestConfig::new("").batch_events_max,
            ingest_commit_interval: IngestConfig::new("").commit_interval,
            topology: Topology::default(),
            dashboard_dir: None,
            limits: ServingLimits::default(),
            tls: None,
            statement_interval: crate::statements::STATEMENT_INTERVAL_DEFAULT,
            catalogue: true,
            log_head: Some(dir.join(crate::decisions::LOG_HEAD_FILE)),
            metrics_listen: None,
        })
    }
}

pub const WITNESS_KEY_FILE: &str = "witness.key";
pub const WITNESS_VKEY_FILE: &str = "witness.vkey";
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Reads the witness's signing key.
pub fn load_witness(path: &Path) -> anyhow::Result<NoteSigner> {
    let text = wire::read_secret_file(path)
        .context("cannot use the witness key (`vidkryto association init` makes one)")?;
    NoteSigner::parse(text.trim())
        .with_context(|| format!("{} is not a signing key", path.display()))
}

/// Makes `dir` with a fresh witness key and admin token, readable only by their owner.
/// Refuses to overwrite an existing key.
pub fn init_dir(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    use rand_seed::fresh_seed;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let key_path = dir.join(WITNESS_KEY_FILE);
    if key_path.exists() {
        anyhow::bail!(
            "{} exists already; refusing to replace the witness key",
            key_path.display()
        );
    }
    let signer = NoteSigner::from_seed(WITNESS_NAME, fresh_seed()?)?;
    write_secret(&key_path, &signer.to_private_text())?;
    std::fs::write(
        dir.join(WITNESS_VKEY_FILE),
        signer.verifier().to_text() + "\n",
    )?;
    let token_path = dir.join(ADMIN_TOKEN_FILE);
    let token: String = hex::encode(fresh_seed()?);
    write_secret(&token_path, &token)?;
    Ok((key_path, token_path))
}

mod rand_seed {
    /// 32 bytes from the operating system's random source.
    pub fn fresh_seed() -> anyhow::Result<[u8; 32]> {
        use std::io::Read as _;
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
        Ok(seed)
    }
}

/// Writes a new owner-only file with a final newline (`wire::write_secret_file`).
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    wire::write_secret_file(path, &format!("{text}\n"))
        .with_context(|| format!("failed to create {}", path.display()))
}

/// What `vidkryto association serve` runs with: an instance that serves the national,
/// federation and audit APIs, open data and the dashboard from the database (a streaming
/// replica in production) and writes nothing. Its `Debug` shows the URL through
/// `wire::redacted_url`.
#[derive(Clone)]
pub struct ReplicaSettings {
    /// PostgreSQL URL of the association's database, or of a replica of it.
    pub database_url: String,
    pub listen: SocketAddr,
    /// The association's witness key as it publishes it (`witness.vkey`): served to auditors.
    /// A replica holds no secret.
    pub witness: NoteVerifier,
    pub dashboard_dir: Option<PathBuf>,
    pub limits: ServingLimits,
    pub tls: Option<TlsIdentity>,
    pub metrics_listen: Option<SocketAddr>,
}

impl std::fmt::Debug for ReplicaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            database_url,
            listen,
            witness,
            dashboard_dir,
            limits,
            tls,
            metrics_listen,
        } = self;
        f.debug_struct("ReplicaSettings")
            .field("database_url", &wire::redacted_url(database_url))
            .field("listen", listen)
            .field("witness", &witness.to_text())
            .field("dashboard_dir", dashboard_dir)
            .field("limits", limits)
            .field("tls", tls)
            .field("metrics_listen", metrics_listen)
            .finish()
    }
}

impl ReplicaSettings {
    /// Settings from a directory holding the association's public witness key
    /// (`witness.vkey`, as `vidkryto association init` writes it).
    pub fn from_dir(dir: &Path, database_url: String, listen: SocketAddr) -> anyhow::Result<Self> {
        let path = dir.join(WITNESS_VKEY_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the witness key {}", path.display()))?;
        let witness = NoteVerifier::parse(text.trim())
            .with_context(|| format!("{} is not a verifier key", path.display()))?;
        Ok(Self {
            database_url,
            listen,
            witness,
            dashboard_dir: None,
            limits: ServingLimits::default(),
            tls: None,
            metrics_listen: None,
        })
    }
}

/// A running association.
#[derive(Debug)]
pub struct RunningAssociation {
    pub grpc_addr: SocketAddr,
    /// Where `GET /metrics` is served (`AssociationSettings::metrics_listen`).
    pub metrics_addr: Option<SocketAddr>,
    /// The writers' pool (`association run`), or the readers' (`association serve`).
    pub store: Store,
    pub read: ReadModel,
    progress: watch::Receiver<IngestProgress>,
    leadership: watch::Receiver<Option<Lease>>,
    stop: watch::Sender<bool>,
    ingest: Option<Ingest>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningAssociation {
    /// The ingest's progress (or, on an instance that does not lead, the leader's word).
    pub fn progress(&self) -> watch::Receiver<IngestProgress> {
        self.progress.clone()
    }

    /// The lease while this instance leads the ingest.
    pub fn leadership(&self) -> watch::Receiver<Option<Lease>> {
        self.leadership.clone()
    }

    /// Stops serving and ingesting; what was committed stays.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(ingest) = self.ingest.take() {
            ingest.shutdown().await;
        }
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// What the listener serves, in either mode.
struct Serving<'a> {
    listen: SocketAddr,
    dashboard_dir: Option<&'a Path>,
    limits: ServingLimits,
    tls: Option<&'a TlsIdentity>,
    metrics_listen: Option<SocketAddr>,
    witness: NoteVerifier,
}

/// The parts the APIs read from.
struct Parts {
    readers: Store,
    /// Checked by the health watch: the writers' pool, or the readers' on a replica.
    health_store: Store,
    read: ReadModel,
    progress: watch::Receiver<IngestProgress>,
    leadership: watch::Receiver<Option<Lease>>,
    metrics: crate::telemetry::Metrics,
    /// The NATS client whose connection health follows; `None` on a replica.
    nats: Option<async_nats::Client>,
    admin: Option<Admin>,
    open_data: crate::open_data::OpenDataServer,
}

/// Starts the association (`association run`): it campaigns for the ingest lease and ingests
/// while it holds it, and serves reads meanwhile whether it leads or stands by.
pub async fn start(settings: AssociationSettings) -> anyhow::Result<RunningAssociation> {
    let store = Store::connect(&settings.database_url)
        .await
        .context("failed to open the association's database")?;
    // The read side (API queries, the snapshot, the digest) has a pool of its own, so readers
    // never take the ingest's connections.
    let readers = Store::connect_readers(&settings.database_url)
        .await
        .context("failed to open the association's database for readers")?;
    let witness = Arc::new(settings.witness.clone());
    let signer = crate::decisions::Signer::new(witness.clone(), settings.log_head.clone());
    crate::decisions::ensure_started(&store, &signer)
        .await
        .context("failed to start the association's log")?;
    settings
        .topology
        .validate()
        .context("invalid NATS topology settings")?;
    let mut config = IngestConfig::new(settings.nats_url.clone());
    config.topology = settings.topology.clone();
    config.batch_events_max = settings.ingest_batch_events_max.clamp(1, 50_000);
    config.commit_interval = settings.ingest_commit_interval;
    config.catalogue = settings.catalogue;
    let metrics = crate::telemetry::Metrics::default();
    config.metrics = metrics.clone();
    let read = ReadModel::new(Arc::new(Reference::load()));
    // One NATS client for the association's own publications and its health check (the
    // ingest keeps one of its own, which it reconnects on failure).
    let nats = crate::ingest::connect(&settings.nats_url)
        .await
        .context("failed to reach NATS")?;
    let ingest = ingest::spawn(store.clone(), signer.clone(), config);
    // An upgrade's new projection is rebuilt by the leader before it ingests; this instance
    // serves once it is (with one instance, it is the leader and rebuilds it now).
    crate::rebuild::wait_current(&store)
        .await
        .context("failed to read the projection's version")?;
    read.reload(&readers)
        .await
        .context("failed to load the national projections")?;
    let (stop, stop_rx) = watch::channel(false);
    let open_data = crate::open_data::OpenDataServer::default();
    let leadership = ingest.leadership.clone();
    let mut tasks = vec![
        tokio::spawn(crate::publish::run(
            nats.clone(),
            readers.clone(),
            settings.topology.ingest_replicas,
            crate::publish::PUBLISH_INTERVAL,
            leadership.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(crate::statements::run(
            crate::statements::Stating {
                writer: store.clone(),
                readers: readers.clone(),
                read: read.clone(),
                signer: signer.clone(),
                open_data: open_data.clone(),
                interval: settings.statement_interval,
            },
            leadership.clone(),
            stop_rx.clone(),
        )),
    ];
    let enrolment = Enrolment::new(store.clone(), signer.clone(), Some(ingest.control.clone()));
    let parts = Parts {
        readers,
        health_store: store.clone(),
        read: read.clone(),
        progress: ingest.progress.clone(),
        leadership: leadership.clone(),
        metrics,
        nats: Some(nats),
        admin: Some(Admin::new(
            store.clone(),
            signer,
            enrolment,
            settings.admin_token.clone(),
        )),
        open_data,
    };
    let serving = Serving {
        listen: settings.listen,
        dashboard_dir: settings.dashboard_dir.as_deref(),
        limits: settings.limits,
        tls: settings.tls.as_ref(),
        metrics_listen: settings.metrics_listen,
        witness: witness.verifier(),
    };
    let (grpc_addr, metrics_addr) = serve(serving, parts, &stop_rx, &mut tasks).await?;
    tracing::info!(%grpc_addr, tls = settings.tls.is_some(), "association serving");
    Ok(RunningAssociation {
        grpc_addr,
        metrics_addr,
        store,
        read,
        progress: ingest.progress.clone(),
        leadership,
        stop,
        ingest: Some(ingest),
        tasks,
    })
}

/// Starts an instance that serves reads only (`association serve`): no ingest, no lease, no
/// statements, no admin calls; the snapshot follows the database's commits, so the live update
/// stream works from it too. It needs no NATS and runs no migration (the database may be a
/// read-only replica; `association run` migrates the primary).
pub async fn serve_reads(settings: ReplicaSettings) -> anyhow::Result<RunningAssociation> {
    let readers = Store::connect_readers(&settings.database_url)
        .await
        .context("failed to open the association's database for readers")?;
    let read = ReadModel::new(Arc::new(Reference::load()));
    read.reload(&readers)
        .await
        .context("failed to load the national projections (has `association run` migrated it?)")?;
    let (stop, stop_rx) = watch::channel(false);
    let (progress_tx, progress) = watch::channel(IngestProgress::default());
    let (_, leadership) = watch::channel(None);
    let mut tasks = Vec::new();
    {
        let (readers, mut stop_rx) = (readers.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(crate::lease::CAMPAIGN_INTERVAL);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stop_rx.wait_for(|s| *s) => return,
                }
                crate::ingest::report_leader(&readers, &progress_tx).await;
            }
        }));
    }
    let open_data = crate::open_data::OpenDataServer::default();
    tasks.push(tokio::spawn(crate::statements::follow(
        readers.clone(),
        read.clone(),
        open_data.clone(),
        settings.witness.clone(),
        stop_rx.clone(),
    )));
    let parts = Parts {
        readers: readers.clone(),
        health_store: readers.clone(),
        read: read.clone(),
        progress: progress.clone(),
        leadership: leadership.clone(),
        metrics: crate::telemetry::Metrics::default(),
        nats: None,
        admin: None,
        open_data,
    };
    let serving = Serving {
        listen: settings.listen,
        dashboard_dir: settings.dashboard_dir.as_deref(),
        limits: settings.limits,
        tls: settings.tls.as_ref(),
        metrics_listen: settings.metrics_listen,
        witness: settings.witness.clone(),
    };
    let (grpc_addr, metrics_addr) = serve(serving, parts, &stop_rx, &mut tasks).await?;
    tracing::info!(%grpc_addr, tls = settings.tls.is_some(), "association serving reads only");
    Ok(RunningAssociation {
        grpc_addr,
        metrics_addr,
        store: readers,
        read,
        progress,
        leadership,
        stop,
        ingest: None,
        tasks,
    })
}

/// Binds the listener (and the metrics listener) and serves the APIs, open data and the
/// dashboard on it until `stop_rx` turns true; the tasks go to `tasks`.
async fn serve(
    serving: Serving<'_>,
    parts: Parts,
    stop_rx: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<(SocketAddr, Option<SocketAddr>)> {
    let Parts {
        readers,
        health_store,
        read,
        progress,
        leadership,
        metrics,
        nats,
        admin,
        open_data,
    } = parts;
    let dashboard = wire::site::Site::from_setting(serving.dashboard_dir, DASHBOARD_CSP)
        .map_err(anyhow::Error::msg)
        .context("failed to serve the dashboard")?;
    {
        let (read, readers, progress) = (read.clone(), readers.clone(), progress.clone());
        let shutdown = stopped(stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                () = read.follow(readers, progress) => {}
                () = shutdown => {}
            }
        }));
    }
    let listener = tokio::net::TcpListener::bind(serving.listen)
        .await
        .with_context(|| format!("failed to listen on {}", serving.listen))?;
    let grpc_addr = listener.local_addr()?;
    if serving.tls.is_none() && !grpc_addr.ip().is_loopback() {
        tracing::warn!(
            %grpc_addr,
            "serving plain text on a non-loopback address: give the listener a certificate \
             (`--tls-cert`, `--tls-key`) so traffic leaving the machine is encrypted; admin \
             calls are refused from any peer but loopback until then"
        );
    }
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<NationalServiceServer<NationalApi>>()
        .await;
    health
        .set_serving::<FederationServiceServer<FederationApi>>()
        .await;
    health.set_serving::<AuditServiceServer<AuditApi>>().await;
    tasks.push(tokio::spawn(crate::telemetry::watch_health(
        crate::telemetry::Health {
            reporter: health.clone(),
            services: vec![
                String::new(),
                <NationalServiceServer<NationalApi> as tonic::server::NamedService>::NAME.into(),
                <FederationServiceServer<FederationApi> as tonic::server::NamedService>::NAME
                    .into(),
                <AuditServiceServer<AuditApi> as tonic::server::NamedService>::NAME.into(),
            ],
        },
        health_store,
        nats,
        metrics.clone(),
        stop_rx.clone(),
    )));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("failed to build gRPC reflection")?;
    let limits = serving.limits;
    let digests = Digests::new(readers.clone());
    let requests = RequestLimitLayer::new(limits.requests_in_flight_max);
    let metrics_addr = match serving.metrics_listen {
        Some(addr) => {
            let (read, progress, requests, metrics) = (
                read.clone(),
                progress.clone(),
                requests.clone(),
                metrics.clone(),
            );
            let render: Arc<dyn Fn() -> String + Send + Sync> = Arc::new(move || {
                metrics.render(
                    &read,
                    &progress.borrow(),
                    leadership.borrow().as_ref(),
                    requests.in_flight(),
                )
            });
            let (bound, task) = crate::telemetry::serve_metrics(addr, render, stop_rx.clone())
                .await
                .with_context(|| format!("failed to listen for metrics on {addr}"))?;
            tasks.push(task);
            Some(bound)
        }
        None => None,
    };
    let router = tonic::transport::Server::builder()
        .accept_http1(true)
        .timeout(REQUEST_TIMEOUT)
        .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
        .max_concurrent_streams(Some(HTTP2_STREAMS_MAX))
        .max_connection_age(CONNECTION_AGE_MAX)
        .max_connection_age_grace(CONNECTION_AGE_GRACE)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        // Outermost: browsers' unary gRPC-Web replies go out gzipped, streams as they are.
        .layer(wire::compress::StreamsUncompressedLayer::new(STREAMS))
        .layer(wire::compress::grpc_web_gzip())
        // The public audit API answers browsers of other origins (a hromada's portal
        // checking a resident's receipt); nothing else does.
        .layer(crate::cors::PublicReadsLayer::new(&[<AuditServiceServer<
            AuditApi,
        > as tonic::server::NamedService>::NAME]))
        // The API's descriptor, from which the dashboard builds its codecs.
        .layer(wire::intercept::InterceptLayer::new(Some(
            wire::documents::Documents::with_descriptor(proto::FILE_DESCRIPTOR_SET, Vec::new()),
        )))
        // Open data: every projection and the catalogue as files, under /open-data/.
        .layer(wire::intercept::InterceptLayer::new(Some(open_data)))
        // Other `GET`s are the dashboard's; everything else is gRPC or gRPC-Web.
        .layer(wire::intercept::InterceptLayer::new(Some(dashboard)))
        .layer(tonic_web::GrpcWebLayer::new())
        // Inside gRPC-Web, so a browser's refusal is framed as gRPC-Web too.
        .layer(requests)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            NationalServiceServer::new(NationalApi::new(
                read.clone(),
                readers.clone(),
                limits.streams.watches(),
            ))
            .max_decoding_message_size(REQUEST_SIZE_MAX),
        )
        .add_service(
            FederationServiceServer::new(FederationApi::new(
                read.clone(),
                progress.clone(),
                readers.clone(),
                admin,
            ))
            .max_decoding_message_size(REQUEST_SIZE_MAX),
        )
        .add_service(
            AuditServiceServer::new(AuditApi::new(
                readers.clone(),
                &serving.witness,
                digests,
                limits.streams.read_logs(),
            ))
            .max_decoding_message_size(REQUEST_SIZE_MAX),
        );
    let admitted = limit_connections(
        tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        limits.connections_max,
    );
    let shutdown = stopped(stop_rx.clone());
    // TLS connections carry `TlsConnectInfo` (the admin methods look for it), plain ones
    // `TcpConnectInfo`.
    let server: Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>> =
        match serving.tls {
            Some(identity) => Box::pin(router.serve_with_incoming_shutdown(
                accept_tls(admitted, identity, limits.connections_max),
                shutdown,
            )),
            None => Box::pin(router.serve_with_incoming_shutdown(admitted, shutdown)),
        };
    tasks.push(tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "gRPC server failed");
        }
    }));
    Ok((grpc_addr, metrics_addr))
}
