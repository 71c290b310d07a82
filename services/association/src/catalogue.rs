//! The practice catalogue's table in PostgreSQL: a batch's patches
//! (`projection::catalogue::patches`) written inside the ingest's commit transaction, in two
//! statements: new entries inserted, then every patched field overwritten.

use projection::catalogue::{EntryKey, Patch, patches};

use crate::error::AssociationError;
use crate::projections::ProjectedEvent;
use crate::store::{Store, Tx, db};

/// Applies the catalogue's share of verified events, in order.
pub async fn apply(tx: &mut Tx<'_>, events: &[ProjectedEvent]) -> Result<(), AssociationError> {
    let patches = patches(events);
    if patches.is_empty() {
        return Ok(());
    }
    let (keys, patches): (Vec<EntryKey>, Vec<Patch>) = patches.into_iter().unzip();
    let codes: Vec<String> = keys.iter().map(|k| k.municipality.to_string()).collect();
    let tools: Vec<i16> = keys.iter().map(|k| k.tool.code()).collect();
    let ids: Vec<Vec<u8>> = keys.iter().map(|k| k.id.as_bytes().to_vec()).collect();
    let text = |f: fn(&Patch) -> Option<&str>| -> Vec<Option<String>> {
        patches.iter().map(|p| f(p).map(str::to_owned)).collect()
    };
    let started: Vec<i64> = patches
        .iter()
        .map(|p| p.started_at.unwrap_or(p.updated_at))
        .collect();
    let updated: Vec<i64> = patches.iter().map(|p| p.updated_at).collect();
    let seqs: Vec<i64> = patches
        .iter()
        .map(|p| i64::try_from(p.seq).unwrap_or(i64::MAX))
        .collect();
    // An entry a batch sees first starts hidden; the patch below says what it shows.
    sqlx::query(
        "INSERT INTO catalogue (municipality, tool, id, public, started_at, updated_at, seq) \
         SELECT m, t, i, false, s, u, q \
         FROM UNNEST($1::text[], $2::int2[], $3::bytea[], $4::int8[], $5::int8[], $6::int8[]) \
              AS k(m, t, i, s, u, q) \
         ON CONFLICT (municipality, tool, id) DO NOTHING",
    )
    .bind(&codes)
    .bind(&tools)
    .bind(&ids)
    .bind(&started)
    .bind(&updated)
    .bind(&seqs)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    // Values lists travel as one text each (names never hold a comma).
    let values: Vec<Option<String>> = patches
        .iter()
        .map(|p| p.values.as_ref().map(|v| v.join(",")))
        .collect();
    sqlx::query(
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
         FROM UNNEST($1::text[], $2::int2[], $3::bytea[], $4::bool[], $5::text[], $6::text[], \
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
                     $13::text[], $14::text[], $15::text[], $16::text[], $17::int8[], \
                     $18::int8[], $19::int8[]) \
              AS p(municipality, tool, id, public, title, body, outcome, category, status, \
                   decision, completion, lead, ogp_values, title_terms, body_terms, \
                   outcome_terms, started_at, updated_at, seq) \
         WHERE c.municipality = p.municipality AND c.tool = p.tool AND c.id = p.id",
    )
    .bind(&codes)
    .bind(&tools)
    .bind(&ids)
    .bind(patches.iter().map(|p| p.public).collect::<Vec<_>>())
    .bind(text(|p| p.title.as_deref()))
    .bind(text(|p| p.body.as_deref()))
    .bind(text(|p| p.outcome.as_deref()))
    .bind(text(|p| p.category.as_deref()))
    .bind(text(|p| p.status))
    .bind(text(|p| p.decision))
    .bind(text(|p| p.completion))
    .bind(text(|p| p.lead.as_deref()))
    .bind(values)
    .bind(text(|p| p.title_terms.as_deref()))
    .bind(text(|p| p.body_terms.as_deref()))
    .bind(text(|p| p.outcome_terms.as_deref()))
    .bind(patches.iter().map(|p| p.started_at).collect::<Vec<_>>())
    .bind(&updated)
    .bind(&seqs)
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

/// Records the association's recommendation of a public entry with its reason, at `at`
/// (microseconds); again with another reason replaces it.
pub async fn recommend(
    store: &Store,
    key: &EntryKey,
    reason: &str,
    at: i64,
) -> Result<Recommended, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
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
    .rows_affected();
    tx.commit().await.map_err(db)?;
    Ok(if changed > 0 {
        Recommended::Changed
    } else {
        Recommended::Unchanged
    })
}

/// Withdraws a recommendation; whether there was one.
pub async fn withdraw(store: &Store, key: &EntryKey) -> Result<bool, AssociationError> {
    let removed = sqlx::query(
        "DELETE FROM practice_recommendation WHERE municipality = $1 AND tool = $2 AND id = $3",
    )
    .bind(key.municipality.as_str())
    .bind(key.tool.code())
    .bind(key.id.as_bytes().as_slice())
    .execute(store.pool())
    .await
    .map_err(db)?
    .rows_affected();
    Ok(removed > 0)
}
