//! What the SQLite and PostgreSQL stores share: the SQL text of every statement on which the
//! two dialects agree (sqlx's SQLite driver takes `$N` parameters as PostgreSQL does), one row
//! type per table that both drivers decode (`#[derive(FromRow)]` is generic over the row), and
//! the conversions between stored values and domain values.
//!
//! A backend module binds and runs these statements on its own connection type; where the
//! dialects really differ (locking, upserts, list filters, array parameters), the backend
//! writes its own statement beside the shared ones and says why.

pub(crate) mod acme;
pub(crate) mod dynamic;
pub(crate) mod events;
pub(crate) mod identity;
pub(crate) mod pki;
pub(crate) mod policies;
pub(crate) mod rotation;
pub(crate) mod secrets;
pub(crate) mod system;
pub(crate) mod tokens;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use time::OffsetDateTime;

use crate::model::Page;
use crate::{Result, StoreError};

pub(crate) use crate::audit::micros;

/// A stored timestamp (microseconds since the Unix epoch, in both stores).
pub(crate) fn from_micros(v: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000)
        .map_err(|_| StoreError::Corrupt(format!("timestamp out of range: {v}")))
}

pub(crate) fn opt_from_micros(v: Option<i64>) -> Result<Option<OffsetDateTime>> {
    v.map(from_micros).transpose()
}

/// A stored count, version or sequence number (never negative when ScaiVault wrote it).
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

/// For binding a u64 (versions, sequence numbers) to an INTEGER/BIGINT column.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A page from rows fetched with `LIMIT limit + 1`: the extra row only says there is more.
/// Without a separate count, `total_count` is the number of items on this page.
pub(crate) fn page_of<T>(mut items: Vec<T>, limit: u32, total_count: Option<u64>) -> Page<T> {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page {
        total_count: total_count.unwrap_or(items.len() as u64),
        items,
        has_more,
    }
}

/// Converts every row of a page's query into its record.
pub(crate) fn records<R, T>(rows: Vec<R>) -> Result<Vec<T>>
where
    R: TryInto<T, Error = StoreError>,
{
    rows.into_iter().map(TryInto::try_into).collect()
}

/// Unique violations are the caller's `Duplicate`; anything else is a database error.
pub(crate) fn unique(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        e => e.into(),
    }
}

/// A SQLite `GLOB` pattern matching `prefix` literally (SQLite's prefix filter: `GLOB` is
/// case-sensitive and can use the primary key's index, `LIKE` is neither by default).
pub(crate) fn glob_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out.push('*');
    out
}

/// A PostgreSQL `LIKE` pattern matching `prefix` literally (`\` is LIKE's default escape
/// character; PostgreSQL has no `GLOB`).
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A list of strings in one column: a JSON array in SQLite (TEXT), a `TEXT[]` in PostgreSQL.
/// Tags, scopes, roles and a subscription's filters are stored so.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TextList(pub Vec<String>);

/// A borrowed [`TextList`] for binding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextListRef<'a>(pub &'a [String]);

impl Type<Sqlite> for TextList {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl<'r> Decode<'r, Sqlite> for TextList {
    fn decode(value: SqliteValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(serde_json::from_str(text)?))
    }
}

impl Type<Postgres> for TextList {
    fn type_info() -> PgTypeInfo {
        <Vec<String> as Type<Postgres>>::type_info()
    }
}

impl<'r> Decode<'r, Postgres> for TextList {
    fn decode(value: PgValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        Ok(Self(<Vec<String> as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Sqlite> for TextListRef<'_> {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for TextListRef<'_> {
    fn encode_by_ref(
        &self,
        buf: &mut SqliteArgumentsBuffer,
    ) -> std::result::Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(serde_json::to_string(self.0)?, buf)
    }
}

impl Type<Postgres> for TextListRef<'_> {
    fn type_info() -> PgTypeInfo {
        <Vec<String> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for TextListRef<'_> {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> std::result::Result<IsNull, BoxDynError> {
        <&[String] as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_prefix_escapes_metacharacters() {
        assert_eq!(like_prefix("a/b"), "a/b%");
        assert_eq!(like_prefix("50%_off\\x"), "50\\%\\_off\\\\x%");
        assert_eq!(like_prefix(""), "%");
    }

    #[test]
    fn glob_prefix_escapes_metacharacters() {
        assert_eq!(glob_prefix("a*b?c[d/"), "a[*]b[?]c[[]d/*");
    }
}
