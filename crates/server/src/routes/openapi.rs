//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types, served
//! at `/v1/openapi.json` without authentication (it describes the API, it holds no data).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "ScaiVault API", description = "Secrets and certificate management. All paths under /v1/ require a bearer token except the health endpoints."),
    paths(
        super::health::health,
        super::health::ready,
        super::auth::whoami,
        super::auth::create_token,
        super::auth::list_tokens,
        super::auth::revoke_token,
        super::secrets::list_secrets,
        super::secrets::expiring,
        super::secrets::metadata,
        super::secrets::read_secret,
        super::secrets::write_secret,
        super::secrets::patch_secret,
        super::secrets::delete_secret,
        super::secrets::versions,
        super::secrets::restore_secret,
        super::secrets::rotate_secret,
    ),
    modifiers(&BearerAuth),
    tags((name = "secrets", description = "Read, write, version, delete and list secrets"),
         (name = "auth", description = "Identity and personal access tokens"),
         (name = "system", description = "Health"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi_json))
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
