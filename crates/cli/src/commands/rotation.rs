//! `scaivault rotation list|get|create|update|delete|assign|unassign|trigger|history|secrets|
//! due|runs`: rotation policies, the secrets assigned to them, their runs and the schedule.
//!
//! `trigger` exits 1 (`rotation_failed`) when any of the runs it started failed, after printing
//! them (with `--json` too), so that scripts notice.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use scaivault_client::{Client, RawResponse, RunFilter, RunHistoryQuery, decode};
use scaivault_proto::Timestamp;
use scaivault_proto::rotation::{
    AssignRequest, AssignResponse, RotationPolicy, RotationPolicyList, RotationPolicyRequest,
    RotationRun, RotationRunList, ScheduledRotation, ScheduledRotationList, TriggerRequest,
    TriggerResponse,
};

use crate::commands::{next_cursor, pages};
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault rotation list
  scaivault rotation create --name \"quarterly\" --interval 90d --grace-period 48h --warn-before 7d,1d
  scaivault rotation assign rot_quarterly environments/production/salesforce/oauth
  scaivault rotation trigger rot_quarterly
  scaivault rotation history rot_quarterly --status failed
  scaivault rotation due --within-hours 168

A rotation generates the new value with the secret's secret policy (see
`scaivault secret-policies`); without one it waits for a value from `scaivault secrets rotate`.";

/// The run states, as the API spells them (`--status`).
const RUN_STATES: [&str; 4] = ["running", "awaiting_value", "succeeded", "failed"];

/// The error code (and exit 1) of `rotation trigger` when a run failed.
pub const ROTATION_FAILED: &str = "rotation_failed";

#[derive(Debug, Subcommand)]
pub enum RotationCommand {
    /// List the tenant's rotation policies
    #[command(after_help = "\
Examples:
  scaivault rotation list
  scaivault rotation list --json | jq -r '.rotation_policies[] | \"\\(.id) \\(.interval)\"'")]
    List(JsonArgs),

    /// Show one rotation policy
    #[command(after_help = "\
Examples:
  scaivault rotation get rot_quarterly
  scaivault rotation get rot_quarterly --json | jq -r .interval")]
    Get(IdArgs),

    /// Create a rotation policy; its id is derived from the name (quarterly -> rot_quarterly)
    #[command(after_help = "\
Examples:
  scaivault rotation create --name \"quarterly\" --interval 90d --grace-period 48h --warn-before 7d,1d
  scaivault rotation create --name nightly --interval 1d --window \"0 2-4 * * *\"
  scaivault rotation create --name manual-90d --interval 90d --no-auto-generate

Durations: a number and a unit (s, m, h, d, w), e.g. 90d, 48h, 1d12h. The grace period keeps
the previous version readable after a rotation and must be shorter than the interval. The
window is a cron expression (minute hour day-of-month month day-of-week, UTC): a due rotation
waits for the next matching minute.")]
    Create(CreateArgs),

    /// Change a rotation policy: flags that are given replace those parts, the rest is kept
    #[command(after_help = "\
Examples:
  scaivault rotation update rot_quarterly --grace-period 72h
  scaivault rotation update rot_quarterly --warn-before 14d,7d,1d
  scaivault rotation update rot_quarterly --window \"\"   # rotate at any time again")]
    Update(UpdateArgs),

    /// Delete a rotation policy
    #[command(after_help = "\
Examples:
  scaivault rotation delete rot_quarterly")]
    Delete {
        /// Rotation policy id (rot_...)
        id: String,
    },

    /// Put secrets (paths or globs of existing secrets) on a rotation policy's schedule
    #[command(after_help = "\
Examples:
  scaivault rotation assign rot_quarterly environments/production/salesforce/oauth
  scaivault rotation assign rot_quarterly \"environments/production/**\" app/db/credentials")]
    Assign(AssignArgs),

    /// Take secrets (paths or globs) off a rotation policy
    #[command(after_help = "\
Examples:
  scaivault rotation unassign rot_quarterly environments/production/salesforce/oauth
  scaivault rotation unassign rot_quarterly \"environments/staging/**\"")]
    Unassign(AssignArgs),

    /// Rotate a policy's secrets now (all, or those matching --path); exits 1 if one failed
    #[command(after_help = "\
Examples:
  scaivault rotation trigger rot_quarterly
  scaivault rotation trigger rot_quarterly --path \"environments/production/**\"
  scaivault rotation trigger rot_quarterly --json | jq -r '.runs[] | \"\\(.path) \\(.status)\"'")]
    Trigger(TriggerArgs),

    /// Show a rotation policy's runs, newest first
    #[command(after_help = "\
Examples:
  scaivault rotation history rot_quarterly
  scaivault rotation history rot_quarterly --status failed
  scaivault rotation history rot_quarterly --all --json | jq -r '.runs[] | \"\\(.path) \\(.status)\"'")]
    History(HistoryArgs),

    /// List the secrets assigned to a rotation policy and when they rotate next
    #[command(after_help = "\
Examples:
  scaivault rotation secrets rot_quarterly
  scaivault rotation secrets rot_quarterly --json | jq -r '.secrets[].path'")]
    Secrets(IdArgs),

    /// List the secrets whose rotation is due soon, soonest first
    #[command(after_help = "\
Examples:
  scaivault rotation due --within-hours 168
  scaivault rotation due --within-hours 24 --json | jq -r '.secrets[] | \"\\(.path) \\(.next_rotation)\"'")]
    Due(DueArgs),

    /// Search rotation runs across policies, newest first
    #[command(after_help = "\
Examples:
  scaivault rotation runs --status failed
  scaivault rotation runs --path environments/production/salesforce/oauth
  scaivault rotation runs --policy rot_quarterly --all --json | jq -r '.runs[].id'")]
    Runs(RunsArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// Rotation policy id (rot_...)
    id: String,
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

/// The settings `create` and `update` share.
#[derive(Debug, Args)]
pub struct PolicyOptions {
    /// How long the previous version stays readable after a rotation, e.g. 48h (default 0:
    /// retired at once)
    #[arg(long, value_name = "DURATION")]
    grace_period: Option<String>,
    /// When to warn (rotation.due events) before a rotation, comma-separated, e.g. 7d,1d
    #[arg(long, value_name = "DURATIONS", value_delimiter = ',')]
    warn_before: Option<Vec<String>>,
    /// Generate new values with the secret's secret policy (the default)
    #[arg(long, conflicts_with = "no_auto_generate")]
    auto_generate: bool,
    /// Do not generate values: a due rotation waits for `scaivault secrets rotate PATH k=v`
    #[arg(long)]
    no_auto_generate: bool,
    /// Rotate only at times matching this cron expression (UTC), e.g. "0 2-4 * * 1-5"; an
    /// empty value (update) removes the window
    #[arg(long, value_name = "CRON")]
    window: Option<String>,
    /// What the policy is for; an empty value (update) removes it
    #[arg(long)]
    description: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name, unique in the tenant; the id is rot_ and the name in lower case
    #[arg(long)]
    name: String,
    /// How often to rotate, e.g. 90d (at least 1m)
    #[arg(long, value_name = "DURATION")]
    interval: String,
    #[command(flatten)]
    options: PolicyOptions,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Rotation policy id (rot_...)
    id: String,
    /// New name (the id stays)
    #[arg(long)]
    name: Option<String>,
    /// How often to rotate, e.g. 90d
    #[arg(long, value_name = "DURATION")]
    interval: Option<String>,
    #[command(flatten)]
    options: PolicyOptions,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// Rotation policy id (rot_...)
    policy: String,
    /// Secret paths or globs of existing secrets, e.g. environments/production/** (`*` within a
    /// segment, `**` across segments)
    #[arg(value_name = "PATH_OR_GLOB", required = true)]
    paths: Vec<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// Rotation policy id (rot_...)
    policy: String,
    /// Only the policy's secrets matching these paths or globs (default: all of them)
    #[arg(long = "path", value_name = "GLOB", num_args = 1..)]
    paths: Vec<String>,
    /// Print the API's JSON response unchanged (the exit code still reports a failed run)
    #[arg(long)]
    json: bool,
}

/// Paging and output flags of the run listings.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Runs per page, 1-500 (server default)
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
pub struct HistoryArgs {
    /// Rotation policy id (rot_...)
    policy: String,
    /// Only runs in this state
    #[arg(long, value_parser = PossibleValuesParser::new(RUN_STATES))]
    status: Option<String>,
    #[command(flatten)]
    page: PageArgs,
}

#[derive(Debug, Args)]
pub struct DueArgs {
    /// Due within this many hours (server default when omitted)
    #[arg(long, value_name = "N")]
    within_hours: Option<u32>,
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs of this secret path
    #[arg(long)]
    path: Option<String>,
    /// Only runs of this rotation policy (rot_...)
    #[arg(long = "policy", value_name = "ID")]
    policy_id: Option<String>,
    /// Only runs in this state
    #[arg(long, value_parser = PossibleValuesParser::new(RUN_STATES))]
    status: Option<String>,
    #[command(flatten)]
    page: PageArgs,
}

pub async fn run(command: RotationCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        RotationCommand::List(args) => list(&client, args.json).await,
        RotationCommand::Get(args) => {
            let raw = client.get_rotation_policy(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::print_fields(&policy_fields(&decode(&raw)?))
        }
        RotationCommand::Create(args) => {
            let json = args.options.json;
            let request = create_request(args);
            let raw = client.create_rotation_policy(&request).raw().await?;
            if json {
                return output::raw_json(&raw.body);
            }
            let policy: RotationPolicy = decode(&raw)?;
            output::line(&format!(
                "Created rotation policy {} ({})",
                policy.id, policy.name
            ))?;
            output::print_fields(&policy_fields(&policy))
        }
        RotationCommand::Update(args) => {
            let json = args.options.json;
            let current = client.get_rotation_policy(&args.id).await?;
            let id = args.id.clone();
            let request = update_request(args, current);
            let raw = client.update_rotation_policy(&id, &request).raw().await?;
            if json {
                return output::raw_json(&raw.body);
            }
            let policy: RotationPolicy = decode(&raw)?;
            output::line(&format!(
                "Updated rotation policy {} ({})",
                policy.id, policy.name
            ))?;
            output::print_fields(&policy_fields(&policy))
        }
        RotationCommand::Delete { id } => {
            client.delete_rotation_policy(&id).await?;
            output::line(&format!("Deleted rotation policy {id}"))
        }
        RotationCommand::Assign(args) => {
            let request = AssignRequest { paths: args.paths };
            let raw = client
                .assign_rotation_policy(&args.policy, &request)
                .raw()
                .await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::emit(&assigned_text(&decode(&raw)?, true))
        }
        RotationCommand::Unassign(args) => {
            let request = AssignRequest { paths: args.paths };
            let raw = client
                .unassign_rotation_policy(&args.policy, &request)
                .raw()
                .await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::emit(&assigned_text(&decode(&raw)?, false))
        }
        RotationCommand::Trigger(args) => trigger(&client, args).await,
        RotationCommand::History(args) => {
            let query = RunHistoryQuery {
                status: args.status.clone(),
                cursor: None,
                limit: args.page.limit,
            };
            let fetched = fetch_runs(
                async |cursor| {
                    let query = RunHistoryQuery {
                        cursor,
                        ..query.clone()
                    };
                    client.rotation_history(&args.policy, &query).raw().await
                },
                &args.page,
            )
            .await?;
            let empty = match &args.status {
                Some(status) => format!("No {status} runs of {}.", args.policy),
                None => format!("No runs of {} yet.", args.policy),
            };
            print_runs(&fetched, &args.page, false, &empty)
        }
        RotationCommand::Secrets(args) => {
            let pages = pages::fetch_all::<ScheduledRotationList, _>(async |cursor| {
                client
                    .rotation_policy_secrets(&args.id, None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "secrets")?);
            }
            if pages.items.is_empty() {
                return output::line(&format!("No secrets are assigned to {}.", args.id));
            }
            output::print_table(&schedule_table(&pages.items, false, now_micros()))
        }
        RotationCommand::Due(args) => {
            let pages = pages::fetch_all::<ScheduledRotationList, _>(async |cursor| {
                client
                    .rotation_due(args.within_hours, None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "secrets")?);
            }
            if pages.items.is_empty() {
                return output::line(&match args.within_hours {
                    Some(hours) => format!("No rotations due within {hours} hours."),
                    None => "No rotations due.".to_string(),
                });
            }
            output::print_table(&schedule_table(&pages.items, true, now_micros()))
        }
        RotationCommand::Runs(args) => {
            let filter = RunFilter {
                path: args.path.clone(),
                policy_id: args.policy_id.clone(),
                status: args.status.clone(),
                cursor: None,
                limit: args.page.limit,
            };
            let fetched = fetch_runs(
                async |cursor| {
                    let filter = RunFilter {
                        cursor,
                        ..filter.clone()
                    };
                    client.rotation_runs(&filter).raw().await
                },
                &args.page,
            )
            .await?;
            print_runs(&fetched, &args.page, true, "No rotation runs found.")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Policies

impl pages::Page for RotationPolicyList {
    type Item = RotationPolicy;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.rotation_policies, self.cursor, self.has_more)
    }
}

impl pages::Page for ScheduledRotationList {
    type Item = ScheduledRotation;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.secrets, self.cursor, self.has_more)
    }
}

async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let pages = pages::fetch_all::<RotationPolicyList, _>(async |cursor| {
        client
            .list_rotation_policies(None, cursor.as_deref())
            .raw()
            .await
    })
    .await?;
    if json {
        return output::raw_json(&pages::merged_json(&pages.bodies, "rotation_policies")?);
    }
    if pages.items.is_empty() {
        return output::line("No rotation policies.");
    }
    let mut table = output::table([
        "ID",
        "NAME",
        "INTERVAL",
        "GRACE PERIOD",
        "WARN BEFORE",
        "AUTO-GENERATE",
        "WINDOW",
    ]);
    for p in pages.items {
        table.add_row([
            p.id,
            p.name,
            p.interval,
            p.grace_period,
            warn_list(&p.warn_before),
            yes_no(p.auto_generate),
            or_dash(p.window),
        ]);
    }
    output::print_table(&table)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn warn_list(warn_before: &[String]) -> String {
    if warn_before.is_empty() {
        "-".into()
    } else {
        warn_before.join(",")
    }
}

fn policy_fields(p: &RotationPolicy) -> Vec<(&'static str, String)> {
    vec![
        ("ID", p.id.clone()),
        ("Name", p.name.clone()),
        ("Description", or_dash(p.description.as_deref())),
        ("Interval", p.interval.clone()),
        ("Grace period", p.grace_period.clone()),
        ("Warn before", warn_list(&p.warn_before)),
        ("Auto-generate", yes_no(p.auto_generate)),
        ("Window", or_dash(p.window.as_deref())),
        ("Created", p.created_at.to_string()),
        ("Updated", p.updated_at.to_string()),
    ]
}

/// `Some(true)` for --auto-generate, `Some(false)` for --no-auto-generate.
fn auto_generate(options: &PolicyOptions) -> Option<bool> {
    if options.no_auto_generate {
        Some(false)
    } else if options.auto_generate {
        Some(true)
    } else {
        None
    }
}

/// The warnings as given: trimmed, empty items dropped.
fn warn_items(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `None` for an empty string: how `update` removes an optional setting.
fn non_empty(value: String) -> Option<String> {
    (!value.trim().is_empty()).then_some(value)
}

fn create_request(args: CreateArgs) -> RotationPolicyRequest {
    let options = args.options;
    RotationPolicyRequest {
        name: args.name,
        description: options.description.clone().and_then(non_empty),
        interval: args.interval,
        grace_period: options.grace_period.clone(),
        warn_before: warn_items(options.warn_before.as_deref().unwrap_or_default()),
        auto_generate: auto_generate(&options),
        window: options.window.clone().and_then(non_empty),
    }
}

/// `PUT` replaces the whole policy: whatever the flags do not give is copied from `current`.
fn update_request(args: UpdateArgs, current: RotationPolicy) -> RotationPolicyRequest {
    let options = args.options;
    RotationPolicyRequest {
        name: args.name.unwrap_or(current.name),
        description: match options.description.clone() {
            Some(d) => non_empty(d),
            None => current.description,
        },
        interval: args.interval.unwrap_or(current.interval),
        grace_period: Some(options.grace_period.clone().unwrap_or(current.grace_period)),
        warn_before: match &options.warn_before {
            Some(given) => warn_items(given),
            None => current.warn_before,
        },
        auto_generate: Some(auto_generate(&options).unwrap_or(current.auto_generate)),
        window: match options.window.clone() {
            Some(w) => non_empty(w),
            None => current.window,
        },
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `Assigned rot_x to 2 secrets:` and the paths, one per line.
fn assigned_text(response: &AssignResponse, assign: bool) -> String {
    if response.paths.is_empty() {
        return "No secrets changed.\n".into();
    }
    let count = plural(response.count, "secret", "secrets");
    let mut text = if assign {
        format!("Assigned {} to {count}:\n", response.policy_id)
    } else {
        format!("Unassigned {} from {count}:\n", response.policy_id)
    };
    for path in &response.paths {
        text.push_str("  ");
        text.push_str(path);
        text.push('\n');
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Trigger and runs

async fn trigger(client: &Client, args: TriggerArgs) -> Result<(), CliError> {
    let request = TriggerRequest {
        paths: (!args.paths.is_empty()).then_some(args.paths),
    };
    let raw = client
        .trigger_rotation(&args.policy, &request)
        .raw()
        .await?;
    let response: TriggerResponse = decode(&raw)?;
    if args.json {
        output::raw_json(&raw.body)?;
    } else if response.runs.is_empty() {
        output::line(&format!("No secrets to rotate for {}.", response.policy_id))?;
    } else {
        output::line(&format!(
            "Triggered {}: {}",
            response.policy_id,
            plural(response.runs.len() as u64, "rotation", "rotations")
        ))?;
        let mut table = output::table(["PATH", "STATUS", "VERSION", "ERROR"]);
        for r in &response.runs {
            table.add_row([
                r.path.clone(),
                r.status.clone(),
                versions(r),
                or_dash(r.error.as_deref()),
            ]);
        }
        output::print_table(&table)?;
        for r in response
            .runs
            .iter()
            .filter(|r| r.status == "awaiting_value")
        {
            eprintln!(
                "{} has no secret policy to generate with (or auto-generate is off): give its \
                 new value with `scaivault secrets rotate {} key=value ...`",
                r.path, r.path
            );
        }
    }
    verdict(&response)
}

/// Exit 1 when a run failed.
fn verdict(response: &TriggerResponse) -> Result<(), CliError> {
    let failed = response
        .runs
        .iter()
        .filter(|r| r.status == "failed")
        .count();
    if failed == 0 {
        return Ok(());
    }
    Err(CliError::general(
        ROTATION_FAILED,
        format!("{failed} of {} rotations failed", response.runs.len()),
    )
    .with_hint(format!(
        "See `scaivault rotation history {} --status failed`.",
        response.policy_id
    )))
}

/// `1 -> 2`, `1 -> ?` while running, `-` without versions.
fn versions(run: &RotationRun) -> String {
    match (run.old_version, run.new_version) {
        (Some(old), Some(new)) => format!("{old} -> {new}"),
        (Some(old), None) => format!("{old} -> ?"),
        (None, Some(new)) => format!("-> {new}"),
        (None, None) => "-".into(),
    }
}

/// The pages fetched (raw, for `--json`) and their runs.
struct FetchedRuns {
    bodies: Vec<String>,
    runs: Vec<RotationRun>,
    /// The cursor of the last page fetched, when more runs follow.
    cursor: Option<String>,
}

/// One page (from `--cursor`), or every page from there on with `--all`.
async fn fetch_runs<F>(mut fetch: F, args: &PageArgs) -> Result<FetchedRuns, CliError>
where
    F: AsyncFnMut(Option<String>) -> Result<RawResponse, scaivault_client::Error>,
{
    let mut fetched = FetchedRuns {
        bodies: Vec::new(),
        runs: Vec::new(),
        cursor: None,
    };
    let mut cursor = args.cursor.clone();
    loop {
        let raw = fetch(cursor.clone()).await?;
        let page: RotationRunList = decode(&raw)?;
        fetched.bodies.push(raw.body);
        let count = page.runs.len();
        fetched.runs.extend(page.runs);
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

fn print_runs(
    fetched: &FetchedRuns,
    args: &PageArgs,
    show_policy: bool,
    empty: &str,
) -> Result<(), CliError> {
    if args.json {
        return output::raw_json(&pages::merged_json(&fetched.bodies, "runs")?);
    }
    if fetched.runs.is_empty() {
        output::line(empty)?;
    } else {
        output::print_table(&runs_table(&fetched.runs, show_policy))?;
    }
    if let Some(cursor) = &fetched.cursor
        && !args.all
    {
        eprintln!("More runs follow: add --cursor {cursor} for the next page, or --all.");
    }
    Ok(())
}

/// [`output::table`] with a number of columns known at run time.
fn table_with(headers: &[&str]) -> comfy_table::Table {
    let mut table = output::table::<0>([]);
    table.set_header(headers.to_vec());
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
        column.set_cell_alignment(comfy_table::CellAlignment::Left);
    }
    table
}

/// STARTED, RUN, (POLICY,) PATH, TRIGGER, STATUS, ATTEMPT, VERSION, ERROR.
fn runs_table(runs: &[RotationRun], show_policy: bool) -> comfy_table::Table {
    let mut headers = vec!["STARTED", "RUN"];
    if show_policy {
        headers.push("POLICY");
    }
    headers.extend(["PATH", "TRIGGER", "STATUS", "ATTEMPT", "VERSION", "ERROR"]);
    let mut table = table_with(&headers);
    for r in runs {
        let mut row = vec![r.started_at.to_string(), r.id.clone()];
        if show_policy {
            row.push(or_dash(r.policy_id.as_deref()));
        }
        row.extend([
            r.path.clone(),
            r.trigger.clone(),
            r.status.clone(),
            r.attempt.to_string(),
            versions(r),
            or_dash(r.error.as_deref()),
        ]);
        table.add_row(row);
    }
    table
}

// ---------------------------------------------------------------------------------------------
// The schedule

#[allow(
    clippy::disallowed_methods,
    reason = "a client printing `in 3h` relative to the user's wall clock: the real time is meant"
)]
fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `in 6d 23h`, `in 3h 5m`, `in 12m`, `overdue 2h 10m`: when `at` is, from `now`.
fn relative(at: Timestamp, now: i64) -> String {
    let delta = at.unix_micros().saturating_sub(now);
    let minutes = delta.unsigned_abs() / 60_000_000;
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    let span = if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else {
        format!("{mins}m")
    };
    if delta < 0 {
        format!("overdue {span}")
    } else {
        format!("in {span}")
    }
}

/// PATH, (POLICY,) STATE, NEXT ROTATION, DUE, LAST ROTATED, ATTEMPTS, LAST ERROR.
fn schedule_table(items: &[ScheduledRotation], show_policy: bool, now: i64) -> comfy_table::Table {
    let mut headers = vec!["PATH"];
    if show_policy {
        headers.push("POLICY");
    }
    headers.extend([
        "STATE",
        "NEXT ROTATION",
        "DUE",
        "LAST ROTATED",
        "ATTEMPTS",
        "LAST ERROR",
    ]);
    let mut table = table_with(&headers);
    for s in items {
        let mut row = vec![s.path.clone()];
        if show_policy {
            row.push(s.policy_id.clone());
        }
        row.extend([
            s.state.clone(),
            s.next_rotation.to_string(),
            relative(s.next_rotation, now),
            or_dash(s.last_rotated_at),
            s.attempts.to_string(),
            or_dash(s.last_error.as_deref()),
        ]);
        table.add_row(row);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

    fn policy() -> RotationPolicy {
        serde_json::from_value(serde_json::json!({
            "id": "rot_quarterly", "name": "quarterly", "interval": "90d",
            "grace_period": "48h", "warn_before": ["7d", "1d"], "auto_generate": true,
            "window": "0 2 * * *",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    fn options() -> PolicyOptions {
        PolicyOptions {
            grace_period: None,
            warn_before: None,
            auto_generate: false,
            no_auto_generate: false,
            window: None,
            description: None,
            json: false,
        }
    }

    #[test]
    fn create_sends_what_is_given() {
        let mut o = options();
        o.grace_period = Some("48h".into());
        o.warn_before = Some(vec!["7d".into(), " 1d".into(), String::new()]);
        let request = create_request(CreateArgs {
            name: "quarterly".into(),
            interval: "90d".into(),
            options: o,
        });
        let body = serde_json::to_value(&request).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "quarterly", "description": null, "interval": "90d",
                "grace_period": "48h", "warn_before": ["7d", "1d"],
                "auto_generate": null, "window": null
            })
        );
        let mut o = options();
        o.no_auto_generate = true;
        let request = create_request(CreateArgs {
            name: "n".into(),
            interval: "1d".into(),
            options: o,
        });
        assert_eq!(request.auto_generate, Some(false));
        assert!(request.warn_before.is_empty());
    }

    #[test]
    fn update_keeps_what_is_not_given_and_empties_remove() {
        let request = update_request(
            UpdateArgs {
                id: "rot_quarterly".into(),
                name: None,
                interval: None,
                options: PolicyOptions {
                    grace_period: Some("72h".into()),
                    ..options()
                },
            },
            policy(),
        );
        assert_eq!(request.name, "quarterly");
        assert_eq!(request.interval, "90d");
        assert_eq!(request.grace_period.as_deref(), Some("72h"));
        assert_eq!(request.warn_before, ["7d", "1d"]);
        assert_eq!(request.auto_generate, Some(true));
        assert_eq!(request.window.as_deref(), Some("0 2 * * *"));

        let request = update_request(
            UpdateArgs {
                id: "rot_quarterly".into(),
                name: None,
                interval: Some("30d".into()),
                options: PolicyOptions {
                    window: Some(String::new()),
                    warn_before: Some(vec![String::new()]),
                    no_auto_generate: true,
                    ..options()
                },
            },
            policy(),
        );
        assert_eq!(request.interval, "30d");
        assert_eq!(request.window, None);
        assert!(request.warn_before.is_empty());
        assert_eq!(request.auto_generate, Some(false));
    }

    fn run(status: &str, old: Option<u64>, new: Option<u64>) -> RotationRun {
        serde_json::from_value(serde_json::json!({
            "id": "rrun_1", "policy_id": "rot_quarterly", "path": "a/b", "trigger": "trigger",
            "status": status, "attempt": 1, "old_version": old, "new_version": new,
            "error": null, "started_at": "2026-01-01T00:00:00Z", "finished_at": null
        }))
        .unwrap()
    }

    #[test]
    fn a_failed_run_fails_trigger() {
        let ok = TriggerResponse {
            policy_id: "rot_quarterly".into(),
            runs: vec![run("succeeded", Some(1), Some(2))],
        };
        assert!(verdict(&ok).is_ok());
        let bad = TriggerResponse {
            policy_id: "rot_quarterly".into(),
            runs: vec![
                run("succeeded", Some(1), Some(2)),
                run("failed", Some(3), None),
            ],
        };
        let err = verdict(&bad).unwrap_err();
        assert_eq!(err.exit, exit::GENERAL);
        assert_eq!(err.code, ROTATION_FAILED);
        assert_eq!(err.message, "1 of 2 rotations failed");
        assert_eq!(versions(&bad.runs[0]), "1 -> 2");
        assert_eq!(versions(&bad.runs[1]), "3 -> ?");
    }

    #[test]
    fn tables_have_the_columns() {
        let text = runs_table(&[run("succeeded", Some(1), Some(2))], true).to_string();
        let header = text.lines().next().unwrap();
        for col in ["STARTED", "RUN", "POLICY", "PATH", "STATUS", "VERSION"] {
            assert!(header.contains(col), "{header}");
        }
        assert!(!runs_table(&[], false).to_string().contains("POLICY"));
    }

    #[test]
    fn relative_times() {
        let at = Timestamp::parse("2026-01-10T00:00:00Z").unwrap();
        let base = at.unix_micros();
        let hour = 3_600_000_000;
        assert_eq!(relative(at, base - 50 * hour - 60_000_000 * 5), "in 2d 2h");
        assert_eq!(relative(at, base - 3 * hour - 60_000_000 * 5), "in 3h 5m");
        assert_eq!(relative(at, base - 60_000_000 * 12), "in 12m");
        assert_eq!(relative(at, base + 2 * hour), "overdue 2h 0m");
    }

    #[test]
    fn assignment_text() {
        let r = AssignResponse {
            policy_id: "rot_quarterly".into(),
            paths: vec!["a/b".into()],
            count: 1,
        };
        assert_eq!(
            assigned_text(&r, true),
            "Assigned rot_quarterly to 1 secret:\n  a/b\n"
        );
        assert_eq!(
            assigned_text(&r, false),
            "Unassigned rot_quarterly from 1 secret:\n  a/b\n"
        );
    }
}
