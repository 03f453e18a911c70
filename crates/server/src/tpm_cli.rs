//! `scaivault tpm init|status|backup|restore`: the TPM 2.0 root key on this host.

use std::process::ExitCode;

use crate::cli::TpmCommand;

/// Runs one `scaivault tpm` command. Exit codes: 0 done, 1 error, 2 wrong PIN.
#[cfg(feature = "tpm")]
pub fn run(command: TpmCommand) -> ExitCode {
    enabled::run(command)
}

/// Without the `tpm` feature the commands exist (so help and scripts see them) and say why
/// they cannot run.
#[cfg(not(feature = "tpm"))]
pub fn run(command: TpmCommand) -> ExitCode {
    let _ = command;
    eprintln!(
        "error: this scaivault was built without TPM support; build it with `--features tpm` \
         (needs libtss2-dev)"
    );
    ExitCode::FAILURE
}

#[cfg(feature = "tpm")]
mod enabled {
    use std::io::{IsTerminal, Write};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use scaivault_crypto::CryptoError;
    use scaivault_keys::tpm::{self, TpmProvider, TpmStatus};
    use scaivault_keys::{Pin, ProviderKind, TpmSettings};

    use crate::bootstrap;
    use crate::cli::{TpmCommand, UserPinArgs};
    use crate::config::Config;

    /// What ends a command: a wrong PIN (exit 2) or anything else (exit 1).
    enum Failure {
        WrongPin(String),
        Other(String),
    }

    impl From<CryptoError> for Failure {
        fn from(e: CryptoError) -> Self {
            if tpm::is_wrong_pin(&e) {
                Self::WrongPin(e.to_string())
            } else {
                Self::Other(e.to_string())
            }
        }
    }

    impl From<crate::StartupError> for Failure {
        fn from(e: crate::StartupError) -> Self {
            Self::Other(e.to_string())
        }
    }

    pub(super) fn run(command: TpmCommand) -> ExitCode {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        match runtime.block_on(dispatch(command)) {
            Ok(code) => code,
            Err(Failure::WrongPin(e)) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
            Err(Failure::Other(e)) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    async fn dispatch(command: TpmCommand) -> Result<ExitCode, Failure> {
        match command {
            TpmCommand::Init {
                config,
                sopin,
                sopin_file,
                user,
            } => {
                let (config, data_dir, settings) = load(config.as_deref())?;
                let so_pin = read_pin(sopin, sopin_file, "SO PIN", "--sopin-file", true)?;
                let user_pin = user_pin(user, true)?;
                init(&config, &data_dir, &settings, &so_pin, &user_pin).await?;
                Ok(ExitCode::SUCCESS)
            }
            TpmCommand::Status { config, json } => {
                let (config, data_dir, settings) = load(config.as_deref())?;
                status(&config, &data_dir, &settings, json).await
            }
            TpmCommand::Backup {
                config,
                output,
                user,
            } => {
                let (_, data_dir, settings) = load(config.as_deref())?;
                let pin = user_pin(user, false)?;
                tpm::backup(&settings, &data_dir, &pin, &output).await?;
                println!(
                    "Backup written to {} (the root key encrypted under keys derived from the \
                     user PIN and the SO PIN; never the plaintext key). Keep it off this host: \
                     without it, the data cannot be recovered on a new host.",
                    output.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            TpmCommand::Restore {
                config,
                input,
                user,
                sopin,
                sopin_file,
                force,
            } => {
                let (_, data_dir, settings) = load(config.as_deref())?;
                if sopin.is_some() || sopin_file.is_some() {
                    let so_pin = read_pin(sopin, sopin_file, "SO PIN", "--sopin-file", false)?;
                    let new_pin = read_pin(
                        user.userpin,
                        user.userpin_file,
                        "new user PIN",
                        "--userpin-file",
                        true,
                    )?;
                    tpm::restore_with_so_pin(
                        &settings, &data_dir, &so_pin, &new_pin, &input, force,
                    )
                    .await?;
                } else {
                    let pin = user_pin(user, false)?;
                    tpm::restore(&settings, &data_dir, &pin, &input, force).await?;
                }
                println!(
                    "Root key restored into the TPM at {}; key file {}. The server opens the \
                     same data with the same user PIN.",
                    settings.tcti,
                    settings.key_file(&data_dir).display()
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    }

    /// The configuration, its data directory and its `[root_key.tpm]` (defaults if absent).
    fn load(file: Option<&Path>) -> Result<(Config, PathBuf, TpmSettings), Failure> {
        let config = Config::load(file)?;
        let data_dir = config.required_data_dir()?;
        let settings = config.root_key.tpm.clone().unwrap_or_else(|| TpmSettings {
            tcti: "device:/dev/tpmrm0".into(),
            key_file: None,
            pin: None,
            pin_file: None,
        });
        Ok((config, data_dir, settings))
    }

    fn user_pin(args: UserPinArgs, confirm: bool) -> Result<Pin, Failure> {
        read_pin(
            args.userpin,
            args.userpin_file,
            "user PIN",
            "--userpin-file",
            confirm,
        )
    }

    /// A PIN from its flag, its file, or a prompt without echo (asked twice with `confirm`).
    fn read_pin(
        inline: Option<String>,
        file: Option<PathBuf>,
        what: &str,
        file_flag: &str,
        confirm: bool,
    ) -> Result<Pin, Failure> {
        if let Some(pin) = inline {
            return Ok(Pin::new(pin));
        }
        if let Some(path) = file {
            return Pin::from_file(&path).map_err(|e| Failure::Other(e.to_string()));
        }
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Other(format!(
                "no {what} given and stdin is not a terminal: pass {file_flag} FILE"
            )));
        }
        let prompt = |text: &str| {
            rpassword::prompt_password(text)
                .map(|p| Pin::new(p.trim_end_matches(['\r', '\n']).to_owned()))
                .map_err(|e| Failure::Other(format!("cannot read the {what}: {e}")))
        };
        let pin = prompt(&format!("{what}: "))?;
        if confirm {
            let again = prompt(&format!("{what} (again): "))?;
            if again.expose() != pin.expose() {
                return Err(Failure::Other(format!("the two {what}s differ")));
            }
        }
        if pin.expose().is_empty() {
            return Err(Failure::Other(format!("the {what} is empty")));
        }
        Ok(pin)
    }

    async fn init(
        config: &Config,
        data_dir: &Path,
        settings: &TpmSettings,
        so_pin: &Pin,
        user_pin: &Pin,
    ) -> Result<(), Failure> {
        let store = bootstrap::OpenedStore::open(config, data_dir).await?;
        let has_keyring = bootstrap::is_initialized(store.as_store()).await?;
        tpm::init(settings, data_dir, so_pin, user_pin).await?;
        // Open it with the PIN just given (the configuration may not hold it).
        let mut with_pin = settings.clone();
        with_pin.pin = Some(user_pin.clone());
        with_pin.pin_file = None;
        let provider = TpmProvider::open(&with_pin, data_dir).await?;
        if has_keyring {
            store.close().await;
            println!(
                "TPM root key created: {} (key file {}).",
                scaivault_crypto::KeyProvider::describe(&provider),
                provider.key_file().display()
            );
            println!(
                "This store already has a keyring: move it under the TPM key with\n  \
                 scaivault operator rewrap --to-provider tpm"
            );
            println!("Then back the key up: scaivault tpm backup --output FILE");
            return Ok(());
        }
        if config.root_key.provider != ProviderKind::Tpm {
            eprintln!(
                "warning: [root_key] provider is \"{}\", not \"tpm\": set provider = \"tpm\" so the \
                 server uses this key",
                config.root_key.provider
            );
        }
        crate::serve::initialize_store(
            config,
            data_dir,
            &store,
            &provider,
            "created in the TPM; back it up with `scaivault tpm backup`",
        )
        .await?;
        Ok(())
    }

    async fn status(
        config: &Config,
        data_dir: &Path,
        settings: &TpmSettings,
        json: bool,
    ) -> Result<ExitCode, Failure> {
        let status = tpm::status(settings, data_dir).await;
        let keyring = if status.blobs_load == Some(true) {
            keyring_opens(config, data_dir, settings).await
        } else {
            KeyringCheck::NotChecked("the key does not load".into())
        };
        let ok = status.present && status.blobs_load == Some(true);
        if json {
            let (opens, reason) = match &keyring {
                KeyringCheck::Opens => (Some(true), None),
                KeyringCheck::Fails(r) => (Some(false), Some(r.clone())),
                KeyringCheck::NotChecked(r) => (None, Some(r.clone())),
            };
            let mut value = serde_json::to_value(&status)
                .map_err(|e| Failure::Other(format!("cannot encode the status: {e}")))?;
            if let Some(map) = value.as_object_mut() {
                map.insert("keyring_opens".into(), serde_json::json!(opens));
                map.insert("keyring_error".into(), serde_json::json!(reason));
            }
            println!("{value:#}");
        } else {
            print_status(&status, &keyring);
        }
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    enum KeyringCheck {
        Opens,
        Fails(String),
        NotChecked(String),
    }

    /// Whether the store's keyring unwraps with the TPM key (needs the configured PIN).
    async fn keyring_opens(
        config: &Config,
        data_dir: &Path,
        settings: &TpmSettings,
    ) -> KeyringCheck {
        if settings.user_pin().is_err() {
            return KeyringCheck::NotChecked(
                "no user PIN configured (SCAIVAULT_ROOT_KEY_TPM_PIN or [root_key.tpm] pin_file)"
                    .into(),
            );
        }
        let provider = match TpmProvider::open(settings, data_dir).await {
            Ok(p) => p,
            Err(e) => return KeyringCheck::Fails(e.to_string()),
        };
        let store = match bootstrap::OpenedStore::open(config, data_dir).await {
            Ok(s) => s,
            Err(e) => return KeyringCheck::NotChecked(e.to_string()),
        };
        let result = bootstrap::load_keys(store.as_store(), &provider).await;
        store.close().await;
        match result {
            Ok(_) => KeyringCheck::Opens,
            Err(e) => KeyringCheck::Fails(e.to_string()),
        }
    }

    fn print_status(status: &TpmStatus, keyring: &KeyringCheck) {
        let mut out = std::io::stdout().lock();
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        let _ = writeln!(out, "TPM:           {}", status.tcti);
        match &status.error {
            None => {
                let _ = writeln!(out, "  present:     yes");
            }
            Some(e) => {
                let _ = writeln!(out, "  present:     no ({e})");
            }
        }
        if status.present {
            let _ = writeln!(out, "  manufacturer: {}", or_unknown(&status.manufacturer));
            let _ = writeln!(
                out,
                "  firmware:    {}",
                or_unknown(&status.firmware_version)
            );
            let lockout = match status.lockout {
                Some(true) => "YES (dictionary-attack lockout: wrong PINs)",
                Some(false) => "no",
                None => "unknown",
            };
            let _ = writeln!(out, "  lockout:     {lockout}");
        }
        let _ = writeln!(
            out,
            "Key file:      {} ({})",
            status.key_file.display(),
            if status.key_file_present {
                "present"
            } else {
                "missing: run `scaivault tpm init` or `scaivault tpm restore`"
            }
        );
        let blobs = match status.blobs_load {
            Some(true) => "load in this TPM".to_owned(),
            Some(false) => format!(
                "do NOT load in this TPM: {}",
                status.key_error.clone().unwrap_or_default()
            ),
            None => match &status.key_error {
                Some(e) => format!("not checked: {e}"),
                None => "not checked".to_owned(),
            },
        };
        let _ = writeln!(out, "  blobs:       {blobs}");
        let keyring = match keyring {
            KeyringCheck::Opens => "opens with the TPM key".to_owned(),
            KeyringCheck::Fails(e) => format!("does NOT open: {e}"),
            KeyringCheck::NotChecked(e) => format!("not checked: {e}"),
        };
        let _ = writeln!(out, "Keyring:       {keyring}");
        let _ = out.flush();
    }
}
