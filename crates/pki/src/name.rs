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
        todo!()
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
