//! The `vidkryto` binary as an operator and an auditor use it: the demo builds a real log,
//! `log verify` passes it, and after tampering straight in the SQLite file it names the exact
//! sequence number and exits 1; bad input is a message and exit code 2.

use std::path::Path;
use std::process::{Command, Output};

use sqlx::Connection as _;

fn vidkryto(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vidkryto"))
        .args(args)
        .output()
        .expect("run vidkryto")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn demo(dir: &Path) -> (String, String) {
    let out = vidkryto(&[
        "demo",
        "--dir",
        dir.to_str().unwrap(),
        "--signatures",
        "300",
    ]);
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("recorded 305 events"),
        "{}",
        stdout(&out)
    );
    let db = dir.join("log.sqlite").to_str().unwrap().to_owned();
    let vkey = format!("@{}", dir.join("node.vkey").display());
    (db, vkey)
}

async fn tamper(db: &str, sql: &'static str) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{db}"))
        .await
        .unwrap();
    for guard in [
        "DROP TRIGGER IF EXISTS events_no_update",
        "DROP TRIGGER IF EXISTS events_no_delete",
    ] {
        sqlx::query(guard).execute(&mut conn).await.unwrap();
    }
    let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
    assert_eq!(done.rows_affected(), 1);
}

fn verify_json(db: &str, vkey: &str) -> (i32, serde_json::Value) {
    let out = vidkryto(&[
        "log", "verify", "--db", db, "--vkey", vkey, "--output", "json",
    ]);
    let doc = serde_json::from_str(&stdout(&out)).expect("json report");
    (out.status.code().unwrap(), doc)
}

#[tokio::test]
async fn demo_log_verifies_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (db, vkey) = demo(&dir.path().join("node"));
    let (code, doc) = verify_json(&db, &vkey);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["events_checked"], 305);
    assert_eq!(doc["key_from_database"], false);

    let out = vidkryto(&["log", "prove", "--db", &db, "--seq", "150"]);
    assert!(out.status.success());
    let receipt: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(receipt["seq"], 150);
    assert!(!receipt["proof"].as_array().unwrap().is_empty());

    // Flip the last byte of event 123's bytes.
    tamper(
        &db,
        "UPDATE events SET bytes = substr(bytes, 1, length(bytes) - 1) || x'ff' WHERE seq = 123",
    )
    .await;
    let (code, doc) = verify_json(&db, &vkey);
    assert_eq!(code, 1);
    assert_eq!(doc["failure"]["seq"], 123, "{doc}");
    let text = stdout(&vidkryto(&["log", "verify", "--db", &db, "--vkey", &vkey]));
    assert!(
        text.contains("FAILED") && text.contains("sequence 123"),
        "{text}"
    );

    // Verifying only what precedes the damage still passes.
    let out = vidkryto(&["log", "verify", "--db", &db, "--vkey", &vkey, "--to", "100"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[tokio::test]
async fn deleted_and_swapped_events_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (db, vkey) = demo(&dir.path().join("gap"));
    tamper(&db, "DELETE FROM events WHERE seq = 42").await;
    let (code, doc) = verify_json(&db, &vkey);
    assert_eq!(
        (code, doc["failure"]["seq"].as_u64()),
        (1, Some(42)),
        "{doc}"
    );

    let (db, vkey) = demo(&dir.path().join("swap"));
    tamper(&db, "UPDATE events SET seq = -1 WHERE seq = 200").await;
    tamper(&db, "UPDATE events SET seq = 200 WHERE seq = 201").await;
    tamper(&db, "UPDATE events SET seq = 201 WHERE seq = -1").await;
    let (code, doc) = verify_json(&db, &vkey);
    assert_eq!(
        (code, doc["failure"]["seq"].as_u64()),
        (1, Some(200)),
        "{doc}"
    );
}

#[test]
fn another_nodes_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = demo(&dir.path().join("a"));
    let (_, other_vkey) = demo(&dir.path().join("b"));
    let out = vidkryto(&["log", "verify", "--db", &db, "--vkey", &other_vkey]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("checkpoint"), "{}", stdout(&out));
}

#[test]
fn bad_input_is_a_message_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite");
    let out = vidkryto(&["log", "verify", "--db", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no log database"));
    assert!(!missing.exists(), "verify must not create a database");

    let db = dir.path().join("x.sqlite");
    let key = dir.path().join("x.key");
    let out = vidkryto(&[
        "log",
        "init",
        "--db",
        db.to_str().unwrap(),
        "--municipality",
        "UA05000000000010236",
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a hromada"),
        "{:?}",
        out
    );
    assert!(
        !key.exists() && !db.exists(),
        "a refused init must create nothing"
    );

    let out = vidkryto(&["log", "verify", "--db", "x", "--vkey", "garbage"]);
    assert_eq!(out.status.code(), Some(2));
    let out = vidkryto(&[
        "demo",
        "--signatures",
        "0",
        "--dir",
        dir.path().join("d").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn init_creates_an_owner_only_key_and_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.sqlite");
    let key = dir.path().join("n.key");
    let args = [
        "log",
        "init",
        "--db",
        db.to_str().unwrap(),
        "--municipality",
        "UA74040130000074451",
        "--key",
        key.to_str().unwrap(),
    ];
    let out = vidkryto(&args);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("vidkryto/UA74040130000074451+"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Running it again reuses the key and the log.
    let again = vidkryto(&args);
    assert!(again.status.success());
    assert_eq!(stdout(&out), stdout(&again));
    let show = stdout(&vidkryto(&["log", "show", "--db", db.to_str().unwrap()]));
    assert!(show.contains("events: 0"), "{show}");
}
