//! `vidkryto association rebuild`: empties the projection tables and replays every node's
//! verified log into them from the association's verified copy, in batches, one transaction
//! for the whole rebuild (readers see the old projections until it commits). The digest after
//! a rebuild equals the digest before it: each municipality's projection depends only on its
//! own events, in log order, whatever the batching.

use futures_util::TryStreamExt;
use sqlx::Row;

use crate::error::AssociationError;
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

pub async fn rebuild(store: &Store) -> Result<RebuildSummary, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    projections::truncate(&mut tx).await?;
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
            projections::apply(&mut tx, &batch).await?;
            batch.clear();
        }
    }
    drop(chunks);
    summary.events += batch.len() as u64;
    projections::apply(&mut tx, &batch).await?;
    tx.commit().await.map_err(db)?;
    Ok(summary)
}
