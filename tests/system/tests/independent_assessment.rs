//! Independent assessment end to end: Kyiv's node adopts a plan and assesses a commitment
//! itself; the association enrols a monitor, the monitor signs its own assessment with
//! `vidkryto monitor assess`, and the national API shows both side by side, naming the
//! monitor. Attacks first: the hromada's node key cannot be enrolled as a monitor under another
//! name, cannot sign an "independent" assessment, and a monitor that declared itself not
//! independent of Kyiv cannot assess it. The association's log, exported, verifies.

use std::time::Duration;

use base64::Engine as _;
use event_store_core::checkpoint::NoteSigner;
use proto::federation::v1 as fed;
use proto::national::v1 as national;
use proto::node::v1 as pb;
use system_tests::{Civic, KYIV, TestAssociation, VINNYTSIA};
use testkit::NatsServer;
use tonic::Code;

fn vidkryto(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
        .args(args)
        .output()
        .expect("run vidkryto")
}

fn admin<T>(association: &TestAssociation, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", association.admin_token)
            .parse()
            .expect("metadata"),
    );
    request
}

/// The same Ed25519 key as `signer`, under another name.
fn renamed(signer: &NoteSigner, name: &str) -> NoteSigner {
    let text = signer.to_private_text();
    let raw = base64::engine::general_purpose::STANDARD
        // `PRIVATE+KEY+<name>+<hash>+<base64>`: the base64 may itself hold '+'.
        .decode(text.splitn(5, '+').nth(4).expect("key"))
        .expect("base64");
    let seed: [u8; 32] = raw[1..].try_into().expect("a seed");
    NoteSigner::from_seed(name, seed).expect("key")
}

async fn assessments(
    association: &TestAssociation,
    area: &str,
) -> national::ListAssessmentsResponse {
    association
        .national()
        .await
        .list_assessments(national::ListAssessmentsRequest {
            area: area.into(),
            ..Default::default()
        })
        .await
        .expect("list assessments")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_monitor_assesses_independently_and_a_hromada_cannot() {
    let nats = NatsServer::start().await.unwrap();
    let (association, [kyiv, vinnytsia]) =
        TestAssociation::with_nodes(&nats.url(), [(KYIV, 100), (VINNYTSIA, 100)]).await;
    let year: i32 = domain::kyiv_date(kyiv.clock.now()).year();
    let (start, end) = (format!("{}-01-01", year - 1), format!("{}-12-31", year + 1));
    let mut civic = Civic::of(&kyiv).await;
    let plan = civic.plan(&start, &end).await;
    let assessed = civic.commitment(&plan, &start, &end).await;
    let withdrawn = civic.commitment(&plan, &start, &end).await;
    // Kyiv's own (self-reported) assessment.
    civic
        .assess(
            &plan,
            &assessed,
            pb::ImplementationStatus::Complete,
            pb::OpenedGovernment::Outstanding,
        )
        .await;
    kyiv.client()
        .await
        .withdraw_commitment(pb::WithdrawCommitmentRequest {
            request_id: system_tests::request_id(),
            plan_id: plan.clone(),
            commitment_id: withdrawn.clone(),
            reason: "Виконує область.".into(),
        })
        .await
        .expect("withdraw");
    association
        .wait_verified(kyiv.code, kyiv.log_size(), Duration::from_secs(30))
        .await;

    // The monitors make their keys with the command line.
    let dir = tempfile::tempdir().unwrap();
    let chesno_dir = dir.path().join("chesno");
    let local_dir = dir.path().join("kyiv-council-ngo");
    for (path, id) in [(&chesno_dir, "chesno"), (&local_dir, "kyiv-council-ngo")] {
        let out = vidkryto(&[
            "monitor",
            "init",
            "--dir",
            path.to_str().unwrap(),
            "--monitor",
            id,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vkey = |path: &std::path::Path| {
        std::fs::read_to_string(path.join("monitor.vkey"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let mut federation = association.federation().await;

    // Attack: Kyiv's node key enrolled as a monitor under a monitor's name.
    let disguised = renamed(&kyiv.signer(), "vidkryto-monitor/kyiv-friends");
    let refused = federation
        .enroll_monitor(admin(
            &association,
            fed::EnrollMonitorRequest {
                monitor: "kyiv-friends".into(),
                name: "Друзі Києва".into(),
                vkey: disguised.verifier().to_text(),
                not_independent_of: vec![],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().starts_with("assessment.by_the_hromada"),
        "{refused:?}"
    );
    // Enrolment is an admin call.
    let no_token = federation
        .enroll_monitor(fed::EnrollMonitorRequest {
            monitor: "chesno".into(),
            name: "Рух ЧЕСНО".into(),
            vkey: vkey(&chesno_dir),
            not_independent_of: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated);

    // The association enrols both monitors: one by the API, one by its command line.
    let chesno_key = NoteSigner::parse(
        std::fs::read_to_string(chesno_dir.join("monitor.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    federation
        .enroll_monitor(admin(
            &association,
            fed::EnrollMonitorRequest {
                monitor: "chesno".into(),
                name: "Рух ЧЕСНО".into(),
                vkey: vkey(&chesno_dir),
                not_independent_of: vec![VINNYTSIA.into()],
            },
        ))
        .await
        .expect("enrol chesno");
    // Attack: the monitor's own key enrolled for a hromada (Vinnytsia's name on it), which
    // would make every assessment by the monitor a hromada's own.
    let stolen = renamed(&chesno_key, &format!("vidkryto/{VINNYTSIA}"));
    let mut request = admin(
        &association,
        fed::EnrollRequest {
            code: VINNYTSIA.into(),
            vkey: stolen.verifier().to_text(),
        },
    );
    let refused = federation.enroll(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("monitor"), "{refused:?}");
    request = admin(
        &association,
        fed::EnrollRequest {
            code: VINNYTSIA.into(),
            vkey: vinnytsia.vkey(),
        },
    );
    federation
        .enroll(request)
        .await
        .expect("its own key, again: unchanged");
    let out = vidkryto(&[
        "association",
        "enroll-monitor",
        "--dir",
        association.dir.path().to_str().unwrap(),
        "--db",
        &association.db_url(),
        "--monitor",
        "kyiv-council-ngo",
        "--name",
        "ГО при Київраді",
        "--vkey",
        &format!("@{}", local_dir.join("monitor.vkey").display()),
        "--not-independent-of",
        KYIV,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let association_url = association.url();
    let assess = |monitor_dir: &std::path::Path, commitment: &str, extra: &[&str]| {
        let mut args = vec![
            "monitor",
            "assess",
            "--dir",
            monitor_dir.to_str().unwrap(),
            "--association",
            &association_url,
            "--municipality",
            KYIV,
            "--plan",
            &plan,
            "--commitment",
            commitment,
            "--completion",
            "limited",
            "--opened-government",
            "marginal",
            "--summary",
            "Бюджет опубліковано як відкриті дані, але без звітів про виконання.",
        ];
        args.extend_from_slice(extra);
        vidkryto(&args)
    };

    // Attack: Kyiv's node signs an "independent" assessment of its own commitment.
    let mut note =
        String::from_utf8(assess(&chesno_dir, &assessed, &["--print-only"]).stdout).unwrap();
    let body = note.split("\n\n").next().unwrap().to_owned() + "\n";
    let by_kyiv = kyiv.signer().sign_note(body.clone()).to_note();
    let refused = federation
        .submit_assessment(fed::SubmitAssessmentRequest { note: by_kyiv })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().starts_with("assessment.by_the_hromada"),
        "{refused:?}"
    );
    // Attack: the monitor's note with a changed level no longer verifies.
    let tampered = note.replace(
        "opened_government marginal",
        "opened_government outstanding",
    );
    let refused = federation
        .submit_assessment(fed::SubmitAssessmentRequest { note: tampered })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    // Attack: a monitor not independent of Kyiv assesses it (exit 1, the rule named).
    let out = assess(&local_dir, &assessed, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("assessment.not_independent"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A withdrawn commitment, and one Kyiv's log does not hold.
    let out = assess(&chesno_dir, &withdrawn, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("action_plan.commitment_withdrawn"));
    let out = assess(&chesno_dir, &system_tests::request_id(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotFound"));
    assert_eq!(
        assessments(&association, "").await.total_size,
        0,
        "nothing refused was recorded"
    );

    // The enrolled, independent monitor assesses it.
    let out = assess(&chesno_dir, &assessed, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.starts_with("recorded as entry "), "{said}");
    // The same note again records nothing.
    note = String::from_utf8(assess(&chesno_dir, &assessed, &["--print-only"]).stdout).unwrap();
    let again = federation
        .submit_assessment(fed::SubmitAssessmentRequest { note: note.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.recorded);
    assert_eq!(
        format!("recorded as entry {} of the association's log\n", again.seq),
        said
    );
    // Attack: replays of a public note while the association's log is busy (its lock held,
    // as by a long decision) must not queue for the lock, holding the writer's connections.
    let pool = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
    let mut busy = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(0x7669_646b_7279_746f_i64)
        .execute(&mut *busy)
        .await
        .unwrap();
    for _ in 0..8 {
        let replay =
            federation.submit_assessment(fed::SubmitAssessmentRequest { note: note.clone() });
        let answered = tokio::time::timeout(Duration::from_secs(3), replay)
            .await
            .expect("a replay is answered without the log's lock")
            .unwrap()
            .into_inner();
        assert!(!answered.recorded);
    }
    busy.rollback().await.unwrap();

    // The national reads: the monitor's word beside the hromada's own, the monitor named.
    let listed = assessments(&association, KYIV).await;
    assert_eq!(listed.total_size, 1, "{listed:?}");
    let a = &listed.assessments[0];
    assert_eq!(
        (a.monitor.as_str(), a.monitor_name.as_str(), a.code.as_str()),
        ("chesno", "Рух ЧЕСНО", KYIV)
    );
    assert_eq!(
        (a.completion.as_str(), a.opened_government.as_str()),
        ("limited", "marginal")
    );
    assert_eq!(
        (
            a.self_completion.as_str(),
            a.self_opened_government.as_str()
        ),
        ("complete", "outstanding")
    );
    assert_eq!(a.commitment_id, assessed);
    assert_eq!(a.title, "Open budget");
    assert_eq!(a.note, note);
    let figures = listed.figures.unwrap();
    assert_eq!((figures.commitments_assessed, figures.monitors), (1, 1));
    let count = |kinds: &[national::KindCount], kind: &str| {
        kinds.iter().find(|k| k.kind == kind).map(|k| k.count)
    };
    assert_eq!(count(&figures.opened_government, "marginal"), Some(1));
    assert_eq!(count(&figures.opened_government, "outstanding"), Some(0));
    assert_eq!(count(&figures.by_completion, "limited"), Some(1));
    assert_eq!(assessments(&association, "").await.total_size, 1);
    assert_eq!(assessments(&association, VINNYTSIA).await.total_size, 0);
    // The self-reported figures stay the hromada's own.
    let kyiv_figures = association
        .national()
        .await
        .get_municipality(national::GetMunicipalityRequest { code: KYIV.into() })
        .await
        .unwrap()
        .into_inner()
        .figures
        .unwrap();
    assert_eq!(kyiv_figures.commitments_assessed, 1);
    assert_eq!(
        count(&kyiv_figures.opened_government, "outstanding"),
        Some(1)
    );

    // The monitors as the association lists them.
    let monitors = federation
        .list_monitors(fed::ListMonitorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .monitors;
    assert_eq!(monitors.len(), 2);
    let chesno = monitors.iter().find(|m| m.monitor == "chesno").unwrap();
    assert_eq!(
        (chesno.assessments, chesno.not_independent_of.clone()),
        (1, vec![VINNYTSIA.to_owned()])
    );

    // A second monitor disagrees, later: both are counted, neither replaces the other.
    let opora =
        NoteSigner::from_seed(&domain::assessment::monitor_key_name("opora"), [31; 32]).unwrap();
    let enrol_opora = |name: &str| {
        admin(
            &association,
            fed::EnrollMonitorRequest {
                monitor: "opora".into(),
                name: name.into(),
                vkey: opora.verifier().to_text(),
                not_independent_of: vec![],
            },
        )
    };
    federation
        .enroll_monitor(enrol_opora("ОПОРА"))
        .await
        .unwrap();
    let second = domain::assessment::Assessment {
        monitor: "opora".into(),
        municipality: system_tests::code(KYIV),
        plan: plan.parse().unwrap(),
        commitment: assessed.parse().unwrap(),
        completion: domain::action_plan::ImplementationStatus::Substantial,
        opened_government: domain::action_plan::OpenedGovernment::Major,
        assessed_on: domain::kyiv_date(event_store_core::Timestamp::now()),
        summary: "Дані оновлюються, запити мешканців враховано.".into(),
    }
    .sign(&opora)
    .unwrap();
    federation
        .submit_assessment(fed::SubmitAssessmentRequest { note: second })
        .await
        .unwrap();
    let figures = assessments(&association, KYIV).await.figures.unwrap();
    assert_eq!(
        (
            figures.commitments_assessed,
            figures.assessments,
            figures.monitors
        ),
        (1, 2, 2)
    );
    assert_eq!(count(&figures.opened_government, "marginal"), Some(1));
    assert_eq!(count(&figures.opened_government, "major"), Some(1));
    // Another name needs a new enrolment; the assessment keeps the name it was made under.
    let refused = federation
        .enroll_monitor(enrol_opora("Громадянська мережа ОПОРА"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    federation
        .revoke_monitor(admin(
            &association,
            fed::RevokeMonitorRequest {
                monitor: "opora".into(),
            },
        ))
        .await
        .unwrap();
    federation
        .enroll_monitor(enrol_opora("Громадянська мережа ОПОРА"))
        .await
        .unwrap();
    let listed = assessments(&association, KYIV).await;
    let by_opora = listed
        .assessments
        .iter()
        .find(|a| a.monitor == "opora")
        .unwrap();
    assert_eq!(by_opora.monitor_name, "ОПОРА");

    // Revoked, the monitor assesses no more; what it said stands.
    federation
        .revoke_monitor(admin(
            &association,
            fed::RevokeMonitorRequest {
                monitor: "chesno".into(),
            },
        ))
        .await
        .expect("revoke");
    let out = assess(&chesno_dir, &assessed, &["--assessed-on", "2026-01-05"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("assessment.monitor_not_enrolled"));
    assert_eq!(
        assessments(&association, KYIV).await.total_size,
        2,
        "chesno's and opora's stand"
    );
    let replayed = federation
        .submit_assessment(fed::SubmitAssessmentRequest { note: note.clone() })
        .await
        .expect("a recorded note is answered as recorded, revoked monitor or not")
        .into_inner();
    assert_eq!((replayed.recorded, replayed.seq), (false, again.seq));

    // The association's log, exported, verifies: every assessment in it under the rules.
    let archive = dir.path().join("archive");
    let out = vidkryto(&[
        "audit",
        "export",
        "--from",
        &association.url(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = vidkryto(&["audit", "verify", archive.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(vinnytsia);
    association.assert_nothing_quarantined().await;
    association.shutdown().await;
}
