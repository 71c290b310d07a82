//! Benchmark of vidkryto's node, printing in one run: commands/s through the library (next to
//! bare `Log::append`) and through gRPC (next to the library), through gRPC as residents send
//! them (TLS, each command under another resident's ID token) next to plain text with a
//! machine client's API token, single-command latency over gRPC (with and without the door), relay events/s to JetStream next to raw pipelined JetStream publish of the same
//! stored bytes, and the real binary's memory, each next to its goal. Figures are medians of
//! several runs, each on a fresh SQLite log (`synchronous=FULL`, the node's default).
//!
//! Run: `cargo build --release -p node-bench -p vidkryto && target/release/node-bench`
//! (`nats-server` from `VIDKRYTO_NATS_SERVER` or `deploy/local/setup.sh`, and the development
//! OpenID provider from `deploy/oidc`, which setup installs). `--quick` runs
//! fewer commands and events, once each, for a smoke check.

mod commands;
mod jetstream;
mod memory;
mod report;
mod secure;

use std::time::Duration;

use anyhow::Context as _;

use crate::commands::{CALLERS, PETITIONS};
use crate::report::{Goal, failed_line, header, median, ms, ratio_line, value_line};

/// How much each section does.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Runs per figure; the median is reported.
    runs: usize,
    /// Commands of each throughput run.
    commands: usize,
    /// Sequential commands of each latency run.
    latency_commands: usize,
    /// Events prefilled and relayed in each relay run.
    relay_events: usize,
    /// Commands of the load between the two memory readings.
    memory_commands: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                runs: 1,
                commands: 1_000,
                latency_commands: 200,
                relay_events: 10_000,
                memory_commands: 1_000,
            }
        } else {
            Self {
                runs: 3,
                commands: 10_000,
                latency_commands: 2_000,
                relay_events: 100_000,
                memory_commands: 10_000,
            }
        }
    }
}

/// Runs `run` `runs` times, reporting progress on stderr; the results in order.
async fn repeat<T, F, Fut>(what: &str, runs: usize, mut run: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut out = Vec::with_capacity(runs);
    for i in 0..runs {
        eprintln!("running {what} ({}/{runs})", i + 1);
        out.push(run(i).await.with_context(|| format!("{what} failed"))?);
    }
    Ok(out)
}

fn median_of(values: Vec<f64>) -> anyhow::Result<f64> {
    median(values).context("no runs")
}

const MIB: f64 = 1024.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = Plan::new(quick);
    let nats = testkit::nats_server_binary().map(|_| ());
    let relaying = nats.is_ok();
    let mut failures = 0usize;

    header(&format!(
        "vidkryto node benchmark: SQLite synchronous=FULL, a fresh log per run, median of {} run(s)\n\
         commands: sign_petition from {CALLERS} concurrent callers over {PETITIONS} published petitions",
        plan.runs
    ));

    // 1. Library, next to the bare log.
    let n = plan.commands;
    // Interleaved, so drift of the machine does not favour either.
    let library = repeat(
        "bare Log::append, then library commands",
        plan.runs,
        |_| async {
            let append = commands::log_append_run(n).await?;
            let library = commands::library_run(n).await?;
            Ok((append, library))
        },
    )
    .await
    .and_then(|runs| {
        let (append, library): (Vec<f64>, Vec<f64>) = runs.into_iter().unzip();
        Ok((median_of(library)?, median_of(append)?))
    });
    let what = format!("commands/s, library ({n} signs) vs bare Log::append");
    let library = match library {
        Ok((library, append)) => {
            ratio_line(&what, library, append, Goal::None);
            Some(library)
        }
        Err(e) => {
            failures += 1;
            failed_line(&what, &e);
            None
        }
    };

    // 2. gRPC, offline and relaying, next to the library.
    let mut modes = vec![(false, "offline")];
    if relaying {
        modes.push((true, "relaying to NATS"));
    }
    for (relaying, mode) in modes {
        let what = format!("commands/s, gRPC {mode} ({n} signs) vs library");
        let rates = repeat(&format!("gRPC commands, {mode}"), plan.runs, |_| {
            commands::grpc_run(n, relaying)
        })
        .await
        .and_then(median_of);
        match (rates, library) {
            (Ok(rate), Some(library)) => ratio_line(&what, rate, library, Goal::None),
            (Ok(rate), None) => value_line(&what, rate, 0, Goal::None),
            (Err(e), _) => {
                failures += 1;
                failed_line(&what, &e);
            }
        }
    }

    // 2b. The door: TLS and residents' ID tokens, next to plain text and a machine client's
    // API token, interleaved run by run. Every command a new resident (an RS256 check each),
    // and residents signing every petition in one session (checked once, then cached).
    let l = plan.latency_commands;
    let residents = secure::Residents::sign_in(n.max(l)).await;
    match residents {
        Ok(residents) => {
            for (per_resident, who) in [
                (1, "each a new resident"),
                (PETITIONS, "each resident signing all"),
            ] {
                let what = format!(
                    "commands/s, gRPC TLS + ID tokens ({n} signs, {who}) vs plain text + API token"
                );
                let pairs = repeat(
                    &format!("gRPC plain text, then TLS with ID tokens ({who})"),
                    plan.runs,
                    |_| {
                        let residents = &residents;
                        async move {
                            let plain = commands::grpc_run(n, false).await?;
                            let secure =
                                secure::secure_grpc_run(residents, n, per_resident, false).await?;
                            Ok((secure, plain))
                        }
                    },
                )
                .await
                .and_then(|runs| {
                    let (secure, plain): (Vec<f64>, Vec<f64>) = runs.into_iter().unzip();
                    Ok((median_of(secure)?, median_of(plain)?))
                });
                match pairs {
                    Ok((secure, plain)) => {
                        ratio_line(&what, secure, plain, Goal::AtLeast(80.0, ">= 80 %"))
                    }
                    Err(e) => {
                        failures += 1;
                        failed_line(&what, &e);
                    }
                }
            }
            let latency_what =
                format!("latency ms, gRPC TLS + ID token, 1 client offline ({l} signs)");
            match repeat("gRPC latency with TLS and ID tokens", plan.runs, |_| {
                secure::secure_latency_run(&residents, l, false)
            })
            .await
            {
                Ok(runs) => {
                    let stat = |f: fn(&commands::Latency) -> Duration| {
                        median_of(runs.iter().map(|r| ms(f(r))).collect())
                    };
                    value_line(
                        &format!("{latency_what}: p50"),
                        stat(|r| r.p50)?,
                        2,
                        Goal::None,
                    );
                    value_line(
                        &format!("{latency_what}: p99"),
                        stat(|r| r.p99)?,
                        2,
                        Goal::None,
                    );
                }
                Err(e) => {
                    failures += 1;
                    failed_line(&latency_what, &e);
                }
            }
            residents.stop().await;
        }
        Err(e) => {
            failures += 1;
            failed_line("commands/s, gRPC TLS + ID tokens", &e);
        }
    }

    // 3. Latency: one client, sequential, offline and (as deployed) relaying.
    let mut modes = vec![(false, "offline")];
    if relaying {
        modes.push((true, "relaying"));
    }
    for (relaying, mode) in modes {
        let latencies = repeat(&format!("gRPC latency, {mode}"), plan.runs, |_| {
            commands::latency_run(l, relaying)
        })
        .await;
        let what = format!("latency ms, gRPC 1 client {mode} ({l} signs)");
        match latencies {
            Ok(runs) => {
                let stat = |f: fn(&commands::Latency) -> Duration| {
                    median_of(runs.iter().map(|r| ms(f(r))).collect())
                };
                value_line(&format!("{what}: p50"), stat(|r| r.p50)?, 2, Goal::None);
                value_line(
                    &format!("{what}: p99"),
                    stat(|r| r.p99)?,
                    2,
                    Goal::AtMost(5.0, "p99 <= 5 ms"),
                );
                value_line(&format!("{what}: max"), stat(|r| r.max)?, 2, Goal::None);
            }
            Err(e) => {
                failures += 1;
                failed_line(&what, &e);
            }
        }
    }

    // 4. Relay next to raw pipelined publish of the same bytes.
    let e = plan.relay_events;
    let what = format!("relay events/s to JetStream ({e} ev) vs raw, same headers");
    let relay_runs = match &nats {
        Ok(()) => {
            repeat("relay vs raw JetStream publish", plan.runs, |i| {
                jetstream::relay_vs_raw(e, i)
            })
            .await
        }
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    match relay_runs {
        Ok(runs) => {
            let len = median_of(runs.iter().map(|r| r.event_len_mean).collect())?;
            let relay = median_of(runs.iter().map(|r| r.relay).collect())?;
            let raw = median_of(runs.iter().map(|r| r.raw_relay_headers).collect())?;
            let plain = median_of(runs.iter().map(|r| r.raw_plain).collect())?;
            ratio_line(&what, relay, raw, Goal::AtLeast(70.0, ">= 70 %"));
            ratio_line(
                "  the same relay vs raw without headers (context)",
                relay,
                plain,
                Goal::None,
            );
            let read = median_of(runs.iter().map(|r| r.read_alone).collect())?;
            value_line(
                "  reading the stored events alone, events/s",
                read,
                0,
                Goal::None,
            );
            value_line("  mean stored event, bytes", len, 0, Goal::None);
        }
        Err(e) => {
            failures += 1;
            failed_line(&what, &e);
        }
    }

    // 5. The real binary's memory.
    let m = plan.memory_commands;
    let what = format!(
        "node RSS MiB, idle ({})",
        if relaying { "relaying" } else { "offline" }
    );
    let memory = async {
        eprintln!("running node memory");
        let mut server = match relaying {
            true => Some(
                testkit::NatsServer::start()
                    .await
                    .context("failed to start nats-server")?,
            ),
            false => None,
        };
        let url = server.as_ref().map(|s| s.url()).unwrap_or_default();
        let memory = memory::measure(&url, m).await;
        if let Some(server) = server.as_mut() {
            server.stop().await.context("failed to stop nats-server")?;
        }
        memory
    }
    .await;
    match memory {
        Ok(mem) => {
            let mib = |kib: u64| kib as f64 / MIB;
            value_line(&what, mib(mem.idle_rss), 1, Goal::AtMost(64.0, "<= 64 MiB"));
            value_line(
                &format!("node RSS MiB, after {m} gRPC signs"),
                mib(mem.loaded_rss),
                1,
                Goal::None,
            );
            value_line(
                "node peak RSS MiB (VmHWM)",
                mib(mem.peak_rss),
                1,
                Goal::None,
            );
        }
        Err(e) => {
            failures += 1;
            failed_line(&what, &e);
        }
    }

    anyhow::ensure!(failures == 0, "{failures} figure(s) could not be measured");
    Ok(())
}
