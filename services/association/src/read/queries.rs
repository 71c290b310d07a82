//! The read side's queries of PostgreSQL, for what the in-memory snapshot does not hold: a
//! hromada's weekly series and milestones, quarantine records, forks and checkpoints. Each
//! returns plain values; the gRPC services only convert them.

use std::collections::BTreeMap;

use event_store_core::MunicipalityCode;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::error::AssociationError;
use crate::rows::{MILESTONES, decode_rows};
use crate::store::{Store, db, int, uint};

/// One week's sums over some hromadas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeekCounts {
    pub petitions_filed: u64,
    pub signatures: u64,
    pub petitions_threshold_reached: u64,
    pub petitions_answered: u64,
    pub dialogues_closed: u64,
    pub contributions: u64,
    pub milestones_completed: u64,
}

/// The weekly counters of `codes` summed per week (its Monday, in days since the epoch), for
/// the weeks from `first_week` on.
pub async fn weekly(
    store: &Store,
    codes: &[String],
    first_week: i64,
) -> Result<BTreeMap<i64, WeekCounts>, AssociationError> {
    let rows = sqlx::query(
        "SELECT week, sum(petitions_filed)::int8 AS pf, sum(signatures)::int8 AS s, \
                sum(petitions_threshold_reached)::int8 AS tr, sum(petitions_answered)::int8 AS pa, \
                sum(dialogues_closed)::int8 AS dc, sum(contributions)::int8 AS c, \
                sum(milestones_completed)::int8 AS mc \
         FROM proj_weekly WHERE week >= $1 AND municipality = ANY($2) \
         GROUP BY week ORDER BY week",
    )
    .bind(i32::try_from(first_week).unwrap_or(i32::MIN))
    .bind(codes)
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    let mut by_week = BTreeMap::new();
    for row in rows {
        let get = |name: &str| row.try_get::<i64, _>(name).map(uint).map_err(db);
        let week: i32 = row.try_get("week").map_err(db)?;
        by_week.insert(
            i64::from(week),
            WeekCounts {
                petitions_filed: get("pf")?,
                signatures: get("s")?,
                petitions_threshold_reached: get("tr")?,
                petitions_answered: get("pa")?,
                dialogues_closed: get("dc")?,
                contributions: get("c")?,
                milestones_completed: get("mc")?,
            },
        );
    }
    Ok(by_week)
}

/// A milestone as listed: its row, and whether it is still open (it and its commitment not
/// withdrawn, its commitment not assessed, its plan not closed), which the overdue rule needs.
#[derive(Debug, Clone)]
pub struct ListedMilestone {
    pub row: projection::MilestoneRow,
    pub open: bool,
}

/// One hromada's milestones, soonest due first (then by id), rows `offset..offset + limit`,
/// and how many it has.
pub async fn milestones(
    store: &Store,
    code: &MunicipalityCode,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<ListedMilestone>), AssociationError> {
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM proj_milestone WHERE municipality = $1")
            .bind(code.as_str())
            .fetch_one(store.pool())
            .await
            .map_err(db)?;
    let rows = sqlx::query(
        "SELECT m.row, (NOT coalesce(c.assessed, false) AND NOT coalesce(p.closed, false) \
                AND NOT coalesce(p.draft, false) \
                AND NOT m.withdrawn AND NOT coalesce(c.withdrawn, false)) AS open \
         FROM proj_milestone m \
         LEFT JOIN proj_commitment c ON c.municipality = m.municipality AND c.id = m.commitment_id \
         LEFT JOIN proj_plan p ON p.municipality = m.municipality AND p.id = m.plan_id \
         WHERE m.municipality = $1 ORDER BY m.due, m.id OFFSET $2 LIMIT $3",
    )
    .bind(code.as_str())
    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    let decoded = decode_rows(MILESTONES, &rows)?;
    let listed = decoded
        .into_iter()
        .zip(&rows)
        .map(|(row, r)| {
            let open: bool = r.try_get("open").map_err(db)?;
            Ok(ListedMilestone { row, open })
        })
        .collect::<Result<Vec<_>, AssociationError>>()?;
    Ok((usize::try_from(total).unwrap_or(0), listed))
}

/// Bytes of a quarantined message a listing carries: enough to see what it was (a checkpoint
/// note is a few hundred bytes, an envelope's header a few dozen), while a page of 500 records
/// stays a few MiB read from PostgreSQL even where rows hold whole messages (up to 1 MiB each
/// before the ingest kept only their first 4 KiB).
pub const QUARANTINE_PAYLOAD_PREVIEW_MAX: usize = 4 * 1024;
/// Characters of a quarantine record's detail a listing carries. The verifier's details are a
/// sentence, but some quote what the message held.
pub const QUARANTINE_DETAIL_CHARS_MAX: usize = 1_024;

/// A quarantine record as listed: its payload and detail cut to their bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    pub id: i64,
    pub code: String,
    pub subject: String,
    pub seq: u64,
    pub reason: String,
    /// At most [`QUARANTINE_DETAIL_CHARS_MAX`] characters.
    pub detail: String,
    pub received_at_micros: i64,
    /// The message's first [`QUARANTINE_PAYLOAD_PREVIEW_MAX`] bytes at most.
    pub payload: Vec<u8>,
    /// The whole message's length.
    pub payload_size: u64,
}

/// Up to `limit` quarantine records with an id below `before`, newest first, of one hromada
/// or all.
pub async fn quarantine(
    store: &Store,
    code: Option<&MunicipalityCode>,
    before: i64,
    limit: usize,
) -> Result<Vec<QuarantineEntry>, AssociationError> {
    // `payload_len` is the whole message's length where the ingest kept only its start.
    let rows = sqlx::query(
        "SELECT id, code, subject, seq, reason, left(detail, $4) AS detail, \
                substring(payload FROM 1 FOR $5) AS payload, \
                coalesce(payload_len, octet_length(payload))::int8 AS payload_size, \
                (extract(epoch FROM received_at) * 1000000)::int8 AS at \
         FROM quarantine WHERE id < $1 AND ($2::text IS NULL OR code = $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(before)
    .bind(code.map(MunicipalityCode::as_str))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(QUARANTINE_DETAIL_CHARS_MAX as i32)
    .bind(QUARANTINE_PAYLOAD_PREVIEW_MAX as i32)
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    rows.iter()
        .map(|row| {
            Ok(QuarantineEntry {
                id: row.try_get("id").map_err(db)?,
                code: row.try_get("code").map_err(db)?,
                subject: row.try_get("subject").map_err(db)?,
                seq: row
                    .try_get::<Option<i64>, _>("seq")
                    .map_err(db)?
                    .map_or(0, uint),
                reason: row.try_get("reason").map_err(db)?,
                detail: row.try_get("detail").map_err(db)?,
                received_at_micros: micros(row, "at")?,
                payload: row.try_get("payload").map_err(db)?,
                payload_size: uint(row.try_get("payload_size").map_err(db)?),
            })
        })
        .collect()
}

/// A second root seen for an accepted size, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkEntry {
    pub code: String,
    pub size: u64,
    pub accepted_root: Vec<u8>,
    pub other_root: Vec<u8>,
    pub other_note: String,
    pub detected_at_micros: i64,
}

/// Forks kept to show, newest first.
const FORKS_MAX: i64 = 1_000;

/// The newest forks of one hromada or all.
pub async fn forks(
    store: &Store,
    code: Option<&MunicipalityCode>,
) -> Result<Vec<ForkEntry>, AssociationError> {
    let rows = sqlx::query(
        "SELECT code, size, accepted_root, other_root, other_note, \
                (extract(epoch FROM detected_at) * 1000000)::int8 AS at \
         FROM fed_fork WHERE $1::text IS NULL OR code = $1 ORDER BY detected_at DESC LIMIT $2",
    )
    .bind(code.map(MunicipalityCode::as_str))
    .bind(FORKS_MAX)
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    rows.iter()
        .map(|row| {
            Ok(ForkEntry {
                code: row.try_get("code").map_err(db)?,
                size: uint(row.try_get("size").map_err(db)?),
                accepted_root: row.try_get("accepted_root").map_err(db)?,
                other_root: row.try_get("other_root").map_err(db)?,
                other_note: row.try_get("other_note").map_err(db)?,
                detected_at_micros: micros(row, "at")?,
            })
        })
        .collect()
}

/// An accepted checkpoint as stored, with the witness's cosignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointEntry {
    pub size: u64,
    pub root: Vec<u8>,
    pub cosigned_note: String,
    pub accepted_at_micros: i64,
}

/// Up to `limit` of a hromada's accepted checkpoints from `from_size` on, by size.
pub async fn checkpoints(
    store: &Store,
    code: &MunicipalityCode,
    from_size: u64,
    limit: u32,
) -> Result<Vec<CheckpointEntry>, AssociationError> {
    let rows = sqlx::query(
        "SELECT size, root, cosigned_note, (extract(epoch FROM accepted_at) * 1000000)::int8 AS at \
         FROM fed_checkpoint WHERE code = $1 AND size >= $2 ORDER BY size LIMIT $3",
    )
    .bind(code.as_str())
    .bind(int(from_size))
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    rows.iter()
        .map(|row| {
            Ok(CheckpointEntry {
                size: uint(row.try_get("size").map_err(db)?),
                root: row.try_get("root").map_err(db)?,
                cosigned_note: row.try_get("cosigned_note").map_err(db)?,
                accepted_at_micros: micros(row, "at")?,
            })
        })
        .collect()
}

/// The cosigned note of a hromada's accepted checkpoint of `size` (empty if none).
pub async fn cosigned_note(
    store: &Store,
    code: &MunicipalityCode,
    size: u64,
) -> Result<String, AssociationError> {
    let note: Option<String> = sqlx::query_scalar(
        "SELECT cosigned_note FROM fed_checkpoint WHERE code = $1 AND size = $2",
    )
    .bind(code.as_str())
    .bind(int(size))
    .fetch_optional(store.pool())
    .await
    .map_err(db)?;
    Ok(note.unwrap_or_default())
}

/// The size of a hromada's last accepted checkpoint, `None` if it was never enrolled.
pub async fn checkpoint_size(
    store: &Store,
    code: &MunicipalityCode,
) -> Result<Option<u64>, AssociationError> {
    let size: Option<i64> =
        sqlx::query_scalar("SELECT checkpoint_size FROM fed_node WHERE code = $1")
            .bind(code.as_str())
            .fetch_optional(store.pool())
            .await
            .map_err(db)?;
    Ok(size.map(uint))
}

/// A time column in microseconds, 0 when null.
fn micros(row: &PgRow, name: &str) -> Result<i64, AssociationError> {
    row.try_get::<Option<i64>, _>(name)
        .map(|v| v.unwrap_or(0))
        .map_err(db)
}
