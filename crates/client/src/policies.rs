//! `/v1/policies/*`: path policies of a tenant, their bindings to identities, and the explain
//! endpoint (`POST /v1/policies/test`).
//!
//! Managing policies needs a tenant admin with `policies:write` (reading: `policies:read`).
//! When the client acts as a tenant ([`Client::with_tenant_id`]) the routes are sent under
//! `/v1/t/{tenant}/`.

use reqwest::Method;
use scaivault_proto::policies::{
    BindRequest, Binding, BindingList, Policy, PolicyList, PolicyRequest, PolicyTestRequest,
    PolicyTestResponse,
};

use crate::{Call, Client};

impl Client {
    /// `POST /v1/policies`: from `rules`, or the quick form `path` + `permissions` (+ `effect`).
    pub fn create_policy(&self, request: &PolicyRequest) -> Call<'_, Policy> {
        self.call(Method::POST, self.tenant_url(&["policies"]))
            .json(request)
    }

    /// `GET /v1/policies`: one page of the tenant's policies.
    pub fn list_policies(&self, limit: Option<u32>, cursor: Option<&str>) -> Call<'_, PolicyList> {
        self.call(Method::GET, self.tenant_url(&["policies"]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/policies/{id}`
    pub fn get_policy(&self, id: &str) -> Call<'_, Policy> {
        self.call(Method::GET, self.tenant_url(&["policies", id]))
    }

    /// `PUT /v1/policies/{id}`: replaces name, description and rules.
    pub fn update_policy(&self, id: &str, request: &PolicyRequest) -> Call<'_, Policy> {
        self.call(Method::PUT, self.tenant_url(&["policies", id]))
            .json(request)
    }

    /// `DELETE /v1/policies/{id}` (`204 No Content`): the policy and its bindings.
    pub fn delete_policy(&self, id: &str) -> Call<'_, ()> {
        self.call(Method::DELETE, self.tenant_url(&["policies", id]))
    }

    /// `POST /v1/policies/{id}/bindings`: binds the policy to a user, group or service account.
    pub fn bind_policy(&self, id: &str, request: &BindRequest) -> Call<'_, Binding> {
        self.call(Method::POST, self.tenant_url(&["policies", id, "bindings"]))
            .json(request)
    }

    /// `GET /v1/policies/{id}/bindings`
    pub fn policy_bindings(&self, id: &str) -> Call<'_, BindingList> {
        self.call(Method::GET, self.tenant_url(&["policies", id, "bindings"]))
    }

    /// `DELETE /v1/policies/{id}/bindings/{identity_id}` (`204 No Content`). `identity_id` is
    /// the full id, e.g. `group:developers`; it is percent-encoded.
    pub fn unbind_policy(&self, id: &str, identity_id: &str) -> Call<'_, ()> {
        self.call(
            Method::DELETE,
            self.tenant_url(&["policies", id, "bindings", identity_id]),
        )
    }

    /// `POST /v1/policies/test`: would the identity (default: the caller) be allowed the
    /// permission on the path, and which policy rule decides? A denial is a `200` response
    /// with `allowed: false`, not an error.
    pub fn test_policy(&self, request: &PolicyTestRequest) -> Call<'_, PolicyTestResponse> {
        self.call(Method::POST, self.tenant_url(&["policies", "test"]))
            .json(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_encoded_and_follow_the_tenant_context() {
        let c = Client::new("http://127.0.0.1:8200").unwrap();
        assert_eq!(
            c.unbind_policy("pol_a", "user:alice@acme.example/x")
                .url
                .unwrap(),
            "http://127.0.0.1:8200/v1/policies/pol_a/bindings/user%3Aalice%40acme.example%2Fx"
        );
        let list = c.list_policies(Some(10), Some("c1"));
        assert_eq!(
            list.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/policies"
        );
        assert_eq!(
            list.query,
            [("limit", "10".to_string()), ("cursor", "c1".to_string())]
        );
        let t = c.with_tenant_id("tnt_acme");
        assert_eq!(
            t.get_policy("pol a").url.unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/policies/pol%20a"
        );
        let test = t.test_policy(&PolicyTestRequest {
            path: "app/db".into(),
            permission: "read".into(),
            identity_id: None,
            groups: None,
        });
        assert_eq!(
            test.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/policies/test"
        );
        assert!(matches!(test.body, Some(Ok(_))));
    }
}
