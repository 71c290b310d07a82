//! TLS on the gRPC listener: the server's identity (a certificate chain and its private key,
//! PEM files) and the handshakes of admitted connections. One listener serves gRPC, gRPC-Web
//! and the dashboard's files, so ALPN offers HTTP/2 first (gRPC clients require it, browsers
//! prefer it) and HTTP/1.1 (gRPC-Web and `GET`s from clients without HTTP/2).

use std::future::ready;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// The protocols offered by ALPN, in the server's order of preference.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// What a client may take to finish its handshake; one that takes longer is dropped (its
/// connection still counts among the admitted ones until then).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The listener's TLS identity: a certificate chain and its private key, checked to match when
/// loaded. Its `Debug` names the certificate file, never the key.
#[derive(Clone)]
pub struct TlsIdentity {
    cert_file: PathBuf,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_file", &self.cert_file)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    /// Reads the certificate chain (PEM, the server's certificate first) and its private key
    /// (PEM: PKCS#8, PKCS#1 or SEC1), which, as every secret of the association, must be
    /// readable by its owner only (`wire::read_secret_file`).
    pub fn from_files(cert_file: &Path, key_file: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(cert_file).with_context(|| {
            format!("failed to read the TLS certificate {}", cert_file.display())
        })?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not a PEM certificate chain", cert_file.display()))?;
        anyhow::ensure!(
            !certs.is_empty(),
            "{} holds no certificate (`-----BEGIN CERTIFICATE-----`)",
            cert_file.display()
        );
        let key_pem = wire::read_secret_file(key_file).context("cannot use the TLS private key")?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).with_context(|| {
            format!(
                "{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                key_file.display()
            )
        })?;
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .with_context(|| {
                format!(
                    "the TLS key {} does not fit the certificate {}",
                    key_file.display(),
                    cert_file.display()
                )
            })?;
        config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(Self {
            cert_file: cert_file.to_owned(),
            config: Arc::new(config),
        })
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

/// The admitted connections of `incoming` after their TLS handshakes, which run concurrently
/// (at most `max` at once, as many as connections are admitted), each bounded in time; a
/// connection whose handshake fails or times out is closed and skipped. Accept errors pass on.
pub fn accept_tls<IO, S>(
    incoming: S,
    identity: &TlsIdentity,
    max: usize,
) -> impl Stream<Item = io::Result<TlsStream<IO>>> + use<IO, S>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Stream<Item = io::Result<IO>>,
{
    let acceptor = identity.acceptor();
    incoming
        .map(move |accepted| {
            let acceptor = acceptor.clone();
            async move {
                let io = match accepted {
                    Ok(io) => io,
                    Err(e) => return Some(Err(e)),
                };
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                    Ok(Ok(tls)) => Some(Ok(tls)),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        None
                    }
                    Err(_) => {
                        tracing::debug!(timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                        None
                    }
                }
            }
        })
        .buffer_unordered(max.max(1))
        .filter_map(ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn an_identity_needs_an_owner_only_key_that_fits_its_certificate() {
        let ca = testkit::TestCa::new("test CA").unwrap();
        let server = ca.server_cert("server", &["localhost"]).unwrap();
        let other = ca.server_cert("other", &["localhost"]).unwrap();
        chmod(&server.key_file, 0o644);
        let exposed = TlsIdentity::from_files(&server.cert_file, &server.key_file).unwrap_err();
        assert!(format!("{exposed:#}").contains("chmod 600"), "{exposed:#}");

        chmod(&server.key_file, 0o600);
        let identity = TlsIdentity::from_files(&server.cert_file, &server.key_file).unwrap();
        assert_eq!(
            identity.config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let shown = format!("{identity:?}");
        assert!(
            shown.contains("<redacted>") && !shown.contains("PRIVATE"),
            "{shown}"
        );

        chmod(&other.key_file, 0o600);
        let mismatched = TlsIdentity::from_files(&server.cert_file, &other.key_file).unwrap_err();
        assert!(
            format!("{mismatched:#}").contains("does not fit"),
            "{mismatched:#}"
        );
        let no_cert = TlsIdentity::from_files(&server.key_file, &server.key_file).unwrap_err();
        assert!(
            format!("{no_cert:#}").contains("holds no certificate"),
            "{no_cert:#}"
        );
    }
}
