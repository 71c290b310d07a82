//! The PostgreSQL backend of vidkryto's log, for a node that already runs PostgreSQL. Writers
//! serialise on the head row (`SELECT … FOR UPDATE`); batches go in as one `UNNEST` insert.

use std::time::Duration;

use event_store::backend::{check_cursor_name, hash_row, sql_int};
use event_store::{Backend, EventRow, Head, LogMeta, StoreError, StoredCheckpoint, WriteTx};
use event_store_core::{EventId, Hash, LogSeq, NodeId, StreamId, StreamVersion};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

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
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(db)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(StoreError::database)?;
        Ok(Self { pool })
    }

    /// The connection pool, for tools that inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

const EVENT_COLUMNS: &str = "seq, event_id, stream_id, stream_version, leaf_hash, bytes";
const CHECKPOINT_COLUMNS: &str = "tree_size, root, note, created_at";
const HEAD_COLUMNS: &str = "tree_size, frontier, last_checkpoint_size, last_checkpoint_at";

fn event_row(row: &PgRow) -> Result<EventRow, StoreError> {
    EventRow::from_columns(
        row.try_get("seq").map_err(db)?,
        row.try_get::<&[u8], _>("event_id").map_err(db)?,
        row.try_get::<&[u8], _>("stream_id").map_err(db)?,
        row.try_get("stream_version").map_err(db)?,
        row.try_get::<&[u8], _>("leaf_hash").map_err(db)?,
        row.try_get("bytes").map_err(db)?,
    )
}

fn head_row(row: &PgRow) -> Result<Head, StoreError> {
    Head::from_columns(
        row.try_get("tree_size").map_err(db)?,
        row.try_get::<&[u8], _>("frontier").map_err(db)?,
        row.try_get("last_checkpoint_size").map_err(db)?,
        row.try_get("last_checkpoint_at").map_err(db)?,
    )
}

fn checkpoint_row(row: &PgRow) -> Result<StoredCheckpoint, StoreError> {
    StoredCheckpoint::from_columns(
        row.try_get("tree_size").map_err(db)?,
        row.try_get::<&[u8], _>("root").map_err(db)?,
        row.try_get("note").map_err(db)?,
        row.try_get("created_at").map_err(db)?,
    )
}

impl Backend for PgBackend {
    type Tx = PgTx;

    async fn begin_write(&self) -> Result<PgTx, StoreError> {
        let tx = self.pool.begin().await.map_err(db)?;
        Ok(PgTx { tx })
    }

    async fn meta(&self) -> Result<Option<LogMeta>, StoreError> {
        let row = sqlx::query("SELECT municipality, verifier_key FROM log_meta WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| {
            Ok(LogMeta {
                municipality: r.try_get("municipality").map_err(db)?,
                verifier_key: r.try_get("verifier_key").map_err(db)?,
            })
        })
        .transpose()
    }

    async fn init_meta(&self, meta: &LogMeta) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO log_meta (id, municipality, verifier_key) VALUES (1, $1, $2)")
            .bind(meta.municipality.clone())
            .bind(meta.verifier_key.clone())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn head(&self) -> Result<Head, StoreError> {
        let sql = format!("SELECT {HEAD_COLUMNS} FROM log_head WHERE id = 1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        head_row(&row)
    }

    async fn read_events(&self, from: LogSeq, limit: u32) -> Result<Vec<EventRow>, StoreError> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(sql_int(from.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event_row).collect()
    }

    async fn event_by_id(&self, id: EventId) -> Result<Option<EventRow>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(event_row).transpose()
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        from: StreamVersion,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(stream.as_bytes().to_vec())
            .bind(sql_int(from.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event_row).collect()
    }

    async fn read_hashes(
        &self,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Hash)>, StoreError> {
        let rows = if level == 0 {
            sqlx::query(
                "SELECT seq - 1 AS idx, leaf_hash AS hash FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq",
            )
            .bind(sql_int(start))
            .bind(sql_int(end))
            .fetch_all(&self.pool)
            .await
        } else {
            sqlx::query(
                "SELECT idx, hash FROM merkle_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            )
            .bind(i16::from(level))
            .bind(sql_int(start))
            .bind(sql_int(end))
            .fetch_all(&self.pool)
            .await
        }
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                hash_row(
                    r.try_get("idx").map_err(db)?,
                    r.try_get::<&[u8], _>("hash").map_err(db)?,
                )
            })
            .collect()
    }

    async fn checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE tree_size >= $1 ORDER BY tree_size LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(sql_int(from_size))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(checkpoint_row).collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let sql =
            format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY tree_size DESC LIMIT 1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(checkpoint_row).transpose()
    }

    async fn cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        check_cursor_name(name)?;
        let v: Option<i64> = sqlx::query_scalar("SELECT position FROM cursors WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(v.map(|v| v.max(0).unsigned_abs()))
    }

    async fn set_cursor(&self, name: &str, position: u64) -> Result<(), StoreError> {
        check_cursor_name(name)?;
        sqlx::query(
            "INSERT INTO cursors (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        )
        .bind(name.to_owned())
        .bind(sql_int(position))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

/// A write transaction on the PostgreSQL log; holds the head row's lock once `head` is read.
#[derive(Debug)]
pub struct PgTx {
    tx: Transaction<'static, Postgres>,
}

impl WriteTx for PgTx {
    async fn head(&mut self) -> Result<Head, StoreError> {
        let sql = format!("SELECT {HEAD_COLUMNS} FROM log_head WHERE id = 1 FOR UPDATE");
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db)?;
        head_row(&row)
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
        rows.iter().map(event_row).collect()
    }

    async fn stream_version(&mut self, stream: StreamId) -> Result<StreamVersion, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(stream_version) FROM events WHERE stream_id = $1")
                .bind(stream.as_bytes().to_vec())
                .fetch_one(&mut *self.tx)
                .await
                .map_err(db)?;
        Ok(StreamVersion(v.map_or(0, |v| v.max(0).unsigned_abs())))
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
        sqlx::query(
            "INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(sql_int(cp.size))
        .bind(cp.root.to_vec())
        .bind(cp.note.clone())
        .bind(cp.created_at.0)
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn set_head(&mut self, head: &Head) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE log_head SET tree_size = $1, frontier = $2, last_checkpoint_size = $3, \
             last_checkpoint_at = $4 WHERE id = 1",
        )
        .bind(sql_int(head.size()))
        .bind(head.frontier.to_bytes())
        .bind(sql_int(head.last_checkpoint_size))
        .bind(head.last_checkpoint_at.map(|t| t.0))
        .execute(&mut *self.tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(db)
    }
}
