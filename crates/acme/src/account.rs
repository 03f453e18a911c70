//! ACME accounts: registration (contact, explicit terms-of-service agreement, optional EAB),
//! the credentials to seal and load again, deactivation, and ARI look-ups.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{AcmeError, Provider, http};

/// External account binding (RFC 8555 §7.3.4): the key id and HMAC key the CA handed out.
pub struct Eab {
    pub kid: String,
    pub hmac_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Eab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Eab {
    /// From the base64url HMAC key as CAs print it (ZeroSSL, Google, pebble); padded or not.
    pub fn from_base64url(kid: &str, hmac_key_b64: &str) -> Result<Eab, AcmeError> {
        let trimmed = hmac_key_b64.trim();
        let key = URL_SAFE_NO_PAD
            .decode(trimmed.trim_end_matches('='))
            .or_else(|_| URL_SAFE.decode(trimmed))
            .map_err(|_| AcmeError::InvalidRequest("EAB HMAC key is not base64url".into()))?;
        if kid.trim().is_empty() || key.is_empty() {
            return Err(AcmeError::InvalidRequest(
                "EAB needs both a key id and an HMAC key".into(),
            ));
        }
        Ok(Eab {
            kid: kid.trim().to_owned(),
            hmac_key: Zeroizing::new(key),
        })
    }
}

/// What registering an account needs.
#[derive(Debug)]
pub struct RegisterRequest {
    pub provider: Provider,
    /// Required for [`Provider::Custom`], refused for presets (unless equal).
    pub directory_url: Option<String>,
    /// Contact e-mail addresses (`mailto:` is added); may be empty where the CA allows it.
    pub contacts: Vec<String>,
    /// Must be true: the caller showed the CA's terms and the user agreed.
    pub terms_of_service_agreed: bool,
    pub eab: Option<Eab>,
    /// Extra trusted roots (PEM) for a private CA's HTTPS endpoint.
    pub ca_bundle_pem: Option<String>,
}

/// Everything needed to use an account again: seal it as a whole (it holds the account's
/// private key), load it with [`AcmeAccount::load`].
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredAccount {
    pub provider: Provider,
    pub directory_url: String,
    /// The account URL at the CA (its `kid`).
    pub account_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_pem: Option<String>,
    /// instant-acme's credentials (account URL, PKCS#8 key, directory), as JSON: secret.
    credentials_json: Zeroizing<String>,
}

impl std::fmt::Debug for StoredAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAccount")
            .field("provider", &self.provider)
            .field("directory_url", &self.directory_url)
            .field("account_url", &self.account_url)
            .finish_non_exhaustive()
    }
}

/// A live account at a CA.
#[derive(Clone)]
pub struct AcmeAccount {
    pub(crate) inner: Account,
    stored: StoredAccount,
}

impl std::fmt::Debug for AcmeAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeAccount")
            .field("account_url", &self.stored.account_url)
            .finish_non_exhaustive()
    }
}

fn contact_uris(contacts: &[String]) -> Result<Vec<String>, AcmeError> {
    contacts
        .iter()
        .map(|c| {
            let email = c.trim().trim_start_matches("mailto:");
            let ok = email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && (d.contains('.') || d == "localhost"))
                && !email.chars().any(|ch| ch.is_whitespace() || ch == ',');
            if ok {
                Ok(format!("mailto:{email}"))
            } else {
                Err(AcmeError::InvalidRequest(format!(
                    "not an e-mail address: {c:?}"
                )))
            }
        })
        .collect()
}

impl AcmeAccount {
    /// Registers a new account (a fresh P-256 account key), checking locally first what a
    /// CA would refuse anyway: the terms, EAB where required, the directory URL.
    pub async fn register(req: RegisterRequest) -> Result<(AcmeAccount, StoredAccount), AcmeError> {
        if !req.terms_of_service_agreed {
            return Err(AcmeError::TermsNotAgreed);
        }
        if req.provider.requires_eab() && req.eab.is_none() {
            return Err(AcmeError::EabRequired {
                provider: req.provider.as_str(),
            });
        }
        let directory_url = req.provider.directory_url(req.directory_url.as_deref())?;
        let contacts = contact_uris(&req.contacts)?;
        let contact_refs: Vec<&str> = contacts.iter().map(String::as_str).collect();
        let eab = req
            .eab
            .as_ref()
            .map(|e| ExternalAccountKey::new(e.kid.clone(), &e.hmac_key));
        let http = http::client(req.ca_bundle_pem.as_deref())?;
        let (inner, credentials) = Account::builder_with_http(http)
            .create(
                &NewAccount {
                    contact: &contact_refs,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                directory_url.clone(),
                eab.as_ref(),
            )
            .await?;
        let stored = StoredAccount {
            provider: req.provider,
            directory_url,
            account_url: inner.id().to_owned(),
            ca_bundle_pem: req.ca_bundle_pem,
            credentials_json: Zeroizing::new(
                serde_json::to_string(&credentials)
                    .map_err(|e| AcmeError::Protocol(format!("serialising credentials: {e}")))?,
            ),
        };
        Ok((
            AcmeAccount {
                inner,
                stored: stored.clone(),
            },
            stored,
        ))
    }

    /// Loads a registered account (fetches the CA's directory; no account request).
    pub async fn load(stored: &StoredAccount) -> Result<AcmeAccount, AcmeError> {
        let credentials: AccountCredentials = serde_json::from_str(&stored.credentials_json)
            .map_err(|e| AcmeError::InvalidRequest(format!("stored ACME credentials: {e}")))?;
        let http = http::client(stored.ca_bundle_pem.as_deref())?;
        let inner = Account::builder_with_http(http)
            .from_credentials(credentials)
            .await?;
        Ok(AcmeAccount {
            inner,
            stored: stored.clone(),
        })
    }

    /// The account URL at the CA.
    pub fn account_url(&self) -> &str {
        self.inner.id()
    }

    pub fn stored(&self) -> &StoredAccount {
        &self.stored
    }

    /// Deactivates the account at the CA (RFC 8555 §7.3.6): it can never be used again.
    pub async fn deactivate(self) -> Result<(), AcmeError> {
        self.inner.deactivate().await?;
        Ok(())
    }

    /// Revokes a certificate this account ordered (RFC 8555 §7.6), `der` the leaf, with an
    /// RFC 5280 reason code (0 unspecified, 1 keyCompromise, ... 5 cessationOfOperation).
    pub async fn revoke(&self, der: &[u8], reason_code: u8) -> Result<(), AcmeError> {
        use instant_acme::RevocationReason as R;
        let reason = match reason_code {
            0 => R::Unspecified,
            1 => R::KeyCompromise,
            2 => R::CaCompromise,
            3 => R::AffiliationChanged,
            4 => R::Superseded,
            5 => R::CessationOfOperation,
            other => {
                return Err(AcmeError::InvalidRequest(format!(
                    "revocation reason code {other} is not one ScaiVault sends"
                )));
            }
        };
        let certificate = rustls_pki_types::CertificateDer::from(der.to_vec());
        self.inner
            .revoke(&instant_acme::RevocationRequest {
                certificate: &certificate,
                reason: Some(reason),
            })
            .await?;
        Ok(())
    }

    /// The CA's ARI suggested renewal window (RFC 9773) for a certificate it issued (PEM, the
    /// leaf first). `Ok(None)` when the CA offers no ARI.
    pub async fn renewal_info(
        &self,
        certificate_pem: &str,
    ) -> Result<Option<crate::renewal::AriWindow>, AcmeError> {
        let id = crate::renewal::certificate_id(certificate_pem)?;
        match self.inner.renewal_info(&id).await {
            Ok((info, retry_after)) => Ok(Some(crate::renewal::AriWindow {
                start: info.suggested_window.start,
                end: info.suggested_window.end,
                explanation_url: info.explanation_url,
                retry_after,
            })),
            Err(instant_acme::Error::Unsupported(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_become_mailto() {
        let got = contact_uris(&["ops@example.com".into(), "mailto:a@b.org".into()]).ok();
        assert_eq!(
            got,
            Some(vec![
                "mailto:ops@example.com".into(),
                "mailto:a@b.org".into()
            ])
        );
        assert!(contact_uris(&["not-an-email".into()]).is_err());
        assert!(contact_uris(&["a@b.com, c@d.com".into()]).is_err());
    }

    #[test]
    fn eab_key_decoding() {
        let eab = Eab::from_base64url("kid-1", "aGVsbG8gd29ybGQ").ok();
        assert_eq!(
            eab.map(|e| e.hmac_key.to_vec()),
            Some(b"hello world".to_vec())
        );
        assert!(Eab::from_base64url("kid-1", "aGVsbG8gd29ybGQ=").is_ok());
        assert!(Eab::from_base64url("", "aGVsbG8").is_err());
        assert!(Eab::from_base64url("k", "!!!").is_err());
    }

    #[tokio::test]
    async fn register_refuses_before_any_request() {
        let base = || RegisterRequest {
            provider: Provider::Zerossl,
            directory_url: None,
            contacts: vec!["ops@example.com".into()],
            terms_of_service_agreed: true,
            eab: None,
            ca_bundle_pem: None,
        };
        assert!(matches!(
            AcmeAccount::register(base()).await,
            Err(AcmeError::EabRequired {
                provider: "zerossl"
            })
        ));
        let mut google = base();
        google.provider = Provider::Google;
        assert!(matches!(
            AcmeAccount::register(google).await,
            Err(AcmeError::EabRequired { provider: "google" })
        ));
        let mut no_tos = base();
        no_tos.terms_of_service_agreed = false;
        assert!(matches!(
            AcmeAccount::register(no_tos).await,
            Err(AcmeError::TermsNotAgreed)
        ));
        let mut custom = base();
        custom.provider = Provider::Custom;
        assert!(matches!(
            AcmeAccount::register(custom).await,
            Err(AcmeError::DirectoryUrl(_))
        ));
    }
}
