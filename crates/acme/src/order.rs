//! Orders: RFC 8555 from identifiers to a certificate chain and its private key, resumable.
//!
//! [`AcmeAccount::new_order`] creates the order at the CA and generates the certificate key at
//! once; [`AcmeOrder::checkpoint`] (order URL, challenge, key) is what the caller persists,
//! sealed, *before* [`AcmeOrder::complete`]. After a crash, [`AcmeAccount::resume_order`] picks
//! the same order up where the CA has it (pending, ready, processing or valid): no second
//! order, and the certificate matches the key that was persisted.

use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, NewOrder, OrderStatus,
    RetryPolicy,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::dns::{DnsProvider, PropagationCheck, TxtRecord};
use crate::{AcmeAccount, AcmeError, ProblemDocument};

/// The challenge type the order is validated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChallengeKind {
    #[serde(rename = "http-01")]
    Http01,
    #[serde(rename = "dns-01")]
    Dns01,
}

impl ChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::Http01 => "http-01",
            ChallengeKind::Dns01 => "dns-01",
        }
    }

    fn acme_type(self) -> ChallengeType {
        match self {
            ChallengeKind::Http01 => ChallengeType::Http01,
            ChallengeKind::Dns01 => ChallengeType::Dns01,
        }
    }
}

impl std::str::FromStr for ChallengeKind {
    type Err = AcmeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "http-01" => Ok(ChallengeKind::Http01),
            "dns-01" => Ok(ChallengeKind::Dns01),
            _ => Err(AcmeError::InvalidRequest(format!(
                "unknown challenge {s:?} (http-01 or dns-01)"
            ))),
        }
    }
}

/// The certificate's key type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyType {
    #[default]
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
}

impl std::str::FromStr for KeyType {
    type Err = AcmeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ecdsa-p256" => Ok(KeyType::EcdsaP256),
            "rsa-2048" => Ok(KeyType::Rsa2048),
            _ => Err(AcmeError::InvalidRequest(format!(
                "unknown key type {s:?} (ecdsa-p256 or rsa-2048)"
            ))),
        }
    }
}

impl KeyType {
    /// A fresh key pair, PKCS#8 PEM (rcgen over aws-lc-rs).
    fn generate_pem(self) -> Result<Zeroizing<String>, AcmeError> {
        let key = match self {
            KeyType::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyType::Rsa2048 => {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            }
        }
        .map_err(|e| AcmeError::Crypto(format!("key generation: {e}")))?;
        Ok(Zeroizing::new(key.serialize_pem()))
    }
}

/// What to order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// DNS names; `*.name` wildcards only with dns-01.
    pub domains: Vec<String>,
    pub challenge: ChallengeKind,
    pub key_type: KeyType,
}

/// Most CAs cap a certificate at 100 names (Let's Encrypt does).
const MAX_NAMES: usize = 100;

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl OrderRequest {
    /// The names, lower-cased, without trailing dots, deduplicated, in order; refuses what a
    /// CA would refuse anyway (bad names, wildcards without dns-01, IP addresses, too many).
    pub fn normalized_domains(&self) -> Result<Vec<String>, AcmeError> {
        let mut out: Vec<String> = Vec::new();
        for raw in &self.domains {
            let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            let (wildcard, base) = match name.strip_prefix("*.") {
                Some(base) => (true, base),
                None => (false, name.as_str()),
            };
            if wildcard && self.challenge != ChallengeKind::Dns01 {
                return Err(AcmeError::InvalidRequest(format!(
                    "wildcard {name} needs the dns-01 challenge"
                )));
            }
            let labels: Vec<&str> = base.split('.').collect();
            let ok = base.len() <= 253
                && labels.len() >= 2
                && labels.iter().all(|l| valid_label(l))
                // A name whose last label is all digits is an IP address, not a DNS name.
                && !labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(AcmeError::InvalidRequest(format!(
                    "not a DNS name: {raw:?}"
                )));
            }
            if !out.contains(&name) {
                out.push(name);
            }
        }
        if out.is_empty() {
            return Err(AcmeError::InvalidRequest("no domains to order".into()));
        }
        if out.len() > MAX_NAMES {
            return Err(AcmeError::InvalidRequest(format!(
                "{} names; at most {MAX_NAMES}",
                out.len()
            )));
        }
        Ok(out)
    }
}

/// What to persist (sealed: it holds the certificate's private key) once an order exists,
/// and resume with after a crash.
#[derive(Clone, Serialize, Deserialize)]
pub struct OrderCheckpoint {
    pub order_url: String,
    pub challenge: ChallengeKind,
    pub key_type: KeyType,
    private_key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for OrderCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderCheckpoint")
            .field("order_url", &self.order_url)
            .field("challenge", &self.challenge)
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

/// The result: the chain as the CA sent it (leaf first) and the leaf's key.
pub struct IssuedCertificate {
    pub order_url: String,
    pub certificate_chain_pem: String,
    pub private_key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("order_url", &self.order_url)
            .finish_non_exhaustive()
    }
}

/// Publishes http-01 answers: the server answers `GET /.well-known/acme-challenge/{token}`
/// with `key_authorization` (or hands it to a front end's webhook).
#[async_trait::async_trait]
pub trait Http01Responder: Send + Sync {
    async fn present(
        &self,
        domain: &str,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), AcmeError>;
    /// Withdraws the token; called after validation, also after a failure.
    async fn cleanup(&self, domain: &str, token: &str) -> Result<(), AcmeError>;
}

/// An in-memory [`Http01Responder`]: the answers for one process's listener to serve
/// ([`MemoryHttp01::key_authorization`] for `GET /.well-known/acme-challenge/{token}`). With
/// several nodes behind one name, the CA's request may reach any of them: back the responder
/// with the shared store instead.
#[derive(Debug, Default)]
pub struct MemoryHttp01 {
    tokens: std::sync::RwLock<std::collections::HashMap<String, String>>,
}

impl MemoryHttp01 {
    /// The key authorization to answer for `token`, if one is published.
    pub fn key_authorization(&self, token: &str) -> Option<String> {
        self.tokens.read().map_or(None, |t| t.get(token).cloned())
    }

    /// How many tokens are published now.
    pub fn len(&self) -> usize {
        self.tokens.read().map_or(0, |t| t.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl Http01Responder for MemoryHttp01 {
    async fn present(
        &self,
        _domain: &str,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), AcmeError> {
        self.tokens
            .write()
            .map_err(|_| AcmeError::Responder("token map poisoned".into()))?
            .insert(token.to_owned(), key_authorization.to_owned());
        Ok(())
    }

    async fn cleanup(&self, _domain: &str, token: &str) -> Result<(), AcmeError> {
        self.tokens
            .write()
            .map_err(|_| AcmeError::Responder("token map poisoned".into()))?
            .remove(token);
        Ok(())
    }
}

/// How the order's challenges get answered.
#[derive(Clone)]
pub enum Solver {
    Http01(Arc<dyn Http01Responder>),
    Dns01 {
        provider: Arc<dyn DnsProvider>,
        propagation: PropagationCheck,
    },
}

impl std::fmt::Debug for Solver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Solver::Http01(_) => f.write_str("Solver::Http01"),
            Solver::Dns01 { propagation, .. } => f
                .debug_struct("Solver::Dns01")
                .field("propagation", propagation)
                .finish_non_exhaustive(),
        }
    }
}

impl Solver {
    fn kind(&self) -> ChallengeKind {
        match self {
            Solver::Http01(_) => ChallengeKind::Http01,
            Solver::Dns01 { .. } => ChallengeKind::Dns01,
        }
    }
}

/// How long to wait on the CA: starting at `initial_delay`, multiplied by `backoff` after
/// each poll, for at most `timeout` per phase (validation, then issuance). A Retry-After
/// from the CA takes precedence over the delay (instant-acme's `RetryPolicy`).
#[derive(Debug, Clone, Copy)]
pub struct PollPolicy {
    pub initial_delay: Duration,
    pub backoff: f32,
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            initial_delay: Duration::from_secs(1),
            backoff: 1.5,
            timeout: Duration::from_secs(300),
        }
    }
}

impl PollPolicy {
    fn retry(&self) -> RetryPolicy {
        RetryPolicy::new()
            .initial_delay(self.initial_delay)
            // Never a shrinking delay, never an unbounded one.
            .backoff(self.backoff.clamp(1.0, 4.0))
            .timeout(self.timeout)
    }
}

/// The order's state at the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderState {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
}

impl From<OrderStatus> for OrderState {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Pending => OrderState::Pending,
            OrderStatus::Ready => OrderState::Ready,
            OrderStatus::Processing => OrderState::Processing,
            OrderStatus::Valid => OrderState::Valid,
            OrderStatus::Invalid => OrderState::Invalid,
        }
    }
}

/// An order at the CA, being driven to a certificate.
pub struct AcmeOrder {
    order: instant_acme::Order,
    checkpoint: OrderCheckpoint,
}

impl std::fmt::Debug for AcmeOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeOrder")
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}

impl AcmeAccount {
    /// Creates an order at the CA for the request's names and generates its key. Persist
    /// [`AcmeOrder::checkpoint`] before calling [`AcmeOrder::complete`].
    pub async fn new_order(&self, request: &OrderRequest) -> Result<AcmeOrder, AcmeError> {
        let names = request.normalized_domains()?;
        let private_key_pem = request.key_type.generate_pem()?;
        let identifiers: Vec<Identifier> = names.into_iter().map(Identifier::Dns).collect();
        let order = self.inner.new_order(&NewOrder::new(&identifiers)).await?;
        let checkpoint = OrderCheckpoint {
            order_url: order.url().to_owned(),
            challenge: request.challenge,
            key_type: request.key_type,
            private_key_pem,
        };
        Ok(AcmeOrder { order, checkpoint })
    }

    /// A renewal: as [`AcmeAccount::new_order`], telling the CA which certificate the new
    /// one replaces (RFC 9773 `replaces`; CAs may exempt such orders from rate limits). A CA
    /// without ARI gets a plain new order.
    pub async fn renewal_order(
        &self,
        request: &OrderRequest,
        replaced_certificate_pem: &str,
    ) -> Result<AcmeOrder, AcmeError> {
        let replaces = crate::renewal::certificate_id(replaced_certificate_pem)?;
        let names = request.normalized_domains()?;
        let private_key_pem = request.key_type.generate_pem()?;
        let identifiers: Vec<Identifier> = names.into_iter().map(Identifier::Dns).collect();
        let order = match self
            .inner
            .new_order(&NewOrder::new(&identifiers).replaces(replaces))
            .await
        {
            Err(instant_acme::Error::Unsupported(_)) => {
                self.inner.new_order(&NewOrder::new(&identifiers)).await?
            }
            other => other?,
        };
        Ok(AcmeOrder {
            checkpoint: OrderCheckpoint {
                order_url: order.url().to_owned(),
                challenge: request.challenge,
                key_type: request.key_type,
                private_key_pem,
            },
            order,
        })
    }

    /// Picks up an existing order (by its URL, with the key persisted with it): nothing new
    /// is created at the CA.
    pub async fn resume_order(&self, checkpoint: &OrderCheckpoint) -> Result<AcmeOrder, AcmeError> {
        let order = self.inner.order(checkpoint.order_url.clone()).await?;
        Ok(AcmeOrder {
            order,
            checkpoint: checkpoint.clone(),
        })
    }
}

/// A challenge answer that was (or was being) published: withdrawn afterwards.
enum Published {
    Http { domain: String, token: String },
    Dns(TxtRecord),
}

impl AcmeOrder {
    pub fn url(&self) -> &str {
        &self.checkpoint.order_url
    }

    pub fn checkpoint(&self) -> &OrderCheckpoint {
        &self.checkpoint
    }

    /// The order's current state at the CA.
    pub async fn refresh(&mut self) -> Result<OrderState, AcmeError> {
        Ok(self.order.refresh().await?.status.into())
    }

    /// Gets the order validated from wherever it stands: answers pending challenges (and
    /// withdraws the answers afterwards, also on failure) and polls until the CA has decided.
    /// Returns `Ready` (or `Processing`/`Valid` when it was finalized before); a failed
    /// validation comes back as [`AcmeError::OrderFailed`] with the CA's problem document.
    pub async fn validate(
        &mut self,
        solver: &Solver,
        poll: &PollPolicy,
    ) -> Result<OrderState, AcmeError> {
        if solver.kind() != self.checkpoint.challenge {
            return Err(AcmeError::InvalidRequest(format!(
                "the order is validated with {}, the solver answers {}",
                self.checkpoint.challenge.as_str(),
                solver.kind().as_str()
            )));
        }
        let mut status = self.order.refresh().await?.status;
        if status == OrderStatus::Pending {
            let mut published = Vec::new();
            let result = self
                .answer_challenges(solver, &poll.retry(), &mut published)
                .await;
            withdraw(solver, &published).await;
            status = match result {
                Ok(status) => status,
                Err(AcmeError::OrderFailed { problem, .. }) => {
                    return Err(self.failure(Some(problem)).await);
                }
                Err(e) => return Err(e),
            };
        }
        match status {
            OrderStatus::Invalid => Err(self.failure(None).await),
            OrderStatus::Pending => Err(AcmeError::Protocol(
                "order still pending after its challenges".into(),
            )),
            other => Ok(other.into()),
        }
    }

    /// Runs the order to its certificate from wherever it stands: [`AcmeOrder::validate`],
    /// then finalizes with a CSR for the persisted key and downloads the chain.
    pub async fn complete(
        mut self,
        solver: &Solver,
        poll: &PollPolicy,
    ) -> Result<IssuedCertificate, AcmeError> {
        if self.validate(solver, poll).await? == OrderState::Ready {
            let csr = self.csr().await?;
            self.order
                .finalize_csr(&csr)
                .await
                .map_err(|e| self.order_error(e))?;
        }
        // Processing or Valid (finalized before a crash): only the download is left.
        let chain = match self.order.poll_certificate(&poll.retry()).await {
            Ok(chain) => chain,
            Err(e) => return Err(self.order_error(e)),
        };
        Ok(IssuedCertificate {
            order_url: self.checkpoint.order_url.clone(),
            certificate_chain_pem: chain,
            private_key_pem: self.checkpoint.private_key_pem.clone(),
        })
    }

    /// An instant-acme error during the order: the CA's problem belongs to this order.
    fn order_error(&self, e: instant_acme::Error) -> AcmeError {
        match e {
            instant_acme::Error::Api(p) => AcmeError::OrderFailed {
                order_url: self.checkpoint.order_url.clone(),
                problem: ProblemDocument::from(&p),
            },
            other => other.into(),
        }
    }

    /// Publishes every pending authorization's answer, waits for DNS propagation, tells the
    /// CA to validate, and polls until the order is ready or invalid.
    async fn answer_challenges(
        &mut self,
        solver: &Solver,
        retry: &RetryPolicy,
        published: &mut Vec<Published>,
    ) -> Result<OrderStatus, AcmeError> {
        let kind = self.checkpoint.challenge.acme_type();
        let mut to_validate: Vec<String> = Vec::new();
        let mut authorizations = self.order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            if authz.status != AuthorizationStatus::Pending {
                // Valid: reused or done before a crash. Invalid: the order fails below.
                continue;
            }
            let identifier = authz.identifier().to_string();
            let base = identifier.trim_start_matches("*.").to_owned();
            let challenge =
                authz
                    .challenge(kind.clone())
                    .ok_or_else(|| AcmeError::OrderFailed {
                        order_url: self.checkpoint.order_url.clone(),
                        problem: ProblemDocument {
                            kind: None,
                            detail: Some(format!(
                                "the CA offers no {} challenge for {identifier}",
                                self.checkpoint.challenge.as_str()
                            )),
                            status: None,
                            subproblems: Vec::new(),
                        },
                    })?;
            let key_authorization = challenge.key_authorization();
            // Recorded before publishing, so a half-done publish is withdrawn too.
            match solver {
                Solver::Http01(responder) => {
                    published.push(Published::Http {
                        domain: base.clone(),
                        token: challenge.token.clone(),
                    });
                    responder
                        .present(&base, &challenge.token, key_authorization.as_str())
                        .await?;
                }
                Solver::Dns01 { provider, .. } => {
                    let record = TxtRecord {
                        name: format!("_acme-challenge.{base}."),
                        value: key_authorization.dns_value(),
                    };
                    published.push(Published::Dns(record.clone()));
                    provider.present(&record).await?;
                }
            }
            // Already told to validate before a crash: answer again, but do not re-trigger.
            if challenge.status == ChallengeStatus::Pending {
                to_validate.push(challenge.url.clone());
            }
        }
        if let Solver::Dns01 { propagation, .. } = solver {
            for p in published.iter() {
                if let Published::Dns(record) = p {
                    propagation.wait_visible(record).await?;
                }
            }
        }
        let mut authorizations = self.order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            if let Some(mut challenge) = authz.challenge(kind.clone())
                && to_validate.contains(&challenge.url)
            {
                challenge.set_ready().await?;
            }
        }
        self.order
            .poll_ready(retry)
            .await
            .map_err(|e| self.order_error(e))
    }

    /// The CSR for the order's names, signed with the persisted key.
    async fn csr(&mut self) -> Result<Vec<u8>, AcmeError> {
        let mut names = Vec::new();
        let mut identifiers = self.order.identifiers();
        while let Some(identifier) = identifiers.next().await {
            names.push(identifier?.to_string());
        }
        let key = rcgen::KeyPair::from_pem(&self.checkpoint.private_key_pem)
            .map_err(|e| AcmeError::Crypto(format!("persisted order key: {e}")))?;
        let mut params = rcgen::CertificateParams::new(names)
            .map_err(|e| AcmeError::Crypto(format!("CSR names: {e}")))?;
        // The CA takes the names from the SANs; an empty subject is what RFC 8555 expects.
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&key)
            .map_err(|e| AcmeError::Crypto(format!("CSR: {e}")))?;
        Ok(csr.der().to_vec())
    }

    /// The CA's reason for an invalid order: the given problem or the order's own error,
    /// else the first failed challenge's; with each failed challenge's error as a subproblem
    /// naming its identifier when the CA sent none (pebble puts only the first on the order).
    async fn failure(&mut self, known: Option<ProblemDocument>) -> AcmeError {
        let order_url = self.checkpoint.order_url.clone();
        let mut problem =
            known.or_else(|| self.order.state().error.as_ref().map(ProblemDocument::from));
        if let Some(p) = &problem
            && !p.subproblems.is_empty()
        {
            return AcmeError::OrderFailed {
                order_url,
                problem: p.clone(),
            };
        }
        let mut subproblems = Vec::new();
        let mut authorizations = self.order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let Ok(mut authz) = authz else { continue };
            if authz.refresh().await.is_err() {
                continue;
            }
            let identifier = authz.identifier().to_string();
            for challenge in &authz.challenges {
                if let Some(error) = &challenge.error {
                    let doc = ProblemDocument::from(error);
                    subproblems.push(crate::error::Subproblem {
                        identifier: Some(identifier.clone()),
                        kind: doc.kind.clone(),
                        detail: doc.detail.clone(),
                    });
                    problem.get_or_insert(doc);
                }
            }
        }
        let mut problem = problem.unwrap_or(ProblemDocument {
            kind: None,
            detail: Some("the order is invalid and the CA gave no reason".into()),
            status: None,
            subproblems: Vec::new(),
        });
        problem.subproblems = subproblems;
        AcmeError::OrderFailed { order_url, problem }
    }
}

/// Withdraws every published answer; failures are logged, not returned: the order's own
/// outcome matters more, and a stale TXT record or token is harmless once validation ended.
async fn withdraw(solver: &Solver, published: &[Published]) {
    for p in published {
        let result = match (solver, p) {
            (Solver::Http01(responder), Published::Http { domain, token }) => {
                responder.cleanup(domain, token).await
            }
            (Solver::Dns01 { provider, .. }, Published::Dns(record)) => {
                provider.cleanup(record).await
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "ACME challenge clean-up failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(domains: &[&str], challenge: ChallengeKind) -> OrderRequest {
        OrderRequest {
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            challenge,
            key_type: KeyType::default(),
        }
    }

    #[test]
    fn domains_are_normalized_and_deduplicated() {
        let got = req(
            &["API.Example.com.", "api.example.com", "*.example.com"],
            ChallengeKind::Dns01,
        )
        .normalized_domains()
        .ok();
        assert_eq!(
            got,
            Some(vec![
                "api.example.com".to_owned(),
                "*.example.com".to_owned()
            ])
        );
    }

    #[test]
    fn wildcards_only_with_dns01() {
        assert!(matches!(
            req(&["*.example.com"], ChallengeKind::Http01).normalized_domains(),
            Err(AcmeError::InvalidRequest(_))
        ));
        assert!(
            req(&["*.example.com"], ChallengeKind::Dns01)
                .normalized_domains()
                .is_ok()
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.com",
            "a-.com",
            "a.*.com",
            "*.*.a.com",
            "1.2.3.4",
            "a b.com",
            "x.com/",
            "ünicode.com",
        ] {
            assert!(
                req(&[bad], ChallengeKind::Dns01)
                    .normalized_domains()
                    .is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(req(&[], ChallengeKind::Dns01).normalized_domains().is_err());
        let many: Vec<String> = (0..101).map(|i| format!("h{i}.example.com")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(
            req(&many, ChallengeKind::Dns01)
                .normalized_domains()
                .is_err()
        );
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            "dns-01".parse::<ChallengeKind>().ok(),
            Some(ChallengeKind::Dns01)
        );
        assert_eq!("rsa-2048".parse::<KeyType>().ok(), Some(KeyType::Rsa2048));
        assert!("tls-alpn-01".parse::<ChallengeKind>().is_err());
        assert_eq!(
            serde_json::to_string(&KeyType::EcdsaP256).ok().as_deref(),
            Some("\"ecdsa-p256\"")
        );
    }

    #[test]
    fn keys_generate_and_make_csrs() {
        for kt in [KeyType::EcdsaP256, KeyType::Rsa2048] {
            let pem = kt.generate_pem();
            assert!(
                pem.as_ref().is_ok_and(|p| p.contains("PRIVATE KEY")),
                "{kt:?}"
            );
            let key = pem.ok().and_then(|p| rcgen::KeyPair::from_pem(&p).ok());
            assert!(key.is_some(), "{kt:?} key does not load back");
        }
    }
}
