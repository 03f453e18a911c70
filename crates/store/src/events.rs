//! The event outbox: what changed, as subscribers see it. Events are derived from the audit
//! event of a successful mutation and inserted in the same transaction as the mutation, so no
//! event is lost and none is emitted for a change that rolled back.

use time::OffsetDateTime;

use crate::audit::AuditEvent;

/// An event waiting in (or delivered from) the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// Global order of the outbox; the cursor of polls and deliveries.
    pub seq: u64,
    /// `evt_...`, the delivery id receivers deduplicate on.
    pub id: String,
    pub tenant_id: String,
    pub event_type: String,
    pub path: Option<String>,
    pub occurred_at: OffsetDateTime,
    /// The event's `data` object, JSON.
    pub data: String,
}

/// An event about to be written (its `seq` is assigned by the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    pub tenant_id: String,
    pub event_type: String,
    pub path: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub data: String,
}

/// The event a successful mutation emits, if any. `previous_version` is the current version
/// before a write or rotation (known only to the write itself).
pub fn event_for(audit: &AuditEvent, previous_version: Option<u64>) -> Option<NewEvent> {
    if audit.outcome != "success" {
        return None;
    }
    let tenant_id = audit.target_tenant_id.clone()?;
    let (event_type, data) = match (audit.resource_type.as_str(), audit.action.as_str()) {
        ("secret", "write") => match previous_version {
            None => (
                "secret.created",
                serde_json::json!({ "version": audit.version }),
            ),
            Some(previous) => (
                "secret.updated",
                serde_json::json!({ "version": audit.version, "previous_version": previous }),
            ),
        },
        ("secret", "update") => (
            "secret.updated",
            serde_json::json!({ "metadata_only": true }),
        ),
        ("secret", "delete") => ("secret.deleted", serde_json::json!({ "permanent": false })),
        ("secret", "destroy") => ("secret.deleted", serde_json::json!({ "permanent": true })),
        ("secret", "delete_version") => (
            "secret.deleted",
            serde_json::json!({ "permanent": true, "version": audit.version }),
        ),
        ("secret", "restore") => ("secret.restored", serde_json::json!({})),
        ("secret", "rotate") => (
            "secret.rotated",
            serde_json::json!({ "old_version": previous_version, "new_version": audit.version }),
        ),
        ("policy", action @ ("create" | "update" | "delete" | "bind" | "unbind")) => (
            "policy.changed",
            serde_json::json!({ "change": action, "policy": audit.resource_path }),
        ),
        // The certificate's id; its secret path, if any, gets no secret event of its own.
        ("certificate", action @ ("issue" | "renew")) => (
            "certificate.issued",
            serde_json::json!({ "certificate_id": audit.resource_path, "via": action }),
        ),
        // The ACME worker's issuance and renewal (resource path: the certificate's id).
        ("certificate", action @ ("acme_issue" | "acme_renew")) => (
            "certificate.issued",
            serde_json::json!({
                "certificate_id": audit.resource_path,
                "via": if action == "acme_issue" { "acme" } else { "acme_renewal" },
            }),
        ),
        ("csr", "sign") => (
            "certificate.issued",
            serde_json::json!({ "csr_id": audit.resource_path, "via": "csr" }),
        ),
        ("certificate", "revoke") => (
            "certificate.revoked",
            serde_json::json!({ "certificate_id": audit.resource_path }),
        ),
        // The lease's id; engines and roles (`dynamic_engine`, `dynamic_role`) emit no event.
        ("lease", "create") => (
            "lease.created",
            serde_json::json!({ "lease_id": audit.resource_path }),
        ),
        ("lease", "revoke") => (
            "lease.revoked",
            serde_json::json!({ "lease_id": audit.resource_path }),
        ),
        _ => return None,
    };
    // Policy, certificate and lease events carry no secret path (a subscriber filters them by type
    // only).
    let path = if audit.resource_type == "secret" {
        audit.resource_path.clone()
    } else {
        None
    };
    Some(NewEvent {
        id: format!("evt_{}", audit.id.trim_start_matches("aud_")),
        tenant_id,
        event_type: event_type.to_owned(),
        path,
        occurred_at: audit.occurred_at,
        data: data.to_string(),
    })
}

/// A subscription: which events (types, path globs, tenants) go where (webhook and/or poll).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub id: String,
    /// The tenant that owns it (where it was created).
    pub tenant_id: String,
    pub name: String,
    /// Path globs (JSON array of strings).
    pub paths: Vec<String>,
    pub event_types: Vec<String>,
    /// Tenants whose events it receives (its own; a partner admin may list more).
    pub tenants: Vec<String>,
    pub webhook_url: Option<String>,
    /// The webhook signing secret, sealed by the keyring.
    pub webhook_secret: Option<crate::model::SealedBlob>,
    /// Whose permissions filter the events at delivery time.
    pub owner_identity: String,
    pub owner_groups: Vec<String>,
    pub owner_is_admin: bool,
    pub owner_is_partner_admin: bool,
    pub created_at: OffsetDateTime,
    /// The newest event when it was created: polls without a cursor start after it.
    pub start_seq: u64,
    /// Webhook delivery cursor: events with `seq` above it are still to deliver.
    pub delivered_seq: u64,
    /// Consecutive failed attempts of the event after the cursor, and when to try again.
    pub attempts: u32,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
}

/// The outcome of one webhook delivery attempt, recorded on the subscription.
#[derive(Clone, Debug)]
pub struct DeliveryState<'a> {
    pub subscription_id: &'a str,
    pub delivered_seq: u64,
    pub attempts: u32,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<&'a str>,
    /// Set when the event was given up on.
    pub dead: Option<&'a DeadLetter>,
}

/// An event given up on after retrying for the retry window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub subscription_id: String,
    pub event_id: String,
    pub event_seq: u64,
    pub attempts: u32,
    pub last_error: String,
    pub failed_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(resource: &str, action: &str, version: Option<u64>) -> AuditEvent {
        AuditEvent {
            id: "aud_x".into(),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            request_id: "r".into(),
            actor_id: "user:a".into(),
            actor_type: "user".into(),
            actor_tenant_id: Some("t".into()),
            target_tenant_id: Some("t".into()),
            partner_id: None,
            credential_id: None,
            action: action.into(),
            resource_type: resource.into(),
            resource_path: Some("a/b".into()),
            version,
            outcome: "success".into(),
            error_code: None,
            client_ip: None,
            user_agent: None,
        }
    }

    #[test]
    fn mutations_map_to_the_catalogue() {
        let e = event_for(&audit("secret", "write", Some(1)), None).unwrap();
        assert_eq!(e.event_type, "secret.created");
        let e = event_for(&audit("secret", "rotate", Some(4)), Some(3)).unwrap();
        assert_eq!(e.event_type, "secret.rotated");
        assert_eq!(e.data, r#"{"new_version":4,"old_version":3}"#);
        assert_eq!(e.path.as_deref(), Some("a/b"));
        assert_eq!(e.id, "evt_x");
        assert!(event_for(&audit("secret", "read", Some(1)), None).is_none());
        let mut failed = audit("secret", "write", Some(1));
        failed.outcome = "error".into();
        assert!(event_for(&failed, None).is_none());
        let e = event_for(&audit("policy", "bind", None), None).unwrap();
        assert_eq!(e.event_type, "policy.changed");
        assert_eq!(e.path, None);
    }

    /// Rotation steps carry their `rotation.*` events explicitly (`RotationStep::events`):
    /// deriving one from the step's audit entry as well would emit each twice.
    #[test]
    fn rotation_audits_derive_no_event() {
        for action in ["due", "succeeded", "failed", "start", "create", "attach"] {
            for outcome in ["success", "error"] {
                let mut e = audit("rotation", action, Some(2));
                e.outcome = outcome.into();
                assert!(event_for(&e, Some(1)).is_none(), "{action} {outcome}");
            }
        }
        // The secret mappings are untouched by it.
        let e = event_for(&audit("secret", "update", None), None).unwrap();
        assert_eq!(e.event_type, "secret.updated");
    }

    #[test]
    fn lease_audits_map_to_lease_events() {
        let mut created = audit("lease", "create", None);
        created.resource_path = Some("lease_1".into());
        let e = event_for(&created, None).unwrap();
        assert_eq!(e.event_type, "lease.created");
        assert_eq!(e.data, r#"{"lease_id":"lease_1"}"#);
        assert_eq!(e.path, None);
        assert_eq!(e.tenant_id, "t");
        let mut revoked = audit("lease", "revoke", None);
        revoked.resource_path = Some("lease_1".into());
        let e = event_for(&revoked, None).unwrap();
        assert_eq!(e.event_type, "lease.revoked");
        assert_eq!(e.data, r#"{"lease_id":"lease_1"}"#);
        // A failed revocation, renewals and engine or role changes emit nothing.
        revoked.outcome = "error".into();
        assert!(event_for(&revoked, None).is_none());
        assert!(event_for(&audit("lease", "renew", None), None).is_none());
        for resource in ["dynamic_engine", "dynamic_role"] {
            for action in ["create", "update", "delete", "revoke", "rotate_root"] {
                assert!(event_for(&audit(resource, action, None), None).is_none());
            }
        }
    }
}
