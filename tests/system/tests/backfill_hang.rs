//! Issue 13, defect 4: hung back-fills must not block every other node's gaps. Five hromadas
//! run behind their own NATS leaf nodes (rendered from `deploy/nats`, each leaf's link to the
//! hub going through a proxy the test can cut); four need a back-fill, and their links are cut
//! while those four back-fills read their streams (each has created its consumer on the
//! hromada's leaf and is receiving messages), so all four slots hold a back-fill that will never
//! hear from its stream again. The fifth hromada, whose link is intact, needs a back-fill too,
//! queued behind the four: its gap is recovered and its figures are exact within a bound while
//! the four stay cut, because a back-fill that receives nothing ends after an idle timeout.
//! Once the links are back, the four recover as well and every figure is exact.
//!
//! To be sure the cut lands mid-back-fill, the four leaves' links send slowly (a few KiB/s from
//! the leaf to the hub) while the back-fills run, and the test cuts only once each leaf's
//! JetStream shows the back-fill's consumer delivering.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use association::ingest::{INGEST_STREAM, Topology};
use futures_util::StreamExt as _;
use proto::national::v1 as natpb;
use system_tests::hub::{DOMAIN_TEMPLATE, HUB_SERVERS, Hub, domain, leaf_password};
use system_tests::{
    Civic, KORIUKIVKA, TestAssociation, TestNode, VINNYTSIA, render_deploy_template,
};
use testkit::{NatsServer, TcpProxy, free_loopback_ports};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const NODE_PASSWORD: &str = "node-secret";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the fifth hromada's gap may take while the four back-fills hang: their idle
/// timeout (15 s) and a little, far less than "never".
const UNBLOCKED_WITHIN: Duration = Duration::from_secs(45);

/// The four hromadas whose links are cut mid-back-fill, and the fifth, whose link stays up.
const CUT: [&str; 4] = [
    VINNYTSIA,
    KORIUKIVKA,
    "UA05020010000053508", // Ahronomichna
    "UA05020050000066991", // Voronovytska
];
const FIFTH: &str = "UA05020070000010139"; // Hnivanska

/// Signatures each hromada collects before the gaps, and after: the four's back-fills read
/// `AFTER_CUT_NODES` events (slowly), the fifth's `AFTER_FIFTH`.
const BEFORE: u32 = 5;
const AFTER_CUT_NODES: u32 = 80;
const AFTER_FIFTH: u32 = 10;
/// Bytes per second a slowed link carries from the leaf to the hub.
const SLOW_RATE: u64 = 4 * 1024;

/// A TCP forwarder whose leaf-to-hub direction can be slowed to a few bytes per second (the
/// hub-to-leaf direction is never slowed). It closes both sides when either closes, so a cut
/// of the proxy in front of it reaches the hub at once.
struct SlowLink {
    port: u16,
    /// Bytes per second from the leaf to the hub; 0: as fast as it goes.
    rate: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowLink {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let rate = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let rate = rate.clone();
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    tokio::spawn(forward_slowly(inbound, target, rate.clone()));
                }
            }
        });
        Self { port, rate, task }
    }

    fn slow(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::SeqCst);
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward_slowly(inbound: TcpStream, target: SocketAddr, rate: Arc<AtomicU64>) {
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let (mut from_leaf, mut to_leaf) = inbound.into_split();
    let (mut from_hub, mut to_hub) = outbound.into_split();
    let up = async {
        let mut buf = vec![0_u8; 16 * 1024];
        loop {
            let rate = rate.load(Ordering::SeqCst);
            let chunk = match rate {
                0 => buf.len(),
                rate => usize::try_from(rate / 10).unwrap_or(1).clamp(1, buf.len()),
            };
            let n = match from_leaf.read(&mut buf[..chunk]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to_hub.write_all(&buf[..n]).await.is_err() {
                break;
            }
            if rate > 0 {
                tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
            }
        }
    };
    let down = tokio::io::copy(&mut from_hub, &mut to_leaf);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// A hromada's leaf node, rendered from `deploy/nats/leaf`, whose link to the hub goes through
/// a proxy the test can cut and then a link the test can slow.
struct Leaf {
    katottg: &'static str,
    server: NatsServer,
    link: TcpProxy,
    slow: SlowLink,
}

impl Leaf {
    async fn start(katottg: &'static str, hub_leaf_port: u16, hub_ca_file: &Path) -> Self {
        // The leaf, then the slow link, then the cut: what the slow link still holds is lost
        // with the cut, as on a real link that drops.
        let link = TcpProxy::start(([127, 0, 0, 1], hub_leaf_port).into())
            .await
            .unwrap();
        let slow = SlowLink::start(([127, 0, 0, 1], link.port()).into()).await;
        let ports = free_loopback_ports(2).await.unwrap();
        let (port, monitor) = (ports[0], ports[1]);
        let hub_url = format!(
            "\"nats-leaf://leaf_{katottg}:{}@127.0.0.1:{}\"",
            leaf_password(katottg),
            slow.port
        );
        let server = NatsServer::start_with_config(port, monitor, |dir| {
            render_deploy_template(
                "nats/leaf/leaf.conf.template",
                &[
                    ("KATOTTG", katottg),
                    ("CLIENT_LISTEN", &format!("127.0.0.1:{port}")),
                    ("MONITOR_LISTEN", &format!("127.0.0.1:{monitor}")),
                    ("STORE_DIR", &dir.join("store").display().to_string()),
                    ("MAX_FILE_STORE", "1G"),
                    ("JS_DOMAIN", &domain(katottg)),
                    ("NODE_PASSWORD", NODE_PASSWORD),
                    ("HUB_LEAF_URLS", &hub_url),
                    ("HUB_CA_FILE", &hub_ca_file.display().to_string()),
                ],
            )
        })
        .await
        .unwrap();
        server.wait_healthy(READY_TIMEOUT).await.unwrap();
        Self {
            katottg,
            server,
            link,
            slow,
        }
    }

    fn node_url(&self) -> String {
        format!(
            "nats://node:{NODE_PASSWORD}@127.0.0.1:{}",
            self.server.port()
        )
    }

    async fn wait_linked(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let leafz = self.server.monitor("/leafz").await.unwrap();
            if leafz.contains("\"leafnodes\": 1") {
                return;
            }
            assert!(Instant::now() < deadline, "not linked: {leafz}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The consumers on the hromada's stream in the leaf's JetStream, from its monitoring
    /// endpoint: (name, whether it is a pull consumer, messages it has delivered).
    async fn consumers(&self) -> Vec<(String, bool, u64)> {
        let body = self
            .server
            .monitor("/jsz?accounts=true&streams=true&consumers=true&config=true")
            .await
            .unwrap();
        let jsz: serde_json::Value = serde_json::from_str(&body).unwrap();
        let stream = format!("VIDKRYTO_{}", self.katottg);
        let mut out = Vec::new();
        for account in jsz["account_details"].as_array().into_iter().flatten() {
            for s in account["stream_detail"].as_array().into_iter().flatten() {
                if s["name"].as_str() != Some(stream.as_str()) {
                    continue;
                }
                for c in s["consumer_detail"].as_array().into_iter().flatten() {
                    let name = c["name"].as_str().unwrap_or_default().to_owned();
                    let pull = c["config"]["deliver_subject"]
                        .as_str()
                        .is_none_or(str::is_empty);
                    let delivered = c["delivered"]["consumer_seq"].as_u64().unwrap_or(0);
                    out.push((name, pull, delivered));
                }
            }
        }
        out
    }
}

async fn verified(association: &TestAssociation, katottg: &str) -> (u64, natpb::Figures) {
    let m = association
        .national()
        .await
        .get_municipality(natpb::GetMunicipalityRequest {
            code: katottg.into(),
        })
        .await
        .unwrap()
        .into_inner();
    (
        m.provenance.map(|p| p.verified_size).unwrap_or(0),
        m.figures.unwrap_or_default(),
    )
}

/// Waits until the hub's ingest stream holds every event `node` has logged and a checkpoint
/// covering them all.
async fn wait_sourced(js: &async_nats::jetstream::Context, node: &TestNode) {
    let stream = js.get_stream(INGEST_STREAM).await.unwrap();
    let size = node.log_size();
    let events = wire::event_subject(&node.code);
    let checkpoints = wire::checkpoint_subject(&node.code);
    let deadline = Instant::now() + VERIFY_TIMEOUT;
    loop {
        let mut counts = stream.info_with_subjects(&events).await.unwrap();
        let mut held = 0;
        while let Some(entry) = counts.next().await {
            held += entry.unwrap().1;
        }
        let covered = stream
            .get_last_raw_message_by_subject(&checkpoints)
            .await
            .ok()
            .and_then(|m| {
                m.headers
                    .get(wire::TREE_SIZE_HEADER)
                    .and_then(|v| v.as_str().parse::<u64>().ok())
            })
            .unwrap_or(0);
        if held as u64 >= size && covered >= size {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {held} events of {size} sourced, checkpoint covers {covered}",
            node.code
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_back_fill_whose_leaf_link_dropped_never_holds_up_another_hromadas_gap() {
    let started = Instant::now();
    let all: Vec<&'static str> = CUT.iter().copied().chain([FIFTH]).collect();
    let hub = Hub::start(&all).await;
    let mut leaves = Vec::new();
    for (i, katottg) in all.iter().enumerate() {
        let port = hub.leaf_ports[i % HUB_SERVERS];
        leaves.push(Leaf::start(katottg, port, &hub.ca.ca_file()).await);
    }
    for leaf in &leaves {
        leaf.wait_linked().await;
    }

    let topology = Topology {
        source_domain_template: Some(DOMAIN_TEMPLATE.into()),
        ingest_replicas: 3,
    };
    let mut association = TestAssociation::start_with(&hub.association_url(), topology).await;
    let mut nodes = Vec::new();
    for (katottg, leaf) in all.iter().zip(&leaves) {
        let node = TestNode::start(katottg, 1_000, &leaf.node_url()).await;
        association.enroll(&node).await;
        nodes.push(node);
    }
    let mut civics = Vec::new();
    let mut petitions = Vec::new();
    for node in &nodes {
        let mut civic = Civic::of(node).await;
        let petition = civic.petition("Shade trees in the schoolyard").await;
        civic.sign(&petition, 0..BEFORE).await;
        civics.push(civic);
        petitions.push(petition);
    }
    let node_refs: Vec<&TestNode> = nodes.iter().collect();
    association.wait_all(&node_refs, VERIFY_TIMEOUT).await;
    let before: Vec<u64> = nodes.iter().map(TestNode::log_size).collect();

    // While the association is down, the four collect many signatures and then the fifth a
    // few: the ingest stream holds the four's events and checkpoints ahead of the fifth's.
    association.stop().await;
    let hub_js = hub.js().await;
    let signing = civics[..4]
        .iter_mut()
        .zip(&petitions)
        .map(|(civic, petition)| civic.sign(petition, BEFORE..BEFORE + AFTER_CUT_NODES));
    futures_util::future::join_all(signing).await;
    for node in &nodes[..4] {
        wait_sourced(&hub_js, node).await;
    }
    civics[4]
        .sign(&petitions[4], BEFORE..BEFORE + AFTER_FIFTH)
        .await;
    wait_sourced(&hub_js, &nodes[4]).await;

    // The ingest stream loses each hromada's first new event (never its last message), so
    // each one's next checkpoint waits for a back-fill that reads all its new events.
    let mut ingest = hub_js.get_stream(INGEST_STREAM).await.unwrap();
    let state = ingest.info().await.unwrap().state.clone();
    let mut lost: Vec<Option<u64>> = vec![None; nodes.len()];
    for seq in state.first_sequence..=state.last_sequence {
        let Ok(message) = ingest.get_raw_message(seq).await else {
            continue;
        };
        let log_seq = wire::log_position(&message.headers);
        for (i, node) in nodes.iter().enumerate() {
            if message.subject.as_str() == wire::event_subject(&node.code)
                && log_seq == Some(before[i] + 1)
            {
                lost[i] = Some(seq);
            }
        }
    }
    for (i, seq) in lost.iter().enumerate() {
        let seq = seq.unwrap_or_else(|| panic!("{}'s event {} sourced", all[i], before[i] + 1));
        assert!(seq < state.last_sequence);
        assert!(ingest.delete_message(seq).await.unwrap());
    }

    // The four's links send slowly, so their back-fills are still reading when the links are
    // cut; the association starts and finds the four gaps first, filling all four slots, and
    // the fifth's behind them.
    for leaf in &leaves[..4] {
        leaf.slow.slow(SLOW_RATE);
    }
    let baseline: Vec<Vec<String>> = {
        let mut names = Vec::new();
        for leaf in &leaves[..4] {
            names.push(leaf.consumers().await.into_iter().map(|c| c.0).collect());
        }
        names
    };
    association.boot().await;
    let deadline = Instant::now() + READY_TIMEOUT;
    for (leaf, baseline) in leaves[..4].iter().zip(&baseline) {
        loop {
            let consumers = leaf.consumers().await;
            let reading = consumers
                .iter()
                .any(|(name, pull, delivered)| *pull && *delivered > 0 && !baseline.contains(name));
            if reading {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no back-fill reading its stream: {consumers:?}",
                leaf.katottg
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Mid-back-fill: every one of the four has its consumer delivering. Cut.
    for leaf in &leaves[..4] {
        leaf.link.cut();
    }
    let cut_at = Instant::now();
    eprintln!(
        "links cut mid-back-fill {:?} into the test",
        cut_at - started
    );

    // The fifth's gap is recovered and its figures exact while the four stay cut.
    let fifth = &nodes[4];
    loop {
        let (size, figures) = verified(&association, FIFTH).await;
        if size >= fifth.log_size() {
            assert_eq!(size, fifth.log_size());
            assert_eq!(figures.signatures, u64::from(BEFORE + AFTER_FIFTH));
            assert_eq!(figures.petitions_filed, 1);
            break;
        }
        assert!(
            cut_at.elapsed() < UNBLOCKED_WITHIN,
            "{FIFTH}: verified {size} of {} events {:?} after four other hromadas' leaf links \
             dropped mid-back-fill: its back-fill waits behind theirs",
            fifth.log_size(),
            cut_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("the fifth recovered {:?} after the cut", cut_at.elapsed());
    for (i, node) in nodes[..4].iter().enumerate() {
        let (size, _) = verified(&association, all[i]).await;
        assert!(
            size < node.log_size(),
            "{}: verified {size} of {} with its link cut: the cut came after its back-fill",
            all[i],
            node.log_size()
        );
    }

    // Links back: the four recover too, and every figure is exact.
    for leaf in &leaves[..4] {
        leaf.slow.slow(0);
        leaf.link.restore();
    }
    let restored_at = Instant::now();
    association.wait_all(&node_refs, VERIFY_TIMEOUT).await;
    eprintln!(
        "the four recovered {:?} after their links came back",
        restored_at.elapsed()
    );
    for (i, node) in nodes.iter().enumerate() {
        let (size, figures) = verified(&association, all[i]).await;
        let signed = if i < 4 { AFTER_CUT_NODES } else { AFTER_FIFTH };
        assert_eq!(size, node.log_size(), "{}", all[i]);
        assert_eq!(figures.signatures, u64::from(BEFORE + signed), "{}", all[i]);
        assert_eq!(figures.petitions_filed, 1, "{}", all[i]);
    }
    let summary = association.summary().await;
    let figures = summary.figures.unwrap();
    assert_eq!(
        figures.signatures,
        u64::from(5 * BEFORE + 4 * AFTER_CUT_NODES + AFTER_FIFTH)
    );
    assert_eq!(figures.petitions_filed, 5);
    assert_eq!(
        summary.events_verified,
        nodes.iter().map(TestNode::log_size).sum::<u64>()
    );
    association.assert_nothing_quarantined().await;

    for node in &mut nodes {
        node.stop().await;
    }
    association.shutdown().await;
    eprintln!("done in {:?}", started.elapsed());
}
