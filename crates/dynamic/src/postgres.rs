//! The `postgres` engine: one PostgreSQL role per lease.
//!
//! Settings and templates: see the `sql` module (the connection URL shown with its password
//! masked). Creation runs the role's statements in ONE transaction, so a failure leaves no
//! half-made user. Default revocation (a role without `revocation_statements`), as Vault's
//! and OpenBao's plugin do and a bit more: `ALTER ROLE ... NOLOGIN` (no new sessions), end the
//! user's sessions (`pg_terminate_backend`), then in one transaction `REASSIGN OWNED BY` it to
//! the engine's user, `DROP OWNED BY` it (its objects and privileges in the engine's database)
//! and `DROP ROLE IF EXISTS`. Grants in OTHER databases of the cluster are not visible from
//! the engine's database: a role granting those needs its own `revocation_statements`. A user
//! that does not exist counts as revoked. Default renewal: `ALTER ROLE "{{name}}" VALID UNTIL
//! '{{expiration}}'`. `rotate_root` sets a new password on the engine's own user (`ALTER ROLE
//! CURRENT_USER`): the old password stops working at once (sessions already open stay open);
//! the pool connects with the new one from then on.

use std::str::FromStr;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Postgres};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::sql::{
    self, Dialect, EngineSettings, RoleStatements, SqlBackend, TemplateValues, handle_username,
    pg_ident, pg_literal, render,
};
use crate::{Backend, CreateRequest, Credential, DynamicError, EngineKind, PreparedEngine};

const DEFAULT_RENEW: &str = "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}'";
/// SQLSTATE `undefined_object`: the role is gone already.
const UNDEFINED_OBJECT: &str = "42704";

pub(crate) fn prepare_engine(
    input: &Value,
    existing: Option<(&Value, &str)>,
) -> Result<PreparedEngine, DynamicError> {
    let (config, secret) = sql::prepare(Dialect::Postgres, input, existing)?;
    Ok(PreparedEngine { config, secret })
}

pub(crate) fn validate_role(role: &Value) -> Result<Value, DynamicError> {
    sql::validate_role(Dialect::Postgres, role)
}

pub(crate) fn open(config: &Value, secret: &str) -> Result<Box<dyn Backend>, DynamicError> {
    let settings = EngineSettings::from_config(Dialect::Postgres, config)?;
    let options = connect_options(&settings, secret)?;
    Ok(Box::new(PostgresBackend::connect_lazy(
        Dialect::Postgres,
        settings,
        secret,
        options,
    )))
}

fn connect_options(
    settings: &EngineSettings,
    password: &str,
) -> Result<PgConnectOptions, DynamicError> {
    let url = settings.connect_url(password)?;
    let options = PgConnectOptions::from_str(&url).map_err(|e| {
        DynamicError::InvalidConfig(format!(
            "connection_url: {}",
            sql::scrub(&e.to_string(), &[password])
        ))
    })?;
    // Statements carry passwords (CREATE ROLE ... PASSWORD): never log them.
    Ok(options
        .application_name("scaivault")
        .disable_statement_logging())
}

type PostgresBackend = SqlBackend<Postgres>;

impl PostgresBackend {
    /// Runs statements in one transaction.
    async fn run_in_transaction(
        &self,
        statements: &[String],
        values: &TemplateValues<'_>,
    ) -> Result<(), DynamicError> {
        let mut conn = self.acquire().await?;
        let mut tx = conn.begin().await.map_err(|e| self.failed(&e, ""))?;
        for statement in statements {
            let rendered = render(statement, values);
            sqlx::raw_sql(AssertSqlSafe(rendered.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.failed(&e, values.password))?;
        }
        tx.commit().await.map_err(|e| self.failed(&e, ""))
    }

    async fn role_exists(
        &self,
        conn: &mut PoolConnection<Postgres>,
        name: &str,
    ) -> Result<bool, DynamicError> {
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(name)
            .fetch_optional(&mut **conn)
            .await
            .map(|row| row.is_some())
            .map_err(|e| self.failed(&e, ""))
    }

    async fn default_revoke(
        &self,
        mut conn: PoolConnection<Postgres>,
        name: &str,
    ) -> Result<(), DynamicError> {
        let ident = pg_ident(name);
        // No new sessions from here on.
        let nologin = format!("ALTER ROLE {ident} NOLOGIN");
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(nologin))
            .execute(&mut *conn)
            .await
        {
            return if is_undefined_object(&e) {
                Ok(())
            } else {
                Err(self.failed(&e, ""))
            };
        }
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE usename = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut *conn)
        .await
        .map_err(|e| self.failed(&e, ""))?;
        let mut tx = conn.begin().await.map_err(|e| self.failed(&e, ""))?;
        for statement in [
            format!("REASSIGN OWNED BY {ident} TO CURRENT_USER"),
            format!("DROP OWNED BY {ident}"),
            format!("DROP ROLE IF EXISTS {ident}"),
        ] {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
            {
                return if is_undefined_object(&e) {
                    // Dropped meanwhile by someone else: revoked.
                    Ok(())
                } else {
                    Err(self.failed(&e, ""))
                };
            }
        }
        tx.commit().await.map_err(|e| self.failed(&e, ""))
    }
}

fn is_undefined_object(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(UNDEFINED_OBJECT))
}

#[async_trait]
impl Backend for PostgresBackend {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    async fn verify(&self) -> Result<(), DynamicError> {
        // A direct connection, not the pool: the driver's own reason when it fails.
        let options = self.pool.connect_options();
        let mut conn = match tokio::time::timeout(sql::CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(self.unreachable(&e)),
            Err(_) => return Err(self.unreachable(&sqlx::Error::PoolTimedOut)),
        };
        let result = sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| self.failed(&e, ""));
        let _ = conn.close().await;
        result.map(|_| ())
    }

    async fn create(&self, request: &CreateRequest<'_>) -> Result<Credential, DynamicError> {
        let statements = RoleStatements::from_role(request.role)?;
        let name = handle_username(request.handle)?;
        let password = sql::generate_password()?;
        let values = TemplateValues {
            name,
            password: &password,
            expiration: Some(request.expires_at),
        };
        self.run_in_transaction(&statements.creation, &values)
            .await?;
        let url = self.settings.url_with(name, &password)?;
        let mut data = serde_json::Map::new();
        data.insert("connection_url".into(), json!(url.as_str()));
        data.insert("username".into(), json!(name));
        data.insert("password".into(), json!(password.as_str()));
        Ok(Credential {
            data,
            handle: json!({ "username": name }),
            renewable: true,
        })
    }

    async fn renew(
        &self,
        role: &Value,
        handle: &Value,
        expires_at: OffsetDateTime,
    ) -> Result<(), DynamicError> {
        let statements = RoleStatements::from_role(role)?;
        let name = handle_username(handle)?;
        let renew = if statements.renew.is_empty() {
            vec![DEFAULT_RENEW.to_owned()]
        } else {
            statements.renew
        };
        let values = TemplateValues {
            name,
            password: "",
            expiration: Some(expires_at),
        };
        self.run_in_transaction(&renew, &values).await
    }

    async fn revoke(&self, role: &Value, handle: &Value) -> Result<(), DynamicError> {
        let statements = RoleStatements::from_role(role)?;
        let name = handle_username(handle)?;
        let mut conn = self.acquire().await?;
        if !self.role_exists(&mut conn, name).await? {
            return Ok(());
        }
        if statements.revocation.is_empty() {
            return self.default_revoke(conn, name).await;
        }
        drop(conn);
        let values = TemplateValues {
            name,
            password: "",
            expiration: None,
        };
        self.run_in_transaction(&statements.revocation, &values)
            .await
    }

    async fn rotate_root(&self) -> Result<Zeroizing<String>, DynamicError> {
        let new = sql::generate_password()?;
        let options = connect_options(&self.settings, &new)?;
        let mut conn = self.acquire().await?;
        let statement = Zeroizing::new(format!(
            "ALTER ROLE CURRENT_USER WITH PASSWORD {}",
            pg_literal(&new).as_str()
        ));
        sqlx::raw_sql(AssertSqlSafe(statement.as_str()))
            .execute(&mut *conn)
            .await
            .map_err(|e| self.failed(&e, &new))?;
        drop(conn);
        self.pool.set_connect_options(options);
        self.set_password(&new);
        Ok(new)
    }
}
