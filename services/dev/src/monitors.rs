//! Independent monitors for `vidkryto dev`: two organisations the association enrols at start
//! (one declaring itself not independent of the first hromada), each with a key of its own.
//! When a hromada assesses one of its commitments itself, a monitor independent of it signs its
//! own assessment of the same commitment a few seconds later (once the association has verified
//! the commitment), usually a level more sober than the hromada's, and submits it to the
//! association as `vidkryto monitor assess` would.
//!
//! **Bounds.** At most [`QUEUE_MAX`] assessments wait (more are dropped and counted), one
//! submission at a time, each bounded by [`SUBMIT_TIMEOUT`], retried at most [`TRIES_MAX`]
//! times while the association has not verified the commitment yet.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use domain::action_plan::{ImplementationStatus, OpenedGovernment};
use domain::assessment::{Assessment, monitor_key_name};
use event_store_core::checkpoint::NoteSigner;
use event_store_core::{MunicipalityCode, Timestamp};
use proto::federation::v1 as fed;
use proto::federation::v1::federation_service_client::FederationServiceClient;
use rand::Rng as _;
use tokio::sync::{mpsc, watch};

/// Assessments waiting at most.
pub const QUEUE_MAX: usize = 256;
/// One submission's bound.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per assessment (the commitment's self-assessment may not be verified yet).
pub const TRIES_MAX: u32 = 5;
/// Pause before a try.
const DELAY: Duration = Duration::from_secs(3);

/// A hromada's self-assessment the simulation saw accepted.
#[derive(Debug, Clone)]
pub struct SelfAssessed {
    pub code: MunicipalityCode,
    pub plan: String,
    pub commitment: String,
    pub opened: OpenedGovernment,
}

/// One simulated monitor.
#[derive(Debug, Clone)]
pub struct SimMonitor {
    pub id: &'static str,
    pub name: &'static str,
    pub key: NoteSigner,
    pub not_independent_of: Vec<MunicipalityCode>,
}

/// What the monitors did.
#[derive(Debug, Default)]
pub struct MonitorStats {
    pub recorded: AtomicU64,
    pub refused: AtomicU64,
    pub dropped: AtomicU64,
}

/// The two monitors, with fresh keys; the second is not independent of `first_hromada`.
pub fn monitors(first_hromada: Option<MunicipalityCode>) -> anyhow::Result<Vec<SimMonitor>> {
    let key = |id: &str| -> anyhow::Result<NoteSigner> {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Ok(NoteSigner::from_seed(&monitor_key_name(id), seed)?)
    };
    Ok(vec![
        SimMonitor {
            id: "chesno",
            name: "Рух ЧЕСНО",
            key: key("chesno")?,
            not_independent_of: Vec::new(),
        },
        SimMonitor {
            id: "local-watch",
            name: "Громадська мережа «Локальний моніторинг»",
            key: key("local-watch")?,
            not_independent_of: first_hromada.into_iter().collect(),
        },
    ])
}

/// A level a monitor gives: the hromada's own, or one lower about half the time.
fn sober(opened: OpenedGovernment, rng: &mut impl rand::Rng) -> OpenedGovernment {
    use OpenedGovernment as O;
    if rng.gen_bool(0.5) {
        return opened;
    }
    match opened {
        O::Outstanding => O::Major,
        O::Major => O::Marginal,
        O::Marginal | O::DidNotChange => O::DidNotChange,
        O::Worsened => O::Worsened,
    }
}

/// Runs the monitors until `stop`: each self-assessment received becomes an independent one.
pub async fn run(
    monitors: Vec<SimMonitor>,
    association: String,
    mut assessed: mpsc::Receiver<SelfAssessed>,
    stats: Arc<MonitorStats>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(endpoint) = tonic::transport::Channel::from_shared(association) else {
        return;
    };
    let mut client = FederationServiceClient::new(
        endpoint
            .connect_timeout(SUBMIT_TIMEOUT)
            .timeout(SUBMIT_TIMEOUT)
            .connect_lazy(),
    );
    let mut waiting: VecDeque<(String, u32)> = VecDeque::new();
    let mut ticker = tokio::time::interval(DELAY);
    let mut rng: rand::rngs::StdRng = rand::SeedableRng::from_entropy();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            received = assessed.recv() => {
                let Some(item) = received else { return };
                let eligible: Vec<&SimMonitor> = monitors
                    .iter()
                    .filter(|m| !m.not_independent_of.contains(&item.code))
                    .collect();
                let Some(monitor) = eligible.get(rng.gen_range(0..eligible.len().max(1))) else {
                    continue;
                };
                let (Ok(plan), Ok(commitment)) = (item.plan.parse(), item.commitment.parse()) else {
                    continue;
                };
                let completion = if rng.gen_bool(0.6) {
                    ImplementationStatus::Complete
                } else {
                    ImplementationStatus::Substantial
                };
                let assessment = Assessment {
                    monitor: monitor.id.to_owned(),
                    municipality: item.code,
                    plan,
                    commitment,
                    completion,
                    opened_government: sober(item.opened, &mut rng),
                    assessed_on: domain::kyiv_date(Timestamp::now()),
                    summary: "Перевірено за відкритими даними громади й опитуванням мешканців."
                        .into(),
                };
                match assessment.sign(&monitor.key) {
                    Ok(note) if waiting.len() < QUEUE_MAX => waiting.push_back((note, 0)),
                    _ => {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                continue;
            }
            _ = ticker.tick() => {}
        }
        // Submitted outside `select!`, whose branches' outputs (the stop signal's guard) must
        // not live across an await.
        if let Some((note, tries)) = waiting.pop_front() {
            {
                match client
                    .submit_assessment(fed::SubmitAssessmentRequest { note: note.clone() })
                    .await
                {
                    Ok(_) => {
                        stats.recorded.fetch_add(1, Ordering::Relaxed);
                    }
                    // Not verified yet, or the association is busy: try again later.
                    Err(status)
                        if matches!(
                            status.code(),
                            tonic::Code::NotFound
                                | tonic::Code::Unavailable
                                | tonic::Code::DeadlineExceeded
                                | tonic::Code::ResourceExhausted
                        ) && tries + 1 < TRIES_MAX =>
                    {
                        waiting.push_back((note, tries + 1));
                    }
                    Err(status) => {
                        tracing::info!(code = ?status.code(), message = status.message(), "a monitor's assessment was refused");
                        stats.refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}
