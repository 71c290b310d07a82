//! The node's memory as an operator sees it: the real `vidkryto` binary, initialised and run as
//! a child process, its resident set read from `/proc/<pid>/status` when idle and after a
//! gRPC load.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::commands::{MUNICIPALITY, THRESHOLD, grpc_load, grpc_petitions};

/// How long the node sits idle before its memory is read.
const IDLE: Duration = Duration::from_secs(3);
/// Pause after the load before reading memory again.
const SETTLE: Duration = Duration::from_secs(1);
/// Longest `node init` may take.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the node may take to say it serves.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The line the node prints once it serves, followed by its gRPC address.
const READY_PREFIX: &str = "serving gRPC on ";
/// Lines of the node's output read while waiting for it to serve.
const READY_LINES_MAX: usize = 100;

/// The `vidkryto` binary next to this benchmark's executable.
fn binary() -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()
        .context("failed to locate the benchmark's executable")?
        .with_file_name("vidkryto");
    ensure!(
        path.is_file(),
        "{} not found: build it with `cargo build --release -p vidkryto`",
        path.display()
    );
    Ok(path)
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {path}"))?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("{path} has no {field}"))?;
    let kib = line
        .trim()
        .strip_suffix("kB")
        .with_context(|| format!("{field} is not in kB: {line:?}"))?
        .trim()
        .parse()
        .with_context(|| format!("{field} is not a number: {line:?}"))?;
    Ok(kib)
}

/// The node's memory, in KiB.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub idle_rss: u64,
    pub loaded_rss: u64,
    pub peak_rss: u64,
}

/// The running child, killed when dropped.
struct NodeProcess {
    child: Child,
    pid: u32,
    url: String,
    token: String,
}

impl NodeProcess {
    async fn start(binary: &Path, dir: &Path, nats_url: &str) -> anyhow::Result<Self> {
        let init = Command::new(binary)
            .args(["node", "init", "--dir"])
            .arg(dir)
            .args(["--municipality", MUNICIPALITY])
            .args(["--signature-threshold", &THRESHOLD.to_string()])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--nats-url", nats_url])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let init = tokio::time::timeout(INIT_TIMEOUT, init)
            .await
            .context("`vidkryto node init` did not finish in time")?
            .context("failed to run `vidkryto node init`")?;
        if !init.status.success() {
            bail!(
                "`vidkryto node init` failed: {}",
                String::from_utf8_lossy(&init.stderr).trim()
            );
        }
        // The load runs as a machine client, added with the operator's command.
        let add = Command::new(binary)
            .args(["node", "client", "add", "--dir"])
            .arg(dir)
            .args(["--name", "bench", "--permission", "participate,moderate"])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let add = tokio::time::timeout(INIT_TIMEOUT, add)
            .await
            .context("`vidkryto node client add` did not finish in time")?
            .context("failed to run `vidkryto node client add`")?;
        let printed = String::from_utf8_lossy(&add.stdout);
        let token = printed
            .lines()
            .find(|l| l.starts_with(node::auth::clients::TOKEN_PREFIX))
            .with_context(|| {
                format!(
                    "`vidkryto node client add` printed no token: {}",
                    String::from_utf8_lossy(&add.stderr).trim()
                )
            })?
            .to_owned();
        let stderr_path = dir.join("node.stderr");
        let stderr = std::fs::File::create(&stderr_path)
            .with_context(|| format!("failed to create {}", stderr_path.display()))?;
        let mut child = Command::new(binary)
            .args(["node", "run", "--dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("failed to run `vidkryto node run`")?;
        let pid = child.id().context("the node exited at once")?;
        let stdout = child.stdout.take().context("no stdout of the node")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = async {
            for _ in 0..READY_LINES_MAX {
                let Some(line) = lines.next_line().await? else {
                    break;
                };
                if let Some((_, addr)) = line.split_once(READY_PREFIX) {
                    return Ok(Some(addr.trim().to_owned()));
                }
            }
            Ok::<_, std::io::Error>(None)
        };
        let addr = match tokio::time::timeout(READY_TIMEOUT, ready).await {
            Ok(Ok(Some(addr))) => addr,
            _ => bail!(
                "the node did not start serving within {READY_TIMEOUT:?}: {}",
                std::fs::read_to_string(&stderr_path)
                    .unwrap_or_default()
                    .trim()
            ),
        };
        // Keep draining its output, so the node never writes into a full or closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            url: format!("http://{addr}"),
            token,
        })
    }

    fn kib(&mut self, field: &str) -> anyhow::Result<u64> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the node exited with {status}");
        }
        status_kib(self.pid, field)
    }
}

/// Runs the node (relaying to `nats_url`, or offline when it is empty), reads its memory after
/// [`IDLE`], then after `commands` signatures from the concurrent gRPC load, and kills it.
pub async fn measure(nats_url: &str, commands: usize) -> anyhow::Result<Memory> {
    let binary = binary()?;
    let dir = tempfile::tempdir()?;
    let node_dir = dir.path().join("node");
    let mut node = NodeProcess::start(&binary, &node_dir, nats_url).await?;
    tokio::time::sleep(IDLE).await;
    let idle_rss = node.kib("VmRSS")?;
    let petitions = grpc_petitions(&node.url, &node.token).await?;
    grpc_load(&node.url, &node.token, &petitions, commands, "citizen").await?;
    tokio::time::sleep(SETTLE).await;
    let loaded_rss = node.kib("VmRSS")?;
    let peak_rss = node.kib("VmHWM")?;
    node.child.kill().await.context("failed to kill the node")?;
    Ok(Memory {
        idle_rss,
        loaded_rss,
        peak_rss,
    })
}
