//! One ingest commit: verified segments, their projections, cosigned checkpoints, the nodes'
//! positions, quarantine records, forks and the resume position, in one transaction. Batched
//! writes only (`UNNEST`), never one statement per event.

use std::collections::BTreeMap;

use event_store_core::checkpoint::NoteSigner;
use event_store_core::merkle;
use event_store_core::{Hash, MunicipalityCode, Timestamp};

use crate::batch::{Batch, ForkRecord, QuarantineRecord};
use crate::error::AssociationError;
use crate::lease::Lease;
use crate::projections::{self, ProjectedEvent};
use crate::store::{CHUNK_EVENTS_MAX, Store, db, int, pack_chunk};
use crate::verifier::{PendingEvent, Reason};

/// What a commit did.
#[derive(Debug, Default)]
pub(crate) struct CommitSummary {
    pub events: usize,
}

/// Where a commit writes: the ingest's pool, under the lease of its term (`lease::fence`).
pub(crate) struct Writer<'a> {
    pub store: &'a Store,
    pub lease: &'a Lease,
    /// The revocations' version the verifiers' keys are of.
    pub revocations: &'a str,
}

pub(crate) async fn commit(
    writer: Writer<'_>,
    witness: &NoteSigner,
    mut batch: Batch,
    received: &[(MunicipalityCode, u64)],
    resume: u64,
    now: Timestamp,
    catalogue: bool,
) -> Result<CommitSummary, AssociationError> {
    let store = writer.store;
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
                Err(detail) => batch.quarantine.push(QuarantineRecord::with(
                    segment.code.to_string(),
                    &wire::event_subject(&segment.code),
                    Some(event.seq),
                    Reason::Undecodable,
                    format!("a verified event's payload does not decode: {detail}"),
                    &event.bytes,
                    0,
                )),
            }
        }
    }

    let mut tx = store.pool().begin().await.map_err(db)?;
    // First: nothing is written unless this instance still holds the lease, and no takeover
    // falls inside the transaction.
    crate::lease::fence(&mut tx, writer.lease).await?;
    // A revocation takes the lease's row too (`decisions::revoke`), so it committed wholly
    // before this point or comes after this commit: keys revoked before are seen here.
    let version: String = sqlx::query_scalar(crate::store::REVOCATION_VERSION_SQL)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    if version != writer.revocations {
        return Err(AssociationError::EnrolmentChanged);
    }
    // The catalogue's texts and search terms need only the events: they are computed on the
    // blocking pool while the projection is written. Bounded by one batch; a commit that ends
    // early (an error, its task aborted) leaves it to finish on its own.
    let projected = std::sync::Arc::new(projected);
    let catalogue_patches = catalogue.then(|| {
        let events = std::sync::Arc::clone(&projected);
        tokio::task::spawn_blocking(move || projection::catalogue::event_patches(&events))
    });
    let outcomes = projections::apply(&mut tx, &projected).await?;
    if let Some(patches) = catalogue_patches {
        // As a stopped commit task is (`ingest::state::InFlight`): the batch is not committed
        // and is received again.
        let each = patches.await.map_err(|e| {
            AssociationError::Database(format!("the catalogue's patches were not computed: {e}"))
        })?;
        crate::catalogue::apply(&mut tx, &projected, &outcomes, each).await?;
    }
    write_segments(&mut tx, witness, &batch, now).await?;
    write_quarantine(&mut tx, &batch.quarantine, now).await?;
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
    sqlx::query("UPDATE ingest_position SET stream_seq = $1, commits = commits + 1")
        .bind(int(resume))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;

    Ok(CommitSummary {
        events: batch.events,
    })
}

/// Sequence numbers further apart than this are read from storage separately when checking
/// re-received events, so scattered claims never read a long range.
const CHECK_RUN_GAP_MAX: u64 = 64;

/// Events re-received at or below the verified size: identical bytes are duplicates (nothing to
/// do), different bytes are quarantined as tampered. Stored events are read by runs of nearby
/// sequence numbers, one query per run (a replay after a restart is one run per node).
async fn check_duplicates(store: &Store, batch: &mut Batch) -> Result<(), AssociationError> {
    let mut checks = std::mem::take(&mut batch.check_events);
    checks.sort_by_key(|(code, seq, _, _)| (*code, *seq));
    let mut stored: BTreeMap<(MunicipalityCode, u64), Hash> = BTreeMap::new();
    for segment in &batch.segments {
        for event in &segment.events {
            stored.insert((segment.code, event.seq), event.leaf);
        }
    }
    let mut i = 0;
    while i < checks.len() {
        let code = checks[i].0;
        let first = checks[i].1;
        let mut last = first;
        let mut j = i + 1;
        while j < checks.len() && checks[j].0 == code && checks[j].1 <= last + CHECK_RUN_GAP_MAX {
            last = checks[j].1;
            j += 1;
        }
        if checks[i..j]
            .iter()
            .any(|(_, seq, _, _)| !stored.contains_key(&(code, *seq)))
        {
            for (seq, bytes) in store.events(&code, first, last).await? {
                stored
                    .entry((code, seq))
                    .or_insert_with(|| merkle::leaf_hash(&bytes));
            }
        }
        i = j;
    }
    for (code, seq, leaf, record) in checks {
        if stored.get(&(code, seq)).is_some_and(|s| *s != leaf) {
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

/// Bytes of stored chunks written by one statement at most.
const STATEMENT_BYTES_MAX: usize = 64 << 20;
/// Bytes of events in one stored chunk at most (besides at most [`CHUNK_EVENTS_MAX`] events),
/// so a proof or a page of the log never reads a huge row.
const CHUNK_BYTES_MAX: usize = 4 << 20;

/// `events` cut into stored chunks: consecutive runs of at most [`CHUNK_EVENTS_MAX`] events
/// and [`CHUNK_BYTES_MAX`] bytes (one event at least).
fn chunks(events: &[PendingEvent]) -> impl Iterator<Item = &[PendingEvent]> {
    let mut rest = events;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut len = 0;
        while len < rest.len() && len < CHUNK_EVENTS_MAX {
            let next = rest[len].bytes.len();
            if len > 0 && bytes + next > CHUNK_BYTES_MAX {
                break;
            }
            bytes += next;
            len += 1;
        }
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        Some(chunk)
    })
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
        let mut first = first_seq;
        for chunk in chunks(&segment.events) {
            c_code.push(segment.code.to_string());
            c_first.push(int(first));
            c_last.push(int(first + chunk.len() as u64 - 1));
            c_events.push(pack_chunk(chunk.iter().map(|e| e.bytes.as_slice())));
            first += chunk.len() as u64;
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
    // Chunks go in statements of at most STATEMENT_BYTES_MAX bytes (PostgreSQL refuses a
    // value over 1 GB, and one array parameter is one value).
    let mut start = 0;
    while start < c_events.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < c_events.len()
            && (end == start || bytes + c_events[end].len() <= STATEMENT_BYTES_MAX)
        {
            bytes += c_events[end].len();
            end += 1;
        }
        sqlx::query(
            "INSERT INTO fed_event_chunk (code, first_seq, last_seq, events) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::bytea[])",
        )
        .bind(&c_code[start..end])
        .bind(&c_first[start..end])
        .bind(&c_last[start..end])
        .bind(&c_events[start..end])
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        start = end;
    }
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
         SELECT c, s, r, n, k, timestamptz 'epoch' + $6 * interval '1 microsecond' \
         FROM UNNEST($1::text[], $2::int8[], $3::bytea[], $4::text[], $5::text[]) \
         AS t(c, s, r, n, k)",
    )
    .bind(k_code)
    .bind(k_size)
    .bind(k_root)
    .bind(k_note)
    .bind(k_cosigned)
    .bind(now.0)
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

/// Records a node may have in the quarantine; past it, further records are only counted
/// (`fed_node.quarantine_dropped`), so whoever publishes junk on a node's subject cannot fill
/// the database.
pub(crate) const QUARANTINE_ROWS_PER_CODE_MAX: i64 = 10_000;

/// Writes quarantine records, each once (by its ingest-stream position and by its
/// fingerprint), at most [`QUARANTINE_ROWS_PER_CODE_MAX`] per municipality code, and keeps
/// each node's count.
async fn write_quarantine(
    tx: &mut crate::store::Tx<'_>,
    records: &[QuarantineRecord],
    now: Timestamp,
) -> Result<(), AssociationError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut codes: Vec<&str> = records.iter().map(|r| r.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c, (SELECT count(*) FROM (SELECT 1 FROM quarantine q WHERE q.code = c \
                                          LIMIT $2) AS held) \
         FROM UNNEST($1::text[]) AS c",
    )
    .bind(&codes)
    .bind(QUARANTINE_ROWS_PER_CODE_MAX)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let mut room: BTreeMap<String, i64> = counts
        .into_iter()
        .map(|(code, held)| (code, QUARANTINE_ROWS_PER_CODE_MAX - held))
        .collect();
    let mut dropped: BTreeMap<&str, i64> = BTreeMap::new();
    let kept: Vec<&QuarantineRecord> = records
        .iter()
        .filter(|r| {
            let left = room.entry(r.code.clone()).or_default();
            if *left > 0 {
                *left -= 1;
                true
            } else {
                *dropped.entry(r.code.as_str()).or_default() += 1;
                false
            }
        })
        .collect();
    let codes: Vec<&str> = kept.iter().map(|r| r.code.as_str()).collect();
    let subjects: Vec<&str> = kept.iter().map(|r| r.subject.as_str()).collect();
    let seqs: Vec<Option<i64>> = kept.iter().map(|r| r.seq.map(int)).collect();
    let reasons: Vec<&str> = kept.iter().map(|r| r.reason.as_str()).collect();
    let details: Vec<&str> = kept.iter().map(|r| r.detail.as_str()).collect();
    let payloads: Vec<&[u8]> = kept.iter().map(|r| r.payload.as_slice()).collect();
    let lengths: Vec<i32> = kept
        .iter()
        .map(|r| i32::try_from(r.payload_len).unwrap_or(i32::MAX))
        .collect();
    let stream_seqs: Vec<Option<i64>> = kept.iter().map(|r| r.stream_seq.map(int)).collect();
    let fingerprints: Vec<Vec<u8>> = kept.iter().map(|r| fingerprint(r).to_vec()).collect();
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO quarantine (code, subject, seq, reason, detail, payload, payload_len, \
                                 stream_seq, fingerprint, received_at) \
         SELECT c, s, q, r, d, p, l, ss, f, timestamptz 'epoch' + $10 * interval '1 microsecond' \
         FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::bytea[], \
                     $7::int4[], $8::int8[], $9::bytea[]) AS t(c, s, q, r, d, p, l, ss, f) \
         ON CONFLICT DO NOTHING RETURNING code",
    )
    .bind(codes)
    .bind(subjects)
    .bind(seqs)
    .bind(reasons)
    .bind(details)
    .bind(payloads)
    .bind(lengths)
    .bind(stream_seqs)
    .bind(fingerprints)
    .bind(now.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let mut added: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for code in &inserted {
        added.entry(code.as_str()).or_default().0 += 1;
    }
    for (code, n) in &dropped {
        added.entry(code).or_default().1 += n;
    }
    let codes: Vec<&str> = added.keys().copied().collect();
    let kept_counts: Vec<i64> = added.values().map(|v| v.0).collect();
    let dropped_counts: Vec<i64> = added.values().map(|v| v.1).collect();
    sqlx::query(
        "UPDATE fed_node n SET quarantined = n.quarantined + a.kept, \
                quarantine_dropped = n.quarantine_dropped + a.dropped, \
                quarantined_at = timestamptz 'epoch' + $4 * interval '1 microsecond' \
         FROM UNNEST($1::text[], $2::int8[], $3::int8[]) AS a(code, kept, dropped) \
         WHERE n.code = a.code",
    )
    .bind(codes)
    .bind(kept_counts)
    .bind(dropped_counts)
    .bind(now.0)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// What makes a quarantine record the same as another: its subject, reason, sequence number
/// and whole payload (by the kept bytes and the length), hashed.
fn fingerprint(record: &QuarantineRecord) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new();
    for part in [
        record.code.as_bytes(),
        record.subject.as_bytes(),
        record.reason.as_str().as_bytes(),
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.update(record.seq.unwrap_or(0).to_le_bytes());
    hash.update((record.payload_len as u64).to_le_bytes());
    hash.update(&record.payload);
    hash.finalize().into()
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
