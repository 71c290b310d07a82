//! The `vidkryto.node.v1.NodeService` gRPC service: parses each request at the boundary,
//! calls the node's core, and maps results and errors to responses (errors in `error.rs`).

use std::sync::Arc;
use std::time::Instant;

use event_store::Backend;
use event_store_core::StreamId;
use proto::node::v1 as pb;
use proto::node::v1::node_service_server::NodeService;
use tonic::{Request, Response, Status};

use crate::auth::{AuthError, Authenticator, CommandRequest, Knock, Permission, Principal};
use crate::command::{Acting, NodeCommand};
use crate::convert as cv;
use crate::core::{Kind, NodeCore};
use crate::error::NodeError;
use crate::metrics::Metrics;

/// The gRPC face of a node.
pub struct NodeApi<B: Backend> {
    core: Arc<NodeCore<B>>,
    metrics: Arc<Metrics>,
    auth: Arc<Authenticator>,
}

impl<B: Backend> std::fmt::Debug for NodeApi<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeApi").finish_non_exhaustive()
    }
}

impl<B: Backend> NodeApi<B> {
    pub fn new(core: Arc<NodeCore<B>>, metrics: Arc<Metrics>, auth: Arc<Authenticator>) -> Self {
        Self {
            core,
            metrics,
            auth,
        }
    }

    /// Who a request proves to be: its TLS client certificate, or its bearer credential.
    async fn principal<R>(&self, request: &Request<R>) -> Result<Principal, AuthError> {
        let certificates = request.peer_certs();
        let knock = Knock {
            metadata: request.metadata(),
            peer: request.remote_addr(),
            certificate: certificates
                .as_ref()
                .and_then(|c| c.first())
                .map(|c| c.as_ref()),
        };
        self.auth.authenticate(knock).await
    }

    /// The door: who the request proves to be, whether they may run this command, the
    /// participant subject filled in from their credential, and who acts for the council if
    /// it is an official command. A refusal writes nothing.
    async fn admit<R: CommandRequest>(
        &self,
        request: Request<R>,
    ) -> Result<(R, Option<Acting>), Status> {
        let principal = self.principal(&request).await?;
        principal.require(R::PERMISSION)?;
        let mut message = request.into_inner();
        let vouched = message
            .attested_fields()
            .is_some_and(|(_, b, r)| !b.is_empty() || !r.is_empty());
        let issuer = self.auth.oidc().map(|o| o.settings().issuer.as_str());
        if let Some((field, value)) = message.subject_field() {
            principal.bind_subject_vouched(field, value, vouched, issuer)?;
        }
        if let Some((fields, birthdate, residence)) = message.attested_fields() {
            principal.bind_attested(fields, birthdate, residence)?;
        }
        Ok((message, principal.acting(R::PERMISSION)))
    }

    /// Whether the reader of a view may see text that is not public yet: reads need no
    /// credential, but one given must be valid, and only one who may moderate sees it.
    async fn may_moderate<R>(&self, request: &Request<R>) -> Result<bool, Status> {
        self.may(request, Permission::Moderate).await
    }

    /// Whether a read's credential, if it carries one (it must then be valid), allows
    /// `permission`.
    async fn may<R>(&self, request: &Request<R>, permission: Permission) -> Result<bool, Status> {
        Ok(self
            .reader(request)
            .await?
            .is_some_and(|principal| principal.may(permission)))
    }

    /// Who reads: the principal of the read's credential, `None` for anyone.
    async fn reader<R>(&self, request: &Request<R>) -> Result<Option<Principal>, Status> {
        match self.principal(request).await {
            Ok(principal) => Ok(Some(principal)),
            // A session cookie that no longer holds (ended, signed out, planted) reads as
            // anyone: the browser sends it unasked.
            Err(_) if request.metadata().get("authorization").is_none() => Ok(None),
            // No credential (or a client certificate that names no client) reads as anyone.
            Err(AuthError::Missing) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Admits a command request, parses and runs it, and records its outcome and duration
    /// under `name`.
    async fn command<R>(&self, name: &'static str, request: Request<R>) -> Reply
    where
        R: CommandRequest,
        NodeCommand: TryFrom<R, Error = NodeError>,
    {
        let started = Instant::now();
        let (message, acting) = match self.admit(request).await {
            Ok(admitted) => admitted,
            Err(status) => {
                self.metrics.refused(name, status.code());
                return Err(status);
            }
        };
        let result = match NodeCommand::try_from(message) {
            Ok(command) => self.core.run_as(command, acting).await,
            Err(e) => Err(e),
        };
        self.metrics
            .command(name, result.as_ref().err(), started.elapsed());
        Ok(Response::new(result?.into()))
    }
}

type Reply = Result<Response<pb::CommandResult>, Status>;

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

/// Petitions one filtered list call looks at, at most: a filter that matches little cannot make
/// one call read the whole log.
const LIST_SCAN_MAX: usize = 1_000;
/// Longest search query, in bytes.
const QUERY_LEN_MAX: usize = 200;

/// What a petition list keeps: its statuses (by value; none named: every status), category and
/// query words (lowercase).
struct PetitionFilter {
    statuses: Option<[bool; 8]>,
    category: String,
    words: Vec<String>,
}

impl PetitionFilter {
    fn parse(r: &pb::ListPetitionsRequest) -> Result<Self, NodeError> {
        // Each status at most once: a request cannot make each petition's check long.
        let mut seen = [false; 8];
        for &status in &r.statuses {
            let known = match pb::PetitionStatus::try_from(status) {
                Ok(pb::PetitionStatus::Unspecified) | Err(_) => None,
                Ok(s) => usize::try_from(s as i32).ok().filter(|&i| i < seen.len()),
            };
            let Some(index) = known else {
                return Err(NodeError::invalid("statuses", "names no petition status"));
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(NodeError::invalid("statuses", "names a status twice"));
            }
        }
        if r.query.len() > QUERY_LEN_MAX {
            return Err(NodeError::invalid("query", "is longer than 200 bytes"));
        }
        if r.category.len() > QUERY_LEN_MAX {
            return Err(NodeError::invalid("category", "is longer than 200 bytes"));
        }
        Ok(Self {
            statuses: (!r.statuses.is_empty()).then_some(seen),
            category: r.category.clone(),
            words: r.query.split_whitespace().map(str::to_lowercase).collect(),
        })
    }

    fn admits(&self, p: &pb::Petition) -> bool {
        if let Some(statuses) = &self.statuses {
            let named = usize::try_from(p.status)
                .ok()
                .and_then(|i| statuses.get(i).copied());
            if named != Some(true) {
                return false;
            }
        }
        if !self.category.is_empty() && self.category != p.category {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        let haystack = format!("{}\n{}", p.title, p.text).to_lowercase();
        self.words.iter().all(|w| haystack.contains(w.as_str()))
    }
}

/// The `NodeService` impl, one row a method: a command is parsed into a [`NodeCommand`] and run
/// (its method name is its metric's name); a `get` parses the id field and shows one view; a
/// `list` shows one page of views, newest first.
macro_rules! node_service {
    (
        commands { $($command:ident($command_request:ty);)+ }
        gets { $($get:ident($get_request:ty) -> $view:ty = $fetch:ident($field:ident);)+ }
        lists {
            $($list:ident($list_request:ty) -> $($page:ident)::+ { $items:ident }
                = $list_fetch:ident($kind:expr);)+
        }
        others { $($other:tt)* }
    ) => {
        #[tonic::async_trait]
        impl<B: Backend> NodeService for NodeApi<B> {
            $($other)*
            $(
                async fn $command(&self, r: Request<$command_request>) -> Reply {
                    self.command(stringify!($command), r).await
                }
            )+
            $(
                async fn $get(&self, r: Request<$get_request>) -> Result<Response<$view>, Status> {
                    let may_moderate = self.may_moderate(&r).await?;
                    let id = cv::id(stringify!($field), &r.into_inner().$field)?;
                    let view = self.core.$fetch(id).await?.for_reader(may_moderate);
                    Ok(Response::new(view.into()))
                }
            )+
            $(
                async fn $list(
                    &self,
                    r: Request<$list_request>,
                ) -> Result<Response<$($page)::+>, Status> {
                    let may_moderate = self.may_moderate(&r).await?;
                    let r = r.into_inner();
                    let ids = self.core.list($kind)?;
                    let (ids, next_page_token) = page_of(&ids, r.page_size, &r.page_token)?;
                    let mut $items = Vec::with_capacity(ids.len());
                    for id in ids {
                        let view = self.core.$list_fetch(id.0.into()).await?;
                        $items.push(view.for_reader(may_moderate).into());
                    }
                    Ok(Response::new($($page)::+ { $items, next_page_token }))
                }
            )+
        }
    };
}

node_service! {
    commands {
        file_petition(pb::FilePetitionRequest);
        publish_petition(pb::PublishPetitionRequest);
        reject_petition(pb::RejectPetitionRequest);
        sign_petition(pb::SignPetitionRequest);
        start_consideration(pb::StartConsiderationRequest);
        answer_petition(pb::AnswerPetitionRequest);
        report_implementation(pb::ReportImplementationRequest);
        announce_dialogue(pb::AnnounceDialogueRequest);
        submit_contribution(pb::SubmitContributionRequest);
        answer_contribution(pb::AnswerContributionRequest);
        close_dialogue(pb::CloseDialogueRequest);
        publish_outcome(pb::PublishOutcomeRequest);
        adopt_plan(pb::AdoptPlanRequest);
        add_commitment(pb::AddCommitmentRequest);
        add_milestone(pb::AddMilestoneRequest);
        report_progress(pb::ReportProgressRequest);
        assess_commitment(pb::AssessCommitmentRequest);
        close_plan(pb::ClosePlanRequest);
        amend_commitment(pb::AmendCommitmentRequest);
        withdraw_commitment(pb::WithdrawCommitmentRequest);
        amend_milestone(pb::AmendMilestoneRequest);
        withdraw_milestone(pb::WithdrawMilestoneRequest);
        take_proposals(pb::TakeProposalsRequest);
        draft_plan(pb::DraftPlanRequest);
        join_forum(pb::JoinForumRequest);
        leave_forum(pb::LeaveForumRequest);
        name_co_chair(pb::NameCoChairRequest);
        adopt_draft(pb::AdoptDraftRequest);
        announce_round(pb::AnnounceRoundRequest);
        submit_project(pb::SubmitProjectRequest);
        review_project(pb::ReviewProjectRequest);
        cast_ballot(pb::CastBallotRequest);
        declare_results(pb::DeclareResultsRequest);
        fund_project(pb::FundProjectRequest);
        report_project_progress(pb::ReportProjectProgressRequest);
        close_round(pb::CloseRoundRequest);
    }
    gets {
        get_dialogue(pb::GetDialogueRequest) -> pb::Dialogue = dialogue(dialogue_id);
        get_plan(pb::GetPlanRequest) -> pb::Plan = plan(plan_id);
    }
    lists {
        list_dialogues(pb::ListDialoguesRequest) -> pb::ListDialoguesResponse { dialogues }
            = dialogue(Kind::Dialogue);
        list_plans(pb::ListPlansRequest) -> pb::ListPlansResponse { plans } = plan(Kind::Plan);
    }
    others {
        async fn get_round(
            &self,
            r: Request<pb::GetRoundRequest>,
        ) -> Result<Response<pb::Round>, Status> {
            // One look at the credential: whether it reviews, and a resident reading a round
            // learns whether they have voted in it.
            let reader = self.reader(&r).await?;
            let may_answer = reader.as_ref().is_some_and(|p| p.may(Permission::Answer));
            let subject = reader
                .as_ref()
                .and_then(|p| p.resident_subject())
                .map(str::to_owned);
            let id = cv::id("round_id", &r.into_inner().round_id)?;
            let view = self.core.round(id, may_answer).await?;
            let voted = subject.map(|s| self.core.has_voted(&view, &s));
            let mut round: pb::Round = view.into();
            round.voted_by_caller = voted;
            Ok(Response::new(round))
        }

        async fn list_rounds(
            &self,
            r: Request<pb::ListRoundsRequest>,
        ) -> Result<Response<pb::ListRoundsResponse>, Status> {
            let may_answer = self.may(&r, Permission::Answer).await?;
            let r = r.into_inner();
            let ids = self.core.list(Kind::Round)?;
            let (ids, next_page_token) = page_of(&ids, r.page_size, &r.page_token)?;
            let mut rounds = Vec::with_capacity(ids.len());
            for id in ids {
                rounds.push(self.core.round(id.0.into(), may_answer).await?.into());
            }
            Ok(Response::new(pb::ListRoundsResponse {
                rounds,
                next_page_token,
            }))
        }

        async fn get_petition(
            &self,
            r: Request<pb::GetPetitionRequest>,
        ) -> Result<Response<pb::Petition>, Status> {
            // One look at the credential: whether it moderates, and a resident reading a
            // petition learns whether they have signed it.
            let reader = self.reader(&r).await?;
            let may_moderate = reader.as_ref().is_some_and(|p| p.may(Permission::Moderate));
            let subject = reader
                .as_ref()
                .and_then(|p| p.resident_subject())
                .map(str::to_owned);
            let id = cv::id("petition_id", &r.into_inner().petition_id)?;
            let view = self.core.petition(id).await?;
            let signed = subject.map(|s| self.core.has_signed(&view, &s));
            let mut petition: pb::Petition = view.for_reader(may_moderate).into();
            petition.signed_by_caller = signed;
            Ok(Response::new(petition))
        }

        async fn list_petitions(
            &self,
            r: Request<pb::ListPetitionsRequest>,
        ) -> Result<Response<pb::ListPetitionsResponse>, Status> {
            let may_moderate = self.may_moderate(&r).await?;
            let r = r.into_inner();
            let filter = PetitionFilter::parse(&r)?;
            let ids = self.core.list(Kind::Petition)?;
            let (size, end) = cv::page(r.page_size, &r.page_token, ids.len())?;
            let mut petitions = Vec::with_capacity(size.min(ids.len()));
            // Newest first, from the token's position: until the page is full, the scan bound
            // is reached or nothing is left.
            let mut at = end;
            while at > 0 && petitions.len() < size && end - at < LIST_SCAN_MAX {
                at -= 1;
                let view = self.core.petition(ids[at].0.into()).await?;
                let petition: pb::Petition = view.for_reader(may_moderate).into();
                if filter.admits(&petition) {
                    petitions.push(petition);
                }
            }
            Ok(Response::new(pb::ListPetitionsResponse {
                petitions,
                next_page_token: cv::next_token(at),
            }))
        }

        async fn list_contributions(
            &self,
            r: Request<pb::ListContributionsRequest>,
        ) -> Result<Response<pb::ListContributionsResponse>, Status> {
            let may_answer = self.may(&r, Permission::Answer).await?;
            let r = r.into_inner();
            let dialogue = cv::id("dialogue_id", &r.dialogue_id)?;
            let (size, from) = cv::version_page(r.page_size, &r.page_token)?;
            let (views, next) = self
                .core
                .contributions(dialogue, from, size, may_answer)
                .await?;
            Ok(Response::new(pb::ListContributionsResponse {
                contributions: views.into_iter().map(Into::into).collect(),
                next_page_token: next.map(cv::next_token_at).unwrap_or_default(),
            }))
        }
    }
}
