//! A log written before schema 2 (`tests/fixtures/schema1-log.sqlite`: its petition's title
//! and text in the clear), opened by today's node: every event reads through the upcasters,
//! the petition shows its text as public, the projection takes every event, and new events
//! (schema 2, with a commitment) append after the old ones into a log that still verifies.

use std::sync::Arc;

use domain::petition::{PetitionContent, PetitionEvent};
use domain::{Event, NodeSecret, PetitionId};
use event_store::{CheckpointPolicy, Log};
use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::{NoteSigner, NoteVerifier};
use event_store_sqlite::{Durability, SqliteBackend};
use node::NodeCore;
use node::command::{Action, NodeCommand, Subject};
use node::core::Kind;
use node::texts::TextStore;

const VINNYTSIA: &str = "UA05020030000031457";

#[tokio::test]
async fn a_schema_1_log_reads_replays_projects_and_grows() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.sqlite");
    std::fs::copy(fixtures.join("schema1-log.sqlite"), &db).unwrap();
    let key = dir.path().join("node.key");
    std::fs::copy(fixtures.join("schema1-log.key"), &key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let signer = NoteSigner::parse(wire::read_secret_file(&key).unwrap().trim()).unwrap();
    let vkey = std::fs::read_to_string(fixtures.join("schema1-log.vkey")).unwrap();
    let verifier = NoteVerifier::parse(vkey.trim()).unwrap();
    let municipality = MunicipalityCode::parse(VINNYTSIA).unwrap();

    let backend = SqliteBackend::open(&db, Durability::Full).await.unwrap();
    let log = Arc::new(
        Log::open(backend, municipality, signer, CheckpointPolicy::default())
            .await
            .unwrap(),
    );

    // Every stored event reads, the filing in the clear, the publication with no disclosure.
    let rows = log.read(event_store_core::LogSeq(1), 100).await.unwrap();
    assert_eq!(rows.len(), 17);
    let mut verified = Vec::new();
    for row in &rows {
        let recorded = domain::open(&row.bytes).expect("a schema-1 event reads");
        assert_eq!(recorded.envelope.schema_version.0, 1);
        verified.push(projection::Verified {
            municipality,
            seq: row.seq.0,
            event: recorded.event,
        });
    }
    let Event::Petition(PetitionEvent::Filed(filed)) = &verified[0].event else {
        panic!("the first event is a filing: {:?}", verified[0].event);
    };
    let PetitionContent::Clear { title, .. } = &filed.content else {
        panic!("schema 1 reads as text in the clear: {:?}", filed.content);
    };
    assert!(title.starts_with("Велодоріжка"), "{title}");
    let petition = filed.petition_id;

    // The projection takes every event as it did when they were written.
    let mut store = projection::MemoryStore::new();
    let outcomes = store.apply_batch(&verified).unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| !matches!(o, projection::Outcome::Anomaly(_))),
        "{outcomes:?}"
    );

    // Today's node replays it: the petition's text is public, as it always was.
    let core = NodeCore::open(
        log.clone(),
        TextStore::open(dir.path()).await.unwrap(),
        NodeSecret::from_bytes([1; 32]),
        domain::petition::StatuteRule::KYIV,
        Vec::new(),
        node::executor::system_clock(),
    )
    .await
    .unwrap();
    assert_eq!(core.list(Kind::Petition).unwrap().len(), 1);
    let view = core.petition(petition).await.unwrap();
    let shown = view.text.clone().expect("the text is shown");
    assert!(shown.public && shown.title == *title);
    assert!(view.for_reader(false).text.is_some(), "public to everyone");

    // A new filing appends in schema 2 after them, and the whole log verifies.
    let outcome = core
        .run(NodeCommand {
            request: uuid::Uuid::now_v7(),
            action: Action::FilePetition {
                author_subject: Subject::parse("author_subject", "resident".into()).unwrap(),
                title: node::command::Private("Новий сквер".into()),
                text: node::command::Private("Просимо облаштувати новий сквер.".into()),
                category: "довкілля".into(),
            },
        })
        .await
        .unwrap();
    let new = core.petition(PetitionId(outcome.stream.0)).await.unwrap();
    assert!(matches!(
        new.filed.as_ref().map(|f| &f.content),
        Some(PetitionContent::Committed(_))
    ));
    log.checkpoint_now().await.unwrap();
    let report = event_store::verify(log.backend(), &municipality, &verifier, 1, None)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(report.events_checked > 17);
}
