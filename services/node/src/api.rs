//! The `vidkryto.node.v1.NodeService` gRPC service: parses each request at the boundary,
//! calls the node's core, and maps results and errors to responses (errors in `error.rs`).

use std::sync::Arc;
use std::time::Instant;

use domain::{CommitmentId, ContributionId, DialogueId, MilestoneId, PetitionId, PlanId};
use event_store::Backend;
use event_store_core::StreamId;
use proto::node::v1 as pb;
use proto::node::v1::node_service_server::NodeService;
use tonic::{Request, Response, Status};

use crate::convert::{self as cv, command_result};
use crate::core::{DialogueView, Kind, NodeCore, PetitionView, PlanView};
use crate::error::NodeError;
use crate::executor::{Outcome, parse_request_id};
use crate::metrics::Metrics;

/// The gRPC face of a node.
pub struct NodeApi<B: Backend> {
    core: Arc<NodeCore<B>>,
    metrics: Arc<Metrics>,
}

impl<B: Backend> std::fmt::Debug for NodeApi<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeApi").finish_non_exhaustive()
    }
}

impl<B: Backend> NodeApi<B> {
    pub fn new(core: Arc<NodeCore<B>>, metrics: Arc<Metrics>) -> Self {
        Self { core, metrics }
    }

    /// Runs one command, recording its outcome and duration.
    async fn command(
        &self,
        name: &'static str,
        run: impl Future<Output = Result<Outcome, NodeError>>,
    ) -> Reply {
        let started = Instant::now();
        let result = run.await;
        self.metrics
            .command(name, result.as_ref().err(), started.elapsed());
        Ok(Response::new(command_result(&result?)))
    }
}

type Reply = Result<Response<pb::CommandResult>, Status>;

fn petition_view(v: PetitionView) -> pb::Petition {
    let s = &v.state;
    let filed = v.filed.as_ref();
    pb::Petition {
        petition_id: s.id.map(|i| i.to_string()).unwrap_or_default(),
        title: filed.map(|f| f.title.clone()).unwrap_or_default(),
        text: filed.map(|f| f.text.clone()).unwrap_or_default(),
        category: filed.map(|f| f.category.clone()).unwrap_or_default(),
        status: cv::pb_petition_status(s.status) as i32,
        signature_count: s.signature_count,
        signature_threshold: s.rule.map_or(0, |r| r.signature_threshold),
        collection_period_days: s.rule.map_or(0, |r| u32::from(r.collection_period_days)),
        filed_at: cv::opt_ts(s.filed_at),
        published_at: cv::opt_ts(s.published_at),
        collection_closes_at: cv::opt_ts(s.collection_closes_at()),
        moderation_due: cv::opt_date(s.moderation_due),
        answer_due: cv::opt_date(s.answer_due),
        answer: s
            .answer
            .map_or(pb::AnswerDecision::Unspecified, cv::pb_answer_decision) as i32,
        answered_at: cv::opt_ts(s.answered_at),
        answered_on_time: s.answered_on_time(),
        stream_version: v.version.0,
    }
}

fn dialogue_view(v: DialogueView) -> pb::Dialogue {
    use domain::dialogue::DialogueStatus as S;
    let s = &v.state;
    let a = v.announced.as_ref();
    let answered = s.contributions.values().filter(|r| r.is_some()).count();
    pb::Dialogue {
        dialogue_id: s.id.map(|i| i.to_string()).unwrap_or_default(),
        kind: s
            .kind
            .map_or(pb::DialogueKind::Unspecified, cv::pb_dialogue_kind) as i32,
        topic: a.map(|a| a.topic.clone()).unwrap_or_default(),
        organiser: a.map(|a| a.organiser.clone()).unwrap_or_default(),
        opens_at: cv::opt_ts(s.opens_at),
        closes_at: cv::opt_ts(s.closes_at),
        status: match s.status {
            S::NotAnnounced => pb::DialogueStatus::Unspecified,
            S::Announced => pb::DialogueStatus::Announced,
            S::Closed => pb::DialogueStatus::Closed,
            S::OutcomePublished => pb::DialogueStatus::OutcomePublished,
        } as i32,
        contributions: u32::try_from(s.contributions.len()).unwrap_or(u32::MAX),
        contributions_answered: u32::try_from(answered).unwrap_or(u32::MAX),
        stream_version: v.version.0,
    }
}

fn plan_view(v: PlanView) -> pb::Plan {
    let s = &v.state;
    let a = v.adopted.as_ref();
    pb::Plan {
        plan_id: s.id.map(|i| i.to_string()).unwrap_or_default(),
        title: a.map(|a| a.title.clone()).unwrap_or_default(),
        period_start: cv::opt_date(s.period_start),
        period_end: cv::opt_date(s.period_end),
        closed: s.status == domain::action_plan::PlanStatus::Closed,
        commitments: u32::try_from(s.commitments.len()).unwrap_or(u32::MAX),
        commitments_assessed: u32::try_from(
            s.commitments
                .values()
                .filter(|c| c.assessment.is_some())
                .count(),
        )
        .unwrap_or(u32::MAX),
        milestones: v
            .milestones
            .into_iter()
            .map(|m| pb::Milestone {
                milestone_id: m.id.to_string(),
                commitment_id: m.commitment.to_string(),
                title: m.title,
                due: m.due.to_string(),
                status: cv::pb_implementation_status(m.status) as i32,
                overdue: m.overdue,
            })
            .collect(),
        stream_version: v.version.0,
    }
}

/// One page of a list, newest first.
fn page_of(
    ids: &[StreamId],
    page_size: i32,
    token: &str,
) -> Result<(Vec<StreamId>, String), NodeError> {
    let (size, end) = cv::page(page_size, token, ids.len())?;
    let start = end.saturating_sub(size);
    let page: Vec<StreamId> = ids[start..end].iter().rev().copied().collect();
    Ok((page, cv::next_token(start)))
}

fn optional(text: &str) -> Option<String> {
    if text.is_empty() {
        None
    } else {
        Some(text.to_owned())
    }
}

#[tonic::async_trait]
impl<B: Backend> NodeService for NodeApi<B> {
    async fn file_petition(&self, r: Request<pb::FilePetitionRequest>) -> Reply {
        let r = r.into_inner();
        self.command("file_petition", async {
            let request = parse_request_id(&r.request_id)?;
            let author = cv::subject("author_subject", &r.author_subject)?;
            self.core
                .file_petition(request, author, r.title, r.text, r.category)
                .await
        })
        .await
    }

    async fn publish_petition(&self, r: Request<pb::PublishPetitionRequest>) -> Reply {
        let r = r.into_inner();
        self.command("publish_petition", async {
            let request = parse_request_id(&r.request_id)?;
            self.core
                .publish_petition(
                    request,
                    cv::id::<PetitionId>("petition_id", &r.petition_id)?,
                )
                .await
        })
        .await
    }

    async fn reject_petition(&self, r: Request<pb::RejectPetitionRequest>) -> Reply {
        let r = r.into_inner();
        self.command("reject_petition", async {
            let request = parse_request_id(&r.request_id)?;
            let petition = cv::id::<PetitionId>("petition_id", &r.petition_id)?;
            self.core.reject_petition(request, petition, r.reason).await
        })
        .await
    }

    async fn sign_petition(&self, r: Request<pb::SignPetitionRequest>) -> Reply {
        let r = r.into_inner();
        self.command("sign_petition", async {
            let request = parse_request_id(&r.request_id)?;
            let petition = cv::id::<PetitionId>("petition_id", &r.petition_id)?;
            let signer = cv::subject("signer_subject", &r.signer_subject)?;
            self.core.sign_petition(request, petition, signer).await
        })
        .await
    }

    async fn start_consideration(&self, r: Request<pb::StartConsiderationRequest>) -> Reply {
        let r = r.into_inner();
        self.command("start_consideration", async {
            let request = parse_request_id(&r.request_id)?;
            self.core
                .start_consideration(
                    request,
                    cv::id::<PetitionId>("petition_id", &r.petition_id)?,
                )
                .await
        })
        .await
    }

    async fn answer_petition(&self, r: Request<pb::AnswerPetitionRequest>) -> Reply {
        let r = r.into_inner();
        self.command("answer_petition", async {
            let request = parse_request_id(&r.request_id)?;
            let petition = cv::id::<PetitionId>("petition_id", &r.petition_id)?;
            let decision = cv::answer_decision("decision", r.decision)?;
            self.core
                .answer_petition(request, petition, decision, r.response, r.responder_role)
                .await
        })
        .await
    }

    async fn report_implementation(&self, r: Request<pb::ReportImplementationRequest>) -> Reply {
        let r = r.into_inner();
        self.command("report_implementation", async {
            let request = parse_request_id(&r.request_id)?;
            let petition = cv::id::<PetitionId>("petition_id", &r.petition_id)?;
            self.core
                .report_implementation(request, petition, r.text)
                .await
        })
        .await
    }

    async fn get_petition(
        &self,
        r: Request<pb::GetPetitionRequest>,
    ) -> Result<Response<pb::Petition>, Status> {
        let id = cv::id::<PetitionId>("petition_id", &r.into_inner().petition_id)?;
        Ok(Response::new(petition_view(self.core.petition(id).await?)))
    }

    async fn list_petitions(
        &self,
        r: Request<pb::ListPetitionsRequest>,
    ) -> Result<Response<pb::ListPetitionsResponse>, Status> {
        let r = r.into_inner();
        let ids = self.core.list(Kind::Petition)?;
        let (page, next_page_token) = page_of(&ids, r.page_size, &r.page_token)?;
        let mut petitions = Vec::with_capacity(page.len());
        for id in page {
            petitions.push(petition_view(self.core.petition(PetitionId(id.0)).await?));
        }
        Ok(Response::new(pb::ListPetitionsResponse {
            petitions,
            next_page_token,
        }))
    }

    async fn announce_dialogue(&self, r: Request<pb::AnnounceDialogueRequest>) -> Reply {
        let r = r.into_inner();
        self.command("announce_dialogue", async {
            let request = parse_request_id(&r.request_id)?;
            let kind = cv::dialogue_kind("kind", r.kind)?;
            let opens_at = cv::timestamp("opens_at", r.opens_at)?;
            let closes_at = cv::timestamp("closes_at", r.closes_at)?;
            self.core
                .announce_dialogue(request, kind, r.topic, r.organiser, opens_at, closes_at)
                .await
        })
        .await
    }

    async fn submit_contribution(&self, r: Request<pb::SubmitContributionRequest>) -> Reply {
        let r = r.into_inner();
        self.command("submit_contribution", async {
            let request = parse_request_id(&r.request_id)?;
            let dialogue = cv::id::<DialogueId>("dialogue_id", &r.dialogue_id)?;
            let author = cv::subject("author_subject", &r.author_subject)?;
            self.core
                .submit_contribution(request, dialogue, author, r.text)
                .await
        })
        .await
    }

    async fn answer_contribution(&self, r: Request<pb::AnswerContributionRequest>) -> Reply {
        let r = r.into_inner();
        self.command("answer_contribution", async {
            let request = parse_request_id(&r.request_id)?;
            let dialogue = cv::id::<DialogueId>("dialogue_id", &r.dialogue_id)?;
            let contribution = cv::id::<ContributionId>("contribution_id", &r.contribution_id)?;
            let response = cv::contribution_response("response", r.response)?;
            self.core
                .answer_contribution(request, dialogue, contribution, response, r.reason)
                .await
        })
        .await
    }

    async fn close_dialogue(&self, r: Request<pb::CloseDialogueRequest>) -> Reply {
        let r = r.into_inner();
        self.command("close_dialogue", async {
            let request = parse_request_id(&r.request_id)?;
            let dialogue = cv::id::<DialogueId>("dialogue_id", &r.dialogue_id)?;
            self.core
                .close_dialogue(
                    request,
                    dialogue,
                    r.attendance_count,
                    r.participating_organisations,
                )
                .await
        })
        .await
    }

    async fn publish_outcome(&self, r: Request<pb::PublishOutcomeRequest>) -> Reply {
        let r = r.into_inner();
        self.command("publish_outcome", async {
            let request = parse_request_id(&r.request_id)?;
            let dialogue = cv::id::<DialogueId>("dialogue_id", &r.dialogue_id)?;
            self.core
                .publish_outcome(
                    request,
                    dialogue,
                    r.report,
                    optional(&r.council_decision_ref),
                )
                .await
        })
        .await
    }

    async fn get_dialogue(
        &self,
        r: Request<pb::GetDialogueRequest>,
    ) -> Result<Response<pb::Dialogue>, Status> {
        let id = cv::id::<DialogueId>("dialogue_id", &r.into_inner().dialogue_id)?;
        Ok(Response::new(dialogue_view(self.core.dialogue(id).await?)))
    }

    async fn list_dialogues(
        &self,
        r: Request<pb::ListDialoguesRequest>,
    ) -> Result<Response<pb::ListDialoguesResponse>, Status> {
        let r = r.into_inner();
        let ids = self.core.list(Kind::Dialogue)?;
        let (page, next_page_token) = page_of(&ids, r.page_size, &r.page_token)?;
        let mut dialogues = Vec::with_capacity(page.len());
        for id in page {
            dialogues.push(dialogue_view(self.core.dialogue(DialogueId(id.0)).await?));
        }
        Ok(Response::new(pb::ListDialoguesResponse {
            dialogues,
            next_page_token,
        }))
    }

    async fn adopt_plan(&self, r: Request<pb::AdoptPlanRequest>) -> Reply {
        let r = r.into_inner();
        self.command("adopt_plan", async {
            let request = parse_request_id(&r.request_id)?;
            let start = cv::date("period_start", &r.period_start)?;
            let end = cv::date("period_end", &r.period_end)?;
            self.core
                .adopt_plan(request, r.title, start, end, r.council_decision)
                .await
        })
        .await
    }

    async fn add_commitment(&self, r: Request<pb::AddCommitmentRequest>) -> Reply {
        let r = r.into_inner();
        self.command("add_commitment", async {
            let request = parse_request_id(&r.request_id)?;
            let plan = cv::id::<PlanId>("plan_id", &r.plan_id)?;
            let values = r
                .values
                .iter()
                .map(|v| cv::ogp_value("values", *v))
                .collect::<Result<Vec<_>, _>>()?;
            let start = cv::date("start", &r.start)?;
            let end = cv::date("end", &r.end)?;
            self.core
                .add_commitment(
                    request,
                    plan,
                    r.title,
                    r.description,
                    r.lead_institution,
                    values,
                    start,
                    end,
                )
                .await
        })
        .await
    }

    async fn add_milestone(&self, r: Request<pb::AddMilestoneRequest>) -> Reply {
        let r = r.into_inner();
        self.command("add_milestone", async {
            let request = parse_request_id(&r.request_id)?;
            let plan = cv::id::<PlanId>("plan_id", &r.plan_id)?;
            let commitment = cv::id::<CommitmentId>("commitment_id", &r.commitment_id)?;
            let due = cv::date("due", &r.due)?;
            self.core
                .add_milestone(request, plan, commitment, r.title, due)
                .await
        })
        .await
    }

    async fn report_progress(&self, r: Request<pb::ReportProgressRequest>) -> Reply {
        let r = r.into_inner();
        self.command("report_progress", async {
            let request = parse_request_id(&r.request_id)?;
            let plan = cv::id::<PlanId>("plan_id", &r.plan_id)?;
            let milestone = cv::id::<MilestoneId>("milestone_id", &r.milestone_id)?;
            let status = cv::implementation_status("status", r.status)?;
            self.core
                .report_progress(request, plan, milestone, status, optional(&r.evidence_link))
                .await
        })
        .await
    }

    async fn assess_commitment(&self, r: Request<pb::AssessCommitmentRequest>) -> Reply {
        let r = r.into_inner();
        self.command("assess_commitment", async {
            let request = parse_request_id(&r.request_id)?;
            let plan = cv::id::<PlanId>("plan_id", &r.plan_id)?;
            let commitment = cv::id::<CommitmentId>("commitment_id", &r.commitment_id)?;
            let completion = cv::implementation_status("completion", r.completion)?;
            let opened = cv::opened_government("opened_government", r.opened_government)?;
            self.core
                .assess_commitment(request, plan, commitment, completion, opened)
                .await
        })
        .await
    }

    async fn close_plan(&self, r: Request<pb::ClosePlanRequest>) -> Reply {
        let r = r.into_inner();
        self.command("close_plan", async {
            let request = parse_request_id(&r.request_id)?;
            self.core
                .close_plan(request, cv::id::<PlanId>("plan_id", &r.plan_id)?)
                .await
        })
        .await
    }

    async fn get_plan(&self, r: Request<pb::GetPlanRequest>) -> Result<Response<pb::Plan>, Status> {
        let id = cv::id::<PlanId>("plan_id", &r.into_inner().plan_id)?;
        Ok(Response::new(plan_view(self.core.plan(id).await?)))
    }

    async fn list_plans(
        &self,
        r: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        let r = r.into_inner();
        let ids = self.core.list(Kind::Plan)?;
        let (page, next_page_token) = page_of(&ids, r.page_size, &r.page_token)?;
        let mut plans = Vec::with_capacity(page.len());
        for id in page {
            plans.push(plan_view(self.core.plan(PlanId(id.0)).await?));
        }
        Ok(Response::new(pb::ListPlansResponse {
            plans,
            next_page_token,
        }))
    }
}
