//! A PostgreSQL cluster of a test's own (TLS tests, health tests that stop the database).

use std::path::PathBuf;
use std::process::Command;

use testkit::ServerCert;

use crate::owner_only;

/// The server binaries of the newest PostgreSQL installed (Debian's layout,
/// `/usr/lib/postgresql/<major>/bin`), if `initdb` is among them.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// The binaries, or why these tests cannot run here (printed, so the skip is never silent).
pub fn postgres_or_skip(test: &str) -> Option<PathBuf> {
    let bin = postgres_bin_dir();
    if bin.is_none() {
        eprintln!(
            "SKIPPED {test}: no initdb under /usr/lib/postgresql/*/bin, so no throwaway \
             PostgreSQL cluster can be started (deploy/local/setup.sh installs Debian's \
             postgresql package, which has it)"
        );
    }
    bin
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A PostgreSQL cluster of its own in a temporary directory, on a free loopback port, with
/// trust authentication, stopped when dropped. PostgreSQL refuses to run as root, so under root
/// its files belong to, and its programs run as, the `postgres` user.
#[derive(Debug)]
pub struct ThrowawayPg {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl ThrowawayPg {
    /// Starts a cluster; with `cert` it serves TLS (`ssl=on`) with that certificate.
    pub async fn start(bin: PathBuf, cert: Option<&ServerCert>) -> Self {
        let port = testkit::free_loopback_ports(1).await.unwrap()[0];
        let dir = tempfile::Builder::new()
            .prefix("vidkryto-pg-")
            .tempdir()
            .unwrap();
        let pg = Self {
            bin,
            dir,
            port,
            as_postgres: running_as_root(),
        };
        if pg.as_postgres {
            pg.chown();
        }
        pg.run(
            "initdb",
            &[
                "-D",
                pg.data().to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        let mut conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 50\n",
            pg.dir.path().display()
        );
        match cert {
            Some(cert) => {
                std::fs::copy(&cert.cert_file, pg.data().join("server.crt")).unwrap();
                std::fs::copy(&cert.key_file, pg.data().join("server.key")).unwrap();
                owner_only(&pg.data().join("server.key"));
                conf.push_str(
                    "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                );
            }
            None => conf.push_str("ssl = off\n"),
        }
        let conf_file = pg.data().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_file).unwrap();
        text.push_str(&conf);
        std::fs::write(&conf_file, text).unwrap();
        if pg.as_postgres {
            pg.chown();
        }
        pg.start_again();
        pg
    }

    /// Starts the cluster (again, after [`Self::stop`]) and waits until it accepts
    /// connections.
    pub fn start_again(&self) {
        let log = self.dir.path().join("server.log");
        let started = self
            .command("pg_ctl")
            .args(["-D", self.data().to_str().unwrap()])
            .args(["-l", log.to_str().unwrap()])
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}{}\n{}",
            String::from_utf8_lossy(&started.stdout),
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the cluster at once (connections are cut, as when the server is lost).
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn chown(&self) {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "chown -R postgres {}",
            self.dir.path().display()
        );
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        command.current_dir(self.dir.path());
        command
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A URL of database `db` on this cluster with the given query.
    pub fn url(&self, db: &str, query: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}?{query}", self.port)
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        self.stop();
    }
}
