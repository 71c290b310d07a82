//! A head row tampered to claim a checkpoint beyond the tree is reported as corrupt state, by
//! every path that reads it back, and never trips the log's own assertions.

use event_store::{ExpectedVersion, Log, SqlBackend as _, StoreError};
use event_store_conformance::{event, municipality, quiet_policy, signer};
use event_store_core::StreamId;
use event_store_sqlite::{Durability, SqliteBackend};

#[tokio::test]
async fn a_checkpoint_beyond_the_tree_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let backend = SqliteBackend::open(&dir.path().join("log.sqlite"), Durability::Full)
        .await
        .unwrap();
    let log = Log::open(backend.clone(), municipality(), signer(), quiet_policy())
        .await
        .unwrap();
    let stream = StreamId::from_slice(&[7; 16]).unwrap();
    log.append(stream, ExpectedVersion::NoStream, vec![event(1), event(2)])
        .await
        .unwrap();

    sqlx::query("UPDATE log_head SET last_checkpoint_size = 99 WHERE id = 1")
        .execute(backend.pool())
        .await
        .unwrap();

    // A group commit answers every batch of a failed transaction with the failure's text.
    let appended = log
        .append(stream, ExpectedVersion::Any, vec![event(3)])
        .await;
    let error = appended.expect_err("a corrupt head must fail the append");
    assert!(error.to_string().contains("corrupt"), "{error}");
    let signed = log.checkpoint_now().await;
    assert!(matches!(signed, Err(StoreError::Corrupt(_))), "{signed:?}");
    let verified = event_store::verify(&backend, &municipality(), &log.verifier(), 1, None).await;
    assert!(
        matches!(verified, Err(StoreError::Corrupt(_))),
        "{verified:?}"
    );
}
