//! The SQLite backend of vidkryto's log, the node's embedded default: one file, WAL journal,
//! `synchronous=FULL` unless the operator asks otherwise, writers taking the lock up front
//! (`BEGIN IMMEDIATE`) so a read-then-write transaction never fails on a stale snapshot.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use event_store::backend::{check_cursor_name, hash_row, sql_int};
use event_store::{Backend, EventRow, Head, LogMeta, StoreError, StoredCheckpoint, WriteTx};
use event_store_core::{EventId, Hash, LogSeq, NodeId, StreamId, StreamVersion};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};

/// Rows per multi-row INSERT: 6 parameters each stays far below SQLite's parameter limit.
const INSERT_ROWS_MAX: usize = 500;
/// Connections: one writer at a time plus readers (relay, proofs, verification).
const POOL_CONNECTIONS_MAX: u32 = 4;
/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How hard commits are pushed to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit survives a crash of the process, but the last commits
    /// may be lost on power loss (WAL stays consistent).
    Normal,
}

/// A node's log in one SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteBackend {
    pool: SqlitePool,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::database(e)
}

impl SqliteBackend {
    /// Opens (creating if missing) the log database at `path` and applies migrations.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        Self::connect(options).await
    }

    /// Opens a log from a `sqlite:` URL.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .connect_with(options)
            .await
            .map_err(db)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(StoreError::database)?;
        Ok(Self { pool })
    }

    /// The connection pool, for tools that inspect the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

const EVENT_COLUMNS: &str = "seq, event_id, stream_id, stream_version, leaf_hash, bytes";

fn event_row(row: &SqliteRow) -> Result<EventRow, StoreError> {
    EventRow::from_columns(
        row.try_get("seq").map_err(db)?,
        row.try_get::<&[u8], _>("event_id").map_err(db)?,
        row.try_get::<&[u8], _>("stream_id").map_err(db)?,
        row.try_get("stream_version").map_err(db)?,
        row.try_get::<&[u8], _>("leaf_hash").map_err(db)?,
        row.try_get("bytes").map_err(db)?,
    )
}

fn head_row(row: &SqliteRow) -> Result<Head, StoreError> {
    Head::from_columns(
        row.try_get("tree_size").map_err(db)?,
        row.try_get::<&[u8], _>("frontier").map_err(db)?,
        row.try_get("last_checkpoint_size").map_err(db)?,
        row.try_get("last_checkpoint_at").map_err(db)?,
    )
}

fn checkpoint_row(row: &SqliteRow) -> Result<StoredCheckpoint, StoreError> {
    StoredCheckpoint::from_columns(
        row.try_get("tree_size").map_err(db)?,
        row.try_get::<&[u8], _>("root").map_err(db)?,
        row.try_get("note").map_err(db)?,
        row.try_get("created_at").map_err(db)?,
    )
}

const HEAD_SQL: &str = "SELECT tree_size, frontier, last_checkpoint_size, last_checkpoint_at FROM log_head WHERE id = 1";
const CHECKPOINT_COLUMNS: &str = "tree_size, root, note, created_at";

impl Backend for SqliteBackend {
    type Tx = SqliteTx;

    async fn begin_write(&self) -> Result<SqliteTx, StoreError> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        Ok(SqliteTx { tx })
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
        sqlx::query("INSERT INTO log_meta (id, municipality, verifier_key) VALUES (1, ?, ?)")
            .bind(meta.municipality.clone())
            .bind(meta.verifier_key.clone())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn head(&self) -> Result<Head, StoreError> {
        let row = sqlx::query(HEAD_SQL)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        head_row(&row)
    }

    async fn read_events(&self, from: LogSeq, limit: u32) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq >= ? ORDER BY seq LIMIT ?");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(sql_int(from.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event_row).collect()
    }

    async fn event_by_id(&self, id: EventId) -> Result<Option<EventRow>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?");
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
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ? AND stream_version >= ? \
             ORDER BY stream_version LIMIT ?"
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
            sqlx::query("SELECT seq - 1 AS idx, leaf_hash AS hash FROM events WHERE seq > ? AND seq <= ? ORDER BY seq")
                .bind(sql_int(start))
                .bind(sql_int(end))
                .fetch_all(&self.pool)
                .await
        } else {
            sqlx::query("SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx")
                .bind(i64::from(level))
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
            "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE tree_size >= ? ORDER BY tree_size LIMIT ?"
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
        let v: Option<i64> = sqlx::query_scalar("SELECT position FROM cursors WHERE name = ?")
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(v.map(|v| v.max(0).unsigned_abs()))
    }

    async fn set_cursor(&self, name: &str, position: u64) -> Result<(), StoreError> {
        check_cursor_name(name)?;
        sqlx::query(
            "INSERT INTO cursors (name, position) VALUES (?, ?) \
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

/// A write transaction on the SQLite log.
#[derive(Debug)]
pub struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
}

impl WriteTx for SqliteTx {
    async fn head(&mut self) -> Result<Head, StoreError> {
        let row = sqlx::query(HEAD_SQL)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db)?;
        head_row(&row)
    }

    async fn find_events(&mut self, ids: &[EventId]) -> Result<Vec<EventRow>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(INSERT_ROWS_MAX) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id IN ({marks})");
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.as_bytes().to_vec());
            }
            let rows = q.fetch_all(&mut *self.tx).await.map_err(db)?;
            for r in &rows {
                found.push(event_row(r)?);
            }
        }
        Ok(found)
    }

    async fn stream_version(&mut self, stream: StreamId) -> Result<StreamVersion, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(stream_version) FROM events WHERE stream_id = ?")
                .bind(stream.as_bytes().to_vec())
                .fetch_one(&mut *self.tx)
                .await
                .map_err(db)?;
        Ok(StreamVersion(v.map_or(0, |v| v.max(0).unsigned_abs())))
    }

    async fn insert_events(&mut self, rows: &[EventRow]) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_ROWS_MAX) {
            let values = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES {values}");
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(sql_int(r.seq.0))
                    .bind(r.event_id.as_bytes().to_vec())
                    .bind(r.stream_id.as_bytes().to_vec())
                    .bind(sql_int(r.stream_version.0))
                    .bind(r.leaf_hash.to_vec())
                    .bind(r.bytes.clone());
            }
            q.execute(&mut *self.tx).await.map_err(db)?;
        }
        Ok(())
    }

    async fn insert_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        for chunk in nodes.chunks(INSERT_ROWS_MAX) {
            let values = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!("INSERT INTO merkle_nodes (level, idx, hash) VALUES {values}");
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (id, hash) in chunk {
                q = q
                    .bind(i64::from(id.level))
                    .bind(sql_int(id.index))
                    .bind(hash.to_vec());
            }
            q.execute(&mut *self.tx).await.map_err(db)?;
        }
        Ok(())
    }

    async fn insert_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES (?, ?, ?, ?)",
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
            "UPDATE log_head SET tree_size = ?, frontier = ?, last_checkpoint_size = ?, \
             last_checkpoint_at = ? WHERE id = 1",
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
