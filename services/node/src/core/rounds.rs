//! Participatory budget rounds at the node: each command of a round turned into an execution
//! on the round's stream, with the participant's pseudonyms and eligibility derived here (their
//! verified subject, and the age and residence their provider attested, go no further), a
//! project's text kept private until it is found eligible, and the round's view.

use domain::budget::{
    BudgetCommand, BudgetEvent, BudgetState, ProjectStatus, ReviewOutcome, RoundAnnounced, Voter,
    age_on,
};
use domain::{BudgetRound, ProjectId, RoundId, budget_author_tag, budget_voter_tag};
use event_store::Backend;
use event_store_core::{EnvelopeRef, StreamId, StreamVersion, Timestamp};
use uuid::Uuid;

use super::{Kind, NodeCore, ROUND_EVENTS_CACHED_MAX};
use crate::auth::attested::Attested;
use crate::command::{Private, ReviewDecision, RoundStep, Subject};
use crate::error::NodeError;
use crate::executor::{Outcome, Recording, open_event};
use crate::texts::TextOf;

/// A project as the node shows it.
#[derive(Clone, Debug)]
pub struct ProjectView {
    pub id: ProjectId,
    pub submitted: domain::budget::ProjectSubmitted,
    /// Its title and description: public once eligible; before (and when not eligible), only
    /// for those who may answer ([`RoundView::for_reader`]).
    pub text: Option<super::ShownText>,
    /// `None` before review.
    pub eligible: Option<bool>,
    pub ineligible_reason: Option<String>,
    /// The latest implementation report: status, note, evidence.
    pub progress: Option<(ProjectStatus, String, Option<String>)>,
}

/// A round as the node shows it.
#[derive(Clone, Debug)]
pub struct RoundView {
    pub announced: Option<RoundAnnounced>,
    pub state: BudgetState,
    pub version: StreamVersion,
    /// In submission order.
    pub projects: Vec<ProjectView>,
}

impl RoundView {
    /// The view as a reader sees it: a project's text that is not public is shown only to one
    /// who may answer (the reviewers).
    fn for_reader(mut self, may_answer: bool) -> Self {
        if !may_answer {
            for project in &mut self.projects {
                if project.text.as_ref().is_some_and(|t| !t.public) {
                    project.text = None;
                }
            }
        }
        self
    }
}

/// Who takes part, as the rules of a round on the day `at` see them: their tag, their age that
/// day from the attested date of birth (unknown without one), and whether the attested
/// residence is in `hromada`.
fn participant(
    tag: domain::PseudonymTag,
    attested: &Attested,
    hromada: &event_store_core::MunicipalityCode,
    at: Timestamp,
) -> Voter {
    Voter {
        tag,
        age: attested
            .birthdate
            .and_then(|born| age_on(born, domain::kyiv_date(at))),
        resident: attested.residence.is_some_and(|r| r.in_hromada(hromada)),
    }
}

impl<B: Backend> NodeCore<B> {
    /// Announces a round whose id is the request id.
    pub(super) async fn announce_round(
        &self,
        request: Uuid,
        records: Recording,
        title: String,
        council_decision: String,
        rules: domain::budget::RoundRules,
    ) -> Result<Outcome, NodeError> {
        let round_id = RoundId(request);
        self.create::<BudgetRound>(Kind::Round, request, records, move |at| {
            BudgetCommand::Announce {
                round_id,
                title: title.clone(),
                council_decision: council_decision.clone(),
                rules: rules.clone(),
                at,
            }
        })
        .await
    }

    /// Submits a project whose id is the request id; its text is checked and kept before the
    /// submission records its commitment, and forgotten again unless this command appends it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn submit_project(
        &self,
        request: Uuid,
        records: Recording,
        round: RoundId,
        author_subject: Subject,
        author: Attested,
        (title, description): (Private, Private),
        category: u8,
        cost: u64,
    ) -> Result<Outcome, NodeError> {
        let project_id = ProjectId(request);
        let tag = budget_author_tag(&self.secret, round, author_subject.as_str());
        let hromada = self.log().municipality();
        domain::budget::check_project_text(&title.0, &description.0)?;
        let (text, kept) = self
            .texts
            .keep_project(project_id, &title.0, &description.0)
            .await?;
        let content = text.commitment();
        let outcome = self
            .exec
            .execute::<BudgetRound>(request, records, StreamId(round.0), move |at| {
                BudgetCommand::Submit {
                    project_id,
                    author: participant(tag, &author, &hromada, at),
                    content,
                    category,
                    cost,
                    at,
                }
            })
            .await;
        self.keep_if_appended(request, TextOf::Project(project_id), kept, outcome)
            .await
    }

    /// Runs a step on an announced round.
    pub(super) async fn run_round(
        &self,
        request: Uuid,
        records: Recording,
        round: RoundId,
        step: RoundStep,
    ) -> Result<Outcome, NodeError> {
        let stream = StreamId(round.0);
        let command: Box<dyn Fn(Timestamp) -> BudgetCommand + Send + Sync> = match step {
            RoundStep::Review {
                project_id,
                decision,
            } => {
                let outcome = match decision {
                    ReviewDecision::Eligible { cost } => {
                        // Disclosed as kept: the domain checks it against the commitment.
                        let disclosure = self.texts.project(project_id).await?.ok_or_else(|| {
                            NodeError::invalid(
                                "eligible",
                                "this node holds no text of the project (erased, or never submitted here), so it cannot be put on the ballot",
                            )
                        })?;
                        ReviewOutcome::Eligible { disclosure, cost }
                    }
                    ReviewDecision::Ineligible { reason } => ReviewOutcome::Ineligible { reason },
                };
                Box::new(move |at| BudgetCommand::Review {
                    project_id,
                    outcome: outcome.clone(),
                    at,
                })
            }
            RoundStep::Vote {
                voter_subject,
                voter,
                projects,
            } => {
                let tag = budget_voter_tag(&self.secret, round, voter_subject.as_str());
                let hromada = self.log().municipality();
                Box::new(move |at| BudgetCommand::Vote {
                    voter: participant(tag, &voter, &hromada, at),
                    projects: projects.clone(),
                    at,
                })
            }
            RoundStep::DeclareResults => Box::new(|at| BudgetCommand::DeclareResults { at }),
            RoundStep::Fund { project_id, amount } => Box::new(move |at| BudgetCommand::Fund {
                project_id,
                amount,
                at,
            }),
            RoundStep::ReportProgress {
                project_id,
                status,
                evidence_link,
                note,
            } => Box::new(move |at| BudgetCommand::ReportProgress {
                project_id,
                status,
                evidence_link: evidence_link.clone(),
                note: note.clone(),
                at,
            }),
            RoundStep::Close => Box::new(|at| BudgetCommand::Close { at }),
        };
        self.exec
            .execute::<BudgetRound>(request, records, stream, command)
            .await
    }

    /// Whether the person with node subject `subject` has voted in the round of `view`.
    pub fn has_voted(&self, view: &RoundView, subject: &str) -> bool {
        view.state.id.is_some_and(|id| {
            view.state
                .voters
                .contains(&budget_voter_tag(&self.secret, id, subject))
        })
    }

    /// A round's view as a reader who may answer (`may_answer`: reviewers see the text of
    /// projects not yet public) or not sees it. Ballots are skipped by their type before
    /// decoding (the state counts them, and the view shows only the tallies), and each is
    /// read once: the round's other events are kept up to the version read, so a view reads
    /// only what the log added since the last one.
    pub async fn round(&self, round: RoundId, may_answer: bool) -> Result<RoundView, NodeError> {
        let stream = StreamId(round.0);
        let (state, version) = self.existing::<BudgetRound>(stream, "budget round").await?;
        let ballot = domain::EventType::BallotCast.code();
        let cached = self
            .round_events
            .lock()
            .map_err(|_| NodeError::Internal("round cache poisoned".into()))?
            .get(&stream)
            .cloned();
        let (cached_to, mut events) = cached.unwrap_or_default();
        let mut scanned = cached_to;
        let mut fresh = Vec::new();
        // Only what the log added since the last view, up to the state's version.
        self.walk_stream(stream, scanned + 1, |row| {
            if row.stream_version.0 > version.0 {
                return Ok(());
            }
            scanned = row.stream_version.0;
            let env =
                EnvelopeRef::decode(&row.bytes).map_err(|e| NodeError::Internal(e.to_string()))?;
            if env.event_type != ballot
                && let domain::Event::Budget(event) = open_event(row)?
            {
                fresh.push(event);
            }
            Ok(())
        })
        .await?;
        // The kept events are copied only when the log added some.
        if !fresh.is_empty() {
            let mut all = Vec::clone(&events);
            all.append(&mut fresh);
            events = std::sync::Arc::new(all);
        }
        if scanned != cached_to {
            let mut cache = self
                .round_events
                .lock()
                .map_err(|_| NodeError::Internal("round cache poisoned".into()))?;
            if cache.len() >= ROUND_EVENTS_CACHED_MAX && !cache.contains_key(&stream) {
                cache.clear();
            }
            cache.insert(stream, (scanned, events.clone()));
        }
        let mut announced = None;
        let mut projects: Vec<ProjectView> = Vec::new();
        for event in events.iter().cloned() {
            let project = |projects: &mut Vec<ProjectView>, id: ProjectId| {
                projects.iter_mut().position(|p| p.id == id)
            };
            match event {
                BudgetEvent::Announced(a) => announced = Some(a),
                BudgetEvent::ProjectSubmitted(s) => projects.push(ProjectView {
                    id: s.project_id,
                    submitted: s,
                    text: None,
                    eligible: None,
                    ineligible_reason: None,
                    progress: None,
                }),
                BudgetEvent::ProjectReviewed(r) => {
                    if let Some(i) = project(&mut projects, r.project_id) {
                        let p = &mut projects[i];
                        match r.outcome {
                            ReviewOutcome::Eligible { disclosure, .. } => {
                                p.eligible = Some(true);
                                p.text = Some(super::ShownText {
                                    title: disclosure.title,
                                    text: disclosure.description,
                                    public: true,
                                });
                            }
                            ReviewOutcome::Ineligible { reason } => {
                                p.eligible = Some(false);
                                p.ineligible_reason = Some(reason);
                            }
                        }
                    }
                }
                BudgetEvent::ProgressReported(r) => {
                    if let Some(i) = project(&mut projects, r.project_id) {
                        projects[i].progress = Some((r.status, r.note, r.evidence_link));
                    }
                }
                _ => {}
            }
        }
        // Texts not yet public, from the node's store (for reviewers).
        for p in projects.iter_mut().filter(|_| may_answer) {
            if p.text.is_none()
                && let Some(kept) = self.texts.project(p.id).await?
            {
                p.text = Some(super::ShownText {
                    title: kept.title,
                    text: kept.description,
                    public: false,
                });
            }
        }
        Ok(RoundView {
            announced,
            state,
            version,
            projects,
        }
        .for_reader(may_answer))
    }
}
