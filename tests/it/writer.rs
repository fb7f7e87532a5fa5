//! The writer path end to end, through the real binaries: events in on the writer's admin
//! listener, answers out of a resolver following the same data directory. Each test proves one
//! rule of the domain (BRIEF §1) from feed to answer, and the crash test kills the writer with
//! SIGKILL under a steady feed and checks that nothing acknowledged is lost or doubled.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_permitd");
const TOKEN: &str = "test-feed-token-0123456789";
/// Long enough for a loaded CI machine; a pass takes milliseconds.
const PATIENCE: Duration = Duration::from_secs(30);

/// A child process killed when dropped, with its stderr read on a thread.
pub struct Proc {
    child: Child,
    pub addr: String,
    #[allow(dead_code)] // kept so the stderr reader never blocks on a closed channel
    pub log: mpsc::Receiver<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts `permitd args…` and waits for the stderr line holding `marker` followed by an
    /// address.
    pub fn start(args: &[&str], marker: &str) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .env("PERMITD_FEED_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match log.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split(marker).nth(1) {
                        let addr = rest.split_whitespace().next().unwrap().to_owned();
                        return Proc { child, addr, log };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("permitd {args:?} did not print {marker:?}; it said: {seen:#?}")
                }
            }
        }
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

pub fn writer(data: &Path) -> Proc {
    Proc::start(
        &[
            "writer",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        "admin listener on http://",
    )
}

pub fn resolver(data: &Path) -> Proc {
    let proc = Proc::start(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        "listening on http://",
    );
    // Ready once the snapshot is verified.
    eventually(
        || get(&proc, "/readyz").0 == 200,
        "the resolver to be ready",
    );
    proc
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// POSTs NDJSON lines to the writer at `addr`; the status and the JSON answer, or the error of
/// a writer that is gone.
pub fn post_feed(addr: &str, lines: &[String]) -> Result<(u16, Value), ureq::Error> {
    let body = lines.join("\n") + "\n";
    let mut response = agent()
        .post(&format!("http://{addr}/v1/feed"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send(body.as_bytes())?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, answer))
}

/// [`post_feed`] to a writer that must answer.
pub fn feed(writer: &Proc, lines: &[String]) -> (u16, Value) {
    post_feed(&writer.addr, lines).unwrap()
}

pub fn get(proc: &Proc, path: &str) -> (u16, Value) {
    match agent()
        .get(&format!("http://{}{path}", proc.addr))
        .header("Accept", "application/json")
        .call()
    {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(_) => (0, Value::Null),
    }
}

/// Waits until every state the writer acknowledged has its seal in the change log (the writer
/// signs after acknowledging).
pub fn wait_sealed(writer: &Proc) {
    eventually(
        || get(writer, "/v1/status").1["unsealed"].as_u64() == Some(0),
        "the writer to seal what it acknowledged",
    );
}

/// The attestation of the permit's current state once the resolver has it (503
/// `attestation_pending` until the writer's seal note reaches it).
fn attestation_of(resolver: &Proc, number: &str) -> String {
    let path = format!("/v1/permits/{number}/attestation");
    let mut last = (0, Value::Null);
    eventually(
        || {
            last = get(resolver, &path);
            match last.0 {
                200 => true,
                503 => {
                    assert_eq!(last.1["error"]["code"], "attestation_pending", "{}", last.1);
                    false
                }
                _ => panic!("{path}: {last:?}"),
            }
        },
        "the attestation of the current state",
    );
    last.1.as_str().expect("a JWS").to_owned()
}

pub fn eventually(mut ok: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting for {what}");
}

/// A restaurant (category 03) permit with food (L05) granted and tobacco retail (L07) listed
/// as not yet granted (未许可), as a `permit_issued` line.
/// The `n`th restaurant permit number (n ≥ 1): Fangshan's 99,999 sequences first, then those of
/// other Beijing districts, so long crash runs never run out.
fn restaurant_number(n: u32) -> String {
    const DIVISIONS: [u32; 8] = [
        110111, 110101, 110102, 110105, 110106, 110107, 110108, 110109,
    ];
    let (division, sequence) = ((n - 1) / 99_999, 1 + (n - 1) % 99_999);
    permitd::codes::PermitNumber::new(DIVISIONS[division as usize], 3, sequence)
        .unwrap()
        .to_string()
}

fn issue_line(id: &str, sequence: u32, food_until: &str) -> (String, String) {
    let number = restaurant_number(sequence);
    let line = serde_json::json!({
        "schema": 1, "id": id, "at": "2026-01-05T09:00:00+08:00", "department": "北京市房山区政务服务局",
        "kind": "permit_issued",
        "permit": {
            "number": number, "version": 1,
            "operator_name": "北京房山良乡张记餐饮店", "uscc": "91350100M000100Y43",
            "legal_representative": "张伟", "premises": "北京市房山区良乡镇昊天大街1号",
            "issuing_authority": "北京市房山区政务服务局", "issued_on": "2026-01-05",
            "licences": [
                {"licence_type": "L05", "certificate_number": "JY11101110000001", "state": "valid",
                 "valid_from": "2026-01-05", "valid_until": food_until},
                {"licence_type": "L07", "state": "not_granted"}
            ]
        }
    });
    (number, line.to_string())
}

fn licence_line(id: &str, number: &str, code: &str, action: &str, extra: Value) -> String {
    let mut line = serde_json::json!({
        "schema": 1, "id": id, "at": "2026-02-01T10:00:00+08:00", "department": "北京市房山区市场监督管理局",
        "kind": "licence_state_changed", "number": number, "licence_type": code,
        "action": action, "on": "2026-02-01"
    });
    if let (Value::Object(line), Value::Object(extra)) = (&mut line, extra) {
        line.extend(extra);
    }
    line.to_string()
}

/// `/Q/<payload>` of the permit's current version, from the URL `permitd qr` prints.
fn signed_scan_path(data: &Path, number: &str) -> String {
    let out = data.with_file_name(format!("{number}.svg"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_permitd"))
        .args(["qr", number, "--data"])
        .arg(data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::metadata(&out).unwrap().len() > 1000);
    let start = text.find("/Q/").expect("a /Q/ URL");
    let end = text[start..].find(' ').map_or(text.len(), |e| start + e);
    text[start..end].to_owned()
}

fn state_of(answer: &Value) -> &str {
    answer["state"]["code"].as_str().unwrap_or("?")
}

fn permit(resolver: &Proc, number: &str) -> Value {
    get(resolver, &format!("/v1/permits/{number}")).1
}

#[test]
fn each_rule_holds_from_feed_to_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let writer = writer(&data);
    let resolver = resolver(&data);
    let (number, issue) = issue_line("t-1", 1, "2030-12-31");

    // Issued with an item not yet licensed: partial (未许可事项 listed).
    let (status, ack) = feed(&writer, std::slice::from_ref(&issue));
    assert_eq!(status, 200, "{ack}");
    assert_eq!(
        (ack["accepted"].as_u64(), ack["first_sequence"].as_u64()),
        (Some(1), Some(1))
    );
    eventually(
        || state_of(&permit(&resolver, &number)) == "partial",
        "partial",
    );

    // A replay changes nothing and is counted as one.
    let (_, ack) = feed(&writer, std::slice::from_ref(&issue));
    assert_eq!(
        (ack["accepted"].as_u64(), ack["replays"].as_u64()),
        (Some(0), Some(1)),
        "{ack}"
    );

    // A rejected event names the problem and changes nothing.
    let bad = licence_line("t-bad", &number, "L07", "resumed", Value::Null);
    let (_, ack) = feed(&writer, &[bad]);
    assert_eq!(ack["rejected"].as_u64(), Some(1), "{ack}");
    let reason = ack["rejections"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("not_granted") && reason.contains("resumed"),
        "{reason}"
    );

    // The writer sealed version 1: its signed code, as `permitd qr` prints it, scans genuine
    // (once the resolver has read the seal too).
    wait_sealed(&writer);
    let v1_path = signed_scan_path(&data, &number);
    eventually(
        || get(&resolver, &v1_path).0 == 200,
        "the seal in the resolver",
    );
    let (status, v1) = get(&resolver, &v1_path);
    assert_eq!((status, state_of(&v1)), (200, "partial"), "{v1}");

    // Granting the unpermitted item issues version 2; the version 1 code is superseded.
    let grant = licence_line(
        "t-2",
        &number,
        "L07",
        "granted",
        serde_json::json!({"certificate_number": "YC1101110000001", "valid_until": "2031-01-31"}),
    );
    let (_, ack) = feed(&writer, &[grant]);
    assert_eq!(ack["accepted"].as_u64(), Some(1), "{ack}");
    eventually(|| permit(&resolver, &number)["version"] == 2, "version 2");
    assert_eq!(state_of(&permit(&resolver, &number)), "valid");
    let parsed = permitd::codes::PermitNumber::parse(&number).unwrap();
    let old_code = permitd::qr::Token::for_version(&parsed, 1).encode();
    let (_, old) = get(&resolver, &format!("/q/{old_code}"));
    assert_eq!(state_of(&old), "superseded", "{old}");
    assert_eq!(old["state"]["superseded_by_version"], 2);
    // The old signed code too: superseded (the old paper is void), not forged; the new one is
    // a different code, valid.
    let (status, old) = get(&resolver, &v1_path);
    assert_eq!((status, state_of(&old)), (200, "superseded"), "{old}");
    wait_sealed(&writer);
    let v2_path = signed_scan_path(&data, &number);
    assert_ne!(v2_path, v1_path);
    eventually(|| get(&resolver, &v2_path).0 == 200, "version 2's seal");
    let (status, new) = get(&resolver, &v2_path);
    assert_eq!((status, state_of(&new)), (200, "valid"), "{new}");

    // A non-face change (renewal, 延续) shows at once, with no new version.
    let renew = serde_json::json!({
        "schema": 1, "id": "t-3", "at": "2026-03-01T10:00:00+08:00", "department": "北京市房山区市场监督管理局",
        "kind": "licence_details_changed", "number": number, "licence_type": "L05",
        "valid_until": "2035-12-31", "on": "2026-03-01"
    })
    .to_string();
    feed(&writer, &[renew]);
    eventually(
        || {
            let answer = permit(&resolver, &number);
            answer["licences"][0]["valid_until"] == "2035-12-31"
        },
        "the renewal",
    );
    assert_eq!(permit(&resolver, &number)["version"], 2);

    // A revoked licence voids the whole permit at once, naming the licence.
    let revoke = licence_line(
        "t-4",
        &number,
        "L07",
        "revoked",
        serde_json::json!({"reason": "依法撤销"}),
    );
    feed(&writer, &[revoke]);
    eventually(|| state_of(&permit(&resolver, &number)) == "void", "void");
    let answer = permit(&resolver, &number);
    assert_eq!(answer["state"]["void"]["licence_type"], "L07", "{answer}");
    assert_eq!(answer["state"]["void"]["by"], "licence");
    // The writer signed an attestation of the new state; it verifies with the served key set.
    let (_, keys) = get(&resolver, "/.well-known/permitd-keys.json");
    let keys = permitd::trust::PublicKeySet::from_jwks(&keys.to_string()).unwrap();
    let jws = attestation_of(&resolver, &number);
    let attestation =
        permitd::trust::verify_jws(&jws, &keys, time::OffsetDateTime::now_utc()).unwrap();
    assert_eq!(
        (attestation.state.as_str(), attestation.version),
        ("void", 2)
    );

    // A second permit: suspended then resumed (in force again), then recovered (收回) for good.
    let (second, issue2) = issue_line("t-5", 2, "2030-12-31");
    let suspend = licence_line("t-6", &second, "L05", "suspended", Value::Null);
    let resume = licence_line("t-7", &second, "L05", "resumed", Value::Null);
    feed(&writer, &[issue2, suspend]);
    eventually(
        || state_of(&permit(&resolver, &second)) == "partial",
        "suspended counts as not in force",
    );
    assert_eq!(
        permit(&resolver, &second)["licences"][0]["state"],
        "suspended"
    );
    feed(&writer, &[resume]);
    eventually(
        || permit(&resolver, &second)["licences"][0]["state"] == "valid",
        "resumed",
    );
    let recover = serde_json::json!({
        "schema": 1, "id": "t-8", "at": "2026-04-01T10:00:00+08:00", "department": "北京市房山区政务服务局",
        "kind": "permit_recovered", "number": second, "on": "2026-04-01"
    })
    .to_string();
    feed(&writer, &[recover]);
    eventually(
        || state_of(&permit(&resolver, &second)) == "recovered",
        "recovered",
    );
    let late = licence_line("t-9", &second, "L05", "revoked", Value::Null);
    let (_, ack) = feed(&writer, &[late]);
    assert_eq!(ack["rejected"].as_u64(), Some(1), "{ack}");

    // Unauthenticated batches are refused and change nothing.
    let response = agent()
        .post(&format!("http://{}/v1/feed", writer.addr))
        .header("Authorization", "Bearer wrong-token-wrong-token")
        .send("{}\n".as_bytes())
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[test]
fn a_licence_past_its_end_date_lapses_in_the_log_and_compaction_keeps_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (number, issue) = issue_line("x-1", 7, "2026-01-31");
    {
        let writer = writer(&data);
        let (_, ack) = feed(&writer, &[issue]);
        assert_eq!(ack["accepted"].as_u64(), Some(1), "{ack}");
    }
    // The resolver never shows it valid past its end date, event or not.
    let resolver = resolver(&data);
    eventually(
        || state_of(&permit(&resolver, &number)) == "void",
        "void by date",
    );
    assert_eq!(permit(&resolver, &number)["state"]["void"]["by_date"], true);

    // A restarted writer's expiry scheduler writes the lapse into the log by itself.
    let writer = writer(&data);
    eventually(
        || permit(&resolver, &number)["licences"][0]["state"] == "lapsed",
        "the lapse in the resolver",
    );
    wait_sealed(&writer);
    assert_eq!(
        permit(&resolver, &number)["state"]["void"]["by_date"],
        false
    );

    // Compaction: a new snapshot covers the log; the resolver swaps it in, answers unchanged.
    let before = permit(&resolver, &number);
    let mut response = agent()
        .post(&format!("http://{}/v1/compact", writer.addr))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send(&b""[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let compacted: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    // The issue, the lapse and the lapse's seal note, and the issue's seal note unless the
    // first writer was killed before writing it (its state is no longer current to seal).
    let covered = compacted["snapshot_sequence"].as_u64().unwrap();
    assert!((3..=4).contains(&covered), "{compacted}");
    eventually(
        || {
            let (_, metrics) = get(&resolver, "/metrics");
            metrics
                .as_str()
                .is_some_and(|m| m.contains(&format!("permitd_snapshot_sequence {covered}")))
        },
        "the resolver to install the new snapshot",
    );
    // The empty bootstrap snapshot is gone with the first compaction (it would hold the log).
    eventually(
        || !data.join("snapshot-00000000000000000000.rkyv").exists(),
        "the bootstrap snapshot to be retired",
    );
    assert!(data.join(format!("snapshot-{covered:020}.rkyv")).exists());
    let mut after = permit(&resolver, &number);
    let mut before = before;
    // Only where the answer came from may differ.
    for answer in [&mut before, &mut after] {
        answer.as_object_mut().unwrap().remove("snapshot_sequence");
    }
    assert_eq!(before, after);
}

#[test]
fn a_writer_killed_mid_feed_loses_no_acknowledged_event_and_applies_none_twice() {
    // SIGKILL at moments spread over a steady feed, restart, resend what was not acknowledged;
    // at the end every event is in the log exactly once. (scripts/crash.sh runs many cycles.)
    let cycles: usize = std::env::var("PERMITD_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let per_batch = 200u32;
    // More batches than the cycles can take, and kills soon after each start (the release
    // writer acknowledges ~150k events/s), so most kills land while batches are in flight.
    let batches = 40 * cycles as u32;
    let batch_lines = move |b: u32| -> Vec<String> {
        (0..per_batch)
            .map(|i| issue_line(&format!("c-{b}-{i}"), 1 + b * per_batch + i, "2030-12-31").1)
            .collect()
    };
    // Batches whose acknowledgement arrived: every event in them must be in the log for good.
    let mut acknowledged = std::collections::BTreeSet::new();
    let mut next_batch = 0u32;
    let mut rng_state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..cycles {
        let writer = writer(&data);
        let stop_after = {
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 7;
            rng_state ^= rng_state << 17;
            Duration::from_millis(5 + rng_state % 100)
        };
        let addr = writer.addr.clone();
        let sender = std::thread::spawn(move || {
            // Sends until the writer dies; returns the batches acknowledged.
            let mut done = Vec::new();
            let mut b = next_batch;
            while b < batches {
                match post_feed(&addr, &batch_lines(b)) {
                    Ok((200, ack)) => {
                        done.push((b, ack));
                        b += 1;
                    }
                    _ => break,
                }
            }
            done
        });
        std::thread::sleep(stop_after);
        writer.kill9();
        for (b, ack) in sender.join().unwrap() {
            // New events, or replays of a batch made durable just before a kill whose answer
            // was lost: either way, every line answered.
            let answered = ack["accepted"].as_u64().unwrap() + ack["replays"].as_u64().unwrap();
            assert_eq!(answered, u64::from(per_batch), "{ack}");
            acknowledged.insert(b);
            next_batch = b + 1;
        }
    }
    // Send everything once more. An acknowledged batch must come back as replays only (were an
    // acknowledged event lost, it would be accepted again here); the others may be either.
    let writer = writer(&data);
    for b in 0..batches {
        let (status, ack) = feed(&writer, &batch_lines(b));
        assert_eq!(status, 200);
        if acknowledged.contains(&b) {
            assert_eq!(
                ack["accepted"].as_u64(),
                Some(0),
                "batch {b} was acknowledged: {ack}"
            );
        }
        assert_eq!(ack["rejected"].as_u64(), Some(0), "{ack}");
    }
    let total = u64::from(batches * per_batch);
    // Exactly once: the current snapshot's event ids and the log records after it hold each
    // event once (the writer may have compacted: events and seal notes both count).
    wait_sealed(&writer);
    let (_, status) = get(&writer, "/v1/status");
    drop(writer);
    let snapshot = permitd::writer::open_current(&data).unwrap().unwrap();
    let covered = snapshot.header().sequence;
    let mut ids: std::collections::HashSet<u128> = snapshot.event_ids().collect();
    let mut events = ids.len() as u64;
    let mut seals = 0u64;
    let log = data.join(permitd::writer::LOG_DIR);
    let mut reader = permitd::changelog::LogReader::open(&log, covered).unwrap();
    let mut records = Vec::new();
    let mut last = covered;
    while reader.read_available(4096, &mut records).unwrap() > 0 {
        for record in records.drain(..) {
            last = record.seq;
            match permitd::writer::Record::decode(&record).unwrap() {
                permitd::writer::Record::Event(entry) => {
                    events += 1;
                    let id = permitd::registry::event_id_hash(&entry.event.id);
                    assert!(ids.insert(id), "{} twice", entry.event.id);
                }
                permitd::writer::Record::Sealed(_) => seals += 1,
            }
        }
    }
    assert_eq!(events, total);
    assert_eq!(status["sequence"].as_u64(), Some(last), "{status}");
    eprintln!(
        "crash harness: {cycles} kills, {} of {batches} batches acknowledged before a kill, \
         {total} events checked, each once (snapshot through {covered}, then the log with \
         {seals} seal notes)",
        acknowledged.len()
    );
    // And a resolver started now sees every permit.
    let resolver = resolver(&data);
    for b in [0, batches / 2, batches - 1] {
        let number = restaurant_number(1 + b * per_batch);
        eventually(
            || permit(&resolver, &number)["number"] == number.as_str(),
            "a permit",
        );
    }
}

#[test]
fn a_resolver_restarted_mid_stream_catches_up_with_every_event() {
    // The feed keeps flowing while the resolver is killed and started again; each time it comes
    // back it serves the snapshot plus the whole log, and at the end it counts every permit.
    let cycles: usize = std::env::var("PERMITD_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let writer = writer(&data);
    let addr = writer.addr.clone();
    let per_batch = 100u32;
    let batches = 20 * cycles as u32;
    let sender = std::thread::spawn(move || {
        for b in 0..batches {
            let lines: Vec<String> = (0..per_batch)
                .map(|i| issue_line(&format!("r-{b}-{i}"), 1 + b * per_batch + i, "2030-12-31").1)
                .collect();
            let (status, ack) = post_feed(&addr, &lines).unwrap();
            assert_eq!(status, 200, "{ack}");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    for _ in 0..cycles {
        let resolver = resolver(&data);
        std::thread::sleep(Duration::from_millis(60));
        resolver.kill9();
    }
    sender.join().unwrap();
    let total = u64::from(batches * per_batch);
    let resolver = resolver(&data);
    eventually(
        || get(&resolver, "/v1/aggregates").1["total"].as_u64() == Some(total),
        "every permit counted",
    );
    // The library's pull sees every permit once, in sequence order, across pages.
    let mut cursor = 0u64;
    let mut seen = 0u64;
    loop {
        let mut response = agent()
            .get(&format!(
                "http://{}/v1/changes?after={cursor}&limit=500",
                resolver.addr
            ))
            .call()
            .unwrap();
        let next: u64 = response.headers()["next-cursor"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        let mut last = cursor;
        for line in body.lines() {
            let item: Value = serde_json::from_str(line).unwrap();
            let at = item["cursor"].as_u64().unwrap();
            assert!(at > last, "cursors increase: {at} after {last}");
            assert_eq!(item["ZZMC"], "综合许可凭证");
            last = at;
            seen += 1;
        }
        assert_eq!(next, last);
        if next == cursor {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen, total);
    drop(writer);
}

#[test]
fn keys_rotate_without_breaking_printed_codes() {
    // The writer restarted with a new key: both keys are published, old codes still scan as
    // genuine, new attestations name the new key, and offline verification accepts both.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = writer(&data);
    let resolver = resolver(&data);
    let (number, issue) = issue_line("r-1", 1, "2030-12-31");
    let (status, ack) = feed(&first, &[issue]);
    assert_eq!(status, 200, "{ack}");
    eventually(|| permit(&resolver, &number)["version"] == 1, "issued");
    wait_sealed(&first);
    let old_code = signed_scan_path(&data, &number);
    let kid_of = |jws: &str| {
        let header = data_encoding::BASE64URL_NOPAD
            .decode(jws.split('.').next().unwrap().as_bytes())
            .unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let old_kid = kid_of(&attestation_of(&resolver, &number));
    drop(first);

    let new_key = dir.path().join("new.key");
    let made = Command::new(env!("CARGO_BIN_EXE_permitd"))
        .args(["keys", "gen", "--out"])
        .arg(&new_key)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let second = Proc::start(
        &[
            "writer",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--signing-key",
            new_key.to_str().unwrap(),
        ],
        "admin listener on http://",
    );
    let renew = serde_json::json!({
        "schema": 1, "id": "r-2", "at": "2026-03-01T10:00:00+08:00", "department": "北京市房山区市场监督管理局",
        "kind": "licence_details_changed", "number": number, "licence_type": "L05",
        "valid_until": "2035-12-31", "on": "2026-03-01"
    })
    .to_string();
    let (status, ack) = feed(&second, &[renew]);
    assert_eq!(status, 200, "{ack}");
    eventually(
        || permit(&resolver, &number)["licences"][0]["valid_until"] == "2035-12-31",
        "the renewal",
    );

    // Both keys served (the resolver reloads the set when it changes).
    eventually(
        || {
            let (_, keys) = get(&resolver, "/.well-known/permitd-keys.json");
            keys["keys"].as_array().is_some_and(|k| k.len() == 2)
        },
        "two keys in the served set",
    );
    let (_, keys) = get(&resolver, "/.well-known/permitd-keys.json");
    let keys = permitd::trust::PublicKeySet::from_jwks(&keys.to_string()).unwrap();
    let jws = attestation_of(&resolver, &number);
    let new_kid = kid_of(&jws);
    assert_ne!(new_kid, old_kid, "the new key signs");
    permitd::trust::verify_jws(&jws, &keys, time::OffsetDateTime::now_utc()).unwrap();

    // Same version, same printed code: still genuine, still signed by the old key.
    wait_sealed(&second);
    assert_eq!(signed_scan_path(&data, &number), old_code);
    let (status, answer) = get(&resolver, &old_code);
    assert_eq!((status, state_of(&answer)), (200, "partial"), "{answer}");
    let public = data.join("keys").join("public.jwks");
    let verified = Command::new(env!("CARGO_BIN_EXE_permitd"))
        .args(["verify", "qr", &old_code, "--keys"])
        .arg(&public)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(verified.status.code(), Some(0), "{text}");
    assert!(text.contains(&old_kid), "{text}");
}

#[test]
fn a_snapshot_republished_at_the_same_sequence_is_installed() {
    // A compaction that only renews attestations publishes the same sequence under the same
    // file name (a new file renamed over it): the resolver installs it all the same.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (permits, _) = crate::support::generated_permits(20, 3);
    permitd::snapshot::publish(&data, &permits[..10], 5).unwrap();
    let resolver = resolver(&data);
    let later = permits[15].number.to_string();
    assert_eq!(get(&resolver, &format!("/v1/permits/{later}")).0, 404);
    permitd::snapshot::publish(&data, &permits, 5).unwrap();
    eventually(
        || get(&resolver, &format!("/v1/permits/{later}")).0 == 200,
        "the snapshot republished at sequence 5",
    );
}
