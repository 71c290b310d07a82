//! The SQLite backend of vidkryto's log, the node's embedded default: one file, WAL journal,
//! `synchronous=FULL` unless the operator asks otherwise, writers taking the lock up front
//! (`BEGIN IMMEDIATE`) so a read-then-write transaction never fails on a stale snapshot.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use event_store::backend::sql_int;
use event_store::sql::{self, EVENT_COLUMNS, SELECT_HEAD, open_pool};
use event_store::{EventRow, Head, LogRow, SqlBackend, StoreError, StoredCheckpoint, WriteTx};
use event_store_core::{EventId, Hash, NodeId, StreamId, StreamVersion};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Sqlite, Transaction};

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
        let pool = SqlitePoolOptions::new().max_connections(POOL_CONNECTIONS_MAX);
        let pool = open_pool(pool, options, &sqlx::migrate!("./migrations")).await?;
        Ok(Self { pool })
    }
}

/// A write transaction on the SQLite log.
#[derive(Debug)]
pub struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
}

impl SqlBackend for SqliteBackend {
    type Database = Sqlite;
    type Tx = SqliteTx;

    /// `BEGIN IMMEDIATE` takes the write lock up front, so no read-then-write transaction
    /// fails on a stale snapshot.
    async fn begin(&self) -> Result<SqliteTx, StoreError> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        Ok(SqliteTx { tx })
    }

    /// Also for tools that inspect the database directly.
    fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl WriteTx for SqliteTx {
    async fn head(&mut self) -> Result<Head, StoreError> {
        let row = sqlx::query(SELECT_HEAD)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db)?;
        row.head()
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
                found.push(r.event_row()?);
            }
        }
        Ok(found)
    }

    async fn stream_version(&mut self, stream: StreamId) -> Result<StreamVersion, StoreError> {
        let select = sql::select_stream_version(stream);
        let row = select.fetch_one(&mut *self.tx).await.map_err(db)?;
        row.stream_version()
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
