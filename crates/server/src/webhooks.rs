//! Webhook delivery: Standard Webhooks signatures, SSRF guards, retry schedule.
//!
//! Signatures follow the Standard Webhooks scheme: headers `webhook-id` (the event id, stable
//! across retries, so receivers deduplicate), `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, where the key is
//! the base64 part of the subscription's `whsec_...` secret.
//!
//! SSRF: a webhook URL must be http(s), and every address its host resolves to must be an
//! ordinary public unicast address (see [`is_internal`]: no IANA special-purpose range, no IPv6
//! form that embeds an IPv4 address) unless it is inside `webhook_allowed_networks`. The check
//! runs at creation and
//! again at every delivery, and the request goes to the checked address (the resolution is
//! pinned), so DNS rebinding cannot slip past it; redirects are never followed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A new signing secret, `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> Result<zeroize::Zeroizing<String>, scaivault_crypto::CryptoError> {
    let bytes = scaivault_crypto::random::random_bytes(32)?;
    Ok(zeroize::Zeroizing::new(format!(
        "whsec_{}",
        STANDARD.encode(bytes.as_slice())
    )))
}

/// The `webhook-signature` header value for one delivery.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .map_err(|_| "the webhook secret is not base64".to_owned())?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut message = Vec::with_capacity(id.len() + body.len() + 24);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(hmac::sign(&key, &message).as_ref())
    ))
}

/// IANA allocates only 2000::/3 as IPv6 global unicast (IPv6 Address Space registry).
const IPV6_GLOBAL_UNICAST: ipnet::Ipv6Net =
    ipnet::Ipv6Net::new_assert(std::net::Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// Whether a webhook must not target `ip` (unless an operator allowed its network): anything
/// that is not an ordinary public unicast address.
///
/// - Every range of the IANA IPv4 and IPv6 Special-Purpose Address Registries (loopback,
///   private, shared/CGNAT, link-local, 192.0.0.0/24, documentation, benchmarking, reserved,
///   6to4 2002::/16, Teredo and 2001::/23, ...), as the `iprfc` crate snapshots them, and IPv4
///   multicast (its own registry).
/// - IPv6 outside 2000::/3: besides loopback, unique-local, link-local and multicast this
///   refuses every form that embeds an IPv4 address a gateway or the host stack would reach:
///   IPv4-compatible ::/96, IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96 and
///   NAT64 64:ff9b::/96 and 64:ff9b:1::/48 (`[64:ff9b::a9fe:a9fe]` is the metadata service).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || iprfc::RFC6890.contains(&ip),
        IpAddr::V6(v6) => !IPV6_GLOBAL_UNICAST.contains(&v6) || iprfc::RFC6890.contains(&ip),
    }
}

#[derive(Debug, Clone)]
pub struct WebhookClient {
    http_timeout: Duration,
    allowed: Vec<ipnet::IpNet>,
}

impl WebhookClient {
    pub fn new(http_timeout: Duration, allowed: Vec<ipnet::IpNet>) -> Self {
        Self {
            http_timeout,
            allowed,
        }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Parses and checks a URL; returns the host, port and the addresses to use.
    pub async fn check_url(&self, url: &str) -> Result<(reqwest::Url, Vec<SocketAddr>), String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| "not a valid URL".to_owned())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("the scheme must be http or https".to_owned());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("credentials in the URL are not allowed".to_owned());
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| "the URL has no host".to_owned())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| "the URL has no port".to_owned())?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| format!("cannot resolve {host}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{host} resolves to no address"));
        }
        if let Some(bad) = addrs.iter().find(|a| !self.allowed(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, an internal address (allow it with webhook_allowed_networks)",
                bad.ip()
            ));
        }
        Ok((parsed, addrs))
    }

    /// Checks the URL and returns a client pinned to the checked addresses (redirects off,
    /// keep-alive on): one per delivery round, so consecutive events reuse the connection.
    pub async fn target(&self, url: &str) -> Result<Target, String> {
        let (parsed, addrs) = self.check_url(url).await?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.http_timeout)
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Target {
            url: parsed,
            client,
        })
    }
}

/// A checked webhook endpoint.
#[derive(Debug)]
pub struct Target {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Target {
    /// POSTs one signed event, stamped `now` (from the server's Clock); Ok on a 2xx answer.
    pub async fn deliver(
        &self,
        event_id: &str,
        body: &[u8],
        secret: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), String> {
        let timestamp = now.unix_timestamp();
        let signature = sign(secret, event_id, timestamp, body)?;
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("user-agent", "ScaiVault-Webhooks/1")
            .header("webhook-id", event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "connection failed".to_owned()
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }
}

/// Delay before retry number `attempt` (1-based): `base` doubling, capped at an hour, with
/// +-20% jitter so a receiver coming back is not hit by every subscription at once.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(Duration::from_secs(3600));
    let jitter = scaivault_crypto::random::random_bytes(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .unwrap_or(32768);
    // 0.8 .. 1.2
    let factor = 0.8 + 0.4 * (f64::from(jitter) / f64::from(u16::MAX));
    capped.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// Addresses a webhook must never reach (regression: issue 14 listed the IPv6 forms that
    /// embed internal IPv4 addresses, and reserved ranges, which were accepted).
    const INTERNAL: [&str; 39] = [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "100.64.0.1",
        "192.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fd00::1",
        "fec0::1",
        "ff02::1",
        // IPv4-mapped, IPv4-translated, IPv4-compatible.
        "::ffff:127.0.0.1",
        "::ffff:8.8.8.8",
        "::ffff:0:7f00:1",
        "::7f00:1",
        // NAT64 (well-known and local-use prefixes), 6to4, Teredo.
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::808:808",
        "64:ff9b:1::7f00:1",
        "2002:7f00:1::",
        "2002:808:808::1",
        "2001::1",
        // Other special-purpose IPv6 ranges.
        "100::1",
        "2001:2::1",
        "2001:10::1",
        "2001:db8::1",
        "3fff::1",
        "5f00::1",
        "4000::1",
        "::ffff:a9fe:a9fe",
    ];

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in INTERNAL {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "192.0.3.1",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_to_internal_addresses_are_refused_unless_allowed() {
        let strict = WebhookClient::new(Duration::from_secs(1), vec![]);
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f.1/x",
            "http://[64:ff9b::7f00:1]/x",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "http://[64:ff9b:1::7f00:1]/x",
            "http://[2002:7f00:1::]/x",
            "http://[::7f00:1]/x",
            "http://[::ffff:0:7f00:1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[2001::1]/x",
            "http://[100::1]/x",
            "http://192.0.0.1/x",
            "ftp://example.com/x",
            "http://user:pw@127.0.0.1/x",
            "not a url",
        ] {
            assert!(strict.check_url(url).await.is_err(), "{url}");
            // Delivery checks again (the address a name resolves to may have changed).
            assert!(strict.target(url).await.is_err(), "{url}");
        }
        for url in ["http://1.1.1.1/hook", "https://[2606:4700::1111]:8443/hook"] {
            let (_, addrs) = strict.check_url(url).await.unwrap();
            assert_eq!(addrs.len(), 1, "{url}");
        }
        // An operator's allowed network (the dev `--dev-webhook-network`) opens only itself.
        let allowing =
            WebhookClient::new(Duration::from_secs(1), vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(allowing.check_url("http://127.0.0.1:9/hook").await.is_ok());
        assert!(
            allowing
                .check_url("http://[64:ff9b::7f00:1]:9/hook")
                .await
                .is_err()
        );
        assert!(allowing.check_url("http://10.0.0.1:9/hook").await.is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        let first = backoff(base, 1);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        let tenth = backoff(base, 10);
        assert!(tenth >= Duration::from_secs(409) && tenth <= Duration::from_secs(615));
        assert!(backoff(base, 40) <= Duration::from_secs(4320));
    }
}
