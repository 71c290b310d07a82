//! Machine clients: programs the hromada lets write through the node (an existing e-petition
//! platform feeding it, the council's document system), each with a name and the permissions
//! the operator gave it. A client proves itself with an API token (`vkt_` and 43 characters of
//! base64url: 256 random bits), of which the node keeps only the SHA-256, or with a TLS client
//! certificate, of which it keeps the SHA-256 of the DER bytes. They are kept in
//! `clients.toml` in the node's directory, readable by its owner only; `vidkryto node client
//! add | remove | list` edit it and a running node reads it again within two seconds of a
//! change, so a removed client is refused from then on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::permission::Permission;
use super::watched::{Watched, locked, read_toml, write_toml};

/// The file's name in the node's directory.
pub const CLIENTS_FILE: &str = "clients.toml";
/// Every API token starts so, which lets secret scanners find leaked ones.
pub const TOKEN_PREFIX: &str = "vkt_";
/// Longest client name.
pub const NAME_LEN_MAX: usize = 64;
/// Most clients in the file.
pub const CLIENTS_MAX: usize = 1_000;

/// One client as the file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub name: String,
    pub permissions: Vec<Permission>,
    /// SHA-256 of its API token, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// SHA-256 of its TLS client certificate's DER bytes, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
    /// When it was added (RFC 3339, UTC).
    pub created: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default, rename = "client")]
    clients: Vec<ClientEntry>,
}

/// A client the node knows, as a request proved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// How a new client proves itself.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A fresh API token, printed once.
    Token,
    /// The TLS client certificate in this PEM file.
    Certificate(PathBuf),
}

/// Checks a client name: 1 to 64 of `a-z`, `0-9`, `-`, `_`, `.`.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= NAME_LEN_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !ok {
        bail!("a client name is 1 to {NAME_LEN_MAX} of a-z, 0-9, '-', '_', '.'; not {name:?}");
    }
    Ok(())
}

fn hex_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read_file(dir: &Path) -> anyhow::Result<ClientsFile> {
    let path = dir.join(CLIENTS_FILE);
    let file: ClientsFile = read_toml(&path)?;
    if file.clients.len() > CLIENTS_MAX {
        bail!("{} lists more than {CLIENTS_MAX} clients", path.display());
    }
    Ok(file)
}

fn write_file(dir: &Path, file: &ClientsFile) -> anyhow::Result<()> {
    write_toml(
        &dir.join(CLIENTS_FILE),
        "Machine clients of this node: `vidkryto node client add | remove | list`.",
        file,
    )
}

/// Adds a client; returns its API token when it proves itself by token (shown only now).
pub fn add(
    dir: &Path,
    name: &str,
    permissions: Vec<Permission>,
    credential: Credential,
) -> anyhow::Result<Option<String>> {
    check_name(name)?;
    if permissions.is_empty() {
        bail!("a client needs at least one permission");
    }
    locked(&dir.join(CLIENTS_FILE), || {
        let mut file = read_file(dir)?;
        if file.clients.iter().any(|c| c.name == name) {
            bail!("a client named {name:?} exists already (remove it first)");
        }
        if file.clients.len() >= CLIENTS_MAX {
            bail!("the node has {CLIENTS_MAX} clients already");
        }
        let (token, token_sha256, certificate_sha256) = match credential {
            Credential::Token => {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let token = format!(
                    "{TOKEN_PREFIX}{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
                );
                let digest = hex_digest(token.as_bytes());
                (Some(token), Some(digest), None)
            }
            Credential::Certificate(path) => {
                let pem = std::fs::read(&path)
                    .with_context(|| format!("failed to read {}", path.display()))?;
                let der = first_certificate_der(&pem)
                    .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
                (None, None, Some(hex_digest(&der)))
            }
        };
        let mut permissions = permissions;
        permissions.sort();
        permissions.dedup();
        file.clients.push(ClientEntry {
            name: name.to_owned(),
            permissions,
            token_sha256,
            certificate_sha256,
            created: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        });
        write_file(dir, &file)?;
        Ok(token)
    })
}

/// Removes a client by name.
pub fn remove(dir: &Path, name: &str) -> anyhow::Result<()> {
    locked(&dir.join(CLIENTS_FILE), || {
        let mut file = read_file(dir)?;
        let before = file.clients.len();
        file.clients.retain(|c| c.name != name);
        if file.clients.len() == before {
            bail!("no client named {name:?}");
        }
        write_file(dir, &file)
    })
}

/// The clients, as the file lists them.
pub fn list(dir: &Path) -> anyhow::Result<Vec<ClientEntry>> {
    Ok(read_file(dir)?.clients)
}

fn first_certificate_der(pem: &[u8]) -> Option<Vec<u8>> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    CertificateDer::pem_slice_iter(pem)
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

/// What the running node looks clients up in.
#[derive(Debug, Default)]
struct Index {
    by_token: HashMap<[u8; 32], Arc<Client>>,
    by_certificate: HashMap<[u8; 32], Arc<Client>>,
}

fn parse_digest(hex_text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(hex_text).ok()?;
    bytes.try_into().ok()
}

impl Index {
    fn of(file: &ClientsFile) -> Self {
        let mut index = Self::default();
        for entry in &file.clients {
            let client = Arc::new(Client {
                name: entry.name.clone(),
                permissions: entry.permissions.clone(),
            });
            if let Some(d) = entry.token_sha256.as_deref().and_then(parse_digest) {
                index.by_token.insert(d, client.clone());
            }
            if let Some(d) = entry.certificate_sha256.as_deref().and_then(parse_digest) {
                index.by_certificate.insert(d, client);
            }
        }
        index
    }
}

/// The clients a running node knows, read again when the file changes.
#[derive(Debug)]
pub struct ClientRegistry(Watched<Index>);

impl ClientRegistry {
    /// Reads the node's clients (none when the file does not exist).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self(Watched::open(dir.join(CLIENTS_FILE), |path| {
            Ok(Index::of(&read_file(path.parent().unwrap_or(path))?))
        })?))
    }

    /// Reads the file again if it changed since last read. A file that no longer reads fails
    /// closed: no client is known until it reads again (and it is reported).
    pub fn reload_if_changed(&self) -> anyhow::Result<bool> {
        self.0.reload_if_changed()
    }

    /// The client whose API token this is.
    pub fn by_token(&self, token: &str) -> Option<Arc<Client>> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.0.get().by_token.get(&digest).cloned()
    }

    /// The client whose TLS certificate (DER) this is.
    pub fn by_certificate(&self, der: &[u8]) -> Option<Arc<Client>> {
        let digest: [u8; 32] = Sha256::digest(der).into();
        self.0.get().by_certificate.get(&digest).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_only_as_its_digest_and_found_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ClientRegistry::open(dir.path()).unwrap();
        let token = add(
            dir.path(),
            "e-petitions",
            vec![Permission::Participate],
            Credential::Token,
        )
        .unwrap()
        .unwrap();
        assert!(
            token.starts_with(TOKEN_PREFIX) && token.len() == 47,
            "{token}"
        );
        let text = std::fs::read_to_string(dir.path().join(CLIENTS_FILE)).unwrap();
        assert!(
            !text.contains(&token[4..]),
            "the token itself is not stored"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(CLIENTS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The registry sees the change when asked to look again.
        assert!(registry.by_token(&token).is_none());
        assert!(registry.reload_if_changed().unwrap());
        let client = registry.by_token(&token).unwrap();
        assert_eq!(client.name, "e-petitions");
        assert_eq!(client.permissions, vec![Permission::Participate]);
        assert!(registry.by_token("vkt_guess").is_none());
        // Names are checked and unique.
        assert!(
            add(
                dir.path(),
                "e-petitions",
                vec![Permission::Moderate],
                Credential::Token
            )
            .is_err()
        );
        assert!(
            add(
                dir.path(),
                "Bad Name",
                vec![Permission::Moderate],
                Credential::Token
            )
            .is_err()
        );
        assert!(add(dir.path(), "nothing", vec![], Credential::Token).is_err());
        remove(dir.path(), "e-petitions").unwrap();
        assert!(registry.reload_if_changed().unwrap());
        assert!(registry.by_token(&token).is_none());
        assert!(remove(dir.path(), "e-petitions").is_err());
    }
}
