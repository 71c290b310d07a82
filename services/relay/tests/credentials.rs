//! A NATS server that requires a password: the relay sends the user and password written in
//! its `nats_url` (the client library would not), and with a wrong one publishes nothing and
//! never shows the password in its status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use relay::RelayConfig;
use support::{append, check_stream, every_events, open_log, wait_status};
use testkit::{NatsServer, free_loopback_ports};

const PASSWORD: &str = "node-s3cret";

async fn server_with_a_password() -> NatsServer {
    let ports = free_loopback_ports(2).await.unwrap();
    let (port, monitor) = (ports[0], ports[1]);
    let server = NatsServer::start_with_config(port, monitor, |dir| {
        format!(
            "listen: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{monitor}\"\n\
             jetstream {{ store_dir: \"{}\" }}\n\
             authorization {{ users: [ {{ user: node, password: \"{PASSWORD}\" }} ] }}\n",
            dir.join("store").display()
        )
    })
    .await
    .unwrap();
    server.wait_healthy(Duration::from_secs(30)).await.unwrap();
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_sends_the_credentials_in_its_url() {
    let server = server_with_a_password().await;
    let url = |password: &str| format!("nats://node:{password}@127.0.0.1:{}", server.port());

    // A wrong password: nothing is published, and the status says why without the secret.
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), every_events(10)).await;
    append(&log, 10, 10).await;
    let config = RelayConfig {
        idle_poll: Duration::from_millis(50),
        ..RelayConfig::new(url("wrong-s3cret"))
    };
    let relay = relay::spawn(log.clone(), config).expect("valid config");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = relay.status().borrow().clone();
    assert_eq!(status.acked_seq, 0, "{status:?}");
    assert!(!status.connected, "{status:?}");
    assert!(
        !format!("{status:?}").contains("s3cret"),
        "the status shows the password: {status:?}"
    );
    relay.shutdown().await.expect("clean shutdown");

    // The right one: everything arrives.
    let config = RelayConfig {
        idle_poll: Duration::from_millis(50),
        ..RelayConfig::new(url(PASSWORD))
    };
    let relay = relay::spawn(log.clone(), config).expect("valid config");
    let mut status = relay.status();
    let s = wait_status(&mut status, 10, 10, Duration::from_secs(30)).await;
    assert!(s.connected && s.last_error.is_none(), "{s:?}");
    let client = async_nats::ConnectOptions::with_user_and_password("node".into(), PASSWORD.into())
        .connect(server.url())
        .await
        .unwrap();
    let checked = check_stream(&async_nats::jetstream::new(client), &log).await;
    assert_eq!(checked.events, 10);
    relay.shutdown().await.expect("clean shutdown");
}

#[test]
fn the_password_stays_out_of_errors_and_debug_output() {
    let config = RelayConfig::new("nats://node:s3cret@127.0.0.1:4222");
    let shown = format!("{config:?}");
    assert!(shown.contains("nats://***@127.0.0.1:4222"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");

    let config = RelayConfig::new("nats://node:s3cret@127.0.0.1:notaport");
    let error = config.validate().expect_err("a malformed URL").to_string();
    assert!(error.contains("nats_url"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}
