//! The association's log: entry bytes frozen by golden fixtures (set `VIDKRYTO_BLESS=1` only
//! when adding one; an existing fixture changing is a broken release), strict decoding, and the
//! key history's rules.

use std::path::PathBuf;

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
    ]
}

#[test]
fn entry_v1_bytes_are_frozen() {
    let names = [
        "enrolled",
        "revoked",
        "recommended",
        "recommendation-withdrawn",
        "stated",
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
