//! A real `nats-server -js` child process on free loopback ports with its own store directory,
//! so messaging tests run against JetStream itself and can stop and restart it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// Environment variable naming the `nats-server` binary (`deploy/local/test.sh` exports it).
pub const NATS_SERVER_ENV: &str = "VIDKRYTO_NATS_SERVER";

/// Where `deploy/local/setup.sh` installs `nats-server`, relative to the workspace root. The
/// Debian package on `PATH` (2.9) is too old for the JetStream features we use, so it is never
/// looked up there.
const NATS_SERVER_IN_WORKSPACE: &str = ".vidkryto-dev/tools/venv/bin/nats-server";

/// How long a server may take to report itself healthy with JetStream enabled. A cold start
/// takes well under a second; a restart recovering a store of some thousand messages, a few.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two health probes.
const READY_POLL: Duration = Duration::from_millis(20);

/// Bound on one health probe (connect, request, status line).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a graceful stop (SIGTERM) may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Fresh port pairs tried by `start`: another process may take a port between our probe and
/// the server's bind, which is rare enough that three tries make it vanishingly unlikely.
const START_ATTEMPTS: u32 = 3;

/// Most bytes read of a health response: only its status line matters.
const HEALTH_RESPONSE_LEN_MAX: usize = 1024;

/// A running `nats-server` with JetStream, listening on 127.0.0.1 only. Killed on drop; its
/// store directory is removed on drop too.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    monitor_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server on free ports with a fresh store directory and waits until JetStream is
    /// ready. Panics if no `nats-server` binary can be found (see [`NATS_SERVER_ENV`]).
    pub async fn start() -> anyhow::Result<Self> {
        let binary = binary();
        let dir = tempfile::Builder::new()
            .prefix("vidkryto-nats-")
            .tempdir()
            .context("failed to create the store directory")?;
        let mut failure = None;
        for _ in 0..START_ATTEMPTS {
            let (port, monitor_port) = free_ports().await?;
            match launch(&binary, port, monitor_port, dir.path()).await {
                Ok(child) => {
                    return Ok(Self {
                        binary,
                        port,
                        monitor_port,
                        dir,
                        child: Some(child),
                    });
                }
                Err(e) => failure = Some(e),
            }
        }
        Err(failure.unwrap_or_else(|| anyhow::anyhow!("nats-server did not start")))
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP monitoring port (`/healthz`, `/jsz`, …).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }

    /// The directory holding JetStream's store (and the server's log file, `server.log`).
    pub fn store_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the process is running (not stopped or killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server gracefully (SIGTERM, so JetStream flushes its store), killing it if it
    /// has not exited within a few seconds. Keeps the store directory. A no-op when stopped.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            // The server binary itself sends the signal, so no libc binding is needed.
            let signalled = Command::new(&self.binary)
                .arg("--signal")
                .arg(format!("term={pid}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .map(|s| s.success())
                .unwrap_or(false);
            if signalled
                && tokio::time::timeout(STOP_TIMEOUT, child.wait())
                    .await
                    .is_ok()
            {
                return Ok(());
            }
        }
        child.kill().await.context("failed to kill nats-server")
    }

    /// Kills the server at once (SIGKILL), as a crash would. Keeps the store directory.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        match self.child.take() {
            Some(mut child) => child.kill().await.context("failed to kill nats-server"),
            None => Ok(()),
        }
    }

    /// Starts the server again on the same ports with the same store directory (stopping it
    /// first if it runs) and waits until JetStream is ready.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        let child = launch(&self.binary, self.port, self.monitor_port, self.dir.path()).await?;
        self.child = Some(child);
        Ok(())
    }
}

/// The `nats-server` to run: `$VIDKRYTO_NATS_SERVER`, else the one `deploy/local/setup.sh`
/// installs in the workspace.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os(NATS_SERVER_ENV) {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(NATS_SERVER_IN_WORKSPACE);
    if path.is_file() {
        return path;
    }
    panic!(
        "no nats-server found: set {NATS_SERVER_ENV} to a nats-server ≥ 2.10, or run \
         deploy/local/setup.sh to install one at {}",
        path.display()
    );
}

/// Two distinct free loopback ports: both are bound at once so they differ, then released
/// for the server to take.
async fn free_ports() -> anyhow::Result<(u16, u16)> {
    let a = TcpListener::bind("127.0.0.1:0").await?;
    let b = TcpListener::bind("127.0.0.1:0").await?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

/// Spawns the server and waits until it reports JetStream ready; kills it on failure.
async fn launch(binary: &Path, port: u16, monitor_port: u16, dir: &Path) -> anyhow::Result<Child> {
    let log_file = dir.join("server.log");
    let mut child = Command::new(binary)
        .arg("-js")
        .args(["-a", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-m", &monitor_port.to_string()])
        .arg("-sd")
        .arg(dir.join("store"))
        .arg("-l")
        .arg(&log_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("failed to run {}", binary.display()))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "nats-server exited with {status} before it was ready: {}",
                log_tail(&log_file)
            );
        }
        if healthy(monitor_port).await {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            // Best effort: the process is abandoned either way, and kill_on_drop backs this up.
            let _ = child.kill().await;
            bail!(
                "nats-server on port {port} was not ready within {READY_TIMEOUT:?}: {}",
                log_tail(&log_file)
            );
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Whether `GET /healthz?js-enabled-only=true` answers 200 (the server is up and JetStream is
/// enabled).
async fn healthy(monitor_port: u16) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect(("127.0.0.1", monitor_port)).await.ok()?;
        stream
            .write_all(
                b"GET /healthz?js-enabled-only=true HTTP/1.1\r\n\
                  Host: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )
            .await
            .ok()?;
        let mut response = Vec::with_capacity(HEALTH_RESPONSE_LEN_MAX);
        let mut chunk = [0_u8; 256];
        while response.len() < HEALTH_RESPONSE_LEN_MAX && !response.contains(&b'\n') {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&chunk[..n]);
        }
        Some(response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200"))
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, probe).await,
        Ok(Some(true))
    )
}

/// The last lines of the server's log, for an error message.
fn log_tail(path: &Path) -> String {
    const LINES: usize = 10;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LINES)..].join("\n")
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn starts_stops_and_restarts_on_the_same_port_and_store() {
        let mut server = NatsServer::start().await.expect("start nats-server");
        let port = server.port();
        assert_eq!(server.url(), format!("nats://127.0.0.1:{port}"));
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_ok());
        assert!(healthy(server.monitor_port()).await);

        server.stop().await.expect("stop");
        assert!(!server.is_running());
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert!(server.store_dir().join("store").is_dir(), "store kept");

        server.restart().await.expect("restart");
        assert_eq!(server.port(), port);
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_ok());

        server.kill().await.expect("kill");
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }
}
