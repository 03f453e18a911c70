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

/// The bindings of these statements that both stores run alike, for a backend's connection and
/// pool types (expanded in `sqlite/policies.rs` and `postgres/policies.rs`, whose imports the paths
/// inside resolve to).
macro_rules! shared_bindings {
    ($conn:ty, $pool:ty) => {
        pub(super) async fn get(
            pool: &$pool,
            tenant_id: &str,
            id: &str,
        ) -> Result<Option<PolicyRecord>> {
            let row: Option<PolicyRow> = sqlx::query_as(GET)
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        /// `Duplicate` when the tenant already has a policy with this id or name.
        pub(super) async fn insert(conn: &mut $conn, p: &PolicyRecord) -> Result<()> {
            sqlx::query(INSERT)
                .bind(&p.id)
                .bind(&p.tenant_id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(&p.rules)
                .bind(micros(p.created_at))
                .bind(micros(p.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(())
        }

        /// Replaces name, description and rules; false when there is no such policy.
        pub(super) async fn update(conn: &mut $conn, p: &PolicyRecord) -> Result<bool> {
            let done = sqlx::query(UPDATE)
                .bind(&p.tenant_id)
                .bind(&p.id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(&p.rules)
                .bind(micros(p.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn list(
            pool: &$pool,
            tenant_id: &str,
            after: Option<&str>,
            limit: u32,
        ) -> Result<Page<PolicyRecord>> {
            let rows: Vec<PolicyRow> = sqlx::query_as(LIST)
                .bind(tenant_id)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            Ok(page_of(records(rows)?, limit, None))
        }

        /// Deletes the policy and its bindings; false when there is no such policy.
        pub(super) async fn delete(conn: &mut $conn, tenant_id: &str, id: &str) -> Result<bool> {
            let done = sqlx::query(DELETE)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(DELETE_BINDINGS)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        /// Binds; `Duplicate` when already bound.
        pub(super) async fn bind(
            conn: &mut $conn,
            tenant_id: &str,
            b: &PolicyBinding,
        ) -> Result<()> {
            sqlx::query(BIND)
                .bind(tenant_id)
                .bind(&b.policy_id)
                .bind(&b.identity_id)
                .bind(&b.identity_type)
                .bind(micros(b.created_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(())
        }

        pub(super) async fn unbind(
            conn: &mut $conn,
            tenant_id: &str,
            policy_id: &str,
            identity_id: &str,
        ) -> Result<bool> {
            let done = sqlx::query(UNBIND)
                .bind(tenant_id)
                .bind(policy_id)
                .bind(identity_id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn bindings(
            pool: &$pool,
            tenant_id: &str,
            policy_id: &str,
        ) -> Result<Vec<PolicyBinding>> {
            let rows: Vec<BindingRow> = sqlx::query_as(BINDINGS)
                .bind(tenant_id)
                .bind(policy_id)
                .fetch_all(pool)
                .await?;
            records(rows)
        }
    };
}
pub(crate) use shared_bindings;
