//! Sending one simulated command to a node over gRPC, as a hromada's own web app would, and
//! reading the item back after a refusal.

use std::time::Duration;

use domain::kyiv_date;
use event_store_core::{MunicipalityCode, Timestamp};
use node::auth::AuthedNodeClient;
use proto::node::v1 as pb;

use super::action::{Action, ItemStatus, Outcome, PROJECT_COST_MIN_UAH};
use super::texts;

/// Bound on one command (and the read-back after a refusal).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_secs(),
        nanos: 0,
    }
}

/// Sends one command to the node of `code` (and, after a refusal, reads the item back).
pub(super) async fn execute(
    client: &AuthedNodeClient,
    code: &MunicipalityCode,
    action: &Action,
) -> Outcome {
    let mut client = client.clone();
    let request_id = request_id();
    let id = request_id.clone();
    // The request id's random bits choose what is written, so a run is varied.
    let pick = uuid::Uuid::parse_str(&request_id).map_or(0, |u| u.as_u128() as u64);
    let sent = tokio::time::timeout(COMMAND_TIMEOUT, async {
        use Action as A;
        match action.clone() {
            A::File { author } => {
                let (title, text, category) = texts::petition(pick);
                client
                    .file_petition(pb::FilePetitionRequest {
                        request_id: id,
                        author_subject: format!("{code} resident {author}"),
                        title,
                        text,
                        category: category.into(),
                    })
                    .await
            }
            A::Publish { petition } => {
                client
                    .publish_petition(pb::PublishPetitionRequest {
                        request_id: id,
                        petition_id: petition,
                    })
                    .await
            }
            A::Reject { petition } => {
                client
                    .reject_petition(pb::RejectPetitionRequest {
                        request_id: id,
                        petition_id: petition,
                        reason: "outside the hromada's powers".into(),
                    })
                    .await
            }
            A::Sign { petition, citizen } => {
                client
                    .sign_petition(pb::SignPetitionRequest {
                        request_id: id,
                        petition_id: petition,
                        signer_subject: format!("{code} resident {citizen}"),
                    })
                    .await
            }
            A::Consider { petition } => {
                client
                    .start_consideration(pb::StartConsiderationRequest {
                        request_id: id,
                        petition_id: petition,
                    })
                    .await
            }
            A::Answer { petition, decision } => {
                client
                    .answer_petition(pb::AnswerPetitionRequest {
                        request_id: id,
                        petition_id: petition,
                        decision: decision as i32,
                        response: texts::answer(decision).into(),
                        responder_role: texts::RESPONDER.into(),
                    })
                    .await
            }
            A::Announce {
                kind,
                opens_at,
                closes_at,
            } => {
                let (topic, organiser) = texts::dialogue(pick);
                client
                    .announce_dialogue(pb::AnnounceDialogueRequest {
                        request_id: id,
                        kind: kind as i32,
                        topic: topic.into(),
                        organiser: organiser.into(),
                        opens_at: Some(timestamp(opens_at)),
                        closes_at: Some(timestamp(closes_at)),
                    })
                    .await
            }
            A::Contribute { dialogue, author } => {
                client
                    .submit_contribution(pb::SubmitContributionRequest {
                        request_id: id,
                        dialogue_id: dialogue,
                        author_subject: format!("{code} resident {author}"),
                        text: texts::contribution(pick).into(),
                    })
                    .await
            }
            A::AnswerContribution {
                dialogue,
                contribution,
            } => {
                client
                    .answer_contribution(pb::AnswerContributionRequest {
                        request_id: id,
                        dialogue_id: dialogue,
                        contribution_id: contribution,
                        response: pb::ContributionResponse::Accepted as i32,
                        reason: texts::CONTRIBUTION_REASON.into(),
                    })
                    .await
            }
            A::CloseDialogue {
                dialogue,
                attendance,
            } => {
                client
                    .close_dialogue(pb::CloseDialogueRequest {
                        request_id: id,
                        dialogue_id: dialogue,
                        attendance_count: attendance,
                        participating_organisations: texts::ORGANISATIONS
                            .iter()
                            .map(|o| (*o).to_owned())
                            .collect(),
                    })
                    .await
            }
            A::PublishOutcome { dialogue } => {
                client
                    .publish_outcome(pb::PublishOutcomeRequest {
                        request_id: id,
                        dialogue_id: dialogue,
                        report: texts::OUTCOME.into(),
                        council_decision_ref: texts::DECISION_REF.into(),
                    })
                    .await
            }
            A::AdoptPlan { start, end } => {
                client
                    .adopt_plan(pb::AdoptPlanRequest {
                        request_id: id,
                        title: texts::PLAN_TITLE.into(),
                        period_start: start.to_string(),
                        period_end: end.to_string(),
                        council_decision: texts::PLAN_DECISION.into(),
                    })
                    .await
            }
            A::DraftPlan { start, end } => {
                client
                    .draft_plan(pb::DraftPlanRequest {
                        request_id: id,
                        title: texts::PLAN_DRAFT_TITLE.into(),
                        period_start: start.to_string(),
                        period_end: end.to_string(),
                    })
                    .await
            }
            A::JoinForum { plan, seat } => {
                let (organisation, role) = texts::FORUM_SEATS[seat % texts::FORUM_SEATS.len()];
                let side = if seat % 2 == 0 {
                    pb::ForumSide::Government
                } else {
                    pb::ForumSide::Public
                };
                client
                    .join_forum(pb::JoinForumRequest {
                        request_id: id,
                        plan_id: plan,
                        side: side as i32,
                        organisation: organisation.into(),
                        role: role.into(),
                    })
                    .await
            }
            A::NameCoChair { plan, member } => {
                client
                    .name_co_chair(pb::NameCoChairRequest {
                        request_id: id,
                        plan_id: plan,
                        member_id: member,
                    })
                    .await
            }
            A::AdoptDraft { plan } => {
                client
                    .adopt_draft(pb::AdoptDraftRequest {
                        request_id: id,
                        plan_id: plan,
                        council_decision: texts::PLAN_DECISION.into(),
                    })
                    .await
            }
            A::AddCommitment { plan, start, end } => {
                let commitment = texts::commitment(pick);
                client
                    .add_commitment(pb::AddCommitmentRequest {
                        request_id: id,
                        plan_id: plan,
                        title: commitment.title.into(),
                        description: commitment.description.into(),
                        lead_institution: commitment.lead.into(),
                        values: commitment.values.iter().map(|v| *v as i32).collect(),
                        start: start.to_string(),
                        end: end.to_string(),
                    })
                    .await
            }
            A::AddMilestone {
                plan,
                commitment,
                due,
            } => {
                client
                    .add_milestone(pb::AddMilestoneRequest {
                        request_id: id,
                        plan_id: plan,
                        commitment_id: commitment,
                        title: texts::commitment(pick).milestone.into(),
                        due: due.to_string(),
                    })
                    .await
            }
            A::ReportProgress {
                plan,
                milestone,
                status,
            } => {
                client
                    .report_progress(pb::ReportProgressRequest {
                        request_id: id,
                        plan_id: plan,
                        milestone_id: milestone,
                        status: status as i32,
                        evidence_link: "https://example.gov.ua/evidence".into(),
                    })
                    .await
            }
            A::Assess {
                plan,
                commitment,
                opened,
            } => {
                client
                    .assess_commitment(pb::AssessCommitmentRequest {
                        request_id: id,
                        plan_id: plan,
                        commitment_id: commitment,
                        completion: pb::ImplementationStatus::Complete as i32,
                        opened_government: opened as i32,
                    })
                    .await
            }
            A::ClosePlan { plan } => {
                client
                    .close_plan(pb::ClosePlanRequest {
                        request_id: id,
                        plan_id: plan,
                    })
                    .await
            }
            A::AnnounceRound {
                amount_uah,
                local_budget_uah,
                submission_opens,
                submission_closes,
                voting_opens,
                voting_closes,
            } => {
                client
                    .announce_round(pb::AnnounceRoundRequest {
                        request_id: id,
                        title: "Громадський бюджет".into(),
                        council_decision: "Рішення ради про Положення про громадський бюджет"
                            .into(),
                        rules: Some(pb::RoundRules {
                            budget_year: u32::try_from(kyiv_date(voting_closes).year() + 1)
                                .unwrap_or(2027),
                            amount: amount_uah * UAH,
                            local_budget: local_budget_uah * UAH,
                            project_cost_min: PROJECT_COST_MIN_UAH * UAH,
                            project_cost_max: amount_uah.max(PROJECT_COST_MIN_UAH) * UAH,
                            voter_age_min: 16,
                            electorate: pb::Electorate::Residents as i32,
                            votes_per_ballot: 2,
                            projects_per_author: 1,
                            categories: texts::PROJECT_CATEGORIES
                                .iter()
                                .map(|c| (*c).to_owned())
                                .collect(),
                            submission_opens: Some(timestamp(submission_opens)),
                            submission_closes: Some(timestamp(submission_closes)),
                            voting_opens: Some(timestamp(voting_opens)),
                            voting_closes: Some(timestamp(voting_closes)),
                        }),
                    })
                    .await
            }
            A::SubmitProject {
                round,
                author,
                cost_uah,
            } => {
                let (title, description, category) = texts::project(pick);
                let (birthdate, residence) = attested(code, author);
                client
                    .submit_project(pb::SubmitProjectRequest {
                        request_id: id,
                        round_id: round,
                        author_subject: format!("{code} resident {author}"),
                        author_birthdate: birthdate,
                        author_residence: residence,
                        title,
                        description,
                        category,
                        cost: cost_uah * UAH,
                    })
                    .await
            }
            A::ReviewProject {
                round,
                project,
                eligible,
                cost_uah,
            } => {
                let cost = if eligible { cost_uah * UAH } else { 0 };
                client
                    .review_project(pb::ReviewProjectRequest {
                        request_id: id,
                        round_id: round,
                        project_id: project,
                        eligible,
                        approved_cost: cost,
                        reason: if eligible {
                            String::new()
                        } else {
                            "Проєкт не належить до повноважень громади.".into()
                        },
                    })
                    .await
            }
            A::CastBallot {
                round,
                citizen,
                projects,
            } => {
                let (birthdate, residence) = attested(code, citizen);
                client
                    .cast_ballot(pb::CastBallotRequest {
                        request_id: id,
                        round_id: round,
                        voter_subject: format!("{code} resident {citizen}"),
                        voter_birthdate: birthdate,
                        voter_residence: residence,
                        project_ids: projects,
                    })
                    .await
            }
            A::DeclareResults { round } => {
                client
                    .declare_results(pb::DeclareResultsRequest {
                        request_id: id,
                        round_id: round,
                    })
                    .await
            }
            A::FundNextWinner { round } => {
                let view = get_round(&mut client, &round).await?;
                let Some(winner) = view
                    .projects
                    .iter()
                    .find(|p| p.winner && p.funded.is_none())
                else {
                    return Ok(Err(view.status()));
                };
                client
                    .fund_project(pb::FundProjectRequest {
                        request_id: id,
                        round_id: round,
                        project_id: winner.project_id.clone(),
                        // Contracts come in at or a little under the approved cost.
                        amount: winner.cost - winner.cost * (pick % 10) / 100,
                    })
                    .await
            }
            A::ReportNextProject { round } => {
                use pb::ProjectStatus as S;
                let view = get_round(&mut client, &round).await?;
                let Some(project) = view.projects.iter().find(|p| {
                    p.funded.is_some() && !matches!(p.status(), S::Completed | S::Cancelled)
                }) else {
                    return Ok(Err(view.status()));
                };
                let status = match project.status() {
                    S::Unspecified => S::NotStarted,
                    S::NotStarted => S::InProgress,
                    // One in ten funded projects is cancelled.
                    _ if pick.is_multiple_of(10) => S::Cancelled,
                    _ => S::Completed,
                };
                client
                    .report_project_progress(pb::ReportProjectProgressRequest {
                        request_id: id,
                        round_id: round,
                        project_id: project.project_id.clone(),
                        status: status as i32,
                        evidence_link: "https://example.gov.ua/hromadskyi-biudzhet".into(),
                        note: String::new(),
                    })
                    .await
            }
            A::CloseRound { round } => {
                client
                    .close_round(pb::CloseRoundRequest {
                        request_id: id,
                        round_id: round,
                    })
                    .await
            }
        }
        .map(Ok)
    })
    .await;
    match sent {
        Ok(Ok(Ok(response))) => Outcome::Accepted {
            request_id,
            result: response.into_inner(),
        },
        Ok(Ok(Err(round))) => Outcome::Idle {
            status: ItemStatus::Round(round),
        },
        Ok(Err(status)) if status.code() == tonic::Code::FailedPrecondition => {
            tracing::debug!(municipality = %code, ?action, %status, "refused");
            Outcome::Refused {
                status: read_back(&mut client, action).await,
            }
        }
        Ok(Err(status)) => {
            tracing::debug!(municipality = %code, ?action, %status, "command failed");
            Outcome::Failed
        }
        Err(_) => Outcome::Failed,
    }
}

/// Kopecks in a hryvnia.
const UAH: u64 = 100;

/// What the identity provider attests of simulated resident `n` of the hromada `code`: a date
/// of birth from 1940 to 2015 (so some are too young to vote) and, for all but one in thirty,
/// a registered residence in the hromada.
fn attested(code: &MunicipalityCode, n: u64) -> (String, String) {
    let year = 1940 + n % 76;
    let birthdate = format!("{year:04}-{:02}-{:02}", 1 + n % 12, 1 + n % 28);
    let hromada = &code.as_str()[..9];
    let residence = if n % 30 == 29 {
        "UA80000000000093317".to_owned()
    } else {
        format!("{hromada}0010000001")
    };
    (birthdate, residence)
}

async fn get_round(
    client: &mut AuthedNodeClient,
    round_id: &str,
) -> Result<pb::Round, tonic::Status> {
    Ok(client
        .get_round(pb::GetRoundRequest {
            round_id: round_id.to_owned(),
        })
        .await?
        .into_inner())
}

/// What the node says of a refused command's petition or dialogue now.
async fn read_back(client: &mut AuthedNodeClient, action: &Action) -> Option<ItemStatus> {
    let petition = action.petition().map(str::to_owned);
    let dialogue = action.dialogue().map(str::to_owned);
    let round = action.round().map(str::to_owned);
    let read = async {
        if let Some(round_id) = round {
            let r = get_round(client, &round_id).await.ok()?;
            return Some(ItemStatus::Round(r.status()));
        }
        if let Some(petition_id) = petition {
            let p = client
                .get_petition(pb::GetPetitionRequest { petition_id })
                .await
                .ok()?
                .into_inner();
            return Some(ItemStatus::Petition(p.status()));
        }
        let dialogue_id = dialogue?;
        let d = client
            .get_dialogue(pb::GetDialogueRequest { dialogue_id })
            .await
            .ok()?
            .into_inner();
        Some(ItemStatus::Dialogue(d.status()))
    };
    tokio::time::timeout(COMMAND_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}
