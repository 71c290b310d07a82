//! TLS where traffic leaves the machine. The association's listener serves TLS with a
//! certificate from a private CA: gRPC (HTTP/2 by ALPN) takes an enrolment with the admin token
//! and an auditor exports, verifies and proves over `https://` trusting that CA, while without
//! it the export fails naming the certificate; gRPC-Web and the dashboard's files are served
//! over HTTP/1.1 on the same port. The association's database connections honour `sslmode`: a
//! throwaway PostgreSQL cluster with `ssl=on` is reached with `verify-full` against the CA that
//! issued its certificate (and refused under another CA), and `require` fails clearly against a
//! cluster without TLS. Admin calls over plain text from a peer other than loopback are refused
//! by `wire::credentials_transport_allowed`, unit-tested in `wire` (tests here
//! only have loopback).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use association::store::Store;
use auditor::Archive;
use auditor::export::{ExportOptions, export};
use auditor::prove::{Target, prove};
use system_tests::pg_cluster::{ThrowawayPg, postgres_or_skip};
use system_tests::{Civic, TestAssociation, TestNode, VINNYTSIA, code};
use testkit::{NatsServer, TestCa};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// What a raw HTTP/1.1 exchange over TLS gave: the protocol ALPN chose and the whole response.
struct Exchange {
    alpn: Option<String>,
    response: Vec<u8>,
}

impl Exchange {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.response).into_owned()
    }
}

/// Sends `request` over TLS to `addr` (as `localhost`, trusting `ca`), offering only HTTP/1.1
/// by ALPN, and reads the response until the server closes.
async fn https1(addr: SocketAddr, ca: &Path, request: &[u8]) -> Exchange {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("the CA file") {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("a trusted CA");
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("a name"), tcp)
        .await
        .expect("a TLS handshake with the association");
    let alpn = tls
        .get_ref()
        .1
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    tls.write_all(request).await.expect("send");
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
                // A close without close_notify after the whole response is still its end.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => panic!("reading the response: {e}"),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the response did not end within 10 s");
    Exchange { alpn, response }
}

fn vidkryto(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
        .args(args)
        .output()
        .expect("vidkryto runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_association_serving_tls_is_audited_over_https_trusting_its_ca() {
    let nats = NatsServer::start().await.unwrap();
    let dashboard = tempfile::tempdir().unwrap();
    std::fs::write(
        dashboard.path().join("index.html"),
        "<!doctype html><title>vidkryto over TLS</title>\n",
    )
    .unwrap();
    let association =
        TestAssociation::start_with_tls(&nats.url(), Some(dashboard.path().to_owned())).await;
    let url = association.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = association.tls.as_ref().unwrap().ca_file();
    let addr = association.running.as_ref().unwrap().grpc_addr;

    // An admin call with the token over TLS (gRPC, HTTP/2) is taken.
    let node = TestNode::start(VINNYTSIA, 100, &nats.url()).await;
    association.enroll(&node).await;
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Street lights on the river path").await;
    civic.sign(&petition, 0..6).await;
    association
        .wait_all(&[&node], Duration::from_secs(30))
        .await;

    // The auditor over https://, trusting the association's CA: the archive verifies and
    // recomputes to the association's digest; a receipt proves too.
    let out = tempfile::tempdir().unwrap();
    let options = ExportOptions {
        url: url.clone(),
        ca: Some(ca.clone()),
        out: out.path().join("archive"),
        municipality: None,
        progress: false,
    };
    // Exports stop at the association's latest signed statement: one of everything verified.
    association.wait_stated().await;
    let summary = export(&options).await.expect("an export over https");
    assert_eq!(summary.events_total, node.log_size());
    let archive = Archive::new(&options.out);
    let report = auditor::verify::verify(&archive, 2, false).unwrap();
    assert!(report.ok, "{report:#?}");
    let theirs = association.digest().await;
    let upto = theirs
        .positions
        .iter()
        .map(|p| (code(&p.code), p.verified_size))
        .collect();
    let ours = auditor::recompute::recompute(&archive, &upto).unwrap();
    assert_eq!(ours.digest, theirs.digest);
    let receipt = prove(&url, Some(&ca), code(VINNYTSIA), Target::Seq(3), None, None)
        .await
        .expect("a receipt over https");
    assert_eq!(receipt.seq, 3);

    // Without the CA the system's roots do not vouch for the certificate: a certificate error
    // that says how to trust a private CA.
    let untrusted = ExportOptions {
        ca: None,
        out: out.path().join("untrusted"),
        ..options.clone()
    };
    let err = export(&untrusted).await.unwrap_err().to_string();
    assert!(
        err.contains("invalid peer certificate") && err.contains("UnknownIssuer"),
        "{err}"
    );
    assert!(err.contains("--ca FILE"), "{err}");
    // Nor does another CA.
    let stranger = TestCa::new("another CA").unwrap();
    let err = export(&ExportOptions {
        ca: Some(stranger.ca_file()),
        out: out.path().join("stranger"),
        ..options.clone()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");
    // Plain text to the TLS listener gets nothing.
    let plain = export(&ExportOptions {
        url: url.replacen("https://", "http://", 1),
        ca: None,
        out: out.path().join("plain"),
        ..options.clone()
    })
    .await;
    assert!(
        plain.is_err(),
        "plain text was answered by the TLS listener"
    );

    // The command line: `--from https://… --ca FILE` exports, without `--ca` it fails (exit 2)
    // naming the certificate.
    let cli_out = out.path().join("cli");
    let cli_out = cli_out.to_str().unwrap();
    let ca_text = ca.to_str().unwrap();
    let ok = vidkryto(&[
        "audit", "export", "--from", &url, "--ca", ca_text, "--out", cli_out,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let verified = vidkryto(&["audit", "verify", cli_out]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let refused = vidkryto(&[
        "audit",
        "export",
        "--from",
        &url,
        "--out",
        &format!("{cli_out}-untrusted"),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");

    // gRPC-Web over HTTP/1.1 (ALPN) on the same TLS port.
    let web = https1(
        addr,
        &ca,
        b"POST /vidkryto.national.v1.NationalService/GetNationalSummary HTTP/1.1\r\n\
          Host: localhost\r\n\
          Content-Type: application/grpc-web+proto\r\n\
          X-Grpc-Web: 1\r\n\
          Content-Length: 5\r\n\
          Connection: close\r\n\r\n\0\0\0\0\0",
    )
    .await;
    assert_eq!(web.alpn.as_deref(), Some("http/1.1"));
    let text = web.text();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/grpc-web+proto"),
        "{text}"
    );
    assert!(text.contains("grpc-status:0"), "{text}");

    // The dashboard's files too.
    let page = https1(
        addr,
        &ca,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    let text = page.text();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("vidkryto over TLS"), "{text}");

    association.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_association_reaches_postgresql_over_tls_verified_against_its_ca() {
    let Some(bin) =
        postgres_or_skip("the_association_reaches_postgresql_over_tls_verified_against_its_ca")
    else {
        return;
    };
    let ca = TestCa::new("vidkryto test database CA").unwrap();
    let cert = ca
        .server_cert("postgres", &["localhost", "127.0.0.1"])
        .unwrap();
    let pg = ThrowawayPg::start(bin, Some(&cert)).await;
    let verified = format!("sslmode=verify-full&sslrootcert={}", ca.ca_file().display());

    // The association's database is created, migrated and read over TLS, the server's
    // certificate checked against the CA and the host name.
    let url = pg.url("vidkryto_tls", &verified);
    let store = Store::connect(&url)
        .await
        .expect("the store over verify-full");
    let readers = Store::connect_readers(&url)
        .await
        .expect("the readers over verify-full");
    for pool in [store.pool(), readers.pool()] {
        let (ssl, version): (bool, String) =
            sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(pool)
                .await
                .unwrap();
        assert!(ssl, "the connection is not encrypted");
        assert!(version.starts_with("TLSv1."), "{version}");
    }
    assert!(store.keys(None).await.unwrap().is_empty());
    store.pool().close().await;
    readers.pool().close().await;

    // Under another CA the certificate is refused, with the reason.
    let stranger = TestCa::new("another CA").unwrap();
    let err = Store::connect(&pg.url(
        "vidkryto_tls",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            stranger.ca_file().display()
        ),
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");
    // `require` encrypts without checking the certificate.
    let required = Store::connect(&pg.url("vidkryto_tls", "sslmode=require"))
        .await
        .expect("the store over sslmode=require");
    required.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_fails_clearly_against_postgresql_without_tls() {
    let Some(bin) =
        postgres_or_skip("sslmode_require_fails_clearly_against_postgresql_without_tls")
    else {
        return;
    };
    let pg = ThrowawayPg::start(bin, None).await;
    let err = Store::connect(&pg.url("vidkryto_tls", "sslmode=require"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("server does not support TLS"), "{err}");
    // `prefer` (libpq's default, and sqlx's) falls back to plain text.
    let preferred = Store::connect(&pg.url("vidkryto_tls", "sslmode=prefer"))
        .await
        .expect("the store over sslmode=prefer");
    preferred.pool().close().await;
}
