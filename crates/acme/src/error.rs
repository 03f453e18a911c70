//! The crate's one error type. Each variant says who is likely at fault, so the server can map
//! it to a status and an event (`acme.order_failed` carries [`ProblemDocument`]).

use serde::{Deserialize, Serialize};

/// An RFC 7807 / RFC 8555 §6.7 problem document from the CA, kept whole (type, detail, status,
/// subproblems) so it can be stored and sent on in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemDocument {
    /// e.g. `urn:ietf:params:acme:error:unauthorized`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Subproblem>,
}

/// One identifier's part of a problem (RFC 8555 §6.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subproblem {
    /// The identifier (a DNS name, `*.` prefixed for a wildcard authorization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<&instant_acme::Problem> for ProblemDocument {
    fn from(p: &instant_acme::Problem) -> Self {
        ProblemDocument {
            kind: p.r#type.clone(),
            detail: p.detail.clone(),
            status: p.status,
            subproblems: p
                .subproblems
                .iter()
                .map(|s| Subproblem {
                    identifier: s
                        .identifier
                        .as_ref()
                        .map(|i| i.authorized(false).to_string()),
                    kind: s.r#type.clone(),
                    detail: s.detail.clone(),
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for ProblemDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.as_deref().unwrap_or("(no type)"))?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        for s in &self.subproblems {
            write!(
                f,
                "; {}: {} {}",
                s.identifier.as_deref().unwrap_or("?"),
                s.kind.as_deref().unwrap_or(""),
                s.detail.as_deref().unwrap_or("")
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcmeError {
    /// Caller: the provider (ZeroSSL, Google) only registers accounts with external account
    /// binding; refused before any request is sent.
    #[error("provider {provider} requires external account binding (an EAB key id and HMAC key)")]
    EabRequired { provider: &'static str },
    /// Caller: `custom` needs a directory URL; the presets take none.
    #[error("{0}")]
    DirectoryUrl(String),
    /// Caller: RFC 8555 accounts need the terms of service agreed to, explicitly.
    #[error("the CA's terms of service must be agreed to explicitly")]
    TermsNotAgreed,
    /// Caller: bad domains, challenge/wildcard mismatch, bad EAB key or contact, bad config.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Caller or operator: the extra CA bundle is not usable PEM certificates.
    #[error("CA bundle: {0}")]
    CaBundle(String),
    /// The CA refused a request (rate limit, bad account, EAB required, ...): its problem
    /// document, whole.
    #[error("the CA refused the request: {0}")]
    Ca(ProblemDocument),
    /// The CA failed the order (a validation failed, CAA, ...): the order URL and the problem.
    #[error("order {order_url} failed: {problem}")]
    OrderFailed {
        order_url: String,
        problem: ProblemDocument,
    },
    /// The CA took longer than the poll policy allows; the order can be resumed later.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The CA or network misbehaved (transport, malformed response, missing field).
    #[error("ACME protocol: {0}")]
    Protocol(String),
    /// The CA does not offer this feature (e.g. ARI).
    #[error("the CA does not support {0}")]
    Unsupported(&'static str),
    /// The DNS provider failed to present or remove a record.
    #[error("DNS provider: {0}")]
    Dns(String),
    /// The TXT record did not become visible on the authoritative servers in time.
    #[error("TXT record {name} not visible on {server} within {waited:?}")]
    Propagation {
        name: String,
        server: String,
        waited: std::time::Duration,
    },
    /// The http-01 responder failed to publish or withdraw a token.
    #[error("http-01 responder: {0}")]
    Responder(String),
    /// Key or CSR generation, or parsing a certificate, failed.
    #[error("key or certificate: {0}")]
    Crypto(String),
}

impl From<instant_acme::Error> for AcmeError {
    fn from(e: instant_acme::Error) -> Self {
        match e {
            instant_acme::Error::Api(p) => AcmeError::Ca(ProblemDocument::from(&p)),
            instant_acme::Error::Timeout(_) => {
                AcmeError::Timeout("waiting for the CA to update the order".into())
            }
            instant_acme::Error::Unsupported(what) => AcmeError::Unsupported(what),
            other => AcmeError::Protocol(other.to_string()),
        }
    }
}

impl AcmeError {
    /// The CA's problem document, when the error carries one.
    pub fn problem(&self) -> Option<&ProblemDocument> {
        match self {
            AcmeError::Ca(p) | AcmeError::OrderFailed { problem: p, .. } => Some(p),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_document_is_rfc7807_json() {
        let doc = ProblemDocument {
            kind: Some("urn:ietf:params:acme:error:rejectedIdentifier".into()),
            detail: Some("policy forbids".into()),
            status: Some(400),
            subproblems: vec![Subproblem {
                identifier: Some("*.example.com".into()),
                kind: Some("urn:ietf:params:acme:error:caa".into()),
                detail: None,
            }],
        };
        let json = serde_json::to_value(&doc).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({
                "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                "detail": "policy forbids",
                "status": 400,
                "subproblems": [{
                    "identifier": "*.example.com",
                    "type": "urn:ietf:params:acme:error:caa"
                }]
            }))
        );
        let back: Option<ProblemDocument> = json.and_then(|j| serde_json::from_value(j).ok());
        assert_eq!(back, Some(doc.clone()));
        let err = AcmeError::OrderFailed {
            order_url: "https://ca/order/1".into(),
            problem: doc,
        };
        assert!(err.problem().is_some());
        assert!(err.to_string().contains("policy forbids"));
    }
}
