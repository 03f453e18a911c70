//! Listing commands that follow the API's cursors to the end (policies, service accounts,
//! API keys, tenants), and their `--json` output.

use scaivault_client::{RawResponse, decode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::commands::next_cursor;
use crate::error::CliError;

/// What a list page carries besides its items.
pub trait Page: DeserializeOwned {
    type Item;
    /// The items, the cursor of the next page and whether there is one.
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool);
}

/// Every page fetched: the bodies as sent (for `--json`) and the items.
pub struct Pages<T> {
    pub bodies: Vec<String>,
    pub items: Vec<T>,
}

/// Fetches the first page and follows the cursors (stopping on a repeated cursor or an empty
/// page, see [`next_cursor`]).
pub async fn fetch_all<P, F>(mut fetch: F) -> Result<Pages<P::Item>, CliError>
where
    P: Page,
    F: AsyncFnMut(Option<String>) -> Result<RawResponse, scaivault_client::Error>,
{
    let mut pages = Pages {
        bodies: Vec::new(),
        items: Vec::new(),
    };
    let mut cursor: Option<String> = None;
    loop {
        let raw = fetch(cursor.clone()).await?;
        let page: P = decode(&raw)?;
        pages.bodies.push(raw.body);
        let (items, next, has_more) = page.split();
        let count = items.len();
        pages.items.extend(items);
        match next_cursor(has_more, next, cursor.as_deref(), count) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(pages)
}

/// The `--json` output of a listing: the single page unchanged, or the pages merged into one
/// document of the same shape (the `key` arrays concatenated, `has_more: false`).
pub fn merged_json(bodies: &[String], key: &str) -> Result<String, CliError> {
    if let [only] = bodies {
        return Ok(only.clone());
    }
    let mut items = Vec::new();
    for body in bodies {
        let page: Map<String, Value> = serde_json::from_str(body).map_err(|e| {
            CliError::general("decode_error", format!("unexpected list response: {e}"))
        })?;
        if let Some(Value::Array(page_items)) = page.get(key) {
            items.extend(page_items.iter().cloned());
        }
    }
    let mut merged = Map::new();
    merged.insert(key.to_owned(), Value::Array(items));
    merged.insert("has_more".to_owned(), Value::Bool(false));
    serde_json::to_string(&merged).map_err(|e| CliError::general("encode_error", e.to_string()))
}

impl Page for scaivault_proto::policies::PolicyList {
    type Item = scaivault_proto::policies::Policy;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.policies, self.cursor, self.has_more)
    }
}

impl Page for scaivault_proto::identity::ServiceAccountList {
    type Item = scaivault_proto::identity::ServiceAccount;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.service_accounts, self.cursor, self.has_more)
    }
}

impl Page for scaivault_proto::identity::ApiKeyList {
    type Item = scaivault_proto::identity::ApiKeyInfo;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.keys, self.cursor, self.has_more)
    }
}

impl Page for scaivault_proto::identity::TenantList {
    type Item = scaivault_proto::identity::Tenant;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.tenants, self.cursor, self.has_more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_is_kept_and_several_are_merged() {
        let one = vec![r#"{"keys":[{"id":"k1"}],"has_more":false}"#.to_string()];
        assert_eq!(merged_json(&one, "keys").unwrap(), one[0]);
        let two = vec![
            r#"{"keys":[{"id":"k1"}],"cursor":"c","has_more":true}"#.to_string(),
            r#"{"keys":[{"id":"k2"}],"has_more":false}"#.to_string(),
        ];
        let merged: Value = serde_json::from_str(&merged_json(&two, "keys").unwrap()).unwrap();
        assert_eq!(
            merged,
            serde_json::json!({"keys": [{"id": "k1"}, {"id": "k2"}], "has_more": false})
        );
    }
}
