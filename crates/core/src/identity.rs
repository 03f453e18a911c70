//! Who is acting. Built by authentication, consumed by authorization and (later) audit.
//! Designed for the identity issue: tenants, partners and roles are already part of it.

use crate::role::Role;
use crate::scope::Scope;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentityType {
    User,
    Group,
    ServiceAccount,
}

impl IdentityType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::ServiceAccount => "service_account",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Group, Self::ServiceAccount]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// The authenticated caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// e.g. `user:alice@acme.example`
    pub identity_id: String,
    pub identity_type: IdentityType,
    /// The tenant this request acts on; every store call is scoped to it. The token's own
    /// tenant, unless a partner admin targets another one (`/v1/t/{tenant_id}/`) or the request
    /// is on partner-scoped secrets (`/v1/partner/`, where it is the partner id).
    pub tenant_id: String,
    /// The tenant the token belongs to.
    pub home_tenant_id: String,
    pub partner_id: String,
    pub scopes: Vec<Scope>,
    /// Groups (`group:developers`), from the token or synced from the identity provider.
    pub groups: Vec<String>,
    pub roles: Vec<Role>,
    /// Tenant admins may do everything in their tenant, including hard deletes. Partner admins
    /// are tenant admins of every tenant of their partner.
    pub is_tenant_admin: bool,
    pub is_partner_admin: bool,
    /// The id of the credential used (`tok_...`, `key_...`, `jwt:<jti or issuer>`), for
    /// revocation and audit.
    pub credential_id: String,
}

impl Principal {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}
