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

    /// The full identity id of `id` as an identity of this type: `id` itself when it carries
    /// this type's prefix (`user:alice`), else with the prefix added (`alice` -> `user:alice`).
    ///
    /// `None` when `id` has any other prefix (a `:` anywhere means a prefix, so
    /// `service_account:sva_1` is never a user), nothing after the prefix, more than
    /// [`MAX_IDENTITY_ID_BYTES`], or whitespace or control characters (which would forge lines
    /// in logs and audit records).
    pub fn qualify(self, id: &str) -> Option<String> {
        let full = if id.contains(':') {
            id.to_owned()
        } else {
            format!("{}:{id}", self.as_str())
        };
        let name = full.strip_prefix(self.as_str())?.strip_prefix(':')?;
        let valid = !name.is_empty()
            && full.len() <= MAX_IDENTITY_ID_BYTES
            && !full.chars().any(|c| c.is_control() || c.is_whitespace());
        valid.then_some(full)
    }
}

/// The longest identity id (`user:...`), in bytes.
pub const MAX_IDENTITY_ID_BYTES: usize = 256;

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
    /// The service-account API key behind the credential: the key itself, or the key a token
    /// was minted from. Tokens die with their key.
    pub api_key_id: Option<String>,
}

impl Principal {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_qualified_with_their_own_type_only() {
        let user = IdentityType::User;
        assert_eq!(
            user.qualify("alice@acme.example").as_deref(),
            Some("user:alice@acme.example")
        );
        assert_eq!(user.qualify("user:alice").as_deref(), Some("user:alice"));
        assert_eq!(
            IdentityType::ServiceAccount
                .qualify("service_account:sva_1")
                .as_deref(),
            Some("service_account:sva_1")
        );
        assert_eq!(
            IdentityType::ServiceAccount.qualify("sva_1").as_deref(),
            Some("service_account:sva_1")
        );
        // Another type's prefix, an unknown prefix, an empty name.
        for bad in [
            "service_account:sva_1",
            "group:admins",
            "urn:x",
            "users:x",
            "user:",
            ":x",
        ] {
            assert_eq!(user.qualify(bad), None, "{bad:?}");
        }
        assert_eq!(IdentityType::ServiceAccount.qualify("user:alice"), None);
    }

    #[test]
    fn control_characters_whitespace_and_long_ids_are_refused() {
        let user = IdentityType::User;
        for bad in [
            "x\n",
            "user:x\n",
            "a\rb",
            "a b",
            "a\tb",
            "a\u{7f}",
            "a\u{85}b",
            "",
            "a\u{2028}b",
        ] {
            assert_eq!(user.qualify(bad), None, "{bad:?}");
        }
        let longest = "a".repeat(MAX_IDENTITY_ID_BYTES - "user:".len());
        assert!(user.qualify(&longest).is_some());
        assert_eq!(user.qualify(&format!("{longest}a")), None);
    }
}
