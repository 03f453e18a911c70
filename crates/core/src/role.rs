//! Roles: named bundles of scopes (and, for the two admin roles, reach). Service accounts are
//! created with roles; ScaiKey JWTs carry them in their `roles` claim. The catalogue is
//! documented in docs/auth.md.

use crate::scope::Scope;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything inside one tenant, including hard deletes and the audit trail.
    TenantAdmin,
    /// Tenant admin of every tenant of the partner (through `/v1/t/{tenant_id}/`), and writer
    /// of partner-scoped secrets.
    PartnerAdmin,
    /// `secrets:read`
    SecretsReader,
    /// `secrets:read` and `secrets:write`
    SecretsWriter,
    /// `audit:read`, and the right to read the tenant's audit trail without being an admin.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::TenantAdmin,
        Role::PartnerAdmin,
        Role::SecretsReader,
        Role::SecretsWriter,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::TenantAdmin => "tenant-admin",
            Role::PartnerAdmin => "partner-admin",
            Role::SecretsReader => "secrets-reader",
            Role::SecretsWriter => "secrets-writer",
            Role::Auditor => "auditor",
        }
    }

    /// Also accepts `tenant_admin` style spellings, which some identity providers emit.
    pub fn parse(s: &str) -> Option<Role> {
        let normalized = s.replace('_', "-");
        Self::ALL.into_iter().find(|r| r.as_str() == normalized)
    }

    /// The scopes the role grants. Partner-level administration (`tenants:admin`) is the
    /// partner admin's alone; every role grants `tokens:write` (anyone may make personal
    /// tokens, each narrowed to a subset of the scopes of the token that makes it).
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Role::TenantAdmin => &Scope::TENANT,
            Role::PartnerAdmin => &Scope::ALL,
            Role::SecretsReader => &[
                Scope::SecretsRead,
                Scope::PkiRead,
                Scope::DynamicRead,
                Scope::DynamicCreds,
                Scope::TokensWrite,
            ],
            Role::SecretsWriter => &[
                Scope::SecretsRead,
                Scope::SecretsWrite,
                Scope::PkiRead,
                Scope::DynamicRead,
                Scope::DynamicCreds,
                Scope::TokensWrite,
            ],
            Role::Auditor => &[Scope::AuditRead, Scope::TokensWrite],
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The union of the scopes of `roles`, in catalogue order.
pub fn scopes_of(roles: &[Role]) -> Vec<Scope> {
    Scope::ALL
        .into_iter()
        .filter(|s| roles.iter().any(|r| r.scopes().contains(s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_grant_scopes() {
        assert_eq!(Role::parse("secrets-reader"), Some(Role::SecretsReader));
        assert_eq!(Role::parse("tenant_admin"), Some(Role::TenantAdmin));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(
            scopes_of(&[Role::SecretsReader, Role::Auditor]),
            vec![
                Scope::SecretsRead,
                Scope::AuditRead,
                Scope::TokensWrite,
                Scope::PkiRead,
                Scope::DynamicRead,
                Scope::DynamicCreds
            ]
        );
        assert!(!scopes_of(&[Role::SecretsWriter]).contains(&Scope::DynamicAdmin));
        assert!(scopes_of(&[Role::TenantAdmin]).contains(&Scope::PkiAdmin));
        assert!(!scopes_of(&[Role::SecretsWriter]).contains(&Scope::PkiIssue));
        assert_eq!(scopes_of(&[Role::PartnerAdmin]), Scope::ALL.to_vec());
        assert_eq!(scopes_of(&[Role::TenantAdmin]), Scope::TENANT.to_vec());
        assert!(!scopes_of(&[Role::TenantAdmin]).contains(&Scope::TenantsAdmin));
    }
}
