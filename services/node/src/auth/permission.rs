//! What a command needs its caller to be allowed, and the staff roles that grant it.

use serde::{Deserialize, Serialize};

/// What a command needs its caller to be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// File and sign petitions, contribute to dialogues: what every resident may.
    Participate,
    /// Publish or reject filed petitions.
    Moderate,
    /// Answer petitions and report on them; run public dialogues and answer contributions;
    /// review the projects of participatory budget rounds.
    Answer,
    /// Keep the OGP Local action plan: adopt it, add commitments and milestones, report; run
    /// participatory budget rounds (announce, declare results, fund, report, close).
    Coordinate,
    /// Run the node itself.
    Administer,
    /// Vouch, as a machine client, for a participant's date of birth and residence (a platform
    /// that verified them itself, such as `vidkryto dev`'s simulated residents): only the
    /// operator grants it, to a client; no staff role does.
    Attest,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Self::Participate,
        Self::Moderate,
        Self::Answer,
        Self::Coordinate,
        Self::Administer,
        Self::Attest,
    ];

    /// Its name in files, flags and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Participate => "participate",
            Self::Moderate => "moderate",
            Self::Answer => "answer",
            Self::Coordinate => "coordinate",
            Self::Administer => "administer",
            Self::Attest => "attest",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A council staff member's role, as the provider's roles claim names it: the domain's, which
/// official events record (see `domain::actor`).
pub use domain::StaffRole as Role;

/// The permission each role grants.
pub fn granted_by(role: Role) -> Permission {
    match role {
        Role::Moderator => Permission::Moderate,
        Role::Official => Permission::Answer,
        Role::Coordinator => Permission::Coordinate,
        Role::Administrator => Permission::Administer,
    }
}

impl Permission {
    /// The staff role that grants this permission; `None` for a resident's.
    pub fn role(self) -> Option<Role> {
        Role::ALL.into_iter().find(|r| granted_by(*r) == self)
    }
}
