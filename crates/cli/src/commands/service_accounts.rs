//! `scaivault service-accounts create|list|get|delete|create-key|list-keys|delete-key`:
//! machine identities of a tenant and their API keys.
//!
//! An API key's plaintext exists in one response only. `create-key` prints it once on stdout
//! (its details go to stderr), or with `--store-in <path>` writes it into a secret and prints
//! only where it went.

use clap::{Args, Subcommand};
use scaivault_client::{Client, decode};
use scaivault_proto::identity::{
    ApiKeyList, CreateApiKeyRequest, CreateApiKeyResponse, CreateServiceAccountRequest,
    ServiceAccount, ServiceAccountList,
};
use scaivault_proto::secrets::{SecretOptions, SecretType, WriteSecretRequest};
use serde_json::{Map, Value, json};

use crate::commands::pages;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault service-accounts create --name \"CI Pipeline\" --roles secrets-reader
  scaivault service-accounts create-key sva_abc --name \"Production Key\"
  scaivault service-accounts create-key sva_abc --name \"Production Key\" --store-in ci/scaivault-key
  scaivault service-accounts list-keys sva_abc
  scaivault service-accounts delete-key sva_abc key_xyz

API key plaintext is shown once at creation. Pipe it to a secret store immediately, or pass
--store-in <path> to write the new key directly into ScaiVault under a path you control.";

/// The fields of the secret `create-key --store-in` writes.
pub const STORED_KEY_FIELD: &str = "api_key";

#[derive(Debug, Subcommand)]
pub enum ServiceAccountsCommand {
    /// Create a service account with roles
    #[command(after_help = "\
Examples:
  scaivault service-accounts create --name \"CI Pipeline\" --roles secrets-reader
  scaivault service-accounts create --name deployer --roles secrets-reader,secrets-writer --description \"Deploys prod\"
  SVA=$(scaivault service-accounts create --name ci --roles secrets-reader --json | jq -r .id)

Roles: secrets-reader, secrets-writer, auditor, tenant-admin. Accounts that are not tenant
admins are restricted by path policies: bind one to service_account:<id> with
`scaivault policies bind`.")]
    Create(CreateArgs),

    /// List the tenant's service accounts
    #[command(after_help = "\
Examples:
  scaivault service-accounts list
  scaivault service-accounts list --json | jq -r '.service_accounts[].id'")]
    List(JsonArgs),

    /// Show one service account
    #[command(after_help = "\
Examples:
  scaivault service-accounts get sva_abc
  scaivault service-accounts get sva_abc --json | jq -r '.scopes[]'")]
    Get(AccountArgs),

    /// Delete a service account; its keys stop working at once
    #[command(after_help = "\
Examples:
  scaivault service-accounts delete sva_abc")]
    Delete {
        /// Service account id (sva_...)
        id: String,
    },

    /// Create an API key; its plaintext is shown once (or stored with --store-in)
    #[command(after_help = "\
Examples:
  scaivault service-accounts create-key sva_abc --name \"Production Key\"
  scaivault service-accounts create-key sva_abc --name ci --ttl 90d --store-in ci/scaivault-key
  KEY=$(scaivault service-accounts create-key sva_abc --name deploy)

Without --store-in the key (svk_...) is the only thing on stdout; its id and expiry go to
stderr. With --store-in <path> the secret at <path> gets the fields api_key, key_id and
service_account_id, and the key itself is not printed.")]
    CreateKey(CreateKeyArgs),

    /// List a service account's active API keys (never their values)
    #[command(after_help = "\
Examples:
  scaivault service-accounts list-keys sva_abc
  scaivault service-accounts list-keys sva_abc --json | jq -r '.keys[].id'")]
    ListKeys(AccountArgs),

    /// Delete (revoke) an API key; it is refused from the next request on
    #[command(after_help = "\
Examples:
  scaivault service-accounts delete-key sva_abc key_xyz")]
    DeleteKey {
        /// Service account id (sva_...)
        id: String,
        /// API key id (key_...)
        key_id: String,
    },
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Service account id (sva_...)
    id: String,
    /// Print the API's JSON response
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the account by
    #[arg(long)]
    name: String,
    /// Comma-separated roles: secrets-reader, secrets-writer, auditor, tenant-admin
    #[arg(long, value_delimiter = ',', required = true)]
    roles: Vec<String>,
    /// What the account is for
    #[arg(long)]
    description: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    /// Service account id (sva_...)
    id: String,
    /// A name to recognise the key by
    #[arg(long)]
    name: String,
    /// Lifetime such as 90d (default: never expires)
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// Write the new key into the secret at this path instead of printing it
    #[arg(long, value_name = "PATH")]
    store_in: Option<String>,
    /// Print the API's JSON response (it contains the key, unless --store-in is given)
    #[arg(long)]
    json: bool,
}

pub async fn run(command: ServiceAccountsCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        ServiceAccountsCommand::Create(args) => {
            let request = CreateServiceAccountRequest {
                name: args.name,
                roles: args.roles,
                description: args.description,
            };
            let raw = client.create_service_account(&request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let account: ServiceAccount = decode(&raw)?;
            eprintln!(
                "Created service account {}. Bind policies to {} with `scaivault policies bind`, then create a key with `scaivault service-accounts create-key {} --name <name>`.",
                account.id, account.identity_id, account.id
            );
            print_account(&account)
        }
        ServiceAccountsCommand::List(args) => list(&client, args.json).await,
        ServiceAccountsCommand::Get(args) => {
            let raw = client.get_service_account(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            print_account(&decode(&raw)?)
        }
        ServiceAccountsCommand::Delete { id } => {
            client.delete_service_account(&id).await?;
            output::line(&format!("Deleted service account {id} and its keys"))
        }
        ServiceAccountsCommand::CreateKey(args) => create_key(&client, args).await,
        ServiceAccountsCommand::ListKeys(args) => list_keys(&client, &args.id, args.json).await,
        ServiceAccountsCommand::DeleteKey { id, key_id } => {
            client.delete_api_key(&id, &key_id).await?;
            output::line(&format!("Deleted API key {key_id} of {id}"))
        }
    }
}

fn print_account(a: &ServiceAccount) -> Result<(), CliError> {
    output::print_fields(&[
        ("ID", a.id.clone()),
        ("Identity", a.identity_id.clone()),
        ("Name", a.name.clone()),
        ("Description", or_dash(a.description.as_deref())),
        ("Roles", a.roles.join(", ")),
        ("Scopes", a.scopes.join(", ")),
        ("Created", a.created_at.to_string()),
    ])
}

async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let pages = pages::fetch_all::<ServiceAccountList, _>(async |cursor| {
        client
            .list_service_accounts(None, cursor.as_deref())
            .raw()
            .await
    })
    .await?;
    if json {
        return output::raw_json(&pages::merged_json(&pages.bodies, "service_accounts")?);
    }
    if pages.items.is_empty() {
        return output::line("No service accounts.");
    }
    let mut table = output::table(["ID", "NAME", "ROLES", "CREATED"]);
    for a in pages.items {
        table.add_row([a.id, a.name, a.roles.join(","), a.created_at.to_string()]);
    }
    output::print_table(&table)
}

async fn list_keys(client: &Client, id: &str, json: bool) -> Result<(), CliError> {
    let pages = pages::fetch_all::<ApiKeyList, _>(async |cursor| {
        client
            .list_api_keys(id, None, cursor.as_deref())
            .raw()
            .await
    })
    .await?;
    if json {
        return output::raw_json(&pages::merged_json(&pages.bodies, "keys")?);
    }
    if pages.items.is_empty() {
        return output::line(&format!("No API keys for {id}."));
    }
    let mut table = output::table(["ID", "NAME", "CREATED", "EXPIRES"]);
    for k in pages.items {
        table.add_row([
            k.id,
            k.name,
            k.created_at.to_string(),
            or_dash(k.expires_at),
        ]);
    }
    output::print_table(&table)
}

async fn create_key(client: &Client, args: CreateKeyArgs) -> Result<(), CliError> {
    if let Some(path) = &args.store_in {
        check_secret_path(path)?;
    }
    let request = CreateApiKeyRequest {
        name: args.name,
        ttl: args.ttl,
    };
    let Some(path) = args.store_in else {
        if args.json {
            return output::raw_json(&client.create_api_key(&args.id, &request).raw().await?.body);
        }
        let created = client.create_api_key(&args.id, &request).await?;
        eprintln!(
            "Created API key {} ({}) for {}, expires {}. It is shown only once:",
            created.id,
            created.name,
            created.service_account_id,
            or_dash(created.expires_at)
        );
        return output::line(&created.key);
    };
    let created = client.create_api_key(&args.id, &request).await?;
    let version = match store_key(client, &path, &created).await {
        Ok(version) => version,
        Err(error) => return Err(undo_key(client, &created, &path, error).await),
    };
    if args.json {
        let doc = json!({
            "id": created.id,
            "name": created.name,
            "service_account_id": created.service_account_id,
            "created_at": created.created_at,
            "expires_at": created.expires_at,
            "stored_in": {"path": path, "version": version},
        });
        return output::line(&doc.to_string());
    }
    output::line(&format!(
        "Created API key {} ({}) for {}, expires {}. Stored in {path} (version {version}, field {STORED_KEY_FIELD}); the key is not shown.",
        created.id,
        created.name,
        created.service_account_id,
        or_dash(created.expires_at)
    ))
}

/// Refuses, before a key is created, a path the client would refuse to send anyway.
fn check_secret_path(path: &str) -> Result<(), CliError> {
    if path.is_empty() || path.split('/').any(|s| s == "." || s == "..") {
        return Err(CliError::new(
            crate::error::exit::VALIDATION,
            "invalid_path",
            format!(
                "--store-in: invalid secret path {path:?} (empty, or with `.` or `..` segments)"
            ),
        ));
    }
    Ok(())
}

/// `PUT /v1/secrets/{path}` with the key; the new secret version.
async fn store_key(
    client: &Client,
    path: &str,
    created: &CreateApiKeyResponse,
) -> Result<u64, CliError> {
    let mut data = Map::new();
    data.insert(
        STORED_KEY_FIELD.to_owned(),
        Value::String(created.key.clone()),
    );
    data.insert("key_id".to_owned(), Value::String(created.id.clone()));
    data.insert(
        "service_account_id".to_owned(),
        Value::String(created.service_account_id.clone()),
    );
    let request = WriteSecretRequest {
        data,
        secret_type: Some(SecretType::ApiKey),
        metadata: None,
        // The secret expires with the key it holds.
        options: created.expires_at.map(|at| SecretOptions {
            expires_at: Some(at),
            ..SecretOptions::default()
        }),
    };
    Ok(client.write_secret(path, &request).await?.version)
}

/// The key could not be stored: its plaintext would be lost, so delete it again and report
/// why (and whether the cleanup worked).
async fn undo_key(
    client: &Client,
    created: &CreateApiKeyResponse,
    path: &str,
    error: CliError,
) -> CliError {
    let cleanup = client
        .delete_api_key(&created.service_account_id, &created.id)
        .await;
    let note = match cleanup {
        Ok(()) => format!(
            "The new API key {} could not be stored in {path}, so it was deleted again.",
            created.id
        ),
        Err(e) => format!(
            "The new API key {} could not be stored in {path}, and deleting it failed too ({}); delete it with `scaivault service-accounts delete-key {} {}`.",
            created.id,
            e.code(),
            created.service_account_id,
            created.id
        ),
    };
    error.with_hint(note)
}
