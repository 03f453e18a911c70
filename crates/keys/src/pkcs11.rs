//! PKCS#11: the root key is an AES-256 key object inside an HSM token (sensitive, never
//! extractable); data keys are wrapped with AES-GCM inside the HSM.
//!
//! - The module is loaded and `C_Initialize`d once per process and path (with OS locking), and
//!   never finalized: PKCS#11 state is per process, so two providers on the same module share
//!   it. SoftHSM reads `SOFTHSM2_CONF` at that first `C_Initialize`.
//! - The token is found by its label (SoftHSM assigns random slot ids); the user logs in on an
//!   RW session that the provider keeps, behind a mutex. Every PKCS#11 call runs on tokio's
//!   blocking pool.
//! - A wrapped key is `1 || IV (12 bytes, ours) || AES-GCM ciphertext || tag (16 bytes)`, with
//!   `b"scaivault/pkcs11-wrap/v1\0" || key_id` as associated data.
//! - A session or device error (token removed, session closed, ...) gets one new session and
//!   login; if that fails too the error is `Unavailable`. PIN errors are `Refused` at once and
//!   never retried, so a wrong PIN cannot lock the token by repetition.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::{AuthPin, Ulong};
use scaivault_crypto::random::random_bytes;
use scaivault_crypto::{CryptoError, KeyProvider};
use zeroize::Zeroizing;

use crate::{Pin, Pkcs11Settings};

/// The first byte of every wrapped key (the format version).
const FORMAT_V1: u8 = 1;
const IV_LEN: usize = 12;
const TAG_BITS: u64 = 128;
const TAG_LEN: usize = 16;
/// AES-256.
const KEY_BYTES: u64 = 32;
const WRAP_AAD_PREFIX: &[u8] = b"scaivault/pkcs11-wrap/v1\0";

pub struct Pkcs11Provider {
    inner: Arc<Inner>,
    created_key: bool,
}

impl std::fmt::Debug for Pkcs11Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Provider")
            .field("module", &self.inner.module)
            .field("token_label", &self.inner.token_label)
            .field("key_label", &self.inner.key_label)
            .field("created_key", &self.created_key)
            .finish_non_exhaustive()
    }
}

/// What the blocking calls share.
struct Inner {
    ctx: Pkcs11,
    module: PathBuf,
    token_label: String,
    key_label: String,
    /// Kept for the one re-login after a session or device error.
    pin: Pin,
    /// The logged-in session and the key's handle in it; `None` after a session error.
    live: Mutex<Option<Live>>,
}

struct Live {
    session: Session,
    key: ObjectHandle,
}

impl Pkcs11Provider {
    /// Loads the module, finds the token by label, logs in with the user PIN and finds the key
    /// by label; with `create`, generates the key when the token has none by that label.
    pub async fn open(settings: &Pkcs11Settings, create: bool) -> Result<Self, CryptoError> {
        let pin = settings.user_pin()?;
        let module = settings.module.clone();
        let token_label = settings.token_label.trim().to_owned();
        let key_label = settings.key_label.clone();
        if token_label.is_empty() {
            return Err(CryptoError::RootKey(
                "[root_key.pkcs11] token_label is empty".into(),
            ));
        }
        if key_label.is_empty() {
            return Err(CryptoError::RootKey(
                "[root_key.pkcs11] key_label is empty".into(),
            ));
        }
        blocking(move || {
            let ctx = load_module(&module)?;
            let module_path = module.clone();
            let inner = Inner {
                ctx,
                module,
                token_label,
                key_label,
                pin,
                live: Mutex::new(None),
            };
            let (live, created_key) = match inner.connect(create) {
                Ok(connected) => connected,
                Err(e @ CryptoError::Unavailable(_)) => {
                    // Some modules (SoftHSM among them) list tokens as they were at
                    // C_Initialize: start afresh next time, so a token put back is found.
                    drop(inner);
                    forget_module(&module_path);
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            *inner.lock() = Some(live);
            Ok(Self {
                inner: Arc::new(inner),
                created_key,
            })
        })
        .await
    }

    /// Whether [`Pkcs11Provider::open`] generated the key.
    pub fn created_key(&self) -> bool {
        self.created_key
    }
}

#[async_trait::async_trait]
impl KeyProvider for Pkcs11Provider {
    fn describe(&self) -> String {
        format!("pkcs11:{}/{}", self.inner.token_label, self.inner.key_label)
    }

    fn kind(&self) -> &'static str {
        "pkcs11"
    }

    async fn wrap(&self, key_id: &str, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let iv = random_bytes(IV_LEN)?.to_vec();
        let aad = wrap_aad(key_id);
        let plain = Zeroizing::new(key.to_vec());
        let inner = Arc::clone(&self.inner);
        let iv_in = iv.clone();
        let sealed = blocking(move || {
            inner.call("encrypt (wrap)", |live| {
                let mut iv = iv_in.clone();
                let params = GcmParams::new(&mut iv, &aad, Ulong::from(TAG_BITS))?;
                live.session
                    .encrypt(&Mechanism::AesGcm(params), live.key, &plain)
            })
        })
        .await?;
        let mut out = Vec::with_capacity(1 + IV_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let Some((&FORMAT_V1, rest)) = wrapped.split_first() else {
            return Err(CryptoError::Malformed);
        };
        if rest.len() < IV_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (iv, sealed) = rest.split_at(IV_LEN);
        let iv = iv.to_vec();
        let sealed = sealed.to_vec();
        let aad = wrap_aad(key_id);
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            inner.call("decrypt (unwrap)", |live| {
                let mut iv = iv.clone();
                let params = GcmParams::new(&mut iv, &aad, Ulong::from(TAG_BITS))?;
                match live
                    .session
                    .decrypt(&Mechanism::AesGcm(params), live.key, &sealed)
                {
                    Ok(plain) => Ok(Ok(Zeroizing::new(plain))),
                    Err(P11Error::Pkcs11(
                        RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange,
                        _,
                    )) => Ok(Err(CryptoError::OpenFailed)),
                    // SoftHSM (and some HSMs) report a GCM tag mismatch as CKR_GENERAL_ERROR or
                    // CKR_FUNCTION_FAILED, which can also mean a broken device: if the same key
                    // and session still seal and open a test value, the ciphertext was at fault.
                    Err(
                        e @ P11Error::Pkcs11(RvError::GeneralError | RvError::FunctionFailed, _),
                    ) => {
                        if self_test(live) {
                            Ok(Err(CryptoError::OpenFailed))
                        } else {
                            Err(e)
                        }
                    }
                    Err(e) => Err(e),
                }
            })?
        })
        .await
    }
}

/// Whether the live session and key still seal and open a test value.
fn self_test(live: &Live) -> bool {
    const AAD: &[u8] = b"scaivault/pkcs11-self-test\0";
    let probe = [0u8; 32];
    let Ok(iv) = random_bytes(IV_LEN) else {
        return false;
    };
    let round_trip = || -> Result<Vec<u8>, P11Error> {
        let mut iv_seal = iv.to_vec();
        let params = GcmParams::new(&mut iv_seal, AAD, Ulong::from(TAG_BITS))?;
        let sealed = live
            .session
            .encrypt(&Mechanism::AesGcm(params), live.key, &probe)?;
        let mut iv_open = iv.to_vec();
        let params = GcmParams::new(&mut iv_open, AAD, Ulong::from(TAG_BITS))?;
        live.session
            .decrypt(&Mechanism::AesGcm(params), live.key, &sealed)
    };
    matches!(round_trip(), Ok(opened) if opened == probe)
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `op` on the live session; after a session or device error, opens a new session,
    /// logs in again and retries once.
    fn call<T>(
        &self,
        what: &str,
        op: impl Fn(&Live) -> Result<T, P11Error>,
    ) -> Result<T, CryptoError> {
        let mut live = self.lock();
        let mut fresh = false;
        loop {
            if live.is_none() {
                let (new, _) = self.connect(false)?;
                *live = Some(new);
                fresh = true;
            }
            let Some(current) = live.as_ref() else {
                return Err(CryptoError::Internal);
            };
            match op(current) {
                Ok(value) => return Ok(value),
                Err(e) if is_session_error(&e) => {
                    // Drop (close) the broken session; the next call or the retry logs in anew.
                    *live = None;
                    if fresh {
                        return Err(self.classify(what, &e));
                    }
                }
                Err(e) => return Err(self.classify(what, &e)),
            }
        }
    }

    /// Finds the token, opens an RW session, logs in and finds (or with `create`, generates)
    /// the key. Returns whether the key was generated.
    fn connect(&self, create: bool) -> Result<(Live, bool), CryptoError> {
        let slot = self.find_slot()?;
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(|e| self.classify("opening a session", &e))?;
        let pin = AuthPin::from(self.pin.expose().to_owned());
        match session.login(UserType::User, Some(&pin)) {
            // Another session of this process is logged in already (login is per token and
            // process in PKCS#11).
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(self.classify("logging in", &e)),
        }
        let (key, created) = self.find_key(&session, create)?;
        Ok((Live { session, key }, created))
    }

    fn find_slot(&self) -> Result<Slot, CryptoError> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(|e| self.classify("listing slots", &e))?;
        let mut seen = Vec::new();
        let mut matching = Vec::new();
        for slot in slots {
            // A token removed between the listing and this call is simply not there.
            let Ok(info) = self.ctx.get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                // SoftHSM's free slot, or a blank token.
                continue;
            }
            let label = info.label().trim().to_owned();
            if label == self.token_label {
                matching.push((slot, info.user_pin_locked()));
            }
            seen.push(format!("\"{label}\""));
        }
        match matching.as_slice() {
            [(_, true)] => Err(CryptoError::Refused(format!(
                "the user PIN of PKCS#11 token \"{}\" is locked (CKF_USER_PIN_LOCKED); the security officer must unlock it",
                self.token_label
            ))),
            [(slot, false)] => Ok(*slot),
            [] => Err(CryptoError::Unavailable(format!(
                "PKCS#11 token \"{}\" not present in {} (tokens seen: {})",
                self.token_label,
                self.module.display(),
                if seen.is_empty() {
                    "none".to_owned()
                } else {
                    seen.join(", ")
                }
            ))),
            more => Err(CryptoError::Refused(format!(
                "{} PKCS#11 tokens are labelled \"{}\"; give each token its own label",
                more.len(),
                self.token_label
            ))),
        }
    }

    fn find_key(
        &self,
        session: &Session,
        create: bool,
    ) -> Result<(ObjectHandle, bool), CryptoError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(self.key_label.as_bytes().to_vec()),
            Attribute::Token(true),
        ];
        let found = session
            .find_objects(&template)
            .map_err(|e| self.classify("finding the key", &e))?;
        match found.as_slice() {
            [key] => {
                self.check_key(session, *key)?;
                Ok((*key, false))
            }
            [] if create => Ok((self.generate_key(session)?, true)),
            [] => Err(CryptoError::Refused(format!(
                "no key labelled \"{}\" on PKCS#11 token \"{}\"; run `scaivault operator init --create-key` (or `operator rewrap --to-provider pkcs11 --create-key`) to create it",
                self.key_label, self.token_label
            ))),
            more => Err(CryptoError::Refused(format!(
                "{} secret keys are labelled \"{}\" on PKCS#11 token \"{}\"; which one wraps the data keys is ambiguous",
                more.len(),
                self.key_label,
                self.token_label
            ))),
        }
    }

    /// Refuses a key that is not a sensitive, non-extractable AES-256 key usable for
    /// encryption and decryption.
    fn check_key(&self, session: &Session, key: ObjectHandle) -> Result<(), CryptoError> {
        let attributes = session
            .get_attributes(
                key,
                &[
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                ],
            )
            .map_err(|e| self.classify("reading the key's attributes", &e))?;
        let mut key_type = None;
        let mut value_len = None;
        let mut sensitive = false;
        let mut extractable = true;
        let mut encrypt = false;
        let mut decrypt = false;
        for attribute in attributes {
            match attribute {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::ValueLen(len) => value_len = Some(u64::from(len)),
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                Attribute::Encrypt(v) => encrypt = v,
                Attribute::Decrypt(v) => decrypt = v,
                _ => {}
            }
        }
        let name = format!(
            "key \"{}\" on PKCS#11 token \"{}\"",
            self.key_label, self.token_label
        );
        let refuse = |why: String| Err(CryptoError::Refused(format!("{name} {why}")));
        if key_type != Some(KeyType::AES) {
            return refuse(format!(
                "is not an AES key ({})",
                key_type.map_or_else(|| "type unknown".to_owned(), |t| t.to_string())
            ));
        }
        if value_len != Some(KEY_BYTES) {
            return refuse(format!(
                "is not AES-256 ({} bytes); ScaiVault needs a 32-byte key",
                value_len.map_or_else(|| "length unknown".to_owned(), |l| l.to_string())
            ));
        }
        if !sensitive {
            return refuse(
                "is not sensitive (CKA_SENSITIVE false): its value could be read off the token; \
                 use a key generated with CKA_SENSITIVE true"
                    .into(),
            );
        }
        if extractable {
            return refuse(
                "is extractable (CKA_EXTRACTABLE true): it could be wrapped out of the token; \
                 use a key generated with CKA_EXTRACTABLE false"
                    .into(),
            );
        }
        if !encrypt || !decrypt {
            return refuse(
                "does not allow both encrypt and decrypt (CKA_ENCRYPT, CKA_DECRYPT)".into(),
            );
        }
        Ok(())
    }

    fn generate_key(&self, session: &Session) -> Result<ObjectHandle, CryptoError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(Ulong::from(KEY_BYTES)),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            // Nothing else: SoftHSM would otherwise default sign, verify, wrap and unwrap on.
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(self.key_label.as_bytes().to_vec()),
        ];
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| self.classify("generating the key", &e))
    }

    /// Maps a PKCS#11 error to what the server should do. Names the function and the return
    /// value, never data.
    fn classify(&self, what: &str, error: &P11Error) -> CryptoError {
        let token = &self.token_label;
        match error {
            P11Error::Pkcs11(rv, function) => {
                let detail =
                    format!("{what} on PKCS#11 token \"{token}\": {function} returned {rv:?}");
                if is_pin_error(*rv) {
                    CryptoError::Refused(format!(
                        "{detail}: the user PIN was not accepted; fix it (ScaiVault does not retry a PIN)"
                    ))
                } else if is_setup_error(*rv) {
                    CryptoError::Refused(detail)
                } else {
                    CryptoError::Unavailable(detail)
                }
            }
            other => {
                CryptoError::Unavailable(format!("{what} on PKCS#11 token \"{token}\": {other}"))
            }
        }
    }
}

/// The modules loaded and initialized in this process, by path.
static MODULES: OnceLock<Mutex<Vec<(PathBuf, Pkcs11)>>> = OnceLock::new();

/// Finalizes and forgets the module at `path` (after an open found no usable token), so the
/// next open initializes it again and sees the tokens present then.
fn forget_module(path: &Path) {
    let mut modules = MODULES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = modules.iter().position(|(p, _)| p == path) {
        let (_, ctx) = modules.remove(at);
        // A failed C_Finalize leaves the module initialized: the next C_Initialize then
        // answers "already initialized", which load_module accepts.
        let _ = ctx.finalize();
    }
}

/// The PKCS#11 module at `path`, loaded and initialized once per process (again after
/// [`forget_module`]).
fn load_module(path: &Path) -> Result<Pkcs11, CryptoError> {
    let mut modules = MODULES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((_, ctx)) = modules.iter().find(|(p, _)| p == path) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(path).map_err(|e| {
        CryptoError::Unavailable(format!(
            "cannot load the PKCS#11 module {}: {e}",
            path.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(CryptoError::Unavailable(format!(
                "PKCS#11 module {}: {e}",
                path.display()
            )));
        }
    }
    modules.push((path.to_owned(), ctx.clone()));
    Ok(ctx)
}

/// Wrong, locked, expired or unset PIN: refused, never retried.
fn is_pin_error(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::PinIncorrect
            | RvError::PinLocked
            | RvError::PinLenRange
            | RvError::PinExpired
            | RvError::PinInvalid
            | RvError::UserPinNotInitialized
    )
}

/// The token or key cannot do what ScaiVault asks: fix the setup, retrying cannot help.
fn is_setup_error(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::MechanismInvalid
            | RvError::MechanismParamInvalid
            | RvError::KeyFunctionNotPermitted
            | RvError::KeyTypeInconsistent
            | RvError::KeySizeRange
            | RvError::TemplateIncomplete
            | RvError::TemplateInconsistent
            | RvError::AttributeValueInvalid
            | RvError::AttributeTypeInvalid
            | RvError::AttributeReadOnly
            | RvError::TokenWriteProtected
            | RvError::UserTypeInvalid
            | RvError::UserAnotherAlreadyLoggedIn
            | RvError::UserTooManyTypes
    )
}

/// The session, the token or the device broke: worth one new session and login.
fn is_session_error(error: &P11Error) -> bool {
    matches!(
        error,
        P11Error::Pkcs11(
            RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::SlotIdInvalid
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::GeneralError
                | RvError::FunctionFailed,
            _
        )
    )
}

fn wrap_aad(key_id: &str) -> Vec<u8> {
    [WRAP_AAD_PREFIX, key_id.as_bytes()].concat()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CryptoError> + Send + 'static,
) -> Result<T, CryptoError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| CryptoError::Internal)?
}
