//! Webhook delivery: Standard Webhooks signatures, SSRF guards, retry schedule.
//!
//! Signatures follow the Standard Webhooks scheme: headers `webhook-id` (the event id, stable
//! across retries, so receivers deduplicate), `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, where the key is
//! the base64 part of the subscription's `whsec_...` secret.
//!
//! SSRF: a webhook URL must be http(s), and every address its host resolves to must be public
//! (no loopback, private, link-local, unique-local, unspecified, multicast, documentation or
//! CGNAT ranges) unless it is inside `webhook_allowed_networks`. The check runs at creation and
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

/// Whether an address is reachable only inside a host or private network.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
                || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link local fe80::/10
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
        }
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
    /// POSTs one signed event; Ok on a 2xx answer.
    pub async fn deliver(&self, event_id: &str, body: &[u8], secret: &str) -> Result<(), String> {
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
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

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
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
            "ftp://example.com/x",
            "http://user:pw@127.0.0.1/x",
            "not a url",
        ] {
            assert!(strict.check_url(url).await.is_err(), "{url}");
        }
        let allowing =
            WebhookClient::new(Duration::from_secs(1), vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(allowing.check_url("http://127.0.0.1:9/hook").await.is_ok());
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
