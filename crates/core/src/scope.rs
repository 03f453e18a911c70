//! Token scopes: what a token may do at most. Path policies (a later issue) narrow this further;
//! a request needs both. The catalogue grows with each resource and is documented in
//! docs/auth.md.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Read secret values, list, versions, metadata, expiring.
    SecretsRead,
    /// Write, patch, delete, restore and rotate secrets.
    SecretsWrite,
    /// Query, summarise and verify the audit trail (tenant and partner admins only).
    AuditRead,
    /// List, read and test path policies and their bindings.
    PoliciesRead,
    /// Create, change, bind and delete path policies (tenant admins only).
    PoliciesWrite,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::SecretsRead,
        Scope::SecretsWrite,
        Scope::AuditRead,
        Scope::PoliciesRead,
        Scope::PoliciesWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SecretsRead => "secrets:read",
            Scope::SecretsWrite => "secrets:write",
            Scope::AuditRead => "audit:read",
            Scope::PoliciesRead => "policies:read",
            Scope::PoliciesWrite => "policies:write",
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
