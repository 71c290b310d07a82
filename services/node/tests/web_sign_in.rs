//! The node's own sign-in for its web pages, against a real OpenID provider (`deploy/oidc`)
//! and the node's real listener, driven as a browser drives it (redirects followed by hand,
//! one cookie jar per origin): a staff member signs in and acts with the session cookie, and
//! the same person gets the same staff pseudonym as with an ID token; a replayed answer, an
//! answer brought to another browser, a code from another sign-in and a token with another
//! sign-in's nonce are all refused and set no session.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use node::auth::http::{HttpResponse, fetch, post_form};
use node::auth::oidc::{OidcSettings, OidcVerifier};
use oidc_process::{DevProvider, ProviderConfig, RegisteredClient};
use proto::node::v1 as pb;
use support::{TestNode, request_id};
use tonic::Code;

const NODE_CLIENT: &str = "koriukivka-node";

/// A provider that knows the node's callback, and the node configured to sign people in.
async fn provider_and_node() -> (DevProvider, TestNode) {
    // A known port for the node: its callback is registered before it starts. The port is
    // held until then, so the provider (which takes any free port) cannot take it.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let mut staff = BTreeMap::new();
    staff.insert("olena".to_owned(), vec!["moderator".to_owned()]);
    let mut app = RegisteredClient::public(NODE_CLIENT);
    app.redirect_uris.push(callback.clone());
    let provider = DevProvider::start(&ProviderConfig {
        clients: vec![app],
        staff,
        ..ProviderConfig::default()
    })
    .await
    .expect("the OpenID provider starts");
    let tables = format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\nredirect_url = \"{callback}\"\n",
        provider.issuer()
    );
    drop(reserved);
    let node = TestNode::start_listening(&format!("127.0.0.1:{port}"), None, 100, &tables).await;
    (provider, node)
}

/// A browser: cookies per origin, redirects followed by hand.
#[derive(Default)]
struct Browser {
    jars: HashMap<String, BTreeMap<String, String>>,
}

fn origin(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest.split('/').next().unwrap().to_owned()
}

impl Browser {
    fn remember(&mut self, url: &str, response: &HttpResponse) {
        let jar = self.jars.entry(origin(url)).or_default();
        for value in response.headers().get_all(http::header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self, url: &str) -> String {
        self.jars
            .get(&origin(url))
            .map(|jar| {
                jar.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    async fn get(&mut self, url: &str) -> HttpResponse {
        let request = http::Request::get(url)
            .header(http::header::COOKIE, self.cookie_header(url))
            .body(Vec::new())
            .unwrap();
        let response = fetch(request).await.unwrap();
        self.remember(url, &response);
        response
    }

    async fn post(&mut self, url: &str, form: &str) -> HttpResponse {
        let cookie = (http::header::COOKIE, self.cookie_header(url));
        let response = post_form(url, form.to_owned(), &[cookie]).await.unwrap();
        self.remember(url, &response);
        response
    }

    fn session(&self, node: &TestNode) -> Option<String> {
        self.jars
            .get(&origin(&node.url()))
            .and_then(|jar| jar.get("vk_session").cloned())
    }
}

fn location(response: &HttpResponse, base: &str) -> String {
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .unwrap_or_else(|| panic!("a redirect: {} {:?}", response.status(), response.body()))
        .to_str()
        .unwrap();
    if location.starts_with('/') {
        format!("http://{}{location}", origin(base))
    } else {
        location.to_owned()
    }
}

/// Starts the node's sign-in and signs `login` in at the provider: the callback URL the
/// provider sends the browser back to (not yet visited).
async fn to_callback(browser: &mut Browser, node: &TestNode, login: &str, next: &str) -> String {
    let start = browser
        .get(&format!("{}/auth/sign-in?next={next}", node.url()))
        .await;
    assert_eq!(start.status(), 303);
    let mut url = location(&start, &node.url());
    let mut response = browser.get(&url).await;
    url = location(&response, &url);
    if url.starts_with(&format!("{}/auth/callback", node.url())) {
        // Already signed in at the provider: it answers at once.
        return url;
    }
    assert!(url.contains("/interaction/"), "{url}");
    assert_eq!(browser.get(&url).await.status(), 200, "the sign-in page");
    response = browser
        .post(&format!("{url}/login"), &format!("login={login}"))
        .await;
    for _ in 0..5 {
        url = location(&response, &url);
        if url.starts_with(&format!("{}/auth/callback", node.url())) {
            return url;
        }
        response = browser.get(&url).await;
    }
    panic!("the provider never sent the browser back: {url}");
}

fn with_cookie<T>(message: T, session: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("cookie", format!("vk_session={session}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_through_the_node_and_act_as_with_their_id_token() {
    let (provider, node) = provider_and_node().await;
    let mut browser = Browser::default();
    let callback = to_callback(&mut browser, &node, "olena", "/petitions").await;
    let back = browser.get(&callback).await;
    assert_eq!(
        back.status(),
        303,
        "{:?}",
        String::from_utf8_lossy(back.body())
    );
    assert_eq!(
        location(&back, &node.url()),
        format!("{}/petitions", node.url())
    );
    let session = browser.session(&node).expect("a session cookie");
    let set_cookie: Vec<&str> = back
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        set_cookie.iter().any(|c| c.starts_with("vk_session=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")),
        "{set_cookie:?}"
    );

    // The page learns who is signed in.
    let me = browser.get(&format!("{}/auth/session", node.url())).await;
    let me: serde_json::Value = serde_json::from_slice(me.body()).unwrap();
    assert_eq!(me["signed_in"], true);
    assert_eq!(me["roles"], serde_json::json!(["moderator"]));

    // The session cookie moderates, as the moderator's own ID token does, with the same
    // staff pseudonym in the log.
    let platform = node.client().await;
    let file = || async {
        platform
            .clone()
            .file_petition(pb::FilePetitionRequest {
                request_id: request_id(),
                author_subject: "platform-resident-1".into(),
                title: "Лавки у сквері".into(),
                text: "Просимо поставити лавки.".into(),
                category: "infrastructure".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .stream_id
    };
    let (first, second) = (file().await, file().await);
    let mut anonymous = node.anonymous_client().await;
    let by_cookie = anonymous
        .publish_petition(with_cookie(
            pb::PublishPetitionRequest {
                request_id: request_id(),
                petition_id: first.clone(),
            },
            &session,
        ))
        .await
        .unwrap()
        .into_inner();
    let token = provider.sign_in(NODE_CLIENT, "olena").await.unwrap();
    let by_token = node::auth::connect(&node.url(), &token, None)
        .await
        .unwrap()
        .publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: second.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let log = node.read_whole_log().await;
    let actor = |seq: u64| {
        let entry = log.iter().find(|e| e.seq == seq).unwrap();
        *domain::schema::open(&entry.envelope)
            .unwrap()
            .event
            .acted_by()
            .unwrap()
    };
    assert_eq!(actor(by_cookie.first_seq), actor(by_token.first_seq));

    // Only a session is taken from the cookie: an API token there is no credential.
    let size = node.log_size();
    let err = anonymous
        .sign_petition(with_cookie(
            pb::SignPetitionRequest {
                request_id: request_id(),
                petition_id: first.clone(),
                signer_subject: "platform-resident-2".into(),
            },
            &node.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert_eq!(node.log_size(), size);

    // A page on another origin cannot use the session: not with a "simple" request the
    // browser sends unasked (a form's content type, gRPC framing in its body)...
    let framed = {
        use prost::Message as _;
        let message = pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: second.clone(),
        }
        .encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend((message.len() as u32).to_be_bytes());
        framed.extend(message);
        String::from_utf8(framed).expect("ASCII ids frame as UTF-8")
    };
    let size = node.log_size();
    let simple = post_form(
        &format!(
            "{}/vidkryto.node.v1.NodeService/PublishPetition",
            node.url()
        ),
        framed,
        &[(http::header::COOKIE, format!("vk_session={session}"))],
    )
    .await
    .unwrap();
    assert_eq!(
        node.log_size(),
        size,
        "a simple request appended: {simple:?}"
    );
    // ...nor with a gRPC call the browser says comes from another origin of the same site.
    let mut cross = with_cookie(
        pb::SignPetitionRequest {
            request_id: request_id(),
            petition_id: first.clone(),
            signer_subject: String::new(),
        },
        &session,
    );
    cross
        .metadata_mut()
        .insert("sec-fetch-site", "same-site".parse().unwrap());
    let err = anonymous.sign_petition(cross).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert_eq!(node.log_size(), size, "nothing appended");

    // Signing out from another site is refused; from the node's pages it ends the session.
    let refused = post_form(
        &format!("{}/auth/sign-out", node.url()),
        String::new(),
        &[
            (http::header::COOKIE, format!("vk_session={session}")),
            (
                http::header::HeaderName::from_static("sec-fetch-site"),
                "cross-site".into(),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 403);
    let out = browser
        .post(&format!("{}/auth/sign-out", node.url()), "")
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(browser.session(&node), None);
    let err = anonymous
        .publish_petition(with_cookie(
            pb::PublishPetitionRequest {
                request_id: request_id(),
                petition_id: second.clone(),
            },
            &session,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert!(err.message().contains("signed out"), "{err:?}");
    // A signed-out cookie still reads as anyone.
    anonymous
        .get_petition(with_cookie(
            pb::GetPetitionRequest {
                petition_id: first.clone(),
            },
            &session,
        ))
        .await
        .expect("a stale cookie does not stop a public read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_misdirected_and_swapped_answers_set_no_session() {
    let (_provider, node) = provider_and_node().await;

    // A replayed answer, with the flow cookie it came with: the provider takes each code
    // once, so no second session is set.
    let mut browser = Browser::default();
    let callback = to_callback(&mut browser, &node, "olena", "/").await;
    let mut replayer = Browser {
        jars: browser.jars.clone(),
    };
    assert_eq!(browser.get(&callback).await.status(), 303);
    let again = replayer.get(&callback).await;
    assert_ne!(
        again.status(),
        303,
        "{:?}",
        String::from_utf8_lossy(again.body())
    );
    assert_eq!(replayer.session(&node), None);

    // An answer brought to another browser (a victim sent an attacker's callback link): the
    // flow cookie is missing, so no one is signed in as the attacker.
    let mut attacker = Browser::default();
    let callback = to_callback(&mut attacker, &node, "olena", "/").await;
    let mut victim = Browser::default();
    let landed = victim.get(&callback).await;
    assert_eq!(landed.status(), 400);
    assert!(String::from_utf8_lossy(landed.body()).contains("not started in this browser"));
    assert_eq!(victim.session(&node), None);

    // A provider's error is shown as its code only, never as text from the address.
    let error = victim
        .get(&format!(
            "{}/auth/callback?error=access_denied&error_description=Call+%2B380+now",
            node.url()
        ))
        .await;
    let page = String::from_utf8_lossy(error.body());
    assert!(
        page.contains("access_denied") && !page.contains("380"),
        "{page}"
    );

    // A code from one sign-in presented under another's state: the provider refuses the
    // exchange (PKCE), and no session is set.
    let mut browser = Browser::default();
    let first = to_callback(&mut browser, &node, "olena", "/").await;
    let second = to_callback(&mut browser, &node, "olena", "/").await;
    let param = |url: &str, name: &str| {
        url.split_once('?')
            .unwrap()
            .1
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let swapped = format!(
        "{}/auth/callback?code={}&state={}",
        node.url(),
        param(&first, "code"),
        param(&second, "state")
    );
    let answer = browser.get(&swapped).await;
    assert_ne!(
        answer.status(),
        303,
        "{:?}",
        String::from_utf8_lossy(answer.body())
    );
    assert_eq!(browser.session(&node), None);

    // A hostile `next` stays on this node.
    let callback = to_callback(&mut browser, &node, "olena", "//evil.example/").await;
    let back = browser.get(&callback).await;
    assert_eq!(location(&back, &node.url()), format!("{}/", node.url()));

    // An answer naming another issuer (a mix-up with another provider) is refused.
    browser
        .jars
        .get_mut(&origin(&node.url()))
        .unwrap()
        .remove("vk_session");
    let callback = to_callback(&mut browser, &node, "olena", "/").await;
    let mixed = callback.replace("&iss=", "&iss=https%3A%2F%2Fevil.example&was=");
    assert!(mixed.contains("iss=https%3A%2F%2Fevil.example"), "{mixed}");
    let answer = browser.get(&mixed).await;
    assert_eq!(
        answer.status(),
        400,
        "{:?}",
        String::from_utf8_lossy(answer.body())
    );
    assert!(String::from_utf8_lossy(answer.body()).contains("issuer"));
    assert_eq!(browser.session(&node), None);
}

/// The nonce: a token the node's own sign-in asked for must carry that sign-in's nonce; one
/// presented as a bearer credential may carry any. (The verifier here has fetched no keys
/// before its first check, which once deadlocked it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_another_sign_ins_nonce_is_refused() {
    let provider = DevProvider::start(&ProviderConfig {
        clients: vec![RegisteredClient::public(NODE_CLIENT)],
        ..ProviderConfig::default()
    })
    .await
    .unwrap();
    let token = provider.sign_in(NODE_CLIENT, "mykola").await.unwrap();
    let claims: serde_json::Value = {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let nonce = claims["nonce"].as_str().expect("the token carries a nonce");
    let settings =
        OidcSettings::new(provider.issuer().into(), NODE_CLIENT.into(), &[], None).unwrap();
    let clock: node::executor::Clock = Arc::new(event_store_core::Timestamp::now);
    let verifier = OidcVerifier::new(settings, clock).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), verifier.verify(&token))
        .await
        .expect("the first check fetches the keys and returns")
        .expect("any nonce as a bearer");
    verifier
        .verify_for(&token, Some(nonce))
        .await
        .expect("its own sign-in's nonce");
    let err = verifier
        .verify_for(&token, Some("another-sign-ins-nonce"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonce"), "{err}");
}
