//! `/v1/audit/*`: query, per-path trail, summary and chain verification of the audit trail.
//!
//! Every route needs a token with the `audit:read` scope held by a tenant admin. When the
//! client acts as a tenant ([`Client::with_tenant_id`]) and a call names no tenant itself, that
//! tenant is sent as the `tenant_id` parameter.

use reqwest::Method;
use scaivault_proto::audit::{AuditListResponse, AuditSummaryResponse, AuditVerifyResponse};

use crate::{Call, Client, split_secret_path};

/// Filters of `GET /v1/audit`. Every field is optional; `None` means "no filter".
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// `read`, `write`, `delete`, `rotate`, ...
    pub action: Option<String>,
    /// The acting identity, e.g. `user:alice@acme.example`.
    pub identity: Option<String>,
    /// `secret`, `token`, `audit`, ...
    pub resource_type: Option<String>,
    /// Resource paths starting with this.
    pub path_prefix: Option<String>,
    /// `success`, `denied` or `error`.
    pub outcome: Option<String>,
    /// Inclusive: a date (`2026-04-22`, midnight UTC) or an RFC 3339 timestamp.
    pub start: Option<String>,
    /// Exclusive: a date or an RFC 3339 timestamp.
    pub end: Option<String>,
    /// One target tenant within the caller's reach (default: the client's tenant context).
    pub tenant_id: Option<String>,
    /// Page size, 1-500 (server default 50).
    pub limit: Option<u32>,
    /// The `cursor` of a previous page.
    pub cursor: Option<String>,
}

impl Client {
    /// `tenant`, or else the tenant this client acts as.
    fn audit_tenant<'a>(&'a self, tenant: Option<&'a str>) -> Option<&'a str> {
        tenant.or(self.tenant_id.as_deref())
    }

    /// `GET /v1/audit?...`: one page of entries, newest first.
    pub fn audit_query(&self, filter: &AuditFilter) -> Call<'_, AuditListResponse> {
        self.call(Method::GET, self.url(&["v1", "audit"], &[]))
            .query_opt("action", filter.action.as_deref())
            .query_opt("identity", filter.identity.as_deref())
            .query_opt("resource_type", filter.resource_type.as_deref())
            .query_opt("path_prefix", filter.path_prefix.as_deref())
            .query_opt("outcome", filter.outcome.as_deref())
            .query_opt("start", filter.start.as_deref())
            .query_opt("end", filter.end.as_deref())
            .query_opt("tenant_id", self.audit_tenant(filter.tenant_id.as_deref()))
            .query_opt("limit", filter.limit)
            .query_opt("cursor", filter.cursor.as_deref())
    }

    /// `GET /v1/audit/trail/{path}`: one page of a secret path's history, newest first.
    pub fn audit_trail(
        &self,
        path: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, AuditListResponse> {
        let url = split_secret_path(path)
            .and_then(|segments| self.url(&["v1", "audit", "trail"], &segments));
        self.call(Method::GET, url)
            .query_opt("tenant_id", self.audit_tenant(None))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/audit/summary`: counts over `[start, end)` (server default: the last 24
    /// hours). Dates or RFC 3339 timestamps.
    pub fn audit_summary(
        &self,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Call<'_, AuditSummaryResponse> {
        self.call(Method::GET, self.url(&["v1", "audit", "summary"], &[]))
            .query_opt("start", start)
            .query_opt("end", end)
            .query_opt("tenant_id", self.audit_tenant(None))
    }

    /// `POST /v1/audit/verify`: walks every hash chain in reach. A broken chain is a `200`
    /// response with `intact: false`, not an error.
    pub fn audit_verify(&self) -> Call<'_, AuditVerifyResponse> {
        self.call(Method::POST, self.url(&["v1", "audit", "verify"], &[]))
            .json(&serde_json::Map::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn trail_paths_are_encoded_and_validated() {
        let c = Client::new("http://127.0.0.1:8200").unwrap();
        let call = c.audit_trail("app/db creds/x?y", Some(10), None);
        assert_eq!(
            call.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/audit/trail/app/db%20creds/x%3Fy"
        );
        assert_eq!(call.query, [("limit", "10".to_string())]);
        assert!(matches!(
            c.audit_trail("a/../b", None, None).url,
            Err(Error::InvalidPath(_))
        ));
        assert!(matches!(
            c.audit_trail("", None, None).url,
            Err(Error::InvalidPath(_))
        ));
    }

    #[test]
    fn query_sends_only_the_given_filters_and_the_tenant_context() {
        let c = Client::new("http://127.0.0.1:8200").unwrap();
        let filter = AuditFilter {
            action: Some("read".into()),
            start: Some("2026-04-22".into()),
            limit: Some(20),
            ..AuditFilter::default()
        };
        let call = c.audit_query(&filter);
        assert_eq!(
            call.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/audit"
        );
        assert_eq!(
            call.query,
            [
                ("action", "read".to_string()),
                ("start", "2026-04-22".to_string()),
                ("limit", "20".to_string()),
            ]
        );
        let t = c.clone().with_tenant_id("tnt_acme");
        assert!(
            t.audit_query(&filter)
                .query
                .contains(&("tenant_id", "tnt_acme".to_string()))
        );
        let explicit = AuditFilter {
            tenant_id: Some("tnt_other".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            t.audit_query(&explicit).query,
            [("tenant_id", "tnt_other".to_string())]
        );
        assert_eq!(
            t.audit_summary(None, None).query,
            [("tenant_id", "tnt_acme".to_string())]
        );
        let verify = c.audit_verify();
        assert_eq!(
            verify.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/audit/verify"
        );
        assert!(matches!(verify.body, Some(Ok(ref b)) if b == b"{}"));
    }
}
