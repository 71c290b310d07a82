//! What JetStream's fsync setting costs, measured with the pinned `nats-server` on this
//! machine, for the choice written in `deploy/nats` (see deploy/README.md, "fsync").
//!
//! Publishes N messages of 300 bytes with a `Nats-Msg-Id` (as the relay does), pipelined with
//! a window of 512 and every `PubAck` awaited in order, into a file-stored stream: on one
//! server and on a 3-server cluster with an R3 stream, each with the default `sync_interval`
//! (2 minutes) and with `sync_interval: always`; and one-at-a-time (each `PubAck` awaited
//! before the next publish) for latency. Medians of `--runs` runs, each on fresh servers;
//! ratios against the default-sync single server of the same run.
//!
//! ```sh
//! source deploy/local/setup.sh
//! cargo run --release -p testkit --example jetstream_sync -- [--messages 20000] [--runs 3]
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use testkit::{NatsServer, free_loopback_ports};

const PAYLOAD_LEN: usize = 300;
/// Publishes in flight, as the relay's default.
const WINDOW: usize = 512;
/// One-at-a-time publishes measured (a latency figure, so fewer).
const SEQUENTIAL_MAX: usize = 2_000;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    Default,
    Always,
}

impl Sync {
    fn config(self) -> &'static str {
        match self {
            Self::Default => "",
            Self::Always => "sync_interval: always",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Default => "default (2m)",
            Self::Always => "always",
        }
    }
}

/// Servers for one measurement: one, or three in a cluster.
async fn start(servers: usize, sync: Sync) -> anyhow::Result<Vec<NatsServer>> {
    let ports = free_loopback_ports(3 * servers).await?;
    let (client, rest) = ports.split_at(servers);
    let (monitor, cluster) = rest.split_at(servers);
    let routes: Vec<String> = cluster
        .iter()
        .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
        .collect();
    let mut started = Vec::new();
    for i in 0..servers {
        let cluster_block = if servers > 1 {
            format!(
                "cluster {{ name: bench, listen: \"127.0.0.1:{}\", routes: [{}] }}\n",
                cluster[i],
                routes.join(", ")
            )
        } else {
            String::new()
        };
        let server = NatsServer::start_with_config(client[i], monitor[i], |dir| {
            format!(
                "server_name: bench-{i}\nlisten: \"127.0.0.1:{}\"\nhttp: \"127.0.0.1:{}\"\n\
                 jetstream {{ store_dir: {:?}\n{} }}\n{cluster_block}",
                client[i],
                monitor[i],
                dir.join("store"),
                sync.config()
            )
        })
        .await?;
        started.push(server);
    }
    for server in &started {
        server.wait_healthy(READY_TIMEOUT).await?;
    }
    Ok(started)
}

/// Publishes `messages` pipelined; returns messages per second.
async fn pipelined(js: &jetstream::Context, messages: usize) -> anyhow::Result<f64> {
    let payload = vec![b'x'; PAYLOAD_LEN];
    let started = Instant::now();
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for i in 0..messages {
        if in_flight.len() == WINDOW
            && let Some(ack) = in_flight.pop_front()
        {
            let ack: jetstream::context::PublishAckFuture = ack;
            ack.await.context("publish acknowledgement")?;
        }
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("m-{i}").as_str());
        let ack = js
            .publish_with_headers("bench.sync", headers, payload.clone().into())
            .await
            .context("publish")?;
        in_flight.push_back(ack);
    }
    while let Some(ack) = in_flight.pop_front() {
        ack.await.context("publish acknowledgement")?;
    }
    Ok(messages as f64 / started.elapsed().as_secs_f64())
}

/// Publishes one at a time, each acknowledged before the next; returns messages per second.
async fn sequential(js: &jetstream::Context, messages: usize) -> anyhow::Result<f64> {
    let payload = vec![b'y'; PAYLOAD_LEN];
    let started = Instant::now();
    for i in 0..messages {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("s-{i}").as_str());
        js.publish_with_headers("bench.sync", headers, payload.clone().into())
            .await?
            .await?;
    }
    Ok(messages as f64 / started.elapsed().as_secs_f64())
}

/// One run of one configuration: (pipelined, one-at-a-time) messages per second.
async fn measure(servers: usize, sync: Sync, messages: usize) -> anyhow::Result<(f64, f64)> {
    let started = start(servers, sync).await?;
    let client = async_nats::connect(started[0].url()).await?;
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        storage: stream::StorageType::File,
        num_replicas: servers,
        ..Default::default()
    })
    .await
    .context("create the stream")?;
    let rate = pipelined(&js, messages).await?;
    let one_at_a_time = sequential(&js, messages.min(SEQUENTIAL_MAX)).await?;
    Ok((rate, one_at_a_time))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn arg(name: &str, default: usize) -> anyhow::Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => {
            let value = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?;
            let n: usize = value
                .parse()
                .with_context(|| format!("{name} {value:?} is not a number"))?;
            if n == 0 {
                bail!("{name} must be at least 1");
            }
            Ok(n)
        }
        None => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let messages = arg("--messages", 20_000)?;
    let runs = arg("--runs", 3)?;
    let binary = testkit::nats_server_binary()?;
    let version = testkit::check_nats_server(&binary).await?;
    println!(
        "JetStream publish, {PAYLOAD_LEN}-byte messages with Nats-Msg-Id, file storage, \
         nats-server {version}, {} CPUs; {messages} pipelined (window {WINDOW}) and {} one at a \
         time; medians of {runs} runs",
        std::thread::available_parallelism().map_or(0, usize::from),
        messages.min(SEQUENTIAL_MAX)
    );
    let mut baseline = None;
    for (servers, label) in [(1, "1 server, R1"), (3, "3 servers, R3")] {
        for sync in [Sync::Default, Sync::Always] {
            let mut pipelined_rates = Vec::new();
            let mut sequential_rates = Vec::new();
            for _ in 0..runs {
                let (rate, one) = measure(servers, sync, messages).await?;
                pipelined_rates.push(rate);
                sequential_rates.push(one);
            }
            let rate = median(pipelined_rates);
            let one = median(sequential_rates);
            let base = *baseline.get_or_insert(rate);
            println!(
                "{label:<14} sync {:<13} pipelined {:>9.0} msgs/s ({:>5.3}x)   one at a time \
                 {:>7.0} msgs/s ({:.2} ms each)",
                sync.name(),
                rate,
                rate / base,
                one,
                1_000.0 / one
            );
        }
    }
    Ok(())
}
