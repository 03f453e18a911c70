//! Subjects (distinguished names) and subject alternative names.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::PkiError;

/// The subject distinguished name of a certificate, limited to the common attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Subject {
    /// CN.
    pub common_name: String,
    /// O.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// OU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    /// C: two letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// L.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
}

impl Subject {
    /// A subject with only a common name.
    pub fn cn(common_name: impl Into<String>) -> Self {
        Subject {
            common_name: common_name.into(),
            ..Subject::default()
        }
    }
}

/// A subject alternative name. Displayed (and serialized) in its prefixed form,
/// e.g. "DNS:api.example.com", "IP:10.0.0.1", "email:a@example.com", "URI:spiffe://x/y".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum San {
    /// dNSName; a leading "*." wildcard label is allowed.
    Dns(String),
    /// iPAddress.
    Ip(IpAddr),
    /// rfc822Name.
    Email(String),
    /// uniformResourceIdentifier.
    Uri(String),
}

impl San {
    /// Parses "DNS:x" / "IP:x" / "email:x" / "URI:x" (prefixes case-insensitive), or guesses from
    /// an unprefixed value: an IP address if it parses as one, an email if it has '@', a URI if it
    /// has "://", else a DNS name. DNS names are validated as hostnames (a leading "*." allowed)
    /// and lowercased.
    pub fn parse(s: &str) -> Result<San, PkiError> {
        let s = s.trim();
        if let Some((prefix, value)) = s.split_once(':') {
            match prefix.to_ascii_lowercase().as_str() {
                "dns" => return parse_dns(value),
                "ip" => return parse_ip(value),
                "email" => return parse_email(value),
                "uri" => return parse_uri(value),
                _ => {}
            }
        }
        if let Ok(ip) = IpAddr::from_str(s) {
            Ok(San::Ip(ip))
        } else if s.contains('@') {
            parse_email(s)
        } else if s.contains("://") {
            parse_uri(s)
        } else {
            parse_dns(s)
        }
    }
}

fn parse_ip(v: &str) -> Result<San, PkiError> {
    IpAddr::from_str(v.trim())
        .map(San::Ip)
        .map_err(|_| PkiError::InvalidName(format!("invalid IP address {v:?}")))
}

fn parse_dns(v: &str) -> Result<San, PkiError> {
    let name = v.trim().to_ascii_lowercase();
    let rest = name.strip_prefix("*.").unwrap_or(&name);
    if is_hostname(rest) {
        Ok(San::Dns(name))
    } else {
        Err(PkiError::InvalidName(format!("invalid DNS name {v:?}")))
    }
}

fn parse_email(v: &str) -> Result<San, PkiError> {
    let v = v.trim();
    let invalid = || PkiError::InvalidName(format!("invalid email address {v:?}"));
    let (local, domain) = v.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.bytes().all(|b| b.is_ascii_graphic() && b != b'@');
    if !local_ok || !is_hostname(&domain.to_ascii_lowercase()) {
        return Err(invalid());
    }
    Ok(San::Email(format!(
        "{local}@{}",
        domain.to_ascii_lowercase()
    )))
}

fn parse_uri(v: &str) -> Result<San, PkiError> {
    let v = v.trim();
    let invalid = || PkiError::InvalidName(format!("invalid URI {v:?}"));
    let (scheme, rest) = v.split_once(':').ok_or_else(invalid)?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok || rest.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok(San::Uri(v.to_string()))
}

/// A lowercase hostname: dot-separated labels of [a-z0-9-] (1..=63, no leading or trailing '-'),
/// at most 253 characters, not all-numeric in its last label.
pub(crate) fn is_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let labels_ok = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let last_numeric = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    labels_ok && !last_numeric
}

/// Whether a DNS name lies within a dNSName name-constraint subtree (RFC 5280 4.2.1.10): the
/// name itself or any name with labels added on the left; a constraint with a leading '.'
/// covers subdomains only. A wildcard name "*.x" is taken as the name it is.
pub(crate) fn dns_within(name: &str, constraint: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let constraint = constraint.trim_end_matches('.').to_ascii_lowercase();
    if constraint.is_empty() {
        return true;
    }
    if let Some(sub) = constraint.strip_prefix('.') {
        return name.ends_with(&format!(".{sub}"));
    }
    name == constraint || name.ends_with(&format!(".{constraint}"))
}

/// Whether a (possibly wildcard) DNS name could name something inside an excluded subtree:
/// within it, or a wildcard "*.x" whose expansions include the excluded "label.x".
pub(crate) fn dns_hits_excluded(name: &str, excluded: &str) -> bool {
    if dns_within(name, excluded) {
        return true;
    }
    match name.strip_prefix("*.") {
        Some(parent) => excluded
            .trim_start_matches('.')
            .split_once('.')
            .is_some_and(|(_, excluded_parent)| excluded_parent.eq_ignore_ascii_case(parent)),
        None => false,
    }
}

/// Validates and normalises a name-constraint domain: a hostname, optionally with a leading '.'.
pub(crate) fn normalize_constraint(domain: &str) -> Result<String, PkiError> {
    let d = domain.trim().to_ascii_lowercase();
    let host = d.strip_prefix('.').unwrap_or(&d);
    if is_hostname(host) {
        Ok(d)
    } else {
        Err(PkiError::InvalidName(format!(
            "invalid name-constraint domain {domain:?}"
        )))
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(d) => write!(f, "DNS:{d}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
            San::Email(e) => write!(f, "email:{e}"),
            San::Uri(u) => write!(f, "URI:{u}"),
        }
    }
}

impl FromStr for San {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        San::parse(s)
    }
}

impl TryFrom<String> for San {
    type Error = PkiError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        San::parse(&s)
    }
}

impl From<San> for String {
    fn from(s: San) -> Self {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_prefixed() {
        assert_eq!(
            San::parse("DNS:API.Example.com").unwrap(),
            San::Dns("api.example.com".into())
        );
        assert_eq!(
            San::parse("dns:*.example.com").unwrap(),
            San::Dns("*.example.com".into())
        );
        assert_eq!(
            San::parse("IP:10.0.0.1").unwrap(),
            San::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            San::parse("ip:::1").unwrap(),
            San::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("email:ops@Example.com").unwrap(),
            San::Email("ops@example.com".into())
        );
        assert_eq!(
            San::parse("URI:spiffe://prod/api").unwrap(),
            San::Uri("spiffe://prod/api".into())
        );
    }

    #[test]
    fn parse_guessed() {
        assert_eq!(
            San::parse("192.168.1.10").unwrap(),
            San::Ip("192.168.1.10".parse().unwrap())
        );
        assert_eq!(
            San::parse("2001:db8::1").unwrap(),
            San::Ip("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("a@b.example").unwrap(),
            San::Email("a@b.example".into())
        );
        assert_eq!(
            San::parse("https://x.example/p").unwrap(),
            San::Uri("https://x.example/p".into())
        );
        assert_eq!(
            San::parse("localhost").unwrap(),
            San::Dns("localhost".into())
        );
        assert_eq!(
            San::parse("svc-1.internal").unwrap(),
            San::Dns("svc-1.internal".into())
        );
    }

    #[test]
    fn parse_refuses() {
        for bad in [
            "",
            "DNS:",
            "-bad.example",
            "bad-.example",
            "a..b",
            "exa mple.com",
            "a.*.example",
            "**.example",
            "IP:300.1.1.1",
            "email:nobody",
            "email:@x.com",
            "URI:no scheme",
            "foo_bar.example",
            "1.2.3",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(San::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "DNS:api.example.com",
            "IP:10.1.2.3",
            "IP:::1",
            "email:a@b.example",
            "URI:urn:x:y",
        ] {
            let san = San::parse(s).unwrap();
            assert_eq!(san.to_string(), s);
            assert_eq!(San::parse(&san.to_string()).unwrap(), san);
        }
        let json = serde_json::to_string(&San::Dns("a.example".into())).unwrap();
        assert_eq!(json, "\"DNS:a.example\"");
    }

    #[test]
    fn constraints() {
        assert!(dns_within("example.com", "example.com"));
        assert!(dns_within("a.b.example.com", "example.com"));
        assert!(!dns_within("badexample.com", "example.com"));
        assert!(!dns_within("example.com", ".example.com"));
        assert!(dns_within("a.example.com", ".example.com"));
        assert!(dns_within("*.example.com", "example.com"));
        assert!(dns_hits_excluded("*.example.com", "secret.example.com"));
        assert!(!dns_hits_excluded("*.example.com", "a.secret.example.com"));
        assert!(!dns_hits_excluded("*.other.com", "secret.example.com"));
    }
}
