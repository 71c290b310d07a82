//! The practice catalogue's table in PostgreSQL: a batch's patches
//! (`projection::catalogue::patches`) written inside the ingest's commit transaction, each
//! entry once: an entry the batch creates inserted whole, an existing one's patched fields
//! overwritten; and the association's recommendations, each with its entry in the association's
//! log.

use event_store_core::Timestamp;
use projection::association_log::Decision;
use projection::catalogue::{EntryKey, EventPatches, Patch, merge_patches};

use crate::decisions::{Head, Signer};
use crate::error::AssociationError;
use crate::projections::ProjectedEvent;
use sqlx::Row;

use crate::store::{Store, Tx, db};

/// Applies the catalogue's share of verified events the projection applied (`outcomes`), in
/// order, from each event's patches (`projection::catalogue::event_patches` of `events`): each
/// entry written once per batch (an entry the batch creates is inserted whole, an existing one
/// updated).
pub async fn apply(
    tx: &mut Tx<'_>,
    events: &[ProjectedEvent],
    outcomes: &[projection::Outcome],
    each: EventPatches,
) -> Result<(), AssociationError> {
    let patches = merge_patches(events, outcomes, each);
    if patches.is_empty() {
        return Ok(());
    }
    let keys: Vec<&EntryKey> = patches.keys().collect();
    let existing: std::collections::BTreeSet<(String, i16, Vec<u8>)> = sqlx::query(
        "SELECT c.municipality, c.tool, c.id FROM catalogue c \
         JOIN UNNEST($1::text[], $2::int2[], $3::bytea[]) AS k(m, t, i) \
         ON c.municipality = k.m AND c.tool = k.t AND c.id = k.i",
    )
    .bind(
        keys.iter()
            .map(|k| k.municipality.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(keys.iter().map(|k| k.tool.code()).collect::<Vec<_>>())
    .bind(
        keys.iter()
            .map(|k| k.id.as_bytes().to_vec())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    .iter()
    .map(|row| {
        Ok((
            row.try_get("municipality").map_err(db)?,
            row.try_get("tool").map_err(db)?,
            row.try_get("id").map_err(db)?,
        ))
    })
    .collect::<Result<_, AssociationError>>()?;
    let (old, new): (Vec<_>, Vec<_>) = patches.into_iter().partition(|(k, _)| {
        existing.contains(&(
            k.municipality.to_string(),
            k.tool.code(),
            k.id.as_bytes().to_vec(),
        ))
    });
    insert(tx, new).await?;
    update(tx, old).await
}

/// The 19 columns of `entries` as arrays for `UNNEST`, in the catalogue's column order (key,
/// public, title, body, outcome, category, status, decision, completion, lead, OGP values as
/// one comma-separated text, the three stems, started, updated, seq); a field a patch leaves
/// alone is NULL.
fn bind_patches<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    entries: &[(EntryKey, Patch)],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let text = |f: fn(&Patch) -> Option<&str>| -> Vec<Option<String>> {
        entries
            .iter()
            .map(|(_, p)| f(p).map(str::to_owned))
            .collect()
    };
    let int = |f: fn(&Patch) -> Option<i64>| -> Vec<Option<i64>> {
        entries.iter().map(|(_, p)| f(p)).collect()
    };
    query
        .bind(
            entries
                .iter()
                .map(|(k, _)| k.municipality.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            entries
                .iter()
                .map(|(k, _)| k.tool.code())
                .collect::<Vec<_>>(),
        )
        .bind(
            entries
                .iter()
                .map(|(k, _)| k.id.as_bytes().to_vec())
                .collect::<Vec<_>>(),
        )
        .bind(entries.iter().map(|(_, p)| p.public).collect::<Vec<_>>())
        .bind(text(|p| p.title.as_deref()))
        .bind(text(|p| p.body.as_deref()))
        .bind(text(|p| p.outcome.as_deref()))
        .bind(text(|p| p.category.as_deref()))
        .bind(text(|p| p.status))
        .bind(text(|p| p.decision))
        .bind(text(|p| p.completion))
        .bind(text(|p| p.lead.as_deref()))
        // Names never hold a comma.
        .bind(
            entries
                .iter()
                .map(|(_, p)| p.values.as_ref().map(|v| v.join(",")))
                .collect::<Vec<_>>(),
        )
        .bind(text(|p| p.title_terms.as_deref()))
        .bind(text(|p| p.body_terms.as_deref()))
        .bind(text(|p| p.outcome_terms.as_deref()))
        .bind(int(|p| p.started_at))
        .bind(int(|p| Some(p.updated_at)))
        .bind(int(|p| Some(i64::try_from(p.seq).unwrap_or(i64::MAX))))
}

/// `UNNEST` of [`bind_patches`]'s arrays as the rows `p`.
const PATCHES: &str = "UNNEST($1::text[], $2::int2[], $3::bytea[], $4::bool[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
     $13::text[], $14::text[], $15::text[], $16::text[], $17::int8[], $18::int8[], $19::int8[]) \
     AS p(municipality, tool, id, public, title, body, outcome, category, status, decision, \
          completion, lead, ogp_values, title_terms, body_terms, outcome_terms, started_at, \
          updated_at, seq)";

/// Inserts entries the catalogue does not hold yet, whole (a field no event set yet is empty).
async fn insert(tx: &mut Tx<'_>, entries: Vec<(EntryKey, Patch)>) -> Result<(), AssociationError> {
    if entries.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO catalogue (municipality, tool, id, public, title, body, outcome, category, \
             status, decision, completion, lead, ogp_values, title_terms, body_terms, \
             outcome_terms, started_at, updated_at, seq) \
         SELECT municipality, tool, id, coalesce(public, false), coalesce(title, ''), \
                coalesce(body, ''), coalesce(outcome, ''), coalesce(category, ''), \
                coalesce(status, ''), coalesce(decision, ''), coalesce(completion, ''), \
                coalesce(lead, ''), coalesce(string_to_array(ogp_values, ','), '{{}}'), \
                coalesce(title_terms, ''), coalesce(body_terms, ''), \
                coalesce(outcome_terms, ''), coalesce(started_at, updated_at), updated_at, seq \
         FROM {PATCHES}"
    );
    bind_patches(sqlx::query(sqlx::AssertSqlSafe(sql)), &entries)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Overwrites the patched fields of entries the catalogue holds.
async fn update(tx: &mut Tx<'_>, entries: Vec<(EntryKey, Patch)>) -> Result<(), AssociationError> {
    if entries.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE catalogue c SET \
             public = coalesce(p.public, c.public), \
             title = coalesce(p.title, c.title), \
             body = coalesce(p.body, c.body), \
             outcome = coalesce(p.outcome, c.outcome), \
             category = coalesce(p.category, c.category), \
             status = coalesce(p.status, c.status), \
             decision = coalesce(p.decision, c.decision), \
             completion = coalesce(p.completion, c.completion), \
             lead = coalesce(p.lead, c.lead), \
             ogp_values = coalesce(string_to_array(p.ogp_values, ','), c.ogp_values), \
             title_terms = coalesce(p.title_terms, c.title_terms), \
             body_terms = coalesce(p.body_terms, c.body_terms), \
             outcome_terms = coalesce(p.outcome_terms, c.outcome_terms), \
             started_at = coalesce(p.started_at, c.started_at), \
             updated_at = p.updated_at, \
             seq = p.seq \
         FROM {PATCHES} \
         WHERE c.municipality = p.municipality AND c.tool = p.tool AND c.id = p.id"
    );
    bind_patches(sqlx::query(sqlx::AssertSqlSafe(sql)), &entries)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Empties the catalogue (for a rebuild; recommendations are kept).
pub async fn truncate(tx: &mut Tx<'_>) -> Result<(), AssociationError> {
    sqlx::query("TRUNCATE catalogue")
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Whether a recommendation changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommended {
    Changed,
    Unchanged,
    /// No public entry has that key.
    NoSuchPractice,
}

/// Records the association's recommendation of a public entry with its reason (again with
/// another reason replaces it), with its entry in the association's log.
pub async fn recommend(
    store: &Store,
    signer: &Signer,
    key: &EntryKey,
    reason: &str,
) -> Result<Recommended, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    let mut head = Head::lock(&mut tx, signer).await?;
    let at = head.time(Timestamp::now());
    let public: Option<bool> = sqlx::query_scalar(
        "SELECT public FROM catalogue WHERE municipality = $1 AND tool = $2 AND id = $3",
    )
    .bind(key.municipality.as_str())
    .bind(key.tool.code())
    .bind(key.id.as_bytes().as_slice())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    if public != Some(true) {
        return Ok(Recommended::NoSuchPractice);
    }
    let changed = sqlx::query(
        "INSERT INTO practice_recommendation AS r (municipality, tool, id, reason, recommended_at) \
         VALUES ($1, $2, $3, $4, timestamptz 'epoch' + $5 * interval '1 microsecond') \
         ON CONFLICT (municipality, tool, id) DO UPDATE \
         SET reason = EXCLUDED.reason, recommended_at = EXCLUDED.recommended_at \
         WHERE r.reason <> EXCLUDED.reason",
    )
    .bind(key.municipality.as_str())
    .bind(key.tool.code())
    .bind(key.id.as_bytes().as_slice())
    .bind(reason)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected()
        > 0;
    if changed {
        let decision = Decision::Recommended {
            municipality: key.municipality.to_string(),
            tool: key.tool.code(),
            id: *key.id.as_bytes(),
            reason: reason.to_owned(),
        };
        head.append(&mut tx, signer, at, decision).await?;
    }
    head.commit(tx, signer).await?;
    Ok(if changed {
        Recommended::Changed
    } else {
        Recommended::Unchanged
    })
}

/// Withdraws a recommendation, with its entry in the association's log; whether there was one.
pub async fn withdraw(
    store: &Store,
    signer: &Signer,
    key: &EntryKey,
) -> Result<bool, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    let mut head = Head::lock(&mut tx, signer).await?;
    let at = head.time(Timestamp::now());
    let removed = sqlx::query(
        "DELETE FROM practice_recommendation WHERE municipality = $1 AND tool = $2 AND id = $3",
    )
    .bind(key.municipality.as_str())
    .bind(key.tool.code())
    .bind(key.id.as_bytes().as_slice())
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected()
        > 0;
    if removed {
        let decision = Decision::RecommendationWithdrawn {
            municipality: key.municipality.to_string(),
            tool: key.tool.code(),
            id: *key.id.as_bytes(),
        };
        head.append(&mut tx, signer, at, decision).await?;
    }
    head.commit(tx, signer).await?;
    Ok(removed)
}
