//! The `permitd` binary: identifier checks, gen → snapshot build → verify, and serve with a
//! SIGTERM drain.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_permitd");

fn permitd(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_number_exits_0_1_or_2() {
    // Valid → 0; invalid → 1 with the reason on stderr; usage error → 2.
    let valid = permitd(&["check", "number", "110111ZH0300042F"]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    let wrong = permitd(&["check", "number", "110111ZH0300042K"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("check character"),
        "{}",
        stderr(&wrong)
    );
    let short = permitd(&["check", "number", "110111ZH03"]);
    assert_eq!(short.status.code(), Some(1));
    assert_eq!(permitd(&["check", "number"]).status.code(), Some(2));
    assert_eq!(
        permitd(&["check", "frobnicate", "x"]).status.code(),
        Some(2)
    );
}

#[test]
fn check_uscc_tells_malformed_from_checksum_mismatch() {
    // GB 32100's worked example passes; a wrong check character is a mismatch, not "forged".
    assert_eq!(
        permitd(&["check", "uscc", "91350100M000100Y43"])
            .status
            .code(),
        Some(0)
    );
    let mismatch = permitd(&["check", "uscc", "91350100M000100Y44"]);
    assert_eq!(mismatch.status.code(), Some(1));
    let reason = stderr(&mismatch).to_lowercase();
    assert!(
        reason.contains("mismatch") && !reason.contains("forged"),
        "{reason}"
    );
    let malformed = permitd(&["check", "uscc", "91350100M000100YI3"]);
    assert_eq!(malformed.status.code(), Some(1));
    assert!(!stderr(&malformed).to_lowercase().contains("mismatch"));
}

fn gen_and_build(dir: &Path, permits: &str) {
    let feed = dir.join("feed.ndjson");
    let feed = feed.to_str().unwrap();
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let gen = permitd(&[
        "gen",
        "--permits",
        permits,
        "--seed",
        "3",
        "--as-of",
        "2026-06-15",
        "--out",
        feed,
    ]);
    assert!(gen.status.success(), "{}", stderr(&gen));
    let build = permitd(&["snapshot", "build", "--input", feed, "--data", data]);
    assert!(build.status.success(), "{}", stderr(&build));
    assert!(stderr(&build).contains("0 rejected"), "{}", stderr(&build));
}

#[test]
fn gen_is_deterministic_and_builds_a_verifiable_snapshot() {
    // Same seed → same bytes; the snapshot CURRENT names verifies; a flipped byte fails verify.
    let dir = tempfile::tempdir().unwrap();
    gen_and_build(dir.path(), "2000");
    let again = dir.path().join("again.ndjson");
    let gen = permitd(&[
        "gen",
        "--permits",
        "2000",
        "--seed",
        "3",
        "--as-of",
        "2026-06-15",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(gen.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("feed.ndjson")).unwrap(),
        std::fs::read(&again).unwrap()
    );

    let data = dir.path().join("data");
    let verify = permitd(&["snapshot", "verify", "--data", data.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    // snapshot build sealed every permit with the key it created in DIR/keys.
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(said.contains("seals: 2000 of 2000 permits"), "{said}");
    assert!(data.join("keys").join("signing.key").is_file());
    assert!(data.join("keys").join("public.jwks").is_file());
    let inspect = permitd(&["snapshot", "inspect", "--data", data.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("permits: 2000"));

    let current = permitd::snapshot::current_path(&data).unwrap();
    let mut bytes = std::fs::read(&current).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&current, &bytes).unwrap();
    let verify = permitd(&["snapshot", "verify", "--data", data.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(stderr(&verify).contains("checksum"), "{}", stderr(&verify));
}

#[test]
fn serve_answers_then_drains_and_exits_0_on_sigterm() {
    // The real binary: listens, becomes ready, answers, and exits 0 soon after SIGTERM.
    let dir = tempfile::tempdir().unwrap();
    gen_and_build(dir.path(), "500");
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(Some(child.id()));
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    let mut ready = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains("ready") {
            ready = true;
            break;
        }
    }
    let addr = addr.expect("the server prints its address");
    assert!(ready);
    std::thread::spawn(move || lines.for_each(drop));
    let answer = crate::support::get(&format!("http://{addr}/readyz"), None);
    assert_eq!(answer.status, 200);
    let answer = crate::support::get(&format!("http://{addr}/v1/industries/11"), None);
    assert_eq!(answer.json()["name"], "宾馆");

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "permitd did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    guard.0 = None;
    assert_eq!(status.code(), Some(0));
}

/// Kills a child process if the test fails before it exits, so no server outlives its test.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}
