//! The association's signed national statements against a live federation: nodes keep writing
//! during and after an export, and `audit recompute --compare` still matches, because it
//! compares with what the association signed at exactly the archive's positions, not with its
//! current digest. A statement with a flipped byte, in the archive or served by the
//! association, is refused (exit 1), never believed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auditor::Archive;
use auditor::export::{ExportOptions, export};
use proto::audit::v1 as auditpb;
use system_tests::{Civic, KYIV, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;

/// Signs `petition` on `node` until `stop`, one signature every 20 ms; returns how many.
async fn keep_signing(
    node: &TestNode,
    petition: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<u32> {
    let mut civic = Civic::of(node).await;
    tokio::spawn(async move {
        let mut signed = 0;
        while !stop.load(Ordering::SeqCst) {
            civic.sign(&petition, signed..signed + 1).await;
            signed += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        signed
    })
}

fn vidkryto(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The note with one character of its `digest` line changed (a hex digit to another).
fn flip_digest_digit(note: &str) -> String {
    let at = note.find("\ndigest ").expect("a digest line") + "\ndigest ".len();
    let mut bytes = note.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recompute_matches_the_signed_statement_while_nodes_keep_writing() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let vinnytsia = TestNode::start(VINNYTSIA, 100_000, &nats.url()).await;
    let kyiv = TestNode::start(KYIV, 100_000, &nats.url()).await;
    association.enroll(&vinnytsia).await;
    association.enroll(&kyiv).await;
    let p = Civic::of(&vinnytsia)
        .await
        .petition("Лавки вздовж набережної")
        .await;
    let q = Civic::of(&kyiv)
        .await
        .petition("Скейт-парк на Оболоні")
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let writers = [
        keep_signing(&vinnytsia, p, stop.clone()).await,
        keep_signing(&kyiv, q, stop.clone()).await,
    ];
    // Something verified and stated before the export starts.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let summary = export(&ExportOptions {
        url: association.url(),
        ca: None,
        out: out.clone(),
        municipality: None,
        progress: false,
    })
    .await
    .unwrap();
    assert!(summary.events_total > 0);
    let archive = Archive::new(&out);
    let record = archive.digest().unwrap();
    assert!(
        !record.statement_note.is_empty(),
        "the export kept no statement"
    );
    // The nodes write on; the association moves past the archive and states again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let latest = association
        .audit()
        .await
        .get_statement(auditpb::GetStatementRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        latest.digest, record.digest,
        "the association did not move on"
    );
    let archived_events: u64 = record.positions.iter().map(|p| p.verified_size).sum();
    let live_events: u64 = latest.positions.iter().map(|p| p.verified_size).sum();
    assert!(
        live_events > archived_events,
        "{live_events} <= {archived_events}"
    );

    // Recomputed from the archive alone, compared with the statement the association kept for
    // the archive's positions: a match, while the nodes are still writing.
    let url = association.url();
    let archive_path = out.to_str().unwrap();
    let (code, text) = vidkryto(&["audit", "recompute", archive_path, "--compare", &url]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("matches the archive's signed statement"),
        "{text}"
    );
    assert!(
        text.contains("matches the association's signed statement"),
        "{text}"
    );
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        assert!(writer.await.unwrap() > 10);
    }

    // A flipped byte in the archive's statement: refused, exit 1.
    let mut flipped = record.clone();
    flipped.statement_note = flip_digest_digit(&record.statement_note);
    archive
        .write_json(auditor::archive::DIGEST, &flipped)
        .unwrap();
    let (code, text) = vidkryto(&["audit", "recompute", archive_path]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "REFUSED: the archive's statement: the statement's signature does not verify"
        ),
        "{text}"
    );
    archive
        .write_json(auditor::archive::DIGEST, &record)
        .unwrap();

    // A flipped byte in the statement the association serves: refused, exit 1.
    let db = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT note FROM statement WHERE note = $1")
        .bind(&record.statement_note)
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE statement SET note = $1 WHERE note = $2")
        .bind(flip_digest_digit(&stored))
        .bind(&stored)
        .execute(&db)
        .await
        .unwrap();
    let (code, text) = vidkryto(&["audit", "recompute", archive_path, "--compare", &url]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("matches the archive's signed statement"),
        "{text}"
    );
    assert!(
        text.contains(
            "REFUSED: the association's statement: the statement's signature does not verify"
        ),
        "{text}"
    );
    db.close().await;
    association.shutdown().await;
}
