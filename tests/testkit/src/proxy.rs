//! A TCP forwarder on a free loopback port that a test can cut and restore, to play a network
//! link going down (a hromada's leaf node losing its connection to the association's hub)
//! while the processes on both ends keep running.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Connections forwarded at once; more wait in the listener's backlog.
const CONNECTIONS_MAX: usize = 64;

/// Forwards every connection to `target` until cut. Stops on drop.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("failed to bind the proxy")?;
        let port = listener.local_addr()?.port();
        let (up, up_rx) = watch::channel(true);
        let task = tokio::spawn(accept(listener, target, up_rx));
        Ok(Self { port, up, task })
    }

    /// The port to connect to instead of the target's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every forwarded connection and refuses new ones (they are accepted and closed at
    /// once, as a dead link looks to a client that reconnects).
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.up.send_replace(false);
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, up: watch::Receiver<bool>) {
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        if !*up.borrow() {
            drop(inbound);
            continue;
        }
        let mut up = up.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let (mut inbound, mut outbound) = (inbound, outbound);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = up.wait_for(|up| !*up) => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0_u8; 64];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(port: u16) -> Option<Vec<u8>> {
        let attempt = async {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
            stream.write_all(b"ping").await.ok()?;
            let mut buf = [0_u8; 4];
            stream.read_exact(&mut buf).await.ok()?;
            Some(buf.to_vec())
        };
        tokio::time::timeout(Duration::from_secs(2), attempt)
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn forwards_until_cut_and_again_once_restored() {
        let proxy = TcpProxy::start(echo_server().await).await.unwrap();
        assert_eq!(
            round_trip(proxy.port()).await.as_deref(),
            Some(&b"ping"[..])
        );

        let mut open = TcpStream::connect(("127.0.0.1", proxy.port()))
            .await
            .unwrap();
        open.write_all(b"ping").await.unwrap();
        let mut buf = [0_u8; 4];
        open.read_exact(&mut buf).await.unwrap();
        proxy.cut();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), open.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "the open connection is dropped"
        );
        assert_eq!(round_trip(proxy.port()).await, None);

        proxy.restore();
        assert_eq!(
            round_trip(proxy.port()).await.as_deref(),
            Some(&b"ping"[..])
        );
    }
}
