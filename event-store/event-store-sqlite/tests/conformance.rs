//! Runs the shared conformance suite against SQLite, each case on a fresh temp-file database.

use event_store::SqlBackend as _;
use event_store_core::Hash;
use event_store_sqlite::{Durability, SqliteBackend};
use sqlx::Row;

struct SqliteHarness {
    _dir: tempfile::TempDir,
    backend: SqliteBackend,
}

const LIFT_GUARD: [&str; 2] = [
    "DROP TRIGGER IF EXISTS events_no_update",
    "DROP TRIGGER IF EXISTS events_no_delete",
];

impl SqliteHarness {
    async fn lift_guard(&self) {
        for sql in LIFT_GUARD {
            sqlx::query(sql).execute(self.backend.pool()).await.unwrap();
        }
    }
}

impl event_store_conformance::Harness for SqliteHarness {
    type B = SqliteBackend;

    async fn fresh() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("log.sqlite"), Durability::Full)
            .await
            .unwrap();
        Self { _dir: dir, backend }
    }

    fn backend(&self) -> SqliteBackend {
        self.backend.clone()
    }

    async fn raw_event(&self, seq: u64) -> (Vec<u8>, Hash) {
        let row = sqlx::query("SELECT bytes, leaf_hash FROM events WHERE seq = ?")
            .bind(seq as i64)
            .fetch_one(self.backend.pool())
            .await
            .unwrap();
        let leaf: Vec<u8> = row.get("leaf_hash");
        (row.get("bytes"), leaf.try_into().unwrap())
    }

    async fn overwrite(&self, seq: u64, bytes: Vec<u8>, leaf: Hash) {
        self.lift_guard().await;
        let done = sqlx::query("UPDATE events SET bytes = ?, leaf_hash = ? WHERE seq = ?")
            .bind(bytes)
            .bind(leaf.to_vec())
            .bind(seq as i64)
            .execute(self.backend.pool())
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    }

    async fn delete(&self, seq: u64) {
        self.lift_guard().await;
        let done = sqlx::query("DELETE FROM events WHERE seq = ?")
            .bind(seq as i64)
            .execute(self.backend.pool())
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    }

    async fn guard_refuses_changes(&self, seq: u64) -> bool {
        let pool = self.backend.pool();
        let update = sqlx::query("UPDATE events SET bytes = x'00' WHERE seq = ?")
            .bind(seq as i64)
            .execute(pool)
            .await;
        let delete = sqlx::query("DELETE FROM events WHERE seq = ?")
            .bind(seq as i64)
            .execute(pool)
            .await;
        update.is_err() && delete.is_err()
    }

    async fn cleanup(self) {
        self.backend.pool().close().await;
    }
}

event_store_conformance::conformance_tests!(SqliteHarness);
