//! The `mysql` engine (MySQL and MariaDB): one database user per lease.
//!
//! Settings and templates: see the `sql` module (the connection URL shown with its password
//! masked; `mysql://` or `mariadb://`). MySQL commits DDL implicitly, so the creation
//! statements cannot share a transaction: when one fails, the user is dropped again (default
//! revocation) before the error is returned. Default revocation (a role without
//! `revocation_statements`): `DROP USER IF EXISTS` for every host the name has in
//! `mysql.user` (the usual `'{{name}}'@'%'` and any other), then `KILL` its remaining
//! connections (dropping a user does not end its sessions). A user that does not exist counts
//! as revoked. MySQL users carry no validity, so renewal only runs the role's
//! `renew_statements` when it has some; otherwise it is bookkeeping in ScaiVault (the lease's
//! end is when the sweeper revokes). `rotate_root` runs `ALTER USER` on the engine's own
//! account (`CURRENT_USER()`): the old password stops working at once (sessions already open stay open); the
//! pool connects with the new one from then on.

use std::str::FromStr;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, MySql};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::sql::{
    self, Dialect, EngineSettings, RoleStatements, SqlBackend, TemplateValues, handle_username,
    mysql_literal, render,
};
use crate::{Backend, CreateRequest, Credential, DynamicError, EngineKind, PreparedEngine};

/// `KILL` of a session that has ended already.
const ER_NO_SUCH_THREAD: u16 = 1094;

pub(crate) fn prepare_engine(
    input: &Value,
    existing: Option<(&Value, &str)>,
) -> Result<PreparedEngine, DynamicError> {
    let (config, secret) = sql::prepare(Dialect::Mysql, input, existing)?;
    Ok(PreparedEngine { config, secret })
}

pub(crate) fn validate_role(role: &Value) -> Result<Value, DynamicError> {
    sql::validate_role(Dialect::Mysql, role)
}

pub(crate) fn open(config: &Value, secret: &str) -> Result<Box<dyn Backend>, DynamicError> {
    let settings = EngineSettings::from_config(Dialect::Mysql, config)?;
    let options = connect_options(&settings, secret)?;
    Ok(Box::new(MysqlBackend::connect_lazy(
        Dialect::Mysql,
        settings,
        secret,
        options,
    )))
}

fn connect_options(
    settings: &EngineSettings,
    password: &str,
) -> Result<MySqlConnectOptions, DynamicError> {
    let url = settings.connect_url(password)?;
    let options = MySqlConnectOptions::from_str(&url).map_err(|e| {
        DynamicError::InvalidConfig(format!(
            "connection_url: {}",
            sql::scrub(&e.to_string(), &[password])
        ))
    })?;
    // Statements carry passwords (CREATE USER ... IDENTIFIED BY): never log them.
    Ok(options.disable_statement_logging())
}

type MysqlBackend = SqlBackend<MySql>;

impl MysqlBackend {
    /// Runs statements one after the other (MySQL commits DDL implicitly anyway).
    async fn run(
        &self,
        conn: &mut PoolConnection<MySql>,
        statements: &[String],
        values: &TemplateValues<'_>,
    ) -> Result<(), DynamicError> {
        for statement in statements {
            let rendered = render(statement, values);
            sqlx::raw_sql(AssertSqlSafe(rendered.as_str()))
                .execute(&mut **conn)
                .await
                .map_err(|e| self.failed(&e, values.password))?;
        }
        Ok(())
    }

    /// The hosts the user name has accounts for (none: it does not exist).
    async fn hosts(
        &self,
        conn: &mut PoolConnection<MySql>,
        name: &str,
    ) -> Result<Vec<String>, DynamicError> {
        sqlx::query_scalar::<_, String>(
            "SELECT CONVERT(Host USING utf8mb4) FROM mysql.user WHERE User = ?",
        )
        .bind(name)
        .fetch_all(&mut **conn)
        .await
        .map_err(|e| self.failed(&e, ""))
    }

    async fn default_revoke(
        &self,
        conn: &mut PoolConnection<MySql>,
        name: &str,
        hosts: &[String],
    ) -> Result<(), DynamicError> {
        for host in hosts {
            let statement = format!(
                "DROP USER IF EXISTS {}@{}",
                mysql_literal(name).as_str(),
                mysql_literal(host).as_str()
            );
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut **conn)
                .await
                .map_err(|e| self.failed(&e, ""))?;
        }
        // Dropping a user leaves its sessions running: end them.
        let ids = sqlx::query_scalar::<_, i64>(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()",
        )
        .bind(name)
        .fetch_all(&mut **conn)
        .await
        .map_err(|e| self.failed(&e, ""))?;
        for id in ids {
            // A session that ended meanwhile is fine (ER_NO_SUCH_THREAD).
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(format!("KILL CONNECTION {id}")))
                .execute(&mut **conn)
                .await
            {
                let gone = matches!(&e, sqlx::Error::Database(db)
                    if db.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number)
                        == Some(ER_NO_SUCH_THREAD));
                if !gone {
                    return Err(self.failed(&e, ""));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for MysqlBackend {
    fn kind(&self) -> EngineKind {
        EngineKind::Mysql
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
        let mut conn = self.acquire().await?;
        if let Err(error) = self.run(&mut conn, &statements.creation, &values).await {
            // No half-made user: drop what the first statements created. If that fails
            // too, the lease's revocation (recorded before this call) will retry.
            if let Ok(hosts) = self.hosts(&mut conn, name).await {
                let _ = self.default_revoke(&mut conn, name, &hosts).await;
            }
            return Err(error);
        }
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
        if statements.renew.is_empty() {
            return Ok(());
        }
        let values = TemplateValues {
            name,
            password: "",
            expiration: Some(expires_at),
        };
        let mut conn = self.acquire().await?;
        self.run(&mut conn, &statements.renew, &values).await
    }

    async fn revoke(&self, role: &Value, handle: &Value) -> Result<(), DynamicError> {
        let statements = RoleStatements::from_role(role)?;
        let name = handle_username(handle)?;
        let mut conn = self.acquire().await?;
        let hosts = self.hosts(&mut conn, name).await?;
        if hosts.is_empty() {
            return Ok(());
        }
        if statements.revocation.is_empty() {
            return self.default_revoke(&mut conn, name, &hosts).await;
        }
        let values = TemplateValues {
            name,
            password: "",
            expiration: None,
        };
        self.run(&mut conn, &statements.revocation, &values).await
    }

    async fn rotate_root(&self) -> Result<Zeroizing<String>, DynamicError> {
        let new = sql::generate_password()?;
        let options = connect_options(&self.settings, &new)?;
        let mut conn = self.acquire().await?;
        // The account by name: MariaDB ignores `ALTER USER CURRENT_USER()` under the
        // session's sql_mode (the statement succeeds and changes nothing).
        let account =
            sqlx::query_scalar::<_, String>("SELECT CONVERT(CURRENT_USER() USING utf8mb4)")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| self.failed(&e, ""))?;
        let (user, host) = account.rsplit_once('@').ok_or_else(|| {
            DynamicError::Refused(format!(
                "{}: unexpected CURRENT_USER() '{account}'",
                self.address
            ))
        })?;
        let statement = Zeroizing::new(format!(
            "ALTER USER {}@{} IDENTIFIED BY {}",
            mysql_literal(user).as_str(),
            mysql_literal(host).as_str(),
            mysql_literal(&new).as_str()
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
