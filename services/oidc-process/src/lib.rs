//! The development OpenID provider (`deploy/oidc/provider.mjs`: the `oidc-provider` package
//! under Node.js) as a child process on a free loopback port, and sign-ins through it
//! (`deploy/oidc/sign-in.mjs`: the authorization code flow with PKCE through its real sign-in
//! page). `vidkryto dev` runs it for its simulated residents and officials, and the tests
//! sign in through it. Every login name is accepted: it is a simulation, never a production
//! provider.
//!
//! It finds Node.js as `$VIDKRYTO_NODEJS` or `node` on the `PATH`, and the scripts (with their
//! `node_modules`, which `deploy/local/setup.sh` installs) in `$VIDKRYTO_OIDC_DIR` or the
//! repository's `deploy/oidc`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// Longest wait for the provider to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for one sign-in run (per resident, plus a start-up allowance).
const SIGN_IN_TIMEOUT_EACH: Duration = Duration::from_millis(200);
const SIGN_IN_TIMEOUT_BASE: Duration = Duration::from_secs(20);
/// Most residents signed in by one call.
pub const SIGN_INS_MAX: usize = 100_000;

/// A client registered at the provider (a node, or an app on a resident's device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegisteredClient {
    pub client_id: String,
    /// None: a public client (PKCE only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
}

impl RegisteredClient {
    /// A public client with one loopback redirect URI, as a resident's app is.
    pub fn public(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: None,
            redirect_uris: vec![REDIRECT_URI.to_owned()],
        }
    }
}

/// The redirect URI the sign-in script uses for apps (nothing listens there: the script reads
/// the code from the redirect itself).
pub const REDIRECT_URI: &str = "http://127.0.0.1/signed-in";

/// What the provider is started with.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProviderConfig {
    pub clients: Vec<RegisteredClient>,
    /// Staff logins and their role names (`moderator`, `official`, `coordinator`,
    /// `administrator`).
    pub staff: std::collections::BTreeMap<String, Vec<String>>,
    /// What the provider attests of some logins (date of birth, residence).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub people: std::collections::BTreeMap<String, Attested>,
    /// What it attests of every other login; `None`: nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_person: Option<Attested>,
    /// A residence for logins that have none, by the client they sign in to (a demo's
    /// hromadas: every demo resident lives where they sign in).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub client_residences: std::collections::BTreeMap<String, String>,
    /// ID token lifetime; 0 for the provider's default (600 s).
    #[serde(skip_serializing_if = "is_zero")]
    pub id_token_ttl_seconds: u32,
    /// 0 for a free port.
    pub port: u16,
}

/// What the provider attests of a person, as a real one does: the standard `birthdate` claim
/// (`YYYY-MM-DD`) and the KATOTTG code of their registered residence (`vidkryto_residence`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Attested {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residence: Option<String>,
}

impl Attested {
    pub fn new(birthdate: &str, residence: &str) -> Self {
        Self {
            birthdate: Some(birthdate.to_owned()),
            residence: Some(residence.to_owned()),
        }
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A running provider, killed when dropped.
#[derive(Debug)]
pub struct DevProvider {
    child: Child,
    issuer: String,
    _config_dir: tempfile::TempDir,
}

#[derive(Deserialize)]
struct Listening {
    issuer: String,
}

/// A signed-in resident's ID token.
#[derive(Clone, Debug, Deserialize)]
pub struct SignedIn {
    pub login: String,
    pub id_token: String,
    pub nonce: String,
}

/// Node.js: `$VIDKRYTO_NODEJS`, else `node` on the `PATH`.
pub fn nodejs() -> PathBuf {
    std::env::var_os("VIDKRYTO_NODEJS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// The provider's scripts: `$VIDKRYTO_OIDC_DIR`, else the repository's `deploy/oidc`.
pub fn scripts_dir() -> PathBuf {
    let dir = std::env::var_os("VIDKRYTO_OIDC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/oidc"));
    dir.canonicalize().unwrap_or(dir)
}

impl DevProvider {
    /// Starts the provider and waits until it listens.
    pub async fn start(config: &ProviderConfig) -> anyhow::Result<Self> {
        let dir = scripts_dir();
        if !dir.join("node_modules/oidc-provider").is_dir() {
            bail!(
                "{} has no node_modules/oidc-provider: run deploy/local/setup.sh",
                dir.display()
            );
        }
        let config_dir = tempfile::tempdir()?;
        let config_path = config_dir.path().join("provider.json");
        std::fs::write(&config_path, serde_json::to_vec(config)?)?;
        let mut child = Command::new(nodejs())
            .arg(dir.join("provider.mjs"))
            .arg("--config")
            .arg(&config_path)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("failed to run {} (Node.js)", nodejs().display()))?;
        let stdout = child.stdout.take().context("no stdout of the provider")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(START_TIMEOUT, lines.next_line())
            .await
            .context("the OpenID provider did not start in time")??
            .context("the OpenID provider exited at start")?;
        let listening: Listening = serde_json::from_str(&line)
            .with_context(|| format!("the provider printed {line:?}"))?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            issuer: listening.issuer,
            _config_dir: config_dir,
        })
    }

    /// Its issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs `login` in for the public client `client_id`; returns the ID token.
    pub async fn sign_in(&self, client_id: &str, login: &str) -> anyhow::Result<String> {
        let mut signed = self.sign_in_many(client_id, login, None).await?;
        Ok(signed.remove(0).id_token)
    }

    /// Signs in `count` residents `<prefix>-0` …, or `prefix` alone when `count` is None.
    pub async fn sign_in_many(
        &self,
        client_id: &str,
        prefix: &str,
        count: Option<usize>,
    ) -> anyhow::Result<Vec<SignedIn>> {
        let n = count.unwrap_or(1);
        if n == 0 || n > SIGN_INS_MAX {
            bail!("sign in 1 to {SIGN_INS_MAX} residents at once, not {n}");
        }
        let dir = scripts_dir();
        let mut command = Command::new(nodejs());
        command
            .arg(dir.join("sign-in.mjs"))
            .args(["--issuer", &self.issuer, "--client-id", client_id])
            .args(["--redirect-uri", REDIRECT_URI, "--login", prefix])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(count) = count {
            command.args(["--count", &count.to_string()]);
        }
        let timeout = SIGN_IN_TIMEOUT_BASE + SIGN_IN_TIMEOUT_EACH * n as u32;
        let output = tokio::time::timeout(timeout, command.output())
            .await
            .context("signing in took too long")??;
        if !output.status.success() {
            bail!(
                "sign-in failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let signed = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str::<SignedIn>(l).context("a sign-in line"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if signed.len() != n {
            bail!("{} of {n} residents signed in", signed.len());
        }
        Ok(signed)
    }

    /// Stops the provider.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
