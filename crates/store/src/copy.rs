//! Row-level access for moving a store from the embedded SQLite schema to the PostgreSQL one
//! (`scaivault operator migrate`), table by table.
//!
//! The copier is table-driven: [`TABLES`] lists every table of the embedded schema with its
//! primary key and the conversion of each column ([`Kind`]); a new table is one entry there.
//! [`Source::check_schema`] and [`Target::check_schema`] compare the list with the schemas the
//! databases actually have (tables, columns, keys, types), so a table or column the list does not
//! know stops a migration before it starts instead of being left behind (and the unit tests below
//! fail on a migration that adds one).
//!
//! Rows travel as [`Value`]s: what a column means, independent of either database's types.
//! Ciphertext, wrapped keys and audit hashes are copied byte for byte; timestamps are
//! microseconds on both sides; only booleans (INTEGER 0/1 to BOOLEAN) and lists (JSON arrays in
//! TEXT to TEXT[]) change representation. [`encode_row`] renders a row canonically, so both
//! sides can be digested and compared.
//!
//! Nothing here writes the source: it is opened read-only, and [`Source::begin_snapshot`] holds
//! one read transaction, a consistent snapshot however long the copy takes.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Row as _;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder, Sqlite, SqliteConnection};

use crate::{Result, StoreError};

/// The embedded store's migrations, to check that a source is exactly at this binary's schema.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How a column is stored on each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// INTEGER / BIGINT (timestamps in microseconds, counters, versions).
    Int,
    /// INTEGER 0/1 / BOOLEAN.
    Bool,
    /// TEXT / TEXT (JSON documents such as policy rules and event data stay text).
    Text,
    /// BLOB / BYTEA (ciphertext, wrapped keys, hashes, MACs): copied byte for byte.
    Blob,
    /// A JSON array of strings in TEXT / TEXT[] (tags, scopes, roles, globs).
    TextList,
}

impl Kind {
    /// The declared SQLite type of a column of this kind.
    fn sqlite_type(self) -> &'static str {
        match self {
            Self::Int | Self::Bool => "INTEGER",
            Self::Text | Self::TextList => "TEXT",
            Self::Blob => "BLOB",
        }
    }

    /// The PostgreSQL `information_schema.columns.udt_name` of a column of this kind.
    fn pg_type(self) -> &'static str {
        match self {
            Self::Int => "int8",
            Self::Bool => "bool",
            Self::Text => "text",
            Self::Blob => "bytea",
            Self::TextList => "_text",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// One table to copy.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub name: &'static str,
    /// The primary key, in order: rows are read and compared in this order (bytewise for text,
    /// `COLLATE "C"` in PostgreSQL) and pages continue after the last key.
    pub key: &'static [&'static str],
    /// Every column, in the order rows carry them.
    pub columns: &'static [Column],
    /// The key is an identity column in PostgreSQL: source values are kept (`OVERRIDING SYSTEM
    /// VALUE`) and the sequence is moved past them afterwards.
    pub identity: bool,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

use Kind::{Blob, Bool, Int, Text, TextList};

/// Every table of the embedded schema, in copy order. Keep in step with the migrations in
/// `migrations/sqlite` and `migrations/postgres` (the schema checks enforce it).
pub static TABLES: &[Table] = &[
    Table {
        name: "system",
        key: &["key"],
        identity: false,
        columns: &[col("key", Text), col("value", Text)],
    },
    Table {
        name: "data_keys",
        key: &["key_id"],
        identity: false,
        columns: &[
            col("key_id", Text),
            col("purpose", Text),
            col("provider", Text),
            col("wrapped", Blob),
            col("created_at", Int),
            col("active", Bool),
        ],
    },
    Table {
        name: "partners",
        key: &["id"],
        identity: false,
        columns: &[col("id", Text), col("name", Text), col("created_at", Int)],
    },
    Table {
        name: "tenants",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("partner_id", Text),
            col("slug", Text),
            col("name", Text),
            col("created_at", Int),
        ],
    },
    Table {
        name: "secrets",
        key: &["tenant_id", "path"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("path", Text),
            col("secret_type", Text),
            col("current_version", Int),
            col("latest_version", Int),
            col("max_versions", Int),
            col("description", Text),
            col("tags", TextList),
            col("owner", Text),
            col("expires_at", Int),
            col("rotation_policy_id", Text),
            col("secret_policy_id", Text),
            col("created_at", Int),
            col("updated_at", Int),
            col("deleted_at", Int),
        ],
    },
    Table {
        name: "secret_versions",
        key: &["tenant_id", "path", "version"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("path", Text),
            col("version", Int),
            col("key_id", Text),
            col("ciphertext", Blob),
            col("created_at", Int),
            col("retires_at", Int),
        ],
    },
    Table {
        name: "secret_access",
        key: &["tenant_id", "path", "day"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("path", Text),
            col("day", Int),
            col("count", Int),
            col("last_at", Int),
        ],
    },
    Table {
        name: "tokens",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("partner_id", Text),
            col("identity_id", Text),
            col("identity_type", Text),
            col("token_hash", Text),
            col("name", Text),
            col("scopes", TextList),
            col("is_admin", Bool),
            col("created_at", Int),
            col("expires_at", Int),
            col("revoked_at", Int),
            col("kind", Text),
            col("is_partner_admin", Bool),
            col("parent_key_id", Text),
        ],
    },
    Table {
        name: "service_accounts",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("name", Text),
            col("description", Text),
            col("roles", TextList),
            col("created_at", Int),
        ],
    },
    Table {
        name: "identity_groups",
        key: &["tenant_id", "identity_id", "group_id"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("identity_id", Text),
            col("group_id", Text),
        ],
    },
    Table {
        name: "policies",
        key: &["tenant_id", "id"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("id", Text),
            col("name", Text),
            col("description", Text),
            col("rules", Text),
            col("created_at", Int),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "policy_bindings",
        key: &["tenant_id", "policy_id", "identity_id"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("policy_id", Text),
            col("identity_id", Text),
            col("identity_type", Text),
            col("created_at", Int),
        ],
    },
    Table {
        name: "secret_policies",
        key: &["tenant_id", "id"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("id", Text),
            col("name", Text),
            col("description", Text),
            col("secret_type", Text),
            col("fields", Text),
            col("created_at", Int),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "rotation_policies",
        key: &["tenant_id", "id"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("id", Text),
            col("name", Text),
            col("description", Text),
            col("interval_secs", Int),
            col("grace_secs", Int),
            col("warn_before", Text),
            col("auto_generate", Bool),
            col("rotation_window", Text),
            col("created_at", Int),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "rotation_schedules",
        key: &["tenant_id", "path"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("path", Text),
            col("policy_id", Text),
            col("state", Text),
            col("next_rotation_at", Int),
            col("next_warning_at", Int),
            col("attempts", Int),
            col("last_rotated_at", Int),
            col("last_error", Text),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "rotation_runs",
        key: &["seq"],
        identity: true,
        columns: &[
            col("seq", Int),
            col("id", Text),
            col("tenant_id", Text),
            col("policy_id", Text),
            col("path", Text),
            col("trigger", Text),
            col("status", Text),
            col("attempt", Int),
            col("old_version", Int),
            col("new_version", Int),
            col("error", Text),
            col("started_at", Int),
            col("finished_at", Int),
        ],
    },
    // The internal CA, in foreign-key order (certificates and CRLs name their CA).
    Table {
        name: "pki_cas",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("name", Text),
            col("parent_ca_id", Text),
            col("common_name", Text),
            col("key_type", Text),
            col("cert_der", Blob),
            col("key_id", Text),
            col("sealed_key", Blob),
            col("serial", Text),
            col("not_before", Int),
            col("not_after", Int),
            col("status", Text),
            col("separation_of_duties", Bool),
            col("settings", Text),
            col("imported", Bool),
            col("crl_number", Int),
            col("created_at", Int),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "pki_csrs",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("csr_pem", Text),
            col("common_name", Text),
            col("sans", TextList),
            col("key_type", Text),
            col("status", Text),
            col("submitted_by", Text),
            col("decided_by", Text),
            col("decided_at", Int),
            col("reason", Text),
            col("cert_id", Text),
            col("created_at", Int),
        ],
    },
    Table {
        name: "pki_certificates",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("ca_id", Text),
            col("serial", Text),
            col("common_name", Text),
            col("sans", TextList),
            col("key_type", Text),
            col("usage", Text),
            col("not_before", Int),
            col("not_after", Int),
            col("cert_der", Blob),
            col("secret_path", Text),
            col("csr_id", Text),
            col("revoked_at", Int),
            col("revocation_reason", Text),
            col("issued_by", Text),
            col("created_at", Int),
        ],
    },
    Table {
        name: "pki_crls",
        key: &["ca_id"],
        identity: false,
        columns: &[
            col("ca_id", Text),
            col("crl_number", Int),
            col("der", Blob),
            col("this_update", Int),
            col("next_update", Int),
        ],
    },
    // Dynamic credentials, in foreign-key order (roles name their engine; leases have no
    // foreign key).
    Table {
        name: "dynamic_engines",
        key: &["tenant_id", "name"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("name", Text),
            col("kind", Text),
            col("config", Text),
            col("secret_key_id", Text),
            col("sealed_secret", Blob),
            col("created_at", Int),
            col("updated_at", Int),
            col("root_rotated_at", Int),
        ],
    },
    Table {
        name: "dynamic_roles",
        key: &["tenant_id", "engine", "name"],
        identity: false,
        columns: &[
            col("tenant_id", Text),
            col("engine", Text),
            col("name", Text),
            col("config", Text),
            col("default_ttl_secs", Int),
            col("max_ttl_secs", Int),
            col("max_leases", Int),
            col("created_at", Int),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "dynamic_leases",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("engine", Text),
            col("role", Text),
            col("identity", Text),
            col("status", Text),
            col("renewable", Bool),
            col("handle", Text),
            col("issued_at", Int),
            col("expires_at", Int),
            col("max_expires_at", Int),
            col("due_at", Int),
            col("attempts", Int),
            col("last_error", Text),
            col("revoked_at", Int),
            col("updated_at", Int),
        ],
    },
    // ACME, in foreign-key order (orders name their account; an order's DNS provider is checked
    // by the store, not by a foreign key, so a finished order may outlive its provider).
    Table {
        name: "acme_accounts",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("provider", Text),
            col("directory_url", Text),
            col("contacts", TextList),
            col("status", Text),
            col("account_url", Text),
            col("credentials_key_id", Text),
            col("sealed_credentials", Blob),
            col("eab_kid", Text),
            col("created_at", Int),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "acme_dns_providers",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("name", Text),
            col("kind", Text),
            col("settings", Text),
            col("credentials_key_id", Text),
            col("sealed_credentials", Blob),
            col("created_at", Int),
            col("updated_at", Int),
        ],
    },
    Table {
        name: "acme_orders",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("account_id", Text),
            col("domains", TextList),
            col("challenge", Text),
            col("dns_provider_id", Text),
            col("key_type", Text),
            col("status", Text),
            col("order_url", Text),
            col("checkpoint_key_id", Text),
            col("sealed_checkpoint", Blob),
            col("certificate_id", Text),
            col("problem", Text),
            col("attempts", Int),
            col("next_attempt_at", Int),
            col("renewal_of", Text),
            col("claimed_by", Text),
            col("claim_expires_at", Int),
            col("created_at", Int),
            col("updated_at", Int),
            col("secret_path", Text),
            col("requested_by", Text),
        ],
    },
    Table {
        name: "acme_http01_tokens",
        key: &["token"],
        identity: false,
        columns: &[
            col("token", Text),
            col("tenant_id", Text),
            col("order_id", Text),
            col("key_authorization", Text),
            col("expires_at", Int),
            col("created_at", Int),
        ],
    },
    Table {
        name: "subscriptions",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("name", Text),
            col("paths", TextList),
            col("event_types", TextList),
            col("tenants", TextList),
            col("webhook_url", Text),
            col("webhook_secret_key_id", Text),
            col("webhook_secret", Blob),
            col("owner_identity", Text),
            col("owner_groups", TextList),
            col("owner_is_admin", Bool),
            col("owner_is_partner_admin", Bool),
            col("created_at", Int),
            col("start_seq", Int),
            col("delivered_seq", Int),
            col("attempts", Int),
            col("next_attempt_at", Int),
            col("last_error", Text),
        ],
    },
    Table {
        name: "dead_letters",
        key: &["subscription_id", "event_seq"],
        identity: false,
        columns: &[
            col("subscription_id", Text),
            col("event_seq", Int),
            col("event_id", Text),
            col("attempts", Int),
            col("last_error", Text),
            col("failed_at", Int),
        ],
    },
    Table {
        name: "events",
        key: &["seq"],
        identity: true,
        columns: &[
            col("seq", Int),
            col("id", Text),
            col("tenant_id", Text),
            col("event_type", Text),
            col("path", Text),
            col("occurred_at", Int),
            col("data", Text),
        ],
    },
    Table {
        name: "audit_callers",
        key: &["id"],
        identity: true,
        columns: &[
            col("id", Int),
            col("actor_id", Text),
            col("credential_id", Text),
            col("actor_type", Text),
            col("actor_tenant_id", Text),
            col("partner_id", Text),
            col("client_ip", Text),
            col("user_agent", Text),
        ],
    },
    Table {
        name: "audit_log",
        key: &["seq"],
        identity: true,
        columns: &[
            col("seq", Int),
            col("entry_id", Text),
            col("chain", Text),
            col("chain_seq", Int),
            col("occurred_at", Int),
            col("request_id", Text),
            col("caller", Int),
            col("action", Text),
            col("resource_type", Text),
            col("resource_path", Text),
            col("version", Int),
            col("outcome", Text),
            col("error_code", Text),
            col("hash", Blob),
        ],
    },
    Table {
        name: "audit_checkpoints",
        key: &["chain", "chain_seq"],
        identity: false,
        columns: &[
            col("chain", Text),
            col("chain_seq", Int),
            col("hash", Blob),
            col("created_at", Int),
            col("mac", Blob),
        ],
    },
    Table {
        name: "audit_anchors",
        key: &["chain"],
        identity: false,
        columns: &[
            col("chain", Text),
            col("chain_seq", Int),
            col("hash", Blob),
            col("mac", Blob),
        ],
    },
];

/// Tables only the PostgreSQL schema has. They are not copied: `audit_heads` is rebuilt from
/// `audit_log` and `audit_anchors` by [`Target::finish`]; `job_leases` is the runtime state of a
/// cluster and starts empty.
pub const TARGET_ONLY: &[&str] = &["audit_heads", "job_leases"];

/// The key in the target's `system` table under which a migration records its progress. It is
/// never copied, digested or compared (nor is [`crate::WRITE_PROBE_KEY`], which a running
/// server rewrites at every readiness check).
pub const PROGRESS_KEY: &str = "migration.progress";

/// Schema bookkeeping of the databases themselves, never copied.
fn is_internal(table: &str) -> bool {
    table == "_sqlx_migrations" || table.starts_with("sqlite_")
}

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

impl Table {
    /// Positions of the key columns in [`Table::columns`].
    pub fn key_positions(&self) -> Vec<usize> {
        self.key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| c.name == *k))
            .collect()
    }

    /// The key of `row`.
    pub fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.key_positions()
            .into_iter()
            .filter_map(|i| row.get(i).cloned())
            .collect()
    }

    fn key_kinds(&self) -> Vec<Kind> {
        self.key_positions()
            .into_iter()
            .filter_map(|i| self.columns.get(i).map(|c| c.kind))
            .collect()
    }

    /// `true` when the table can hold large values: pages are then sized by bytes as well.
    pub fn has_blobs(&self) -> bool {
        self.columns.iter().any(|c| c.kind == Blob)
    }

    /// A key as JSON (for a progress record): numbers and strings.
    pub fn key_to_json(&self, key: &[Value]) -> serde_json::Value {
        serde_json::Value::Array(
            key.iter()
                .map(|v| match v {
                    Value::Int(i) => serde_json::Value::from(*i),
                    Value::Text(s) => serde_json::Value::from(s.as_str()),
                    _ => serde_json::Value::Null,
                })
                .collect(),
        )
    }

    /// The inverse of [`Table::key_to_json`]; `None` when it does not fit this table's key.
    pub fn key_from_json(&self, json: &serde_json::Value) -> Option<Vec<Value>> {
        let items = json.as_array()?;
        let kinds = self.key_kinds();
        if items.len() != kinds.len() {
            return None;
        }
        items
            .iter()
            .zip(kinds)
            .map(|(v, kind)| match kind {
                Int => v.as_i64().map(Value::Int),
                Text => v.as_str().map(|s| Value::Text(s.to_owned())),
                _ => None,
            })
            .collect()
    }

    /// The key rendered for a message (ids, tenants, paths and numbers; never a value).
    pub fn describe_key(&self, key: &[Value]) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .zip(key)
            .map(|(name, v)| match v {
                Value::Int(i) => format!("{name}={i}"),
                Value::Text(s) => format!("{name}={s:?}"),
                _ => format!("{name}=?"),
            })
            .collect();
        parts.join(", ")
    }
}

/// One column's value, independent of the database it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
    TextList(Vec<String>),
}

impl Value {
    /// Approximate size in memory (for sizing pages).
    pub fn size(&self) -> usize {
        match self {
            Self::Null | Self::Int(_) | Self::Bool(_) => 8,
            Self::Text(s) => s.len(),
            Self::Blob(b) => b.len(),
            Self::TextList(l) => l.iter().map(|s| s.len() + 8).sum(),
        }
    }
}

pub type Row = Vec<Value>;

/// Appends the canonical rendering of `row` to `out`: a tag per value and length-prefixed
/// contents, so different rows never render alike.
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u64).to_be_bytes());
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&(row.len() as u32).to_be_bytes());
    for v in row {
        match v {
            Value::Null => out.push(0),
            Value::Int(i) => {
                out.push(1);
                out.extend_from_slice(&i.to_be_bytes());
            }
            Value::Bool(b) => {
                out.push(2);
                out.push(u8::from(*b));
            }
            Value::Text(s) => {
                out.push(3);
                bytes(out, s.as_bytes());
            }
            Value::Blob(b) => {
                out.push(4);
                bytes(out, b);
            }
            Value::TextList(items) => {
                out.push(5);
                out.extend_from_slice(&(items.len() as u64).to_be_bytes());
                for s in items {
                    bytes(out, s.as_bytes());
                }
            }
        }
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| quote(c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_list(table: &Table) -> String {
    table
        .key
        .iter()
        .map(|k| quote(k))
        .collect::<Vec<_>>()
        .join(", ")
}

fn corrupt(table: &Table, column: &str, what: &str) -> StoreError {
    StoreError::Corrupt(format!("{}.{column}: {what}", table.name))
}

/// A clear refusal that is not a database failure.
fn refused(message: String) -> StoreError {
    StoreError::Migration(sqlx::migrate::MigrateError::Source(message.into()))
}

// --- the source: the embedded store, read-only -------------------------------------------------

/// The embedded store's database file, opened read-only.
pub struct Source {
    conn: SqliteConnection,
    in_snapshot: bool,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("in_snapshot", &self.in_snapshot)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Opens `file` read-only (never creating or migrating it) and checks that its schema is
    /// exactly this binary's: an older store must be started once by this binary's server
    /// (which migrates it) first; a newer one needs a newer binary.
    pub async fn open(file: &Path) -> Result<Self> {
        if !file.is_file() {
            return Err(refused(format!("no embedded store at {}", file.display())));
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(file)
            .create_if_missing(false)
            .read_only(true)
            .busy_timeout(Duration::from_secs(30));
        let mut conn = SqliteConnection::connect_with(&options).await?;
        let has_migrations: bool = sqlx::query_scalar(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&mut conn)
        .await?;
        if !has_migrations {
            return Err(refused(format!(
                "{} is not a ScaiVault store (no schema history)",
                file.display()
            )));
        }
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version",
        )
        .fetch_all(&mut conn)
        .await?;
        if let Some(unknown) = applied
            .iter()
            .find(|v| !SQLITE_MIGRATOR.version_exists(**v))
        {
            return Err(refused(format!(
                "the store has schema migration {unknown}, which this binary does not know: \
                 migrate with the ScaiVault version that last ran the server"
            )));
        }
        if let Some(missing) = SQLITE_MIGRATOR
            .iter()
            .map(|m| m.version)
            .find(|v| !applied.contains(v))
        {
            return Err(refused(format!(
                "the store's schema is older than this binary's (migration {missing} is not \
                 applied): start `scaivault server` on it once with this binary (it migrates at \
                 start), stop it, then migrate"
            )));
        }
        Ok(Self {
            conn,
            in_snapshot: false,
        })
    }

    /// Starts a read transaction: every read until [`Source::end_snapshot`] sees the database
    /// as it was now, whatever a process writing the file does meanwhile.
    pub async fn begin_snapshot(&mut self) -> Result<()> {
        self.end_snapshot().await?;
        sqlx::query("BEGIN DEFERRED")
            .execute(&mut self.conn)
            .await?;
        self.in_snapshot = true;
        // The snapshot is taken by the first read.
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .fetch_one(&mut self.conn)
            .await?;
        Ok(())
    }

    pub async fn end_snapshot(&mut self) -> Result<()> {
        if self.in_snapshot {
            sqlx::query("COMMIT").execute(&mut self.conn).await?;
            self.in_snapshot = false;
        }
        Ok(())
    }

    pub async fn close(mut self) {
        let _ = self.end_snapshot().await;
        let _ = self.conn.close().await;
    }

    /// `PRAGMA quick_check`.
    pub async fn quick_check(&mut self) -> Result<()> {
        let result: String = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&mut self.conn)
            .await?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!("integrity check: {result}")))
        }
    }

    /// What differs between [`TABLES`] and this database's schema (empty: nothing).
    pub async fn check_schema(&mut self) -> Result<Vec<String>> {
        check_sqlite_schema(&mut self.conn).await
    }

    /// Rows in `table` (in the snapshot).
    pub async fn count(&mut self, table: &Table) -> Result<u64> {
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("SELECT count(*) FROM {}", quote(table.name)));
        if table.name == "system" {
            qb.push(" WHERE \"key\" NOT IN (")
                .push_bind(PROGRESS_KEY)
                .push(", ")
                .push_bind(crate::WRITE_PROBE_KEY)
                .push(")");
        }
        let n: i64 = qb.build_query_scalar().fetch_one(&mut self.conn).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The largest value of any blob column of `table`, in bytes.
    pub async fn max_blob_len(&mut self, table: &Table) -> Result<u64> {
        let mut max = 0;
        for c in table.columns.iter().filter(|c| c.kind == Blob) {
            let n: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT max(length({})) FROM {}",
                quote(c.name),
                quote(table.name)
            )))
            .fetch_one(&mut self.conn)
            .await?;
            max = max.max(u64::try_from(n.unwrap_or(0)).unwrap_or(0));
        }
        Ok(max)
    }

    /// Up to `limit` rows of `table` after the key `after` (from the start when `None`), in key
    /// order.
    pub async fn page(
        &mut self,
        table: &Table,
        after: Option<&[Value]>,
        limit: u32,
    ) -> Result<Vec<Row>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM {} WHERE 1 = 1",
            column_list(table),
            quote(table.name)
        ));
        if table.name == "system" {
            qb.push(" AND \"key\" NOT IN (")
                .push_bind(PROGRESS_KEY)
                .push(", ")
                .push_bind(crate::WRITE_PROBE_KEY)
                .push(")");
        }
        if let Some(after) = after {
            qb.push(format!(" AND ({}) > (", key_list(table)));
            let mut sep = qb.separated(", ");
            for v in after {
                bind_sqlite(&mut sep, v);
            }
            sep.push_unseparated(")");
        }
        qb.push(format!(" ORDER BY {} LIMIT ", key_list(table)))
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&mut self.conn).await?;
        rows.iter().map(|r| sqlite_row(table, r)).collect()
    }
}

fn bind_sqlite(sep: &mut Separated<'_, Sqlite, &'static str>, v: &Value) {
    match v {
        Value::Int(i) => sep.push_bind(*i),
        Value::Text(s) => sep.push_bind(s.as_str()),
        Value::Bool(b) => sep.push_bind(i64::from(*b)),
        Value::Blob(b) => sep.push_bind(b.as_slice()),
        Value::Null | Value::TextList(_) => sep.push_bind(None::<i64>),
    };
}

fn sqlite_row(table: &Table, row: &SqliteRow) -> Result<Row> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c.kind {
                Int => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Value::Null, Value::Int),
                Bool => match row.try_get::<Option<i64>, _>(i)? {
                    None => Value::Null,
                    Some(0) => Value::Bool(false),
                    Some(1) => Value::Bool(true),
                    Some(_) => return Err(corrupt(table, c.name, "a flag other than 0 or 1")),
                },
                Text => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Value::Null, Value::Text),
                Blob => row
                    .try_get::<Option<Vec<u8>>, _>(i)?
                    .map_or(Value::Null, Value::Blob),
                TextList => match row.try_get::<Option<String>, _>(i)? {
                    None => Value::Null,
                    Some(json) => Value::TextList(
                        serde_json::from_str(&json)
                            .map_err(|_| corrupt(table, c.name, "not a JSON array of strings"))?,
                    ),
                },
            })
        })
        .collect()
}

async fn check_sqlite_schema(conn: &mut SqliteConnection) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut *conn)
            .await?;
    for name in tables.iter().filter(|t| !is_internal(t)) {
        let Some(table) = table(name) else {
            problems.push(format!(
                "table {name} of the embedded store is not in the copier's list (TABLES in \
                 crates/store/src/copy.rs)"
            ));
            continue;
        };
        // (name, declared type, position in the primary key: 0 when not part of it)
        let columns: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT name, type, pk FROM pragma_table_info('{}') ORDER BY cid",
            name.replace('\'', "''")
        )))
        .fetch_all(&mut *conn)
        .await?;
        for (column, declared, _) in &columns {
            match table.columns.iter().find(|c| c.name == column) {
                None => problems.push(format!(
                    "column {name}.{column} is not in the copier's list of the table"
                )),
                Some(c) if !declared.eq_ignore_ascii_case(c.kind.sqlite_type()) => {
                    problems.push(format!(
                        "column {name}.{column} is {declared} in SQLite, the copier expects {}",
                        c.kind.sqlite_type()
                    ));
                }
                Some(_) => {}
            }
        }
        for c in table.columns {
            if !columns.iter().any(|(n, _, _)| n == c.name) {
                problems.push(format!(
                    "the copier lists column {name}.{}, which SQLite does not have",
                    c.name
                ));
            }
        }
        let mut pk: Vec<(i64, &str)> = columns
            .iter()
            .filter(|(_, _, pk)| *pk > 0)
            .map(|(n, _, pk)| (*pk, n.as_str()))
            .collect();
        pk.sort_unstable();
        let pk: Vec<&str> = pk.into_iter().map(|(_, n)| n).collect();
        if pk != table.key {
            problems.push(format!(
                "the primary key of {name} is ({}) in SQLite, the copier uses ({})",
                pk.join(", "),
                table.key.join(", ")
            ));
        }
    }
    for t in TABLES {
        if !tables.iter().any(|n| n == t.name) {
            problems.push(format!(
                "the copier lists table {}, which the embedded store does not have",
                t.name
            ));
        }
    }
    Ok(problems)
}

// --- the target: PostgreSQL --------------------------------------------------------------------

/// The PostgreSQL database being filled, through one connection of its own. Open it with
/// [`crate::PgStore::connect`] first: that applies the migrations.
pub struct Target {
    conn: PgConnection,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").finish_non_exhaustive()
    }
}

impl Target {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("scaivault-migrate");
        let conn = PgConnection::connect_with(&options).await?;
        Ok(Self { conn })
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }

    /// What differs between [`TABLES`] and this database's schema (empty: nothing).
    pub async fn check_schema(&mut self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        // (table, column, udt_name, collation)
        let columns: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, udt_name::text, collation_name::text
             FROM information_schema.columns
             WHERE table_schema = current_schema()
             ORDER BY table_name, ordinal_position",
        )
        .fetch_all(&mut self.conn)
        .await?;
        let mut tables: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
        tables.dedup();
        for name in &tables {
            if is_internal(name) || TARGET_ONLY.contains(name) {
                continue;
            }
            let Some(table) = table(name) else {
                problems.push(format!(
                    "table {name} of the PostgreSQL schema is neither copied nor derived (TABLES \
                     and TARGET_ONLY in crates/store/src/copy.rs)"
                ));
                continue;
            };
            for (_, column, udt, collation) in columns.iter().filter(|c| c.0 == *name) {
                match table.columns.iter().find(|c| c.name == column) {
                    None => problems.push(format!(
                        "column {name}.{column} of the PostgreSQL schema is not in the copier's list"
                    )),
                    Some(c) if c.kind.pg_type() != udt => problems.push(format!(
                        "column {name}.{column} is {udt} in PostgreSQL, the copier expects {}",
                        c.kind.pg_type()
                    )),
                    Some(c)
                        if c.kind == Text
                            && table.key.contains(&c.name)
                            && collation.as_deref() != Some("C") =>
                    {
                        problems.push(format!(
                            "key column {name}.{column} is not COLLATE \"C\" in PostgreSQL: rows \
                             would not be ordered as in SQLite"
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        for t in TABLES {
            for c in t.columns {
                if !columns
                    .iter()
                    .any(|(tn, cn, _, _)| tn == t.name && cn == c.name)
                {
                    problems.push(format!(
                        "the PostgreSQL schema has no column {}.{}",
                        t.name, c.name
                    ));
                }
            }
        }
        Ok(problems)
    }

    /// The first table (copied or derived) that holds rows, the progress record aside.
    pub async fn first_nonempty_table(&mut self) -> Result<Option<&'static str>> {
        let names = TABLES
            .iter()
            .map(|t| t.name)
            .chain(TARGET_ONLY.iter().copied());
        for name in names {
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT EXISTS (SELECT 1 FROM {}",
                quote(name)
            ));
            if name == "system" {
                qb.push(" WHERE \"key\" NOT IN (")
                    .push_bind(PROGRESS_KEY)
                    .push(", ")
                    .push_bind(crate::WRITE_PROBE_KEY)
                    .push(")");
            }
            qb.push(")");
            let any: bool = qb.build_query_scalar().fetch_one(&mut self.conn).await?;
            if any {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// The progress record of a migration into this database, if one started.
    pub async fn progress(&mut self) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM system WHERE key = $1")
                .bind(PROGRESS_KEY)
                .fetch_optional(&mut self.conn)
                .await?,
        )
    }

    pub async fn set_progress(&mut self, progress: &str) -> Result<()> {
        set_progress_in(&mut self.conn, progress).await
    }

    /// Inserts `rows` (skipping rows already there) and records `progress`, in one transaction:
    /// after a crash, the progress record says exactly which rows are in. Returns how many rows
    /// were new.
    pub async fn copy_batch(&mut self, table: &Table, rows: &[Row], progress: &str) -> Result<u64> {
        let mut tx = self.conn.begin().await?;
        let mut inserted = 0;
        if !rows.is_empty() {
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "INSERT INTO {} ({}) {}",
                quote(table.name),
                column_list(table),
                if table.identity {
                    "OVERRIDING SYSTEM VALUE "
                } else {
                    ""
                }
            ));
            qb.push_values(rows, |mut b, row| {
                for (c, v) in table.columns.iter().zip(row) {
                    bind_pg(&mut b, c.kind, v);
                }
            });
            qb.push(" ON CONFLICT DO NOTHING");
            inserted = qb.build().execute(&mut *tx).await?.rows_affected();
        }
        set_progress_in(&mut tx, progress).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
        Ok(inserted)
    }

    /// Moves the identity sequence of `table` past the highest copied key, so rows inserted
    /// later continue above it. `setval(.., true)` leaves the sequence as if it had handed out
    /// that value (`is_called`), which the cursors' high-water marks read; the sequence's
    /// `CACHE 1` is untouched.
    pub async fn reset_sequence(&mut self, table: &Table) -> Result<()> {
        if !table.identity {
            return Ok(());
        }
        let Some(column) = table.key.first() else {
            return Ok(());
        };
        // The embedded outbox keeps the highest pruned seq in `system` (copied before it):
        // positions after the newest events were pruned are never handed out again.
        let floor = if table.name == "events" {
            "(SELECT value::bigint FROM system WHERE key = 'events_seq_floor')"
        } else {
            "NULL"
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), m)
             FROM (SELECT GREATEST(max({}), {floor}) AS m FROM {}) x WHERE m IS NOT NULL",
            quote(column),
            quote(table.name)
        )))
        .bind(table.name)
        .bind(*column)
        .fetch_optional(&mut self.conn)
        .await?;
        Ok(())
    }

    /// Completes the target after every table is copied: identity sequences past the copied
    /// values, and each audit chain's head (`audit_heads`, which only PostgreSQL has) at its
    /// newest entry, or at its pruning anchor when every entry was pruned.
    pub async fn finish(&mut self) -> Result<()> {
        for table in TABLES.iter().filter(|t| t.identity) {
            self.reset_sequence(table).await?;
        }
        let mut tx = self.conn.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO audit_heads (chain, chain_seq, hash) {EXPECTED_HEADS}
             ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq, hash = excluded.hash"
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
        Ok(())
    }

    /// Checks what [`Target::finish`] sets up (empty: all well).
    pub async fn check_finished(&mut self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let wrong_heads: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM (
                (SELECT chain, chain_seq, hash FROM audit_heads EXCEPT {EXPECTED_HEADS})
                UNION ALL
                ({EXPECTED_HEADS} EXCEPT SELECT chain, chain_seq, hash FROM audit_heads)
             ) d"
        )))
        .fetch_one(&mut self.conn)
        .await?;
        if wrong_heads > 0 {
            problems.push(format!(
                "{wrong_heads} audit chain heads (audit_heads) do not match the newest entries"
            ));
        }
        for table in TABLES.iter().filter(|t| t.identity) {
            let Some(column) = table.key.first() else {
                continue;
            };
            let (last, max, cache): (Option<i64>, Option<i64>, Option<i64>) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT pg_sequence_last_value(s::regclass),
                            (SELECT max({}) FROM {}),
                            (SELECT seqcache FROM pg_sequence WHERE seqrelid = s::regclass)
                     FROM pg_get_serial_sequence($1, $2) s",
                    quote(column),
                    quote(table.name)
                )))
                .bind(table.name)
                .bind(*column)
                .fetch_one(&mut self.conn)
                .await?;
            if let Some(max) = max
                && last.is_none_or(|last| last < max)
            {
                problems.push(format!(
                    "the sequence of {}.{column} is behind the copied rows: new rows would \
                     collide",
                    table.name
                ));
            }
            if cache != Some(1) {
                problems.push(format!(
                    "the sequence of {}.{column} is not CACHE 1",
                    table.name
                ));
            }
        }
        Ok(problems)
    }

    /// Rows in `table`, the progress record aside.
    pub async fn count(&mut self, table: &Table) -> Result<u64> {
        let mut qb =
            QueryBuilder::<Postgres>::new(format!("SELECT count(*) FROM {}", quote(table.name)));
        if table.name == "system" {
            qb.push(" WHERE \"key\" NOT IN (")
                .push_bind(PROGRESS_KEY)
                .push(", ")
                .push_bind(crate::WRITE_PROBE_KEY)
                .push(")");
        }
        let n: i64 = qb.build_query_scalar().fetch_one(&mut self.conn).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` rows of `table` after the key `after`, in key order (the same order as
    /// [`Source::page`]: text keys are `COLLATE "C"`, bytewise).
    pub async fn page(
        &mut self,
        table: &Table,
        after: Option<&[Value]>,
        limit: u32,
    ) -> Result<Vec<Row>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {} FROM {} WHERE TRUE",
            column_list(table),
            quote(table.name)
        ));
        if table.name == "system" {
            qb.push(" AND \"key\" NOT IN (")
                .push_bind(PROGRESS_KEY)
                .push(", ")
                .push_bind(crate::WRITE_PROBE_KEY)
                .push(")");
        }
        if let Some(after) = after {
            qb.push(format!(" AND ({}) > (", key_list(table)));
            let mut sep = qb.separated(", ");
            for (v, kind) in after.iter().zip(table.key_kinds()) {
                bind_pg(&mut sep, kind, v);
            }
            sep.push_unseparated(")");
        }
        qb.push(format!(" ORDER BY {} LIMIT ", key_list(table)))
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&mut self.conn).await?;
        rows.iter().map(|r| pg_row(table, r)).collect()
    }
}

/// Each chain's expected head: its newest entry, or its anchor when all entries were pruned.
const EXPECTED_HEADS: &str = "SELECT l.chain, l.chain_seq, l.hash FROM audit_log l
     JOIN (SELECT chain, max(chain_seq) AS chain_seq FROM audit_log GROUP BY chain) m
       ON m.chain = l.chain AND m.chain_seq = l.chain_seq
     UNION ALL
     SELECT a.chain, a.chain_seq, a.hash FROM audit_anchors a
     WHERE NOT EXISTS (SELECT 1 FROM audit_log l WHERE l.chain = a.chain)";

async fn set_progress_in(conn: &mut PgConnection, progress: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO system (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(PROGRESS_KEY)
    .bind(progress)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn bind_pg(sep: &mut Separated<'_, Postgres, &'static str>, kind: Kind, v: &Value) {
    match (kind, v) {
        (_, Value::Int(i)) => sep.push_bind(*i),
        (_, Value::Bool(b)) => sep.push_bind(*b),
        (_, Value::Text(s)) => sep.push_bind(s.as_str()),
        (_, Value::Blob(b)) => sep.push_bind(b.as_slice()),
        (_, Value::TextList(l)) => sep.push_bind(l.as_slice()),
        (Int, Value::Null) => sep.push_bind(None::<i64>),
        (Bool, Value::Null) => sep.push_bind(None::<bool>),
        (Text, Value::Null) => sep.push_bind(None::<String>),
        (Blob, Value::Null) => sep.push_bind(None::<Vec<u8>>),
        (TextList, Value::Null) => sep.push_bind(None::<Vec<String>>),
    };
}

fn pg_row(table: &Table, row: &PgRow) -> Result<Row> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c.kind {
                Int => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Value::Null, Value::Int),
                Bool => row
                    .try_get::<Option<bool>, _>(i)?
                    .map_or(Value::Null, Value::Bool),
                Text => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Value::Null, Value::Text),
                Blob => row
                    .try_get::<Option<Vec<u8>>, _>(i)?
                    .map_or(Value::Null, Value::Blob),
                TextList => row
                    .try_get::<Option<Vec<String>>, _>(i)?
                    .map_or(Value::Null, Value::TextList),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn migrated_sqlite() -> SqliteConnection {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        SQLITE_MIGRATOR.run(&mut conn).await.unwrap();
        conn
    }

    /// Fails when a migration adds a table or a column the copier does not list (or changes a
    /// key or a type): `operator migrate` would refuse to run until TABLES is updated.
    #[tokio::test]
    async fn the_copier_lists_every_table_and_column_of_the_embedded_schema() {
        let mut conn = migrated_sqlite().await;
        let problems = check_sqlite_schema(&mut conn).await.unwrap();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[tokio::test]
    async fn a_table_or_column_the_copier_does_not_know_is_reported() {
        let mut conn = migrated_sqlite().await;
        sqlx::query("CREATE TABLE leases (id TEXT PRIMARY KEY, holder TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("ALTER TABLE secrets ADD COLUMN color TEXT")
            .execute(&mut conn)
            .await
            .unwrap();
        let problems = check_sqlite_schema(&mut conn).await.unwrap();
        assert!(
            problems.iter().any(|p| p.contains("table leases")),
            "{problems:#?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("secrets.color")),
            "{problems:#?}"
        );
    }

    #[test]
    fn keys_round_trip_through_json_and_rows_render_distinctly() {
        let t = table("secret_versions").unwrap();
        let key = vec![
            Value::Text("tnt_a".into()),
            Value::Text("app/db".into()),
            Value::Int(3),
        ];
        assert_eq!(t.key_from_json(&t.key_to_json(&key)), Some(key.clone()));
        assert_eq!(t.key_from_json(&serde_json::json!(["x"])), None);
        let render = |row: &[Value]| {
            let mut out = Vec::new();
            encode_row(row, &mut out);
            out
        };
        assert_ne!(
            render(&[Value::Text("ab".into()), Value::Text("c".into())]),
            render(&[Value::Text("a".into()), Value::Text("bc".into())])
        );
        assert_ne!(
            render(&[Value::Null]),
            render(&[Value::Text(String::new())])
        );
        assert_ne!(
            render(&[Value::TextList(vec![])]),
            render(&[Value::Text(String::new())])
        );
    }

    #[test]
    fn every_table_has_its_key_among_its_columns() {
        for t in TABLES {
            assert_eq!(t.key_positions().len(), t.key.len(), "{}", t.name);
            assert!(
                t.key_kinds().iter().all(|k| matches!(k, Int | Text)),
                "{}: keys are numbers or text",
                t.name
            );
            if t.identity {
                assert_eq!(t.key_kinds(), vec![Int], "{}", t.name);
            }
        }
    }
}
