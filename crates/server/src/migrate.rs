//! `scaivault operator migrate`: moves the embedded store into PostgreSQL.
//!
//! Everything is copied as stored: ciphertext, wrapped data keys, token HMACs, audit hashes and
//! MACs. Nothing is decrypted or re-encrypted, so the server that runs on the target must use
//! the root key the store was created with (the data keys in the copy are wrapped by it).
//!
//! **The source is never written.** It is opened read-only, and each phase reads it inside one
//! read transaction: a consistent snapshot, however long the copy takes. A server still running
//! on the file therefore cannot tear the copy, but what it writes after the snapshot is not
//! moved; the verification then reads a fresh snapshot and fails on any such difference. (The
//! alternative, refusing while a server holds the file, cannot be detected reliably from outside
//! the server; the snapshot plus the final comparison catch the same mistake without it.)
//!
//! **Resumable.** Tables are copied in key order (keyset pagination), a batch per INSERT
//! (`ON CONFLICT DO NOTHING`), and each batch commits together with a progress record in the
//! target's `system` table (key [`copy::PROGRESS_KEY`]): which tables are done and the last key
//! copied of the current one. A migration killed at any point continues after the last committed
//! batch when the same command runs again. The record also names the source (a digest of its
//! keyring), so a target holding anything else is refused.
//!
//! **Verified.** At the end (and alone with `--verify-only`): every table has the same number of
//! rows and the same SHA-256 digest over a canonical rendering of its rows in key order on both
//! sides; the target's audit-chain heads and identity sequences are set up; its keyring opens with
//! the root key; and every audit chain verifies on the target with the MAC derived from that
//! keyring, as the server will verify it.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use clap::Args;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use scaivault_crypto::{FileKeyProvider, KeyProvider};
use scaivault_store::copy::{self, Row, Source, TABLES, Table, Target, Value};
use scaivault_store::{AuditStore, PgOptions, PgStore};
use serde::{Deserialize, Serialize};

use crate::StartupError;
use crate::bootstrap::{self, DB_FILE};
use crate::config::Config;

/// Bound values per statement in PostgreSQL.
const MAX_BINDS: u32 = 65_535;
/// Most bytes of blobs (ciphertext) one batch should carry.
const BATCH_BYTES: u64 = 32 * 1024 * 1024;
const PROGRESS_FORMAT: u32 = 1;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  scaivault operator migrate --config /etc/scaivault/scaivault.toml \\
      --to postgres://scaivault@db.internal/scaivault
  scaivault operator migrate --from sqlite:/var/lib/scaivault \\
      --root-key-file /etc/scaivault/root.key --to postgres://db.internal/scaivault
  scaivault operator migrate --config /etc/scaivault/scaivault.toml --verify-only

Stop the server first. The target must be an empty database (or one this command was
interrupted on: running it again resumes). Values stay encrypted: the servers on
PostgreSQL must use the same root key file as the embedded store. Exit status: 0 copied
and verified, 1 on an error or a failed verification.")]
pub struct MigrateArgs {
    /// The embedded store: sqlite:PATH, PATH being its data directory or its database file
    /// [default: the data_dir of --config]
    #[arg(long, value_name = "sqlite:PATH")]
    pub from: Option<String>,
    /// The PostgreSQL database to fill (postgres://...). Prefer SCAIVAULT_DATABASE_URL or the
    /// configuration's database_url when it holds a password [default: database_url of --config]
    #[arg(
        long,
        value_name = "URL",
        env = "SCAIVAULT_DATABASE_URL",
        hide_env_values = true
    )]
    pub to: Option<String>,
    /// The installation's configuration file: its data_dir, root_key_file and database_url are
    /// the defaults of --from, --root-key-file and --to
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The root key file the store's data keys are wrapped with; the target's servers must use
    /// this same file [default: root_key_file of --config, else root.key in the data directory]
    #[arg(long, value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
    /// Only compare the source and the target (row counts, digests, audit chains); copy nothing
    #[arg(long)]
    pub verify_only: bool,
    /// Rows per INSERT, each committed with the progress record
    #[arg(long, value_name = "ROWS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub batch_size: u32,
    /// Testing: stop (as if killed) after committing this many batches
    #[arg(long, hide = true)]
    pub stop_after_batches: Option<u64>,
}

/// The progress record kept in the target's `system` table.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    format: u32,
    /// Digest of the source's keyring: which store this target is being filled from.
    source: String,
    started_at: String,
    #[serde(default)]
    tables: BTreeMap<String, TableProgress>,
    /// Set when every table is copied and the target finished (sequences, chain heads).
    #[serde(default)]
    copied_at: Option<String>,
    #[serde(default)]
    verified_at: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct TableProgress {
    /// Source rows copied so far (in key order).
    rows: u64,
    /// The key of the last row copied.
    #[serde(default)]
    after: Option<serde_json::Value>,
    #[serde(default)]
    done: bool,
}

/// Refuses to serve from a database an `operator migrate` has not finished filling: a server
/// on half the data would answer `secret_not_found` for what is simply not copied yet.
pub async fn refuse_unfinished(store: &dyn scaivault_store::Store) -> Result<(), StartupError> {
    let Some(record) = store
        .get_system(copy::PROGRESS_KEY)
        .await
        .map_err(store_err)?
    else {
        return Ok(());
    };
    let progress: Progress = serde_json::from_str(&record).unwrap_or_default();
    if progress.copied_at.is_none() {
        return Err(StartupError::Config(
            "this database holds an unfinished `scaivault operator migrate`; run the same \
             command again to finish it before starting a server on it"
                .into(),
        ));
    }
    Ok(())
}

fn store_err(e: scaivault_store::StoreError) -> StartupError {
    StartupError::Store(e.to_string())
}

/// The wall-clock time for the progress file (an operator command: the real clock, through
/// the Clock).
fn now_rfc3339() -> String {
    scaivault_core::Clock::now(&scaivault_core::SystemClock)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Where things are, resolved from the arguments and the configuration.
struct Plan {
    source: PathBuf,
    target: String,
    root_key: PathBuf,
    /// The configured root key provider when it is not the key file (and no --root-key-file
    /// was given): the keyring is checked with it.
    provider: Option<(scaivault_keys::RootKeyConfig, scaivault_keys::Locations)>,
}

fn plan(args: &MigrateArgs) -> Result<Plan, StartupError> {
    let config = args
        .config
        .as_deref()
        .map(|f| Config::load(Some(f)))
        .transpose()?;
    let source = match &args.from {
        Some(from) => {
            let path = from
                .strip_prefix("sqlite://")
                .or_else(|| from.strip_prefix("sqlite:"))
                .ok_or_else(|| {
                    StartupError::Config(format!(
                        "--from must be sqlite:PATH (the data directory or the database file), not {from:?}"
                    ))
                })?;
            let path = PathBuf::from(path);
            if path.is_dir() {
                path.join(DB_FILE)
            } else {
                path
            }
        }
        None => config
            .as_ref()
            .and_then(|c| c.data_dir.as_ref())
            .map(|d| d.join(DB_FILE))
            .ok_or_else(|| {
                StartupError::Config(
                    "give --from sqlite:PATH, or --config with the installation's data_dir".into(),
                )
            })?,
    };
    let target = args
        .to
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.database_url.clone()))
        .ok_or_else(|| {
            StartupError::Config(
                "give --to postgres://... (or SCAIVAULT_DATABASE_URL, or --config with database_url)"
                    .into(),
            )
        })?;
    if !(target.starts_with("postgres://") || target.starts_with("postgresql://")) {
        return Err(StartupError::Config(
            "--to must be a PostgreSQL URL (postgres://...)".into(),
        ));
    }
    let data_dir = source
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let root_key = match (&args.root_key_file, &config) {
        (Some(file), _) => file.clone(),
        (None, Some(config)) => crate::serve::root_key_path(config, &data_dir),
        (None, None) => data_dir.join("root.key"),
    };
    let provider = match (&args.root_key_file, &config) {
        (None, Some(config)) if config.root_key.provider != scaivault_keys::ProviderKind::File => {
            Some((config.root_key.clone(), config.key_locations(&data_dir)))
        }
        _ => None,
    };
    Ok(Plan {
        source,
        target,
        root_key,
        provider,
    })
}

/// `scaivault operator migrate`.
pub async fn migrate(args: MigrateArgs) -> Result<(), StartupError> {
    let plan = plan(&args)?;
    let provider: std::sync::Arc<dyn KeyProvider> = match &plan.provider {
        Some((settings, at)) => scaivault_keys::open(settings, settings.provider, at)
            .await
            .map_err(|e| StartupError::Keys(format!("{e} ([root_key] of --config)")))?,
        None => std::sync::Arc::new(
            FileKeyProvider::load(&plan.root_key)
                .map_err(|e| StartupError::Keys(format!("{e} (--root-key-file)")))?,
        ),
    };

    let mut source = Source::open(&plan.source)
        .await
        .map_err(|e| StartupError::Store(format!("source {}: {e}", plan.source.display())))?;
    let result = run(&args, &plan, provider.as_ref(), &mut source).await;
    source.close().await;
    result
}

async fn run(
    args: &MigrateArgs,
    plan: &Plan,
    provider: &dyn KeyProvider,
    source: &mut Source,
) -> Result<(), StartupError> {
    let problems = source.check_schema().await.map_err(store_err)?;
    refuse_schema("the embedded store", &problems)?;
    source.begin_snapshot().await.map_err(store_err)?;
    source.quick_check().await.map_err(store_err)?;
    let fingerprint = check_keyring(source, provider).await?;
    source.end_snapshot().await.map_err(store_err)?;

    // Connecting through the store applies the PostgreSQL migrations (and refuses a schema
    // newer than this binary); the copy itself runs on a connection of its own.
    let store = PgStore::connect(
        &plan.target,
        PgOptions {
            max_connections: 2,
            ..PgOptions::default()
        },
    )
    .await
    .map_err(|e| StartupError::Store(format!("target: {e}")))?;
    let result = async {
        let mut target = Target::connect(&plan.target)
            .await
            .map_err(|e| StartupError::Store(format!("target: {e}")))?;
        let result = async {
            let problems = target.check_schema().await.map_err(store_err)?;
            refuse_schema("the PostgreSQL database", &problems)?;
            if args.verify_only {
                let recorded = target.progress().await.map_err(store_err)?;
                let unfinished = recorded
                    .and_then(|r| serde_json::from_str::<Progress>(&r).ok())
                    .is_some_and(|p| p.copied_at.is_none());
                if unfinished {
                    say(
                        "Note: the migration into this database has not finished; run the \
                         command without --verify-only to resume it.",
                    );
                }
                return verify(source, &mut target, &store, provider, None).await;
            }
            let mut progress = start_or_resume(&mut target, &fingerprint).await?;
            let copied = match &progress.copied_at {
                Some(at) => {
                    say(&format!("Already copied (at {at}); verifying."));
                    None
                }
                None => Some(copy_all(args, source, &mut target, &mut progress).await?),
            };
            verify(source, &mut target, &store, provider, copied.as_ref()).await?;
            progress.verified_at = Some(now_rfc3339());
            target
                .set_progress(&encode_progress(&progress)?)
                .await
                .map_err(store_err)?;
            say(&format!(
                "\nNext: point the configuration at this database (storage = \"postgres\", \
                 database_url = ...), keep the same root key ({}) for every node, and start the \
                 server. Keep the embedded store until you are satisfied.",
                provider.describe()
            ));
            Ok(())
        }
        .await;
        target.close().await;
        result
    }
    .await;
    store.close().await;
    result
}

fn refuse_schema(what: &str, problems: &[String]) -> Result<(), StartupError> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(StartupError::Store(format!(
        "the schema of {what} does not match what this binary copies:\n  {}",
        problems.join("\n  ")
    )))
}

/// Unwraps every data key of the source with the root key (so the target's servers will be able
/// to) and returns a digest of the keyring, which names the source in the progress record.
async fn check_keyring(
    source: &mut Source,
    provider: &dyn KeyProvider,
) -> Result<String, StartupError> {
    let table = copy::table("data_keys")
        .ok_or_else(|| StartupError::Store("internal: no data_keys table".into()))?;
    let rows = source.page(table, None, 10_000).await.map_err(store_err)?;
    if rows.is_empty() {
        return Err(StartupError::NotInitialized);
    }
    let mut ctx = digest::Context::new(&digest::SHA256);
    for row in &rows {
        let (Some(Value::Text(key_id)), Some(Value::Blob(wrapped))) = (row.first(), row.get(3))
        else {
            return Err(StartupError::Store("corrupt data_keys row".into()));
        };
        provider.unwrap(key_id, wrapped).await.map_err(|_| {
            StartupError::Keys(format!(
                "the root key ({}) cannot unwrap data key {key_id}: give the root key this store \
                 was created with (--root-key-file); the servers on PostgreSQL need the same one",
                provider.describe()
            ))
        })?;
        let mut bytes = Vec::new();
        copy::encode_row(row, &mut bytes);
        ctx.update(&bytes);
    }
    Ok(format!("keyring:{}", hex(&ctx.finish().as_ref()[..16])))
}

/// A line on stdout (a closed stdout is not worth failing for).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encode_progress(progress: &Progress) -> Result<String, StartupError> {
    serde_json::to_string(progress)
        .map_err(|e| StartupError::Store(format!("progress record: {e}")))
}

/// Starts a migration into an empty target, or resumes the one recorded there from this source.
async fn start_or_resume(target: &mut Target, fingerprint: &str) -> Result<Progress, StartupError> {
    match target.progress().await.map_err(store_err)? {
        Some(recorded) => {
            let progress: Progress = serde_json::from_str(&recorded).map_err(|_| {
                StartupError::Store(format!(
                    "the target's progress record ({}) is unreadable: start over on a new, empty database",
                    copy::PROGRESS_KEY
                ))
            })?;
            if progress.format != PROGRESS_FORMAT || progress.source != fingerprint {
                return Err(StartupError::Store(format!(
                    "the target holds a migration from another store ({}, this one is {fingerprint}): \
                     migrate into a new, empty database",
                    progress.source
                )));
            }
            if progress.copied_at.is_none() {
                let done = progress.tables.values().filter(|t| t.done).count();
                let rows: u64 = progress.tables.values().map(|t| t.rows).sum();
                say(&format!(
                    "Resuming the migration started at {}: {done} of {} tables done, {rows} rows copied.",
                    progress.started_at,
                    TABLES.len()
                ));
            }
            Ok(progress)
        }
        None => {
            if let Some(table) = target.first_nonempty_table().await.map_err(store_err)? {
                return Err(StartupError::Store(format!(
                    "the target database already holds data (table {table} is not empty) and no \
                     migration from this store is recorded in it: migrate into a new, empty database"
                )));
            }
            let progress = Progress {
                format: PROGRESS_FORMAT,
                source: fingerprint.to_owned(),
                started_at: now_rfc3339(),
                ..Progress::default()
            };
            target
                .set_progress(&encode_progress(&progress)?)
                .await
                .map_err(store_err)?;
            Ok(progress)
        }
    }
}

/// Rows per page of `table`: the batch size, within PostgreSQL's limit on bound values and, for
/// tables with blobs, [`BATCH_BYTES`] at the largest blob.
async fn page_limit(source: &mut Source, table: &Table, batch: u32) -> Result<u32, StartupError> {
    let columns = u32::try_from(table.columns.len())
        .unwrap_or(u32::MAX)
        .max(1);
    let mut limit = batch.min(MAX_BINDS / columns).max(1);
    if table.has_blobs() {
        let largest = source.max_blob_len(table).await.map_err(store_err)?;
        let fits = BATCH_BYTES / (largest + 1024);
        limit = limit.min(u32::try_from(fits).unwrap_or(u32::MAX).max(1));
    }
    Ok(limit)
}

fn bar(total: u64, position: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] [{bar:30}] {human_pos}/{human_len} rows ({rate}, {eta} left) {msg}",
    ) {
        bar.set_style(
            style
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} rows/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
        );
    }
    bar.set_position(position);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// What the copy did.
struct Copied {
    rows: u64,
    /// Rows found already in the target (a batch committed before an interruption is never
    /// repeated, so this stays 0 unless the target was filled by other means).
    present: u64,
    elapsed: Duration,
}

async fn copy_all(
    args: &MigrateArgs,
    source: &mut Source,
    target: &mut Target,
    progress: &mut Progress,
) -> Result<Copied, StartupError> {
    let started = Instant::now();
    source.begin_snapshot().await.map_err(store_err)?;
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        counts.push(source.count(table).await.map_err(store_err)?);
    }
    let total: u64 = counts.iter().sum();
    let already: u64 = progress.tables.values().map(|t| t.rows).sum();
    let bar = bar(total, already.min(total));
    let mut copied = Copied {
        rows: 0,
        present: 0,
        elapsed: Duration::ZERO,
    };
    let mut batches = 0u64;
    for (table, count) in TABLES.iter().zip(&counts) {
        let mut state = progress.tables.get(table.name).cloned().unwrap_or_default();
        if state.done {
            continue;
        }
        let mut after = match &state.after {
            None => None,
            Some(json) => Some(table.key_from_json(json).ok_or_else(|| {
                StartupError::Store(format!(
                    "the progress record of table {} is unreadable: start over on a new, empty database",
                    table.name
                ))
            })?),
        };
        let limit = page_limit(source, table, args.batch_size).await?;
        loop {
            let rows = source
                .page(table, after.as_deref(), limit)
                .await
                .map_err(store_err)?;
            let n = rows.len() as u64;
            if let Some(last) = rows.last() {
                let key = table.key_of(last);
                state.after = Some(table.key_to_json(&key));
                after = Some(key);
            }
            state.rows += n;
            state.done = n < u64::from(limit);
            progress.tables.insert(table.name.to_owned(), state.clone());
            let inserted = target
                .copy_batch(table, &rows, &encode_progress(progress)?)
                .await
                .map_err(|e| StartupError::Store(format!("copying {}: {e}", table.name)))?;
            copied.rows += inserted;
            copied.present += n - inserted.min(n);
            bar.inc(n);
            bar.set_message(format!("{} {}/{count}", table.name, state.rows));
            batches += 1;
            if args.stop_after_batches.is_some_and(|stop| batches >= stop) {
                bar.abandon();
                return Err(StartupError::Io(format!(
                    "stopped after {batches} batches as asked (--stop-after-batches); run the \
                     same command again to resume"
                )));
            }
            if state.done {
                break;
            }
        }
        target.reset_sequence(table).await.map_err(store_err)?;
    }
    source.end_snapshot().await.map_err(store_err)?;
    target.finish().await.map_err(store_err)?;
    progress.copied_at = Some(now_rfc3339());
    target
        .set_progress(&encode_progress(progress)?)
        .await
        .map_err(store_err)?;
    bar.finish_and_clear();
    copied.elapsed = started.elapsed();
    Ok(copied)
}

/// One table compared on both sides.
struct TableCheck {
    name: &'static str,
    source_rows: u64,
    target_rows: u64,
    source_digest: String,
    target_digest: String,
    /// Rows missing, extra or different in the target.
    differing: u64,
    first_difference: Option<String>,
}

impl TableCheck {
    fn identical(&self) -> bool {
        self.source_rows == self.target_rows
            && self.source_digest == self.target_digest
            && self.differing == 0
    }
}

/// Orders keys as both databases do: numbers numerically, text bytewise.
fn cmp_keys(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Int(x), Value::Int(y)) => x.cmp(y),
            (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            _ => std::cmp::Ordering::Equal,
        };
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

/// Reads one side of a table page by page.
struct Cursor {
    buffer: VecDeque<Row>,
    after: Option<Vec<Value>>,
    exhausted: bool,
}

impl Cursor {
    fn new() -> Self {
        Self {
            buffer: VecDeque::new(),
            after: None,
            exhausted: false,
        }
    }

    fn refill(&mut self, table: &Table, page: Vec<Row>, limit: u32) {
        self.exhausted = page.len() < limit as usize;
        if let Some(last) = page.last() {
            self.after = Some(table.key_of(last));
        }
        self.buffer.extend(page);
    }
}

async fn compare_table(
    source: &mut Source,
    target: &mut Target,
    table: &'static Table,
    limit: u32,
    bar: &ProgressBar,
) -> Result<TableCheck, StartupError> {
    let mut digests = [
        digest::Context::new(&digest::SHA256),
        digest::Context::new(&digest::SHA256),
    ];
    let mut rows = [0u64; 2];
    let mut differing = 0;
    let mut first_difference = None;
    let mut s = Cursor::new();
    let mut t = Cursor::new();
    let mut bytes = Vec::new();
    let mut note = |what: String| {
        differing += 1;
        if first_difference.is_none() {
            first_difference = Some(what);
        }
    };
    loop {
        if s.buffer.is_empty() && !s.exhausted {
            let page = source
                .page(table, s.after.as_deref(), limit)
                .await
                .map_err(store_err)?;
            s.refill(table, page, limit);
        }
        if t.buffer.is_empty() && !t.exhausted {
            let page = target
                .page(table, t.after.as_deref(), limit)
                .await
                .map_err(store_err)?;
            t.refill(table, page, limit);
        }
        // A merge join on the key: both sides come in key order.
        let order = match (s.buffer.front(), t.buffer.front()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(a), Some(b)) => cmp_keys(&table.key_of(a), &table.key_of(b)),
        };
        let from_source = if order.is_le() {
            s.buffer.pop_front()
        } else {
            None
        };
        let from_target = if order.is_ge() {
            t.buffer.pop_front()
        } else {
            None
        };
        let mut encoded = [None, None];
        for (side, row) in [&from_source, &from_target].into_iter().enumerate() {
            if let Some(row) = row {
                bytes.clear();
                copy::encode_row(row, &mut bytes);
                digests[side].update(&bytes);
                rows[side] += 1;
                encoded[side] = Some(bytes.clone());
            }
        }
        match (&from_source, &from_target) {
            (Some(row), None) => note(format!(
                "row ({}) is missing from the target",
                table.describe_key(&table.key_of(row))
            )),
            (None, Some(row)) => note(format!(
                "the target has a row ({}) the source does not",
                table.describe_key(&table.key_of(row))
            )),
            (Some(row), Some(_)) if encoded[0] != encoded[1] => note(format!(
                "row ({}) differs",
                table.describe_key(&table.key_of(row))
            )),
            _ => {}
        }
        if from_source.is_some() {
            bar.inc(1);
        }
    }
    let [source_digest, target_digest] = digests.map(|d| hex(d.finish().as_ref()));
    Ok(TableCheck {
        name: table.name,
        source_rows: rows[0],
        target_rows: rows[1],
        source_digest,
        target_digest,
        differing,
        first_difference,
    })
}

/// Compares every table, checks the target's derived state, keyring and audit chains, and
/// prints the report. `Err` when anything does not match.
async fn verify(
    source: &mut Source,
    target: &mut Target,
    store: &PgStore,
    provider: &dyn KeyProvider,
    copied: Option<&Copied>,
) -> Result<(), StartupError> {
    let started = Instant::now();
    // A fresh snapshot: what a server wrote to the source during the copy shows up here.
    source.begin_snapshot().await.map_err(store_err)?;
    let mut total = 0;
    for table in TABLES {
        total += source.count(table).await.map_err(store_err)?;
    }
    let bar = bar(total, 0);
    bar.set_message("verifying");
    let mut checks = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        bar.set_message(format!("verifying {}", table.name));
        let limit = page_limit(source, table, 2_000).await?;
        checks.push(compare_table(source, target, table, limit, &bar).await?);
    }
    source.end_snapshot().await.map_err(store_err)?;
    bar.finish_and_clear();

    let mut problems: Vec<String> = Vec::new();
    for c in checks.iter().filter(|c| !c.identical()) {
        problems.push(format!(
            "table {}: {} rows in the source, {} in the target, {} differing; first: {}",
            c.name,
            c.source_rows,
            c.target_rows,
            c.differing,
            c.first_difference.as_deref().unwrap_or("digests differ")
        ));
    }
    problems.extend(target.check_finished().await.map_err(store_err)?);

    // The keyring as the servers will load it, and the chains as they will verify them.
    let mut chains = 0;
    let mut entries = 0;
    match bootstrap::load_keys(store, provider).await {
        Err(e) => problems.push(format!("the target's keyring: {e}")),
        Ok((_, hasher)) => {
            let mac = crate::audit::chain_mac(&hasher);
            store.set_audit_mac(mac.clone());
            for chain in store.audit_chains().await.map_err(store_err)? {
                let report = scaivault_store::verify_audit_chain(store, &chain, mac.clone())
                    .await
                    .map_err(store_err)?;
                let name = if chain.is_empty() {
                    "(no tenant)"
                } else {
                    &chain
                };
                if let Some(broken) = report.broken {
                    problems.push(format!(
                        "audit chain {name} is broken on the target: {broken}"
                    ));
                } else {
                    chains += 1;
                    entries += report.entries_checked;
                }
            }
        }
    }

    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<20} {:>12} {:>12}  sha-256 (first 16 hex)",
        "table", "source rows", "target rows"
    );
    for c in &checks {
        let digest = if c.identical() {
            format!("{} identical", &c.source_digest[..16])
        } else {
            format!(
                "{} / {} DIFFERENT",
                &c.source_digest[..16],
                &c.target_digest[..16]
            )
        };
        let _ = writeln!(
            out,
            "{:<20} {:>12} {:>12}  {digest}",
            c.name, c.source_rows, c.target_rows
        );
    }
    let rows: u64 = checks.iter().map(|c| c.source_rows).sum();
    if let Some(copied) = copied {
        let secs = copied.elapsed.as_secs_f64().max(0.001);
        let _ = writeln!(
            out,
            "\nCopied {} rows in {:.1}s ({:.0} rows/s){}.",
            copied.rows,
            secs,
            copied.rows as f64 / secs,
            if copied.present > 0 {
                format!("; {} rows were already in the target", copied.present)
            } else {
                String::new()
            }
        );
    }
    if !problems.is_empty() {
        let _ = writeln!(out, "\nVerification FAILED:");
        for p in &problems {
            let _ = writeln!(out, "  - {p}");
        }
        let _ = out.flush();
        return Err(StartupError::Store(format!(
            "verification failed: {} problem(s), listed above. If the source changed since the \
             migration started (a server still running on it), stop the server, drop and \
             recreate the target database, and migrate again.",
            problems.len()
        )));
    }
    let _ = writeln!(
        out,
        "\nVerified in {:.1}s: {} tables identical in both stores ({rows} rows; counts and \
         SHA-256 digests), {chains} audit chains ({entries} entries) intact on the target, its \
         keyring opens with the root key.",
        started.elapsed().as_secs_f64(),
        checks.len()
    );
    let _ = out.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_the_databases() {
        use std::cmp::Ordering::*;
        let k = |t: &str, n: i64| vec![Value::Text(t.into()), Value::Int(n)];
        assert_eq!(cmp_keys(&k("a", 2), &k("a", 10)), Less);
        assert_eq!(
            cmp_keys(&k("B", 1), &k("a", 1)),
            Less,
            "bytewise, not by locale"
        );
        assert_eq!(cmp_keys(&k("a/b", 1), &k("a", 1)), Greater);
        assert_eq!(cmp_keys(&k("x", 1), &k("x", 1)), Equal);
    }

    #[test]
    fn from_accepts_a_directory_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let args = |from: &str| MigrateArgs {
            from: Some(from.to_owned()),
            to: Some("postgres://localhost/x".into()),
            config: None,
            root_key_file: None,
            verify_only: false,
            batch_size: 10,
            stop_after_batches: None,
        };
        let p = plan(&args(&format!("sqlite:{}", dir.path().display())));
        assert!(
            p.is_ok_and(|p| p.source == dir.path().join(DB_FILE)
                && p.root_key == dir.path().join("root.key"))
        );
        let file = dir.path().join("other.db");
        let p = plan(&args(&format!("sqlite:{}", file.display())));
        assert!(p.is_ok_and(|p| p.source == file));
        assert!(plan(&args("/var/lib/scaivault")).is_err());
        let mut bad = args("sqlite:/x");
        bad.to = Some("mysql://x".into());
        assert!(plan(&bad).is_err());
    }
}
