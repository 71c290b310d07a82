//! The TLS of the node's gRPC listener (rustls through tonic): a certificate and key the
//! operator gives, or for development on loopback one the node makes itself (kept in
//! `tls/self-signed.crt` and `tls/self-signed.key` in the node's directory, so clients can
//! trust it); optionally a CA whose certificates identify machine clients (mTLS, optional per
//! connection: residents' apps present none).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// The self-signed certificate's file, relative to the node's directory.
pub const SELF_SIGNED_CERT: &str = "tls/self-signed.crt";
/// Its key's file (readable by the owner only).
pub const SELF_SIGNED_KEY: &str = "tls/self-signed.key";
/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the listener's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeTls {
    /// A PEM certificate chain and its PEM key.
    Files {
        cert: PathBuf,
        key: PathBuf,
        client_ca: Option<PathBuf>,
    },
    /// One the node makes for `localhost`, `127.0.0.1` and `::1`.
    SelfSigned { client_ca: Option<PathBuf> },
}

/// The listener's TLS configuration, making the self-signed certificate if asked and absent.
pub fn server_config(
    dir: &Path,
    tls: &NodeTls,
    listen: SocketAddr,
) -> anyhow::Result<ServerTlsConfig> {
    let (cert, key, client_ca) = match tls {
        NodeTls::Files {
            cert,
            key,
            client_ca,
        } => {
            let cert_pem = std::fs::read_to_string(cert)
                .with_context(|| format!("failed to read the certificate {}", cert.display()))?;
            let key_pem = wire::read_secret_file(key)?;
            (cert_pem, key_pem, client_ca)
        }
        NodeTls::SelfSigned { client_ca } => {
            if !listen.ip().is_loopback() {
                bail!(
                    "a self-signed certificate is for development on loopback; {listen} needs tls.cert and tls.key"
                );
            }
            let (cert_pem, key_pem) = self_signed(dir)?;
            (cert_pem, key_pem, client_ca)
        }
    };
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key))
        .timeout(HANDSHAKE_TIMEOUT);
    if let Some(ca) = client_ca {
        let pem = std::fs::read_to_string(ca)
            .with_context(|| format!("failed to read the client CA {}", ca.display()))?;
        config = config
            .client_ca_root(Certificate::from_pem(pem))
            .client_auth_optional(true);
    }
    Ok(config)
}

/// The node's self-signed certificate and key, made on first use.
pub fn self_signed(dir: &Path) -> anyhow::Result<(String, String)> {
    let cert_path = dir.join(SELF_SIGNED_CERT);
    let key_path = dir.join(SELF_SIGNED_KEY);
    if cert_path.exists() && key_path.exists() {
        let cert = std::fs::read_to_string(&cert_path)
            .with_context(|| format!("failed to read {}", cert_path.display()))?;
        return Ok((cert, wire::read_secret_file(&key_path)?));
    }
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .context("failed to make a self-signed certificate")?;
    let cert = certified.cert.pem();
    let key = certified.signing_key.serialize_pem();
    let tls_dir = dir.join("tls");
    std::fs::create_dir_all(&tls_dir)
        .with_context(|| format!("failed to create {}", tls_dir.display()))?;
    let _ = std::fs::remove_file(&key_path);
    wire::write_secret_file(&key_path, &key)
        .with_context(|| format!("failed to write {}", key_path.display()))?;
    std::fs::write(&cert_path, &cert)
        .with_context(|| format!("failed to write {}", cert_path.display()))?;
    Ok((cert, key))
}
