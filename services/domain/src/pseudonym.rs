//! Pseudonyms: how a person appears in events without their identity ever entering the log.
//!
//! A signer of a petition (or the author of a petition or a dialogue contribution) is recorded
//! as a 32-byte tag:
//!
//! ```text
//! key = HMAC-SHA-256(node_secret, "vidkryto/petition-key/v1" || petition_id)
//! tag = HMAC-SHA-256(key, verified identity subject)
//! ```
//!
//! where `petition_id` is the id's 16 raw bytes and `key` is 32 bytes, like the tag (dialogues
//! use the label `vidkryto/dialogue-key/v1` and the dialogue id). The same person
//! on the same petition always gets the same tag, so a second signature is caught; the tag
//! reveals nothing outside the node, and tags of one person on two petitions are unrelated.
//!
//! # Why a plain hash is not enough
//!
//! - **Dictionary attack.** The space of identities is small and structured: a tax number
//!   (РНОКПП) has 10 digits, and a verified-identity subject from an identity provider is
//!   similarly guessable or already held by many parties. Anyone with the log could hash every
//!   candidate (10^10 SHA-256 runs take minutes on one GPU) and reverse `SHA-256(subject)` back
//!   to the person. A keyed hash cannot be computed without the node's secret, which never
//!   leaves the node, so the log alone reveals nothing.
//! - **Linkage across petitions.** `SHA-256(subject)` is the same on every petition, so anyone
//!   could follow one person's signatures across the whole federation and build a profile of
//!   their civic activity, even without reversing it. Deriving a separate key per petition
//!   makes one person's tags on different petitions unrelated to anyone without the secret;
//!   even salting with the petition id is not enough, because salts are public and the
//!   dictionary attack above still works per petition.
//!
//! HMAC (rather than `SHA-256(secret || data)`) is the standard keyed construction and is not
//! open to length extension. The subject must be given in one canonical form (the identity
//! provider's stable subject identifier, exactly as verified), or one person gets two tags.

use std::fmt;

use event_store_core::Timestamp;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{DialogueId, PetitionId, RoundId};

/// Length of the node's pseudonym secret in bytes (the HMAC-SHA-256 output size: longer adds
/// nothing, shorter weakens it).
pub const NODE_SECRET_LEN: usize = 32;

/// Label of the per-petition key derivation; a new label is a new scheme.
const PETITION_KEY_LABEL: &[u8] = b"vidkryto/petition-key/v1";

/// Label of the per-dialogue key derivation.
const DIALOGUE_KEY_LABEL: &[u8] = b"vidkryto/dialogue-key/v1";

/// Labels of the per-round key derivations of participatory budgets: voters' and authors'
/// tags are under different keys, so an author known by name does not reveal their ballot.
const BUDGET_VOTER_KEY_LABEL: &[u8] = b"vidkryto/budget-voter-key/v1";
const BUDGET_AUTHOR_KEY_LABEL: &[u8] = b"vidkryto/budget-author-key/v1";

/// Label of the seed of the node's own request to close a collection.
const CLOSE_REQUEST_LABEL: &[u8] = b"vidkryto/close-collection-request/v1";

/// The node's secret for pseudonyms. Its `Debug` never prints it, and it is never serialised.
///
/// Losing it means a person signing again gets a new tag (duplicates are no longer caught);
/// leaking it allows the dictionary attack described in the module docs. Keep it with the
/// node's signing key.
#[derive(Clone)]
pub struct NodeSecret([u8; NODE_SECRET_LEN]);

impl NodeSecret {
    /// Wraps the secret's bytes.
    pub const fn from_bytes(bytes: [u8; NODE_SECRET_LEN]) -> Self {
        Self(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; NODE_SECRET_LEN] {
        &self.0
    }
}

impl fmt::Debug for NodeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeSecret(..)")
    }
}

/// A person's pseudonym inside one petition or dialogue.
///
/// Encoded by postcard as 32 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PseudonymTag(pub [u8; 32]);

impl fmt::Display for PseudonymTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for PseudonymTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PseudonymTag({self})")
    }
}

/// The tag of the person with verified identity `subject` on petition `petition`: as signer,
/// and as author when they file it.
pub fn petition_tag(secret: &NodeSecret, petition: PetitionId, subject: &str) -> PseudonymTag {
    scoped_tag(secret, PETITION_KEY_LABEL, petition.as_bytes(), subject)
}

/// The tag of the person with verified identity `subject` in dialogue `dialogue`, as author of
/// contributions.
pub fn dialogue_tag(secret: &NodeSecret, dialogue: DialogueId, subject: &str) -> PseudonymTag {
    scoped_tag(secret, DIALOGUE_KEY_LABEL, dialogue.as_bytes(), subject)
}

/// The tag of the person with verified identity `subject` as a voter in participatory budget
/// round `round` (one ballot per round). Tags of one person in two rounds are unrelated.
pub fn budget_voter_tag(secret: &NodeSecret, round: RoundId, subject: &str) -> PseudonymTag {
    scoped_tag(secret, BUDGET_VOTER_KEY_LABEL, round.as_bytes(), subject)
}

/// The tag of the person with verified identity `subject` as an author of projects in round
/// `round`; unrelated to their voter tag.
pub fn budget_author_tag(secret: &NodeSecret, round: RoundId, subject: &str) -> PseudonymTag {
    scoped_tag(secret, BUDGET_AUTHOR_KEY_LABEL, round.as_bytes(), subject)
}

/// The seed of the request id with which the node itself closes `petition`'s collection due at
/// `closes_at`:
///
/// ```text
/// HMAC-SHA-256(node_secret, "vidkryto/close-collection-request/v1" || petition_id || closes_at)
/// ```
///
/// with the id's 16 raw bytes and `closes_at` as 8 big-endian bytes of microseconds. It is the
/// same across restarts (so the close happens once) and cannot be computed without the
/// secret, so no client can send a command under that id first.
pub fn close_request_seed(
    secret: &NodeSecret,
    petition: PetitionId,
    closes_at: Timestamp,
) -> [u8; 32] {
    // Label, id and time have fixed lengths, so their concatenation is unambiguous.
    hmac_sha256(
        &secret.0,
        &[
            CLOSE_REQUEST_LABEL,
            petition.as_bytes(),
            &closes_at.0.to_be_bytes(),
        ],
    )
}

fn scoped_tag(secret: &NodeSecret, label: &[u8], scope: &[u8; 16], subject: &str) -> PseudonymTag {
    // Label and scope have fixed lengths, so their concatenation is unambiguous.
    let key = hmac_sha256(&secret.0, &[label, scope]);
    PseudonymTag(hmac_sha256(&key, &[subject.as_bytes()]))
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn debug_never_prints_the_secret() {
        let secret = NodeSecret::from_bytes([0xab; NODE_SECRET_LEN]);
        let printed = format!("{secret:?}");
        assert_eq!(printed, "NodeSecret(..)");
        assert!(!printed.contains("ab"));
    }

    #[test]
    fn matches_the_documented_construction() {
        // Recomputed by hand from the formula in the module docs.
        let secret = NodeSecret::from_bytes([7; NODE_SECRET_LEN]);
        let petition = PetitionId(Uuid::from_u128(42));
        let key = hmac_sha256(
            &[7; 32],
            &[b"vidkryto/petition-key/v1", petition.as_bytes()],
        );
        let expected = hmac_sha256(&key, &[b"subject-1"]);
        assert_eq!(petition_tag(&secret, petition, "subject-1").0, expected);
    }

    #[test]
    fn close_request_seeds_are_keyed_and_follow_the_documented_construction() {
        let petition = PetitionId(Uuid::from_u128(42));
        let at = Timestamp(1_700_000_000_000_000);
        let seed = close_request_seed(&NodeSecret::from_bytes([7; NODE_SECRET_LEN]), petition, at);
        let expected = hmac_sha256(
            &[7; 32],
            &[
                b"vidkryto/close-collection-request/v1",
                petition.as_bytes(),
                &at.0.to_be_bytes(),
            ],
        );
        assert_eq!(seed, expected);
        let other = NodeSecret::from_bytes([8; NODE_SECRET_LEN]);
        assert_ne!(seed, close_request_seed(&other, petition, at));
        assert_ne!(
            seed,
            close_request_seed(
                &NodeSecret::from_bytes([7; 32]),
                petition,
                Timestamp(at.0 + 1)
            )
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let tag = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(PseudonymTag(tag).to_string(), expected);
    }
}
