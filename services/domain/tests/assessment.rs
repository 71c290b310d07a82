//! Given/when/then tests of the independent assessment rules: who may assess a commitment, and
//! that a hromada cannot assess its own.

use std::collections::BTreeSet;

use domain::action_plan::{ImplementationStatus, OpenedGovernment};
use domain::assessment::{
    Assessment, CommitmentStanding, Context, Monitor, SignedAssessment, check_enrolment, decide,
    monitor_key_name,
};
use domain::{CivilDate, CommitmentId, DomainError, PlanId, Refusal, Violation};
use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::{NoteSigner, NoteVerifier, origin_for};
use proptest::prelude::*;
use uuid::Uuid;

const KYIV: &str = "UA80000000000093317";
const VINNYTSIA: &str = "UA05020030000031457";

fn code(text: &str) -> MunicipalityCode {
    MunicipalityCode::parse(text).expect("a KATOTTG code")
}

fn date(text: &str) -> CivilDate {
    text.parse().expect("a date")
}

fn plan() -> PlanId {
    PlanId::from(Uuid::from_u128(0x0190_abcd_0000_7000_8000_0000_0000_0001))
}

fn commitment() -> CommitmentId {
    CommitmentId::from(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002))
}

/// Kyiv's node key: what the hromada signs its log with.
fn kyiv_key() -> NoteSigner {
    NoteSigner::from_seed(&origin_for(&code(KYIV)), [1; 32]).expect("a key")
}

fn monitor_key(id: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_seed(&monitor_key_name(id), [seed; 32]).expect("a key")
}

fn assessment(monitor: &str) -> Assessment {
    Assessment {
        monitor: monitor.into(),
        municipality: code(KYIV),
        plan: plan(),
        commitment: commitment(),
        completion: ImplementationStatus::Substantial,
        opened_government: OpenedGovernment::Major,
        assessed_on: date("2026-11-30"),
        summary: "Реєстр відкритих даних оновлюється щотижня; запити на доступ скоротилися.".into(),
    }
}

fn monitor(id: &str, key: &NoteSigner, not_independent_of: &[&str]) -> Monitor {
    Monitor {
        id: id.into(),
        key: key.verifier(),
        not_independent_of: not_independent_of.iter().map(|c| code(c)).collect(),
    }
}

fn in_plan() -> Option<CommitmentStanding> {
    Some(CommitmentStanding::InPlan {
        plan: plan(),
        withdrawn: false,
        adopted: true,
    })
}

/// Decides `note` as the association would with `monitor` enrolled, Kyiv's key on record and
/// the commitment `standing` in Kyiv's log.
fn when(
    note: &str,
    monitor: Option<&Monitor>,
    standing: Option<CommitmentStanding>,
) -> Result<Assessment, DomainError> {
    let signed = SignedAssessment::read(note)?;
    let hromada_keys = [kyiv_key().verifier()];
    decide(
        &signed,
        &Context {
            monitor,
            hromada_keys: &hromada_keys,
            commitment: standing,
            today: date("2026-12-01"),
        },
    )?;
    Ok(signed.assessment)
}

/// Signs a body with any key, as a hromada would try to.
fn signed_by(key: &NoteSigner, assessment: &Assessment) -> String {
    key.sign_note(assessment.body()).to_note()
}

#[test]
fn an_enrolled_independent_monitor_assesses_a_commitment() {
    let key = monitor_key("chesno", 7);
    let enrolled = monitor("chesno", &key, &[VINNYTSIA]);
    let note = assessment("chesno").sign(&key).expect("signed");
    let admitted = when(&note, Some(&enrolled), in_plan()).expect("admitted");
    assert_eq!(admitted, assessment("chesno"));
    assert_eq!(SignedAssessment::read(&note).expect("read").note(), note);
}

#[test]
fn an_assessment_by_the_hromada_itself_is_refused() {
    // Given Kyiv's own node key, when it signs an "independent" assessment of its own plan…
    let key = monitor_key("chesno", 7);
    let enrolled = monitor("chesno", &key, &[]);
    let note = signed_by(&kyiv_key(), &assessment("chesno"));
    // …then the rule that a hromada cannot write one refuses it, whatever monitor it names.
    assert_eq!(
        when(&note, Some(&enrolled), in_plan()),
        Err(DomainError::refused(Refusal::AssessmentByTheHromada))
    );
}

#[test]
fn a_monitor_whose_key_is_the_hromadas_key_is_refused() {
    // The hromada's own key material under a monitor's name: enrolment refuses it…
    let same_key = NoteSigner::from_seed(&monitor_key_name("kyiv-friends"), [1; 32]).expect("key");
    assert_eq!(
        check_enrolment(
            "kyiv-friends",
            "Друзі Києва",
            &same_key.verifier(),
            &[],
            &[kyiv_key().verifier()],
        ),
        Err(DomainError::refused(Refusal::AssessmentByTheHromada))
    );
    // …and, were it enrolled anyway (a log written by other hands), its assessments are.
    let enrolled = monitor("kyiv-friends", &same_key, &[]);
    let note = assessment("kyiv-friends").sign(&same_key).expect("signed");
    assert_eq!(
        when(&note, Some(&enrolled), in_plan()),
        Err(DomainError::refused(Refusal::AssessmentByTheHromada))
    );
}

#[test]
fn a_monitor_not_independent_of_the_hromada_is_refused() {
    let key = monitor_key("kyiv-council-ngo", 8);
    let enrolled = monitor("kyiv-council-ngo", &key, &[KYIV]);
    let note = assessment("kyiv-council-ngo").sign(&key).expect("signed");
    assert_eq!(
        when(&note, Some(&enrolled), in_plan()),
        Err(DomainError::refused(Refusal::AssessorNotIndependent))
    );
    // The same monitor assesses a hromada it is independent of.
    let mut elsewhere = assessment("kyiv-council-ngo");
    elsewhere.municipality = code(VINNYTSIA);
    let note = elsewhere.sign(&key).expect("signed");
    assert!(when(&note, Some(&enrolled), in_plan()).is_ok());
}

#[test]
fn a_monitor_not_enrolled_is_refused() {
    let key = monitor_key("unknown", 9);
    let note = assessment("unknown").sign(&key).expect("signed");
    assert_eq!(
        when(&note, None, in_plan()),
        Err(DomainError::refused(Refusal::MonitorNotEnrolled))
    );
    // An enrolled monitor of another id does not stand in for it.
    let other = monitor("chesno", &monitor_key("chesno", 7), &[]);
    assert_eq!(
        when(&note, Some(&other), in_plan()),
        Err(DomainError::refused(Refusal::MonitorNotEnrolled))
    );
}

#[test]
fn an_assessment_signed_for_another_monitor_is_refused() {
    let chesno = monitor_key("chesno", 7);
    let enrolled = monitor("chesno", &chesno, &[]);
    // Signed by another monitor's key, naming chesno.
    let note = signed_by(&monitor_key("opora", 10), &assessment("chesno"));
    assert_eq!(
        when(&note, Some(&enrolled), in_plan()),
        Err(DomainError::refused(Refusal::AssessmentSignerNotTheMonitor))
    );
    // Under chesno's name but not its key: the signature does not verify.
    let forged = signed_by(&monitor_key("chesno", 11), &assessment("chesno"));
    assert_eq!(
        when(&forged, Some(&enrolled), in_plan()),
        Err(DomainError::invalid("note", Violation::SignatureInvalid))
    );
}

#[test]
fn an_altered_assessment_does_not_verify() {
    let key = monitor_key("chesno", 7);
    let enrolled = monitor("chesno", &key, &[]);
    let note = assessment("chesno").sign(&key).expect("signed");
    let altered = note.replace("opened_government major", "opened_government outstanding");
    assert_ne!(altered, note);
    assert_eq!(
        when(&altered, Some(&enrolled), in_plan()),
        Err(DomainError::invalid("note", Violation::SignatureInvalid))
    );
}

#[test]
fn only_commitments_in_the_named_plan_and_not_withdrawn_are_assessed() {
    let key = monitor_key("chesno", 7);
    let enrolled = monitor("chesno", &key, &[]);
    let note = assessment("chesno").sign(&key).expect("signed");
    assert_eq!(
        when(&note, Some(&enrolled), Some(CommitmentStanding::Unknown)),
        Err(DomainError::not_found("commitment"))
    );
    let other_plan = PlanId::from(Uuid::from_u128(99));
    assert_eq!(
        when(
            &note,
            Some(&enrolled),
            Some(CommitmentStanding::InPlan {
                plan: other_plan,
                withdrawn: false,
                adopted: true,
            })
        ),
        Err(DomainError::not_found("commitment"))
    );
    assert_eq!(
        when(
            &note,
            Some(&enrolled),
            Some(CommitmentStanding::InPlan {
                plan: plan(),
                withdrawn: true,
                adopted: true,
            })
        ),
        Err(DomainError::refused(Refusal::CommitmentWithdrawn))
    );
    // A draft's commitment: the council has not adopted it, nothing to assess yet.
    assert_eq!(
        when(
            &note,
            Some(&enrolled),
            Some(CommitmentStanding::InPlan {
                plan: plan(),
                withdrawn: false,
                adopted: false,
            })
        ),
        Err(DomainError::refused(Refusal::PlanNotAdopted))
    );
    // An auditor with the association's log alone cannot know the commitment: not checked.
    assert!(when(&note, Some(&enrolled), None).is_ok());
}

#[test]
fn an_assessment_dated_ahead_is_refused() {
    let key = monitor_key("chesno", 7);
    let enrolled = monitor("chesno", &key, &[]);
    let mut ahead = assessment("chesno");
    ahead.assessed_on = date("2026-12-02");
    let note = ahead.sign(&key).expect("signed");
    assert_eq!(
        when(&note, Some(&enrolled), in_plan()),
        Err(DomainError::refused(Refusal::AssessmentDatedAhead))
    );
}

#[test]
fn fields_out_of_their_form_are_invalid() {
    let key = monitor_key("chesno", 7);
    let body = assessment("chesno").body();
    let cases = [
        (
            body.replace(&plan().to_string(), &plan().to_string().to_uppercase()),
            "plan",
        ),
        (
            body.replace("completion substantial", "completion no_evidence_available"),
            "completion",
        ),
        (
            body.replace("assessed_on 2026-11-30", "assessed_on 2026-11-31"),
            "assessed_on",
        ),
        (
            body.replace("summary Реєстр", "summary \u{7}Реєстр"),
            "summary",
        ),
        (body.replace(KYIV, "ua80000000000093317"), "municipality"),
        (body.replace("\nsummary", "\nextra 1\nsummary"), "summary"),
    ];
    for (text, field) in cases {
        let note = key.sign_note(text).to_note();
        match SignedAssessment::read(&note) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field, "{note}"),
            other => panic!("{field}: {other:?}"),
        }
    }
    // Two signatures: one assessment has one signer.
    let mut twice = key.sign_note(body.clone());
    twice
        .signatures
        .extend(monitor_key("opora", 10).sign_note(body).signatures);
    assert_eq!(
        SignedAssessment::read(&twice.to_note()),
        Err(DomainError::invalid(
            "note",
            Violation::TooMany { items_max: 1 }
        ))
    );
    // A monitor signs only under its own key name.
    assert_eq!(
        assessment("chesno").sign(&monitor_key("opora", 10)),
        Err(DomainError::refused(Refusal::AssessmentSignerNotTheMonitor))
    );
}

#[test]
fn enrolment_names_the_key_after_the_monitor_and_sorts_its_conflicts() {
    let key = monitor_key("chesno", 7);
    assert!(check_enrolment("chesno", "Рух ЧЕСНО", &key.verifier(), &[], &[]).is_ok());
    assert_eq!(
        check_enrolment("opora", "ОПОРА", &key.verifier(), &[], &[]),
        Err(DomainError::invalid("vkey", Violation::NotInItsForm))
    );
    assert_eq!(
        check_enrolment("Chesno", "Рух ЧЕСНО", &key.verifier(), &[], &[]),
        Err(DomainError::invalid("monitor", Violation::NotInItsForm))
    );
    assert_eq!(
        check_enrolment(
            "chesno",
            "Рух ЧЕСНО",
            &key.verifier(),
            &[code(VINNYTSIA), code(KYIV), code(KYIV)],
            &[]
        ),
        Err(DomainError::invalid(
            "not_independent_of",
            Violation::NotStrictlyAscending
        ))
    );
    // A name that reads as another's through invisible direction marks; a small-order key,
    // under which anyone can sign.
    assert_eq!(
        check_enrolment("chesno", "Рух \u{202E}ОНСЕЧ", &key.verifier(), &[], &[]),
        Err(DomainError::invalid("name", Violation::ControlCharacter))
    );
    let identity = {
        // The identity point, 0x01 followed by zeros, as a C2SP verifier key.
        use base64::Engine as _;
        let name = monitor_key_name("chesno");
        let mut raw = vec![0x01, 0x01];
        raw.extend_from_slice(&[0; 31]);
        let mut hash_input = name.as_bytes().to_vec();
        hash_input.push(b'\n');
        hash_input.extend_from_slice(&raw);
        let hash = <sha2::Sha256 as sha2::Digest>::digest(&hash_input);
        NoteVerifier::parse(&format!(
            "{name}+{}+{}",
            hex::encode(&hash[..4]),
            base64::engine::general_purpose::STANDARD.encode(&raw)
        ))
        .expect("a well-formed, weak key")
    };
    assert!(identity.is_weak());
    assert_eq!(
        check_enrolment("chesno", "Рух ЧЕСНО", &identity, &[], &[]),
        Err(DomainError::invalid("vkey", Violation::NotInItsForm))
    );
    // A key named as a hromada's is a hromada's.
    let hromada_named: NoteVerifier = kyiv_key().verifier();
    assert!(check_enrolment("chesno", "Рух ЧЕСНО", &hromada_named, &[], &[]).is_err());
}

fn any_assessment() -> impl Strategy<Value = Assessment> {
    (
        "[a-z0-9][a-z0-9-]{1,20}",
        any::<u128>(),
        any::<u128>(),
        0usize..4,
        0usize..5,
        0u8..28,
        "[а-яА-Яa-z0-9 ,.]{1,80}",
    )
        .prop_map(
            |(monitor, p, c, completion, opened, day, summary)| Assessment {
                monitor,
                municipality: code(KYIV),
                plan: PlanId::from(Uuid::from_u128(p)),
                commitment: CommitmentId::from(Uuid::from_u128(c)),
                completion: domain::assessment::COMPLETION_LEVELS[completion],
                opened_government: domain::assessment::OPENED_GOVERNMENT_LEVELS[opened],
                assessed_on: CivilDate::new(2026, 11, day + 1).expect("a day"),
                summary: format!("x{summary}"),
            },
        )
}

proptest! {
    /// Every assessment reads back as itself, and no other key's note is admitted for it.
    #[test]
    fn signed_assessments_read_back_and_only_their_monitors_key_admits_them(
        a in any_assessment(),
        seed in 2u8..=255,
    ) {
        let key = monitor_key(&a.monitor, seed);
        let note = a.sign(&key).expect("signed");
        let signed = SignedAssessment::read(&note).expect("read");
        prop_assert_eq!(&signed.assessment, &a);
        let enrolled = monitor(&a.monitor, &key, &[]);
        prop_assert!(when(&note, Some(&enrolled), None).is_ok());
        let stranger = monitor(&a.monitor, &monitor_key(&a.monitor, seed - 1), &[]);
        prop_assert!(when(&note, Some(&stranger), None).is_err());
        let conflicted = Monitor { not_independent_of: BTreeSet::from([code(KYIV)]), ..enrolled };
        prop_assert_eq!(
            when(&note, Some(&conflicted), None),
            Err(DomainError::refused(Refusal::AssessorNotIndependent))
        );
    }

    /// Any one byte changed in a note: it no longer reads, or no longer verifies.
    #[test]
    fn a_changed_byte_is_never_admitted(a in any_assessment(), at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let key = monitor_key(&a.monitor, 7);
        let note = a.sign(&key).expect("signed");
        let mut bytes = note.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != to);
        bytes[i] = to;
        let Ok(changed) = String::from_utf8(bytes) else { return Ok(()) };
        let enrolled = monitor(&a.monitor, &key, &[]);
        prop_assert!(when(&changed, Some(&enrolled), None).is_err(), "{changed}");
    }
}
