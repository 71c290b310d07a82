//! The hromada's portal as a resident uses it, in Debian's headless Chromium driven by
//! playwright-core (`tests/system/browser/portal.mjs`): a real node serving the built portal
//! (`services/portal/dist`) and its gRPC-Web API on one origin, a real OpenID provider
//! (`deploy/oidc`). The resident finds a published petition, signs in at the provider and
//! signs it, all by keyboard at phone width, with axe-core finding no WCAG 2 A/AA violation and
//! the page breaking no rule of its Content-Security-Policy; the node then counts the
//! signature. Screenshots go to `target/portal-screenshots/`.

use std::path::Path;
use std::time::Duration;

use node::config::{InitOptions, NodeSettings, Overrides, StatuteSettings};
use oidc_process::{DevProvider, ProviderConfig, RegisteredClient};
use proto::node::v1 as pb;
use system_tests::{KORIUKIVKA, chromium, code, repo};

const NODE_CLIENT: &str = "koriukivka-portal";
const TITLE: &str = "Освітлення центрального парку";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_finds_signs_in_and_signs_a_petition_in_chromium() {
    let dist = repo().join("services/portal/dist");
    let Some(chromium) = chromium().filter(|_| dist.join("index.html").is_file()) else {
        assert!(
            std::env::var_os("VIDKRYTO_REQUIRE_BROWSER").is_none(),
            "VIDKRYTO_REQUIRE_BROWSER is set but Chromium or the built portal is absent: run deploy/local/setup.sh"
        );
        eprintln!("SKIPPED: Chromium or services/portal/dist is absent (deploy/local/setup.sh)");
        return;
    };
    // The node's port, held until it starts: its callback is registered at the provider
    // first, and the provider (which takes any free port) must not take it.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut client = RegisteredClient::public(NODE_CLIENT);
    client.redirect_uris.push(format!("{origin}/auth/callback"));
    let provider = DevProvider::start(&ProviderConfig {
        clients: vec![client],
        ..ProviderConfig::default()
    })
    .await
    .expect("the OpenID provider starts");

    let dir = tempfile::tempdir().unwrap();
    node::config::init(
        dir.path(),
        &InitOptions {
            municipality: code(KORIUKIVKA),
            statute: StatuteSettings {
                signature_threshold: 100,
                collection_period_days: 60,
                answer_deadline_working_days: 10,
                rule_version: 1,
            },
            listen: format!("127.0.0.1:{port}"),
            nats_url: String::new(),
            storage: "node.sqlite".into(),
        },
    )
    .unwrap();
    let config = dir.path().join(node::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "storage",
        &format!("portal_dir = {:?}\nstorage", dist.display().to_string()),
        1,
    );
    std::fs::write(
        &config,
        format!(
            "{text}\n[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\nredirect_url = \"{origin}/auth/callback\"\n",
            provider.issuer()
        ),
    )
    .unwrap();
    let token = node::auth::clients::add(
        dir.path(),
        "tests",
        node::auth::Permission::ALL.to_vec(),
        node::auth::clients::Credential::Token,
    )
    .unwrap()
    .unwrap();
    let settings = NodeSettings::load(
        dir.path(),
        Overrides {
            metrics_listen: Some(String::new()),
            ..Overrides::default()
        },
    )
    .unwrap();
    drop(reserved);
    let running = node::start(settings).await.unwrap();

    // A published petition, and one still in moderation (whose text the page never shows).
    let mut staff = node::auth::connect(&origin, &token, None).await.unwrap();
    let file = |title: &str| {
        let request = pb::FilePetitionRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            author_subject: "platform-resident-1".into(),
            title: title.into(),
            text: "Просимо встановити ліхтарі вздовж головної алеї парку.".into(),
            category: "infrastructure".into(),
        };
        let mut staff = staff.clone();
        async move {
            staff
                .file_petition(request)
                .await
                .unwrap()
                .into_inner()
                .stream_id
        }
    };
    let published = file(TITLE).await;
    let _in_moderation = file("Заборонити все").await;
    staff
        .publish_petition(pb::PublishPetitionRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            petition_id: published.clone(),
        })
        .await
        .unwrap();

    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("portal-screenshots");
    let script = repo().join("tests/system/browser/portal.mjs");
    let run = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new("node")
            .arg(&script)
            .env("PORTAL_URL", &origin)
            .env("CHROMIUM", &chromium)
            .env("SCREENSHOTS", &screenshots)
            .env("TITLE", TITLE)
            .env("LOGIN", "halyna")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run ends")
    .expect("node runs the browser script");
    let out = String::from_utf8_lossy(&run.stdout);
    eprintln!("{out}");
    assert!(run.status.success() && out.contains("PASS"), "{out}");

    // The node counts the resident's signature.
    let petition = staff
        .get_petition(pb::GetPetitionRequest {
            petition_id: published,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(petition.signature_count, 1);
    for name in [
        "portal-list",
        "portal-petition",
        "portal-provider",
        "portal-signed",
        "portal-english",
    ] {
        let len = std::fs::metadata(screenshots.join(format!("{name}.png")))
            .unwrap_or_else(|e| panic!("{name}.png: {e}"))
            .len();
        assert!(len > 5_000, "{name}.png is {len} bytes");
    }
    running.shutdown().await;
}
