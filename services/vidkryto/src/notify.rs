//! The systemd notification protocol (`sd_notify(3)`), so `vidkryto node run` and
//! `vidkryto association run` can be `Type=notify` services: the service manager starts
//! dependent units only once the service is serving, and knows when it is stopping. A datagram
//! to the Unix socket named by `NOTIFY_SOCKET` (a path, or an abstract name written with a
//! leading `@`); without that variable, nothing is sent. No crate needed: std has Unix
//! datagram sockets.

use std::ffi::OsStr;
use std::io;

/// The environment variable systemd sets for `Type=notify` services.
const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";

/// The service is ready: it serves requests.
pub const READY: &str = "READY=1";
/// The service is shutting down.
pub const STOPPING: &str = "STOPPING=1";

/// Sends `state` (newline-separated `KEY=value` lines, e.g. [`READY`]) to the service manager
/// if it asked for notifications.
pub fn sd_notify(state: &str) -> io::Result<()> {
    match std::env::var_os(NOTIFY_SOCKET_ENV) {
        Some(socket) if !socket.is_empty() => notify_to(&socket, state),
        _ => Ok(()),
    }
}

/// Like [`sd_notify`], logging a failure instead of returning it: a service that cannot tell
/// systemd it is ready still serves, and systemd's start timeout reports the problem.
pub fn sd_notify_logged(state: &str) {
    if let Err(e) = sd_notify(state) {
        tracing::warn!(error = %e, state, "failed to notify the service manager");
    }
}

/// Sends `state` as one datagram to `socket`: a filesystem path, or an abstract socket name
/// after a leading `@` (Linux).
pub fn notify_to(socket: &OsStr, state: &str) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::net::UnixDatagram;

    let sender = UnixDatagram::unbound()?;
    let bytes = socket.as_bytes();
    let sent = match bytes.strip_prefix(b"@") {
        Some(name) => send_abstract(&sender, name, state.as_bytes())?,
        None => sender.send_to(state.as_bytes(), std::path::Path::new(socket))?,
    };
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", state.len()),
        ));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn send_abstract(
    sender: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    message: &[u8],
) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt as _;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sender.send_to_addr(message, &address)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(
    _sender: &std::os::unix::net::UnixDatagram,
    _name: &[u8],
    _message: &[u8],
) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets exist only on Linux",
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    use super::*;

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0_u8; 256];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn ready_and_stopping_reach_a_socket_at_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let manager = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), READY).unwrap();
        assert_eq!(receive(&manager), "READY=1");
        notify_to(path.as_os_str(), STOPPING).unwrap();
        assert_eq!(receive(&manager), "STOPPING=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_abstract_socket_is_named_with_a_leading_at() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("vidkryto-notify-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let manager = UnixDatagram::bind_addr(&address).unwrap();
        notify_to(OsStr::new(&format!("@{name}")), "READY=1\nSTATUS=serving").unwrap();
        assert_eq!(receive(&manager), "READY=1\nSTATUS=serving");
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nobody-listens.sock");
        assert!(notify_to(missing.as_os_str(), READY).is_err());
    }
}
