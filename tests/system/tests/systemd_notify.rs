//! `Type=notify` services (deploy/systemd): `vidkryto node run` and `vidkryto association run`,
//! started as systemd starts them (with `NOTIFY_SOCKET` naming a datagram socket), send
//! `READY=1` once they serve, and `STOPPING=1` on SIGTERM before exiting 0.

use std::io::{BufRead as _, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use node::config::{InitOptions, StatuteSettings};
use system_tests::{TestAssociation, VINNYTSIA, code};
use testkit::NatsServer;

const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// The service manager's end: a datagram socket in a temporary directory.
struct Manager {
    socket: UnixDatagram,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Manager {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(NOTIFY_TIMEOUT)).unwrap();
        Self {
            socket,
            path,
            _dir: dir,
        }
    }

    fn next(&self) -> String {
        let mut buf = [0_u8; 512];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notification within the timeout");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// Runs `args` under a manager; returns the process and its first stdout line.
fn spawn(args: &[&str], manager: &Manager) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
        .args(args)
        .env("NOTIFY_SOCKET", &manager.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn vidkryto");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (child, line)
}

fn terminate_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + NOTIFY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_node_tells_systemd_when_it_serves_and_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let options = InitOptions {
        municipality: code(VINNYTSIA),
        statute: StatuteSettings {
            signature_threshold: 100,
            collection_period_days: 60,
            answer_deadline_working_days: 10,
            rule_version: 1,
        },
        listen: "127.0.0.1:0".into(),
        nats_url: String::new(),
        storage: "node.sqlite".into(),
    };
    node::config::init(dir.path(), &options).unwrap();
    let manager = Manager::new();
    let node_dir = dir.path().to_str().unwrap();
    let (mut child, line) = spawn(&["node", "run", "--dir", node_dir], &manager);
    assert!(line.contains("serving gRPC on"), "{line}");
    assert_eq!(manager.next(), "READY=1");
    let status = terminate_and_wait(&mut child);
    assert_eq!(manager.next(), "STOPPING=1");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_association_tells_systemd_when_it_serves_and_when_it_stops() {
    let nats = NatsServer::start().await.unwrap();
    let mut setup = TestAssociation::start(&nats.url()).await;
    setup.stop().await;
    let manager = Manager::new();
    let db = setup.db_url();
    let dir = setup.dir.path().to_str().unwrap().to_owned();
    let nats_url = nats.url();
    let args = [
        "association",
        "run",
        "--dir",
        &dir,
        "--db",
        &db,
        "--nats-url",
        &nats_url,
        "--listen",
        "127.0.0.1:0",
    ];
    let (mut child, line) = spawn(&args, &manager);
    assert!(line.contains("serving gRPC"), "{line}");
    assert_eq!(manager.next(), "READY=1");
    let status = terminate_and_wait(&mut child);
    assert_eq!(manager.next(), "STOPPING=1");
    assert_eq!(status.code(), Some(0));
    setup.shutdown().await;
}
