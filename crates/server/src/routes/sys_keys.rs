//! `/v1/sys/keys` (the keyring and its rotation) and the seal status. Rotation is an operator's
//! act: a partner admin of the installation's partner with `tenants:admin`.

use axum::extract::State;
use axum::handler::Handler;
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_core::{Principal, Scope};
use scaivault_proto::ErrorBody;
use scaivault_proto::keys::{KeyringStatus, SealStatus};

use crate::audit::op;
use crate::auth::{Authenticated, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sys/seal-status", get(seal_status))
        .route("/v1/sys/unseal", post(unseal))
        .route("/v1/sys/keys", get(keyring.layer(op("read", "keyring"))))
        .route(
            "/v1/sys/keys/rotate",
            post(rotate.layer(op("rotate", "keyring"))),
        )
}

fn require_operator(state: &AppState, p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::TenantsAdmin)?;
    if p.is_partner_admin && p.partner_id == state.limits.operator_partner_id {
        Ok(())
    } else {
        Err(ApiError::access_denied(
            "the keyring is managed by operators (a partner admin of the installation's partner)",
        ))
    }
}

fn unsealed(state: &AppState) -> SealStatus {
    SealStatus {
        sealed: false,
        provider: state.keys.provider().kind().to_owned(),
        reason: None,
    }
}

/// Whether the server is sealed (its root key provider was unavailable at start). No token:
/// a sealed server cannot check one. Names the provider's kind, nothing more.
#[utoipa::path(get, path = "/v1/sys/seal-status", tag = "system",
    responses((status = 200, body = SealStatus)))]
pub async fn seal_status(State(state): State<AppState>) -> Json<SealStatus> {
    Json(unsealed(&state))
}

/// Asks a sealed server to try its root key provider now (`scaivault operator unseal`); `200`
/// when unsealed, `503` with the status when still sealed. No token. An unsealed server
/// answers `200` at once.
#[utoipa::path(post, path = "/v1/sys/unseal", tag = "system",
    responses((status = 200, body = SealStatus), (status = 503, body = SealStatus)))]
pub async fn unseal(State(state): State<AppState>) -> Json<SealStatus> {
    Json(unsealed(&state))
}

/// The keyring: its data keys (never their material), which root key wraps them, how many
/// values each seals, and the background rewrap's progress.
#[utoipa::path(get, path = "/v1/sys/keys", tag = "system",
    responses((status = 200, body = KeyringStatus), (status = 403, body = ErrorBody)),
    security(("bearer" = ["tenants:admin"])))]
pub async fn keyring(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<KeyringStatus>> {
    require_operator(&state, &p)?;
    Ok(Json(crate::keys::status(&state).await?))
}

/// Rotates the data key: a new key, wrapped by the root key, seals every new value; older
/// values keep opening by key id and are re-sealed under the new key in the background
/// (`rewrap` in the answer shows the progress).
#[utoipa::path(post, path = "/v1/sys/keys/rotate", tag = "system",
    responses((status = 200, body = KeyringStatus), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody, description = "key_provider_unavailable: the root key provider could not wrap the new key; nothing changed")),
    security(("bearer" = ["tenants:admin"])))]
pub async fn rotate(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<KeyringStatus>> {
    require_operator(&state, &p)?;
    Ok(Json(crate::keys::rotate(&state).await?))
}
