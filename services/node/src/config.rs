//! The node's settings: a TOML file in the node's directory, then environment variables, then
//! command-line flags; and `init`, which creates that directory with the node's signing key and
//! pseudonym secret (readable only by their owner) and a config file to edit. The key and the
//! secret are read through `wire::read_secret_file`, which refuses them when their group or
//! others have any permission on them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use domain::CivilDate;
use domain::petition::StatuteRule;
use event_store::CheckpointPolicy;
use event_store_core::checkpoint::NoteSigner;
use event_store_core::{MunicipalityCode, origin_for};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

use crate::auth::oidc::OidcSettings;
use crate::store::StoreLocation;
use crate::tls::NodeTls;

/// The config file's name in the node's directory.
pub const CONFIG_FILE: &str = "node.toml";
/// The signing key's file name.
pub const KEY_FILE: &str = "node.key";
/// The verifier key's file name (public; send it to the association).
pub const VKEY_FILE: &str = "node.vkey";
/// The pseudonym secret's file name.
pub const SECRET_FILE: &str = "pseudonym.secret";
/// Largest request accepted, in bytes: the longest command (a 20,000-character answer in
/// Cyrillic) is about 80 KiB.
pub const REQUEST_SIZE_MAX_DEFAULT: u32 = 256 * 1024;
/// Bounds of the request size setting.
const REQUEST_SIZE_MAX_LIMIT: u32 = 4 * 1024 * 1024;

/// The statute's petition rule, as the operator writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatuteSettings {
    pub signature_threshold: u32,
    pub collection_period_days: u16,
    #[serde(default = "default_answer_days")]
    pub answer_deadline_working_days: u16,
    #[serde(default = "default_rule_version")]
    pub rule_version: u32,
}

fn default_answer_days() -> u16 {
    10
}
fn default_rule_version() -> u32 {
    1
}

/// The config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The municipality's KATOTTG code.
    pub municipality: String,
    /// gRPC listen address.
    pub listen: String,
    /// Prometheus metrics listen address (`/metrics`); empty to disable.
    #[serde(default)]
    pub metrics_listen: String,
    /// The log: a SQLite file (relative to the node's directory; a `sqlite:` prefix is
    /// allowed) or a `postgres://` URL, as [`StoreLocation::parse`] reads it.
    pub storage: String,
    /// The NATS server the relay publishes to (the node's leaf node); empty to run offline.
    #[serde(default)]
    pub nats_url: String,
    pub statute: StatuteSettings,
    /// The hromada's non-working dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub non_working_dates: Vec<String>,
    #[serde(default = "default_every_events")]
    pub checkpoint_every_events: u32,
    #[serde(default = "default_every_ms")]
    pub checkpoint_every_ms: u32,
    #[serde(default = "default_request_size")]
    pub request_size_max_bytes: u32,
    /// The OpenID provider residents and staff sign in at; none: only machine clients write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
    /// TLS of the gRPC listener; none: plain text, credentials taken only from loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// The built web pages the node serves on its listener beside the gRPC-Web API (a
    /// directory with an `index.html`, relative to the node's directory); none: no pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_dir: Option<String>,
    /// The association's public API as residents' browsers reach it (`https://host[:port]`;
    /// `http://` only on loopback):
    /// the portal fetches the checkpoints, proofs and keys of residents' receipts from there,
    /// not from this node. None: the portal shows no receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_url: Option<String>,
}

/// The `[oidc]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as it names itself.
    pub issuer: String,
    /// The node's client id there (every ID token's audience).
    pub client_id: String,
    /// JWS algorithms accepted (default RS256, PS256, ES256).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// The claim holding staff roles (default `vidkryto_roles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_claim: Option<String>,
    /// The claim holding the KATOTTG code of a person's registered residence, which budget
    /// rounds open to residents only read (default `vidkryto_residence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_claim: Option<String>,
    /// Set only when the provider attests `birthdate` and the residence claim from a register
    /// (ID.gov.ua: Diia, BankID), not as users typed them; without it both are ignored and
    /// budget ballots are refused for want of an attested age.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attests_birthdate_and_residence: bool,
    /// This node's callback as registered at the provider (`https://…/auth/callback`; plain
    /// `http` only on loopback): set, the node runs the sign-in for its web pages itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// A file (relative to the node's directory, readable only by its owner) holding the
    /// node's client secret, when the provider registered it as a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
}

impl OidcConfig {
    /// The provider's settings, with the web sign-in when `redirect_url` is set.
    fn settings(self, dir: &Path) -> anyhow::Result<OidcSettings> {
        let mut settings = OidcSettings::new(
            self.issuer,
            self.client_id,
            &self.algorithms,
            self.roles_claim,
        )?;
        settings.attests_birthdate_and_residence = self.attests_birthdate_and_residence;
        if let Some(claim) = self.residence_claim {
            anyhow::ensure!(
                !claim.trim().is_empty(),
                "oidc.residence_claim must not be empty"
            );
            settings.residence_claim = claim;
        }
        if let Some(redirect_url) = self.redirect_url {
            let url = openidconnect::url::Url::parse(&redirect_url)
                .with_context(|| format!("oidc.redirect_url: {redirect_url:?} is not a URL"))?;
            let loopback = match url.host() {
                Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(openidconnect::url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
                bail!("oidc.redirect_url must be https (plain http only on loopback)");
            }
            if url.path() != "/auth/callback" || url.query().is_some() {
                bail!("oidc.redirect_url must end in /auth/callback, with no query");
            }
            let client_secret = self
                .client_secret_file
                .map(|f| wire::read_secret_file(&dir.join(f)).map(|s| s.trim().to_owned()))
                .transpose()?;
            settings.web = Some(crate::auth::oidc::WebSignInSettings {
                redirect_url,
                client_secret,
            });
        } else if self.client_secret_file.is_some() {
            bail!("oidc.client_secret_file is for the web sign-in: set oidc.redirect_url too");
        }
        Ok(settings)
    }
}

/// The `[tls]` table: `cert` and `key` (PEM files, relative to the node's directory), or
/// `self_signed = true` on loopback; `client_ca` for machine clients' certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_ca: String,
    #[serde(default)]
    pub self_signed: bool,
}

impl TlsConfig {
    fn settings(&self, dir: &Path) -> anyhow::Result<NodeTls> {
        let path = |p: &str| (!p.is_empty()).then(|| dir.join(p));
        let client_ca = path(&self.client_ca);
        match (path(&self.cert), path(&self.key), self.self_signed) {
            (Some(cert), Some(key), false) => Ok(NodeTls::Files {
                cert,
                key,
                client_ca,
            }),
            (None, None, true) => Ok(NodeTls::SelfSigned { client_ca }),
            _ => bail!("tls: give both cert and key, or self_signed = true"),
        }
    }
}

fn default_every_events() -> u32 {
    CheckpointPolicy::default().every_events
}
fn default_every_ms() -> u32 {
    CheckpointPolicy::default().every_ms
}
fn default_request_size() -> u32 {
    REQUEST_SIZE_MAX_DEFAULT
}

/// Settings that flags or the environment may override.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub listen: Option<String>,
    pub metrics_listen: Option<String>,
    pub storage: Option<String>,
    pub nats_url: Option<String>,
}

impl Overrides {
    /// `VIDKRYTO_NODE_LISTEN`, `…_METRICS_LISTEN`, `…_STORAGE`, `…_NATS_URL`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok();
        Self {
            listen: var("VIDKRYTO_NODE_LISTEN"),
            metrics_listen: var("VIDKRYTO_NODE_METRICS_LISTEN"),
            storage: var("VIDKRYTO_NODE_STORAGE"),
            nats_url: var("VIDKRYTO_NODE_NATS_URL"),
        }
    }

    /// `self` where set, else `base`.
    pub fn or(self, base: Self) -> Self {
        Self {
            listen: self.listen.or(base.listen),
            metrics_listen: self.metrics_listen.or(base.metrics_listen),
            storage: self.storage.or(base.storage),
            nats_url: self.nats_url.or(base.nats_url),
        }
    }
}

/// Everything a running node needs, checked. Its `Debug` shows URLs without their passwords
/// and never the key or the secret.
#[derive(Clone)]
pub struct NodeSettings {
    pub dir: PathBuf,
    pub municipality: MunicipalityCode,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    /// The log, a relative SQLite path already resolved against `dir`.
    pub storage: StoreLocation,
    pub nats_url: Option<String>,
    pub statute: StatuteRule,
    pub non_working_dates: Vec<CivilDate>,
    pub checkpoints: CheckpointPolicy,
    pub request_size_max_bytes: u32,
    pub signer: NoteSigner,
    pub secret: [u8; 32],
    pub oidc: Option<OidcSettings>,
    pub tls: Option<NodeTls>,
    pub portal_dir: Option<PathBuf>,
    /// The association's public API, an origin ([`association_origin`]).
    pub association_url: Option<String>,
}

impl std::fmt::Debug for NodeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            dir,
            municipality,
            listen,
            metrics_listen,
            storage,
            nats_url,
            statute,
            non_working_dates,
            checkpoints,
            request_size_max_bytes,
            signer,
            secret: _,
            oidc,
            tls,
            portal_dir,
            association_url,
        } = self;
        f.debug_struct("NodeSettings")
            .field("dir", dir)
            .field("municipality", municipality)
            .field("listen", listen)
            .field("metrics_listen", metrics_listen)
            .field("storage", storage)
            .field("nats_url", &nats_url.as_deref().map(wire::redacted_url))
            .field("statute", statute)
            .field("non_working_dates", non_working_dates)
            .field("checkpoints", checkpoints)
            .field("request_size_max_bytes", request_size_max_bytes)
            .field("signer", signer)
            .field("secret", &"<redacted>")
            .field("oidc", oidc)
            .field("tls", tls)
            .field("portal_dir", portal_dir)
            .field("association_url", association_url)
            .finish()
    }
}

impl NodeSettings {
    /// Reads the node's directory: its config file with `overrides` applied (flags first, then
    /// the environment), its key and its secret.
    pub fn load(dir: &Path, overrides: Overrides) -> anyhow::Result<Self> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "failed to read {} (run `vidkryto node init`)",
                path.display()
            )
        })?;
        let mut config: NodeConfig = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid node config", path.display()))?;
        let o = overrides.or(Overrides::from_env());
        if let Some(v) = o.listen {
            config.listen = v;
        }
        if let Some(v) = o.metrics_listen {
            config.metrics_listen = v;
        }
        if let Some(v) = o.storage {
            config.storage = v;
        }
        if let Some(v) = o.nats_url {
            config.nats_url = v;
        }
        Self::from_config(dir, config)
    }

    fn from_config(dir: &Path, c: NodeConfig) -> anyhow::Result<Self> {
        let municipality = MunicipalityCode::parse(&c.municipality).context("municipality")?;
        let listen = c
            .listen
            .parse()
            .with_context(|| format!("listen: {:?} is not an address", c.listen))?;
        let metrics_listen = if c.metrics_listen.is_empty() {
            None
        } else {
            Some(
                c.metrics_listen
                    .parse()
                    .with_context(|| format!("metrics_listen: {:?}", c.metrics_listen))?,
            )
        };
        let statute = StatuteRule {
            signature_threshold: c.statute.signature_threshold,
            collection_period_days: c.statute.collection_period_days,
            answer_deadline_working_days: c.statute.answer_deadline_working_days,
            rule_version: c.statute.rule_version,
        };
        let non_working_dates = c
            .non_working_dates
            .iter()
            .map(|d| {
                d.parse::<CivilDate>()
                    .map_err(|e| anyhow::anyhow!("non_working_dates: {d:?}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let checkpoints = CheckpointPolicy {
            every_events: c.checkpoint_every_events,
            every_ms: c.checkpoint_every_ms,
        };
        checkpoints.validate().context("checkpoint settings")?;
        if c.request_size_max_bytes < 1024 || c.request_size_max_bytes > REQUEST_SIZE_MAX_LIMIT {
            bail!("request_size_max_bytes must be 1024..={REQUEST_SIZE_MAX_LIMIT}");
        }
        let storage = StoreLocation::parse(&c.storage)
            .context("storage")?
            .relative_to(dir);
        let signer = read_key(&dir.join(KEY_FILE), &municipality)?;
        let secret = read_secret(&dir.join(SECRET_FILE))?;
        let oidc = c.oidc.map(|o| o.settings(dir)).transpose()?;
        let tls = c.tls.map(|t| t.settings(dir)).transpose()?;
        let portal_dir = c.portal_dir.map(|p| dir.join(p));
        let association_url = c
            .association_url
            .as_deref()
            .map(association_origin)
            .transpose()
            .context("association_url")?;
        Ok(Self {
            dir: dir.to_owned(),
            municipality,
            listen,
            metrics_listen,
            storage,
            nats_url: (!c.nats_url.is_empty()).then_some(c.nats_url),
            statute,
            non_working_dates,
            checkpoints,
            request_size_max_bytes: c.request_size_max_bytes,
            signer,
            secret,
            oidc,
            tls,
            portal_dir,
            association_url,
        })
    }
}

/// An origin a browser may fetch from: `http[s]://host[:port]`, nothing else (no user, path,
/// query or character that could end a content security policy's source list).
pub fn association_origin(text: &str) -> anyhow::Result<String> {
    let uri: http::Uri = text
        .parse()
        .with_context(|| format!("{text:?} is not a URL"))?;
    let scheme = uri
        .scheme_str()
        .filter(|s| *s == "https" || *s == "http")
        .with_context(|| format!("{text:?} is not an http:// or https:// URL"))?;
    let authority = uri
        .authority()
        .map(http::uri::Authority::as_str)
        .filter(|a| {
            !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .with_context(|| format!("{text:?} names no plain host and port"))?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        bail!("{text:?} must be an origin (scheme, host and port), with no path or query");
    }
    // Receipts fetched in the clear could be rewritten on the way: plain http only on this
    // machine (development).
    let loopback = uri.host().is_some_and(|h| {
        crate::auth::http::is_loopback_host(h.trim_start_matches('[').trim_end_matches(']'))
    });
    if scheme == "http" && !loopback {
        bail!("{text:?}: the association must be reached over https (plain http only on loopback)");
    }
    Ok(format!("{scheme}://{authority}"))
}

/// Writes a new owner-only file (`wire::write_secret_file`), naming it in the error.
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    wire::write_secret_file(path, text)
        .with_context(|| format!("failed to write {}", path.display()))
}

fn read_key(path: &Path, municipality: &MunicipalityCode) -> anyhow::Result<NoteSigner> {
    let text = wire::read_secret_file(path)?;
    let signer = NoteSigner::parse(&text)
        .with_context(|| format!("{} is not a node key", path.display()))?;
    if signer.name() != origin_for(municipality) {
        bail!(
            "{} is the key of {}, not of {municipality}",
            path.display(),
            signer.name()
        );
    }
    Ok(signer)
}

fn read_secret(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = wire::read_secret_file(path)?;
    let text = text.trim();
    if text.len() != 64 {
        bail!("{} must hold 64 hex digits", path.display());
    }
    let mut secret = [0u8; 32];
    for (i, byte) in secret.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .with_context(|| format!("{} must hold 64 hex digits", path.display()))?;
    }
    Ok(secret)
}

/// A fresh signing key for `municipality`'s node, named by its log's origin.
pub fn new_node_key(municipality: &MunicipalityCode) -> anyhow::Result<NoteSigner> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    Ok(NoteSigner::from_seed(&origin_for(municipality), seed)?)
}

/// What `init` is told.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub municipality: MunicipalityCode,
    pub statute: StatuteSettings,
    pub listen: String,
    pub nats_url: String,
    pub storage: String,
}

/// Creates a node's directory: key, verifier key, pseudonym secret and config. Refuses a
/// directory that already holds a node. Returns the verifier key text.
pub fn init(dir: &Path, o: &InitOptions) -> anyhow::Result<String> {
    if dir.join(CONFIG_FILE).exists() || dir.join(KEY_FILE).exists() {
        bail!("{} already holds a node", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let signer = new_node_key(&o.municipality)?;
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let config = NodeConfig {
        municipality: o.municipality.to_string(),
        listen: o.listen.clone(),
        metrics_listen: String::new(),
        storage: o.storage.clone(),
        nats_url: o.nats_url.clone(),
        statute: o.statute,
        non_working_dates: Vec::new(),
        checkpoint_every_events: default_every_events(),
        checkpoint_every_ms: default_every_ms(),
        request_size_max_bytes: REQUEST_SIZE_MAX_DEFAULT,
        oidc: None,
        tls: None,
        portal_dir: None,
        association_url: None,
    };
    let toml = toml::to_string_pretty(&config).context("failed to write the config")?;
    write_secret(
        &dir.join(KEY_FILE),
        &format!("{}\n", signer.to_private_text()),
    )?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    write_secret(&dir.join(SECRET_FILE), &format!("{hex}\n"))?;
    let vkey = signer.verifier().to_text();
    std::fs::write(dir.join(VKEY_FILE), format!("{vkey}\n"))?;
    std::fs::write(
        dir.join(CONFIG_FILE),
        format!("# vidkryto node of {}\n{toml}", o.municipality),
    )?;
    Ok(vkey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> InitOptions {
        InitOptions {
            municipality: MunicipalityCode::parse("UA74040130000074451").unwrap(),
            statute: StatuteSettings {
                signature_threshold: 100,
                collection_period_days: 60,
                answer_deadline_working_days: 10,
                rule_version: 1,
            },
            listen: "127.0.0.1:50051".into(),
            nats_url: "nats://127.0.0.1:4222".into(),
            storage: "node.sqlite".into(),
        }
    }

    #[test]
    fn init_writes_owner_only_secrets_and_a_config_that_loads() {
        let dir = tempfile::tempdir().unwrap();
        let vkey = init(dir.path(), &options()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for file in [KEY_FILE, SECRET_FILE] {
                let mode = std::fs::metadata(dir.path().join(file))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{file}");
            }
        }
        let settings = NodeSettings::load(dir.path(), Overrides::default()).unwrap();
        assert_eq!(settings.signer.verifier().to_text(), vkey);
        assert_eq!(settings.statute.signature_threshold, 100);
        assert_eq!(settings.nats_url.as_deref(), Some("nats://127.0.0.1:4222"));
        // Flags win over the file.
        let flagged = Overrides {
            listen: Some("127.0.0.1:0".into()),
            nats_url: Some(String::new()),
            ..Overrides::default()
        };
        let settings = NodeSettings::load(dir.path(), flagged).unwrap();
        assert_eq!(settings.listen.port(), 0);
        assert_eq!(settings.nats_url, None, "an empty NATS URL runs offline");
        // A second init refuses to overwrite the node.
        assert!(init(dir.path(), &options()).is_err());
    }

    #[test]
    fn debug_never_prints_the_secret_the_key_or_a_password() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &options()).unwrap();
        let overrides = Overrides {
            storage: Some("postgres://node:db-s3cret@db.example:5432/node".into()),
            nats_url: Some("nats://node:nats-s3cret@leaf:4222".into()),
            ..Overrides::default()
        };
        let settings = NodeSettings::load(dir.path(), overrides).unwrap();
        let printed = format!("{settings:?}");
        let secret_hex: String = settings.secret.iter().map(|b| format!("{b:02x}")).collect();
        let key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        // `PRIVATE+KEY+<name>+<hash>+<base64>`; the base64 may itself hold `+`.
        let key_base64 = key.trim().splitn(5, '+').nth(4).unwrap();
        for hidden in ["db-s3cret", "nats-s3cret", &secret_hex, key_base64] {
            assert!(!printed.contains(hidden), "{hidden} in {printed}");
        }
        assert!(
            !printed.contains(&format!("{:?}", settings.secret)),
            "{printed}"
        );
        for shown in ["db.example:5432/node", "leaf:4222", "UA74040130000074451"] {
            assert!(printed.contains(shown), "{shown} not in {printed}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_or_secret_others_may_read_is_refused_naming_the_file_and_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &options()).unwrap();
        let chmod = |file: &str, mode: u32| {
            std::fs::set_permissions(dir.path().join(file), std::fs::Permissions::from_mode(mode))
                .unwrap();
        };
        for file in [KEY_FILE, SECRET_FILE] {
            chmod(file, 0o644);
            let err = NodeSettings::load(dir.path(), Overrides::default()).unwrap_err();
            let message = format!("{err:#}");
            assert!(
                matches!(
                    err.downcast_ref::<wire::SecretFileError>(),
                    Some(wire::SecretFileError::Exposed { mode: 0o644, .. })
                ),
                "{message}"
            );
            assert!(
                message.contains(file) && message.contains("0644"),
                "{message}"
            );
            assert!(message.contains("chmod 600"), "{message}");
            chmod(file, 0o600);
            NodeSettings::load(dir.path(), Overrides::default()).expect("600 is read");
        }
    }

    #[test]
    fn storage_is_read_by_the_one_parser_relative_to_the_node_directory() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &options()).unwrap();
        let load = |storage: &str| {
            let overrides = Overrides {
                storage: Some(storage.into()),
                ..Overrides::default()
            };
            NodeSettings::load(dir.path(), overrides).map(|s| s.storage)
        };
        let in_dir = StoreLocation::Sqlite(dir.path().join("node.sqlite"));
        assert_eq!(load("node.sqlite").unwrap(), in_dir);
        assert_eq!(load("sqlite:node.sqlite").unwrap(), in_dir);
        assert_eq!(
            load("sqlite:///abs/node.sqlite").unwrap(),
            StoreLocation::Sqlite("/abs/node.sqlite".into())
        );
        let url = "postgresql://postgres@127.0.0.1:5432/node";
        assert_eq!(load(url).unwrap(), StoreLocation::Postgres(url.into()));
        let err = load("").unwrap_err();
        assert!(
            format!("{err:#}").contains("storage: no log location given"),
            "{err:#}"
        );
    }

    #[test]
    fn bad_config_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &options()).unwrap();
        let path = dir.path().join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace(
                "checkpoint_every_events = 1000",
                "checkpoint_every_events = 0",
            ),
        )
        .unwrap();
        let err = NodeSettings::load(dir.path(), Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("checkpoint"), "{err:#}");
        std::fs::write(&path, "municipality = \"UA1\"\n").unwrap();
        assert!(NodeSettings::load(dir.path(), Overrides::default()).is_err());
    }

    #[test]
    fn the_association_url_is_an_origin_and_nothing_that_could_widen_the_policy() {
        assert_eq!(
            association_origin("https://vidkryto.auc.org.ua").unwrap(),
            "https://vidkryto.auc.org.ua"
        );
        assert_eq!(
            association_origin("http://127.0.0.1:50100/").unwrap(),
            "http://127.0.0.1:50100"
        );
        for bad in [
            "vidkryto.auc.org.ua",
            "http://vidkryto.auc.org.ua",
            "http://10.0.0.5:50100",
            "ftp://host",
            "https://host/path",
            "https://host/?q=1",
            "https://user@host",
            "https://host;script-src",
            "https://a,b",
            "https://host *",
            "",
        ] {
            assert!(association_origin(bad).is_err(), "{bad:?} was taken");
        }
    }
}
