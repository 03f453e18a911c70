//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types, served
//! at `/v1/openapi.json` without authentication (it describes the API, it holds no data).

use axum::routing::get;
use axum::{Json, Router};
use scaivault_core::Scope;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "ScaiVault API", description = "Secrets and certificate management. All paths under /v1/ require a bearer token except the health endpoints and the public PKI endpoints (CRL, OCSP)."),
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
        super::auth::exchange,
        super::identity::list_partners,
        super::identity::create_partner,
        super::identity::list_tenants,
        super::identity::create_tenant,
        super::identity::get_tenant,
        super::identity::get_groups,
        super::identity::set_groups,
        super::identity::register,
        super::service_accounts::create_account,
        super::service_accounts::list_accounts,
        super::service_accounts::get_account,
        super::service_accounts::delete_account,
        super::service_accounts::create_key,
        super::service_accounts::list_keys,
        super::service_accounts::delete_key,
        super::policies::create_policy,
        super::policies::list_policies,
        super::policies::get_policy,
        super::policies::update_policy,
        super::policies::delete_policy,
        super::policies::bind,
        super::policies::list_bindings,
        super::policies::unbind,
        super::policies::test_policy,
        super::subscriptions::create_subscription,
        super::subscriptions::list_subscriptions,
        super::subscriptions::get_subscription,
        super::subscriptions::delete_subscription,
        super::subscriptions::poll,
        super::subscriptions::dead_letters,
        super::subscriptions::rotate_secret,
        super::audit::query,
        super::audit::trail,
        super::audit::summary,
        super::audit::verify,
        super::secret_policies::create_secret_policy,
        super::secret_policies::list_secret_policies,
        super::secret_policies::generator_types,
        super::secret_policies::get_secret_policy,
        super::secret_policies::update_secret_policy,
        super::secret_policies::delete_secret_policy,
        super::secret_policies::generate_preview,
        super::rotation::create_rotation_policy,
        super::rotation::list_rotation_policies,
        super::rotation::get_rotation_policy,
        super::rotation::update_rotation_policy,
        super::rotation::delete_rotation_policy,
        super::rotation::assign,
        super::rotation::unassign,
        super::rotation::trigger,
        super::rotation::history,
        super::rotation::runs,
        super::rotation::policy_secrets,
        super::rotation::due,
        super::pki::create_ca,
        super::pki::import_ca,
        super::pki::list_cas,
        super::pki::get_ca,
        super::pki::ca_certificate,
        super::pki::disable_ca,
        super::pki::issue,
        super::pki::list_certificates,
        super::pki::get_certificate,
        super::pki::revoke,
        super::pki::renew,
        super::pki::submit_csr,
        super::pki::list_csrs,
        super::pki::get_csr,
        super::pki::approve_csr,
        super::pki::reject_csr,
        super::pki::sign_csr,
        super::pki::crl,
        super::pki::ocsp_post,
        super::pki::ocsp_get,
        super::acme::register_acme_account,
        super::acme::list_acme_accounts,
        super::acme::get_acme_account,
        super::acme::deactivate_acme_account,
        super::acme::create_dns_provider,
        super::acme::list_dns_providers,
        super::acme::get_dns_provider,
        super::acme::delete_dns_provider,
        super::acme::create_acme_order,
        super::acme::list_acme_orders,
        super::acme::get_acme_order,
        super::acme::http01_challenge,
        super::dynamic::create_engine,
        super::dynamic::list_engines,
        super::dynamic::get_engine,
        super::dynamic::update_engine,
        super::dynamic::delete_engine,
        super::dynamic::rotate_root,
        super::dynamic::ssh_ca_key,
        super::dynamic::create_role,
        super::dynamic::list_roles,
        super::dynamic::get_role,
        super::dynamic::update_role,
        super::dynamic::delete_role,
        super::dynamic::create_creds,
        super::dynamic::list_leases,
        super::dynamic::get_lease,
        super::dynamic::renew_lease,
        super::dynamic::revoke_lease,
        super::dynamic::revoke_prefix,
        super::sys_keys::seal_status,
        super::sys_keys::unseal,
        super::sys_keys::keyring,
        super::sys_keys::rotate,
        super::sys_metrics::scrape,
    ),
    modifiers(&BearerAuth, &CommonErrors),
    tags((name = "secrets", description = "Read, write, version, delete and list secrets"),
         (name = "auth", description = "Identity and personal access tokens"),
         (name = "audit", description = "The tamper-evident audit trail"),
         (name = "identity", description = "Partners, tenants, groups and ScaiKey registration"),
         (name = "service-accounts", description = "Service accounts and their API keys"),
         (name = "policies", description = "Path policies, bindings and explain"),
         (name = "subscriptions", description = "Event subscriptions: webhooks and long-poll"),
         (name = "secret-policies", description = "Value generation: generators, secret policies, previews"),
         (name = "rotation", description = "Rotation policies, assignment, runs and the schedule"),
         (name = "pki", description = "The internal CA: CAs, certificates, revocation (CRL, OCSP), CSRs"),
         (name = "acme", description = "Certificates from ACME CAs: accounts, DNS providers, orders, renewal"),
         (name = "dynamic", description = "Dynamic credentials: engines, roles and leases (PostgreSQL, MySQL, AWS, SSH)"),
         (name = "system", description = "Health, seal status and the keyring"))
)]
pub struct ApiDoc;

struct BearerAuth;

/// The bearer scheme, with the scope catalogue. Each operation lists the scopes it needs in its
/// `security` requirement (OpenAPI 3.1 allows role names there for non-OAuth schemes); an empty
/// list means any valid credential.
impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            let scopes: Vec<String> = Scope::ALL
                .iter()
                .map(|s| format!("- `{}`: {}", s.as_str(), s.description()))
                .collect();
            http.description = Some(format!(
                "A ScaiVault token (`skt_...`), API key (`svk_...`) or ScaiKey JWT. Each operation \
                 lists the token scopes it needs; without one the answer is 403 access_denied. \
                 Scopes:\n{}",
                scopes.join("\n")
            ));
            components.add_security_scheme("bearer", SecurityScheme::Http(http));
        }
    }
}

/// Every authenticated operation can also answer with these errors; listing them once here keeps
/// the per-handler annotations to what is specific to each operation.
struct CommonErrors;

const COMMON_ERRORS: [(&str, &str); 6] = [
    (
        "400",
        "validation_error or invalid_path: malformed input, named in the message",
    ),
    (
        "401",
        "authentication_required: no token, or unknown, revoked or expired",
    ),
    ("403", "access_denied: the token lacks the scope or role"),
    ("413", "payload_too_large: body over the limit"),
    (
        "429",
        "rate_limited: too many requests; Retry-After says when to retry",
    ),
    ("500", "internal_error: nothing internal is revealed"),
];

fn add_common_errors(operation: &mut Operation) {
    if operation.security.is_none() {
        return;
    }
    for (status, description) in COMMON_ERRORS {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                        )
                        .build(),
                )
            });
    }
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_common_errors(operation);
            }
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi_json))
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::ApiDoc;
    use utoipa::OpenApi;

    /// Code generators (openapi-typescript for the TypeScript SDK, among others) refuse a
    /// document in which two operations share an id.
    #[test]
    fn operation_ids_are_unique() {
        let doc = ApiDoc::openapi();
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in &doc.paths.paths {
            let operations = [&item.get, &item.put, &item.post, &item.patch, &item.delete];
            for operation in operations.into_iter().flatten() {
                if let Some(id) = &operation.operation_id
                    && let Some(first) = seen.insert(id.clone(), path.clone())
                {
                    panic!("operationId {id} names operations of both {first} and {path}");
                }
            }
        }
        assert!(seen.len() > 50, "the document lists its operations");
    }
}
