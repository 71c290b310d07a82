//! `vidkryto audit recompute`: the national projections rebuilt from an archive alone, in a
//! store of the auditor's own (the `projection` crate's in-memory store, the same rules the
//! association runs), up to given positions; the digest is comparable with the association's.
//!
//! It treats the archive's events as the association treated them when it verified them
//! (`services/association/src/commit.rs`): an event whose envelope decodes but whose payload
//! does not is part of the verified log but no domain event, so it is **skipped** for the
//! projections and reported ([`Recomputed::undecodable`]), never a reason to stop; bytes that
//! the association could never have verified (no envelope, another position or another
//! hromada than the archive says) are an error that `audit verify` explains.
//!
//! It also replays every participatory budget round under the domain's own rules: each budget
//! event must be exactly what the rules decide for the command it records
//! (`domain::budget::check_recorded`: a ballot in the voting period, one per voter, for
//! projects on the ballot; results equal to what the ballots before them give; funding of
//! winners within their cost; nothing after closing). An event that is not is named with its
//! rule and left out of the round's count, as the rules would have refused it
//! ([`RoundResults`]), so a node that stuffed ballots or declared other winners is named with
//! the round.

use std::collections::BTreeMap;

use domain::budget::{BudgetEvent, BudgetState};
use domain::{Event, ProjectId, RoundId};
use event_store_core::{EnvelopeRef, MunicipalityCode};
use projection::{MemoryStore, Verified};

use crate::AuditError;
use crate::archive::Archive;

/// Events applied per batch.
const BATCH: usize = 20_000;

/// A recomputed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recomputed {
    pub digest: String,
    /// Events replayed per hromada (skipped ones included: they are in the verified log).
    pub positions: BTreeMap<MunicipalityCode, u64>,
    pub events: u64,
    /// Verified events whose payload does not decode, skipped for the projections as the
    /// association skips them, in hromada and log order.
    pub undecodable: Vec<Undecodable>,
    /// Every participatory budget round, counted again from its ballots, in hromada and round
    /// order.
    pub rounds: Vec<RoundResults>,
}

/// A participatory budget round replayed from the archive under the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundResults {
    pub municipality: MunicipalityCode,
    pub round: RoundId,
    /// Ballots the rules accept.
    pub ballots: u32,
    /// The winners those ballots give (`domain::budget::results`), in ranking order: as of the
    /// declaration when there is one, else as of the end of the archive.
    pub winners: Vec<ProjectId>,
    /// The winners the log declared, if it did, and at which event.
    pub declared: Option<(u64, Vec<ProjectId>)>,
    /// Events the rules would have refused, by sequence number, with the rule each breaks.
    pub violations: Vec<(u64, String)>,
}

impl RoundResults {
    /// Whether every event of the round is what the rules decide.
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The rounds of one hromada as the replay folds them.
#[derive(Default)]
struct Rounds(BTreeMap<RoundId, (BudgetState, RoundResults)>);

impl Rounds {
    fn apply(&mut self, municipality: MunicipalityCode, seq: u64, event: &BudgetEvent) {
        let round = event.round_id();
        let (state, found) = self.0.entry(round).or_insert_with(|| {
            let results = RoundResults {
                municipality,
                round,
                ballots: 0,
                winners: Vec::new(),
                declared: None,
                violations: Vec::new(),
            };
            (BudgetState::default(), results)
        });
        if let Err(refused) = domain::budget::check_recorded(state, event) {
            let rule = match refused {
                domain::DomainError::Refused { rule } => rule.code().to_owned(),
                other => other.to_string(),
            };
            found.violations.push((seq, rule));
            return;
        }
        if let BudgetEvent::ResultsDeclared(d) = event {
            found.winners = domain::budget::results(state).1;
            found.ballots = state.ballots;
            found.declared = Some((seq, d.winners.clone()));
        }
        *state = domain::budget::evolve(std::mem::take(state), event);
    }

    fn finish(self, out: &mut Vec<RoundResults>) {
        for (state, mut found) in self.0.into_values() {
            if found.declared.is_none() {
                found.ballots = state.ballots;
                found.winners = domain::budget::results(&state).1;
            }
            out.push(found);
        }
    }
}

/// A verified event whose payload is no domain event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    pub municipality: MunicipalityCode,
    pub seq: u64,
    /// Why the payload does not decode.
    pub detail: String,
}

/// Replays each hromada's archived events up to `upto` (all it holds, for a hromada not named)
/// and returns the projection digest. Verified events whose payload does not decode are skipped
/// and listed. Refuses when the archive holds fewer events than asked, or bytes the association
/// could not have verified.
pub fn recompute(
    archive: &Archive,
    upto: &BTreeMap<MunicipalityCode, u64>,
) -> Result<Recomputed, AuditError> {
    let mut store = MemoryStore::new();
    let mut positions = BTreeMap::new();
    let mut events = 0;
    let mut undecodable = Vec::new();
    let mut rounds = Vec::new();
    let codes: Vec<MunicipalityCode> = if upto.is_empty() {
        archive.municipalities()?
    } else {
        upto.keys().copied().collect()
    };
    for code in codes {
        let limit = upto.get(&code).copied().unwrap_or(u64::MAX);
        let mut budgets = Rounds::default();
        let mut next = 1;
        let mut batch = Vec::with_capacity(BATCH);
        'files: for (first, _, path) in archive.events_files(&code)? {
            if first != next {
                return Err(AuditError::Input(format!(
                    "{code}: the archive has no events from {next}"
                )));
            }
            let data = archive.read_events_file(&path)?;
            for record in crate::archive::decode_events(&path, &data)? {
                if next > limit {
                    break 'files;
                }
                let corrupt = |what: String| {
                    AuditError::Input(format!("{code} event {next}: {what} (run audit verify)"))
                };
                let envelope = EnvelopeRef::decode(record.bytes)
                    .map_err(|e| corrupt(format!("not an envelope: {e}")))?;
                if envelope.seq.0 != next || envelope.municipality != code {
                    return Err(corrupt(format!(
                        "the envelope is event {} of {}",
                        envelope.seq.0, envelope.municipality
                    )));
                }
                // The one way stored payloads are read (`domain::schema`), as the association's
                // commit reads them; what does not decode is skipped, as it skips it.
                match domain::decode(
                    envelope.event_type,
                    envelope.schema_version,
                    envelope.payload,
                ) {
                    Ok(event) => {
                        if let Event::Budget(e) = &event {
                            budgets.apply(code, next, e);
                        }
                        batch.push(Verified {
                            municipality: code,
                            seq: next,
                            event,
                        });
                    }
                    Err(e) => undecodable.push(Undecodable {
                        municipality: code,
                        seq: next,
                        detail: e.to_string(),
                    }),
                }
                next += 1;
                if batch.len() >= BATCH {
                    store
                        .apply_batch(&batch)
                        .map_err(|e| AuditError::Input(format!("{code}: {e}")))?;
                    batch.clear();
                }
            }
        }
        store
            .apply_batch(&batch)
            .map_err(|e| AuditError::Input(format!("{code}: {e}")))?;
        let replayed = next - 1;
        if limit != u64::MAX && replayed < limit {
            return Err(AuditError::Input(format!(
                "{code}: the archive holds {replayed} events, {limit} were asked for (export again)"
            )));
        }
        events += replayed;
        positions.insert(code, replayed);
        budgets.finish(&mut rounds);
    }
    let digest = store
        .digest()
        .map_err(|e| AuditError::Input(format!("digest: {e}")))?;
    Ok(Recomputed {
        digest: projection::Digest(digest).to_string(),
        positions,
        events,
        undecodable,
        rounds,
    })
}
