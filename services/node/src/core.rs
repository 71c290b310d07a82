//! The node's operations as a library, independent of gRPC: each command of the domain turned
//! into an execution on the right stream, with pseudonyms derived here so a verified identity
//! never goes further; queries of the node's own petitions, dialogues and plans.

use std::sync::{Arc, RwLock};

use domain::action_plan::{ActionPlanCommand, ActionPlanEvent, ImplementationStatus};
use domain::calendar::{CALENDAR_STREAM_ID, CalendarCommand};
use domain::dialogue::{ContributionResponse, DialogueCommand, DialogueEvent};
use domain::disclosure::ContributionText;
use domain::petition::{PetitionCommand, PetitionContent, PetitionEvent, StatuteRule};
use domain::{
    ActionPlan, Actor, Calendar, CivilDate, CommitmentId, ContributionId, Dialogue, DialogueId,
    ForumMemberId, MilestoneId, NodeSecret, Petition, PetitionId, PlanId, WorkingCalendar,
    dialogue_tag, petition_tag, staff_tag,
};
use event_store::{Backend, Log};
use event_store_core::{EnvelopeRef, LogSeq, StreamId, StreamVersion, Timestamp};
use uuid::Uuid;

use crate::command::{Acting, Action, DialogueStep, NodeCommand, PetitionStep, PlanStep};
use crate::error::NodeError;
use crate::executor::{Clock, Executor, Outcome, Recording, StreamAggregate, open_event};
use crate::texts::{TextOf, TextStore};

pub mod rounds;

/// Events scanned per query while building the index at start-up.
const INDEX_SCAN_CHUNK: u32 = 10_000;

/// The streams of each kind, in order of creation, for listing.
#[derive(Debug, Default)]
struct Index {
    petitions: Vec<StreamId>,
    dialogues: Vec<StreamId>,
    plans: Vec<StreamId>,
    rounds: Vec<StreamId>,
}

/// Which list a stream-creating event type belongs to.
fn created_kind(code: event_store_core::EventTypeCode) -> Option<Kind> {
    match domain::EventType::from_code(code)? {
        domain::EventType::PetitionFiled => Some(Kind::Petition),
        domain::EventType::DialogueAnnounced => Some(Kind::Dialogue),
        domain::EventType::PlanAdopted => Some(Kind::Plan),
        domain::EventType::RoundAnnounced => Some(Kind::Round),
        _ => None,
    }
}

/// The kinds of listed streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Petition,
    Dialogue,
    Plan,
    /// Participatory budget rounds.
    Round,
}

/// A petition as the node shows it.
#[derive(Clone, Debug)]
pub struct PetitionView {
    pub filed: Option<domain::petition::PetitionFiled>,
    pub state: domain::petition::PetitionState,
    pub version: StreamVersion,
    /// Its title and text: public once published (or filed in the clear under schema 1);
    /// before, only for those who may moderate ([`PetitionView::for_reader`]).
    pub text: Option<ShownText>,
    /// Why moderation rejected it.
    pub rejection_reason: Option<String>,
    /// Who published or rejected it, when the log records it.
    pub moderated_by: Option<Actor>,
    /// The council's answer.
    pub answer: Option<domain::petition::PetitionAnswered>,
    /// The latest implementation updates, oldest first (at most [`UPDATES_SHOWN`]).
    pub updates: Vec<domain::petition::ImplementationUpdated>,
}

/// Implementation updates a petition's view shows (the latest).
pub const UPDATES_SHOWN: u64 = 10;

impl DialogueView {
    /// The view as any reader sees it (a dialogue holds no text that is not public).
    pub fn for_reader(self, _may_moderate: bool) -> Self {
        self
    }
}

impl PlanView {
    /// The view as any reader sees it (a plan is the council's, public).
    pub fn for_reader(self, _may_moderate: bool) -> Self {
        self
    }
}

/// A contribution as the node shows it.
#[derive(Clone, Debug)]
pub struct ContributionView {
    pub id: ContributionId,
    pub text: Option<String>,
    pub public: bool,
    pub response: Option<ContributionResponse>,
    /// The council's reason for its response, with when it answered, once answered (and found
    /// within [`ANSWERS_SCAN_MAX`] events of the page).
    pub answer: Option<(String, Timestamp)>,
    pub submitted_at: Timestamp,
}

/// Events of a dialogue read for one page of its contributions.
pub const CONTRIBUTIONS_SCAN_MAX: u32 = 2_000;
/// Events read past a page of contributions looking for their answers (which come later in the
/// dialogue's stream): a call reads a bounded stretch of the log, whatever the dialogue's size.
pub const ANSWERS_SCAN_MAX: u64 = 20_000;

/// A petition's title and text, and whether they are public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownText {
    pub title: String,
    pub text: String,
    pub public: bool,
}

impl PetitionView {
    /// The view as a reader sees it: text that is not public is shown only to one who may
    /// moderate.
    pub fn for_reader(mut self, may_moderate: bool) -> Self {
        if self.text.as_ref().is_some_and(|t| !t.public) && !may_moderate {
            self.text = None;
        }
        self
    }
}

/// A dialogue as the node shows it.
#[derive(Clone, Debug)]
pub struct DialogueView {
    pub announced: Option<domain::dialogue::DialogueAnnounced>,
    pub state: domain::dialogue::DialogueState,
    pub version: StreamVersion,
    /// Its outcome report, once published.
    pub outcome: Option<domain::dialogue::OutcomeReportPublished>,
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
    /// The evidence of its latest progress report.
    pub evidence_link: Option<String>,
    /// Withdrawn: no more steps, never overdue.
    pub withdrawn: bool,
}

/// An action plan as the node shows it.
#[derive(Clone, Debug)]
pub struct PlanView {
    /// The title it was adopted or drafted with.
    pub title: String,
    /// The council's decision that adopted it (empty for a draft).
    pub council_decision: String,
    /// The local forum's seats as they joined.
    pub forum: Vec<domain::action_plan::ForumMemberJoined>,
    /// For a plan adopted from a draft, every proposal its adoption recorded.
    pub proposals: Vec<domain::action_plan::Proposal>,
    pub state: domain::action_plan::ActionPlanState,
    pub milestones: Vec<MilestoneView>,
    /// Every commitment as added, in order.
    pub commitments: Vec<domain::action_plan::CommitmentAdded>,
    pub version: StreamVersion,
}

/// Each budget round's events other than ballots, by stream, with the stream version read up
/// to: a round view reads only what came after (ballots, the bulk of a round, once).
type RoundEvents =
    std::collections::HashMap<StreamId, (u64, Arc<Vec<domain::budget::BudgetEvent>>)>;
/// Rounds whose events are kept; the cache is emptied when full.
const ROUND_EVENTS_CACHED_MAX: usize = 256;

/// The node's operations over its log.
pub struct NodeCore<B: Backend> {
    exec: Executor<B>,
    texts: TextStore,
    secret: NodeSecret,
    statute: StatuteRule,
    index: RwLock<Index>,
    /// Each round's events other than ballots, as far as read (the round view's cache).
    round_events: std::sync::Mutex<RoundEvents>,
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
        texts: TextStore,
        secret: NodeSecret,
        statute: StatuteRule,
        non_working_dates: Vec<CivilDate>,
        clock: Clock,
    ) -> Result<Self, NodeError> {
        let core = Self {
            exec: Executor::new(log, clock),
            texts,
            secret,
            statute,
            index: RwLock::new(Index::default()),
            round_events: std::sync::Mutex::default(),
        };
        core.build_index().await?;
        core.run(NodeCommand {
            request: Uuid::now_v7(),
            action: Action::SetNonWorkingDates {
                dates: non_working_dates,
            },
        })
        .await?;
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

    /// The node's secret, for deriving the request ids of the node's own commands (the
    /// scheduler's).
    pub(crate) fn secret(&self) -> &NodeSecret {
        &self.secret
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
                match created_kind(env.event_type) {
                    Some(Kind::Petition) => index.petitions.push(row.stream_id),
                    Some(Kind::Dialogue) => index.dialogues.push(row.stream_id),
                    Some(Kind::Plan) => index.plans.push(row.stream_id),
                    Some(Kind::Round) => index.rounds.push(row.stream_id),
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
            Kind::Round => &mut index.rounds,
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
            Kind::Round => index.rounds.clone(),
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

    /// Runs one command: derives the pseudonyms of verified identities, gathers what the
    /// domain command needs (the statute's rule, the calendar in force), and executes it on its
    /// stream, idempotently by its request id.
    pub async fn run(&self, command: NodeCommand) -> Result<Outcome, NodeError> {
        self.run_as(command, None).await
    }

    /// [`run`](Self::run) for a principal acting for the council: each official event the
    /// command records carries who acted, as a role and the keyed staff pseudonym of their
    /// subject (`domain::actor`), never the subject itself.
    pub async fn run_as(
        &self,
        command: NodeCommand,
        acting: Option<Acting>,
    ) -> Result<Outcome, NodeError> {
        let NodeCommand { request, action } = command;
        let records = Recording {
            first: action.first_event_type(),
            by: acting.map(|a| Actor {
                role: a.role,
                kind: a.kind,
                tag: staff_tag(&self.secret, a.subject.as_str()),
            }),
        };
        match action {
            Action::SetNonWorkingDates { dates } => {
                let stream = StreamId(CALENDAR_STREAM_ID);
                self.exec
                    .execute::<Calendar>(request, records, stream, move |at| {
                        CalendarCommand::SetNonWorkingDates {
                            dates: dates.clone(),
                            at,
                        }
                    })
                    .await
            }
            Action::FilePetition {
                author_subject,
                title,
                text,
                category,
            } => {
                let petition_id = PetitionId(request);
                let author = petition_tag(&self.secret, petition_id, author_subject.as_str());
                let calendar = self.calendar().await?;
                // Checked before it is kept anywhere; kept (with a fresh salt, or the first
                // one on a retry) before the filing records its commitment, and forgotten
                // again unless this command appends it.
                domain::petition::check_title_and_text(&title.0, &text.0)?;
                let (text, kept) = self
                    .texts
                    .keep_petition(petition_id, &title.0, &text.0)
                    .await?;
                let outcome = self
                    .create::<Petition>(Kind::Petition, request, records, move |at| {
                        PetitionCommand::File {
                            petition_id,
                            author,
                            text: text.clone(),
                            category: category.clone(),
                            at,
                            calendar: calendar.clone(),
                        }
                    })
                    .await;
                self.keep_if_appended(request, TextOf::Petition(petition_id), kept, outcome)
                    .await
            }
            Action::Petition(petition, step) => {
                self.run_petition(request, records, petition, step).await
            }
            Action::AnnounceDialogue {
                kind,
                topic,
                organiser,
                opens_at,
                closes_at,
            } => {
                let dialogue_id = DialogueId(request);
                self.create::<Dialogue>(Kind::Dialogue, request, records, move |at| {
                    DialogueCommand::Announce {
                        dialogue_id,
                        kind,
                        topic: topic.clone(),
                        organiser: organiser.clone(),
                        opens_at,
                        closes_at,
                        at,
                    }
                })
                .await
            }
            Action::SubmitContribution {
                dialogue,
                author_subject,
                text,
            } => {
                let stream = StreamId(dialogue.0);
                let contribution_id = ContributionId(request);
                let author = dialogue_tag(&self.secret, dialogue, author_subject.as_str());
                // As a petition's text: checked, kept, and forgotten unless appended.
                domain::dialogue::check_contribution_text(&text.0)?;
                let (text, kept) = self
                    .texts
                    .keep_contribution(contribution_id, &text.0)
                    .await?;
                let outcome = self
                    .exec
                    .execute::<Dialogue>(request, records, stream, move |at| {
                        DialogueCommand::SubmitContribution {
                            contribution_id,
                            author,
                            text: text.clone(),
                            at,
                        }
                    })
                    .await;
                self.keep_if_appended(
                    request,
                    TextOf::Contribution(contribution_id),
                    kept,
                    outcome,
                )
                .await
            }
            Action::Dialogue(dialogue, step) => {
                let stream = StreamId(dialogue.0);
                // An accepted contribution's kept text is disclosed with the answer.
                let text = match &step {
                    DialogueStep::AnswerContribution {
                        contribution_id,
                        response,
                        ..
                    } if *response != ContributionResponse::Rejected => {
                        self.texts.contribution(*contribution_id).await?
                    }
                    _ => None,
                };
                self.exec
                    .execute::<Dialogue>(request, records, stream, |at| {
                        Self::dialogue_command(&step, text.clone(), at)
                    })
                    .await
            }
            Action::AdoptPlan {
                title,
                period_start,
                period_end,
                council_decision,
            } => {
                let plan_id = PlanId(request);
                self.create::<ActionPlan>(Kind::Plan, request, records, move |at| {
                    ActionPlanCommand::Adopt {
                        plan_id,
                        title: title.clone(),
                        period_start,
                        period_end,
                        council_decision: council_decision.clone(),
                        at,
                    }
                })
                .await
            }
            Action::DraftPlan {
                title,
                period_start,
                period_end,
            } => {
                let plan_id = PlanId(request);
                self.create::<ActionPlan>(Kind::Plan, request, records, move |at| {
                    ActionPlanCommand::Draft {
                        plan_id,
                        title: title.clone(),
                        period_start,
                        period_end,
                        at,
                    }
                })
                .await
            }
            Action::Plan(plan, step) => {
                let stream = StreamId(plan.0);
                // Proposals are taken only as their dialogue's own record accepted them.
                let accepted = match &step {
                    PlanStep::TakeProposals { dialogue_id, .. } => {
                        let (dialogue, _) = self
                            .existing::<Dialogue>(StreamId(dialogue_id.0), "dialogue")
                            .await?;
                        dialogue
                            .contributions
                            .iter()
                            .filter(|(_, r)| {
                                matches!(
                                    r,
                                    Some(
                                        ContributionResponse::Accepted
                                            | ContributionResponse::PartlyAccepted
                                    )
                                )
                            })
                            .map(|(id, _)| *id)
                            .collect()
                    }
                    _ => std::collections::BTreeSet::new(),
                };
                self.exec
                    .execute::<ActionPlan>(request, records, stream, |at| {
                        plan_command(request, &step, &accepted, at)
                    })
                    .await
            }
            Action::AnnounceRound {
                title,
                council_decision,
                rules,
            } => {
                self.announce_round(request, records, title, council_decision, rules)
                    .await
            }
            Action::SubmitProject {
                round,
                author_subject,
                author,
                title,
                description,
                category,
                cost,
            } => {
                self.submit_project(
                    request,
                    records,
                    round,
                    author_subject,
                    author,
                    (title, description),
                    category,
                    cost,
                )
                .await
            }
            Action::Round(round, step) => self.run_round(request, records, round, step).await,
        }
    }

    /// Forgets a text this command kept when no event of the request is in the log (the
    /// command was refused), so no text is kept that the log does not commit to. A request
    /// whose event is there (appended now, or by a concurrent retry that used this text)
    /// keeps it.
    async fn keep_if_appended(
        &self,
        request: Uuid,
        of: TextOf,
        kept: bool,
        outcome: Result<Outcome, NodeError>,
    ) -> Result<Outcome, NodeError> {
        // A fresh append is in the log; only a refusal or an earlier result needs looking up.
        let appended = outcome.as_ref().is_ok_and(|o| !o.deduplicated);
        if kept
            && !appended
            && self
                .log()
                .backend()
                .event_by_id(event_store_core::EventId(request))
                .await?
                .is_none()
        {
            self.texts.forget(of).await?;
        }
        outcome
    }

    /// Executes a command that creates the stream whose id is the request id (recording an
    /// event of type `records` first), and lists it.
    async fn create<A: StreamAggregate>(
        &self,
        kind: Kind,
        request: Uuid,
        records: Recording,
        make: impl Fn(Timestamp) -> A::Command,
    ) -> Result<Outcome, NodeError> {
        let outcome = self
            .exec
            .execute::<A>(request, records, StreamId(request), make)
            .await?;
        self.note_created(kind, &outcome)?;
        Ok(outcome)
    }

    /// Runs a step on a filed petition: each step gathers what its rule needs (the statute's
    /// rule, the signer's pseudonym on this petition, the calendar in force) once, before the
    /// attempts; a signature, the busiest command, reads nothing but its own stream.
    async fn run_petition(
        &self,
        request: Uuid,
        records: Recording,
        petition: PetitionId,
        step: PetitionStep,
    ) -> Result<Outcome, NodeError> {
        let stream = StreamId(petition.0);
        match step {
            PetitionStep::Publish => {
                let rule = self.statute;
                let text = self.texts.petition(petition).await?;
                self.exec
                    .execute::<Petition>(request, records, stream, |at| PetitionCommand::Publish {
                        rule,
                        text: text.clone(),
                        at,
                    })
                    .await
            }
            PetitionStep::Reject { reason } => {
                self.exec
                    .execute::<Petition>(request, records, stream, |at| PetitionCommand::Reject {
                        reason: reason.clone(),
                        at,
                    })
                    .await
            }
            PetitionStep::Sign { signer_subject } => {
                let signer = petition_tag(&self.secret, petition, signer_subject.as_str());
                self.exec
                    .execute::<Petition>(request, records, stream, |at| PetitionCommand::Sign {
                        signer,
                        at,
                    })
                    .await
            }
            PetitionStep::CloseCollection => {
                self.exec
                    .execute::<Petition>(request, records, stream, |at| {
                        PetitionCommand::CloseCollection { at }
                    })
                    .await
            }
            PetitionStep::StartConsideration => {
                let calendar = self.calendar().await?;
                self.exec
                    .execute::<Petition>(request, records, stream, |at| {
                        PetitionCommand::StartConsideration {
                            at,
                            calendar: calendar.clone(),
                        }
                    })
                    .await
            }
            PetitionStep::Answer {
                decision,
                response,
                responder_role,
            } => {
                self.exec
                    .execute::<Petition>(request, records, stream, |at| PetitionCommand::Answer {
                        decision,
                        response: response.clone(),
                        responder_role: responder_role.clone(),
                        at,
                    })
                    .await
            }
            PetitionStep::ReportImplementation { text } => {
                self.exec
                    .execute::<Petition>(request, records, stream, |at| {
                        PetitionCommand::ReportImplementation {
                            text: text.clone(),
                            at,
                        }
                    })
                    .await
            }
        }
    }

    /// The domain command of a step on a dialogue at `at`, with an accepted contribution's
    /// kept `text` to disclose.
    fn dialogue_command(
        step: &DialogueStep,
        text: Option<ContributionText>,
        at: Timestamp,
    ) -> DialogueCommand {
        match step {
            DialogueStep::AnswerContribution {
                contribution_id,
                response,
                reason,
            } => DialogueCommand::AnswerContribution {
                contribution_id: *contribution_id,
                response: *response,
                reason: reason.clone(),
                text,
                at,
            },
            DialogueStep::Close {
                attendance_count,
                participating_organisations,
            } => DialogueCommand::Close {
                attendance_count: *attendance_count,
                participating_organisations: participating_organisations.clone(),
                at,
            },
            DialogueStep::PublishOutcome {
                report,
                council_decision_ref,
            } => DialogueCommand::PublishOutcome {
                report: report.clone(),
                council_decision_ref: council_decision_ref.clone(),
                at,
            },
        }
    }

    /// Whether the person with verified identity `subject` has signed `view`'s petition.
    pub fn has_signed(&self, view: &PetitionView, subject: &str) -> bool {
        view.state.id.is_some_and(|id| {
            view.state
                .signers
                .contains(&petition_tag(&self.secret, id, subject))
        })
    }

    /// A petition's view.
    pub async fn petition(&self, petition: PetitionId) -> Result<PetitionView, NodeError> {
        let stream = StreamId(petition.0);
        let (state, version) = self.existing::<Petition>(stream, "petition").await?;
        let filed = match self.first_event(stream).await? {
            Some(domain::Event::Petition(PetitionEvent::Filed(f))) => Some(f),
            _ => None,
        };
        // Moderation is a petition's second event: a publication (holding the text, when the
        // filing committed to it) or a rejection.
        let moderation = if state.published_at.is_some()
            || state.status == domain::petition::PetitionStatus::Rejected
        {
            let second = self.log().read_stream(stream, StreamVersion(2), 1).await?;
            second.first().map(open_event).transpose()?
        } else {
            None
        };
        let (published, rejected) = match moderation {
            Some(domain::Event::Petition(PetitionEvent::Published(p))) => (Some(p), None),
            Some(domain::Event::Petition(PetitionEvent::Rejected(r))) => (None, Some(r)),
            _ => (None, None),
        };
        let moderated_by = published
            .as_ref()
            .and_then(|p| p.acted_by)
            .or_else(|| rejected.as_ref().and_then(|r| r.acted_by));
        let text = match filed.as_ref().map(|f| &f.content) {
            Some(PetitionContent::Clear { title, text }) => Some(ShownText {
                title: title.clone(),
                text: text.clone(),
                public: true,
            }),
            Some(PetitionContent::Committed(_)) if state.published_at.is_some() => {
                published.and_then(|p| p.disclosure).map(|d| ShownText {
                    title: d.title,
                    text: d.text,
                    public: true,
                })
            }
            Some(PetitionContent::Committed(commitment)) => self
                .texts
                .petition(petition)
                .await?
                // Only the text the filing committed to is this petition's.
                .filter(|d| d.commitment() == *commitment)
                .map(|d| ShownText {
                    title: d.title,
                    text: d.text,
                    public: false,
                }),
            None => None,
        };
        // After an answer come only implementation updates.
        let rejection_reason = rejected.map(|r| r.reason);
        let mut answer = None;
        let mut updates = Vec::new();
        if state.answered_at.is_some() {
            let count = u64::from(state.implementation_updates);
            let shown = count.min(UPDATES_SHOWN);
            let from = version.0.saturating_sub(count);
            let mut rows = self
                .log()
                .read_stream(stream, StreamVersion(from), 1)
                .await?;
            if shown > 0 {
                let first = StreamVersion(version.0 - shown + 1);
                let limit = u32::try_from(shown).unwrap_or(u32::MAX);
                rows.extend(self.log().read_stream(stream, first, limit).await?);
            }
            for row in rows {
                match open_event(&row)? {
                    domain::Event::Petition(PetitionEvent::Answered(a)) => answer = Some(a),
                    domain::Event::Petition(PetitionEvent::ImplementationUpdated(u)) => {
                        updates.push(u);
                    }
                    _ => {}
                }
            }
        }
        Ok(PetitionView {
            filed,
            state,
            version,
            text,
            rejection_reason,
            moderated_by,
            answer,
            updates,
        })
    }

    /// The state and version of a stream that exists, else `NotFound(what)`.
    async fn existing<A: StreamAggregate>(
        &self,
        stream: StreamId,
        what: &'static str,
    ) -> Result<(A::State, StreamVersion), NodeError> {
        let (state, version) = self.exec.load::<A>(stream).await?;
        if version.0 == 0 {
            return Err(NodeError::NotFound(what));
        }
        Ok((state, version))
    }

    /// The event that created a stream.
    async fn first_event(&self, stream: StreamId) -> Result<Option<domain::Event>, NodeError> {
        let first = self.log().read_stream(stream, StreamVersion(1), 1).await?;
        first.first().map(open_event).transpose()
    }

    /// A dialogue's view.
    pub async fn dialogue(&self, dialogue: DialogueId) -> Result<DialogueView, NodeError> {
        let stream = StreamId(dialogue.0);
        let (state, version) = self.existing::<Dialogue>(stream, "dialogue").await?;
        let announced = match self.first_event(stream).await? {
            Some(domain::Event::Dialogue(DialogueEvent::Announced(a))) => Some(a),
            _ => None,
        };
        // Nothing follows an outcome report: it is the last event.
        let mut outcome = None;
        if state.status == domain::dialogue::DialogueStatus::OutcomePublished {
            for row in self.log().read_stream(stream, version, 1).await? {
                if let domain::Event::Dialogue(DialogueEvent::OutcomePublished(o)) =
                    open_event(&row)?
                {
                    outcome = Some(o);
                }
            }
        }
        Ok(DialogueView {
            announced,
            state,
            version,
            outcome,
        })
    }

    /// Up to `size` of a dialogue's contributions from stream version `from` on (reading at
    /// most [`CONTRIBUTIONS_SCAN_MAX`] events), with their answers as the dialogue's state holds
    /// them, and the version to continue from (`None` at the end). Text that is not public is
    /// shown only when `may_answer`, and only the text the submission committed to.
    pub async fn contributions(
        &self,
        dialogue: DialogueId,
        from: u64,
        size: usize,
        may_answer: bool,
    ) -> Result<(Vec<ContributionView>, Option<u64>), NodeError> {
        use domain::dialogue::ContributionContent;
        let stream = StreamId(dialogue.0);
        let (state, version) = self.existing::<Dialogue>(stream, "dialogue").await?;
        let rows = self
            .log()
            .read_stream(stream, StreamVersion(from.max(1)), CONTRIBUTIONS_SCAN_MAX)
            .await?;
        let mut views = Vec::new();
        let mut next = None;
        for row in &rows {
            if views.len() == size {
                next = Some(row.stream_version.0);
                break;
            }
            let domain::Event::Dialogue(DialogueEvent::ContributionSubmitted(c)) = open_event(row)?
            else {
                continue;
            };
            let response = state
                .contributions
                .get(&c.contribution_id)
                .copied()
                .flatten();
            let accepted = response.is_some_and(|r| r != ContributionResponse::Rejected);
            let (text, public) = match &c.content {
                ContributionContent::Clear { text } => (Some(text.clone()), true),
                ContributionContent::Committed(commitment) => {
                    let kept = self
                        .texts
                        .contribution(c.contribution_id)
                        .await?
                        .filter(|k| k.commitment() == *commitment);
                    let shown = kept.filter(|_| accepted || may_answer).map(|k| k.text);
                    (shown, accepted)
                }
            };
            views.push(ContributionView {
                id: c.contribution_id,
                text,
                public,
                response,
                answer: None,
                submitted_at: c.at,
            });
        }
        if next.is_none()
            && let Some(last) = rows.last()
            && last.stream_version.0 < version.0
        {
            next = Some(last.stream_version.0 + 1);
        }
        self.find_answers(stream, &rows, &mut views).await?;
        Ok((views, next))
    }

    /// Fills in the reasons of the answered contributions among `views`, from the answer events
    /// in `rows` and after them (at most [`ANSWERS_SCAN_MAX`] more events).
    async fn find_answers(
        &self,
        stream: StreamId,
        rows: &[event_store::EventRow],
        views: &mut [ContributionView],
    ) -> Result<(), NodeError> {
        let mut waiting: std::collections::HashMap<ContributionId, usize> = views
            .iter()
            .enumerate()
            .filter(|(_, v)| v.response.is_some())
            .map(|(i, v)| (v.id, i))
            .collect();
        let take = |rows: &[event_store::EventRow],
                    waiting: &mut std::collections::HashMap<ContributionId, usize>,
                    views: &mut [ContributionView]|
         -> Result<(), NodeError> {
            for row in rows {
                if let domain::Event::Dialogue(DialogueEvent::ContributionAnswered(a)) =
                    open_event(row)?
                    && let Some(i) = waiting.remove(&a.contribution_id)
                {
                    views[i].answer = Some((a.reason, a.at));
                }
            }
            Ok(())
        };
        take(rows, &mut waiting, views)?;
        let mut from = rows.last().map_or(1, |r| r.stream_version.0 + 1);
        let stop = from.saturating_add(ANSWERS_SCAN_MAX);
        while !waiting.is_empty() && from < stop {
            let more = self
                .log()
                .read_stream(stream, StreamVersion(from), CONTRIBUTIONS_SCAN_MAX)
                .await?;
            let Some(last) = more.last() else { break };
            from = last.stream_version.0 + 1;
            take(&more, &mut waiting, views)?;
        }
        Ok(())
    }

    /// Hands every event row of `stream` from version `from` on to `each`, in order, read in
    /// bounded chunks.
    pub(crate) async fn walk_stream(
        &self,
        stream: StreamId,
        from: u64,
        mut each: impl FnMut(&event_store::EventRow) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let mut from = from.max(1);
        loop {
            let rows = self
                .log()
                .read_stream(stream, StreamVersion(from), INDEX_SCAN_CHUNK)
                .await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            from = last.stream_version.0 + 1;
            rows.iter().try_for_each(&mut each)?;
        }
    }

    /// A plan's view, with every milestone's title and whether it is overdue today (Kyiv).
    pub async fn plan(&self, plan: PlanId) -> Result<PlanView, NodeError> {
        let stream = StreamId(plan.0);
        let (state, version) = self.existing::<ActionPlan>(stream, "action plan").await?;
        let today = domain::kyiv_date(self.exec.now());
        let (mut title, mut council_decision) = (String::new(), String::new());
        let (mut forum, mut proposals) = (Vec::new(), Vec::new());
        let mut milestones = Vec::new();
        let mut commitments = Vec::new();
        // The latest progress report's evidence of each milestone.
        let mut evidence = std::collections::HashMap::new();
        self.walk_stream(stream, 1, |row| {
            {
                match open_event(row)? {
                    domain::Event::ActionPlan(ActionPlanEvent::Adopted(a)) => {
                        title = a.title;
                        council_decision = a.council_decision;
                    }
                    domain::Event::ActionPlan(ActionPlanEvent::Drafted(d)) => title = d.title,
                    domain::Event::ActionPlan(ActionPlanEvent::DraftAdopted(a)) => {
                        council_decision = a.council_decision;
                        proposals = a.proposals;
                    }
                    domain::Event::ActionPlan(ActionPlanEvent::ForumMemberJoined(m)) => {
                        forum.push(m);
                    }
                    domain::Event::ActionPlan(ActionPlanEvent::CommitmentAdded(c)) => {
                        commitments.push(c);
                    }
                    domain::Event::ActionPlan(ActionPlanEvent::ProgressReported(p)) => {
                        evidence.insert(p.milestone_id, p.evidence_link);
                    }
                    domain::Event::ActionPlan(ActionPlanEvent::MilestoneAdded(m)) => {
                        let now = state.milestone(m.milestone_id);
                        let overdue = state
                            .milestone_overdue(m.milestone_id, today)
                            .unwrap_or(false);
                        milestones.push(MilestoneView {
                            id: m.milestone_id,
                            commitment: m.commitment_id,
                            title: m.title,
                            // As amended.
                            due: now.map_or(m.due, |s| s.due),
                            status: now.and_then(|s| s.status),
                            overdue,
                            evidence_link: None,
                            withdrawn: now.is_some_and(|s| s.withdrawn),
                        });
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .await?;
        for milestone in &mut milestones {
            milestone.evidence_link = evidence.remove(&milestone.id).flatten();
        }
        Ok(PlanView {
            title,
            council_decision,
            forum,
            proposals,
            state,
            milestones,
            commitments,
            version,
        })
    }
}

/// The domain command of a step on an action plan at `at`; a new commitment's or milestone's id
/// is the request id.
fn plan_command(
    request: Uuid,
    step: &PlanStep,
    accepted: &std::collections::BTreeSet<ContributionId>,
    at: Timestamp,
) -> ActionPlanCommand {
    match step {
        PlanStep::AddCommitment {
            title,
            description,
            lead_institution,
            values,
            start,
            end,
        } => ActionPlanCommand::AddCommitment {
            commitment_id: CommitmentId(request),
            title: title.clone(),
            description: description.clone(),
            lead_institution: lead_institution.clone(),
            values: values.clone(),
            start: *start,
            end: *end,
            at,
        },
        PlanStep::AddMilestone {
            commitment_id,
            title,
            due,
        } => ActionPlanCommand::AddMilestone {
            commitment_id: *commitment_id,
            milestone_id: MilestoneId(request),
            title: title.clone(),
            due: *due,
            at,
        },
        PlanStep::ReportProgress {
            milestone_id,
            status,
            evidence_link,
        } => ActionPlanCommand::ReportProgress {
            milestone_id: *milestone_id,
            status: *status,
            evidence_link: evidence_link.clone(),
            at,
        },
        PlanStep::AssessCommitment {
            commitment_id,
            completion,
            opened_government,
        } => ActionPlanCommand::AssessCommitment {
            commitment_id: *commitment_id,
            completion: *completion,
            opened_government: *opened_government,
            at,
        },
        PlanStep::Close => ActionPlanCommand::Close { at },
        PlanStep::JoinForum {
            side,
            organisation,
            role,
        } => ActionPlanCommand::JoinForum {
            member_id: ForumMemberId(request),
            side: *side,
            organisation: organisation.clone(),
            role: role.clone(),
            at,
        },
        PlanStep::LeaveForum { member_id, reason } => ActionPlanCommand::LeaveForum {
            member_id: *member_id,
            reason: reason.clone(),
            at,
        },
        PlanStep::NameCoChair { member_id } => ActionPlanCommand::NameCoChair {
            member_id: *member_id,
            at,
        },
        PlanStep::AdoptDraft { council_decision } => ActionPlanCommand::AdoptDraft {
            council_decision: council_decision.clone(),
            at,
        },
        PlanStep::AmendCommitment {
            commitment_id,
            end,
            reason,
        } => ActionPlanCommand::AmendCommitment {
            commitment_id: *commitment_id,
            end: *end,
            reason: reason.clone(),
            at,
        },
        PlanStep::WithdrawCommitment {
            commitment_id,
            reason,
        } => ActionPlanCommand::WithdrawCommitment {
            commitment_id: *commitment_id,
            reason: reason.clone(),
            at,
        },
        PlanStep::AmendMilestone {
            milestone_id,
            due,
            reason,
        } => ActionPlanCommand::AmendMilestone {
            milestone_id: *milestone_id,
            due: *due,
            reason: reason.clone(),
            at,
        },
        PlanStep::WithdrawMilestone {
            milestone_id,
            reason,
        } => ActionPlanCommand::WithdrawMilestone {
            milestone_id: *milestone_id,
            reason: reason.clone(),
            at,
        },
        PlanStep::TakeProposals {
            commitment_id,
            dialogue_id,
            contributions,
        } => ActionPlanCommand::TakeProposals {
            commitment_id: *commitment_id,
            dialogue_id: *dialogue_id,
            contributions: contributions.clone(),
            accepted: accepted.clone(),
            at,
        },
    }
}
