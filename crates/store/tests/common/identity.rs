//! Partners, tenants, service accounts and synced groups.

use scaivault_store::*;

use super::*;

pub async fn identities(store: &dyn Store) {
    let partner = PartnerRecord {
        id: "ptn_id".into(),
        name: "Partner".into(),
        created_at: T0,
    };
    store.insert_partner(&partner, None).await.unwrap();
    assert!(matches!(
        store.insert_partner(&partner, None).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(store.get_partner("ptn_id").await.unwrap(), Some(partner));
    for (id, slug) in [("tnt_id_b", "beta"), ("tnt_id_a", "alpha")] {
        store
            .insert_tenant(
                &TenantRecord {
                    id: id.into(),
                    partner_id: "ptn_id".into(),
                    slug: slug.into(),
                    name: slug.into(),
                    created_at: T0,
                },
                None,
            )
            .await
            .unwrap();
    }
    // Slugs are unique within a partner only: another partner may use one.
    let taken_slug = TenantRecord {
        id: "tnt_id_c".into(),
        partner_id: "ptn_id".into(),
        slug: "alpha".into(),
        name: "x".into(),
        created_at: T0,
    };
    assert!(matches!(
        store.insert_tenant(&taken_slug, None).await,
        Err(StoreError::Duplicate)
    ));
    let other_partner = TenantRecord {
        id: "tnt_id_o".into(),
        partner_id: "ptn_other".into(),
        ..taken_slug
    };
    store.insert_tenant(&other_partner, None).await.unwrap();
    let page = store.list_tenants("ptn_id", None, 1).await.unwrap();
    assert_eq!(page.items[0].id, "tnt_id_a");
    assert!(page.has_more);
    let page = store
        .list_tenants("ptn_id", Some("tnt_id_a"), 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        store
            .list_tenants("ptn_other", None, 10)
            .await
            .unwrap()
            .items,
        vec![other_partner]
    );

    let sa = ServiceAccountRecord {
        id: "sva_1".into(),
        tenant_id: "tnt_id_a".into(),
        name: "CI".into(),
        description: None,
        roles: vec!["secrets-reader".into()],
        created_at: T0,
    };
    store.insert_service_account(&sa, None).await.unwrap();
    assert_eq!(
        store
            .get_service_account("tnt_id_a", "sva_1")
            .await
            .unwrap(),
        Some(sa.clone())
    );
    assert_eq!(
        store
            .get_service_account("tnt_id_b", "sva_1")
            .await
            .unwrap(),
        None,
        "tenant-scoped"
    );
    let key = TokenRecord {
        id: "key_1".into(),
        tenant_id: "tnt_id_a".into(),
        partner_id: "ptn_id".into(),
        identity_id: "service_account:sva_1".into(),
        identity_type: "service_account".into(),
        token_hash: "sa-key-hash".into(),
        name: "k".into(),
        scopes: vec!["secrets:read".into()],
        is_admin: false,
        is_partner_admin: false,
        kind: "api_key".into(),
        created_at: T0,
        expires_at: None,
        revoked_at: None,
        parent_key_id: None,
    };
    store.insert_token(&key, None).await.unwrap();
    assert!(
        !store
            .delete_service_account("tnt_id_b", "sva_1", T0, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_service_account("tnt_id_a", "sva_1", T0, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_token("sa-key-hash")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "deleting an account revokes its keys"
    );

    store
        .set_identity_groups(
            "tnt_id_a",
            "user:a",
            &["group:dev".into(), "group:ops".into()],
            None,
        )
        .await
        .unwrap();
    store
        .set_identity_groups("tnt_id_a", "user:a", &["group:dev".into()], None)
        .await
        .unwrap();
    assert_eq!(
        store.identity_groups("tnt_id_a", "user:a").await.unwrap(),
        vec!["group:dev".to_owned()]
    );
    assert!(
        store
            .identity_groups("tnt_id_b", "user:a")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Registration commits its partner, tenant, admin token and audit entries together, or
/// nothing: a failure at any step leaves no orphan partner or tenant and no entry.
pub async fn registration(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let partner = PartnerRecord {
        id: "ptn_reg".into(),
        name: "Registered".into(),
        created_at: T0,
    };
    let tenant = TenantRecord {
        id: "tnt_reg".into(),
        partner_id: "ptn_reg".into(),
        slug: "reg-admin".into(),
        name: "Registered administration".into(),
        created_at: T0,
    };
    let token = TokenRecord {
        id: "tok_reg".into(),
        tenant_id: "tnt_reg".into(),
        partner_id: "ptn_reg".into(),
        identity_id: "user:admin@reg.example".into(),
        identity_type: "user".into(),
        token_hash: "reg-hash".into(),
        name: "registration admin token".into(),
        scopes: vec!["secrets:read".into()],
        is_admin: true,
        is_partner_admin: true,
        kind: "personal".into(),
        created_at: T0,
        expires_at: None,
        revoked_at: None,
        parent_key_id: None,
    };
    let entries = |tenant: &str, path: &str| {
        vec![
            event("tnt_reg_operator", "register", path, T0),
            event(tenant, "create", path, T0),
        ]
    };
    let entries_of = |tenant: &'static str| async move {
        store
            .query_audit(&AuditQuery {
                tenants: vec![tenant.to_owned()],
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .items
    };
    store
        .register_tenant(
            Some(&partner),
            &tenant,
            &token,
            &entries("tnt_reg", "tok_reg"),
        )
        .await
        .unwrap();
    assert_eq!(store.get_partner("ptn_reg").await.unwrap(), Some(partner));
    assert_eq!(store.get_tenant("tnt_reg").await.unwrap(), Some(tenant));
    assert_eq!(
        store.find_token("reg-hash").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(entries_of("tnt_reg_operator").await.len(), 1);
    assert_eq!(entries_of("tnt_reg").await.len(), 1);

    // Each step failing in turn: the partner exists; the tenant's id is taken (after a new
    // partner was inserted); its slug is taken in its partner; the token's hash is taken.
    // Nothing of the failed registration remains.
    let failures = [
        (Some("ptn_reg"), "tnt_reg_1", "fresh-1", "fresh-hash-1"),
        (Some("ptn_reg_new"), "tnt_reg", "fresh-2", "fresh-hash-2"),
        (None, "tnt_reg_3", "reg-admin", "fresh-hash-3"),
        (None, "tnt_reg_4", "fresh-4", "reg-hash"),
    ];
    for (partner_id, tenant_id, slug, hash) in failures {
        let partner = partner_id.map(|id| PartnerRecord {
            id: id.into(),
            name: "Again".into(),
            created_at: T0,
        });
        let tenant = TenantRecord {
            id: tenant_id.into(),
            partner_id: partner_id.unwrap_or("ptn_reg").into(),
            slug: slug.into(),
            name: slug.into(),
            created_at: T0,
        };
        let token = TokenRecord {
            id: format!("tok_{tenant_id}"),
            tenant_id: tenant_id.into(),
            token_hash: hash.into(),
            ..token.clone()
        };
        let result = store
            .register_tenant(
                partner.as_ref(),
                &tenant,
                &token,
                &entries(tenant_id, tenant_id),
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::Duplicate)),
            "{tenant_id}: {result:?}"
        );
        // None, or (the taken id) the first registration's tenant, unchanged.
        let kept = store.get_tenant(tenant_id).await.unwrap();
        assert!(
            kept.is_none_or(|t| t.slug == "reg-admin" && t.partner_id == "ptn_reg"),
            "{tenant_id}"
        );
        assert_eq!(
            store.get_token(&token.id).await.unwrap(),
            None,
            "{tenant_id}"
        );
        assert_eq!(store.get_partner("ptn_reg_new").await.unwrap(), None);
        assert_eq!(entries_of("tnt_reg_operator").await.len(), 1, "{tenant_id}");
    }
    assert!(entries_of("tnt_reg_1").await.is_empty());
    assert!(entries_of("tnt_reg_4").await.is_empty());
    assert_eq!(entries_of("tnt_reg").await.len(), 1);
    assert!(
        verify_all(store)
            .await
            .iter()
            .all(|report| report.broken.is_none()),
        "chains intact after the rollbacks"
    );
}
