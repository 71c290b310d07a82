//! The quick start's run command, `vidkryto dev`, as a newcomer runs it: the real program
//! brings up NATS, the association and three nodes with simulated activity; a generic gRPC
//! client that knows nothing of vidkryto's protos finds the national service through server
//! reflection, calls `GetNationalSummary` on raw bytes, and within a minute sees every node
//! reporting petitions and signatures; a resident signs in at dev's OpenID provider with the
//! command dev prints and files a petition with the ID token. SIGTERM then stops it all: exit 0, the nats-server child
//! gone, the temporary database dropped.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use prost::Message as _;
use prost::bytes::{Buf as _, BufMut as _};
use proto::national::v1 as natpb;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

/// The brief: activity from every node within a minute of starting.
const ACTIVITY_DEADLINE: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
const NATIONAL_SERVICE: &str = "vidkryto.national.v1.NationalService";

/// `vidkryto dev` as a child process, its stdout lines read on a thread; killed on drop.
struct DevProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl DevProcess {
    fn start(db_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
            .args(["dev", "--nodes", "3", "--rate", "50"])
            .args(["--association-listen", "127.0.0.1:0", "--db", db_url])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn vidkryto dev");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("dev> {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Lines up to and including the first that starts with `prefix`.
    fn until(&self, prefix: &str, deadline: Instant) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {prefix:?} line; saw {seen:#?}"));
            let done = line.starts_with(prefix);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "dev did not stop within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The word after `prefix` on the line that starts with it.
fn field<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {prefix:?} in {lines:#?}"))
}

/// One reflection request on a fresh stream, one response.
async fn reflect(channel: &Channel, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream_once(request))
        .await
        .expect("reflection stream")
        .into_inner();
    let response: ServerReflectionResponse = responses
        .message()
        .await
        .expect("reflection response")
        .expect("a response");
    response.message_response.expect("a message")
}

fn tokio_stream_once<T: Send + 'static>(item: T) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::iter([item])
}

/// The path of `method` of `service` and its input type, as reflection describes them.
async fn describe(channel: &Channel, service: &str, method: &str) -> (String, String) {
    let MessageResponse::FileDescriptorResponse(files) = reflect(
        channel,
        MessageRequest::FileContainingSymbol(service.into()),
    )
    .await
    else {
        panic!("no file descriptor for {service}");
    };
    for bytes in &files.file_descriptor_proto {
        let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("descriptor");
        let package = file.package().to_owned();
        for s in &file.service {
            if format!("{package}.{}", s.name()) != service {
                continue;
            }
            let m = s
                .method
                .iter()
                .find(|m| m.name() == method)
                .unwrap_or_else(|| panic!("{service} has no {method}"));
            let input = m.input_type().trim_start_matches('.').to_owned();
            // The request must be a message without fields, so its encoding is empty.
            let name = input.rsplit('.').next().unwrap_or_default();
            let message = file
                .message_type
                .iter()
                .find(|t| t.name() == name)
                .expect("input type in the same file");
            assert!(message.field.is_empty(), "{input} has fields");
            return (format!("/{service}/{method}"), input);
        }
    }
    panic!("{service} not in the descriptors reflection returned");
}

/// Passes message bytes through untouched: the client knows no message types.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// A unary call on raw bytes to `path`.
async fn call_raw(
    channel: &Channel,
    path: &str,
    request: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path)
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    Ok(grpc
        .unary(tonic::Request::new(request), path, RawCodec)
        .await?
        .into_inner())
}

/// `GET /` over a plain HTTP/1.1 connection: the whole response as text.
fn http_get_page(addr: &str) -> String {
    http_get_path(addr, "/")
}

/// `GET path` over a plain HTTP/1.1 connection: the whole response as text.
fn http_get_path(addr: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("read the page");
    response
}

fn dev_db_url() -> String {
    let admin = testkit::admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{base}/vidkryto_dev_test_{nanos:x}_{}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dev_brings_up_a_federation_that_reports_activity_from_every_node() {
    let db_url = dev_db_url();
    let started = Instant::now();
    let mut dev = DevProcess::start(&db_url);
    let lines = dev.until("running;", started + ACTIVITY_DEADLINE);
    let association = field(&lines, "association: ").to_owned();
    let nats_url = field(&lines, "nats: ").to_owned();
    let nats_pid: u32 = lines
        .iter()
        .find_map(|l| l.split(", pid ").nth(1))
        .and_then(|rest| rest.split(',').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no nats-server pid in {lines:#?}"));
    let nodes = lines.iter().filter(|l| l.starts_with("node UA")).count();
    assert_eq!(nodes, 3, "{lines:#?}");
    // The dashboard, when setup has built it, is served by the association at its root.
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../services/dashboard/dist/index.html")
        .is_file();
    let dashboard = if built {
        format!("dashboard: {association}/")
    } else {
        "dashboard: not built (deploy/local/setup.sh builds it)".to_owned()
    };
    assert!(lines.contains(&dashboard), "no {dashboard:?} in {lines:#?}");
    if built {
        let page = http_get_page(association.trim_start_matches("http://"));
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(page.contains("<html lang=\"uk\">"), "{page}");
    }
    assert!(std::path::Path::new(&format!("/proc/{nats_pid}")).exists());
    // Each node serves the portal, when built, which fetches receipts from the association.
    let portal_built = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../services/portal/dist/index.html")
        .is_file();
    let portal = lines
        .iter()
        .find_map(|l| l.strip_prefix("portal: "))
        .unwrap_or_else(|| panic!("no portal line in {lines:#?}"));
    if portal_built {
        let addr = portal
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no portal address in {portal:?}"));
        for staff in ["moderator", "official", "coordinator", "administrator"] {
            assert!(portal.contains(staff), "{portal}");
        }
        let page = http_get_page(addr);
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(
            page.contains(&format!("connect-src 'self' {association}")),
            "{page}"
        );
        let settings = http_get_path(addr, "/api/portal.json");
        assert!(
            settings.contains(&format!("\"association\":\"{association}\"")),
            "{settings}"
        );
    } else {
        assert!(portal.starts_with("not built"), "{portal}");
    }

    // A resident signs in as dev says, and files a petition at the node with the ID token.
    let sign_in = lines
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("an ID token for "))
        .unwrap_or_else(|| panic!("no sign-in command in {lines:#?}"));
    let (code, command) = sign_in.split_once(": ").expect("code: command");
    let signed = Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("run the printed sign-in command");
    assert!(signed.status.success(), "{signed:?}");
    let signed: serde_json::Value =
        serde_json::from_slice(&signed.stdout).expect("one line of JSON");
    let token = signed["id_token"].as_str().expect("an ID token");
    let node_url = lines
        .iter()
        .find(|l| l.starts_with(&format!("node {code} ")))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no node {code} in {lines:#?}"))
        .to_owned();
    let mut resident = node::auth::connect(&node_url, token, None)
        .await
        .expect("connect to the node");
    resident
        .file_petition(proto::node::v1::FilePetitionRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            author_subject: String::new(),
            title: "Лавки біля ставка".into(),
            text: "Просимо встановити лавки біля ставка.".into(),
            category: "довкілля".into(),
        })
        .await
        .expect("a resident signed in through dev's provider files a petition");

    // A browser sent to the node's own sign-in, as dev prints it, reaches the provider's
    // sign-in page: the node's callback is registered there.
    let browser_sign_in = lines
        .iter()
        .find_map(|l| l.split("own sign-in, e.g. ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no browser sign-in in {lines:#?}"));
    let (addr, path) = browser_sign_in
        .trim_start_matches("http://")
        .split_once('/')
        .expect("a URL with a path");
    let redirected = http_get_path(addr, &format!("/{path}"));
    assert!(redirected.starts_with("HTTP/1.1 303"), "{redirected}");
    let location = redirected
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap_or_else(|| panic!("no location in {redirected}"));
    let (provider_addr, provider_path) = location
        .trim_start_matches("http://")
        .split_once('/')
        .expect("the provider's URL");
    let at_provider = http_get_path(provider_addr, &format!("/{provider_path}"));
    assert!(
        at_provider.starts_with("HTTP/1.1 303") && at_provider.contains("/interaction/"),
        "the provider refused the node's sign-in: {at_provider}"
    );

    // A generic client: what the server offers, from reflection alone.
    let channel = Channel::from_shared(association.clone())
        .unwrap()
        .connect()
        .await
        .expect("connect to the association");
    let MessageResponse::ListServicesResponse(list) =
        reflect(&channel, MessageRequest::ListServices(String::new())).await
    else {
        panic!("no service list");
    };
    let services: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(services.contains(&NATIONAL_SERVICE), "{services:?}");
    let (path, input) = describe(&channel, NATIONAL_SERVICE, "GetNationalSummary").await;
    assert_eq!(
        path,
        "/vidkryto.national.v1.NationalService/GetNationalSummary"
    );
    assert_eq!(input, "vidkryto.national.v1.GetNationalSummaryRequest");

    let summary = loop {
        let bytes = call_raw(&channel, &path, Vec::new()).await.expect("call");
        let summary = natpb::Summary::decode(bytes.as_slice()).expect("a Summary");
        let figures = summary.figures.clone().unwrap_or_default();
        if summary.municipalities_reporting == 3
            && figures.petitions_filed > 0
            && figures.signatures > 0
        {
            break summary;
        }
        assert!(
            started.elapsed() < ACTIVITY_DEADLINE,
            "after {ACTIVITY_DEADLINE:?}: {summary:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(summary.municipalities_enrolled, 3);
    assert!(summary.events_verified > 0);
    // Every started node, not just the biggest, shows petitions.
    let mut national = natpb::national_service_client::NationalServiceClient::new(channel.clone());
    let deadline = started + ACTIVITY_DEADLINE + Duration::from_secs(30);
    loop {
        let hromadas = national
            .list_municipalities(natpb::ListMunicipalitiesRequest {
                enrolled_only: true,
                ..Default::default()
            })
            .await
            .expect("list municipalities")
            .into_inner()
            .municipalities;
        assert_eq!(hromadas.len(), 3);
        let quiet: Vec<&str> = hromadas
            .iter()
            .filter(|m| m.figures.as_ref().is_none_or(|f| f.petitions_filed == 0))
            .map(|m| m.code.as_str())
            .collect();
        if quiet.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no petitions yet in {quiet:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // SIGTERM: everything stops in order, nothing is left behind.
    drop(channel);
    dev.terminate();
    let status = dev.wait(STOP_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        !std::path::Path::new(&format!("/proc/{nats_pid}")).exists(),
        "nats-server {nats_pid} outlived dev"
    );
    let nats_port = nats_url.rsplit(':').next().unwrap();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{nats_port}")).is_err(),
        "NATS still listens"
    );
    let name = db_url.rsplit('/').next().unwrap();
    assert!(
        !testkit::database_exists(name).await.unwrap(),
        "the dev database was kept"
    );
}
