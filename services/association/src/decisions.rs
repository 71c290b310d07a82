//! The association's own log (`projection::association_log`): every decision it takes
//! (enrolling or revoking a hromada's key, recommending a practice or withdrawing it, stating
//! its projection) is an entry appended **in the transaction of the decision**, with the
//! checkpoint of the new size signed by its witness key, so the enrolment history an auditor
//! checks node signatures against is itself a verifiable log. Appends take a transaction-scoped
//! advisory lock, so entries of concurrent decisions (also of other processes, such as
//! `vidkryto association enroll`) are numbered without gaps and their times never go back.
//!
//! Whoever can write the database but does not hold the key must not get the association to
//! sign a history of their making: before appending, the last checkpoint must verify under the
//! key and the stored tree must have its root, and the log must extend the size and root the
//! association last wrote beside its key ([`LOG_HEAD_FILE`] in its directory), so an emptied or
//! truncated log is refused rather than written anew.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use event_store_core::checkpoint::{NoteSigner, NoteVerifier, SignedCheckpoint, origin_for};
use event_store_core::merkle::{self, Frontier};
use event_store_core::{MunicipalityCode, Timestamp};
use projection::association_log::{Decision, ENTRY_LEN_MAX, Entry, KeyHistory, ORIGIN, extend};
use sqlx::{Postgres, Row, Transaction};

use crate::error::AssociationError;
use crate::store::{Store, db, int, uint};

/// The file in the association's directory that holds the size and root of the log it last
/// signed (`<size> <root hex>`).
pub const LOG_HEAD_FILE: &str = "association-log.head";

/// What signs the association's log: the witness key, and where the last signed size is kept
/// beside it (none: no such guard, for benches).
#[derive(Debug, Clone)]
pub struct Signer {
    key: Arc<NoteSigner>,
    head_file: Option<PathBuf>,
}

impl Signer {
    pub fn new(key: Arc<NoteSigner>, head_file: Option<PathBuf>) -> Self {
        Self { key, head_file }
    }

    /// The signer of an association's directory (`vidkryto association init`).
    pub fn of_dir(key: Arc<NoteSigner>, dir: &Path) -> Self {
        Self::new(key, Some(dir.join(LOG_HEAD_FILE)))
    }

    pub fn key(&self) -> &Arc<NoteSigner> {
        &self.key
    }

    /// The size and root the association last wrote beside its key.
    fn recorded_head(&self) -> Result<Option<(u64, merkle::Hash)>, AssociationError> {
        let Some(path) = &self.head_file else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(AssociationError::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let bad =
            || AssociationError::Corrupt(format!("{} is not `<size> <root hex>`", path.display()));
        let (size, root) = text.trim().split_once(' ').ok_or_else(bad)?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(root, &mut hash).map_err(|_| bad())?;
        Ok(Some((size.parse().map_err(|_| bad())?, hash)))
    }

    /// Writes the log's new end beside the key (never a smaller size than is there).
    fn record_head(&self, head: &Head) -> Result<(), AssociationError> {
        let Some(path) = &self.head_file else {
            return Ok(());
        };
        // Nothing appended under this lock: nothing to record. Otherwise read again: another
        // process may have recorded a longer log since the lock was released.
        if head.seq <= head.recorded
            || self
                .recorded_head()?
                .is_some_and(|(size, _)| size >= head.seq)
        {
            return Ok(());
        }
        let text = format!("{} {}\n", head.seq, hex::encode(head.frontier.root()));
        let tmp = path.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| AssociationError::Config(format!("cannot write {}: {e}", path.display())))
    }
}

/// The advisory lock that orders appends ("vidkryto" in ASCII).
const LOG_LOCK: i64 = 0x7669_646b_7279_746f;
/// Bytes of entries one read returns at most (an auditor's client takes messages of 1 MiB).
pub const READ_BYTES_MAX: usize = 768 * 1024;
/// Entries one read returns at most.
pub const READ_ENTRIES_MAX: u32 = 1_000;

/// The log's end, held under the append lock of one transaction.
pub(crate) struct Head {
    seq: u64,
    at_micros: i64,
    frontier: Frontier,
    /// The size recorded beside the key when the lock was taken.
    recorded: u64,
}

impl Head {
    /// Takes the append lock for `tx` and reads the log's end, refusing a log its key did not
    /// sign as it is, or shorter than the association last recorded. When the log is empty and
    /// never was written, the decisions of a database from before the log are written first,
    /// in time order, with their recorded times.
    pub(crate) async fn lock(
        tx: &mut Transaction<'_, Postgres>,
        signer: &Signer,
    ) -> Result<Self, AssociationError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        let recorded = signer.recorded_head()?;
        let row = sqlx::query(
            "SELECT seq, bytes, frontier, checkpoint FROM association_log \
             ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            if let Some((size, _)) = recorded.filter(|(size, _)| *size > 0) {
                return Err(AssociationError::Corrupt(format!(
                    "the association's log is empty, but it signed {size} entries: it was \
                     emptied; restore it from a backup"
                )));
            }
            let mut head = Self {
                seq: 0,
                at_micros: i64::MIN,
                frontier: Frontier::new(),
                recorded: 0,
            };
            head.import(tx, signer).await?;
            return Ok(head);
        };
        let corrupt =
            |what: String| AssociationError::Corrupt(format!("the association's log: {what}"));
        let seq = uint(row.try_get("seq").map_err(db)?);
        let bytes: Vec<u8> = row.try_get("bytes").map_err(db)?;
        let frontier: Vec<u8> = row.try_get("frontier").map_err(db)?;
        let frontier = Frontier::from_parts(seq, &frontier).map_err(|e| corrupt(e.to_string()))?;
        let checkpoint: String = row.try_get("checkpoint").map_err(db)?;
        let signed = SignedCheckpoint::parse(&checkpoint).map_err(|e| corrupt(e.to_string()))?;
        // Appending under another key than the log's (a wrong --dir) would leave entries no
        // auditor can verify, for good.
        if signed.verify_for(&signer.key.verifier(), ORIGIN).is_err() {
            return Err(AssociationError::Config(format!(
                "the association's log is not signed by {} (is this the association's \
                 directory?)",
                signer.key.verifier().to_text()
            )));
        }
        if signed.checkpoint.size != seq || signed.checkpoint.root != frontier.root() {
            return Err(corrupt(format!(
                "the stored tree of entry {seq} is not the one its checkpoint signed"
            )));
        }
        if let Some((size, root)) = recorded.filter(|(size, _)| *size > 0) {
            // The usual case, the size last recorded is the last entry's: its signed root.
            let same = if size == seq {
                signed.checkpoint.root == root
            } else {
                let at_size: Option<String> =
                    sqlx::query_scalar("SELECT checkpoint FROM association_log WHERE seq = $1")
                        .bind(int(size))
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db)?;
                at_size
                    .and_then(|note| SignedCheckpoint::parse(&note).ok())
                    .is_some_and(|c| c.checkpoint.root == root)
            };
            if !same {
                return Err(corrupt(format!(
                    "it does not extend the {size} entries it last signed (truncated or \
                     rewritten); restore it from a backup"
                )));
            }
        }
        let at_micros = Entry::decode(seq, &bytes)
            .map_err(|e| corrupt(e.to_string()))?
            .at_micros;
        Ok(Self {
            seq,
            at_micros,
            frontier,
            recorded: recorded.map_or(0, |(size, _)| size),
        })
    }

    /// Commits `tx` and records the log's new end beside the key.
    pub(crate) async fn commit(
        self,
        tx: Transaction<'_, Postgres>,
        signer: &Signer,
    ) -> Result<(), AssociationError> {
        tx.commit().await.map_err(db)?;
        signer.record_head(&self)
    }

    /// The time of a decision taken at `now`: never before the last entry's.
    pub(crate) fn time(&self, now: Timestamp) -> i64 {
        now.as_micros().max(self.at_micros)
    }

    /// Appends `decision` at `at_micros` (from [`Self::time`]) and signs the new size.
    pub(crate) async fn append(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        signer: &Signer,
        at_micros: i64,
        decision: Decision,
    ) -> Result<u64, AssociationError> {
        let seq = self.seq + 1;
        let at_micros = at_micros.max(self.at_micros);
        let bytes = Entry::new(seq, at_micros, decision).encode();
        if bytes.len() > ENTRY_LEN_MAX {
            return Err(AssociationError::invalid(
                "decision",
                format!("{} bytes, more than {ENTRY_LEN_MAX}", bytes.len()),
            ));
        }
        let mut frontier = self.frontier.clone();
        let checkpoint = signer.key.sign(extend(&mut frontier, &bytes)).to_note();
        sqlx::query(
            "INSERT INTO association_log (seq, at_micros, bytes, frontier, checkpoint) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(int(seq))
        .bind(at_micros)
        .bind(&bytes)
        .bind(frontier.to_bytes())
        .bind(&checkpoint)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        self.seq = seq;
        self.at_micros = at_micros;
        self.frontier = frontier;
        Ok(seq)
    }

    /// Writes the decisions a database from before the log holds: every enrolment window (its
    /// revocation as an entry of its own), every standing recommendation and every statement.
    async fn import(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        signer: &Signer,
    ) -> Result<(), AssociationError> {
        let micros = |column: &str| format!("(extract(epoch FROM {column}) * 1000000)::int8");
        // (time, enrolment row, 0 for an enrolment or 1 for its revocation, decision): at one
        // time a window opens before it closes, and closes before a later window opens.
        let mut decisions: Vec<(i64, i64, u8, Decision)> = Vec::new();
        let keys = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, code, vkey, {} AS enrolled, {} AS revoked FROM enrolment ORDER BY id",
            micros("enrolled_at"),
            micros("revoked_at")
        )))
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
        // Windows of one key follow each other in row order; times written by different
        // clocks (the command line, the server, the ingest) are moved forward to keep it so.
        let mut window_ends: HashMap<(String, String), i64> = HashMap::new();
        for row in keys {
            let municipality: String = row.try_get("code").map_err(db)?;
            let vkey: String = row.try_get("vkey").map_err(db)?;
            let id: i64 = row.try_get("id").map_err(db)?;
            let end = window_ends
                .entry((municipality.clone(), vkey.clone()))
                .or_insert(i64::MIN);
            let enrolled: i64 = row.try_get::<i64, _>("enrolled").map_err(db)?.max(*end);
            let revoked: Option<i64> = row
                .try_get::<Option<i64>, _>("revoked")
                .map_err(db)?
                .map(|at| at.max(enrolled));
            *end = revoked.unwrap_or(i64::MAX);
            if let Some(at) = revoked {
                decisions.push((
                    at,
                    id,
                    1,
                    Decision::Revoked {
                        municipality: municipality.clone(),
                        vkey: vkey.clone(),
                    },
                ));
            }
            decisions.push((enrolled, id, 0, Decision::Enrolled { municipality, vkey }));
        }
        let recommendations = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT municipality, tool, id, reason, {} AS at FROM practice_recommendation",
            micros("recommended_at")
        )))
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
        for row in recommendations {
            let id: Vec<u8> = row.try_get("id").map_err(db)?;
            decisions.push((
                row.try_get("at").map_err(db)?,
                0,
                2,
                Decision::Recommended {
                    municipality: row.try_get("municipality").map_err(db)?,
                    tool: row.try_get("tool").map_err(db)?,
                    id: id.try_into().map_err(|_| {
                        AssociationError::Corrupt("a recommended practice's id".into())
                    })?,
                    reason: row.try_get("reason").map_err(db)?,
                },
            ));
        }
        let statements = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT note, {} AS at FROM statement ORDER BY id",
            micros("made_at")
        )))
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
        for row in statements {
            decisions.push((
                row.try_get("at").map_err(db)?,
                0,
                3,
                Decision::Stated {
                    note: row.try_get("note").map_err(db)?,
                },
            ));
        }
        decisions.sort_by_key(|(at, row, order, _)| (*at, *row, *order));
        let count = decisions.len();
        // Nothing is signed that an auditor would refuse.
        let mut history = KeyHistory::new();
        for (at, _, _, decision) in decisions {
            let at = at.max(self.at_micros);
            history
                .apply(&Entry::new(self.seq + 1, at, decision.clone()))
                .map_err(|e| {
                    AssociationError::Corrupt(format!(
                        "the decisions taken before the association's log do not form a \
                         history: {e}"
                    ))
                })?;
            self.append(tx, signer, at, decision).await?;
        }
        if count > 0 {
            tracing::info!(
                entries = count,
                "wrote the decisions taken before the association's log into it"
            );
        }
        Ok(())
    }
}

/// Checks the log against its key and what the association last recorded, and starts the log
/// of a database that has none yet (see [`Head::lock`]); returns its size.
pub async fn ensure_started(store: &Store, signer: &Signer) -> Result<u64, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    let head = Head::lock(&mut tx, signer).await?;
    let size = head.seq;
    head.commit(tx, signer).await?;
    Ok(size)
}

/// Enrols `vkey` for `code` from now (again, if it was revoked: a new validity window, the
/// earlier ones kept), recording the decision in the log. Returns whether anything changed.
pub async fn enroll(
    store: &Store,
    signer: &Signer,
    code: &MunicipalityCode,
    vkey: &NoteVerifier,
) -> Result<bool, AssociationError> {
    let origin = origin_for(code);
    if vkey.name() != origin {
        return Err(AssociationError::invalid(
            "vkey",
            format!("the key is named {:?}, not {origin:?}", vkey.name()),
        ));
    }
    let mut tx = store.pool().begin().await.map_err(db)?;
    let mut head = Head::lock(&mut tx, signer).await?;
    // A monitor's key signing for a hromada would make the monitor's assessments the
    // hromada's own (and refused as such): one key is never both.
    if let Some(monitor) = crate::assessments::monitor_with_key(&mut tx, vkey).await? {
        return Err(AssociationError::invalid(
            "vkey",
            format!(
                "this key is monitor {monitor:?}'s: a hromada cannot sign with a monitor's key"
            ),
        ));
    }
    let at = head.time(Timestamp::now());
    let vkey = vkey.to_text();
    let changed = sqlx::query(
        "INSERT INTO enrolment (code, vkey, enrolled_at) \
         VALUES ($1, $2, timestamptz 'epoch' + $3 * interval '1 microsecond') \
         ON CONFLICT (code, vkey) WHERE revoked_at IS NULL DO NOTHING",
    )
    .bind(code.as_str())
    .bind(&vkey)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected()
        > 0;
    if changed {
        let decision = Decision::Enrolled {
            municipality: code.to_string(),
            vkey,
        };
        head.append(&mut tx, signer, at, decision).await?;
    }
    sqlx::query("INSERT INTO fed_node (code) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(code.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    head.commit(tx, signer).await?;
    Ok(changed)
}

/// Revokes `vkey` of `code`, or every key of it, from `at` (or the log's last time, when
/// later), one log entry per key. Returns how many keys were revoked.
pub async fn revoke(
    store: &Store,
    signer: &Signer,
    code: &MunicipalityCode,
    vkey: Option<&NoteVerifier>,
    at: Timestamp,
) -> Result<u64, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    // The ingest lease's row, which every commit of the ingest holds from its start: the
    // revocation falls wholly before a commit (which then sees it and refuses) or after it.
    sqlx::query("SELECT 1 FROM ingest_lease WHERE id = 1 FOR UPDATE")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let mut head = Head::lock(&mut tx, signer).await?;
    // Timed once the row is held: after any commit it waited for.
    let at = head.time(Timestamp(at.0.max(Timestamp::now().0)));
    let mut revoked: Vec<String> = sqlx::query_scalar(
        "UPDATE enrolment SET revoked_at = timestamptz 'epoch' + $3 * interval '1 microsecond' \
         WHERE code = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR vkey = $2) \
         RETURNING vkey",
    )
    .bind(code.as_str())
    .bind(vkey.map(|k| k.to_text()))
    .bind(at)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    revoked.sort();
    for vkey in &revoked {
        let decision = Decision::Revoked {
            municipality: code.to_string(),
            vkey: vkey.clone(),
        };
        head.append(&mut tx, signer, at, decision).await?;
    }
    head.commit(tx, signer).await?;
    Ok(revoked.len() as u64)
}

/// One entry as stored, with the checkpoint of its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub checkpoint: String,
}

/// Entries from `from` (1 for the first) on: at most `limit` and [`READ_BYTES_MAX`] (always at
/// least one, when there is one: an entry is at most 64 KiB), and the log's size.
pub async fn read(
    store: &Store,
    from: u64,
    limit: u32,
) -> Result<(Vec<LogEntry>, u64), AssociationError> {
    let limit = limit.clamp(1, READ_ENTRIES_MAX);
    let mut tx = store.pool().begin().await.map_err(db)?;
    // One snapshot for the entries and the size.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let size: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM association_log")
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    let rows = sqlx::query(
        "SELECT seq, bytes, checkpoint FROM association_log \
         WHERE seq >= $1 ORDER BY seq LIMIT $2",
    )
    .bind(int(from.max(1)))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let mut entries = Vec::with_capacity(rows.len());
    let mut bytes_total = 0usize;
    for row in rows {
        let entry = LogEntry {
            seq: uint(row.try_get("seq").map_err(db)?),
            bytes: row.try_get("bytes").map_err(db)?,
            checkpoint: row.try_get("checkpoint").map_err(db)?,
        };
        bytes_total += entry.bytes.len() + entry.checkpoint.len();
        if !entries.is_empty() && bytes_total > READ_BYTES_MAX {
            break;
        }
        entries.push(entry);
    }
    Ok((entries, uint(size)))
}
