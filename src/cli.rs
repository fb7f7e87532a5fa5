//! The writer-path subcommands: `permitd writer`, `permitd feed send|apply`, `permitd gen
//! --changes`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use permitd::catalog::Catalog;
use permitd::changelog::LogReader;
use permitd::codes::PermitNumber;
use permitd::domain::Date;
use permitd::limits::{FEED_BATCH_BYTES_MAX, FEED_BATCH_EVENTS_MAX};
use permitd::registry::PermitSource;
use permitd::trust::keys::{PublicKey, PublicKeySet, SigningKey};
use permitd::trust::seal::{default_signing_key_path, open_signing_key, KeyOrigin, Sealer};
use permitd::writer::compact::{Compaction, Retention, Trigger};
use permitd::writer::service::{self, WriterOptions};
use permitd::writer::Record;
use permitd::writer::Store;

/// The shortest feed token accepted: a guessable token is no authentication.
const TOKEN_BYTES_MIN: usize = 16;
/// Times `feed send` tries one batch (503 and connection errors) before giving up.
const SEND_ATTEMPTS_MAX: u32 = 30;

/// The feed token: the file's first line, else `PERMITD_FEED_TOKEN`.
fn feed_token(token_file: Option<&Path>) -> anyhow::Result<String> {
    let token = match token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        None => std::env::var("PERMITD_FEED_TOKEN")
            .context("no feed token: set PERMITD_FEED_TOKEN or pass --token-file")?,
    };
    if token.len() < TOKEN_BYTES_MIN {
        bail!("the feed token is shorter than {TOKEN_BYTES_MIN} bytes");
    }
    Ok(token)
}

/// Sends `true` on `stop` at the first SIGTERM or SIGINT. The handlers are registered before
/// this returns (so a signal right after start is not lost), then waited on by a thread.
///
/// # Errors
/// When the signal handlers cannot be registered.
pub fn stop_on_signal(stop: tokio::sync::watch::Sender<bool>) -> std::io::Result<()> {
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminate = signals.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    })?;
    std::thread::spawn(move || {
        signals.block_on(async {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        });
        let _ = stop.send(true);
    });
    Ok(())
}

/// The signer for data directory `data`: the key `signing_key` names (default
/// `DIR/keys/signing.key`), created with a warning when missing; its public key is added to
/// `DIR/keys/public.jwks`, which resolvers serve.
pub fn sealer(data: &Path, signing_key: Option<&Path>) -> anyhow::Result<Arc<Sealer>> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let (sealer, origin) =
        open_signing_key(data, signing_key).context("opening the signing key")?;
    if origin == KeyOrigin::Created {
        let path = signing_key.map_or_else(|| default_signing_key_path(data), Path::to_owned);
        eprintln!(
            "permitd: warning: no signing key at {}: created one (key id {}, mode 0600). Back it \
             up and keep it away from resolvers: they need only {}",
            path.display(),
            sealer.kid(),
            permitd::trust::seal::public_keys_path(data).display()
        );
    }
    Ok(Arc::new(sealer))
}

fn catalog() -> anyhow::Result<&'static Catalog> {
    // One catalogue for the life of the process, shared by the committer and compactions.
    Ok(Box::leak(Box::new(
        Catalog::embedded().context("loading the catalogue")?,
    )))
}

// The writer's flags, one argument each as clap gives them.
#[allow(clippy::too_many_arguments)]
pub fn writer(
    data: &Path,
    listen: SocketAddr,
    token_file: Option<&Path>,
    compact_events: u64,
    compact_seconds: u64,
    keep_snapshots: usize,
    allow_remote: bool,
    signing_key: Option<&Path>,
) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() && !allow_remote {
        bail!("the writer's admin listener stays on loopback (127.0.0.1) unless --allow-remote");
    }
    let token = feed_token(token_file)?;
    let started = Instant::now();
    let sealer = sealer(data, signing_key)?;
    let store = Store::open(data, catalog()?, sealer)
        .with_context(|| format!("opening the data directory {}", data.display()))?;
    let recovery = store.recovery();
    eprintln!(
        "permitd writer: {} opened in {:.1?}: snapshot sequence {}, log records {}, sequence {}{}",
        data.display(),
        started.elapsed(),
        store.snapshot().map_or(0, |s| s.header().sequence),
        recovery.records,
        store.sequence(),
        if recovery.truncated_bytes > 0 {
            format!(
                "; cut a torn tail of {} bytes (never acknowledged)",
                recovery.truncated_bytes
            )
        } else {
            String::new()
        }
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    stop_on_signal(stop)?;
    let options = WriterOptions {
        listen,
        token,
        trigger: Trigger {
            events: compact_events.max(1),
            interval: Duration::from_secs(compact_seconds.max(1)),
        },
        retention: Retention {
            snapshots_kept: keep_snapshots.max(1),
        },
    };
    service::run(store, options, stopped, |addr| {
        eprintln!("permitd writer: admin listener on http://{addr} (POST /v1/feed)");
    })?;
    eprintln!("permitd writer: stopped");
    Ok(())
}

#[derive(serde::Deserialize)]
struct Ack {
    accepted: u64,
    replays: u64,
    rejected: u64,
    first_sequence: Option<u64>,
    last_sequence: Option<u64>,
    #[serde(default)]
    rejections: Vec<AckRejection>,
}

#[derive(serde::Deserialize)]
struct AckRejection {
    line: u64,
    reason: String,
}

/// `permitd feed send`: exit 0 only when every event was acknowledged (accepted, a replay, or
/// rejected with a reason); 1 when the writer could not be reached or refused a batch.
pub fn feed_send(file: &Path, to: &str, token_file: Option<&Path>, batch: usize) -> ExitCode {
    match send(file, to, token_file, batch) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("permitd feed send: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn send(file: &Path, to: &str, token_file: Option<&Path>, batch: usize) -> anyhow::Result<()> {
    let token = feed_token(token_file)?;
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let batch = batch.clamp(1, FEED_BATCH_EVENTS_MAX);
    let url = format!("{}/v1/feed", to.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let started = Instant::now();
    let (mut accepted, mut replays, mut rejected) = (0u64, 0u64, 0u64);
    let (mut first, mut last) = (None::<u64>, None::<u64>);
    let mut line_offset = 0u64; // lines of the file before this batch
    let mut chunks = Vec::new();
    // Batches of whole lines, under both the event and the byte limit.
    let mut start = 0usize;
    let mut count = 0usize;
    let mut lines_in_chunk = 0u64;
    for (i, byte) in text.iter().enumerate() {
        if *byte != b'\n' {
            continue;
        }
        count += 1;
        lines_in_chunk += 1;
        let end = i + 1;
        if count == batch || end - start >= FEED_BATCH_BYTES_MAX / 2 {
            chunks.push((start, end, lines_in_chunk));
            (start, count, lines_in_chunk) = (end, 0, 0);
        }
    }
    if start < text.len() {
        chunks.push((start, text.len(), lines_in_chunk + 1));
    }
    for (start, end, lines) in chunks {
        let body = &text[start..end];
        if body.len() > FEED_BATCH_BYTES_MAX {
            bail!("a batch starting at line {} is over {FEED_BATCH_BYTES_MAX} bytes: send smaller batches", line_offset + 1);
        }
        let ack = post(&agent, &url, &token, body)?;
        accepted += ack.accepted;
        replays += ack.replays;
        rejected += ack.rejected;
        if first.is_none() {
            first = ack.first_sequence;
        }
        last = ack.last_sequence.or(last);
        for r in &ack.rejections {
            eprintln!("line {}: rejected: {}", line_offset + r.line, r.reason);
        }
        line_offset += lines;
    }
    let range = match (first, last) {
        (Some(a), Some(b)) => format!("sequences {a}–{b}"),
        _ => "no new sequence".to_owned(),
    };
    println!(
        "acknowledged {range}: {accepted} accepted, {replays} replays, {rejected} rejected, in {:.1?}",
        started.elapsed()
    );
    Ok(())
}

/// POSTs one batch, retrying on 503 (after Retry-After) and on connection failures: a retried
/// batch is harmless, its events are replays by id.
fn post(agent: &ureq::Agent, url: &str, token: &str, body: &[u8]) -> anyhow::Result<Ack> {
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=SEND_ATTEMPTS_MAX {
        let response = agent
            .post(url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/x-ndjson")
            .send(body);
        match response {
            Ok(mut r) if r.status() == 200 => {
                let text = r
                    .body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_string()
                    .context("reading the writer's acknowledgement")?;
                let ack: Ack = serde_json::from_str(&text)
                    .with_context(|| format!("the writer's acknowledgement {text:?}"))?;
                return Ok(ack);
            }
            Ok(r) if r.status() == 503 => {
                let after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map_or(wait, Duration::from_secs);
                std::thread::sleep(after);
            }
            Ok(mut r) => {
                let status = r.status();
                let text = r.body_mut().read_to_string().unwrap_or_default();
                bail!("the writer refused the batch ({status}): {text}");
            }
            Err(e) if attempt < SEND_ATTEMPTS_MAX => {
                eprintln!("permitd feed send: {e}; retrying");
                std::thread::sleep(wait);
            }
            Err(e) => return Err(e).context(format!("sending to {url}")),
        }
        wait = (wait * 2).min(Duration::from_secs(5));
    }
    bail!("the writer stayed busy for {SEND_ATTEMPTS_MAX} attempts")
}

/// `permitd feed apply`: the offline import, then a compaction into a new snapshot.
pub fn feed_apply(file: &Path, data: &Path, signing_key: Option<&Path>) -> anyhow::Result<()> {
    let catalog = catalog()?;
    let started = Instant::now();
    let sealer = sealer(data, signing_key)?;
    let mut store = Store::open(data, catalog, sealer)
        .with_context(|| format!("opening the data directory {}", data.display()))?;
    let input = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let report = permitd::writer::import(&mut store, input, &mut |_| {})?;
    for r in &report.rejections {
        eprintln!("line {}: rejected: {}", r.line, r.reason);
    }
    eprintln!(
        "applied {} in {:.1?}: {} accepted, {} replays, {} rejected; sequence {}",
        file.display(),
        started.elapsed(),
        report.accepted,
        report.replays,
        report.rejected,
        store.sequence()
    );
    if store.events_since_snapshot() > 0 {
        // The store is done with: its changed permits move into the compaction (no copy).
        let compacted = Compaction::take_all(store).run(
            catalog,
            Date::today_in_beijing(),
            time::OffsetDateTime::now_utc(),
        )?;
        eprintln!(
            "compacted into {} ({} permits) in {:.1?}",
            compacted.path.display(),
            compacted.stats.permits,
            compacted.elapsed
        );
        let sequence = compacted.snapshot.header().sequence;
        let (mut log, _) =
            permitd::changelog::ChangeLog::open(&data.join(permitd::writer::LOG_DIR))?;
        permitd::writer::compact::retire_files(
            data,
            Some(sequence),
            &mut log,
            &Retention::default(),
        )?;
    }
    Ok(())
}

/// `permitd gen --changes N --from FILE`.
pub fn gen_changes(changes: u64, from: &Path, seed: u64, out: &Path) -> anyhow::Result<()> {
    let catalog = Catalog::embedded().context("loading the catalogue")?;
    let started = Instant::now();
    let size = std::fs::metadata(from)
        .with_context(|| format!("reading {}", from.display()))?
        .len();
    let mut registry = permitd::registry::Registry::with_capacity(&catalog, (size / 780) as usize);
    let report = permitd::feed::fold_file(&mut registry, from, &mut |_| {})
        .with_context(|| format!("reading {}", from.display()))?;
    if report.rejected > 0 {
        eprintln!(
            "permitd gen: {} lines of {} were rejected; generating for the rest",
            report.rejected,
            from.display()
        );
    }
    let temporary = out.with_extension("ndjson.tmp");
    let file = std::fs::File::create(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let options = permitd::gen::changes::ChangeOptions {
        changes,
        seed,
        start: permitd::event::Timestamp::now(),
    };
    let stats =
        permitd::gen::changes::generate_changes(&catalog, &mut registry, &options, &mut writer)?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&temporary, out)?;
    eprintln!(
        "wrote {changes} change events for {} permits to {} in {:.1?}: {stats:?}",
        registry.len(),
        out.display(),
        started.elapsed()
    );
    Ok(())
}

/// `permitd keys gen --out FILE`: a new private key (mode 0600, never overwriting a file) and
/// its public key as a one-key JWK Set in `FILE.jwks`.
pub fn keys_gen(out: &Path, not_before: Date) -> anyhow::Result<()> {
    let key = SigningKey::generate()?;
    key.save(out)?;
    let mut set = PublicKeySet::new();
    set.insert(PublicKey::new(key.verifying_key(), not_before, None)?)?;
    let mut jwks = out.as_os_str().to_owned();
    jwks.push(".jwks");
    let jwks = std::path::PathBuf::from(jwks);
    permitd::fsutil::write_atomically(&jwks, set.to_jwks().as_bytes())
        .with_context(|| format!("writing {}", jwks.display()))?;
    println!(
        "key id {}: private key {} (mode 0600), public key set {} (valid from {not_before})",
        key.kid(),
        out.display(),
        jwks.display()
    );
    Ok(())
}

fn read_key_set(path: &Path) -> Result<PublicKeySet, ExitCode> {
    permitd::trust::offline::load_key_set(path).map_err(|e| {
        eprintln!("permitd verify: {e}");
        ExitCode::from(2)
    })
}

/// `permitd verify qr PAYLOAD_OR_URL --keys FILE`: exit 0 genuine, 1 not, 2 not a code.
pub fn verify_qr(input: &str, keys: &Path) -> ExitCode {
    let keys = match read_key_set(keys) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    let report = permitd::trust::offline::verify_qr(input, &keys, Date::today_in_beijing());
    println!("{report}");
    ExitCode::from(report.exit_code())
}

/// `permitd verify attestation FILE --keys FILE`: exit 0 genuine and fresh, 1 not, 2 unreadable.
pub fn verify_attestation(file: &Path, keys: &Path) -> ExitCode {
    let keys = match read_key_set(keys) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    let text = match permitd::trust::offline::load_attestation(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("permitd verify: {e}");
            return ExitCode::from(2);
        }
    };
    let report =
        permitd::trust::offline::verify_attestation(&text, &keys, time::OffsetDateTime::now_utc());
    println!("{report}");
    ExitCode::from(report.exit_code())
}

/// `permitd qr NUMBER --data DIR --out FILE`: the permit's current QR code as SVG or PNG (by
/// the extension), or with `--certificate` its certificate face (SVG), from the snapshot and
/// the log records after it.
pub fn qr(
    number: &str,
    data: &Path,
    out: &Path,
    public_url: &str,
    certificate: bool,
) -> anyhow::Result<()> {
    let number = PermitNumber::parse(number).context("the permit number")?;
    let snapshot = permitd::writer::open_current(data)?
        .with_context(|| format!("{} has no snapshot", data.display()))?;
    let mut permit = snapshot.permit(&number);
    let log = data.join(permitd::writer::LOG_DIR);
    if log.is_dir() {
        let mut reader = LogReader::open(&log, snapshot.header().sequence)?;
        let mut records = Vec::new();
        while reader.read_available(4096, &mut records)? > 0 {
            for record in records.drain(..) {
                match Record::decode(&record)? {
                    Record::Event(entry) if entry.event.change.number() == number => {
                        permit = Some(entry.into_permit(record.seq)?);
                    }
                    Record::Sealed(note) => {
                        if let Some(permit) = permit.as_mut() {
                            note.apply_to(permit);
                        }
                    }
                    Record::Event(_) => {}
                }
            }
        }
    }
    let permit = permit.with_context(|| format!("no permit {number} is on record"))?;
    let payload = permit.seal.as_ref().and_then(|s| s.qr).with_context(|| {
        format!(
            "permit {number} has no signed QR code yet: the writer or `snapshot build` seals it"
        )
    })?;
    let url = permitd::trust::seal::stored_payload(&payload)
        .context("the stored QR payload does not parse")?
        .to_url(public_url);
    let extension = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    let bytes = match (certificate, extension) {
        (true, "svg") => permitd::render::certificate_svg(&permit, catalog()?, &url).into_bytes(),
        (false, "svg") => permitd::render::qr_svg(&url)?.into_bytes(),
        (false, "png") => permitd::render::qr_png(&url, 8)?,
        _ => bail!("--out must end in .svg or .png (.svg only with --certificate)"),
    };
    permitd::fsutil::write_atomically(out, &bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    let (qr_version, modules) = permitd::render::qr_info(&url)?;
    println!(
        "{} (permit {number} version {}): {url} ({} characters, QR version {qr_version}, {modules}×{modules} modules)",
        out.display(),
        permit.version,
        url.len()
    );
    Ok(())
}
