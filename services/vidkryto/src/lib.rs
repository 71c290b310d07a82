//! The `vidkryto` command line: one binary for every user of the system, each role a
//! subcommand. The binary's `main` only parses arguments and sets up logging; all of the
//! work lives here so it can be tested.

pub mod association_cmd;
pub mod demo;
pub mod demo_script;
pub mod log_cmd;
pub mod node_cmd;
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
    /// Run a municipality's node.
    #[command(subcommand)]
    Node(node_cmd::NodeCommand),
    /// Run an end-to-end demonstration on a real municipality's log.
    Demo(demo::DemoArgs),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Log(cmd) => log_cmd::run(cmd).await,
        Command::Node(cmd) => node_cmd::run(cmd).await,
        Command::Association(cmd) => association_cmd::run(cmd).await,
        Command::Demo(args) => demo::run(args).await,
    }
}
