//! `scaivault pki ca|certs|csr ...`: the internal CA (docs/pki.md), exactly as the CLI
//! reference's PKI section shows it, plus `ca get|disable|import`, `certs get|renew` and
//! `csr submit|get|reject`. `--json` prints the API's response unchanged everywhere.
//!
//! Issued private keys are printed only with `--json` or written with `--key-out` (mode 0600);
//! the table output names the secret where certificate and key are stored.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use scaivault_client::{CertificateFilter, Client, decode};
use scaivault_proto::pki::{
    Ca, CaList, CertRenewRequest, Certificate, CertificateList, CreateCaRequest, Csr, CsrList,
    ImportCaRequest, IssueCertificateRequest, IssuedCertificate, RejectCsrRequest, RevokeRequest,
    SignCsrRequest, SignedCertificate, SubmitCsrRequest,
};

use crate::commands::pages;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  # CAs
  scaivault pki ca list
  scaivault pki ca create --name \"Root CA\" --common-name \"Acme Root CA\" --validity-days 3650
  scaivault pki ca cert ca_root_abc --format pem > root.pem
  # Issue
  scaivault pki certs issue \\
    --ca ca_intermediate_abc \\
    --common-name \"billing.svc.cluster.local\" \\
    --san \"billing-api.svc.cluster.local\" \\
    --validity-days 7
  # List, revoke
  scaivault pki certs list --ca-id ca_intermediate_abc --expiring-within 30d
  scaivault pki certs revoke cert_xyz --reason key_compromise
  # CSR workflow
  scaivault pki csr list --status pending
  scaivault pki csr approve csr_abc
  scaivault pki csr sign csr_abc --ca ca_intermediate_abc --validity-days 90
  # ACME
  scaivault pki acme register --provider letsencrypt --email certs@acme.example
  scaivault pki acme issue --account acme_abc --domains api.acme.example --challenge dns-01";

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Certificate authorities: create (root or intermediate), import, list, show, disable
    #[command(subcommand, after_help = CA_EXAMPLES)]
    Ca(CaCommand),
    /// Issued certificates: issue, list, show, revoke, renew
    #[command(subcommand, after_help = CERTS_EXAMPLES)]
    Certs(CertsCommand),
    /// Certificate signing requests: submit, list, show, approve, reject, sign
    #[command(subcommand, after_help = CSR_EXAMPLES)]
    Csr(CsrCommand),
    /// Certificates from ACME CAs (Let's Encrypt, ZeroSSL, Buypass, Google, custom):
    /// register, accounts, issue, orders
    #[command(subcommand, after_help = crate::commands::acme::ACME_EXAMPLES)]
    Acme(crate::commands::acme::AcmeCommand),
    /// DNS providers for ACME dns-01 challenges: create, list, get, delete
    #[command(subcommand, name = "dns-providers", after_help = crate::commands::acme::DNS_EXAMPLES)]
    DnsProviders(crate::commands::acme::DnsProvidersCommand),
}

const CA_EXAMPLES: &str = "\
Examples:
  scaivault pki ca list
  scaivault pki ca create --name \"Root CA\" --common-name \"Acme Root CA\" --validity-days 3650
  scaivault pki ca create --name int --common-name \"Acme Issuing CA\" --parent ca_root_abc \\
    --validity-days 1825 --permitted-domain svc.cluster.local
  scaivault pki ca cert ca_root_abc --format pem > root.pem
  scaivault pki ca get ca_root_abc --json";

const CERTS_EXAMPLES: &str = "\
Examples:
  scaivault pki certs issue --ca ca_int_abc --common-name billing.svc.cluster.local \\
    --san billing-api.svc.cluster.local --validity-days 7 --cert-out tls.crt --key-out tls.key
  scaivault pki certs list --ca-id ca_int_abc --expiring-within 30d
  scaivault pki certs revoke cert_xyz --reason key_compromise
  scaivault pki certs renew cert_xyz";

const CSR_EXAMPLES: &str = "\
Examples:
  scaivault pki csr submit --csr-file app.csr
  scaivault pki csr list --status pending
  scaivault pki csr approve csr_abc
  scaivault pki csr sign csr_abc --ca ca_int_abc --validity-days 90 --cert-out app.crt
  scaivault pki csr reject csr_abc --reason \"unknown requester\"";

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// List the tenant's CAs
    #[command(
        after_help = "Examples:\n  scaivault pki ca list\n  scaivault pki ca list --json | jq -r '.cas[].id'"
    )]
    List(JsonArgs),
    /// Create a root CA, or an intermediate with --parent; the key never leaves the server
    #[command(
        after_help = "Examples:\n  scaivault pki ca create --name \"Root CA\" --common-name \"Acme Root CA\" --validity-days 3650\n  scaivault pki ca create --name int --common-name \"Acme Issuing CA\" --parent ca_root_abc"
    )]
    Create(CreateCaArgs),
    /// Import an existing CA certificate and its private key (PEM files)
    #[command(
        after_help = "Examples:\n  scaivault pki ca import --name legacy --cert-file ca.pem --key-file ca.key"
    )]
    Import(ImportCaArgs),
    /// Show one CA
    #[command(after_help = "Examples:\n  scaivault pki ca get ca_root_abc")]
    Get(IdArgs),
    /// Print the CA certificate (PEM, or DER bytes with --format der)
    #[command(
        after_help = "Examples:\n  scaivault pki ca cert ca_root_abc --format pem > root.pem\n  scaivault pki ca cert ca_int_abc --chain > chain.pem"
    )]
    Cert(CaCertArgs),
    /// Disable a CA: it issues nothing more; its CRL and OCSP keep answering
    #[command(after_help = "Examples:\n  scaivault pki ca disable ca_old_abc")]
    Disable(IdArgs),
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Issue a certificate; ScaiVault generates the key and stores both as a secret
    #[command(
        after_help = "Examples:\n  scaivault pki certs issue --ca ca_int_abc --common-name api.example.com --san api.internal \\\n    --validity-days 30 --cert-out tls.crt --key-out tls.key"
    )]
    Issue(IssueArgs),
    /// List certificates (filters: CA, status, expiring within)
    #[command(
        after_help = "Examples:\n  scaivault pki certs list --ca-id ca_int_abc --expiring-within 30d\n  scaivault pki certs list --status revoked --json"
    )]
    List(ListCertsArgs),
    /// Show one certificate (never its key)
    #[command(after_help = "Examples:\n  scaivault pki certs get cert_xyz")]
    Get(IdArgs),
    /// Revoke a certificate with an RFC 5280 reason
    #[command(
        after_help = "Examples:\n  scaivault pki certs revoke cert_xyz --reason key_compromise"
    )]
    Revoke(RevokeArgs),
    /// Issue a fresh certificate with the same subject and SANs
    #[command(
        after_help = "Examples:\n  scaivault pki certs renew cert_xyz\n  scaivault pki certs renew cert_xyz --validity-days 30 --cert-out tls.crt --key-out tls.key"
    )]
    Renew(RenewArgs),
}

#[derive(Debug, Subcommand)]
pub enum CsrCommand {
    /// Submit a PEM CSR (the key stays with you)
    #[command(
        after_help = "Examples:\n  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n    -keyout app.key -out app.csr -subj /CN=app.example.com\n  scaivault pki csr submit --csr-file app.csr"
    )]
    Submit(SubmitArgs),
    /// List CSRs, optionally of one status
    #[command(after_help = "Examples:\n  scaivault pki csr list --status pending")]
    List(ListCsrArgs),
    /// Show one CSR
    #[command(after_help = "Examples:\n  scaivault pki csr get csr_abc")]
    Get(IdArgs),
    /// Approve a pending CSR
    #[command(after_help = "Examples:\n  scaivault pki csr approve csr_abc")]
    Approve(IdArgs),
    /// Reject a pending CSR
    #[command(
        after_help = "Examples:\n  scaivault pki csr reject csr_abc --reason \"unknown requester\""
    )]
    Reject(RejectArgs),
    /// Sign an approved CSR with a CA
    #[command(
        after_help = "Examples:\n  scaivault pki csr sign csr_abc --ca ca_int_abc --validity-days 90 --cert-out app.crt"
    )]
    Sign(SignArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The id (ca_..., cert_... or csr_...)
    id: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CreateCaArgs {
    /// Unique name in the tenant (its slug names the CA in policy paths: pki/SLUG/...)
    #[arg(long)]
    name: String,
    #[arg(long)]
    common_name: String,
    /// Lifetime in days (default 3650 for a root, 1825 for an intermediate)
    #[arg(long)]
    validity_days: Option<u32>,
    /// The parent CA (ca_...): creates an intermediate signed by it
    #[arg(long, value_name = "CA_ID")]
    parent: Option<String>,
    /// ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519
    #[arg(long)]
    key_type: Option<String>,
    /// basicConstraints path length
    #[arg(long)]
    path_len: Option<u8>,
    /// Name constraint: permitted DNS domain (repeatable)
    #[arg(long = "permitted-domain", value_name = "DOMAIN")]
    permitted_domains: Vec<String>,
    /// Name constraint: excluded DNS domain (repeatable)
    #[arg(long = "excluded-domain", value_name = "DOMAIN")]
    excluded_domains: Vec<String>,
    /// Separation of duties: a CSR's submitter cannot approve it
    #[arg(long)]
    require_separate_approver: bool,
    #[arg(long)]
    organization: Option<String>,
    #[arg(long)]
    organizational_unit: Option<String>,
    #[arg(long)]
    country: Option<String>,
    #[arg(long)]
    state: Option<String>,
    #[arg(long)]
    locality: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ImportCaArgs {
    #[arg(long)]
    name: String,
    /// PEM CA certificate (optionally followed by its chain)
    #[arg(long, value_name = "FILE")]
    cert_file: PathBuf,
    /// PEM private key of the CA
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    #[arg(long)]
    require_separate_approver: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CertFormat {
    Pem,
    Der,
}

#[derive(Debug, Args)]
pub struct CaCertArgs {
    /// CA id (ca_...)
    id: String,
    /// pem (default) or der (raw bytes on stdout)
    #[arg(long, value_enum, default_value = "pem")]
    format: CertFormat,
    /// The CA and its parents (PEM)
    #[arg(long)]
    chain: bool,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The issuing CA (ca_...)
    #[arg(long, value_name = "CA_ID")]
    ca: String,
    #[arg(long)]
    common_name: String,
    /// Subject alternative name (repeatable): DNS:x, IP:x, email:x, URI:x, or unprefixed
    #[arg(long = "san", value_name = "NAME")]
    sans: Vec<String>,
    /// Lifetime in days (default 90; never beyond the CA's)
    #[arg(long, conflicts_with = "ttl")]
    validity_days: Option<u32>,
    /// Lifetime as a duration (e.g. 72h), instead of --validity-days
    #[arg(long)]
    ttl: Option<String>,
    /// ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519
    #[arg(long)]
    key_type: Option<String>,
    /// server (default), client or both
    #[arg(long)]
    usage: Option<String>,
    /// Secret path for certificate and key (default pki/CA-SLUG/COMMON-NAME)
    #[arg(long)]
    path: Option<String>,
    #[command(flatten)]
    out: OutFiles,
    /// Print the API's JSON response unchanged (it holds the private key)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct OutFiles {
    /// Write the certificate (PEM) to this file
    #[arg(long, value_name = "FILE")]
    cert_out: Option<PathBuf>,
    /// Write the private key (PKCS#8 PEM) to this file, mode 0600
    #[arg(long, value_name = "FILE")]
    key_out: Option<PathBuf>,
    /// Write the chain (issuing CA first, PEM) to this file
    #[arg(long, value_name = "FILE")]
    chain_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListCertsArgs {
    /// Only certificates of this CA
    #[arg(long)]
    ca_id: Option<String>,
    /// valid, revoked or expired
    #[arg(long)]
    status: Option<String>,
    /// Only those whose not_after is within this duration, e.g. 30d
    #[arg(long, value_name = "DURATION")]
    expiring_within: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Certificate id (cert_...)
    id: String,
    /// unspecified (default), key_compromise, ca_compromise, affiliation_changed, superseded,
    /// cessation_of_operation
    #[arg(long)]
    reason: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Certificate id (cert_...)
    id: String,
    /// Lifetime in days (default: the original's)
    #[arg(long, conflicts_with = "ttl")]
    validity_days: Option<u32>,
    #[arg(long)]
    ttl: Option<String>,
    #[command(flatten)]
    out: OutFiles,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// PEM CSR file (`-` for stdin)
    #[arg(long, value_name = "FILE")]
    csr_file: PathBuf,
    /// The CA meant to sign it: its name constraints are checked now
    #[arg(long, value_name = "CA_ID")]
    ca: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListCsrArgs {
    /// pending, approved, rejected or signed
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    /// CSR id (csr_...)
    id: String,
    #[arg(long)]
    reason: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// CSR id (csr_...)
    id: String,
    /// The signing CA (ca_...)
    #[arg(long, value_name = "CA_ID")]
    ca: String,
    /// Lifetime in days (default 90)
    #[arg(long, conflicts_with = "ttl")]
    validity_days: Option<u32>,
    #[arg(long)]
    ttl: Option<String>,
    /// server (default), client or both
    #[arg(long)]
    usage: Option<String>,
    /// Write the certificate (PEM) to this file
    #[arg(long, value_name = "FILE")]
    cert_out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub async fn run(command: PkiCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        PkiCommand::Ca(cmd) => ca(&client, cmd).await,
        PkiCommand::Certs(cmd) => certs(&client, cmd).await,
        PkiCommand::Csr(cmd) => csr(&client, cmd).await,
        PkiCommand::Acme(cmd) => crate::commands::acme::run_acme(&client, cmd).await,
        PkiCommand::DnsProviders(cmd) => crate::commands::acme::run_dns(&client, cmd).await,
    }
}

/// Reads a file (`-` for stdin); shared with the other commands that take files.
pub(crate) fn read_file(path: &Path) -> Result<String, CliError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CliError::io("reading stdin", &e))?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .map_err(|e| CliError::io(&format!("reading {}", path.display()), &e))
}

/// Writes `text` to `path`; `private` files are created with mode 0600.
pub(crate) fn write_file(path: &Path, text: &str, private: bool) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = private;
    let mut file = options
        .open(path)
        .map_err(|e| CliError::io(&format!("writing {}", path.display()), &e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| CliError::io(&format!("writing {}", path.display()), &e))
}

// ---------------------------------------------------------------------------------------------
// CAs

fn ca_fields(ca: &Ca) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("ID", ca.id.clone()),
        ("Name", ca.name.clone()),
        ("Common name", ca.common_name.clone()),
        ("Parent", or_dash(ca.parent_ca_id.as_ref())),
        ("Key type", ca.key_type.clone()),
        ("Serial", ca.serial.clone()),
        ("Not before", ca.not_before.to_string()),
        ("Not after", ca.not_after.to_string()),
        ("Status", ca.status.clone()),
        ("Policy path", ca.policy_path.clone()),
        ("CRL", ca.crl_url.clone()),
        ("OCSP", ca.ocsp_url.clone()),
    ];
    if ca.require_separate_approver {
        rows.push(("Separate approver", "required".to_owned()));
    }
    if !ca.permitted_dns_domains.is_empty() {
        rows.push(("Permitted", ca.permitted_dns_domains.join(", ")));
    }
    if !ca.excluded_dns_domains.is_empty() {
        rows.push(("Excluded", ca.excluded_dns_domains.join(", ")));
    }
    rows
}

impl pages::Page for CaList {
    type Item = Ca;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.cas, self.cursor, self.has_more)
    }
}

impl pages::Page for CertificateList {
    type Item = Certificate;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.certificates, self.cursor, self.has_more)
    }
}

impl pages::Page for CsrList {
    type Item = Csr;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.csrs, self.cursor, self.has_more)
    }
}

async fn ca(client: &Client, cmd: CaCommand) -> Result<(), CliError> {
    match cmd {
        CaCommand::List(args) => {
            let pages = pages::fetch_all::<CaList, _>(async |cursor| {
                client.list_cas(None, cursor.as_deref()).raw().await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "cas")?);
            }
            if pages.items.is_empty() {
                return output::line("No certificate authorities.");
            }
            let mut table = output::table([
                "ID",
                "NAME",
                "COMMON NAME",
                "PARENT",
                "KEY",
                "NOT AFTER",
                "STATUS",
            ]);
            for ca in pages.items {
                table.add_row([
                    ca.id,
                    ca.name,
                    ca.common_name,
                    or_dash(ca.parent_ca_id),
                    ca.key_type,
                    ca.not_after.to_string(),
                    ca.status,
                ]);
            }
            output::print_table(&table)
        }
        CaCommand::Create(args) => {
            let request = CreateCaRequest {
                name: args.name,
                common_name: args.common_name,
                organization: args.organization,
                organizational_unit: args.organizational_unit,
                country: args.country,
                state: args.state,
                locality: args.locality,
                key_type: args.key_type,
                validity_days: args.validity_days,
                parent_ca_id: args.parent,
                path_len: args.path_len,
                permitted_dns_domains: args.permitted_domains,
                excluded_dns_domains: args.excluded_domains,
                require_separate_approver: args.require_separate_approver,
            };
            let raw = client.create_ca(&request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let ca: Ca = decode(&raw)?;
            output::line(&format!("Created CA {} ({})", ca.id, ca.name))?;
            output::print_fields(&ca_fields(&ca))
        }
        CaCommand::Import(args) => {
            let request = ImportCaRequest {
                name: args.name,
                certificate: read_file(&args.cert_file)?,
                private_key: read_file(&args.key_file)?,
                require_separate_approver: args.require_separate_approver,
            };
            let raw = client.import_ca(&request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let ca: Ca = decode(&raw)?;
            output::line(&format!("Imported CA {} ({})", ca.id, ca.name))?;
            output::print_fields(&ca_fields(&ca))
        }
        CaCommand::Get(args) => {
            let raw = client.get_ca(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let ca: Ca = decode(&raw)?;
            output::print_fields(&ca_fields(&ca))
        }
        CaCommand::Cert(args) => {
            let raw = client
                .ca_certificate_pem(&args.id, args.chain)
                .raw()
                .await?;
            match args.format {
                CertFormat::Pem => output::emit(&raw.body),
                CertFormat::Der => {
                    if args.chain {
                        return Err(CliError::validation(
                            "--chain is PEM only (DER holds one certificate)",
                        ));
                    }
                    let der = scaivault_pki::pem_decode_cert(&raw.body)
                        .ok()
                        .and_then(|mut certs| (!certs.is_empty()).then(|| certs.swap_remove(0)))
                        .ok_or_else(|| {
                            CliError::general("decode_error", "the server sent no certificate")
                        })?;
                    let mut out = std::io::stdout().lock();
                    out.write_all(&der)
                        .and_then(|()| out.flush())
                        .map_err(|e| CliError::io("writing to stdout", &e))
                }
            }
        }
        CaCommand::Disable(args) => {
            let raw = client.disable_ca(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let ca: Ca = decode(&raw)?;
            output::line(&format!("Disabled CA {} ({})", ca.id, ca.name))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// An ACME certificate's renewal in one cell: `scheduled <time>`, `failed (retrying <time>)`.
fn renewal_summary(r: Option<&scaivault_proto::pki::CertificateRenewal>) -> String {
    match r {
        None => "-".to_owned(),
        Some(r) if r.problem.is_some() && r.status != "valid" && r.status != "failed" => {
            format!("failing, retry {}", r.next_attempt_at)
        }
        Some(r) if r.status == "scheduled" || r.status == "pending" => {
            format!("scheduled {}", r.next_attempt_at)
        }
        Some(r) if r.status == "valid" => {
            format!("renewed: {}", r.certificate_id.as_deref().unwrap_or("-"))
        }
        Some(r) => r.status.clone(),
    }
}

fn cert_fields(c: &Certificate) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("ID", c.id.clone()),
        ("CA", c.ca_id.clone()),
        ("Serial", c.serial.clone()),
        ("Common name", c.common_name.clone()),
        ("SANs", c.sans.join(", ")),
        ("Usage", c.usage.clone()),
        ("Key type", or_dash(c.key_type.as_ref())),
        ("Not before", c.not_before.to_string()),
        ("Not after", c.not_after.to_string()),
        ("Status", c.status.clone()),
        ("Revoked at", or_dash(c.revoked_at.as_ref())),
        ("Reason", or_dash(c.revocation_reason.as_ref())),
        ("Secret path", or_dash(c.secret_path.as_ref())),
        ("CSR", or_dash(c.csr_id.as_ref())),
        ("Issued by", c.issued_by.clone()),
    ];
    if c.renewal.is_some() {
        rows.push(("Renewal", renewal_summary(c.renewal.as_ref())));
        if let Some(p) = c.renewal.as_ref().and_then(|r| r.problem.as_ref()) {
            rows.push(("Renewal problem", p.to_string()));
        }
    }
    rows
}

/// Writes the requested files and prints the summary of an issuance or renewal.
fn issued(
    raw_body: &str,
    issued: &IssuedCertificate,
    out: &OutFiles,
    json: bool,
) -> Result<(), CliError> {
    if let Some(path) = &out.cert_out {
        write_file(path, &issued.certificate, false)?;
    }
    if let Some(path) = &out.key_out {
        write_file(path, &issued.private_key, true)?;
    }
    if let Some(path) = &out.chain_out {
        write_file(path, &issued.chain.concat(), false)?;
    }
    if json {
        return output::raw_json(raw_body);
    }
    output::line(&format!(
        "Issued certificate {} (serial {})",
        issued.id, issued.serial
    ))?;
    output::print_fields(&[
        ("Common name", issued.common_name.clone()),
        ("SANs", issued.sans.join(", ")),
        ("Not after", issued.not_after.to_string()),
        ("CA", issued.ca_id.clone()),
        (
            "Secret",
            format!("{} (version {})", issued.secret_path, issued.secret_version),
        ),
    ])?;
    if out.key_out.is_none() {
        eprintln!(
            "The certificate and its private key are stored at {}: read them with `scaivault secrets read {}` (or use --key-out / --json).",
            issued.secret_path, issued.secret_path
        );
    }
    Ok(())
}

async fn certs(client: &Client, cmd: CertsCommand) -> Result<(), CliError> {
    match cmd {
        CertsCommand::Issue(args) => {
            let request = IssueCertificateRequest {
                ca_id: args.ca,
                common_name: args.common_name,
                sans: args.sans,
                validity_days: args.validity_days,
                ttl: args.ttl,
                key_type: args.key_type,
                usage: args.usage,
                path: args.path,
            };
            let raw = client.issue_certificate(&request).raw().await?;
            let cert: IssuedCertificate = decode(&raw)?;
            issued(&raw.body, &cert, &args.out, args.json)
        }
        CertsCommand::List(args) => {
            let filter = CertificateFilter {
                ca_id: args.ca_id,
                status: args.status,
                expiring_within: args.expiring_within,
            };
            let pages = pages::fetch_all::<CertificateList, _>(async |cursor| {
                client
                    .list_certificates(&filter, None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "certificates")?);
            }
            if pages.items.is_empty() {
                return output::line("No certificates.");
            }
            let mut table = output::table([
                "ID",
                "COMMON NAME",
                "CA",
                "SERIAL",
                "NOT AFTER",
                "STATUS",
                "RENEWAL",
            ]);
            for c in pages.items {
                let renewal = renewal_summary(c.renewal.as_ref());
                table.add_row([
                    c.id,
                    c.common_name,
                    c.ca_id,
                    c.serial,
                    c.not_after.to_string(),
                    c.status,
                    renewal,
                ]);
            }
            output::print_table(&table)
        }
        CertsCommand::Get(args) => {
            let raw = client.get_certificate(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let c: Certificate = decode(&raw)?;
            output::print_fields(&cert_fields(&c))
        }
        CertsCommand::Revoke(args) => {
            let request = RevokeRequest {
                reason: args.reason,
            };
            let raw = client.revoke_certificate(&args.id, &request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let c: Certificate = decode(&raw)?;
            output::line(&format!(
                "Revoked certificate {} (serial {}, reason {})",
                c.id,
                c.serial,
                or_dash(c.revocation_reason.as_ref())
            ))
        }
        CertsCommand::Renew(args) => {
            let request = CertRenewRequest {
                validity_days: args.validity_days,
                ttl: args.ttl,
            };
            let raw = client.renew_certificate(&args.id, &request).raw().await?;
            let cert: IssuedCertificate = decode(&raw)?;
            issued(&raw.body, &cert, &args.out, args.json)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CSRs

fn csr_fields(c: &Csr) -> Vec<(&'static str, String)> {
    vec![
        ("ID", c.id.clone()),
        ("Common name", c.common_name.clone()),
        ("SANs", c.sans.join(", ")),
        ("Key type", or_dash(c.key_type.as_ref())),
        ("Status", c.status.clone()),
        ("Submitted by", c.submitted_by.clone()),
        ("Decided by", or_dash(c.decided_by.as_ref())),
        ("Reason", or_dash(c.reason.as_ref())),
        ("Certificate", or_dash(c.cert_id.as_ref())),
        ("Created", c.created_at.to_string()),
    ]
}

async fn csr(client: &Client, cmd: CsrCommand) -> Result<(), CliError> {
    match cmd {
        CsrCommand::Submit(args) => {
            let request = SubmitCsrRequest {
                csr: read_file(&args.csr_file)?,
                ca_id: args.ca,
            };
            let raw = client.submit_csr(&request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let c: Csr = decode(&raw)?;
            output::line(&format!("Submitted CSR {} ({})", c.id, c.common_name))
        }
        CsrCommand::List(args) => {
            let status = args.status;
            let pages = pages::fetch_all::<CsrList, _>(async |cursor| {
                client
                    .list_csrs(status.as_deref(), None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "csrs")?);
            }
            if pages.items.is_empty() {
                return output::line("No CSRs.");
            }
            let mut table =
                output::table(["ID", "COMMON NAME", "STATUS", "SUBMITTED BY", "CREATED"]);
            for c in pages.items {
                table.add_row([
                    c.id,
                    c.common_name,
                    c.status,
                    c.submitted_by,
                    c.created_at.to_string(),
                ]);
            }
            output::print_table(&table)
        }
        CsrCommand::Get(args) => {
            let raw = client.get_csr(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let c: Csr = decode(&raw)?;
            output::print_fields(&csr_fields(&c))
        }
        CsrCommand::Approve(args) => {
            let raw = client.approve_csr(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::line(&format!("Approved CSR {}", args.id))
        }
        CsrCommand::Reject(args) => {
            let request = RejectCsrRequest {
                reason: args.reason,
            };
            let raw = client.reject_csr(&args.id, &request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::line(&format!("Rejected CSR {}", args.id))
        }
        CsrCommand::Sign(args) => {
            let request = SignCsrRequest {
                ca_id: args.ca,
                validity_days: args.validity_days,
                ttl: args.ttl,
                usage: args.usage,
            };
            let raw = client.sign_csr(&args.id, &request).raw().await?;
            let signed: SignedCertificate = decode(&raw)?;
            if let Some(path) = &args.cert_out {
                write_file(path, &signed.certificate, false)?;
            }
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::line(&format!(
                "Signed CSR {} as certificate {} (serial {}, not after {})",
                signed.csr_id, signed.id, signed.serial, signed.not_after
            ))?;
            if args.cert_out.is_none() {
                output::emit(&signed.certificate)?;
            }
            Ok(())
        }
    }
}
