//! `vidkryto association …`: what the Association of Ukrainian Cities' operators run.
//! `init` makes the witness key and admin token; `run` serves until Ctrl-C or SIGTERM;
//! `enroll` / `revoke` manage which key signs for which hromada; `rebuild` replays every
//! verified log into fresh projection tables; `digest` prints the projection digest.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use association::enrolment::Enrolment;
use association::ingest::Topology;
use association::server::{AssociationSettings, init_dir};
use association::store::Store;
use clap::{Args, Subcommand};
use event_store_core::MunicipalityCode;

/// The default database: a database of its own on the local server (created if missing).
const DEFAULT_DB: &str = "postgres://postgres@127.0.0.1:5432/vidkryto_association";

#[derive(Debug, Subcommand)]
pub enum AssociationCommand {
    /// Create the association's directory: witness signing key and admin token.
    Init(InitArgs),
    /// Serve: verified ingest from NATS, projections, national/federation/audit gRPC. Several
    /// instances may run on one database: one ingests (it holds the ingest lease), the others
    /// serve reads and take over when it goes.
    Run(RunArgs),
    /// Serve reads only (national, federation and audit APIs, open data, the dashboard) from
    /// the database or a streaming replica of it: no ingest, no admin calls, no secret.
    Serve(ServeArgs),
    /// Enrol a hromada's node key (the text of the node's `node.vkey`, or @file).
    Enroll(EnrollArgs),
    /// Revoke a hromada's key (or all its keys).
    Revoke(RevokeArgs),
    /// Enrol an independent monitor of OGP-Local commitments with its key (the text of its
    /// `monitor.vkey`, or @file) and the hromadas it is not independent of.
    EnrollMonitor(EnrollMonitorArgs),
    /// Revoke a monitor's key: its later assessments are refused, the earlier ones stand.
    RevokeMonitor(RevokeMonitorArgs),
    /// Replay every verified log into fresh projection tables; prints the digest.
    Rebuild(DbArgs),
    /// Print the projection digest and the positions it covers.
    Digest(DbArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The association's directory (created).
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// The association's PostgreSQL database (created if missing).
    #[arg(long, env = "VIDKRYTO_ASSOCIATION_DB", hide_env_values = true, default_value = DEFAULT_DB)]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// The NATS server (the association's JetStream cluster).
    #[arg(
        long,
        env = "VIDKRYTO_NATS_URL",
        hide_env_values = true,
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// gRPC (and gRPC-Web) listen address.
    #[arg(long, default_value = "127.0.0.1:50100")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub serving: ServingArgs,
    /// When hromadas run NATS leaf nodes: the JetStream domain of each one's stream, `{code}`
    /// standing for its KATOTTG code (e.g. `muni_{code}`, see deploy/nats). Unset: the
    /// streams are in the association's own JetStream.
    #[arg(long, env = "VIDKRYTO_SOURCE_DOMAIN_TEMPLATE", hide_env_values = true)]
    pub source_domain_template: Option<String>,
    /// Replicas of the ingest stream when the association creates it (3 on the hub cluster).
    #[arg(
        long,
        env = "VIDKRYTO_INGEST_REPLICAS",
        hide_env_values = true,
        default_value_t = 1
    )]
    pub ingest_replicas: usize,
    /// Seconds between the association's signed statements of its projection (made only when
    /// it moved; every one is kept), 1 to 86400.
    #[arg(
        long,
        env = "VIDKRYTO_STATEMENT_INTERVAL_SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub statement_interval_secs: u64,
}

/// What the listener serves besides the APIs, and how: for `run` and `serve` alike.
#[derive(Debug, Args)]
pub struct ServingArgs {
    /// Serve TLS on the listener with this certificate chain (PEM, the server's certificate
    /// first). Without it the listener is plain text and admin calls are taken only from
    /// loopback.
    #[arg(
        long,
        env = "VIDKRYTO_ASSOCIATION_TLS_CERT",
        hide_env_values = true,
        requires = "tls_key",
        value_name = "FILE"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM), readable only by its owner (`chmod 600`).
    #[arg(
        long,
        env = "VIDKRYTO_ASSOCIATION_TLS_KEY",
        hide_env_values = true,
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve the national dashboard's built assets (services/dashboard/dist) on the same
    /// listener, at `/`. Unset: no page, only the APIs.
    #[arg(long, env = "VIDKRYTO_DASHBOARD_DIR", hide_env_values = true)]
    pub dashboard_dir: Option<PathBuf>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address, e.g. 127.0.0.1:9464. Unset:
    /// none.
    #[arg(long, env = "VIDKRYTO_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

impl ServingArgs {
    /// Reads the TLS identity, if any.
    fn tls(&self) -> anyhow::Result<Option<association::tls::TlsIdentity>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                Ok(Some(association::tls::TlsIdentity::from_files(cert, key)?))
            }
            _ => Ok(None),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A directory holding the association's public witness key (`witness.vkey`, from
    /// `init`), served to auditors; no secret is read.
    #[arg(long, env = "VIDKRYTO_ASSOCIATION_DIR")]
    pub dir: PathBuf,
    /// The association's database or a read-only replica of it (migrated by `run`).
    #[arg(long, env = "VIDKRYTO_ASSOCIATION_DB", hide_env_values = true, default_value = DEFAULT_DB)]
    pub db: String,
    /// gRPC (and gRPC-Web) listen address.
    #[arg(long, default_value = "127.0.0.1:50101")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub serving: ServingArgs,
}

/// The association's directory (from `init`): its witness key signs the association log's
/// entries, beside the size of the log it last signed.
#[derive(Debug, Args)]
pub struct DirArgs {
    /// The association's directory (from `init`).
    #[arg(long, env = "VIDKRYTO_ASSOCIATION_DIR")]
    pub dir: PathBuf,
}

impl DirArgs {
    fn signer(&self) -> anyhow::Result<association::decisions::Signer> {
        let key = association::server::load_witness(
            &self.dir.join(association::server::WITNESS_KEY_FILE),
        )?;
        Ok(association::decisions::Signer::of_dir(
            std::sync::Arc::new(key),
            &self.dir,
        ))
    }
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// The hromada's KATOTTG code.
    #[arg(long)]
    pub municipality: String,
    /// The node's verifier key text, or @path to read it from a file.
    #[arg(long)]
    pub vkey: String,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub municipality: String,
    /// The key to revoke (text or @path); all keys of the hromada when absent.
    #[arg(long)]
    pub vkey: Option<String>,
}

#[derive(Debug, Args)]
pub struct EnrollMonitorArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// The monitor's id (its key is named `vidkryto-monitor/<id>`).
    #[arg(long)]
    pub monitor: String,
    /// The organisation's name.
    #[arg(long)]
    pub name: String,
    /// The monitor's verifier key text, or @path to read it from a file.
    #[arg(long)]
    pub vkey: String,
    /// A hromada (KATOTTG code) the monitor declares itself not independent of; repeat it.
    #[arg(long)]
    pub not_independent_of: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RevokeMonitorArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub monitor: String,
}

/// A verifier key given as its text or as `@path` (shared by the `audit` commands).
pub(crate) fn read_vkey(text: &str) -> anyhow::Result<event_store_core::checkpoint::NoteVerifier> {
    let text = match text.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("failed to read {path}"))?
        }
        None => text.to_owned(),
    };
    Ok(association::enrolment::parse_vkey(&text)?)
}

/// A `--municipality` argument (shared by the `audit` commands).
pub(crate) fn municipality(text: &str) -> anyhow::Result<MunicipalityCode> {
    MunicipalityCode::parse(text.trim()).with_context(|| format!("--municipality {text}"))
}

/// Says where `running` serves (the first line is what scripts wait for), then serves until
/// SIGTERM or Ctrl-C.
async fn serve_until_signal(
    running: association::server::RunningAssociation,
    tls: bool,
    dashboard: bool,
    what: &str,
) -> anyhow::Result<ExitCode> {
    let (scheme, over) = if tls {
        ("https", "TLS")
    } else {
        ("http", "plain text")
    };
    println!(
        "association serving gRPC and gRPC-Web over {over}{what} on {}",
        running.grpc_addr
    );
    if dashboard {
        println!("dashboard: {scheme}://{}/", running.grpc_addr);
    }
    if let Some(addr) = running.metrics_addr {
        println!("metrics: http://{addr}/metrics");
    }
    crate::node_cmd::ready_until_signal().await;
    eprintln!("shutting down");
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Runs an `association` subcommand.
pub async fn run(cmd: AssociationCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AssociationCommand::Init(a) => {
            let (key, token) = init_dir(&a.dir)?;
            println!("witness key: {}", key.display());
            println!("admin token: {}", token.display());
            Ok(ExitCode::SUCCESS)
        }
        AssociationCommand::Run(a) => {
            let mut settings =
                AssociationSettings::from_dir(&a.dir.dir, a.db.db, a.nats_url, a.listen)?;
            settings.topology = Topology {
                source_domain_template: a.source_domain_template,
                ingest_replicas: a.ingest_replicas,
            };
            settings.statement_interval = std::time::Duration::from_secs(a.statement_interval_secs);
            settings.tls = a.serving.tls()?;
            settings.dashboard_dir = a.serving.dashboard_dir;
            settings.metrics_listen = a.serving.metrics_listen;
            let dashboard = settings.dashboard_dir.is_some();
            let tls = settings.tls.is_some();
            let running = association::server::start(settings).await?;
            serve_until_signal(running, tls, dashboard, "").await
        }
        AssociationCommand::Serve(a) => {
            let mut settings =
                association::server::ReplicaSettings::from_dir(&a.dir, a.db, a.listen)?;
            settings.tls = a.serving.tls()?;
            settings.dashboard_dir = a.serving.dashboard_dir;
            settings.metrics_listen = a.serving.metrics_listen;
            let dashboard = settings.dashboard_dir.is_some();
            let tls = settings.tls.is_some();
            let running = association::server::serve_reads(settings).await?;
            serve_until_signal(running, tls, dashboard, " (reads only)").await
        }
        AssociationCommand::Enroll(a) => {
            let code = municipality(&a.municipality)?;
            let vkey = read_vkey(&a.vkey)?;
            let signer = a.dir.signer()?;
            let store = Store::connect(&a.db.db).await?;
            let changed = Enrolment::new(store, signer, None)
                .enroll(&code, &vkey)
                .await?;
            if changed {
                println!("enrolled {code} with {}", vkey.to_text());
            } else {
                println!("{code} was already enrolled with this key");
            }
            Ok(ExitCode::SUCCESS)
        }
        AssociationCommand::Revoke(a) => {
            let code = municipality(&a.municipality)?;
            let vkey = a.vkey.as_deref().map(read_vkey).transpose()?;
            let signer = a.dir.signer()?;
            let store = Store::connect(&a.db.db).await?;
            let revoked = Enrolment::new(store, signer, None)
                .revoke(&code, vkey.as_ref())
                .await?;
            if revoked == 0 {
                anyhow::bail!("{code} has no such valid key");
            }
            println!("revoked {revoked} key(s) of {code}");
            Ok(ExitCode::SUCCESS)
        }
        AssociationCommand::EnrollMonitor(a) => {
            let vkey = read_vkey(&a.vkey)?;
            let not_independent_of = a
                .not_independent_of
                .iter()
                .map(|c| municipality(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let enrolment = association::assessments::MonitorEnrolment::new(
                &a.monitor,
                &a.name,
                vkey,
                not_independent_of,
            );
            let signer = a.dir.signer()?;
            let store = Store::connect(&a.db.db).await?;
            if association::assessments::enroll_monitor(&store, &signer, &enrolment).await? {
                println!(
                    "enrolled monitor {} with {}",
                    enrolment.monitor,
                    enrolment.vkey.to_text()
                );
            } else {
                println!(
                    "monitor {} was already enrolled with this key",
                    enrolment.monitor
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AssociationCommand::RevokeMonitor(a) => {
            let signer = a.dir.signer()?;
            let store = Store::connect(&a.db.db).await?;
            if !association::assessments::revoke_monitor(&store, &signer, a.monitor.trim()).await? {
                anyhow::bail!("no monitor {:?} is enrolled", a.monitor);
            }
            println!("revoked monitor {}", a.monitor.trim());
            Ok(ExitCode::SUCCESS)
        }
        AssociationCommand::Rebuild(a) => {
            let store = Store::connect(&a.db).await?;
            let summary = association::rebuild::rebuild(&store, None).await?;
            let digest = association::digest::compute(&store).await?;
            println!(
                "replayed {} events ({} undecodable)",
                summary.events, summary.undecodable
            );
            println!("projection digest {}", digest.hex);
            Ok(ExitCode::SUCCESS)
        }
        AssociationCommand::Digest(a) => {
            let store = Store::connect(&a.db).await?;
            let digest = association::digest::compute(&store).await?;
            println!("projection digest {}", digest.hex);
            for p in digest.positions {
                println!("{} {} {}", p.code, p.verified_size, hex::encode(&p.root));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
