//! Starting and stopping a node: opens its log, then runs the gRPC server (commands, log
//! access, health, reflection), the checkpoint timer, the relay to JetStream, the scheduler of
//! clock-driven rules and the metrics endpoint, and stops them all in order on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use domain::NodeSecret;
use event_store::{Backend, Log};
use proto::node::v1::auth_service_server::AuthServiceServer;
use proto::node::v1::log_service_server::LogServiceServer;
use proto::node::v1::node_service_server::NodeServiceServer;
use relay::{RelayConfig, RelayHandle, RelayStatus};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::NodeApi;
use crate::auth::Authenticator;
use crate::auth::accounts::{AccountRegistry, Sessions};
use crate::auth::clients::ClientRegistry;
use crate::auth::oidc::OidcVerifier;
use crate::auth::web::{WebSignIn, WebSignInRoutes};
use crate::auth_api::AuthApi;
use crate::config::NodeSettings;
use crate::core::NodeCore;
use crate::executor::{Clock, system_clock};
use crate::log_api::LogApi;
use crate::metrics::Metrics;
use crate::scheduler::Scheduler;
use crate::store::{AnyBackend, open_backend};
use crate::texts::TextStore;

/// Most in-flight requests per connection, and HTTP/2 streams per connection.
const CONCURRENCY_PER_CONNECTION: usize = 256;
const HTTP2_STREAMS_MAX: u32 = 1_024;
/// Longest a unary handler may run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest `LogService` request (they are a few integers).
const LOG_REQUEST_SIZE_MAX: usize = 4 * 1024;
/// Longest wait for tasks to finish after shutdown is asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);
/// How often gauges are refreshed.
const GAUGE_PERIOD: Duration = Duration::from_secs(1);

/// A node that is serving.
#[derive(Debug)]
pub struct RunningNode {
    grpc_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    relay: Option<RelayHandle>,
    relay_status: Option<watch::Receiver<RelayStatus>>,
    log_size: watch::Receiver<u64>,
}

/// The portal's pages: everything from this origin, no inline scripts or styles, no `eval`;
/// forms post only here (signing out); calls go here and to the association's public API
/// (receipts), when one is configured.
fn portal_csp(association: Option<&str>) -> String {
    let association = association.map(|a| format!(" {a}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{association}; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// Starts a node with the system clock.
pub async fn start(settings: NodeSettings) -> anyhow::Result<RunningNode> {
    start_with_clock(settings, system_clock()).await
}

/// Starts a node reading time from `clock` (tests move time forward to reach deadlines).
pub async fn start_with_clock(settings: NodeSettings, clock: Clock) -> anyhow::Result<RunningNode> {
    match open_backend(&settings.storage, true).await? {
        AnyBackend::Sqlite(backend) => start_on(settings, backend, clock).await,
        AnyBackend::Postgres(backend) => start_on(settings, backend, clock).await,
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// How often the clients file is looked at for changes.
const CLIENTS_RELOAD_PERIOD: Duration = Duration::from_secs(2);

/// Reads the machine clients and staff accounts again whenever their files change, until
/// shutdown.
async fn watch_access(
    clients: Arc<ClientRegistry>,
    accounts: Arc<AccountRegistry>,
    stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CLIENTS_RELOAD_PERIOD);
    let shutdown = stopped(stop);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {
                let (clients, accounts) = (clients.clone(), accounts.clone());
                let reloaded = tokio::task::spawn_blocking(move || {
                    [("clients", clients.reload_if_changed()), ("accounts", accounts.reload_if_changed())]
                })
                .await;
                for (file, result) in reloaded.into_iter().flatten() {
                    match result {
                        Ok(true) => tracing::info!(file, "access file read again"),
                        Ok(false) => {}
                        Err(e) => tracing::error!(file, error = %format!("{e:#}"), "an access file does not read; nothing in it is honoured until it reads again"),
                    }
                }
            }
        }
    }
}

async fn start_on<B: Backend>(
    settings: NodeSettings,
    backend: B,
    clock: Clock,
) -> anyhow::Result<RunningNode> {
    let log = Arc::new(
        Log::open(
            backend,
            settings.municipality,
            settings.signer.clone(),
            settings.checkpoints,
        )
        .await
        .context("failed to open the node's log")?,
    );
    let core = Arc::new(
        NodeCore::open(
            log.clone(),
            TextStore::open(&settings.dir)
                .await
                .context("failed to open the node's text store")?,
            NodeSecret::from_bytes(settings.secret),
            settings.statute,
            settings.non_working_dates.clone(),
            clock.clone(),
        )
        .await
        .context("failed to load the node's state")?,
    );
    let metrics = Arc::new(Metrics::default());
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let clients = Arc::new(ClientRegistry::open(&settings.dir)?);
    let accounts = Arc::new(AccountRegistry::open(&settings.dir)?);
    let oidc = settings
        .oidc
        .clone()
        .map(|o| OidcVerifier::new(o, clock.clone()))
        .transpose()?;
    let auth = Arc::new(
        Authenticator::new(
            oidc,
            clients.clone(),
            accounts.clone(),
            Sessions::new(&settings.secret),
            settings.tls.is_some(),
            clock.clone(),
        )
        .with_secure_cookies(
            settings
                .oidc
                .as_ref()
                .and_then(|o| o.web.as_ref())
                .is_some_and(|w| w.redirect_url.starts_with("https://")),
        ),
    );
    tasks.push(tokio::spawn(watch_access(
        clients,
        accounts,
        stop_rx.clone(),
    )));
    if auth.oidc().is_some() {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            if let Some(oidc) = auth.oidc()
                && let Err(e) = oidc.refresh().await
            {
                tracing::warn!(error = %e, "the identity provider's keys are not fetched yet; ID tokens wait for them");
            }
        }));
    }

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("failed to listen on {}", settings.listen))?;
    let grpc_addr = listener.local_addr()?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<NodeServiceServer<NodeApi<B>>>().await;
    health.set_serving::<LogServiceServer<LogApi<B>>>().await;
    health.set_serving::<AuthServiceServer<AuthApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("failed to build gRPC reflection")?;
    let request_size = usize::try_from(settings.request_size_max_bytes).unwrap_or(usize::MAX);
    let mut builder = tonic::transport::Server::builder();
    match &settings.tls {
        Some(tls) => {
            let config = crate::tls::server_config(&settings.dir, tls, grpc_addr)?;
            builder = builder
                .tls_config(config)
                .context("failed to set up the listener's TLS")?;
        }
        None if !grpc_addr.ip().is_loopback() => tracing::warn!(
            listen = %grpc_addr,
            "the gRPC listener has no TLS: commands from other machines are refused (credentials only over TLS)"
        ),
        None => {}
    }
    let web_sign_in = settings
        .oidc
        .as_ref()
        .and_then(|o| o.web.clone())
        .map(|web| WebSignInRoutes(Arc::new(WebSignIn::new(web, auth.clone()))));
    let association = settings.association_url.as_deref();
    let portal =
        wire::site::Site::from_setting(settings.portal_dir.as_deref(), &portal_csp(association))
            .map_err(anyhow::Error::msg)
            .context("failed to serve the portal")?;
    let server = builder
        // Browsers speak HTTP/1.1 to the pages, the sign-in and gRPC-Web.
        .accept_http1(true)
        // Browsers' unary gRPC-Web replies (pages of petitions) go out gzipped.
        .layer(wire::compress::StreamsUncompressedLayer::new(&[
            "/vidkryto.node.v1.LogService/ReadLog",
            "/grpc.health.v1.Health/Watch",
        ]))
        .layer(wire::compress::grpc_web_gzip())
        .layer(wire::intercept::InterceptLayer::new(web_sign_in))
        .layer(wire::intercept::InterceptLayer::new(Some(
            crate::pages::documents(&settings.municipality.to_string(), association),
        )))
        .layer(wire::intercept::InterceptLayer::new(Some(portal)))
        .layer(tonic_web::GrpcWebLayer::new())
        .timeout(REQUEST_TIMEOUT)
        .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
        .max_concurrent_streams(Some(HTTP2_STREAMS_MAX))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            NodeServiceServer::new(NodeApi::new(core.clone(), metrics.clone(), auth.clone()))
                .max_decoding_message_size(request_size),
        )
        .add_service(
            AuthServiceServer::new(AuthApi::new(auth))
                .max_decoding_message_size(LOG_REQUEST_SIZE_MAX),
        )
        .add_service(
            LogServiceServer::new(LogApi::new(log.clone()))
                .max_decoding_message_size(LOG_REQUEST_SIZE_MAX),
        )
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopped(stop_rx.clone()),
        );
    tasks.push(tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "gRPC server failed");
        }
    }));

    {
        let log = log.clone();
        let shutdown = stopped(stop_rx.clone());
        tasks.push(tokio::spawn(
            async move { log.run_checkpointer(shutdown).await },
        ));
    }

    let (relay, relay_status) = match &settings.nats_url {
        Some(url) => {
            let handle = relay::spawn(log.clone(), RelayConfig::new(url.clone()))
                .context("failed to start the relay")?;
            let status = handle.status();
            (Some(handle), Some(status))
        }
        None => {
            tracing::warn!("no nats_url: the node runs offline and relays nothing");
            (None, None)
        }
    };

    tasks.push(tokio::spawn(
        Scheduler::default().run(core.clone(), stopped(stop_rx.clone())),
    ));

    let metrics_addr = match settings.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("failed to listen on {addr} for metrics"))?;
            let bound = listener.local_addr()?;
            let (m, shutdown) = (metrics.clone(), stopped(stop_rx.clone()));
            tasks.push(tokio::spawn(async move {
                if let Err(e) = crate::metrics::serve(m, listener, shutdown).await {
                    tracing::error!(error = %e, "metrics server failed");
                }
            }));
            Some(bound)
        }
        None => None,
    };
    {
        let (metrics, log, relay_status, shutdown) = (
            metrics.clone(),
            log.clone(),
            relay_status.clone(),
            stopped(stop_rx.clone()),
        );
        tasks.push(tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut ticker = tokio::time::interval(GAUGE_PERIOD);
            loop {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = ticker.tick() => {
                        metrics.log_size.set(log.size());
                        if let Some(status) = &relay_status {
                            let s = status.borrow().clone();
                            metrics.relay_acked_seq.set(s.acked_seq);
                            metrics.relay_connected.set(u64::from(s.connected));
                        }
                    }
                }
            }
        }));
    }

    tracing::info!(municipality = %settings.municipality, %grpc_addr, "node serving");
    Ok(RunningNode {
        grpc_addr,
        metrics_addr,
        stop,
        tasks,
        relay,
        relay_status,
        log_size: log.subscribe(),
    })
}

impl RunningNode {
    /// The gRPC address it listens on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The metrics address, if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The relay's status, if the node relays.
    pub fn relay_status(&self) -> Option<watch::Receiver<RelayStatus>> {
        self.relay_status.clone()
    }

    /// The log's size after every commit.
    pub fn log_size(&self) -> watch::Receiver<u64> {
        self.log_size.clone()
    }

    /// Stops serving: no new requests, in-flight ones finish, the relay saves its position.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(relay) = self.relay
            && let Err(e) = relay.shutdown().await
        {
            tracing::warn!(error = %e, "relay stopped with an error");
        }
        for task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!("a node task did not stop in time");
            }
        }
    }
}
