//! The association's settings can be logged: `Debug` shows where it connects, never a password
//! in a URL nor the admin token nor the witness's signing key nor the TLS private key.

use association::server::{AssociationSettings, WITNESS_NAME, init_dir, load_witness};
use association::tls::TlsIdentity;

#[test]
fn debug_never_prints_a_password_the_admin_token_the_witness_key_or_the_tls_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, _) = init_dir(dir.path()).unwrap();
    let settings = AssociationSettings::from_dir(
        dir.path(),
        "postgres://association:db-s3cret@db.example:5432/vidkryto?password=q-s3cret".into(),
        "nats://association:nats-s3cret@hub-1:4222,nats://hub-2:4222".into(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let token = settings
        .admin_token
        .clone()
        .expect("init writes an admin token");
    let ca = testkit::TestCa::new("test CA").unwrap();
    let server = ca.server_cert("server", &["localhost"]).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&server.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut settings = settings;
    settings.tls = Some(TlsIdentity::from_files(&server.cert_file, &server.key_file).unwrap());
    let tls_key = std::fs::read_to_string(&server.key_file).unwrap();
    let tls_key_line = tls_key.lines().nth(1).unwrap().to_owned();
    let printed = format!("{settings:?}");
    let key = std::fs::read_to_string(&key_path).unwrap();
    // `PRIVATE+KEY+<name>+<hash>+<base64>`: the base64 may hold `+` itself.
    let key_base64 = key.trim().splitn(5, '+').nth(4).unwrap().to_owned();
    assert!(key_base64.len() > 40, "{key_base64}");
    for hidden in [
        "db-s3cret",
        "q-s3cret",
        "nats-s3cret",
        &token,
        &key_base64,
        &tls_key_line,
    ] {
        assert!(!printed.contains(hidden), "{hidden} in {printed}");
    }
    for shown in [
        "db.example:5432/vidkryto",
        "hub-1:4222",
        "hub-2:4222",
        WITNESS_NAME,
        "server.pem",
    ] {
        assert!(printed.contains(shown), "{shown} not in {printed}");
    }
    assert_eq!(
        load_witness(&key_path).unwrap().name(),
        WITNESS_NAME,
        "the key read back is the witness's"
    );
}
