//! `/v1/secret-policies/*` (how a secret's value is generated) and `/v1/rotation/*` (rotation
//! policies, their assignment to secrets, runs and the schedule).
//!
//! When the client acts as a tenant ([`Client::with_tenant_id`]) the routes are sent under
//! `/v1/t/{tenant}/`.

use reqwest::Method;
use scaivault_proto::rotation::{
    AssignRequest, AssignResponse, GeneratedValue, GeneratorCatalogue, RotationPolicy,
    RotationPolicyList, RotationPolicyRequest, RotationRunList, ScheduledRotationList,
    SecretPolicy, SecretPolicyList, SecretPolicyRequest, TriggerRequest, TriggerResponse,
};

use crate::{Call, Client};

/// Parameters of `GET /v1/rotation/policies/{id}/history`. Every field is optional.
#[derive(Clone, Debug, Default)]
pub struct RunHistoryQuery {
    /// Only runs in this state: `running`, `awaiting_value`, `succeeded` or `failed`.
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Filters of `GET /v1/rotation/runs`. Every field is optional.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Only runs of this secret path.
    pub path: Option<String>,
    /// Only runs of this rotation policy.
    pub policy_id: Option<String>,
    /// Only runs in this state: `running`, `awaiting_value`, `succeeded` or `failed`.
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl Client {
    // -----------------------------------------------------------------------------------------
    // Secret policies

    /// `GET /v1/secret-policies`: one page of the tenant's secret policies.
    pub fn list_secret_policies(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, SecretPolicyList> {
        self.call(Method::GET, self.tenant_url(&["secret-policies"]))
            .query_opt("cursor", cursor)
            .query_opt("limit", limit)
    }

    /// `POST /v1/secret-policies` (`201`). The id is derived from the name
    /// (`Strong Password` -> `sp_strong_password`).
    pub fn create_secret_policy(&self, request: &SecretPolicyRequest) -> Call<'_, SecretPolicy> {
        self.call(Method::POST, self.tenant_url(&["secret-policies"]))
            .json(request)
    }

    /// `GET /v1/secret-policies/types`: the generators (with their settings) and charsets.
    pub fn secret_policy_types(&self) -> Call<'_, GeneratorCatalogue> {
        self.call(Method::GET, self.tenant_url(&["secret-policies", "types"]))
    }

    /// `GET /v1/secret-policies/{id}`
    pub fn get_secret_policy(&self, id: &str) -> Call<'_, SecretPolicy> {
        self.call(Method::GET, self.tenant_url(&["secret-policies", id]))
    }

    /// `PUT /v1/secret-policies/{id}`: replaces name, description, type and fields.
    pub fn update_secret_policy(
        &self,
        id: &str,
        request: &SecretPolicyRequest,
    ) -> Call<'_, SecretPolicy> {
        self.call(Method::PUT, self.tenant_url(&["secret-policies", id]))
            .json(request)
    }

    /// `DELETE /v1/secret-policies/{id}` (`204 No Content`).
    pub fn delete_secret_policy(&self, id: &str) -> Call<'_, ()> {
        self.call(Method::DELETE, self.tenant_url(&["secret-policies", id]))
    }

    /// `POST /v1/secret-policies/{id}/generate`: a freshly generated value, never stored. The
    /// response holds secret material.
    pub fn generate_secret_value(&self, id: &str) -> Call<'_, GeneratedValue> {
        self.call(
            Method::POST,
            self.tenant_url(&["secret-policies", id, "generate"]),
        )
    }

    // -----------------------------------------------------------------------------------------
    // Rotation policies

    /// `GET /v1/rotation/policies`: one page of the tenant's rotation policies.
    pub fn list_rotation_policies(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, RotationPolicyList> {
        self.call(Method::GET, self.tenant_url(&["rotation", "policies"]))
            .query_opt("cursor", cursor)
            .query_opt("limit", limit)
    }

    /// `POST /v1/rotation/policies` (`201`). The id is derived from the name
    /// (`quarterly` -> `rot_quarterly`).
    pub fn create_rotation_policy(
        &self,
        request: &RotationPolicyRequest,
    ) -> Call<'_, RotationPolicy> {
        self.call(Method::POST, self.tenant_url(&["rotation", "policies"]))
            .json(request)
    }

    /// `GET /v1/rotation/policies/{id}`
    pub fn get_rotation_policy(&self, id: &str) -> Call<'_, RotationPolicy> {
        self.call(Method::GET, self.tenant_url(&["rotation", "policies", id]))
    }

    /// `PUT /v1/rotation/policies/{id}`: replaces the whole policy.
    pub fn update_rotation_policy(
        &self,
        id: &str,
        request: &RotationPolicyRequest,
    ) -> Call<'_, RotationPolicy> {
        self.call(Method::PUT, self.tenant_url(&["rotation", "policies", id]))
            .json(request)
    }

    /// `DELETE /v1/rotation/policies/{id}` (`204 No Content`).
    pub fn delete_rotation_policy(&self, id: &str) -> Call<'_, ()> {
        self.call(
            Method::DELETE,
            self.tenant_url(&["rotation", "policies", id]),
        )
    }

    /// `POST /v1/rotation/policies/{id}/assign`: puts the secrets at these paths or globs on
    /// the policy's schedule.
    pub fn assign_rotation_policy(
        &self,
        id: &str,
        request: &AssignRequest,
    ) -> Call<'_, AssignResponse> {
        self.call(
            Method::POST,
            self.tenant_url(&["rotation", "policies", id, "assign"]),
        )
        .json(request)
    }

    /// `POST /v1/rotation/policies/{id}/unassign`: takes the secrets at these paths or globs
    /// off the policy.
    pub fn unassign_rotation_policy(
        &self,
        id: &str,
        request: &AssignRequest,
    ) -> Call<'_, AssignResponse> {
        self.call(
            Method::POST,
            self.tenant_url(&["rotation", "policies", id, "unassign"]),
        )
        .json(request)
    }

    /// `POST /v1/rotation/policies/{id}/trigger`: rotates the policy's secrets now (all, or
    /// those matching `request.paths`); one run per secret.
    pub fn trigger_rotation(
        &self,
        id: &str,
        request: &TriggerRequest,
    ) -> Call<'_, TriggerResponse> {
        self.call(
            Method::POST,
            self.tenant_url(&["rotation", "policies", id, "trigger"]),
        )
        .json(request)
    }

    /// `GET /v1/rotation/policies/{id}/history`: the policy's runs, newest first.
    pub fn rotation_history(&self, id: &str, query: &RunHistoryQuery) -> Call<'_, RotationRunList> {
        self.call(
            Method::GET,
            self.tenant_url(&["rotation", "policies", id, "history"]),
        )
        .query_opt("status", query.status.as_deref())
        .query_opt("cursor", query.cursor.as_deref())
        .query_opt("limit", query.limit)
    }

    /// `GET /v1/rotation/policies/{id}/secrets`: the secrets assigned to the policy and their
    /// place in the schedule.
    pub fn rotation_policy_secrets(
        &self,
        id: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, ScheduledRotationList> {
        self.call(
            Method::GET,
            self.tenant_url(&["rotation", "policies", id, "secrets"]),
        )
        .query_opt("cursor", cursor)
        .query_opt("limit", limit)
    }

    /// `GET /v1/rotation/due?within_hours=N`: secrets whose rotation is due within `N` hours
    /// (server default when `None`), soonest first.
    pub fn rotation_due(
        &self,
        within_hours: Option<u32>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, ScheduledRotationList> {
        self.call(Method::GET, self.tenant_url(&["rotation", "due"]))
            .query_opt("within_hours", within_hours)
            .query_opt("cursor", cursor)
            .query_opt("limit", limit)
    }

    /// `GET /v1/rotation/runs`: rotation runs across policies, newest first.
    pub fn rotation_runs(&self, filter: &RunFilter) -> Call<'_, RotationRunList> {
        self.call(Method::GET, self.tenant_url(&["rotation", "runs"]))
            .query_opt("path", filter.path.as_deref())
            .query_opt("policy_id", filter.policy_id.as_deref())
            .query_opt("status", filter.status.as_deref())
            .query_opt("cursor", filter.cursor.as_deref())
            .query_opt("limit", filter.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_encoded_and_follow_the_tenant_context() {
        let c = Client::new("http://127.0.0.1:8200").unwrap();
        assert_eq!(
            c.secret_policy_types().url.unwrap(),
            "http://127.0.0.1:8200/v1/secret-policies/types"
        );
        let generate = c.generate_secret_value("sp a/b");
        assert_eq!(
            generate.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/secret-policies/sp%20a%2Fb/generate"
        );
        assert!(generate.body.is_none());
        let list = c.list_secret_policies(Some(10), Some("c1"));
        assert_eq!(
            list.query,
            [("cursor", "c1".to_string()), ("limit", "10".to_string())]
        );
        let due = c.rotation_due(Some(168), None, None);
        assert_eq!(
            due.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/rotation/due"
        );
        assert_eq!(due.query, [("within_hours", "168".to_string())]);
        let history = c.rotation_history(
            "rot_quarterly",
            &RunHistoryQuery {
                status: Some("failed".into()),
                ..RunHistoryQuery::default()
            },
        );
        assert_eq!(
            history.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/rotation/policies/rot_quarterly/history"
        );
        assert_eq!(history.query, [("status", "failed".to_string())]);
        let runs = c.rotation_runs(&RunFilter {
            path: Some("app/db".into()),
            limit: Some(5),
            ..RunFilter::default()
        });
        assert_eq!(
            runs.query,
            [("path", "app/db".to_string()), ("limit", "5".to_string())]
        );

        let t = c.with_tenant_id("tnt_acme");
        let assign = t.assign_rotation_policy(
            "rot_quarterly",
            &AssignRequest {
                paths: vec!["environments/production/**".into()],
            },
        );
        assert_eq!(
            assign.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/rotation/policies/rot_quarterly/assign"
        );
        assert!(matches!(assign.body, Some(Ok(_))));
        let trigger = t.trigger_rotation("rot_quarterly", &TriggerRequest::default());
        assert_eq!(
            trigger.body.unwrap().unwrap(),
            br#"{"paths":null}"#.to_vec()
        );
        assert_eq!(
            t.rotation_policy_secrets("rot_q", None, None).url.unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/rotation/policies/rot_q/secrets"
        );
    }
}
