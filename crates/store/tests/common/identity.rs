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
