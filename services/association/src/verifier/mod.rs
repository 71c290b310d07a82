//! The per-node verification state machine, pure: messages from a node's subjects in,
//! verified segments, quarantine records and back-fill requests out.
//!
//! An event of node M is applied only as part of a **segment**: the events `v+1 ..= s` where
//! `v` is M's verified size and `s` the size of a checkpoint that
//! 1. parses, names M's origin and verifies under one of M's enrolled keys, and
//! 2. has the root of the tree of M's verified prefix extended with exactly those events' bytes.
//!
//! (2) makes every accepted checkpoint consistent with every earlier one by construction: the
//! new tree extends the leaves the old root was computed from. Events wait in memory (bounded)
//! until such a checkpoint arrives; anything else is a [`Quarantine`] or a gap to back-fill.
//!
//! **The signed checkpoint decides.** Anyone who can publish on a node's subject can send bytes
//! for its next sequence numbers before the node does. So different bytes for a position that
//! is still waiting are kept as candidates (bounded), not taken as tampering: the checkpoint
//! signed under the enrolled key chooses the candidates whose tree has its root, and the others
//! are quarantined as [`Reason::Forged`]. A checkpoint is never blamed for bytes that arrived
//! first. When no combination of the candidates fits (too many forgeries, or the node's own
//! bytes not kept), the **leaves message** the relay publishes before each checkpoint (the leaf
//! hashes of the events it adds, see `wire`) decides exactly: the one whose hashes extend the
//! verified tree to the checkpoint's root names the node's bytes at every position; anything
//! else there is forged, and missing bytes are back-filled, only matching ones accepted.

use std::collections::{BTreeMap, VecDeque};

use event_store_core::checkpoint::{NoteVerifier, SignedCheckpoint, origin_for};
use event_store_core::merkle::{self, Frontier, NodeId};
use event_store_core::{EnvelopeRef, Hash, MunicipalityCode, PayloadHeader};

/// Events one node may have waiting for a checkpoint (the node checkpoints every 1,000 events
/// by default). Past it, later events are dropped and fetched again by a back-fill once a
/// checkpoint arrives. The ingest also bounds the total over all nodes.
pub const PENDING_EVENTS_MAX: usize = 20_000;
/// Bytes of the events one node may have waiting: a checkpoint covering more is never
/// reached. Nodes checkpoint every 1,000 events or second by default, and 1,000 events of the
/// largest payload are 128 MiB.
pub const PENDING_BYTES_MAX: usize = 160 << 20;

/// Waiting events whose buffer a node keeps after its segment is applied; a larger buffer
/// is released, so 1,470 nodes that each once waited for many events do not keep the room.
const PENDING_CAPACITY_KEPT: usize = 64;

/// Checkpoints one node may have waiting for their events.
pub const HELD_CHECKPOINTS_MAX: usize = 16;

/// Different byte strings kept for one waiting position besides the first one received.
const CANDIDATES_PER_SEQ_MAX: usize = 3;
/// Such extra candidates one node may keep in all.
const CANDIDATES_MAX: usize = 4_096;
/// Leaves messages one node may have waiting (oldest dropped first).
const LEAVES_MESSAGES_MAX: usize = 32;
/// Leaves messages one chain of them may take to cover a checkpoint's events.
const LEAVES_CHAIN_MAX: usize = 8;

/// Leaves hashed into trees at most when a checkpoint tries every combination of candidates
/// (about a second of one core); with more, only "the first received everywhere" and "the
/// last received everywhere" are tried.
const SEARCH_LEAVES_MAX: usize = 1 << 21;

/// Why a message was quarantined: stable codes, stored and served as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Bytes differ from the event already received or verified at that sequence number.
    Tampered,
    /// A checkpoint's signature does not verify under any of the node's enrolled keys.
    BadSignature,
    /// A checkpoint's root is not the root of the verified prefix and the received events.
    InconsistentCheckpoint,
    /// A second, different root for a tree size already accepted.
    Fork,
    /// The bytes are not an envelope, or a verified event's payload does not decode.
    Undecodable,
    /// The envelope (or checkpoint origin) names another municipality than the subject, or the
    /// message came from another municipality's stream.
    WrongSubject,
    /// Bytes for a waiting position that the node's signed checkpoint did not choose.
    Forged,
    /// The subject names a municipality that is not enrolled.
    UnknownMunicipality,
    /// The municipality's enrolment was revoked.
    Revoked,
    /// A checkpoint note that does not parse.
    BadCheckpoint,
}

impl Reason {
    /// Every reason, in declaration order (so `reason as usize` indexes it).
    pub const ALL: [Self; 10] = [
        Self::Tampered,
        Self::BadSignature,
        Self::InconsistentCheckpoint,
        Self::Fork,
        Self::Undecodable,
        Self::WrongSubject,
        Self::Forged,
        Self::UnknownMunicipality,
        Self::Revoked,
        Self::BadCheckpoint,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tampered => "tampered",
            Self::BadSignature => "bad_signature",
            Self::InconsistentCheckpoint => "inconsistent_checkpoint",
            Self::Fork => "fork",
            Self::Undecodable => "undecodable",
            Self::WrongSubject => "wrong_subject",
            Self::Forged => "forged",
            Self::UnknownMunicipality => "unknown_municipality",
            Self::Revoked => "revoked",
            Self::BadCheckpoint => "bad_checkpoint",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message that changes nothing but this record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    pub code: MunicipalityCode,
    pub seq: Option<u64>,
    pub reason: Reason,
    pub detail: String,
}

/// One received event, waiting for its checkpoint.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub seq: u64,
    pub leaf: Hash,
    pub bytes: Vec<u8>,
    /// How to read the payload inside `bytes`, from the one decode of the envelope done here,
    /// so the commit decodes only the payload.
    pub header: PayloadHeader,
    /// Where the message sits in the ingest stream (0 for back-filled messages): the ingest
    /// never resumes past a message that is still only in memory.
    pub stream_seq: u64,
    /// The span it was published under, when it came traced (`ingest::traces`).
    pub trace: Option<wire::trace::Traced>,
}

/// A verified extension of a node's log, ready to be committed with its projections.
#[derive(Debug, Clone)]
pub struct Segment {
    pub code: MunicipalityCode,
    /// The events `first_seq ..= checkpoint size`, in order.
    pub events: Vec<PendingEvent>,
    /// Completed tree nodes at stored levels above the leaves, for proofs.
    pub nodes: Vec<(NodeId, Hash)>,
    pub checkpoint: SignedCheckpoint,
    /// The node's frontier after the segment.
    pub frontier: Frontier,
    /// Other bytes received for the segment's positions, which the checkpoint did not choose.
    pub forged: Vec<PendingEvent>,
}

impl Segment {
    pub fn first_seq(&self) -> u64 {
        self.frontier.size() - self.events.len() as u64 + 1
    }
}

/// What became of an event message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Waiting for a checkpoint.
    Pending,
    /// Already received, same bytes.
    Duplicate,
    /// Different bytes for a waiting position: kept for the checkpoint to choose.
    Candidate,
    /// At or below the verified size: the caller compares it with the stored bytes.
    CheckStored {
        seq: u64,
        leaf: Hash,
    },
    /// Later than the next expected event, or no room to keep it: dropped; a signed
    /// checkpoint covering it will have it back-filled from `from_seq`.
    Gap {
        from_seq: u64,
    },
    Quarantined(Quarantine),
}

/// What became of a checkpoint message.
#[derive(Debug)]
pub enum CheckpointOutcome {
    /// Verified, with the events it covers (and held checkpoints it made reachable, some of
    /// which may have failed).
    Accepted(Vec<Segment>, Vec<Quarantine>),
    /// Same as an accepted one.
    Duplicate,
    /// For a size already verified but not the last accepted one: the caller compares `root`
    /// with the stored tree's root at `size`.
    CheckStored {
        size: u64,
        checkpoint: SignedCheckpoint,
        note: String,
    },
    /// Waiting for events up to its size; the caller back-fills from `from_seq`.
    Held {
        from_seq: u64,
    },
    /// Two roots for one size.
    Fork {
        size: u64,
        accepted_root: Hash,
        other: SignedCheckpoint,
        note: String,
    },
    Quarantined(Quarantine),
}

/// What became of trying a checkpoint against what waits.
enum Extend {
    Segment(Segment),
    /// Its leaves name bytes that are not here: held, back-fill from `from_seq`.
    Wait {
        from_seq: u64,
    },
    Inconsistent(Quarantine),
}

/// What the association knows about one node.
#[derive(Debug)]
pub struct NodeVerifier {
    code: MunicipalityCode,
    origin: String,
    keys: Vec<NoteVerifier>,
    revoked: bool,
    verified: Frontier,
    /// The last accepted checkpoint's size and root.
    accepted: Option<(u64, Hash)>,
    pending: VecDeque<PendingEvent>,
    /// Other candidates for waiting positions, by sequence number.
    candidates: BTreeMap<u64, Vec<PendingEvent>>,
    candidates_len: usize,
    /// Bytes of the pending events and candidates.
    waiting_bytes: usize,
    held: BTreeMap<u64, (SignedCheckpoint, u64)>,
    /// Leaves messages received (not yet authenticated): first sequence number and hashes.
    leaves: VecDeque<(u64, Vec<Hash>)>,
    /// Leaf hashes a signed checkpoint authenticated, from the first sequence number: at those
    /// positions only the named bytes are taken.
    expected: Option<(u64, Vec<Hash>)>,
    /// Waiting events dropped because the checkpoint's leaves name other bytes, for the caller
    /// to quarantine (see [`NodeVerifier::take_rejected`]).
    rejected: Vec<PendingEvent>,
}

impl NodeVerifier {
    /// A node whose verified prefix has the given frontier and last accepted checkpoint.
    pub fn new(
        code: MunicipalityCode,
        keys: Vec<NoteVerifier>,
        verified: Frontier,
        accepted: Option<(u64, Hash)>,
    ) -> Self {
        Self {
            code,
            origin: origin_for(&code),
            revoked: keys.is_empty(),
            keys,
            verified,
            accepted,
            pending: VecDeque::new(),
            candidates: BTreeMap::new(),
            candidates_len: 0,
            waiting_bytes: 0,
            held: BTreeMap::new(),
            leaves: VecDeque::new(),
            expected: None,
            rejected: Vec::new(),
        }
    }

    pub fn code(&self) -> MunicipalityCode {
        self.code
    }

    /// Replaces the enrolled keys (after an enrolment change); no keys means revoked.
    pub fn set_keys(&mut self, keys: Vec<NoteVerifier>) {
        self.revoked = keys.is_empty();
        self.keys = keys;
    }

    /// Whether `keys` lacks one of the keys this node has now.
    pub fn keys_removed(&self, keys: &[NoteVerifier]) -> bool {
        self.keys.iter().any(|k| !keys.contains(k))
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked
    }

    pub fn verified_size(&self) -> u64 {
        self.verified.size()
    }

    /// The last position received without a gap: verified or waiting in order. (Not the
    /// largest sequence number any message claimed: that is anyone's to forge.)
    pub fn received_seq(&self) -> u64 {
        self.next_seq() - 1
    }

    pub fn accepted(&self) -> Option<(u64, Hash)> {
        self.accepted
    }

    /// The next sequence number the node's log continues with.
    fn next_seq(&self) -> u64 {
        self.verified.size() + self.pending.len() as u64 + 1
    }

    /// The earliest ingest-stream position still held only in memory.
    pub fn oldest_stream_seq(&self) -> Option<u64> {
        let events = self.pending.iter().map(|e| e.stream_seq);
        let candidates = self.candidates.values().flatten().map(|e| e.stream_seq);
        let held = self.held.values().map(|(_, s)| *s);
        events
            .chain(candidates)
            .chain(held)
            .filter(|s| *s > 0)
            .min()
    }

    /// Where a back-fill should start when a held checkpoint waits for events.
    pub fn waiting_for(&self) -> Option<u64> {
        let next = self.next_seq();
        self.held.keys().any(|size| *size >= next).then_some(next)
    }

    /// Whether events or checkpoints wait in memory.
    pub fn is_waiting(&self) -> bool {
        !self.pending.is_empty() || !self.held.is_empty()
    }

    fn quarantine(
        &self,
        seq: Option<u64>,
        reason: Reason,
        detail: impl Into<String>,
    ) -> Quarantine {
        Quarantine {
            code: self.code,
            seq,
            reason,
            detail: detail.into(),
        }
    }

    /// Events waiting for a checkpoint (candidates included).
    pub fn pending_len(&self) -> usize {
        self.pending.len() + self.candidates_len
    }

    /// Bytes of the events waiting for a checkpoint (candidates included).
    pub fn pending_bytes(&self) -> usize {
        self.waiting_bytes
    }

    /// Drops the later half of the waiting events (to make room for other nodes): a signed
    /// checkpoint covering them has them back-filled from the node's stream.
    pub fn shed_pending(&mut self) {
        let keep = self.pending.len() / 2;
        let cut = self.verified.size() + keep as u64;
        for event in self.pending.drain(keep..) {
            self.waiting_bytes -= event.bytes.len();
        }
        for (_, events) in self.candidates.split_off(&(cut + 1)) {
            self.candidates_len -= events.len();
            for event in events {
                self.waiting_bytes -= event.bytes.len();
            }
        }
    }

    /// An event message's bytes from this node's event subject. With `room` false (the
    /// ingest's memory bound is reached) the next event is not kept but asked for again later,
    /// as after a gap. An event that came with a `trace` keeps it while it waits.
    pub fn on_event(
        &mut self,
        bytes: &[u8],
        stream_seq: u64,
        room: bool,
        trace: Option<&wire::trace::Traced>,
    ) -> EventOutcome {
        if self.revoked {
            return EventOutcome::Quarantined(self.quarantine(
                None,
                Reason::Revoked,
                "the municipality's enrolment is revoked",
            ));
        }
        let envelope = match EnvelopeRef::decode(bytes) {
            Ok(envelope) => envelope,
            Err(err) => {
                return EventOutcome::Quarantined(self.quarantine(
                    None,
                    Reason::Undecodable,
                    format!("not an event envelope: {err}"),
                ));
            }
        };
        let seq = envelope.seq.0;
        if envelope.municipality != self.code {
            return EventOutcome::Quarantined(self.quarantine(
                Some(seq),
                Reason::WrongSubject,
                format!(
                    "the envelope belongs to {} but came on {}'s subject",
                    envelope.municipality, self.code
                ),
            ));
        }
        let leaf = merkle::leaf_hash(bytes);
        let next = self.next_seq();
        if seq == 0 {
            return EventOutcome::Quarantined(self.quarantine(
                Some(seq),
                Reason::Undecodable,
                "sequence number 0 does not exist",
            ));
        }
        if seq <= self.verified.size() {
            return EventOutcome::CheckStored { seq, leaf };
        }
        let event = || PendingEvent {
            seq,
            leaf,
            bytes: bytes.to_vec(),
            header: envelope.payload_header(bytes),
            stream_seq,
            trace: trace.cloned(),
        };
        if let Some(named) = self.expected_leaf(seq) {
            let full = self.pending.len() >= PENDING_EVENTS_MAX
                || self.waiting_bytes + bytes.len() > PENDING_BYTES_MAX;
            return if named != leaf {
                EventOutcome::Quarantined(self.quarantine(
                    Some(seq),
                    Reason::Forged,
                    "not the event the leaves of the municipality's signed checkpoint name at \
                     this sequence number",
                ))
            } else if seq < next {
                EventOutcome::Duplicate
            } else if seq > next || !room || full {
                EventOutcome::Gap { from_seq: next }
            } else {
                self.waiting_bytes += bytes.len();
                self.pending.push_back(event());
                EventOutcome::Pending
            };
        }
        if seq < next {
            let index = (seq - self.verified.size() - 1) as usize;
            let others = self.candidates.get(&seq).map_or(&[][..], Vec::as_slice);
            let known = self.pending.get(index).into_iter().chain(others);
            if known.clone().any(|e| e.leaf == leaf) {
                return EventOutcome::Duplicate;
            }
            if others.len() >= CANDIDATES_PER_SEQ_MAX
                || self.candidates_len >= CANDIDATES_MAX
                || self.waiting_bytes + bytes.len() > PENDING_BYTES_MAX
                || !room
            {
                return EventOutcome::Quarantined(self.quarantine(
                    Some(seq),
                    Reason::Tampered,
                    "bytes differ from every event already received at this sequence number, \
                     and no more are kept for it",
                ));
            }
            self.waiting_bytes += bytes.len();
            self.candidates_len += 1;
            self.candidates.entry(seq).or_default().push(event());
            return EventOutcome::Candidate;
        }
        let full = self.pending.len() >= PENDING_EVENTS_MAX
            || self.waiting_bytes + bytes.len() > PENDING_BYTES_MAX;
        if seq > next || !room || full {
            return EventOutcome::Gap { from_seq: next };
        }
        self.waiting_bytes += bytes.len();
        self.pending.push_back(event());
        EventOutcome::Pending
    }

    /// A checkpoint message's note from this node's checkpoint subject.
    pub fn on_checkpoint(&mut self, note: &str, stream_seq: u64) -> CheckpointOutcome {
        if self.revoked {
            return CheckpointOutcome::Quarantined(self.quarantine(
                None,
                Reason::Revoked,
                "the municipality's enrolment is revoked",
            ));
        }
        let signed = match SignedCheckpoint::parse(note) {
            Ok(signed) => signed,
            Err(err) => {
                return CheckpointOutcome::Quarantined(self.quarantine(
                    None,
                    Reason::BadCheckpoint,
                    format!("not a signed checkpoint note: {err}"),
                ));
            }
        };
        let size = signed.checkpoint.size;
        if signed.checkpoint.origin != self.origin {
            return CheckpointOutcome::Quarantined(self.quarantine(
                Some(size),
                Reason::WrongSubject,
                format!(
                    "the checkpoint's origin {:?} is not {:?}",
                    signed.checkpoint.origin, self.origin
                ),
            ));
        }
        if !self
            .keys
            .iter()
            .any(|key| signed.verify_for(key, &self.origin).is_ok())
        {
            return CheckpointOutcome::Quarantined(self.quarantine(
                Some(size),
                Reason::BadSignature,
                "no signature verifies under the municipality's enrolled keys",
            ));
        }
        if size <= self.verified.size() {
            if let Some((accepted_size, root)) = self.accepted
                && accepted_size == size
            {
                return if root == signed.checkpoint.root {
                    CheckpointOutcome::Duplicate
                } else {
                    CheckpointOutcome::Fork {
                        size,
                        accepted_root: root,
                        other: signed,
                        note: note.to_owned(),
                    }
                };
            }
            if size == self.verified.size() && self.verified.root() == signed.checkpoint.root {
                return CheckpointOutcome::Duplicate;
            }
            return CheckpointOutcome::CheckStored {
                size,
                checkpoint: signed,
                note: note.to_owned(),
            };
        }
        if size >= self.next_seq() {
            if self.held.len() >= HELD_CHECKPOINTS_MAX {
                self.held.pop_first();
            }
            let from_seq = self.next_seq();
            self.held.insert(size, (signed, stream_seq));
            return CheckpointOutcome::Held { from_seq };
        }
        match self.try_extend(signed, stream_seq) {
            Extend::Segment(segment) => {
                let (more, failed) = self.release_held();
                let mut segments = vec![segment];
                segments.extend(more);
                CheckpointOutcome::Accepted(segments, failed)
            }
            Extend::Wait { from_seq } => CheckpointOutcome::Held { from_seq },
            Extend::Inconsistent(quarantine) => CheckpointOutcome::Quarantined(quarantine),
        }
    }

    /// A leaves message's bytes from this node's leaves subject: kept (bounded) until a
    /// checkpoint needs them; `Some` quarantine when they are not a leaves message.
    pub fn on_leaves(&mut self, bytes: &[u8]) -> Option<Quarantine> {
        if self.revoked {
            return Some(self.quarantine(
                None,
                Reason::Revoked,
                "the municipality's enrolment is revoked",
            ));
        }
        let (first, leaves) = match wire::decode_leaves(bytes) {
            Ok(decoded) => decoded,
            Err(err) => return Some(self.quarantine(None, Reason::Undecodable, err.to_string())),
        };
        let last = first + leaves.len() as u64 - 1;
        if last <= self.verified.size()
            || self.leaves.iter().any(|(f, l)| *f == first && *l == leaves)
        {
            return None;
        }
        if self.leaves.len() >= LEAVES_MESSAGES_MAX {
            self.leaves.pop_front();
        }
        self.leaves.push_back((first, leaves));
        None
    }

    /// Waiting events the node's authenticated leaves showed to be forged, for quarantine.
    pub fn take_rejected(&mut self) -> Vec<PendingEvent> {
        std::mem::take(&mut self.rejected)
    }

    /// The leaf an authenticated leaves message names at `seq`, if any.
    fn expected_leaf(&self, seq: u64) -> Option<Hash> {
        let (first, leaves) = self.expected.as_ref()?;
        let index = usize::try_from(seq.checked_sub(*first)?).ok()?;
        leaves.get(index).copied()
    }

    /// The leaf hashes of positions `verified + 1 ..= verified + count` from a chain of
    /// received leaves messages that extends the verified tree to `root`, if there is one.
    fn authenticated_leaves(&self, count: usize, root: &Hash) -> Option<Vec<Hash>> {
        let start = self.verified.size() + 1;
        let mut chains: Vec<Vec<Hash>> = vec![Vec::new()];
        for _ in 0..LEAVES_CHAIN_MAX {
            let mut longer = Vec::new();
            for chain in chains {
                let at = start + chain.len() as u64;
                for (first, leaves) in self.leaves.iter().filter(|(f, _)| *f == at) {
                    debug_assert_eq!(*first, at);
                    let mut next = chain.clone();
                    next.extend_from_slice(leaves);
                    if next.len() >= count {
                        next.truncate(count);
                        let mut frontier = self.verified.clone();
                        for leaf in &next {
                            frontier.push(*leaf, |_, _| {});
                        }
                        if frontier.root() == *root {
                            return Some(next);
                        }
                    } else {
                        longer.push(next);
                    }
                }
            }
            if longer.is_empty() {
                return None;
            }
            longer.truncate(LEAVES_MESSAGES_MAX);
            chains = longer;
        }
        None
    }

    /// Held checkpoints that the pending events now reach, verified in size order, with a
    /// quarantine record for each that does not match them.
    pub fn release_held(&mut self) -> (Vec<Segment>, Vec<Quarantine>) {
        let mut segments = Vec::new();
        let mut failed = Vec::new();
        while let Some((&size, _)) = self.held.first_key_value() {
            if size <= self.verified.size() {
                self.held.pop_first();
                continue;
            }
            if size >= self.next_seq() {
                break;
            }
            let Some((_, (signed, stream_seq))) = self.held.pop_first() else {
                break;
            };
            match self.try_extend(signed, stream_seq) {
                Extend::Segment(segment) => segments.push(segment),
                Extend::Wait { .. } => break,
                Extend::Inconsistent(quarantine) => failed.push(quarantine),
            }
        }
        (segments, failed)
    }

    /// Verifies `signed` against the verified prefix and the pending events it covers,
    /// choosing among the candidates received for those positions, or by the leaves the
    /// checkpoint authenticates; waits (the checkpoint held again) when those name bytes that
    /// are not here.
    fn try_extend(&mut self, signed: SignedCheckpoint, stream_seq: u64) -> Extend {
        let size = signed.checkpoint.size;
        let count = (size - self.verified.size()) as usize;
        let choice = match self.choose(count, &signed.checkpoint.root) {
            Some(choice) => Some(choice),
            None => match self.authenticated_leaves(count, &signed.checkpoint.root) {
                Some(named) => match self.pick(&named) {
                    Ok(choice) => Some(choice),
                    Err(missing) => {
                        self.expect(named, missing);
                        self.held.insert(size, (signed, stream_seq));
                        return Extend::Wait {
                            from_seq: self.next_seq(),
                        };
                    }
                },
                None => None,
            },
        };
        match self.extend(signed, choice) {
            Ok(segment) => Extend::Segment(segment),
            Err(quarantine) => Extend::Inconsistent(quarantine),
        }
    }

    /// For each position, which received bytes have the `named` leaf (0: the first received,
    /// `i`: the `i`-th other); `Err` with the first position that has none.
    fn pick(&self, named: &[Hash]) -> Result<Vec<usize>, usize> {
        let first = self.verified.size() + 1;
        named
            .iter()
            .enumerate()
            .map(|(position, leaf)| {
                if self.pending.get(position).is_some_and(|e| e.leaf == *leaf) {
                    return Ok(0);
                }
                self.candidates
                    .get(&(first + position as u64))
                    .and_then(|c| c.iter().position(|e| e.leaf == *leaf))
                    .map(|i| i + 1)
                    .ok_or(position)
            })
            .collect()
    }

    /// Takes the authenticated `named` leaves as what positions `verified + 1 ..` must hold:
    /// keeps the waiting events that match up to position `missing` (the first with no
    /// matching bytes), rejects the rest of the named positions' bytes as forged, and drops
    /// what waits past them (a back-fill brings the node's bytes again).
    fn expect(&mut self, named: Vec<Hash>, missing: usize) {
        let first = self.verified.size() + 1;
        let mut keep = VecDeque::new();
        let pending = std::mem::take(&mut self.pending);
        let mut candidates = std::mem::take(&mut self.candidates);
        for (position, primary) in pending.into_iter().enumerate() {
            let seq = primary.seq;
            let mut all = candidates.remove(&seq).unwrap_or_default();
            all.insert(0, primary);
            for event in all {
                let fits = named.get(position) == Some(&event.leaf);
                if fits && position < missing && keep.len() == position {
                    keep.push_back(event);
                } else if named.get(position).is_some() && !fits {
                    self.rejected.push(event);
                }
                // Otherwise dropped: past the named positions, or named bytes past the gap.
            }
        }
        for (_, rest) in candidates {
            for event in rest {
                let position = (event.seq - first) as usize;
                if named.get(position).is_some_and(|leaf| *leaf != event.leaf) {
                    self.rejected.push(event);
                }
            }
        }
        self.pending = keep;
        self.candidates_len = 0;
        self.waiting_bytes = self.pending.iter().map(|e| e.bytes.len()).sum();
        self.expected = Some((first, named));
    }

    /// Applies `signed` with the chosen bytes, or says why it does not fit.
    fn extend(
        &mut self,
        signed: SignedCheckpoint,
        choice: Option<Vec<usize>>,
    ) -> Result<Segment, Quarantine> {
        let size = signed.checkpoint.size;
        // The callers hold back a checkpoint until every event it covers is pending, and drop
        // one at or below the verified size.
        debug_assert!(
            size > self.verified.size(),
            "checkpoint {size} does not extend"
        );
        debug_assert!(
            size < self.next_seq(),
            "checkpoint {size} is past the received log"
        );
        let count = (size - self.verified.size()) as usize;
        let Some(choice) = choice else {
            let candidates: usize = self.candidates.range(..=size).map(|(_, c)| c.len()).sum();
            return Err(self.quarantine(
                Some(size),
                Reason::InconsistentCheckpoint,
                format!(
                    "root {} at size {size} is not the root of the verified {} events and the \
                     {count} received after them (with {candidates} other candidates tried)",
                    hex::encode(signed.checkpoint.root),
                    self.verified.size(),
                ),
            ));
        };
        let mut rest = self.candidates.split_off(&(size + 1));
        std::mem::swap(&mut rest, &mut self.candidates);
        let mut covered = rest;
        let mut events = Vec::with_capacity(count);
        let mut forged = Vec::new();
        for (primary, pick) in self.pending.drain(..count).zip(choice) {
            let mut all = covered.remove(&primary.seq).unwrap_or_default();
            all.insert(0, primary);
            for (i, event) in all.into_iter().enumerate() {
                if i == pick {
                    events.push(event);
                } else {
                    forged.push(event);
                }
            }
        }
        self.candidates_len -= forged.len();
        self.waiting_bytes -= events
            .iter()
            .chain(&forged)
            .map(|e| e.bytes.len())
            .sum::<usize>();
        let mut frontier = self.verified.clone();
        let mut nodes = Vec::new();
        for event in &events {
            frontier.push(event.leaf, |node, hash| {
                if node.level > 0 && node.is_stored() {
                    nodes.push((node, *hash));
                }
            });
        }
        // A segment is the consecutive events `verified + 1 ..= size`, and the tree's size is
        // its last sequence number.
        debug_assert!(
            events
                .iter()
                .zip(self.verified.size() + 1..)
                .all(|(event, seq)| event.seq == seq),
            "a segment's events are not consecutive"
        );
        debug_assert_eq!(frontier.size(), size);
        debug_assert_eq!(frontier.root(), signed.checkpoint.root);
        if self.pending.capacity() > PENDING_CAPACITY_KEPT
            && self.pending.len() <= PENDING_CAPACITY_KEPT
        {
            self.pending.shrink_to(PENDING_CAPACITY_KEPT);
        }
        self.verified = frontier.clone();
        self.accepted = Some((size, signed.checkpoint.root));
        if self
            .expected
            .as_ref()
            .is_some_and(|(first, named)| first + named.len() as u64 <= size + 1)
        {
            self.expected = None;
        }
        let verified = self.verified.size();
        self.leaves
            .retain(|(first, named)| first + named.len() as u64 - 1 > verified);
        Ok(Segment {
            code: self.code,
            events,
            nodes,
            checkpoint: signed,
            frontier,
            forged,
        })
    }

    /// Which candidate of each of the first `count` waiting positions (0: the first received,
    /// `i`: the `i`-th other) makes the verified tree's extension have `root`, if any is found:
    /// the first received everywhere, the last received everywhere, then every combination
    /// when there are few.
    fn choose(&self, count: usize, root: &Hash) -> Option<Vec<usize>> {
        let first = self.verified.size() + 1;
        let options: Vec<&[PendingEvent]> = (0..count as u64)
            .map(|i| {
                self.candidates
                    .get(&(first + i))
                    .map_or(&[][..], Vec::as_slice)
            })
            .collect();
        let leaf = |position: usize, pick: usize| match pick {
            0 => self.pending[position].leaf,
            other => options[position][other - 1].leaf,
        };
        let root_of = |choice: &[usize]| {
            let mut frontier = self.verified.clone();
            for (position, pick) in choice.iter().enumerate() {
                frontier.push(leaf(position, *pick), |_, _| {});
            }
            frontier.root()
        };
        let firsts = vec![0; count];
        if root_of(&firsts) == *root {
            return Some(firsts);
        }
        let ambiguous: Vec<usize> = (0..count).filter(|p| !options[*p].is_empty()).collect();
        if ambiguous.is_empty() {
            return None;
        }
        let lasts: Vec<usize> = options.iter().map(|o| o.len()).collect();
        if root_of(&lasts) == *root {
            return Some(lasts);
        }
        let combinations = ambiguous
            .iter()
            .try_fold(count, |n, p| n.checked_mul(options[*p].len() + 1))
            .filter(|n| *n <= SEARCH_LEAVES_MAX);
        combinations?;
        // Every combination, as a mixed-radix counter over the ambiguous positions.
        let mut choice = firsts;
        loop {
            let mut carry = true;
            for p in &ambiguous {
                if !carry {
                    break;
                }
                choice[*p] += 1;
                carry = choice[*p] > options[*p].len();
                if carry {
                    choice[*p] = 0;
                }
            }
            if carry {
                return None;
            }
            if root_of(&choice) == *root {
                return Some(choice);
            }
        }
    }

    /// Forgets what waits in memory (after a failed commit the caller reloads from storage).
    pub fn clear_waiting(&mut self) {
        self.leaves.clear();
        self.expected = None;
        self.rejected.clear();
        self.pending.clear();
        self.candidates.clear();
        self.candidates_len = 0;
        self.waiting_bytes = 0;
        self.held.clear();
    }
}

#[cfg(test)]
mod tests;
