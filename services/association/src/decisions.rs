//! The association's own log (`projection::association_log`): every decision it takes
//! (enrolling or revoking a hromada's key, recommending a practice or withdrawing it, stating
//! its projection) is an entry appended **in the transaction of the decision**, with the
//! checkpoint of the new size signed by its witness key, so the enrolment history an auditor
//! checks node signatures against is itself a verifiable log. Appends take a transaction-scoped
//! advisory lock, so entries of concurrent decisions (also of other processes, such as
//! `vidkryto association enroll`) are numbered without gaps and their times never go back.

use event_store_core::checkpoint::{Checkpoint, NoteSigner, NoteVerifier, origin_for};
use event_store_core::merkle::{self, Frontier};
use event_store_core::{MunicipalityCode, Timestamp};
use projection::association_log::{Decision, ENTRY_LEN_MAX, Entry, ORIGIN};
use sqlx::{Postgres, Row, Transaction};

use crate::error::AssociationError;
use crate::store::{Store, db, int, uint};

/// The advisory lock that orders appends ("vidkryto" in ASCII).
const LOG_LOCK: i64 = 0x7669_646b_7279_746f;
/// Bytes of entries one read returns at most.
pub const READ_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Entries one read returns at most.
pub const READ_ENTRIES_MAX: u32 = 1_000;

/// The log's end, held under the append lock of one transaction.
pub(crate) struct Head {
    seq: u64,
    at_micros: i64,
    frontier: Frontier,
}

impl Head {
    /// Takes the append lock for `tx` and reads the log's end. When the log is empty but the
    /// association already decided things (a database from before the log), those decisions
    /// are written first, in time order, with their recorded times.
    pub(crate) async fn lock(
        tx: &mut Transaction<'_, Postgres>,
        witness: &NoteSigner,
    ) -> Result<Self, AssociationError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        let row = sqlx::query(
            "SELECT seq, at_micros, frontier FROM association_log ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            let mut head = Self {
                seq: 0,
                at_micros: i64::MIN,
                frontier: Frontier::new(),
            };
            head.import(tx, witness).await?;
            return Ok(head);
        };
        let seq = uint(row.try_get("seq").map_err(db)?);
        let frontier: Vec<u8> = row.try_get("frontier").map_err(db)?;
        Ok(Self {
            seq,
            at_micros: row.try_get("at_micros").map_err(db)?,
            frontier: Frontier::from_parts(seq, &frontier).map_err(|e| {
                AssociationError::Corrupt(format!("the association log's frontier: {e}"))
            })?,
        })
    }

    /// The time of a decision taken at `now`: never before the last entry's.
    pub(crate) fn time(&self, now: Timestamp) -> i64 {
        now.as_micros().max(self.at_micros)
    }

    /// Appends `decision` at `at_micros` (from [`Self::time`]) and signs the new size.
    pub(crate) async fn append(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        witness: &NoteSigner,
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
        frontier.push(merkle::leaf_hash(&bytes), |_, _| {});
        let checkpoint = witness
            .sign(Checkpoint {
                origin: ORIGIN.to_owned(),
                size: seq,
                root: frontier.root(),
            })
            .to_note();
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
        *self = Self {
            seq,
            at_micros,
            frontier,
        };
        Ok(seq)
    }

    /// Writes the decisions a database from before the log holds: every enrolment window (its
    /// revocation as an entry of its own), every standing recommendation and every statement.
    async fn import(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        witness: &NoteSigner,
    ) -> Result<(), AssociationError> {
        let micros = |column: &str| format!("(extract(epoch FROM {column}) * 1000000)::int8");
        let mut decisions: Vec<(i64, u8, Decision)> = Vec::new();
        let keys = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT code, vkey, {} AS enrolled, {} AS revoked FROM enrolment ORDER BY id",
            micros("enrolled_at"),
            micros("revoked_at")
        )))
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
        for row in keys {
            let municipality: String = row.try_get("code").map_err(db)?;
            let vkey: String = row.try_get("vkey").map_err(db)?;
            let revoked: Option<i64> = row.try_get("revoked").map_err(db)?;
            if let Some(at) = revoked {
                decisions.push((
                    at,
                    1,
                    Decision::Revoked {
                        municipality: municipality.clone(),
                        vkey: vkey.clone(),
                    },
                ));
            }
            decisions.push((
                row.try_get("enrolled").map_err(db)?,
                0,
                Decision::Enrolled { municipality, vkey },
            ));
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
                3,
                Decision::Stated {
                    note: row.try_get("note").map_err(db)?,
                },
            ));
        }
        // By time; at one time a key's enrolment before its revocation.
        decisions.sort_by_key(|(at, order, _)| (*at, *order));
        let count = decisions.len();
        for (at, _, decision) in decisions {
            self.append(tx, witness, at, decision).await?;
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

/// Starts the log of a database that has none yet (see [`Head::lock`]); returns its size.
pub async fn ensure_started(store: &Store, witness: &NoteSigner) -> Result<u64, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    let head = Head::lock(&mut tx, witness).await?;
    tx.commit().await.map_err(db)?;
    Ok(head.seq)
}

/// Enrols `vkey` for `code` from now (again, if it was revoked: a new validity window, the
/// earlier ones kept), recording the decision in the log. Returns whether anything changed.
pub async fn enroll(
    store: &Store,
    witness: &NoteSigner,
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
    let mut head = Head::lock(&mut tx, witness).await?;
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
        head.append(&mut tx, witness, at, decision).await?;
    }
    sqlx::query("INSERT INTO fed_node (code) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(code.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(changed)
}

/// Revokes `vkey` of `code`, or every key of it, from `at` (or the log's last time, when
/// later), one log entry per key. Returns how many keys were revoked.
pub async fn revoke(
    store: &Store,
    witness: &NoteSigner,
    code: &MunicipalityCode,
    vkey: Option<&NoteVerifier>,
    at: Timestamp,
) -> Result<u64, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    let mut head = Head::lock(&mut tx, witness).await?;
    let at = head.time(at);
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
        head.append(&mut tx, witness, at, decision).await?;
    }
    tx.commit().await.map_err(db)?;
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
/// least one, when there is one), and the log's size.
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
