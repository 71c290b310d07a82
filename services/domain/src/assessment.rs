//! Independent assessment of OGP-Local commitments: "did it open government?" answered by a
//! monitor who is not the hromada.
//!
//! A hromada's own `CommitmentAssessed` (the action plan's last step) is self-reported. An
//! independent assessment is a statement a **monitor** signs: an organisation the association
//! enrolled with an Ed25519 key of its own, named `vidkryto-monitor/<id>`, declaring at
//! enrolment the hromadas it is not independent of (it works for their council, it is funded by
//! it). The monitor signs its assessment as a C2SP signed note; the association checks it under
//! these rules and records the whole note in its own log, where an auditor checks it again.
//!
//! A hromada cannot write one: a note signed under a hromada's key name is refused, a monitor
//! whose key is a key the hromada ever signed its log with is refused (whatever name the key
//! was enrolled under), and so is a monitor for a hromada it declared itself not independent
//! of. Each refusal names its rule ([`Refusal::AssessmentByTheHromada`] and the others below).
//!
//! # Format, version 1 (frozen)
//!
//! ```text
//! vidkryto/independent-assessment/v1
//! monitor <id>
//! municipality <KATOTTG>
//! plan <uuid>
//! commitment <uuid>
//! completion <not_started | limited | substantial | complete>
//! opened_government <worsened | did_not_change | marginal | major | outstanding>
//! assessed_on <yyyy-mm-dd>
//! summary <one line, at most 1,000 characters>
//!
//! — vidkryto-monitor/<id> <base64 signature>
//! ```
//!
//! Uuids are lowercase and hyphenated; every field is in its one written form, so one
//! assessment has one text. Exactly one signature.

use std::collections::BTreeSet;

use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::{NoteSigner, NoteVerifier, SignedNote};

use crate::action_plan::{ImplementationStatus, OpenedGovernment};
use crate::text::{check_len, check_line};
use crate::{CivilDate, CommitmentId, DomainError, PlanId, Refusal, Violation};

/// The first line of every assessment.
pub const HEADER: &str = "vidkryto/independent-assessment/v1";
/// A monitor's key is named this and its id.
pub const MONITOR_KEY_PREFIX: &str = "vidkryto-monitor/";
/// Longest monitor id.
pub const MONITOR_ID_CHARS_MAX: u32 = 40;
/// Longest name of a monitor (an organisation's name).
pub const MONITOR_NAME_CHARS_MAX: u32 = 200;
/// Longest summary of an assessment.
pub const SUMMARY_CHARS_MAX: u32 = 1_000;
/// Most hromadas a monitor may declare itself not independent of.
pub const NOT_INDEPENDENT_OF_MAX: u32 = 2_000;

/// What a monitor says about one commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The monitor's id (its key is named [`monitor_key_name`] of it).
    pub monitor: String,
    pub municipality: MunicipalityCode,
    pub plan: PlanId,
    pub commitment: CommitmentId,
    /// On the IRM completion scale: not started, limited, substantial, complete.
    pub completion: ImplementationStatus,
    pub opened_government: OpenedGovernment,
    /// The Kyiv day the monitor assessed it.
    pub assessed_on: CivilDate,
    /// Why, in one line.
    pub summary: String,
}

/// The name a monitor's key goes by.
pub fn monitor_key_name(id: &str) -> String {
    format!("{MONITOR_KEY_PREFIX}{id}")
}

/// A monitor's id: 2 to 40 of `a-z`, `0-9` and `-`, starting with a letter or digit.
pub fn check_monitor_id(id: &str) -> Result<(), DomainError> {
    let form = id.len() >= 2
        && id.len() <= MONITOR_ID_CHARS_MAX as usize
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if form {
        Ok(())
    } else {
        Err(DomainError::invalid("monitor", Violation::NotInItsForm))
    }
}

/// The API name of a completion level (the projection's names).
pub const fn completion_name(level: ImplementationStatus) -> &'static str {
    match level {
        ImplementationStatus::NoEvidenceAvailable => "no_evidence_available",
        ImplementationStatus::NotStarted => "not_started",
        ImplementationStatus::Limited => "limited",
        ImplementationStatus::Substantial => "substantial",
        ImplementationStatus::Complete => "complete",
    }
}

/// The API name of a "did it open government" level.
pub const fn opened_government_name(level: OpenedGovernment) -> &'static str {
    match level {
        OpenedGovernment::Worsened => "worsened",
        OpenedGovernment::DidNotChange => "did_not_change",
        OpenedGovernment::Marginal => "marginal",
        OpenedGovernment::Major => "major",
        OpenedGovernment::Outstanding => "outstanding",
    }
}

/// The completion levels a monitor may give: the IRM's four (no "no evidence": a monitor
/// that found none says "not started").
pub const COMPLETION_LEVELS: [ImplementationStatus; 4] = [
    ImplementationStatus::NotStarted,
    ImplementationStatus::Limited,
    ImplementationStatus::Substantial,
    ImplementationStatus::Complete,
];

/// Every "did it open government" level, in scale order.
pub const OPENED_GOVERNMENT_LEVELS: [OpenedGovernment; 5] = [
    OpenedGovernment::Worsened,
    OpenedGovernment::DidNotChange,
    OpenedGovernment::Marginal,
    OpenedGovernment::Major,
    OpenedGovernment::Outstanding,
];

/// A completion level a monitor may give, by name.
pub fn parse_completion(name: &str) -> Option<ImplementationStatus> {
    COMPLETION_LEVELS
        .into_iter()
        .find(|l| completion_name(*l) == name)
}

/// A "did it open government" level, by name.
pub fn parse_opened_government(name: &str) -> Option<OpenedGovernment> {
    OPENED_GOVERNMENT_LEVELS
        .into_iter()
        .find(|l| opened_government_name(*l) == name)
}

impl Assessment {
    /// The rules its fields keep on their own.
    pub fn check(&self) -> Result<(), DomainError> {
        check_monitor_id(&self.monitor)?;
        if !COMPLETION_LEVELS.contains(&self.completion) {
            return Err(DomainError::invalid("completion", Violation::NotInItsForm));
        }
        check_line("summary", &self.summary, SUMMARY_CHARS_MAX)
    }

    /// The signed text.
    pub fn body(&self) -> String {
        format!(
            "{HEADER}\nmonitor {}\nmunicipality {}\nplan {}\ncommitment {}\ncompletion {}\n\
             opened_government {}\nassessed_on {}\nsummary {}\n",
            self.monitor,
            self.municipality,
            self.plan,
            self.commitment,
            completion_name(self.completion),
            opened_government_name(self.opened_government),
            self.assessed_on,
            self.summary,
        )
    }

    /// The assessment signed by the monitor's key, as a note; the key must be the monitor's.
    pub fn sign(&self, key: &NoteSigner) -> Result<String, DomainError> {
        self.check()?;
        if key.name() != monitor_key_name(&self.monitor) {
            return Err(DomainError::refused(Refusal::AssessmentSignerNotTheMonitor));
        }
        Ok(key.sign_note(self.body()).to_note())
    }

    fn parse_body(body: &str) -> Result<Self, DomainError> {
        let unreadable = |field: &'static str| DomainError::invalid(field, Violation::NotInItsForm);
        let mut lines = body
            .strip_suffix('\n')
            .ok_or(unreadable("note"))?
            .split('\n');
        if lines.next() != Some(HEADER) {
            return Err(unreadable("note"));
        }
        let mut field = |name: &'static str| -> Result<&str, DomainError> {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or(unreadable(name))
        };
        // Each field in its one written form: parsed, then written back identically.
        fn exact<T: std::str::FromStr + ToString>(
            text: &str,
            name: &'static str,
        ) -> Result<T, DomainError> {
            text.parse::<T>()
                .ok()
                .filter(|v| v.to_string() == text)
                .ok_or(DomainError::invalid(name, Violation::NotInItsForm))
        }
        let monitor = field("monitor")?.to_owned();
        let municipality = MunicipalityCode::parse(field("municipality")?)
            .map_err(|_| unreadable("municipality"))?;
        let plan = exact::<PlanId>(field("plan")?, "plan")?;
        let commitment = exact::<CommitmentId>(field("commitment")?, "commitment")?;
        let completion = parse_completion(field("completion")?).ok_or(unreadable("completion"))?;
        let opened_government = parse_opened_government(field("opened_government")?)
            .ok_or(unreadable("opened_government"))?;
        let assessed_on = exact::<CivilDate>(field("assessed_on")?, "assessed_on")?;
        let summary = field("summary")?.to_owned();
        if lines.next().is_some() {
            return Err(unreadable("note"));
        }
        let assessment = Self {
            monitor,
            municipality,
            plan,
            commitment,
            completion,
            opened_government,
            assessed_on,
            summary,
        };
        assessment.check()?;
        Ok(assessment)
    }
}

/// A signed assessment as received, its signature not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAssessment {
    pub assessment: Assessment,
    /// The name of the key that signed it.
    pub signer: String,
    note: SignedNote,
}

impl SignedAssessment {
    /// Reads a note strictly: one signature, the format above. The signature is checked by
    /// [`decide`], against the key the association enrolled.
    pub fn read(note: &str) -> Result<Self, DomainError> {
        let parsed = SignedNote::parse(note)
            .map_err(|_| DomainError::invalid("note", Violation::NotInItsForm))?;
        let [signature] = parsed.signatures.as_slice() else {
            return Err(DomainError::invalid(
                "note",
                Violation::TooMany { items_max: 1 },
            ));
        };
        let signer = signature.name.clone();
        let assessment = Assessment::parse_body(&parsed.body)?;
        if parsed.to_note() != note {
            return Err(DomainError::invalid("note", Violation::NotInItsForm));
        }
        Ok(Self {
            assessment,
            signer,
            note: parsed,
        })
    }

    /// The note, as received.
    pub fn note(&self) -> String {
        self.note.to_note()
    }
}

/// A monitor as the association enrolled it, valid at the time of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    pub id: String,
    pub key: NoteVerifier,
    /// The hromadas it declared itself not independent of.
    pub not_independent_of: BTreeSet<MunicipalityCode>,
}

/// Where the assessed commitment stands in the hromada's verified log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentStanding {
    /// No such commitment in the hromada's log.
    Unknown,
    /// In `plan`, withdrawn from it or not, the plan adopted by the council or still a draft.
    InPlan {
        plan: PlanId,
        withdrawn: bool,
        adopted: bool,
    },
}

/// What [`decide`] checks an assessment against.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The enrolled monitor whose id the assessment names, if one is enrolled now.
    pub monitor: Option<&'a Monitor>,
    /// Every key the assessed hromada was ever enrolled with.
    pub hromada_keys: &'a [NoteVerifier],
    /// The commitment in the hromada's log; `None` where it cannot be known (an auditor
    /// replaying the association's log alone).
    pub commitment: Option<CommitmentStanding>,
    /// The Kyiv day of the decision.
    pub today: CivilDate,
}

/// Whether the association may record `signed` as an independent assessment.
pub fn decide(signed: &SignedAssessment, context: &Context<'_>) -> Result<(), DomainError> {
    let assessment = &signed.assessment;
    if is_hromada_key_name(&signed.signer) {
        return Err(DomainError::refused(Refusal::AssessmentByTheHromada));
    }
    if signed.signer != monitor_key_name(&assessment.monitor) {
        return Err(DomainError::refused(Refusal::AssessmentSignerNotTheMonitor));
    }
    let monitor = context
        .monitor
        .filter(|m| m.id == assessment.monitor)
        .ok_or(DomainError::refused(Refusal::MonitorNotEnrolled))?;
    signed
        .note
        .verify(&monitor.key)
        .map_err(|_| DomainError::invalid("note", Violation::SignatureInvalid))?;
    if is_a_hromada_key(&monitor.key, context.hromada_keys) {
        return Err(DomainError::refused(Refusal::AssessmentByTheHromada));
    }
    if monitor
        .not_independent_of
        .contains(&assessment.municipality)
    {
        return Err(DomainError::refused(Refusal::AssessorNotIndependent));
    }
    match context.commitment {
        None => {}
        Some(CommitmentStanding::Unknown) => return Err(DomainError::not_found("commitment")),
        Some(CommitmentStanding::InPlan { plan, .. }) if plan != assessment.plan => {
            return Err(DomainError::not_found("commitment"));
        }
        Some(CommitmentStanding::InPlan {
            withdrawn: true, ..
        }) => return Err(DomainError::refused(Refusal::CommitmentWithdrawn)),
        // A draft's commitments are not the council's yet: nothing to assess.
        Some(CommitmentStanding::InPlan { adopted: false, .. }) => {
            return Err(DomainError::refused(Refusal::PlanNotAdopted));
        }
        Some(CommitmentStanding::InPlan { .. }) => {}
    }
    if assessment.assessed_on > context.today {
        return Err(DomainError::refused(Refusal::AssessmentDatedAhead));
    }
    Ok(())
}

/// Whether the association may enrol a monitor: its id and name in their form, its key named
/// after its id and not a key any hromada signs with (`hromada_keys`: every key ever enrolled
/// for any hromada), its declared conflicts sorted and bounded.
pub fn check_enrolment(
    id: &str,
    name: &str,
    key: &NoteVerifier,
    not_independent_of: &[MunicipalityCode],
    hromada_keys: &[NoteVerifier],
) -> Result<(), DomainError> {
    check_monitor_id(id)?;
    check_line("name", name, MONITOR_NAME_CHARS_MAX)?;
    // Directional and other invisible formatting marks could make one name read as another's.
    if name.chars().any(is_format_character) {
        return Err(DomainError::invalid("name", Violation::ControlCharacter));
    }
    if key.name() != monitor_key_name(id) || key.is_weak() {
        return Err(DomainError::invalid("vkey", Violation::NotInItsForm));
    }
    if is_a_hromada_key(key, hromada_keys) {
        return Err(DomainError::refused(Refusal::AssessmentByTheHromada));
    }
    check_len(
        "not_independent_of",
        not_independent_of.len(),
        NOT_INDEPENDENT_OF_MAX,
    )?;
    if !not_independent_of.windows(2).all(|w| w[0] < w[1]) {
        return Err(DomainError::invalid(
            "not_independent_of",
            Violation::NotStrictlyAscending,
        ));
    }
    Ok(())
}

/// Unicode's invisible formatting marks (bidirectional controls, zero-width characters).
fn is_format_character(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

/// A hromada's key name: `vidkryto/<KATOTTG>`.
fn is_hromada_key_name(name: &str) -> bool {
    name.strip_prefix("vidkryto/")
        .is_some_and(|code| MunicipalityCode::parse(code).is_ok())
}

fn is_a_hromada_key(key: &NoteVerifier, hromada_keys: &[NoteVerifier]) -> bool {
    is_hromada_key_name(key.name())
        || hromada_keys
            .iter()
            .any(|k| k.public_key() == key.public_key())
}
