//! Where a credential may be taken: the association's admin token and a node's ID tokens, API
//! tokens and passwords travel only over TLS, or over plain text from a loopback peer, where
//! they never leave the machine.

use std::net::{IpAddr, SocketAddr};

/// Whether a credential may be taken on a connection from `peer`: over TLS always; over plain
/// text only from a loopback address (IPv4 `127.0.0.0/8`, IPv6 `::1`, or either mapped into
/// IPv6). An unknown peer over plain text is refused.
pub fn credentials_transport_allowed(peer: Option<SocketAddr>, tls: bool) -> bool {
    tls || peer.is_some_and(|p| is_loopback(p.ip()))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Equality of two secrets (a nonce, a sign-in's state) in time that depends only on their
/// lengths, so a comparison tells an attacker nothing of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(text: &str) -> Option<SocketAddr> {
        Some(text.parse().expect("a socket address"))
    }

    #[test]
    fn credentials_over_plain_text_are_taken_only_from_loopback() {
        for loopback in [
            "127.0.0.1:50000",
            "127.8.9.10:1",
            "[::1]:50000",
            "[::ffff:127.0.0.1]:50000",
        ] {
            assert!(
                credentials_transport_allowed(peer(loopback), false),
                "{loopback}"
            );
            assert!(
                credentials_transport_allowed(peer(loopback), true),
                "{loopback}"
            );
        }
        for remote in [
            "10.0.0.7:50000",
            "192.168.1.20:443",
            "0.0.0.0:1",
            "203.0.113.9:50000",
            "[2001:db8::1]:50000",
            "[::ffff:10.0.0.7]:50000",
            "[::]:1",
            "[fe80::1]:50000",
        ] {
            assert!(
                !credentials_transport_allowed(peer(remote), false),
                "{remote}"
            );
            assert!(
                credentials_transport_allowed(peer(remote), true),
                "{remote} over TLS"
            );
        }
        assert!(!credentials_transport_allowed(None, false));
        assert!(credentials_transport_allowed(None, true));
    }
}
