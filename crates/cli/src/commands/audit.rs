//! `scaivault audit query|trail|summary|verify`: reading and verifying the audit trail.

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use scaivault_client::{AuditFilter, Client, RawResponse, decode};
use scaivault_proto::audit::{
    AuditCount, AuditEntry, AuditListResponse, AuditSummaryResponse, AuditVerifyResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::commands::next_cursor;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault audit query --action read --start 2026-04-22 --end 2026-04-23
  scaivault audit trail environments/production/salesforce/oauth
  scaivault audit summary
  scaivault audit verify";

/// The `--outcome` values, as the API spells them.
const OUTCOMES: [&str; 3] = ["success", "denied", "error"];

/// The error code (and exit 1) of `audit verify` when a chain is broken.
pub const CHAIN_BROKEN: &str = "audit_chain_broken";

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Search audit entries, newest first
    #[command(after_help = "\
Examples:
  scaivault audit query --action read --start 2026-04-22 --end 2026-04-23
  scaivault audit query --identity user:alice@acme.example --outcome denied
  scaivault audit query --path-prefix environments/production/ --all --json | jq -r '.entries[].path'")]
    Query(QueryArgs),

    /// Show the history of one secret path, newest first
    #[command(after_help = "\
Examples:
  scaivault audit trail environments/production/salesforce/oauth
  scaivault audit trail app/db/credentials --all --json | jq -r '.entries[] | \"\\(.timestamp) \\(.action)\"'")]
    Trail(TrailArgs),

    /// Count entries by action, outcome and identity, and list the most used paths
    #[command(after_help = "\
Examples:
  scaivault audit summary
  scaivault audit summary --start 2026-04-01 --end 2026-05-01
  scaivault audit summary --json | jq '.by_outcome'")]
    Summary(SummaryArgs),

    /// Check the audit trail's hash chains; exits 1 when one is broken
    #[command(after_help = "\
Examples:
  scaivault audit verify
  scaivault audit verify --json | jq '.intact'")]
    Verify(VerifyArgs),
}

/// Paging and output flags shared by `query` and `trail`.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Entries per page, 1-500 (server default 50)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: Option<u32>,
    /// Follow the cursors and fetch every page
    #[arg(long)]
    all: bool,
    /// Start at this page: the cursor a previous call reported
    #[arg(long)]
    cursor: Option<String>,
    /// Print the API's JSON (pages merged when --all fetched more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Only this action: read, write, update, delete, rotate, list, create, revoke, ...
    #[arg(long)]
    action: Option<String>,
    /// Only this acting identity, e.g. user:alice@acme.example
    #[arg(long)]
    identity: Option<String>,
    /// Only this resource type: secret, token, audit, ...
    #[arg(long, value_name = "TYPE")]
    resource_type: Option<String>,
    /// Only resource paths starting with this prefix
    #[arg(long, value_name = "PREFIX")]
    path_prefix: Option<String>,
    /// Only this outcome
    #[arg(long, value_parser = PossibleValuesParser::new(OUTCOMES))]
    outcome: Option<String>,
    /// From this time, inclusive: a date (2026-04-22, midnight UTC) or an RFC 3339 timestamp
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// Until this time, exclusive: a date or an RFC 3339 timestamp
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
    /// Only this target tenant (one within your reach)
    #[arg(long, value_name = "TENANT")]
    tenant_id: Option<String>,
    #[command(flatten)]
    page: PageArgs,
}

#[derive(Debug, Args)]
pub struct TrailArgs {
    /// Secret path, e.g. app/db/credentials
    path: String,
    /// The tenant whose trail to show (one within your reach)
    #[arg(long, value_name = "TENANT")]
    tenant_id: Option<String>,
    #[command(flatten)]
    page: PageArgs,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// From this time, inclusive: a date or an RFC 3339 timestamp (default: 24 hours ago)
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// Until this time, exclusive: a date or an RFC 3339 timestamp
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
    /// The tenant to summarise (one within your reach)
    #[arg(long, value_name = "TENANT")]
    tenant_id: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print the API's JSON response unchanged (the exit code still reports a broken chain)
    #[arg(long)]
    json: bool,
}

pub async fn run(command: AuditCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        AuditCommand::Query(args) => {
            let filter = AuditFilter {
                action: args.action,
                identity: args.identity,
                resource_type: args.resource_type,
                path_prefix: args.path_prefix,
                outcome: args.outcome,
                start: args.start,
                end: args.end,
                tenant_id: args.tenant_id,
                limit: None,
                cursor: None,
            };
            let fetched = fetch(&client, Source::Query(&filter), &args.page).await?;
            print_listing(&fetched, &args.page, None)
        }
        AuditCommand::Trail(args) => {
            let client = with_tenant(client, args.tenant_id);
            let fetched = fetch(&client, Source::Trail(&args.path), &args.page).await?;
            print_listing(&fetched, &args.page, Some(&args.path))
        }
        AuditCommand::Summary(args) => {
            let client = with_tenant(client, args.tenant_id);
            let raw = client
                .audit_summary(args.start.as_deref(), args.end.as_deref())
                .raw()
                .await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            print_summary(&decode(&raw)?)
        }
        AuditCommand::Verify(args) => {
            let raw = client.audit_verify().raw().await?;
            let report: AuditVerifyResponse = decode(&raw)?;
            if args.json {
                output::raw_json(&raw.body)?;
            } else {
                output::emit(&verify_lines(&report))?;
            }
            verdict(&report)
        }
    }
}

fn with_tenant(client: Client, tenant_id: Option<String>) -> Client {
    match tenant_id {
        Some(tenant) => client.with_tenant_id(tenant),
        None => client,
    }
}

/// Which listing to page through.
#[derive(Clone, Copy)]
enum Source<'a> {
    Query(&'a AuditFilter),
    Trail(&'a str),
}

/// The pages fetched (raw, for `--json`) and their entries.
struct Fetched {
    pages: Vec<RawResponse>,
    entries: Vec<AuditEntry>,
    /// The cursor of the last page fetched, when more entries follow.
    cursor: Option<String>,
    /// Set when the range reaches entries moved to the server's audit archive.
    archived: Option<scaivault_proto::audit::AuditArchivedRange>,
}

/// One page, or every page from `--cursor` on with `--all`.
async fn fetch(client: &Client, source: Source<'_>, args: &PageArgs) -> Result<Fetched, CliError> {
    let mut fetched = Fetched {
        pages: Vec::new(),
        entries: Vec::new(),
        cursor: None,
        archived: None,
    };
    let mut cursor = args.cursor.clone();
    loop {
        let raw = match source {
            Source::Query(filter) => {
                let filter = AuditFilter {
                    limit: args.limit,
                    cursor: cursor.clone(),
                    ..filter.clone()
                };
                client.audit_query(&filter).raw().await?
            }
            Source::Trail(path) => {
                client
                    .audit_trail(path, args.limit, cursor.as_deref())
                    .raw()
                    .await?
            }
        };
        let page: AuditListResponse = decode(&raw)?;
        fetched.pages.push(raw);
        if fetched.archived.is_none() {
            fetched.archived = page.archived.clone();
        }
        let count = page.entries.len();
        fetched.entries.extend(page.entries);
        fetched.cursor = page.cursor.clone().filter(|_| page.has_more);
        if !args.all {
            break;
        }
        match next_cursor(page.has_more, page.cursor, cursor.as_deref(), count) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(fetched)
}

fn print_listing(
    fetched: &Fetched,
    args: &PageArgs,
    trail_path: Option<&str>,
) -> Result<(), CliError> {
    if args.json {
        return output::raw_json(&merged_json(&fetched.pages)?);
    }
    if fetched.entries.is_empty() {
        output::line(&match trail_path {
            Some(path) => format!("No audit entries for {path}."),
            None => "No audit entries found.".to_string(),
        })?;
    } else {
        output::print_table(&entries_table(&fetched.entries, trail_path.is_none()))?;
    }
    if let Some(cursor) = &fetched.cursor
        && !args.all
    {
        eprintln!("More entries follow: add --cursor {cursor} for the next page, or --all.");
    }
    if let Some(archived) = &fetched.archived {
        eprintln!(
            "Entries before {} are in the server's audit archive, not in this listing: {}",
            archived.before,
            archived.locations.join(", ")
        );
    }
    Ok(())
}

/// TIME, IDENTITY, ACTION, (PATH,) VERSION, OUTCOME, REQUEST ID.
fn entries_table(entries: &[AuditEntry], show_path: bool) -> comfy_table::Table {
    let mut table = if show_path {
        output::table([
            "TIME",
            "IDENTITY",
            "ACTION",
            "PATH",
            "VERSION",
            "OUTCOME",
            "REQUEST ID",
        ])
    } else {
        output::table([
            "TIME",
            "IDENTITY",
            "ACTION",
            "VERSION",
            "OUTCOME",
            "REQUEST ID",
        ])
    };
    for e in entries {
        let mut row = vec![
            e.timestamp.to_string(),
            e.identity_id.clone(),
            e.action.clone(),
        ];
        if show_path {
            row.push(or_dash(e.path.as_deref()));
        }
        row.extend([or_dash(e.version), outcome_cell(e), e.request_id.clone()]);
        table.add_row(row);
    }
    table
}

/// `success`, or the outcome with the error code: `denied (access_denied)`.
fn outcome_cell(entry: &AuditEntry) -> String {
    match &entry.error_code {
        Some(code) if entry.outcome != "success" => format!("{} ({code})", entry.outcome),
        _ => entry.outcome.clone(),
    }
}

/// One listing page whose entries are kept byte for byte.
#[derive(Deserialize)]
struct RawPage {
    entries: Vec<Box<RawValue>>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    archived: Option<Box<RawValue>>,
}

#[derive(Serialize)]
struct MergedPage<'a> {
    entries: Vec<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    archived: Option<&'a RawValue>,
}

/// The `--json` output: the single page unchanged, or the pages merged into one document of
/// the same shape (entries unchanged, `cursor` and `has_more` of the last page).
fn merged_json(pages: &[RawResponse]) -> Result<String, CliError> {
    if let [only] = pages {
        return Ok(only.body.clone());
    }
    let parsed: Vec<RawPage> = pages
        .iter()
        .map(|p| {
            serde_json::from_str(&p.body).map_err(|e| {
                CliError::general("decode_error", format!("unexpected audit response: {e}"))
            })
        })
        .collect::<Result<_, _>>()?;
    let last = parsed.last();
    let merged = MergedPage {
        entries: parsed
            .iter()
            .flat_map(|p| p.entries.iter().map(AsRef::as_ref))
            .collect(),
        cursor: last.and_then(|p| p.cursor.as_deref()),
        has_more: last.is_some_and(|p| p.has_more),
        archived: parsed.first().and_then(|p| p.archived.as_deref()),
    };
    serde_json::to_string(&merged).map_err(|e| CliError::general("encode_error", e.to_string()))
}

fn print_summary(s: &AuditSummaryResponse) -> Result<(), CliError> {
    let window = format!(
        "{} .. {}",
        s.start
            .map_or_else(|| "(beginning)".to_string(), |t| t.to_string()),
        s.end.map_or_else(|| "now".to_string(), |t| t.to_string()),
    );
    output::print_fields(&[("Window", window), ("Total", s.total.to_string())])?;
    let sections: [(&str, &[AuditCount]); 4] = [
        ("BY ACTION", &s.by_action),
        ("BY OUTCOME", &s.by_outcome),
        ("BY IDENTITY", &s.by_identity),
        ("TOP PATHS", &s.top_paths),
    ];
    for (title, counts) in sections {
        if counts.is_empty() {
            continue;
        }
        let mut table = output::table([title, "COUNT"]);
        for c in counts {
            table.add_row([c.key.clone(), c.count.to_string()]);
        }
        output::line("")?;
        output::print_table(&table)?;
    }
    Ok(())
}

/// How `audit verify` names the chain of entries that target no tenant.
const NO_TENANT: &str = "(no tenant)";

/// One line per chain: `tnt_x: intact, N entries` or `tnt_x: BROKEN at #3: <first break>`.
fn verify_lines(report: &AuditVerifyResponse) -> String {
    if report.chains.is_empty() {
        return "No audit chains to verify.\n".to_string();
    }
    let mut text = String::new();
    for chain in &report.chains {
        // The chain of requests that target no tenant (the operator tenant sees it) has no id.
        let tenant = if chain.tenant_id.is_empty() {
            NO_TENANT
        } else {
            chain.tenant_id.as_str()
        };
        let line = if chain.intact {
            let noun = if chain.entries_checked == 1 {
                "entry"
            } else {
                "entries"
            };
            let archived = match chain.archive_segments {
                0 => String::new(),
                1 => " (1 archive segment + database)".to_string(),
                n => format!(" ({n} archive segments + database)"),
            };
            format!(
                "{tenant}: intact, {} {noun}{archived}",
                chain.entries_checked
            )
        } else {
            let at = chain
                .broken_at_chain_sequence
                .map(|seq| format!(" at #{seq}"))
                .unwrap_or_default();
            let why = chain.first_break.as_deref().unwrap_or("no details given");
            let place = chain
                .archive_segment
                .as_deref()
                .map(|s| format!(" in archive segment {s}"))
                .unwrap_or_default();
            format!("{tenant}: BROKEN{at}{place}: {why}")
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Success when every chain is intact; otherwise exit 1 with `audit_chain_broken`.
fn verdict(report: &AuditVerifyResponse) -> Result<(), CliError> {
    let broken = report.chains.iter().filter(|c| !c.intact).count();
    if report.intact && broken == 0 {
        return Ok(());
    }
    let message = if broken == 0 {
        "the server reports that the audit trail is not intact".to_string()
    } else {
        format!(
            "{broken} of {} audit chains failed verification; the trail may have been tampered with",
            report.chains.len()
        )
    };
    Err(CliError::general(CHAIN_BROKEN, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scaivault_proto::audit::AuditChainReport;

    fn chain(tenant: &str, intact: bool, entries: u64) -> AuditChainReport {
        AuditChainReport {
            tenant_id: tenant.into(),
            entries_checked: entries,
            last_chain_sequence: entries,
            intact,
            first_break: (!intact).then(|| "entry #3: its hash does not match".to_string()),
            broken_at_chain_sequence: (!intact).then_some(3),
            archive_segment: None,
            archive_segments: 0,
        }
    }

    #[test]
    fn verify_prints_one_line_per_chain_and_fails_when_one_is_broken() {
        let ok = AuditVerifyResponse {
            intact: true,
            chains: vec![
                chain("tnt_a", true, 12),
                chain("tnt_b", true, 1),
                chain("", true, 0),
            ],
        };
        assert_eq!(
            verify_lines(&ok),
            "tnt_a: intact, 12 entries\ntnt_b: intact, 1 entry\n(no tenant): intact, 0 entries\n"
        );
        assert!(verdict(&ok).is_ok());

        let bad = AuditVerifyResponse {
            intact: false,
            chains: vec![chain("tnt_a", true, 12), chain("tnt_b", false, 7)],
        };
        assert_eq!(
            verify_lines(&bad),
            "tnt_a: intact, 12 entries\ntnt_b: BROKEN at #3: entry #3: its hash does not match\n"
        );
        let err = verdict(&bad).unwrap_err();
        assert_eq!(err.exit, crate::error::exit::GENERAL);
        assert_eq!(err.code, CHAIN_BROKEN);
        assert!(err.message.starts_with("1 of 2 audit chains"), "{err:?}");
    }

    #[test]
    fn verify_names_the_archive_segment_of_a_break() {
        let mut archived = chain("tnt_a", true, 40);
        archived.archive_segments = 2;
        let mut broken = chain("tnt_b", false, 7);
        broken.archive_segment = Some("tnt_b/000000000001_2026-11-01.jsonl.zst".into());
        let report = AuditVerifyResponse {
            intact: false,
            chains: vec![archived, broken],
        };
        assert_eq!(
            verify_lines(&report),
            "tnt_a: intact, 40 entries (2 archive segments + database)
\
             tnt_b: BROKEN at #3 in archive segment tnt_b/000000000001_2026-11-01.jsonl.zst: entry #3: its hash does not match\n"
        );
        assert!(verdict(&report).is_err());
    }

    #[test]
    fn pages_merge_entries_unchanged() {
        let p1 = RawResponse {
            status: 200,
            body: r#"{"entries":[{"z":1,"a":2}],"cursor":"c1","has_more":true}"#.into(),
        };
        let p2 = RawResponse {
            status: 200,
            body: r#"{"entries":[{"id":"aud_2"}],"has_more":false}"#.into(),
        };
        assert_eq!(merged_json(std::slice::from_ref(&p1)).unwrap(), p1.body);
        assert_eq!(
            merged_json(&[p1, p2]).unwrap(),
            r#"{"entries":[{"z":1,"a":2},{"id":"aud_2"}],"has_more":false}"#
        );
    }
}
