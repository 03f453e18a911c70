//! `scaivault policies list|get|create|update|delete|bind|unbind|bindings|test`: path
//! policies of a tenant, their bindings, and explaining a decision.

use std::io::Read;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{ArgGroup, Args, Subcommand};
use scaivault_client::{Client, decode};
use scaivault_proto::policies::{
    BindRequest, Binding, BindingList, Policy, PolicyList, PolicyRequest, PolicyTestRequest,
    PolicyTestResponse, Rule,
};
use serde::Deserialize;
use serde_json::Value;

use crate::commands::pages;
use crate::context::Context;
use crate::error::{CliError, exit};
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault policies list
  scaivault policies get pol_abc
  # Quick create (single rule)
  scaivault policies create \\
    --name \"Production Read\" \\
    --path \"environments/production/**\" \\
    --permissions read,list
  # Multi-rule policies: the same structure as the REST body
  scaivault policies create --name \"App\" --rules-file rules.json
  # Bind
  scaivault policies bind pol_abc --identity-type group --identity-id group:developers
  # Test: exits 0 when allowed, 3 when denied
  scaivault policies test app/db/credentials read --identity user:alice@acme.example
  scaivault policies delete pol_abc";

/// The `--effect` values.
const EFFECTS: [&str; 2] = ["allow", "deny"];

fn identity_types() -> PossibleValuesParser {
    PossibleValuesParser::new([
        PossibleValue::new("user"),
        PossibleValue::new("group"),
        PossibleValue::new("service_account").alias("service-account"),
    ])
}

#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// List the tenant's policies
    #[command(after_help = "\
Examples:
  scaivault policies list
  scaivault policies list --json | jq -r '.policies[] | \"\\(.id) \\(.name)\"'")]
    List(JsonArgs),

    /// Show one policy and its rules
    #[command(after_help = "\
Examples:
  scaivault policies get pol_abc
  scaivault policies get pol_abc --json | jq '.rules'")]
    Get(IdArgs),

    /// Create a policy: one rule with --path and --permissions, or several with --rules-file
    #[command(
        group(ArgGroup::new("rules_source").args(["path", "rules_file"]).required(true)),
        after_help = "\
Examples:
  scaivault policies create --name \"Production Read\" --path \"environments/production/**\" --permissions read,list
  scaivault policies create --name \"No prod secrets\" --path \"environments/production/**\" --permissions read --effect deny
  scaivault policies create --name \"App\" --rules-file rules.json

A rules file holds the REST body: an array of rules, or an object with \"rules\" (and optionally
\"name\" and \"description\"), e.g.
  [{\"path\": \"app/**\", \"permissions\": [\"read\", \"list\"]},
   {\"path\": \"app/admin/**\", \"permissions\": [\"read\"], \"effect\": \"deny\"}]"
    )]
    Create(PolicyArgs),

    /// Change a policy: flags that are given replace those parts, the rest is kept
    #[command(after_help = "\
Examples:
  scaivault policies update pol_abc --rules-file rules.json
  scaivault policies update pol_abc --name \"Production Read (v2)\"
  scaivault policies update pol_abc --path \"environments/production/**\" --permissions read")]
    Update {
        /// Policy id (pol_...)
        id: String,
        #[command(flatten)]
        policy: PolicyArgs,
    },

    /// Delete a policy and its bindings
    #[command(after_help = "\
Examples:
  scaivault policies delete pol_abc")]
    Delete {
        /// Policy id (pol_...)
        id: String,
    },

    /// Bind a policy to a user, group or service account
    #[command(after_help = "\
Examples:
  scaivault policies bind pol_abc --identity-type group --identity-id group:developers
  scaivault policies bind pol_abc --identity-type user --identity-id user:alice@acme.example
  scaivault policies bind pol_abc --identity-type service_account --identity-id sva_abc")]
    Bind(BindArgs),

    /// Remove a policy's binding to an identity
    #[command(after_help = "\
Examples:
  scaivault policies unbind pol_abc --identity-id group:developers
  scaivault policies unbind pol_abc --identity-type service_account --identity-id sva_abc")]
    Unbind(BindArgs),

    /// List the identities a policy is bound to
    #[command(after_help = "\
Examples:
  scaivault policies bindings pol_abc
  scaivault policies bindings pol_abc --json | jq -r '.bindings[].identity_id'")]
    Bindings(IdArgs),

    /// Explain whether an identity may do something on a path: exits 0 when allowed, 3 when
    /// denied
    #[command(after_help = "\
Examples:
  scaivault policies test app/db/credentials read --identity user:alice@acme.example
  scaivault policies test environments/production/db read --identity user:bob@acme.example --groups developers
  scaivault policies test app/db/credentials write   # yourself
  scaivault policies test app/db read --identity service_account:sva_abc --json | jq -r .explanation")]
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// Policy id (pol_...)
    id: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Name, unique in the tenant (required on create unless the rules file has one)
    #[arg(long)]
    name: Option<String>,
    /// What the policy is for
    #[arg(long)]
    description: Option<String>,
    /// One-rule policy: the path glob, e.g. environments/production/** (`*` within a
    /// segment, `**` across segments)
    #[arg(
        long,
        value_name = "GLOB",
        requires = "permissions",
        conflicts_with = "rules_file"
    )]
    path: Option<String>,
    /// One-rule policy: comma-separated permissions (read, list, write, delete, rotate, admin,
    /// issue, revoke, lease, subscribe)
    #[arg(
        long,
        value_delimiter = ',',
        requires = "path",
        conflicts_with = "rules_file"
    )]
    permissions: Vec<String>,
    /// One-rule policy: allow (default) or deny; a matching deny always wins
    #[arg(long, value_parser = PossibleValuesParser::new(EFFECTS), requires = "path", conflicts_with = "rules_file")]
    effect: Option<String>,
    /// Rules from a JSON file (`-` for stdin): an array of rules, or the REST body (an object
    /// with "rules")
    #[arg(long, value_name = "FILE")]
    rules_file: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct BindArgs {
    /// Policy id (pol_...)
    id: String,
    /// user, group or service_account (inferred from the id's prefix when omitted)
    #[arg(long, value_name = "TYPE", value_parser = identity_types())]
    identity_type: Option<String>,
    /// The identity, e.g. group:developers, user:alice@acme.example, service_account:sva_abc
    #[arg(long, value_name = "ID")]
    identity_id: String,
    /// Print the API's JSON response unchanged (bind only)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Secret path, e.g. app/db/credentials
    path: String,
    /// read, list, write, delete, rotate, admin, issue, revoke, lease or subscribe
    permission: String,
    /// The identity to explain for (default: yourself), e.g. user:alice@acme.example
    #[arg(long, value_name = "ID")]
    identity: Option<String>,
    /// Extra groups to evaluate with, comma-separated (as a JWT's groups claim would add)
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    groups: Vec<String>,
    /// Print the API's JSON response unchanged (the exit code still tells the decision)
    #[arg(long)]
    json: bool,
}

pub async fn run(command: PoliciesCommand, ctx: &Context) -> Result<ExitCode, CliError> {
    let client = ctx.client()?;
    match command {
        PoliciesCommand::List(args) => list(&client, args.json).await?,
        PoliciesCommand::Get(args) => {
            let raw = client.get_policy(&args.id).raw().await?;
            if args.json {
                output::raw_json(&raw.body)?;
            } else {
                print_policy(&decode(&raw)?)?;
            }
        }
        PoliciesCommand::Create(args) => {
            let json = args.json;
            let request = create_request(args)?;
            let raw = client.create_policy(&request).raw().await?;
            if json {
                output::raw_json(&raw.body)?;
            } else {
                let policy: Policy = decode(&raw)?;
                output::line(&format!(
                    "Created policy {} ({}) with {}:",
                    policy.id,
                    policy.name,
                    rule_count(policy.rules.len())
                ))?;
                output::print_table(&rules_table(&policy.rules))?;
            }
        }
        PoliciesCommand::Update { id, policy } => {
            let json = policy.json;
            let current = client.get_policy(&id).await?;
            let request = update_request(policy, current)?;
            let raw = client.update_policy(&id, &request).raw().await?;
            if json {
                output::raw_json(&raw.body)?;
            } else {
                let policy: Policy = decode(&raw)?;
                output::line(&format!(
                    "Updated policy {} ({}), now {}:",
                    policy.id,
                    policy.name,
                    rule_count(policy.rules.len())
                ))?;
                output::print_table(&rules_table(&policy.rules))?;
            }
        }
        PoliciesCommand::Delete { id } => {
            client.delete_policy(&id).await?;
            output::line(&format!("Deleted policy {id}"))?;
        }
        PoliciesCommand::Bind(args) => {
            let (identity_type, identity_id) =
                identity(args.identity_type.as_deref(), &args.identity_id)?;
            let request = BindRequest {
                identity_type,
                identity_id,
            };
            let raw = client.bind_policy(&args.id, &request).raw().await?;
            if args.json {
                output::raw_json(&raw.body)?;
            } else {
                let binding: Binding = decode(&raw)?;
                output::line(&format!(
                    "Bound policy {} to {} ({})",
                    binding.policy_id, binding.identity_id, binding.identity_type
                ))?;
            }
        }
        PoliciesCommand::Unbind(args) => {
            let (_, identity_id) = identity(args.identity_type.as_deref(), &args.identity_id)?;
            client.unbind_policy(&args.id, &identity_id).await?;
            output::line(&format!(
                "Removed the binding of policy {} to {identity_id}",
                args.id
            ))?;
        }
        PoliciesCommand::Bindings(args) => {
            let raw = client.policy_bindings(&args.id).raw().await?;
            if args.json {
                output::raw_json(&raw.body)?;
            } else {
                let list: BindingList = decode(&raw)?;
                if list.bindings.is_empty() {
                    output::line(&format!("Policy {} is not bound to anyone.", args.id))?;
                } else {
                    let mut table = output::table(["IDENTITY", "TYPE", "CREATED"]);
                    for b in list.bindings {
                        table.add_row([b.identity_id, b.identity_type, b.created_at.to_string()]);
                    }
                    output::print_table(&table)?;
                }
            }
        }
        PoliciesCommand::Test(args) => return test(&client, args).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let pages = pages::fetch_all::<PolicyList, _>(async |cursor| {
        client.list_policies(None, cursor.as_deref()).raw().await
    })
    .await?;
    if json {
        return output::raw_json(&pages::merged_json(&pages.bodies, "policies")?);
    }
    if pages.items.is_empty() {
        return output::line("No policies.");
    }
    let mut table = output::table(["ID", "NAME", "RULES", "UPDATED"]);
    for p in pages.items {
        let rules = p
            .rules
            .iter()
            .map(rule_summary)
            .collect::<Vec<_>>()
            .join("; ");
        table.add_row([p.id, p.name, rules, p.updated_at.to_string()]);
    }
    output::print_table(&table)
}

/// `deny environments/production/** (read,list)`, or without the effect for an allow.
fn rule_summary(rule: &Rule) -> String {
    let perms = rule.permissions.join(",");
    match rule.effect.as_deref() {
        Some("deny") => format!("deny {} ({perms})", rule.path),
        _ => format!("{} ({perms})", rule.path),
    }
}

fn rule_count(n: usize) -> String {
    if n == 1 {
        "1 rule".into()
    } else {
        format!("{n} rules")
    }
}

fn rules_table(rules: &[Rule]) -> comfy_table::Table {
    let mut table = output::table(["#", "PATH", "PERMISSIONS", "EFFECT"]);
    for (i, r) in rules.iter().enumerate() {
        table.add_row([
            i.to_string(),
            r.path.clone(),
            r.permissions.join(","),
            r.effect.clone().unwrap_or_else(|| "allow".into()),
        ]);
    }
    table
}

fn print_policy(policy: &Policy) -> Result<(), CliError> {
    output::print_fields(&[
        ("ID", policy.id.clone()),
        ("Name", policy.name.clone()),
        ("Description", or_dash(policy.description.as_deref())),
        ("Created", policy.created_at.to_string()),
        ("Updated", policy.updated_at.to_string()),
    ])?;
    output::line("")?;
    output::print_table(&rules_table(&policy.rules))
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/// A rule as written in a rules file: unknown keys are refused, so that a misspelt `effect`
/// cannot silently turn a deny into an allow.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    path: String,
    permissions: Vec<String>,
    #[serde(default)]
    effect: Option<String>,
}

/// The object form of a rules file: the REST body, every part optional.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    rules: Option<Vec<Value>>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    effect: Option<String>,
}

/// What a rules file contributes to a request.
#[derive(Debug, Default, PartialEq)]
struct FileParts {
    name: Option<String>,
    description: Option<String>,
    rules: Option<Vec<Rule>>,
    path: Option<String>,
    permissions: Option<Vec<String>>,
    effect: Option<String>,
}

fn read_source(source: &str) -> Result<String, CliError> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::io("reading stdin", &e))?;
        Ok(text)
    } else {
        std::fs::read_to_string(source).map_err(|e| CliError::io(&format!("reading {source}"), &e))
    }
}

/// Parses a rules file: a JSON array of rules, or an object shaped like the REST body.
fn parse_rules_file(text: &str, source: &str) -> Result<FileParts, CliError> {
    let shown = if source == "-" { "stdin" } else { source };
    let invalid = |what: String| CliError::validation(format!("{shown}: {what}"));
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let (file, raw_rules) = match value {
        Value::Array(rules) => (PolicyFile::default(), Some(rules)),
        object @ Value::Object(_) => {
            let mut file: PolicyFile = serde_json::from_value(object).map_err(|e| {
                invalid(format!(
                    "{e} (expected an array of rules, or an object with \"rules\")"
                ))
            })?;
            let rules = file.rules.take();
            if rules.is_none() && file.path.is_none() {
                return Err(invalid(
                    "no \"rules\" (or \"path\" and \"permissions\" for one rule)".into(),
                ));
            }
            (file, rules)
        }
        _ => {
            return Err(invalid(
                "expected an array of rules, or an object with \"rules\"".into(),
            ));
        }
    };
    let rules = match raw_rules {
        Some(raw) => {
            let mut rules = Vec::with_capacity(raw.len());
            for (i, rule) in raw.into_iter().enumerate() {
                let rule: FileRule = serde_json::from_value(rule)
                    .map_err(|e| invalid(format!("rules[{i}]: {e}")))?;
                rules.push(Rule {
                    path: rule.path,
                    permissions: rule.permissions,
                    effect: rule.effect,
                });
            }
            Some(rules)
        }
        None => None,
    };
    Ok(FileParts {
        name: file.name,
        description: file.description,
        rules,
        path: file.path,
        permissions: file.permissions,
        effect: file.effect,
    })
}

/// The rules part of a request from the flags: a rules file, or the quick form.
fn rules_from_flags(args: &PolicyArgs) -> Result<Option<FileParts>, CliError> {
    if let Some(source) = &args.rules_file {
        let text = read_source(source)?;
        return parse_rules_file(&text, source).map(Some);
    }
    if let Some(path) = &args.path {
        return Ok(Some(FileParts {
            path: Some(path.clone()),
            permissions: Some(args.permissions.clone()),
            effect: args.effect.clone(),
            ..FileParts::default()
        }));
    }
    Ok(None)
}

fn create_request(args: PolicyArgs) -> Result<PolicyRequest, CliError> {
    let parts = rules_from_flags(&args)?.unwrap_or_default();
    let name = args.name.or(parts.name).ok_or_else(|| {
        CliError::validation("--name is required (or a \"name\" in the rules file)")
    })?;
    Ok(PolicyRequest {
        name,
        description: args.description.or(parts.description),
        rules: parts.rules,
        path: parts.path,
        permissions: parts.permissions,
        effect: parts.effect,
    })
}

/// `PUT` replaces the whole policy: the flags win over the rules file, which wins over what
/// `current` has.
fn update_request(args: PolicyArgs, current: Policy) -> Result<PolicyRequest, CliError> {
    let parts = rules_from_flags(&args)?.unwrap_or_default();
    let replaces_rules = parts.rules.is_some() || parts.path.is_some();
    Ok(PolicyRequest {
        name: args.name.or(parts.name).unwrap_or(current.name),
        description: args
            .description
            .or(parts.description)
            .or(current.description),
        rules: if replaces_rules {
            parts.rules
        } else {
            Some(current.rules)
        },
        path: parts.path,
        permissions: parts.permissions,
        effect: parts.effect,
    })
}

/// The identity type and id to send: the type given, or inferred from the id's prefix (or
/// `sva_` for a bare service-account id).
fn identity(identity_type: Option<&str>, id: &str) -> Result<(String, String), CliError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(CliError::validation("--identity-id is empty"));
    }
    let prefix = id.split_once(':').map(|(p, _)| p);
    let inferred = match prefix {
        Some(p @ ("user" | "group" | "service_account")) => Some(p),
        _ if id.starts_with("sva_") => Some("service_account"),
        _ => None,
    };
    let kind = match (identity_type, inferred) {
        (Some(given), Some(found)) if prefix.is_some() && given != found => {
            return Err(CliError::validation(format!(
                "--identity-id {id} is a {found}, but --identity-type is {given}"
            )));
        }
        (Some(given), _) => given,
        (None, Some(found)) => found,
        (None, None) => {
            return Err(CliError::validation(format!(
                "cannot tell what {id} is: give --identity-type, or a full id such as group:{id}"
            )));
        }
    };
    let full = if prefix.is_some() {
        id.to_owned()
    } else {
        format!("{kind}:{id}")
    };
    Ok((kind.to_owned(), full))
}

// ---------------------------------------------------------------------------------------------
// policies test

async fn test(client: &Client, args: TestArgs) -> Result<ExitCode, CliError> {
    let request = PolicyTestRequest {
        path: args.path,
        permission: args.permission,
        identity_id: args.identity,
        groups: (!args.groups.is_empty()).then_some(args.groups),
    };
    let raw = client.test_policy(&request).raw().await?;
    let decision: PolicyTestResponse = decode(&raw)?;
    if args.json {
        output::raw_json(&raw.body)?;
    } else {
        output::emit(&explain(&decision))?;
    }
    Ok(ExitCode::from(if decision.allowed {
        exit::OK
    } else {
        exit::AUTHZ
    }))
}

/// The explanation, then the details: identities evaluated and the deciding rule.
fn explain(d: &PolicyTestResponse) -> String {
    let mut rows = vec![
        (
            "Decision",
            format!(
                "{} ({})",
                if d.allowed { "ALLOWED" } else { "DENIED" },
                d.reason
            ),
        ),
        ("Identity", d.identity_id.clone()),
        ("Evaluated", d.evaluated_identities.join(", ")),
    ];
    if let Some(rule) = &d.decided_by {
        rows.push((
            "Policy",
            format!("{} ({})", rule.policy_name, rule.policy_id),
        ));
        rows.push((
            "Rule",
            format!("#{} {} ({})", rule.rule_index, rule.rule_path, rule.effect),
        ));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text = format!("{}\n\n", d.explanation);
    for (label, value) in rows {
        text.push_str(format!("{label:<width$}  {value}").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use scaivault_proto::policies::DecidingRule;

    #[test]
    fn rules_files_accept_an_array_or_the_rest_body() {
        let parts = parse_rules_file(
            r#"[{"path":"app/**","permissions":["read","list"]},
                {"path":"app/admin/**","permissions":["read"],"effect":"deny"}]"#,
            "r.json",
        )
        .unwrap();
        let rules = parts.rules.unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].effect.as_deref(), Some("deny"));
        assert_eq!(parts.name, None);

        let parts = parse_rules_file(
            r#"{"name":"App","description":"d","rules":[{"path":"a/*","permissions":["read"]}]}"#,
            "r.json",
        )
        .unwrap();
        assert_eq!(parts.name.as_deref(), Some("App"));
        assert_eq!(parts.rules.unwrap()[0].path, "a/*");

        let parts =
            parse_rules_file(r#"{"path":"a/**","permissions":["read"]}"#, "r.json").unwrap();
        assert_eq!(parts.path.as_deref(), Some("a/**"));
    }

    #[test]
    fn rules_files_refuse_unknown_keys_and_other_shapes() {
        let err = parse_rules_file(
            r#"[{"path":"a","permissions":["read"]},{"path":"b","permissions":["read"],"efect":"deny"}]"#,
            "r.json",
        )
        .unwrap_err();
        assert_eq!(err.exit, exit::VALIDATION);
        assert!(
            err.message
                .starts_with("r.json: rules[1]: unknown field `efect`"),
            "{err:?}"
        );
        for bad in ["42", "{\"name\":\"x\"}", "{\"rulez\":[]}", "not json"] {
            let err = parse_rules_file(bad, "-").unwrap_err();
            assert_eq!(err.exit, exit::VALIDATION, "{bad}");
            assert!(err.message.starts_with("stdin: "), "{err:?}");
        }
    }

    #[test]
    fn identities_are_completed_and_checked() {
        let ok = |t: Option<&str>, id: &str| identity(t, id).unwrap();
        assert_eq!(
            ok(Some("group"), "group:developers"),
            ("group".into(), "group:developers".into())
        );
        assert_eq!(
            ok(None, "user:a@b.example"),
            ("user".into(), "user:a@b.example".into())
        );
        assert_eq!(
            ok(None, "sva_x"),
            ("service_account".into(), "service_account:sva_x".into())
        );
        assert_eq!(
            ok(Some("group"), "developers"),
            ("group".into(), "group:developers".into())
        );
        assert_eq!(identity(None, "developers").unwrap_err().exit, 5);
        assert_eq!(
            identity(Some("user"), "group:developers").unwrap_err().exit,
            5
        );
    }

    #[test]
    fn update_keeps_what_is_not_given() {
        let current: Policy = serde_json::from_value(serde_json::json!({
            "id": "pol_a", "name": "Old", "description": "desc",
            "rules": [{"path": "a/**", "permissions": ["read"], "effect": "allow"}],
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let args = PolicyArgs {
            name: Some("New".into()),
            description: None,
            path: None,
            permissions: Vec::new(),
            effect: None,
            rules_file: None,
            json: false,
        };
        let request = update_request(args, current.clone()).unwrap();
        assert_eq!(request.name, "New");
        assert_eq!(request.description.as_deref(), Some("desc"));
        assert_eq!(request.rules.unwrap(), current.rules);

        let args = PolicyArgs {
            name: None,
            description: None,
            path: Some("b/*".into()),
            permissions: vec!["write".into()],
            effect: Some("deny".into()),
            rules_file: None,
            json: false,
        };
        let request = update_request(args, current).unwrap();
        assert_eq!(request.name, "Old");
        assert_eq!(request.rules, None);
        assert_eq!(request.path.as_deref(), Some("b/*"));
        assert_eq!(request.effect.as_deref(), Some("deny"));
    }

    #[test]
    fn explanation_comes_first_and_names_the_rule() {
        let d = PolicyTestResponse {
            allowed: false,
            identity_id: "user:a@b.example".into(),
            evaluated_identities: vec!["user:a@b.example".into(), "group:dev".into()],
            reason: "denied".into(),
            decided_by: Some(DecidingRule {
                policy_id: "pol_x".into(),
                policy_name: "No prod".into(),
                rule_index: 1,
                rule_path: "prod/**".into(),
                effect: "deny".into(),
            }),
            explanation: "denied: rule 1 ...".into(),
        };
        let text = explain(&d);
        assert!(
            text.starts_with("denied: rule 1 ...\n\nDecision   DENIED (denied)\n"),
            "{text}"
        );
        assert!(text.contains("Policy     No prod (pol_x)\n"), "{text}");
        assert!(text.contains("Rule       #1 prod/** (deny)\n"), "{text}");
    }
}
