//! The node's operations as a library, independent of gRPC: each command of the domain turned
//! into an execution on the right stream, with pseudonyms derived here so a verified identity
//! never goes further; queries of the node's own petitions, dialogues and plans.

use std::sync::{Arc, RwLock};

use domain::action_plan::{
    ActionPlanCommand, ActionPlanEvent, ImplementationStatus, OgpValue, OpenedGovernment,
};
use domain::calendar::{CALENDAR_STREAM_ID, CalendarCommand};
use domain::dialogue::{ContributionResponse, DialogueCommand, DialogueEvent, DialogueKind};
use domain::petition::{AnswerDecision, PetitionCommand, PetitionEvent, StatuteRule};
use domain::{
    ActionPlan, Calendar, CivilDate, CommitmentId, ContributionId, Dialogue, DialogueId,
    MilestoneId, NodeSecret, Petition, PetitionId, PlanId, WorkingCalendar, dialogue_tag,
    petition_tag,
};
use event_store::{Backend, Log};
use event_store_core::{EnvelopeRef, LogSeq, StreamId, StreamVersion, Timestamp};
use uuid::Uuid;

use crate::error::NodeError;
use crate::executor::{Clock, Executor, Outcome};

/// Events scanned per query while building the index at start-up.
const INDEX_SCAN_CHUNK: u32 = 10_000;

/// The streams of each kind, in order of creation, for listing.
#[derive(Debug, Default)]
struct Index {
    petitions: Vec<StreamId>,
    dialogues: Vec<StreamId>,
    plans: Vec<StreamId>,
}

/// Which list a stream-creating event type belongs to.
fn created_kind(code: u16) -> Option<Kind> {
    match domain::EventType::from_code(code)? {
        domain::EventType::PetitionFiled => Some(Kind::Petition),
        domain::EventType::DialogueAnnounced => Some(Kind::Dialogue),
        domain::EventType::PlanAdopted => Some(Kind::Plan),
        _ => None,
    }
}

/// The kinds of listed streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Petition,
    Dialogue,
    Plan,
}

/// A petition as the node shows it.
#[derive(Clone, Debug)]
pub struct PetitionView {
    pub filed: Option<domain::petition::PetitionFiled>,
    pub state: domain::petition::PetitionState,
    pub version: StreamVersion,
}

/// A dialogue as the node shows it.
#[derive(Clone, Debug)]
pub struct DialogueView {
    pub announced: Option<domain::dialogue::DialogueAnnounced>,
    pub state: domain::dialogue::DialogueState,
    pub version: StreamVersion,
}

/// A milestone with its title, as the node shows it.
#[derive(Clone, Debug)]
pub struct MilestoneView {
    pub id: MilestoneId,
    pub commitment: CommitmentId,
    pub title: String,
    pub due: CivilDate,
    pub status: Option<ImplementationStatus>,
    pub overdue: bool,
}

/// An action plan as the node shows it.
#[derive(Clone, Debug)]
pub struct PlanView {
    pub adopted: Option<domain::action_plan::PlanAdopted>,
    pub state: domain::action_plan::ActionPlanState,
    pub milestones: Vec<MilestoneView>,
    pub version: StreamVersion,
}

/// The node's operations over its log.
pub struct NodeCore<B: Backend> {
    exec: Executor<B>,
    secret: NodeSecret,
    statute: StatuteRule,
    index: RwLock<Index>,
}

impl<B: Backend> std::fmt::Debug for NodeCore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCore")
            .field("statute", &self.statute)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> NodeCore<B> {
    /// Opens the node's operations over `log`: builds the index of its streams and records the
    /// calendar of non-working dates in force if it differs from the log's.
    pub async fn open(
        log: Arc<Log<B>>,
        secret: NodeSecret,
        statute: StatuteRule,
        non_working_dates: Vec<CivilDate>,
        clock: Clock,
    ) -> Result<Self, NodeError> {
        let core = Self {
            exec: Executor::new(log, clock),
            secret,
            statute,
            index: RwLock::new(Index::default()),
        };
        core.build_index().await?;
        core.set_calendar(non_working_dates).await?;
        Ok(core)
    }

    /// The executor (for the scheduler and tests).
    pub fn executor(&self) -> &Executor<B> {
        &self.exec
    }

    /// The log.
    pub fn log(&self) -> &Arc<Log<B>> {
        self.exec.log()
    }

    /// The statute's petition rule in force.
    pub fn statute(&self) -> StatuteRule {
        self.statute
    }

    async fn build_index(&self) -> Result<(), NodeError> {
        let mut index = Index::default();
        let mut from = 1u64;
        loop {
            let rows = self.log().read(LogSeq(from), INDEX_SCAN_CHUNK).await?;
            let Some(last) = rows.last() else { break };
            from = last.seq.0 + 1;
            if let Ok(env) = EnvelopeRef::decode(&last.bytes) {
                // Commands are never dated before what the log already holds.
                self.exec.not_before(env.recorded_at);
            }
            for row in &rows {
                if row.stream_version.0 != 1 {
                    continue;
                }
                let env = EnvelopeRef::decode(&row.bytes)
                    .map_err(|e| NodeError::Internal(e.to_string()))?;
                match created_kind(env.event_type.0) {
                    Some(Kind::Petition) => index.petitions.push(row.stream_id),
                    Some(Kind::Dialogue) => index.dialogues.push(row.stream_id),
                    Some(Kind::Plan) => index.plans.push(row.stream_id),
                    None => {}
                }
            }
        }
        *self
            .index
            .write()
            .map_err(|_| NodeError::Internal("index poisoned".into()))? = index;
        Ok(())
    }

    fn note_created(&self, kind: Kind, outcome: &Outcome) -> Result<(), NodeError> {
        if outcome.deduplicated || outcome.first_seq.0 == 0 {
            return Ok(());
        }
        let mut index = self
            .index
            .write()
            .map_err(|_| NodeError::Internal("index poisoned".into()))?;
        let list = match kind {
            Kind::Petition => &mut index.petitions,
            Kind::Dialogue => &mut index.dialogues,
            Kind::Plan => &mut index.plans,
        };
        list.push(outcome.stream);
        Ok(())
    }

    /// The streams of one kind, oldest first.
    pub fn list(&self, kind: Kind) -> Result<Vec<StreamId>, NodeError> {
        let index = self
            .index
            .read()
            .map_err(|_| NodeError::Internal("index poisoned".into()))?;
        Ok(match kind {
            Kind::Petition => index.petitions.clone(),
            Kind::Dialogue => index.dialogues.clone(),
            Kind::Plan => index.plans.clone(),
        })
    }

    /// The working calendar in force (as recorded in the log).
    pub async fn calendar(&self) -> Result<WorkingCalendar, NodeError> {
        let (state, _) = self
            .exec
            .load::<Calendar>(StreamId(CALENDAR_STREAM_ID))
            .await?;
        Ok(state.calendar)
    }

    /// Records the hromada's list of non-working dates if it changed.
    pub async fn set_calendar(&self, dates: Vec<CivilDate>) -> Result<Outcome, NodeError> {
        let request = Uuid::now_v7();
        self.exec
            .execute::<Calendar, _>(request, StreamId(CALENDAR_STREAM_ID), |_, at| {
                Ok(CalendarCommand::SetNonWorkingDates {
                    dates: dates.clone(),
                    at,
                })
            })
            .await
    }

    // ---- petitions ----

    /// Files a petition; its id is the request id.
    pub async fn file_petition(
        &self,
        request: Uuid,
        author_subject: &str,
        title: String,
        text: String,
        category: String,
    ) -> Result<Outcome, NodeError> {
        let petition = PetitionId(request);
        let author = petition_tag(&self.secret, petition, author_subject);
        let calendar = self.calendar().await?;
        let outcome = self
            .exec
            .execute::<Petition, _>(request, StreamId(request), |_, at| {
                Ok(PetitionCommand::File {
                    petition_id: petition,
                    author,
                    title: title.clone(),
                    text: text.clone(),
                    category: category.clone(),
                    at,
                    calendar: calendar.clone(),
                })
            })
            .await?;
        self.note_created(Kind::Petition, &outcome)?;
        Ok(outcome)
    }

    async fn petition_command(
        &self,
        request: Uuid,
        petition: PetitionId,
        make: impl Fn(Timestamp) -> PetitionCommand,
    ) -> Result<Outcome, NodeError> {
        self.exec
            .execute::<Petition, _>(request, StreamId(petition.0), |_, at| Ok(make(at)))
            .await
    }

    /// Publishes a petition under the statute's rule in force.
    pub async fn publish_petition(
        &self,
        request: Uuid,
        petition: PetitionId,
    ) -> Result<Outcome, NodeError> {
        let rule = self.statute;
        self.petition_command(request, petition, |at| PetitionCommand::Publish {
            rule,
            at,
        })
        .await
    }

    /// Rejects a petition at moderation.
    pub async fn reject_petition(
        &self,
        request: Uuid,
        petition: PetitionId,
        reason: String,
    ) -> Result<Outcome, NodeError> {
        self.petition_command(request, petition, |at| PetitionCommand::Reject {
            reason: reason.clone(),
            at,
        })
        .await
    }

    /// Signs a petition for a verified person; only their pseudonym is recorded.
    pub async fn sign_petition(
        &self,
        request: Uuid,
        petition: PetitionId,
        signer_subject: &str,
    ) -> Result<Outcome, NodeError> {
        let signer = petition_tag(&self.secret, petition, signer_subject);
        self.petition_command(request, petition, |at| PetitionCommand::Sign { signer, at })
            .await
    }

    /// Closes a collection that ended without reaching its threshold (the scheduler's command).
    pub async fn close_collection(
        &self,
        request: Uuid,
        petition: PetitionId,
    ) -> Result<Outcome, NodeError> {
        self.petition_command(request, petition, |at| PetitionCommand::CloseCollection {
            at,
        })
        .await
    }

    /// Starts considering a petition that reached its threshold.
    pub async fn start_consideration(
        &self,
        request: Uuid,
        petition: PetitionId,
    ) -> Result<Outcome, NodeError> {
        let calendar = self.calendar().await?;
        self.petition_command(request, petition, |at| {
            PetitionCommand::StartConsideration {
                at,
                calendar: calendar.clone(),
            }
        })
        .await
    }

    /// Answers a petition.
    pub async fn answer_petition(
        &self,
        request: Uuid,
        petition: PetitionId,
        decision: AnswerDecision,
        response: String,
        responder_role: String,
    ) -> Result<Outcome, NodeError> {
        self.petition_command(request, petition, |at| PetitionCommand::Answer {
            decision,
            response: response.clone(),
            responder_role: responder_role.clone(),
            at,
        })
        .await
    }

    /// Reports progress implementing a supported petition.
    pub async fn report_implementation(
        &self,
        request: Uuid,
        petition: PetitionId,
        text: String,
    ) -> Result<Outcome, NodeError> {
        self.petition_command(request, petition, |at| {
            PetitionCommand::ReportImplementation {
                text: text.clone(),
                at,
            }
        })
        .await
    }

    /// A petition's view.
    pub async fn petition(&self, petition: PetitionId) -> Result<PetitionView, NodeError> {
        let stream = StreamId(petition.0);
        let (state, version) = self.exec.load::<Petition>(stream).await?;
        if version.0 == 0 {
            return Err(NodeError::NotFound("petition"));
        }
        let first = self.log().read_stream(stream, StreamVersion(1), 1).await?;
        let filed = match first.first().map(|r| self.decode(r)).transpose()? {
            Some(domain::Event::Petition(PetitionEvent::Filed(f))) => Some(f),
            _ => None,
        };
        Ok(PetitionView {
            filed,
            state,
            version,
        })
    }

    fn decode(&self, row: &event_store::EventRow) -> Result<domain::Event, NodeError> {
        let env =
            EnvelopeRef::decode(&row.bytes).map_err(|e| NodeError::Internal(e.to_string()))?;
        domain::decode(env.event_type.0, env.schema_version.0, env.payload)
            .map_err(|e| NodeError::Internal(e.to_string()))
    }

    // ---- dialogues ----

    /// Announces a dialogue; its id is the request id.
    #[allow(clippy::too_many_arguments)]
    pub async fn announce_dialogue(
        &self,
        request: Uuid,
        kind: DialogueKind,
        topic: String,
        organiser: String,
        opens_at: Timestamp,
        closes_at: Timestamp,
    ) -> Result<Outcome, NodeError> {
        let dialogue = DialogueId(request);
        let outcome = self
            .exec
            .execute::<Dialogue, _>(request, StreamId(request), |_, at| {
                Ok(DialogueCommand::Announce {
                    dialogue_id: dialogue,
                    kind,
                    topic: topic.clone(),
                    organiser: organiser.clone(),
                    opens_at,
                    closes_at,
                    at,
                })
            })
            .await?;
        self.note_created(Kind::Dialogue, &outcome)?;
        Ok(outcome)
    }

    async fn dialogue_command(
        &self,
        request: Uuid,
        dialogue: DialogueId,
        make: impl Fn(Timestamp) -> DialogueCommand,
    ) -> Result<Outcome, NodeError> {
        self.exec
            .execute::<Dialogue, _>(request, StreamId(dialogue.0), |_, at| Ok(make(at)))
            .await
    }

    /// Submits a contribution for a verified person; its id is the request id.
    pub async fn submit_contribution(
        &self,
        request: Uuid,
        dialogue: DialogueId,
        author_subject: &str,
        text: String,
    ) -> Result<Outcome, NodeError> {
        let author = dialogue_tag(&self.secret, dialogue, author_subject);
        let contribution_id = ContributionId(request);
        self.dialogue_command(request, dialogue, |at| {
            DialogueCommand::SubmitContribution {
                contribution_id,
                author,
                text: text.clone(),
                at,
            }
        })
        .await
    }

    /// Answers a contribution.
    pub async fn answer_contribution(
        &self,
        request: Uuid,
        dialogue: DialogueId,
        contribution_id: ContributionId,
        response: ContributionResponse,
        reason: String,
    ) -> Result<Outcome, NodeError> {
        self.dialogue_command(request, dialogue, |at| {
            DialogueCommand::AnswerContribution {
                contribution_id,
                response,
                reason: reason.clone(),
                at,
            }
        })
        .await
    }

    /// Closes a dialogue.
    pub async fn close_dialogue(
        &self,
        request: Uuid,
        dialogue: DialogueId,
        attendance_count: u32,
        participating_organisations: Vec<String>,
    ) -> Result<Outcome, NodeError> {
        self.dialogue_command(request, dialogue, |at| DialogueCommand::Close {
            attendance_count,
            participating_organisations: participating_organisations.clone(),
            at,
        })
        .await
    }

    /// Publishes a closed dialogue's outcome report.
    pub async fn publish_outcome(
        &self,
        request: Uuid,
        dialogue: DialogueId,
        report: String,
        council_decision_ref: Option<String>,
    ) -> Result<Outcome, NodeError> {
        self.dialogue_command(request, dialogue, |at| DialogueCommand::PublishOutcome {
            report: report.clone(),
            council_decision_ref: council_decision_ref.clone(),
            at,
        })
        .await
    }

    /// A dialogue's view.
    pub async fn dialogue(&self, dialogue: DialogueId) -> Result<DialogueView, NodeError> {
        let stream = StreamId(dialogue.0);
        let (state, version) = self.exec.load::<Dialogue>(stream).await?;
        if version.0 == 0 {
            return Err(NodeError::NotFound("dialogue"));
        }
        let first = self.log().read_stream(stream, StreamVersion(1), 1).await?;
        let announced = match first.first().map(|r| self.decode(r)).transpose()? {
            Some(domain::Event::Dialogue(DialogueEvent::Announced(a))) => Some(a),
            _ => None,
        };
        Ok(DialogueView {
            announced,
            state,
            version,
        })
    }

    // ---- action plans ----

    /// Adopts an action plan; its id is the request id.
    pub async fn adopt_plan(
        &self,
        request: Uuid,
        title: String,
        period_start: CivilDate,
        period_end: CivilDate,
        council_decision: String,
    ) -> Result<Outcome, NodeError> {
        let plan_id = PlanId(request);
        let outcome = self
            .exec
            .execute::<ActionPlan, _>(request, StreamId(request), |_, at| {
                Ok(ActionPlanCommand::Adopt {
                    plan_id,
                    title: title.clone(),
                    period_start,
                    period_end,
                    council_decision: council_decision.clone(),
                    at,
                })
            })
            .await?;
        self.note_created(Kind::Plan, &outcome)?;
        Ok(outcome)
    }

    async fn plan_command(
        &self,
        request: Uuid,
        plan: PlanId,
        make: impl Fn(Timestamp) -> ActionPlanCommand,
    ) -> Result<Outcome, NodeError> {
        self.exec
            .execute::<ActionPlan, _>(request, StreamId(plan.0), |_, at| Ok(make(at)))
            .await
    }

    /// Adds a commitment; its id is the request id.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_commitment(
        &self,
        request: Uuid,
        plan: PlanId,
        title: String,
        description: String,
        lead_institution: String,
        values: Vec<OgpValue>,
        start: CivilDate,
        end: CivilDate,
    ) -> Result<Outcome, NodeError> {
        let commitment_id = CommitmentId(request);
        self.plan_command(request, plan, |at| ActionPlanCommand::AddCommitment {
            commitment_id,
            title: title.clone(),
            description: description.clone(),
            lead_institution: lead_institution.clone(),
            values: values.clone(),
            start,
            end,
            at,
        })
        .await
    }

    /// Adds a milestone; its id is the request id.
    pub async fn add_milestone(
        &self,
        request: Uuid,
        plan: PlanId,
        commitment_id: CommitmentId,
        title: String,
        due: CivilDate,
    ) -> Result<Outcome, NodeError> {
        let milestone_id = MilestoneId(request);
        self.plan_command(request, plan, |at| ActionPlanCommand::AddMilestone {
            commitment_id,
            milestone_id,
            title: title.clone(),
            due,
            at,
        })
        .await
    }

    /// Reports progress on a milestone.
    pub async fn report_progress(
        &self,
        request: Uuid,
        plan: PlanId,
        milestone_id: MilestoneId,
        status: ImplementationStatus,
        evidence_link: Option<String>,
    ) -> Result<Outcome, NodeError> {
        self.plan_command(request, plan, |at| ActionPlanCommand::ReportProgress {
            milestone_id,
            status,
            evidence_link: evidence_link.clone(),
            at,
        })
        .await
    }

    /// Assesses a commitment.
    pub async fn assess_commitment(
        &self,
        request: Uuid,
        plan: PlanId,
        commitment_id: CommitmentId,
        completion: ImplementationStatus,
        opened_government: OpenedGovernment,
    ) -> Result<Outcome, NodeError> {
        self.plan_command(request, plan, |at| ActionPlanCommand::AssessCommitment {
            commitment_id,
            completion,
            opened_government,
            at,
        })
        .await
    }

    /// Closes a plan.
    pub async fn close_plan(&self, request: Uuid, plan: PlanId) -> Result<Outcome, NodeError> {
        self.plan_command(request, plan, |at| ActionPlanCommand::Close { at })
            .await
    }

    /// A plan's view, with every milestone's title and whether it is overdue today (Kyiv).
    pub async fn plan(&self, plan: PlanId) -> Result<PlanView, NodeError> {
        let stream = StreamId(plan.0);
        let (state, version) = self.exec.load::<ActionPlan>(stream).await?;
        if version.0 == 0 {
            return Err(NodeError::NotFound("action plan"));
        }
        let today = domain::kyiv_date(self.exec.now());
        let mut adopted = None;
        let mut milestones = Vec::new();
        let mut from = 1u64;
        loop {
            let rows = self
                .log()
                .read_stream(stream, StreamVersion(from), INDEX_SCAN_CHUNK)
                .await?;
            let Some(last) = rows.last() else { break };
            from = last.stream_version.0 + 1;
            for row in &rows {
                match self.decode(row)? {
                    domain::Event::ActionPlan(ActionPlanEvent::Adopted(a)) => adopted = Some(a),
                    domain::Event::ActionPlan(ActionPlanEvent::MilestoneAdded(m)) => {
                        let status = state.milestone(m.milestone_id).and_then(|s| s.status);
                        let overdue = state
                            .milestone_overdue(m.milestone_id, today)
                            .unwrap_or(false);
                        milestones.push(MilestoneView {
                            id: m.milestone_id,
                            commitment: m.commitment_id,
                            title: m.title,
                            due: m.due,
                            status,
                            overdue,
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(PlanView {
            adopted,
            state,
            milestones,
            version,
        })
    }
}
