//! Enrolment history is history: revoking a key mid-load and enrolling it again keeps both
//! validity windows, no checkpoint is cosigned under a key while it is revoked, and an
//! auditor's verification of the whole archive passes.

use std::time::Duration;

use auditor::Archive;
use auditor::export::{ExportOptions, export};
use auditor::verify::verify;
use system_tests::{Civic, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;

async fn admin<T>(association: &TestAssociation, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", association.admin_token)
            .parse()
            .unwrap(),
    );
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_and_enrolling_a_key_again_keeps_every_window_and_audits_clean() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let node = TestNode::start(VINNYTSIA, 1_000_000, &nats.url()).await;
    association.enroll(&node).await;
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Trees along the tram line").await;
    civic.sign(&petition, 0..20).await;
    association
        .wait_all(&[&node], Duration::from_secs(30))
        .await;

    // Revoke while the node keeps writing, then enrol the same key again.
    let load = tokio::spawn(async move {
        civic.sign(&petition, 20..500).await;
        (civic, petition)
    });
    while node.log_size() < 150 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let revoked = association
        .federation()
        .await
        .revoke(
            admin(
                &association,
                proto::federation::v1::RevokeRequest {
                    code: node.code.to_string(),
                    vkey: node.vkey(),
                },
            )
            .await,
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.keys.len(), 1);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    association.enroll(&node).await;
    // Checkpoints the node signed while its key was revoked are refused for good; one more
    // event after the enrolment has a checkpoint signed under the valid key cover them all
    // (the load may have ended before the enrolment).
    let (mut civic, petition) = load.await.unwrap();
    civic.sign(&petition, 500..501).await;
    association
        .wait_all(&[&node], Duration::from_secs(60))
        .await;

    let keys = association.node(node.code).await.keys;
    assert_eq!(keys.len(), 2, "two windows of one key: {keys:?}");
    assert!(keys.iter().all(|k| k.vkey == node.vkey()));
    assert!(keys[0].revoked_at_micros > keys[0].enrolled_at_micros);
    assert!(keys[1].enrolled_at_micros > keys[0].revoked_at_micros);
    assert_eq!(keys[1].revoked_at_micros, 0);

    let dir = tempfile::tempdir().unwrap();
    let options = ExportOptions {
        url: association.url(),
        ca: None,
        out: dir.path().to_owned(),
        municipality: None,
        progress: false,
    };
    // Exports stop at the association's latest signed statement: one of everything verified.
    association.wait_stated().await;
    export(&options).await.unwrap();
    let report = verify(&Archive::new(dir.path()), 2, false).unwrap();
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.municipalities[0].verified_to, node.log_size());
    association.shutdown().await;
}

/// The association's own log: every decision it took (enrolments through the API and the
/// command line, a revocation, statements) is an entry, read back through the audit API and
/// archived; an enrolment rewritten in the association's database afterwards is named by
/// `vidkryto audit verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_association_log_holds_every_decision_and_a_rewritten_enrolment_is_named() {
    use event_store_core::checkpoint::{NoteSigner, NoteVerifier, SignedCheckpoint};
    use projection::association_log::{Decision, Entry, ORIGIN};
    use system_tests::{KORIUKIVKA, KYIV};

    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let vinnytsia = TestNode::start(VINNYTSIA, 1_000_000, &nats.url()).await;
    association.enroll(&vinnytsia).await;
    // Kyiv is enrolled from the command line (another process, the same log).
    let kyiv = TestNode::start(KYIV, 1_000_000, &nats.url()).await;
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
        .args(["association", "enroll", "--dir"])
        .arg(association.dir.path())
        .args(["--db", &association.db_url(), "--municipality", KYIV])
        .args(["--vkey", &kyiv.vkey()])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    // A hromada enrolled and revoked before its node ever ran.
    let leaver = NoteSigner::from_seed(&format!("vidkryto/{KORIUKIVKA}"), [9; 32]).unwrap();
    let leaver_code = event_store_core::MunicipalityCode::parse(KORIUKIVKA).unwrap();
    association
        .enroll_key(leaver_code, &leaver.verifier().to_text())
        .await;
    association
        .federation()
        .await
        .revoke(
            admin(
                &association,
                proto::federation::v1::RevokeRequest {
                    code: KORIUKIVKA.into(),
                    vkey: String::new(),
                },
            )
            .await,
        )
        .await
        .unwrap();
    let mut civic = Civic::of(&vinnytsia).await;
    let petition = civic.petition("Ліхтарі в парку").await;
    civic.sign(&petition, 0..5).await;
    let mut civic = Civic::of(&kyiv).await;
    let petition = civic.petition("Велодоріжка на набережній").await;
    civic.sign(&petition, 0..3).await;
    association
        .wait_all(&[&vinnytsia, &kyiv], Duration::from_secs(30))
        .await;
    let statement = association.wait_stated().await;

    // The log through the audit API: every entry decodes in its place, each checkpoint is the
    // witness's signature over the root of the entries so far.
    let page = association
        .audit()
        .await
        .read_association_log(proto::audit::v1::ReadAssociationLogRequest {
            from_seq: 1,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let witness: NoteVerifier = association.witness().verifier();
    let mut leaves = Vec::new();
    let mut decisions = Vec::new();
    for e in &page.entries {
        let entry = Entry::decode(e.seq, &e.entry).unwrap();
        leaves.push(event_store_core::merkle::leaf_hash(&e.entry));
        let checkpoint = SignedCheckpoint::parse(&e.checkpoint).unwrap();
        checkpoint.verify_for(&witness, ORIGIN).unwrap();
        assert_eq!(checkpoint.checkpoint.size, e.seq);
        assert_eq!(
            checkpoint.checkpoint.root,
            event_store_core::merkle::root_from_leaves(&leaves)
        );
        decisions.push(entry.decision);
    }
    assert_eq!(page.size, page.entries.len() as u64);
    let enrolled = |code: &str, vkey: String| Decision::Enrolled {
        municipality: code.into(),
        vkey,
    };
    // The statements the association made meanwhile fall between the other decisions.
    let others: Vec<&Decision> = decisions
        .iter()
        .filter(|d| !matches!(d, Decision::Stated { .. }))
        .collect();
    assert_eq!(
        others,
        [
            &enrolled(VINNYTSIA, vinnytsia.vkey()),
            &enrolled(KYIV, kyiv.vkey()),
            &enrolled(KORIUKIVKA, leaver.verifier().to_text()),
            &Decision::Revoked {
                municipality: KORIUKIVKA.into(),
                vkey: leaver.verifier().to_text(),
            },
        ]
    );
    assert!(
        decisions.contains(&Decision::Stated {
            note: statement.note.clone()
        }),
        "the latest statement is an entry"
    );

    // Published on JetStream as a node's log is: each entry, then its checkpoint, in order.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let stream = js
        .get_stream(association::publish::STREAM)
        .await
        .expect("the association's log stream");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while stream.get_info().await.unwrap().state.messages < 2 * page.size {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not published in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for e in &page.entries {
        let entry = stream.get_raw_message(2 * e.seq - 1).await.unwrap();
        assert_eq!(
            (entry.subject.as_str(), entry.payload.as_ref()),
            (association::publish::ENTRY_SUBJECT, e.entry.as_slice())
        );
        let checkpoint = stream.get_raw_message(2 * e.seq).await.unwrap();
        assert_eq!(
            (checkpoint.subject.as_str(), checkpoint.payload.as_ref()),
            (
                association::publish::CHECKPOINT_SUBJECT,
                e.checkpoint.as_bytes()
            )
        );
    }

    // Exported and verified: the log, its statement, and keys.json = the log's history.
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    let options = ExportOptions {
        url: association.url(),
        ca: None,
        out: clean.clone(),
        municipality: None,
        progress: false,
    };
    export(&options).await.unwrap();
    let report = verify(&Archive::new(&clean), 2, false).unwrap();
    assert!(report.ok, "{report:#?}");
    let log = report.association.unwrap();
    assert!(
        log.entries >= 5 && log.verified_to == log.entries,
        "{log:?}"
    );
    assert!(log.statement_entry.is_some());
    let keys = Archive::new(&clean).keys().unwrap().keys;
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter()
            .any(|k| k.code == KORIUKIVKA && k.revoked_at_micros > k.enrolled_at_micros)
    );

    // An auditor who knows the association's key from elsewhere pins it.
    let pinned = |vkey: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
            .args(["audit", "verify", "--witness-vkey", &vkey])
            .arg(&clean)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(pinned(witness.to_text()), Some(0));
    let stranger = NoteSigner::from_seed("vidkryto-association", [1; 32]).unwrap();
    assert_eq!(pinned(stranger.verifier().to_text()), Some(1));

    // Someone with the association's database (not its key) swaps Vinnytsia's enrolled key
    // for their own, in the log and in the enrolment table, so the association serves a
    // consistent story.
    let forger = NoteSigner::from_seed(&format!("vidkryto/{VINNYTSIA}"), [66; 32]).unwrap();
    let pool = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
    let (at, bytes): (i64, Vec<u8>) =
        sqlx::query_as("SELECT at_micros, bytes FROM association_log WHERE seq = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(Entry::decode(1, &bytes).unwrap().at_micros, at);
    let rewritten = Entry::new(1, at, enrolled(VINNYTSIA, forger.verifier().to_text())).encode();
    sqlx::query("UPDATE association_log SET bytes = $1 WHERE seq = 1")
        .bind(&rewritten)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE enrolment SET vkey = $1 WHERE code = $2")
        .bind(forger.verifier().to_text())
        .bind(VINNYTSIA)
        .execute(&pool)
        .await
        .unwrap();
    let tampered = dir.path().join("tampered");
    export(&ExportOptions {
        out: tampered.clone(),
        ..options
    })
    .await
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
        .args(["audit", "verify"])
        .arg(&tampered)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("association log: FAILED at 1 (root)"),
        "the rewritten entry is named: {text}"
    );
    // Vinnytsia's checkpoints are not signed by the forged key the rewritten entry enrols.
    assert!(text.contains(&format!("{VINNYTSIA}: FAILED at")), "{text}");

    // Someone who also holds the association's key signs every checkpoint anew over the
    // rewritten log: a fresh archive cannot tell, but exporting into the archive taken before
    // names the rewrite and keeps the archive as it was.
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, bytes FROM association_log ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut frontier = event_store_core::merkle::Frontier::new();
    for (seq, bytes) in rows {
        let checkpoint = projection::association_log::extend(&mut frontier, &bytes);
        sqlx::query("UPDATE association_log SET frontier = $1, checkpoint = $2 WHERE seq = $3")
            .bind(frontier.to_bytes())
            .bind(association.witness().sign(checkpoint).to_note())
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
    }
    let err = export(&ExportOptions {
        url: association.url(),
        ca: None,
        out: clean.clone(),
        municipality: None,
        progress: false,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no longer extends"), "{err}");
    assert!(verify(&Archive::new(&clean), 2, false).unwrap().ok);
    association.shutdown().await;
}

/// A database from before the association's log: at start the association writes the
/// decisions it holds (enrolment windows, statements) into the log in time order, and an
/// archive of it verifies. Once the log exists, emptying or truncating it in the database
/// (someone without the key, hoping the association signs a history of their making) stops
/// the association from starting.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decisions_taken_before_the_log_are_written_into_it_at_upgrade() {
    use projection::association_log::{Decision, Entry};
    let nats = NatsServer::start().await.unwrap();
    let mut association = TestAssociation::start(&nats.url()).await;
    let node = TestNode::start(VINNYTSIA, 1_000_000, &nats.url()).await;
    association.enroll(&node).await;
    // A second window of the same key: revoked, then enrolled again.
    let revoke = proto::federation::v1::RevokeRequest {
        code: VINNYTSIA.into(),
        vkey: node.vkey(),
    };
    association
        .federation()
        .await
        .revoke(admin(&association, revoke).await)
        .await
        .unwrap();
    association.enroll(&node).await;
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Сквер біля школи").await;
    civic.sign(&petition, 0..3).await;
    association
        .wait_all(&[&node], Duration::from_secs(30))
        .await;
    association.wait_stated().await;
    association.stop().await;
    let pool = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
    let statements: i64 = sqlx::query_scalar("SELECT count(*) FROM statement")
        .fetch_one(&pool)
        .await
        .unwrap();
    let windows: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT (extract(epoch FROM enrolled_at) * 1000000)::int8, \
                (extract(epoch FROM revoked_at) * 1000000)::int8 FROM enrolment ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();

    // Emptied, with the association's directory saying what it signed: refused.
    sqlx::query("DELETE FROM association_log")
        .execute(&pool)
        .await
        .unwrap();
    let refused = association::server::start(association.settings())
        .await
        .expect_err("an emptied log is refused");
    assert!(format!("{refused:#}").contains("emptied"), "{refused:#}");

    // A database and directory from before the log (no head file): written in at start.
    std::fs::remove_file(
        association
            .dir
            .path()
            .join(association::decisions::LOG_HEAD_FILE),
    )
    .unwrap();
    association.boot().await;
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, bytes FROM association_log ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    let entries: Vec<Entry> = rows
        .iter()
        .map(|(seq, bytes)| Entry::decode(*seq as u64, bytes).unwrap())
        .collect();
    // A statement of the empty projection may come before the enrolment; the key's windows
    // come in order, at the times the enrolment table holds.
    let keys: Vec<(i64, &Decision)> = entries
        .iter()
        .filter(|e| !matches!(e.decision, Decision::Stated { .. }))
        .map(|e| (e.at_micros, &e.decision))
        .collect();
    let enrolled = Decision::Enrolled {
        municipality: VINNYTSIA.into(),
        vkey: node.vkey(),
    };
    let revoked = Decision::Revoked {
        municipality: VINNYTSIA.into(),
        vkey: node.vkey(),
    };
    assert_eq!(
        keys,
        [
            (windows[0].0, &enrolled),
            (windows[0].1.unwrap(), &revoked),
            (windows[1].0, &enrolled),
        ]
    );
    let stated = entries
        .iter()
        .filter(|e| matches!(e.decision, Decision::Stated { .. }))
        .count();
    assert!(stated as i64 >= statements, "{entries:?}");

    let dir = tempfile::tempdir().unwrap();
    association.wait_stated().await;
    export(&ExportOptions {
        url: association.url(),
        ca: None,
        out: dir.path().to_owned(),
        municipality: None,
        progress: false,
    })
    .await
    .unwrap();
    let report = verify(&Archive::new(dir.path()), 2, false).unwrap();
    assert!(report.ok, "{report:#?}");

    // Truncated below what the association last signed: refused.
    association.stop().await;
    sqlx::query("DELETE FROM association_log WHERE seq > 1")
        .execute(&pool)
        .await
        .unwrap();
    let refused = association::server::start(association.settings())
        .await
        .expect_err("a truncated log is refused");
    assert!(
        format!("{refused:#}").contains("does not extend"),
        "{refused:#}"
    );
    association.shutdown().await;
}
