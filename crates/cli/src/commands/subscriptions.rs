//! `scaivault subscriptions create|list|get|delete|poll|dead-letters`: event subscriptions by
//! path globs and event types, delivered by webhook and/or long-poll.
//!
//! `poll --follow` keeps long-polling with the returned cursor and prints each event as it
//! arrives; with `--json` each event is one compact JSON object per line, flushed at once, so
//! the output can be piped into `jq`. It runs until interrupted, or until stdout is closed
//! (noticed at the next event), which ends it quietly with exit 0.

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use scaivault_client::{Client, PollQuery, decode};
use scaivault_proto::subscriptions::{
    CreateSubscriptionRequest, DeadLetterList, Event, PollResponse, Subscription, SubscriptionList,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::commands::pages;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault subscriptions create \\
    --name \"Slack rotation alerts\" \\
    --paths \"environments/production/**\" \\
    --events secret.rotated,rotation.due \\
    --webhook https://hooks.slack.com/xxx
  # Long-poll an existing subscription
  scaivault subscriptions poll sub_abc --follow
  # Stream rotation events
  scaivault subscriptions poll sub_abc --follow --json \\
  | jq -r 'select(.event_type==\"secret.rotated\")
      | \"\\(.path): \\(.data.old_version) -> \\(.data.new_version)\"'
  scaivault subscriptions list
  scaivault subscriptions dead-letters sub_abc

Event types: secret.created, secret.updated, secret.deleted, secret.restored, secret.rotated,
secret.expiring, secret.expired, rotation.due, rotation.succeeded, rotation.failed,
policy.changed, or * for all.";

/// Longest `--wait` the server accepts.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Pauses between retries of `poll --follow` after a transient failure: 1s, 2s, 4s, ... 30s.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe to events on path globs; deliver them by webhook and/or long-poll
    #[command(after_help = "\
Examples:
  scaivault subscriptions create \\
    --name \"Slack rotation alerts\" \\
    --paths \"environments/production/**\" \\
    --events secret.rotated,rotation.due \\
    --webhook https://hooks.slack.com/xxx
  # Poll-only (no webhook), every event under app/
  scaivault subscriptions create --name app-events --paths \"app/**\" --events '*'
  # Partner admins: hear from several tenants of the partner
  scaivault subscriptions create --name fleet --paths \"**\" --events secret.rotated --tenants tnt_a,tnt_b
  SUB=$(scaivault subscriptions create --name ci --paths \"ci/**\" --events '*' --json | jq -r .id)

With --webhook the response carries the signing secret (whsec_...), shown only this once:
store it to verify the webhook-signature header of deliveries (Standard Webhooks).
Webhook URLs must be http(s) and resolve to public addresses.")]
    Create(CreateArgs),

    /// List the subscriptions you own (a tenant admin sees the tenant's)
    #[command(after_help = "\
Examples:
  scaivault subscriptions list
  scaivault subscriptions list --json | jq -r '.subscriptions[] | \"\\(.id) \\(.name)\"'")]
    List(JsonArgs),

    /// Show one subscription and its webhook delivery state
    #[command(after_help = "\
Examples:
  scaivault subscriptions get sub_abc
  scaivault subscriptions get sub_abc --json | jq '.last_error'")]
    Get(IdArgs),

    /// Delete a subscription: no more deliveries or polls
    #[command(after_help = "\
Examples:
  scaivault subscriptions delete sub_abc")]
    Delete {
        /// Subscription id (sub_...)
        id: String,
    },

    /// Long-poll a subscription's events; --follow keeps polling and prints each as it arrives
    #[command(after_help = "\
Examples:
  # Long-poll an existing subscription
  scaivault subscriptions poll sub_abc --follow
  # Stream rotation events
  scaivault subscriptions poll sub_abc --follow --json \\
  | jq -r 'select(.event_type==\"secret.rotated\")
      | \"\\(.path): \\(.data.old_version) -> \\(.data.new_version)\"'
  # One poll, answered at once; resume later with the cursor it reports on stderr
  scaivault subscriptions poll sub_abc --wait 0s
  scaivault subscriptions poll sub_abc --cursor <cursor> --json | jq -r .cursor

Without --cursor, polling starts at the subscription's creation. Delivery is at least once:
resume with the last cursor and deduplicate by event id.

With --follow --json each event is printed as one compact JSON object per line (id,
event_type, tenant_id, path, occurred_at, data), flushed at once. --follow runs until
interrupted or until stdout is closed; transient server or network failures are retried.")]
    Poll(PollArgs),

    /// List the webhook deliveries given up on after the retry window
    #[command(after_help = "\
Examples:
  scaivault subscriptions dead-letters sub_abc
  scaivault subscriptions dead-letters sub_abc --json | jq -r '.dead_letters[].event_id'")]
    DeadLetters(IdArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// Subscription id (sub_...)
    id: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the subscription by (1-100 characters)
    #[arg(long)]
    name: String,
    /// Comma-separated path globs, e.g. environments/production/** (`*` within a segment, `**`
    /// across segments); the flag may be repeated
    #[arg(long, value_name = "GLOBS", value_delimiter = ',', required = true)]
    paths: Vec<String>,
    /// Comma-separated event types (see below), or * for all; the flag may be repeated
    #[arg(long, value_name = "TYPES", value_delimiter = ',', required = true)]
    events: Vec<String>,
    /// Also deliver each event by POST to this http(s) URL (public addresses only)
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Partner admins: comma-separated tenants of the partner to hear from (default: your
    /// own tenant); the flag may be repeated
    #[arg(long, value_name = "TENANTS", value_delimiter = ',')]
    tenants: Vec<String>,
    /// Print the API's JSON response unchanged (with the webhook secret, if any)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct PollArgs {
    /// Subscription id (sub_...)
    id: String,
    /// Keep polling with the returned cursor and print each event as it arrives
    #[arg(long)]
    follow: bool,
    /// Resume after the events of a previous poll (default: from the subscription's creation)
    #[arg(long)]
    cursor: Option<String>,
    /// How long each poll waits for an event when none is pending: 0s to 60s, e.g. 30s, 1m,
    /// 500ms [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    wait: Option<Duration>,
    /// Events per poll, 1-500 (server default 100)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: Option<u32>,
    /// Print the API's JSON response; with --follow, one compact JSON event per line
    #[arg(long)]
    json: bool,
}

pub async fn run(command: SubscriptionsCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        SubscriptionsCommand::Create(args) => create(&client, args).await,
        SubscriptionsCommand::List(args) => list(&client, args.json).await,
        SubscriptionsCommand::Get(args) => {
            let raw = client.get_subscription(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let sub: Subscription = decode(&raw)?;
            output::print_fields(&subscription_fields(&sub, true))
        }
        SubscriptionsCommand::Delete { id } => {
            client.delete_subscription(&id).await?;
            output::line(&format!("Deleted subscription {id}"))
        }
        SubscriptionsCommand::Poll(args) if args.follow => follow(&client, &args).await,
        SubscriptionsCommand::Poll(args) => poll_once(&client, &args).await,
        SubscriptionsCommand::DeadLetters(args) => {
            let raw = client.subscription_dead_letters(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let list: DeadLetterList = decode(&raw)?;
            if list.dead_letters.is_empty() {
                return output::line(&format!("No dead letters for {}.", args.id));
            }
            let mut table = output::table(["EVENT ID", "ATTEMPTS", "FAILED AT", "LAST ERROR"]);
            for d in list.dead_letters {
                table.add_row([
                    d.event_id,
                    d.attempts.to_string(),
                    d.failed_at.to_string(),
                    d.last_error,
                ]);
            }
            output::print_table(&table)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// create, list, get

/// The items of a comma-separated (and possibly repeated) list flag: trimmed, empty ones
/// dropped. Globs, event types and tenant ids contain no whitespace.
fn list_items(values: Vec<String>) -> Vec<String> {
    values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

fn create_request(args: CreateArgs) -> Result<CreateSubscriptionRequest, CliError> {
    let paths = list_items(args.paths);
    if paths.is_empty() {
        return Err(CliError::validation("--paths: at least one path glob"));
    }
    let events = list_items(args.events);
    if events.is_empty() {
        return Err(CliError::validation(
            "--events: at least one event type (or *)",
        ));
    }
    let tenants = list_items(args.tenants);
    Ok(CreateSubscriptionRequest {
        name: args.name,
        paths,
        events,
        webhook: args.webhook,
        tenants: (!tenants.is_empty()).then_some(tenants),
    })
}

async fn create(client: &Client, args: CreateArgs) -> Result<(), CliError> {
    let json = args.json;
    let request = create_request(args)?;
    let raw = client.create_subscription(&request).raw().await?;
    if json {
        return output::raw_json(&raw.body);
    }
    let sub: Subscription = decode(&raw)?;
    let mut rows = subscription_fields(&sub, false);
    if let Some(secret) = &sub.webhook_secret {
        rows.push(("Webhook secret", secret.clone()));
    }
    output::line(&format!("Created subscription {} ({})", sub.id, sub.name))?;
    output::print_fields(&rows)?;
    if sub.webhook_secret.is_some() {
        eprintln!(
            "The webhook signing secret is shown only once: store it now. Deliveries are signed \
             with it (webhook-signature header, Standard Webhooks)."
        );
    }
    Ok(())
}

impl pages::Page for SubscriptionList {
    type Item = Subscription;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.subscriptions, self.cursor, self.has_more)
    }
}

async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let pages = pages::fetch_all::<SubscriptionList, _>(async |cursor| {
        client
            .list_subscriptions(None, cursor.as_deref())
            .raw()
            .await
    })
    .await?;
    if json {
        return output::raw_json(&pages::merged_json(&pages.bodies, "subscriptions")?);
    }
    if pages.items.is_empty() {
        return output::line("No subscriptions.");
    }
    let mut table = output::table(["ID", "NAME", "PATHS", "EVENTS", "DELIVERY", "CREATED"]);
    for s in pages.items {
        let delivery = delivery(&s);
        table.add_row([
            s.id,
            s.name,
            s.paths.join(","),
            s.events.join(","),
            delivery,
            s.created_at.to_string(),
        ]);
    }
    output::print_table(&table)
}

/// `webhook <url>`, or `poll` for a subscription without a webhook.
fn delivery(sub: &Subscription) -> String {
    match &sub.webhook_url {
        Some(url) => format!("webhook {url}"),
        None => "poll".into(),
    }
}

/// The label/value block of a subscription; `state` adds the webhook delivery state.
fn subscription_fields(sub: &Subscription, state: bool) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("ID", sub.id.clone()),
        ("Name", sub.name.clone()),
        ("Paths", sub.paths.join(", ")),
        ("Events", sub.events.join(", ")),
        ("Tenants", sub.tenants.join(", ")),
        ("Delivery", delivery(sub)),
        ("Owner", sub.owner_identity.clone()),
        ("Created", sub.created_at.to_string()),
    ];
    if state && sub.webhook_url.is_some() {
        rows.extend([
            ("Failed attempts", sub.delivery_attempts.to_string()),
            ("Next attempt", or_dash(sub.next_attempt_at)),
            ("Last error", or_dash(sub.last_error.as_deref())),
        ]);
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// poll

/// `--wait`: `0`, or a duration such as `30s`, `1m`, `500ms`, `1m30s`; at most 60s.
fn parse_wait(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let malformed = || format!("'{s}' is not a duration such as 30s, 1m or 500ms");
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err(malformed());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(malformed());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| malformed())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            _ => return Err(malformed()),
        };
        rest = &rest[unit_len..];
        total = total.saturating_add(part);
    }
    if total > MAX_WAIT {
        return Err(format!("'{s}' is longer than the server's limit of 60s"));
    }
    Ok(total)
}

fn poll_query(args: &PollArgs, cursor: Option<String>) -> PollQuery {
    PollQuery {
        cursor,
        wait: args.wait,
        limit: args.limit,
    }
}

/// One poll: the events (table, or the API's response with `--json`), the next cursor on
/// stderr.
async fn poll_once(client: &Client, args: &PollArgs) -> Result<(), CliError> {
    let raw = client
        .poll_subscription(&args.id, &poll_query(args, args.cursor.clone()))
        .raw()
        .await?;
    let page: PollResponse = decode(&raw)?;
    if args.json {
        output::raw_json(&raw.body)?;
    } else if page.events.is_empty() {
        output::line("No events.")?;
    } else {
        let mut table = output::table(["TIME", "TYPE", "PATH", "DATA"]);
        for e in &page.events {
            table.add_row([
                e.occurred_at.to_string(),
                e.event_type.clone(),
                or_dash(e.path.as_deref()),
                data_summary(&e.data),
            ]);
        }
        output::print_table(&table)?;
    }
    if page.has_more {
        eprintln!(
            "Next cursor: {} (more events are pending: poll again with --cursor {0})",
            page.cursor
        );
    } else {
        eprintln!("Next cursor: {}", page.cursor);
    }
    Ok(())
}

/// A poll response whose events are kept as sent.
#[derive(Deserialize)]
struct RawPoll {
    events: Vec<Box<RawValue>>,
    cursor: String,
}

/// `--follow`: polls forever with the returned cursor, printing each event as it arrives.
/// Once a poll has succeeded, transient failures (network, 5xx, 429) are retried with
/// backoff; other errors (a deleted subscription, a revoked token) end the command.
async fn follow(client: &Client, args: &PollArgs) -> Result<(), CliError> {
    let mut cursor = args.cursor.clone();
    let mut connected = false;
    let mut retry = RETRY_FIRST;
    if !args.json {
        eprintln!(
            "Following {}; events are printed as they arrive (Ctrl-C to stop).",
            args.id
        );
    }
    let closed = stdout_closed();
    tokio::pin!(closed);
    loop {
        let poll = client
            .poll_subscription(&args.id, &poll_query(args, cursor.clone()))
            .raw();
        let result = tokio::select! {
            result = poll => result,
            // Nobody reads our output any more (`| head -n 1` is done): stop quietly.
            () = &mut closed => return Ok(()),
        };
        let raw = match result {
            Ok(raw) => raw,
            Err(e) if connected && transient(&e) => {
                eprintln!(
                    "Warning: polling {} failed ({}: {}); retrying in {}s.",
                    args.id,
                    e.code(),
                    e.message(),
                    retry.as_secs()
                );
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    () = &mut closed => return Ok(()),
                }
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        connected = true;
        retry = RETRY_FIRST;
        let lines = if args.json {
            let page: RawPoll = decode(&raw)?;
            cursor = Some(page.cursor);
            page.events.iter().map(|e| json_line(e)).collect()
        } else {
            let page: PollResponse = decode(&raw)?;
            cursor = Some(page.cursor);
            page.events.iter().map(human_line).collect::<Vec<_>>()
        };
        for line in lines {
            if !write_line(&line)? {
                // The reader went away (`| head -1`): nothing left to do.
                return Ok(());
            }
        }
    }
}

/// Resolves when stdout is a pipe whose reader has gone away, so that `--follow` ends while
/// it waits for events rather than at its next write. Never resolves when stdout cannot be
/// watched (a regular file, `/dev/null`, not unix).
async fn stdout_closed() {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use tokio::io::Interest;
        use tokio::net::unix::pipe;
        // A duplicate of stdout, only watched: nothing is written through it, so it is left in
        // blocking mode (which the descriptor shares with stdout). A pipe's write end reports
        // an error once no reader is left.
        let watched = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .and_then(pipe::Sender::from_owned_fd_unchecked);
        if let Ok(sender) = watched
            && sender
                .ready(Interest::ERROR)
                .await
                .is_ok_and(|ready| ready.is_error())
        {
            return;
        }
    }
    std::future::pending::<()>().await;
}

/// Worth retrying in `--follow`: the server could not be reached or failed, not a refusal.
fn transient(error: &scaivault_client::Error) -> bool {
    use scaivault_client::Error as E;
    match error {
        E::Connect { .. } | E::Transport { .. } => true,
        _ => error.status().is_some_and(|s| s >= 500 || s == 429),
    }
}

/// One event as one line of compact JSON: as sent when it is already on one line.
fn json_line(event: &RawValue) -> String {
    let text = event.get();
    if !text.contains(['\n', '\r']) {
        return text.to_owned();
    }
    serde_json::from_str::<Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.replace(['\n', '\r'], " "))
}

/// `2026-04-22T10:00:00Z  secret.rotated  app/db  old_version=1 new_version=2`.
fn human_line(event: &Event) -> String {
    let mut line = format!(
        "{}  {}  {}",
        event.occurred_at,
        event.event_type,
        or_dash(event.path.as_deref())
    );
    let data = data_summary(&event.data);
    if !data.is_empty() {
        line.push_str("  ");
        line.push_str(&data);
    }
    line
}

/// An event's data for humans: `key=value` pairs of an object (strings bare, other values as
/// JSON), other values as compact JSON, nothing for null or `{}`.
fn data_summary(data: &Value) -> String {
    match data {
        Value::Null => String::new(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", output::plain(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Writes `text` and a newline to stdout and flushes; `Ok(false)` when stdout is closed.
fn write_line(text: &str) -> Result<bool, CliError> {
    let mut out = std::io::stdout().lock();
    match out
        .write_all(format!("{text}\n").as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::io("writing to stdout", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_durations() {
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_wait("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_wait("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_wait("0m45s"), Ok(Duration::from_secs(45)));
        for bad in [
            "", "s", "30", "30x", "1.5s", "-1s", "30 s", "2m", "61s", "1h",
        ] {
            assert!(parse_wait(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn list_flags_are_trimmed() {
        assert_eq!(
            list_items(vec!["a/**".into(), " b ".into(), String::new()]),
            ["a/**", "b"]
        );
    }

    #[test]
    fn events_print_as_one_line() {
        let raw =
            RawValue::from_string("{\n  \"data\": {},\n  \"id\": \"evt_1\"\n}".into()).unwrap();
        assert_eq!(json_line(&raw), r#"{"data":{},"id":"evt_1"}"#);
        let raw = RawValue::from_string(r#"{"id":"evt_1","data":{"b":1}}"#.into()).unwrap();
        assert_eq!(json_line(&raw), r#"{"id":"evt_1","data":{"b":1}}"#);
        assert_eq!(
            data_summary(&serde_json::json!({"new_version": 2, "old_version": 1, "who": "x"})),
            "new_version=2 old_version=1 who=x"
        );
        assert_eq!(data_summary(&Value::Null), "");
        assert_eq!(data_summary(&serde_json::json!([1])), "[1]");
    }
}
