//! Cache invalidation across nodes. Each node keeps short-lived caches (verified credentials,
//! compiled policies); a change made through one node empties its own caches at once and is
//! published through the store (PostgreSQL LISTEN/NOTIFY), so every other node does the same.
//! On the embedded store there is no other node and publishing is a no-op.

use crate::state::AppState;

const POLICIES: &str = "policies";
const ALL: &str = "all";

async fn publish(state: &AppState, change: &str) {
    if let Err(e) = state.store.publish_change(change).await {
        // Other nodes still drop the entry when its cache lifetime ends.
        tracing::warn!(error = %e, "could not tell other nodes about a change");
    }
}

/// A policy or binding changed.
pub async fn policies_changed(state: &AppState) {
    state.policies.invalidate();
    publish(state, POLICIES).await;
}

/// A token or API key was revoked.
pub async fn credential_revoked(state: &AppState, credential_id: &str) {
    state.tokens.evict_credential(credential_id);
    publish(state, &format!("credential:{credential_id}")).await;
}

/// An identity's groups changed or its account was deleted.
pub async fn identity_changed(state: &AppState, tenant_id: &str, identity_id: &str) {
    state.tokens.evict_identity(tenant_id, identity_id);
    publish(state, &format!("identity:{tenant_id}\n{identity_id}")).await;
}

/// Applies a change published by any node.
pub fn apply(state: &AppState, change: &str) {
    if change == crate::keys::KEYRING_CHANGED || change == ALL {
        // A data key was added (rotation on another node): unwrap it too, and let the rewrap
        // start now if this node leads it (rather than at its next round).
        let state = state.clone();
        tokio::spawn(async move {
            match crate::keys::reload(&state).await {
                Ok(()) => state.keys.wake_rewrap(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not reload the keyring after a change on another node")
                }
            }
        });
    }
    if change == POLICIES {
        state.policies.invalidate();
    } else if let Some(id) = change.strip_prefix("credential:") {
        state.tokens.evict_credential(id);
    } else if let Some((tenant, identity)) = change
        .strip_prefix("identity:")
        .and_then(|rest| rest.split_once('\n'))
    {
        state.tokens.evict_identity(tenant, identity);
    } else if change == ALL {
        state.policies.invalidate();
        state.tokens.clear();
    }
}

/// Follows the store's change feed, if it has one (several nodes can share it).
pub async fn spawn_listener(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let mut feed = match state.store.change_feed().await {
        Ok(Some(feed)) => feed,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "no change feed: other nodes' changes reach the caches when entries expire");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        while let Some(change) = feed.recv().await {
            apply(&state, &change);
        }
    }))
}
