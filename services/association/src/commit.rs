//! One ingest commit: verified segments, their projections, cosigned checkpoints, the nodes'
//! positions, quarantine records, forks and the resume position, in one transaction. Batched
//! writes only (`UNNEST`), never one statement per event.

use std::collections::BTreeMap;

use event_store_core::checkpoint::NoteSigner;
use event_store_core::merkle;
use event_store_core::{Hash, MunicipalityCode, Timestamp};

use crate::batch::{Batch, ForkRecord, QuarantineRecord};
use crate::error::AssociationError;
use crate::projections::{self, ProjectedEvent};
use crate::store::{CHUNK_EVENTS_MAX, Store, db, int, pack_chunk};
use crate::verifier::Reason;

/// What a commit did.
#[derive(Debug, Default)]
pub(crate) struct CommitSummary {
    pub events: usize,
}

pub(crate) async fn commit(
    store: &Store,
    witness: &NoteSigner,
    mut batch: Batch,
    received: &[(MunicipalityCode, u64)],
    resume: u64,
    now: Timestamp,
) -> Result<CommitSummary, AssociationError> {
    check_duplicates(store, &mut batch).await?;
    check_old_roots(store, &mut batch).await?;

    let mut projected = Vec::with_capacity(batch.events);
    for segment in &batch.segments {
        for event in &segment.events {
            // The verifier decoded the envelope; only the payload is read here.
            match domain::decode_payload(event.header, &event.bytes) {
                Ok(decoded) => projected.push(ProjectedEvent {
                    municipality: segment.code,
                    seq: event.seq,
                    event: decoded,
                }),
                Err(detail) => batch.quarantine.push(QuarantineRecord {
                    code: segment.code.to_string(),
                    subject: wire::event_subject(&segment.code),
                    seq: Some(event.seq),
                    reason: Reason::Undecodable,
                    detail: format!("a verified event's payload does not decode: {detail}"),
                    payload: event.bytes.clone(),
                    stream_seq: None,
                }),
            }
        }
    }

    let mut tx = store.pool().begin().await.map_err(db)?;
    projections::apply(&mut tx, &projected).await?;
    write_segments(&mut tx, witness, &batch, now).await?;
    write_quarantine(&mut tx, &batch.quarantine).await?;
    write_forks(&mut tx, &batch.forks).await?;
    if !received.is_empty() {
        let codes: Vec<String> = received.iter().map(|(c, _)| c.to_string()).collect();
        let seqs: Vec<i64> = received.iter().map(|(_, s)| int(*s)).collect();
        sqlx::query(
            "UPDATE fed_node n SET received_seq = greatest(n.received_seq, r.seq) \
             FROM UNNEST($1::text[], $2::int8[]) AS r(code, seq) WHERE n.code = r.code",
        )
        .bind(codes)
        .bind(seqs)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    sqlx::query("UPDATE ingest_position SET stream_seq = $1")
        .bind(int(resume))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;

    Ok(CommitSummary {
        events: batch.events,
    })
}

/// Events re-received at or below the verified size: identical bytes are duplicates (nothing to
/// do), different bytes are quarantined as tampered.
async fn check_duplicates(store: &Store, batch: &mut Batch) -> Result<(), AssociationError> {
    let checks = std::mem::take(&mut batch.check_events);
    for (code, seq, leaf, record) in checks {
        let in_batch = batch
            .segments
            .iter()
            .filter(|s| s.code == code)
            .flat_map(|s| s.events.iter())
            .find(|e| e.seq == seq)
            .map(|e| e.leaf);
        let stored = match in_batch {
            Some(leaf) => Some(leaf),
            None => store
                .events(&code, seq, seq)
                .await?
                .first()
                .map(|(_, bytes)| merkle::leaf_hash(bytes)),
        };
        if stored.is_some_and(|stored| stored != leaf) {
            batch.quarantine.push(record);
        }
    }
    Ok(())
}

/// Checkpoints for a size below the last accepted one: a different root than the verified
/// tree's is a fork.
async fn check_old_roots(store: &Store, batch: &mut Batch) -> Result<(), AssociationError> {
    let checks = std::mem::take(&mut batch.check_roots);
    for (code, size, root, note, record) in checks {
        let tree = store.tree(code);
        let stored = match event_store::proof::root_at(&tree, size).await {
            Ok(root) => root,
            // The size is verified only in this batch: compare with the batch's checkpoints.
            Err(_) => match batch
                .segments
                .iter()
                .find(|s| s.code == code && s.checkpoint.checkpoint.size == size)
            {
                Some(segment) => segment.checkpoint.checkpoint.root,
                None => continue,
            },
        };
        if stored == root {
            continue;
        }
        // A second root for an accepted checkpoint's size is a fork; for any other size the
        // checkpoint is simply inconsistent with the accepted ones.
        let accepted: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT root FROM fed_checkpoint WHERE code = $1 AND size = $2")
                .bind(code.as_str())
                .bind(int(size))
                .fetch_optional(store.pool())
                .await
                .map_err(db)?;
        let in_batch = batch
            .segments
            .iter()
            .any(|s| s.code == code && s.checkpoint.checkpoint.size == size);
        let mut record = record;
        if accepted.is_some() || in_batch {
            batch.forks.push(ForkRecord {
                code,
                size,
                accepted_root: stored,
                other_root: root,
                other_note: note,
            });
        } else {
            record.reason = Reason::InconsistentCheckpoint;
            record.detail = format!(
                "root {} at size {size} is not the root of the verified log at that size ({})",
                hex::encode(root),
                hex::encode(stored)
            );
        }
        batch.quarantine.push(record);
    }
    Ok(())
}

async fn write_segments(
    tx: &mut crate::store::Tx<'_>,
    witness: &NoteSigner,
    batch: &Batch,
    now: Timestamp,
) -> Result<(), AssociationError> {
    if batch.segments.is_empty() {
        return Ok(());
    }
    let (mut c_code, mut c_first, mut c_last, mut c_events) = (vec![], vec![], vec![], vec![]);
    let (mut n_code, mut n_level, mut n_idx, mut n_hash) = (vec![], vec![], vec![], vec![]);
    let (mut k_code, mut k_size, mut k_root, mut k_note, mut k_cosigned) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut positions: BTreeMap<MunicipalityCode, (u64, Vec<u8>, u64, Hash)> = BTreeMap::new();
    let mut old_sizes: BTreeMap<MunicipalityCode, u64> = BTreeMap::new();
    let now_secs = u64::try_from(now.as_secs()).unwrap_or(0);
    for segment in &batch.segments {
        let first_seq = segment.first_seq();
        old_sizes.entry(segment.code).or_insert(first_seq - 1);
        for (i, chunk) in segment.events.chunks(CHUNK_EVENTS_MAX).enumerate() {
            let first = first_seq + (i * CHUNK_EVENTS_MAX) as u64;
            c_code.push(segment.code.to_string());
            c_first.push(int(first));
            c_last.push(int(first + chunk.len() as u64 - 1));
            c_events.push(pack_chunk(chunk.iter().map(|e| e.bytes.as_slice())));
        }
        for (node, hash) in &segment.nodes {
            n_code.push(segment.code.to_string());
            n_level.push(i16::from(node.level));
            n_idx.push(int(node.index));
            n_hash.push(hash.to_vec());
        }
        let mut cosigned = segment.checkpoint.clone();
        cosigned.cosign(witness, now_secs);
        k_code.push(segment.code.to_string());
        k_size.push(int(segment.checkpoint.checkpoint.size));
        k_root.push(segment.checkpoint.checkpoint.root.to_vec());
        k_note.push(segment.checkpoint.to_note());
        k_cosigned.push(cosigned.to_note());
        positions.insert(
            segment.code,
            (
                segment.frontier.size(),
                segment.frontier.to_bytes(),
                segment.checkpoint.checkpoint.size,
                segment.checkpoint.checkpoint.root,
            ),
        );
    }
    sqlx::query(
        "INSERT INTO fed_event_chunk (code, first_seq, last_seq, events) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::bytea[])",
    )
    .bind(c_code)
    .bind(c_first)
    .bind(c_last)
    .bind(c_events)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    if !n_code.is_empty() {
        sqlx::query(
            "INSERT INTO fed_tree_node (code, level, idx, hash) \
             SELECT * FROM UNNEST($1::text[], $2::int2[], $3::int8[], $4::bytea[])",
        )
        .bind(n_code)
        .bind(n_level)
        .bind(n_idx)
        .bind(n_hash)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    sqlx::query(
        "INSERT INTO fed_checkpoint (code, size, root, note, cosigned_note, accepted_at) \
         SELECT c, s, r, n, k, now() FROM UNNEST($1::text[], $2::int8[], $3::bytea[], $4::text[], $5::text[]) \
         AS t(c, s, r, n, k)",
    )
    .bind(k_code)
    .bind(k_size)
    .bind(k_root)
    .bind(k_note)
    .bind(k_cosigned)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    let codes: Vec<String> = positions.keys().map(|c| c.to_string()).collect();
    let sizes: Vec<i64> = positions.values().map(|p| int(p.0)).collect();
    let frontiers: Vec<Vec<u8>> = positions.values().map(|p| p.1.clone()).collect();
    let cp_sizes: Vec<i64> = positions.values().map(|p| int(p.2)).collect();
    let cp_roots: Vec<Vec<u8>> = positions.values().map(|p| p.3.to_vec()).collect();
    let olds: Vec<i64> = positions
        .keys()
        .map(|c| int(old_sizes.get(c).copied().unwrap_or_default()))
        .collect();
    // The guard on the old size makes a second writer's commit fail instead of double-counting.
    let updated = sqlx::query(
        "UPDATE fed_node n SET verified_size = u.size, frontier = u.frontier, \
                checkpoint_size = u.cp_size, checkpoint_root = u.cp_root, verified_at = now(), \
                received_seq = greatest(n.received_seq, u.size) \
         FROM UNNEST($1::text[], $2::int8[], $3::bytea[], $4::int8[], $5::bytea[], $6::int8[]) \
              AS u(code, size, frontier, cp_size, cp_root, old_size) \
         WHERE n.code = u.code AND n.verified_size = u.old_size",
    )
    .bind(codes)
    .bind(sizes)
    .bind(frontiers)
    .bind(cp_sizes)
    .bind(cp_roots)
    .bind(olds)
    .execute(&mut **tx)
    .await
    .map_err(db)?
    .rows_affected();
    if updated != positions.len() as u64 {
        return Err(AssociationError::Database(
            "a node's verified size moved under this commit (is a second association \
             writing to this database?)"
                .into(),
        ));
    }
    Ok(())
}

async fn write_quarantine(
    tx: &mut crate::store::Tx<'_>,
    records: &[QuarantineRecord],
) -> Result<(), AssociationError> {
    if records.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = records.iter().map(|r| r.code.as_str()).collect();
    let subjects: Vec<&str> = records.iter().map(|r| r.subject.as_str()).collect();
    let seqs: Vec<Option<i64>> = records.iter().map(|r| r.seq.map(int)).collect();
    let reasons: Vec<&str> = records.iter().map(|r| r.reason.as_str()).collect();
    let details: Vec<&str> = records.iter().map(|r| r.detail.as_str()).collect();
    let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload.as_slice()).collect();
    let stream_seqs: Vec<Option<i64>> = records.iter().map(|r| r.stream_seq.map(int)).collect();
    sqlx::query(
        "INSERT INTO quarantine (code, subject, seq, reason, detail, payload, stream_seq) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], \
                              $6::bytea[], $7::int8[]) \
         ON CONFLICT (stream_seq) DO NOTHING",
    )
    .bind(codes)
    .bind(subjects)
    .bind(seqs)
    .bind(reasons)
    .bind(details)
    .bind(payloads)
    .bind(stream_seqs)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn write_forks(
    tx: &mut crate::store::Tx<'_>,
    forks: &[ForkRecord],
) -> Result<(), AssociationError> {
    if forks.is_empty() {
        return Ok(());
    }
    let codes: Vec<String> = forks.iter().map(|f| f.code.to_string()).collect();
    let sizes: Vec<i64> = forks.iter().map(|f| int(f.size)).collect();
    let accepted: Vec<Vec<u8>> = forks.iter().map(|f| f.accepted_root.to_vec()).collect();
    let other: Vec<Vec<u8>> = forks.iter().map(|f| f.other_root.to_vec()).collect();
    let notes: Vec<&str> = forks.iter().map(|f| f.other_note.as_str()).collect();
    sqlx::query(
        "INSERT INTO fed_fork (code, size, accepted_root, other_root, other_note) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::bytea[], $4::bytea[], $5::text[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(codes)
    .bind(sizes)
    .bind(accepted)
    .bind(other)
    .bind(notes)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}
