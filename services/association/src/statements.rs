//! The association's signed national statements (`projection::statement`): whenever the
//! projection has moved, at most every `interval`, the association signs "at these positions
//! the projection digest is D" with its witness key and keeps the statement, so an auditor's
//! archive (exported to a statement's positions) can be compared with what the association
//! said then, however far the projection has moved since. Each statement is also an entry of
//! the association's log (`decisions`).

use std::sync::Arc;
use std::time::Duration;

use event_store_core::checkpoint::NoteVerifier;
use event_store_core::{MunicipalityCode, Timestamp};
use projection::association_log::Decision;
use projection::statement::{StatedPosition, Statement, positions_hash};
use sqlx::Row;
use tokio::sync::watch;

use crate::decisions::{Head, Signer};
use crate::digest;
use crate::error::AssociationError;
use crate::lease::Lease;
use crate::open_data::{self, OpenData, OpenDataServer};
use crate::read::ReadModel;
use crate::read::digests::DIGEST_STATEMENT_TIMEOUT;
use crate::store::{Store, db, parse_code};
use reference::Reference;

/// How often the association states by default (when its projection moved).
pub const STATEMENT_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);

/// A kept statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    pub note: String,
    pub digest: [u8; 32],
    pub positions_hash: [u8; 32],
    pub positions: Vec<StatedPosition>,
    pub made_at_micros: i64,
}

/// The projection scanned once in one snapshot: its digest, the positions it covers (sorted)
/// and their hash, and the open-data files.
async fn scan(
    readers: &Store,
    reference: Arc<Reference>,
) -> Result<([u8; 32], Vec<StatedPosition>, [u8; 32], open_data::Writer), AssociationError> {
    let mut files = open_data::Writer::new(reference);
    let (computed, _) =
        digest::compute_within(readers, Some(DIGEST_STATEMENT_TIMEOUT), Some(&mut files)).await?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&computed.hex, &mut digest)
        .map_err(|e| AssociationError::Corrupt(format!("the projection digest: {e}")))?;
    let mut positions = computed
        .positions
        .iter()
        .map(|p| {
            Ok(StatedPosition {
                municipality: parse_code(&p.code)?,
                size: p.verified_size,
                root: p.root.clone(),
            })
        })
        .collect::<Result<Vec<_>, AssociationError>>()?;
    positions.sort();
    let hash = positions_hash(&positions);
    Ok((digest, positions, hash, files))
}

/// States the current projection, scanning it once in one snapshot for the digest, its
/// positions and the open-data files; a statement at the same positions already kept is used
/// as it is. With a `lease`, only while it is this instance's (`lease::fence`). Returns the statement, whether it is new, and the files.
pub async fn state(
    writer: &Store,
    readers: &Store,
    reference: Arc<Reference>,
    signer: &Signer,
    lease: Option<&Lease>,
) -> Result<(StatementRow, bool, OpenData), AssociationError> {
    let (digest, positions, hash, files) = scan(readers, reference).await?;
    let now = Timestamp::now();
    let statement = Statement::new(
        digest,
        &positions,
        u64::try_from(now.as_secs()).unwrap_or(0),
    );
    let note = statement.sign(signer.key());
    let stored: Vec<(String, u64, Vec<u8>)> = positions
        .iter()
        .map(|p| (p.municipality.to_string(), p.size, p.root.clone()))
        .collect();
    let encoded = postcard::to_stdvec(&stored)
        .map_err(|e| AssociationError::Corrupt(format!("encoding positions: {e}")))?;
    // The statement and its entry in the association's log in one transaction.
    let mut tx = writer.pool().begin().await.map_err(db)?;
    if let Some(lease) = lease {
        crate::lease::fence(&mut tx, lease).await?;
    }
    let mut head = Head::lock(&mut tx, signer).await?;
    let inserted = sqlx::query(
        "INSERT INTO statement (made_at, projection, digest, positions_hash, positions, note) \
         VALUES (timestamptz 'epoch' + $1 * interval '1 microsecond', $2, $3, $4, $5, $6) \
         ON CONFLICT (projection, positions_hash) DO NOTHING",
    )
    .bind(now.as_micros())
    .bind(i32::try_from(statement.projection_version).unwrap_or(i32::MAX))
    .bind(digest.as_slice())
    .bind(hash.as_slice())
    .bind(encoded)
    .bind(&note)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected();
    if inserted > 0 {
        let at = head.time(now);
        let decision = Decision::Stated { note: note.clone() };
        head.append(&mut tx, signer, at, decision).await?;
    }
    head.commit(tx, signer).await?;
    let row = if inserted > 0 {
        StatementRow {
            note,
            digest,
            positions_hash: hash,
            positions,
            made_at_micros: now.as_micros(),
        }
    } else {
        find(writer, Some(hash.as_slice())).await?.ok_or_else(|| {
            AssociationError::Corrupt("a statement vanished while it was read".into())
        })?
    };
    let data = finish_apart(files, row.clone()).await?;
    Ok((row, inserted > 0, data))
}

/// The open-data files of a scan, under the statement of its positions.
///
/// On a blocking thread: a whole country's files are tens of megabytes to finish and hash, and
/// on a runtime thread they held every reader queued behind them (a quarter of a second with
/// 10^6 events).
async fn finish_apart(
    files: open_data::Writer,
    row: StatementRow,
) -> Result<OpenData, AssociationError> {
    tokio::task::spawn_blocking(move || {
        files.finish(&open_data::Source {
            note: &row.note,
            digest: row.digest,
            positions_hash: row.positions_hash,
            made_at_micros: row.made_at_micros,
            hromadas: row.positions.len(),
        })
    })
    .await
    .map_err(|e| AssociationError::Corrupt(format!("the open-data files were not finished: {e}")))
}

/// How often an instance that serves reads only looks for a new statement.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(10);

/// Serves, on an instance that does not state (`association serve`), the open-data files of
/// the latest statement: when a new one is kept and the read model is at its positions, the
/// projection is scanned, and its files are published if the scan is at them too (unless the
/// projection moved meanwhile; then the next statement is waited for). A statement whose note
/// does not verify under `witness` (the association's public key) for its own digest and
/// positions is never served: the database is not the witness. Until `stop` turns true.
pub async fn follow(
    readers: Store,
    read: ReadModel,
    open_data: OpenDataServer,
    witness: NoteVerifier,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(FOLLOW_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut published: Option<[u8; 32]> = None;
    let mut refused: Option<[u8; 32]> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let latest = match find(&readers, None).await {
            Ok(Some(latest)) => latest,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the latest statement");
                continue;
            }
        };
        // Scanned only when the snapshot shows the statement's positions: a busy projection
        // that moved past it is not scanned for nothing.
        let snapshot = read.snapshot();
        let at_positions = latest.positions.iter().all(|p| {
            snapshot
                .nodes
                .get(&p.municipality)
                .is_some_and(|n| n.verified_size == p.size)
        });
        if published == Some(latest.positions_hash) || !at_positions {
            continue;
        }
        let signed = Statement::open_at(&latest.note, &witness, &latest.positions);
        if !signed
            .as_ref()
            .is_ok_and(|s| s.digest == latest.digest && s.positions_hash == latest.positions_hash)
        {
            if refused != Some(latest.positions_hash) {
                let why = signed
                    .err()
                    .map_or("it names another digest".into(), |e| e.to_string());
                tracing::error!(
                    reason = %why,
                    "the latest statement in the database is not the association's; not serving its open data"
                );
                refused = Some(latest.positions_hash);
            }
            continue;
        }
        match scan(&readers, read.reference.clone()).await {
            Ok((digest, _, hash, files)) if hash == latest.positions_hash => {
                if digest != latest.digest {
                    tracing::error!(
                        "the projection at the latest statement's positions has another digest \
                         than the statement says; not serving its open data"
                    );
                    continue;
                }
                match finish_apart(files, latest.clone()).await {
                    Ok(data) => {
                        open_data.publish(data);
                        published = Some(latest.positions_hash);
                    }
                    Err(err) => tracing::warn!(error = %err, "failed to finish the open data"),
                }
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "failed to scan the projection"),
        }
    }
}

/// The statement of this projection version at the positions whose hash is
/// `positions_hash`, or the latest for `None`.
pub async fn find(
    store: &Store,
    positions_hash: Option<&[u8]>,
) -> Result<Option<StatementRow>, AssociationError> {
    let version = i32::try_from(projection::PROJECTION_VERSION).unwrap_or(i32::MAX);
    let row = sqlx::query(
        "SELECT note, digest, positions_hash, positions, \
                (extract(epoch FROM made_at) * 1000000)::int8 AS made_at \
         FROM statement WHERE projection = $1 AND ($2::bytea IS NULL OR positions_hash = $2) \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(version)
    .bind(positions_hash)
    .fetch_optional(store.pool())
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let corrupt = |what: &str| AssociationError::Corrupt(format!("a statement's {what}"));
    let hash32 = |bytes: Vec<u8>, what: &str| -> Result<[u8; 32], AssociationError> {
        bytes.try_into().map_err(|_| corrupt(what))
    };
    let stored: Vec<(String, u64, Vec<u8>)> =
        postcard::from_bytes(&row.try_get::<Vec<u8>, _>("positions").map_err(db)?)
            .map_err(|_| corrupt("positions"))?;
    let positions = stored
        .into_iter()
        .map(|(code, size, root)| {
            let municipality: MunicipalityCode = parse_code(&code)?;
            Ok(StatedPosition {
                municipality,
                size,
                root,
            })
        })
        .collect::<Result<Vec<_>, AssociationError>>()?;
    Ok(Some(StatementRow {
        note: row.try_get("note").map_err(db)?,
        digest: hash32(row.try_get("digest").map_err(db)?, "digest")?,
        positions_hash: hash32(row.try_get("positions_hash").map_err(db)?, "positions hash")?,
        positions,
        made_at_micros: row.try_get("made_at").map_err(db)?,
    }))
}

/// What the statements' task works with.
#[derive(Debug, Clone)]
pub struct Stating {
    pub writer: Store,
    pub readers: Store,
    pub read: ReadModel,
    pub signer: Signer,
    pub open_data: OpenDataServer,
    pub interval: Duration,
}

/// States whenever a node's verified size moved (as the read model shows it), at most every
/// `interval`, while this instance leads the ingest (`leadership`), and publishes the
/// open-data files of each statement, until `stop` turns true. A failed statement is logged
/// and tried again on the next tick.
pub async fn run(
    stating: Stating,
    leadership: watch::Receiver<Option<Lease>>,
    mut stop: watch::Receiver<bool>,
) {
    let Stating {
        writer,
        readers,
        read,
        signer,
        open_data,
        interval,
    } = stating;
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The verified size of every node when the last statement was made: the read model
    // reloads every 30 s even when idle, so its version alone would scan for nothing.
    let mut stated: Option<Vec<(MunicipalityCode, u64)>> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Only the instance that ingests states.
        let Some(lease) = *leadership.borrow() else {
            continue;
        };
        let sizes: Vec<(MunicipalityCode, u64)> = read
            .snapshot()
            .nodes
            .iter()
            .map(|(code, node)| (*code, node.verified_size))
            .collect();
        if stated.as_ref() == Some(&sizes) {
            continue;
        }
        match state(
            &writer,
            &readers,
            read.reference.clone(),
            &signer,
            Some(&lease),
        )
        .await
        {
            Ok((made, new, data)) => {
                if new {
                    tracing::debug!(
                        digest = hex::encode(made.digest),
                        hromadas = made.positions.len(),
                        open_data_bytes = data.bytes(),
                        "stated the projection"
                    );
                }
                open_data.publish(data);
                stated = Some(sizes);
            }
            Err(err) => tracing::warn!(error = %err, "failed to state the projection"),
        }
    }
}
