//! The hostile-input run of issue 13 ("Must show"): a live association on real JetStream and
//! PostgreSQL with three honest nodes at work, while
//! - [`MESSAGES`] random and mutated messages are published on the subjects of one more
//!   enrolled hromada (the hostile one, whose key the test holds) and, for a share, on the
//!   honest nodes' own subjects (anyone may publish there in the one-server topology): random
//!   bytes, mutations of the honest nodes' real envelopes and checkpoint notes, renumbered and
//!   misaddressed envelopes, forgeries at an honest node's next position, notes re-signed with
//!   wrong roots or signed by a key nobody enrolled, broken notes, and garbage
//!   `Vidkryto-Seq` / `Vidkryto-Tree-Size` / `Nats-Msg-Id` headers;
//! - [`REQUESTS`] malformed gRPC (HTTP/2) and gRPC-Web (HTTP/1.1, binary and text) requests hit
//!   the association's one listener: random bodies on every real method, wrong length
//!   prefixes, the compressed flag, oversize claims, truncated frames, bad base64, unknown
//!   paths, invalid field values and page tokens whose offset was rewritten.
//!
//! It checks that nothing panics (a panic hook counts panics in every thread of the process,
//! which hosts the association, the nodes and the test), that every response is a
//! well-formed gRPC status or a 4xx for a request that is not gRPC at all, that the process's
//! resident memory stays within [`RSS_HEADROOM`] of its baseline, that the honest nodes keep
//! being verified with exactly the figures the test computes from what it did, and that the
//! association's projection digest equals the digest after a rebuild.
//!
//! The run prints a report (messages by kind, acknowledgements, responses by status,
//! quarantine records by reason, memory); `-- --nocapture` shows it.
//!
//! A second, focused test reproduces the smallest case of what the run shows about
//! forgeries on an honest node's subject: four different envelopes for the node's next
//! sequence number, published before the node's own event.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
use base64::Engine as _;
use event_store_core::checkpoint::{Checkpoint, NoteSigner, SignedCheckpoint, origin_for};
use event_store_core::{Envelope, EventTypeCode, LogSeq, MunicipalityCode, SchemaVersion};
use http_body_util::BodyExt as _;
use prost::Message as _;
use proto::audit::v1 as auditpb;
use proto::federation::v1 as fedpb;
use proto::national::v1 as natpb;
use proto::node::v1 as nodepb;
use system_tests::{Civic, KORIUKIVKA, KYIV, TestAssociation, TestClock, TestNode, VINNYTSIA};
use testkit::NatsServer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;
use tonic::codegen::{Bytes, http};
use tonic::transport::Channel;

/// Messages published on the nodes' subjects. Payloads are small (most under 600 bytes, 2% of
/// events 4–32 KiB) so that 10^5 of them, each verified and quarantined by the association in
/// a debug build, fit the run in a few minutes on two cores.
const MESSAGES: u64 = 100_000;
/// Malformed gRPC and gRPC-Web requests, half on each transport.
const REQUESTS: u64 = 10_000;
/// Share of the messages (percent) published on the honest nodes' subjects instead of the
/// hostile hromada's.
const HONEST_SHARE_PERCENT: u64 = 15;
/// Share of the messages (percent) on checkpoint subjects. A note that parses and names the
/// subject's origin costs the association an Ed25519 verification (a few milliseconds in a
/// debug build), so this share bounds the run's time more than any other.
const CHECKPOINT_SHARE_PERCENT: u64 = 20;
/// Of the messages, the share on leaves subjects (forged and mutated leaf lists).
const LEAVES_SHARE_PERCENT: u64 = 5;
/// Publish acknowledgements awaited at most at once.
const ACKS_IN_FLIGHT: usize = 512;
/// Requests in flight at once.
const REQUEST_WORKERS: u64 = 8;
/// How far the process's resident memory may grow past its baseline during the run. The
/// ingest bounds what waits in memory to 512 MiB over all nodes
/// (`PENDING_BYTES_TOTAL_MAX`); the messages here are far smaller, so a sound run stays well
/// under it and a leak of every message (10^5 × payload, plus per-request state) does not.
const RSS_HEADROOM: u64 = 512 << 20;
/// How long the honest nodes may take to be verified after the run.
const SETTLE: Duration = Duration::from_secs(60);
/// Honest nodes' signature threshold: never reached, so the figures are plain counts.
const THRESHOLD: u32 = 1_000_000;
const SEED: u64 = 0x0013_5EED_B0B5;

// ---------------------------------------------------------------------------------------
// Randomness and mutation

/// SplitMix64: small, seeded, reproducible.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// `min..=max` random bytes.
    fn some_bytes(&mut self, min: usize, max: usize) -> Vec<u8> {
        let len = min + self.index(max - min + 1);
        self.bytes(len)
    }

    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut x = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// Numbers at the edges parsers and arithmetic get wrong.
    fn edge_u64(&mut self) -> u64 {
        match self.below(12) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => u64::MAX - self.below(100),
            4 => i64::MAX as u64,
            5 => i64::MAX as u64 + 1,
            6 => u64::from(u32::MAX),
            7 => u64::from(u32::MAX) + 1,
            8 => self.below(100),
            9 => 1 << self.below(64),
            10 => self.below(10_000),
            _ => self.next(),
        }
    }

    fn edge_u32(&mut self) -> u32 {
        match self.below(15) {
            13 => self.next() as u32,
            14 => self.below(1_000) as u32,
            i => [
                0,
                1,
                u32::MAX,
                u32::MAX - 1,
                i32::MAX as u32,
                500,
                501,
                520,
                521,
                1_000,
                1_001,
                100_000,
                100_001,
            ][i as usize],
        }
    }

    fn edge_i32(&mut self) -> i32 {
        match self.below(14) {
            12 => self.next() as i32,
            13 => self.below(1_000) as i32,
            i => [
                0,
                -1,
                i32::MIN,
                i32::MAX,
                1,
                50,
                500,
                501,
                1_000,
                1_001,
                2_000,
                2_001,
            ][i as usize],
        }
    }

    /// Text a field validator should refuse or survive.
    fn text(&mut self, max: usize) -> String {
        match self.below(7) {
            0 => String::new(),
            1 => (0..self.below(max as u64 + 1))
                .map(|_| char::from(32 + self.below(95) as u8))
                .collect(),
            2 => (0..self.below(64))
                .map(|_| {
                    *self.pick(&[
                        'а', 'ї', 'Є', '\u{0}', '\u{202e}', '\u{feff}', '😀', '%', '_', '\'', '"',
                        '\\', ':', '|', ' ', '\n', '\t', 'A', '9',
                    ])
                })
                .collect(),
            3 => "A".repeat(self.index(max + 1)),
            4 => (*self.pick(&[
                "'; DROP TABLE quarantine; --",
                "%",
                "_%",
                "\0",
                "../../../../etc/passwd",
                "${jndi:ldap://x}",
                "UA",
                " UA05020030000031457 ",
                "ua05020030000031457",
                "UA05020030000031457\0",
                "UA050200300000314570",
                "UA0502003000003145",
                "UA99999999999999999",
                "petitions_per_10k desc",
                "code desc extra",
                "name sideways",
                "NaN",
                "-0",
                "null",
            ]))
            .to_owned(),
            5 => String::from_utf8_lossy(&self.some_bytes(0, max.min(256))).into_owned(),
            _ => format!("UA{:017}", self.next() % 100_000_000_000_000_000),
        }
    }

    /// Printable ASCII without CR or LF (what a header value may hold).
    fn header_text(&mut self, max: usize) -> String {
        (0..self.below(max as u64 + 1))
            .map(|_| char::from(32 + self.below(95) as u8))
            .collect()
    }
}

/// A few edits of `input`: bit flips, interesting bytes, truncation, insertion, deletion,
/// splicing with a donor, trailing garbage, overlong varint runs, duplicated ranges.
fn mutate(rng: &mut Rng, input: &[u8], donors: &[&[u8]]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(9) {
            0 if len > 0 => {
                let at = rng.index(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.index(len);
                out[at] = *rng.pick(&[0, 1, 0x7f, 0x80, 0xff, b':', b'\n', b' ']);
            }
            2 => out.truncate(rng.index(len + 1)),
            3 => {
                let at = rng.index(len + 1);
                let extra = rng.some_bytes(1, 16);
                out.splice(at..at, extra);
            }
            4 if len > 0 => {
                let from = rng.index(len);
                let to = (from + 1 + rng.index(16)).min(len);
                out.drain(from..to);
            }
            5 if !donors.is_empty() => {
                let donor = *rng.pick(donors);
                let cut = rng.index(len + 1);
                let from = rng.index(donor.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&donor[from..]);
            }
            6 => {
                let extra = rng.some_bytes(1, 32);
                out.extend(extra);
            }
            7 if len > 0 => {
                let at = rng.index(len);
                let to = (at + 1 + rng.index(10)).min(len);
                out[at..to].fill(0xff);
            }
            8 if len > 0 => {
                let from = rng.index(len);
                let to = (from + 1 + rng.index(32)).min(len);
                let copy = out[from..to].to_vec();
                let at = rng.index(len + 1);
                out.splice(at..at, copy);
            }
            _ => {}
        }
    }
    out.truncate(64 << 10);
    out
}

// ---------------------------------------------------------------------------------------
// Panics anywhere in the process

static PANICS: AtomicU64 = AtomicU64::new(0);
static PANIC_MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The focused test below runs in a thread of this name; its own failed assertion is not a
/// panic of the system under test.
const FOCUSED_TEST: &str = "four_forgeries_for_a_nodes_next_event_do_not_stop_its_verification";

/// Counts every panic in any thread (the association's and nodes' tasks included, whichever
/// test's runtime they run in), but for the focused test's own assertions, keeping the first
/// messages, then runs the default hook.
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(FOCUSED_TEST) {
                default(info);
                return;
            }
            PANICS.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut messages) = PANIC_MESSAGES.lock()
                && messages.len() < 20
            {
                let thread = std::thread::current().name().unwrap_or("?").to_owned();
                messages.push(format!("[{thread}] {info}"));
            }
            default(info);
        }));
    });
}

// ---------------------------------------------------------------------------------------
// Resident memory

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples the resident memory every 50 ms until `stop`; returns the peak.
fn sample_rss(stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = rss_bytes();
        while !stop.load(Ordering::SeqCst) {
            peak = peak.max(rss_bytes());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak.max(rss_bytes())
    })
}

// ---------------------------------------------------------------------------------------
// Honest activity

/// What an honest node's citizens did: every figure the test checks follows from it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Activity {
    petitions: u64,
    signatures: u64,
    dialogues: u64,
    contributions: u64,
}

impl std::ops::AddAssign for Activity {
    fn add_assign(&mut self, o: Self) {
        self.petitions += o.petitions;
        self.signatures += o.signatures;
        self.dialogues += o.dialogues;
        self.contributions += o.contributions;
    }
}

/// An honest hromada's citizens: a petition every 12 rounds, one signature a round, a public
/// hearing every 30 rounds and a contribution every 4, until `stop` (or `rounds`).
async fn citizens(
    mut civic: Civic,
    clock: TestClock,
    label: String,
    rounds: Option<u64>,
    stop: Arc<AtomicBool>,
) -> Activity {
    let mut done = Activity::default();
    let (mut petition, mut signers, mut dialogue) = (String::new(), 0, String::new());
    let mut round = 0;
    while !stop.load(Ordering::SeqCst) && rounds.is_none_or(|r| round < r) {
        if round % 12 == 0 {
            petition = civic.petition(&format!("{label}: petition {round}")).await;
            signers = 0;
            done.petitions += 1;
        }
        if round % 30 == 0 {
            dialogue = civic
                .dialogue(nodepb::DialogueKind::PublicHearing, &clock, 30)
                .await;
            done.dialogues += 1;
        }
        civic.sign(&petition, signers..signers + 1).await;
        signers += 1;
        done.signatures += 1;
        if round % 4 == 0 {
            civic
                .contribute(&dialogue, &format!("{label} resident {round}"))
                .await;
            done.contributions += 1;
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done
}

// ---------------------------------------------------------------------------------------
// Material captured from the honest nodes' streams

#[derive(Debug, Default)]
struct Captured {
    events: Vec<(MunicipalityCode, Vec<u8>)>,
    notes: Vec<(MunicipalityCode, String)>,
    leaves: Vec<Vec<u8>>,
    msg_ids: Vec<String>,
}

/// Every message the honest nodes' relays published so far, read back from their streams.
async fn capture(js: &jetstream::Context, codes: &[MunicipalityCode]) -> Captured {
    let mut captured = Captured::default();
    for code in codes {
        let mut stream = js.get_stream(wire::stream_name(code)).await.unwrap();
        let last = stream.info().await.unwrap().state.last_sequence;
        for seq in 1..=last {
            let Ok(message) = stream.get_raw_message(seq).await else {
                continue;
            };
            if let Some(id) = message.headers.get("Nats-Msg-Id") {
                captured.msg_ids.push(id.as_str().to_owned());
            }
            let parsed = wire::Subject::parse(message.subject.as_str()).unwrap();
            match parsed.kind {
                wire::SubjectKind::Event => captured.events.push((*code, message.payload.to_vec())),
                wire::SubjectKind::Checkpoint => captured
                    .notes
                    .push((*code, String::from_utf8(message.payload.to_vec()).unwrap())),
                wire::SubjectKind::Leaves => captured.leaves.push(message.payload.to_vec()),
            }
        }
    }
    assert!(!captured.events.is_empty() && !captured.notes.is_empty());
    captured
}

// ---------------------------------------------------------------------------------------
// Hostile messages

/// Everything the message generator draws from.
struct Material {
    captured: Captured,
    hostile: MunicipalityCode,
    /// The honest nodes and their log sizes now (for forgeries at their next position).
    honest: Vec<(MunicipalityCode, watch::Receiver<u64>)>,
    /// Hromadas nobody enrolled.
    strangers: Vec<MunicipalityCode>,
    /// Notes signed with the hostile hromada's enrolled key for trees it does not have.
    resigned: Vec<String>,
    /// Notes signed for each target's origin by a key nobody enrolled.
    forged_notes: BTreeMap<MunicipalityCode, Vec<String>>,
}

#[derive(Debug)]
struct HostileMessage {
    subject: String,
    headers: Option<HeaderMap>,
    payload: Vec<u8>,
    kind: &'static str,
}

impl Material {
    fn envelope(&self, rng: &mut Rng) -> &[u8] {
        &rng.pick(&self.captured.events).1
    }

    fn note(&self, rng: &mut Rng) -> &str {
        &rng.pick(&self.captured.notes).1
    }

    fn donors(&self) -> Vec<&[u8]> {
        let mut donors: Vec<&[u8]> = self
            .captured
            .events
            .iter()
            .take(64)
            .map(|(_, e)| e.as_slice())
            .collect();
        donors.extend(
            self.captured
                .notes
                .iter()
                .take(16)
                .map(|(_, n)| n.as_bytes()),
        );
        donors
    }

    /// A real envelope re-encoded for `code` at `seq`, its payload changed or not.
    fn renumbered(&self, rng: &mut Rng, code: MunicipalityCode, seq: u64) -> Vec<u8> {
        let mut envelope = Envelope::decode(self.envelope(rng)).unwrap();
        envelope.municipality = code;
        envelope.seq = LogSeq(seq);
        if rng.chance(50) && !envelope.payload.is_empty() {
            let at = rng.index(envelope.payload.len());
            envelope.payload[at] ^= 1 << rng.below(8);
        }
        if rng.chance(15) {
            envelope.event_type = EventTypeCode(rng.next() as u16);
        }
        if rng.chance(10) {
            envelope.schema_version = SchemaVersion(rng.next() as u16);
        }
        if rng.chance(10) {
            envelope.payload = rng.some_bytes(0, 199);
        }
        // Different bytes from the node's own event at that position, whatever was drawn.
        envelope.event_id = event_store_core::EventId::new_v7();
        envelope.encode().unwrap_or_else(|_| rng.bytes(64))
    }

    fn event_payload(
        &self,
        rng: &mut Rng,
        target: MunicipalityCode,
        next: Option<u64>,
    ) -> (Vec<u8>, &'static str) {
        match rng.weighted(&[20, 30, 18, 8, 8, 4, 2, 1]) {
            0 => (rng.some_bytes(0, 299), "ev_random_bytes"),
            1 => {
                let base = self.envelope(rng).to_vec();
                (mutate(rng, &base, &self.donors()), "ev_mutated")
            }
            2 => {
                let seq = match rng.below(6) {
                    0 => 0,
                    1 => 1 + rng.below(5),
                    2 => 1 + rng.below(2_000),
                    3 => u64::MAX - rng.below(3),
                    4 => 1 << (32 + rng.below(32)),
                    _ => rng.edge_u64(),
                };
                (self.renumbered(rng, target, seq), "ev_renumbered")
            }
            3 => (self.envelope(rng).to_vec(), "ev_replayed"),
            4 => {
                let other = *rng.pick(&self.strangers);
                let seq = 1 + rng.below(50);
                (self.renumbered(rng, other, seq), "ev_misaddressed")
            }
            5 => {
                // At the target's next position: an honest node's next log sequence, or the
                // first few of the hostile hromada's (which has none).
                let seq = next.unwrap_or_else(|| 1 + rng.below(64));
                (self.renumbered(rng, target, seq), "ev_next_position")
            }
            6 => {
                let size = (4 << 10) + rng.index(28 << 10);
                (rng.bytes(size), "ev_big")
            }
            _ => (Vec::new(), "ev_empty"),
        }
    }

    /// A leaves message that names other bytes: mutated from a real one, or random hashes
    /// from the target's next position.
    fn leaves_payload(&self, rng: &mut Rng, next: Option<u64>) -> (Vec<u8>, &'static str) {
        if !self.captured.leaves.is_empty() && rng.chance(50) {
            let real = rng.pick(&self.captured.leaves).clone();
            let donors: Vec<&[u8]> = self.captured.leaves.iter().map(Vec::as_slice).collect();
            return (mutate(rng, &real, &donors), "leaves mutated");
        }
        let first = next.unwrap_or(1 + rng.below(1_000));
        let hashes: Vec<[u8; 32]> = (0..1 + rng.below(64))
            .map(|_| {
                let mut hash = [0; 32];
                hash.copy_from_slice(&rng.bytes(32));
                hash
            })
            .collect();
        (wire::encode_leaves(first, &hashes), "leaves forged")
    }

    fn checkpoint_payload(
        &self,
        rng: &mut Rng,
        target: MunicipalityCode,
    ) -> (Vec<u8>, &'static str) {
        match rng.weighted(&[25, 10, 6, 3, 12, 27, 3, 14]) {
            0 => {
                if rng.chance(50) {
                    (rng.some_bytes(0, 299), "ck_random_bytes")
                } else {
                    (rng.text(300).into_bytes(), "ck_random_text")
                }
            }
            1 => {
                let base = self.note(rng).as_bytes().to_vec();
                (mutate(rng, &base, &self.donors()), "ck_mutated")
            }
            2 => (rng.pick(&self.resigned).clone().into_bytes(), "ck_resigned"),
            3 => {
                let notes = &self.forged_notes[&target];
                (rng.pick(notes).clone().into_bytes(), "ck_unenrolled_key")
            }
            4 => {
                let others: Vec<&(MunicipalityCode, String)> = self
                    .captured
                    .notes
                    .iter()
                    .filter(|(c, _)| *c != target)
                    .collect();
                (rng.pick(&others).1.clone().into_bytes(), "ck_misaddressed")
            }
            5 => (self.broken_note(rng, target).into_bytes(), "ck_broken"),
            6 => {
                let own: Vec<&(MunicipalityCode, String)> = self
                    .captured
                    .notes
                    .iter()
                    .filter(|(c, _)| *c == target)
                    .collect();
                let note = if own.is_empty() {
                    self.note(rng).to_owned()
                } else {
                    rng.pick(&own).1.clone()
                };
                (note.into_bytes(), "ck_replayed")
            }
            _ => {
                let mut lines: Vec<String> = self.note(rng).lines().map(str::to_owned).collect();
                match rng.below(4) {
                    0 => lines.reverse(),
                    1 => {
                        let copy = rng.pick(&lines).clone();
                        let at = rng.index(lines.len() + 1);
                        lines.insert(at, copy);
                    }
                    2 => {
                        let at = rng.index(lines.len());
                        lines.remove(at);
                    }
                    _ => {
                        let (a, b) = (rng.index(lines.len()), rng.index(lines.len()));
                        lines.swap(a, b);
                    }
                }
                (lines.join("\n").into_bytes(), "ck_reshuffled")
            }
        }
    }

    /// A note that names `target`'s origin but whose size, root or signature lines are wrong.
    fn broken_note(&self, rng: &mut Rng, target: MunicipalityCode) -> String {
        let origin = origin_for(&target);
        let real = self.note(rng);
        let lines: Vec<&str> = real.lines().collect();
        let root = lines.get(2).copied().unwrap_or("");
        let signature = lines.last().copied().unwrap_or("");
        let size = *rng.pick(&[
            "18446744073709551616",
            "-1",
            "0x10",
            "1e3",
            " 5",
            "5 ",
            "05",
            "",
            "٣",
            "99999999999999999999999999",
            "18446744073709551615",
            "0",
        ]);
        match rng.below(8) {
            0 => format!("{origin}\n{size}\n{root}\n\n{signature}\n"),
            1 => format!("{origin}\n7\nnot base64!!\n\n{signature}\n"),
            2 => format!("{origin}\n7\n{}\n\n{signature}\n", &root[..root.len() / 2]),
            3 => format!("{origin}\n7\n{root}\n{signature}\n"),
            4 => format!("{origin}\n7\n{root}\n\n— {origin} AAAA\n"),
            5 => format!(
                "{origin}\n7\n{root}\n\n{}",
                "— x y\n".repeat(1 + rng.index(2_000))
            ),
            6 => format!("{origin}\r\n7\r\n{root}\r\n\r\n{signature}\r\n"),
            _ => format!("{origin}\n\0\n{root}\n\n{signature}"),
        }
    }

    fn headers(&self, rng: &mut Rng) -> Option<HeaderMap> {
        if !rng.chance(35) {
            return None;
        }
        let number = |rng: &mut Rng| -> String {
            match rng.below(4) {
                0 => (*rng.pick(&[
                    "",
                    "-1",
                    "18446744073709551616",
                    "1e9",
                    " 5",
                    "5 ",
                    "0x10",
                    "NaN",
                    "٣",
                    "+7",
                ]))
                .to_owned(),
                1 => (1 + rng.below(2_000)).to_string(),
                2 => rng.edge_u64().to_string(),
                _ => rng.header_text(24),
            }
        };
        let mut headers = HeaderMap::new();
        for _ in 0..1 + rng.below(4) {
            match rng.below(9) {
                0 | 1 => headers.insert(wire::SEQ_HEADER, number(rng)),
                2 | 3 => headers.insert(wire::TREE_SIZE_HEADER, number(rng)),
                4 => {
                    let id = if rng.chance(30) {
                        rng.pick(&self.captured.msg_ids).clone()
                    } else {
                        format!("hostile-{}", rng.next())
                    };
                    headers.insert("Nats-Msg-Id", id);
                }
                5 => headers.insert(
                    format!("X-Hostile-{}", rng.below(1_000)),
                    rng.header_text(200),
                ),
                6 => headers.insert(
                    *rng.pick(&["Nats-Expected-Stream", "Nats-Expected-Last-Sequence"]),
                    number(rng),
                ),
                7 => headers.insert("X-Big", "b".repeat(4_096)),
                _ => {
                    headers.append(wire::SEQ_HEADER, number(rng));
                    headers.append(wire::SEQ_HEADER, number(rng));
                }
            }
        }
        Some(headers)
    }

    fn message(&self, rng: &mut Rng) -> HostileMessage {
        let (target, next) = if rng.chance(HONEST_SHARE_PERCENT) {
            let (code, size) = rng.pick(&self.honest);
            (*code, Some(*size.borrow() + 1))
        } else {
            (self.hostile, None)
        };
        let (subject, (payload, kind)) = if rng.chance(LEAVES_SHARE_PERCENT) {
            (
                wire::leaves_subject(&target),
                self.leaves_payload(rng, next),
            )
        } else if rng.chance(CHECKPOINT_SHARE_PERCENT) {
            (
                wire::checkpoint_subject(&target),
                self.checkpoint_payload(rng, target),
            )
        } else {
            (
                wire::event_subject(&target),
                self.event_payload(rng, target, next),
            )
        };
        HostileMessage {
            subject,
            headers: self.headers(rng),
            payload,
            kind,
        }
    }
}

/// What the flood did.
#[derive(Debug, Default)]
struct FloodReport {
    sent: u64,
    to_honest: u64,
    by_kind: BTreeMap<&'static str, u64>,
    stored: u64,
    duplicates: u64,
    refused: BTreeMap<String, u64>,
    elapsed: Duration,
}

/// Publishes [`MESSAGES`] hostile messages with at most [`ACKS_IN_FLIGHT`] acknowledgements
/// outstanding.
async fn flood(js: jetstream::Context, material: Arc<Material>) -> FloodReport {
    let started = Instant::now();
    let mut rng = Rng(SEED);
    let mut report = FloodReport::default();
    let mut acks = VecDeque::new();
    let refused = |report: &mut FloodReport, e: &dyn std::fmt::Display| {
        // Digits vary per message ("wrong last sequence: 1234"): one key per kind.
        let key: String = e
            .to_string()
            .chars()
            .take(60)
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        *report.refused.entry(key).or_default() += 1;
    };
    let honest: Vec<String> = material
        .honest
        .iter()
        .flat_map(|(c, _)| [wire::event_subject(c), wire::checkpoint_subject(c)])
        .collect();
    for _ in 0..MESSAGES {
        let m = material.message(&mut rng);
        report.sent += 1;
        if honest.contains(&m.subject) {
            report.to_honest += 1;
        }
        *report.by_kind.entry(m.kind).or_default() += 1;
        let published = match m.headers {
            Some(headers) => {
                js.publish_with_headers(m.subject, headers, m.payload.into())
                    .await
            }
            None => js.publish(m.subject, m.payload.into()).await,
        };
        match published {
            Ok(ack) => acks.push_back(ack),
            Err(e) => refused(&mut report, &e),
        }
        while acks.len() >= ACKS_IN_FLIGHT {
            match acks.pop_front().unwrap().await {
                Ok(ack) if ack.duplicate => report.duplicates += 1,
                Ok(_) => report.stored += 1,
                Err(e) => refused(&mut report, &e),
            }
        }
    }
    for ack in acks {
        match ack.await {
            Ok(ack) if ack.duplicate => report.duplicates += 1,
            Ok(_) => report.stored += 1,
            Err(e) => refused(&mut report, &e),
        }
    }
    report.elapsed = started.elapsed();
    report
}

// ---------------------------------------------------------------------------------------
// Malformed gRPC and gRPC-Web requests

/// How a method answers: one message, a stream that ends, or a stream that never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Unary,
    Finite,
    Endless,
}

/// Every method the association serves (proto/vidkryto/*/v1/*.proto, health, reflection).
const METHODS: &[(&str, Shape)] = &[
    (
        "/vidkryto.national.v1.NationalService/GetNationalSummary",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/ListOblasts",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/ListMunicipalities",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/GetMunicipality",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/GetTimeSeries",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/GetLeaderboard",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/GetAnswerDays",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/ListMilestones",
        Shape::Unary,
    ),
    (
        "/vidkryto.national.v1.NationalService/WatchUpdates",
        Shape::Endless,
    ),
    (
        "/vidkryto.federation.v1.FederationService/ListNodes",
        Shape::Unary,
    ),
    (
        "/vidkryto.federation.v1.FederationService/GetNode",
        Shape::Unary,
    ),
    (
        "/vidkryto.federation.v1.FederationService/ListQuarantine",
        Shape::Unary,
    ),
    (
        "/vidkryto.federation.v1.FederationService/ListForks",
        Shape::Unary,
    ),
    (
        "/vidkryto.federation.v1.FederationService/Enroll",
        Shape::Unary,
    ),
    (
        "/vidkryto.federation.v1.FederationService/Revoke",
        Shape::Unary,
    ),
    ("/vidkryto.audit.v1.AuditService/ReadLog", Shape::Finite),
    (
        "/vidkryto.audit.v1.AuditService/ListCheckpoints",
        Shape::Unary,
    ),
    (
        "/vidkryto.audit.v1.AuditService/GetInclusionProof",
        Shape::Unary,
    ),
    (
        "/vidkryto.audit.v1.AuditService/GetConsistencyProof",
        Shape::Unary,
    ),
    (
        "/vidkryto.audit.v1.AuditService/GetProjectionDigest",
        Shape::Unary,
    ),
    ("/vidkryto.audit.v1.AuditService/ListKeys", Shape::Unary),
    ("/grpc.health.v1.Health/Check", Shape::Unary),
    ("/grpc.health.v1.Health/Watch", Shape::Endless),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Shape::Finite,
    ),
];

/// A page token from a real response, with the request fields it is bound to.
#[derive(Debug, Clone)]
enum RealToken {
    Municipalities(natpb::ListMunicipalitiesRequest),
    Nodes(fedpb::ListNodesRequest),
}

/// What the request generator draws from.
#[derive(Debug)]
struct RequestContext {
    codes: Vec<String>,
    oblasts: Vec<String>,
    tokens: Vec<RealToken>,
    admin_token: String,
}

impl RequestContext {
    fn code(&self, rng: &mut Rng) -> String {
        match rng.below(4) {
            0 | 1 => rng.pick(&self.codes).clone(),
            _ => rng.text(40),
        }
    }

    fn area(&self, rng: &mut Rng) -> String {
        match rng.below(4) {
            0 => String::new(),
            1 => rng.pick(&self.oblasts).clone(),
            2 => rng.pick(&self.codes).clone(),
            _ => rng.text(40),
        }
    }

    fn page_token(&self, rng: &mut Rng) -> String {
        match rng.below(4) {
            0 => String::new(),
            1 => rng.text(80),
            2 => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
                "{}:{}",
                rng.edge_u64(),
                rng.text(20)
            )),
            _ => base64::engine::general_purpose::STANDARD.encode(rng.some_bytes(0, 39)),
        }
    }

    /// A valid encoding of `path`'s request type with invalid or edge field values, and the
    /// authorization header to send with it.
    fn typed(&self, rng: &mut Rng, path: &str) -> (Vec<u8>, Option<String>) {
        let method = path.rsplit('/').next().unwrap_or("");
        let mut auth = None;
        let bytes = match method {
            "ListMunicipalities" => {
                if rng.chance(40) && !self.tokens.is_empty() {
                    self.rewritten_token(rng, RealTokenKind::Municipalities)
                } else {
                    natpb::ListMunicipalitiesRequest {
                        page_size: rng.edge_i32(),
                        page_token: self.page_token(rng),
                        order_by: if rng.chance(50) {
                            (*rng.pick(&[
                                "",
                                "code",
                                "name",
                                "petitions_per_10k desc",
                                "signatures asc",
                                "name desc",
                            ]))
                            .to_owned()
                        } else {
                            rng.text(40)
                        },
                        oblast: self.area(rng),
                        name_prefix: rng.text(120),
                        enrolled_only: rng.chance(50),
                    }
                    .encode_to_vec()
                }
            }
            "GetMunicipality" => natpb::GetMunicipalityRequest {
                code: self.code(rng),
            }
            .encode_to_vec(),
            "GetTimeSeries" => natpb::GetTimeSeriesRequest {
                area: self.area(rng),
                weeks: rng.edge_u32(),
            }
            .encode_to_vec(),
            "GetLeaderboard" => natpb::GetLeaderboardRequest {
                metric: if rng.chance(40) {
                    (*rng.pick(&["petitions_per_10k", "signatures_per_10k", "", "nope"])).to_owned()
                } else {
                    rng.text(40)
                },
                limit: rng.edge_u32(),
                oblast: self.area(rng),
                ascending: rng.chance(50),
            }
            .encode_to_vec(),
            "GetAnswerDays" => natpb::GetAnswerDaysRequest {
                area: self.area(rng),
            }
            .encode_to_vec(),
            "ListMilestones" => natpb::ListMilestonesRequest {
                code: self.code(rng),
                page_size: rng.edge_i32(),
                page_token: self.page_token(rng),
            }
            .encode_to_vec(),
            "ListNodes" => {
                if rng.chance(40) && !self.tokens.is_empty() {
                    self.rewritten_token(rng, RealTokenKind::Nodes)
                } else {
                    fedpb::ListNodesRequest {
                        page_size: rng.edge_i32(),
                        page_token: self.page_token(rng),
                        status: rng.edge_i32(),
                    }
                    .encode_to_vec()
                }
            }
            "GetNode" => fedpb::GetNodeRequest {
                code: self.code(rng),
            }
            .encode_to_vec(),
            "ListForks" => fedpb::ListForksRequest {
                code: self.code(rng),
            }
            .encode_to_vec(),
            "ListQuarantine" => fedpb::ListQuarantineRequest {
                page_size: rng.edge_i32(),
                page_token: self.page_token(rng),
                code: if rng.chance(30) {
                    String::new()
                } else {
                    self.code(rng)
                },
            }
            .encode_to_vec(),
            "Enroll" | "Revoke" => {
                // The admin token goes only with an Enroll whose key cannot parse: the run
                // must not change who is enrolled (an empty Revoke key revokes them all).
                auth = match rng.below(4) {
                    0 => None,
                    1 => Some(format!("Bearer {}", rng.header_text(64))),
                    2 => Some(rng.header_text(80)),
                    _ if method == "Enroll" => Some(format!("Bearer {}", self.admin_token)),
                    _ => Some("Bearer ".to_owned()),
                };
                let (code, vkey) = (self.code(rng), format!("not a key {}", rng.text(80)));
                if method == "Enroll" {
                    fedpb::EnrollRequest { code, vkey }.encode_to_vec()
                } else {
                    fedpb::RevokeRequest { code, vkey }.encode_to_vec()
                }
            }
            "ReadLog" => auditpb::ReadLogRequest {
                code: self.code(rng),
                from_seq: rng.edge_u64(),
                limit: rng.edge_u32(),
            }
            .encode_to_vec(),
            "ListCheckpoints" => auditpb::ListCheckpointsRequest {
                code: self.code(rng),
                from_size: rng.edge_u64(),
                limit: rng.edge_u32(),
            }
            .encode_to_vec(),
            "GetInclusionProof" => auditpb::GetInclusionProofRequest {
                code: self.code(rng),
                seq: rng.edge_u64(),
                tree_size: rng.edge_u64(),
            }
            .encode_to_vec(),
            "GetConsistencyProof" => auditpb::GetConsistencyProofRequest {
                code: self.code(rng),
                old_size: rng.edge_u64(),
                new_size: rng.edge_u64(),
            }
            .encode_to_vec(),
            "ListKeys" => auditpb::ListKeysRequest {
                code: self.code(rng),
            }
            .encode_to_vec(),
            "Check" | "Watch" => {
                // grpc.health.v1.HealthCheckRequest { string service = 1; }
                let service = if rng.chance(50) {
                    (*rng.pick(&[
                        "",
                        "vidkryto.national.v1.NationalService",
                        "vidkryto.audit.v1.AuditService",
                    ]))
                    .to_owned()
                } else {
                    rng.text(60)
                };
                let mut out = vec![0x0a];
                put_varint(&mut out, service.len() as u64);
                out.extend_from_slice(service.as_bytes());
                out
            }
            // Requests without fields: unknown fields are skipped.
            _ => {
                if rng.chance(50) {
                    Vec::new()
                } else {
                    let mut out = Vec::new();
                    put_varint(
                        &mut out,
                        (u64::from(100 + rng.below(1_000) as u32) << 3) | 2,
                    );
                    let junk = rng.some_bytes(0, 39);
                    put_varint(&mut out, junk.len() as u64);
                    out.extend(junk);
                    out
                }
            }
        };
        (bytes, auth)
    }

    /// A request carrying a real page token whose offset (or fingerprint) was rewritten,
    /// with the fields the token is bound to.
    fn rewritten_token(&self, rng: &mut Rng, kind: RealTokenKind) -> Vec<u8> {
        let candidates: Vec<&RealToken> = self
            .tokens
            .iter()
            .filter(|t| {
                matches!(
                    (t, kind),
                    (RealToken::Municipalities(_), RealTokenKind::Municipalities)
                        | (RealToken::Nodes(_), RealTokenKind::Nodes)
                )
            })
            .collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        let rewrite = |rng: &mut Rng, token: &str| -> String {
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let text = String::from_utf8(engine.decode(token).unwrap()).unwrap();
            let (_, fingerprint) = text.split_once(':').unwrap();
            let offset = match rng.below(10) {
                0 => usize::MAX.to_string(),
                1 => (usize::MAX - rng.index(1_000)).to_string(),
                2 => (usize::MAX / 2 + 1).to_string(),
                3 => "18446744073709551616".to_owned(),
                4 => "-1".to_owned(),
                5 => rng.index(3_000).to_string(),
                6 => (1u64 << 62).to_string(),
                7 => String::new(),
                8 => " 1".to_owned(),
                _ => rng.edge_u64().to_string(),
            };
            let fingerprint = if rng.chance(15) {
                rng.text(20)
            } else {
                fingerprint.to_owned()
            };
            let out = engine.encode(format!("{offset}:{fingerprint}"));
            if rng.chance(10) {
                String::from_utf8_lossy(&mutate(rng, out.as_bytes(), &[])).into_owned()
            } else {
                out
            }
        };
        match rng.pick(&candidates) {
            RealToken::Municipalities(request) => {
                let mut request = request.clone();
                request.page_token = rewrite(rng, &request.page_token);
                if rng.chance(50) {
                    request.page_size = *rng.pick(&[0, 1, 50, 500]);
                }
                request.encode_to_vec()
            }
            RealToken::Nodes(request) => {
                let mut request = request.clone();
                request.page_token = rewrite(rng, &request.page_token);
                if rng.chance(50) {
                    request.page_size = *rng.pick(&[0, 1, 100, 2_000]);
                }
                request.encode_to_vec()
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum RealTokenKind {
    Municipalities,
    Nodes,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Well-formed protobuf of unknown or mistyped fields, or not quite (bad wire types, lengths
/// past the end).
fn random_protobuf(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(6) {
        let field = match rng.below(10) {
            0 => 0,
            1 => (1 << 29) - 1,
            _ => 1 + rng.below(8),
        };
        let wire_type = *rng.pick(&[0u64, 1, 2, 5, 0, 2, 3, 4, 6, 7]);
        put_varint(&mut out, (field << 3) | wire_type);
        match wire_type {
            0 => put_varint(&mut out, rng.edge_u64()),
            1 => out.extend(rng.bytes(8)),
            2 => {
                let data = rng.some_bytes(0, 47);
                let claimed = if rng.chance(15) {
                    rng.edge_u64()
                } else {
                    data.len() as u64
                };
                put_varint(&mut out, claimed);
                out.extend(data);
            }
            5 => out.extend(rng.bytes(4)),
            _ => {}
        }
    }
    out
}

/// gRPC length-prefixed framing of `message`, right or wrong. Returns the body, a label and
/// whether the framing is right.
fn frame(rng: &mut Rng, message: &[u8]) -> (Vec<u8>, &'static str, bool) {
    let framed = |flag: u8, len: u32, message: &[u8]| {
        let mut out = vec![flag];
        out.extend(len.to_be_bytes());
        out.extend_from_slice(message);
        out
    };
    let len = message.len() as u32;
    match rng.weighted(&[60, 6, 6, 5, 3, 4, 4, 4, 3, 3, 2]) {
        0 => (framed(0, len, message), "framed", true),
        1 => (
            framed(0, len.saturating_sub(1 + rng.below(8) as u32), message),
            "length_short",
            false,
        ),
        2 => (
            framed(0, len + 1 + rng.below(64) as u32, message),
            "length_long",
            false,
        ),
        3 => (framed(1, len, message), "compressed_flag", false),
        4 => (
            framed(2 + rng.below(254) as u8, len, message),
            "bad_flag",
            false,
        ),
        5 => {
            let claim = *rng.pick(&[u32::MAX, (16 << 10) + 1, 1 << 30, 0x7fff_ffff]);
            (framed(0, claim, message), "oversize_claim", false)
        }
        6 => {
            let mut big = message.to_vec();
            // An unknown length-delimited field padding the message past 16 KiB.
            let pad = rng.some_bytes(16 << 10, 20 << 10);
            put_varint(&mut big, (900 << 3) | 2);
            put_varint(&mut big, pad.len() as u64);
            big.extend(pad);
            (framed(0, big.len() as u32, &big), "oversize_message", false)
        }
        7 => {
            let whole = framed(0, len, message);
            let cut = 1 + rng.index(4);
            (whole[..cut].to_vec(), "truncated_prefix", false)
        }
        8 => (Vec::new(), "empty_body", false),
        9 => {
            let mut out = framed(0, len, message);
            out.extend(framed(0, len, message));
            (out, "two_messages", false)
        }
        _ => (
            (0..64).flat_map(|_| framed(0, 0, &[])).collect(),
            "many_empty_frames",
            false,
        ),
    }
}

/// One request to send.
#[derive(Debug)]
struct Plan {
    path: String,
    shape: Shape,
    body: Vec<u8>,
    content_type: String,
    headers: Vec<(String, String)>,
    /// Which request of the run this is, for the report.
    label: String,
    /// A well-formed request of a real method: it must get one of the statuses the API
    /// documents, never INTERNAL, UNKNOWN, UNIMPLEMENTED or DATA_LOSS.
    strict: bool,
    /// A POST with a gRPC (or, on HTTP/1.1, gRPC-Web) content type: it must get HTTP 200
    /// with a gRPC status. Any other request may get a 4xx instead.
    grpc: bool,
    http_method: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http2,
    WebBinary,
    WebText,
}

fn plan(rng: &mut Rng, ctx: &RequestContext, transport: Transport) -> Plan {
    let (path, shape, real) = match rng.weighted(&[92, 5, 3]) {
        0 => {
            let (path, shape) = *rng.pick(METHODS);
            (path.to_owned(), shape, true)
        }
        1 => (
            format!(
                "/vidkryto.{}.v1.{}/{}",
                rng.pick(&["national", "federation", "audit", "node"]),
                rng.pick(&["NationalService", "AuditService", "NoSuchService"]),
                rng.pick(&["Nope", "getNationalSummary", "ReadLog2", "", "A"]),
            ),
            Shape::Unary,
            false,
        ),
        _ => (
            (*rng.pick(&[
                "/",
                "/a/b/c",
                "/vidkryto.national.v1.NationalService",
                "/vidkryto.national.v1.NationalService/",
                "/grpc.health.v1.Health/Check/extra",
                "/%2e%2e/%2e%2e/etc/passwd",
                "/index.html",
            ]))
            .to_owned(),
            Shape::Unary,
            false,
        ),
    };
    let mut headers = Vec::new();
    let (message, typed, kind) = match rng.weighted(&[45, 20, 15, 20]) {
        0 => {
            let (bytes, auth) = ctx.typed(rng, &path);
            if let Some(auth) = auth {
                headers.push(("authorization".to_owned(), auth));
            }
            (bytes, true, "typed")
        }
        1 => (rng.some_bytes(0, 299), false, "random_bytes"),
        2 => (random_protobuf(rng), false, "random_protobuf"),
        _ => {
            let (bytes, _) = ctx.typed(rng, &path);
            (mutate(rng, &bytes, &[]), false, "mutated_typed")
        }
    };
    let (mut body, framing, well_framed) = frame(rng, &message);
    let mut garbage_headers = false;
    if rng.chance(12) {
        garbage_headers = true;
        for _ in 0..1 + rng.below(3) {
            let header = match rng.below(6) {
                0 => (
                    "grpc-timeout".to_owned(),
                    (*rng.pick(&["1n", "0S", "99999999H", "abc", "-1m", "100000000S", ""]))
                        .to_owned(),
                ),
                1 => (
                    "grpc-encoding".to_owned(),
                    (*rng.pick(&["gzip", "identity", "zstd", "br", "x-garbage"])).to_owned(),
                ),
                2 => ("grpc-accept-encoding".to_owned(), rng.header_text(40)),
                3 => (
                    format!("x-hostile-{}", rng.below(100)),
                    rng.header_text(200),
                ),
                4 => ("x-big".to_owned(), "b".repeat(8 << 10)),
                _ => ("authorization".to_owned(), rng.header_text(100)),
            };
            headers.push(header);
        }
    }
    let mut http_method = "POST";
    let (content_type, grpc) = match transport {
        Transport::Http2 => match rng.weighted(&[85, 10, 5]) {
            0 => ("application/grpc".to_owned(), true),
            1 => ("application/grpc+proto".to_owned(), true),
            _ => (
                (*rng.pick(&[
                    "text/plain",
                    "application/json",
                    "",
                    "application/grpc+json",
                ]))
                .to_owned(),
                false,
            ),
        },
        Transport::WebBinary | Transport::WebText => {
            if rng.chance(3) {
                http_method = *rng.pick(&["GET", "PUT", "OPTIONS", "DELETE", "PATCH"]);
            }
            let text = transport == Transport::WebText;
            let ct = match (text, rng.weighted(&[85, 10, 5])) {
                (false, 0) => "application/grpc-web".to_owned(),
                (false, 1) => "application/grpc-web+proto".to_owned(),
                (true, 0) => "application/grpc-web-text".to_owned(),
                (true, 1) => "application/grpc-web-text+proto".to_owned(),
                _ => (*rng.pick(&[
                    "application/grpc",
                    "text/plain",
                    "application/grpc-web+json",
                    "",
                ]))
                .to_owned(),
            };
            let grpc_web = ct.starts_with("application/grpc-web") && !ct.ends_with("json");
            (ct, grpc_web && http_method == "POST")
        }
    };
    let mut bad_base64 = false;
    if transport == Transport::WebText {
        let engine = base64::engine::general_purpose::STANDARD;
        body = match rng.weighted(&[85, 15]) {
            0 => engine.encode(&body).into_bytes(),
            _ => {
                bad_base64 = true;
                let good = engine.encode(&body);
                match rng.below(5) {
                    0 => format!("{good}!!"),
                    1 => good.replace('A', "*"),
                    2 => format!("{good}="),
                    3 => good[..good.len().saturating_sub(1)].to_owned(),
                    _ => format!("{}\n{}", &good[..good.len() / 2], &good[good.len() / 2..]),
                }
                .into_bytes()
            }
        };
    }
    // Header fields past the server's limits may be refused at the HTTP layer (431).
    let big_headers = headers
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>()
        > 4 << 10;
    let grpc = grpc && !big_headers;
    let header_names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    Plan {
        label: format!(
            "{transport:?} {http_method} {path} {kind} {framing} ct={content_type:?} \
             headers={header_names:?}{}",
            if bad_base64 { " bad_base64" } else { "" }
        ),
        strict: real && typed && well_framed && grpc && !garbage_headers && !bad_base64,
        path,
        shape,
        body,
        content_type,
        headers,
        grpc,
        http_method,
    }
}

/// What came back.
#[derive(Debug)]
struct Observed {
    http_status: u16,
    grpc_status: Option<i32>,
    grpc_message: String,
}

/// gRPC frames of a response body: every data frame uncompressed and whole, trailer frames
/// (gRPC-Web only) last. Returns the data frames and the trailer text.
fn parse_frames(body: &[u8], web: bool) -> Result<(usize, String), String> {
    let (mut at, mut data, mut trailers) = (0, 0, String::new());
    while at < body.len() {
        if !trailers.is_empty() {
            return Err("a frame after the trailers".into());
        }
        if body.len() - at < 5 {
            return Err(format!("{} stray bytes at the end", body.len() - at));
        }
        let flag = body[at];
        let len = u32::from_be_bytes(body[at + 1..at + 5].try_into().unwrap()) as usize;
        if body.len() - at - 5 < len {
            return Err(format!(
                "a frame claims {len} bytes, {} left",
                body.len() - at - 5
            ));
        }
        let content = &body[at + 5..at + 5 + len];
        match flag {
            0 => data += 1,
            0x80 if web => {
                trailers = String::from_utf8(content.to_vec())
                    .map_err(|_| "trailers are not UTF-8".to_owned())?;
                if trailers.is_empty() {
                    trailers.push(' ');
                }
            }
            other => return Err(format!("frame flag {other:#x}")),
        }
        at += 5 + len;
    }
    Ok((data, trailers))
}

fn grpc_status_from(text: &str) -> Option<i32> {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("grpc-status")
                .then(|| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
}

fn check_status(
    plan: &Plan,
    http_status: u16,
    grpc_status: Option<&str>,
    frames: Result<(usize, String), String>,
    ended: bool,
) -> Result<Observed, String> {
    if http_status >= 500 {
        return Err(format!("HTTP {http_status}"));
    }
    let frames = frames?;
    let grpc_status = match grpc_status {
        Some(v) => Some(
            v.trim()
                .parse::<i32>()
                .map_err(|_| format!("grpc-status {v:?} is not a number"))?,
        ),
        None => grpc_status_from(&frames.1),
    };
    if !plan.grpc {
        if (400..500).contains(&http_status) || (http_status == 200 && grpc_status.is_some()) {
            return Ok(Observed {
                http_status,
                grpc_status,
                grpc_message: String::new(),
            });
        }
        if http_status == 200 && !ended {
            return Ok(Observed {
                http_status,
                grpc_status,
                grpc_message: String::new(),
            });
        }
        return Err(format!("HTTP {http_status} without a gRPC status"));
    }
    if http_status != 200 {
        return Err(format!("HTTP {http_status} for a gRPC request"));
    }
    let Some(code) = grpc_status else {
        return if ended {
            Err("a response ended without grpc-status".into())
        } else {
            // An endless stream still open: its headers were right.
            Ok(Observed {
                http_status,
                grpc_status: None,
                grpc_message: String::new(),
            })
        };
    };
    if !(0..=16).contains(&code) {
        return Err(format!("grpc-status {code} is not a gRPC code"));
    }
    if code == 0 && plan.shape == Shape::Unary && frames.0 != 1 {
        return Err(format!("OK with {} messages for a unary call", frames.0));
    }
    Ok(Observed {
        http_status,
        grpc_status: Some(code),
        grpc_message: String::new(),
    })
}

/// One request over HTTP/2 through a tonic channel, its body as given.
async fn h2_call(channel: &Channel, plan: &Plan) -> Result<Observed, String> {
    use tonic::codegen::Service as _;
    let mut builder = http::Request::builder()
        .method(plan.http_method)
        .uri(plan.path.as_str())
        .header("te", "trailers");
    if !plan.content_type.is_empty() {
        builder = builder.header("content-type", plan.content_type.as_str());
    }
    for (k, v) in &plan.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(tonic::body::Body::new(http_body_util::Full::new(
            Bytes::from(plan.body.clone()),
        )))
        .map_err(|e| format!("request not built: {e}"))?;
    let mut channel = channel.clone();
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| format!("channel not ready: {e}"))?;
    let response = match tokio::time::timeout(Duration::from_secs(40), channel.call(request)).await
    {
        Err(_) => return Err("no response headers in 40 s".to_owned()),
        // tonic's client applies a request's `grpc-timeout` itself: a tiny one ends the call
        // on this side before any answer (the server still got the request).
        Ok(Err(e))
            if format!("{e:?}").contains("TimeoutExpired")
                && plan.headers.iter().any(|(k, _)| k == "grpc-timeout") =>
        {
            return Ok(Observed {
                http_status: 0,
                grpc_status: None,
                grpc_message: "client-side grpc-timeout".into(),
            });
        }
        Ok(Err(e)) => return Err(format!("transport error: {e:?}")),
        Ok(Ok(response)) => response,
    };
    let (parts, mut body) = response.into_parts();
    let status = parts.status.as_u16();
    let header_status = parts
        .headers
        .get("grpc-status")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let grpc_message = parts
        .headers
        .get("grpc-message")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let (mut data, mut trailer_status, mut ended) = (Vec::new(), None, false);
    let deadline = Duration::from_secs(if plan.shape == Shape::Endless { 2 } else { 40 });
    let started = Instant::now();
    if header_status.is_none() {
        loop {
            let left = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, body.frame()).await {
                Err(_) if plan.shape == Shape::Endless => break,
                Err(_) => return Err(format!("response body not done in {deadline:?}")),
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(Err(e))) => return Err(format!("stream error: {e:?}")),
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(bytes) => {
                        data.extend_from_slice(&bytes);
                        if plan.shape == Shape::Endless && !data.is_empty() {
                            break;
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            trailer_status = trailers
                                .get("grpc-status")
                                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                        }
                    }
                },
            }
        }
    } else {
        ended = true;
    }
    let frames = if plan.shape == Shape::Endless && !ended {
        Ok((0, String::new()))
    } else {
        parse_frames(&data, false)
    };
    let mut observed = check_status(
        plan,
        status,
        header_status.as_deref().or(trailer_status.as_deref()),
        frames,
        ended,
    )?;
    observed.grpc_message = grpc_message;
    Ok(observed)
}

/// Decodes base64 written as one or more padded pieces (gRPC-Web text may concatenate them).
fn decode_base64_pieces(text: &[u8]) -> Result<Vec<u8>, String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let clean: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if !clean.len().is_multiple_of(4) {
        return Err("text body is not whole base64 quanta".into());
    }
    let mut out = Vec::new();
    for quantum in clean.chunks(4) {
        out.extend(
            engine
                .decode(quantum)
                .map_err(|e| format!("text body is not base64: {e}"))?,
        );
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = find(body, b"\r\n").ok_or("a chunk size line without CRLF")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(|_| format!("chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("a chunk cut short".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// One gRPC-Web request over a fresh HTTP/1.1 connection, as a browser sends it.
async fn web_call(addr: &str, plan: &Plan) -> Result<Observed, String> {
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nX-Grpc-Web: 1\r\nX-User-Agent: grpc-web-javascript/0.1\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        plan.http_method,
        plan.path,
        plan.body.len()
    );
    if !plan.content_type.is_empty() {
        head.push_str(&format!("Content-Type: {}\r\n", plan.content_type));
    }
    for (k, v) in &plan.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(&plan.body);
    conn.write_all(&request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read(&mut chunk)).await {
            Err(_) => return Err("no response head in 40 s".into()),
            Ok(Err(e)) => return Err(format!("read before a response: {e}")),
            Ok(Ok(0)) => {
                return Err(format!(
                    "connection closed before a response ({} bytes read)",
                    buf.len()
                ));
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let header_status = header("grpc-status");
    let grpc_message = header("grpc-message").unwrap_or_default();
    let mut rest = buf[header_end + 4..].to_vec();
    let endless_open = plan.shape == Shape::Endless && status == 200 && header_status.is_none();
    let mut ended = true;
    if endless_open {
        ended = false;
    } else {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, conn.read(&mut chunk)).await {
                Err(_) => return Err("response body not done in 40 s".into()),
                Ok(Err(e)) => return Err(format!("read of the body: {e}")),
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => rest.extend_from_slice(&chunk[..n]),
            }
        }
    }
    let frames = if !ended {
        Ok((0, String::new()))
    } else {
        let body = if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            dechunk(&rest)?
        } else if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
            if rest.len() < len {
                return Err(format!("body of {} bytes, {len} announced", rest.len()));
            }
            rest[..len].to_vec()
        } else {
            rest
        };
        let text =
            header("content-type").is_some_and(|c| c.starts_with("application/grpc-web-text"));
        if status == 200
            && header("content-type").is_some_and(|c| c.starts_with("application/grpc"))
        {
            let body = if text {
                decode_base64_pieces(&body)?
            } else {
                body
            };
            parse_frames(&body, true)
        } else {
            Ok((0, String::new()))
        }
    };
    let mut observed = check_status(plan, status, header_status.as_deref(), frames, ended)?;
    observed.grpc_message = grpc_message;
    Ok(observed)
}

/// What the requests got.
#[derive(Debug, Default)]
struct RequestReport {
    sent: BTreeMap<String, u64>,
    http: BTreeMap<(String, u16), u64>,
    codes: BTreeMap<(String, i32), u64>,
    strict: u64,
    failures: u64,
    samples: Vec<String>,
    /// Well-formed requests that got INTERNAL, UNKNOWN, UNIMPLEMENTED or DATA_LOSS.
    strict_failures: u64,
    sanity_failures: u64,
    elapsed: Duration,
}

/// Counts one request's outcome.
fn record(
    report: &Mutex<RequestReport>,
    i: u64,
    plan: &Plan,
    name: String,
    result: Result<Observed, String>,
) {
    let mut r = report.lock().unwrap();
    *r.sent.entry(name.clone()).or_default() += 1;
    match result {
        Ok(observed) => {
            *r.http
                .entry((name.clone(), observed.http_status))
                .or_default() += 1;
            if let Some(code) = observed.grpc_status {
                *r.codes.entry((name, code)).or_default() += 1;
            }
            if plan.strict {
                r.strict += 1;
                if let Some(code @ (2 | 12 | 13 | 15)) = observed.grpc_status {
                    r.strict_failures += 1;
                    if r.samples.len() < 40 {
                        r.samples.push(format!(
                            "#{i} {}: well-formed request got {:?} {:?}",
                            plan.label,
                            tonic::Code::from(code),
                            observed.grpc_message
                        ));
                    }
                }
            }
        }
        Err(why) => {
            r.failures += 1;
            if r.samples.len() < 40 {
                r.samples.push(format!("#{i} {}: {why}", plan.label));
            }
        }
    }
}

async fn hammer(association_url: String, ctx: Arc<RequestContext>) -> RequestReport {
    let started = Instant::now();
    let addr = association_url.trim_start_matches("http://").to_owned();
    let channel = Channel::from_shared(association_url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let next = Arc::new(AtomicU64::new(0));
    let report = Arc::new(Mutex::new(RequestReport::default()));
    let mut workers = Vec::new();
    for worker in 0..REQUEST_WORKERS {
        let (next, report, ctx, channel, addr, url) = (
            next.clone(),
            report.clone(),
            ctx.clone(),
            channel.clone(),
            addr.clone(),
            association_url.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(SEED ^ (worker + 1).wrapping_mul(0xA24B_AED4_963E_E407));
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= REQUESTS {
                    break;
                }
                let transport = match i % 4 {
                    0 | 1 => Transport::Http2,
                    2 => Transport::WebBinary,
                    _ => Transport::WebText,
                };
                let plan = plan(&mut rng, &ctx, transport);
                let result = match transport {
                    Transport::Http2 => h2_call(&channel, &plan).await,
                    _ => web_call(&addr, &plan).await,
                };
                let name = format!("{transport:?}");
                record(&report, i, &plan, name, result);
                // The association keeps serving well-formed calls throughout.
                if i % 500 == 0 {
                    let ok = match natpb::national_service_client::NationalServiceClient::connect(
                        url.clone(),
                    )
                    .await
                    {
                        Ok(mut client) => client
                            .get_national_summary(natpb::GetNationalSummaryRequest {})
                            .await
                            .is_ok(),
                        Err(_) => false,
                    };
                    if !ok {
                        report.lock().unwrap().sanity_failures += 1;
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let mut report = std::mem::take(&mut *report.lock().unwrap());
    report.elapsed = started.elapsed();
    report
}

// ---------------------------------------------------------------------------------------
// Set-up and checks

/// Waits until the ingest stream sources `count` streams.
async fn wait_sourced(js: &jetstream::Context, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = js.get_stream(association::ingest::INGEST_STREAM).await {
            let sources = stream.info().await.unwrap().config.sources.clone();
            if sources.is_some_and(|s| s.len() >= count) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "enrolled streams not sourced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `code` is verified up to `size`; `Err` with what the association shows if not.
async fn verified_within(
    association: &TestAssociation,
    code: MunicipalityCode,
    size: u64,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut federation = association.federation().await;
    loop {
        let node = federation
            .get_node(fedpb::GetNodeRequest {
                code: code.to_string(),
            })
            .await
            .map_err(|e| format!("get node: {e}"))?
            .into_inner();
        if node.verified_size >= size {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{code}: verified {} of {size} after {timeout:?} (received {}, status {:?}, \
                 quarantined {})",
                node.verified_size,
                node.received_seq,
                fedpb::NodeStatus::try_from(node.status),
                node.quarantined
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Quarantine records by (hromada, reason), and each hromada's records kept and past its
/// quota (only counted), straight from the association's tables.
async fn quarantine_by_reason(
    association: &TestAssociation,
) -> (Vec<(String, String, i64)>, Vec<(String, i64, i64)>) {
    let pool = association.running.as_ref().unwrap().store.pool();
    let by_reason = sqlx::query_as(
        "SELECT code, reason, count(*) FROM quarantine GROUP BY code, reason ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let per_node =
        sqlx::query_as("SELECT code, quarantined, quarantine_dropped FROM fed_node ORDER BY code")
            .fetch_all(pool)
            .await
            .unwrap();
    (by_reason, per_node)
}

/// The honest nodes' checkpoints that did not verify, in the order they came, with why.
async fn failed_checkpoints(
    association: &TestAssociation,
    hostile: MunicipalityCode,
) -> Vec<(String, i64, String)> {
    let pool = association.running.as_ref().unwrap().store.pool();
    sqlx::query_as(
        "SELECT code, seq, detail FROM quarantine WHERE reason = 'inconsistent_checkpoint' \
         AND code <> $1 ORDER BY id",
    )
    .bind(hostile.to_string())
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Positions at which bytes were refused because the position already held as many
/// different byte strings as the verifier keeps: if the node's own event was among them, a
/// checkpoint covering that position can never verify.
async fn full_positions(association: &TestAssociation) -> Vec<(String, i64)> {
    let pool = association.running.as_ref().unwrap().store.pool();
    sqlx::query_as(
        "SELECT code, seq FROM quarantine WHERE reason = 'tampered' \
         AND detail LIKE '%no more are kept%' ORDER BY code, seq",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn sign_note(signer: &NoteSigner, code: &MunicipalityCode, size: u64, root: [u8; 32]) -> String {
    signer
        .sign(Checkpoint {
            origin: origin_for(code),
            size,
            root,
        })
        .to_note()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_messages_and_requests_change_nothing_but_the_quarantine() {
    count_panics();
    let run_started = Instant::now();
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let mut nodes = Vec::new();
    for code_text in [VINNYTSIA, KORIUKIVKA, KYIV] {
        let node = TestNode::start(code_text, THRESHOLD, &nats.url()).await;
        association.enroll(&node).await;
        nodes.push(node);
    }
    let reference = reference::Reference::load();
    let honest_codes: Vec<MunicipalityCode> = nodes.iter().map(|n| n.code).collect();
    let mut others = reference
        .municipalities
        .keys()
        .copied()
        .filter(|c| !honest_codes.contains(c));
    let hostile = others.next().unwrap();
    let strangers: Vec<MunicipalityCode> = others.take(20).collect();
    let hostile_key = NoteSigner::from_seed(&origin_for(&hostile), [0x66; 32]).unwrap();
    association
        .enroll_key(hostile, &hostile_key.verifier().to_text())
        .await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    wait_sourced(&js, 4).await;

    // Warm-up: real activity whose envelopes and notes the hostile messages are made from.
    let mut expected: BTreeMap<MunicipalityCode, Activity> = BTreeMap::new();
    let never = Arc::new(AtomicBool::new(false));
    for node in &nodes {
        let done = citizens(
            Civic::of(node).await,
            node.clock.clone(),
            format!("{} warm-up", node.code),
            Some(31),
            never.clone(),
        )
        .await;
        *expected.entry(node.code).or_default() += done;
    }
    let refs: Vec<&TestNode> = nodes.iter().collect();
    association.wait_all(&refs, Duration::from_secs(60)).await;
    let captured = capture(&js, &honest_codes).await;

    // Notes the hostile key signs for trees its hromada does not have, and notes signed for
    // each target's origin by a key nobody enrolled.
    let mut rng = Rng(SEED ^ 1);
    let mut resigned = Vec::new();
    for i in 0..120 {
        let (_, real) = &captured.notes[i % captured.notes.len()];
        let real = SignedCheckpoint::parse(real).unwrap().checkpoint;
        let size = match i % 6 {
            0 => real.size,
            1 => 0,
            2 => 1 + rng.below(64),
            3 => u64::MAX - rng.below(2),
            4 => 1 << (20 + rng.below(40)),
            _ => rng.edge_u64(),
        };
        let root = if i % 2 == 0 {
            real.root
        } else {
            rng.bytes(32).try_into().unwrap()
        };
        resigned.push(sign_note(&hostile_key, &hostile, size, root));
    }
    let mut forged_notes = BTreeMap::new();
    for target in honest_codes.iter().chain([&hostile]) {
        let forger = NoteSigner::from_seed(&origin_for(target), [0x77; 32]).unwrap();
        let notes: Vec<String> = (0..30)
            .map(|i| {
                let (_, real) = &captured.notes[i % captured.notes.len()];
                let real = SignedCheckpoint::parse(real).unwrap().checkpoint;
                sign_note(&forger, target, real.size + (i as u64 % 3), real.root)
            })
            .collect();
        forged_notes.insert(*target, notes);
    }
    let material = Arc::new(Material {
        captured,
        hostile,
        honest: nodes
            .iter()
            .map(|n| (n.code, n.running.as_ref().unwrap().log_size()))
            .collect(),
        strangers,
        resigned,
        forged_notes,
    });

    // Real page tokens, to be rewritten.
    let mut national = association.national().await;
    let mut federation = association.federation().await;
    let mut tokens = Vec::new();
    for (order_by, oblast, prefix) in [("", "", ""), ("name desc", "", "к"), ("code", "", "")] {
        let mut request = natpb::ListMunicipalitiesRequest {
            page_size: 1,
            page_token: String::new(),
            order_by: order_by.into(),
            oblast: oblast.into(),
            name_prefix: prefix.into(),
            enrolled_only: false,
        };
        let page = national
            .list_municipalities(request.clone())
            .await
            .unwrap()
            .into_inner();
        if !page.next_page_token.is_empty() {
            request.page_token = page.next_page_token;
            tokens.push(RealToken::Municipalities(request));
        }
    }
    let nodes_request = fedpb::ListNodesRequest {
        page_size: 1,
        page_token: String::new(),
        status: 0,
    };
    let page = federation
        .list_nodes(nodes_request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!page.next_page_token.is_empty());
    tokens.push(RealToken::Nodes(fedpb::ListNodesRequest {
        page_token: page.next_page_token,
        ..nodes_request
    }));
    let mut codes: Vec<String> = honest_codes.iter().map(|c| c.to_string()).collect();
    codes.push(hostile.to_string());
    codes.extend(material.strangers.iter().take(3).map(|c| c.to_string()));
    let ctx = Arc::new(RequestContext {
        codes,
        oblasts: reference.oblasts.keys().take(5).cloned().collect(),
        tokens,
        admin_token: association.admin_token.clone(),
    });
    let before_run = association.summary().await;

    // The run: honest citizens, the NATS flood and the malformed requests at once.
    let baseline_rss = rss_bytes();
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(stop_sampling.clone());
    let stop_citizens = Arc::new(AtomicBool::new(false));
    let mut citizen_tasks = Vec::new();
    for node in &nodes {
        citizen_tasks.push((
            node.code,
            tokio::spawn(citizens(
                Civic::of(node).await,
                node.clock.clone(),
                format!("{} run", node.code),
                None,
                stop_citizens.clone(),
            )),
        ));
    }
    let run_started_at = Instant::now();
    let flood_task = tokio::spawn(flood(js.clone(), material.clone()));
    let hammer_task = tokio::spawn(hammer(association.url(), ctx.clone()));
    let flood_report = flood_task.await.unwrap();
    let request_report = hammer_task.await.unwrap();
    stop_citizens.store(true, Ordering::SeqCst);
    for (code, task) in citizen_tasks {
        *expected.entry(code).or_default() += task.await.unwrap();
    }
    let run_elapsed = run_started_at.elapsed();

    // The honest nodes keep going after the run, and everything they did is verified.
    for node in &nodes {
        let done = citizens(
            Civic::of(node).await,
            node.clock.clone(),
            format!("{} after", node.code),
            Some(13),
            never.clone(),
        )
        .await;
        *expected.entry(node.code).or_default() += done;
    }
    let settle_started = Instant::now();
    let mut stuck = Vec::new();
    for node in &nodes {
        if let Err(why) = verified_within(&association, node.code, node.log_size(), SETTLE).await {
            stuck.push(why);
        }
    }
    let settle_elapsed = settle_started.elapsed();
    stop_sampling.store(true, Ordering::SeqCst);
    let peak_rss = sampler.await.unwrap();

    // Figures, statuses and quarantine.
    let summary = association.summary().await;
    let figures = summary.figures.clone().unwrap();
    let total = expected.values().fold(Activity::default(), |mut a, b| {
        a += *b;
        a
    });
    let seen = Activity {
        petitions: figures.petitions_filed,
        signatures: figures.signatures,
        dialogues: figures.dialogues_announced,
        contributions: figures.contributions,
    };
    let mut per_node = Vec::new();
    for node in &nodes {
        let m = national
            .get_municipality(natpb::GetMunicipalityRequest {
                code: node.code.to_string(),
            })
            .await
            .unwrap()
            .into_inner();
        let f = m.figures.unwrap();
        let info = association.node(node.code).await;
        per_node.push((
            node.code,
            expected[&node.code],
            Activity {
                petitions: f.petitions_filed,
                signatures: f.signatures,
                dialogues: f.dialogues_announced,
                contributions: f.contributions,
            },
            (
                node.log_size(),
                info.verified_size,
                info.status,
                info.quarantined,
            ),
        ));
    }
    let hostile_node = association.node(hostile).await;
    let (quarantine, quarantine_per_node) = quarantine_by_reason(&association).await;
    let full: Vec<(String, i64)> = full_positions(&association)
        .await
        .into_iter()
        .filter(|(code, _)| code != &hostile.to_string())
        .collect();
    let failed = failed_checkpoints(&association, hostile).await;

    // The digest equals the digest after a rebuild from the verified copy.
    let live = association.digest().await;
    let store = association.running.as_ref().unwrap().store.clone();
    let rebuild = association::rebuild::rebuild(&store, None).await;
    let rebuilt = association.digest().await;

    // The report.
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "=== hostile-input run ({:?} in all) ===",
        run_started.elapsed()
    );
    println!(
        "flood: {} messages ({} on honest subjects) in {:?}; stored {}, dropped as duplicate \
         msg ids {}, refused {:?}",
        flood_report.sent,
        flood_report.to_honest,
        flood_report.elapsed,
        flood_report.stored,
        flood_report.duplicates,
        flood_report.refused
    );
    println!("flood by kind: {:?}", flood_report.by_kind);
    println!(
        "requests: {:?} in {:?}; {} well-formed typed; failures {}, strict failures {}, \
         sanity failures {}",
        request_report.sent,
        request_report.elapsed,
        request_report.strict,
        request_report.failures,
        request_report.strict_failures,
        request_report.sanity_failures
    );
    println!("responses by HTTP status: {:?}", request_report.http);
    println!(
        "responses by gRPC status: {:?}",
        request_report
            .codes
            .iter()
            .map(|((t, c), n)| (format!("{t} {:?}", tonic::Code::from(*c)), *n))
            .collect::<BTreeMap<_, _>>()
    );
    for sample in &request_report.samples {
        println!("  request sample: {sample}");
    }
    println!(
        "run {:?}, settle {:?}; RSS baseline {:.1} MiB, peak {:.1} MiB (+{:.1} MiB, bound +{:.0} MiB)",
        run_elapsed,
        settle_elapsed,
        mib(baseline_rss),
        mib(peak_rss),
        mib(peak_rss.saturating_sub(baseline_rss)),
        mib(RSS_HEADROOM)
    );
    println!("expected activity: {expected:?}");
    println!(
        "national: {seen:?} (expected {total:?}); events verified {}, reporting {}, anomalies {}",
        summary.events_verified, summary.municipalities_reporting, figures.anomalies
    );
    for (code, want, got, (log, verified, status, quarantined)) in &per_node {
        println!(
            "  {code}: figures {got:?} (expected {want:?}); log {log}, verified {verified}, \
             status {:?}, quarantined {quarantined}",
            fedpb::NodeStatus::try_from(*status)
        );
    }
    println!(
        "hostile {hostile}: received {}, verified {}, status {:?}, quarantined {}",
        hostile_node.received_seq,
        hostile_node.verified_size,
        fedpb::NodeStatus::try_from(hostile_node.status),
        hostile_node.quarantined
    );
    for (code, kept, dropped) in &quarantine_per_node {
        println!("quarantine {code}: {kept} records kept, {dropped} past the quota");
    }
    for (code, reason, n) in &quarantine {
        println!("  {code} {reason}: {n}");
    }
    println!(
        "digest live {} ({} positions), rebuild {:?}, after rebuild {}",
        live.digest,
        live.positions.len(),
        rebuild,
        rebuilt.digest
    );
    // A copy: the panic hook takes this lock, so no assertion may fail while it is held.
    let panic_messages = PANIC_MESSAGES.lock().unwrap().clone();
    println!("panics: {}", PANICS.load(Ordering::SeqCst));
    for message in &panic_messages {
        println!("  panic: {message}");
    }
    for why in &stuck {
        println!("  stuck: {why}");
    }
    println!("honest positions whose candidates were full (code, seq): {full:?}");
    for node in &nodes {
        let own: Vec<_> = failed
            .iter()
            .filter(|(c, _, _)| *c == node.code.to_string())
            .collect();
        for (code, seq, detail) in own.iter().take(2).chain(own.iter().skip(2).last()) {
            println!("  {code} checkpoint {seq} failed: {detail}");
        }
    }

    // Everything stops before the checks, so a failed one does not leave servers running.
    let logged: u64 = nodes.iter().map(TestNode::log_size).sum();
    for node in &mut nodes {
        node.stop().await;
    }
    association.shutdown().await;

    // The checks.
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "panics: {panic_messages:#?}"
    );
    assert_eq!(
        request_report.failures, 0,
        "malformed responses or broken connections: {:#?}",
        request_report.samples
    );
    assert_eq!(
        request_report.strict_failures, 0,
        "well-formed requests answered as server faults: {:#?}",
        request_report.samples
    );
    assert_eq!(
        request_report.sanity_failures, 0,
        "the association stopped serving"
    );
    assert!(
        peak_rss.saturating_sub(baseline_rss) < RSS_HEADROOM,
        "resident memory grew by {:.1} MiB",
        mib(peak_rss.saturating_sub(baseline_rss))
    );
    assert!(stuck.is_empty(), "honest nodes not verified: {stuck:#?}");
    for (code, want, got, (log, verified, _, _)) in &per_node {
        assert_eq!(got, want, "{code}'s figures");
        assert_eq!(log, verified, "{code}'s verified size");
    }
    assert_eq!(seen, total, "national figures");
    assert_eq!(summary.events_verified, logged);
    assert_eq!(summary.municipalities_enrolled, 4);
    assert_eq!(summary.municipalities_reporting, 3);
    assert_eq!(figures.anomalies, 0);
    assert_eq!(
        (figures.petitions_published, figures.petitions_rejected),
        (total.petitions, 0)
    );
    assert_eq!(figures.petitions_threshold_reached, 0);
    assert_eq!(
        before_run.municipalities_enrolled, summary.municipalities_enrolled,
        "the run changed who is enrolled"
    );
    assert_eq!(
        hostile_node.verified_size, 0,
        "a hostile message was verified"
    );
    rebuild.expect("rebuild");
    assert_eq!(rebuilt.digest, live.digest, "digest after a rebuild");
    assert_eq!(rebuilt.positions, live.positions);
}

/// Four different envelopes for an honest node's next sequence number, published on its own
/// subject before the node's event (what anyone who can publish there can do, and what the
/// run above does at random), must not stop the association from verifying the node: its
/// signed checkpoint decides which bytes are its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_forgeries_for_a_nodes_next_event_do_not_stop_its_verification() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let mut victim = TestNode::start(VINNYTSIA, THRESHOLD, &nats.url()).await;
    association.enroll(&victim).await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    wait_sourced(&js, 1).await;
    let mut civic = Civic::of(&victim).await;
    let petition = civic.petition("Shade trees in the schoolyard").await;
    association
        .wait_all(&[&victim], Duration::from_secs(30))
        .await;

    let next = victim.log_size() + 1;
    for i in 0..4u8 {
        let forged = Envelope {
            event_type: EventTypeCode(102),
            schema_version: SchemaVersion(1),
            municipality: victim.code,
            seq: LogSeq(next),
            stream_id: event_store_core::StreamId(uuid::Uuid::now_v7()),
            stream_version: event_store_core::StreamVersion(1),
            event_id: event_store_core::EventId::new_v7(),
            recorded_at: event_store_core::Timestamp::now(),
            payload: vec![i; 8],
        }
        .encode()
        .unwrap();
        js.publish(wire::event_subject(&victim.code), forged.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    civic.sign(&petition, 0..10).await;
    let verified = verified_within(
        &association,
        victim.code,
        victim.log_size(),
        Duration::from_secs(30),
    )
    .await;
    let (quarantine, _) = quarantine_by_reason(&association).await;
    let full = full_positions(&association).await;
    let signatures = association.summary().await.figures.unwrap().signatures;
    victim.stop().await;
    association.shutdown().await;
    assert!(
        verified.is_ok(),
        "{verified:?}; quarantine by reason: {quarantine:?}; positions whose candidates \
         were full: {full:?} (the next one is {next})"
    );
    assert_eq!(signatures, 10);
}
