//! `vidkryto association …` as an operator runs it, as a child process the test can kill,
//! pause and resume; and a scrape of its Prometheus metrics.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A `vidkryto association run|serve` process, killed on drop.
#[derive(Debug)]
pub struct AssociationProcess {
    child: Child,
    /// Kept open: the process may print more.
    _stdout: BufReader<ChildStdout>,
    /// `http://` and the gRPC address.
    pub url: String,
    /// Where it serves `GET /metrics`, when started with `--metrics-listen`.
    pub metrics: Option<SocketAddr>,
}

impl AssociationProcess {
    /// Runs `exe` (the `vidkryto` binary) with `args` and waits until it says where it serves
    /// (and where its metrics are, when `args` asks for them).
    pub fn start(exe: &str, args: &[String]) -> Self {
        Self::start_with_env(exe, args, &[])
    }

    /// [`Self::start`] with these environment variables set.
    pub fn start_with_env(exe: &str, args: &[String], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the association");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        assert!(line.starts_with("association serving"), "said {line:?}");
        let addr = line.trim().rsplit(' ').next().expect("address").to_owned();
        let metrics = if args.iter().any(|a| a == "--metrics-listen") {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("metrics line");
            let addr = line
                .trim()
                .strip_prefix("metrics: http://")
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .unwrap_or_else(|| panic!("said {line:?}"));
            Some(addr.parse().expect("a metrics address"))
        } else {
            None
        };
        Self {
            child,
            _stdout: stdout,
            url: format!("http://{addr}"),
            metrics,
        }
    }

    /// `vidkryto association run` on the test association's directory, database and NATS
    /// (with its metrics on a port of its own when `metrics`).
    pub fn run(exe: &str, association: &crate::TestAssociation, metrics: bool) -> Self {
        Self::start(exe, &Self::run_args(association, metrics))
    }

    /// The arguments of [`Self::run`].
    pub fn run_args(association: &crate::TestAssociation, metrics: bool) -> Vec<String> {
        let mut args = vec![
            "association".to_owned(),
            "run".into(),
            "--dir".into(),
            association.dir.path().display().to_string(),
            "--db".into(),
            association.db_url(),
            "--nats-url".into(),
            association.nats_url.clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        if metrics {
            args.extend(["--metrics-listen".into(), "127.0.0.1:0".into()]);
        }
        args
    }

    /// `vidkryto association serve` on the test association's database, its directory `dir`
    /// (the public witness key), with its metrics on a port of its own.
    pub fn serve(exe: &str, association: &crate::TestAssociation, dir: &std::path::Path) -> Self {
        Self::serve_from(exe, &association.db_url(), dir)
    }

    /// `vidkryto association serve` on the database at `db_url` (a role of its own, say).
    pub fn serve_from(exe: &str, db_url: &str, dir: &std::path::Path) -> Self {
        let args = [
            "association",
            "serve",
            "--dir",
            &dir.display().to_string(),
            "--db",
            db_url,
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ];
        Self::start(exe, &args.map(str::to_owned))
    }

    /// Its national summary now.
    pub async fn summary(&self) -> proto::national::v1::Summary {
        proto::national::v1::national_service_client::NationalServiceClient::connect(
            self.url.clone(),
        )
        .await
        .expect("connect")
        .get_national_summary(proto::national::v1::GetNationalSummaryRequest {})
        .await
        .expect("national summary")
        .into_inner()
    }

    /// Its projection digest now, through the audit API.
    pub async fn digest(&self) -> proto::audit::v1::ProjectionDigest {
        proto::audit::v1::audit_service_client::AuditServiceClient::connect(self.url.clone())
            .await
            .expect("connect")
            .get_projection_digest(proto::audit::v1::GetProjectionDigestRequest {})
            .await
            .expect("projection digest")
            .into_inner()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its metrics now, or `None` when it does not answer within 2 s (killed, paused).
    pub async fn scrape(&self) -> Option<BTreeMap<String, f64>> {
        let addr = self.metrics.expect("started with --metrics-listen");
        tokio::time::timeout(Duration::from_secs(2), http_get(addr, "GET", "/metrics"))
            .await
            .ok()
            .flatten()
            .map(|text| samples(&text))
    }
}

impl Drop for AssociationProcess {
    fn drop(&mut self) {
        // A paused process takes SIGKILL too.
        self.kill();
    }
}

/// Runs `exe association rebuild` on `db_url` and checks that it prints `digest`, the digest
/// the association served live.
pub fn assert_rebuild_gives(exe: &str, db_url: &str, digest: &str) {
    let rebuilt = Command::new(exe)
        .args(["association", "rebuild", "--db", db_url])
        .output()
        .expect("run rebuild");
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let stdout = String::from_utf8_lossy(&rebuilt.stdout);
    assert!(
        stdout.contains(&format!("projection digest {digest}")),
        "rebuild printed {stdout}, live digest {digest}"
    );
}

/// `method path` on `addr` over HTTP/1.1: the status line, headers and body as text, or
/// `None` when the connection fails.
pub async fn http_get(addr: SocketAddr, method: &str, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await.ok()?;
    Some(text)
}

/// The samples of a scrape's response, by name with labels.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("a sample line");
            (name.to_owned(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}
