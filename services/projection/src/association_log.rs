//! The association's own log: its decisions (which key signs for which hromada, which key it
//! revoked, which practices it recommends, what it stated about its projection) as entries of
//! an append-only Merkle log of the same kind as a node's, checkpointed as C2SP signed notes
//! under the association's witness key. The enrolment history an auditor checks node
//! signatures against is replayed from it ([`KeyHistory`]), so a rewritten enrolment no longer
//! matches the checkpoints the association signed.
//!
//! # Format, version 1 (frozen: golden bytes in `tests/projection/golden/association-entry-v1-*.hex`)
//!
//! An entry's stored bytes are the postcard encoding of [`Entry`]: `format` (varint, 1), `seq`
//! (varint, 1 for the first entry, then consecutive), `at_micros` (zig-zag varint,
//! microseconds since the Unix epoch, never decreasing), then the [`Decision`]: its variant
//! index as a varint, then its fields in order, strings as a varint length and UTF-8 bytes:
//!
//! | index | decision | fields |
//! | --- | --- | --- |
//! | 0 | `Enrolled` | municipality (KATOTTG), vkey (C2SP verifier key text named `vidkryto/<KATOTTG>`) |
//! | 1 | `Revoked` | municipality, vkey |
//! | 2 | `Recommended` | municipality, tool (zig-zag varint: 1 petition, 2 dialogue, 3 commitment, 4 participatory budget project, from the version that added monitors), id (16 bytes), reason |
//! | 3 | `RecommendationWithdrawn` | municipality, tool, id |
//! | 4 | `Stated` | note (a statement, `crate::statement`) |
//! | 5 | `MonitorEnrolled` | monitor (its id), name, vkey (named `vidkryto-monitor/<id>`), not_independent_of (varint count, then KATOTTG codes ascending) |
//! | 6 | `MonitorRevoked` | monitor, vkey |
//! | 7 | `Assessed` | note (a monitor's signed independent assessment, `domain::assessment`) |
//!
//! Leaves are `SHA-256(0x00 ‖ bytes)` and the tree is RFC 6962's, as for a node's log; a
//! checkpoint's origin is [`ORIGIN`]. Bytes that do not re-encode identically are refused, so
//! every entry has exactly one form.

use event_store_core::checkpoint::{Checkpoint, NoteVerifier, origin_for};
use event_store_core::merkle::{self, Frontier};
use std::collections::HashMap;

use event_store_core::MunicipalityCode;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use domain::assessment::{self, Assessment, Context, Monitor, SignedAssessment};

use crate::catalogue::Tool;

/// The checkpoint origin of the association's log.
pub const ORIGIN: &str = "vidkryto/association";
/// The entry format this code writes and reads.
pub const ENTRY_FORMAT: u16 = 1;
/// Longest entry accepted (a statement note is under 1 KiB, a reason under 8 KiB).
pub const ENTRY_LEN_MAX: usize = 64 * 1024;

/// One entry of the association's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub format: u16,
    pub seq: u64,
    pub at_micros: i64,
    pub decision: Decision,
}

/// What the association decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// `vkey` signs for `municipality` from the entry's time.
    Enrolled { municipality: String, vkey: String },
    /// `vkey` no longer signs for `municipality` from the entry's time.
    Revoked { municipality: String, vkey: String },
    /// The association recommends a practice of the catalogue, with its reason.
    Recommended {
        municipality: String,
        tool: i16,
        id: [u8; 16],
        reason: String,
    },
    /// The association no longer recommends it.
    RecommendationWithdrawn {
        municipality: String,
        tool: i16,
        id: [u8; 16],
    },
    /// A signed statement of the projection (`crate::statement`), as its whole note.
    Stated { note: String },
    /// A monitor of OGP-Local commitments (`domain::assessment`) with its key, from the
    /// entry's time, and the hromadas it declared itself not independent of.
    MonitorEnrolled {
        monitor: String,
        name: String,
        vkey: String,
        not_independent_of: Vec<String>,
    },
    /// The monitor's key no longer signs assessments from the entry's time.
    MonitorRevoked { monitor: String, vkey: String },
    /// An independent assessment the association recorded, as the monitor's whole signed note.
    Assessed { note: String },
}

/// Why an entry or the log is refused; `seq` is the entry's position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("entry {seq}: {len} bytes, more than {ENTRY_LEN_MAX}")]
    TooLong { seq: u64, len: usize },
    #[error("entry {seq}: not an entry of format {ENTRY_FORMAT}: {detail}")]
    Undecodable { seq: u64, detail: String },
    #[error("entry {seq}: says it is entry {found}")]
    Sequence { seq: u64, found: u64 },
    #[error("entry {seq}: time {at_micros} before the previous entry's {previous}")]
    Time {
        seq: u64,
        at_micros: i64,
        previous: i64,
    },
    #[error("entry {seq}: {rule}")]
    Rule { seq: u64, rule: String },
}

impl LogError {
    /// A stable code for reports.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong { .. } | Self::Undecodable { .. } => "undecodable",
            Self::Sequence { .. } => "sequence",
            Self::Time { .. } => "time",
            Self::Rule { .. } => "rules",
        }
    }

    /// The entry it is about.
    pub fn seq(&self) -> u64 {
        match self {
            Self::TooLong { seq, .. }
            | Self::Undecodable { seq, .. }
            | Self::Sequence { seq, .. }
            | Self::Time { seq, .. }
            | Self::Rule { seq, .. } => *seq,
        }
    }
}

impl Entry {
    /// An entry of this format.
    pub fn new(seq: u64, at_micros: i64, decision: Decision) -> Self {
        Self {
            format: ENTRY_FORMAT,
            seq,
            at_micros,
            decision,
        }
    }

    /// Its stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Encoding a struct of integers, strings and byte arrays into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Reads the stored bytes of entry `seq`, strictly: its format, its one encoding, its
    /// position.
    pub fn decode(seq: u64, bytes: &[u8]) -> Result<Self, LogError> {
        if bytes.len() > ENTRY_LEN_MAX {
            return Err(LogError::TooLong {
                seq,
                len: bytes.len(),
            });
        }
        let undecodable = |detail: String| LogError::Undecodable { seq, detail };
        let entry: Self = postcard::from_bytes(bytes).map_err(|e| undecodable(e.to_string()))?;
        if entry.format != ENTRY_FORMAT {
            return Err(undecodable(format!("format {}", entry.format)));
        }
        if entry.encode() != bytes {
            return Err(undecodable("not in its canonical encoding".into()));
        }
        if entry.seq != seq {
            return Err(LogError::Sequence {
                seq,
                found: entry.seq,
            });
        }
        Ok(entry)
    }
}

/// Adds `bytes` as the next entry of the log whose tree is `frontier`, and returns the
/// checkpoint of the new size for the association to sign.
pub fn extend(frontier: &mut Frontier, bytes: &[u8]) -> Checkpoint {
    frontier.push(merkle::leaf_hash(bytes), |_, _| {});
    Checkpoint {
        origin: ORIGIN.to_owned(),
        size: frontier.size(),
        root: frontier.root(),
    }
}

/// One validity window of an enrolled key, replayed from the log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyWindow {
    pub municipality: String,
    pub enrolled_at_micros: i64,
    pub vkey: String,
    pub revoked_at_micros: Option<i64>,
}

/// One validity window of an enrolled monitor, replayed from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorWindow {
    pub monitor: String,
    pub name: String,
    pub vkey: String,
    pub not_independent_of: Vec<String>,
    pub enrolled_at_micros: i64,
    pub revoked_at_micros: Option<i64>,
}

/// An independent assessment the log recorded: its entry, time and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAssessment {
    pub seq: u64,
    pub at_micros: i64,
    pub assessment: Assessment,
}

/// The enrolment history the log says, checked entry by entry.
#[derive(Debug, Clone, Default)]
pub struct KeyHistory {
    windows: Vec<KeyWindow>,
    /// The window of each key valid now, by hromada and key: replay stays linear.
    open: HashMap<(String, String), usize>,
    /// Every key each hromada was ever enrolled with: none of them may be a monitor's, and
    /// none of a hromada's may sign an assessment of it.
    keys_by_hromada: HashMap<String, Vec<NoteVerifier>>,
    /// Every key any monitor was ever enrolled with: none of them may sign for a hromada.
    monitor_keys: Vec<NoteVerifier>,
    monitor_windows: Vec<MonitorWindow>,
    /// Each monitor enrolled now, with its window.
    monitors: HashMap<String, (Monitor, usize)>,
    assessments: Vec<RecordedAssessment>,
    /// SHA-256 of each recorded note, with its entry: a note is recorded once.
    notes: HashMap<[u8; 32], u64>,
    entries: u64,
    last_at: Option<i64>,
}

impl KeyHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the next entry, refusing one out of order or against the rules: a key enrolled
    /// for a hromada must be named after its log's origin and not be valid already; a
    /// revocation must end a window that is open.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), LogError> {
        let seq = self.entries + 1;
        if entry.seq != seq {
            return Err(LogError::Sequence {
                seq,
                found: entry.seq,
            });
        }
        if let Some(previous) = self.last_at
            && entry.at_micros < previous
        {
            return Err(LogError::Time {
                seq,
                at_micros: entry.at_micros,
                previous,
            });
        }
        let rule = |rule: String| LogError::Rule { seq, rule };
        match &entry.decision {
            Decision::Enrolled { municipality, vkey } => {
                let code = MunicipalityCode::parse(municipality)
                    .map_err(|e| rule(format!("municipality {municipality:?}: {e}")))?;
                let key = NoteVerifier::parse(vkey)
                    .map_err(|e| rule(format!("the key of {code}: {e}")))?;
                if key.to_text() != *vkey {
                    return Err(rule(format!(
                        "the key of {code} is not written in its one form {}",
                        key.to_text()
                    )));
                }
                if key.name() != origin_for(&code) {
                    return Err(rule(format!(
                        "a key named {:?} enrolled for {code}",
                        key.name()
                    )));
                }
                if let Some(monitor) = self
                    .monitor_keys
                    .iter()
                    .find(|m| m.public_key() == key.public_key())
                {
                    return Err(rule(format!(
                        "the key of {code} is the key of monitor {:?}: a monitor's key cannot \
                         sign for a hromada",
                        monitor.name()
                    )));
                }
                let open = (municipality.clone(), vkey.clone());
                if self.open.contains_key(&open) {
                    return Err(rule(format!(
                        "the key {vkey} is enrolled for {code} already"
                    )));
                }
                self.open.insert(open, self.windows.len());
                let of_hromada = self
                    .keys_by_hromada
                    .entry(municipality.clone())
                    .or_default();
                if !of_hromada.contains(&key) {
                    of_hromada.push(key);
                }
                self.windows.push(KeyWindow {
                    municipality: municipality.clone(),
                    vkey: vkey.clone(),
                    enrolled_at_micros: entry.at_micros,
                    revoked_at_micros: None,
                });
            }
            Decision::Revoked { municipality, vkey } => {
                let at = entry.at_micros;
                if at <= 0 {
                    // Archives write "never revoked" as 0.
                    return Err(rule(format!("a revocation at {at}, not after 1970")));
                }
                let index = self
                    .open
                    .remove(&(municipality.clone(), vkey.clone()))
                    .ok_or_else(|| {
                        rule(format!(
                            "a revocation of the key {vkey} of {municipality}, which is not enrolled"
                        ))
                    })?;
                self.windows[index].revoked_at_micros = Some(at);
            }
            Decision::Recommended {
                municipality,
                tool,
                reason,
                ..
            } => {
                MunicipalityCode::parse(municipality)
                    .map_err(|e| rule(format!("municipality {municipality:?}: {e}")))?;
                if Tool::from_code(*tool).is_none() {
                    return Err(rule(format!("unknown tool {tool}")));
                }
                if reason.trim().is_empty() {
                    return Err(rule("a recommendation without a reason".into()));
                }
            }
            Decision::RecommendationWithdrawn {
                municipality, tool, ..
            } => {
                MunicipalityCode::parse(municipality)
                    .map_err(|e| rule(format!("municipality {municipality:?}: {e}")))?;
                if Tool::from_code(*tool).is_none() {
                    return Err(rule(format!("unknown tool {tool}")));
                }
            }
            Decision::Stated { .. } => {}
            Decision::MonitorEnrolled {
                monitor,
                name,
                vkey,
                not_independent_of,
            } => {
                let key = NoteVerifier::parse(vkey)
                    .map_err(|e| rule(format!("the key of monitor {monitor:?}: {e}")))?;
                if key.to_text() != *vkey {
                    return Err(rule(format!(
                        "the key of monitor {monitor:?} is not written in its one form"
                    )));
                }
                let codes = not_independent_of
                    .iter()
                    .map(|c| MunicipalityCode::parse(c))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| rule(format!("monitor {monitor:?}: not independent of: {e}")))?;
                // Monitors are enrolled rarely: every hromada key, gathered for the check.
                let hromada_keys: Vec<NoteVerifier> =
                    self.keys_by_hromada.values().flatten().cloned().collect();
                assessment::check_enrolment(monitor, name, &key, &codes, &hromada_keys)
                    .map_err(|e| rule(format!("monitor {monitor:?}: {}", rule_text(&e))))?;
                if self.monitors.contains_key(monitor) {
                    return Err(rule(format!("monitor {monitor:?} is enrolled already")));
                }
                if !self.monitor_keys.contains(&key) {
                    self.monitor_keys.push(key.clone());
                }
                self.monitors.insert(
                    monitor.clone(),
                    (
                        Monitor {
                            id: monitor.clone(),
                            key,
                            not_independent_of: codes.into_iter().collect(),
                        },
                        self.monitor_windows.len(),
                    ),
                );
                self.monitor_windows.push(MonitorWindow {
                    monitor: monitor.clone(),
                    name: name.clone(),
                    vkey: vkey.clone(),
                    not_independent_of: not_independent_of.clone(),
                    enrolled_at_micros: entry.at_micros,
                    revoked_at_micros: None,
                });
            }
            Decision::MonitorRevoked { monitor, vkey } => {
                let index = match self.monitors.get(monitor) {
                    Some((enrolled, index)) if enrolled.key.to_text() == *vkey => *index,
                    _ => {
                        return Err(rule(format!(
                            "a revocation of monitor {monitor:?}'s key {vkey}, which is not enrolled"
                        )));
                    }
                };
                self.monitors.remove(monitor);
                self.monitor_windows[index].revoked_at_micros = Some(entry.at_micros);
            }
            Decision::Assessed { note } => {
                let signed = SignedAssessment::read(note)
                    .map_err(|e| rule(format!("an assessment: {e}")))?;
                let hash: [u8; 32] = sha2::Sha256::digest(note.as_bytes()).into();
                if let Some(first) = self.notes.get(&hash) {
                    return Err(rule(format!(
                        "an assessment recorded before, as entry {first}"
                    )));
                }
                let monitor = self
                    .monitors
                    .get(&signed.assessment.monitor)
                    .map(|(m, _)| m);
                let no_keys = Vec::new();
                let context = Context {
                    monitor,
                    hromada_keys: self
                        .keys_by_hromada
                        .get(signed.assessment.municipality.as_str())
                        .unwrap_or(&no_keys),
                    commitment: None,
                    today: domain::kyiv_date(event_store_core::Timestamp(entry.at_micros)),
                };
                assessment::decide(&signed, &context).map_err(|e| {
                    rule(format!(
                        "an assessment by {:?}: {}",
                        signed.assessment.monitor,
                        rule_text(&e)
                    ))
                })?;
                self.notes.insert(hash, seq);
                self.assessments.push(RecordedAssessment {
                    seq,
                    at_micros: entry.at_micros,
                    assessment: signed.assessment,
                });
            }
        }
        self.entries = seq;
        self.last_at = Some(entry.at_micros);
        Ok(())
    }

    /// Every window, sorted by hromada, enrolment time and key.
    pub fn windows(&self) -> Vec<KeyWindow> {
        let mut windows = self.windows.clone();
        windows.sort();
        windows
    }

    /// Every monitor's enrolment windows, in the log's order.
    pub fn monitor_windows(&self) -> &[MonitorWindow] {
        &self.monitor_windows
    }

    /// Every independent assessment recorded, in the log's order.
    pub fn assessments(&self) -> &[RecordedAssessment] {
        &self.assessments
    }

    /// How many entries were applied.
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

/// A refusal as a report names it: its rule's code, then its text.
pub fn rule_text(error: &domain::DomainError) -> String {
    match error {
        domain::DomainError::Refused { rule } => format!("{} ({rule})", rule.code()),
        other => other.to_string(),
    }
}
