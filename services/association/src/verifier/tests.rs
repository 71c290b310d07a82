//! The verifier's state machine driven message by message: segments, quarantine reasons,
//! duplicates, gaps, held checkpoints and forks.

use event_store_core::checkpoint::{Checkpoint, NoteSigner};
use event_store_core::{
    Envelope, EventId, EventTypeCode, LogSeq, SchemaVersion, StreamId, StreamVersion, Timestamp,
};

use super::*;

const VINNYTSIA: &str = "UA05020030000031457";
const KORIUKIVKA: &str = "UA74020010000010449";

fn code(text: &str) -> MunicipalityCode {
    MunicipalityCode::parse(text).unwrap()
}

fn event(code: MunicipalityCode, seq: u64) -> Vec<u8> {
    Envelope {
        event_type: EventTypeCode(102),
        schema_version: SchemaVersion(1),
        municipality: code,
        seq: LogSeq(seq),
        stream_id: StreamId(uuid::Uuid::from_u128(7)),
        stream_version: StreamVersion(seq),
        event_id: EventId(uuid::Uuid::from_u128(1000 + seq as u128)),
        recorded_at: Timestamp(1_700_000_000_000_000 + seq as i64),
        payload: vec![seq as u8; 20],
    }
    .encode()
    .unwrap()
}

struct Node {
    code: MunicipalityCode,
    signer: NoteSigner,
    leaves: Vec<Hash>,
}

impl Node {
    fn new(text: &str) -> Self {
        let code = code(text);
        Self {
            code,
            signer: NoteSigner::from_seed(&origin_for(&code), [9; 32]).unwrap(),
            leaves: Vec::new(),
        }
    }

    fn append(&mut self) -> Vec<u8> {
        let bytes = event(self.code, self.leaves.len() as u64 + 1);
        self.leaves.push(merkle::leaf_hash(&bytes));
        bytes
    }

    fn checkpoint(&self) -> String {
        self.checkpoint_with_root(merkle::root_from_leaves(&self.leaves))
    }

    fn checkpoint_with_root(&self, root: Hash) -> String {
        self.signer
            .sign(Checkpoint {
                origin: origin_for(&self.code),
                size: self.leaves.len() as u64,
                root,
            })
            .to_note()
    }

    fn verifier(&self) -> NodeVerifier {
        NodeVerifier::new(
            self.code,
            vec![self.signer.verifier()],
            Frontier::new(),
            None,
        )
    }
}

fn accepted(outcome: CheckpointOutcome) -> Vec<Segment> {
    match outcome {
        CheckpointOutcome::Accepted(segments, _) => segments,
        other => panic!("expected acceptance, got {other:?}"),
    }
}

fn quarantined(outcome: CheckpointOutcome) -> Quarantine {
    match outcome {
        CheckpointOutcome::Quarantined(q) => q,
        other => panic!("expected quarantine, got {other:?}"),
    }
}

#[test]
fn events_wait_for_a_checkpoint_and_are_applied_as_one_segment() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    for i in 1..=5 {
        assert_eq!(
            v.on_event(&node.append(), i, true, None),
            EventOutcome::Pending
        );
    }
    assert_eq!(v.verified_size(), 0);
    assert_eq!(v.oldest_stream_seq(), Some(1));
    let segments = accepted(v.on_checkpoint(&node.checkpoint(), 6));
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].events.len(), 5);
    assert_eq!(segments[0].first_seq(), 1);
    assert_eq!(v.verified_size(), 5);
    assert!(!v.is_waiting());
    assert!(matches!(
        v.on_checkpoint(&node.checkpoint(), 7),
        CheckpointOutcome::Duplicate
    ));
}

#[test]
fn a_checkpoint_for_part_of_the_pending_events_applies_only_that_part() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    for i in 1..=3 {
        v.on_event(&node.append(), i, true, None);
    }
    let note = node.checkpoint();
    for i in 4..=6 {
        v.on_event(&node.append(), i, true, None);
    }
    let segments = accepted(v.on_checkpoint(&note, 7));
    assert_eq!(segments[0].events.len(), 3);
    assert_eq!(v.verified_size(), 3);
    assert!(v.is_waiting());
    let segments = accepted(v.on_checkpoint(&node.checkpoint(), 8));
    assert_eq!(segments[0].first_seq(), 4);
    assert_eq!(v.verified_size(), 6);
}

#[test]
fn duplicates_and_conflicting_bytes_are_told_apart() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    let first = node.append();
    v.on_event(&first, 1, true, None);
    assert_eq!(v.on_event(&first, 2, true, None), EventOutcome::Duplicate);
    let mut tampered = first.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    // Other bytes for a waiting position are a candidate until a checkpoint chooses.
    assert_eq!(
        v.on_event(&tampered, 3, true, None),
        EventOutcome::Candidate
    );
    assert_eq!(
        v.on_event(&tampered, 4, true, None),
        EventOutcome::Duplicate
    );
    let segments = accepted(v.on_checkpoint(&node.checkpoint(), 4));
    assert_eq!(segments[0].forged.len(), 1);
    assert_eq!(segments[0].forged[0].bytes, tampered);
    assert_eq!(v.pending_len(), 0);
    assert_eq!(v.pending_bytes(), 0);
    assert_eq!(
        v.on_event(&tampered, 5, true, None),
        EventOutcome::CheckStored {
            seq: 1,
            leaf: merkle::leaf_hash(&tampered)
        }
    );
}

#[test]
fn a_gap_asks_for_a_backfill_and_a_checkpoint_ahead_is_held_until_events_arrive() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    let e1 = node.append();
    let e2 = node.append();
    let e3 = node.append();
    v.on_event(&e1, 1, true, None);
    assert_eq!(
        v.on_event(&e3, 3, true, None),
        EventOutcome::Gap { from_seq: 2 }
    );
    assert!(matches!(
        v.on_checkpoint(&node.checkpoint(), 4),
        CheckpointOutcome::Held { from_seq: 2 }
    ));
    assert_eq!(v.oldest_stream_seq(), Some(1));
    // The back-fill delivers the missing events; the held checkpoint then applies.
    v.on_event(&e2, 0, true, None);
    v.on_event(&e3, 0, true, None);
    let (segments, failed) = v.release_held();
    assert_eq!(segments.len(), 1);
    assert!(failed.is_empty());
    assert_eq!(v.verified_size(), 3);
}

#[test]
fn forged_inconsistent_forked_and_misaddressed_checkpoints_are_quarantined() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    v.on_event(&node.append(), 1, true, None);
    v.on_event(&node.append(), 2, true, None);

    let mut forger = Node::new(VINNYTSIA);
    forger.signer = NoteSigner::from_seed(&origin_for(&node.code), [1; 32]).unwrap();
    forger.leaves = node.leaves.clone();
    let q = quarantined(v.on_checkpoint(&forger.checkpoint(), 3));
    assert_eq!((q.reason, q.seq), (Reason::BadSignature, Some(2)));

    let q = quarantined(v.on_checkpoint(&node.checkpoint_with_root([7; 32]), 4));
    assert_eq!(q.reason, Reason::InconsistentCheckpoint);
    assert_eq!(v.verified_size(), 0, "nothing applied");

    accepted(v.on_checkpoint(&node.checkpoint(), 5));
    match v.on_checkpoint(&node.checkpoint_with_root([8; 32]), 6) {
        CheckpointOutcome::Fork { size, .. } => assert_eq!(size, 2),
        other => panic!("{other:?}"),
    }

    let other = Node::new(KORIUKIVKA);
    match v.on_event(&event(other.code, 3), 7, true, None) {
        EventOutcome::Quarantined(q) => assert_eq!(q.reason, Reason::WrongSubject),
        other => panic!("{other:?}"),
    }
    let q = quarantined(v.on_checkpoint(&other.checkpoint(), 8));
    assert_eq!(q.reason, Reason::WrongSubject);
    match v.on_event(b"not an envelope", 9, true, None) {
        EventOutcome::Quarantined(q) => assert_eq!(q.reason, Reason::Undecodable),
        other => panic!("{other:?}"),
    }
    let q = quarantined(v.on_checkpoint("garbage", 10));
    assert_eq!(q.reason, Reason::BadCheckpoint);
}

#[test]
fn without_room_the_next_event_is_left_for_a_backfill() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    let e1 = node.append();
    assert_eq!(
        v.on_event(&e1, 1, false, None),
        EventOutcome::Gap { from_seq: 1 }
    );
    assert_eq!(v.pending_len(), 0);
    assert_eq!(v.on_event(&e1, 0, true, None), EventOutcome::Pending);
    assert_eq!(v.pending_len(), 1);
}

#[test]
fn a_revoked_node_has_everything_quarantined() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    v.set_keys(Vec::new());
    match v.on_event(&node.append(), 1, true, None) {
        EventOutcome::Quarantined(q) => assert_eq!(q.reason, Reason::Revoked),
        other => panic!("{other:?}"),
    }
}

#[test]
fn segment_nodes_are_the_stored_levels_above_the_leaves() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    for i in 1..=40 {
        v.on_event(&node.append(), i, true, None);
    }
    let segments = accepted(v.on_checkpoint(&node.checkpoint(), 41));
    // Level 4 nodes cover 16 leaves: 40 leaves complete two of them.
    let levels: Vec<u8> = segments[0].nodes.iter().map(|(n, _)| n.level).collect();
    assert_eq!(levels, vec![4, 4]);
    let expected = merkle::root_from_leaves(&node.leaves[..16]);
    assert_eq!(segments[0].nodes[0].1, expected);
}

/// Bytes for `seq` of `code` that its node never wrote.
fn forged(code: MunicipalityCode, seq: u64) -> Vec<u8> {
    let mut bytes = event(code, seq);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    bytes
}

#[test]
fn the_signed_checkpoint_chooses_the_real_bytes_whichever_came_first() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    // Fakes for positions 1..=6 arrive first, then the real events, some fakes after them.
    for seq in 1..=6 {
        v.on_event(&forged(node.code, seq), seq, true, None);
    }
    let real: Vec<Vec<u8>> = (0..8).map(|_| node.append()).collect();
    for (i, bytes) in real.iter().enumerate() {
        let outcome = v.on_event(bytes, 10 + i as u64, true, None);
        let expected = if i < 6 {
            EventOutcome::Candidate
        } else {
            EventOutcome::Pending
        };
        assert_eq!(outcome, expected, "event {}", i + 1);
    }
    assert_eq!(v.received_seq(), 8);
    let segments = accepted(v.on_checkpoint(&node.checkpoint(), 30));
    let chosen: Vec<&Vec<u8>> = segments[0].events.iter().map(|e| &e.bytes).collect();
    assert_eq!(chosen, real.iter().collect::<Vec<_>>());
    let mut forged_seqs: Vec<u64> = segments[0].forged.iter().map(|e| e.seq).collect();
    forged_seqs.sort_unstable();
    assert_eq!(forged_seqs, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        (v.verified_size(), v.pending_len(), v.pending_bytes()),
        (8, 0, 0)
    );
}

#[test]
fn a_mix_of_fakes_before_and_after_the_real_bytes_is_searched() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    let real: Vec<Vec<u8>> = (0..5).map(|_| node.append()).collect();
    // Positions 1, 3, 5: the fake first; positions 2, 4: the real first.
    for (i, bytes) in real.iter().enumerate() {
        let seq = i as u64 + 1;
        if seq % 2 == 1 {
            v.on_event(&forged(node.code, seq), seq, true, None);
            v.on_event(bytes, seq, true, None);
        } else {
            v.on_event(bytes, seq, true, None);
            v.on_event(&forged(node.code, seq), seq, true, None);
        }
    }
    let segments = accepted(v.on_checkpoint(&node.checkpoint(), 40));
    let chosen: Vec<&Vec<u8>> = segments[0].events.iter().map(|e| &e.bytes).collect();
    assert_eq!(chosen, real.iter().collect::<Vec<_>>());
    assert_eq!(segments[0].forged.len(), 5);
}

#[test]
fn without_the_real_bytes_the_checkpoint_is_inconsistent_and_nothing_applies() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    node.append();
    node.append();
    v.on_event(&forged(node.code, 1), 1, true, None);
    v.on_event(&forged(node.code, 2), 2, true, None);
    let q = quarantined(v.on_checkpoint(&node.checkpoint(), 3));
    assert_eq!(q.reason, Reason::InconsistentCheckpoint);
    assert_eq!(v.verified_size(), 0);
}

#[test]
fn candidates_per_position_are_bounded_and_a_shed_frees_what_it_held() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    let e1 = node.append();
    v.on_event(&e1, 1, true, None);
    for k in 0..CANDIDATES_PER_SEQ_MAX {
        let mut other = e1.clone();
        let last = other.len() - 1;
        other[last] ^= k as u8 + 1;
        assert_eq!(v.on_event(&other, 2, true, None), EventOutcome::Candidate);
    }
    let mut one_more = e1.clone();
    let last = one_more.len() - 1;
    one_more[last] ^= 0xf0;
    assert!(matches!(
        v.on_event(&one_more, 3, true, None),
        EventOutcome::Quarantined(Quarantine {
            reason: Reason::Tampered,
            ..
        })
    ));
    for _ in 0..3 {
        v.on_event(&node.append(), 4, true, None);
    }
    assert_eq!(v.pending_len(), 4 + CANDIDATES_PER_SEQ_MAX);
    v.shed_pending();
    assert_eq!(v.pending_len(), 2 + CANDIDATES_PER_SEQ_MAX);
    assert_eq!(v.received_seq(), 2);
    v.shed_pending();
    v.shed_pending();
    assert_eq!((v.pending_len(), v.pending_bytes()), (0, 0));
}

#[test]
fn the_checkpoints_leaves_name_the_real_bytes_when_forgeries_crowd_them_out() {
    let mut node = Node::new(VINNYTSIA);
    let mut v = node.verifier();
    // Position 1 gets its first bytes and three other candidates, all forged: the real event
    // finds no room and is refused.
    for k in 0..=CANDIDATES_PER_SEQ_MAX {
        let mut fake = forged(node.code, 1);
        let last = fake.len() - 1;
        fake[last] ^= k as u8 + 1;
        v.on_event(&fake, 1 + k as u64, true, None);
    }
    let real: Vec<Vec<u8>> = (0..3).map(|_| node.append()).collect();
    assert!(matches!(
        v.on_event(&real[0], 10, true, None),
        EventOutcome::Quarantined(_)
    ));
    assert_eq!(v.on_event(&real[1], 11, true, None), EventOutcome::Pending);
    assert_eq!(v.on_event(&real[2], 12, true, None), EventOutcome::Pending);
    // Without leaves the checkpoint cannot be verified.
    let q = quarantined(v.on_checkpoint(&node.checkpoint(), 13));
    assert_eq!(q.reason, Reason::InconsistentCheckpoint);

    // The relay's leaves message, then the checkpoint again: it waits for position 1 and
    // every forgery there is rejected.
    let leaves = wire::encode_leaves(1, &node.leaves);
    assert_eq!(v.on_leaves(&leaves), None);
    assert!(matches!(
        v.on_checkpoint(&node.checkpoint(), 14),
        CheckpointOutcome::Held { from_seq: 1 }
    ));
    assert_eq!(v.take_rejected().len(), 1 + CANDIDATES_PER_SEQ_MAX);
    assert_eq!(v.pending_len(), 0);
    // A back-fill reads the stream again: fakes are now refused at once, the real bytes taken.
    let fake = forged(node.code, 1);
    match v.on_event(&fake, 0, true, None) {
        EventOutcome::Quarantined(q) => assert_eq!(q.reason, Reason::Forged),
        other => panic!("{other:?}"),
    }
    for bytes in &real {
        assert_eq!(v.on_event(bytes, 0, true, None), EventOutcome::Pending);
    }
    let (segments, failed) = v.release_held();
    assert!(failed.is_empty());
    assert_eq!(segments.len(), 1);
    assert_eq!(v.verified_size(), 3);
    // Leaves that do not extend the tree to the root authenticate nothing.
    let mut other = Node::new(VINNYTSIA);
    let mut w = other.verifier();
    let e1 = other.append();
    w.on_event(&forged(other.code, 1), 1, true, None);
    w.on_leaves(&wire::encode_leaves(1, &[[9; 32]]));
    let q = quarantined(w.on_checkpoint(&other.checkpoint(), 2));
    assert_eq!(q.reason, Reason::InconsistentCheckpoint);
    assert!(w.take_rejected().is_empty());
    assert_eq!(w.on_event(&e1, 3, true, None), EventOutcome::Candidate);
    assert!(w.on_leaves(b"junk").is_some());
}
