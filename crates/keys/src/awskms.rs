//! AWS KMS: the root key is a KMS key; data keys are wrapped with `Encrypt` and unwrapped with
//! `Decrypt`, each bound to its key id by the encryption context.
//!
//! The client comes from the official SDK (`aws-config`, `aws-sdk-kms`) with the standard
//! credential chain (environment, shared profile files, web identity, ECS container
//! credentials, EC2 instance metadata), bounded timeouts and the standard retry (3 attempts), so
//! a sealed server's retry loop never hangs on an unreachable endpoint.
//!
//! Errors: anything that may pass by itself (network, timeouts, 5xx, throttling, credentials
//! that could not be fetched yet) is [`CryptoError::Unavailable`]; anything the operator has to
//! fix (key missing, disabled, pending deletion, of the wrong kind, access denied, invalid
//! credentials) is [`CryptoError::Refused`]; a blob that KMS will not decrypt under our key and
//! context is [`CryptoError::OpenFailed`]. Messages carry the service's error code and message,
//! never credentials or key material.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use scaivault_crypto::{CryptoError, KeyProvider};
use zeroize::Zeroizing;

use crate::AwsKmsSettings;

/// The encryption context key that binds a wrapped data key to its key id.
pub const CONTEXT_KEY_ID: &str = "scaivault:key_id";
/// The encryption context key naming what the ciphertext is (always [`CONTEXT_PURPOSE_VALUE`]).
pub const CONTEXT_PURPOSE: &str = "scaivault:purpose";
/// The purpose of every ciphertext this provider makes: a wrapped data key.
pub const CONTEXT_PURPOSE_VALUE: &str = "data-key";

/// Time allowed to open a TCP/TLS connection to KMS.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for one attempt of a call (connect, send, response).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a whole call, retries and backoff included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call (the SDK's standard retry mode: exponential backoff with jitter).
pub const MAX_ATTEMPTS: u32 = 3;

pub struct AwsKmsProvider {
    client: Client,
    /// The key's ARN as DescribeKey returned it (an alias resolved once, at connect).
    key_arn: String,
}

impl std::fmt::Debug for AwsKmsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKmsProvider")
            .field("key_arn", &self.key_arn)
            .finish_non_exhaustive()
    }
}

impl AwsKmsProvider {
    /// Builds a client from the standard AWS chain and checks the key is usable.
    pub async fn connect(settings: &AwsKmsSettings) -> Result<Self, CryptoError> {
        Self::connect_with(settings, aws_config::defaults(BehaviorVersion::latest())).await
    }

    /// As [`AwsKmsProvider::connect`], from a prepared loader (e.g. one given explicit
    /// credentials or a profile). The settings' region and endpoint, the timeouts and the retry
    /// policy are applied on top of it.
    pub async fn connect_with(
        settings: &AwsKmsSettings,
        loader: ConfigLoader,
    ) -> Result<Self, CryptoError> {
        let key_id = settings.key_id.trim();
        if key_id.is_empty() {
            return Err(CryptoError::RootKey(
                "[root_key.awskms] key_id is empty".to_owned(),
            ));
        }
        let mut loader = loader
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(region) = settings.region.as_deref().filter(|r| !r.is_empty()) {
            loader = loader.region(Region::new(region.to_owned()));
        }
        if let Some(endpoint) = settings.endpoint_url.as_deref().filter(|e| !e.is_empty()) {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(CryptoError::RootKey(
                "AWS KMS: no region; set [root_key.awskms] region (SCAIVAULT_ROOT_KEY_AWSKMS_REGION) \
                 or AWS_REGION"
                    .to_owned(),
            ));
        }
        let client = Client::new(&config);

        let described = client
            .describe_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| classify("DescribeKey", key_id, e))?;
        let meta = described.key_metadata().ok_or_else(|| {
            CryptoError::Unavailable(format!(
                "AWS KMS DescribeKey {key_id}: the response has no key metadata"
            ))
        })?;
        let key_arn = meta.arn().unwrap_or(key_id).to_owned();
        match meta.key_state() {
            Some(KeyState::Enabled) => {}
            // Transient states: a key being created or updated, or one in a custom key store
            // that is disconnected right now.
            Some(state @ (KeyState::Creating | KeyState::Updating | KeyState::Unavailable)) => {
                return Err(CryptoError::Unavailable(format!(
                    "AWS KMS key {key_arn} is {state} (not usable yet)"
                )));
            }
            Some(state) => {
                return Err(CryptoError::Refused(format!(
                    "AWS KMS key {key_arn} is {state}, not Enabled"
                )));
            }
            None if meta.enabled() => {}
            None => {
                return Err(CryptoError::Refused(format!(
                    "AWS KMS key {key_arn} is not enabled"
                )));
            }
        }
        let spec_ok = matches!(meta.key_spec(), None | Some(KeySpec::SymmetricDefault));
        let usage_ok = matches!(meta.key_usage(), None | Some(KeyUsageType::EncryptDecrypt));
        if !spec_ok || !usage_ok {
            return Err(CryptoError::Refused(format!(
                "AWS KMS key {key_arn} is {} / {}; the root key must be a SYMMETRIC_DEFAULT key \
                 for ENCRYPT_DECRYPT",
                meta.key_spec().map_or("?", KeySpec::as_str),
                meta.key_usage().map_or("?", KeyUsageType::as_str),
            )));
        }
        Ok(Self { client, key_arn })
    }

    /// The key's ARN (an alias in the settings resolved at connect).
    pub fn key_arn(&self) -> &str {
        &self.key_arn
    }
}

#[async_trait::async_trait]
impl KeyProvider for AwsKmsProvider {
    fn describe(&self) -> String {
        format!("awskms:{}", self.key_arn)
    }

    fn kind(&self) -> &'static str {
        "awskms"
    }

    async fn wrap(&self, key_id: &str, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_arn)
            .plaintext(Blob::new(key))
            .encryption_context(CONTEXT_KEY_ID, key_id)
            .encryption_context(CONTEXT_PURPOSE, CONTEXT_PURPOSE_VALUE)
            .send()
            .await
            .map_err(|e| classify("Encrypt", &self.key_arn, e))?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .filter(|blob| !blob.is_empty())
            .ok_or_else(|| {
                CryptoError::Unavailable(format!(
                    "AWS KMS Encrypt with key {}: the response has no ciphertext",
                    self.key_arn
                ))
            })
    }

    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if wrapped.is_empty() {
            return Err(CryptoError::Malformed);
        }
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_arn)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_KEY_ID, key_id)
            .encryption_context(CONTEXT_PURPOSE, CONTEXT_PURPOSE_VALUE)
            .send()
            .await
            .map_err(|e| classify("Decrypt", &self.key_arn, e))?;
        out.plaintext
            .map(|blob| Zeroizing::new(blob.into_inner()))
            .ok_or_else(|| {
                CryptoError::Unavailable(format!(
                    "AWS KMS Decrypt with key {}: the response has no plaintext",
                    self.key_arn
                ))
            })
    }
}

/// What an error from the service means for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Unavailable,
    Refused,
    OpenFailed,
}

/// Service error codes by verdict (compared case-insensitively). Codes not listed fall back on
/// the HTTP status: 5xx and 429 are Unavailable, any other 4xx is Refused.
fn verdict_for_code(code: &str, status: u16) -> Verdict {
    const OPEN_FAILED: &[&str] = &["InvalidCiphertextException", "IncorrectKeyException"];
    const UNAVAILABLE: &[&str] = &[
        "KeyUnavailableException",
        "DependencyTimeoutException",
        "KMSInternalException",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "CustomKeyStoreInvalidStateException",
        "XksProxyUriUnreachableException",
        "XksProxyInvalidResponseException",
    ];
    const REFUSED: &[&str] = &[
        "NotFoundException",
        "DisabledException",
        "KMSInvalidStateException",
        "InvalidKeyUsageException",
        "InvalidArnException",
        "InvalidGrantTokenException",
        "ValidationException",
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "NotAuthorized",
    ];
    let is = |list: &[&str]| list.iter().any(|c| c.eq_ignore_ascii_case(code));
    if is(OPEN_FAILED) {
        Verdict::OpenFailed
    } else if is(UNAVAILABLE) {
        Verdict::Unavailable
    } else if is(REFUSED) {
        Verdict::Refused
    } else if status >= 500 || status == 429 {
        Verdict::Unavailable
    } else {
        Verdict::Refused
    }
}

/// Maps an SDK error to the server's error kinds (see the module documentation).
fn classify<E>(operation: &str, key: &str, err: SdkError<E>) -> CryptoError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let status = service.raw().status().as_u16();
            let message = match (code, service.err().message()) {
                ("", _) => {
                    // Not a KMS (JSON) error: a proxy, or an endpoint of another kind. Its body
                    // says what happened (an error response carries no secret of ours).
                    let body = service.raw().body().bytes().unwrap_or_default();
                    let body = String::from_utf8_lossy(&body[..body.len().min(300)]);
                    format!(
                        "AWS KMS {operation} with key {key}: HTTP {status}: {}",
                        body.split_whitespace().collect::<Vec<_>>().join(" ")
                    )
                }
                (code, Some(text)) => {
                    format!("AWS KMS {operation} with key {key}: {code} (HTTP {status}): {text}")
                }
                (code, None) => {
                    format!("AWS KMS {operation} with key {key}: {code} (HTTP {status})")
                }
            };
            match verdict_for_code(code, status) {
                Verdict::OpenFailed => CryptoError::OpenFailed,
                Verdict::Unavailable => CryptoError::Unavailable(message),
                Verdict::Refused => CryptoError::Refused(message),
            }
        }
        _ if credentials_misconfigured(&err) => CryptoError::Refused(format!(
            "AWS KMS {operation} with key {key}: {}",
            error_chain(&err)
        )),
        // Timeouts, connection failures, unreadable responses, credentials not fetched yet
        // (instance metadata or STS unreachable): may pass by themselves.
        _ => CryptoError::Unavailable(format!(
            "AWS KMS {operation} with key {key}: {}",
            error_chain(&err)
        )),
    }
}

/// The error and its sources, `: `-separated (Display only: the SDK's Debug forms carry the
/// raw HTTP response).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

/// Whether the error comes from a credentials provider that reports its configuration as
/// invalid (retrying will not help), as opposed to credentials not found or not fetched yet.
fn credentials_misconfigured(err: &(dyn std::error::Error + 'static)) -> bool {
    use aws_credential_types::provider::error::CredentialsError;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(CredentialsError::InvalidConfiguration(_)) =
            e.downcast_ref::<CredentialsError>()
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_verdicts() {
        assert_eq!(
            verdict_for_code("InvalidCiphertextException", 400),
            Verdict::OpenFailed
        );
        assert_eq!(
            verdict_for_code("IncorrectKeyException", 400),
            Verdict::OpenFailed
        );
        assert_eq!(verdict_for_code("NotFoundException", 400), Verdict::Refused);
        assert_eq!(
            verdict_for_code("KMSInvalidStateException", 400),
            Verdict::Refused
        );
        assert_eq!(verdict_for_code("AccessDenied", 403), Verdict::Refused);
        assert_eq!(
            verdict_for_code("ThrottlingException", 400),
            Verdict::Unavailable
        );
        assert_eq!(
            verdict_for_code("KMSInternalException", 500),
            Verdict::Unavailable
        );
        assert_eq!(verdict_for_code("", 503), Verdict::Unavailable);
        assert_eq!(verdict_for_code("Whatever", 429), Verdict::Unavailable);
        assert_eq!(verdict_for_code("Whatever", 400), Verdict::Refused);
    }
}
