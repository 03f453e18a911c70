//! `scaivault secret-policies list|get|types|create|update|delete|generate`: secret policies,
//! which say how a secret's value is generated (on rotation, or as a preview).
//!
//! `generate` previews a value without storing it. Its values are masked unless `--show` is
//! given, with `--json` too: the server's JSON is printed unchanged only with `--show`.

use std::io::Read;

use clap::{ArgGroup, Args, Subcommand};
use scaivault_client::{Client, decode, redact};
use scaivault_proto::rotation::{
    GeneratedValue, GeneratorCatalogue, GeneratorField, SecretPolicy, SecretPolicyList,
    SecretPolicyRequest,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::commands::pages;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault secret-policies list
  scaivault secret-policies get sp_abc
  scaivault secret-policies types # list available generators and charsets
  # Create from inline JSON
  scaivault secret-policies create \\
    --name \"Strong Password\" \\
    --type password \\
    --fields \\
    '[{\"name\":\"password\",\"generator\":\"random\",\"config\":{\"length\":32,\"charset\":\"alphanumeric\"}}]'
  # Preview without storing
  scaivault secret-policies generate sp_abc --show

See `scaivault secret-policies types` for the generator catalogue.";

#[derive(Debug, Subcommand)]
pub enum SecretPoliciesCommand {
    /// List the tenant's secret policies
    #[command(after_help = "\
Examples:
  scaivault secret-policies list
  scaivault secret-policies list --json | jq -r '.secret_policies[] | \"\\(.id) \\(.name)\"'")]
    List(JsonArgs),

    /// Show one secret policy and its generated fields
    #[command(after_help = "\
Examples:
  scaivault secret-policies get sp_abc
  scaivault secret-policies get sp_abc --json | jq '.fields'")]
    Get(IdArgs),

    /// List the available generators (with their settings) and charsets
    #[command(after_help = "\
Examples:
  scaivault secret-policies types # list available generators and charsets
  scaivault secret-policies types --json | jq -r '.generators[].name'")]
    Types(JsonArgs),

    /// Create a secret policy from its fields (inline JSON with --fields, or --fields-file)
    #[command(
        group(ArgGroup::new("fields_source").args(["fields", "fields_file"]).required(true)),
        after_help = "\
Examples:
  # Create from inline JSON
  scaivault secret-policies create \\
    --name \"Strong Password\" \\
    --type password \\
    --fields \\
    '[{\"name\":\"password\",\"generator\":\"random\",\"config\":{\"length\":32,\"charset\":\"alphanumeric\"}}]'
  scaivault secret-policies create --name \"DB credentials\" --type json --fields-file fields.json

The fields are a JSON array of {\"name\", \"generator\", \"config\"} objects (config may be
omitted for the generator's defaults). A --fields-file (`-` for stdin) holds that array, or the
REST body: an object with \"fields\" and optionally \"name\", \"description\" and \"secret_type\";
flags win over the file."
    )]
    Create(PolicyArgs),

    /// Change a secret policy: flags that are given replace those parts, the rest is kept
    #[command(after_help = "\
Examples:
  scaivault secret-policies update sp_abc --description \"32 alphanumerics\"
  scaivault secret-policies update sp_abc --fields '[{\"name\":\"password\",\"generator\":\"random\",\"config\":{\"length\":48}}]'
  scaivault secret-policies update sp_abc --fields-file fields.json")]
    Update {
        /// Secret policy id (sp_...)
        id: String,
        #[command(flatten)]
        policy: PolicyArgs,
    },

    /// Delete a secret policy
    #[command(after_help = "\
Examples:
  scaivault secret-policies delete sp_abc")]
    Delete {
        /// Secret policy id (sp_...)
        id: String,
    },

    /// Preview a generated value without storing it (values masked unless --show)
    #[command(after_help = "\
Examples:
  # Preview without storing
  scaivault secret-policies generate sp_abc --show
  scaivault secret-policies generate sp_abc           # field names only, values masked
  scaivault secret-policies generate sp_abc --show --json | jq -r .data.password

Nothing is stored: each call generates a new value. Without --show the values are printed as
[REDACTED], with --json too.")]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// Secret policy id (sp_...)
    id: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Name, unique in the tenant; the id is derived from it (required on create unless the
    /// fields file has one)
    #[arg(long)]
    name: Option<String>,
    /// The secret_type of the secrets it generates: password, api_key, json, ...
    #[arg(long = "type", value_name = "TYPE")]
    secret_type: Option<String>,
    /// What the policy is for
    #[arg(long)]
    description: Option<String>,
    /// The generated fields as inline JSON: [{"name", "generator", "config"}, ...]
    #[arg(long, value_name = "JSON", conflicts_with = "fields_file")]
    fields: Option<String>,
    /// The fields from a JSON file (`-` for stdin): the array, or the REST body (an object
    /// with "fields")
    #[arg(long, value_name = "FILE")]
    fields_file: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Secret policy id (sp_...)
    id: String,
    /// Print the generated values (masked otherwise)
    #[arg(long)]
    show: bool,
    /// Print the API's JSON response (values masked unless --show)
    #[arg(long)]
    json: bool,
}

pub async fn run(command: SecretPoliciesCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        SecretPoliciesCommand::List(args) => list(&client, args.json).await,
        SecretPoliciesCommand::Get(args) => {
            let raw = client.get_secret_policy(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            print_policy(&decode(&raw)?)
        }
        SecretPoliciesCommand::Types(args) => {
            let raw = client.secret_policy_types().raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            print_catalogue(&decode(&raw)?)
        }
        SecretPoliciesCommand::Create(args) => {
            let json = args.json;
            let request = create_request(args)?;
            let raw = client.create_secret_policy(&request).raw().await?;
            if json {
                return output::raw_json(&raw.body);
            }
            let policy: SecretPolicy = decode(&raw)?;
            output::line(&format!(
                "Created secret policy {} ({}), type {}:",
                policy.id, policy.name, policy.secret_type
            ))?;
            output::print_table(&fields_table(&policy.fields))
        }
        SecretPoliciesCommand::Update { id, policy } => {
            let json = policy.json;
            let current = client.get_secret_policy(&id).await?;
            let request = update_request(policy, current)?;
            let raw = client.update_secret_policy(&id, &request).raw().await?;
            if json {
                return output::raw_json(&raw.body);
            }
            let policy: SecretPolicy = decode(&raw)?;
            output::line(&format!(
                "Updated secret policy {} ({}), type {}:",
                policy.id, policy.name, policy.secret_type
            ))?;
            output::print_table(&fields_table(&policy.fields))
        }
        SecretPoliciesCommand::Delete { id } => {
            client.delete_secret_policy(&id).await?;
            output::line(&format!("Deleted secret policy {id}"))
        }
        SecretPoliciesCommand::Generate(args) => generate(&client, &args).await,
    }
}

// ---------------------------------------------------------------------------------------------
// list, get, types

impl pages::Page for SecretPolicyList {
    type Item = SecretPolicy;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.secret_policies, self.cursor, self.has_more)
    }
}

async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let pages = pages::fetch_all::<SecretPolicyList, _>(async |cursor| {
        client
            .list_secret_policies(None, cursor.as_deref())
            .raw()
            .await
    })
    .await?;
    if json {
        return output::raw_json(&pages::merged_json(&pages.bodies, "secret_policies")?);
    }
    if pages.items.is_empty() {
        return output::line("No secret policies.");
    }
    let mut table = output::table(["ID", "NAME", "TYPE", "FIELDS", "UPDATED"]);
    for p in pages.items {
        let fields = p
            .fields
            .iter()
            .map(|f| format!("{} ({})", f.name, f.generator))
            .collect::<Vec<_>>()
            .join(", ");
        table.add_row([
            p.id,
            p.name,
            p.secret_type,
            fields,
            p.updated_at.to_string(),
        ]);
    }
    output::print_table(&table)
}

/// A generator's settings as `key=value` pairs (strings bare, the rest as JSON).
fn config_summary(config: &Map<String, Value>) -> String {
    if config.is_empty() {
        return "(defaults)".into();
    }
    config
        .iter()
        .map(|(k, v)| format!("{k}={}", output::plain(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fields_table(fields: &[GeneratorField]) -> comfy_table::Table {
    let mut table = output::table(["FIELD", "GENERATOR", "CONFIG"]);
    for f in fields {
        table.add_row([
            f.name.clone(),
            f.generator.clone(),
            config_summary(&f.config),
        ]);
    }
    table
}

fn print_policy(policy: &SecretPolicy) -> Result<(), CliError> {
    output::print_fields(&[
        ("ID", policy.id.clone()),
        ("Name", policy.name.clone()),
        ("Type", policy.secret_type.clone()),
        ("Description", or_dash(policy.description.as_deref())),
        ("Created", policy.created_at.to_string()),
        ("Updated", policy.updated_at.to_string()),
    ])?;
    output::line("")?;
    output::print_table(&fields_table(&policy.fields))
}

/// A string member of a catalogue entry, or `-`.
fn member(entry: &Value, key: &str) -> String {
    match entry.get(key) {
        Some(Value::Null) | None => "-".into(),
        Some(v) => output::plain(v),
    }
}

/// A generator's settings: `name=default` (or just `name` without a default), space-separated.
fn settings_summary(generator: &Value) -> String {
    let Some(Value::Array(settings)) = generator.get("config") else {
        return "-".into();
    };
    if settings.is_empty() {
        return "-".into();
    }
    settings
        .iter()
        .map(|s| {
            let name = member(s, "name");
            match s.get("default") {
                Some(Value::Null) | None => name,
                Some(default) => format!("{name}={}", output::plain(default)),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_catalogue(catalogue: &GeneratorCatalogue) -> Result<(), CliError> {
    let mut generators = output::table(["GENERATOR", "DESCRIPTION", "SETTINGS (DEFAULT)"]);
    for g in &catalogue.generators {
        generators.add_row([
            member(g, "name"),
            member(g, "description"),
            settings_summary(g),
        ]);
    }
    output::print_table(&generators)?;
    output::line("")?;
    let mut charsets = output::table(["CHARSET", "CHARACTERS"]);
    for c in &catalogue.charsets {
        charsets.add_row([member(c, "name"), member(c, "characters")]);
    }
    output::print_table(&charsets)
}

// ---------------------------------------------------------------------------------------------
// create, update

/// The object form of a fields file: the REST body, every part optional.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    secret_type: Option<String>,
    #[serde(default)]
    fields: Option<Vec<Value>>,
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

/// Parses `--fields` JSON (or a fields file): an array of fields, or an object shaped like the
/// REST body. Unknown keys are refused before anything is sent. `shown` names the source in
/// errors (`--fields`, a file name, `stdin`).
fn parse_fields(text: &str, shown: &str) -> Result<(PolicyFile, Vec<GeneratorField>), CliError> {
    let invalid = |what: String| CliError::validation(format!("{shown}: {what}"));
    // serde_json's messages carry a position, never the content.
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let mut file = match value {
        Value::Array(fields) => PolicyFile {
            fields: Some(fields),
            ..PolicyFile::default()
        },
        object @ Value::Object(_) => serde_json::from_value(object).map_err(|e| {
            invalid(format!(
                "{e} (expected an array of fields, or an object with \"fields\")"
            ))
        })?,
        _ => {
            return Err(invalid(
                "expected an array of fields, or an object with \"fields\"".into(),
            ));
        }
    };
    let raw = file
        .fields
        .take()
        .ok_or_else(|| invalid("no \"fields\"".into()))?;
    let mut fields = Vec::with_capacity(raw.len());
    for (i, field) in raw.into_iter().enumerate() {
        fields.push(
            serde_json::from_value::<GeneratorField>(field)
                .map_err(|e| invalid(format!("fields[{i}]: {e}")))?,
        );
    }
    Ok((file, fields))
}

/// What `--fields` / `--fields-file` contribute, if either is given.
fn fields_from_flags(
    args: &PolicyArgs,
) -> Result<Option<(PolicyFile, Vec<GeneratorField>)>, CliError> {
    match (&args.fields, &args.fields_file) {
        (Some(inline), _) => parse_fields(inline, "--fields").map(Some),
        (None, Some(source)) => {
            let shown = if source == "-" {
                "stdin"
            } else {
                source.as_str()
            };
            parse_fields(&read_source(source)?, shown).map(Some)
        }
        (None, None) => Ok(None),
    }
}

fn create_request(args: PolicyArgs) -> Result<SecretPolicyRequest, CliError> {
    let (file, fields) = fields_from_flags(&args)?
        .ok_or_else(|| CliError::validation("--fields or --fields-file is required"))?;
    let name = args.name.or(file.name).ok_or_else(|| {
        CliError::validation("--name is required (or a \"name\" in the fields file)")
    })?;
    Ok(SecretPolicyRequest {
        name,
        description: args.description.or(file.description),
        secret_type: args.secret_type.or(file.secret_type),
        fields,
    })
}

/// `PUT` replaces the whole policy: the flags win over the fields file, which wins over what
/// `current` has.
fn update_request(
    args: PolicyArgs,
    current: SecretPolicy,
) -> Result<SecretPolicyRequest, CliError> {
    let (file, fields) = match fields_from_flags(&args)? {
        Some((file, fields)) => (file, Some(fields)),
        None => (PolicyFile::default(), None),
    };
    Ok(SecretPolicyRequest {
        name: args.name.or(file.name).unwrap_or(current.name),
        description: args
            .description
            .or(file.description)
            .or(current.description),
        secret_type: Some(
            args.secret_type
                .or(file.secret_type)
                .unwrap_or(current.secret_type),
        ),
        fields: fields.unwrap_or(current.fields),
    })
}

// ---------------------------------------------------------------------------------------------
// generate

async fn generate(client: &Client, args: &GenerateArgs) -> Result<(), CliError> {
    let raw = client.generate_secret_value(&args.id).raw().await?;
    if args.json {
        if args.show {
            return output::raw_json(&raw.body);
        }
        let mut value: Value = decode(&raw)?;
        redact::redact_value(&mut value);
        return output::line(&value.to_string());
    }
    let generated: GeneratedValue = decode(&raw)?;
    output::line(&format!(
        "Generated by {} (type {}), not stored:",
        generated.secret_policy_id, generated.secret_type
    ))?;
    output::print_table(&generated_table(&generated, args.show))?;
    if !args.show {
        eprintln!("Values are masked: add --show to print them.");
    }
    Ok(())
}

fn generated_table(generated: &GeneratedValue, show: bool) -> comfy_table::Table {
    let mut table = output::table(["FIELD", "VALUE"]);
    for (name, value) in &generated.data {
        let shown = if show {
            output::plain(value)
        } else {
            redact::REDACTED.to_string()
        };
        table.add_row([name.clone(), shown]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

    fn args(fields: Option<&str>) -> PolicyArgs {
        PolicyArgs {
            name: None,
            secret_type: None,
            description: None,
            fields: fields.map(str::to_owned),
            fields_file: None,
            json: false,
        }
    }

    #[test]
    fn the_page_fields_parse() {
        let mut a = args(Some(
            r#"[{"name":"password","generator":"random","config":{"length":32,"charset":"alphanumeric"}}]"#,
        ));
        a.name = Some("Strong Password".into());
        a.secret_type = Some("password".into());
        let request = create_request(a).unwrap();
        assert_eq!(request.name, "Strong Password");
        assert_eq!(request.secret_type.as_deref(), Some("password"));
        assert_eq!(request.fields.len(), 1);
        assert_eq!(request.fields[0].generator, "random");
        assert_eq!(request.fields[0].config["length"], 32);
    }

    #[test]
    fn fields_accept_the_rest_body_and_refuse_unknown_keys() {
        let request = create_request(args(Some(
            r#"{"name":"Keys","secret_type":"api_key","fields":[{"name":"k","generator":"uuid"}]}"#,
        )))
        .unwrap();
        assert_eq!(request.name, "Keys");
        assert_eq!(request.secret_type.as_deref(), Some("api_key"));
        assert!(request.fields[0].config.is_empty());

        let err = create_request(args(Some(
            r#"[{"name":"a","generator":"uuid"},{"name":"b","generatr":"uuid"}]"#,
        )))
        .unwrap_err();
        assert_eq!(err.exit, exit::VALIDATION);
        assert!(err.message.starts_with("--fields: fields[1]: "), "{err:?}");
        for bad in ["42", "{\"name\":\"x\"}", "not json", "[{\"name\":\"a\"}]"] {
            let mut a = args(Some(bad));
            a.name = Some("n".into());
            let err = create_request(a).unwrap_err();
            assert_eq!(err.exit, exit::VALIDATION, "{bad}");
            assert!(err.message.starts_with("--fields: "), "{err:?}");
        }
        // No name anywhere.
        assert_eq!(
            create_request(args(Some(r#"[{"name":"a","generator":"uuid"}]"#)))
                .unwrap_err()
                .exit,
            exit::VALIDATION
        );
    }

    #[test]
    fn update_keeps_what_is_not_given() {
        let current: SecretPolicy = serde_json::from_value(serde_json::json!({
            "id": "sp_a", "name": "Old", "description": "desc", "secret_type": "password",
            "fields": [{"name": "password", "generator": "random", "config": {"length": 32}}],
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let mut a = args(None);
        a.description = Some("new".into());
        let request = update_request(a, current.clone()).unwrap();
        assert_eq!(request.name, "Old");
        assert_eq!(request.description.as_deref(), Some("new"));
        assert_eq!(request.secret_type.as_deref(), Some("password"));
        assert_eq!(request.fields, current.fields);

        let request = update_request(
            args(Some(r#"[{"name":"token","generator":"bytes"}]"#)),
            current,
        )
        .unwrap();
        assert_eq!(request.fields.len(), 1);
        assert_eq!(request.fields[0].name, "token");
    }

    #[test]
    fn generated_values_are_masked_unless_shown() {
        let generated: GeneratedValue = serde_json::from_value(serde_json::json!({
            "secret_policy_id": "sp_a", "secret_type": "password",
            "data": {"password": "Zx9v", "n": 3}
        }))
        .unwrap();
        let masked = generated_table(&generated, false).to_string();
        assert!(!masked.contains("Zx9v"), "{masked}");
        assert!(masked.contains("[REDACTED]"), "{masked}");
        let shown = generated_table(&generated, true).to_string();
        assert!(shown.contains("Zx9v"), "{shown}");
    }

    #[test]
    fn catalogue_settings_show_their_defaults() {
        let g = serde_json::json!({"name": "random", "config": [
            {"name": "length", "type": "integer", "default": 32},
            {"name": "charset", "type": "string", "default": "alphanumeric"},
            {"name": "exclude", "type": "string"}
        ]});
        assert_eq!(
            settings_summary(&g),
            "length=32 charset=alphanumeric exclude"
        );
        assert_eq!(settings_summary(&serde_json::json!({"name": "uuid"})), "-");
        assert_eq!(member(&g, "description"), "-");
    }
}
