//! The phases and measures both association benches share: live append-to-projection latency
//! from simulated nodes, readers of the national API, and what a process costs (CPU, memory).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use association::store::Store;
use event_store_core::{MunicipalityCode, Timestamp};
use proto::national::v1 as natpb;
use proto::national::v1::national_service_client::NationalServiceClient;

use crate::sim::{Publisher, SimNode};

/// Resident memory of process `pid` (`self` for this one), MiB.
pub fn rss_mib_of(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Resident memory of this process, MiB.
pub fn rss_mib() -> f64 {
    rss_mib_of("self")
}

/// CPU time (user and system) process `pid` has used, in seconds (Linux's 100 ticks a second).
pub fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The CPU a process used over a span of wall time, in cores.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: &'static str,
    cpu: f64,
    at: Instant,
}

impl CpuMeter {
    pub fn start(pid: &'static str) -> Self {
        Self {
            pid,
            cpu: cpu_seconds(pid),
            at: Instant::now(),
        }
    }

    /// Cores used since `start`.
    pub fn cores(&self) -> f64 {
        (cpu_seconds(self.pid) - self.cpu) / self.at.elapsed().as_secs_f64().max(1e-9)
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Latencies: p50, p99 and max in ms, and how many.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub count: usize,
}

impl Latency {
    pub fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        Self {
            p50: percentile(&samples, 50.0),
            p99: percentile(&samples, 99.0),
            max: samples.last().copied().unwrap_or(f64::NAN),
            count: samples.len(),
        }
    }
}

/// How late this process's runtime wakes a task that sleeps 10 ms at a time: a reader's tail
/// latency is at least the longest wait behind other work on the runtime's threads.
#[derive(Debug)]
pub struct StallProbe {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<f64>>,
}

impl StallProbe {
    pub fn start() -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut late = Vec::new();
            let tick = Duration::from_millis(10);
            while !*stopped.borrow_and_update() {
                let t = Instant::now();
                tokio::time::sleep(tick).await;
                late.push(t.elapsed().saturating_sub(tick).as_secs_f64() * 1_000.0);
            }
            late
        });
        Self { stop, task }
    }

    /// The lateness of the probe's wake-ups, ms.
    pub async fn finish(self) -> Latency {
        let _ = self.stop.send(true);
        Latency::of(self.task.await.unwrap_or_default())
    }
}

/// The live phase: `nodes` append `rate` events a second in turn for `duration`, each
/// checkpointing as the node's checkpointer does (as soon as it grew, never sooner than the
/// node's floor after its last checkpoint); the append-to-projection latency of each event,
/// seen in the database's verified sizes after each of the association's commits.
pub async fn live(
    running: &association::server::RunningAssociation,
    store: &Store,
    js: &async_nats::jetstream::Context,
    nodes: &mut [SimNode],
    rate: u64,
    duration: Duration,
) -> anyhow::Result<Latency> {
    let appended: Arc<std::sync::Mutex<HashMap<(MunicipalityCode, u64), Instant>>> = Arc::default();
    let codes: Vec<String> = nodes.iter().map(|n| n.code.to_string()).collect();
    let mut progress = running.progress();
    let watcher = {
        let (appended, store, codes) = (appended.clone(), store.clone(), codes.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut verified: HashMap<String, u64> = HashMap::new();
            let end = Instant::now() + duration + Duration::from_secs(10);
            while Instant::now() < end {
                if tokio::time::timeout(Duration::from_millis(500), progress.changed())
                    .await
                    .is_err()
                {
                    continue;
                }
                let now = Instant::now();
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT code, verified_size FROM fed_node WHERE code = ANY($1)")
                        .bind(&codes)
                        .fetch_all(store.pool())
                        .await
                        .unwrap_or_default();
                let mut appended = appended.lock().expect("lock");
                for (code, size) in rows {
                    let before = verified
                        .insert(code.clone(), size as u64)
                        .unwrap_or(u64::MAX);
                    let Ok(code) = MunicipalityCode::parse(&code) else {
                        continue;
                    };
                    if before == u64::MAX {
                        continue;
                    }
                    for seq in before + 1..=size as u64 {
                        if let Some(at) = appended.remove(&(code, seq)) {
                            latencies.push(now.duration_since(at).as_secs_f64() * 1_000.0);
                        }
                    }
                }
            }
            latencies
        })
    };
    // Let the watcher take its first reading.
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish_live(js, nodes, rate, duration, |code, seq| {
        appended
            .lock()
            .expect("lock")
            .insert((code, seq), Instant::now());
    })
    .await?;
    Ok(Latency::of(watcher.await?))
}

/// The live phase's load alone, into streams nothing sources (the raw baseline of what
/// JetStream costs).
pub async fn live_unsourced(
    js: &async_nats::jetstream::Context,
    nodes: &mut [SimNode],
    rate: u64,
    duration: Duration,
) -> anyhow::Result<()> {
    publish_live(js, nodes, rate, duration, |_, _| {}).await
}

/// `nodes` append `rate` events a second in turn for `duration` (`appended` told of each just
/// before it is published), each checkpointing as the node's checkpointer does: as soon as
/// it grew, never sooner than the node's floor after its last checkpoint.
async fn publish_live(
    js: &async_nats::jetstream::Context,
    nodes: &mut [SimNode],
    rate: u64,
    duration: Duration,
    mut appended: impl FnMut(MunicipalityCode, u64),
) -> anyhow::Result<()> {
    let count = nodes.len();
    let mut publisher = Publisher::new(js.clone());
    let started = Instant::now();
    let tick = Duration::from_millis(20);
    // Events per tick, carrying the fraction over so low rates are kept exactly.
    let per_tick = rate as f64 * tick.as_secs_f64();
    let mut owed = 0.0;
    let floor = Duration::from_millis(u64::from(event_store::CheckpointPolicy::default().every_ms));
    let mut last_checkpoint: Vec<Option<Instant>> = vec![None; count];
    let mut turn = 0usize;
    let mut ticker = tokio::time::interval(tick);
    while started.elapsed() < duration {
        ticker.tick().await;
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            let node = &mut nodes[turn % count];
            turn += 1;
            let (seq, bytes) = node.next_event(Timestamp::now())?;
            appended(node.code, seq);
            publisher.event(node, seq, bytes).await?;
        }
        let now = Instant::now();
        for (node, last) in nodes.iter_mut().zip(&mut last_checkpoint) {
            if node.size() > node.checkpointed && last.is_none_or(|at| now >= at + floor) {
                publisher.checkpoint(node).await?;
                *last = Some(now);
            }
        }
    }
    for node in nodes.iter_mut() {
        if node.size() > node.checkpointed {
            publisher.checkpoint(node).await?;
        }
    }
    publisher.flush().await
}

/// The page of the municipality list readers ask for: 50, by petitions per 10,000 residents.
pub fn list_request() -> natpb::ListMunicipalitiesRequest {
    natpb::ListMunicipalitiesRequest {
        page_size: 50,
        order_by: "petitions_per_10k desc".into(),
        ..Default::default()
    }
}

/// Readers of the national API: `clients` clients, spread over `urls`, each on a connection
/// of its own, alternating the national summary and a page of the municipality list for
/// `duration`, each waiting `pause` after each answer (none: as fast as answered). Returns
/// the latency of each kind of call answered, and how many calls failed (a client whose call
/// failed connects again and goes on: under saturation a server may refuse or reset).
pub async fn readers(
    urls: &[String],
    clients: usize,
    duration: Duration,
    pause: Option<Duration>,
) -> anyhow::Result<(Latency, Latency, usize)> {
    let mut tasks = Vec::new();
    for i in 0..clients {
        let url = urls[i % urls.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut client = NationalServiceClient::connect(url.clone()).await?;
            let (mut summary, mut list, mut failed) = (Vec::new(), Vec::new(), 0);
            let end = Instant::now() + duration;
            // Paced clients start spread over one pause, as visitors arrive.
            if let Some(pause) = pause {
                tokio::time::sleep(pause.mul_f64(i as f64 / clients as f64)).await;
            }
            let mut n = i;
            while Instant::now() < end {
                let t = Instant::now();
                let answered = if n % 2 == 0 {
                    client
                        .get_national_summary(natpb::GetNationalSummaryRequest {})
                        .await
                        .map(|_| &mut summary)
                } else {
                    client
                        .list_municipalities(list_request())
                        .await
                        .map(|_| &mut list)
                };
                match answered {
                    Ok(latencies) => latencies.push(t.elapsed().as_secs_f64() * 1_000.0),
                    Err(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        if let Ok(again) = NationalServiceClient::connect(url.clone()).await {
                            client = again;
                        }
                    }
                }
                n += 1;
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                }
            }
            anyhow::Ok((summary, list, failed))
        }));
    }
    let (mut summary, mut list, mut failed) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        let (s, l, f) = task.await??;
        summary.extend(s);
        list.extend(l);
        failed += f;
    }
    Ok((Latency::of(summary), Latency::of(list), failed))
}

/// The association as the benches run it: the test witness key, no admin token, the
/// ingest's production batch and commit interval, on `database_url` and `nats_url`.
pub fn settings(
    database_url: &str,
    nats_url: &str,
    catalogue: bool,
) -> anyhow::Result<association::server::AssociationSettings> {
    Ok(association::server::AssociationSettings {
        database_url: database_url.to_owned(),
        nats_url: nats_url.to_owned(),
        listen: "127.0.0.1:0".parse()?,
        witness: bench_witness()?,
        admin_token: None,
        ingest_batch_events_max: 10_000,
        ingest_commit_interval: Duration::from_millis(100),
        topology: Default::default(),
        dashboard_dir: None,
        limits: Default::default(),
        tls: None,
        log_head: None,
        metrics_listen: None,
        statement_interval: association::statements::STATEMENT_INTERVAL_DEFAULT,
        catalogue,
    })
}

/// The witness key of the benches' association.
pub fn bench_witness() -> anyhow::Result<event_store_core::checkpoint::NoteSigner> {
    Ok(event_store_core::checkpoint::NoteSigner::from_seed(
        association::server::WITNESS_NAME,
        [42; 32],
    )?)
}

/// Starts `count` read replicas (`association serve`) on `database_url`.
pub async fn replicas(
    database_url: &str,
    witness: event_store_core::checkpoint::NoteVerifier,
    count: usize,
) -> anyhow::Result<Vec<association::server::RunningAssociation>> {
    let mut replicas = Vec::new();
    for _ in 0..count {
        let settings = association::server::ReplicaSettings {
            database_url: database_url.to_owned(),
            listen: "127.0.0.1:0".parse()?,
            witness: witness.clone(),
            dashboard_dir: None,
            limits: association::server::ServingLimits::default(),
            tls: None,
            metrics_listen: None,
        };
        replicas.push(association::server::serve_reads(settings).await?);
    }
    Ok(replicas)
}
