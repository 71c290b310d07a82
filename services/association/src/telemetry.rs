//! What operators watch: Prometheus metrics on a listener of their own (`--metrics-listen`,
//! text exposition format 0.0.4, `GET /metrics`), and the gRPC health the server reports,
//! NOT_SERVING while PostgreSQL or NATS is lost and SERVING again after.
//!
//! Counters (`_total`) count what this process did since it started, as Prometheus expects;
//! per-hromada gauges come from the read model's snapshot (what the database says).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use tokio::sync::{Semaphore, watch};

use crate::batch::IngestProgress;
use crate::lease::Lease;
use crate::read::ReadModel;
use crate::store::Store;
use crate::verifier::Reason;

/// Upper bounds of the commit-duration histogram, in seconds.
const COMMIT_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// How often health is checked.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// How long PostgreSQL may take to answer a health check.
const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Scrapers served at once; one more waits.
const SCRAPERS_MAX: usize = 8;
/// How long a scraper may take to send its request.
const SCRAPE_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The association's counters, shared by the ingest, the health check and the scrape.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    commits: AtomicU64,
    /// Per bucket of [`COMMIT_BUCKETS`] (not cumulative), then past the last.
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    commit_micros: AtomicU64,
    events_verified: AtomicU64,
    quarantined: [AtomicU64; Reason::ALL.len()],
    forks: AtomicU64,
    backfills: AtomicU64,
    pending_events: AtomicU64,
    pending_bytes: AtomicU64,
    database_up: AtomicBool,
    nats_up: AtomicBool,
}

impl Metrics {
    /// A commit of `events` verified events, its quarantine records and forks, that took
    /// `elapsed`.
    pub(crate) fn committed(
        &self,
        elapsed: Duration,
        events: u64,
        quarantined: impl IntoIterator<Item = Reason>,
        forks: u64,
    ) {
        let i = &self.inner;
        i.commits.fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(COMMIT_BUCKETS.len());
        i.commit_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        i.commit_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        i.events_verified.fetch_add(events, Ordering::Relaxed);
        for reason in quarantined {
            i.quarantined[reason as usize].fetch_add(1, Ordering::Relaxed);
        }
        i.forks.fetch_add(forks, Ordering::Relaxed);
    }

    /// The events (and their bytes) the ingest holds waiting for checkpoints.
    pub(crate) fn pending(&self, events: u64, bytes: u64) {
        self.inner.pending_events.store(events, Ordering::Relaxed);
        self.inner.pending_bytes.store(bytes, Ordering::Relaxed);
    }

    pub(crate) fn backfill_started(&self) {
        self.inner.backfills.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether PostgreSQL and NATS were reachable at the last health check.
    pub fn up(&self) -> (bool, bool) {
        (
            self.inner.database_up.load(Ordering::Relaxed),
            self.inner.nats_up.load(Ordering::Relaxed),
        )
    }

    /// The exposition text: these counters, `read`'s snapshot of every node, the ingest lease
    /// while this instance holds it, and the requests `in_flight` now.
    pub fn render(
        &self,
        read: &ReadModel,
        progress: &IngestProgress,
        lease: Option<&Lease>,
        in_flight: usize,
    ) -> String {
        let i = &self.inner;
        let mut out = Text::default();
        out.metric(
            "vidkryto_build_info",
            "gauge",
            "The association's version.",
            [(
                format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
                1.0,
            )],
        );
        let (database, nats) = self.up();
        let flag = |b: bool| f64::from(u8::from(b));
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let singles = [
            (
                "vidkryto_database_up",
                "gauge",
                "Whether PostgreSQL answered the last health check.",
                flag(database),
            ),
            (
                "vidkryto_nats_up",
                "gauge",
                "Whether the association was connected to NATS at the last health check.",
                flag(nats),
            ),
            (
                "vidkryto_ingest_current",
                "gauge",
                "Whether the ingest reads its stream as fast as it fills.",
                flag(progress.current()),
            ),
            (
                "vidkryto_ingest_leader",
                "gauge",
                "Whether this instance holds the ingest lease and ingests.",
                flag(lease.is_some()),
            ),
            (
                "vidkryto_ingest_lease_epoch",
                "gauge",
                "The epoch of the ingest lease this instance holds (0 while it does not).",
                lease.map_or(0.0, |l| l.epoch as f64),
            ),
            (
                "vidkryto_ingest_commits_total",
                "counter",
                "Commits of the ingest.",
                load(&i.commits),
            ),
            (
                "vidkryto_ingest_events_verified_total",
                "counter",
                "Verified events committed.",
                load(&i.events_verified),
            ),
            (
                "vidkryto_forks_total",
                "counter",
                "Second roots for a tree size already accepted.",
                load(&i.forks),
            ),
            (
                "vidkryto_backfills_total",
                "counter",
                "Back-fills of a node's gaps from its own stream.",
                load(&i.backfills),
            ),
            (
                "vidkryto_ingest_pending_events",
                "gauge",
                "Events received and waiting for a checkpoint.",
                load(&i.pending_events),
            ),
            (
                "vidkryto_ingest_pending_bytes",
                "gauge",
                "Bytes of the events waiting for a checkpoint.",
                load(&i.pending_bytes),
            ),
            (
                "vidkryto_requests_in_flight",
                "gauge",
                "gRPC and gRPC-Web requests being served.",
                in_flight as f64,
            ),
        ];
        for (name, kind, help, value) in singles {
            out.metric(name, kind, help, [(String::new(), value)]);
        }
        let mut cumulative = 0.0;
        let mut buckets = Vec::new();
        for (le, count) in COMMIT_BUCKETS.iter().zip(&i.commit_buckets) {
            cumulative += load(count);
            buckets.push((format!("_bucket{{le=\"{le}\"}}"), cumulative));
        }
        cumulative += load(&i.commit_buckets[COMMIT_BUCKETS.len()]);
        buckets.push(("_bucket{le=\"+Inf\"}".to_owned(), cumulative));
        buckets.push(("_sum".to_owned(), load(&i.commit_micros) / 1e6));
        buckets.push(("_count".to_owned(), cumulative));
        out.metric(
            "vidkryto_ingest_commit_duration_seconds",
            "histogram",
            "How long one commit of the ingest took.",
            buckets,
        );
        out.metric(
            "vidkryto_quarantined_messages_total",
            "counter",
            "Messages quarantined, by reason.",
            Reason::ALL.iter().map(|r| {
                (
                    format!("{{reason=\"{}\"}}", r.as_str()),
                    load(&i.quarantined[*r as usize]),
                )
            }),
        );
        let snapshot = read.snapshot();
        let per_node = |f: &dyn Fn(&crate::read::NodeInfo) -> f64| {
            snapshot
                .nodes
                .iter()
                .map(|(code, node)| (format!("{{hromada=\"{code}\"}}"), f(node)))
                .collect::<Vec<_>>()
        };
        out.metric(
            "vidkryto_node_verified_size",
            "gauge",
            "Events of the hromada's log verified and projected.",
            per_node(&|n| n.verified_size as f64),
        );
        out.metric(
            "vidkryto_node_received_seq",
            "gauge",
            "The hromada's events received in order.",
            per_node(&|n| n.received_seq as f64),
        );
        out.metric(
            "vidkryto_node_lag_events",
            "gauge",
            "Events received but not yet verified (waiting for a checkpoint).",
            per_node(&|n| n.received_seq.saturating_sub(n.verified_size) as f64),
        );
        out.metric(
            "vidkryto_node_quarantine_records",
            "gauge",
            "Quarantine records kept for the hromada.",
            per_node(&|n| n.quarantined as f64),
        );
        out.metric(
            "vidkryto_node_forks",
            "gauge",
            "Forks recorded for the hromada.",
            per_node(&|n| n.forks as f64),
        );
        out.metric(
            "vidkryto_node_revoked",
            "gauge",
            "Whether the hromada's enrolment is revoked.",
            per_node(&|n| f64::from(u8::from(n.revoked))),
        );
        out.0
    }
}

/// Prometheus text, written one family at a time.
#[derive(Default)]
struct Text(String);

impl Text {
    fn metric(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = (String, f64)>,
    ) {
        self.0
            .push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (suffix, value) in samples {
            self.0.push_str(&format!("{name}{suffix} {value}\n"));
        }
    }
}

/// The health of the services, kept by [`watch_health`].
#[derive(Debug, Clone)]
pub struct Health {
    pub reporter: tonic_health::server::HealthReporter,
    /// The services reported, by name (`""` is the server as a whole).
    pub services: Vec<String>,
}

/// Every [`HEALTH_INTERVAL`]: PostgreSQL answers `SELECT 1` within 2 s, and `nats` (a
/// client of the association's NATS) is connected; the services are reported SERVING only
/// while both hold. Runs until `stop` turns true.
pub async fn watch_health(
    health: Health,
    store: Store,
    nats: Option<async_nats::Client>,
    metrics: Metrics,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(HEALTH_INTERVAL);
    let mut reported: Option<bool> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let database = tokio::time::timeout(
            DATABASE_CHECK_TIMEOUT,
            sqlx::query("SELECT 1").execute(store.pool()),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        // An instance serving reads only has no NATS to lose.
        let nats = nats
            .as_ref()
            .is_none_or(|nats| nats.connection_state() == async_nats::connection::State::Connected);
        metrics.inner.database_up.store(database, Ordering::Relaxed);
        metrics.inner.nats_up.store(nats, Ordering::Relaxed);
        let serving = database && nats;
        if reported == Some(serving) {
            continue;
        }
        let status = if serving {
            tonic_health::ServingStatus::Serving
        } else {
            tracing::warn!(database, nats, "not serving: PostgreSQL or NATS is lost");
            tonic_health::ServingStatus::NotServing
        };
        for service in &health.services {
            health.reporter.set_service_status(service, status).await;
        }
        reported = Some(serving);
    }
}

/// Serves `GET /metrics` on `addr` until `stop` turns true: at most [`SCRAPERS_MAX`]
/// connections at once, each sending its request within 5 s. Returns the address bound.
pub async fn serve_metrics(
    addr: SocketAddr,
    render: Arc<dyn Fn() -> String + Send + Sync>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let places = Arc::new(Semaphore::new(SCRAPERS_MAX));
    let task = tokio::spawn(async move {
        loop {
            let place = tokio::select! {
                place = places.clone().acquire_owned() => place,
                _ = stop.wait_for(|s| *s) => return,
            };
            let Ok(place) = place else { return };
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
                _ = stop.wait_for(|s| *s) => return,
            };
            let render = render.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let render = render.clone();
                    async move { Ok::<_, Infallible>(answer(&request, &render)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(SCRAPE_HEADER_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                drop(place);
            });
        }
    });
    Ok((bound, task))
}

fn answer<B>(
    request: &http::Request<B>,
    render: &Arc<dyn Fn() -> String + Send + Sync>,
) -> http::Response<Full<Bytes>> {
    let reply = |status: http::StatusCode, body: String| {
        let mut response = http::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    };
    if request.uri().path() != "/metrics" {
        return reply(http::StatusCode::NOT_FOUND, "see /metrics\n".into());
    }
    if request.method() != http::Method::GET && request.method() != http::Method::HEAD {
        return reply(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "GET /metrics\n".into(),
        );
    }
    reply(http::StatusCode::OK, render())
}
