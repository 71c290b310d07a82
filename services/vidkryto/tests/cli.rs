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

#[test]
fn help_names_environment_variables_but_never_shows_their_values() {
    let secret = "s3cret-pw-in-env";
    for (var, args) in [
        (
            "VIDKRYTO_ASSOCIATION_DB",
            &["association", "run", "--help"][..],
        ),
        (
            "VIDKRYTO_ASSOCIATION_DB",
            &["association", "digest", "--help"][..],
        ),
        ("VIDKRYTO_NATS_URL", &["association", "run", "--help"][..]),
        ("VIDKRYTO_DB", &["log", "show", "--help"][..]),
        ("VIDKRYTO_NODE_DIR", &["node", "run", "--help"][..]),
        ("VIDKRYTO_DEV_DB", &["dev", "--help"][..]),
    ] {
        let value = format!("postgres://vidkryto:{secret}@db.example:5432/x");
        let out = Command::new(env!("CARGO_BIN_EXE_vidkryto"))
            .args(args)
            .env(var, &value)
            .output()
            .expect("run vidkryto");
        let help = stdout(&out);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(help.contains(var), "{args:?} names {var}: {help}");
        assert!(
            !help.contains(secret) && !String::from_utf8_lossy(&out.stderr).contains(secret),
            "{args:?} printed {var}'s value: {help}"
        );
    }
}

#[cfg(unix)]
#[test]
fn key_files_others_may_read_are_refused_with_the_fix_named() {
    use std::os::unix::fs::PermissionsExt as _;
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let dir = tempfile::tempdir().unwrap();

    // A node signing key given to `log init`.
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
    assert!(vidkryto(&args).status.success());
    chmod(&key, 0o644);
    let out = vidkryto(&args);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let message = stderr(&out);
    assert!(
        message.contains(key.to_str().unwrap())
            && message.contains("0644")
            && message.contains(&format!("chmod 600 {}", key.display())),
        "{message}"
    );
    assert!(!message.contains("PRIVATE"), "{message}");
    chmod(&key, 0o600);
    assert!(vidkryto(&args).status.success(), "600 is read");

    // The association's witness key and admin token, before anything connects.
    let association = dir.path().join("association");
    let init = vidkryto(&[
        "association",
        "init",
        "--dir",
        association.to_str().unwrap(),
    ]);
    assert!(init.status.success(), "{init:?}");
    for file in ["witness.key", "admin.token"] {
        let path = association.join(file);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "init writes {file} owner-only"
        );
        chmod(&path, 0o640);
        let out = vidkryto(&[
            "association",
            "run",
            "--dir",
            association.to_str().unwrap(),
            "--db",
            "postgres://nobody@127.0.0.1:1/never",
        ]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let message = stderr(&out);
        assert!(
            message.contains(file) && message.contains("0640") && message.contains("chmod 600"),
            "{message}"
        );
        chmod(&path, 0o600);
    }
}

/// A log written before schema 2 (its petition's title and text in the clear) still verifies
/// with today's binary (the node reads it: `services/node/tests/schema1.rs`).
#[test]
fn a_log_written_under_schema_1_still_verifies() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.sqlite");
    std::fs::copy(fixtures.join("schema1-log.sqlite"), &db).unwrap();
    let vkey = format!("@{}", fixtures.join("schema1-log.vkey").display());
    let (code, report) = verify_json(db.to_str().unwrap(), &vkey);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events_checked"], 17, "{report}");
}

/// The operator's access commands: machine clients and staff accounts are added, listed and
/// removed; bad input is a message and exit code 2, and changes nothing.
#[test]
fn clients_and_accounts_are_managed_from_the_command_line() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let dir_arg = dir.to_str().unwrap();
    let init = vidkryto(&[
        "node",
        "init",
        "--dir",
        dir_arg,
        "--municipality",
        "UA74040130000074451",
        "--signature-threshold",
        "100",
    ]);
    assert!(init.status.success(), "{init:?}");

    let added = vidkryto(&[
        "node",
        "client",
        "add",
        "--dir",
        dir_arg,
        "--name",
        "e-petitions",
        "--permission",
        "participate",
    ]);
    assert!(added.status.success(), "{added:?}");
    assert!(stdout(&added).lines().any(|l| l.starts_with("vkt_")));
    let bad = vidkryto(&[
        "node",
        "client",
        "add",
        "--dir",
        dir_arg,
        "--name",
        "x",
        "--permission",
        "everything",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let listed = stdout(&vidkryto(&["node", "client", "list", "--dir", dir_arg]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.starts_with("e-petitions\tparticipate\ttoken"),
        "{listed}"
    );

    let account = |password: &str, role: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vidkryto"))
            .args([
                "node", "account", "add", "--dir", dir_arg, "--name", "olena",
            ])
            .args(["--role", role])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    assert_eq!(account("short", "moderator").status.code(), Some(2));
    assert_eq!(
        account("correct horse battery staple", "mayor")
            .status
            .code(),
        Some(2)
    );
    let ok = account("correct horse battery staple", "moderator");
    assert!(ok.status.success(), "{ok:?}");
    let listed = stdout(&vidkryto(&["node", "account", "list", "--dir", dir_arg]));
    assert!(listed.starts_with("olena\tmoderator\t"), "{listed}");
    let stored = std::fs::read_to_string(dir.join("accounts.toml")).unwrap();
    assert!(
        !stored.contains("correct horse"),
        "the password is kept only hashed"
    );
    let removed = vidkryto(&[
        "node", "account", "remove", "--dir", dir_arg, "--name", "olena",
    ]);
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(
        stdout(&vidkryto(&["node", "account", "list", "--dir", dir_arg])),
        ""
    );
}
