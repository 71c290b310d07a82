//! The national dashboard in a real headless Chromium (Debian's, driven by playwright-core from
//! `tests/system/browser/dashboard.mjs`) against a running federation: a real nats-server, two
//! nodes with scripted civic activity, and the association serving the built dashboard
//! (`services/dashboard/dist`) beside its gRPC-Web API. The page's headline figures must equal
//! the gRPC answers; the map and every chart must be drawn; the CSV downloads must parse with
//! the gRPC rows; the language switch (reached by keyboard) must turn the page English; and
//! new activity made after the page loaded must show up without a reload. Screenshots are kept
//! in `target/dashboard-screenshots/`.
//!
//! Skipped, with a message, only when Chromium is absent and `VIDKRYTO_REQUIRE_BROWSER` is
//! unset; `deploy/local/setup.sh` installs it (and builds the dashboard), so CI runs it. The
//! dashboard's own unit tests (gRPC-Web framing, CSV, routes) run here too, under Node.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use event_store_core::checkpoint::NoteSigner;
use proto::federation::v1 as fedpb;
use proto::national::v1 as natpb;
use proto::node::v1 as nodepb;
use serde_json::json;
use system_tests::{Civic, KORIUKIVKA, TestAssociation, TestNode, VINNYTSIA, chromium, code, repo};
use testkit::NatsServer;

const VERIFY_TIMEOUT: Duration = Duration::from_secs(30);
/// The browser's whole run: it loads eight views and waits at most 45 s for the live update.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(240);
/// Vinnytsia's oblast.
const VINNYTSIA_OBLAST: &str = "UA05000000000010236";

/// `target/dashboard-screenshots`, beside cargo's temporary directory for tests.
fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("dashboard-screenshots")
}

/// The headline figures of a summary, named as the page's `data-figure` attributes.
fn headline(summary: &natpb::Summary) -> serde_json::Value {
    let f = summary.figures.clone().unwrap_or_default();
    json!({
        "municipalities_reporting": summary.municipalities_reporting,
        "events_verified": summary.events_verified,
        "petitions_filed": f.petitions_filed,
        "signatures": f.signatures,
        "petitions_threshold_reached": f.petitions_threshold_reached,
        "petitions_answered": f.petitions_answered,
        "share_answered_on_time": f.share_answered_on_time,
        "petitions_overdue_now": f.petitions_overdue_now,
        "dialogues_closed": f.dialogues_closed,
        "contributions": f.contributions,
        "milestones": f.milestones,
        "share_milestones_substantial_or_complete": f.share_milestones_substantial_or_complete,
        "petitions_per_10k": f.petitions_per_10k,
    })
}

/// The browser script as a child process: stdout lines read on a thread; killed on drop.
struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Browser {
    fn start(url: &str, chromium: &Path, expect: &Path, screenshots: &Path) -> Self {
        let mut child = Command::new("node")
            .arg(repo().join("tests/system/browser/dashboard.mjs"))
            .env("DASHBOARD_URL", url)
            .env("CHROMIUM", chromium)
            .env("EXPECT", expect)
            .env("SCREENSHOTS", screenshots)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node (deploy/local/setup.sh installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("browser> {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// The first line starting with `prefix`; panics on `FAIL`, on exit, or at the deadline.
    fn until(&self, prefix: &str, deadline: Instant) -> String {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no {prefix:?} from the browser script: {e}"));
            assert!(
                !line.starts_with("FAIL"),
                "the browser check failed: {line}"
            );
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to the browser script");
        stdin.flush().expect("flush");
    }

    fn wait(&mut self, deadline: Instant) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the browser script did not exit");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.1 GET; the status line and the headers, lowercased.
async fn http_get(addr: &str, path: &str) -> (String, String) {
    http_get_with(addr, path, "").await
}

/// [`http_get`] with extra header lines (`Name: value\r\n` each).
async fn http_get_with(addr: &str, path: &str, extra: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (headers, _) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let (status, headers) = headers.split_once("\r\n").unwrap_or((headers, ""));
    (status.to_owned(), headers.to_lowercase())
}

/// Every file under `dir`.
fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Node, if installed (`deploy/local/setup.sh` installs it with the dashboard).
fn node_installed() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_dashboards_unit_tests_pass_under_node() {
    if !node_installed() {
        assert!(
            std::env::var_os("VIDKRYTO_REQUIRE_BROWSER").is_none(),
            "VIDKRYTO_REQUIRE_BROWSER is set but Node is absent: run deploy/local/setup.sh"
        );
        eprintln!("SKIPPED the_dashboards_unit_tests_pass_under_node: Node is not installed");
        return;
    }
    let output = Command::new("node")
        .args(["--test", "services/dashboard/test/"])
        .current_dir(repo())
        .output()
        .expect("run node --test");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("# fail 0") && !text.contains("# pass 0"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_the_grpc_figures_and_live_updates_in_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("VIDKRYTO_REQUIRE_BROWSER").is_none(),
            "VIDKRYTO_REQUIRE_BROWSER is set but Chromium is absent: run deploy/local/setup.sh"
        );
        eprintln!(
            "SKIPPED the_dashboard_shows_the_grpc_figures_and_live_updates_in_chromium: Chromium \
             is not installed (deploy/local/setup.sh installs it; set VIDKRYTO_REQUIRE_BROWSER=1 \
             to make its absence a failure)"
        );
        return;
    };
    let dist = repo().join("services/dashboard/dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} is not built: run deploy/local/setup.sh",
        dist.display()
    );
    assert!(
        repo()
            .join("services/dashboard/node_modules/playwright-core/package.json")
            .is_file(),
        "the dashboard's npm packages are not installed: run deploy/local/setup.sh"
    );

    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start_serving_dashboard(&nats.url(), &dist).await;
    let url = association.url();
    let addr = url.trim_start_matches("http://").to_owned();

    // The page and its assets come from the association's own listener; gRPC still answers.
    let (status, headers) = http_get(&addr, "/").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/html; charset=utf-8"),
        "{headers}"
    );
    assert!(headers.contains("cache-control: no-cache"), "{headers}");
    let (status, _) = http_get(&addr, "/../Cargo.toml").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    // The largest asset (ECharts) goes out precompressed to a browser that takes it, and not
    // at all to one that already has it.
    let echarts = walk_files(&dist)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "js" || e == "mjs"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let raw_len = std::fs::metadata(&echarts).unwrap().len();
    let echarts_path = format!("/{}", echarts.strip_prefix(&dist).unwrap().display());
    let header = |headers: &str, name: &str| {
        headers
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
    };
    for (accept, coding) in [("gzip, deflate", "gzip"), ("gzip, deflate, br", "br")] {
        let (status, headers) = http_get_with(
            &addr,
            &echarts_path,
            &format!("Accept-Encoding: {accept}\r\n"),
        )
        .await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(
            header(&headers, "content-encoding").as_deref(),
            Some(coding)
        );
        let sent: u64 = header(&headers, "content-length").unwrap().parse().unwrap();
        println!(
            "{echarts_path}: {raw_len} bytes, {sent} sent as {coding} ({:.0} %)",
            100.0 * sent as f64 / raw_len as f64
        );
        assert!(
            sent * 2 < raw_len,
            "{sent} of {raw_len} bytes sent as {coding}"
        );
        let etag = header(&headers, "etag").unwrap();
        let (status, _) = http_get_with(
            &addr,
            &echarts_path,
            &format!("Accept-Encoding: {accept}\r\nIf-None-Match: {etag}\r\n"),
        )
        .await;
        assert_eq!(status, "HTTP/1.1 304 Not Modified");
    }

    // Vinnytsia's statute gives 30 working days to answer: its page flags it.
    let extras = system_tests::NodeExtras {
        answer_term_days: Some(30),
        ..Default::default()
    };
    let vinnytsia = TestNode::start_with(VINNYTSIA, 3, &nats.url(), extras).await;
    let koriukivka = TestNode::start(KORIUKIVKA, 2, &nats.url()).await;
    for node in [&vinnytsia, &koriukivka] {
        association.enroll(node).await;
    }
    // Petitions in both hromadas: (title, signatures, answered after days). Vinnytsia's
    // threshold is 3 and Koriukivka's 2; an answer 30 days on is late (the law gives 10
    // working days).
    let mut v = Civic::of(&vinnytsia).await;
    let mut k = Civic::of(&koriukivka).await;
    let petitions = [
        (&vinnytsia, "Bike lanes on Soborna street", 3, Some(0)),
        (&koriukivka, "Repair the bridge", 2, Some(30)),
        (&vinnytsia, "A new public library branch", 1, None),
        (&koriukivka, "Ремонт спортзалу школи", 0, None),
    ];
    for (node, title, signatures, answered_after_days) in petitions {
        let civic = if node.code == vinnytsia.code {
            &mut v
        } else {
            &mut k
        };
        let id = civic.petition(title).await;
        civic.sign(&id, 0..signatures).await;
        if let Some(days) = answered_after_days {
            civic.consider(&id).await;
            node.clock.advance_days(days);
            civic
                .answer(&id, nodepb::AnswerDecision::PartlySupported)
                .await;
        }
    }
    v.file_and_reject("Rename the river").await;
    // A public hearing in Vinnytsia, held, with its outcome; an action plan whose two
    // milestones report complete and limited.
    let hearing = v
        .dialogue(nodepb::DialogueKind::PublicHearing, &vinnytsia.clock, 1)
        .await;
    let contribution = v.contribute(&hearing, "resident 1").await;
    v.answer_contribution(&hearing, &contribution).await;
    vinnytsia.clock.advance_days(2);
    v.close_dialogue(&hearing, 40).await;
    v.publish_outcome(&hearing).await;
    let plan = v.plan("2026-01-01", "2027-12-31").await;
    let commitment = v.commitment(&plan, "2026-01-01", "2027-06-30").await;
    for (due, status) in [
        ("2026-06-30", nodepb::ImplementationStatus::Complete),
        ("2027-03-31", nodepb::ImplementationStatus::Limited),
    ] {
        let milestone = v.milestone(&plan, &commitment, due).await;
        v.progress(&plan, &milestone, status).await;
    }
    // The hromada's own assessment: "did it open government", major.
    v.assess(
        &plan,
        &commitment,
        nodepb::ImplementationStatus::Substantial,
        nodepb::OpenedGovernment::Major,
    )
    .await;
    association
        .wait_all(&[&vinnytsia, &koriukivka], VERIFY_TIMEOUT)
        .await;
    // An enrolled monitor's independent assessment of the same commitment: limited, marginal.
    let monitor =
        NoteSigner::from_seed(&domain::assessment::monitor_key_name("chesno"), [21; 32]).unwrap();
    let mut enrol = tonic::Request::new(fedpb::EnrollMonitorRequest {
        monitor: "chesno".into(),
        name: "Рух ЧЕСНО".into(),
        vkey: monitor.verifier().to_text(),
        not_independent_of: vec![],
    });
    enrol.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", association.admin_token)
            .parse()
            .unwrap(),
    );
    let mut federation = association.federation().await;
    federation.enroll_monitor(enrol).await.unwrap();
    let note = domain::assessment::Assessment {
        monitor: "chesno".into(),
        municipality: code(VINNYTSIA),
        plan: plan.parse().unwrap(),
        commitment: commitment.parse().unwrap(),
        completion: domain::action_plan::ImplementationStatus::Limited,
        opened_government: domain::action_plan::OpenedGovernment::Marginal,
        assessed_on: domain::kyiv_date(event_store_core::Timestamp::now()),
        summary: "Бюджет опубліковано, звітів про виконання немає.".into(),
    }
    .sign(&monitor)
    .unwrap();
    federation
        .submit_assessment(fedpb::SubmitAssessmentRequest { note })
        .await
        .unwrap();

    // What the gRPC API answers, for the page to match.
    let mut national = association.national().await;
    let summary = association.summary().await;
    assert_eq!(summary.municipalities_reporting, 2);
    let board = national
        .get_leaderboard(natpb::GetLeaderboardRequest {
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(board.entries.len(), 2, "{board:?}");
    let oblasts = national
        .list_oblasts(natpb::ListOblastsRequest {})
        .await
        .unwrap()
        .into_inner()
        .oblasts;
    let hromada = national
        .get_municipality(natpb::GetMunicipalityRequest {
            code: VINNYTSIA.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let provenance = hromada.provenance.clone().unwrap_or_default();
    assert!(provenance.checkpoint_size > 0 && !provenance.cosigned_note.is_empty());
    let milestones = national
        .list_milestones(natpb::ListMilestonesRequest {
            code: VINNYTSIA.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .milestones;
    assert_eq!(milestones.len(), 2, "{milestones:?}");
    let vf = hromada.figures.clone().unwrap_or_default();
    let independent = national
        .list_assessments(natpb::ListAssessmentsRequest {
            area: VINNYTSIA.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(independent.total_size, 1, "{independent:?}");
    let independent_figures = independent.figures.clone().unwrap_or_default();
    let self_count = |kind: &str| {
        vf.opened_government
            .iter()
            .find(|k| k.kind == kind)
            .map_or(0, |k| k.count)
    };
    assert_eq!(
        (vf.commitments, vf.commitments_assessed, vf.outcome_reports),
        (1, 1, 1)
    );
    // The practice catalogue: a search in another form of the word finds the Ukrainian title.
    let practices = association
        .national()
        .await
        .search_practices(natpb::SearchPracticesRequest {
            query: "школою".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(practices.total_size, 1, "{practices:?}");
    let expect = json!({
        "practices": {
            "query": "школою",
            "total": practices.total_size,
            "titles": practices.practices.iter().map(|p| p.title.clone()).collect::<Vec<_>>(),
            "code": practices.practices[0].code,
        },
        "summary": headline(&summary),
        "leaderboard": board.entries.iter().map(|e| json!({
            "code": e.code, "numerator": e.numerator, "denominator": e.denominator,
        })).collect::<Vec<_>>(),
        "oblasts": oblasts.iter().map(|o| o.code.clone()).collect::<Vec<_>>(),
        "hromada": {
            "code": VINNYTSIA,
            "oblast": VINNYTSIA_OBLAST,
            "checkpoint_size": provenance.checkpoint_size,
            "verified_size": provenance.verified_size,
            "milestone_dues": milestones.iter().map(|m| m.due.clone()).collect::<Vec<_>>(),
            "law": {
                "petitions_moderation_overdue_now": vf.petitions_moderation_overdue_now,
                "petitions_moderated_late": vf.petitions_moderated_late,
                "petitions_started_late": vf.petitions_started_late,
                "petitions_answered_late": vf.petitions_answered - vf.petitions_answered_on_time,
            },
            "statute_answer_beyond_law": vf.statute_answer_beyond_law,
            "openness": {
                "commitments": vf.commitments,
                "commitments_assessed": vf.commitments_assessed,
                "outcome_reports": vf.outcome_reports,
                "opened_government": vf.opened_government.iter()
                    .map(|k| [k.kind.clone(), k.count.to_string()])
                    .collect::<Vec<_>>(),
            },
        },
        "independent": {
            "commitments_assessed": independent_figures.commitments_assessed,
            "monitor_name": independent.assessments[0].monitor_name,
            "compare": independent_figures.opened_government.iter()
                .map(|k| [k.count.to_string(), self_count(&k.kind).to_string()])
                .collect::<Vec<_>>(),
        },
        "enrolled": summary.municipalities_enrolled,
    });
    assert_eq!(hromada.oblast_code, VINNYTSIA_OBLAST);
    let work = tempfile::tempdir().unwrap();
    let expect_path = work.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).unwrap();

    let screenshots = screenshots_dir();
    let _ = std::fs::remove_dir_all(&screenshots);
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let mut browser = Browser::start(&url, &chromium, &expect_path, &screenshots);
    let ready = browser.until("READY", deadline);
    let shown: u64 = ready["READY ".len()..].trim().parse().unwrap();
    assert_eq!(
        shown,
        summary.figures.clone().unwrap_or_default().petitions_filed
    );

    // New activity after the page loaded: two petitions in Koriukivka, one signed.
    let benches = k.petition("Benches in the park").await;
    k.sign(&benches, 0..1).await;
    k.petition("A crossing by the school").await;
    association
        .wait_verified(code(KORIUKIVKA), koriukivka.log_size(), VERIFY_TIMEOUT)
        .await;
    let after = association.summary().await;
    assert_eq!(
        after.figures.clone().unwrap_or_default().petitions_filed,
        shown + 2
    );
    browser.send(&format!("EXPECT {}", headline(&after)));
    browser.until("PASS", deadline);
    let status = browser.wait(deadline);
    assert!(status.success(), "the browser script exited with {status}");

    for name in [
        "overview-uk.png",
        "overview-en.png",
        "overview-live.png",
        "leaderboard.png",
        "oblasts.png",
        "trends.png",
        "answers.png",
        "federation.png",
        "hromada.png",
    ] {
        let len = std::fs::metadata(screenshots.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(
            len > 10_000,
            "screenshot {name} missing or empty ({len} bytes)"
        );
    }
    association.shutdown().await;
}
