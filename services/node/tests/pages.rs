//! The node's listener serves the hromada's pages (a built `portal_dir`) and the gRPC-Web API
//! they call on one origin, over plain HTTP/1.1 as a browser speaks it.

mod support;

use std::time::Duration;

use support::TestNode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One HTTP/1.1 request; the status line, the headers (lowercased) and the body bytes.
async fn http(addr: &str, head: &str, body: &[u8]) -> (String, String, Vec<u8>) {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(body).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    (
        status.to_owned(),
        headers.to_lowercase(),
        response[split + 4..].to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_its_pages_and_the_grpc_web_api_on_one_origin() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("portal");
    std::fs::create_dir_all(site.join("assets/abc")).unwrap();
    std::fs::write(
        site.join("index.html"),
        "<!doctype html><title>Громада</title>",
    )
    .unwrap();
    std::fs::write(site.join("assets/abc/app.js"), "export {};\n").unwrap();
    // `portal_dir` is a top-level key of `node.toml`, read at start.
    let mut node = TestNode::start_configured(None, 10, "").await;
    node.stop().await;
    let config = node.dir.path().join(node::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen(
        "storage",
        &format!(
            "portal_dir = {:?}\nassociation_url = \"https://vidkryto.example:8443\"\nstorage",
            site.display().to_string()
        ),
        1,
    );
    std::fs::write(&config, text).unwrap();
    node.boot().await;
    let addr = node.url().trim_start_matches("http://").to_owned();

    let (status, headers, body) = http(
        &addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        b"",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(String::from_utf8_lossy(&body).contains("Громада"));
    let csp = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .expect("the page has a policy");
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("unsafe"),
        "{csp}"
    );
    // Calls may go here and to the association's public API, nowhere else.
    assert!(
        csp.contains("connect-src 'self' https://vidkryto.example:8443;"),
        "{csp}"
    );
    // The portal learns where receipts come from.
    let (status, headers, body) = http(
        &addr,
        &format!("GET /api/portal.json HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        b"",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    let settings: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(settings["association"], "https://vidkryto.example:8443");
    assert_eq!(
        settings["municipality"],
        support::municipality().to_string()
    );
    let (status, _, _) = http(
        &addr,
        &format!("GET /assets/abc/app.js HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        b"",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");

    // The API's descriptor set, for the page's codecs: revalidated by its ETag.
    let get = |extra: String| {
        let addr = addr.clone();
        async move {
            http(
                &addr,
                &format!(
                    "GET /api/descriptor.binpb HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
                ),
                b"",
            )
            .await
        }
    };
    let (status, headers, body) = get(String::new()).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, proto::FILE_DESCRIPTOR_SET);
    let etag = headers
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_owned();
    let (status, _, body) = get(format!("If-None-Match: {etag}\r\n")).await;
    assert_eq!(status, "HTTP/1.1 304 Not Modified");
    assert!(body.is_empty());

    // gRPC-Web: a list of petitions, framed as a browser's fetch sends it.
    let frame = [0u8, 0, 0, 0, 0];
    let (status, headers, body) = http(
        &addr,
        &format!(
            "POST /vidkryto.node.v1.NodeService/ListPetitions HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            frame.len()
        ),
        &frame,
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{headers}");
    assert!(
        headers.contains("content-type: application/grpc-web+proto"),
        "{headers}"
    );
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("grpc-status:0"), "{body:?}");
}
