//! The PostgreSQL backend of vidkryto's log, for a node that already runs PostgreSQL. Writers
//! serialise on the head row (`SELECT … FOR UPDATE`); batches go in as one `UNNEST` insert.

use std::str::FromStr;
use std::time::Duration;

use event_store::backend::sql_int;
use event_store::sql::{self, EVENT_COLUMNS, SELECT_HEAD_FOR_UPDATE, open_pool};
use event_store::{EventRow, Head, LogRow, SqlBackend, StoreError, StoredCheckpoint, WriteTx};
use event_store_core::{EventId, Hash, NodeId, StreamId, StreamVersion};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres, Transaction};

/// Connections: one writer at a time plus readers (relay, proofs, verification).
const POOL_CONNECTIONS_MAX: u32 = 8;
/// How long to wait for a connection before reporting the database unreachable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A node's log in a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgBackend {
    pool: PgPool,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::database(e)
}

impl PgBackend {
    /// Connects to `url` and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(db)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        let pool = open_pool(pool, options, &sqlx::migrate!("./migrations")).await?;
        Ok(Self { pool })
    }
}

/// A write transaction on the PostgreSQL log; holds the head row's lock once `head` is read.
#[derive(Debug)]
pub struct PgTx {
    tx: Transaction<'static, Postgres>,
}

impl SqlBackend for PgBackend {
    type Database = Postgres;
    type Tx = PgTx;

    /// Writers serialise on the head row, locked by the transaction's first read.
    async fn begin(&self) -> Result<PgTx, StoreError> {
        let tx = self.pool.begin().await.map_err(db)?;
        Ok(PgTx { tx })
    }

    /// Also for tools that inspect the database directly.
    fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl WriteTx for PgTx {
    async fn head(&mut self) -> Result<Head, StoreError> {
        let row = sqlx::query(SELECT_HEAD_FOR_UPDATE)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db)?;
        row.head()
    }

    async fn find_events(&mut self, ids: &[EventId]) -> Result<Vec<EventRow>, StoreError> {
        // Take the head lock first, so the answer cannot change before this transaction ends.
        sqlx::query("SELECT 1 FROM log_head WHERE id = 1 FOR UPDATE")
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ANY($1)");
        let ids: Vec<Vec<u8>> = ids.iter().map(|i| i.as_bytes().to_vec()).collect();
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(ids)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db)?;
        rows.iter().map(LogRow::event_row).collect()
    }

    async fn stream_version(&mut self, stream: StreamId) -> Result<StreamVersion, StoreError> {
        let select = sql::select_stream_version(stream);
        let row = select.fetch_one(&mut *self.tx).await.map_err(db)?;
        row.stream_version()
    }

    async fn insert_events(&mut self, rows: &[EventRow]) -> Result<(), StoreError> {
        let seqs: Vec<i64> = rows.iter().map(|r| sql_int(r.seq.0)).collect();
        let event_ids: Vec<Vec<u8>> = rows
            .iter()
            .map(|r| r.event_id.as_bytes().to_vec())
            .collect();
        let stream_ids: Vec<Vec<u8>> = rows
            .iter()
            .map(|r| r.stream_id.as_bytes().to_vec())
            .collect();
        let versions: Vec<i64> = rows.iter().map(|r| sql_int(r.stream_version.0)).collect();
        let leaves: Vec<Vec<u8>> = rows.iter().map(|r| r.leaf_hash.to_vec()).collect();
        let bytes: Vec<Vec<u8>> = rows.iter().map(|r| r.bytes.clone()).collect();
        let sql = format!(
            "INSERT INTO events ({EVENT_COLUMNS}) \
             SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::bytea[], $4::int8[], $5::bytea[], $6::bytea[])"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(seqs)
            .bind(event_ids)
            .bind(stream_ids)
            .bind(versions)
            .bind(leaves)
            .bind(bytes)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn insert_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        let levels: Vec<i16> = nodes.iter().map(|(id, _)| i16::from(id.level)).collect();
        let indices: Vec<i64> = nodes.iter().map(|(id, _)| sql_int(id.index)).collect();
        let hashes: Vec<Vec<u8>> = nodes.iter().map(|(_, h)| h.to_vec()).collect();
        sqlx::query(
            "INSERT INTO merkle_nodes (level, idx, hash) SELECT * FROM UNNEST($1::int2[], $2::int8[], $3::bytea[])",
        )
        .bind(levels)
        .bind(indices)
        .bind(hashes)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn insert_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        let insert = sql::insert_checkpoint(cp);
        insert.execute(&mut *self.tx).await.map_err(db)?;
        Ok(())
    }

    async fn set_head(&mut self, head: &Head) -> Result<(), StoreError> {
        let update = sql::update_head(head);
        update.execute(&mut *self.tx).await.map_err(db)?;
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(db)
    }
}
