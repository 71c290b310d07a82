//! Newtype identifiers of the domain's aggregates and their parts, so a petition id can never be
//! passed where a dialogue id is expected. The ids are chosen by the caller (UUIDv7 at the node)
//! and passed in through commands: the domain never generates one.

// Each id is encoded by postcard as a 16-byte string (a length byte, then the bytes).
use event_store_core::uuid_id as domain_id;

domain_id!(
    /// A petition, and the id of its stream.
    PetitionId
);
domain_id!(
    /// A public dialogue (consultation, hearing, round table…), and the id of its stream.
    DialogueId
);
domain_id!(
    /// An OGP-Local action plan, and the id of its stream.
    PlanId
);
domain_id!(
    /// A commitment inside an action plan.
    CommitmentId
);
domain_id!(
    /// A milestone inside a commitment.
    MilestoneId
);
domain_id!(
    /// A contribution submitted to a dialogue.
    ContributionId
);
domain_id!(
    /// A participatory budget round, and the id of its stream.
    RoundId
);
domain_id!(
    /// A project submitted to a participatory budget round.
    ProjectId
);
domain_id!(
    /// A member of an action plan's local forum (an organisation's or a body's seat, never a
    /// person).
    ForumMemberId
);
