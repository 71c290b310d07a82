//! Offline operation: with the NATS server stopped, the node keeps accepting commands (10,000
//! of them); when the server is back, every event arrives once, in order, with no operator action.

mod support;

use std::time::{Duration, Instant};

use proto::node::v1 as pb;
use support::{TestNode, relayed_events, request_id};

const COMMANDS: usize = 10_000;
const PETITIONS: usize = 10;
const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_commands_while_nats_is_down_arrive_once_in_order() {
    let mut nats = testkit::NatsServer::start().await.unwrap();
    let node = TestNode::start(Some(nats.url()), 20_000).await;
    let mut c = node.client().await;
    let mut petitions = Vec::new();
    for _ in 0..PETITIONS {
        let id = c
            .file_petition(pb::FilePetitionRequest {
                request_id: request_id(),
                author_subject: "diia:author".into(),
                title: "Зупинка громадського транспорту".into(),
                text: "Просимо облаштувати зупинку.".into(),
                category: "transport".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .stream_id;
        c.publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: id.clone(),
        })
        .await
        .unwrap();
        petitions.push(id);
    }
    let before = *node.running.as_ref().unwrap().log_size().borrow();
    node.wait_relayed(before, Duration::from_secs(20)).await;

    nats.stop().await.unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let mut c = node.client().await;
        let petitions = petitions.clone();
        tasks.push(tokio::spawn(async move {
            for i in (client..COMMANDS).step_by(CLIENTS) {
                c.sign_petition(pb::SignPetitionRequest {
                    request_id: request_id(),
                    petition_id: petitions[i % PETITIONS].clone(),
                    signer_subject: format!("diia:citizen-{i}"),
                })
                .await
                .expect("the node accepts commands while NATS is down");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    let size = *node.running.as_ref().unwrap().log_size().borrow();
    assert_eq!(size, before + COMMANDS as u64);
    let status = node
        .running
        .as_ref()
        .unwrap()
        .relay_status()
        .unwrap()
        .borrow()
        .clone();
    assert!(
        status.acked_seq <= before,
        "nothing can be acknowledged while NATS is down: {status:?}"
    );
    eprintln!("{COMMANDS} commands offline in {took:?}");

    nats.restart().await.unwrap();
    node.wait_relayed(size, Duration::from_secs(90)).await;
    let relayed = relayed_events(&nats.url(), size as usize).await;
    assert_eq!(relayed.len() as u64, size, "every event once");
    for (i, r) in relayed.iter().enumerate() {
        assert_eq!(r.log_seq, i as u64 + 1, "in order, no duplicate");
    }
}
