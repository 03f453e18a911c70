//! Generated user names: unique per lease, bounded for the target, and telling whose they are.

use serde_json::{Value, json};

use crate::EngineKind;

/// The longest user name each target accepts (PostgreSQL identifiers: 63 bytes; MySQL 5.7+:
/// 32 characters; IAM user names: 64; an SSH certificate's key id has no practical bound).
pub fn max_len(kind: EngineKind) -> usize {
    match kind {
        EngineKind::Postgres => 63,
        EngineKind::Mysql => 32,
        EngineKind::Aws => 64,
        EngineKind::Ssh => 128,
    }
}

/// The user name of a lease: `v_<tenant>_<role>_<lease>`, each part lower-cased to
/// `[a-z0-9]` and shortened so the whole fits [`max_len`]; the lease part (the end of its
/// random id) keeps it unique.
pub fn username(kind: EngineKind, tenant_id: &str, role: &str, lease_id: &str) -> String {
    fn clean(s: &str, n: usize) -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(n)
            .collect()
    }
    let lease = lease_id.trim_start_matches("lease_");
    let (t, r, l) = match max_len(kind) {
        n if n <= 32 => (6, 8, 14),
        _ => (12, 20, 20),
    };
    let lease: String = {
        let cleaned: String = lease.chars().filter(char::is_ascii_alphanumeric).collect();
        let start = cleaned.len().saturating_sub(l);
        cleaned[start..].to_ascii_lowercase()
    };
    let tenant = tenant_id.rsplit('_').next().unwrap_or(tenant_id);
    format!("v_{}_{}_{}", clean(tenant, t), clean(role, r), lease)
}

/// The handle recorded with a lease before its credential is created: `{"username": ...}`.
pub fn initial_handle(kind: EngineKind, tenant_id: &str, role: &str, lease_id: &str) -> Value {
    json!({ "username": username(kind, tenant_id, role, lease_id) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_say_whose() {
        let lease = "lease_01jh8x2k9q4w7e5r3t6y8u0i2o";
        for kind in EngineKind::ALL {
            let name = username(kind, "ten_acme1234567890", "readonly-role", lease);
            assert!(name.len() <= max_len(kind), "{kind}: {name}");
            assert!(name.starts_with("v_acme"), "{name}");
            assert!(name.contains("readonly"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
        assert_ne!(
            username(EngineKind::Mysql, "t", "r", "lease_aaaaaaaaaaaaaaaaaaaa1"),
            username(EngineKind::Mysql, "t", "r", "lease_aaaaaaaaaaaaaaaaaaaa2")
        );
    }
}
