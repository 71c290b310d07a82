//! Enrolment history is history: revoking a key mid-load and enrolling it again keeps both
//! validity windows, no checkpoint is cosigned under a key while it is revoked, and an
//! auditor's verification of the whole archive passes.

use std::time::Duration;

use auditor::Archive;
use auditor::export::{ExportOptions, export};
use auditor::verify::verify;
use system_tests::{Civic, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;

async fn admin<T>(association: &TestAssociation, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", association.admin_token)
            .parse()
            .unwrap(),
    );
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_and_enrolling_a_key_again_keeps_every_window_and_audits_clean() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let node = TestNode::start(VINNYTSIA, 1_000_000, &nats.url()).await;
    association.enroll(&node).await;
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Trees along the tram line").await;
    civic.sign(&petition, 0..20).await;
    association
        .wait_all(&[&node], Duration::from_secs(30))
        .await;

    // Revoke while the node keeps writing, then enrol the same key again.
    let load = tokio::spawn(async move {
        civic.sign(&petition, 20..500).await;
    });
    while node.log_size() < 150 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let revoked = association
        .federation()
        .await
        .revoke(
            admin(
                &association,
                proto::federation::v1::RevokeRequest {
                    code: node.code.to_string(),
                    vkey: node.vkey(),
                },
            )
            .await,
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.keys.len(), 1);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    association.enroll(&node).await;
    load.await.unwrap();
    association
        .wait_all(&[&node], Duration::from_secs(60))
        .await;

    let keys = association.node(node.code).await.keys;
    assert_eq!(keys.len(), 2, "two windows of one key: {keys:?}");
    assert!(keys.iter().all(|k| k.vkey == node.vkey()));
    assert!(keys[0].revoked_at_micros > keys[0].enrolled_at_micros);
    assert!(keys[1].enrolled_at_micros > keys[0].revoked_at_micros);
    assert_eq!(keys[1].revoked_at_micros, 0);

    let dir = tempfile::tempdir().unwrap();
    let options = ExportOptions {
        url: association.url(),
        ca: None,
        out: dir.path().to_owned(),
        municipality: None,
        progress: false,
    };
    // Exports stop at the association's latest signed statement: one of everything verified.
    association.wait_stated().await;
    export(&options).await.unwrap();
    let report = verify(&Archive::new(dir.path()), 2, false).unwrap();
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.municipalities[0].verified_to, node.log_size());
    association.shutdown().await;
}
