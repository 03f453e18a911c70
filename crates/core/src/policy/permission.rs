//! The permission catalogue and rule effects.

use serde::{Deserialize, Serialize};

/// What a policy rule grants (or denies) on the paths its glob matches.
///
/// The catalogue is closed: an unknown name is a validation error, never ignored. `admin`
/// stands for every permission at once, in allow and deny rules alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Read secret values, versions and metadata.
    Read,
    /// List paths under a prefix.
    List,
    /// Create, update and restore secrets.
    Write,
    /// Delete secrets.
    Delete,
    /// Rotate secrets.
    Rotate,
    /// Every permission in this catalogue, present and future.
    Admin,
    /// Issue PKI certificates.
    Issue,
    /// Revoke PKI certificates.
    Revoke,
    /// Obtain dynamic credentials (leases).
    Lease,
    /// Subscribe to events.
    Subscribe,
}

impl Permission {
    /// Every permission, in catalogue order (the order of the bits in a mask).
    pub const ALL: [Permission; 10] = [
        Permission::Read,
        Permission::List,
        Permission::Write,
        Permission::Delete,
        Permission::Rotate,
        Permission::Admin,
        Permission::Issue,
        Permission::Revoke,
        Permission::Lease,
        Permission::Subscribe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::List => "list",
            Permission::Write => "write",
            Permission::Delete => "delete",
            Permission::Rotate => "rotate",
            Permission::Admin => "admin",
            Permission::Issue => "issue",
            Permission::Revoke => "revoke",
            Permission::Lease => "lease",
            Permission::Subscribe => "subscribe",
        }
    }

    /// Parses the exact lowercase name; anything else is `None`.
    pub fn parse(s: &str) -> Option<Permission> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// This permission's own bit, used to test a rule's mask.
    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The bits a rule listing this permission grants: `admin` expands to all of them.
    pub(crate) const fn grant_mask(self) -> u16 {
        match self {
            Permission::Admin => ALL_MASK,
            p => p.bit(),
        }
    }
}

/// Every permission's bit.
pub(crate) const ALL_MASK: u16 = (1 << Permission::ALL.len()) - 1;

/// Shown in errors; a test keeps it in step with [`Permission::ALL`].
pub(crate) const CATALOGUE: &str =
    "read, list, write, delete, rotate, admin, issue, revoke, lease, subscribe";

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a matching rule grants or refuses its permissions. A matching `deny` always wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

impl Effect {
    pub const ALL: [Effect; 2] = [Effect::Allow, Effect::Deny];

    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }

    /// Parses the exact lowercase name; anything else is `None`.
    pub fn parse(s: &str) -> Option<Effect> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, StrDeserializer};

    fn de(s: &str) -> StrDeserializer<'_, Error> {
        s.into_deserializer()
    }

    #[test]
    fn names_round_trip_and_catalogue_is_complete() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(Permission::deserialize(de(p.as_str())), Ok(p));
        }
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(CATALOGUE, names.join(", "));
        for e in Effect::ALL {
            assert_eq!(Effect::parse(e.as_str()), Some(e));
            assert_eq!(Effect::deserialize(de(e.as_str())), Ok(e));
        }
    }

    #[test]
    fn parsing_is_exact() {
        for bad in ["", "Read", "READ", " read", "secrets:read", "all", "*"] {
            assert_eq!(Permission::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Effect::parse("Deny"), None);
        assert!(Permission::deserialize(de("Read")).is_err());
    }

    #[test]
    fn bits_are_distinct_and_admin_grants_all() {
        let mut seen = 0u16;
        for p in Permission::ALL {
            assert_eq!(seen & p.bit(), 0);
            seen |= p.bit();
            assert_ne!(Permission::Admin.grant_mask() & p.bit(), 0);
        }
        assert_eq!(seen, ALL_MASK);
        assert_eq!(Permission::Read.grant_mask() & Permission::Admin.bit(), 0);
    }
}
