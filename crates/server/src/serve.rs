//! Starting and stopping the server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use scaivault_core::{Clock, SystemClock};
use scaivault_crypto::{FileKeyProvider, KeyProvider};
use scaivault_store::cache;
use tokio::net::TcpListener;

use crate::StartupError;
use crate::access::AccessTracker;
use crate::auth::TokenCache;
use crate::bootstrap::{self, RootIdentity};
use crate::cli::ServerArgs;
use crate::config::{Config, LogFormat};
use crate::state::{AppState, Inner, Limits};

const DEV_ROOT_KEY_FILE: &str = "dev-root.key";
const ACCESS_FLUSH_EVERY: Duration = Duration::from_secs(1);
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How long a compiled policy set may be used on a store shared by several nodes: a safety net
/// behind the change feed (LISTEN/NOTIFY), which empties the cache at once.
const POLICY_CACHE_SHARED_TTL: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The log subscriber: fmt lines (text or JSON, filtered by `log_level` / `RUST_LOG`) and, with
/// `otlp_endpoint`, an OpenTelemetry layer exporting spans over OTLP/HTTP. The request span is
/// at INFO (its `request_id` is on every log line of the request); the store, audit and webhook
/// spans under it are at DEBUG and only the OTLP layer takes them, so without a collector they
/// cost nothing.
fn init_logging(
    format: LogFormat,
    level: &str,
    otlp_endpoint: Option<&str>,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, StartupError> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt: Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync> = match format {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => fmt.with_filter(filter).boxed(),
    };
    let (otel, provider) = match otlp_endpoint {
        Some(endpoint) => {
            let provider = crate::tracing_otlp::provider(endpoint)?;
            (Some(crate::tracing_otlp::layer(&provider)), Some(provider))
        }
        None => (None, None),
    };
    // A second initialisation (tests in one process) is harmless: keep the first.
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    Ok(provider)
}

pub(crate) fn root_key_path(config: &Config, data_dir: &std::path::Path) -> PathBuf {
    config
        .root_key_file
        .clone()
        .unwrap_or_else(|| data_dir.join("root.key"))
}

pub async fn serve(args: ServerArgs) -> Result<(), StartupError> {
    let test_clock = args
        .dev_test_clock
        .then(|| Arc::new(scaivault_core::ManualClock::new(SystemClock.now())));
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    let mut config = if args.dev {
        Config::dev_defaults()
    } else {
        if args.config.is_none() {
            return Err(StartupError::Config(
                "give --config FILE for a production server, or --dev for a development server"
                    .into(),
            ));
        }
        Config::load(args.config.as_deref())?
    };
    if let Some(listen) = &args.listen {
        config.listen = listen.clone();
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = Some(dir.clone());
    }
    if let Some(format) = args.log_format {
        config.log_format = format;
    }
    config
        .webhook_allowed_networks
        .extend(args.dev_webhook_network.iter().cloned());
    let tracer = init_logging(
        config.log_format,
        &config.log_level,
        config.otlp_endpoint.as_deref(),
    )?;
    let metrics = if config.metrics_enabled {
        crate::metrics::Metrics::install(config.metrics_per_tenant)
    } else {
        crate::metrics::Metrics::disabled()
    };
    let metrics_refresh = config.metrics_refresh_interval()?;

    // Dev mode without --data-dir: a fresh directory that is removed on exit.
    let mut _temp_dir = None;
    let data_dir = match &config.data_dir {
        Some(dir) => dir.clone(),
        None if args.dev => {
            let dir = tempfile::Builder::new()
                .prefix("scaivault-dev-")
                .tempdir()
                .map_err(|e| {
                    StartupError::Io(format!("cannot create a temporary directory: {e}"))
                })?;
            let path = dir.path().to_owned();
            _temp_dir = Some(dir);
            path
        }
        None => return Err(StartupError::Config("data_dir is required".into())),
    };
    let tls = config.tls();
    if !args.dev && tls.is_none() && !config.allow_plain_http {
        return Err(StartupError::Config(
            "TLS is not configured: set tls_cert_file and tls_key_file, or allow_plain_http = true \
             behind a TLS-terminating proxy"
                .into(),
        ));
    }

    let store = bootstrap::OpenedStore::open(&config, &data_dir).await?;
    crate::migrate::refuse_unfinished(store.as_store()).await?;
    if !args.dev && !bootstrap::is_initialized(store.as_store()).await? {
        return Err(StartupError::NotInitialized);
    }
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| StartupError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartupError::Io(e.to_string()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let tls = match tls {
        Some((cert, key)) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| StartupError::Config(format!("TLS certificate or key: {e}")))?,
        ),
        None => None,
    };
    let mut listener = Some(listener);
    // The unauthenticated metrics listener serves while sealed too (the sealed gauge is 1).
    let metrics_listener = match (&config.metrics_listen, metrics.enabled()) {
        (Some(listen), true) => {
            Some(crate::routes::sys_metrics::spawn_listener(listen, metrics.clone()).await?)
        }
        (Some(_), false) => {
            return Err(StartupError::Config(
                "metrics_listen needs metrics_enabled = true".into(),
            ));
        }
        (None, _) => None,
    };

    // The keyring. With the provider unavailable, the server serves sealed answers on the
    // listener and keeps trying (seal.rs); it never falls back to anything else.
    let provider_kind = if args.dev {
        "file"
    } else {
        config.root_key.provider.as_str()
    };
    let gate = crate::seal::Gate::new(provider_kind);
    let mut http = None;
    let (provider, keyring, hasher) = match unseal_keys(
        &args,
        &config,
        &data_dir,
        store.as_store(),
        clock.as_ref(),
    )
    .await
    {
        Ok(keys) => keys,
        Err(StartupError::Sealed(reason)) => {
            let interval = config.unseal_retry_interval()?;
            tracing::warn!(%reason, retry_every = ?interval, "sealed: the root key provider is unavailable; serving 503 sealed until it answers");
            print_sealed_banner(scheme, addr, provider_kind);
            metrics::gauge!("scaivault_keyring_sealed").set(1.0);
            let mut serving = spawn_http(listener.take(), tls.clone(), gate.service())?;
            let keys = loop {
                tokio::select! {
                    () = gate.wait_for_retry(interval) => {}
                    ended = &mut serving => {
                        // Shut down (or failed) while sealed.
                        store.close().await;
                        return ended.map_err(|e| StartupError::Io(e.to_string()))?;
                    }
                }
                match unseal_keys(&args, &config, &data_dir, store.as_store(), clock.as_ref()).await
                {
                    Ok(keys) => break keys,
                    Err(StartupError::Sealed(reason)) => {
                        gate.attempted();
                        tracing::warn!(%reason, "still sealed");
                    }
                    Err(e) => return Err(e),
                }
            };
            tracing::info!("unsealed: the root key provider answered");
            http = Some(serving);
            keys
        }
        Err(e) => return Err(e),
    };
    metrics::gauge!("scaivault_keyring_sealed").set(0.0);
    let audit_mac = crate::audit::chain_mac(&hasher);
    store.as_store().set_audit_mac(audit_mac.clone());
    bootstrap::ensure_tenancy(
        store.as_store(),
        clock.as_ref(),
        &config.bootstrap_tenant_id,
        &config.bootstrap_partner_id,
    )
    .await?;
    let jwt = if config.jwt_issuers.is_empty() {
        None
    } else {
        let verifier =
            scaivault_jwt::JwtVerifier::new(config.jwt_issuers.clone(), config.jwt_options()?)
                .map_err(|e| StartupError::Config(format!("jwt_issuers: {e}")))?;
        Some(Arc::new(verifier))
    };

    let mut printed_token = None;
    if args.dev {
        let token = match &args.dev_root_token {
            Some(t) if t.trim().is_empty() || t.chars().any(char::is_whitespace) => {
                return Err(StartupError::Config(
                    "--dev-root-token cannot be empty or contain whitespace".into(),
                ));
            }
            Some(t) => zeroize::Zeroizing::new(t.clone()),
            None => {
                let t = scaivault_crypto::token::generate_token()
                    .map_err(|e| StartupError::Keys(e.to_string()))?;
                printed_token = Some(t.clone());
                t
            }
        };
        let who = RootIdentity {
            token_id: "tok_dev_root",
            identity_id: "user:root@dev.local",
            tenant_id: &config.bootstrap_tenant_id,
            partner_id: &config.bootstrap_partner_id,
            name: "dev root token",
        };
        bootstrap::store_root_token(store.as_store(), &hasher, clock.as_ref(), &who, &token)
            .await?;
    }

    let (webhook_client, delivery) = config.webhooks()?;
    let state = AppState(Arc::new(Inner {
        // Reads of current versions are served from a coherent in-process cache of ciphertext.
        store: store.serving(cache::DEFAULT_CAPACITY),
        keys: crate::keys::KeyState::new(provider.clone(), keyring),
        hasher,
        clock: clock.clone(),
        tokens: TokenCache::default(),
        access: AccessTracker::default(),
        limits: Limits {
            soft_delete_retention: config.retention()?,
            max_body_bytes: config.max_body_bytes,
            operator_tenant_id: config.bootstrap_tenant_id.clone(),
            operator_partner_id: config.bootstrap_partner_id.clone(),
            expiry_warning: config.expiry_notices()?.1,
            dynamic_max_leases_per_tenant: config.dynamic_max_leases_per_tenant,
        },
        audit_mac,
        jwt,
        rate_limits: crate::ratelimit::RateLimiter::new(&config.rate_limits, clock.clone()),
        trusted_proxies: config.trusted_proxies()?,
        // With several nodes, another node's policy change reaches this one's cache within
        // this bound (one node: changes take effect on the next request).
        policies: crate::authz::PolicyCache::new(store.shared().then_some(POLICY_CACHE_SHARED_TTL)),
        events: crate::events::EventBus::default(),
        node_id: scaivault_crypto::random::random_id("node_")
            .map_err(|e| StartupError::Keys(e.to_string()))?,
        webhooks: webhook_client,
        test_clock,
        storage: crate::retention::StorageSettings {
            data_dir: data_dir.clone(),
            audit_retention: config.audit_retention()?,
            archive: scaivault_store::archive::Archive::new(config.audit_archive_dir(&data_dir)),
            min_free_disk: config.min_free_disk()?,
            event_replay_window: config.event_retention()?.0,
            dead_letter_retention: config.event_retention()?.1,
        },
        storage_health: Default::default(),
        public_url: std::sync::OnceLock::new(),
        dynamic: Default::default(),
        acme: Default::default(),
        metrics,
    }));
    let background = spawn_background(state.clone(), metrics_refresh);
    let audit_maintenance =
        crate::audit_sink::spawn_maintenance(state.clone(), config.audit_checkpoint_interval()?);
    let webhook_worker = crate::events::spawn_worker(state.clone(), delivery);
    let change_listener = crate::changes::spawn_listener(state.clone()).await;
    let (expiry_every, expiry_warning) = config.expiry_notices()?;
    // With the test clock, expiry notices run when the clock is moved (test_clock.rs).
    let expiry_notices = state
        .test_clock
        .is_none()
        .then(|| crate::events::spawn_expiry_notices(state.clone(), expiry_every, expiry_warning));
    // With the test clock, rounds run when the clock is moved (deterministic for tests).
    let rotation_interval = config.rotation_check_interval()?;
    let rotation_scheduler = state
        .test_clock
        .is_none()
        .then(|| crate::rotation::spawn_scheduler(state.clone(), rotation_interval));
    // With the test clock, sweeps run when the clock is moved (test_clock.rs).
    let sweep_interval = config.lease_sweep_interval()?;
    let lease_sweeper = state
        .test_clock
        .is_none()
        .then(|| crate::leases::spawn_sweeper(state.clone(), sweep_interval));
    // ACME orders run on every node, test clock or not: they wait on real CAs; the clock
    // only decides which are due (moving it wakes the worker).
    let acme_worker =
        crate::engine::acme::worker::spawn(state.clone(), config.acme_check_interval()?);
    let acme_http01 = match &config.acme_http01_listen {
        Some(listen) => Some(spawn_http01_listener(listen, state.clone()).await?),
        None => None,
    };
    let sink = config.audit_sink();
    let audit_sink = sink
        .enabled()
        .then(|| crate::audit_sink::spawn(state.clone(), sink));

    let public_url = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("{scheme}://{addr}"),
    };
    let _ = state.public_url.set(public_url);
    print_banner(
        args.dev,
        scheme,
        addr,
        &data_dir,
        printed_token.as_deref().map(|t| t.as_str()),
        provider.as_ref(),
        state.test_clock.is_some(),
    );
    tracing::info!(%addr, %scheme, data_dir = %data_dir.display(), "ScaiVault started");

    let rewrap = crate::keys::spawn_rewrap(state.clone());
    let router = crate::routes::router(state.clone());
    let serving = match http {
        Some(serving) => {
            gate.open(router);
            gate.attempted();
            serving
        }
        None => spawn_http(listener.take(), tls, router)?,
    };
    let served = serving.await;

    tracing::info!("shutting down");
    background.abort();
    rewrap.abort();
    audit_maintenance.abort();
    webhook_worker.abort();
    if let Some(listener) = change_listener {
        listener.abort();
    }
    if let Some(notices) = expiry_notices {
        notices.abort();
    }
    if let Some(scheduler) = rotation_scheduler {
        scheduler.abort();
    }
    if let Some(sweeper) = lease_sweeper {
        sweeper.abort();
    }
    if let Some(sink) = audit_sink {
        sink.abort();
    }
    if let Some(listener) = metrics_listener {
        listener.abort();
    }
    acme_worker.abort();
    if let Some(listener) = acme_http01 {
        listener.abort();
    }
    // A last checkpoint, so the newest entries are covered across the restart.
    if let Err(e) = state.store.checkpoint_audit(state.clock.now()).await {
        tracing::warn!(error = %e, "final audit checkpoint failed");
    }
    flush_access(&state).await;
    store.close().await;
    if let Some(tracer) = tracer {
        // Sends the spans still batched.
        let _ = tracer.shutdown();
    }
    served.map_err(|e| StartupError::Io(e.to_string()))?
}

/// Opens the root key provider and unwraps the keyring; `Sealed` when the provider cannot be
/// reached now. Dev mode uses a key file in the data directory and creates the keyring.
async fn unseal_keys(
    args: &ServerArgs,
    config: &Config,
    data_dir: &std::path::Path,
    store: &dyn scaivault_store::Store,
    clock: &dyn Clock,
) -> Result<
    (
        Arc<dyn KeyProvider>,
        scaivault_crypto::Keyring,
        scaivault_crypto::TokenHasher,
    ),
    StartupError,
> {
    let provider: Arc<dyn KeyProvider> = if args.dev {
        Arc::new(
            FileKeyProvider::load_or_create(&data_dir.join(DEV_ROOT_KEY_FILE))
                .map_err(|e| StartupError::Keys(e.to_string()))?,
        )
    } else {
        scaivault_keys::open(
            &config.root_key,
            config.root_key.provider,
            &config.key_locations(data_dir),
        )
        .await
        .map_err(bootstrap::provider_error)?
    };
    if args.dev && !bootstrap::is_initialized(store).await? {
        bootstrap::initialize_keys(store, provider.as_ref(), clock).await?;
    }
    let (keyring, hasher) = bootstrap::load_keys(store, provider.as_ref()).await?;
    Ok((provider, keyring, hasher))
}

/// Serves `router` on the listener (TLS when configured) until a shutdown signal; in-flight
/// requests get `SHUTDOWN_GRACE` to finish.
fn spawn_http(
    listener: Option<TcpListener>,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    router: axum::Router,
) -> Result<tokio::task::JoinHandle<Result<(), StartupError>>, StartupError> {
    let listener =
        listener.ok_or_else(|| StartupError::Io("internal: listener already in use".into()))?;
    // The tenant prefixes are stripped before routing (see tenancy.rs).
    Ok(match tls {
        Some(rustls) => {
            let handle = axum_server::Handle::new();
            let shutdown = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                shutdown.graceful_shutdown(Some(SHUTDOWN_GRACE));
            });
            let std_listener = listener
                .into_std()
                .map_err(|e| StartupError::Io(e.to_string()))?;
            let server = axum_server::from_tcp_rustls(std_listener, rustls)
                .map_err(|e| StartupError::Io(e.to_string()))?
                .handle(handle);
            let service = axum::ServiceExt::into_make_service_with_connect_info::<SocketAddr>(
                tower::Layer::layer(
                    &tower::util::MapRequestLayer::new(crate::tenancy::rewrite),
                    router,
                ),
            );
            tokio::spawn(async move {
                server
                    .serve(service)
                    .await
                    .map_err(|e| StartupError::Io(e.to_string()))
            })
        }
        None => tokio::spawn(async move {
            let service =
                axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                    SocketAddr,
                >(tower::Layer::layer(
                    &tower::util::MapRequestLayer::new(crate::tenancy::rewrite),
                    router,
                ));
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .map_err(|e| StartupError::Io(e.to_string()))
        }),
    })
}

fn print_sealed_banner(scheme: &str, addr: SocketAddr, provider_kind: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ScaiVault listening on {scheme}://{addr}");
    let _ = writeln!(
        out,
        "  Sealed:     the root key provider ({provider_kind}) is unavailable; retrying (see the log)"
    );
    let _ = out.flush();
}

fn print_banner(
    dev: bool,
    scheme: &str,
    addr: SocketAddr,
    data_dir: &std::path::Path,
    generated_token: Option<&str>,
    provider: &dyn KeyProvider,
    test_clock: bool,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ScaiVault listening on {scheme}://{addr}");
    if dev {
        let _ = writeln!(out, "  Mode:       development (do not use in production)");
        if test_clock {
            let _ = writeln!(
                out,
                "  Test clock: on (moves only through POST /v1/sys/test-clock)"
            );
        }
        let _ = writeln!(out, "  Data dir:   {}", data_dir.display());
        let _ = writeln!(out, "  Root key:   {}", provider.describe());
        match generated_token {
            Some(token) => {
                let _ = writeln!(out, "  Root token: {token}");
                let _ = writeln!(
                    out,
                    "              (shown once; pass --dev-root-token to choose it)"
                );
            }
            None => {
                let _ = writeln!(out, "  Root token: the one given with --dev-root-token");
            }
        }
        let _ = writeln!(out, "\n  export SCAIVAULT_URL={scheme}://{addr}");
    }
    let _ = out.flush();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn spawn_background(state: AppState, metrics_refresh: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut flush = tokio::time::interval(ACCESS_FLUSH_EVERY);
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        let mut gauges = tokio::time::interval(metrics_refresh);
        loop {
            tokio::select! {
                _ = flush.tick() => {
                    flush_access(&state).await;
                    state.rate_limits.housekeeping();
                    state.metrics.upkeep();
                }
                _ = gauges.tick() => crate::metrics::refresh(&state).await,
                _ = sweep.tick() => {
                    if !crate::jobs::leading(&state, "sweep", SWEEP_EVERY).await {
                        continue;
                    }
                    let now = state.clock.now();
                    let cutoff = now - state.limits.soft_delete_retention;
                    match state.store.sweep(cutoff, now).await {
                        Ok((0, 0)) => {}
                        Ok((secrets, versions)) => tracing::info!(secrets, versions, "purged expired soft deletes and retired versions"),
                        Err(e) => tracing::warn!(error = %e, "sweep failed"),
                    }
                }
            }
        }
    })
}

async fn flush_access(state: &AppState) {
    let hits = state.access.drain();
    if hits.is_empty() {
        return;
    }
    if let Err(e) = state.store.record_access(&hits).await {
        tracing::warn!(error = %e, "could not record access counts; will retry");
        state.access.restore(hits);
    }
}

/// `scaivault operator init`.
pub async fn operator_init(
    config_file: Option<PathBuf>,
    create_key: bool,
) -> Result<(), StartupError> {
    let config = Config::load(config_file.as_deref())?;
    let data_dir = config.required_data_dir()?;
    let store = bootstrap::OpenedStore::open(&config, &data_dir).await?;
    if bootstrap::is_initialized(store.as_store()).await? {
        return Err(StartupError::AlreadyInitialized);
    }
    let at = config.key_locations(&data_dir);
    let kind = config.root_key.provider;
    // The key file is always created when missing; an HSM key only when asked.
    let (provider, created) = if kind == scaivault_keys::ProviderKind::File || create_key {
        scaivault_keys::open_or_create(&config.root_key, kind, &at).await
    } else {
        scaivault_keys::open(&config.root_key, kind, &at)
            .await
            .map(|p| (p, false))
    }
    .map_err(|e| StartupError::Keys(e.to_string()))?;
    let note = match (created, provider.kind()) {
        (true, "file") => "created, mode 0600; back it up",
        (true, _) => "created in the HSM: sensitive, never extractable",
        (false, _) => "existing",
    };
    initialize_store(&config, &data_dir, &store, provider.as_ref(), note).await
}

/// Creates the keyring under `provider` in a store that has none, and the bootstrap admin
/// token, and prints them: `operator init`, and `tpm init` with the new TPM key.
/// `root_key_note` says what happened to the root key ("existing", "created ...").
pub(crate) async fn initialize_store(
    config: &Config,
    data_dir: &std::path::Path,
    store: &bootstrap::OpenedStore,
    provider: &dyn KeyProvider,
    root_key_note: &str,
) -> Result<(), StartupError> {
    let clock = SystemClock;
    bootstrap::initialize_keys(store.as_store(), provider, &clock).await?;
    let (_, hasher) = bootstrap::load_keys(store.as_store(), provider).await?;
    let token =
        scaivault_crypto::token::generate_token().map_err(|e| StartupError::Keys(e.to_string()))?;
    let who = RootIdentity {
        token_id: "tok_bootstrap_admin",
        identity_id: "user:bootstrap-admin",
        tenant_id: &config.bootstrap_tenant_id,
        partner_id: &config.bootstrap_partner_id,
        name: "bootstrap admin token",
    };
    bootstrap::store_root_token(store.as_store(), &hasher, &clock, &who, &token).await?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ScaiVault initialized.");
    let _ = writeln!(
        out,
        "  Root key:  {} ({root_key_note})",
        provider.describe()
    );
    let _ = writeln!(out, "  Data dir:  {}", data_dir.display());
    let _ = writeln!(out, "  Tenant:    {}", config.bootstrap_tenant_id);
    let _ = writeln!(
        out,
        "Bootstrap admin token (shown once; keep it safe, create narrower tokens for daily use):"
    );
    let _ = writeln!(out, "{}", token.as_str());
    let _ = out.flush();
    Ok(())
}

/// The `acme_http01_listen` listener: plain HTTP, only `/.well-known/acme-challenge/{token}`.
async fn spawn_http01_listener(
    listen: &str,
    state: AppState,
) -> Result<tokio::task::JoinHandle<()>, StartupError> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        StartupError::Io(format!(
            "cannot listen on {listen} (acme_http01_listen): {e}"
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartupError::Io(e.to_string()))?;
    tracing::info!(%addr, "ACME http-01 listener serving /.well-known/acme-challenge/");
    let app = crate::routes::acme::http01_router().with_state(state);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the ACME http-01 listener stopped");
        }
    }))
}
