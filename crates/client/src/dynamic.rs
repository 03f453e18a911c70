//! `/v1/dynamic/*`: dynamic credentials: engines, roles, and leases on short-lived credentials
//! (docs/dynamic.md). When the client acts as a tenant ([`Client::with_tenant_id`]) the routes
//! are sent under `/v1/t/{tenant}/`.

use reqwest::Method;
use scaivault_proto::dynamic::{
    CreateEngineRequest, CreateRoleRequest, CredsRequest, Engine, EngineList, Lease, LeaseCreated,
    LeaseList, LeaseRenewRequest, RevokePrefixRequest, RevokePrefixResult, Role, RoleList,
    UpdateEngineRequest, UpdateRoleRequest,
};

use crate::{Call, Client};

/// Filters of `GET /v1/dynamic/leases`.
#[derive(Debug, Clone, Default)]
pub struct LeaseFilter {
    pub engine: Option<String>,
    pub role: Option<String>,
    /// The requester (`user:...`, `sa:...`).
    pub identity: Option<String>,
    /// Only leases not yet revoked.
    pub live: bool,
}

impl Client {
    /// `POST /v1/dynamic/engines`: the connection is checked before it is stored.
    pub fn create_engine(&self, request: &CreateEngineRequest) -> Call<'_, Engine> {
        self.call(Method::POST, self.tenant_url(&["dynamic", "engines"]))
            .json(request)
    }

    /// `GET /v1/dynamic/engines`: one page.
    pub fn list_engines(&self, limit: Option<u32>, cursor: Option<&str>) -> Call<'_, EngineList> {
        self.call(Method::GET, self.tenant_url(&["dynamic", "engines"]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/dynamic/engines/{engine}`
    pub fn get_engine(&self, engine: &str) -> Call<'_, Engine> {
        self.call(
            Method::GET,
            self.tenant_url(&["dynamic", "engines", engine]),
        )
    }

    /// `PATCH /v1/dynamic/engines/{engine}`
    pub fn update_engine(&self, engine: &str, request: &UpdateEngineRequest) -> Call<'_, Engine> {
        self.call(
            Method::PATCH,
            self.tenant_url(&["dynamic", "engines", engine]),
        )
        .json(request)
    }

    /// `DELETE /v1/dynamic/engines/{engine}`; `force` revokes its live leases first.
    pub fn delete_engine(&self, engine: &str, force: bool) -> Call<'_, ()> {
        self.call(
            Method::DELETE,
            self.tenant_url(&["dynamic", "engines", engine]),
        )
        .query_opt("force", force.then_some("true"))
    }

    /// `POST /v1/dynamic/engines/{engine}/rotate-root`
    pub fn rotate_engine_root(&self, engine: &str) -> Call<'_, Engine> {
        self.call(
            Method::POST,
            self.tenant_url(&["dynamic", "engines", engine, "rotate-root"]),
        )
    }

    /// `GET /v1/dynamic/engines/{engine}/ca`: an SSH engine's CA public key (OpenSSH format,
    /// text) for hosts' `TrustedUserCAKeys`.
    pub fn engine_ca_key(&self, engine: &str) -> Call<'_, ()> {
        self.call(
            Method::GET,
            self.tenant_url(&["dynamic", "engines", engine, "ca"]),
        )
    }

    /// `POST /v1/dynamic/engines/{engine}/roles`
    pub fn create_role(&self, engine: &str, request: &CreateRoleRequest) -> Call<'_, Role> {
        self.call(
            Method::POST,
            self.tenant_url(&["dynamic", "engines", engine, "roles"]),
        )
        .json(request)
    }

    /// `GET /v1/dynamic/engines/{engine}/roles`: one page.
    pub fn list_roles(
        &self,
        engine: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, RoleList> {
        self.call(
            Method::GET,
            self.tenant_url(&["dynamic", "engines", engine, "roles"]),
        )
        .query_opt("limit", limit)
        .query_opt("cursor", cursor)
    }

    /// `GET /v1/dynamic/engines/{engine}/roles/{role}`
    pub fn get_role(&self, engine: &str, role: &str) -> Call<'_, Role> {
        self.call(
            Method::GET,
            self.tenant_url(&["dynamic", "engines", engine, "roles", role]),
        )
    }

    /// `PATCH /v1/dynamic/engines/{engine}/roles/{role}`
    pub fn update_role(
        &self,
        engine: &str,
        role: &str,
        request: &UpdateRoleRequest,
    ) -> Call<'_, Role> {
        self.call(
            Method::PATCH,
            self.tenant_url(&["dynamic", "engines", engine, "roles", role]),
        )
        .json(request)
    }

    /// `DELETE /v1/dynamic/engines/{engine}/roles/{role}`
    pub fn delete_role(&self, engine: &str, role: &str) -> Call<'_, ()> {
        self.call(
            Method::DELETE,
            self.tenant_url(&["dynamic", "engines", engine, "roles", role]),
        )
    }

    /// `POST /v1/dynamic/engines/{engine}/creds/{role}`: a new lease; its credential is in this
    /// response only.
    pub fn dynamic_creds(
        &self,
        engine: &str,
        role: &str,
        request: &CredsRequest,
    ) -> Call<'_, LeaseCreated> {
        self.call(
            Method::POST,
            self.tenant_url(&["dynamic", "engines", engine, "creds", role]),
        )
        .json(request)
    }

    /// `GET /v1/dynamic/leases`: one page.
    pub fn list_leases(
        &self,
        filter: &LeaseFilter,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, LeaseList> {
        self.call(Method::GET, self.tenant_url(&["dynamic", "leases"]))
            .query_opt("engine", filter.engine.as_deref())
            .query_opt("role", filter.role.as_deref())
            .query_opt("identity", filter.identity.as_deref())
            .query_opt("status", filter.live.then_some("live"))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/dynamic/leases/{id}`
    pub fn get_lease(&self, id: &str) -> Call<'_, Lease> {
        self.call(Method::GET, self.tenant_url(&["dynamic", "leases", id]))
    }

    /// `POST /v1/dynamic/leases/{id}/renew`
    pub fn renew_lease(&self, id: &str, request: &LeaseRenewRequest) -> Call<'_, Lease> {
        self.call(
            Method::POST,
            self.tenant_url(&["dynamic", "leases", id, "renew"]),
        )
        .json(request)
    }

    /// `POST /v1/dynamic/leases/{id}/revoke`: 200 when torn down, 202 when the target could
    /// not be reached (retried by the server; the lease shows `revocation_failed`).
    pub fn revoke_lease(&self, id: &str) -> Call<'_, Lease> {
        self.call(
            Method::POST,
            self.tenant_url(&["dynamic", "leases", id, "revoke"]),
        )
    }

    /// `POST /v1/dynamic/leases/revoke-prefix`: every live lease of an engine or one role.
    pub fn revoke_lease_prefix(
        &self,
        request: &RevokePrefixRequest,
    ) -> Call<'_, RevokePrefixResult> {
        self.call(
            Method::POST,
            self.tenant_url(&["dynamic", "leases", "revoke-prefix"]),
        )
        .json(request)
    }
}
