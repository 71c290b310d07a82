//! Sending one simulated command to a node over gRPC, as a hromada's own web app would, and
//! reading the item back after a refusal.

use std::time::Duration;

use event_store_core::{MunicipalityCode, Timestamp};
use node::auth::AuthedNodeClient;
use proto::node::v1 as pb;

use super::action::{Action, ItemStatus, Outcome};

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
    let sent = tokio::time::timeout(COMMAND_TIMEOUT, async {
        use Action as A;
        match action.clone() {
            A::File { author } => {
                let n = author % TITLES.len() as u64;
                let title = TITLES[usize::try_from(n).unwrap_or(0)];
                client
                    .file_petition(pb::FilePetitionRequest {
                        request_id: id,
                        author_subject: format!("{code} resident {author}"),
                        title: title.to_owned(),
                        text: format!("{title}: the residents ask the council to act this year."),
                        category: "community".into(),
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
                        response: "The council considered the petition at its session.".into(),
                        responder_role: "mayor".into(),
                    })
                    .await
            }
            A::Announce {
                kind,
                opens_at,
                closes_at,
            } => {
                client
                    .announce_dialogue(pb::AnnounceDialogueRequest {
                        request_id: id,
                        kind: kind as i32,
                        topic: "The hromada's budget for next year".into(),
                        organiser: "Executive committee".into(),
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
                        text: "More lighting on the school route, please.".into(),
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
                        reason: "Included in the draft.".into(),
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
                        participating_organisations: vec!["Youth council".into()],
                    })
                    .await
            }
            A::PublishOutcome { dialogue } => {
                client
                    .publish_outcome(pb::PublishOutcomeRequest {
                        request_id: id,
                        dialogue_id: dialogue,
                        report: "The council took the proposals into the decision.".into(),
                        council_decision_ref: "No. 12/2026".into(),
                    })
                    .await
            }
            A::AdoptPlan { start, end } => {
                client
                    .adopt_plan(pb::AdoptPlanRequest {
                        request_id: id,
                        title: "OGP Local action plan".into(),
                        period_start: start.to_string(),
                        period_end: end.to_string(),
                        council_decision: "No. 7/2026".into(),
                    })
                    .await
            }
            A::AddCommitment { plan, start, end } => {
                client
                    .add_commitment(pb::AddCommitmentRequest {
                        request_id: id,
                        plan_id: plan,
                        title: "Open budget".into(),
                        description: "Publish the budget and its execution as open data.".into(),
                        lead_institution: "Finance department".into(),
                        values: vec![
                            pb::OgpValue::AccessToInformation as i32,
                            pb::OgpValue::PublicAccountability as i32,
                        ],
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
                        title: "Data portal section".into(),
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

/// Petition titles the simulated residents file.
const TITLES: [&str; 8] = [
    "Bike lanes on the main street",
    "Longer library hours",
    "Repair the bridge over the river",
    "Shade trees in the schoolyard",
    "Night buses to the outskirts",
    "A new playground in the park",
    "Public toilets at the market",
    "Ramps at every public building",
];
