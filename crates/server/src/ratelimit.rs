//! Request rate limits: GCRA (the generic cell rate algorithm, a leaky bucket without a timer)
//! through the `governor` crate, one keyed limiter per dimension:
//!
//! - `identity`: per authenticated identity, keyed by (tenant, identity id); off by default.
//! - `tenant`: per target tenant, across all its identities; off by default.
//! - `unauthenticated`: per client IP for requests without a valid credential; 20/s, burst 50.
//! - `auth_failures`: per client IP, failed authentications only; 2/s, burst 10. Once exhausted,
//!   a further failure from that IP answers 429 instead of 401 until a cell replenishes. It only
//!   slows failures: a request with a valid credential is never refused by it (behind a proxy,
//!   or on a shared NAT, one guesser must not lock out every client of the address).
//!
//! IP keys are IPv4 addresses, or the /64 prefix of an IPv6 address (one host usually owns a
//! whole /64); IPv4-mapped IPv6 addresses count as their IPv4 address. The address is the
//! client's as [`crate::client_ip`] resolves it (the peer, or behind `trusted_proxies` the
//! `X-Forwarded-For` client).
//!
//! Limits are kept in memory, per node: behind a load balancer spreading requests over N nodes
//! a client may get up to N times the configured rate and burst (N x the limit is the bound;
//! with sticky routing it is close to 1x). Idle keys are dropped by [`RateLimiter::housekeeping`].
//!
//! Time comes from the server's [`scaivault_core::Clock`], so the dev test clock drives the
//! limits as it drives expiry (a test advances the clock instead of waiting for a refill).

use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use governor::clock::Clock as _;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{NotUntil, Quota};
use scaivault_proto::ErrorCode;

use crate::error::ApiError;

const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");

/// One limit: `per_second` sustained rate with a `burst`. `per_second == 0` means off;
/// `burst == 0` (or absent) means a burst of `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub per_second: u32,
    #[serde(default)]
    pub burst: u32,
}

impl Limit {
    /// A limit that never refuses.
    pub const OFF: Self = Self {
        per_second: 0,
        burst: 0,
    };

    /// The governor quota, `None` when the limit is off.
    fn quota(self) -> Option<Quota> {
        let rate = NonZeroU32::new(self.per_second)?;
        let burst = NonZeroU32::new(self.burst).unwrap_or(rate);
        Some(Quota::per_second(rate).allow_burst(burst))
    }
}

/// The limits of all dimensions. Missing dimensions take their defaults.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Per authenticated identity (identity id + tenant).
    pub identity: Limit,
    /// Per target tenant.
    pub tenant: Limit,
    /// Per client IP, requests that carry no valid credential.
    pub unauthenticated: Limit,
    /// Per client IP, failed authentications only.
    pub auth_failures: Limit,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            identity: Limit::OFF,
            tenant: Limit::OFF,
            unauthenticated: Limit {
                per_second: 20,
                burst: 50,
            },
            auth_failures: Limit {
                per_second: 2,
                burst: 10,
            },
        }
    }
}

/// What a rate-limited request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// An authenticated identity: (tenant, identity id).
    Identity(&'a str, &'a str),
    /// A target tenant.
    Tenant(&'a str),
    /// A client IP of an unauthenticated request.
    Ip(IpAddr),
}

/// What a successful check leaves for the X-RateLimit-* headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// The burst capacity of the limit.
    pub limit: u32,
    /// Requests that may still be made right now.
    pub remaining: u32,
}

/// A refusal: how long to wait, and the limit that was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The burst capacity of the limit that was hit.
    pub limit: u32,
    /// How long until one more request would be allowed.
    pub retry_after: Duration,
}

/// The in-memory limiters of all dimensions; cheap to share (`Arc`) between requests.
pub struct RateLimiter {
    config: RateLimitConfig,
    identity: Option<Dimension<IdentityKey>>,
    tenant: Option<Dimension<String>>,
    unauthenticated: Option<Dimension<IpAddr>>,
    auth_failures: Option<Dimension<IpAddr>>,
}

/// Without the keys: identities and client addresses do not belong in logs.
impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .field(
                "identity_keys",
                &self.identity.as_ref().map(|d| d.inner.len()),
            )
            .field("tenant_keys", &self.tenant.as_ref().map(|d| d.inner.len()))
            .field(
                "unauthenticated_keys",
                &self.unauthenticated.as_ref().map(|d| d.inner.len()),
            )
            .field(
                "auth_failure_keys",
                &self.auth_failures.as_ref().map(|d| d.inner.len()),
            )
            .finish()
    }
}

impl RateLimiter {
    /// Limiters for `config`, reading the time from `clock` (the server's).
    pub fn new(config: &RateLimitConfig, clock: Arc<dyn scaivault_core::Clock>) -> Self {
        let clock = LimiterClock(clock);
        Self {
            config: config.clone(),
            identity: Dimension::new(config.identity, &clock),
            tenant: Dimension::new(config.tenant, &clock),
            unauthenticated: Dimension::new(config.unauthenticated, &clock),
            auth_failures: Dimension::new(config.auth_failures, &clock),
        }
    }

    /// The configuration this limiter was built from.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Checks (and consumes one cell of) one dimension's limit for `key` (`Key::Ip` counts
    /// against the unauthenticated limit). `Ok(None)` when that dimension is off.
    pub fn check(&self, key: Key<'_>) -> Result<Option<Allowance>, Refusal> {
        let result = self.check_dimension(key);
        if result.is_err() {
            let dimension = match key {
                Key::Identity(..) => "identity",
                Key::Tenant(_) => "tenant",
                Key::Ip(_) => "unauthenticated",
            };
            metrics::counter!("scaivault_rate_limit_refusals_total", "dimension" => dimension)
                .increment(1);
        }
        result
    }

    fn check_dimension(&self, key: Key<'_>) -> Result<Option<Allowance>, Refusal> {
        match key {
            Key::Identity(tenant, identity) => self
                .identity
                .as_ref()
                .map(|d| d.check(&IdentityKey::new(tenant, identity)))
                .transpose(),
            Key::Tenant(tenant) => self
                .tenant
                .as_ref()
                .map(|d| d.check(&tenant.to_owned()))
                .transpose(),
            Key::Ip(ip) => self
                .unauthenticated
                .as_ref()
                .map(|d| d.check(&ip_key(ip)))
                .transpose(),
        }
    }

    /// Checks (and consumes one cell of) the authenticated limits: the identity's, then the
    /// tenant's. Returns the tightest remaining allowance (None when both are off), or the
    /// refusal of the first exhausted one (a refusal by the tenant limit still spends the
    /// identity's cell).
    pub fn check_authenticated(
        &self,
        tenant: &str,
        identity: &str,
    ) -> Result<Option<Allowance>, Refusal> {
        let by_identity = self.check(Key::Identity(tenant, identity))?;
        let by_tenant = self.check(Key::Tenant(tenant))?;
        Ok(match (by_identity, by_tenant) {
            (Some(a), Some(b)) => Some(if b.remaining < a.remaining { b } else { a }),
            (a, b) => a.or(b),
        })
    }

    /// Checks (and consumes one cell of) the limit of a request from `ip` without a valid
    /// credential.
    pub fn check_unauthenticated(&self, ip: IpAddr) -> Result<Option<Allowance>, Refusal> {
        self.check(Key::Ip(ip))
    }

    /// Records a failed authentication from `ip`; Err when this IP has failed too often (the
    /// caller answers 429 instead of 401, which slows down guessing). Call it for failures
    /// only: successful authentications are never counted nor refused.
    pub fn record_auth_failure(&self, ip: IpAddr) -> Result<(), Refusal> {
        let result = match &self.auth_failures {
            Some(d) => d.check(&ip_key(ip)).map(|_| ()),
            None => Ok(()),
        };
        if result.is_err() {
            metrics::counter!("scaivault_rate_limit_refusals_total", "dimension" => "auth_failures")
                .increment(1);
        }
        result
    }

    /// Drops idle keys (those whose state equals a fresh one) and returns their memory; call
    /// periodically (e.g. every minute) to keep memory bounded.
    pub fn housekeeping(&self) {
        if let Some(d) = &self.identity {
            d.inner.retain_recent();
            d.inner.shrink_to_fit();
        }
        if let Some(d) = &self.tenant {
            d.inner.retain_recent();
            d.inner.shrink_to_fit();
        }
        if let Some(d) = &self.unauthenticated {
            d.inner.retain_recent();
            d.inner.shrink_to_fit();
        }
        if let Some(d) = &self.auth_failures {
            d.inner.retain_recent();
            d.inner.shrink_to_fit();
        }
    }
}

/// Adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` to a response.
pub fn allowance_headers(headers: &mut HeaderMap, a: Allowance) {
    headers.insert(X_RATELIMIT_LIMIT, HeaderValue::from(a.limit));
    headers.insert(X_RATELIMIT_REMAINING, HeaderValue::from(a.remaining));
}

/// Builds the 429 response: the usual JSON error body (code `rate_limited`) with `Retry-After`
/// (whole seconds, rounded up, at least 1), `X-RateLimit-Limit` and `X-RateLimit-Remaining: 0`.
pub fn refusal_response(r: Refusal) -> Response {
    let seconds = retry_after_seconds(r.retry_after);
    let mut response = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests; retry after {seconds} s"),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    allowance_headers(
        headers,
        Allowance {
            limit: r.limit,
            remaining: 0,
        },
    );
    response
}

fn retry_after_seconds(d: Duration) -> u64 {
    let rounded_up = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    rounded_up.max(1)
}

/// The key of a client address: the IPv4 address, or the /64 network of an IPv6 address.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
        },
    }
}

/// (tenant, identity id) in one allocation; `split` keeps the pair unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct IdentityKey {
    joined: String,
    split: usize,
}

impl IdentityKey {
    fn new(tenant: &str, identity: &str) -> Self {
        let mut joined = String::with_capacity(tenant.len() + identity.len());
        joined.push_str(tenant);
        joined.push_str(identity);
        Self {
            joined,
            split: tenant.len(),
        }
    }
}

fn refusal<P: governor::clock::Reference>(limit: u32, not_until: &NotUntil<P>, now: P) -> Refusal {
    Refusal {
        limit,
        retry_after: not_until.wait_time_from(now),
    }
}

/// The server's Clock as governor's time source. An instant is the time since the Unix epoch;
/// should the wall clock step back, governor's saturating arithmetic only makes a key wait
/// longer, never refill early.
#[derive(Debug, Clone)]
struct LimiterClock(Arc<dyn scaivault_core::Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let since_epoch = self.0.now() - time::OffsetDateTime::UNIX_EPOCH;
        Duration::try_from(since_epoch).unwrap_or(Duration::ZERO)
    }
}

/// One dimension: a keyed governor limiter and its burst (for the headers).
struct Dimension<K: Hash + Eq + Clone> {
    inner: governor::RateLimiter<K, DashMapStateStore<K>, LimiterClock, StateInformationMiddleware>,
    limit: u32,
}

impl<K: Hash + Eq + Clone> Dimension<K> {
    fn new(limit: Limit, clock: &LimiterClock) -> Option<Self> {
        let quota = limit.quota()?;
        Some(Self {
            inner: governor::RateLimiter::dashmap_with_clock(quota, clock.clone())
                .with_middleware(),
            limit: quota.burst_size().get(),
        })
    }

    fn check(&self, key: &K) -> Result<Allowance, Refusal> {
        match self.inner.check_key(key) {
            Ok(snapshot) => Ok(Allowance {
                limit: self.limit,
                remaining: snapshot.remaining_burst_capacity(),
            }),
            Err(not_until) => Err(refusal(self.limit, &not_until, self.inner.clock().now())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use axum::http::StatusCode;
    use scaivault_core::ManualClock;

    use super::*;

    fn limit(per_second: u32, burst: u32) -> Limit {
        Limit { per_second, burst }
    }

    /// A limiter with only the limits `f` sets, on a clock that stands still.
    fn only(f: impl FnOnce(&mut RateLimitConfig)) -> RateLimiter {
        only_on_clock(f).0
    }

    /// As [`only`], with the manual clock that drives it.
    fn only_on_clock(f: impl FnOnce(&mut RateLimitConfig)) -> (RateLimiter, Arc<ManualClock>) {
        let mut config = RateLimitConfig {
            identity: Limit::OFF,
            tenant: Limit::OFF,
            unauthenticated: Limit::OFF,
            auth_failures: Limit::OFF,
        };
        f(&mut config);
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        ));
        (RateLimiter::new(&config, clock.clone()), clock)
    }

    /// Moves `clock` forward by a std `Duration`.
    fn advance(clock: &ManualClock, by: Duration) {
        clock.advance(time::Duration::try_from(by).unwrap());
    }

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn defaults() {
        let c = RateLimitConfig::default();
        assert_eq!(c.identity, Limit::OFF);
        assert_eq!(c.tenant, Limit::OFF);
        assert_eq!(c.unauthenticated, limit(20, 50));
        assert_eq!(c.auth_failures, limit(2, 10));
    }

    #[test]
    fn deserializes_partial_config() {
        let c: RateLimitConfig = serde_json::from_str(r#"{"identity":{"per_second":5}}"#).unwrap();
        assert_eq!(c.identity, limit(5, 0));
        assert_eq!(
            c.unauthenticated,
            RateLimitConfig::default().unauthenticated
        );
        assert!(serde_json::from_str::<RateLimitConfig>(r#"{"idnetity":{}}"#).is_err());
        // burst 0 means a burst of per_second.
        let l = RateLimiter::new(
            &c,
            Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH)),
        );
        let a = l.check_authenticated("t", "i").unwrap().unwrap();
        assert_eq!(
            a,
            Allowance {
                limit: 5,
                remaining: 4
            }
        );
    }

    #[test]
    fn burst_then_refusal_then_recovery() {
        let (l, clock) = only_on_clock(|c| c.unauthenticated = limit(2, 3));
        for remaining in [2, 1, 0] {
            let a = l.check_unauthenticated(IP).unwrap().unwrap();
            assert_eq!(
                a,
                Allowance {
                    limit: 3,
                    remaining
                }
            );
        }
        let r = l.check_unauthenticated(IP).unwrap_err();
        assert_eq!(r.limit, 3);
        assert!(r.retry_after > Duration::ZERO, "{r:?}");
        assert!(r.retry_after <= Duration::from_secs(1), "{r:?}");
        // Another client is unaffected.
        assert!(l.check_unauthenticated(OTHER_IP).is_ok());

        // Not a moment before the refusal said, and then at once.
        advance(&clock, r.retry_after - Duration::from_micros(1));
        assert!(l.check_unauthenticated(IP).is_err());
        advance(&clock, Duration::from_micros(1));
        assert!(l.check_unauthenticated(IP).is_ok());
    }

    #[test]
    fn off_limits_always_allow() {
        let l = only(|_| {});
        for _ in 0..1000 {
            assert_eq!(l.check_authenticated("t", "i"), Ok(None));
            assert_eq!(l.check_unauthenticated(IP), Ok(None));
            assert_eq!(l.record_auth_failure(IP), Ok(()));
        }
        l.housekeeping();
    }

    #[test]
    fn identity_limits_are_per_tenant_and_identity() {
        let l = only(|c| c.identity = limit(1, 2));
        assert!(l.check_authenticated("t1", "alice").is_ok());
        assert!(l.check_authenticated("t1", "alice").is_ok());
        assert!(l.check_authenticated("t1", "alice").is_err());
        // Another identity, the same identity id in another tenant, and a pair that
        // concatenates to the same string, all have their own budget.
        assert!(l.check_authenticated("t1", "bob").is_ok());
        assert!(l.check_authenticated("t2", "alice").is_ok());
        assert!(l.check_authenticated("t1a", "lice").is_ok());
    }

    #[test]
    fn tenant_limit_spans_identities() {
        let l = only(|c| {
            c.identity = limit(100, 100);
            c.tenant = limit(1, 3);
        });
        // The tighter (tenant) allowance is reported.
        let a = l.check_authenticated("t1", "alice").unwrap().unwrap();
        assert_eq!(
            a,
            Allowance {
                limit: 3,
                remaining: 2
            }
        );
        assert!(l.check_authenticated("t1", "bob").is_ok());
        assert!(l.check_authenticated("t1", "carol").is_ok());
        let r = l.check_authenticated("t1", "dave").unwrap_err();
        assert_eq!(r.limit, 3);
        assert!(l.check_authenticated("t2", "alice").is_ok());
    }

    #[test]
    fn auth_failures_are_limited_per_ip() {
        let l = only(|c| c.auth_failures = limit(1, 3));
        for _ in 0..3 {
            assert_eq!(l.record_auth_failure(IP), Ok(()));
        }
        // Burst spent: further failures are refused (429) until a cell replenishes, and a
        // refusal does not push that moment further out.
        let first = l.record_auth_failure(IP).unwrap_err();
        assert_eq!(first.limit, 3);
        assert!(first.retry_after > Duration::ZERO && first.retry_after <= Duration::from_secs(1));
        let second = l.record_auth_failure(IP).unwrap_err();
        assert!(second.retry_after <= first.retry_after);
        // Other clients are not affected.
        assert_eq!(l.record_auth_failure(OTHER_IP), Ok(()));
        // Authenticated requests and requests without a credential are other budgets: the
        // failure limit never refuses them.
        assert_eq!(l.check_unauthenticated(IP), Ok(None));
        assert_eq!(l.check_authenticated("t", "i"), Ok(None));
    }

    #[test]
    fn ipv6_is_keyed_by_64_prefix() {
        let l = only(|c| c.auth_failures = limit(1, 1));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(l.record_auth_failure(a), Ok(()));
        assert!(l.record_auth_failure(b).is_err());
        assert_eq!(l.record_auth_failure(c), Ok(()));

        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(ip_key(mapped), IP);
        assert_eq!(
            ip_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn housekeeping_drops_idle_keys() {
        let (l, clock) = only_on_clock(|c| {
            c.unauthenticated = limit(1000, 1);
            c.auth_failures = limit(1000, 1);
        });
        l.check_unauthenticated(IP).unwrap();
        l.record_auth_failure(IP).unwrap();
        let unauthenticated = l.unauthenticated.as_ref().unwrap();
        let failures = l.auth_failures.as_ref().unwrap();
        assert_eq!(unauthenticated.inner.len(), 1);
        assert_eq!(failures.inner.len(), 1);
        // Not idle yet: each key has just spent its one-cell burst.
        l.housekeeping();
        assert_eq!(unauthenticated.inner.len(), 1);
        advance(&clock, Duration::from_millis(10));
        l.housekeeping();
        assert_eq!(unauthenticated.inner.len(), 0);
        assert_eq!(failures.inner.len(), 0);
        assert!(format!("{l:?}").contains("unauthenticated_keys: Some(0)"));
    }

    #[test]
    fn limiter_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RateLimiter>();
    }

    #[test]
    fn allowance_headers_are_set() {
        let mut headers = HeaderMap::new();
        allowance_headers(
            &mut headers,
            Allowance {
                limit: 50,
                remaining: 7,
            },
        );
        assert_eq!(headers["x-ratelimit-limit"], "50");
        assert_eq!(headers["x-ratelimit-remaining"], "7");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
    }

    #[tokio::test]
    async fn refusal_response_is_429_with_headers() {
        let response = refusal_response(Refusal {
            limit: 10,
            retry_after: Duration::from_millis(1500),
        });
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let headers = response.headers();
        assert_eq!(headers[header::RETRY_AFTER], "2");
        assert_eq!(headers["x-ratelimit-limit"], "10");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "rate_limited");
        assert_eq!(json["error"]["request_id"], "-");
        assert!(json["error"]["message"].as_str().unwrap().contains("retry"));
    }
}
