//! `scaivault mcp`: a Model Context Protocol server for AI agents, built on the official Rust
//! MCP SDK (`rmcp`), over stdio or Streamable HTTP.
//!
//! Everything goes through the ScaiVault API with the configured token ([`scaivault_client`]),
//! so policies, scopes, rate limits and the audit trail apply unchanged. Every request carries
//! `User-Agent: scaivault-mcp/<version> (<client name>/<client version>)`, taken from the MCP
//! client's `clientInfo`, so audit entries name the agent.
//!
//! Safety (docs/mcp.md): values are masked unless the operator allowed it (`--allow-reveal`)
//! and the call asks (`reveal: true`) — see [`mask`]; `--read-only` removes every mutating tool;
//! `--paths GLOB` confines tools and resources to parts of the tree — see [`confine`]; values
//! the agent writes are never echoed back; API failures are tool errors carrying the API's
//! code and message.

pub mod confine;
pub mod mask;
pub mod tools;

use std::net::SocketAddr;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use scaivault_client::proto::dynamic::CredsRequest;
use scaivault_client::proto::pki::IssueCertificateRequest;
use scaivault_client::proto::policies::PolicyTestRequest;
use scaivault_client::proto::secrets::{
    PatchSecretRequest, RotateSecretRequest, SecretMetadata, SecretOptions, SecretType,
    WriteSecretRequest,
};
use scaivault_client::{
    CertificateFilter, Client, DeleteMode, ExpiringQuery, LeaseFilter, ListSecretsQuery,
    RawResponse,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::confine::{Confinement, ListPrefix};
use crate::tools::ToolName;

/// This crate's version, in the user agent and the server info.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// URI scheme and prefix of secret resources.
pub const RESOURCE_PREFIX: &str = "scaivault://secrets/";

/// How `scaivault mcp` was started.
#[derive(Clone, Debug)]
pub struct Options {
    /// Removes every mutating tool.
    pub read_only: bool,
    /// The operator's permission to reveal values (a call must still ask with `reveal: true`).
    pub allow_reveal: bool,
    /// `--paths` globs.
    pub paths: Vec<String>,
}

/// A tool failure: the API's error code and message (or one of ours), never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolError {
    pub code: String,
    pub message: String,
}

impl ToolError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    fn access_denied(message: impl Into<String>) -> Self {
        Self::new("access_denied", message)
    }

    /// The MCP tool result: `is_error: true`, structured `{"error": {"code", "message"}}`.
    pub fn into_result(self) -> CallToolResult {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
            "{}: {}",
            self.code, self.message
        ))]);
        result.structured_content = Some(body);
        result
    }
}

impl From<scaivault_client::Error> for ToolError {
    fn from(e: scaivault_client::Error) -> Self {
        Self::new(e.code(), e.message())
    }
}

/// The `User-Agent` sent for an MCP client: `scaivault-mcp/<v> (<name>/<version>)`, with
/// anything a header cannot carry replaced by `_`.
pub fn user_agent(client: Option<&Implementation>) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .take(100)
            .map(|c| {
                if c.is_ascii_graphic() && !matches!(c, '(' | ')' | '/') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    match client {
        Some(info) => format!(
            "scaivault-mcp/{VERSION} ({}/{})",
            clean(&info.name),
            clean(&info.version)
        ),
        None => format!("scaivault-mcp/{VERSION}"),
    }
}

/// Arguments decoded into `T`; a failure names the field, never the offending value (serde's
/// messages can quote it).
fn parse_args<T: DeserializeOwned>(args: Option<JsonObject>) -> Result<T, ToolError> {
    let value = Value::Object(args.unwrap_or_default());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let detail = if inner.starts_with("missing field") || inner.starts_with("unknown field") {
            inner
        } else {
            "a value of the wrong type".to_owned()
        };
        let message = if path == "." {
            format!("invalid arguments: {detail}")
        } else {
            format!("invalid argument `{path}`: {detail}")
        };
        ToolError::new("validation_error", message)
    })
}

/// Converts between our argument types and the proto types through JSON.
fn convert<T: DeserializeOwned>(value: impl serde::Serialize, what: &str) -> Result<T, ToolError> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value)
        .map_err(|_| ToolError::new("validation_error", format!("invalid `{what}`")))
}

fn body(raw: RawResponse) -> Result<Value, ToolError> {
    if raw.body.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(&raw.body).map_err(|_| {
        ToolError::new(
            "decode_error",
            format!("the server's response (HTTP {}) is not JSON", raw.status),
        )
    })
}

/// The MCP server: one per stdio process, one per Streamable HTTP session.
#[derive(Clone)]
pub struct VaultMcp {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    options: Options,
    confinement: Confinement,
}

impl std::fmt::Debug for VaultMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultMcp")
            .field("client", &self.inner.client)
            .field("options", &self.inner.options)
            .finish()
    }
}

impl VaultMcp {
    /// A server over `client` (which carries the token). Fails on an invalid `--paths` glob.
    pub fn new(client: Client, options: Options) -> Result<Self, String> {
        let confinement = Confinement::new(&options.paths)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                options,
                confinement,
            }),
        })
    }

    /// The tools this server offers (`--read-only` leaves the mutating ones out).
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        ToolName::ALL
            .into_iter()
            .filter(|t| !(self.inner.options.read_only && t.is_mutating()))
            .map(ToolName::tool)
            .collect()
    }

    fn client_for(&self, info: Option<&Implementation>) -> Client {
        self.inner.client.clone().with_user_agent(user_agent(info))
    }

    fn check_path(&self, path: &str) -> Result<(), ToolError> {
        if self.inner.confinement.allows(path) {
            Ok(())
        } else {
            Err(ToolError::access_denied(format!(
                "{path} is outside the paths this MCP server is confined to (--paths {})",
                self.inner.confinement.globs().join(", ")
            )))
        }
    }

    /// Runs one tool call; the result's structured content, or the tool error.
    pub async fn run_tool(
        &self,
        tool: ToolName,
        args: Option<JsonObject>,
        client_info: Option<&Implementation>,
    ) -> Result<Value, ToolError> {
        if tool.is_mutating() && self.inner.options.read_only {
            return Err(ToolError::access_denied(format!(
                "{} is not available: this MCP server runs with --read-only",
                tool.as_str()
            )));
        }
        let client = self.client_for(client_info);
        let confinement = &self.inner.confinement;
        match tool {
            ToolName::Whoami => {
                parse_args::<tools::NoArgs>(args)?;
                body(client.whoami().raw().await?)
            }
            ToolName::ListSecrets => {
                let a: tools::ListSecretsArgs = parse_args(args)?;
                let prefix = match confinement.list_prefix(a.prefix.as_deref()) {
                    ListPrefix::Ask(prefix) => prefix,
                    ListPrefix::Nothing => return Ok(empty_page()),
                };
                let query = ListSecretsQuery {
                    prefix,
                    tags: a.tags,
                    limit: a.limit,
                    cursor: a.cursor,
                    ..Default::default()
                };
                let mut page = body(client.list_secrets(&query).raw().await?)?;
                self.confine_page(&mut page);
                Ok(page)
            }
            ToolName::SecretMetadata => {
                let a: tools::PathArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                body(client.secret_metadata(&a.path).raw().await?)
            }
            ToolName::SecretVersions => {
                let a: tools::PathArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                body(client.secret_versions(&a.path).raw().await?)
            }
            ToolName::ReadSecret => {
                let a: tools::ReadSecretArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                let mut read = body(client.read_secret(&a.path, a.version).raw().await?)?;
                let reveal = mask::should_reveal(self.inner.options.allow_reveal, a.reveal);
                mask::mask_read(&mut read, reveal);
                Ok(read)
            }
            ToolName::WriteSecret => {
                let a: tools::WriteSecretArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                let secret_type = match a.secret_type.as_deref() {
                    None => None,
                    Some(t) => Some(SecretType::parse(t).ok_or_else(|| {
                        ToolError::new(
                            "validation_error",
                            "invalid argument `secret_type`: expected kv, password, certificate, ssh_key or api_key",
                        )
                    })?),
                };
                let request = WriteSecretRequest {
                    data: a.data,
                    secret_type,
                    metadata: a
                        .metadata
                        .map(|m| convert::<SecretMetadata>(m, "metadata"))
                        .transpose()?,
                    options: a
                        .options
                        .map(|o| convert::<SecretOptions>(o, "options"))
                        .transpose()?,
                };
                let written = body(client.write_secret(&a.path, &request).raw().await?)?;
                Ok(without_values(written))
            }
            ToolName::PatchSecretMetadata => {
                let a: tools::PatchSecretArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                let request = PatchSecretRequest {
                    metadata: a
                        .metadata
                        .map(|m| convert::<SecretMetadata>(m, "metadata"))
                        .transpose()?,
                    options: a
                        .options
                        .map(|o| convert::<SecretOptions>(o, "options"))
                        .transpose()?,
                };
                body(client.patch_secret(&a.path, &request).raw().await?)
            }
            ToolName::DeleteSecret => {
                let a: tools::PathArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                client
                    .delete_secret(&a.path, DeleteMode::Soft)
                    .raw()
                    .await?;
                Ok(json!({"path": a.path, "deleted": true, "restorable": true}))
            }
            ToolName::RestoreSecret => {
                let a: tools::PathArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                body(client.restore_secret(&a.path).raw().await?)
            }
            ToolName::RotateSecret => {
                let a: tools::RotateSecretArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                let request = RotateSecretRequest {
                    reason: a.reason,
                    new_value: a.new_value,
                    grace_period: a.grace_period,
                };
                let rotated = body(client.rotate_secret(&a.path, &request).raw().await?)?;
                Ok(without_values(rotated))
            }
            ToolName::ExpiringSecrets => {
                let a: tools::ExpiringArgs = parse_args(args)?;
                let prefix = match confinement.list_prefix(a.prefix.as_deref()) {
                    ListPrefix::Ask(prefix) => prefix,
                    ListPrefix::Nothing => return Ok(empty_page()),
                };
                let query = ExpiringQuery {
                    days: a.days,
                    prefix,
                    limit: a.limit,
                    cursor: a.cursor,
                };
                let mut page = body(client.expiring_secrets(&query).raw().await?)?;
                self.confine_page(&mut page);
                Ok(page)
            }
            ToolName::AuditTrail => {
                let a: tools::AuditTrailArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                body(
                    client
                        .audit_trail(&a.path, a.limit, a.cursor.as_deref())
                        .raw()
                        .await?,
                )
            }
            ToolName::TestPolicy => {
                let a: tools::TestPolicyArgs = parse_args(args)?;
                self.check_path(&a.path)?;
                let request = PolicyTestRequest {
                    path: a.path,
                    permission: a.permission,
                    identity_id: a.identity_id,
                    groups: a.groups,
                };
                body(client.test_policy(&request).raw().await?)
            }
            ToolName::RotationDue => {
                let a: tools::RotationDueArgs = parse_args(args)?;
                let mut page = body(
                    client
                        .rotation_due(a.within_hours, a.limit, a.cursor.as_deref())
                        .raw()
                        .await?,
                )?;
                self.confine_page(&mut page);
                Ok(page)
            }
            // Certificates and leases have no secret path, so `--paths` does not apply to them;
            // the token's scopes (pki:*, dynamic:*) do.
            ToolName::ListCertificates => {
                let a: tools::ListCertificatesArgs = parse_args(args)?;
                let filter = CertificateFilter {
                    ca_id: a.ca_id,
                    status: a.status,
                    expiring_within: a.expiring_within,
                };
                body(
                    client
                        .list_certificates(&filter, a.limit, a.cursor.as_deref())
                        .raw()
                        .await?,
                )
            }
            ToolName::IssueCertificate => {
                let a: tools::IssueCertificateArgs = parse_args(args)?;
                let request = IssueCertificateRequest {
                    ca_id: a.ca_id,
                    common_name: a.common_name,
                    sans: a.sans,
                    validity_days: None,
                    ttl: a.ttl,
                    key_type: a.key_type,
                    usage: a.usage,
                    path: None,
                };
                let mut issued = body(client.issue_certificate(&request).raw().await?)?;
                let reveal = mask::should_reveal(self.inner.options.allow_reveal, a.reveal);
                mask::mask_fields(&mut issued, &["private_key"], reveal);
                Ok(issued)
            }
            ToolName::ListLeases => {
                let a: tools::ListLeasesArgs = parse_args(args)?;
                let filter = LeaseFilter {
                    engine: a.engine,
                    role: a.role,
                    identity: None,
                    live: a.live_only,
                };
                body(
                    client
                        .list_leases(&filter, a.limit, a.cursor.as_deref())
                        .raw()
                        .await?,
                )
            }
            ToolName::DynamicCredentials => {
                let a: tools::DynamicCredentialsArgs = parse_args(args)?;
                let request = CredsRequest {
                    ttl: a.ttl,
                    public_key: None,
                };
                let mut lease = body(
                    client
                        .dynamic_creds(&a.engine, &a.role, &request)
                        .raw()
                        .await?,
                )?;
                let reveal = mask::should_reveal(self.inner.options.allow_reveal, a.reveal);
                mask::mask_read(&mut lease, reveal);
                Ok(lease)
            }
            ToolName::RevokeLease => {
                let a: tools::LeaseArgs = parse_args(args)?;
                body(client.revoke_lease(&a.lease_id).raw().await?)
            }
        }
    }

    /// Filters a `{"secrets": [...]}` page to the confined paths; the server's total no longer
    /// applies when anything may have been filtered.
    fn confine_page(&self, page: &mut Value) {
        if !self.inner.confinement.is_confined() {
            return;
        }
        self.inner.confinement.filter_list(page, "secrets");
        if let Some(obj) = page.as_object_mut() {
            obj.remove("total_count");
        }
    }

    /// The resource of one secret: metadata and field names, values always masked.
    async fn read_secret_resource(
        &self,
        uri: &str,
        client_info: Option<&Implementation>,
    ) -> Result<Value, ToolError> {
        let path = uri
            .strip_prefix(RESOURCE_PREFIX)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                ToolError::new(
                    "invalid_path",
                    format!("not a ScaiVault secret resource (expected {RESOURCE_PREFIX}<path>)"),
                )
            })?;
        self.check_path(path)?;
        let client = self.client_for(client_info);
        let mut read = body(client.read_secret(path, None).raw().await?)?;
        // A resource read cannot ask for values: always masked.
        mask::mask_read(&mut read, false);
        Ok(read)
    }
}

fn empty_page() -> Value {
    json!({"secrets": [], "has_more": false})
}

/// A write or rotation response without any `data`/`new_value` the server might add later:
/// values the agent wrote are never echoed back.
fn without_values(mut body: Value) -> Value {
    if let Some(obj) = body.as_object_mut() {
        obj.remove("data");
        obj.remove("new_value");
        obj.remove("value");
    }
    body
}

fn success(value: Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(value);
    result
}

const INSTRUCTIONS: &str = "ScaiVault secrets over MCP. Tools list, inspect, read (values masked \
unless the operator allowed revealing and the call passes reveal: true), write, rotate and \
delete secrets through the ScaiVault API with this server's token; policies, scopes and the \
audit trail apply. Secrets are also resources: scaivault://secrets/{path}.";

impl ServerHandler for VaultMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("scaivault-mcp", VERSION).with_title("ScaiVault"))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some(tool) = ToolName::parse(&request.name) else {
            return Err(McpError::invalid_params(
                format!("unknown tool {:?}", request.name),
                None,
            ));
        };
        let info = context.client_info();
        let result = match self.run_tool(tool, request.arguments, info.as_ref()).await {
            Ok(value) => success(value),
            Err(error) => error.into_result(),
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let cursor = request.and_then(|r| r.cursor);
        let prefix = match self.inner.confinement.list_prefix(None) {
            ListPrefix::Ask(prefix) => prefix,
            ListPrefix::Nothing => return Ok(ListResourcesResult::default()),
        };
        let client = self.client_for(context.client_info().as_ref());
        let query = ListSecretsQuery {
            prefix,
            limit: Some(200),
            cursor,
            ..Default::default()
        };
        let page = client.list_secrets(&query).await.map_err(|e| {
            McpError::internal_error(format!("{}: {}", e.code(), e.message()), None)
        })?;
        let resources = page
            .secrets
            .iter()
            .filter(|s| self.inner.confinement.allows(&s.path))
            .map(|s| {
                let mut resource = Resource::new(format!("{RESOURCE_PREFIX}{}", s.path), &s.path)
                    .with_mime_type("application/json");
                if let Some(description) = &s.description {
                    resource = resource.with_description(description);
                }
                resource
            })
            .collect();
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = page.cursor.filter(|_| page.has_more);
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let template = ResourceTemplate::new(format!("{RESOURCE_PREFIX}{{+path}}"), "secret")
            .with_title("ScaiVault secret")
            .with_description(
                "A secret's metadata and field names (values masked) by path, e.g. scaivault://secrets/app/db/credentials",
            )
            .with_mime_type("application/json");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let info = context.client_info();
        match self.read_secret_resource(&request.uri, info.as_ref()).await {
            Ok(value) => {
                let text = serde_json::to_string_pretty(&value).unwrap_or_default();
                let contents =
                    ResourceContents::text(text, request.uri).with_mime_type("application/json");
                Ok(ReadResourceResult::new(vec![contents]).into())
            }
            Err(e) if e.code.ends_with("not_found") => Err(McpError::resource_not_found(
                format!("{}: {}", e.code, e.message),
                Some(json!({"uri": request.uri, "code": e.code})),
            )),
            Err(e) => Err(McpError::invalid_params(
                format!("{}: {}", e.code, e.message),
                Some(json!({"uri": request.uri, "code": e.code})),
            )),
        }
    }
}

/// Serves MCP on stdin/stdout until the client closes it. Nothing but the protocol is written
/// to stdout.
pub async fn serve_stdio(server: VaultMcp) -> Result<(), String> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP initialization failed: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("MCP server stopped: {e}"))?;
    Ok(())
}

/// Whether `--http ADDR` may bind `addr` without `--allow-remote`.
pub fn is_local(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Serves MCP over Streamable HTTP at `http://ADDR/mcp` until `shutdown` resolves; `bound` is
/// called once with the bound address (before the first request is accepted).
pub async fn serve_http(
    server: VaultMcp,
    addr: SocketAddr,
    allow_remote: bool,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };

    if !allow_remote && !is_local(&addr) {
        return Err(format!(
            "refusing to listen on {addr}: not a loopback address. Every HTTP caller would act \
             with this process's ScaiVault token; put it behind an authenticating proxy and pass \
             --allow-remote if that is really intended"
        ));
    }
    let mut config = StreamableHttpServerConfig::default();
    if allow_remote {
        // The Host check guards a loopback listener against DNS rebinding; a remote listener
        // is reached under names we cannot know (the proxy in front of it decides).
        config = config.disable_allowed_hosts();
    }
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("could not listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("could not listen on {addr}: {e}"))?;
    bound(local);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_the_client_safely() {
        let info = Implementation::new("Claude Desktop", "1.2.3");
        assert_eq!(
            user_agent(Some(&info)),
            format!("scaivault-mcp/{VERSION} (Claude_Desktop/1.2.3)")
        );
        let odd = Implementation::new("a\r\nb(é)/c", "");
        let ua = user_agent(Some(&odd));
        assert!(ua.is_ascii() && !ua.contains('\n'), "{ua}");
        assert_eq!(ua, format!("scaivault-mcp/{VERSION} (a__b____c/)"));
        assert_eq!(user_agent(None), format!("scaivault-mcp/{VERSION}"));
    }

    #[test]
    fn argument_errors_never_quote_values() {
        let args = json!({"path": "a", "data": "hunter2-secret"});
        let err = parse_args::<tools::WriteSecretArgs>(args.as_object().cloned()).unwrap_err();
        assert_eq!(err.code, "validation_error");
        assert!(err.message.contains("`data`"), "{err:?}");
        assert!(!err.message.contains("hunter2"), "{err:?}");
        let err = parse_args::<tools::PathArgs>(None).unwrap_err();
        assert!(err.message.contains("missing field `path`"), "{err:?}");
        let err = parse_args::<tools::PathArgs>(json!({"path": "a", "x": 1}).as_object().cloned())
            .unwrap_err();
        assert!(err.message.contains("unknown field `x`"), "{err:?}");
    }

    #[test]
    fn tool_errors_are_structured() {
        let result = ToolError::new("secret_not_found", "no secret at app/x").into_result();
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            result.structured_content,
            Some(json!({"error": {"code": "secret_not_found", "message": "no secret at app/x"}}))
        );
    }

    #[test]
    fn read_only_removes_every_mutating_tool() {
        let client = Client::new("http://127.0.0.1:9").unwrap();
        let options = |read_only| Options {
            read_only,
            allow_reveal: false,
            paths: vec![],
        };
        let all = VaultMcp::new(client.clone(), options(false))
            .unwrap()
            .tools();
        assert_eq!(all.len(), ToolName::ALL.len());
        let ro = VaultMcp::new(client, options(true)).unwrap().tools();
        let names: Vec<&str> = ro.iter().map(|t| t.name.as_ref()).collect();
        assert!(!names.contains(&"write_secret") && !names.contains(&"delete_secret"));
        assert!(
            ro.iter()
                .all(|t| { t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true) })
        );
        assert!(names.contains(&"read_secret"));
    }

    #[test]
    fn only_loopback_is_local() {
        assert!(is_local(&"127.0.0.1:0".parse().unwrap()));
        assert!(is_local(&"[::1]:8080".parse().unwrap()));
        assert!(!is_local(&"0.0.0.0:8080".parse().unwrap()));
        assert!(!is_local(&"192.168.1.5:8080".parse().unwrap()));
    }

    #[tokio::test]
    async fn read_only_and_confinement_refuse_before_any_request() {
        // Port 9 has nothing listening: a request would fail with connection_failed.
        let client = Client::new("http://127.0.0.1:9").unwrap();
        let server = VaultMcp::new(
            client,
            Options {
                read_only: true,
                allow_reveal: false,
                paths: vec!["app/**".into()],
            },
        )
        .unwrap();
        let args = json!({"path": "app/x", "data": {"k": "v"}})
            .as_object()
            .cloned();
        let err = server
            .run_tool(ToolName::WriteSecret, args, None)
            .await
            .unwrap_err();
        assert_eq!(err.code, "access_denied");
        let args = json!({"path": "other/x"}).as_object().cloned();
        let err = server
            .run_tool(ToolName::ReadSecret, args, None)
            .await
            .unwrap_err();
        assert_eq!(err.code, "access_denied");
        assert!(err.message.contains("--paths app/**"), "{err:?}");
        let args = json!({"prefix": "other/"}).as_object().cloned();
        let page = server
            .run_tool(ToolName::ListSecrets, args, None)
            .await
            .unwrap();
        assert_eq!(page, empty_page());
        let args = json!({"path": "app/x"}).as_object().cloned();
        let err = server
            .run_tool(ToolName::ReadSecret, args, None)
            .await
            .unwrap_err();
        assert_eq!(err.code, "connection_failed");
    }
}
