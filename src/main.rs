//! The `permitd` binary: parses flags and calls into the library. See `permitd --help`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use permitd::catalog::Catalog;
use permitd::codes::{describe_permit_number, describe_uscc, PermitNumber, Uscc};
use permitd::domain::Date;
use permitd::gen::{generate, GenOptions};
use permitd::registry::Registry;
use permitd::server::listener::{bind_reuseport, serve_per_core};
use permitd::server::resolver::Clock;
use permitd::server::{Resolver, ServeOptions};
use permitd::snapshot::{self, SnapshotFile};

mod cli;

#[derive(Parser)]
#[command(
    name = "permitd",
    version,
    about = "Verifies Beijing Fangshan comprehensive business permits (综合许可凭证) and resolves their QR codes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes deterministic synthetic permits as NDJSON "permit issued" (and later) events, or
    /// with --changes N --from FILE, a change feed for the permits FILE holds.
    Gen {
        #[arg(long, required_unless_present = "changes")]
        permits: Option<u64>,
        /// Write N change events (revocations, renewals, reissues…) for the data set --from.
        #[arg(long, requires = "from", conflicts_with = "permits")]
        changes: Option<u64>,
        /// The data set (a `permitd gen` feed) the changes are for.
        #[arg(long)]
        from: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The date the data set describes (YYYY-MM-DD); default: today in Beijing.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<Date>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Builds, verifies or inspects snapshots.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// Serves the resolver on the snapshot CURRENT names in DIR, following DIR's change log.
    Serve {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The scheme and host printed in QR images (set it in production; default a
        /// placeholder, https://permit.fangshan.example).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Generates 100k permits into ./var if absent, builds a snapshot and serves it.
    Demo {
        #[arg(long, default_value = "var")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 100_000)]
        permits: u64,
    },
    /// Runs the writer: accepts feed batches on an admin listener, logs them durably, compacts.
    Writer {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// A file holding the feed token (else the environment variable PERMITD_FEED_TOKEN).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Compact after this many accepted events.
        #[arg(long, default_value_t = 200_000)]
        compact_events: u64,
        /// Compact after this many seconds when anything changed.
        #[arg(long, default_value_t = 600)]
        compact_seconds: u64,
        /// Snapshot files kept (the log is kept back to the oldest).
        #[arg(long, default_value_t = 2)]
        keep_snapshots: usize,
        /// Allow a non-loopback admin address (the feed endpoint is never for the public).
        #[arg(long)]
        allow_remote: bool,
        /// The private signing key (default DIR/keys/signing.key, created 0600 when missing).
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
    /// Sends a feed file to a writer, or imports one offline.
    Feed {
        #[command(subcommand)]
        command: FeedCommand,
    },
    /// Writes what the resolver answers as files for other servers (see `permitd::export`).
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// Checks an identifier: exit 0 when valid, 1 when invalid (reason on stderr).
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// Generates signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verifies a QR code or an attestation offline, with a public key set; explains the outcome.
    /// Exit 0 genuine, 1 not genuine, 2 not a code at all.
    Verify {
        #[command(subcommand)]
        what: VerifyCommand,
    },
    /// Writes a permit's QR code (.svg or .png by the file's extension) or, with --certificate,
    /// its A3 certificate face (.svg).
    Qr {
        number: String,
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The scheme and host printed in the code.
        #[arg(long, default_value = permitd::server::resolver::DEFAULT_PUBLIC_URL)]
        public_url: String,
        #[arg(long)]
        certificate: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Writes a new Ed25519 private key to OUT (PKCS#8 PEM, mode 0600) and its public key as a
    /// JWK Set to OUT.jwks.
    Gen {
        #[arg(long)]
        out: PathBuf,
        /// The first issue date the key may sign for (default 2020-01-01: a key seals versions
        /// issued before it existed, e.g. every permit after a rotation).
        #[arg(long, value_parser = parse_date)]
        not_before: Option<Date>,
    },
}

#[derive(Subcommand)]
enum VerifyCommand {
    /// A QR payload or the URL a scan gives (HTTPS://HOST/Q/…).
    Qr {
        payload: String,
        /// A JWK Set (e.g. DIR/keys/public.jwks or /.well-known/permitd-keys.json).
        #[arg(long)]
        keys: PathBuf,
    },
    /// A file holding an attestation (JWS compact serialization).
    Attestation {
        file: PathBuf,
        #[arg(long)]
        keys: PathBuf,
    },
}

#[derive(Subcommand)]
enum SnapshotCommand {
    /// Folds a feed file into a new snapshot in DIR and points CURRENT at it.
    Build {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// The private signing key (default DIR/keys/signing.key, created 0600 when missing).
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
    /// Fully verifies the snapshot CURRENT names (checksum, rkyv validation, indexes).
    Verify {
        #[arg(long)]
        data: PathBuf,
    },
    /// Prints the header of the snapshot CURRENT names.
    Inspect {
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum FeedCommand {
    /// POSTs FILE to a running writer in batches; prints the acknowledged sequence range.
    Send {
        file: PathBuf,
        /// The writer's admin address, e.g. http://127.0.0.1:8081
        #[arg(long)]
        to: String,
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Events per batch.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
    },
    /// Imports FILE into DIR with no writer running: validated, logged, then compacted.
    Apply {
        file: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// The private signing key (default DIR/keys/signing.key, created 0600 when missing).
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CheckCommand {
    /// A comprehensive permit number (16 characters).
    Number { number: String },
    /// A unified social credit code (18 characters); --strict also checks the organisation code.
    Uscc {
        code: String,
        #[arg(long)]
        strict: bool,
    },
}

fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { what } => return check(what),
        Command::Export { what } => export(what),
        Command::Gen {
            permits,
            changes,
            from,
            seed,
            as_of,
            out,
        } => match (permits, changes, from) {
            (_, Some(changes), Some(from)) => cli::gen_changes(changes, &from, seed, &out),
            (Some(permits), _, _) => gen(
                permits,
                seed,
                as_of.unwrap_or_else(Date::today_in_beijing),
                &out,
            ),
            _ => Err(anyhow::anyhow!(
                "give --permits N, or --changes N --from FILE"
            )),
        },
        Command::Writer {
            data,
            listen,
            token_file,
            compact_events,
            compact_seconds,
            keep_snapshots,
            allow_remote,
            signing_key,
        } => cli::writer(
            &data,
            listen,
            token_file.as_deref(),
            compact_events,
            compact_seconds,
            keep_snapshots,
            allow_remote,
            signing_key.as_deref(),
        ),
        Command::Feed {
            command:
                FeedCommand::Send {
                    file,
                    to,
                    token_file,
                    batch,
                },
        } => return cli::feed_send(&file, &to, token_file.as_deref(), batch),
        Command::Feed {
            command:
                FeedCommand::Apply {
                    file,
                    data,
                    signing_key,
                },
        } => cli::feed_apply(&file, &data, signing_key.as_deref()),
        Command::Snapshot {
            command:
                SnapshotCommand::Build {
                    input,
                    data,
                    signing_key,
                },
        } => build(&input, &data, signing_key.as_deref()).map(|_| ()),
        Command::Snapshot {
            command: SnapshotCommand::Verify { data },
        } => verify(&data),
        Command::Snapshot {
            command: SnapshotCommand::Inspect { data },
        } => inspect(&data),
        Command::Serve {
            data,
            listen,
            public_url,
        } => run_server(&data, listen, public_url, None),
        Command::Keys {
            command: KeysCommand::Gen { out, not_before },
        } => cli::keys_gen(
            &out,
            not_before.unwrap_or_else(permitd::trust::seal::first_key_not_before),
        ),
        Command::Verify {
            what: VerifyCommand::Qr { payload, keys },
        } => return cli::verify_qr(&payload, &keys),
        Command::Verify {
            what: VerifyCommand::Attestation { file, keys },
        } => return cli::verify_attestation(&file, &keys),
        Command::Qr {
            number,
            data,
            out,
            public_url,
            certificate,
        } => cli::qr(&number, &data, &out, &public_url, certificate),
        Command::Demo {
            data,
            listen,
            permits,
        } => demo(&data, listen, permits),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("permitd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(what: CheckCommand) -> ExitCode {
    let outcome = match what {
        CheckCommand::Number { number } => PermitNumber::parse(&number)
            .map(|n| describe_permit_number(&n))
            .map_err(|e| e.to_string()),
        CheckCommand::Uscc { code, strict } => {
            let parsed = if strict {
                Uscc::parse_strict(&code)
            } else {
                Uscc::parse(&code)
            };
            parsed.map(|c| describe_uscc(&c)).map_err(|e| e.to_string())
        }
    };
    match outcome {
        Ok(summary) => {
            println!("valid: {summary}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("invalid: {reason}");
            ExitCode::from(1)
        }
    }
}

fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!("{{elapsed_precise}} [{{wide_bar}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}})");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    bar
}

fn gen(permits: u64, seed: u64, as_of: Date, out: &Path) -> anyhow::Result<()> {
    let catalog = Catalog::embedded().context("loading the catalogue")?;
    // The output is written under a temporary name and renamed over `out`: refuse anything that
    // is not a regular file (renaming over /dev/stdout would replace the device link).
    if out.exists() && !std::fs::symlink_metadata(out)?.is_file() {
        bail!(
            "{} exists and is not a regular file; --out names a file to create or replace",
            out.display()
        );
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = out.with_extension("ndjson.tmp");
    let file = std::fs::File::create(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let progress = bar(permits, "permits");
    let started = Instant::now();
    let stats = generate(
        &catalog,
        &GenOptions {
            permits,
            seed,
            as_of,
        },
        &mut writer,
        &mut |done| progress.set_position(done),
    )?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&temporary, out)?;
    progress.finish_and_clear();
    eprintln!(
        "wrote {} permits ({} events) to {} in {:.1?}",
        stats.permits,
        stats.events,
        out.display(),
        started.elapsed()
    );
    Ok(())
}

fn build(input: &Path, data: &Path, signing_key: Option<&Path>) -> anyhow::Result<PathBuf> {
    let catalog = Catalog::embedded().context("loading the catalogue")?;
    // The key first: a build that cannot sign fails before the long fold.
    let sealer = cli::sealer(data, signing_key)?;
    let started = Instant::now();
    let size = std::fs::metadata(input)
        .with_context(|| format!("reading {}", input.display()))?
        .len();
    let progress = bar(size, "bytes");
    // A generated permit takes ~780 bytes of feed: size the registry once instead of rehashing.
    let mut registry = Registry::with_capacity(&catalog, (size / 780) as usize);
    let report = permitd::feed::fold_file(&mut registry, input, &mut |bytes| {
        progress.set_position(bytes)
    })
    .with_context(|| format!("reading {}", input.display()))?;
    progress.finish_and_clear();
    let folded = started.elapsed();
    for rejected in &report.rejections {
        eprintln!("line {}: rejected: {}", rejected.line, rejected.reason);
    }
    eprintln!(
        "folded {} lines in {folded:.1?}: {} accepted, {} replays, {} rejected",
        report.lines, report.accepted, report.replays, report.rejected
    );
    let sequence = registry.sequence();
    // The applied event ids go into the snapshot: a writer resuming from it knows them.
    let event_ids: Vec<u128> = registry.event_ids().collect();
    let mut permits = registry.into_sorted();
    let signing = Instant::now();
    let sealed = sealer.renew_all(&mut permits, time::OffsetDateTime::now_utc());
    eprintln!(
        "sealed {sealed} permits (QR payload and attestation, key {}) in {:.1?}",
        sealer.kid(),
        signing.elapsed()
    );
    let written = Instant::now();
    let rendering = snapshot::build::Rendering {
        catalog: &catalog,
        as_of: Date::today_in_beijing(),
    };
    let (path, stats) =
        snapshot::build::publish_with(data, &permits, sequence, &event_ids, &rendering)?;
    drop(event_ids);
    eprintln!(
        "wrote {} ({} permits, {} versions, {} licences, {} shards, {} bytes, {:.0} bytes/permit) in {:.1?}; total {:.1?}",
        path.display(),
        stats.permits,
        stats.versions,
        stats.licences,
        stats.shards,
        stats.file_bytes,
        stats.file_bytes as f64 / stats.permits.max(1) as f64,
        written.elapsed(),
        started.elapsed()
    );
    // Freeing 10M permits one allocation at a time takes ~15 s; nothing waits for it. When the
    // process exits first (snapshot build), the memory goes back to the system at once.
    std::thread::spawn(move || drop(permits));
    Ok(path)
}

fn verify(data: &Path) -> anyhow::Result<()> {
    let path = snapshot::current_path(data)
        .with_context(|| format!("reading {}/CURRENT", data.display()))?;
    let opened = Instant::now();
    let file = SnapshotFile::open(&path)?;
    let open_time = opened.elapsed();
    let verified = Instant::now();
    let snapshot = file
        .verify()
        .with_context(|| format!("verifying {}", path.display()))?;
    println!(
        "ok: {} (sequence {}, {} permits, {} shards): opened in {open_time:.2?}, verified in {:.2?}",
        path.display(),
        snapshot.header().sequence,
        snapshot.len(),
        snapshot.shard_count(),
        verified.elapsed()
    );
    // The seals: how many permits the writer signed for, and when the attestations fall due.
    let (mut sealed, mut oldest, mut first_expiry) = (0u64, i64::MAX, i64::MAX);
    for permit in snapshot.iter() {
        if let Some(seal) = permit.attested() {
            sealed += 1;
            oldest = oldest.min(seal.attested_at.to_native());
            first_expiry = first_expiry.min(seal.attestation_expires.to_native());
        }
    }
    let at = |unix: i64| {
        permitd::event::Timestamp {
            unix_ms: unix * 1000,
        }
        .to_rfc3339()
    };
    if sealed == 0 {
        println!("seals: none (no writer or `snapshot build` has signed these permits)");
    } else {
        println!(
            "seals: {sealed} of {} permits; oldest attestation {}, renewal due {}, first expiry {}",
            snapshot.len(),
            at(oldest),
            at(permitd::trust::seal::renewal_at(oldest)),
            at(first_expiry)
        );
    }
    Ok(())
}

fn inspect(data: &Path) -> anyhow::Result<()> {
    let path = snapshot::current_path(data)?;
    let file = SnapshotFile::open(&path)?;
    let h = file.header();
    println!("file: {}", path.display());
    println!("format version: {}", snapshot::format::FORMAT_VERSION);
    println!("sequence: {}", h.sequence);
    println!(
        "created: {}",
        permitd::event::Timestamp {
            unix_ms: h.created_unix_ms
        }
        .to_rfc3339()
    );
    println!(
        "permits: {}  versions: {}  licences: {}",
        h.permits, h.versions, h.licences
    );
    println!("file bytes: {}  shards: {}", h.file_bytes, h.shards.len());
    println!(
        "number index: {} bytes  token index: {} bytes",
        h.number_index.bytes, h.token_index.bytes
    );
    println!(
        "changes index: {} entries  event ids: {}",
        h.changes, h.event_id_count
    );
    println!(
        "body blake3: {}",
        blake3::Hash::from(h.body_checksum).to_hex()
    );
    Ok(())
}

/// Starts serving at once (healthz answers, readyz does not), verifies the snapshot off the
/// request path, installs it, and serves until SIGTERM or SIGINT.
/// Called once the snapshot is verified and installed (the demo prints URLs to try).
type OnReady = Box<dyn FnOnce(&Resolver) + Send>;

fn run_server(
    data: &Path,
    listen: SocketAddr,
    public_url: Option<String>,
    on_ready: Option<OnReady>,
) -> anyhow::Result<()> {
    let catalog = Catalog::embedded().context("loading the catalogue")?;
    let path = snapshot::current_path(data)
        .with_context(|| format!("reading {}/CURRENT", data.display()))?;
    let identity = permitd::server::follow::FileIdentity::of(&path);
    let file = SnapshotFile::open(&path)?;
    // One serving thread per core this process may run on (taskset narrows it).
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(permitd::limits::SERVING_THREADS_MAX);
    let listeners = bind_reuseport(listen, cores).with_context(|| format!("binding {listen}"))?;
    let addr = listeners[0].local_addr()?;
    let public_url =
        public_url.unwrap_or_else(|| permitd::server::resolver::DEFAULT_PUBLIC_URL.to_owned());
    let resolver: Arc<Resolver> =
        Arc::new(Resolver::new(catalog, Clock::System).with_public_url(&public_url));
    // Public keys only: the resolver never opens DIR/keys/signing.key.
    match resolver.load_public_keys(data) {
        Ok(true) => {}
        Ok(false) => eprintln!(
            "permitd: no public key set in {} yet: /.well-known/permitd-keys.json answers 404",
            data.display()
        ),
        Err(e) => return Err(e).context("reading the public key set"),
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);

    // SIGTERM/SIGINT: the handlers are registered before serving starts, then waited on.
    cli::stop_on_signal(stop.clone())?;

    eprintln!("permitd: listening on http://{addr} ({cores} serving threads)");
    // Verification runs beside the serving threads: /healthz answers, /readyz waits for it.
    let (failed_tx, failed_rx) = std::sync::mpsc::channel::<anyhow::Error>();
    let loader = resolver.clone();
    let data_dir = data.to_owned();
    let follow_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follow_stopped = follow_stop.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        match file.verify() {
            Ok(snapshot) => {
                let (sequence, permits) = (snapshot.header().sequence, snapshot.len());
                loader.install(snapshot);
                eprintln!("permitd: snapshot {} verified in {:.2?}: sequence {sequence}, {permits} permits; ready", path.display(), started.elapsed());
                // From here on, follow the directory: its change log and newer snapshots.
                if let Err(e) = permitd::server::follow::start(
                    loader.clone(),
                    &data_dir,
                    Some(identity),
                    follow_stop,
                ) {
                    eprintln!("permitd: cannot follow {}: {e}", data_dir.display());
                }
                if let Some(on_ready) = on_ready {
                    on_ready(&loader);
                }
            }
            Err(e) => {
                let _ = failed_tx.send(anyhow::anyhow!("snapshot {} refused: {e}", path.display()));
                let _ = stop.send(true);
            }
        }
    });
    let drained = serve_per_core(listeners, resolver, ServeOptions::default(), stopped)?;
    follow_stopped.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Ok(e) = failed_rx.try_recv() {
        return Err(e);
    }
    eprintln!("permitd: stopped ({drained:?})");
    Ok(())
}

fn demo(data: &Path, listen: SocketAddr, permits: u64) -> anyhow::Result<()> {
    let input = data.join("permits.ndjson");
    if !input.exists() {
        eprintln!(
            "permitd demo: generating {permits} permits into {}",
            input.display()
        );
        gen(permits, 1, Date::today_in_beijing(), &input)?;
    }
    // No snapshot yet, or one this build cannot read (an older format): build it (again).
    let readable = snapshot::current_path(data)
        .ok()
        .map(|path| SnapshotFile::open(&path).map(|_| ()));
    match readable {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            eprintln!("permitd demo: rebuilding the snapshot ({e})");
            build(&input, data, None)?;
        }
        None => {
            eprintln!("permitd demo: building the snapshot");
            build(&input, data, None)?;
        }
    }
    if !listen.ip().is_loopback() {
        bail!("the demo serves on a loopback address only, not {listen}");
    }
    let data_dir_for_hint = data.to_owned();
    let on_ready = Box::new(move |resolver: &Resolver| {
        let today = Date::today_in_beijing();
        let Some(snapshot) = resolver.snapshot() else {
            return;
        };
        let base = format!("http://{listen}");
        let mut found = [None, None, None];
        let mut signed = None;
        for permit in snapshot.iter() {
            let slot = match permit.derived_state(None, today).code() {
                "valid" => 0,
                "void" => 1,
                "partial" => 2,
                _ => continue,
            };
            found[slot].get_or_insert_with(|| permit.number.as_str().to_owned());
            if slot == 0 && signed.is_none() {
                signed = permit
                    .seal
                    .as_ref()
                    .and_then(|s| s.qr.as_ref())
                    .and_then(permitd::trust::seal::stored_payload)
                    .map(|qr| qr.to_url(&base));
            }
            if found.iter().all(Option::is_some) {
                break;
            }
        }
        println!("\nTry:");
        for (label, number) in ["a valid permit", "a void permit", "a partial permit"]
            .iter()
            .zip(&found)
        {
            if let Some(number) = number {
                println!("  {label:18} {base}/v1/permits/{number}");
                println!(
                    "  {:18} {base}/q/{number}  (open in a browser for the citizen page)",
                    ""
                );
            }
        }
        if let (Some(url), Some(number)) = (&signed, &found[0]) {
            println!("  {:18} {url}", "its signed QR code");
            println!(
                "  {:18} {base}/v1/permits/{number}/qr.svg · qr.png · certificate.svg · attestation",
                ""
            );
            println!(
                "  {:18} {base}/.well-known/permitd-keys.json  (check offline: permitd verify qr URL --keys {})",
                "the public keys",
                permitd::trust::seal::public_keys_path(data_dir_for_hint.as_path()).display()
            );
        }
        let reissued = snapshot.iter().find(|p| p.version() > 1);
        if let Some(number) = reissued.and_then(|p| PermitNumber::parse(p.number.as_str()).ok()) {
            let old = permitd::qr::Token::for_version(&number, 1).encode();
            println!(
                "  {:18} {base}/q/{old}  (the QR code of version 1 of a reissued permit)",
                "a superseded code"
            );
        }
        println!("  {:18} {base}/v1/industries/03", "the catalogue");
        println!(
            "  {:18} {base}/v1/permits/110111ZH0300001A",
            "a malformed number"
        );
        println!("\nPress Ctrl-C to stop.");
    });
    // The demo's codes point at the demo itself, so a phone on this machine can follow them.
    run_server(
        data,
        listen,
        Some(format!("http://{listen}")),
        Some(on_ready),
    )
}

#[derive(Subcommand)]
enum ExportCommand {
    /// The exact bodies of `GET /q/{number}` (JSON) and `GET /v1/permits/{number}` for every
    /// permit, as OUT/q/{number} and OUT/v1/permits/{number} (an nginx root), plus a Redis
    /// mass-insertion file for `redis-cli --pipe`. OUT must be new or empty.
    Answers {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Export the first N permits only (default: all).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
}

fn export(what: ExportCommand) -> anyhow::Result<()> {
    let ExportCommand::Answers { data, out, limit } = what;
    let started = Instant::now();
    let path = snapshot::current_path(&data)
        .with_context(|| format!("reading {}/CURRENT", data.display()))?;
    let snapshot = SnapshotFile::open(&path)?
        .verify()
        .with_context(|| format!("verifying {}", path.display()))?;
    let resolver: Resolver = Resolver::new(Catalog::embedded()?, Clock::System);
    resolver.install(snapshot);
    let stats = permitd::export::export_answers(&resolver, &out, limit)?;
    eprintln!(
        "exported {} permits into {}: {} answer files ({} bytes), {} ({} bytes) in {:.1?}",
        stats.permits,
        out.display(),
        stats.files,
        stats.body_bytes,
        permitd::export::REDIS_FILE,
        stats.redis_bytes,
        started.elapsed()
    );
    Ok(())
}
