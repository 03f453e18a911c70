//! The PKCS#11 provider against a real SoftHSM2 (Debian `softhsm2`).
//!
//! SoftHSM reads `SOFTHSM2_CONF` at the first `C_Initialize` of a process, so each test runs
//! in a child process of its own with the variable set (`SoftHsm::isolated`): each test gets
//! its own token directory, and this binary never changes its own environment.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::{AuthPin, Ulong};
use scaivault_crypto::{CryptoError, KeyProvider};
use scaivault_keys::pkcs11::Pkcs11Provider;
use scaivault_keys::{Pin, Pkcs11Settings};
use scaivault_testpeers::softhsm::SoftHsm;

const SO_PIN: &str = "so-pin-1234";
const PIN: &str = "user-pin-5678";
const DATA_KEY: [u8; 32] = [0x5a; 32];

fn settings(hsm: &SoftHsm, token: &str, pin: &str) -> Pkcs11Settings {
    Pkcs11Settings {
        module: hsm.module(),
        token_label: token.to_owned(),
        key_label: "scaivault-root-key".to_owned(),
        pin: Some(Pin::new(pin)),
        pin_file: None,
    }
}

/// Runs an async test body in its own SoftHSM child process.
fn isolated(name: &str, body: impl AsyncFnOnce(&SoftHsm)) {
    SoftHsm::isolated(name, |hsm| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(body(hsm));
    });
}

/// A session of the test's own on the token (the module is already initialized in this
/// process by the provider, or is initialized here).
fn raw_session(hsm: &SoftHsm, token: &str) -> Session {
    let ctx = Pkcs11::new(hsm.module()).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("C_Initialize: {e}"),
    }
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim() == token)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&AuthPin::from(PIN.to_owned()))) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("C_Login: {e}"),
    }
    session
}

#[test]
fn creates_key_on_init_and_reopen_unwraps_old_wraps() {
    isolated(
        "creates_key_on_init_and_reopen_unwraps_old_wraps",
        async |hsm| {
            hsm.init_token("vault", SO_PIN, PIN);
            let s = settings(hsm, "vault", PIN);
            let provider = Pkcs11Provider::open(&s, true).await.unwrap();
            assert!(provider.created_key());
            assert_eq!(provider.describe(), "pkcs11:vault/scaivault-root-key");
            assert_eq!(provider.kind(), "pkcs11");
            let wrapped = provider.wrap("key_1", &DATA_KEY).await.unwrap();
            assert_eq!(wrapped.len(), 1 + 12 + 32 + 16);
            assert_eq!(wrapped[0], 1);
            assert_eq!(
                provider.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
                DATA_KEY
            );
            // Two wraps of the same key differ (fresh IV).
            assert_ne!(wrapped, provider.wrap("key_1", &DATA_KEY).await.unwrap());
            // Our side restarts: the session is closed (logged out), a new one logs in and
            // finds the key, which opens the old wrap.
            drop(provider);
            let reopened = Pkcs11Provider::open(&s, false).await.unwrap();
            assert!(!reopened.created_key());
            assert_eq!(
                reopened.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
                DATA_KEY
            );
            // `operator init` again finds the key rather than making a second one.
            let again = Pkcs11Provider::open(&s, true).await.unwrap();
            assert!(!again.created_key());
            assert_eq!(
                again.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
                DATA_KEY
            );
        },
    );
}

#[test]
fn pin_from_a_file() {
    isolated("pin_from_a_file", async |hsm| {
        use std::os::unix::fs::PermissionsExt;
        hsm.init_token("vault", SO_PIN, PIN);
        let dir = tempfile::tempdir().unwrap();
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = Pkcs11Settings {
            pin: None,
            pin_file: Some(pin_file),
            ..settings(hsm, "vault", PIN)
        };
        let provider = Pkcs11Provider::open(&s, true).await.unwrap();
        let wrapped = provider.wrap("key_1", &DATA_KEY).await.unwrap();
        assert_eq!(
            provider.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
            DATA_KEY
        );
    });
}

#[test]
fn key_is_sensitive_and_never_extractable() {
    isolated("key_is_sensitive_and_never_extractable", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        let _provider = Pkcs11Provider::open(&settings(hsm, "vault", PIN), true)
            .await
            .unwrap();
        let session = raw_session(hsm, "vault");
        let keys = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(b"scaivault-root-key".to_vec()),
            ])
            .unwrap();
        assert_eq!(keys.len(), 1);
        let attributes = session
            .get_attributes(
                keys[0],
                &[
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                    AttributeType::Token,
                    AttributeType::Private,
                    AttributeType::Sensitive,
                    AttributeType::AlwaysSensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                    AttributeType::Wrap,
                    AttributeType::Unwrap,
                    AttributeType::Sign,
                    AttributeType::Verify,
                    AttributeType::Value,
                ],
            )
            .unwrap();
        let expected = [
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(Ulong::from(32)),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::AlwaysSensitive(true),
            Attribute::Extractable(false),
            Attribute::NeverExtractable(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Sign(false),
            Attribute::Verify(false),
        ];
        for attribute in &expected {
            assert!(
                attributes.contains(attribute),
                "{attribute:?} not in {attributes:?}"
            );
        }
        // The value never comes back: C_GetAttributeValue(CKA_VALUE) answers
        // CKR_ATTRIBUTE_SENSITIVE.
        assert!(
            !attributes
                .iter()
                .any(|a| a.attribute_type() == AttributeType::Value),
            "CKA_VALUE was returned"
        );
        let info = session
            .get_attribute_info(keys[0], &[AttributeType::Value])
            .unwrap();
        assert!(
            matches!(info.as_slice(), [AttributeInfo::Sensitive]),
            "{info:?}"
        );
        // Nor can it be wrapped out with another key.
        let wrapping = session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::ValueLen(Ulong::from(32)),
                    Attribute::Token(false),
                    Attribute::Wrap(true),
                ],
            )
            .unwrap();
        let err = session
            .wrap_key(&Mechanism::AesKeyWrapPad, wrapping, keys[0])
            .unwrap_err();
        assert!(
            matches!(
                err,
                P11Error::Pkcs11(RvError::KeyUnextractable | RvError::KeyNotWrappable, _)
            ),
            "{err}"
        );
    });
}

#[test]
fn wrong_pin_is_refused() {
    isolated("wrong_pin_is_refused", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        let err = Pkcs11Provider::open(&settings(hsm, "vault", "not-the-pin"), true)
            .await
            .unwrap_err();
        match &err {
            CryptoError::Refused(message) => {
                assert!(message.contains("PinIncorrect"), "{message}");
                assert!(!message.contains("not-the-pin"), "{message}");
            }
            other => panic!("expected Refused, got {other:?}"),
        }
        // The right PIN still works (one failure did not lock the token).
        Pkcs11Provider::open(&settings(hsm, "vault", PIN), true)
            .await
            .unwrap();
    });
}

#[test]
fn token_removed_is_unavailable() {
    isolated("token_removed_is_unavailable", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        hsm.init_token("other", SO_PIN, PIN);
        let s = settings(hsm, "vault", PIN);
        let provider = Pkcs11Provider::open(&s, true).await.unwrap();
        let wrapped = provider.wrap("key_1", &DATA_KEY).await.unwrap();

        hsm.delete_token("vault");
        let err = provider.unwrap("key_1", &wrapped).await.unwrap_err();
        println!("unwrap after removal: {err}");
        assert!(matches!(err, CryptoError::Unavailable(_)), "{err:?}");
        let err = provider.wrap("key_1", &DATA_KEY).await.unwrap_err();
        println!("wrap after removal: {err}");
        assert!(matches!(err, CryptoError::Unavailable(_)), "{err:?}");

        let err = Pkcs11Provider::open(&s, false).await.unwrap_err();
        match &err {
            CryptoError::Unavailable(message) => {
                assert!(message.contains("token \"vault\" not present"), "{message}");
                assert!(message.contains("(tokens seen: \"other\")"), "{message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }

        // A module that is not there: unavailable too.
        let missing = Pkcs11Settings {
            module: "/nonexistent/libpkcs11.so".into(),
            ..settings(hsm, "vault", PIN)
        };
        let err = Pkcs11Provider::open(&missing, false).await.unwrap_err();
        assert!(matches!(err, CryptoError::Unavailable(_)), "{err:?}");
    });
}

#[test]
fn logs_in_again_after_a_session_error() {
    isolated("logs_in_again_after_a_session_error", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        let provider = Pkcs11Provider::open(&settings(hsm, "vault", PIN), true)
            .await
            .unwrap();
        let wrapped = provider.wrap("key_1", &DATA_KEY).await.unwrap();
        // Logging out (login state is per token and process) leaves the provider's session
        // without access to its private key: the next call fails, and the provider opens a new
        // session and logs in again, once.
        let session = raw_session(hsm, "vault");
        session.logout().unwrap();
        assert_eq!(
            provider.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
            DATA_KEY
        );
        session.logout().unwrap();
        let again = provider.wrap("key_2", &DATA_KEY).await.unwrap();
        assert_eq!(
            provider.unwrap("key_2", &again).await.unwrap().as_slice(),
            DATA_KEY
        );
    });
}

#[test]
fn missing_key_without_create_is_refused() {
    isolated("missing_key_without_create_is_refused", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        let err = Pkcs11Provider::open(&settings(hsm, "vault", PIN), false)
            .await
            .unwrap_err();
        match &err {
            CryptoError::Refused(message) => {
                assert!(
                    message.contains("no key labelled \"scaivault-root-key\""),
                    "{message}"
                );
                assert!(message.contains("scaivault operator init"), "{message}");
            }
            other => panic!("expected Refused, got {other:?}"),
        }
    });
}

#[test]
fn wraps_are_bound_to_their_key_id() {
    isolated("wraps_are_bound_to_their_key_id", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        let provider = Pkcs11Provider::open(&settings(hsm, "vault", PIN), true)
            .await
            .unwrap();
        let wrapped = provider.wrap("key_1", &DATA_KEY).await.unwrap();
        let err = provider.unwrap("key_2", &wrapped).await.unwrap_err();
        assert!(matches!(err, CryptoError::OpenFailed), "{err:?}");
        // Tampered ciphertext or IV.
        for at in [1, 20, wrapped.len() - 1] {
            let mut bad = wrapped.clone();
            bad[at] ^= 1;
            let err = provider.unwrap("key_1", &bad).await.unwrap_err();
            assert!(matches!(err, CryptoError::OpenFailed), "byte {at}: {err:?}");
        }
        // Other framing.
        let mut other_format = wrapped.clone();
        other_format[0] = 2;
        for bad in [&other_format[..], &wrapped[..20], &[][..]] {
            let err = provider.unwrap("key_1", bad).await.unwrap_err();
            assert!(matches!(err, CryptoError::Malformed), "{err:?}");
        }
        // The provider still works after the failures.
        assert_eq!(
            provider.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
            DATA_KEY
        );
    });
}

#[test]
fn token_found_by_label_among_several() {
    isolated("token_found_by_label_among_several", async |hsm| {
        hsm.init_token("first", SO_PIN, "first-pin-1");
        hsm.init_token("second", SO_PIN, "second-pin-2");
        assert_eq!(hsm.token_count(), 2);
        // The first token's PIN does not open the second (checked before any login: PKCS#11
        // login state is per token and process).
        let err = Pkcs11Provider::open(&settings(hsm, "second", "first-pin-1"), true)
            .await
            .unwrap_err();
        assert!(matches!(err, CryptoError::Refused(_)), "{err:?}");
        let second = Pkcs11Provider::open(&settings(hsm, "second", "second-pin-2"), true)
            .await
            .unwrap();
        assert_eq!(second.describe(), "pkcs11:second/scaivault-root-key");
        let first = Pkcs11Provider::open(&settings(hsm, "first", "first-pin-1"), true)
            .await
            .unwrap();
        assert!(first.created_key());
        let wrapped = second.wrap("key_1", &DATA_KEY).await.unwrap();
        assert_eq!(
            second.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
            DATA_KEY
        );
        // The same label on the other token is another key.
        let err = first.unwrap("key_1", &wrapped).await.unwrap_err();
        assert!(matches!(err, CryptoError::OpenFailed), "{err:?}");
    });
}

#[test]
fn refuses_extractable_or_duplicate_keys() {
    isolated("refuses_extractable_or_duplicate_keys", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        {
            let session = raw_session(hsm, "vault");
            for label in [&b"weak"[..], b"twice", b"twice"] {
                session
                    .generate_key(
                        &Mechanism::AesKeyGen,
                        &[
                            Attribute::ValueLen(Ulong::from(32)),
                            Attribute::Token(true),
                            Attribute::Private(true),
                            Attribute::Sensitive(label != b"weak"),
                            Attribute::Extractable(label == b"weak"),
                            Attribute::Encrypt(true),
                            Attribute::Decrypt(true),
                            Attribute::Label(label.to_vec()),
                        ],
                    )
                    .unwrap();
            }
        }
        for (label, expect) in [
            ("weak", "is not sensitive"),
            ("twice", "2 secret keys are labelled \"twice\""),
        ] {
            let s = Pkcs11Settings {
                key_label: label.to_owned(),
                ..settings(hsm, "vault", PIN)
            };
            match Pkcs11Provider::open(&s, true).await.unwrap_err() {
                CryptoError::Refused(message) => assert!(message.contains(expect), "{message}"),
                other => panic!("expected Refused, got {other:?}"),
            }
        }
    });
}

#[test]
fn concurrent_calls_share_the_session() {
    isolated("concurrent_calls_share_the_session", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        let provider = std::sync::Arc::new(
            Pkcs11Provider::open(&settings(hsm, "vault", PIN), true)
                .await
                .unwrap(),
        );
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let provider = std::sync::Arc::clone(&provider);
                tokio::spawn(async move {
                    let key = [i as u8; 32];
                    let id = format!("key_{i}");
                    let wrapped = provider.wrap(&id, &key).await.unwrap();
                    assert_eq!(
                        provider.unwrap(&id, &wrapped).await.unwrap().as_slice(),
                        key
                    );
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn measures_open_and_wrap_latency() {
    isolated("measures_open_and_wrap_latency", async |hsm| {
        hsm.init_token("vault", SO_PIN, PIN);
        let s = settings(hsm, "vault", PIN);
        let start = Instant::now();
        let created = Pkcs11Provider::open(&s, true).await.unwrap();
        let first_open = start.elapsed();
        drop(created);
        let start = Instant::now();
        let provider = Pkcs11Provider::open(&s, false).await.unwrap();
        let reopen = start.elapsed();

        const N: u32 = 200;
        let mut wraps = Vec::with_capacity(N as usize);
        let start = Instant::now();
        for i in 0..N {
            wraps.push(provider.wrap(&format!("key_{i}"), &DATA_KEY).await.unwrap());
        }
        let wrap = start.elapsed() / N;
        let start = Instant::now();
        for (i, wrapped) in wraps.iter().enumerate() {
            provider.unwrap(&format!("key_{i}"), wrapped).await.unwrap();
        }
        let unwrap = start.elapsed() / N;
        println!(
            "pkcs11 (SoftHSM2): open+create {} ms, open {} ms, wrap {} us, unwrap {} us (mean of {N})",
            first_open.as_millis(),
            reopen.as_millis(),
            wrap.as_micros(),
            unwrap.as_micros()
        );
        assert!(reopen < Duration::from_secs(10));
    });
}
