//! A private certificate authority for test topologies, as the association runs one for its
//! hub's leaf-node port: the hub presents a certificate it signed, and each hromada's leaf
//! trusts that authority alone.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A certificate authority whose files live in a temporary directory.
#[derive(Debug)]
pub struct TestCa {
    dir: tempfile::TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server's certificate and private key, as PEM files.
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TestCa {
    /// A new authority named `name`, its certificate written to [`TestCa::ca_file`].
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("vidkryto-ca-")
            .tempdir()
            .context("failed to create the authority's directory")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let ca = Self { dir, issuer };
        write(&ca.ca_file(), &ca.issuer.pem())?;
        Ok(ca)
    }

    /// The authority's certificate (PEM), what clients trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses), written as
    /// `<file_stem>.pem` and `<file_stem>-key.pem`.
    pub fn server_cert(&self, file_stem: &str, names: &[&str]) -> anyhow::Result<ServerCert> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        self.issue(file_stem, CertificateParams::new(names)?)
    }

    /// Issues a TLS client certificate (for a machine client's mutual TLS) named `file_stem`,
    /// written as `<file_stem>.pem` and `<file_stem>-key.pem`.
    pub fn client_cert(&self, file_stem: &str) -> anyhow::Result<ServerCert> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(file_stem, params)
    }

    fn issue(&self, file_stem: &str, mut params: CertificateParams) -> anyhow::Result<ServerCert> {
        params
            .distinguished_name
            .push(DnType::CommonName, file_stem);
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let cert_file = self.dir.path().join(format!("{file_stem}.pem"));
        let key_file = self.dir.path().join(format!("{file_stem}-key.pem"));
        write(&cert_file, &cert.pem())?;
        write(&key_file, &key.serialize_pem())?;
        Ok(ServerCert {
            cert_file,
            key_file,
        })
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}
