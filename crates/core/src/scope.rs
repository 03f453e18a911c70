//! Token scopes: what a token may do at most, whatever its identity's roles. Path policies
//! narrow the secrets scopes further; a request needs both. Every route of the API names the
//! scope it needs (in its OpenAPI operation, checked by a test over every route); the catalogue
//! grows with each resource and is documented in docs/auth.md.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Read secret values, list, versions, metadata, expiring; event subscriptions.
    SecretsRead,
    /// Write, patch, delete, restore and rotate secrets (and trigger a rotation policy).
    SecretsWrite,
    /// Query, summarise and verify the audit trail (tenant and partner admins only).
    AuditRead,
    /// List, read and test path policies and their bindings; secret and rotation policies.
    PoliciesRead,
    /// Create, change, bind and delete path policies; secret and rotation policies.
    PoliciesWrite,
    /// Read tenants and other identities' synced groups.
    IdentityRead,
    /// Set identities' synced groups.
    IdentityWrite,
    /// List and read service accounts and their keys (never a key's value).
    ServiceAccountsRead,
    /// Create and delete service accounts, create and revoke their API keys.
    ServiceAccountsWrite,
    /// Create personal access tokens and revoke the caller's own.
    TokensWrite,
    /// Partner-level administration: partners, new tenants, ScaiKey registration.
    TenantsAdmin,
    /// List and read CAs, certificates and CSRs (never a private key).
    PkiRead,
    /// Issue, renew and revoke certificates; submit CSRs (path policies narrow it).
    PkiIssue,
    /// Create, import and disable CAs; approve, reject and sign CSRs.
    PkiAdmin,
    /// List and read dynamic engines, roles and leases (never a credential or root password).
    DynamicRead,
    /// Get dynamic credentials (a lease), renew and revoke one's own leases (path policies
    /// narrow it).
    DynamicCreds,
    /// Create, change and delete dynamic engines and roles, rotate an engine's root
    /// credential, revoke any lease and revoke by prefix.
    DynamicAdmin,
    /// Scrape the installation's metrics (`/v1/sys/metrics`; identities of the installation's
    /// partner only: the numbers are installation-wide).
    MetricsRead,
}

impl Scope {
    pub const ALL: [Scope; 18] = [
        Scope::SecretsRead,
        Scope::SecretsWrite,
        Scope::AuditRead,
        Scope::PoliciesRead,
        Scope::PoliciesWrite,
        Scope::IdentityRead,
        Scope::IdentityWrite,
        Scope::ServiceAccountsRead,
        Scope::ServiceAccountsWrite,
        Scope::TokensWrite,
        Scope::TenantsAdmin,
        Scope::PkiRead,
        Scope::PkiIssue,
        Scope::PkiAdmin,
        Scope::DynamicRead,
        Scope::DynamicCreds,
        Scope::DynamicAdmin,
        Scope::MetricsRead,
    ];

    /// Every scope that acts within one tenant: all but the partner-level `tenants:admin` and
    /// the installation-level `metrics:read`.
    pub const TENANT: [Scope; 16] = [
        Scope::SecretsRead,
        Scope::SecretsWrite,
        Scope::AuditRead,
        Scope::PoliciesRead,
        Scope::PoliciesWrite,
        Scope::IdentityRead,
        Scope::IdentityWrite,
        Scope::ServiceAccountsRead,
        Scope::ServiceAccountsWrite,
        Scope::TokensWrite,
        Scope::PkiRead,
        Scope::PkiIssue,
        Scope::PkiAdmin,
        Scope::DynamicRead,
        Scope::DynamicCreds,
        Scope::DynamicAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SecretsRead => "secrets:read",
            Scope::SecretsWrite => "secrets:write",
            Scope::AuditRead => "audit:read",
            Scope::PoliciesRead => "policies:read",
            Scope::PoliciesWrite => "policies:write",
            Scope::IdentityRead => "identity:read",
            Scope::IdentityWrite => "identity:write",
            Scope::ServiceAccountsRead => "service-accounts:read",
            Scope::ServiceAccountsWrite => "service-accounts:write",
            Scope::TokensWrite => "tokens:write",
            Scope::TenantsAdmin => "tenants:admin",
            Scope::PkiRead => "pki:read",
            Scope::PkiIssue => "pki:issue",
            Scope::PkiAdmin => "pki:admin",
            Scope::DynamicRead => "dynamic:read",
            Scope::DynamicCreds => "dynamic:creds",
            Scope::DynamicAdmin => "dynamic:admin",
            Scope::MetricsRead => "metrics:read",
        }
    }

    /// What the scope allows, in one line (the OpenAPI document lists these).
    pub fn description(self) -> &'static str {
        match self {
            Scope::SecretsRead => {
                "read secret values, list, versions, metadata, expiring; event subscriptions"
            }
            Scope::SecretsWrite => {
                "write, patch, delete, restore and rotate secrets; with policies:write, assign and trigger rotation"
            }
            Scope::AuditRead => "query, summarise and verify the audit trail",
            Scope::PoliciesRead => {
                "read path, secret and rotation policies, bindings, runs; explain another identity's access"
            }
            Scope::PoliciesWrite => {
                "create, change, bind and delete path, secret and rotation policies"
            }
            Scope::IdentityRead => "read tenants and other identities' synced groups",
            Scope::IdentityWrite => "set identities' synced groups",
            Scope::ServiceAccountsRead => "list and read service accounts and their keys",
            Scope::ServiceAccountsWrite => {
                "create and delete service accounts, create and revoke their API keys"
            }
            Scope::TokensWrite => "create personal access tokens and revoke the caller's own",
            Scope::TenantsAdmin => {
                "partners, new tenants and ScaiKey registration (partner admins)"
            }
            Scope::PkiRead => "list and read CAs, certificates and CSRs (never a private key)",
            Scope::PkiIssue => {
                "issue, renew and revoke certificates, submit CSRs (narrowed by path policies)"
            }
            Scope::PkiAdmin => "create, import and disable CAs; approve, reject and sign CSRs",
            Scope::DynamicRead => {
                "list and read dynamic engines, roles and leases (never a credential)"
            }
            Scope::DynamicCreds => {
                "get dynamic credentials on a lease, renew and revoke own leases (narrowed by path policies)"
            }
            Scope::DynamicAdmin => {
                "create, change and delete dynamic engines and roles, rotate root credentials, revoke any lease"
            }
            Scope::MetricsRead => "scrape the installation's Prometheus metrics (operators only)",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_and_tenant_scopes_are_all_but_installation_scopes() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("secrets:admin"), None);
        let tenant: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| *s != Scope::TenantsAdmin && *s != Scope::MetricsRead)
            .collect();
        assert_eq!(Scope::TENANT.to_vec(), tenant);
    }
}
