//! `vidkryto association rebuild`: empties the projection tables (and the practice catalogue)
//! and replays every node's
//! verified log into them from the association's verified copy, in batches, one transaction
//! for the whole rebuild (readers see the old projections until it commits). The digest after
//! a rebuild equals the digest before it: each municipality's projection depends only on its
//! own events, in log order, whatever the batching.

use futures_util::TryStreamExt;
use sqlx::Row;

use crate::catalogue;
use crate::error::AssociationError;
use crate::lease::Lease;
use crate::projections::{self, ProjectedEvent};
use crate::store::{Store, db, split_chunk, uint};

/// Events applied per projection batch.
const REBUILD_BATCH: usize = 20_000;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildSummary {
    pub events: u64,
    pub undecodable: u64,
}

/// The version of the projection's tables when it is not [`projection::PROJECTION_VERSION`].
async fn stale_version(store: &Store) -> Result<Option<i32>, AssociationError> {
    let version: i32 = sqlx::query_scalar("SELECT version FROM proj_version")
        .fetch_one(store.pool())
        .await
        .map_err(db)?;
    Ok((i64::from(version) != i64::from(projection::PROJECTION_VERSION)).then_some(version))
}

/// Waits until the projection's tables are of [`projection::PROJECTION_VERSION`] (rebuilt by
/// whichever instance leads the ingest), saying so every 30 s while it waits.
pub async fn wait_current(store: &Store) -> Result<(), AssociationError> {
    let started = std::time::Instant::now();
    let mut said = std::time::Duration::ZERO;
    loop {
        let Some(version) = stale_version(store).await? else {
            return Ok(());
        };
        if started.elapsed() >= said {
            tracing::info!(
                from = version,
                to = projection::PROJECTION_VERSION,
                "waiting for the ingest's leader to rebuild the projection for its new version"
            );
            said += std::time::Duration::from_secs(30);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Rebuilds the projection if its tables hold rows of another version than
/// [`projection::PROJECTION_VERSION`] (after an upgrade whose migration emptied them), before
/// the ingest adds to them. Returns what the rebuild did, if one ran.
pub async fn ensure_current(
    store: &Store,
    lease: Option<&Lease>,
) -> Result<Option<RebuildSummary>, AssociationError> {
    let Some(version) = stale_version(store).await? else {
        return Ok(None);
    };
    tracing::info!(
        from = version,
        to = projection::PROJECTION_VERSION,
        "rebuilding the projection for its new version"
    );
    rebuild(store, lease).await.map(Some)
}

/// Rebuilds the projection; with a `lease`, only while it is this instance's (`lease::fence`).
pub async fn rebuild(
    store: &Store,
    lease: Option<&Lease>,
) -> Result<RebuildSummary, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    // Taken first, so two rebuilds (or a rebuild and `ensure_current`) run one after the other.
    sqlx::query("SELECT version FROM proj_version FOR UPDATE")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if let Some(lease) = lease {
        crate::lease::fence(&mut tx, lease).await?;
    }
    projections::truncate(&mut tx).await?;
    catalogue::truncate(&mut tx).await?;
    // Read with a second connection so the writing transaction stays free.
    let mut reader = store.pool().acquire().await.map_err(db)?;
    let mut chunks = sqlx::query(
        "SELECT c.code, c.first_seq, c.events FROM fed_event_chunk c \
         JOIN fed_node n ON n.code = c.code AND c.last_seq <= n.verified_size \
         ORDER BY c.code COLLATE \"C\", c.first_seq",
    )
    .fetch(&mut *reader);
    let mut batch: Vec<ProjectedEvent> = Vec::with_capacity(REBUILD_BATCH);
    let mut summary = RebuildSummary {
        events: 0,
        undecodable: 0,
    };
    while let Some(row) = chunks.try_next().await.map_err(db)? {
        let first = uint(row.try_get("first_seq").map_err(db)?);
        let bytes: Vec<u8> = row.try_get("events").map_err(db)?;
        for (i, event) in split_chunk(&bytes)?.into_iter().enumerate() {
            match domain::open(event) {
                Ok(recorded) if recorded.envelope.seq.0 == first + i as u64 => {
                    batch.push(ProjectedEvent {
                        municipality: recorded.envelope.municipality,
                        seq: recorded.envelope.seq.0,
                        event: recorded.event,
                    });
                }
                Ok(recorded) => {
                    return Err(AssociationError::Corrupt(format!(
                        "verified event {} of {} is stored at position {}",
                        recorded.envelope.seq.0,
                        recorded.envelope.municipality,
                        first + i as u64
                    )));
                }
                Err(_) => summary.undecodable += 1,
            }
        }
        if batch.len() >= REBUILD_BATCH {
            summary.events += batch.len() as u64;
            project(&mut tx, &batch).await?;
            batch.clear();
        }
    }
    drop(chunks);
    summary.events += batch.len() as u64;
    project(&mut tx, &batch).await?;
    sqlx::query("UPDATE proj_version SET version = $1")
        .bind(i32::try_from(projection::PROJECTION_VERSION).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    // Instances that do not ingest reload their snapshot when the count moves.
    sqlx::query("UPDATE ingest_position SET commits = commits + 1")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(summary)
}

/// Applies a batch to the projection and the catalogue.
async fn project(
    tx: &mut crate::store::Tx<'_>,
    batch: &[ProjectedEvent],
) -> Result<(), AssociationError> {
    let outcomes = projections::apply(tx, batch).await?;
    let each = projection::catalogue::event_patches(batch);
    catalogue::apply(tx, batch, &outcomes, each).await
}
