//! Free text leaves the node only when it is public. A petition rejected in moderation (and a
//! dialogue contribution rejected by the organiser): its title and text are nowhere on NATS (every message of every stream), in the association's
//! database (every row of every table, as text and as hex) or in an exported archive (every
//! byte of every file). A published petition's title and text are there, and its disclosure
//! verifies against the commitment its filing recorded, as FORMAT.md describes it. Erasing the
//! rejected petition's text at the node leaves the node's log and the audit green.

use std::path::Path;
use std::time::Duration;

use auditor::Archive;
use auditor::export::{ExportOptions, export};
use domain::petition::{PetitionContent, PetitionEvent};
use futures_util::StreamExt as _;
use proto::node::v1 as nodepb;
use sha2::{Digest as _, Sha256};
use sqlx::Connection as _;
use system_tests::{TestAssociation, TestNode, VINNYTSIA, request_id};
use testkit::NatsServer;

/// The strings a test looks for: as UTF-8, and as the lowercase hex PostgreSQL shows `bytea`
/// in.
fn needles(text: &str) -> [String; 2] {
    [text.to_owned(), hex::encode(text.as_bytes())]
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every message of every stream on the server, payload and headers.
async fn nats_bytes(url: &str) -> Vec<Vec<u8>> {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
    let names: Vec<String> = js.stream_names().map(|n| n.unwrap()).collect().await;
    assert!(!names.is_empty());
    let mut all = Vec::new();
    for name in names {
        let mut stream = js.get_stream(&name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        for seq in state.first_sequence..=state.last_sequence {
            if let Ok(message) = stream.get_raw_message(seq).await {
                let mut bytes = message.payload.to_vec();
                bytes.extend(format!("{:?}", message.headers).into_bytes());
                all.push(bytes);
            }
        }
    }
    all
}

/// Every row of every table of the association's database, as PostgreSQL prints it.
async fn database_text(url: &str) -> String {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
         FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
           AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.len() > 5, "{tables:?}");
    let mut text = String::new();
    for table in tables {
        // The name comes from the catalog, quoted by quote_ident.
        let sql = sqlx::AssertSqlSafe(format!("SELECT t::text FROM {table} t"));
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        for row in rows {
            text.push_str(&row.to_lowercase());
            text.push('\n');
        }
    }
    text
}

/// Every byte of every file under `dir`.
fn file_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(file_bytes(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

async fn file(c: &mut node::auth::AuthedNodeClient, title: &str, text: &str) -> String {
    c.file_petition(nodepb::FilePetitionRequest {
        request_id: request_id(),
        author_subject: "resident-1".into(),
        title: title.into(),
        text: text.into(),
        category: "довкілля".into(),
    })
    .await
    .unwrap()
    .into_inner()
    .stream_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_petitions_text_never_leaves_the_node_and_a_published_one_verifies() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let node = TestNode::start(VINNYTSIA, 100, &nats.url()).await;
    association.enroll(&node).await;
    let mut c = node.client().await;

    let marker = uuid::Uuid::now_v7().simple().to_string();
    let hidden_title = format!("Образливий заголовок {marker}");
    let hidden_text = format!("Іван Петренко, тел. 067-000-{marker}, живе за адресою…");
    let rejected = file(&mut c, &hidden_title, &hidden_text).await;
    c.reject_petition(nodepb::RejectPetitionRequest {
        request_id: request_id(),
        petition_id: rejected.clone(),
        reason: "містить персональні дані".into(),
    })
    .await
    .unwrap();
    let public_title = format!("Лавки на набережній {marker}");
    let public_text = format!("Просимо встановити лавки вздовж набережної ({marker}).");
    let published = file(&mut c, &public_title, &public_text).await;
    c.publish_petition(nodepb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: published.clone(),
    })
    .await
    .unwrap();
    // A dialogue: one contribution rejected, one accepted.
    let mut civic = system_tests::Civic::of(&node).await;
    let dialogue = civic
        .dialogue(nodepb::DialogueKind::EConsultation, &node.clock, 7)
        .await;
    let hidden_contribution = format!("Сусід з квартири 12 — злодій ({marker})");
    let public_contribution = format!("Більше світла на шляху до школи ({marker})");
    for (text, response) in [
        (&hidden_contribution, nodepb::ContributionResponse::Rejected),
        (&public_contribution, nodepb::ContributionResponse::Accepted),
    ] {
        let id = request_id();
        c.submit_contribution(nodepb::SubmitContributionRequest {
            request_id: id.clone(),
            dialogue_id: dialogue.clone(),
            author_subject: "resident-2".into(),
            text: text.clone(),
        })
        .await
        .unwrap();
        c.answer_contribution(nodepb::AnswerContributionRequest {
            request_id: request_id(),
            dialogue_id: dialogue.clone(),
            contribution_id: id,
            response: response as i32,
            reason: "Розглянуто.".into(),
        })
        .await
        .unwrap();
    }
    association
        .wait_all(&[&node], Duration::from_secs(30))
        .await;

    // The moderator still reads the rejected text at the node; anyone else sees nothing.
    let view = |id: &str| nodepb::GetPetitionRequest {
        petition_id: id.to_owned(),
    };
    let as_moderator = c.get_petition(view(&rejected)).await.unwrap().into_inner();
    assert_eq!(as_moderator.title, hidden_title);
    assert!(!as_moderator.text_public);
    assert_eq!(as_moderator.text_commitment.len(), 32);
    let mut anonymous = nodepb::node_service_client::NodeServiceClient::connect(node.url())
        .await
        .unwrap();
    let as_anyone = anonymous
        .get_petition(view(&rejected))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (as_anyone.title.as_str(), as_anyone.text.as_str()),
        ("", "")
    );
    let public = anonymous
        .get_petition(view(&published))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public.title, public_title);
    assert!(public.text_public);

    // Exports stop at the association's latest signed statement: one of everything verified.
    association.wait_stated().await;
    // NATS, the association's database and an exported archive.
    let nats_messages = nats_bytes(&nats.url()).await;
    let database = database_text(&association.db_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let options = ExportOptions {
        url: association.url(),
        ca: None,
        out: out.clone(),
        municipality: None,
        progress: false,
    };
    export(&options).await.unwrap();
    let archive_bytes = file_bytes(&out);
    for hidden in [&hidden_title, &hidden_text, &hidden_contribution] {
        for needle in needles(hidden) {
            assert!(
                !nats_messages.iter().any(|m| contains(m, &needle)),
                "rejected text on NATS"
            );
            assert!(!database.contains(&needle), "rejected text in the database");
            assert!(
                !contains(&archive_bytes, &needle),
                "rejected text in the archive"
            );
        }
    }
    for shown in [&public_title, &public_text, &public_contribution] {
        assert!(nats_messages.iter().any(|m| contains(m, shown)));
        assert!(
            database.contains(&hex::encode(shown.as_bytes())) || database.contains(shown.as_str())
        );
        assert!(contains(&archive_bytes, shown));
    }

    // The published text verifies against the commitment, computed as FORMAT.md says.
    let archive = Archive::new(&out);
    let code = system_tests::code(VINNYTSIA);
    let mut commitment = None;
    let mut disclosed = None;
    for (_, _, path) in archive.events_files(&code).unwrap() {
        let data = std::fs::read(&path).unwrap();
        for record in auditor::archive::decode_events(&path, &data).unwrap() {
            let event = domain::open(record.bytes).unwrap().event;
            match event {
                domain::Event::Petition(PetitionEvent::Filed(f))
                    if f.petition_id.0.to_string() == published =>
                {
                    let PetitionContent::Committed(c) = f.content else {
                        panic!("a new filing commits to its text");
                    };
                    commitment = Some(c.0);
                }
                domain::Event::Petition(PetitionEvent::Published(p))
                    if p.petition_id.0.to_string() == published =>
                {
                    disclosed = p.disclosure;
                }
                _ => {}
            }
        }
    }
    let disclosed = disclosed.expect("the publication discloses the text");
    assert_eq!(
        (disclosed.title.as_str(), disclosed.text.as_str()),
        (public_title.as_str(), public_text.as_str())
    );
    let mut preimage = b"vidkryto/petition-text/v1\0".to_vec();
    preimage.extend(disclosed.salt.0);
    for part in [&disclosed.title, &disclosed.text] {
        preimage.extend((part.len() as u64).to_be_bytes());
        preimage.extend(part.as_bytes());
    }
    assert_eq!(
        Some(<[u8; 32]>::from(Sha256::digest(&preimage))),
        commitment
    );
    let report = auditor::verify::verify(&archive, 1, false).unwrap();
    assert!(report.ok, "{report:#?}");

    // Erasure at the node, as the operator runs it: the text is gone, the log and audit green.
    let texts = node::texts::TextStore::open(node.dir.path()).await.unwrap();
    texts
        .erase(
            node::texts::TextOf::Petition(domain::PetitionId(rejected.parse().unwrap())),
            "рішення суду № 1/2026",
        )
        .await
        .unwrap();
    let erased = c.get_petition(view(&rejected)).await.unwrap().into_inner();
    assert_eq!((erased.title.as_str(), erased.text.as_str()), ("", ""));
    let files = file_bytes(node.dir.path());
    for needle in needles(&hidden_text) {
        assert!(
            !contains(&files, &needle),
            "erased text left in the node's files"
        );
    }
    let settings = node.settings();
    let location = settings.storage.clone();
    let backend = match node::store::open_backend(&location, false).await.unwrap() {
        node::store::AnyBackend::Sqlite(b) => b,
        node::store::AnyBackend::Postgres(_) => unreachable!("the test node logs to SQLite"),
    };
    let log_report = event_store::verify(&backend, &code, &settings.signer.verifier(), 1, None)
        .await
        .unwrap();
    assert!(log_report.is_ok(), "{log_report:?}");
    export(&options).await.unwrap();
    assert!(auditor::verify::verify(&archive, 1, false).unwrap().ok);
}
