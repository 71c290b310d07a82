//! Runs the shared conformance suite against PostgreSQL, each case in a fresh database created
//! for it on the server named by `VIDKRYTO_TEST_PG_URL` (default: the local server).

use event_store::SqlBackend as _;
use event_store_core::Hash;
use event_store_postgres::PgBackend;
use sqlx::{AssertSqlSafe, Connection, Row};

fn admin_url() -> String {
    std::env::var("VIDKRYTO_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_for(db: &str) -> String {
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(b, _)| b)
        .to_owned();
    format!("{base}/{db}")
}

struct PgHarness {
    name: String,
    backend: PgBackend,
}

impl PgHarness {
    /// Runs `sql` in a transaction with the append-only triggers disabled, as a database
    /// superuser could.
    async fn unguarded(&self, sql: &'static str, seq: u64, bytes: Option<(Vec<u8>, Hash)>) -> u64 {
        let mut tx = self.backend.pool().begin().await.unwrap();
        sqlx::query("ALTER TABLE events DISABLE TRIGGER USER")
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut q = sqlx::query(sql);
        if let Some((b, leaf)) = bytes {
            q = q.bind(b).bind(leaf.to_vec());
        }
        let done = q.bind(seq as i64).execute(&mut *tx).await.unwrap();
        sqlx::query("ALTER TABLE events ENABLE TRIGGER USER")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        done.rows_affected()
    }
}

impl event_store_conformance::Harness for PgHarness {
    type B = PgBackend;

    async fn fresh() -> Self {
        let name = format!("vidkryto_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let backend = PgBackend::connect(&url_for(&name)).await.unwrap();
        Self { name, backend }
    }

    fn backend(&self) -> PgBackend {
        self.backend.clone()
    }

    async fn raw_event(&self, seq: u64) -> (Vec<u8>, Hash) {
        let row = sqlx::query("SELECT bytes, leaf_hash FROM events WHERE seq = $1")
            .bind(seq as i64)
            .fetch_one(self.backend.pool())
            .await
            .unwrap();
        let leaf: Vec<u8> = row.get("leaf_hash");
        (row.get("bytes"), leaf.try_into().unwrap())
    }

    async fn overwrite(&self, seq: u64, bytes: Vec<u8>, leaf: Hash) {
        let n = self
            .unguarded(
                "UPDATE events SET bytes = $1, leaf_hash = $2 WHERE seq = $3",
                seq,
                Some((bytes, leaf)),
            )
            .await;
        assert_eq!(n, 1);
    }

    async fn delete(&self, seq: u64) {
        assert_eq!(
            self.unguarded("DELETE FROM events WHERE seq = $1", seq, None)
                .await,
            1
        );
    }

    async fn guard_refuses_changes(&self, seq: u64) -> bool {
        let pool = self.backend.pool();
        let update = sqlx::query("UPDATE events SET bytes = '\\x00' WHERE seq = $1")
            .bind(seq as i64)
            .execute(pool)
            .await;
        let delete = sqlx::query("DELETE FROM events WHERE seq = $1")
            .bind(seq as i64)
            .execute(pool)
            .await;
        let truncate = sqlx::query("TRUNCATE events").execute(pool).await;
        update.is_err() && delete.is_err() && truncate.is_err()
    }

    async fn cleanup(self) {
        self.backend.pool().close().await;
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

event_store_conformance::conformance_tests!(PgHarness);
