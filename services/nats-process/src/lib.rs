//! A real `nats-server -js` child process on free loopback ports with its own store directory:
//! found (`$VIDKRYTO_NATS_SERVER`, else the one `deploy/local/setup.sh` installs), checked to be
//! recent enough, started, stopped, killed and restarted on the same ports and store. It is
//! the NATS of `vidkryto dev`, so it lives in a product crate; `testkit` re-exports it, so
//! messaging tests run against JetStream itself. It also starts servers from rendered
//! configuration files (the `deploy/nats` templates).

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

/// The oldest `nats-server` accepted: 2.12.1 carries the fixes for the data-loss faults a 2025
/// Jepsen analysis found in JetStream.
pub const NATS_SERVER_VERSION_MIN: (u32, u32, u32) = (2, 12, 1);

/// Fresh port pairs tried by `start`: another process may take a port between our probe and
/// the server's bind, which is rare enough that three tries make it vanishingly unlikely.
const START_ATTEMPTS: u32 = 3;

/// Most bytes read of a monitoring response (`/healthz`, `/leafz`, …).
const MONITOR_RESPONSE_LEN_MAX: usize = 1024 * 1024;

/// Bound on `nats-server --version`.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `nats-server` with JetStream, listening on 127.0.0.1 only. Killed on drop; its
/// store directory is removed on drop too unless it was given by the caller.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    monitor_port: u16,
    dir: StoreDir,
    /// The configuration file it runs with (`-c`), if started from one.
    config: Option<PathBuf>,
    /// Whether it runs in a process group of its own (see [`NatsServer::start_in`]).
    own_group: bool,
    child: Option<Child>,
}

/// Where a server keeps its store, log and configuration.
#[derive(Debug)]
enum StoreDir {
    /// A temporary directory, removed on drop.
    Temp(tempfile::TempDir),
    /// The caller's directory, kept.
    Given(PathBuf),
}

impl StoreDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(dir) => dir.path(),
            Self::Given(path) => path,
        }
    }
}

impl NatsServer {
    /// Starts a server on free ports with a fresh store directory and waits until JetStream is
    /// ready. Fails if no `nats-server` binary can be found (see [`NATS_SERVER_ENV`]).
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("vidkryto-nats-")
            .tempdir()
            .context("failed to create the store directory")?;
        Self::start_on_free_ports(nats_server_binary()?, StoreDir::Temp(dir), false).await
    }

    /// Starts `binary` on free ports with its store, log and nothing else under `dir` (created;
    /// kept after the server stops), and waits until JetStream is ready. The server gets a
    /// process group of its own, so a Ctrl-C meant for the caller (`vidkryto dev`) does not
    /// stop it before the caller's services have shut down in order: the caller stops it.
    pub async fn start_in(binary: PathBuf, dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        Self::start_on_free_ports(binary, StoreDir::Given(dir), true).await
    }

    /// Starts a server from a configuration file and waits until it is healthy. `render` gets
    /// the server's own (temporary) directory, for the store and anything else the file names,
    /// and returns the file's text; the file must listen for clients on `port` and serve
    /// monitoring on `monitor_port`, both on 127.0.0.1.
    pub async fn start_with_config(
        port: u16,
        monitor_port: u16,
        render: impl FnOnce(&Path) -> String,
    ) -> anyhow::Result<Self> {
        let binary = nats_server_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("vidkryto-nats-")
            .tempdir()
            .context("failed to create the server directory")?;
        let config = dir.path().join("nats.conf");
        std::fs::write(&config, render(dir.path()))
            .with_context(|| format!("failed to write {}", config.display()))?;
        let how = Launch::Config(&config);
        let child = launch(&binary, how, monitor_port, dir.path(), false).await?;
        Ok(Self {
            binary,
            port,
            monitor_port,
            dir: StoreDir::Temp(dir),
            config: Some(config),
            own_group: false,
            child: Some(child),
        })
    }

    async fn start_on_free_ports(
        binary: PathBuf,
        dir: StoreDir,
        own_group: bool,
    ) -> anyhow::Result<Self> {
        let mut failure = None;
        for _ in 0..START_ATTEMPTS {
            let (port, monitor_port) = free_ports().await?;
            let how = Launch::Flags { port };
            match launch(&binary, how, monitor_port, dir.path(), own_group).await {
                Ok(child) => {
                    return Ok(Self {
                        binary,
                        port,
                        monitor_port,
                        dir,
                        config: None,
                        own_group,
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

    /// Waits until `/healthz` answers 200: JetStream is current, which in a cluster means a
    /// meta leader is elected and this server has caught up with it.
    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !answers_ok(self.monitor_port, "/healthz").await {
            if Instant::now() >= deadline {
                bail!(
                    "nats-server (monitoring port {}) not healthy within {timeout:?}: {}",
                    self.monitor_port,
                    log_tail(&self.dir.path().join("server.log"))
                );
            }
            tokio::time::sleep(READY_POLL).await;
        }
        Ok(())
    }

    /// What the server has logged so far (`server.log`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The body of a monitoring endpoint (`/leafz`, `/jsz`, …) that answered 200.
    pub async fn monitor(&self, path: &str) -> anyhow::Result<String> {
        match monitor_get(self.monitor_port, path).await {
            Some((200, body)) => Ok(body),
            Some((status, body)) => bail!("{path} answered {status}: {body}"),
            None => bail!("{path} did not answer on port {}", self.monitor_port),
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
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
        let how = match &self.config {
            Some(config) => Launch::Config(config),
            None => Launch::Flags { port: self.port },
        };
        let child = launch(
            &self.binary,
            how,
            self.monitor_port,
            self.dir.path(),
            self.own_group,
        )
        .await?;
        self.child = Some(child);
        Ok(())
    }
}

/// The `nats-server` to run: `$VIDKRYTO_NATS_SERVER`, else the one `deploy/local/setup.sh`
/// installs in the workspace.
pub fn nats_server_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(NATS_SERVER_ENV) {
        return Ok(PathBuf::from(path));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(NATS_SERVER_IN_WORKSPACE);
    if path.is_file() {
        return Ok(path);
    }
    bail!(
        "no nats-server found: set {NATS_SERVER_ENV} to a nats-server >= 2.12.1, or run \
         deploy/local/setup.sh to install one at {}",
        path.display()
    )
}

/// The version `binary --version` reports, e.g. `(2, 15, 1)`.
pub async fn nats_server_version(binary: &Path) -> anyhow::Result<(u32, u32, u32)> {
    let output = tokio::time::timeout(
        VERSION_TIMEOUT,
        Command::new(binary)
            .arg("--version")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .with_context(|| format!("{} --version did not answer", binary.display()))?
    .with_context(|| format!("failed to run {}", binary.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_version(&text).with_context(|| {
        format!(
            "{} --version printed {:?}, not a version",
            binary.display(),
            text.trim()
        )
    })
}

/// `nats-server: v2.15.1` → `(2, 15, 1)`.
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let version = text.trim().rsplit(' ').next()?.trim_start_matches('v');
    let mut parts = version.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?.parse().ok()?;
    Some((major, minor, patch))
}

/// Checks that `binary` is at least [`NATS_SERVER_VERSION_MIN`]; returns its version text.
pub async fn check_nats_server(binary: &Path) -> anyhow::Result<String> {
    let version = nats_server_version(binary).await?;
    let (major, minor, patch) = version;
    let text = format!("{major}.{minor}.{patch}");
    if version < NATS_SERVER_VERSION_MIN {
        let (a, b, c) = NATS_SERVER_VERSION_MIN;
        bail!(
            "{} is nats-server {text}; vidkryto needs {a}.{b}.{c} or later (the release with \
             the 2025 JetStream data-loss fixes): run deploy/local/setup.sh, or set \
             {NATS_SERVER_ENV}",
            binary.display()
        );
    }
    Ok(text)
}

/// `count` distinct free loopback ports: all are bound at once so they differ, then released
/// for a server to take (rarely, another process takes one first; starting again picks anew).
pub async fn free_loopback_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut listeners = Vec::with_capacity(count);
    for _ in 0..count {
        listeners.push(TcpListener::bind("127.0.0.1:0").await?);
    }
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// Two distinct free loopback ports.
async fn free_ports() -> anyhow::Result<(u16, u16)> {
    match free_loopback_ports(2).await?.as_slice() {
        [a, b] => Ok((*a, *b)),
        _ => bail!("two ports asked, another number given"),
    }
}

/// How a server is told what to do.
#[derive(Debug, Clone, Copy)]
enum Launch<'a> {
    /// `-js` on 127.0.0.1:`port`, the store under the server's directory.
    Flags { port: u16 },
    /// `-c FILE`: everything from the file.
    Config(&'a Path),
}

/// Spawns the server and waits until it reports JetStream ready; kills it on failure. With
/// `own_group`, the child gets a process group of its own (signals to the terminal's
/// foreground group, such as Ctrl-C, then do not reach it).
async fn launch(
    binary: &Path,
    how: Launch<'_>,
    monitor_port: u16,
    dir: &Path,
    own_group: bool,
) -> anyhow::Result<Child> {
    let log_file = dir.join("server.log");
    // Configuration errors are reported on stderr, before any log file exists.
    let stderr_file = dir.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_file)
        .with_context(|| format!("failed to create {}", stderr_file.display()))?;
    let mut command = Command::new(binary);
    match how {
        Launch::Flags { port } => {
            command
                .arg("-js")
                .args(["-a", "127.0.0.1"])
                .args(["-p", &port.to_string()])
                .args(["-m", &monitor_port.to_string()])
                .arg("-sd")
                .arg(dir.join("store"));
        }
        Launch::Config(config) => {
            command.arg("-c").arg(config);
        }
    }
    if own_group {
        command.process_group(0);
    }
    let mut child = command
        .arg("-l")
        .arg(&log_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("failed to run {}", binary.display()))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "nats-server exited with {status} before it was ready: {} {}",
                log_tail(&stderr_file),
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
                "nats-server (monitoring port {monitor_port}) was not ready within \
                 {READY_TIMEOUT:?}: {}",
                log_tail(&log_file)
            );
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Whether `GET /healthz?js-enabled-only=true` answers 200 (the server is up and JetStream is
/// enabled).
async fn healthy(monitor_port: u16) -> bool {
    answers_ok(monitor_port, "/healthz?js-enabled-only=true").await
}

/// Whether `GET path` on the monitoring port answers 200.
async fn answers_ok(monitor_port: u16, path: &str) -> bool {
    matches!(monitor_get(monitor_port, path).await, Some((200, _)))
}

/// GETs `path` from the monitoring port: the status and body, or `None` if it did not answer
/// within [`PROBE_TIMEOUT`] or answered more than [`MONITOR_RESPONSE_LEN_MAX`] bytes.
async fn monitor_get(monitor_port: u16, path: &str) -> Option<(u16, String)> {
    let probe = async {
        let mut stream = TcpStream::connect(("127.0.0.1", monitor_port)).await.ok()?;
        // HTTP/1.0: the server closes after the body and sends it unchunked.
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        let read = (&mut stream)
            .take(MONITOR_RESPONSE_LEN_MAX as u64 + 1)
            .read_to_end(&mut response)
            .await
            .ok()?;
        if read > MONITOR_RESPONSE_LEN_MAX {
            return None;
        }
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
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

    #[test]
    fn versions_parse_from_the_servers_output() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15, 1)));
        assert_eq!(parse_version("nats-server: v2.12.1-RC.2"), Some((2, 12, 1)));
        assert_eq!(parse_version("nats-server: v2.9"), None);
        assert_eq!(parse_version(""), None);
        assert!((2, 9, 25) < NATS_SERVER_VERSION_MIN);
        assert!((2, 15, 1) >= NATS_SERVER_VERSION_MIN);
    }

    #[tokio::test]
    async fn the_pinned_server_is_recent_enough() {
        let binary = nats_server_binary().expect("nats-server");
        let version = check_nats_server(&binary).await.expect("version check");
        assert!(version.starts_with("2."), "{version}");
    }

    #[tokio::test]
    async fn starts_from_a_configuration_file() {
        let ports = free_loopback_ports(2).await.unwrap();
        let (port, monitor_port) = (ports[0], ports[1]);
        let mut server = NatsServer::start_with_config(port, monitor_port, |dir| {
            format!(
                "listen: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor_port}\n\
                 jetstream {{ store_dir: {:?} }}\n",
                dir.join("store")
            )
        })
        .await
        .expect("start from a file");
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_ok());
        assert!(server.pid().is_some());
        server.restart().await.expect("restart from the same file");
        assert!(healthy(monitor_port).await);
        server.stop().await.unwrap();
        assert!(server.pid().is_none());
    }
}
