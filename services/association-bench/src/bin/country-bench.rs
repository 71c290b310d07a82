//! The whole country at once: every hromada of the reference data (1,470 with Kyiv), each with
//! its own JetStream stream sourced into the association's ingest stream, a short history each,
//! then live publishing at a national rate and at ten times it. Printed, for each rate: the
//! append-to-projection latency (p50, p99), the CPU and memory of this process (the
//! association, and the simulated nodes' publishing) and of nats-server, and JetStream's own
//! cost of the 1,470 sources: nats-server's CPU for the same live load into the same 1,470
//! streams on a second server where nothing sources them (the raw baseline, same run).
//!
//! **The national rate.** Ten years of the federation's history are of the order of 10^8
//! events (`../shared/DESIGN.md`): some 0.3 events a second on average. The bench's national
//! rate, 50 events a second, is a busy hour (150 times the average) spread over all
//! hromadas, each publishing every half minute; ten times it, 500 a second, is the kind of
//! burst a viral petition brings. At those rates each event's node has been quiet for longer
//! than its checkpoint floor, so nearly every event is checkpointed (and cosigned) alone: the
//! worst case for signatures per event.
//!
//! Run: `cargo run --release -p association-bench --bin country-bench [-- --quick]`
//! (`--quick`: 10 s at each rate instead of 30). PostgreSQL from `VIDKRYTO_TEST_PG_URL`,
//! `nats-server` as the tests find it.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use association::store::Store;
use association_bench::phases::{self, CpuMeter, rss_mib, rss_mib_of};
use association_bench::sim::{Publisher, SimNode};
use event_store_core::{MunicipalityCode, Timestamp};
use reference::Reference;
use testkit::{NatsServer, PgDatabase};

/// Events a second over all hromadas: a busy hour of the federation.
const NATIONAL_RATE: u64 = 50;
/// Events of each hromada's history before the live phase.
const HISTORY_PER_NODE: u64 = 20;
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(600);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let duration = Duration::from_secs(if quick { 10 } else { 30 });
    let nats = NatsServer::start().await.context("nats-server")?;
    let raw = NatsServer::start().await.context("nats-server")?;
    let db = PgDatabase::create().await.context("PostgreSQL")?;
    let result = run(&nats, &raw, &db, duration).await;
    let _ = db.drop_db().await;
    result
}

/// The pid of a nats-server, as `/proc` names it.
fn pid_of(server: &NatsServer) -> anyhow::Result<&'static str> {
    let pid = server.pid().context("nats-server has no pid")?;
    Ok(Box::leak(pid.to_string().into_boxed_str()))
}

async fn run(
    nats: &NatsServer,
    raw: &NatsServer,
    db: &PgDatabase,
    duration: Duration,
) -> anyhow::Result<()> {
    let reference = Reference::load();
    let codes: Vec<MunicipalityCode> = reference.municipalities.keys().copied().collect();
    let mut nodes = SimNode::all(&codes)?;
    println!(
        "country bench: {} hromadas, each with its own stream sourced by the association",
        nodes.len()
    );
    let nats_pid = pid_of(nats)?;
    let raw_pid = pid_of(raw)?;

    // Enrol every hromada and source every stream.
    let store = Store::connect(&db.url).await?;
    let signer =
        association::decisions::Signer::new(std::sync::Arc::new(phases::bench_witness()?), None);
    let started = Instant::now();
    for node in &nodes {
        association::decisions::enroll(&store, &signer, &node.code, &node.signer.verifier())
            .await?;
    }
    println!(
        "enrolled {} hromadas in {:.1} s",
        nodes.len(),
        started.elapsed().as_secs_f64()
    );
    let client = async_nats::connect(nats.url()).await?;
    let js = async_nats::jetstream::new(client);
    let started = Instant::now();
    association::ingest::ensure_sourced(&js, &codes, Duration::from_secs(86_400)).await?;
    println!(
        "created {} streams and the ingest stream's {} sources in {:.1} s",
        codes.len(),
        codes.len(),
        started.elapsed().as_secs_f64()
    );
    let idle = CpuMeter::start(nats_pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!(
        "nats-server idle with {} sources: {:.3} cores, {:.0} MiB resident",
        codes.len(),
        idle.cores(),
        rss_mib_of(nats_pid)
    );

    // A short history of each hromada, then the association catches up with it.
    let mut publisher = Publisher::new(js.clone());
    let base = Timestamp::now().0 - 30 * 86_400_000_000;
    for node in nodes.iter_mut() {
        for _ in 0..HISTORY_PER_NODE {
            let at = Timestamp(base + node.size() as i64 * 60_000_000);
            let (seq, bytes) = node.next_event(at)?;
            publisher.event(node, seq, bytes).await?;
        }
        publisher.checkpoint(node).await?;
    }
    publisher.flush().await?;
    let total = HISTORY_PER_NODE * nodes.len() as u64;
    let settings = phases::settings(&db.url, &nats.url(), true)?;
    let started = Instant::now();
    let running = association::server::start(settings).await?;
    loop {
        let verified: i64 =
            sqlx::query_scalar("SELECT coalesce(sum(verified_size), 0)::int8 FROM fed_node")
                .fetch_one(store.pool())
                .await?;
        if verified as u64 >= total {
            break;
        }
        ensure!(
            started.elapsed() < CATCH_UP_TIMEOUT,
            "catch-up stalled at {verified} of {total}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "history of {total} events verified in {:.1} s; resident memory {:.0} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib()
    );

    // The raw baseline's streams: the same 1,470, on a server where nothing sources them.
    let raw_js = async_nats::jetstream::new(async_nats::connect(raw.url()).await?);
    for code in &codes {
        raw_js
            .get_or_create_stream(wire::stream_config(code, wire::DUPLICATE_WINDOW_DEFAULT))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }

    // The association's runs first: the raw baseline's publishing moves the simulated nodes'
    // logs on, past what the association has seen.
    let rates = [NATIONAL_RATE, 10 * NATIONAL_RATE];
    let mut runs = Vec::new();
    for rate in rates {
        let ours = CpuMeter::start("self");
        let server = CpuMeter::start(nats_pid);
        let latency = phases::live(&running, &store, &js, &mut nodes, rate, duration).await?;
        runs.push((
            latency,
            ours.cores(),
            rss_mib(),
            server.cores(),
            rss_mib_of(nats_pid),
        ));
    }
    running.shutdown().await;
    for (rate, (latency, ours, our_rss, server, server_rss)) in rates.into_iter().zip(runs) {
        // The same load into unsourced streams: what JetStream costs without the sources.
        let baseline = CpuMeter::start(raw_pid);
        phases::live_unsourced(&raw_js, &mut nodes, rate, duration).await?;
        let baseline = baseline.cores();
        println!();
        println!(
            "live at {rate} events/s from all {} hromadas for {} s:",
            nodes.len(),
            duration.as_secs()
        );
        println!(
            "   append-to-projection latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} events)",
            latency.p50, latency.p99, latency.max, latency.count
        );
        println!(
            "   this process (association and simulated nodes): {ours:.2} cores, {our_rss:.0} MiB resident"
        );
        println!(
            "   nats-server with the sources: {server:.3} cores, {server_rss:.0} MiB resident; \
             the same load into unsourced streams (raw): {baseline:.3} cores; \
             the sources' own cost {:.3} cores ({:.1}x raw)",
            server - baseline,
            server / baseline.max(1e-6)
        );
    }
    Ok(())
}
