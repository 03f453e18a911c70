//! The client address a request is attributed to: the key of the per-IP rate limits and the
//! `client_ip` of audit entries.
//!
//! By default it is the TCP peer. Behind reverse proxies listed in `trusted_proxies`, the
//! `X-Forwarded-For` chain is walked from the right (the hop nearest to this server) past every
//! trusted proxy, and the first address that is not one is the client, as nginx's
//! `real_ip_recursive on` and Vault's `x_forwarded_for_authorized_addrs` do. Anyone can write the
//! header, so it is ignored when the peer is not a trusted proxy, and only the hops appended by
//! trusted proxies are believed: a client cannot pick its own key by prepending addresses.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The networks of the reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer` (the TCP peer's address), given the request's headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        // Several header lines form one list, in order (RFC 9110, 5.3): walk them backwards.
        for line in headers.get_all(X_FORWARDED_FOR).iter().rev() {
            let Ok(line) = line.to_str() else {
                return client;
            };
            for hop in line.rsplit(',') {
                // An unreadable hop ends the walk at the last hop a trusted proxy vouched for.
                let Some(ip) = parse_hop(hop) else {
                    return client;
                };
                client = ip;
                if !self.trusts(ip) {
                    return client;
                }
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn xff(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.1"), &xff(&["1.1.1.1"])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_forged_header_from_an_untrusted_peer_is_ignored() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &xff(&["1.1.1.1"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client prepended a forged address; the proxies appended the real ones.
        let headers = xff(&["6.6.6.6, 198.51.100.7, 10.1.1.1"]);
        assert_eq!(
            trusted.client(ip("192.168.1.1"), &headers),
            ip("198.51.100.7")
        );
        // Several header lines are one list.
        let headers = xff(&["6.6.6.6", "198.51.100.7", "10.1.1.1"]);
        assert_eq!(trusted.client(ip("10.2.2.2"), &headers), ip("198.51.100.7"));
        // Ports and brackets, IPv6 and IPv4-mapped peers.
        let headers = xff(&["[2001:db8::5]:443"]);
        assert_eq!(trusted.client(ip("10.2.2.2"), &headers), ip("2001:db8::5"));
        let headers = xff(&["198.51.100.7:5678"]);
        assert_eq!(
            trusted.client(ip("::ffff:10.2.2.2"), &headers),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_chain_of_only_trusted_hops_or_a_missing_header_ends_at_the_last_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &xff(&["10.0.0.3, 10.0.0.2"])),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_vouched_for_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &xff(&["1.1.1.1, unknown, 10.0.0.2"])),
            ip("10.0.0.2")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &xff(&["not an address"])),
            ip("10.0.0.1")
        );
    }
}
