//! What the SQL backends do alike, written once over any sqlx database with the log's column
//! types: opening and migrating, every read query, every row decoder, and the single-row
//! statements a writer runs in its own transaction. A backend keeps only what differs
//! ([`SqlBackend`]): how a write transaction takes the lock and how a batch is inserted.
//!
//! One SQL text serves SQLite and PostgreSQL: placeholders are `$N`, which SQLite reads as a
//! numbered parameter just as PostgreSQL does (sqlx binds `$N` to the N-th argument on both).

use std::future::Future;

use event_store_core::{EventId, Hash, LogSeq, StreamId, StreamVersion};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::pool::PoolOptions;
use sqlx::query::Query;
use sqlx::{
    ColumnIndex, Connection, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type,
};

use crate::backend::{
    Backend, EventRow, Head, LogMeta, StoredCheckpoint, WriteTx, check_cursor_name, hash_row,
    sql_int,
};
use crate::error::StoreError;

// Column lists, as macros so that `concat!` can build the queries as constants.
macro_rules! event_columns {
    () => {
        "seq, event_id, stream_id, stream_version, leaf_hash, bytes"
    };
}
macro_rules! head_columns {
    () => {
        "tree_size, frontier, last_checkpoint_size, last_checkpoint_at"
    };
}
macro_rules! checkpoint_columns {
    () => {
        "tree_size, root, note, created_at"
    };
}

/// An event's columns, in table order, for a backend's own event queries and inserts.
pub const EVENT_COLUMNS: &str = event_columns!();

/// The head row. A writer's transaction may add its database's row lock.
pub const SELECT_HEAD: &str = concat!("SELECT ", head_columns!(), " FROM log_head WHERE id = 1");
/// The head row, locked for a writer where the database locks rows (PostgreSQL).
pub const SELECT_HEAD_FOR_UPDATE: &str = concat!(
    "SELECT ",
    head_columns!(),
    " FROM log_head WHERE id = 1 FOR UPDATE"
);

const SELECT_STREAM_VERSION: &str =
    "SELECT MAX(stream_version) AS version FROM events WHERE stream_id = $1";
const INSERT_CHECKPOINT: &str =
    "INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES ($1, $2, $3, $4)";
const UPDATE_HEAD: &str = "UPDATE log_head SET tree_size = $1, frontier = $2, \
     last_checkpoint_size = $3, last_checkpoint_at = $4 WHERE id = 1";
const SELECT_META: &str = "SELECT municipality, verifier_key FROM log_meta WHERE id = 1";
const INSERT_META: &str =
    "INSERT INTO log_meta (id, municipality, verifier_key) VALUES (1, $1, $2)";
const READ_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2"
);
const EVENT_BY_ID: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE event_id = $1"
);
const READ_STREAM: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
);
/// Level 0 of the tree is the events' leaf hashes; leaf `i` is event `i + 1`.
const LEAF_HASHES: &str = "SELECT seq - 1 AS idx, leaf_hash AS hash FROM events \
     WHERE seq > $1 AND seq <= $2 ORDER BY seq";
const NODE_HASHES: &str = "SELECT idx, hash FROM merkle_nodes \
     WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx";
const CHECKPOINTS: &str = concat!(
    "SELECT ",
    checkpoint_columns!(),
    " FROM checkpoints WHERE tree_size >= $1 ORDER BY tree_size LIMIT $2"
);
const LATEST_CHECKPOINT: &str = concat!(
    "SELECT ",
    checkpoint_columns!(),
    " FROM checkpoints ORDER BY tree_size DESC LIMIT 1"
);
const SELECT_CURSOR: &str = "SELECT position FROM cursors WHERE name = $1";
const UPSERT_CURSOR: &str = "INSERT INTO cursors (name, position) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET position = excluded.position";

fn db(e: sqlx::Error) -> StoreError {
    StoreError::database(e)
}

/// Opens a backend's pool and brings its schema up to `migrations` (its embedded migrations).
pub async fn open_pool<DB>(
    pool: PoolOptions<DB>,
    options: <DB::Connection as Connection>::Options,
    migrations: &Migrator,
) -> Result<Pool<DB>, StoreError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let pool = pool.connect_with(options).await.map_err(db)?;
    migrations.run(&pool).await.map_err(StoreError::database)?;
    Ok(pool)
}

/// The statement that reads a stream's current version (see [`LogRow::stream_version`]), bound,
/// for a writer to run in its transaction.
pub fn select_stream_version<DB: Database>(stream: StreamId) -> Query<'static, DB, DB::Arguments>
where
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(SELECT_STREAM_VERSION).bind(stream.as_bytes().to_vec())
}

/// The statement that records a checkpoint, bound, for a writer to run in its transaction.
pub fn insert_checkpoint<DB: Database>(cp: &StoredCheckpoint) -> Query<'static, DB, DB::Arguments>
where
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(INSERT_CHECKPOINT)
        .bind(sql_int(cp.size))
        .bind(cp.root.to_vec())
        .bind(cp.note.clone())
        .bind(cp.created_at.0)
}

/// The statement that replaces the head, bound, for a writer to run in its transaction.
pub fn update_head<DB: Database>(head: &Head) -> Query<'static, DB, DB::Arguments>
where
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(UPDATE_HEAD)
        .bind(sql_int(head.size()))
        .bind(head.frontier.to_bytes())
        .bind(sql_int(head.last_checkpoint_size))
        .bind(head.last_checkpoint_at.map(|t| t.0))
}

/// A backend in a database that sqlx reaches. It brings what differs between databases, its
/// pool and its write transactions; every such backend is a [`Backend`] through the impl below.
pub trait SqlBackend: Send + Sync + 'static {
    /// The sqlx database.
    type Database: Database;
    /// A write transaction holding the log's write lock.
    type Tx: WriteTx;

    /// The pool reads go through.
    fn pool(&self) -> &Pool<Self::Database>;

    /// Starts a write transaction, taking the database's write lock (see
    /// [`Backend::begin_write`]).
    fn begin(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;
}

/// A row of the log's tables, from any sqlx database that decodes the log's column types
/// (64-bit integers, byte strings, text). A stored row is input, so a malformed event, head or
/// checkpoint is [`StoreError::Corrupt`], never a panic; a negative stream version or cursor
/// position reads as 0, as the backends always read them.
pub trait LogRow: Row {
    /// An event row ([`EVENT_COLUMNS`]).
    fn event_row(&self) -> Result<EventRow, StoreError>;
    /// The head row ([`SELECT_HEAD`]).
    fn head(&self) -> Result<Head, StoreError>;
    /// A checkpoint row.
    fn checkpoint(&self) -> Result<StoredCheckpoint, StoreError>;
    /// An `(idx, hash)` row of a hash read.
    fn node_hash(&self) -> Result<(u64, Hash), StoreError>;
    /// The log's identity row.
    fn meta(&self) -> Result<LogMeta, StoreError>;
    /// The row of [`select_stream_version`]: 0 for a stream with no event.
    fn stream_version(&self) -> Result<StreamVersion, StoreError>;
    /// A reader's saved position.
    fn cursor(&self) -> Result<u64, StoreError>;
}

impl<R> LogRow for R
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn event_row(&self) -> Result<EventRow, StoreError> {
        EventRow::from_columns(
            self.try_get("seq").map_err(db)?,
            self.try_get("event_id").map_err(db)?,
            self.try_get("stream_id").map_err(db)?,
            self.try_get("stream_version").map_err(db)?,
            self.try_get("leaf_hash").map_err(db)?,
            self.try_get("bytes").map_err(db)?,
        )
    }

    fn head(&self) -> Result<Head, StoreError> {
        Head::from_columns(
            self.try_get("tree_size").map_err(db)?,
            self.try_get("frontier").map_err(db)?,
            self.try_get("last_checkpoint_size").map_err(db)?,
            self.try_get("last_checkpoint_at").map_err(db)?,
        )
    }

    fn checkpoint(&self) -> Result<StoredCheckpoint, StoreError> {
        StoredCheckpoint::from_columns(
            self.try_get("tree_size").map_err(db)?,
            self.try_get("root").map_err(db)?,
            self.try_get("note").map_err(db)?,
            self.try_get("created_at").map_err(db)?,
        )
    }

    fn node_hash(&self) -> Result<(u64, Hash), StoreError> {
        hash_row(
            self.try_get("idx").map_err(db)?,
            self.try_get("hash").map_err(db)?,
        )
    }

    fn meta(&self) -> Result<LogMeta, StoreError> {
        Ok(LogMeta {
            municipality: self.try_get("municipality").map_err(db)?,
            verifier_key: self.try_get("verifier_key").map_err(db)?,
        })
    }

    fn stream_version(&self) -> Result<StreamVersion, StoreError> {
        let version: Option<i64> = self.try_get("version").map_err(db)?;
        Ok(StreamVersion(
            version.map_or(0, |v| v.max(0).unsigned_abs()),
        ))
    }

    fn cursor(&self) -> Result<u64, StoreError> {
        let position: i64 = self.try_get("position").map_err(db)?;
        Ok(position.max(0).unsigned_abs())
    }
}

impl<T> Backend for T
where
    T: SqlBackend,
    for<'c> &'c mut <T::Database as Database>::Connection: Executor<'c, Database = T::Database>,
    <T::Database as Database>::Arguments: IntoArguments<T::Database>,
    <T::Database as Database>::Row: LogRow,
    for<'q> i16: Encode<'q, T::Database> + Type<T::Database>,
    for<'q> i64: Encode<'q, T::Database> + Type<T::Database>,
    for<'q> Vec<u8>: Encode<'q, T::Database> + Type<T::Database>,
    for<'q> String: Encode<'q, T::Database> + Type<T::Database>,
{
    type Tx = T::Tx;

    async fn begin_write(&self) -> Result<T::Tx, StoreError> {
        self.begin().await
    }

    async fn meta(&self) -> Result<Option<LogMeta>, StoreError> {
        let row = sqlx::query(SELECT_META)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(LogRow::meta).transpose()
    }

    async fn init_meta(&self, meta: &LogMeta) -> Result<(), StoreError> {
        sqlx::query(INSERT_META)
            .bind(meta.municipality.clone())
            .bind(meta.verifier_key.clone())
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn head(&self) -> Result<Head, StoreError> {
        let row = sqlx::query(SELECT_HEAD)
            .fetch_one(self.pool())
            .await
            .map_err(db)?;
        row.head()
    }

    async fn read_events(&self, from: LogSeq, limit: u32) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query(READ_EVENTS)
            .bind(sql_int(from.0))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(LogRow::event_row).collect()
    }

    async fn event_by_id(&self, id: EventId) -> Result<Option<EventRow>, StoreError> {
        let row = sqlx::query(EVENT_BY_ID)
            .bind(id.as_bytes().to_vec())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(LogRow::event_row).transpose()
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        from: StreamVersion,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query(READ_STREAM)
            .bind(stream.as_bytes().to_vec())
            .bind(sql_int(from.0))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(LogRow::event_row).collect()
    }

    async fn read_hashes(
        &self,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Hash)>, StoreError> {
        let query = if level == 0 {
            sqlx::query(LEAF_HASHES)
        } else {
            sqlx::query(NODE_HASHES).bind(i16::from(level))
        };
        let rows = query
            .bind(sql_int(start))
            .bind(sql_int(end))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(LogRow::node_hash).collect()
    }

    async fn checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(CHECKPOINTS)
            .bind(sql_int(from_size))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(LogRow::checkpoint).collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(LATEST_CHECKPOINT)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(LogRow::checkpoint).transpose()
    }

    async fn cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        check_cursor_name(name)?;
        let row = sqlx::query(SELECT_CURSOR)
            .bind(name.to_owned())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(LogRow::cursor).transpose()
    }

    async fn set_cursor(&self, name: &str, position: u64) -> Result<(), StoreError> {
        check_cursor_name(name)?;
        sqlx::query(UPSERT_CURSOR)
            .bind(name.to_owned())
            .bind(sql_int(position))
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }
}
