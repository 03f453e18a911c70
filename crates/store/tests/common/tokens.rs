//! Credentials: tokens and API keys.

use scaivault_store::*;
use time::Duration;

use super::*;

pub async fn tokens(store: &dyn Store) {
    let token = TokenRecord {
        id: "tok_1".into(),
        tenant_id: "tnt_1".into(),
        partner_id: "ptn_1".into(),
        identity_id: "user:a".into(),
        identity_type: "user".into(),
        token_hash: "h1".into(),
        name: "n".into(),
        scopes: vec!["secrets:read".into()],
        is_admin: false,
        is_partner_admin: true,
        kind: "api_key".into(),
        created_at: T0,
        expires_at: Some(T0 + Duration::days(1)),
        revoked_at: None,
        parent_key_id: None,
    };
    store.insert_token(&token, None).await.unwrap();
    assert!(matches!(
        store
            .insert_token(
                &TokenRecord {
                    id: "tok_2".into(),
                    ..token.clone()
                },
                None
            )
            .await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(store.find_token("h1").await.unwrap(), Some(token.clone()));
    assert_eq!(store.find_token("h2").await.unwrap(), None);
    let page = store
        .list_tokens("tnt_1", "user:a", None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(
        !store
            .revoke_token("tnt_2", "user:a", "tok_1", T0, None)
            .await
            .unwrap(),
        "other tenant"
    );
    assert!(
        !store
            .revoke_token("tnt_1", "user:b", "tok_1", T0, None)
            .await
            .unwrap(),
        "other identity"
    );
    assert!(
        store
            .revoke_token("tnt_1", "user:a", "tok_1", T0, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_token("h1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    store
        .replace_token(&TokenRecord {
            token_hash: "h3".into(),
            ..token.clone()
        })
        .await
        .unwrap();
    assert!(store.find_token("h1").await.unwrap().is_none());

    // Tokens minted from a key are revoked with it, in the same transaction; other tokens of
    // the same identity are not.
    let key = TokenRecord {
        id: "key_p".into(),
        identity_id: "service_account:sva_p".into(),
        identity_type: "service_account".into(),
        token_hash: "hk".into(),
        kind: "api_key".into(),
        expires_at: None,
        ..token.clone()
    };
    store.insert_token(&key, None).await.unwrap();
    let child = |id: &str, parent: Option<&str>| TokenRecord {
        id: id.into(),
        token_hash: format!("h_{id}"),
        kind: "exchanged".into(),
        parent_key_id: parent.map(str::to_owned),
        ..key.clone()
    };
    for t in [
        child("tok_c1", Some("key_p")),
        child("tok_c2", Some("key_p")),
        child("tok_free", None),
    ] {
        store.insert_token(&t, None).await.unwrap();
    }
    assert_eq!(
        store.get_token("tok_c1").await.unwrap(),
        Some(child("tok_c1", Some("key_p"))),
        "the parent key round-trips"
    );
    assert_eq!(store.get_token("tok_none").await.unwrap(), None);
    assert!(
        store
            .revoke_token("tnt_1", "service_account:sva_p", "key_p", T0, None)
            .await
            .unwrap()
    );
    for (hash, revoked) in [
        ("hk", true),
        ("h_tok_c1", true),
        ("h_tok_c2", true),
        ("h_tok_free", false),
    ] {
        let t = store.find_token(hash).await.unwrap().unwrap();
        assert_eq!(t.revoked_at.is_some(), revoked, "{hash}");
    }
}
