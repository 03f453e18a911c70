//! `secrets list` and `secrets expiring`: cursor-following listings.

use clap::Args;
use scaivault_client::{Client, ExpiringQuery, ListSecretsQuery, RawResponse, decode};
use scaivault_proto::secrets::{
    ExpiringSecret, ExpiringSecretsResponse, ListSecretsResponse, SecretSummary, SecretType,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::type_parser;
use crate::commands::next_cursor;
use crate::error::CliError;
use crate::output::{self, or_dash};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only paths starting with this prefix
    #[arg(long)]
    prefix: Option<String>,
    /// Return at most this many secrets in total (default: all)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
    /// Only secrets with this tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only secrets of this type
    #[arg(long = "type", value_name = "TYPE", value_parser = type_parser())]
    secret_type: Option<SecretType>,
    /// Print the API's JSON (pages merged when more than one was fetched)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExpiringArgs {
    /// Expiring within this many days (server default when omitted)
    #[arg(long, value_name = "N")]
    days: Option<u32>,
    /// Only paths starting with this prefix
    #[arg(long)]
    prefix: Option<String>,
    /// Print the API's JSON (pages merged when more than one was fetched)
    #[arg(long)]
    json: bool,
}

/// Server maximum page size.
const MAX_PAGE: u32 = 200;

/// One list page whose items are kept byte-for-byte.
#[derive(Deserialize)]
struct RawPage {
    secrets: Vec<Box<RawValue>>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    total_count: Option<u64>,
}

#[derive(Serialize)]
struct MergedPage<'a> {
    secrets: Vec<&'a RawValue>,
    cursor: Option<&'a str>,
    has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_count: Option<u64>,
}

/// The `--json` output of a paginated listing: the single page unchanged, or the pages merged
/// into one document of the same shape (items unchanged, cursor and has_more of the last page).
fn merged_json(pages: &[RawResponse]) -> Result<String, CliError> {
    if let [only] = pages {
        return Ok(only.body.clone());
    }
    let parsed: Vec<RawPage> = pages
        .iter()
        .map(|p| {
            serde_json::from_str(&p.body).map_err(|e| {
                CliError::general("decode_error", format!("unexpected list response: {e}"))
            })
        })
        .collect::<Result<_, _>>()?;
    let last = parsed.last();
    let merged = MergedPage {
        secrets: parsed
            .iter()
            .flat_map(|p| p.secrets.iter().map(AsRef::as_ref))
            .collect(),
        cursor: last.and_then(|p| p.cursor.as_deref()),
        has_more: last.is_some_and(|p| p.has_more),
        total_count: last.and_then(|p| p.total_count),
    };
    serde_json::to_string(&merged).map_err(|e| CliError::general("encode_error", e.to_string()))
}

/// The secrets of a listing, following cursors until `limit` secrets (all when `None`).
pub struct Listing {
    pub pages: Vec<RawResponse>,
    pub secrets: Vec<SecretSummary>,
    pub has_more: bool,
    pub total_count: u64,
}

pub async fn list_all(
    client: &Client,
    mut query: ListSecretsQuery,
    limit: Option<u32>,
) -> Result<Listing, CliError> {
    let mut listing = Listing {
        pages: Vec::new(),
        secrets: Vec::new(),
        has_more: false,
        total_count: 0,
    };
    loop {
        let fetched = u32::try_from(listing.secrets.len()).unwrap_or(u32::MAX);
        let want = limit.map_or(MAX_PAGE, |l| l.saturating_sub(fetched).min(MAX_PAGE));
        if want == 0 {
            break;
        }
        query.limit = Some(want);
        let raw = client.list_secrets(&query).raw().await?;
        let page: ListSecretsResponse = decode(&raw)?;
        listing.pages.push(raw);
        let count = page.secrets.len();
        listing.secrets.extend(page.secrets);
        listing.has_more = page.has_more;
        listing.total_count = page.total_count;
        match next_cursor(page.has_more, page.cursor, query.cursor.as_deref(), count) {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(listing)
}

pub(super) async fn list(client: &Client, args: ListArgs) -> Result<(), CliError> {
    let query = ListSecretsQuery {
        prefix: args.prefix,
        tags: args.tags,
        secret_type: args.secret_type,
        ..ListSecretsQuery::default()
    };
    let listing = list_all(client, query, args.limit).await?;
    if args.json {
        return output::raw_json(&merged_json(&listing.pages)?);
    }
    if listing.secrets.is_empty() {
        return output::line("No secrets found.");
    }
    let mut table = output::table(["PATH", "TYPE", "VERSION", "UPDATED", "EXPIRES", "TAGS"]);
    for s in &listing.secrets {
        table.add_row([
            s.path.clone(),
            s.secret_type.as_str().to_string(),
            s.version.to_string(),
            s.updated_at.to_string(),
            or_dash(s.expires_at),
            s.tags.join(","),
        ]);
    }
    output::print_table(&table)?;
    if listing.has_more {
        eprintln!(
            "Showing {} of {} secrets; raise --limit to see more.",
            listing.secrets.len(),
            listing.total_count
        );
    }
    Ok(())
}

pub(super) async fn expiring(client: &Client, args: ExpiringArgs) -> Result<(), CliError> {
    let mut query = ExpiringQuery {
        days: args.days,
        prefix: args.prefix,
        limit: None,
        cursor: None,
    };
    let mut pages = Vec::new();
    let mut secrets: Vec<ExpiringSecret> = Vec::new();
    loop {
        let raw = client.expiring_secrets(&query).raw().await?;
        let page: ExpiringSecretsResponse = decode(&raw)?;
        pages.push(raw);
        let count = page.secrets.len();
        secrets.extend(page.secrets);
        match next_cursor(page.has_more, page.cursor, query.cursor.as_deref(), count) {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    if args.json {
        return output::raw_json(&merged_json(&pages)?);
    }
    if secrets.is_empty() {
        return output::line(&match args.days {
            Some(days) => format!("No secrets expire within {days} days."),
            None => "No secrets expiring soon.".to_string(),
        });
    }
    let mut table = output::table(["PATH", "EXPIRES", "DAYS LEFT"]);
    for s in secrets {
        table.add_row([
            s.path,
            s.expires_at.to_string(),
            s.days_remaining.to_string(),
        ]);
    }
    output::print_table(&table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_merge_items_unchanged() {
        let p1 = RawResponse {
            status: 200,
            body: r#"{"secrets":[{"z":1,"a":2}],"cursor":"c1","has_more":true,"total_count":2}"#
                .into(),
        };
        let p2 = RawResponse {
            status: 200,
            body: r#"{"secrets":[{"path":"b"}],"cursor":null,"has_more":false,"total_count":2}"#
                .into(),
        };
        assert_eq!(merged_json(std::slice::from_ref(&p1)).unwrap(), p1.body);
        assert_eq!(
            merged_json(&[p1, p2]).unwrap(),
            r#"{"secrets":[{"z":1,"a":2},{"path":"b"}],"cursor":null,"has_more":false,"total_count":2}"#
        );
    }
}
