//! The node's door, against a real OpenID provider (`deploy/oidc`: `oidc-provider` under
//! Node.js) whose residents and officials sign in through its real sign-in page: commands
//! without a credential, with a resident's credential for an official's command, and with
//! expired, misaddressed, foreign, unsigned and forged ID tokens are all refused and append
//! nothing; a resident signs a petition once whatever the session, and their signatures are
//! unlinkable across petitions.

mod support;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use oidc_process::{DevProvider, ProviderConfig, RegisteredClient};
use proto::node::v1 as pb;
use support::{TestNode, request_id};
use tonic::Code;

/// The node's client id at the provider.
const NODE_CLIENT: &str = "koriukivka-node";

async fn provider() -> DevProvider {
    let mut staff = BTreeMap::new();
    staff.insert("olena".to_owned(), vec!["moderator".to_owned()]);
    staff.insert("taras".to_owned(), vec!["official".to_owned()]);
    DevProvider::start(&ProviderConfig {
        clients: vec![
            RegisteredClient::public(NODE_CLIENT),
            RegisteredClient::public("another-hromadas-node"),
        ],
        staff,
        ..ProviderConfig::default()
    })
    .await
    .expect("the OpenID provider starts")
}

async fn node_of(provider: &DevProvider) -> TestNode {
    let tables = format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\n",
        provider.issuer()
    );
    TestNode::start_configured(None, 100, &tables).await
}

/// A client of `node` presenting `token`.
async fn as_holder(node: &TestNode, token: &str) -> node::auth::AuthedNodeClient {
    node::auth::connect(&node.url(), token, None).await.unwrap()
}

fn file_request(author_subject: &str) -> pb::FilePetitionRequest {
    pb::FilePetitionRequest {
        request_id: request_id(),
        author_subject: author_subject.to_owned(),
        title: "Освітлення парку".into(),
        text: "Просимо встановити ліхтарі в центральному парку.".into(),
        category: "infrastructure".into(),
    }
}

fn sign_request(petition: &str) -> pb::SignPetitionRequest {
    pb::SignPetitionRequest {
        request_id: request_id(),
        petition_id: petition.to_owned(),
        signer_subject: String::new(),
    }
}

/// Files and publishes a petition as the machine client `tests`.
async fn published_petition(node: &TestNode) -> String {
    let mut c = node.client().await;
    let id = c
        .file_petition(file_request("platform-resident-1"))
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    c.publish_petition(pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: id.clone(),
    })
    .await
    .unwrap();
    id
}

/// The token's three parts, its header and payload decoded.
fn parts(token: &str) -> (serde_json::Value, serde_json::Value, String) {
    let mut it = token.split('.');
    let header = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    let payload = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    (header, payload, it.next().unwrap().to_owned())
}

fn encode(value: &serde_json::Value) -> String {
    B64.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_without_a_valid_credential_are_refused_and_append_nothing() {
    let provider = provider().await;
    let node = node_of(&provider).await;
    let petition = published_petition(&node).await;
    let size = node.log_size();

    // No credential at all.
    let err = node
        .anonymous_client()
        .await
        .sign_petition(sign_request(&petition))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert_eq!(err.metadata().get("www-authenticate").unwrap(), "Bearer");

    // A resident may sign, but not answer, publish, or keep the plan.
    let resident = provider.sign_in(NODE_CLIENT, "mykola").await.unwrap();
    let mut c = as_holder(&node, &resident).await;
    let err = c
        .answer_petition(pb::AnswerPetitionRequest {
            request_id: request_id(),
            petition_id: petition.clone(),
            decision: pb::AnswerDecision::Supported as i32,
            response: "Підтримано.".into(),
            responder_role: "міський голова".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("answer"), "{}", err.message());
    let err = c
        .adopt_plan(pb::AdoptPlanRequest {
            request_id: request_id(),
            title: "План дій".into(),
            period_start: "2027-01-01".into(),
            period_end: "2028-12-31".into(),
            council_decision: "№ 1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // A resident names no subject: the node takes it from the sign-in.
    let mut named = sign_request(&petition);
    named.signer_subject = "someone-else".into();
    let err = c.sign_petition(named).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    // A token the provider issued to another hromada's node.
    let foreign = provider
        .sign_in("another-hromadas-node", "mykola")
        .await
        .unwrap();
    // A token of another provider, for a client of the same name.
    let other_provider = self::provider().await;
    let other_issuer = other_provider.sign_in(NODE_CLIENT, "mykola").await.unwrap();
    // Unsigned: the real token with `alg: none` and no signature.
    let (header, payload, signature) = parts(&resident);
    let mut none = header.clone();
    none["alg"] = "none".into();
    let unsigned = format!("{}.{}.", encode(&none), encode(&payload));
    // The real signature over a changed payload (another subject).
    let mut changed = payload.clone();
    changed["sub"] = "taras".into();
    changed["vidkryto_roles"] = serde_json::json!(["official"]);
    let altered = format!("{}.{}.{signature}", encode(&header), encode(&changed));
    // Re-signed by someone else: ES256 with the attacker's key, naming the provider's key id.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let mut es = header.clone();
    es["alg"] = "ES256".into();
    let input = format!("{}.{}", encode(&es), encode(&changed));
    let forged_signature = key.sign(&rng, input.as_bytes()).unwrap();
    let resigned = format!("{input}.{}", B64.encode(forged_signature.as_ref()));
    // HS256 keyed with the provider's public key (the algorithm-confusion attack).
    let mut hs = header.clone();
    hs["alg"] = "HS256".into();
    let input = format!("{}.{}", encode(&hs), encode(&changed));
    let mac = {
        use hmac::Mac as _;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(provider.issuer().as_bytes()).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes()
    };
    let confused = format!("{input}.{}", B64.encode(mac));
    for (what, token) in [
        ("another node's audience", foreign.as_str()),
        ("another issuer", other_issuer.as_str()),
        ("alg none", unsigned.as_str()),
        ("a changed payload", altered.as_str()),
        ("re-signed with another key", resigned.as_str()),
        ("HS256 with the public key", confused.as_str()),
        ("not a token", "eyJhbGciOi.garbage"),
        (
            "an unknown API token",
            "vkt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
    ] {
        let err = as_holder(&node, token)
            .await
            .sign_petition(sign_request(&petition))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{what}: {err:?}");
    }
    // Forged staff rights do not answer either.
    let err = as_holder(&node, &altered)
        .await
        .publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: petition.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // The genuine token works now, and is refused once it has expired on the node's clock.
    c.sign_petition(sign_request(&petition)).await.unwrap();
    let after_one = node.log_size();
    assert_eq!(
        after_one,
        size + 1,
        "only the genuine signature was appended"
    );
    node.clock.advance_days(1);
    let late = provider.sign_in(NODE_CLIENT, "oksana").await.unwrap();
    let err = as_holder(&node, &late)
        .await
        .sign_petition(sign_request(&petition))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert!(err.message().contains("expired"), "{}", err.message());
    assert_eq!(node.log_size(), after_one, "nothing appended by refusals");
    other_provider.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_signs_once_whatever_the_session_and_unlinkably_across_petitions() {
    let provider = provider().await;
    let node = node_of(&provider).await;
    let first = published_petition(&node).await;
    let second = published_petition(&node).await;

    // Two sessions of one resident: two different ID tokens.
    let session_a = provider.sign_in(NODE_CLIENT, "halyna").await.unwrap();
    let session_b = provider.sign_in(NODE_CLIENT, "halyna").await.unwrap();
    assert_ne!(session_a, session_b);
    let ok = as_holder(&node, &session_a)
        .await
        .sign_petition(sign_request(&first))
        .await
        .unwrap()
        .into_inner();
    let err = as_holder(&node, &session_b)
        .await
        .sign_petition(sign_request(&first))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // Another resident counts.
    let petro = provider.sign_in(NODE_CLIENT, "petro").await.unwrap();
    as_holder(&node, &petro)
        .await
        .sign_petition(sign_request(&first))
        .await
        .unwrap();
    let view = node
        .client()
        .await
        .get_petition(pb::GetPetitionRequest {
            petition_id: first.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.signature_count, 2);
    // A resident reading the petition learns whether they signed it, whatever the session;
    // one who has not, learns that; a reader without a credential learns nothing.
    let read_as = |token: String| {
        let first = first.clone();
        let node = &node;
        async move {
            as_holder(node, &token)
                .await
                .get_petition(pb::GetPetitionRequest { petition_id: first })
                .await
                .unwrap()
                .into_inner()
                .signed_by_caller
        }
    };
    assert_eq!(read_as(session_b.clone()).await, Some(true));
    let oksana = provider.sign_in(NODE_CLIENT, "oksana").await.unwrap();
    assert_eq!(read_as(oksana).await, Some(false));
    assert_eq!(
        view.signed_by_caller, None,
        "a machine client is not a resident"
    );
    let mut anonymous = node.anonymous_client().await;
    let request = pb::GetPetitionRequest {
        petition_id: first.clone(),
    };
    let read = anonymous.get_petition(request).await.unwrap();
    assert_eq!(read.into_inner().signed_by_caller, None);

    // The same resident on the second petition: a signer tag unrelated to the first.
    let on_second = as_holder(&node, &session_b)
        .await
        .sign_petition(sign_request(&second))
        .await
        .unwrap()
        .into_inner();
    let log = node.read_whole_log().await;
    let tag_of = |seq: u64| {
        let entry = log.iter().find(|e| e.seq == seq).unwrap();
        match domain::schema::open(&entry.envelope).unwrap().event {
            domain::Event::Petition(domain::petition::PetitionEvent::Signed(s)) => s.signer,
            other => panic!("not a signature: {other:?}"),
        }
    };
    assert_ne!(tag_of(ok.first_seq), tag_of(on_second.first_seq));
    // Nothing of the sign-in is in the log: neither login nor provider nor token.
    for entry in &log {
        let bytes = String::from_utf8_lossy(&entry.envelope);
        for secret in ["halyna", "petro", provider.issuer(), &session_a[..40]] {
            assert!(!bytes.contains(secret), "{secret} in event {}", entry.seq);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_act_by_their_roles_and_a_removed_client_is_refused() {
    let provider = provider().await;
    let node = node_of(&provider).await;
    let mut platform = node.client().await;
    let petition = platform
        .file_petition(file_request("platform-resident-7"))
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let official = provider.sign_in(NODE_CLIENT, "taras").await.unwrap();
    let moderator = provider.sign_in(NODE_CLIENT, "olena").await.unwrap();
    // The official may not moderate; the moderator may.
    let publish = || pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    };
    let err = as_holder(&node, &official)
        .await
        .publish_petition(publish())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    as_holder(&node, &moderator)
        .await
        .publish_petition(publish())
        .await
        .unwrap();
    // Staff are residents too: the moderator signs as herself.
    as_holder(&node, &moderator)
        .await
        .sign_petition(sign_request(&petition))
        .await
        .unwrap();

    // A machine client allowed only to participate cannot moderate; once removed, it is
    // refused within the node's reload period.
    let token = support::add_client(
        node.dir.path(),
        "e-petitions",
        &[node::auth::Permission::Participate],
    );
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let mut feed = as_holder(&node, &token).await;
    let mut signed = sign_request(&petition);
    signed.signer_subject = "platform-resident-9".into();
    feed.sign_petition(signed).await.unwrap();
    let err = feed
        .reject_petition(pb::RejectPetitionRequest {
            request_id: request_id(),
            petition_id: petition.clone(),
            reason: "—".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    node::auth::clients::remove(node.dir.path(), "e-petitions").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let size = node.log_size();
    let mut again = sign_request(&petition);
    again.signer_subject = "platform-resident-10".into();
    let err = feed.sign_petition(again).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert_eq!(node.log_size(), size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_tls_with_its_own_loopback_certificate() {
    let node = TestNode::start_configured(None, 100, "[tls]\nself_signed = true\n").await;
    let ca = std::fs::read_to_string(node.dir.path().join(node::tls::SELF_SIGNED_CERT)).unwrap();
    let addr = node.running.as_ref().unwrap().grpc_addr();
    let url = format!("https://localhost:{}", addr.port());
    let mut c = node::auth::connect(&url, &node.token, Some(&ca))
        .await
        .unwrap();
    c.file_petition(file_request("platform-resident-1"))
        .await
        .unwrap();
    // Plain text to a TLS listener gets no answer.
    let plain = node::auth::connect(&format!("http://{addr}"), &node.token, None).await;
    match plain {
        Err(_) => {}
        Ok(mut c) => assert!(c.file_petition(file_request("x")).await.is_err()),
    }
    // The key the node made is its owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(node.dir.path().join(node::tls::SELF_SIGNED_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_client_proves_itself_with_its_tls_certificate() {
    let ca = testkit::TestCa::new("hromada CA").unwrap();
    let server = ca.server_cert("node", &["localhost", "127.0.0.1"]).unwrap();
    let docs = ca.client_cert("council-docs").unwrap();
    let stranger = ca.client_cert("stranger").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&server.key_file, private).unwrap();
    }
    let tables = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
        server.cert_file.display(),
        server.key_file.display(),
        ca.ca_file().display()
    );
    let node = TestNode::start_configured(None, 100, &tables).await;
    node::auth::clients::add(
        node.dir.path(),
        "council-docs",
        vec![node::auth::Permission::Moderate],
        node::auth::clients::Credential::Certificate(docs.cert_file.clone()),
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let ca_pem = std::fs::read_to_string(ca.ca_file()).unwrap();
    let url = format!(
        "https://localhost:{}",
        node.running.as_ref().unwrap().grpc_addr().port()
    );
    let client_with = |cert: Option<&testkit::ServerCert>| {
        let mut tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&ca_pem));
        if let Some(cert) = cert {
            tls = tls.identity(tonic::transport::Identity::from_pem(
                std::fs::read_to_string(&cert.cert_file).unwrap(),
                std::fs::read_to_string(&cert.key_file).unwrap(),
            ));
        }
        let endpoint = tonic::transport::Endpoint::from_shared(url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap();
        async move { pb::node_service_client::NodeServiceClient::new(endpoint.connect().await.unwrap()) }
    };
    // The platform files over TLS with its token; the council's system publishes with its
    // certificate alone.
    let petition = node::auth::connect(&url, &node.token, Some(&ca_pem))
        .await
        .unwrap()
        .file_petition(file_request("platform-resident-1"))
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let publish = || pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    };
    let size = node.log_size();
    // A certificate of the same CA that no client was added with proves nothing.
    let err = client_with(Some(&stranger))
        .await
        .publish_petition(publish())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = client_with(None)
        .await
        .publish_petition(publish())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert_eq!(node.log_size(), size);
    // The registered certificate may moderate, and only moderate.
    let mut docs_client = client_with(Some(&docs)).await;
    docs_client.publish_petition(publish()).await.unwrap();
    let err = docs_client
        .sign_petition(pb::SignPetitionRequest {
            request_id: request_id(),
            petition_id: petition.clone(),
            signer_subject: "someone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_account_signs_in_for_a_session_that_ends_with_it() {
    let node = TestNode::start(None, 100).await;
    node::auth::accounts::add(
        node.dir.path(),
        "olena",
        &[node::auth::Role::Moderator],
        "correct horse battery staple",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let mut auth = pb::auth_service_client::AuthServiceClient::connect(node.url())
        .await
        .unwrap();
    let sign_in = |account: &str, password: &str| pb::SignInRequest {
        account: account.into(),
        password: password.into(),
    };
    // A wrong password and an unknown account get the same answer.
    for (account, password) in [
        ("olena", "wrong horse battery staple"),
        ("nobody", "correct horse battery staple"),
    ] {
        let err = auth.sign_in(sign_in(account, password)).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        assert_eq!(err.message(), "unknown account or wrong password");
    }
    let session = auth
        .sign_in(sign_in("olena", "correct horse battery staple"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(session.roles, vec!["moderator"]);

    // The session moderates, and only moderates: an account is not a resident.
    let petition = node
        .client()
        .await
        .file_petition(file_request("platform-resident-1"))
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let mut staff = as_holder(&node, &session.session_token).await;
    let size = node.log_size();
    let err = staff
        .sign_petition(sign_request(&petition))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // It reads the text awaiting moderation.
    let view = staff
        .get_petition(pb::GetPetitionRequest {
            petition_id: petition.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.title, "Освітлення парку");
    staff
        .publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: petition.clone(),
        })
        .await
        .unwrap();
    assert_eq!(node.log_size(), size + 1);

    // A session ends after eight hours on the node's clock...
    node.clock.advance_days(1);
    let err = staff
        .sign_petition(sign_request(&petition))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    // ...and with its account.
    let fresh = auth
        .sign_in(sign_in("olena", "correct horse battery staple"))
        .await
        .unwrap()
        .into_inner();
    node::auth::accounts::remove(node.dir.path(), "olena").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let err = as_holder(&node, &fresh.session_token)
        .await
        .reject_petition(pb::RejectPetitionRequest {
            request_id: request_id(),
            petition_id: petition,
            reason: "—".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert_eq!(node.log_size(), size + 1);
}

/// What the review of the door found, as attacks: text of a refused command is not kept, a
/// retried filing cannot put erased text back or plant other text under a petition, and a
/// session does not outlive the account it was issued to when the account is added again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_commands_keep_no_text_and_erased_text_stays_erased() {
    let provider = provider().await;
    let node = node_of(&provider).await;
    let resident = provider.sign_in(NODE_CLIENT, "mykola").await.unwrap();
    let mut c = as_holder(&node, &resident).await;
    let texts = node::texts::TextStore::open(node.dir.path()).await.unwrap();

    // A title past its bound, and a contribution to a dialogue that does not exist.
    let mut long = file_request("");
    long.title = "ї".repeat(201);
    let long_id = long.request_id.clone();
    assert_eq!(
        c.file_petition(long).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let contribution = request_id();
    let err = c
        .submit_contribution(pb::SubmitContributionRequest {
            request_id: contribution.clone(),
            dialogue_id: uuid::Uuid::now_v7().to_string(),
            author_subject: String::new(),
            text: "Текст, якого ніхто не мав зберегти.".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert_eq!(
        texts
            .petition(domain::PetitionId(long_id.parse().unwrap()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        texts
            .contribution(domain::ContributionId(contribution.parse().unwrap()))
            .await
            .unwrap(),
        None,
        "a refused contribution's text is forgotten"
    );

    // A filing whose text is later erased: retrying its request id with other text is
    // refused, and the moderator's view shows nothing.
    let filing = file_request("");
    let petition = c
        .file_petition(filing.clone())
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let id = domain::PetitionId(petition.parse().unwrap());
    texts
        .erase(node::texts::TextOf::Petition(id), "рішення суду № 2/2026")
        .await
        .unwrap();
    let mut replanted = filing.clone();
    replanted.title = "Підкинутий заголовок".into();
    assert_eq!(
        c.file_petition(replanted).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let view = node
        .client()
        .await
        .get_petition(pb::GetPetitionRequest {
            petition_id: petition.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((view.title.as_str(), view.text.as_str()), ("", ""));
    assert_eq!(texts.petition(id).await.unwrap(), None);

    // A session of an account that was removed and added again (a new password) is refused.
    node::auth::accounts::add(
        node.dir.path(),
        "taras",
        &[node::auth::Role::Official],
        "first long password",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let mut auth = pb::auth_service_client::AuthServiceClient::connect(node.url())
        .await
        .unwrap();
    let session = auth
        .sign_in(pb::SignInRequest {
            account: "taras".into(),
            password: "first long password".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .session_token;
    node::auth::accounts::remove(node.dir.path(), "taras").unwrap();
    node::auth::accounts::add(
        node.dir.path(),
        "taras",
        &[node::auth::Role::Official],
        "second long password",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let err = as_holder(&node, &session)
        .await
        .start_consideration(pb::StartConsiderationRequest {
            request_id: request_id(),
            petition_id: petition,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
}

/// Every official act records which role acted and a pseudonym of who did it: one staff member
/// has one pseudonym across sessions and events, another has another, a machine client is
/// marked as one; resident events record no actor, and no login or provider reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_official_act_records_its_role_and_a_staff_pseudonym_never_the_person() {
    use domain::petition::PetitionEvent as P;
    use domain::{Actor, ActorKind, Event, StaffRole};

    let provider = provider().await;
    let tables = format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\n",
        provider.issuer()
    );
    // One signature reaches the threshold, so the petition can be answered.
    let node = TestNode::start_configured(None, 1, &tables).await;
    let mut platform = node.client().await;
    let file = || {
        let request = file_request("platform-resident-3");
        let mut platform = platform.clone();
        async move {
            platform
                .file_petition(request)
                .await
                .unwrap()
                .into_inner()
                .stream_id
        }
    };
    let (answered, rejected, by_machine) = (file().await, file().await, file().await);

    let olena_1 = as_holder(
        &node,
        &provider.sign_in(NODE_CLIENT, "olena").await.unwrap(),
    )
    .await;
    let olena_2 = as_holder(
        &node,
        &provider.sign_in(NODE_CLIENT, "olena").await.unwrap(),
    )
    .await;
    let taras = as_holder(
        &node,
        &provider.sign_in(NODE_CLIENT, "taras").await.unwrap(),
    )
    .await;
    let resident = as_holder(
        &node,
        &provider.sign_in(NODE_CLIENT, "mykola").await.unwrap(),
    )
    .await;

    let published = olena_1
        .clone()
        .publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: answered.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let signed = resident
        .clone()
        .sign_petition(sign_request(&answered))
        .await
        .unwrap()
        .into_inner();
    let considered = taras
        .clone()
        .start_consideration(pb::StartConsiderationRequest {
            request_id: request_id(),
            petition_id: answered.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let answer = taras
        .clone()
        .answer_petition(pb::AnswerPetitionRequest {
            request_id: request_id(),
            petition_id: answered.clone(),
            decision: pb::AnswerDecision::Supported as i32,
            response: "Ліхтарі встановлять у травні.".into(),
            responder_role: "Міський голова".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let update = taras
        .clone()
        .report_implementation(pb::ReportImplementationRequest {
            request_id: request_id(),
            petition_id: answered.clone(),
            text: "Закупівлю оголошено.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let rejection = olena_2
        .clone()
        .reject_petition(pb::RejectPetitionRequest {
            request_id: request_id(),
            petition_id: rejected.clone(),
            reason: "Не належить до повноважень громади.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let machine = platform
        .publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: by_machine.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    let log = node.read_whole_log().await;
    let event_at = |seq: u64| -> Event {
        let entry = log.iter().find(|e| e.seq == seq).unwrap();
        domain::schema::open(&entry.envelope).unwrap().event
    };
    let actor_at = |seq: u64| -> Actor {
        *event_at(seq)
            .acted_by()
            .unwrap_or_else(|| panic!("event {seq} records who acted"))
    };
    let olena = actor_at(published.first_seq);
    assert_eq!(
        (olena.role, olena.kind),
        (StaffRole::Moderator, ActorKind::Staff)
    );
    assert_eq!(
        actor_at(rejection.first_seq),
        olena,
        "one staff member, two sessions: one pseudonym"
    );
    let official = actor_at(answer.first_seq);
    assert_eq!(
        (official.role, official.kind),
        (StaffRole::Official, ActorKind::Staff)
    );
    assert_ne!(official.tag, olena.tag, "two staff members, two pseudonyms");
    assert_eq!(actor_at(considered.first_seq), official);
    assert_eq!(actor_at(update.first_seq), official);
    let client = actor_at(machine.first_seq);
    assert_eq!(
        (client.role, client.kind),
        (StaffRole::Moderator, ActorKind::Client)
    );
    assert!(client.tag != olena.tag && client.tag != official.tag);
    // A resident's signature, and the threshold it reached, record no actor.
    for seq in signed.first_seq..=signed.last_seq {
        let event = event_at(seq);
        assert!(
            matches!(
                event,
                Event::Petition(P::Signed(_) | P::ThresholdReached(_))
            ),
            "{event:?}"
        );
        assert!(!event.is_official() && event.acted_by().is_none());
    }

    // The node's view says who acted, as the log does.
    let view = node
        .anonymous_client()
        .await
        .get_petition(pb::GetPetitionRequest {
            petition_id: answered.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let shown = |a: &Actor| pb::StaffActor {
        role: a.role.name().into(),
        machine_client: a.kind == ActorKind::Client,
        staff_pseudonym: a.tag.0.to_vec(),
    };
    assert_eq!(view.moderated_by, Some(shown(&olena)));
    assert_eq!(view.answered_by, Some(shown(&official)));
    assert_eq!(
        view.implementation_updates[0].reported_by,
        Some(shown(&official))
    );
    // No login, provider or token reaches the log.
    for entry in &log {
        let bytes = String::from_utf8_lossy(&entry.envelope);
        for secret in ["olena", "taras", "mykola", provider.issuer()] {
            assert!(!bytes.contains(secret), "{secret} in event {}", entry.seq);
        }
    }
}
