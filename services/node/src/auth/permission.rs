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
    /// Answer petitions and report on them; run public dialogues and answer contributions.
    Answer,
    /// Keep the OGP Local action plan: adopt it, add commitments and milestones, report.
    Coordinate,
    /// Run the node itself.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Self::Participate,
        Self::Moderate,
        Self::Answer,
        Self::Coordinate,
        Self::Administer,
    ];

    /// Its name in files, flags and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Participate => "participate",
            Self::Moderate => "moderate",
            Self::Answer => "answer",
            Self::Coordinate => "coordinate",
            Self::Administer => "administer",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A council staff member's role, as the provider's roles claim names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Publishes or rejects filed petitions.
    Moderator,
    /// Answers petitions, runs dialogues.
    Official,
    /// Keeps the action plan.
    Coordinator,
    /// Runs the node.
    Administrator,
}

impl Role {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "moderator" => Self::Moderator,
            "official" => Self::Official,
            "coordinator" => Self::Coordinator,
            "administrator" => Self::Administrator,
            _ => return None,
        })
    }

    /// Its name in tokens, files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Self::Moderator => "moderator",
            Self::Official => "official",
            Self::Coordinator => "coordinator",
            Self::Administrator => "administrator",
        }
    }

    pub fn permission(self) -> Permission {
        match self {
            Self::Moderator => Permission::Moderate,
            Self::Official => Permission::Answer,
            Self::Coordinator => Permission::Coordinate,
            Self::Administrator => Permission::Administer,
        }
    }
}
