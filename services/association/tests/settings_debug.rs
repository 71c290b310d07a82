//! The association's settings can be logged: `Debug` shows where it connects, never a password
//! in a URL nor the admin token nor the witness's signing key.

use association::server::{AssociationSettings, WITNESS_NAME, init_dir, load_witness};

#[test]
fn debug_never_prints_a_password_the_admin_token_or_the_witness_key() {
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
    let printed = format!("{settings:?}");
    let key = std::fs::read_to_string(&key_path).unwrap();
    let key_base64 = key.trim().rsplit('+').next().unwrap().to_owned();
    for hidden in ["db-s3cret", "q-s3cret", "nats-s3cret", &token, &key_base64] {
        assert!(!printed.contains(hidden), "{hidden} in {printed}");
    }
    for shown in [
        "db.example:5432/vidkryto",
        "hub-1:4222",
        "hub-2:4222",
        WITNESS_NAME,
    ] {
        assert!(printed.contains(shown), "{shown} not in {printed}");
    }
    assert_eq!(
        load_witness(&key_path).unwrap().name(),
        WITNESS_NAME,
        "the key read back is the witness's"
    );
}
