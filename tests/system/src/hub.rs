//! The association's hub as deployed: three NATS servers rendered from `deploy/nats/hub`
//! (JetStream R3, routes between them, a leaf port for the hromadas' nodes with a certificate
//! issued by the association's CA), for the tests that run nodes as leaves of it.

use std::time::Duration;

use testkit::{NatsServer, TestCa, free_loopback_ports};

use crate::render_deploy_template;

/// Servers in the hub.
pub const HUB_SERVERS: usize = 3;
/// Times the hub is started on newly chosen ports when one was taken meanwhile.
const HUB_START_ATTEMPTS: u32 = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The JetStream domain of a hromada's leaf server.
pub const DOMAIN_TEMPLATE: &str = "muni_{code}";
/// The association's password on the hub.
pub const ASSOCIATION_PASSWORD: &str = "association-secret";

/// A hromada's leaf password on the hub.
pub fn leaf_password(katottg: &str) -> String {
    format!("leaf-secret-{katottg}")
}

/// A hromada's JetStream domain.
pub fn domain(katottg: &str) -> String {
    DOMAIN_TEMPLATE.replace("{code}", katottg)
}

/// The hub's three servers, their leaf port's certificate issued by the association's CA.
#[derive(Debug)]
pub struct Hub {
    pub servers: Vec<NatsServer>,
    pub leaf_ports: Vec<u16>,
    pub ca: TestCa,
}

impl Hub {
    /// Starts the hub with a leaf user for each of `hromadas` and waits until every server is
    /// healthy.
    pub async fn start(hromadas: &[&str]) -> Self {
        let ca = TestCa::new("vidkryto association CA").unwrap();
        // The leaves reach the hub at 127.0.0.1 (through a proxy), the name it must prove.
        let cert = ca.server_cert("hub-leafnodes", &["127.0.0.1"]).unwrap();
        let (cert_file, key_file) = (
            cert.cert_file.display().to_string(),
            cert.key_file.display().to_string(),
        );
        let mut leaf_users = String::new();
        for katottg in hromadas {
            leaf_users.push_str(&render_deploy_template(
                "nats/hub/leaf-user.conf.template",
                &[
                    ("KATOTTG", katottg),
                    ("LEAF_PASSWORD", &leaf_password(katottg)),
                    ("JS_DOMAIN", &domain(katottg)),
                ],
            ));
        }
        let users = render_deploy_template(
            "nats/hub/federation-users.conf.template",
            &[
                ("ASSOCIATION_PASSWORD", ASSOCIATION_PASSWORD),
                ("LEAF_USERS", &leaf_users),
            ],
        );
        let mut attempt = 0;
        let (servers, leaf) = 'attempts: loop {
            attempt += 1;
            let ports = free_loopback_ports(4 * HUB_SERVERS).await.unwrap();
            let (client, rest) = ports.split_at(HUB_SERVERS);
            let (monitor, rest) = rest.split_at(HUB_SERVERS);
            let (cluster, leaf) = rest.split_at(HUB_SERVERS);
            let routes: Vec<String> = cluster
                .iter()
                .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            let routes = routes.join(", ");
            // The servers start one after another; JetStream waits for a quorum, checked below.
            let mut servers = Vec::new();
            for i in 0..HUB_SERVERS {
                let server = NatsServer::start_with_config(client[i], monitor[i], |dir| {
                    std::fs::write(dir.join("federation-users.conf"), &users).unwrap();
                    render_deploy_template(
                        "nats/hub/hub.conf.template",
                        &[
                            ("SERVER_NAME", &format!("hub-{}", i + 1)),
                            ("CLIENT_LISTEN", &format!("127.0.0.1:{}", client[i])),
                            ("MONITOR_LISTEN", &format!("127.0.0.1:{}", monitor[i])),
                            ("STORE_DIR", &dir.join("store").display().to_string()),
                            ("MAX_FILE_STORE", "1G"),
                            ("CLUSTER_LISTEN", &format!("127.0.0.1:{}", cluster[i])),
                            ("ROUTES", &routes),
                            ("LEAF_LISTEN", &format!("127.0.0.1:{}", leaf[i])),
                            ("LEAF_TLS_CERT_FILE", &cert_file),
                            ("LEAF_TLS_KEY_FILE", &key_file),
                            ("SYS_PASSWORD", "sys-secret"),
                        ],
                    )
                })
                .await;
                match server {
                    Ok(server) => servers.push(server),
                    // A port chosen free was taken before the server bound it (another test's
                    // outgoing connection can get it from the kernel): choose them all again.
                    Err(e)
                        if attempt < HUB_START_ATTEMPTS
                            && format!("{e:#}").contains("address already in use") =>
                    {
                        eprintln!("hub start, attempt {attempt}: {e:#}");
                        continue 'attempts;
                    }
                    Err(e) => panic!("hub-{} did not start: {e:#}", i + 1),
                }
            }
            break (servers, leaf.to_vec());
        };
        for server in &servers {
            server.wait_healthy(READY_TIMEOUT).await.unwrap();
        }
        Self {
            servers,
            leaf_ports: leaf,
            ca,
        }
    }

    /// A client of the hub as the association's user.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::ConnectOptions::with_user_and_password(
            "association".into(),
            ASSOCIATION_PASSWORD.into(),
        )
        .connect(format!("nats://127.0.0.1:{}", self.servers[0].port()))
        .await
        .unwrap()
    }

    /// JetStream of the hub as the association's user.
    pub async fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client().await)
    }

    /// The association's URL of the hub, with its credentials.
    pub fn association_url(&self) -> String {
        format!(
            "nats://association:{ASSOCIATION_PASSWORD}@127.0.0.1:{}",
            self.servers[0].port()
        )
    }
}
