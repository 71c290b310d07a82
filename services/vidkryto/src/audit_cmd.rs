//! `vidkryto audit …` (being written).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {}

/// Runs an `audit` subcommand.
pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
