//! The association's log: entry bytes frozen by golden fixtures (set `VIDKRYTO_BLESS=1` only
//! when adding one; an existing fixture changing is a broken release), strict decoding, and the
//! key history's rules.

use std::path::PathBuf;

use domain::action_plan::{ImplementationStatus, OpenedGovernment};
use domain::assessment::{Assessment, monitor_key_name};
use domain::{CommitmentId, PlanId};
use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::NoteSigner;
use projection::association_log::{Decision, Entry, KeyHistory, KeyWindow, LogError};

const KYIV: &str = "UA80000000000093317";
const VINNYTSIA: &str = "UA05020030000031457";

fn fixture(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/projection/golden")
        .join(name);
    if std::env::var_os("VIDKRYTO_BLESS").is_some() && !path.exists() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
    assert_eq!(
        actual, expected,
        "fixture {name} changed: released formats are frozen"
    );
}

fn node_key(code: &str, seed: u8) -> String {
    NoteSigner::from_seed(&format!("vidkryto/{code}"), [seed; 32])
        .unwrap()
        .verifier()
        .to_text()
}

/// One entry of every decision, in the order of their variant indices.
fn every_decision() -> Vec<Decision> {
    vec![
        Decision::Enrolled {
            municipality: KYIV.into(),
            vkey: node_key(KYIV, 7),
        },
        Decision::Revoked {
            municipality: KYIV.into(),
            vkey: node_key(KYIV, 7),
        },
        Decision::Recommended {
            municipality: VINNYTSIA.into(),
            tool: 1,
            id: [0xab; 16],
            reason: "Відкрите обговорення бюджету школи".into(),
        },
        Decision::RecommendationWithdrawn {
            municipality: VINNYTSIA.into(),
            tool: 1,
            id: [0xab; 16],
        },
        Decision::Stated {
            note: "vidkryto/projection-statement/v1\nprojection 3\n".into(),
        },
        Decision::MonitorEnrolled {
            monitor: "chesno".into(),
            name: "Рух ЧЕСНО".into(),
            vkey: monitor_key("chesno", 9).verifier().to_text(),
            not_independent_of: vec![VINNYTSIA.into(), KYIV.into()],
        },
        Decision::MonitorRevoked {
            monitor: "chesno".into(),
            vkey: monitor_key("chesno", 9).verifier().to_text(),
        },
        Decision::Assessed {
            note: assessment("chesno", VINNYTSIA)
                .sign(&monitor_key("chesno", 9))
                .unwrap(),
        },
    ]
}

fn monitor_key(id: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_seed(&monitor_key_name(id), [seed; 32]).unwrap()
}

fn assessment(monitor: &str, code: &str) -> Assessment {
    Assessment {
        monitor: monitor.into(),
        municipality: MunicipalityCode::parse(code).unwrap(),
        plan: PlanId::from(uuid::Uuid::from_u128(
            0x0190_aaaa_0000_7000_8000_0000_0000_0001,
        )),
        commitment: CommitmentId::from(uuid::Uuid::from_u128(
            0x0190_aaaa_0000_7000_8000_0000_0000_0002,
        )),
        completion: ImplementationStatus::Limited,
        opened_government: OpenedGovernment::Marginal,
        assessed_on: "2026-11-02".parse().unwrap(),
        summary: "Відкрито реєстр, але не оновлюється.".into(),
    }
}

fn monitor_enrolled(id: &str, seed: u8, not_independent_of: &[&str]) -> Decision {
    Decision::MonitorEnrolled {
        monitor: id.into(),
        name: format!("Монітор {id}"),
        vkey: monitor_key(id, seed).verifier().to_text(),
        not_independent_of: not_independent_of.iter().map(|c| (*c).into()).collect(),
    }
}

fn assessed(id: &str, seed: u8, code: &str) -> Decision {
    Decision::Assessed {
        note: assessment(id, code).sign(&monitor_key(id, seed)).unwrap(),
    }
}

/// 2026-12-01 in microseconds: after the assessments' date.
const DEC_2026: i64 = 1_796_083_200_000_000;

#[test]
fn monitors_and_their_assessments_are_replayed() {
    let history = replay(vec![
        (DEC_2026, enrolled(KYIV, 1)),
        (DEC_2026 + 1, monitor_enrolled("chesno", 9, &[VINNYTSIA])),
        (DEC_2026 + 2, assessed("chesno", 9, KYIV)),
        (
            DEC_2026 + 3,
            Decision::MonitorRevoked {
                monitor: "chesno".into(),
                vkey: monitor_key("chesno", 9).verifier().to_text(),
            },
        ),
    ])
    .unwrap();
    assert_eq!(history.monitor_windows().len(), 1);
    assert_eq!(
        history.monitor_windows()[0].revoked_at_micros,
        Some(DEC_2026 + 3)
    );
    assert_eq!(history.assessments().len(), 1);
    assert_eq!(history.assessments()[0].seq, 3);
    assert_eq!(
        history.assessments()[0].assessment,
        assessment("chesno", KYIV)
    );
}

#[test]
fn a_log_recording_an_assessment_the_rules_refuse_is_named() {
    let rule = |decisions: Vec<(i64, Decision)>| {
        let err = replay(decisions).unwrap_err();
        (err.seq(), err.code(), err.to_string())
    };
    // Kyiv's own key enrolled as a monitor, under a monitor's name.
    let kyiv_as_monitor = Decision::MonitorEnrolled {
        monitor: "kyiv-friends".into(),
        name: "Друзі".into(),
        vkey: monitor_key("kyiv-friends", 1).verifier().to_text(),
        not_independent_of: vec![],
    };
    let (seq, code, text) = rule(vec![
        (DEC_2026, enrolled(KYIV, 1)),
        (DEC_2026, kyiv_as_monitor),
    ]);
    assert_eq!((seq, code), (2, "rules"));
    assert!(text.contains("assessment.by_the_hromada"), "{text}");
    // Kyiv's node key signing an assessment of itself.
    let by_kyiv = Decision::Assessed {
        note: NoteSigner::from_seed(&format!("vidkryto/{KYIV}"), [1; 32])
            .unwrap()
            .sign_note(assessment("chesno", KYIV).body())
            .to_note(),
    };
    let (seq, _, text) = rule(vec![
        (DEC_2026, enrolled(KYIV, 1)),
        (DEC_2026, monitor_enrolled("chesno", 9, &[])),
        (DEC_2026, by_kyiv),
    ]);
    assert_eq!(seq, 3);
    assert!(text.contains("assessment.by_the_hromada"), "{text}");
    // A monitor's key enrolled afterwards for a hromada, under the hromada's name: it would
    // make the monitor's assessments the hromada's own.
    let monitor_as_hromada = Decision::Enrolled {
        municipality: VINNYTSIA.into(),
        vkey: NoteSigner::from_seed(&format!("vidkryto/{VINNYTSIA}"), [9; 32])
            .unwrap()
            .verifier()
            .to_text(),
    };
    let (seq, code, text) = rule(vec![
        (DEC_2026, monitor_enrolled("chesno", 9, &[])),
        (DEC_2026, monitor_as_hromada),
    ]);
    assert_eq!((seq, code), (2, "rules"));
    assert!(text.contains("monitor"), "{text}");
    // A monitor assessing a hromada it is not independent of; one never enrolled; one revoked.
    let (seq, _, text) = rule(vec![
        (DEC_2026, monitor_enrolled("chesno", 9, &[KYIV])),
        (DEC_2026, assessed("chesno", 9, KYIV)),
    ]);
    assert_eq!(seq, 2);
    assert!(text.contains("assessment.not_independent"), "{text}");
    let (seq, _, text) = rule(vec![(DEC_2026, assessed("opora", 10, KYIV))]);
    assert_eq!(seq, 1);
    assert!(text.contains("assessment.monitor_not_enrolled"), "{text}");
    let (seq, _, _) = rule(vec![
        (DEC_2026, monitor_enrolled("chesno", 9, &[])),
        (
            DEC_2026,
            Decision::MonitorRevoked {
                monitor: "chesno".into(),
                vkey: monitor_key("chesno", 9).verifier().to_text(),
            },
        ),
        (DEC_2026, assessed("chesno", 9, KYIV)),
    ]);
    assert_eq!(seq, 3);
    // Enrolled twice while valid, revoked with another key.
    assert_eq!(
        rule(vec![
            (DEC_2026, monitor_enrolled("chesno", 9, &[])),
            (DEC_2026, monitor_enrolled("chesno", 8, &[])),
        ])
        .0,
        2
    );
    assert_eq!(
        rule(vec![
            (DEC_2026, monitor_enrolled("chesno", 9, &[])),
            (
                DEC_2026,
                Decision::MonitorRevoked {
                    monitor: "chesno".into(),
                    vkey: monitor_key("chesno", 8).verifier().to_text(),
                },
            ),
        ])
        .0,
        2
    );
    // The same note recorded twice.
    let (seq, _, text) = rule(vec![
        (DEC_2026, monitor_enrolled("chesno", 9, &[])),
        (DEC_2026, assessed("chesno", 9, KYIV)),
        (DEC_2026, assessed("chesno", 9, KYIV)),
    ]);
    assert_eq!(seq, 3);
    assert!(text.contains("recorded before, as entry 2"), "{text}");
    // Dated after the day it was recorded.
    let (seq, _, text) = rule(vec![
        (
            DEC_2026 - 40 * 86_400_000_000,
            monitor_enrolled("chesno", 9, &[]),
        ),
        (DEC_2026 - 40 * 86_400_000_000, assessed("chesno", 9, KYIV)),
    ]);
    assert_eq!(seq, 2);
    assert!(text.contains("assessment.dated_ahead"), "{text}");
}

#[test]
fn entry_v1_bytes_are_frozen() {
    let names = [
        "enrolled",
        "revoked",
        "recommended",
        "recommendation-withdrawn",
        "stated",
        "monitor-enrolled",
        "monitor-revoked",
        "assessed",
    ];
    for (i, (decision, name)) in every_decision().into_iter().zip(names).enumerate() {
        let seq = i as u64 + 1;
        let entry = Entry::new(seq, 1_795_000_000_000_000 + seq as i64, decision);
        let bytes = entry.encode();
        fixture(
            &format!("association-entry-v1-{name}.hex"),
            &format!("{}\n", hex::encode(&bytes)),
        );
        assert_eq!(Entry::decode(seq, &bytes).unwrap(), entry, "{name}");
    }
}

#[test]
fn entries_decode_strictly() {
    let entry = Entry::new(
        3,
        1_795_000_000_000_000,
        Decision::Stated { note: "x\n".into() },
    );
    let bytes = entry.encode();
    // Another position than the one it is stored at.
    assert!(matches!(
        Entry::decode(4, &bytes),
        Err(LogError::Sequence { seq: 4, found: 3 })
    ));
    // A byte more is not the entry's one encoding.
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Entry::decode(3, &longer).unwrap_err().code(), "undecodable");
    // Another format.
    let mut other = entry.clone();
    other.format = 2;
    assert_eq!(
        Entry::decode(3, &other.encode()).unwrap_err().code(),
        "undecodable"
    );
    // Junk and truncation.
    assert!(Entry::decode(3, &bytes[..bytes.len() - 1]).is_err());
    assert!(Entry::decode(3, &[0xff; 40]).is_err());
    let long = Entry::new(
        1,
        0,
        Decision::Stated {
            note: "x".repeat(70_000),
        },
    );
    assert!(matches!(
        Entry::decode(1, &long.encode()),
        Err(LogError::TooLong { seq: 1, .. })
    ));
}

fn replay(decisions: Vec<(i64, Decision)>) -> Result<KeyHistory, LogError> {
    let mut history = KeyHistory::new();
    for (i, (at, decision)) in decisions.into_iter().enumerate() {
        history.apply(&Entry::new(i as u64 + 1, at, decision))?;
    }
    Ok(history)
}

fn enrolled(code: &str, seed: u8) -> Decision {
    Decision::Enrolled {
        municipality: code.into(),
        vkey: node_key(code, seed),
    }
}

fn revoked(code: &str, seed: u8) -> Decision {
    Decision::Revoked {
        municipality: code.into(),
        vkey: node_key(code, seed),
    }
}

#[test]
fn the_key_history_is_replayed_with_every_window() {
    let history = replay(vec![
        (10, enrolled(KYIV, 1)),
        (20, enrolled(VINNYTSIA, 2)),
        (30, revoked(KYIV, 1)),
        (40, enrolled(KYIV, 1)),
        (
            50,
            Decision::Stated {
                note: "stated\n".into(),
            },
        ),
    ])
    .unwrap();
    assert_eq!(
        history.windows(),
        vec![
            KeyWindow {
                municipality: VINNYTSIA.into(),
                vkey: node_key(VINNYTSIA, 2),
                enrolled_at_micros: 20,
                revoked_at_micros: None,
            },
            KeyWindow {
                municipality: KYIV.into(),
                vkey: node_key(KYIV, 1),
                enrolled_at_micros: 10,
                revoked_at_micros: Some(30),
            },
            KeyWindow {
                municipality: KYIV.into(),
                vkey: node_key(KYIV, 1),
                enrolled_at_micros: 40,
                revoked_at_micros: None,
            },
        ]
    );
    assert_eq!(history.entries(), 5);
}

#[test]
fn entries_against_the_rules_are_named() {
    let rule = |decisions: Vec<(i64, Decision)>| {
        let err = replay(decisions).unwrap_err();
        (err.seq(), err.code())
    };
    // A key made for Kyiv enrolled for Vinnytsia.
    assert_eq!(
        rule(vec![(
            1,
            Decision::Enrolled {
                municipality: VINNYTSIA.into(),
                vkey: node_key(KYIV, 1),
            }
        )]),
        (1, "rules")
    );
    // A revocation of a key never enrolled, or already revoked.
    assert_eq!(
        rule(vec![(1, enrolled(KYIV, 1)), (2, revoked(KYIV, 2))]),
        (2, "rules")
    );
    assert_eq!(
        rule(vec![
            (1, enrolled(KYIV, 1)),
            (2, revoked(KYIV, 1)),
            (3, revoked(KYIV, 1))
        ]),
        (3, "rules")
    );
    // Enrolled twice while valid.
    assert_eq!(
        rule(vec![(1, enrolled(KYIV, 1)), (2, enrolled(KYIV, 1))]),
        (2, "rules")
    );
    // A key not in its one text form, a revocation at the epoch.
    assert_eq!(
        rule(vec![(
            1,
            Decision::Enrolled {
                municipality: KYIV.into(),
                vkey: format!("{}\n", node_key(KYIV, 1)),
            }
        )]),
        (1, "rules")
    );
    assert_eq!(
        rule(vec![(0, enrolled(KYIV, 1)), (0, revoked(KYIV, 1))]),
        (2, "rules")
    );
    // Time going back.
    assert_eq!(
        rule(vec![(5, enrolled(KYIV, 1)), (4, enrolled(VINNYTSIA, 1))]),
        (2, "time")
    );
    // A junk code, a junk key, an unknown tool, a reason left empty.
    assert_eq!(
        rule(vec![(
            1,
            Decision::Enrolled {
                municipality: "UA1".into(),
                vkey: node_key(KYIV, 1),
            }
        )]),
        (1, "rules")
    );
    assert_eq!(
        rule(vec![(
            1,
            Decision::Enrolled {
                municipality: KYIV.into(),
                vkey: "not a key".into(),
            }
        )]),
        (1, "rules")
    );
    assert_eq!(
        rule(vec![(
            1,
            Decision::RecommendationWithdrawn {
                municipality: KYIV.into(),
                tool: 9,
                id: [0; 16],
            }
        )]),
        (1, "rules")
    );
    assert_eq!(
        rule(vec![(
            1,
            Decision::Recommended {
                municipality: KYIV.into(),
                tool: 1,
                id: [0; 16],
                reason: " ".into(),
            }
        )]),
        (1, "rules")
    );
    // An entry numbered out of place.
    let mut history = KeyHistory::new();
    let err = history
        .apply(&Entry::new(2, 1, enrolled(KYIV, 1)))
        .unwrap_err();
    assert_eq!((err.seq(), err.code()), (1, "sequence"));
}
