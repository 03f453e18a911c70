//! What the PostgreSQL and MySQL/MariaDB engines share: their engine settings (a connection
//! URL, a user, a sealed password), their role settings (templated statements), rendering,
//! quoting, and scrubbing secrets out of driver errors.
//!
//! Engine settings as stored. `config` is what readers see:
//! `{"connection_url": "postgres://vault:*****@db:5432/app?sslmode=disable", "username":
//! "vault", "max_open_connections": 4}`. The URL in `config` is the DISPLAY form: its password
//! is the mask `*****` (or absent when the engine has no password, as MariaDB's root may), so
//! `config` can be shown as is and never holds the password; [`EngineSettings::connect_url`]
//! puts the sealed password back when the engine is opened. Sending the masked URL back on an
//! update (a client round-tripping what it read) keeps the sealed password.
//!
//! Role settings as stored: `{"creation_statements": [...], "revocation_statements": [...],
//! "renew_statements": [...]}`, each a list of single statements (a string holding several
//! `;`-separated statements, as Vault and OpenBao users write them, is split at the
//! semicolons outside quotes, dollar-quoted bodies and comments). Templates: `{{name}}` (or
//! `{{username}}`), `{{password}}`, `{{expiration}}` (`YYYY-MM-DD HH:MM:SS+00`, UTC); the
//! statements are trusted administrator input, rendered by plain substitution. Any other
//! `{{...}}` is refused when the role is written, so a typo does not reach the database.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use url::Url;
use zeroize::Zeroizing;

use crate::DynamicError;

/// What replaces a password wherever one would be shown.
pub(crate) const MASK: &str = "*****";

/// Pool size when the engine does not say.
const DEFAULT_MAX_OPEN_CONNECTIONS: u64 = 4;
/// A generous bound, so a typo cannot open thousands of connections to a database.
const MAX_MAX_OPEN_CONNECTIONS: u64 = 100;

const ENGINE_FIELDS: &[&str] = &[
    "connection_url",
    "username",
    "password",
    "max_open_connections",
];
const ROLE_FIELDS: &[&str] = &[
    "creation_statements",
    "revocation_statements",
    "renew_statements",
];

/// Which SQL dialect: URL schemes, quoting and statement splitting differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Mysql,
}

impl Dialect {
    fn schemes(self) -> &'static [&'static str] {
        match self {
            Self::Postgres => &["postgres", "postgresql"],
            Self::Mysql => &["mysql", "mariadb"],
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Postgres => 5432,
            Self::Mysql => 3306,
        }
    }
}

/// An engine's settings, parsed.
pub(crate) struct EngineSettings {
    /// The connection URL without user name or password.
    url: Url,
    pub username: String,
    pub max_open_connections: u32,
}

impl EngineSettings {
    /// `host:port`, for messages.
    pub fn address(&self, dialect: Dialect) -> String {
        let host = self.url.host_str().unwrap_or("localhost");
        let port = self.url.port().unwrap_or(dialect.default_port());
        format!("{host}:{port}")
    }

    /// The URL with `username` and `password` set (percent-encoded), e.g. what the driver
    /// connects with or what a lease's caller receives. `mariadb://` becomes `mysql://`, the
    /// scheme drivers know.
    pub fn url_with(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Zeroizing<String>, DynamicError> {
        let mut url = self.url.clone();
        let bad = || DynamicError::InvalidConfig("the connection URL cannot carry a user".into());
        url.set_username(username).map_err(|()| bad())?;
        url.set_password((!password.is_empty()).then_some(password))
            .map_err(|()| bad())?;
        let text = Zeroizing::new(url.to_string());
        Ok(match text.strip_prefix("mariadb://") {
            Some(rest) => Zeroizing::new(format!("mysql://{rest}")),
            None => text,
        })
    }

    /// The URL the engine connects with: its user and the sealed password.
    pub fn connect_url(&self, password: &str) -> Result<Zeroizing<String>, DynamicError> {
        self.url_with(&self.username, password)
    }

    /// The stored, shown form (see the module docs).
    fn config(&self, has_password: bool) -> Result<Value, DynamicError> {
        let shown = self.url_with(&self.username, if has_password { MASK } else { "" })?;
        // The mask is percent-encoded by the URL writer; show it as typed.
        let shown = shown.replace("%2A%2A%2A%2A%2A", MASK);
        Ok(json!({
            "connection_url": shown,
            "username": self.username,
            "max_open_connections": self.max_open_connections,
        }))
    }

    /// Reads settings stored by [`prepare`].
    pub fn from_config(dialect: Dialect, config: &Value) -> Result<Self, DynamicError> {
        let bad = |what: &str| DynamicError::InvalidConfig(format!("stored settings: {what}"));
        let url = config
            .get("connection_url")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no connection_url"))?;
        let (url, _, _) = parse_url(dialect, url)?;
        let username = config
            .get("username")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no username"))?
            .to_owned();
        let max = config
            .get("max_open_connections")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_MAX_OPEN_CONNECTIONS)
            .clamp(1, MAX_MAX_OPEN_CONNECTIONS);
        Ok(Self {
            url,
            username,
            max_open_connections: u32::try_from(max).map_err(|_| bad("max_open_connections"))?,
        })
    }
}

/// Parses a connection URL: the URL stripped of its credentials, the user name and the
/// password it carried (the mask counts as none).
fn parse_url(
    dialect: Dialect,
    text: &str,
) -> Result<(Url, String, Option<Zeroizing<String>>), DynamicError> {
    // The url crate's error texts never echo the input, so no password leaks from here.
    let mut url = Url::parse(text)
        .map_err(|e| DynamicError::InvalidConfig(format!("connection_url: {e}")))?;
    if !dialect.schemes().contains(&url.scheme()) {
        return Err(DynamicError::InvalidConfig(format!(
            "connection_url: the scheme must be {}",
            dialect.schemes().join(" or ")
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(DynamicError::InvalidConfig(
            "connection_url: no host".into(),
        ));
    }
    let username = decode(url.username());
    let password = url
        .password()
        .map(|p| Zeroizing::new(decode(p)))
        .filter(|p| p.as_str() != MASK);
    let bad = || DynamicError::InvalidConfig("connection_url: cannot carry a user".into());
    url.set_username("").map_err(|()| bad())?;
    url.set_password(None).map_err(|()| bad())?;
    Ok((url, username, password))
}

/// Percent-decoding of a URL's user or password part.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits the API's engine settings into the shown config and the sealed password
/// (see the module docs). `existing`: the current settings and password, on an update.
pub(crate) fn prepare(
    dialect: Dialect,
    input: &Value,
    existing: Option<(&Value, &str)>,
) -> Result<(Value, Zeroizing<String>), DynamicError> {
    let input = object(input).map_err(DynamicError::InvalidConfig)?;
    refuse_unknown(input, ENGINE_FIELDS).map_err(DynamicError::InvalidConfig)?;
    let text = |name: &str| -> Result<Option<&str>, DynamicError> {
        match input.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(DynamicError::InvalidConfig(format!(
                "{name}: must be a string"
            ))),
        }
    };
    let old = existing
        .map(|(config, secret)| {
            EngineSettings::from_config(dialect, config)
                .map(|s| (s, Zeroizing::new(secret.to_owned())))
        })
        .transpose()?;

    let (url, url_user, url_password) = match text("connection_url")? {
        Some(given) => {
            let (url, user, password) = parse_url(dialect, given)?;
            (url, Some(user).filter(|u| !u.is_empty()), password)
        }
        None => match &old {
            Some((settings, _)) => (settings.url.clone(), None, None),
            None => {
                return Err(DynamicError::InvalidConfig(
                    "connection_url: required".into(),
                ));
            }
        },
    };
    let username = text("username")?
        .map(str::to_owned)
        .or(url_user)
        .or_else(|| old.as_ref().map(|(s, _)| s.username.clone()))
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            DynamicError::InvalidConfig(
                "username: required (in the connection URL or as a field)".into(),
            )
        })?;
    let password = match text("password")? {
        Some(p) if p != MASK => Zeroizing::new(p.to_owned()),
        _ => match url_password {
            Some(p) => p,
            None => old
                .as_ref()
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| Zeroizing::new(String::new())),
        },
    };
    let max_open_connections = match input.get("max_open_connections") {
        None | Some(Value::Null) => old
            .as_ref()
            .map(|(s, _)| u64::from(s.max_open_connections))
            .unwrap_or(DEFAULT_MAX_OPEN_CONNECTIONS),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_MAX_OPEN_CONNECTIONS).contains(n))
            .ok_or_else(|| {
                DynamicError::InvalidConfig(format!(
                    "max_open_connections: must be an integer from 1 to {MAX_MAX_OPEN_CONNECTIONS}"
                ))
            })?,
    };
    let settings = EngineSettings {
        url,
        username,
        max_open_connections: u32::try_from(max_open_connections)
            .map_err(|_| DynamicError::InvalidConfig("max_open_connections: too large".into()))?,
    };
    let config = settings.config(!password.is_empty())?;
    Ok((config, password))
}

/// A role's statements, as stored.
#[derive(Debug)]
pub(crate) struct RoleStatements {
    pub creation: Vec<String>,
    pub revocation: Vec<String>,
    pub renew: Vec<String>,
}

impl RoleStatements {
    /// Reads a role stored by [`validate_role`].
    pub fn from_role(role: &Value) -> Result<Self, DynamicError> {
        let list = |name: &str| -> Vec<String> {
            role.get(name)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let creation = list("creation_statements");
        if creation.is_empty() {
            return Err(DynamicError::InvalidRole(
                "the role has no creation_statements".into(),
            ));
        }
        Ok(Self {
            creation,
            revocation: list("revocation_statements"),
            renew: list("renew_statements"),
        })
    }
}

/// Checks a role's settings and returns them normalised (see the module docs).
pub(crate) fn validate_role(dialect: Dialect, role: &Value) -> Result<Value, DynamicError> {
    let role = object(role).map_err(DynamicError::InvalidRole)?;
    refuse_unknown(role, ROLE_FIELDS).map_err(DynamicError::InvalidRole)?;
    let mut out = Map::new();
    for field in ROLE_FIELDS {
        let statements = match role.get(*field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => split_statements(dialect, s),
            Some(Value::Array(items)) => {
                let mut all = Vec::new();
                for item in items {
                    let s = item.as_str().ok_or_else(|| {
                        DynamicError::InvalidRole(format!(
                            "{field}: must be a string or a list of strings"
                        ))
                    })?;
                    all.extend(split_statements(dialect, s));
                }
                all
            }
            Some(_) => {
                return Err(DynamicError::InvalidRole(format!(
                    "{field}: must be a string or a list of strings"
                )));
            }
        };
        for statement in &statements {
            check_placeholders(statement)
                .map_err(|e| DynamicError::InvalidRole(format!("{field}: {e}")))?;
        }
        if *field == "creation_statements" && statements.is_empty() {
            return Err(DynamicError::InvalidRole(
                "creation_statements: required (at least one statement)".into(),
            ));
        }
        out.insert((*field).to_owned(), json!(statements));
    }
    Ok(Value::Object(out))
}

fn object(value: &Value) -> Result<&Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| "settings must be a JSON object".to_owned())
}

fn refuse_unknown(map: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "unknown field '{key}' (known: {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

const PLACEHOLDERS: &[&str] = &["name", "username", "password", "expiration"];

/// Refuses `{{...}}` placeholders other than the known ones.
fn check_placeholders(statement: &str) -> Result<(), String> {
    let mut rest = statement;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "an unclosed '{{' placeholder".to_owned())?;
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder '{{{{{name}}}}}' (known: {{{{name}}}}, {{{{username}}}}, \
                 {{{{password}}}}, {{{{expiration}}}})"
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// The values a statement template is rendered with.
pub(crate) struct TemplateValues<'a> {
    pub name: &'a str,
    pub password: &'a str,
    pub expiration: Option<OffsetDateTime>,
}

/// Renders one statement: plain substitution of `{{name}}`, `{{username}}`, `{{password}}`,
/// `{{expiration}}` (spaces inside the braces allowed). The result may hold a password.
pub(crate) fn render(statement: &str, values: &TemplateValues<'_>) -> Zeroizing<String> {
    let expiration = values.expiration.map(expiration_text).unwrap_or_default();
    let mut out = Zeroizing::new(String::with_capacity(statement.len() + 64));
    let mut rest = statement;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match after[..end].trim() {
            "name" | "username" => out.push_str(values.name),
            "password" => out.push_str(values.password),
            "expiration" => out.push_str(&expiration),
            _ => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `YYYY-MM-DD HH:MM:SS+00` in UTC, as PostgreSQL's `VALID UNTIL` takes it.
pub(crate) fn expiration_text(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Splits a string of statements at the semicolons that end them: not those inside quotes
/// (`'...'`, `"..."`, MySQL's backquotes), PostgreSQL's dollar-quoted bodies (`$$...$$`,
/// `$tag$...$tag$`) or comments. Empty statements are dropped.
pub(crate) fn split_statements(dialect: Dialect, text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ';' => {
                push_statement(&mut statements, &current);
                current.clear();
                continue;
            }
            '\'' | '"' | '`' if c != '`' || dialect == Dialect::Mysql => {
                current.push(c);
                while let Some((_, d)) = chars.next() {
                    current.push(d);
                    // MySQL allows backslash escapes inside strings.
                    if d == '\\' && dialect == Dialect::Mysql && c != '`' {
                        if let Some((_, e)) = chars.next() {
                            current.push(e);
                        }
                        continue;
                    }
                    if d == c {
                        // A doubled quote is an escaped quote: stay inside.
                        if chars.peek().is_some_and(|&(_, e)| e == c) {
                            if let Some((_, e)) = chars.next() {
                                current.push(e);
                            }
                            continue;
                        }
                        break;
                    }
                }
                continue;
            }
            '-' if text[i..].starts_with("--") => {
                // A line comment, up to the end of the line.
                current.push(c);
                for (_, d) in chars.by_ref() {
                    current.push(d);
                    if d == '\n' {
                        break;
                    }
                }
                continue;
            }
            '$' if dialect == Dialect::Postgres => {
                if let Some(tag) = dollar_tag(&text[i..]) {
                    let body_start = i + tag.len();
                    let end = text[body_start..]
                        .find(tag)
                        .map_or(text.len(), |p| body_start + p + tag.len());
                    current.push_str(&text[i..end]);
                    while chars.peek().is_some_and(|&(j, _)| j < end) {
                        chars.next();
                    }
                    continue;
                }
            }
            _ => {}
        }
        current.push(c);
    }
    push_statement(&mut statements, &current);
    statements
}

fn push_statement(statements: &mut Vec<String>, statement: &str) {
    let statement = statement.trim();
    if !statement.is_empty() {
        statements.push(statement.to_owned());
    }
}

/// The `$tag$` opening a dollar-quoted string at the start of `s`, if any.
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = s.get(1..)?;
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !tag.starts_with(|c: char| c.is_ascii_digit());
    valid.then(|| &s[..end + 2])
}

/// A PostgreSQL identifier, double-quoted.
pub(crate) fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A PostgreSQL string literal (`E'...'` when it holds a backslash, as `quote_literal` does).
pub(crate) fn pg_literal(value: &str) -> Zeroizing<String> {
    let doubled = value.replace('\'', "''");
    Zeroizing::new(if doubled.contains('\\') {
        format!("E'{}'", doubled.replace('\\', "\\\\"))
    } else {
        format!("'{doubled}'")
    })
}

/// A MySQL string literal, safe whether or not `NO_BACKSLASH_ESCAPES` is set for
/// everything but a backslash, which is refused by the callers' inputs (generated names and
/// passwords are alphanumeric) and escaped here for the default mode.
pub(crate) fn mysql_literal(value: &str) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "'{}'",
        value.replace('\\', "\\\\").replace('\'', "''")
    ))
}

/// Replaces every occurrence of the secrets (as typed and percent-encoded) in a driver's
/// message with the mask.
pub(crate) fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_owned();
    // Drivers do not echo passwords; this is a second line of defence. Secrets of one or two
    // characters are left alone: replacing every such letter pair would destroy the message.
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret, MASK);
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        if encoded != *secret {
            out = out.replace(&encoded, MASK);
        }
    }
    out
}

/// How long connecting may take before the target counts as unreachable.
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long an idle pooled connection is kept.
pub(crate) const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// A failure to connect (or to log in): `Unreachable`, naming the target and the driver's
/// reason, scrubbed of the secrets.
pub(crate) fn unreachable(address: &str, error: &sqlx::Error, secrets: &[&str]) -> DynamicError {
    let reason = match error {
        sqlx::Error::PoolTimedOut => {
            format!("no connection within {} seconds", CONNECT_TIMEOUT.as_secs())
        }
        other => other.to_string(),
    };
    DynamicError::Unreachable(format!("{address}: {}", scrub(&reason, secrets)))
}

/// A failure while running statements on an open connection: a lost connection is
/// `Unreachable` (retried), anything the database answered is `Refused`.
pub(crate) fn statement_error(
    address: &str,
    error: &sqlx::Error,
    secrets: &[&str],
) -> DynamicError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => unreachable(address, error, secrets),
        other => {
            DynamicError::Refused(format!("{address}: {}", scrub(&other.to_string(), secrets)))
        }
    }
}

/// The user name recorded in a lease's handle.
pub(crate) fn handle_username(handle: &Value) -> Result<&str, DynamicError> {
    handle
        .get("username")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| DynamicError::InvalidRequest("the lease's handle has no username".into()))
}

/// A new password from the workspace's generator: 32 alphanumeric characters (no symbols,
/// so it needs no quoting in a URL or a statement).
pub(crate) fn generate_password() -> Result<Zeroizing<String>, DynamicError> {
    let failed = |e: scaivault_generate::GenerateError| {
        DynamicError::Refused(format!("generating a password failed: {e}"))
    };
    let generator = scaivault_generate::compile(&[scaivault_generate::FieldSpec {
        name: "password".into(),
        generator: "random".into(),
        config: json!({"length": 32, "charset": "alphanumeric"}),
    }])
    .map_err(failed)?;
    let mut data = generator.generate().map_err(failed)?;
    match data.remove("password") {
        Some(Value::String(p)) => Ok(Zeroizing::new(p)),
        _ => Err(DynamicError::Refused(
            "generating a password failed: no value".into(),
        )),
    }
}

/// What both SQL engines hold and do alike: the pool, the address that names the target in
/// messages, and the engine's current password (scrubbed from every driver message). Each
/// engine adds its own statements in an `impl SqlBackend<ItsDatabase>`.
pub(crate) struct SqlBackend<DB: sqlx::Database> {
    pub(crate) settings: EngineSettings,
    pub(crate) address: String,
    password: std::sync::RwLock<Zeroizing<String>>,
    pub(crate) pool: sqlx::Pool<DB>,
}

impl<DB: sqlx::Database> SqlBackend<DB> {
    /// A backend whose small pool connects on first use (`verify` connects at once).
    pub(crate) fn connect_lazy(
        dialect: Dialect,
        settings: EngineSettings,
        password: &str,
        options: <DB::Connection as sqlx::Connection>::Options,
    ) -> Self {
        let mut pool = sqlx::pool::PoolOptions::<DB>::new()
            .max_connections(settings.max_open_connections)
            .acquire_timeout(CONNECT_TIMEOUT)
            .max_lifetime(None)
            .idle_timeout(None);
        // Reaping idle connections needs a runtime to run on; outside one, keep them.
        if tokio::runtime::Handle::try_current().is_ok() {
            pool = pool.idle_timeout(Some(IDLE_TIMEOUT));
        }
        Self {
            address: settings.address(dialect),
            settings,
            password: std::sync::RwLock::new(Zeroizing::new(password.to_owned())),
            pool: pool.connect_lazy_with(options),
        }
    }

    pub(crate) fn password(&self) -> Zeroizing<String> {
        match self.password.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// After `rotate_root`: the password to scrub from now on.
    pub(crate) fn set_password(&self, new: &str) {
        let new = Zeroizing::new(new.to_owned());
        match self.password.write() {
            Ok(mut p) => *p = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    pub(crate) fn unreachable(&self, error: &sqlx::Error) -> DynamicError {
        unreachable(&self.address, error, &[&self.password()])
    }

    pub(crate) fn failed(&self, error: &sqlx::Error, extra: &str) -> DynamicError {
        statement_error(&self.address, error, &[&self.password(), extra])
    }

    /// A pooled connection. When the pool gives up (it retries refused connections until
    /// its deadline), one direct attempt tells the driver's reason.
    pub(crate) async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<DB>, DynamicError> {
        match self.pool.acquire().await {
            Ok(conn) => Ok(conn),
            Err(sqlx::Error::PoolTimedOut) => Err(self.diagnose().await),
            Err(e) => Err(self.unreachable(&e)),
        }
    }

    async fn diagnose(&self) -> DynamicError {
        use sqlx::{ConnectOptions, Connection};
        let options = self.pool.connect_options();
        match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Ok(Err(e)) => self.unreachable(&e),
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                self.unreachable(&sqlx::Error::PoolTimedOut)
            }
            Err(_) => self.unreachable(&sqlx::Error::PoolTimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn splits_statements_outside_quotes() {
        let s = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';\n \
                 GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\"; ";
        assert_eq!(split_statements(Dialect::Postgres, s).len(), 2);
        let s = "SELECT 'a;b'; DO $$BEGIN PERFORM 1; END$$; -- c;d\nSELECT 2";
        let parts = split_statements(Dialect::Postgres, s);
        assert_eq!(parts[0], "SELECT 'a;b'");
        assert_eq!(parts[1], "DO $$BEGIN PERFORM 1; END$$");
        assert_eq!(parts[2], "-- c;d\nSELECT 2");
        let s = "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';GRANT SELECT ON `d;b`.* TO '{{name}}'@'%'";
        assert_eq!(split_statements(Dialect::Mysql, s).len(), 2);
    }

    #[test]
    fn renders_and_checks_templates() {
        let at = time::macros::datetime!(2026-12-03 10:00:05 +01:00);
        let out = render(
            "CREATE ROLE \"{{name}}\" PASSWORD '{{ password }}' VALID UNTIL '{{expiration}}' -- {{username}}",
            &TemplateValues {
                name: "v_a",
                password: "pw",
                expiration: Some(at),
            },
        );
        assert_eq!(
            out.as_str(),
            "CREATE ROLE \"v_a\" PASSWORD 'pw' VALID UNTIL '2026-12-03 09:00:05+00' -- v_a"
        );
        assert!(check_placeholders("{{nmae}}").is_err());
        assert!(check_placeholders("{{name}} {{ expiration }}").is_ok());
    }

    #[test]
    fn engine_settings_mask_the_password_and_keep_it_on_update() {
        let input =
            json!({"connection_url": "postgres://vault:s3cr%40t@db:5432/app?sslmode=disable"});
        let (config, secret) = prepare(Dialect::Postgres, &input, None).unwrap();
        assert_eq!(secret.as_str(), "s3cr@t");
        assert_eq!(
            config["connection_url"],
            "postgres://vault:*****@db:5432/app?sslmode=disable"
        );
        assert!(!config.to_string().contains("s3cr"));
        let settings = EngineSettings::from_config(Dialect::Postgres, &config).unwrap();
        assert_eq!(
            settings.connect_url(&secret).unwrap().as_str(),
            "postgres://vault:s3cr%40t@db:5432/app?sslmode=disable"
        );
        // The masked URL sent back keeps the password; a new user name is taken.
        let update = json!({"connection_url": config["connection_url"], "username": "admin"});
        let (config2, secret2) =
            prepare(Dialect::Postgres, &update, Some((&config, &secret))).unwrap();
        assert_eq!(secret2.as_str(), "s3cr@t");
        assert_eq!(config2["username"], "admin");
        let (_, secret3) = prepare(
            Dialect::Postgres,
            &json!({"password": "new"}),
            Some((&config, &secret)),
        )
        .unwrap();
        assert_eq!(secret3.as_str(), "new");
        assert!(
            prepare(
                Dialect::Postgres,
                &json!({"connection_url": "mysql://a@b/"}),
                None
            )
            .is_err()
        );
        assert!(
            prepare(
                Dialect::Postgres,
                &json!({"connection_url": "postgres://a@b/", "x": 1}),
                None
            )
            .is_err()
        );
        // MariaDB root without a password: nothing masked.
        let (config, secret) = prepare(
            Dialect::Mysql,
            &json!({"connection_url": "mysql://root@127.0.0.1:3306/"}),
            None,
        )
        .unwrap();
        assert_eq!(config["connection_url"], "mysql://root@127.0.0.1:3306/");
        assert!(secret.is_empty());
    }

    #[test]
    fn scrubs_and_quotes() {
        assert_eq!(
            scrub("bad pw s3cr@t / s3cr%40t", &["s3cr@t"]),
            "bad pw ***** / *****"
        );
        assert_eq!(pg_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(pg_literal("it's").as_str(), "'it''s'");
        assert_eq!(pg_literal("a\\b").as_str(), "E'a\\\\b'");
        assert_eq!(mysql_literal("it's").as_str(), "'it''s'");
        let p = generate_password().unwrap();
        assert_eq!(p.len(), 32);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
