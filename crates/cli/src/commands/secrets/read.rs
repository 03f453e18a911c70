//! `secrets read`

use clap::Args;
use scaivault_client::{Client, decode};

use super::push_metadata_rows;
use crate::error::CliError;
use crate::output;

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Secret path, e.g. app/db/credentials
    path: String,
    /// Read this version instead of the current one
    #[arg(long, value_name = "N")]
    version: Option<u64>,
    /// Print only this field's value (and a newline)
    #[arg(long, value_name = "FIELD", conflicts_with = "json")]
    field: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(client: &Client, args: ReadArgs) -> Result<(), CliError> {
    let raw = client.read_secret(&args.path, args.version).raw().await?;
    if args.json {
        return output::raw_json(&raw.body);
    }
    let secret: scaivault_proto::secrets::ReadSecretResponse = decode(&raw)?;
    if let Some(field) = &args.field {
        return match secret.data.get(field) {
            Some(value) => output::line(&output::plain(value)),
            None => Err(CliError::not_found(
                "field_not_found",
                format!("secret {} has no field {field:?}", secret.path),
            )),
        };
    }
    let mut rows = vec![
        ("Path", secret.path.clone()),
        ("Version", secret.version.to_string()),
        ("Type", secret.secret_type.as_str().to_string()),
        ("Created", secret.created_at.to_string()),
        ("Updated", secret.updated_at.to_string()),
    ];
    if let Some(expires) = secret.expires_at {
        rows.push(("Expires", expires.to_string()));
    }
    push_metadata_rows(&mut rows, &secret.metadata);
    output::print_fields(&rows)?;
    output::emit("\n")?;
    let mut table = output::table(["KEY", "VALUE"]);
    for (key, value) in &secret.data {
        table.add_row([key.clone(), output::plain(value)]);
    }
    output::print_table(&table)
}
