//! The conformance suite of vidkryto's log: every backend runs these same cases against a real
//! database (see `conformance_tests!`). A backend supplies a fresh empty store and three
//! raw-table operations an attacker with database access could do; the suite does the rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use event_store::{
    Appended, Backend, CheckpointPolicy, ExpectedVersion, FailureKind, Log, NewEvent, StoreError,
    WriteTx, verify,
};
use event_store_core::checkpoint::{NoteSigner, SignedCheckpoint};
use event_store_core::{
    Envelope, EventId, EventTypeCode, Hash, LogSeq, MunicipalityCode, SchemaVersion, StreamId,
    StreamVersion, Timestamp, merkle, origin_for,
};

/// What a backend provides to be tested.
pub trait Harness: Sized + Send + Sync + 'static {
    type B: Backend + Clone + std::fmt::Debug;

    /// A fresh, empty store on a real database.
    fn fresh() -> impl Future<Output = Self> + Send;
    /// The store under test.
    fn backend(&self) -> Self::B;
    /// Reads one stored event's bytes and leaf hash straight from the table.
    fn raw_event(&self, seq: u64) -> impl Future<Output = (Vec<u8>, Hash)> + Send;
    /// Overwrites one stored event's bytes and leaf hash straight in the table (bypassing the
    /// append-only guard, as someone with file access could).
    fn overwrite(&self, seq: u64, bytes: Vec<u8>, leaf: Hash) -> impl Future<Output = ()> + Send;
    /// Deletes one stored event straight from the table.
    fn delete(&self, seq: u64) -> impl Future<Output = ()> + Send;
    /// Tries an ordinary `UPDATE` and `DELETE` of one event without lifting the append-only
    /// guard; returns whether both were refused.
    fn guard_refuses_changes(&self, seq: u64) -> impl Future<Output = bool> + Send;
    /// Releases the store (drops a temporary database).
    fn cleanup(self) -> impl Future<Output = ()> + Send;
}

/// Generates one `#[tokio::test]` per conformance case for a harness type.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        $crate::conformance_tests!(@cases $harness;
            appends_number_events_and_read_back,
            stream_version_conflicts_are_typed_and_write_nothing,
            retried_appends_are_idempotent,
            batch_bounds_are_enforced,
            concurrent_appenders_never_gap_or_duplicate,
            checkpoints_follow_the_event_policy,
            checkpoints_follow_the_time_policy,
            checkpoints_come_on_demand_above_a_floor,
            proofs_verify_against_signed_checkpoints,
            clean_log_verifies_whole_and_in_ranges,
            flipped_byte_is_found_at_its_sequence,
            deleted_event_is_found_as_a_gap,
            swapped_pair_is_found_at_the_first,
            rewritten_event_with_rehashed_leaf_fails_its_checkpoint,
            wrong_key_fails_the_checkpoints,
            reopening_continues_and_refuses_another_log,
            subscribers_see_new_entries,
            append_only_guard_refuses_updates,
            cursors_persist_and_reject_bad_names,
            racing_retries_and_conflicts_in_one_group,
            a_caller_going_away_does_not_fail_its_group);
    };
    (@cases $harness:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = <$harness as $crate::Harness>::fresh().await;
                $crate::$case(&harness).await;
                $crate::Harness::cleanup(harness).await;
            }
        )*
    };
}

/// The municipality the suite's logs belong to (Koriukivka hromada, Chernihiv oblast).
pub fn municipality() -> MunicipalityCode {
    MunicipalityCode::parse("UA74040130000074451").unwrap()
}

/// The suite's node key.
pub fn signer() -> NoteSigner {
    NoteSigner::from_seed(&origin_for(&municipality()), [11; 32]).unwrap()
}

/// A checkpoint policy that does not sign on its own during a test.
pub fn quiet_policy() -> CheckpointPolicy {
    CheckpointPolicy {
        every_events: 100_000,
        every_ms: 3_600_000,
    }
}

async fn open<H: Harness>(h: &H, policy: CheckpointPolicy) -> Log<H::B> {
    Log::open(h.backend(), municipality(), signer(), policy)
        .await
        .unwrap()
}

/// A 200-byte-ish event with a distinct payload.
pub fn event(n: u32) -> NewEvent {
    NewEvent {
        event_id: EventId::new_v7(),
        event_type: EventTypeCode(0x0103),
        schema_version: SchemaVersion(1),
        recorded_at: Timestamp(1_764_151_200_000_000 + i64::from(n)),
        payload: format!("signature {n:08} {}", "x".repeat(180)).into_bytes(),
    }
}

fn stream() -> StreamId {
    StreamId(uuid::Uuid::now_v7())
}

async fn append_n<B: Backend>(log: &Log<B>, n: u32) -> Appended {
    let s = stream();
    log.append(s, ExpectedVersion::NoStream, (0..n).map(event).collect())
        .await
        .unwrap()
}

async fn assert_gapless<B: Backend>(log: &Log<B>, size: u64) {
    let rows = log.read(LogSeq(1), 10_000).await.unwrap();
    assert_eq!(rows.len() as u64, size);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.seq.0, i as u64 + 1, "gap or duplicate at {i}");
        let env = Envelope::decode(&row.bytes).unwrap();
        assert_eq!(env.seq, row.seq);
        assert_eq!(merkle::leaf_hash(&row.bytes), row.leaf_hash);
    }
}

pub async fn appends_number_events_and_read_back<H: Harness>(h: &H) {
    let log = open(h, quiet_policy()).await;
    let s = stream();
    let batch: Vec<NewEvent> = (0..3).map(event).collect();
    let out = log
        .append(s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert!(!out.deduplicated);
    assert_eq!(
        out.positions,
        vec![
            (LogSeq(1), StreamVersion(1)),
            (LogSeq(2), StreamVersion(2)),
            (LogSeq(3), StreamVersion(3))
        ]
    );
    let other = stream();
    let out = log
        .append(other, ExpectedVersion::Any, vec![event(9)])
        .await
        .unwrap();
    assert_eq!(out.positions, vec![(LogSeq(4), StreamVersion(1))]);
    let out = log
        .append(s, ExpectedVersion::Exact(StreamVersion(3)), vec![event(4)])
        .await
        .unwrap();
    assert_eq!(out.positions, vec![(LogSeq(5), StreamVersion(4))]);

    let by_id = h
        .backend()
        .event_by_id(batch[1].event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_id.seq, by_id.stream_id, by_id.stream_version),
        (LogSeq(2), s, StreamVersion(2))
    );
    assert!(
        h.backend()
            .event_by_id(EventId::new_v7())
            .await
            .unwrap()
            .is_none()
    );

    let rows = log.read(LogSeq(2), 2).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq.0).collect::<Vec<_>>(), vec![2, 3]);
    let env = Envelope::decode(&rows[0].bytes).unwrap();
    assert_eq!(env.municipality, municipality());
    assert_eq!(env.event_id, batch[1].event_id);
    assert_eq!(env.payload, batch[1].payload);
    assert_eq!(env.stream_id, s);

    let in_stream = log.read_stream(s, StreamVersion(1), 100).await.unwrap();
    assert_eq!(
        in_stream.iter().map(|r| r.seq.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 5]
    );
    let tail = log.read_stream(s, StreamVersion(4), 100).await.unwrap();
    assert_eq!(tail.len(), 1);
    assert!(log.read(LogSeq(6), 10).await.unwrap().is_empty());
    assert_eq!(log.size(), 5);
}

pub async fn stream_version_conflicts_are_typed_and_write_nothing<H: Harness>(h: &H) {
    let log = open(h, quiet_policy()).await;
    let s = stream();
    log.append(s, ExpectedVersion::NoStream, vec![event(0), event(1)])
        .await
        .unwrap();
    let err = log
        .append(s, ExpectedVersion::NoStream, vec![event(2)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { stream, actual: StreamVersion(2), .. } if stream == s),
        "{err:?}"
    );
    let err = log
        .append(s, ExpectedVersion::Exact(StreamVersion(1)), vec![event(3)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let err = log
        .append(
            stream(),
            ExpectedVersion::Exact(StreamVersion(1)),
            vec![event(4)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                actual: StreamVersion(0),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(log.size(), 2);
    assert_eq!(h.backend().head().await.unwrap().size(), 2);
    assert_gapless(&log, 2).await;
}

pub async fn retried_appends_are_idempotent<H: Harness>(h: &H) {
    let log = open(h, quiet_policy()).await;
    let s = stream();
    let batch: Vec<NewEvent> = (0..5).map(event).collect();
    let first = log
        .append(s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    log.append(stream(), ExpectedVersion::NoStream, vec![event(50)])
        .await
        .unwrap();
    // The retry carries the original expectation, which no longer holds: still a replay.
    let again = log
        .append(s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.positions, first.positions);
    assert_eq!(log.size(), 6);

    let mut changed = batch.clone();
    changed[2].payload = b"another text".to_vec();
    let err = log
        .append(s, ExpectedVersion::Any, changed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::EventIdReused(id) if id == batch[2].event_id),
        "{err:?}"
    );

    // A new batch that reuses one stored id in the middle is refused whole.
    let mut mixed = vec![event(60), event(61)];
    mixed[1].event_id = batch[4].event_id;
    let err = log
        .append(s, ExpectedVersion::Any, mixed)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EventIdReused(_)), "{err:?}");
    // The same ids on another stream are not a replay.
    let err = log
        .append(stream(), ExpectedVersion::Any, batch)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EventIdReused(_)), "{err:?}");
    assert_eq!(log.size(), 6);
    assert_gapless(&log, 6).await;
}

pub async fn batch_bounds_are_enforced<H: Harness>(h: &H) {
    let log = open(h, quiet_policy()).await;
    let err = log
        .append(stream(), ExpectedVersion::Any, vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::BatchSize { len: 0, .. }),
        "{err:?}"
    );
    let too_many: Vec<NewEvent> = (0..event_store::APPEND_BATCH_MAX as u32 + 1)
        .map(event)
        .collect();
    let err = log
        .append(stream(), ExpectedVersion::Any, too_many)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BatchSize { .. }), "{err:?}");
    let e = event(1);
    let err = log
        .append(stream(), ExpectedVersion::Any, vec![e.clone(), e])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateInBatch(_)), "{err:?}");
    let mut big = event(2);
    big.payload = vec![0; event_store_core::PAYLOAD_LEN_MAX + 1];
    let err = log
        .append(stream(), ExpectedVersion::Any, vec![big])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Envelope(_)), "{err:?}");
    assert_eq!(log.size(), 0);
    let full: Vec<NewEvent> = (0..event_store::APPEND_BATCH_MAX as u32)
        .map(event)
        .collect();
    log.append(stream(), ExpectedVersion::Any, full)
        .await
        .unwrap();
    assert_eq!(log.size(), event_store::APPEND_BATCH_MAX as u64);
}

pub async fn concurrent_appenders_never_gap_or_duplicate<H: Harness>(h: &H) {
    const TASKS: u32 = 16;
    const APPENDS: u32 = 20;
    let log = Arc::new(
        open(
            h,
            CheckpointPolicy {
                every_events: 37,
                every_ms: 1_000,
            },
        )
        .await,
    );
    // Two logs over one database, as two processes would be: the database must serialise them.
    let second = Arc::new(
        open(
            h,
            CheckpointPolicy {
                every_events: 37,
                every_ms: 1_000,
            },
        )
        .await,
    );
    let shared = stream();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let log = if t % 2 == 0 {
            log.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let own = stream();
            let mut seqs = Vec::new();
            for i in 0..APPENDS {
                let n = t * 1000 + i;
                let (s, batch) = if i % 3 == 0 {
                    (shared, vec![event(n)])
                } else {
                    (own, vec![event(n), event(n + 500)])
                };
                let out = log.append(s, ExpectedVersion::Any, batch).await.unwrap();
                seqs.extend(out.positions.iter().map(|p| p.0.0));
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    let expected_len = all.len() as u64;
    assert_eq!(
        all,
        (1..=expected_len).collect::<Vec<_>>(),
        "positions handed out must be 1..=n"
    );
    assert_gapless(&log, expected_len).await;
    let shared_rows = log
        .read_stream(shared, StreamVersion(1), 10_000)
        .await
        .unwrap();
    let versions: Vec<u64> = shared_rows.iter().map(|r| r.stream_version.0).collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    let report = verify(&h.backend(), &municipality(), &signer().verifier(), 1, None)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, expected_len);
}

pub async fn checkpoints_follow_the_event_policy<H: Harness>(h: &H) {
    let log = open(
        h,
        CheckpointPolicy {
            every_events: 10,
            every_ms: 3_600_000,
        },
    )
    .await;
    for i in 0..25 {
        log.append(stream(), ExpectedVersion::NoStream, vec![event(i)])
            .await
            .unwrap();
    }
    let b = h.backend();
    let cps = b.checkpoints(0, 100).await.unwrap();
    // The first append is checkpointed at once (no checkpoint yet), then every 10 events.
    assert_eq!(
        cps.iter().map(|c| c.size).collect::<Vec<_>>(),
        vec![1, 11, 21]
    );
    for cp in &cps {
        let signed = SignedCheckpoint::parse(&cp.note).unwrap();
        signed
            .verify_for(&signer().verifier(), &origin_for(&municipality()))
            .unwrap();
        assert_eq!(signed.checkpoint.size, cp.size);
        assert_eq!(
            signed.checkpoint.root,
            event_store::proof::root_at(&b, cp.size).await.unwrap()
        );
    }
    assert_eq!(log.checkpoint_now().await.unwrap(), Some(25));
    assert_eq!(
        log.checkpoint_now().await.unwrap(),
        None,
        "nothing new to cover"
    );
    assert_eq!(log.latest_checkpoint().await.unwrap().unwrap().size, 25);
}

/// Runs `log`'s checkpointer in a task until the returned sender is used (or dropped).
fn spawn_checkpointer<B: Backend>(
    log: &Arc<Log<B>>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let log = log.clone();
    let runner = tokio::spawn(async move {
        log.run_checkpointer(async {
            let _ = stop_rx.await;
        })
        .await;
    });
    (stop_tx, runner)
}

pub async fn checkpoints_follow_the_time_policy<H: Harness>(h: &H) {
    // Long enough that two appends in a row fall within it on a loaded machine.
    let interval = Duration::from_millis(1_000);
    let log = open(
        h,
        CheckpointPolicy {
            every_events: 1_000,
            every_ms: u32::try_from(interval.as_millis()).unwrap(),
        },
    )
    .await;
    append_n(&log, 3).await; // first checkpoint, size 3
    append_n(&log, 2).await; // within the interval: none
    assert_eq!(log.latest_checkpoint().await.unwrap().unwrap().size, 3);
    assert_eq!(log.checkpoint_if_due().await.unwrap(), None);
    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    assert_eq!(log.checkpoint_if_due().await.unwrap(), Some(5));
    // The background checkpointer covers a log that went quiet.
    append_n(&log, 1).await;
    let log = Arc::new(log);
    let (stop_tx, runner) = spawn_checkpointer(&log);
    tokio::time::sleep(interval + Duration::from_millis(300)).await;
    let _ = stop_tx.send(());
    runner.await.unwrap();
    assert_eq!(log.latest_checkpoint().await.unwrap().unwrap().size, 6);
}

/// The checkpointer signs as soon as the log grew, but never sooner than `every_ms` after the
/// last checkpoint, and nothing while the log is idle.
pub async fn checkpoints_come_on_demand_above_a_floor<H: Harness>(h: &H) {
    let floor = Duration::from_millis(400);
    let log = Arc::new(
        open(
            h,
            CheckpointPolicy {
                every_events: 1_000,
                every_ms: u32::try_from(floor.as_millis()).unwrap(),
            },
        )
        .await,
    );
    let (stop_tx, runner) = spawn_checkpointer(&log);
    let covered = |size: u64| {
        let log = log.clone();
        async move {
            let started = std::time::Instant::now();
            while log.latest_checkpoint().await.unwrap().map(|c| c.size) != Some(size) {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "size {size} not covered"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            started.elapsed()
        }
    };
    // A quiet log: covered at once.
    append_n(&log, 1).await;
    assert!(covered(1).await < floor / 2);
    let first = log.latest_checkpoint().await.unwrap().unwrap();
    // Busy: the next waits for the floor, and no longer than it needs to (as the checkpoints'
    // own times say).
    append_n(&log, 2).await;
    covered(3).await;
    let second = log.latest_checkpoint().await.unwrap().unwrap();
    let apart =
        Duration::from_micros(u64::try_from(second.created_at.0 - first.created_at.0).unwrap_or(0));
    assert!(apart >= floor, "{apart:?}");
    assert!(apart < floor * 2, "{apart:?}");
    // Idle: nothing signed.
    let last = log.latest_checkpoint().await.unwrap().unwrap();
    tokio::time::sleep(floor * 3).await;
    assert_eq!(log.latest_checkpoint().await.unwrap().unwrap(), last);
    // A quiet log again: at once.
    append_n(&log, 1).await;
    assert!(covered(4).await < floor / 2);
    let _ = stop_tx.send(());
    runner.await.unwrap();
}

pub async fn proofs_verify_against_signed_checkpoints<H: Harness>(h: &H) {
    let log = open(
        h,
        CheckpointPolicy {
            every_events: 37,
            every_ms: 3_600_000,
        },
    )
    .await;
    for _ in 0..6 {
        append_n(&log, 50).await;
    }
    log.checkpoint_now().await.unwrap();
    let rows = log.read(LogSeq(1), 10_000).await.unwrap();
    let leaves: Vec<Hash> = rows.iter().map(|r| merkle::leaf_hash(&r.bytes)).collect();
    let cps = h.backend().checkpoints(0, 100).await.unwrap();
    assert!(cps.len() >= 5);
    for cp in &cps {
        let signed = SignedCheckpoint::parse(&cp.note).unwrap();
        signed.verify(&signer().verifier()).unwrap();
        let root = signed.checkpoint.root;
        assert_eq!(root, merkle::root_from_leaves(&leaves[..cp.size as usize]));
        for seq in [1, cp.size / 2 + 1, cp.size] {
            let proof = log.inclusion_proof(LogSeq(seq), cp.size).await.unwrap();
            merkle::verify_inclusion(&leaves[seq as usize - 1], seq - 1, cp.size, &proof, &root)
                .unwrap();
        }
    }
    for pair in cps.windows(2) {
        let proof = log
            .consistency_proof(pair[0].size, pair[1].size)
            .await
            .unwrap();
        merkle::verify_consistency(
            pair[0].size,
            pair[1].size,
            &proof,
            &pair[0].root,
            &pair[1].root,
        )
        .unwrap();
    }
    let first = &cps[0];
    let last = cps.last().unwrap();
    let proof = log.consistency_proof(first.size, last.size).await.unwrap();
    merkle::verify_consistency(first.size, last.size, &proof, &first.root, &last.root).unwrap();
    assert!(matches!(
        log.inclusion_proof(LogSeq(301), 300).await,
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(matches!(
        log.consistency_proof(10, 10_000).await,
        Err(StoreError::OutOfRange { .. })
    ));
}

async fn log_of<H: Harness>(h: &H, batches: u32, per_batch: u32) -> Log<H::B> {
    let log = open(
        h,
        CheckpointPolicy {
            every_events: 10,
            every_ms: 3_600_000,
        },
    )
    .await;
    for _ in 0..batches {
        append_n(&log, per_batch).await;
    }
    log.checkpoint_now().await.unwrap();
    log
}

async fn verify_all<H: Harness>(h: &H) -> event_store::VerifyReport {
    verify(&h.backend(), &municipality(), &signer().verifier(), 1, None)
        .await
        .unwrap()
}

pub async fn clean_log_verifies_whole_and_in_ranges<H: Harness>(h: &H) {
    let _log = log_of(h, 20, 7).await;
    let report = verify_all(h).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, 140);
    // 7 (the first), then every second batch of 7 (14 >= 10): 21, 35, … 133, and 140 forced.
    assert_eq!(report.checkpoints_checked, 11);
    assert_eq!(report.verified_checkpoint, Some(140));
    let b = h.backend();
    let part = verify(&b, &municipality(), &signer().verifier(), 33, Some(97))
        .await
        .unwrap();
    assert!(part.is_ok(), "{part:?}");
    assert_eq!(part.events_checked, 65);
    let past = verify(&b, &municipality(), &signer().verifier(), 200, None)
        .await
        .unwrap();
    assert_eq!(past.events_checked, 0);
    assert!(past.is_ok());
}

pub async fn flipped_byte_is_found_at_its_sequence<H: Harness>(h: &H) {
    let _log = log_of(h, 20, 7).await;
    let (mut bytes, leaf) = h.raw_event(77).await;
    let at = bytes.len() - 5; // inside the payload: the envelope still decodes
    bytes[at] ^= 0x01;
    h.overwrite(77, bytes, leaf).await;
    let report = verify_all(h).await;
    let failure = report.failure.expect("tampering must be found");
    assert_eq!(failure.seq, 77);
    assert_eq!(failure.kind, FailureKind::LeafHashMismatch);
    assert_eq!(report.events_checked, 76);
}

pub async fn deleted_event_is_found_as_a_gap<H: Harness>(h: &H) {
    let _log = log_of(h, 20, 7).await;
    h.delete(58).await;
    let failure = verify_all(h).await.failure.expect("a gap must be found");
    assert_eq!((failure.seq, failure.kind), (58, FailureKind::Missing));
    // The last event removed is a gap too, found against the head.
    h.delete(140).await;
    let b = h.backend();
    let tail = verify(&b, &municipality(), &signer().verifier(), 100, None)
        .await
        .unwrap();
    assert_eq!(
        tail.failure.map(|f| (f.seq, f.kind)),
        Some((140, FailureKind::Missing))
    );
}

pub async fn swapped_pair_is_found_at_the_first<H: Harness>(h: &H) {
    let _log = log_of(h, 20, 7).await;
    let (a, la) = h.raw_event(90).await;
    let (b, lb) = h.raw_event(91).await;
    h.overwrite(90, b, lb).await;
    h.overwrite(91, a, la).await;
    let failure = verify_all(h).await.failure.expect("a swap must be found");
    assert_eq!(
        (failure.seq, failure.kind),
        (90, FailureKind::WrongPosition { found: 91 })
    );
}

pub async fn rewritten_event_with_rehashed_leaf_fails_its_checkpoint<H: Harness>(h: &H) {
    let _log = log_of(h, 20, 7).await;
    // Rewrite event 45 consistently (new payload, re-encoded, leaf re-hashed): only the signed
    // checkpoint can tell, at the first checkpoint after the last good one.
    let (bytes, _) = h.raw_event(45).await;
    let mut env = Envelope::decode(&bytes).unwrap();
    env.payload = b"forged".to_vec();
    let forged = env.encode().unwrap();
    let leaf = merkle::leaf_hash(&forged);
    h.overwrite(45, forged, leaf).await;
    let report = verify_all(h).await;
    let failure = report.failure.expect("forgery must be found");
    let good = report.verified_checkpoint.unwrap();
    assert!(
        good < 45,
        "last good checkpoint {good} must precede the forgery"
    );
    assert_eq!(failure.seq, good + 1);
    assert!(
        matches!(failure.kind, FailureKind::RootMismatch { checkpoint_size } if checkpoint_size >= 45),
        "{failure:?}"
    );
}

pub async fn wrong_key_fails_the_checkpoints<H: Harness>(h: &H) {
    let _log = log_of(h, 3, 5).await;
    let other = NoteSigner::from_seed(&origin_for(&municipality()), [12; 32]).unwrap();
    let report = verify(&h.backend(), &municipality(), &other.verifier(), 1, None)
        .await
        .unwrap();
    let failure = report.failure.expect("a foreign key must not verify");
    assert!(
        matches!(failure.kind, FailureKind::BadCheckpoint { .. }),
        "{failure:?}"
    );
}

pub async fn reopening_continues_and_refuses_another_log<H: Harness>(h: &H) {
    {
        let log = open(h, quiet_policy()).await;
        append_n(&log, 4).await;
    }
    let log = open(h, quiet_policy()).await;
    assert_eq!(log.size(), 4);
    let out = append_n(&log, 2).await;
    assert_eq!(out.last_seq(), LogSeq(6));
    let kyiv = MunicipalityCode::parse("UA80000000000093317").unwrap();
    let kyiv_key = NoteSigner::from_seed(&origin_for(&kyiv), [11; 32]).unwrap();
    let err = Log::open(h.backend(), kyiv, kyiv_key, quiet_policy())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongLog { .. }), "{err:?}");
    let stranger = NoteSigner::from_seed(&origin_for(&municipality()), [99; 32]).unwrap();
    let err = Log::open(h.backend(), municipality(), stranger, quiet_policy())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongLog { .. }), "{err:?}");
    let bad = CheckpointPolicy {
        every_events: 0,
        every_ms: 1_000,
    };
    let err = Log::open(h.backend(), municipality(), signer(), bad)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfRange { .. }), "{err:?}");
}

pub async fn subscribers_see_new_entries<H: Harness>(h: &H) {
    let log = Arc::new(open(h, quiet_policy()).await);
    let mut rx = log.subscribe();
    assert_eq!(*rx.borrow_and_update(), 0);
    let waiter = {
        let log = log.clone();
        tokio::spawn(async move { log.wait_for(3, Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    append_n(&log, 3).await;
    assert_eq!(waiter.await.unwrap().unwrap(), 3);
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), 3);
    assert!(matches!(
        log.wait_for(4, Duration::from_millis(50)).await,
        Err(StoreError::Timeout)
    ));
}

pub async fn append_only_guard_refuses_updates<H: Harness>(h: &H) {
    let log = open(h, quiet_policy()).await;
    append_n(&log, 2).await;
    assert!(
        h.guard_refuses_changes(2).await,
        "events must be append-only in the database"
    );
    let report = verify_all(h).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, 2);
}

pub async fn cursors_persist_and_reject_bad_names<H: Harness>(h: &H) {
    let b = h.backend();
    assert_eq!(b.cursor("relay.jetstream").await.unwrap(), None);
    b.set_cursor("relay.jetstream", 41).await.unwrap();
    b.set_cursor("relay.jetstream", 42).await.unwrap();
    b.set_cursor("scheduler", 7).await.unwrap();
    assert_eq!(b.cursor("relay.jetstream").await.unwrap(), Some(42));
    assert_eq!(h.backend().cursor("scheduler").await.unwrap(), Some(7));
    for bad in [
        "",
        "has space",
        "x'; DROP TABLE events; --",
        &"n".repeat(65),
    ] {
        assert!(
            matches!(b.cursor(bad).await, Err(StoreError::OutOfRange { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(
                b.set_cursor(bad, 1).await,
                Err(StoreError::OutOfRange { .. })
            ),
            "{bad:?}"
        );
    }
}

pub async fn racing_retries_and_conflicts_in_one_group<H: Harness>(h: &H) {
    let log = Arc::new(open(h, quiet_policy()).await);
    let s = stream();
    let batch: Vec<NewEvent> = (0..3).map(event).collect();
    // The same batch sent eight times at once, plus eight batches all expecting a new stream.
    let contested = stream();
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let (log, batch) = (log.clone(), batch.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                (true, log.append(s, ExpectedVersion::NoStream, batch).await)
            } else {
                (
                    false,
                    log.append(contested, ExpectedVersion::NoStream, vec![event(100 + i)])
                        .await,
                )
            }
        }));
    }
    let mut retries = Vec::new();
    let (mut won, mut conflicts) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (true, outcome) => retries.push(outcome.unwrap()),
            (false, Ok(_)) => won += 1,
            (false, Err(StoreError::Conflict { .. })) => conflicts += 1,
            (false, Err(e)) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(
        retries.iter().filter(|a| !a.deduplicated).count(),
        1,
        "written once"
    );
    assert!(
        retries.iter().all(|a| a.positions == retries[0].positions),
        "same positions for every retry"
    );
    assert_eq!((won, conflicts), (1, 7), "one new stream, seven conflicts");
    assert_eq!(log.size(), 4);
    assert_gapless(&log, 4).await;
}

/// Callers that go away (a client that hung up) while leading a group commit, or while waiting
/// to, must not fail the other batches of the group; whatever was queued still commits, and a
/// retry finds it.
pub async fn a_caller_going_away_does_not_fail_its_group<H: Harness>(h: &H) {
    let log = Arc::new(open(h, quiet_policy()).await);
    let append = |s: StreamId, batch: Vec<NewEvent>| {
        let log = log.clone();
        tokio::spawn(async move { log.append(s, ExpectedVersion::NoStream, batch).await })
    };
    let pause = || tokio::time::sleep(Duration::from_millis(150));
    // Another writer holds the database's write lock, so commits wait inside the database
    // until it lets go.
    let mut blocker = h.backend().begin_write().await.unwrap();
    blocker.head().await.unwrap();

    // The first caller leads a group of its own batch into the waiting database...
    let (first_stream, first_batch) = (stream(), vec![event(1)]);
    let first = append(first_stream, first_batch.clone());
    pause().await;
    // ...while two more queue behind it, to be committed together as the next group.
    let (second_stream, second_batch) = (stream(), vec![event(2), event(3)]);
    let second = append(second_stream, second_batch.clone());
    pause().await;
    let third = append(stream(), vec![event(4)]);
    pause().await;
    // Both callers that would lead go away, one mid-commit, the other about to lead.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    pause().await;
    second.abort();
    assert!(second.await.unwrap_err().is_cancelled());
    pause().await;
    drop(blocker);

    let answered = tokio::time::timeout(Duration::from_secs(20), third)
        .await
        .expect("the remaining caller is answered")
        .unwrap()
        .expect("the remaining caller's batch commits");
    assert!(!answered.deduplicated);
    log.wait_for(4, Duration::from_secs(20)).await.unwrap();
    for (s, batch) in [(first_stream, first_batch), (second_stream, second_batch)] {
        let retried = log
            .append(s, ExpectedVersion::NoStream, batch)
            .await
            .unwrap();
        assert!(
            retried.deduplicated,
            "a batch whose caller went away was committed"
        );
    }
    assert_eq!(log.size(), 4);
    assert_gapless(&log, 4).await;
}
