//! Who acted for the council: every official event (a moderation, an answer, a dialogue or
//! action-plan step) records the role whose permission the command needed and a pseudonym of
//! the staff member or machine client who sent it, so a council's act is attributable inside
//! the hromada without a person's name entering the log.
//!
//! ```text
//! key = HMAC-SHA-256(node_secret, "vidkryto/staff-key/v1")
//! tag = HMAC-SHA-256(key, the principal's subject at the node)
//! ```
//!
//! Unlike a resident's tag, a staff tag is the same in every event of one node: the council
//! can tell which of its staff acted (it holds the secret and knows its staff), the public sees
//! only that the same official acted again. The field is the last of each official payload,
//! added as a schema version of its own; events recorded before it, and those the node records
//! by itself (its clock closing a collection), carry `None`.

use serde::{Deserialize, Serialize};

use crate::pseudonym::{NodeSecret, PseudonymTag, hmac_sha256};

/// Label of the staff key derivation; a new label is a new scheme.
const STAFF_KEY_LABEL: &[u8] = b"vidkryto/staff-key/v1";

/// The council role whose permission an official command needed. Stored as its variant index:
/// append only, never reordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StaffRole {
    /// Publishes or rejects filed petitions.
    Moderator,
    /// Answers petitions and reports on them; runs dialogues and answers contributions.
    Official,
    /// Keeps the OGP Local action plan.
    Coordinator,
    /// Runs the node.
    Administrator,
}

impl StaffRole {
    pub const ALL: [StaffRole; 4] = [
        Self::Moderator,
        Self::Official,
        Self::Coordinator,
        Self::Administrator,
    ];

    /// Its name in tokens, files, flags and views.
    pub fn name(self) -> &'static str {
        match self {
            Self::Moderator => "moderator",
            Self::Official => "official",
            Self::Coordinator => "coordinator",
            Self::Administrator => "administrator",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What kind of principal acted. Append only, never reordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActorKind {
    /// A member of the council's staff, signed in.
    Staff,
    /// A machine client (an e-petition platform feeding the node).
    Client,
}

/// Who acted for the council in an official event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub role: StaffRole,
    pub kind: ActorKind,
    /// [`staff_tag`] of the principal's subject.
    pub tag: PseudonymTag,
}

/// The tag of the staff member or machine client whose subject at the node is `subject` (one
/// form per principal: `oidc:…`, `account:…`, `client:…`), the same in every event of the node.
pub fn staff_tag(secret: &NodeSecret, subject: &str) -> PseudonymTag {
    let key = hmac_sha256(secret.bytes(), &[STAFF_KEY_LABEL]);
    PseudonymTag(hmac_sha256(&key, &[subject.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_tags_follow_the_documented_construction_and_are_keyed() {
        let secret = NodeSecret::from_bytes([7; 32]);
        let key = hmac_sha256(&[7; 32], &[b"vidkryto/staff-key/v1"]);
        let expected = hmac_sha256(&key, &[b"account:olena"]);
        assert_eq!(staff_tag(&secret, "account:olena").0, expected);
        assert_eq!(
            staff_tag(&secret, "account:olena"),
            staff_tag(&secret, "account:olena"),
            "one staff member has one tag"
        );
        assert_ne!(
            staff_tag(&secret, "account:olena"),
            staff_tag(&secret, "account:petro")
        );
        assert_ne!(
            staff_tag(&secret, "account:olena"),
            staff_tag(&NodeSecret::from_bytes([8; 32]), "account:olena"),
            "another node's tag of the same person is unrelated"
        );
    }

    #[test]
    fn role_names_round_trip() {
        for role in StaffRole::ALL {
            assert_eq!(StaffRole::parse(role.name()), Some(role));
        }
        assert_eq!(StaffRole::parse("mayor"), None);
    }
}
