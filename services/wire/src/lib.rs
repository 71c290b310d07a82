//! The NATS contract between a node's relay (which publishes) and the association (which
//! consumes), in one place: subjects, headers, message ids, a municipality's stream settings,
//! subject parsing, and the credentials operators write into NATS URLs; and, because node and
//! association both keep secrets in files, the one reader of such files ([`read_secret_file`]),
//! and where both take credentials ([`credentials_transport_allowed`]).
//!
//! Scheme, per municipality `<KATOTTG>`:
//!
//! | what | subject | payload | headers |
//! | --- | --- | --- | --- |
//! | event | `vidkryto.ev.<KATOTTG>` | the event's canonical bytes, as stored | `Nats-Msg-Id` = event id (UUID), `Vidkryto-Seq` = log sequence |
//! | checkpoint | `vidkryto.ckpt.<KATOTTG>` | the signed note | `Nats-Msg-Id` = `<KATOTTG>-ckpt-<size>-<note digest>`, `Vidkryto-Tree-Size` = size |
//! | leaves | `vidkryto.leaves.<KATOTTG>` | the leaf hashes of the events a checkpoint adds ([`encode_leaves`]) | `Nats-Msg-Id` = `<KATOTTG>-leaves-<first>-<digest>`, `Vidkryto-Seq` = last sequence |
//!
//! A leaves message needs no signature of its own: the tree of the verified prefix extended
//! with its hashes has the root of the checkpoint it precedes, or it is worthless. With it, the
//! association knows which bytes a checkpoint covers at each position, whatever else was
//! published on the node's subject.
//!
//! All three subjects live in the stream `VIDKRYTO_<KATOTTG>` (file storage, `deny_delete`,
//! `deny_purge`, `allow_direct`, a duplicate window). Headers are hints for finding messages
//! (back-fill's binary search); what a message *is* comes from its verified bytes, never from
//! its headers or subject alone (the relay reconciles on bodies and logs headers only).

pub mod compress;
pub mod documents;
pub mod intercept;
mod secret_file;
pub mod site;
pub mod trace;
mod transport;
mod url;

use std::time::Duration;

use event_store_core::{MunicipalityCode, MunicipalityCodeError};

pub use secret_file::{
    SECRET_FILE_FORBIDDEN_MODE, SecretFileError, read_secret_file, write_secret_file,
};
pub use transport::{constant_time_eq, credentials_transport_allowed};

/// An error and its sources, `: `-separated, each said once (a transport error alone says only
/// "transport error"; the certificate or connection problem is in its sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
pub use url::{redacted_url, with_url_credentials};

/// Every subject of the contract starts with this prefix.
const SUBJECT_PREFIX: &str = "vidkryto";
/// Header carrying an event's log sequence number.
pub const SEQ_HEADER: &str = "Vidkryto-Seq";
/// Header carrying a checkpoint's tree size.
pub const TREE_SIZE_HEADER: &str = "Vidkryto-Tree-Size";
/// How long JetStream remembers a `Nats-Msg-Id` to drop a republished message, by default.
/// Ten minutes covers a relay's reconnect backoff many times over; the relay's own
/// reconciliation makes restarts exact past it.
pub const DUPLICATE_WINDOW_DEFAULT: Duration = Duration::from_secs(10 * 60);

const EVENT_PREFIX: &str = "vidkryto.ev.";
const CHECKPOINT_PREFIX: &str = "vidkryto.ckpt.";
const LEAVES_PREFIX: &str = "vidkryto.leaves.";

/// The subject a municipality's events are published on: `vidkryto.ev.<KATOTTG>`.
pub fn event_subject(municipality: &MunicipalityCode) -> String {
    format!("{EVENT_PREFIX}{municipality}")
}

/// The subject a municipality's signed checkpoints are published on: `vidkryto.ckpt.<KATOTTG>`.
pub fn checkpoint_subject(municipality: &MunicipalityCode) -> String {
    format!("{CHECKPOINT_PREFIX}{municipality}")
}

/// The subject the leaf hashes of a municipality's checkpointed events are published on:
/// `vidkryto.leaves.<KATOTTG>`.
pub fn leaves_subject(municipality: &MunicipalityCode) -> String {
    format!("{LEAVES_PREFIX}{municipality}")
}

/// The `Nats-Msg-Id` of a leaves message: `<KATOTTG>-leaves-<first>-<digest>`.
pub fn leaves_msg_id(municipality: &MunicipalityCode, first: u64, payload: &[u8]) -> String {
    format!("{municipality}-leaves-{first}-{}", digest_hex(payload))
}

/// Leaf hashes one leaves message carries at most (128,000 bytes, under
/// [`MESSAGE_SIZE_MAX`]); a longer run is sent as several messages.
pub const LEAVES_PER_MESSAGE_MAX: usize = 4_000;
const LEAVES_MAGIC: &[u8; 4] = b"VKL1";

/// A leaves message: `VKL1`, the first sequence number (u64 little-endian), then one to
/// [`LEAVES_PER_MESSAGE_MAX`] 32-byte leaf hashes, for consecutive sequence numbers.
pub fn encode_leaves(first: u64, leaves: &[[u8; 32]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 32 * leaves.len());
    out.extend_from_slice(LEAVES_MAGIC);
    out.extend_from_slice(&first.to_le_bytes());
    for leaf in leaves {
        out.extend_from_slice(leaf);
    }
    out
}

/// Why bytes are not a leaves message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavesError(pub &'static str);

impl std::fmt::Display for LeavesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a leaves message: {}", self.0)
    }
}

impl std::error::Error for LeavesError {}

/// Reads a leaves message: its first sequence number and its hashes. Never panics; refuses
/// sequence number 0, no hashes, more than [`LEAVES_PER_MESSAGE_MAX`], a ragged tail, and a
/// run past `u64::MAX`.
pub fn decode_leaves(bytes: &[u8]) -> Result<(u64, Vec<[u8; 32]>), LeavesError> {
    let rest = bytes
        .strip_prefix(LEAVES_MAGIC)
        .ok_or(LeavesError("wrong magic"))?;
    let (first, hashes) = rest.split_at_checked(8).ok_or(LeavesError("truncated"))?;
    let first = u64::from_le_bytes(first.try_into().map_err(|_| LeavesError("truncated"))?);
    if first == 0 {
        return Err(LeavesError("sequence number 0"));
    }
    if hashes.is_empty() || hashes.len() % 32 != 0 {
        return Err(LeavesError("not a whole number of hashes"));
    }
    let count = hashes.len() / 32;
    if count > LEAVES_PER_MESSAGE_MAX {
        return Err(LeavesError("too many hashes"));
    }
    if first.checked_add(count as u64).is_none() {
        return Err(LeavesError("past the largest sequence number"));
    }
    let leaves = hashes
        .chunks_exact(32)
        .map(|c| {
            let mut leaf = [0; 32];
            leaf.copy_from_slice(c);
            leaf
        })
        .collect();
    Ok((first, leaves))
}

/// The first 16 bytes of a SHA-256 leaf hash of `bytes`, in hex: names a message by its
/// content in a message id.
fn digest_hex(bytes: &[u8]) -> String {
    let digest = event_store_core::merkle::leaf_hash(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A filter matching every subject of a municipality, and no other's: `vidkryto.*.<KATOTTG>`.
pub fn subjects_filter(municipality: &MunicipalityCode) -> String {
    format!("{SUBJECT_PREFIX}.*.{municipality}")
}

/// The JetStream stream holding both subjects of a municipality: `VIDKRYTO_<KATOTTG>`.
pub fn stream_name(municipality: &MunicipalityCode) -> String {
    format!("VIDKRYTO_{municipality}")
}

/// The `Nats-Msg-Id` of a checkpoint: `<KATOTTG>-ckpt-<size>-<digest>`, the digest being the
/// first 16 bytes (hex) of the note's SHA-256 leaf hash. It names the note, not only its size:
/// an id anyone could compute ahead would let whoever publishes it first make JetStream drop
/// the node's own checkpoint as a duplicate.
pub fn checkpoint_msg_id(municipality: &MunicipalityCode, size: u64, note: &str) -> String {
    format!("{municipality}-ckpt-{size}-{}", digest_hex(note.as_bytes()))
}

/// The configuration of a municipality's stream, shared by the relay (which creates it if
/// missing) and the association (which creates it on enrolment so it can source it at once):
/// file storage, deletes and purges refused, direct gets allowed for back-fills, messages at
/// most [`MESSAGE_SIZE_MAX`] bytes.
pub fn stream_config(
    municipality: &MunicipalityCode,
    duplicate_window: Duration,
) -> async_nats::jetstream::stream::Config {
    async_nats::jetstream::stream::Config {
        name: stream_name(municipality),
        subjects: vec![
            event_subject(municipality),
            checkpoint_subject(municipality),
            leaves_subject(municipality),
        ],
        storage: async_nats::jetstream::stream::StorageType::File,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        duplicate_window,
        max_message_size: MESSAGE_SIZE_MAX,
        ..Default::default()
    }
}

/// The largest message a municipality's stream (and the association's ingest stream) takes:
/// the largest envelope with room for headers; checkpoint notes are far smaller. Larger
/// messages are refused by JetStream at publish, so no consumer ever reads one.
pub const MESSAGE_SIZE_MAX: i32 = (event_store_core::ENVELOPE_LEN_MAX + 4 * 1024) as i32;

/// Which of a municipality's two subjects a message came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectKind {
    Event,
    Checkpoint,
    Leaves,
}

/// A subject of the contract, split into its kind and the municipality code as written (the
/// code is not yet validated: a consumer quarantines a message whose code does not parse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject<'a> {
    pub kind: SubjectKind,
    pub code_text: &'a str,
}

impl<'a> Subject<'a> {
    /// `None` for a subject outside the contract (another application's, or a prefix alone).
    pub fn parse(subject: &'a str) -> Option<Self> {
        let (kind, code_text) = if let Some(code) = subject.strip_prefix(EVENT_PREFIX) {
            (SubjectKind::Event, code)
        } else if let Some(code) = subject.strip_prefix(CHECKPOINT_PREFIX) {
            (SubjectKind::Checkpoint, code)
        } else if let Some(code) = subject.strip_prefix(LEAVES_PREFIX) {
            (SubjectKind::Leaves, code)
        } else {
            return None;
        };
        Some(Self { kind, code_text })
    }

    /// The municipality the subject names, or why its code is not a KATOTTG code.
    pub fn municipality(&self) -> Result<MunicipalityCode, MunicipalityCodeError> {
        MunicipalityCode::parse(self.code_text)
    }
}

/// An event's log sequence or a checkpoint's tree size, from the relay's headers. A hint for
/// locating messages: never trusted as the message's position, which its bytes carry.
pub fn log_position(headers: &async_nats::HeaderMap) -> Option<u64> {
    headers
        .get(SEQ_HEADER)
        .or_else(|| headers.get(TREE_SIZE_HEADER))
        .and_then(|v| v.as_str().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vinnytsia() -> MunicipalityCode {
        MunicipalityCode::parse("UA05020030000031457").unwrap()
    }

    #[test]
    fn built_subjects_parse_back_to_their_kind_and_code() {
        let code = vinnytsia();
        for (subject, kind) in [
            (event_subject(&code), SubjectKind::Event),
            (checkpoint_subject(&code), SubjectKind::Checkpoint),
            (leaves_subject(&code), SubjectKind::Leaves),
        ] {
            let parsed = Subject::parse(&subject).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.municipality(), Ok(code));
        }
        assert_eq!(stream_name(&code), "VIDKRYTO_UA05020030000031457");
        assert_eq!(subjects_filter(&code), "vidkryto.*.UA05020030000031457");
        let id = checkpoint_msg_id(&code, 7, "note");
        assert!(id.starts_with("UA05020030000031457-ckpt-7-"), "{id}");
        assert_eq!(id.len(), "UA05020030000031457-ckpt-7-".len() + 32);
        assert_ne!(id, checkpoint_msg_id(&code, 7, "another note"));
        let config = stream_config(&code, DUPLICATE_WINDOW_DEFAULT);
        assert_eq!(config.subjects.len(), 3);
        assert!(config.deny_delete && config.deny_purge);
    }

    #[test]
    fn leaves_messages_round_trip_and_refuse_what_is_not_one() {
        let leaves = [[1; 32], [2; 32], [3; 32]];
        let bytes = encode_leaves(7, &leaves);
        assert_eq!(decode_leaves(&bytes), Ok((7, leaves.to_vec())));
        for bad in [
            &bytes[..bytes.len() - 1],
            &bytes[..12],
            &bytes[..5],
            b"VKL2\x07\0\0\0\0\0\0\0",
            &encode_leaves(0, &leaves),
            &encode_leaves(u64::MAX - 1, &leaves),
            &encode_leaves(1, &vec![[0; 32]; LEAVES_PER_MESSAGE_MAX + 1]),
        ] {
            assert!(decode_leaves(bad).is_err(), "{bad:?}");
        }
        assert!(
            encode_leaves(1, &vec![[0; 32]; LEAVES_PER_MESSAGE_MAX]).len()
                <= MESSAGE_SIZE_MAX as usize
        );
    }

    #[test]
    fn foreign_subjects_and_bad_codes_are_told_apart() {
        for foreign in [
            "vidkryto",
            "vidkryto.ev",
            "other.ev.UA05020030000031457",
            "",
        ] {
            assert_eq!(Subject::parse(foreign), None, "{foreign}");
        }
        let bad = Subject::parse("vidkryto.ev.not-a-code").unwrap();
        assert_eq!(bad.code_text, "not-a-code");
        assert!(bad.municipality().is_err());
        let nested = Subject::parse("vidkryto.ckpt.UA05020030000031457.x").unwrap();
        assert!(nested.municipality().is_err());
    }

    #[test]
    fn positions_come_from_either_header() {
        let mut headers = async_nats::HeaderMap::new();
        assert_eq!(log_position(&headers), None);
        headers.insert(TREE_SIZE_HEADER, "12");
        assert_eq!(log_position(&headers), Some(12));
        headers.insert(SEQ_HEADER, "5");
        assert_eq!(log_position(&headers), Some(5));
        headers.insert(SEQ_HEADER, "x");
        assert_eq!(log_position(&headers), None);
    }
}
