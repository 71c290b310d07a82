//! The association's signed national statements: "at these positions the projection digest is
//! D", as a C2SP signed note under the association's witness key, so an auditor can compare a
//! recomputation from an archive with what the association said at exactly the archive's
//! positions, however far the live projection has moved since.
//!
//! # Format, version 1
//!
//! ```text
//! vidkryto/projection-statement/v1
//! projection <PROJECTION_VERSION>
//! digest <64 lowercase hex>
//! positions <64 lowercase hex>
//! hromadas <count>
//! time <Unix seconds>
//!
//! — <witness name> <base64 signature>
//! ```
//!
//! `positions` is SHA-256 of the positions text: for every hromada the statement covers,
//! ascending by code, the line `<KATOTTG> <verified size> <root, 64 lowercase hex>\n` (a hromada
//! with no verified event has size 0 and the empty tree's root). The positions themselves travel
//! beside the note (in the audit API's answer and the archive's `digest.json`) and are checked
//! against this hash.

use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::{CheckpointError, NoteSigner, NoteVerifier, SignedNote};
use sha2::{Digest as _, Sha256};

use crate::digest::PROJECTION_VERSION;

/// The first line of every statement.
pub const STATEMENT_HEADER: &str = "vidkryto/projection-statement/v1";

/// One hromada's position: its verified size and the root of that tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatedPosition {
    pub municipality: MunicipalityCode,
    pub size: u64,
    /// The verified tree's root (32 bytes; none before the first checkpoint).
    pub root: Vec<u8>,
}

/// What a statement says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub projection_version: u32,
    pub digest: [u8; 32],
    pub positions_hash: [u8; 32],
    pub hromadas: u64,
    pub time_secs: u64,
}

/// Why a statement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the statement is not a signed note: {0}")]
    Note(CheckpointError),
    #[error("the statement's signature does not verify under the association's key: {0}")]
    Signature(CheckpointError),
    #[error("the statement is malformed: {0}")]
    Malformed(&'static str),
    #[error("the statement is of projection version {found}, this auditor computes {ours}")]
    Version { found: u32, ours: u32 },
    #[error(
        "the statement covers other positions than the archive (its hash {stated}, the archive's {archive})"
    )]
    OtherPositions { stated: String, archive: String },
}

/// SHA-256 of the positions text (see the module docs); `positions` in any order.
pub fn positions_hash(positions: &[StatedPosition]) -> [u8; 32] {
    let mut sorted: Vec<&StatedPosition> = positions.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    for p in sorted {
        hasher.update(format!(
            "{} {} {}\n",
            p.municipality,
            p.size,
            hex::encode(&p.root)
        ));
    }
    hasher.finalize().into()
}

impl Statement {
    /// The statement of `digest` at `positions`, made at `time_secs`.
    pub fn new(digest: [u8; 32], positions: &[StatedPosition], time_secs: u64) -> Self {
        Self {
            projection_version: PROJECTION_VERSION,
            digest,
            positions_hash: positions_hash(positions),
            hromadas: positions.len() as u64,
            time_secs,
        }
    }

    /// The signed text.
    pub fn body(&self) -> String {
        format!(
            "{STATEMENT_HEADER}\nprojection {}\ndigest {}\npositions {}\nhromadas {}\ntime {}\n",
            self.projection_version,
            hex::encode(self.digest),
            hex::encode(self.positions_hash),
            self.hromadas,
            self.time_secs
        )
    }

    /// The statement signed by the association's witness key, as a note.
    pub fn sign(&self, witness: &NoteSigner) -> String {
        witness.sign_note(self.body()).to_note()
    }

    /// Reads a note: its signature under `association`, then its lines, strictly.
    pub fn open(note: &str, association: &NoteVerifier) -> Result<Self, StatementError> {
        let note = SignedNote::parse(note).map_err(StatementError::Note)?;
        note.verify(association)
            .map_err(StatementError::Signature)?;
        Self::parse_body(&note.body)
    }

    /// Reads a note that says the projection at exactly `positions` (of this auditor's
    /// projection version) has some digest, and returns the statement.
    pub fn open_at(
        note: &str,
        association: &NoteVerifier,
        positions: &[StatedPosition],
    ) -> Result<Self, StatementError> {
        let statement = Self::open(note, association)?;
        if statement.projection_version != PROJECTION_VERSION {
            return Err(StatementError::Version {
                found: statement.projection_version,
                ours: PROJECTION_VERSION,
            });
        }
        let archive = positions_hash(positions);
        if statement.positions_hash != archive || statement.hromadas != positions.len() as u64 {
            return Err(StatementError::OtherPositions {
                stated: hex::encode(statement.positions_hash),
                archive: hex::encode(archive),
            });
        }
        Ok(statement)
    }

    fn parse_body(body: &str) -> Result<Self, StatementError> {
        let malformed = StatementError::Malformed;
        let mut lines = body
            .strip_suffix('\n')
            .ok_or(malformed("no final newline"))?
            .split('\n');
        if lines.next() != Some(STATEMENT_HEADER) {
            return Err(malformed("not a vidkryto projection statement"));
        }
        let mut field = |name: &'static str| -> Result<&str, StatementError> {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or(malformed(name))
        };
        let number = |text: &str, name: &'static str| -> Result<u64, StatementError> {
            if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed(name));
            }
            text.parse().map_err(|_| malformed(name))
        };
        let hash = |text: &str, name: &'static str| -> Result<[u8; 32], StatementError> {
            let mut out = [0u8; 32];
            if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(malformed(name));
            }
            hex::decode_to_slice(text, &mut out).map_err(|_| malformed(name))?;
            Ok(out)
        };
        let projection = number(field("projection")?, "projection")?;
        let digest = hash(field("digest")?, "digest")?;
        let positions_hash = hash(field("positions")?, "positions")?;
        let hromadas = number(field("hromadas")?, "hromadas")?;
        let time_secs = number(field("time")?, "time")?;
        if lines.next().is_some() {
            return Err(malformed("lines after time"));
        }
        Ok(Self {
            projection_version: u32::try_from(projection).map_err(|_| malformed("projection"))?,
            digest,
            positions_hash,
            hromadas,
            time_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::from_seed(name, [seed; 32]).expect("a key")
    }

    fn positions() -> Vec<StatedPosition> {
        let code = |t: &str| MunicipalityCode::parse(t).expect("a code");
        vec![
            StatedPosition {
                municipality: code("UA80000000000093317"),
                size: 12,
                root: vec![3; 32],
            },
            StatedPosition {
                municipality: code("UA05020030000031457"),
                size: 1_527,
                root: vec![9; 32],
            },
        ]
    }

    #[test]
    fn a_statement_opens_at_its_positions_under_the_associations_key() {
        let witness = signer("vidkryto-association", 1);
        let statement = Statement::new([7; 32], &positions(), 1_795_000_000);
        let note = statement.sign(&witness);
        assert!(note.starts_with("vidkryto/projection-statement/v1\nprojection 7\ndigest 0707"));
        let opened = Statement::open_at(&note, &witness.verifier(), &positions()).unwrap();
        assert_eq!(opened, statement);
        // Positions in another order are the same positions.
        let mut reversed = positions();
        reversed.reverse();
        assert_eq!(
            Statement::open_at(&note, &witness.verifier(), &reversed).unwrap(),
            statement
        );
    }

    #[test]
    fn a_flipped_byte_another_key_or_other_positions_are_refused() {
        let witness = signer("vidkryto-association", 1);
        let note = Statement::new([7; 32], &positions(), 1_795_000_000).sign(&witness);
        let key = witness.verifier();
        // Every byte of the body flipped in turn: refused, never accepted.
        let body_len = note.find("\n\n").unwrap();
        for i in 0..body_len {
            let mut bytes = note.clone().into_bytes();
            bytes[i] ^= 0x01;
            let Ok(flipped) = String::from_utf8(bytes) else {
                continue;
            };
            assert!(
                Statement::open_at(&flipped, &key, &positions()).is_err(),
                "byte {i} flipped was accepted"
            );
        }
        let other = signer("vidkryto-association", 2).verifier();
        assert!(matches!(
            Statement::open(&note, &other),
            Err(StatementError::Signature(_))
        ));
        let mut moved = positions();
        moved[1].size += 1;
        assert!(matches!(
            Statement::open_at(&note, &key, &moved),
            Err(StatementError::OtherPositions { .. })
        ));
        assert!(matches!(
            Statement::open_at(&note, &key, &positions()[..1]),
            Err(StatementError::OtherPositions { .. })
        ));
        assert!(Statement::open("garbage", &key).is_err());
    }
}
