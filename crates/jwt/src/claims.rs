use serde::Deserialize;

use crate::error::JwtError;

/// The claims of a verified token that ScaiVault uses for authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// `sub`.
    pub subject: String,
    /// `iss` (one of the configured issuers).
    pub issuer: String,
    /// `tenant_id`.
    pub tenant_id: Option<String>,
    /// `partner_id`.
    pub partner_id: Option<String>,
    /// `scopes` (array, or space-separated string), else `scope` (space-separated string, or
    /// array); empty if neither is present.
    pub scopes: Vec<String>,
    /// `groups`.
    pub groups: Vec<String>,
    /// `identity_type` (e.g. user or service).
    pub identity_type: Option<String>,
    /// `roles`.
    pub roles: Vec<String>,
    /// `exp`, unix seconds.
    pub expires_at: i64,
    /// `jti`.
    pub jwt_id: Option<String>,
}

/// The payload as signed. A claim of an unexpected JSON type makes the token malformed (fail
/// closed) rather than being silently dropped.
#[derive(Deserialize)]
pub(crate) struct RawClaims {
    sub: Option<String>,
    iss: Option<String>,
    exp: Option<serde_json::Number>,
    tenant_id: Option<String>,
    partner_id: Option<String>,
    scopes: Option<StringOrList>,
    scope: Option<StringOrList>,
    groups: Option<Vec<String>>,
    identity_type: Option<String>,
    roles: Option<Vec<String>>,
    jti: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    /// OAuth style: space-separated.
    String(String),
    List(Vec<String>),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            Self::List(list) => list,
        }
    }
}

impl RawClaims {
    pub(crate) fn into_verified(self) -> Result<VerifiedClaims, JwtError> {
        let subject = self
            .sub
            .filter(|s| !s.is_empty())
            .ok_or(JwtError::MissingClaim("sub"))?;
        let issuer = self.iss.ok_or(JwtError::MissingClaim("iss"))?;
        let exp = self.exp.ok_or(JwtError::MissingClaim("exp"))?;
        // jsonwebtoken accepts fractional NumericDates; keep whole seconds.
        let expires_at = exp
            .as_i64()
            .or_else(|| exp.as_f64().map(|f| f as i64))
            .ok_or(JwtError::Malformed)?;
        Ok(VerifiedClaims {
            subject,
            issuer,
            tenant_id: self.tenant_id,
            partner_id: self.partner_id,
            scopes: self
                .scopes
                .or(self.scope)
                .map(StringOrList::into_vec)
                .unwrap_or_default(),
            groups: self.groups.unwrap_or_default(),
            identity_type: self.identity_type,
            roles: self.roles.unwrap_or_default(),
            expires_at,
            jwt_id: self.jti,
        })
    }
}
