//! The association's benchmark, with verification on, in one run:
//! 1. **catch-up**: a backlog of events from N simulated nodes (codes from the reference data)
//!    waits in JetStream; the association ingests it into projections. Its events/s are printed
//!    next to a raw JetStream pull-consume (ordered consumer) of the very same messages, the
//!    median of three measured before, between and after the catch-ups.
//! 2. **live**: simulated nodes append at a steady rate and checkpoint as the node's
//!    checkpointer does (as soon as they grew, at most every 250 ms); append-to-projection
//!    latency p50/p99.
//! 3. **readers**: 100 concurrent gRPC clients ask the national summary and a page of the
//!    municipality list of the ingesting instance, then 1,000 clients of two read replicas
//!    (`association serve`); latency p50/p99.
//! 4. **practice search**: the catalogue of the backlog's petitions (Ukrainian titles and texts
//!    as `vidkryto dev` writes them) searched by 100 concurrent clients; latency p50/p99.
//!
//! The catch-up runs twice from the same backlog into two databases: without the practice
//! catalogue (as the association ingested before it) and with it.
//!
//! and the process's resident memory as the history grows.
//!
//! Run: `cargo run --release -p association-bench -- [--events N] [--nodes N]
//! [--catch-up-only]` (defaults 1,000,000 events from 300 nodes; `--quick` for 50,000 from
//! 50). PostgreSQL from
//! `VIDKRYTO_TEST_PG_URL`, `nats-server` as the tests find it.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use association::server::WITNESS_NAME;
use association::store::Store;
use association_bench::phases::{self, Latency, percentile, rss_mib};
use association_bench::sim::{Publisher, SimNode};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use event_store_core::checkpoint::NoteSigner;
use event_store_core::{MunicipalityCode, Timestamp};
use futures_util::StreamExt as _;
use proto::national::v1 as natpb;
use proto::national::v1::national_service_client::NationalServiceClient;
use reference::Reference;
use testkit::{NatsServer, PgDatabase};

/// Events a node publishes between two checkpoints during the backlog (the node's default).
const CHECKPOINT_EVERY: u64 = 1_000;
const READERS: usize = 100;
/// Clients of the two read replicas.
const REPLICA_READERS: usize = 1_000;
/// How long a paced replica client waits between calls.
const REPLICA_READER_PAUSE: Duration = Duration::from_secs(1);
const READ_DURATION: Duration = Duration::from_secs(10);
const LIVE_DURATION: Duration = Duration::from_secs(20);
/// Live events per second over all live nodes: a moderate national rate.
const LIVE_RATE: u64 = 400;
const LIVE_NODES: usize = 100;
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(1_800);

struct Plan {
    events: u64,
    nodes: usize,
    /// Stop after the catch-up (`--catch-up-only`).
    catch_up_only: bool,
}

impl Plan {
    fn from_args() -> anyhow::Result<Self> {
        let args: Vec<String> = std::env::args().collect();
        let mut plan = Self {
            events: 1_000_000,
            nodes: 300,
            catch_up_only: args.iter().any(|a| a == "--catch-up-only"),
        };
        if args.iter().any(|a| a == "--quick") {
            (plan.events, plan.nodes) = (50_000, 50);
        }
        for pair in args.windows(2) {
            match pair[0].as_str() {
                "--events" => plan.events = pair[1].parse().context("--events")?,
                "--nodes" => plan.nodes = pair[1].parse().context("--nodes")?,
                _ => {}
            }
        }
        ensure!(
            (1..=1_470).contains(&plan.nodes),
            "--nodes must be 1 to 1,470"
        );
        ensure!(
            plan.events >= plan.nodes as u64,
            "--events must be at least --nodes"
        );
        Ok(plan)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let plan = Plan::from_args()?;
    let nats = NatsServer::start().await.context("nats-server")?;
    let db = PgDatabase::create().await.context("PostgreSQL")?;
    let without = PgDatabase::create().await.context("PostgreSQL")?;
    let result = run(&plan, &nats, &db, &without).await;
    let _ = db.drop_db().await;
    let _ = without.drop_db().await;
    result
}

async fn run(
    plan: &Plan,
    nats: &NatsServer,
    db: &PgDatabase,
    without: &PgDatabase,
) -> anyhow::Result<()> {
    let reference = Reference::load();
    let codes: Vec<MunicipalityCode> = reference
        .municipalities
        .keys()
        .copied()
        .take(plan.nodes)
        .collect();
    let mut nodes = SimNode::all(&codes)?;
    println!(
        "association bench: {} events from {} nodes, verification on; RSS at start {:.1} MiB",
        plan.events,
        nodes.len(),
        rss_mib()
    );

    // Enrol every node (in both databases: the catch-up runs once without the catalogue, as
    // the association ingested before it, and once with it) and create their streams and the
    // ingest stream sourcing them.
    let store = Store::connect(&db.url).await?;
    let store_without = Store::connect(&without.url).await?;
    let signer = association::decisions::Signer::new(
        std::sync::Arc::new(NoteSigner::from_seed(WITNESS_NAME, [42; 32])?),
        None,
    );
    for node in &nodes {
        for store in [&store, &store_without] {
            association::decisions::enroll(store, &signer, &node.code, &node.signer.verifier())
                .await?;
        }
    }
    let client = async_nats::ConnectOptions::new()
        .connect(nats.url())
        .await?;
    let js = async_nats::jetstream::new(client.clone());
    association::ingest::ensure_sourced(&js, &codes, Duration::from_secs(86_400)).await?;

    // The backlog: nodes take turns publishing 1,000 events and their checkpoint.
    let started = Instant::now();
    let mut publisher = Publisher::new(js.clone());
    let per_node = plan.events / nodes.len() as u64;
    let mut extra = plan.events % nodes.len() as u64;
    let mut targets: Vec<u64> = nodes
        .iter()
        .map(|_| {
            let bonus = u64::from(extra > 0);
            extra = extra.saturating_sub(1);
            per_node + bonus
        })
        .collect();
    let base = Timestamp::now().0 - 90 * 86_400_000_000;
    let mut messages = 0u64;
    loop {
        let mut progressed = false;
        for (node, target) in nodes.iter_mut().zip(targets.iter_mut()) {
            let batch = (*target).min(CHECKPOINT_EVERY);
            if batch == 0 {
                continue;
            }
            progressed = true;
            for _ in 0..batch {
                let at = Timestamp(base + node.size() as i64 * 60_000_000);
                let (seq, bytes) = node.next_event(at)?;
                publisher.event(node, seq, bytes).await?;
            }
            *target -= batch;
            publisher.checkpoint(node).await?;
            messages += batch + 1;
        }
        if !progressed {
            break;
        }
    }
    publisher.flush().await?;
    println!(
        "backlog published: {messages} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Wait until the ingest stream has sourced all of it.
    let mut ingest = js.get_stream(association::ingest::INGEST_STREAM).await?;
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    loop {
        let held = ingest.info().await?.state.messages;
        if held >= messages {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "sourcing stalled at {held} of {messages}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Catch-up through the association, verification on: first without the catalogue (the
    // association as it ingested before the catalogue), then with it, each from the same
    // backlog into its own database. The baseline, a raw ordered pull-consume of the same
    // messages, is measured before, between and after them: its median is the one compared
    // with (on this machine one raw consume alone varies by half). Not quite alike: the one
    // after runs beside the idle association that caught up with the catalogue (it serves
    // the phases that follow) and PostgreSQL's autovacuum of what it wrote.
    let mut raw = vec![raw_consume(&ingest, messages, plan.events).await?];
    let (plain, running) = catch_up(plan, nats, &store_without, &without.url, false).await?;
    running.shutdown().await;
    raw.push(raw_consume(&ingest, messages, plan.events).await?);
    let (with, running) = catch_up(plan, nats, &store, &db.url, true).await?;
    raw.push(raw_consume(&ingest, messages, plan.events).await?);
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM catalogue WHERE public")
        .fetch_one(store.pool())
        .await?;
    println!();
    println!(
        "1. catch-up of {} events from {} nodes (medians not applicable: one backlog)",
        plan.events,
        nodes.len()
    );
    let measured = raw
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sorted = raw.clone();
    sorted.sort_by(f64::total_cmp);
    let raw_rate = percentile(&sorted, 50.0);
    println!(
        "   raw JetStream ordered pull-consume : {raw_rate:>10.0} events/s (median of {measured}: before, between, after)"
    );
    for (name, run) in [
        ("association without the catalogue ", &plain),
        ("association with the catalogue    ", &with),
    ] {
        println!(
            "   {name}: {:>10.0} events/s ({:.1} s), {:.1} % of raw",
            run.rate,
            run.secs,
            100.0 * run.rate / raw_rate
        );
    }
    println!(
        "   the catalogue's cost               : {:>10.1} % of the catch-up rate ({entries} public entries)",
        100.0 * (1.0 - with.rate / plain.rate)
    );
    println!(
        "   resident memory (with the catalogue): before {:.1} MiB",
        with.rss_before
    );
    for (quarter, verified, rss) in &with.rss {
        println!("     at {quarter:>3} % ({verified:>9} events verified): {rss:.1} MiB");
    }
    if plan.catch_up_only {
        running.shutdown().await;
        return Ok(());
    }

    // Live: a steady rate from many nodes, checkpoints on demand above the node's floor.
    let count = LIVE_NODES.min(nodes.len());
    let live = phases::live(
        &running,
        &store,
        &js,
        &mut nodes[..count],
        LIVE_RATE,
        LIVE_DURATION,
    )
    .await?;
    println!();
    println!(
        "2. live: {LIVE_RATE} events/s from {LIVE_NODES} nodes for {} s, checkpoints on demand \
         (at most every {} ms per node)",
        LIVE_DURATION.as_secs(),
        event_store::CheckpointPolicy::default().every_ms
    );
    println!(
        "   append-to-projection latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} events)",
        live.p50, live.p99, live.max, live.count
    );

    // Readers: one alone first, for the unloaded cost of a call.
    let url = format!("http://{}", running.grpc_addr);
    let mut alone = NationalServiceClient::connect(url.clone()).await?;
    let (mut one_summary, mut one_list) = (Vec::new(), Vec::new());
    for _ in 0..500 {
        let t = Instant::now();
        alone
            .get_national_summary(natpb::GetNationalSummaryRequest {})
            .await?;
        one_summary.push(t.elapsed().as_secs_f64() * 1_000.0);
        let t = Instant::now();
        alone.list_municipalities(phases::list_request()).await?;
        one_list.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    one_summary.sort_by(f64::total_cmp);
    one_list.sort_by(f64::total_cmp);
    let (summary, list, failed) =
        phases::readers(std::slice::from_ref(&url), READERS, READ_DURATION, None).await?;
    println!();
    println!(
        "3. readers: one client alone: summary p50 {:.2} ms, list p50 {:.2} ms",
        percentile(&one_summary, 50.0),
        percentile(&one_list, 50.0)
    );
    let show = |what: &str, summary: Latency, list: Latency, failed: usize| {
        println!("   {what}:");
        if failed > 0 {
            println!("   {failed} calls failed (the client connected again)");
        }
        println!(
            "   national summary     p50 {:.2} ms, p99 {:.2} ms ({} calls)",
            summary.p50, summary.p99, summary.count
        );
        println!(
            "   municipality list    p50 {:.2} ms, p99 {:.2} ms ({} calls, 50 per page by petitions per 10k)",
            list.p50, list.p99, list.count
        );
    };
    show(
        &format!(
            "{READERS} concurrent clients of the ingesting instance, as fast as answered, for {} s",
            READ_DURATION.as_secs()
        ),
        summary,
        list,
        failed,
    );

    // Dashboards scaled out: two read replicas (`association serve`) on the same database,
    // each client on a connection of its own, beside the ingesting instance; the clients,
    // the replicas and the ingesting instance share this machine's cores.
    let witness = NoteSigner::from_seed(WITNESS_NAME, [42; 32])?.verifier();
    let replicas = phases::replicas(&db.url, witness, 2).await?;
    let urls: Vec<String> = replicas
        .iter()
        .map(|r| format!("http://{}", r.grpc_addr))
        .collect();
    for (pause, what) in [
        (
            Some(REPLICA_READER_PAUSE),
            format!(
                "{REPLICA_READERS} clients of two read replicas, each calling every {} s (a dashboard's refresh), for {} s",
                REPLICA_READER_PAUSE.as_secs(),
                READ_DURATION.as_secs()
            ),
        ),
        (
            None,
            format!(
                "{REPLICA_READERS} clients of two read replicas, as fast as answered (saturation), for {} s",
                READ_DURATION.as_secs()
            ),
        ),
    ] {
        let probe = phases::StallProbe::start();
        let (summary, list, failed) =
            phases::readers(&urls, REPLICA_READERS, READ_DURATION, pause).await?;
        let stalls = probe.finish().await;
        show(&what, summary, list, failed);
        println!(
            "   this process's runtime woke a 10 ms sleeper late by p50 {:.2} ms, p99 {:.2} ms, max {:.0} ms",
            stalls.p50, stalls.p99, stalls.max
        );
    }
    for replica in replicas {
        replica.shutdown().await;
    }

    // The practice catalogue searched in Ukrainian by many readers at once: searches readers
    // repeat (answered from the association's cache of this snapshot's searches after the
    // first), and searches every one of which is new (each a query of PostgreSQL).
    println!();
    println!("4. practice search over {entries} public entries");
    for (what, distinct) in [("repeated searches", false), ("every search new ", true)] {
        let (one, many) = searches(&url, distinct).await?;
        println!(
            "   {what}: one client alone p50 {:.2} ms, p99 {:.2} ms; {READERS} concurrent clients for {} s: p50 {:.2} ms, p99 {:.2} ms ({} calls, {} with results)",
            one.0,
            one.1,
            READ_DURATION.as_secs(),
            many.0,
            many.1,
            many.2,
            many.3
        );
    }
    println!();
    println!("resident memory at the end: {:.1} MiB", rss_mib());
    running.shutdown().await;
    Ok(())
}

/// Events/s of one raw ordered pull-consume of the ingest stream's first `messages` messages
/// (`events` of them events).
async fn raw_consume(
    ingest: &async_nats::jetstream::stream::Stream,
    messages: u64,
    events: u64,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let consumer = ingest
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut stream = consumer.messages().await?;
    let mut consumed = 0u64;
    while consumed < messages {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .context("raw consume stalled")?
            .context("raw consume ended")??;
        std::hint::black_box(&message.payload);
        consumed += 1;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// One catch-up's figures.
struct CatchUp {
    rate: f64,
    secs: f64,
    rss_before: f64,
    /// (percent done, events verified, resident MiB) at each quarter.
    rss: Vec<(u64, u64, f64)>,
}

/// Starts an association on `db_url` and waits until it has verified the whole backlog.
async fn catch_up(
    plan: &Plan,
    nats: &NatsServer,
    store: &Store,
    db_url: &str,
    catalogue: bool,
) -> anyhow::Result<(CatchUp, association::server::RunningAssociation)> {
    let rss_before = rss_mib();
    let settings = phases::settings(db_url, &nats.url(), catalogue)?;
    let catch_started = Instant::now();
    let running = association::server::start(settings).await?;
    let mut rss = Vec::new();
    let mut next_quarter = 1u64;
    loop {
        let verified: i64 =
            sqlx::query_scalar("SELECT coalesce(sum(verified_size), 0)::int8 FROM fed_node")
                .fetch_one(store.pool())
                .await?;
        let verified = verified as u64;
        while next_quarter <= 4 && verified * 4 >= plan.events * next_quarter {
            rss.push((next_quarter * 25, verified, rss_mib()));
            next_quarter += 1;
        }
        if verified >= plan.events {
            break;
        }
        ensure!(
            catch_started.elapsed() < CATCH_UP_TIMEOUT,
            "catch-up stalled at {verified} of {} events",
            plan.events
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = catch_started.elapsed().as_secs_f64();
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM quarantine")
        .fetch_one(store.pool())
        .await?;
    ensure!(quarantined == 0, "{quarantined} messages were quarantined");
    Ok((
        CatchUp {
            rate: plan.events as f64 / secs,
            secs,
            rss_before,
            rss,
        },
        running,
    ))
}

/// What readers search the catalogue for: words in other forms than the titles use, pairs,
/// and filters. `distinct`: every call a search never asked before (an end date that changes
/// nothing but the request), so none is answered from the association's cache of searches.
fn search_request(n: usize, distinct: bool) -> natpb::SearchPracticesRequest {
    let mut request = common_search(n);
    if distinct {
        let day = domain::CivilDate::new(2030, 1, 1)
            .map(|d| d.add_days(i64::try_from(n).unwrap_or(0)).to_string())
            .unwrap_or_default();
        request.to = day;
    }
    request
}

fn common_search(n: usize) -> natpb::SearchPracticesRequest {
    const QUERIES: &[&str] = &[
        "школа",
        "дороги",
        "освітлення",
        "ремонтом",
        "парку",
        "зупинки",
        "тротуарів",
        "ліхтарі",
        "вулиця Шевченка",
        "дитячого майданчика",
        "ремонт дороги",
        "сквер",
        "бібліотеки",
        "укриття",
        "велодоріжка",
        "смітники",
    ];
    let query = QUERIES[n % QUERIES.len()].to_owned();
    match n % 4 {
        0 => natpb::SearchPracticesRequest {
            query,
            tool: "petition".into(),
            ..Default::default()
        },
        1 => natpb::SearchPracticesRequest {
            query,
            status: "collecting".into(),
            ..Default::default()
        },
        _ => natpb::SearchPracticesRequest {
            query,
            ..Default::default()
        },
    }
}

/// Search latency (ms): one client alone (p50, p99), then [`READERS`] at once for
/// [`READ_DURATION`] (p50, p99, calls, calls that found something).
async fn searches(
    url: &str,
    distinct: bool,
) -> anyhow::Result<((f64, f64), (f64, f64, usize, usize))> {
    let mut alone = NationalServiceClient::connect(url.to_owned()).await?;
    let mut one = Vec::new();
    for n in 0..300 {
        let t = Instant::now();
        alone
            .search_practices(search_request(1_000_000 + n, distinct))
            .await?;
        one.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    one.sort_by(f64::total_cmp);
    let mut tasks = Vec::new();
    for i in 0..READERS {
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut client = NationalServiceClient::connect(url).await?;
            let (mut times, mut found) = (Vec::new(), 0usize);
            let end = Instant::now() + READ_DURATION;
            // Clients interleave: client i asks i, i + 100, i + 200, …
            let mut n = i;
            while Instant::now() < end {
                let t = Instant::now();
                let answer = client
                    .search_practices(search_request(n, distinct))
                    .await?
                    .into_inner();
                times.push(t.elapsed().as_secs_f64() * 1_000.0);
                found += usize::from(!answer.practices.is_empty());
                n += READERS;
            }
            anyhow::Ok((times, found))
        }));
    }
    let (mut times, mut found) = (Vec::new(), 0);
    for task in tasks {
        let (t, f) = task.await??;
        times.extend(t);
        found += f;
    }
    times.sort_by(f64::total_cmp);
    Ok((
        (percentile(&one, 50.0), percentile(&one, 99.0)),
        (
            percentile(&times, 50.0),
            percentile(&times, 99.0),
            times.len(),
            found,
        ),
    ))
}
