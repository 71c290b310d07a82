//! Sending one simulated command to a node over gRPC, as a hromada's own web app would, and
//! reading the item back after a refusal.

use std::time::Duration;

use event_store_core::{MunicipalityCode, Timestamp};
use node::auth::AuthedNodeClient;
use proto::node::v1 as pb;

use super::action::{Action, ItemStatus, Outcome};
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
        }
    })
    .await;
    match sent {
        Ok(Ok(response)) => Outcome::Accepted {
            request_id,
            result: response.into_inner(),
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

/// What the node says of a refused command's petition or dialogue now.
async fn read_back(client: &mut AuthedNodeClient, action: &Action) -> Option<ItemStatus> {
    let petition = action.petition().map(str::to_owned);
    let dialogue = action.dialogue().map(str::to_owned);
    let read = async {
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
