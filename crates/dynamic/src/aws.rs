//! The `aws` engine type: IAM users with access keys, or STS assumed-role and federation-token
//! credentials.
//!
//! Engine settings: `access_key_id`, `secret_access_key` (sealed), `region` (default
//! `us-east-1`), `endpoint_url` (the IAM endpoint; default AWS's global
//! `https://iam.amazonaws.com`; moto or LocalStack in tests), `sts_endpoint_url` (default
//! `endpoint_url` when that is given, else `https://sts.{region}.amazonaws.com`). An update
//! keeps what it does not name.
//!
//! Role settings: `credential_type` (`iam_user`, the default, `assumed_role` or
//! `federation_token`), `policy_arns` (managed policies), `policy_document` (an inline JSON
//! policy, as a string or an object), `role_arns` (`assumed_role`: exactly one role to
//! assume), `iam_groups` (`iam_user`: groups to add the user to).
//!
//! - `iam_user`: CreateUser (path `/scaivault/`, the lease's user name), PutUserPolicy /
//!   AttachUserPolicy / AddUserToGroup, CreateAccessKey. Renewable as a lease: the user lives
//!   until revoked, which the lease's expiry does, so renewing only moves that. Revocation deletes the access keys, inline and
//!   attached policies, group memberships and the user; what is gone already counts as done.
//! - `assumed_role` (AssumeRole) and `federation_token` (GetFederationToken): STS session
//!   credentials for the lease's TTL, which AWS bounds to 15 minutes .. 12 hours (a shorter
//!   lease is refused, a longer one gets 12 hours). STS credentials cannot be withdrawn:
//!   revoking succeeds and they end at their expiration, which is the lease's end.
//!
//! Why not `aws-sdk-iam` / `aws-sdk-sts`: those pull the whole smithy runtime (hyper 0.14
//! client, its own TLS stack, a second set of crate versions the workspace's
//! `multiple-versions = "deny"` refuses) for eleven Query calls. IAM and STS speak the AWS
//! Query protocol: a form-encoded POST answered in XML. So requests are signed with
//! `aws-sigv4`, AWS's own Signature V4 implementation (the one the SDKs use), sent with the
//! workspace's `reqwest` (rustls), and the few fields needed are read from the XML with
//! `quick-xml`.
//!
//! `rotate_root` creates a new access key for the engine's own IAM user (GetUser without a
//! name says who that is), switches to it and deletes the old one; the new key id is the
//! engine's new shown config ([`crate::Backend::current_config`]).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{Backend, CreateRequest, Credential, DynamicError, EngineKind, PreparedEngine};

const IAM_VERSION: &str = "2010-05-08";
const STS_VERSION: &str = "2011-06-15";
const DEFAULT_REGION: &str = "us-east-1";
const USER_PATH: &str = "/scaivault/";
/// STS session lengths AWS accepts (AssumeRole's maximum depends on the role; 12 hours is the
/// highest any role allows).
const STS_MIN_SECONDS: i64 = 900;
const STS_MAX_SECONDS: i64 = 43_200;
const ENGINE_FIELDS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "region",
    "endpoint_url",
    "sts_endpoint_url",
];
const ROLE_FIELDS: &[&str] = &[
    "credential_type",
    "policy_arns",
    "policy_document",
    "role_arns",
    "iam_groups",
];

pub(crate) fn prepare_engine(
    input: &Value,
    existing: Option<(&Value, &str)>,
) -> Result<PreparedEngine, DynamicError> {
    let input = input
        .as_object()
        .ok_or_else(|| DynamicError::InvalidConfig("settings must be a JSON object".into()))?;
    if let Some(key) = input.keys().find(|k| !ENGINE_FIELDS.contains(&k.as_str())) {
        return Err(DynamicError::InvalidConfig(format!(
            "unknown field {key} for an aws engine ({})",
            ENGINE_FIELDS.join(", ")
        )));
    }
    let given = |name: &str| -> Result<Option<String>, DynamicError> {
        match input.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(DynamicError::InvalidConfig(format!(
                "{name} must be a non-empty string"
            ))),
        }
    };
    let current = |name: &str| {
        existing
            .and_then(|(config, _)| config.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let access_key_id = given("access_key_id")?.or_else(|| current("access_key_id"));
    let secret = match given("secret_access_key")? {
        Some(secret) => Some(Zeroizing::new(secret)),
        // A new access key id needs its own secret key.
        None if given("access_key_id")?.is_some_and(|id| Some(id) != current("access_key_id")) => {
            None
        }
        None => existing.map(|(_, secret)| Zeroizing::new(secret.to_owned())),
    };
    let (Some(access_key_id), Some(secret)) = (access_key_id, secret) else {
        return Err(DynamicError::InvalidConfig(
            "access_key_id and secret_access_key are required".into(),
        ));
    };
    let region = given("region")?
        .or_else(|| current("region"))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let endpoint_url = given("endpoint_url")?.or_else(|| current("endpoint_url"));
    let sts_endpoint_url = given("sts_endpoint_url")?.or_else(|| current("sts_endpoint_url"));
    for url in [&endpoint_url, &sts_endpoint_url].into_iter().flatten() {
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| DynamicError::InvalidConfig(format!("{url} is not a URL")))?;
        if !["http", "https"].contains(&parsed.scheme()) {
            return Err(DynamicError::InvalidConfig(format!(
                "{url}: endpoints are http or https URLs"
            )));
        }
    }
    let mut config = json!({ "access_key_id": access_key_id, "region": region });
    if let Some(url) = endpoint_url {
        config["endpoint_url"] = Value::String(url);
    }
    if let Some(url) = sts_endpoint_url {
        config["sts_endpoint_url"] = Value::String(url);
    }
    Ok(PreparedEngine { config, secret })
}

pub(crate) fn validate_role(role: &Value) -> Result<Value, DynamicError> {
    let input = role
        .as_object()
        .ok_or_else(|| DynamicError::InvalidRole("settings must be a JSON object".into()))?;
    if let Some(key) = input.keys().find(|k| !ROLE_FIELDS.contains(&k.as_str())) {
        return Err(DynamicError::InvalidRole(format!(
            "unknown field {key} for an aws role ({})",
            ROLE_FIELDS.join(", ")
        )));
    }
    let credential_type = match input.get("credential_type") {
        None | Some(Value::Null) => "iam_user",
        Some(Value::String(s))
            if ["iam_user", "assumed_role", "federation_token"].contains(&s.as_str()) =>
        {
            s.as_str()
        }
        Some(_) => {
            return Err(DynamicError::InvalidRole(
                "credential_type must be iam_user, assumed_role or federation_token".into(),
            ));
        }
    };
    let policy_arns = strings(input.get("policy_arns"), "policy_arns")?;
    if let Some(bad) = policy_arns.iter().find(|a| !a.starts_with("arn:")) {
        return Err(DynamicError::InvalidRole(format!(
            "policy_arns: {bad} is not an ARN"
        )));
    }
    let role_arns = strings(input.get("role_arns"), "role_arns")?;
    let iam_groups = strings(input.get("iam_groups"), "iam_groups")?;
    let policy_document = match input.get("policy_document") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let parsed: Value = serde_json::from_str(s).map_err(|e| {
                DynamicError::InvalidRole(format!("policy_document is not JSON: {e}"))
            })?;
            Some(parsed)
        }
        Some(object @ Value::Object(_)) => Some(object.clone()),
        Some(_) => {
            return Err(DynamicError::InvalidRole(
                "policy_document must be a JSON policy (object or string)".into(),
            ));
        }
    };
    if policy_document
        .as_ref()
        .is_some_and(|p| p.get("Statement").is_none())
    {
        return Err(DynamicError::InvalidRole(
            "policy_document has no Statement".into(),
        ));
    }
    match credential_type {
        "iam_user" => {
            if policy_arns.is_empty() && policy_document.is_none() && iam_groups.is_empty() {
                return Err(DynamicError::InvalidRole(
                    "an iam_user role needs policy_arns, policy_document or iam_groups".into(),
                ));
            }
            if !role_arns.is_empty() {
                return Err(DynamicError::InvalidRole(
                    "role_arns is for assumed_role roles".into(),
                ));
            }
        }
        "assumed_role" => {
            if role_arns.len() != 1 || !role_arns[0].starts_with("arn:") {
                return Err(DynamicError::InvalidRole(
                    "an assumed_role role needs exactly one role ARN in role_arns".into(),
                ));
            }
        }
        _ => {
            if policy_arns.is_empty() && policy_document.is_none() {
                return Err(DynamicError::InvalidRole(
                    "a federation_token role needs policy_arns or policy_document (the \
                     session gets no permission beyond them)"
                        .into(),
                ));
            }
            if !role_arns.is_empty() {
                return Err(DynamicError::InvalidRole(
                    "role_arns is for assumed_role roles".into(),
                ));
            }
        }
    }
    if credential_type != "iam_user" && !iam_groups.is_empty() {
        return Err(DynamicError::InvalidRole(
            "iam_groups is for iam_user roles".into(),
        ));
    }
    Ok(json!({
        "credential_type": credential_type,
        "policy_arns": policy_arns,
        "policy_document": policy_document,
        "role_arns": role_arns,
        "iam_groups": iam_groups,
    }))
}

fn strings(value: Option<&Value>, name: &str) -> Result<Vec<String>, DynamicError> {
    let bad = || DynamicError::InvalidRole(format!("{name} must be a list of strings"));
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        // One value is accepted as a list of one.
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// The engine's own key pair.
struct Keys {
    access_key_id: String,
    secret: Zeroizing<String>,
    rotated: bool,
}

/// Where and how to reach one AWS service.
struct Service {
    url: String,
    /// The signing region (IAM's global endpoint signs as us-east-1).
    region: String,
    /// The signing name.
    name: &'static str,
    /// The Query API version.
    version: &'static str,
}

/// An open `aws` engine.
pub(crate) struct Aws {
    http: reqwest::Client,
    iam: Service,
    sts: Service,
    config: Value,
    keys: Mutex<Keys>,
}

/// An AWS error answer, or a failure to get one.
enum CallError {
    /// Not reached, or no readable answer.
    Network(String),
    /// AWS answered with an error code.
    Aws {
        status: u16,
        code: String,
        message: String,
    },
}

impl CallError {
    fn is(&self, wanted: &str) -> bool {
        matches!(self, Self::Aws { code, .. } if code == wanted)
    }

    fn into_dynamic(self, action: &str) -> DynamicError {
        match self {
            Self::Network(e) => DynamicError::Unreachable(format!("{action}: {e}")),
            // The engine's own credential is refused: the engine cannot work at all.
            Self::Aws {
                status,
                code,
                message,
            } if status == 403
                && matches!(
                    code.as_str(),
                    "InvalidClientTokenId"
                        | "SignatureDoesNotMatch"
                        | "ExpiredToken"
                        | "InvalidAccessKeyId"
                ) =>
            {
                DynamicError::Unreachable(format!("{action}: {code}: {message}"))
            }
            // AWS is overloaded or failing: transient, worth a retry.
            Self::Aws {
                status,
                code,
                message,
            } if status >= 500 || matches!(code.as_str(), "Throttling" | "ServiceUnavailable") => {
                DynamicError::Unreachable(format!("{action}: {code}: {message}"))
            }
            Self::Aws { code, message, .. } => {
                DynamicError::Refused(format!("{action}: {code}: {message}"))
            }
        }
    }
}

impl Aws {
    pub(crate) fn open(config: &Value, secret: &str) -> Result<Self, DynamicError> {
        let field = |name: &str| config.get(name).and_then(Value::as_str).map(str::to_owned);
        let access_key_id = field("access_key_id")
            .ok_or_else(|| DynamicError::InvalidConfig("access_key_id is missing".into()))?;
        let region = field("region").unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let endpoint = field("endpoint_url");
        let (iam_url, iam_region) = match &endpoint {
            Some(url) => (url.clone(), region.clone()),
            None => (
                "https://iam.amazonaws.com/".to_owned(),
                DEFAULT_REGION.to_owned(),
            ),
        };
        let sts_url = field("sts_endpoint_url")
            .or(endpoint)
            .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com/"));
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| DynamicError::InvalidConfig(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            iam: Service {
                url: iam_url,
                region: iam_region,
                name: "iam",
                version: IAM_VERSION,
            },
            sts: Service {
                url: sts_url,
                region,
                name: "sts",
                version: STS_VERSION,
            },
            config: config.clone(),
            keys: Mutex::new(Keys {
                access_key_id,
                secret: Zeroizing::new(secret.to_owned()),
                rotated: false,
            }),
        })
    }

    fn keys(&self) -> Result<(String, Zeroizing<String>), DynamicError> {
        self.keys
            .lock()
            .map(|k| (k.access_key_id.clone(), k.secret.clone()))
            .map_err(|_| DynamicError::Refused("the engine's key lock is poisoned".into()))
    }

    async fn iam(&self, action: &str, params: &[(&str, &str)]) -> Result<String, CallError> {
        self.call(&self.iam, action, params).await
    }

    async fn sts(&self, action: &str, params: &[(&str, &str)]) -> Result<String, CallError> {
        self.call(&self.sts, action, params).await
    }

    /// One Query-protocol call, signed with SigV4 with the engine's current key; the XML
    /// answer on success.
    async fn call(
        &self,
        service: &Service,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String, CallError> {
        let (access_key_id, secret) = self.keys().map_err(|e| CallError::Network(e.to_string()))?;
        let body = form_body(action, service.version, params);
        let headers = sign_request(service, &body, (&access_key_id, &secret))
            .map_err(|e| CallError::Network(format!("signing: {e}")))?;
        let url = service.url.as_str();
        let mut request = self.http.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError::Network(e.without_url().to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| CallError::Network(e.without_url().to_string()))?;
        if status.is_success() {
            return Ok(text);
        }
        let code = first(&text, "Code");
        let message = first(&text, "Message").unwrap_or_default();
        match code {
            Some(code) => Err(CallError::Aws {
                status: status.as_u16(),
                code,
                message,
            }),
            None => Err(CallError::Network(format!(
                "HTTP {status} without an AWS error"
            ))),
        }
    }

    /// Every page of a List call's values of `tag`.
    async fn list_all(
        &self,
        action: &str,
        user: &str,
        tag: &str,
    ) -> Result<Vec<String>, CallError> {
        let mut values = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut params = vec![("UserName", user)];
            if let Some(m) = &marker {
                params.push(("Marker", m.as_str()));
            }
            let xml = self.iam(action, &params).await?;
            values.extend(all(&xml, tag));
            match (first(&xml, "IsTruncated").as_deref(), first(&xml, "Marker")) {
                (Some("true"), Some(next)) => marker = Some(next),
                _ => return Ok(values),
            }
        }
    }

    async fn create_iam_user(
        &self,
        role: &Value,
        username: &str,
        handle: &Value,
    ) -> Result<Credential, DynamicError> {
        let created = self
            .iam(
                "CreateUser",
                &[
                    ("UserName", username),
                    ("Path", USER_PATH),
                    ("Tags.member.1.Key", "scaivault-lease-user"),
                    ("Tags.member.1.Value", username),
                ],
            )
            .await;
        // A retried creation finds the user it made before: carry on with it.
        match created {
            Err(e) if e.is("EntityAlreadyExists") => {}
            other => {
                other.map_err(|e| e.into_dynamic("CreateUser"))?;
            }
        }
        if let Some(document) = role.get("policy_document").filter(|v| !v.is_null()) {
            let document = document.to_string();
            self.iam(
                "PutUserPolicy",
                &[
                    ("UserName", username),
                    ("PolicyName", "scaivault-inline"),
                    ("PolicyDocument", &document),
                ],
            )
            .await
            .map_err(|e| e.into_dynamic("PutUserPolicy"))?;
        }
        for arn in role_strings(role, "policy_arns") {
            self.iam(
                "AttachUserPolicy",
                &[("UserName", username), ("PolicyArn", &arn)],
            )
            .await
            .map_err(|e| e.into_dynamic("AttachUserPolicy"))?;
        }
        for group in role_strings(role, "iam_groups") {
            self.iam(
                "AddUserToGroup",
                &[("UserName", username), ("GroupName", &group)],
            )
            .await
            .map_err(|e| e.into_dynamic("AddUserToGroup"))?;
        }
        let xml = self
            .iam("CreateAccessKey", &[("UserName", username)])
            .await
            .map_err(|e| e.into_dynamic("CreateAccessKey"))?;
        let xml = Zeroizing::new(xml);
        let (Some(access_key_id), Some(secret)) =
            (first(&xml, "AccessKeyId"), first(&xml, "SecretAccessKey"))
        else {
            return Err(DynamicError::Refused(
                "CreateAccessKey: no access key in the answer".into(),
            ));
        };
        let mut data = Map::new();
        data.insert("access_key_id".into(), json!(access_key_id));
        data.insert("secret_access_key".into(), Value::String(secret));
        data.insert("username".into(), json!(username));
        let mut handle = handle.clone();
        if let Some(map) = handle.as_object_mut() {
            map.insert("access_key_id".into(), json!(access_key_id));
        }
        // Renewable as a lease: the user lives until revoked, so renewing only moves the
        // revocation (the server's bookkeeping); AWS has nothing to extend.
        Ok(Credential {
            data,
            handle,
            renewable: true,
        })
    }

    async fn create_sts(
        &self,
        role: &Value,
        username: &str,
        request: &CreateRequest<'_>,
        assume: bool,
    ) -> Result<Credential, DynamicError> {
        let ttl = (request.expires_at - request.now).whole_seconds();
        if ttl < STS_MIN_SECONDS {
            return Err(DynamicError::InvalidRequest(format!(
                "STS credentials last at least 15 minutes: ask for a ttl of 15m or more \
                 ({ttl} s asked)"
            )));
        }
        let duration = ttl.clamp(STS_MIN_SECONDS, STS_MAX_SECONDS).to_string();
        let document = role
            .get("policy_document")
            .filter(|v| !v.is_null())
            .map(Value::to_string);
        let arns = role_strings(role, "policy_arns");
        let arn_keys: Vec<String> = (1..=arns.len())
            .map(|i| format!("PolicyArns.member.{i}.arn"))
            .collect();
        let name;
        let (action, mut params) = if assume {
            let role_arn = role_strings(role, "role_arns")
                .into_iter()
                .next()
                .ok_or_else(|| DynamicError::InvalidRequest("the role names no role ARN".into()))?;
            name = role_arn;
            (
                "AssumeRole",
                vec![
                    ("RoleArn", name.as_str()),
                    ("RoleSessionName", username),
                    ("DurationSeconds", duration.as_str()),
                ],
            )
        } else {
            // GetFederationToken names are 2..32 characters: the lease part of the user name.
            let start = username.len().saturating_sub(32);
            name = username[start..].trim_start_matches('_').to_owned();
            (
                "GetFederationToken",
                vec![
                    ("Name", name.as_str()),
                    ("DurationSeconds", duration.as_str()),
                ],
            )
        };
        if let Some(document) = &document {
            params.push(("Policy", document.as_str()));
        }
        for (key, arn) in arn_keys.iter().zip(&arns) {
            params.push((key.as_str(), arn.as_str()));
        }
        let xml = self
            .sts(action, &params)
            .await
            .map_err(|e| e.into_dynamic(action))?;
        let xml = Zeroizing::new(xml);
        let (Some(access_key_id), Some(secret), Some(token), Some(expiration)) = (
            first(&xml, "AccessKeyId"),
            first(&xml, "SecretAccessKey"),
            first(&xml, "SessionToken"),
            first(&xml, "Expiration"),
        ) else {
            return Err(DynamicError::Refused(format!(
                "{action}: no credentials in the answer"
            )));
        };
        let mut data = Map::new();
        data.insert("access_key_id".into(), json!(access_key_id));
        data.insert("secret_access_key".into(), Value::String(secret));
        data.insert("session_token".into(), Value::String(token));
        data.insert("expiration".into(), json!(expiration));
        if let Some(arn) = first(&xml, "Arn") {
            data.insert("arn".into(), json!(arn));
        }
        let mut handle = request.handle.clone();
        if let Some(map) = handle.as_object_mut() {
            map.insert("access_key_id".into(), json!(access_key_id));
        }
        Ok(Credential {
            data,
            handle,
            renewable: false,
        })
    }

    async fn revoke_iam_user(&self, username: &str) -> Result<(), DynamicError> {
        // Each step treats NoSuchEntity as done: the user (or the part) is gone already.
        let gone = |e: &CallError| e.is("NoSuchEntity");
        macro_rules! step {
            ($call:expr, $action:literal) => {
                match $call.await {
                    Ok(v) => v,
                    Err(e) if gone(&e) => return Ok(()),
                    Err(e) => return Err(e.into_dynamic($action)),
                }
            };
        }
        let keys = step!(
            self.list_all("ListAccessKeys", username, "AccessKeyId"),
            "ListAccessKeys"
        );
        for key in keys {
            match self
                .iam(
                    "DeleteAccessKey",
                    &[("UserName", username), ("AccessKeyId", &key)],
                )
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e.into_dynamic("DeleteAccessKey")),
            }
        }
        let policies = step!(
            self.list_all("ListUserPolicies", username, "member"),
            "ListUserPolicies"
        );
        for policy in policies {
            match self
                .iam(
                    "DeleteUserPolicy",
                    &[("UserName", username), ("PolicyName", &policy)],
                )
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e.into_dynamic("DeleteUserPolicy")),
            }
        }
        let attached = step!(
            self.list_all("ListAttachedUserPolicies", username, "PolicyArn"),
            "ListAttachedUserPolicies"
        );
        for arn in attached {
            match self
                .iam(
                    "DetachUserPolicy",
                    &[("UserName", username), ("PolicyArn", &arn)],
                )
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e.into_dynamic("DetachUserPolicy")),
            }
        }
        let groups = step!(
            self.list_all("ListGroupsForUser", username, "GroupName"),
            "ListGroupsForUser"
        );
        for group in groups {
            match self
                .iam(
                    "RemoveUserFromGroup",
                    &[("UserName", username), ("GroupName", &group)],
                )
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e.into_dynamic("RemoveUserFromGroup")),
            }
        }
        match self.iam("DeleteUser", &[("UserName", username)]).await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(e.into_dynamic("DeleteUser")),
        }
    }
}

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// A Query-protocol request body: `Action`, `Version` and the parameters, form-encoded as
/// the AWS SDKs do (everything but `A-Z a-z 0-9 - _ . ~` percent-encoded, space as `+`): moto
/// (and AWS front ends) may check the signature over a re-encoded body, so `*` in a policy
/// must be `%2A` as botocore writes it, not left bare as HTML forms allow.
fn form_body(action: &str, version: &str, params: &[(&str, &str)]) -> String {
    const VALUE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    let pairs = [("Action", action), ("Version", version)];
    pairs
        .iter()
        .chain(params)
        .map(|(k, v)| {
            let encode = |s: &str| utf8_percent_encode(s, VALUE).to_string().replace(' ', "+");
            format!("{}={}", encode(k), encode(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The headers of a SigV4-signed POST of `body` (content type, date, authorization).
/// Signed at the real time, not the server's (test-movable) clock: AWS refuses a signature
/// more than 15 minutes off its own clock.
#[allow(
    clippy::disallowed_methods,
    reason = "a SigV4 signature must carry the wall-clock time AWS checks it against"
)]
fn sign_request(
    service: &Service,
    body: &str,
    (access_key_id, secret): (&str, &str),
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity =
        Credentials::new(access_key_id, secret, None, None, "scaivault-engine").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&service.region)
        .name(service.name)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers = [("content-type", CONTENT_TYPE)];
    let signable = SignableRequest::new(
        "POST",
        service.url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let (signed, _) = instructions.into_parts();
    let mut out = vec![("content-type".to_owned(), CONTENT_TYPE.to_owned())];
    out.extend(
        signed
            .iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned())),
    );
    Ok(out)
}

fn role_strings(role: &Value, name: &str) -> Vec<String> {
    role.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The text of every element named `tag` (local name) in an XML answer, unescaped.
fn all(xml: &str, tag: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) if start.local_name().as_ref() == tag => {
                let Ok(raw) = reader.read_text(start.name()) else {
                    break;
                };
                if let Ok(text) = quick_xml::escape::unescape(&raw) {
                    out.push(text.trim().to_owned());
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

fn first(xml: &str, tag: &str) -> Option<String> {
    all(xml, tag).into_iter().next()
}

#[async_trait]
impl Backend for Aws {
    fn kind(&self) -> EngineKind {
        EngineKind::Aws
    }

    /// STS GetCallerIdentity with the engine's keys.
    async fn verify(&self) -> Result<(), DynamicError> {
        self.sts("GetCallerIdentity", &[])
            .await
            .map(|_| ())
            .map_err(|e| e.into_dynamic("GetCallerIdentity"))
    }

    async fn create(&self, request: &CreateRequest<'_>) -> Result<Credential, DynamicError> {
        let username = request
            .handle
            .get("username")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                DynamicError::InvalidRequest("the lease handle has no username".into())
            })?;
        match request
            .role
            .get("credential_type")
            .and_then(Value::as_str)
            .unwrap_or("iam_user")
        {
            "assumed_role" => self.create_sts(request.role, username, request, true).await,
            "federation_token" => {
                self.create_sts(request.role, username, request, false)
                    .await
            }
            _ => {
                self.create_iam_user(request.role, username, request.handle)
                    .await
            }
        }
    }

    async fn renew(
        &self,
        role: &Value,
        _handle: &Value,
        _expires_at: OffsetDateTime,
    ) -> Result<(), DynamicError> {
        match role
            .get("credential_type")
            .and_then(Value::as_str)
            .unwrap_or("iam_user")
        {
            // An IAM user has no expiry of its own: the lease's end is when it is revoked.
            "iam_user" => Ok(()),
            _ => Err(DynamicError::InvalidRequest(
                "STS credentials cannot be renewed: they end at their expiration".into(),
            )),
        }
    }

    async fn revoke(&self, role: &Value, handle: &Value) -> Result<(), DynamicError> {
        let kind = role
            .get("credential_type")
            .and_then(Value::as_str)
            .unwrap_or("iam_user");
        if kind != "iam_user" {
            // STS credentials cannot be withdrawn; they end at their expiration.
            return Ok(());
        }
        match handle.get("username").and_then(Value::as_str) {
            Some(username) => self.revoke_iam_user(username).await,
            None => Ok(()),
        }
    }

    async fn rotate_root(&self) -> Result<Zeroizing<String>, DynamicError> {
        let me = self
            .iam("GetUser", &[])
            .await
            .map_err(|e| e.into_dynamic("GetUser"))?;
        let user = first(&me, "UserName").ok_or_else(|| {
            DynamicError::Refused(
                "GetUser: the engine's key is not an IAM user's (root keys cannot be rotated)"
                    .into(),
            )
        })?;
        let xml = self
            .iam("CreateAccessKey", &[("UserName", &user)])
            .await
            .map_err(|e| e.into_dynamic("CreateAccessKey"))?;
        let xml = Zeroizing::new(xml);
        let (Some(new_id), Some(new_secret)) =
            (first(&xml, "AccessKeyId"), first(&xml, "SecretAccessKey"))
        else {
            return Err(DynamicError::Refused(
                "CreateAccessKey: no access key in the answer".into(),
            ));
        };
        let new_secret = Zeroizing::new(new_secret);
        let old_id = {
            let mut keys = self
                .keys
                .lock()
                .map_err(|_| DynamicError::Refused("the engine's key lock is poisoned".into()))?;
            let old = std::mem::replace(&mut keys.access_key_id, new_id);
            keys.secret = new_secret.clone();
            keys.rotated = true;
            old
        };
        // Signed with the new key: this also proves it works before the old one goes.
        self.iam(
            "DeleteAccessKey",
            &[("UserName", &user), ("AccessKeyId", &old_id)],
        )
        .await
        .map_err(|e| e.into_dynamic("DeleteAccessKey (the old key)"))?;
        Ok(new_secret)
    }

    fn current_config(&self) -> Option<Value> {
        let keys = self.keys.lock().ok()?;
        if !keys.rotated {
            return None;
        }
        let mut config = self.config.clone();
        config["access_key_id"] = Value::String(keys.access_key_id.clone());
        Some(config)
    }
}
