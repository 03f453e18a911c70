//! CA presets: the directory URL of each supported public ACME CA, and whether it insists on
//! external account binding (ZeroSSL and Google do: they tie ACME accounts to their own).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::AcmeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Letsencrypt,
    LetsencryptStaging,
    Zerossl,
    Buypass,
    BuypassStaging,
    Google,
    GoogleStaging,
    /// Any RFC 8555 CA (step-ca, a corporate ACME server, pebble): directory URL required.
    Custom,
}

impl Provider {
    pub const ALL: [Provider; 8] = [
        Provider::Letsencrypt,
        Provider::LetsencryptStaging,
        Provider::Zerossl,
        Provider::Buypass,
        Provider::BuypassStaging,
        Provider::Google,
        Provider::GoogleStaging,
        Provider::Custom,
    ];

    /// The name used in the API and CLI (`letsencrypt-staging`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Letsencrypt => "letsencrypt",
            Provider::LetsencryptStaging => "letsencrypt-staging",
            Provider::Zerossl => "zerossl",
            Provider::Buypass => "buypass",
            Provider::BuypassStaging => "buypass-staging",
            Provider::Google => "google",
            Provider::GoogleStaging => "google-staging",
            Provider::Custom => "custom",
        }
    }

    /// The preset's directory URL (`None` for `custom`).
    pub fn preset_directory_url(self) -> Option<&'static str> {
        Some(match self {
            Provider::Letsencrypt => "https://acme-v02.api.letsencrypt.org/directory",
            Provider::LetsencryptStaging => {
                "https://acme-staging-v02.api.letsencrypt.org/directory"
            }
            Provider::Zerossl => "https://acme.zerossl.com/v2/DV90",
            Provider::Buypass => "https://api.buypass.com/acme/directory",
            Provider::BuypassStaging => "https://api.test4.buypass.no/acme/directory",
            Provider::Google => "https://dv.acme-v02.api.pki.goog/directory",
            Provider::GoogleStaging => "https://dv.acme-v02.test-api.pki.goog/directory",
            Provider::Custom => return None,
        })
    }

    /// Whether the CA refuses accounts without external account binding.
    pub fn requires_eab(self) -> bool {
        matches!(
            self,
            Provider::Zerossl | Provider::Google | Provider::GoogleStaging
        )
    }

    /// The directory URL to use: the preset's, or for `custom` the given one (https only, so
    /// the account key's JWS and the certificate never cross the network in clear). A preset
    /// with a different URL is refused rather than silently ignored.
    pub fn directory_url(self, custom: Option<&str>) -> Result<String, AcmeError> {
        match (self.preset_directory_url(), custom) {
            (Some(url), None) => Ok(url.to_owned()),
            (Some(url), Some(given)) if given == url => Ok(url.to_owned()),
            (Some(_), Some(_)) => Err(AcmeError::DirectoryUrl(format!(
                "provider {} has a fixed directory URL; use provider custom for another one",
                self.as_str()
            ))),
            (None, None) => Err(AcmeError::DirectoryUrl(
                "provider custom needs a directory URL".into(),
            )),
            (None, Some(given)) => {
                if !given.starts_with("https://") || given.len() <= "https://".len() {
                    return Err(AcmeError::DirectoryUrl(format!(
                        "directory URL must be https://...: {given}"
                    )));
                }
                Ok(given.to_owned())
            }
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = AcmeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                AcmeError::InvalidRequest(format!(
                    "unknown ACME provider {s:?} (one of: {})",
                    Provider::ALL.map(Provider::as_str).join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().ok(), Some(p));
            let json = serde_json::to_string(&p).ok();
            assert_eq!(json, Some(format!("\"{}\"", p.as_str())));
        }
        assert!("lets-encrypt".parse::<Provider>().is_err());
    }

    #[test]
    fn eab_required_only_where_the_ca_insists() {
        let required: Vec<_> = Provider::ALL
            .into_iter()
            .filter(|p| p.requires_eab())
            .collect();
        assert_eq!(
            required,
            [Provider::Zerossl, Provider::Google, Provider::GoogleStaging]
        );
    }

    #[test]
    fn directory_urls() {
        assert_eq!(
            Provider::Letsencrypt.directory_url(None).ok().as_deref(),
            Some("https://acme-v02.api.letsencrypt.org/directory")
        );
        assert!(matches!(
            Provider::Custom.directory_url(None),
            Err(AcmeError::DirectoryUrl(_))
        ));
        assert!(
            Provider::Custom
                .directory_url(Some("http://ca/dir"))
                .is_err()
        );
        assert_eq!(
            Provider::Custom
                .directory_url(Some("https://ca.internal/acme/directory"))
                .ok()
                .as_deref(),
            Some("https://ca.internal/acme/directory")
        );
        assert!(
            Provider::Buypass
                .directory_url(Some("https://other/"))
                .is_err()
        );
        for p in Provider::ALL {
            if p != Provider::Custom {
                assert!(
                    p.directory_url(None)
                        .is_ok_and(|u| u.starts_with("https://"))
                );
            }
        }
    }
}
