//! Text that leaves the node only once it is public. A resident's words (a petition's title
//! and text, a dialogue contribution) are not public when written: moderation may reject them
//! for insults or someone's personal data, and what the node relays to the national log and
//! every archive stays there forever. So the event that records them carries a **salted
//! commitment** to the text, and the event that makes the text public (publication, an
//! accepted contribution) carries a **disclosure**: the salt and the text, which anyone checks
//! against the commitment. A rejected text never leaves the node, and the node can erase it on
//! a lawful request without touching the log.
//!
//! The commitment (written out in `event-store/FORMAT.md`, "Payloads", so a third party can
//! check it without this code) is SHA-256 over:
//!
//! ```text
//! tag || 0x00 || salt (32 bytes) || for each part: u64 big-endian byte length || UTF-8 bytes
//! ```
//!
//! with `tag` = `vidkryto/petition-text/v1` (parts: title, text) or
//! `vidkryto/contribution-text/v1` (part: text). The salt is 32 random bytes
//! the node draws and keeps with the text: without it, a short text could be found by trying
//! candidates against the commitment.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The commitment tag of a petition's title and text.
pub const PETITION_TEXT_TAG: &[u8] = b"vidkryto/petition-text/v1";
/// The commitment tag of a dialogue contribution's text.
pub const CONTRIBUTION_TEXT_TAG: &[u8] = b"vidkryto/contribution-text/v1";
/// Domain tag of a participatory budget project's commitment.
pub const PROJECT_TEXT_TAG: &[u8] = b"vidkryto/budget-project-text/v1";

/// A SHA-256 commitment to text that is not public yet.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Commitment(pub [u8; 32]);

impl std::fmt::Debug for Commitment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Commitment(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

/// The random salt of a commitment. Secret until the text is disclosed, so `Debug` hides it.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Salt(pub [u8; 32]);

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// The commitment of `parts` under `tag` and `salt`.
pub fn commit(tag: &[u8], salt: &Salt, parts: &[&str]) -> Commitment {
    let mut hash = Sha256::new();
    hash.update(tag);
    hash.update([0u8]);
    hash.update(salt.0);
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    Commitment(hash.finalize().into())
}

/// A petition's title and text with the salt of their commitment: what the node keeps until
/// publication, and what publication discloses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionText {
    pub salt: Salt,
    pub title: String,
    pub text: String,
}

impl std::fmt::Debug for PetitionText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PetitionText")
            .field("salt", &self.salt)
            .field("title_chars", &self.title.chars().count())
            .field("text_chars", &self.text.chars().count())
            .finish()
    }
}

impl PetitionText {
    /// Its commitment.
    pub fn commitment(&self) -> Commitment {
        commit(PETITION_TEXT_TAG, &self.salt, &[&self.title, &self.text])
    }
}

/// A contribution's text with the salt of its commitment: kept by the node until the
/// contribution is accepted (fully or partly), then disclosed with the answer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionText {
    pub salt: Salt,
    pub text: String,
}

impl std::fmt::Debug for ContributionText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContributionText")
            .field("salt", &self.salt)
            .field("text_chars", &self.text.chars().count())
            .finish()
    }
}

impl ContributionText {
    /// Its commitment.
    pub fn commitment(&self) -> Commitment {
        commit(CONTRIBUTION_TEXT_TAG, &self.salt, &[&self.text])
    }
}

/// A participatory budget project's title and description as committed at submission and
/// disclosed when it is found eligible.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectText {
    pub salt: Salt,
    pub title: String,
    pub description: String,
}

impl std::fmt::Debug for ProjectText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectText")
            .field("salt", &self.salt)
            .field("title_chars", &self.title.chars().count())
            .field("description_chars", &self.description.chars().count())
            .finish()
    }
}

impl ProjectText {
    /// `SHA-256(tag ‖ 0 ‖ salt ‖ len(title) ‖ title ‖ len(description) ‖ description)`.
    pub fn commitment(&self) -> Commitment {
        commit(
            PROJECT_TEXT_TAG,
            &self.salt,
            &[&self.title, &self.description],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_is_the_documented_hash_and_binds_every_part() {
        let text = PetitionText {
            salt: Salt([7; 32]),
            title: "Сквер".into(),
            text: "Зберегти сквер.".into(),
        };
        // Recomputed by hand, as FORMAT.md describes it.
        let mut bytes = b"vidkryto/petition-text/v1\0".to_vec();
        bytes.extend([7u8; 32]);
        for part in ["Сквер", "Зберегти сквер."] {
            bytes.extend((part.len() as u64).to_be_bytes());
            bytes.extend(part.as_bytes());
        }
        assert_eq!(
            text.commitment().0,
            <[u8; 32]>::from(Sha256::digest(&bytes))
        );
        // The split between title and text is bound, and so is the salt.
        let moved = PetitionText {
            title: "Сквер Зберегти".into(),
            text: "сквер.".into(),
            ..text.clone()
        };
        assert_ne!(moved.commitment(), text.commitment());
        let resalted = PetitionText {
            salt: Salt([8; 32]),
            ..text.clone()
        };
        assert_ne!(resalted.commitment(), text.commitment());
        let printed = format!("{text:?}");
        assert!(
            !printed.contains("Зберегти") && !printed.contains("Сквер"),
            "{printed}"
        );
    }
}
