//! Who is acting. Built by authentication, consumed by authorization and (later) audit.
//! Designed for the identity issue: tenants, partners and roles are already part of it.

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
    /// The tenant the token belongs to; every store call is scoped to it.
    pub tenant_id: String,
    pub partner_id: String,
    pub scopes: Vec<Scope>,
    /// Tenant admins may do everything in their tenant, including hard deletes.
    pub is_tenant_admin: bool,
    /// The id of the credential used (`tok_...`), for revocation and audit.
    pub credential_id: String,
}

impl Principal {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
