//! Opaque pagination cursors: base64url of a small JSON object. Opaque to clients so the
//! encoding can change; validated on the way in like any other input.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiError;

#[derive(Serialize, Deserialize)]
struct PathCursor {
    p: String,
}

#[derive(Serialize, Deserialize)]
struct ExpiringCursor {
    t: i64,
    p: String,
}

fn encode<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn decode<T: for<'de> Deserialize<'de>>(cursor: &str) -> Result<T, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ApiError::validation("cursor is invalid; pass the cursor of a previous response")
        })
}

pub fn encode_path(path: &str) -> String {
    encode(&PathCursor { p: path.to_owned() })
}

pub fn decode_path(cursor: &str) -> Result<String, ApiError> {
    decode::<PathCursor>(cursor).map(|c| c.p)
}

pub fn encode_expiring(at: OffsetDateTime, path: &str) -> String {
    encode(&ExpiringCursor {
        t: (at.unix_timestamp_nanos() / 1000) as i64,
        p: path.to_owned(),
    })
}

pub fn decode_expiring(cursor: &str) -> Result<(OffsetDateTime, String), ApiError> {
    let c: ExpiringCursor = decode(cursor)?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.t) * 1000)
        .map_err(|_| ApiError::validation("cursor is invalid"))?;
    Ok((at, c.p))
}

#[derive(Serialize, Deserialize)]
struct SeqCursor {
    s: u64,
}

pub fn encode_seq(seq: u64) -> String {
    encode(&SeqCursor { s: seq })
}

pub fn decode_seq(cursor: &str) -> Result<u64, ApiError> {
    decode::<SeqCursor>(cursor).map(|c| c.s)
}

/// The cursor of the next page of a list ordered by `key`: the last item's key, when there is
/// more.
pub fn next_page_cursor<T>(
    page: &scaivault_store::Page<T>,
    key: impl Fn(&T) -> &str,
) -> Option<String> {
    match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(encode_path(key(last))),
        _ => None,
    }
}
