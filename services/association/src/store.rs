//! The association's PostgreSQL store for federation state: enrolment, each node's verified
//! position and verified log (bytes in chunks, tree levels for proofs), accepted checkpoints
//! with cosignatures, forks and quarantine. Projection tables live in `projections`.

use std::time::Duration;

use event_store::StoreError;
use event_store::proof::TreeHashes;
use event_store_core::checkpoint::NoteVerifier;
use event_store_core::merkle::{self, Frontier};
use event_store_core::{Hash, MunicipalityCode};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use crate::error::AssociationError;

/// Connections: the ingest's writer and back-fill reads (the read side has its own pool,
/// [`Store::connect_readers`]).
const POOL_CONNECTIONS_MAX: u32 = 16;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// What PostgreSQL shows an operator (`pg_stat_activity.application_name`) for a connection
/// of the writing pool: the ingest's commits, back-fill reads, decisions.
pub const WRITER_APPLICATION_NAME: &str = "vidkryto association writer";
/// … for a connection of the readers' pool.
pub const READER_APPLICATION_NAME: &str = "vidkryto association reader";
/// … for the ingest lease's own connection (`lease`).
pub const LEASE_APPLICATION_NAME: &str = "vidkryto association lease";
/// How long a writer's transaction may sit idle before PostgreSQL ends it.
const IDLE_IN_TRANSACTION_MAX: Duration = Duration::from_secs(10);
/// Events one stored chunk row holds at most; larger segments are split.
pub const CHUNK_EVENTS_MAX: usize = 2_000;

/// The association's database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

/// A node's verified position as stored.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub code: MunicipalityCode,
    pub frontier: Frontier,
    pub checkpoint: Option<(u64, Hash)>,
    pub received_seq: u64,
    /// Keys currently valid (none: revoked).
    pub keys: Vec<NoteVerifier>,
}

/// One key ever enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub code: String,
    pub vkey: String,
    pub enrolled_at_micros: i64,
    pub revoked_at_micros: Option<i64>,
}

/// A text that changes with every enrolment and revocation.
const ENROLMENT_VERSION_SQL: &str = "SELECT count(*)::text || '/' || \
     coalesce(max(greatest(enrolled_at, coalesce(revoked_at, enrolled_at)))::text, '') \
     FROM enrolment";

/// A text that changes with every revocation (enrolments leave it be).
pub(crate) const REVOCATION_VERSION_SQL: &str =
    "SELECT count(revoked_at)::text || '/' || coalesce(max(revoked_at)::text, '') FROM enrolment";

pub(crate) fn db(e: sqlx::Error) -> AssociationError {
    AssociationError::Database(e.to_string())
}

/// A municipality code read back from the database.
pub(crate) fn parse_code(text: &str) -> Result<MunicipalityCode, AssociationError> {
    MunicipalityCode::parse(text)
        .map_err(|e| AssociationError::Corrupt(format!("stored municipality code {text:?}: {e}")))
}

pub(crate) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Store {
    /// Connects to `url`, creating the database when it does not exist yet, and migrates it.
    pub async fn connect(url: &str) -> Result<Self, AssociationError> {
        ensure_database(url).await?;
        let options: sqlx::postgres::PgConnectOptions = url
            .parse()
            .map_err(|e| AssociationError::Config(format!("database URL: {e}")))?;
        // A transaction left open by a process that stopped (SIGSTOP, a stalled machine) is
        // ended, so it holds no lock (the ingest lease's row above all: `lease`) for long. No
        // write leaves its transaction idle for more than a moment.
        let options = options
            .options([(
                "idle_in_transaction_session_timeout",
                format!("{}ms", IDLE_IN_TRANSACTION_MAX.as_millis()),
            )])
            .application_name(WRITER_APPLICATION_NAME);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| AssociationError::Database(e.to_string()))?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Every key ever enrolled (for `code`, or all), oldest first.
    pub async fn keys(
        &self,
        code: Option<&MunicipalityCode>,
    ) -> Result<Vec<KeyRecord>, AssociationError> {
        let rows = sqlx::query(
            "SELECT code, vkey, (extract(epoch FROM enrolled_at) * 1000000)::int8 AS enrolled, \
                    (extract(epoch FROM revoked_at) * 1000000)::int8 AS revoked \
             FROM enrolment WHERE $1::text IS NULL OR code = $1 ORDER BY code, enrolled_at, vkey, id",
        )
        .bind(code.map(|c| c.as_str().to_owned()))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(KeyRecord {
                    code: row.try_get("code").map_err(db)?,
                    vkey: row.try_get("vkey").map_err(db)?,
                    enrolled_at_micros: row.try_get("enrolled").map_err(db)?,
                    revoked_at_micros: row.try_get("revoked").map_err(db)?,
                })
            })
            .collect()
    }

    /// Every enrolled node (revoked ones too) with its verified position and valid keys.
    pub async fn nodes(&self) -> Result<Vec<NodeRow>, AssociationError> {
        let rows = sqlx::query(
            "SELECT n.code, n.verified_size, n.frontier, n.checkpoint_size, n.checkpoint_root, \
                    n.received_seq, \
                    coalesce(array_agg(e.vkey) FILTER (WHERE e.revoked_at IS NULL), '{}') AS keys \
             FROM fed_node n LEFT JOIN enrolment e ON e.code = n.code \
             GROUP BY n.code ORDER BY n.code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut nodes = Vec::with_capacity(rows.len());
        for row in rows {
            let code_text: String = row.try_get("code").map_err(db)?;
            let code = MunicipalityCode::parse(&code_text).map_err(|e| {
                AssociationError::Corrupt(format!("fed_node code {code_text:?}: {e}"))
            })?;
            let size = uint(row.try_get("verified_size").map_err(db)?);
            let frontier_bytes: Vec<u8> = row.try_get("frontier").map_err(db)?;
            let frontier = Frontier::from_parts(size, &frontier_bytes)
                .map_err(|e| AssociationError::Corrupt(format!("frontier of {code}: {e}")))?;
            let checkpoint_size = uint(row.try_get("checkpoint_size").map_err(db)?);
            let root: Option<Vec<u8>> = row.try_get("checkpoint_root").map_err(db)?;
            let checkpoint = match root {
                Some(root) => Some((checkpoint_size, hash(&root)?)),
                None => None,
            };
            let key_texts: Vec<String> = row.try_get("keys").map_err(db)?;
            let keys = key_texts
                .iter()
                .map(|k| NoteVerifier::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AssociationError::Corrupt(format!("enrolled key of {code}: {e}")))?;
            nodes.push(NodeRow {
                code,
                frontier,
                checkpoint,
                received_seq: uint(row.try_get("received_seq").map_err(db)?),
                keys,
            });
        }
        Ok(nodes)
    }

    /// Changes whenever a key is enrolled or revoked (by any process).
    pub async fn enrolment_version(&self) -> Result<String, AssociationError> {
        sqlx::query_scalar(ENROLMENT_VERSION_SQL)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    /// The revocations' version (`REVOCATION_VERSION_SQL`).
    pub async fn revocation_version(&self) -> Result<String, AssociationError> {
        sqlx::query_scalar(REVOCATION_VERSION_SQL)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    /// Where the ingest resumes.
    pub async fn ingest_position(&self) -> Result<u64, AssociationError> {
        let seq: i64 = sqlx::query_scalar("SELECT stream_seq FROM ingest_position")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(uint(seq).max(1))
    }

    /// Verified events `from_seq ..= to_seq` of `code` (fewer when the log is shorter), in
    /// order, as stored bytes.
    pub async fn events(
        &self,
        code: &MunicipalityCode,
        from_seq: u64,
        to_seq: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, AssociationError> {
        if from_seq > to_seq {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT first_seq, events FROM fed_event_chunk \
             WHERE code = $1 AND last_seq >= $2 AND first_seq <= $3 ORDER BY first_seq",
        )
        .bind(code.as_str())
        .bind(int(from_seq))
        .bind(int(to_seq))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let first = uint(row.try_get("first_seq").map_err(db)?);
            let bytes: Vec<u8> = row.try_get("events").map_err(db)?;
            for (i, event) in split_chunk(&bytes)?.into_iter().enumerate() {
                let seq = first + i as u64;
                if (from_seq..=to_seq).contains(&seq) {
                    out.push((seq, event.to_vec()));
                }
            }
        }
        Ok(out)
    }

    /// The verified tree of one node, for proofs.
    pub fn tree(&self, code: MunicipalityCode) -> VerifiedTree<'_> {
        VerifiedTree { store: self, code }
    }

    /// The node's verified size.
    pub async fn verified_size(
        &self,
        code: &MunicipalityCode,
    ) -> Result<Option<u64>, AssociationError> {
        let size: Option<i64> =
            sqlx::query_scalar("SELECT verified_size FROM fed_node WHERE code = $1")
                .bind(code.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(size.map(uint))
    }
}

// ---- The read side's own pool ---------------------------------------------------------------

/// Connections of the read side's pool (the gRPC queries, the snapshot reload, the digest):
/// readers wait for one of these, never for the ingest's. Eight keep every PostgreSQL query of
/// the APIs answering (each takes milliseconds) while one digest scan and one reload run, and
/// together with the ingest's 16 stay far below PostgreSQL's default of 100 connections.
const READER_CONNECTIONS_MAX: u32 = 8;
/// How long a reader waits for a connection before its call fails `UNAVAILABLE`: well inside
/// the server's 30 s request timeout, so an overloaded read side answers rather than hangs.
const READER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one statement of a reader may run. Every query of the APIs reads an index
/// range or a bounded page, so 10 s is already a database in trouble; a reader's scan must
/// not hold a connection (and PostgreSQL's CPU) for the whole 30 s request timeout, nor after
/// its caller gave up. The snapshot reload and the digest set their own, longer bounds.
pub const READER_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// A store on its own, smaller pool for the read side. Its sessions are read-only and
    /// each statement ends after [`READER_STATEMENT_TIMEOUT`]. Connect the ingest's store
    /// first: it creates and migrates the database.
    pub async fn connect_readers(url: &str) -> Result<Self, AssociationError> {
        use sqlx::postgres::PgConnectOptions;
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| AssociationError::Config(format!("database URL: {e}")))?;
        let options = options
            .options([
                (
                    "statement_timeout",
                    format!("{}ms", READER_STATEMENT_TIMEOUT.as_millis()),
                ),
                ("default_transaction_read_only", "on".to_owned()),
            ])
            .application_name(READER_APPLICATION_NAME);
        let pool = PgPoolOptions::new()
            .max_connections(READER_CONNECTIONS_MAX)
            .acquire_timeout(READER_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db)?;
        Ok(Self { pool })
    }
}

/// Bounds each statement of `tx` by `timeout` instead of the session's (for the read side's
/// long, single-flight reads: the snapshot reload and the digest).
pub(crate) async fn statement_timeout(
    tx: &mut Tx<'_>,
    timeout: Duration,
) -> Result<(), AssociationError> {
    sqlx::query("SELECT set_config('statement_timeout', $1, true)")
        .bind(format!("{}ms", timeout.as_millis()))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

// ---- End of the read side's pool ------------------------------------------------------------

/// One node's verified log as a tree source for [`event_store::proof`].
#[derive(Debug, Clone, Copy)]
pub struct VerifiedTree<'a> {
    store: &'a Store,
    code: MunicipalityCode,
}

fn store_error(e: AssociationError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl TreeHashes for VerifiedTree<'_> {
    async fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(self
            .store
            .verified_size(&self.code)
            .await
            .map_err(store_error)?
            .unwrap_or(0))
    }

    async fn tree_hashes(
        &self,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Hash)>, StoreError> {
        if level == 0 {
            let events = self
                .store
                .events(&self.code, start + 1, end)
                .await
                .map_err(store_error)?;
            return Ok(events
                .into_iter()
                .map(|(seq, bytes)| (seq - 1, merkle::leaf_hash(&bytes)))
                .collect());
        }
        let rows = sqlx::query(
            "SELECT idx, hash FROM fed_tree_node \
             WHERE code = $1 AND level = $2 AND idx >= $3 AND idx < $4 ORDER BY idx",
        )
        .bind(self.code.as_str())
        .bind(i16::from(level))
        .bind(int(start))
        .bind(int(end))
        .fetch_all(&self.store.pool)
        .await
        .map_err(StoreError::database)?;
        rows.iter()
            .map(|row| {
                let idx: i64 = row.try_get("idx").map_err(StoreError::database)?;
                let bytes: Vec<u8> = row.try_get("hash").map_err(StoreError::database)?;
                event_store::backend::hash_row(idx, &bytes)
            })
            .collect()
    }
}

pub(crate) fn hash(bytes: &[u8]) -> Result<Hash, AssociationError> {
    bytes
        .try_into()
        .map_err(|_| AssociationError::Corrupt(format!("a stored hash has {} bytes", bytes.len())))
}

/// Packs events into a chunk: each is its u32 little-endian length then its bytes.
pub fn pack_chunk<'a>(events: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        out.extend_from_slice(&(event.len() as u32).to_le_bytes());
        out.extend_from_slice(event);
    }
    out
}

/// The events of a chunk.
pub fn split_chunk(mut bytes: &[u8]) -> Result<Vec<&[u8]>, AssociationError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let corrupt = || AssociationError::Corrupt("a stored event chunk is truncated".into());
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(corrupt());
        }
        let (event, rest) = rest.split_at(len);
        out.push(event);
        bytes = rest;
    }
    Ok(out)
}

/// Creates the database `url` names when it does not exist, through the server's `postgres`
/// database, so `association run` works on a fresh server.
async fn ensure_database(url: &str) -> Result<(), AssociationError> {
    use sqlx::ConnectOptions;
    use sqlx::postgres::PgConnectOptions;
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e| AssociationError::Config(format!("database URL: {e}")))?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    if name == "postgres" {
        return Ok(());
    }
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(db)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .map_err(db)?;
    if !exists {
        let quoted = name.replace('"', "\"\"");
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{quoted}\"")))
            .execute(&mut admin)
            .await;
        // Another process may have created it meanwhile.
        if let Err(e) = created
            && !e.to_string().contains("already exists")
        {
            return Err(db(e));
        }
    }
    Ok(())
}

/// A transaction on the store, for the ingest's commits.
pub type Tx<'a> = Transaction<'a, Postgres>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_refuse_truncation() {
        let events: Vec<&[u8]> = vec![b"one", b"", b"three"];
        let packed = pack_chunk(events.iter().copied());
        assert_eq!(split_chunk(&packed).unwrap(), events);
        assert!(split_chunk(&packed[..packed.len() - 1]).is_err());
        assert!(split_chunk(&[1, 0]).is_err());
    }
}
