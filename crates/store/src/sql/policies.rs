//! Path policies and their bindings: the statements both stores run and the rows they read.

use super::from_micros;
use crate::model::{PolicyBinding, PolicyRecord};
use crate::{Result, StoreError};

pub(crate) const INSERT: &str =
    "INSERT INTO policies (id, tenant_id, name, description, rules, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const UPDATE: &str =
    "UPDATE policies SET name = $3, description = $4, rules = $5, updated_at = $6
     WHERE tenant_id = $1 AND id = $2";
pub(crate) const GET: &str =
    "SELECT id, tenant_id, name, description, rules, created_at, updated_at FROM policies
     WHERE tenant_id = $1 AND id = $2";
pub(crate) const LIST: &str =
    "SELECT id, tenant_id, name, description, rules, created_at, updated_at FROM policies
     WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3";
pub(crate) const DELETE: &str = "DELETE FROM policies WHERE tenant_id = $1 AND id = $2";
pub(crate) const DELETE_BINDINGS: &str =
    "DELETE FROM policy_bindings WHERE tenant_id = $1 AND policy_id = $2";
pub(crate) const BIND: &str =
    "INSERT INTO policy_bindings (tenant_id, policy_id, identity_id, identity_type, created_at)
     VALUES ($1, $2, $3, $4, $5)";
pub(crate) const UNBIND: &str =
    "DELETE FROM policy_bindings WHERE tenant_id = $1 AND policy_id = $2 AND identity_id = $3";
pub(crate) const BINDINGS: &str =
    "SELECT policy_id, identity_id, identity_type, created_at FROM policy_bindings
     WHERE tenant_id = $1 AND policy_id = $2 ORDER BY identity_id";
/// The start of `bound_to`: the backends add the identity list their own way (PostgreSQL one
/// array parameter, SQLite one parameter per identity) and close with [`BOUND_TO_END`].
pub(crate) const BOUND_TO_START: &str =
    "SELECT p.id, p.tenant_id, p.name, p.description, p.rules, p.created_at, p.updated_at
     FROM policies p
     WHERE p.tenant_id = $1
       AND p.id IN (SELECT b.policy_id FROM policy_bindings b
                    WHERE b.tenant_id = p.tenant_id AND b.identity_id ";
pub(crate) const BOUND_TO_END: &str = ") ORDER BY p.id";

#[derive(sqlx::FromRow)]
pub(crate) struct PolicyRow {
    id: String,
    tenant_id: String,
    name: String,
    description: Option<String>,
    rules: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<PolicyRow> for PolicyRecord {
    type Error = StoreError;

    fn try_from(row: PolicyRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            description: row.description,
            rules: row.rules,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BindingRow {
    policy_id: String,
    identity_id: String,
    identity_type: String,
    created_at: i64,
}

impl TryFrom<BindingRow> for PolicyBinding {
    type Error = StoreError;

    fn try_from(row: BindingRow) -> Result<Self> {
        Ok(Self {
            policy_id: row.policy_id,
            identity_id: row.identity_id,
            identity_type: row.identity_type,
            created_at: from_micros(row.created_at)?,
        })
    }
}
