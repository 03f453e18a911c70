//! Which tenant a request acts on.
//!
//! The tenant comes from the token. Two route prefixes change that, and they are stripped before
//! routing (so every resource's routes serve them without knowing about them):
//! - `/v1/t/{tenant_id}/...`: a partner admin acting as one tenant of its partner. Anyone else,
//!   and any tenant of another partner or that does not exist, gets the same 403: the answer
//!   says nothing about which tenants exist.
//! - `/v1/partner/secrets/...`: partner-scoped secrets, stored under the partner's id as their
//!   tenant. Every identity of the partner may read them (with `secrets:read`); only partner
//!   admins may change them.

use axum::http::{Method, Uri};
use scaivault_core::Principal;

use crate::error::ApiError;
use crate::state::AppState;

/// The tenant prefix a request came with (a request extension set by [`rewrite`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRoute {
    Tenant(String),
    Partner,
}

/// Strips `/v1/t/{tenant_id}` or `/v1/partner` from the path, remembering it as a
/// [`TenantRoute`] extension. Runs before routing.
pub fn rewrite<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = request.uri().path();
    let (route, rest) = if let Some(rest) = path.strip_prefix("/v1/t/") {
        match rest.split_once('/') {
            Some((tenant, rest)) if !tenant.is_empty() => (
                TenantRoute::Tenant(tenant.to_owned()),
                format!("/v1/{rest}"),
            ),
            _ => return request,
        }
    } else if let Some(rest) = path.strip_prefix("/v1/partner/secrets") {
        if !(rest.is_empty() || rest.starts_with('/')) {
            return request;
        }
        (TenantRoute::Partner, format!("/v1/secrets{rest}"))
    } else {
        return request;
    };
    let path_and_query = match request.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    let mut parts = request.uri().clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return request,
    }
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
        request.extensions_mut().insert(route);
    }
    request
}

/// Applies the route's tenant to an authenticated principal.
pub async fn resolve(
    state: &AppState,
    mut principal: Principal,
    route: Option<&TenantRoute>,
    method: &Method,
) -> Result<Principal, ApiError> {
    match route {
        None => Ok(principal),
        Some(TenantRoute::Tenant(tenant_id)) => {
            let out_of_reach = || {
                ApiError::access_denied(
                    "acting on another tenant requires a partner admin of that tenant's partner",
                )
            };
            if *tenant_id == principal.home_tenant_id {
                return Ok(principal);
            }
            if !principal.is_partner_admin {
                return Err(out_of_reach());
            }
            match state.store.get_tenant(tenant_id).await? {
                Some(t) if t.partner_id == principal.partner_id => {
                    principal.tenant_id = t.id;
                    principal.is_tenant_admin = true;
                    Ok(principal)
                }
                _ => Err(out_of_reach()),
            }
        }
        Some(TenantRoute::Partner) => {
            let reading = method == Method::GET || method == Method::HEAD;
            if !reading && !principal.is_partner_admin {
                return Err(ApiError::access_denied(
                    "only partner admins can change partner-scoped secrets",
                ));
            }
            // Partner secrets live under the partner's id; tenant admins are not admins there.
            principal.tenant_id = principal.partner_id.clone();
            principal.is_tenant_admin = principal.is_partner_admin;
            Ok(principal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(uri: &str) -> (String, Option<TenantRoute>) {
        let request = axum::http::Request::builder().uri(uri).body(());
        let request = rewrite(request.unwrap_or_default());
        (
            request.uri().to_string(),
            request.extensions().get::<TenantRoute>().cloned(),
        )
    }

    #[test]
    fn prefixes_are_stripped_and_remembered() {
        assert_eq!(
            rewritten("/v1/t/tnt_a/secrets/x/y?version=2"),
            (
                "/v1/secrets/x/y?version=2".to_owned(),
                Some(TenantRoute::Tenant("tnt_a".into()))
            )
        );
        assert_eq!(
            rewritten("/v1/partner/secrets/shared/ca"),
            (
                "/v1/secrets/shared/ca".to_owned(),
                Some(TenantRoute::Partner)
            )
        );
        assert_eq!(
            rewritten("/v1/partner/secrets"),
            ("/v1/secrets".to_owned(), Some(TenantRoute::Partner))
        );
        assert_eq!(
            rewritten("/v1/partner/secretsx"),
            ("/v1/partner/secretsx".to_owned(), None)
        );
        assert_eq!(
            rewritten("/v1/t//secrets"),
            ("/v1/t//secrets".to_owned(), None)
        );
        assert_eq!(
            rewritten("/v1/secrets/a"),
            ("/v1/secrets/a".to_owned(), None)
        );
    }
}
