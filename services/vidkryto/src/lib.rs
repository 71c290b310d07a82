//! The `vidkryto` command line: one binary for every user of the system, each role a
//! subcommand. The binary's `main` only parses arguments and sets up logging; all of the
//! work lives here so it can be tested.

pub mod association_cmd;
pub mod audit_cmd;
pub mod demo;
pub mod demo_script;
pub mod log_cmd;
pub mod monitor_cmd;
pub mod node_cmd;
pub mod notify;
pub mod otlp;
pub mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// vidkryto: verifiable civic participation records for Ukraine's hromadas.
#[derive(Debug, Parser)]
#[command(name = "vidkryto", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with one node's verifiable log.
    #[command(subcommand)]
    Log(log_cmd::LogCommand),
    /// Run the association: verified ingest, witness, national projections and APIs.
    #[command(subcommand)]
    Association(association_cmd::AssociationCommand),
    /// Audit the federation: export archives, verify them, recompute projections, prove events.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Run a complete local federation on loopback: NATS, the association, several nodes.
    Dev(dev::DevArgs),
    /// Run a municipality's node.
    #[command(subcommand)]
    Node(node_cmd::NodeCommand),
    /// Independently assess OGP-Local commitments, as a monitor the association enrolled.
    #[command(subcommand)]
    Monitor(monitor_cmd::MonitorCommand),
    /// Run an end-to-end demonstration on a real municipality's log.
    Demo(demo::DemoArgs),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Log(cmd) => log_cmd::run(cmd).await,
        Command::Node(cmd) => node_cmd::run(cmd).await,
        Command::Association(cmd) => association_cmd::run(cmd).await,
        Command::Audit(cmd) => audit_cmd::run(cmd).await,
        Command::Dev(args) => dev::run(args, node_cmd::wait_for_signal).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Monitor(cmd) => monitor_cmd::run(cmd).await,
    }
}

/// Exit code for an operating error (bad input, unreachable database, …).
const EXIT_ERROR: u8 = 2;

/// The whole `vidkryto` program: parse the command line, set up logging, run, and map errors
/// to exit codes. Binaries call only this.
pub fn main_entry() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIDKRYTO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // VIDKRYTO_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("VIDKRYTO_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let cli = <Cli as clap::Parser>::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    // The exporter's gRPC channel lives on this runtime.
    let traces = {
        let _inside = runtime.enter();
        match otlp::from_env(cli.command.service_name()) {
            Ok(traces) => traces,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(EXIT_ERROR);
            }
        }
    };
    let result = runtime.block_on(run(cli));
    if let Some(traces) = traces {
        let _inside = runtime.enter();
        traces.shutdown();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

impl Command {
    /// The service a process of this command is in traces.
    pub fn service_name(&self) -> &'static str {
        match self {
            Self::Log(_) => "vidkryto-log",
            Self::Association(_) => "vidkryto-association",
            Self::Audit(_) => "vidkryto-audit",
            Self::Dev(_) => "vidkryto-dev",
            Self::Node(_) => "vidkryto-node",
            Self::Demo(_) => "vidkryto-demo",
            Self::Monitor(_) => "vidkryto-monitor",
        }
    }
}
