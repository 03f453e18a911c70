//! The TPM 2.0 root key provider against a real software TPM (swtpm).
#![cfg(feature = "tpm")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::path::Path;
use std::time::Instant;

use scaivault_crypto::{CryptoError, KeyProvider};
use scaivault_keys::tpm::{self, TpmProvider};
use scaivault_keys::{Pin, TpmSettings};
use scaivault_testpeers::swtpm::Swtpm;

const SO_PIN: &str = "so-pin-4321";
const USER_PIN: &str = "user-pin-1234";

fn settings(tcti: &str, pin: &str) -> TpmSettings {
    TpmSettings {
        tcti: tcti.to_owned(),
        key_file: None,
        pin: Some(Pin::new(pin)),
        pin_file: None,
    }
}

async fn init(swtpm: &Swtpm, data_dir: &Path) -> TpmSettings {
    let s = settings(&swtpm.tcti(), USER_PIN);
    tpm::init(&s, data_dir, &Pin::new(SO_PIN), &Pin::new(USER_PIN))
        .await
        .unwrap();
    s
}

fn refused(result: Result<impl std::fmt::Debug, CryptoError>, needle: &str) {
    match result {
        Err(CryptoError::Refused(reason)) => assert!(reason.contains(needle), "{reason}"),
        other => panic!("expected Refused({needle}), got {other:?}"),
    }
}

#[tokio::test]
async fn init_open_round_trip_and_key_id_binding() {
    let dir = tempfile::tempdir().unwrap();
    let swtpm = Swtpm::start(&dir.path().join("tpm"));
    let data = dir.path().join("data");
    let s = init(&swtpm, &data).await;

    let key_file = data.join("tpm-root-key.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let started = Instant::now();
    let provider = TpmProvider::open(&s, &data).await.unwrap();
    eprintln!("open: {:?}", started.elapsed());
    assert_eq!(provider.describe(), format!("tpm:{}", swtpm.tcti()));
    assert_eq!(provider.kind(), "tpm");

    let dek = [42u8; 32];
    let started = Instant::now();
    let wrapped = provider.wrap("key_1", &dek).await.unwrap();
    eprintln!("wrap: {:?}", started.elapsed());
    let started = Instant::now();
    let unwrapped = provider.unwrap("key_1", &wrapped).await.unwrap();
    eprintln!("unwrap: {:?}", started.elapsed());
    assert_eq!(unwrapped.as_slice(), &dek);
    // Two wraps of one key differ (fresh nonce and IV).
    assert_ne!(provider.wrap("key_1", &dek).await.unwrap(), wrapped);

    // Bound to its key id.
    assert!(matches!(
        provider.unwrap("key_2", &wrapped).await,
        Err(CryptoError::OpenFailed)
    ));
    // Tampering fails to authenticate.
    let mut tampered = wrapped.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        provider.unwrap("key_1", &tampered).await,
        Err(CryptoError::OpenFailed)
    ));

    // Reopen (a restart of our side) opens old wraps.
    drop(provider);
    let reopened = TpmProvider::open(&s, &data).await.unwrap();
    assert_eq!(
        reopened.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
        &dek
    );

    // A reboot of the TPM (same state) too.
    let mut swtpm = swtpm;
    swtpm.restart();
    assert_eq!(
        reopened.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
        &dek
    );

    // init refuses to replace the key file.
    assert!(
        tpm::init(&s, &data, &Pin::new(SO_PIN), &Pin::new(USER_PIN))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn wrong_pin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let swtpm = Swtpm::start(&dir.path().join("tpm"));
    let data = dir.path().join("data");
    init(&swtpm, &data).await;
    let wrong = settings(&swtpm.tcti(), "not-the-pin");
    refused(TpmProvider::open(&wrong, &data).await, "wrong PIN");
    let err = TpmProvider::open(&wrong, &data).await.unwrap_err();
    assert!(tpm::is_wrong_pin(&err));
    assert!(!err.to_string().contains("not-the-pin"), "{err}");
    // backup checks the PIN in the TPM as well, and writes nothing.
    let out = dir.path().join("backup.json");
    refused(
        tpm::backup(&wrong, &data, &Pin::new("not-the-pin"), &out).await,
        "wrong PIN",
    );
    assert!(!out.exists());
}

#[tokio::test]
async fn missing_key_file_is_refused_naming_init() {
    let dir = tempfile::tempdir().unwrap();
    let swtpm = Swtpm::start(&dir.path().join("tpm"));
    refused(
        TpmProvider::open(&settings(&swtpm.tcti(), USER_PIN), dir.path()).await,
        "scaivault tpm init",
    );
}

#[tokio::test]
async fn stopped_tpm_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut swtpm = Swtpm::start(&dir.path().join("tpm"));
    let data = dir.path().join("data");
    let s = init(&swtpm, &data).await;
    let provider = TpmProvider::open(&s, &data).await.unwrap();
    let wrapped = provider.wrap("key_1", &[1u8; 32]).await.unwrap();

    swtpm.stop();
    match TpmProvider::open(&s, &data).await {
        Err(CryptoError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match provider.unwrap("key_1", &wrapped).await {
        Err(CryptoError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let status = tpm::status(&s, &data).await;
    assert!(!status.present);
    assert!(status.error.is_some());

    // Back: the same provider works again.
    swtpm.restart();
    assert_eq!(
        provider.unwrap("key_1", &wrapped).await.unwrap().as_slice(),
        &[1u8; 32]
    );
}

#[tokio::test]
async fn backup_restore_on_a_new_tpm_opens_old_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let mut old_tpm = Swtpm::start(&dir.path().join("tpm-old"));
    let data = dir.path().join("data");
    let s = init(&old_tpm, &data).await;
    let status = tpm::status(&s, &data).await;
    assert!(status.present, "{status:?}");
    assert_eq!(status.manufacturer.as_deref(), Some("IBM"));
    assert_eq!(status.blobs_load, Some(true), "{status:?}");

    let provider = TpmProvider::open(&s, &data).await.unwrap();
    let wraps: Vec<(String, Vec<u8>)> = {
        let mut v = Vec::new();
        for i in 0..3 {
            let id = format!("key_{i}");
            v.push((
                id.clone(),
                provider.wrap(&id, &[i as u8; 32]).await.unwrap(),
            ));
        }
        v
    };
    drop(provider);
    let backup = dir.path().join("backup.json");
    let started = Instant::now();
    tpm::backup(&s, &data, &Pin::new(USER_PIN), &backup)
        .await
        .unwrap();
    eprintln!("backup: {:?}", started.elapsed());
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(text.contains("pbkdf2-hmac-sha256"), "{text}");
    // The backup refuses to overwrite.
    assert!(
        tpm::backup(&s, &data, &Pin::new(USER_PIN), &backup)
            .await
            .is_err()
    );

    // A new host: a fresh TPM (new seeds). The old key file does not load there.
    old_tpm.stop();
    let new_tpm = Swtpm::start(&dir.path().join("tpm-new"));
    let s_new = settings(&new_tpm.tcti(), USER_PIN);
    refused(TpmProvider::open(&s_new, &data).await, "another TPM");
    let status = tpm::status(&s_new, &data).await;
    assert_eq!(status.blobs_load, Some(false), "{status:?}");

    // Restore with a wrong PIN: refused, nothing written.
    let key_file = data.join("tpm-root-key.json");
    let before = std::fs::read(&key_file).unwrap();
    let err = tpm::restore(&s_new, &data, &Pin::new("wrong-pin"), &backup, true)
        .await
        .unwrap_err();
    assert!(tpm::is_wrong_pin(&err), "{err:?}");
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
    // Without --force an existing key file stays.
    assert!(
        tpm::restore(&s_new, &data, &Pin::new(USER_PIN), &backup, false)
            .await
            .is_err()
    );
    assert_eq!(std::fs::read(&key_file).unwrap(), before);

    let started = Instant::now();
    tpm::restore(&s_new, &data, &Pin::new(USER_PIN), &backup, true)
        .await
        .unwrap();
    eprintln!("restore: {:?}", started.elapsed());
    let provider = TpmProvider::open(&s_new, &data).await.unwrap();
    for (i, (id, wrapped)) in wraps.iter().enumerate() {
        assert_eq!(
            provider.unwrap(id, wrapped).await.unwrap().as_slice(),
            &[i as u8; 32]
        );
    }
    // The restored key backs up again (its sealed object holds the SO envelope too).
    let again = dir.path().join("backup-2.json");
    tpm::backup(&s_new, &data, &Pin::new(USER_PIN), &again)
        .await
        .unwrap();
}

#[tokio::test]
async fn restore_into_an_empty_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let old_tpm = Swtpm::start(&dir.path().join("tpm-old"));
    let data = dir.path().join("data");
    let s = init(&old_tpm, &data).await;
    let wrapped = TpmProvider::open(&s, &data)
        .await
        .unwrap()
        .wrap("key_9", &[9u8; 32])
        .await
        .unwrap();
    let backup = dir.path().join("backup.json");
    tpm::backup(&s, &data, &Pin::new(USER_PIN), &backup)
        .await
        .unwrap();
    drop(old_tpm);

    let new_tpm = Swtpm::start(&dir.path().join("tpm-new"));
    let new_data = dir.path().join("data-new");
    let s_new = settings(&new_tpm.tcti(), USER_PIN);
    assert!(
        tpm::restore(&s_new, &new_data, &Pin::new("wrong-pin"), &backup, false)
            .await
            .is_err()
    );
    assert!(!new_data.join("tpm-root-key.json").exists());
    tpm::restore(&s_new, &new_data, &Pin::new(USER_PIN), &backup, false)
        .await
        .unwrap();
    let provider = TpmProvider::open(&s_new, &new_data).await.unwrap();
    assert_eq!(
        provider.unwrap("key_9", &wrapped).await.unwrap().as_slice(),
        &[9u8; 32]
    );
}

#[tokio::test]
async fn restore_with_the_so_pin_sets_a_new_user_pin() {
    let dir = tempfile::tempdir().unwrap();
    let old_tpm = Swtpm::start(&dir.path().join("tpm-old"));
    let data = dir.path().join("data");
    let s = init(&old_tpm, &data).await;
    let wrapped = TpmProvider::open(&s, &data)
        .await
        .unwrap()
        .wrap("key_5", &[5u8; 32])
        .await
        .unwrap();
    let backup = dir.path().join("backup.json");
    tpm::backup(&s, &data, &Pin::new(USER_PIN), &backup)
        .await
        .unwrap();
    drop(old_tpm);

    let new_tpm = Swtpm::start(&dir.path().join("tpm-new"));
    let new_data = dir.path().join("data-new");
    let s_new = settings(&new_tpm.tcti(), "new-user-pin");
    // The user PIN does not open the SO envelope.
    let err = tpm::restore_with_so_pin(
        &s_new,
        &new_data,
        &Pin::new(USER_PIN),
        &Pin::new("new-user-pin"),
        &backup,
        false,
    )
    .await
    .unwrap_err();
    assert!(tpm::is_wrong_pin(&err), "{err:?}");
    assert!(!new_data.join("tpm-root-key.json").exists());
    tpm::restore_with_so_pin(
        &s_new,
        &new_data,
        &Pin::new(SO_PIN),
        &Pin::new("new-user-pin"),
        &backup,
        false,
    )
    .await
    .unwrap();
    let provider = TpmProvider::open(&s_new, &new_data).await.unwrap();
    assert_eq!(
        provider.unwrap("key_5", &wrapped).await.unwrap().as_slice(),
        &[5u8; 32]
    );
    // The old user PIN no longer opens it here.
    refused(
        TpmProvider::open(&settings(&new_tpm.tcti(), USER_PIN), &new_data).await,
        "wrong PIN",
    );
}
