//! `vidkryto dev`: a complete local federation on loopback (being written).

use std::process::ExitCode;

use clap::Args;

/// Options of `vidkryto dev`.
#[derive(Debug, Args)]
pub struct DevArgs {}

/// Runs `vidkryto dev`.
pub async fn run(_args: DevArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("vidkryto dev is not built yet")
}
