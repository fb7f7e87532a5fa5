//! The citizen page in a real browser: headless Chromium, phone-sized, loads `/q/…` from a real
//! server the way a phone camera opens a QR code, and we read what a person would see.
//!
//! Chromium sends `Accept: text/html…` only for navigations, which is what makes the resolver
//! answer the page. Each page's rendered DOM (`--dump-dom`) is checked for the banner's words, the
//! operator, each licence with its department and remedies; a screenshot of the first screen is
//! kept under `target/test-artefacts/citizen-page/{valid,void,forged}.png` for people to look at.
//!
//! Needs the Debian packages `chromium` and a CJK font (`fonts-wqy-microhei`; `scripts/test.sh`
//! installs both). Without them these tests fail, they do not skip.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use data_encoding::BASE32_NOPAD;
use permitd::catalog::Catalog;
use permitd::domain::{DerivedState, Permit, VoidReason};

use crate::support::{as_of, get, TestServer};

const CHROMIUM: &str = "/usr/bin/chromium";
/// A common large Android phone, in CSS pixels.
const WINDOW: (u32, u32) = (412, 915);
/// A hung browser fails the test instead of hanging it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);
/// A screenshot of a blank or failed page is a few KB; one of the page is far more.
const SCREENSHOT_BYTES_MIN: u64 = 20_000;
const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// The banner of every page that cannot vouch for a permit.
const UNVERIFIED: &str = "无法验证";

/// Runs headless Chromium on `url` with `extra` arguments in a fresh profile and returns its
/// standard output. Panics (fails the test) when Chromium is missing, fails or times out.
fn chromium(url: &str, extra: &[String]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the citizen page tests need a real browser; \
         run `apt-get install chromium` (scripts/test.sh does)"
    );
    let profile = tempfile::tempdir().unwrap();
    let stdout_path = profile.path().join("stdout");
    let stderr_path = profile.path().join("stderr");
    let mut command = Command::new(CHROMIUM);
    command
        .arg("--headless")
        .arg("--disable-gpu")
        .arg("--no-first-run")
        .arg("--no-default-browser-check")
        .arg("--disable-extensions")
        .arg("--disable-background-networking")
        .arg("--disable-sync")
        .arg("--hide-scrollbars")
        .arg("--lang=zh-CN")
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ));
    // Chromium refuses to start its sandbox as root (containers, CI).
    if fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        command.arg("--no-sandbox");
    }
    command
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap())
        // Its own process group, so a timeout can stop the renderers too.
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("{CHROMIUM} could not be started: run `apt-get install chromium`")
        }
        Err(e) => panic!("{CHROMIUM} could not be started: {e}"),
    };
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            panic!(
                "chromium did not finish {url} within {BROWSER_TIMEOUT:?}; stderr:\n{}",
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium failed on {url}: {status}; stderr:\n{}",
        fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    fs::read_to_string(&stdout_path).unwrap()
}

/// The DOM after Chromium loaded and rendered `url`.
fn rendered_dom(url: &str) -> String {
    let dom = chromium(url, &["--dump-dom".to_owned()]);
    assert!(
        dom.contains("</html>"),
        "chromium printed no document for {url}: {dom:?}"
    );
    dom
}

/// Where screenshots are kept: `target/test-artefacts/citizen-page/`.
fn artefact_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artefacts/citizen-page");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the first screen of `url` as `{name}.png` and checks it is a PNG of the
/// window's size that is not blank-small.
fn screenshot(url: &str, name: &str) -> PathBuf {
    let path = artefact_dir().join(format!("{name}.png"));
    let _ = fs::remove_file(&path);
    chromium(url, &[format!("--screenshot={}", path.display())]);
    let bytes = fs::read(&path)
        .unwrap_or_else(|e| panic!("chromium wrote no screenshot {}: {e}", path.display()));
    assert_eq!(&bytes[..8], PNG_SIGNATURE, "{} is a PNG", path.display());
    // IHDR: width and height, big-endian, right after the signature and the chunk header.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!(
        (width, height),
        WINDOW,
        "{} has the window's size",
        path.display()
    );
    assert!(
        bytes.len() as u64 >= SCREENSHOT_BYTES_MIN,
        "{} is {} bytes: a blank page?",
        path.display(),
        bytes.len()
    );
    path
}

/// The text a person reads in `html`: tags dropped, the entities the page uses decoded,
/// whitespace collapsed.
fn visible_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    // The stylesheet is not read by anyone.
    if let (Some(start), Some(end)) = (rest.find("<style>"), rest.find("</style>")) {
        text.push_str(&visible_text(&rest[..start]));
        rest = &rest[end + "</style>".len()..];
    }
    let mut in_tag = false;
    for c in rest.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The outer HTML of the first element whose opening tag contains `marker`, up to its closing
/// `</tag>` (the page does not nest an element in one of its own kind).
fn element<'a>(dom: &'a str, marker: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("the page has an element with {marker}"));
    let start = dom[..at].rfind('<').unwrap();
    let tag: String = dom[start + 1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let close = format!("</{tag}>");
    let end = dom[start..].find(&close).unwrap() + start + close.len();
    &dom[start..end]
}

/// Every licence element, in page order.
fn licence_elements(dom: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = dom[from..].find("class=\"licence") {
        let piece = element(&dom[from..], "class=\"licence");
        out.push(piece);
        from += at + "class=\"licence".len();
    }
    out
}

/// The banner's hook and words.
fn banner(dom: &str) -> (String, String) {
    let header = element(dom, "id=\"state\"");
    let open = &header[..header.find('>').unwrap()];
    let code = open
        .split("data-state=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("the banner has data-state: {open}"))
        .to_owned();
    (code, visible_text(header))
}

/// Checks every licence of `permit` appears, in order, with its name, department, state and
/// remedies naming the department.
fn check_licences(dom: &str, permit: &Permit, catalog: &Catalog) {
    let elements = licence_elements(dom);
    assert_eq!(
        elements.len(),
        permit.licences.len(),
        "one element per licence"
    );
    for (element, licence) in elements.iter().zip(&permit.licences) {
        let kind = catalog.licence_type(licence.licence_type).unwrap();
        let state = licence.effective_state(as_of());
        let text = visible_text(element);
        assert!(
            element.contains(&format!("data-state=\"{}\"", state.code())),
            "{element}"
        );
        for shown in [
            kind.name.as_str(),
            kind.department.as_str(),
            state.label_zh(),
        ] {
            assert!(text.contains(shown), "{shown} in {text}");
        }
        if let Some(number) = &licence.certificate_number {
            assert!(text.contains(number.as_str()), "{number} in {text}");
        }
        if let Some(until) = licence.valid_until {
            assert!(text.contains(&until.to_string()), "{until} in {text}");
        }
        assert!(
            text.contains(&format!("救济方式：本项由 {} 审批并负责", kind.department)),
            "remedies name the approving department: {text}"
        );
        assert!(
            text.contains("行政复议") && text.contains("行政诉讼"),
            "{text}"
        );
    }
}

/// Checks the page loads nothing from anywhere.
fn check_self_contained(dom: &str) {
    for asset in [
        "<script", "<link", "<img", "src=", "href=", "url(", "@import",
    ] {
        assert!(!dom.contains(asset), "the page has no {asset}");
    }
}

#[test]
fn a_printed_signed_code_scanned_in_chromium_says_valid_and_genuine() {
    // The URL exactly as printed (HTTP://HOST/Q/<payload>, upper case): 有效, and the
    // anti-counterfeit check under the banner; the screenshot is kept as signed.png.
    let server = TestServer::start(200);
    let permit = server.find("valid");
    let text = permit.seal.as_ref().and_then(|s| s.qr.as_ref()).unwrap();
    let printed = permitd::trust::seal::stored_payload(text)
        .unwrap()
        .to_url(&format!("http://{}", server.addr));
    let dom = rendered_dom(&printed);
    let (code, words) = banner(&dom);
    assert_eq!(code, "valid", "{words}");
    let shown = visible_text(&dom);
    assert!(shown.contains("防伪核验"), "{shown}");
    let kid = crate::support::test_key().kid().to_string();
    assert!(shown.contains(&kid), "key {kid} named: {shown}");
    assert!(shown.contains(permit.operator_name.as_str()));
    screenshot(&printed, "signed");
}

#[test]
fn a_valid_permit_scanned_in_chromium_says_valid_and_lists_every_licence() {
    // A phone browser opening /q/{number} of a valid permit shows 有效, the face and each licence
    // with its department and remedies; the screenshot is kept as valid.png.
    let server = TestServer::start(500);
    let catalog = Catalog::embedded().unwrap();
    let permit = server.find("valid");
    let url = server.url(&format!("/q/{}", permit.number));
    let dom = rendered_dom(&url);
    let (code, words) = banner(&dom);
    assert_eq!(code, "valid");
    assert!(words.contains("有效"), "{words}");
    assert!(
        !words.contains("作废") && !words.contains(UNVERIFIED),
        "{words}"
    );
    let text = visible_text(&dom);
    for shown in [
        permit.operator_name.as_str(),
        permit.premises.as_str(),
        permit.uscc.as_str(),
        permit.number.as_str(),
        permit.issuing_authority.as_str(),
    ] {
        assert!(text.contains(shown), "{shown} on the page");
    }
    assert!(text.contains(&format!("第{}版", permit.version)));
    check_licences(&dom, permit, &catalog);
    assert!(
        !dom.contains("id=\"void\""),
        "no void notice on a valid permit"
    );
    check_self_contained(&dom);
    screenshot(&url, "valid");
}

#[test]
fn a_void_permit_scanned_in_chromium_says_void_and_which_licence_voided_it() {
    // A permit voided by a licence shows 已作废 and names that licence and its state, up front;
    // the screenshot is kept as void.png.
    let server = TestServer::start(500);
    let catalog = Catalog::embedded().unwrap();
    let (permit, licence_type, state) = server
        .permits
        .iter()
        .find_map(|p| match p.derived_state(None, as_of()) {
            DerivedState::Void(VoidReason::Licence {
                licence_type,
                state,
                ..
            }) => Some((p, licence_type, state)),
            _ => None,
        })
        .expect("the data set has a permit voided by a licence");
    let cause = catalog.licence_type(licence_type).unwrap();
    let url = server.url(&format!("/q/{}", permit.number));
    let dom = rendered_dom(&url);
    let (code, words) = banner(&dom);
    assert_eq!(code, "void");
    assert!(words.contains("已作废"), "{words}");
    assert!(
        words.contains(&cause.name),
        "the banner names {}: {words}",
        cause.name
    );
    let notice = visible_text(element(&dom, "id=\"void\""));
    for shown in [
        cause.name.as_str(),
        state.label_zh(),
        cause.department.as_str(),
    ] {
        assert!(
            notice.contains(shown),
            "{shown} in the void notice: {notice}"
        );
    }
    assert!(
        dom.find("id=\"void\"") < dom.find("class=\"licence"),
        "the reason comes before the list"
    );
    let causes: Vec<_> = licence_elements(&dom)
        .into_iter()
        .filter(|e| e.contains("licence cause"))
        .collect();
    assert_eq!(causes.len(), 1, "one licence is marked as the cause");
    assert!(causes[0].contains(&cause.name));
    assert!(visible_text(&dom).contains(permit.operator_name.as_str()));
    check_licences(&dom, permit, &catalog);
    check_self_contained(&dom);
    screenshot(&url, "void");
}

/// A forgery of a real permit's printed code: the genuine signed payload of `permit` with one
/// licensed item added to its bitmap (what a forger wants), the signature left as it was.
fn forged_payload(permit: &permitd::domain::Permit) -> String {
    let text = permit
        .seal
        .as_ref()
        .and_then(|s| s.qr.as_ref())
        .expect("test servers seal every permit");
    let mut bytes = permitd::trust::seal::stored_payload(text)
        .expect("a stored payload parses")
        .to_bytes();
    bytes[23] ^= 0b100; // licensed items: one more type
    let payload = BASE32_NOPAD.encode(&bytes);
    assert_eq!(payload.len(), 186);
    payload
}

#[test]
fn a_forged_code_scanned_in_chromium_says_it_cannot_be_verified() {
    // A real permit's printed code with an item added is refused as forged: the page says
    // 无法验证 and shows no permit; the screenshot is kept as forged.png.
    let server = TestServer::start(100);
    let victim = server.find("valid");
    let url = server.url(&format!("/Q/{}", forged_payload(victim)));
    let answer = get(&url, None);
    assert_eq!(
        (answer.status, answer.error_code()),
        (400, "forged_qr".to_owned()),
        "{}",
        answer.body
    );
    let dom = rendered_dom(&url);
    let (code, words) = banner(&dom);
    assert_eq!(code, "error");
    assert!(words.contains(UNVERIFIED), "{words}");
    assert!(!words.contains("有效"), "{words}");
    assert!(licence_elements(&dom).is_empty(), "no licence is shown");
    let text = visible_text(&dom);
    assert!(
        server
            .permits
            .iter()
            .all(|p| !text.contains(p.operator_name.as_str())),
        "no operator is shown"
    );
    check_self_contained(&dom);
    screenshot(&url, "forged");
}

#[test]
fn a_cjk_font_is_installed_for_the_screenshots() {
    // Without a Chinese font Chromium draws boxes (tofu) and the screenshots show nothing useful.
    let output = match Command::new("fc-list")
        .arg(":lang=zh")
        .arg("family")
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!("fc-list could not be run ({e}): run `apt-get install fontconfig`"),
    };
    let families = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && !families.trim().is_empty(),
        "no font covers Chinese: run `apt-get install fonts-wqy-microhei` (scripts/test.sh does)"
    );
}
