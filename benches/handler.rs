//! One full request → response in process, no socket: `Resolver::respond` over a verified
//! in-memory snapshot (`snapshot::build::to_bytes` → `SnapshotFile::from_bytes(..).verify()`),
//! with the body consumed by polling it once with a no-op waker. Routes: QR scan by permit number
//! (JSON and the HTML page), QR scan by token, the JSON lookup, a malformed number (400), an
//! unknown number (404) and an industry guide. Baseline, in the same run: the floor, a minimal
//! `Response::new(Full::new(Bytes::from_static(b"ok")))` consumed the same way; each route is
//! printed as a multiple of it.
//!
//! The binary counts heap allocations with a counting `#[global_allocator]` around
//! `std::alloc::System` (one relaxed atomic add per allocation, in every benchmark alike, the
//! floor included), and prints allocations and bytes allocated per request for each route.
//!
//! The resolver's clock is fixed to today in Beijing, the date `to_bytes` renders any
//! pre-rendered answers for, so the JSON routes take the path production takes today.
//! `permit_json_rendered` asks the same on a resolver whose clock is a day earlier, where no
//! pre-rendered answer holds, so the answer is rendered per request.
//!
//! The overlay (permits changed since the snapshot, which the resolver consults first): a third
//! resolver holds half the sampled permits in its overlay, as the log follower puts them there;
//! `permit_json_overlay_hit` asks for those, `permit_json_overlay_miss` for the other half (a
//! non-empty overlay is looked at, then the snapshot answers). Their ratio to `permit_json`
//! (empty overlay) is printed.
//!
//! The data set is sealed as `snapshot build` seals it (`Sealer::renew_all` with a fixed key:
//! every permit carries its signed city-code QR payload and a pre-signed attestation), and the
//! sealed routes run over the same random permits in the same order as the plain lookup
//! `permit_json` (`/v1/permits/{number}`), each printed as a ratio to it and to
//! `qr_number_json` (`/q/{number}`): `qr_signed_upper` (`/Q/{payload}` as printed, upper case),
//! `qr_signed_lower` (`/q/{payload}` all in lower case), `attestation`
//! (`/v1/permits/{number}/attestation`) and `qr_signed_forged_400` (one signature byte flipped:
//! 400 `forged_qr`). Setup checks that a genuine signed scan answers the very bytes the lookup
//! does (the pre-rendered answer) and the attestation the stored JWS. The group `signed_parts`
//! times the steps of a signed scan (reading number and version from 16 characters, the
//! lookup and the comparison with the stored text) next to the lookup itself, and the full
//! decode a refused scan pays, to show where a signed scan's extra time goes.
//!
//! `PERMITD_BENCH_PERMITS` sets the data set size (default 100,000).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{criterion_group, Criterion};
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::{Method, Response, StatusCode};
use rkyv::util::AlignedVec;

use permitd::catalog::Catalog;
use permitd::codes::PermitNumber;
use permitd::domain::{Date, Permit};
use permitd::server::overlay::OverlayEntry;
use permitd::server::resolver::Clock;
use permitd::server::Resolver;
use permitd::snapshot::{self, SnapshotFile};
use permitd::trust::keys::SigningKey;
use permitd::trust::payload::{SignedQr, PAYLOAD_BYTES, PAYLOAD_CHARS};
use permitd::trust::seal::{payload_head, Sealer};

use common::Estimates;

const DEFAULT_PERMITS: u64 = 100_000;
/// Distinct permits the permit routes rotate over.
const KEYS: usize = 1 << 12;
/// Requests per route in the allocation count.
const COUNTED_REQUESTS: u64 = 4096;
/// The seed of the key the bench's permits are sealed with (reproducible payloads).
const SEAL_KEY_SEED: [u8; 32] = [11; 32];
/// The scheme and host the QR codes print (`SignedQr::to_url`).
const PUBLIC_URL: &str = "https://zwfw.bjfsh.gov.cn";
/// The routes printed as ratios to the plain lookup, and whether each is a signed scan (also
/// compared with `qr_number_json`).
const SEALED_ROUTES: [(&str, bool); 5] = [
    ("qr_number_json", false),
    ("qr_signed_upper", true),
    ("qr_signed_lower", true),
    ("attestation", false),
    ("qr_signed_forged_400", true),
];

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);

/// `System`, counting every allocation (and reallocation) and the bytes asked for.
struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's obligations for `alloc` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn count(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    ALLOCATED_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Consumes a response the cheap synchronous way: `Full` yields its one data frame on the first
/// poll, so a no-op waker is all it needs. Returns status and body length.
fn consume(response: Response<Full<Bytes>>) -> (StatusCode, usize) {
    let status = response.status();
    let mut body = response.into_body();
    let mut context = Context::from_waker(Waker::noop());
    let mut length = 0;
    while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut context) {
        let Ok(frame) = frame;
        if let Ok(data) = frame.into_data() {
            length += black_box(data).len();
        }
    }
    (status, length)
}

/// The whole body of a response, for the checks made before timing.
fn body_of(response: Response<Full<Bytes>>) -> (StatusCode, Vec<u8>) {
    let status = response.status();
    let mut body = response.into_body();
    let mut context = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut context) {
        let Ok(frame) = frame;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
        }
    }
    (status, out)
}

/// The stored signed QR payload of a sealed permit (stored as text; decoded here).
fn stored_qr(permit: &Permit) -> [u8; PAYLOAD_BYTES] {
    permit
        .seal
        .as_ref()
        .and_then(|s| s.qr.as_ref())
        .and_then(permitd::trust::seal::stored_payload)
        .unwrap_or_else(|| panic!("permit {} is sealed with a QR payload", permit.number))
        .to_bytes()
}

/// The path a phone opens for `qr` as printed: the URL `SignedQr::to_url` makes (scheme and
/// host upper case, then `/Q/` and the upper-case base32 payload), without scheme and host.
fn printed_path(qr: &[u8; PAYLOAD_BYTES]) -> String {
    let url = SignedQr::parse(qr)
        .expect("a stored payload parses")
        .to_url(PUBLIC_URL);
    let authority = url.find("://").expect("a scheme") + 3;
    let path = &url[authority + url[authority..].find('/').expect("a path")..];
    assert_eq!(path.len(), 3 + PAYLOAD_CHARS, "{path}");
    assert!(path.starts_with("/Q/"), "{path}");
    path.to_owned()
}

/// `qr` with one signature byte flipped: well formed, but not the payload the writer signed.
fn forged(qr: &[u8; PAYLOAD_BYTES]) -> [u8; PAYLOAD_BYTES] {
    let mut forged = *qr;
    forged[PAYLOAD_BYTES - 1] ^= 0x01;
    forged
}

fn floor() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(b"ok")))
}

/// One benched route: the requests it rotates over and the status every one must get.
struct Route {
    id: &'static str,
    /// 0 for the resolver on today's clock, 1 for the one a day earlier, 2 for the one with an
    /// overlay.
    resolver: usize,
    paths: Vec<String>,
    accept: Option<&'static [u8]>,
    status: StatusCode,
}

struct Setup {
    resolvers: [Resolver<AlignedVec>; 3],
    routes: Vec<Route>,
    /// The sampled permits' stored QR payloads, in the routes' order.
    payloads: Vec<[u8; PAYLOAD_BYTES]>,
    /// Their printed paths (`/Q/…`), in the same order.
    printed: Vec<String>,
    numbers: Vec<PermitNumber>,
}

const ACCEPT_ANY: Option<&[u8]> = Some(b"*/*");
/// What a phone browser sends after scanning.
const ACCEPT_HTML: Option<&[u8]> =
    Some(b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

fn resolver(bytes: AlignedVec, today: Date) -> Resolver<AlignedVec> {
    let snapshot = SnapshotFile::from_bytes(bytes).unwrap().verify().unwrap();
    let resolver = Resolver::new(Catalog::embedded().unwrap(), Clock::Fixed(today));
    resolver.install(snapshot);
    resolver
}

/// Well-formed numbers of the sampled permits' divisions and categories that no permit has.
fn unknown_numbers(sample: &[&Permit], permits: &[Permit]) -> Vec<PermitNumber> {
    let mut keys: Vec<u64> = permits.iter().map(|p| p.number.key()).collect();
    keys.sort_unstable();
    sample
        .iter()
        .filter_map(|p| {
            let n = p.number;
            (1..=99_999u32)
                .rev()
                .filter_map(|s| PermitNumber::new(n.division(), n.category(), s).ok())
                .find(|u| keys.binary_search(&u.key()).is_err())
        })
        .collect()
}

/// The number with a wrong check character: the classic typo, 400 `malformed_number`.
fn mistyped(number: &PermitNumber) -> String {
    let mut text = number.as_str().to_owned();
    let wrong = if text.ends_with('A') { "B" } else { "A" };
    text.replace_range(15..16, wrong);
    text
}

fn setup() -> Setup {
    let count = common::permits_wanted(DEFAULT_PERMITS);
    eprintln!("handler bench: generating and folding {count} permits");
    let common::Folded {
        mut permits,
        sequence,
    } = common::folded(count);
    eprintln!("handler bench: sealing {count} permits");
    let sealer = Sealer::new(SigningKey::from_seed(&SEAL_KEY_SEED));
    let sealed = sealer.renew_all(&mut permits, time::OffsetDateTime::now_utc());
    assert_eq!(sealed, permits.len(), "every permit is sealed");
    let bytes = snapshot::build::to_bytes(&permits, sequence).unwrap();
    let today = Date::today_in_beijing();
    let copy = |bytes: &AlignedVec| {
        let mut copy = AlignedVec::with_capacity(bytes.len());
        copy.extend_from_slice(bytes);
        copy
    };
    let (earlier, overlaid) = (copy(&bytes), copy(&bytes));
    let resolvers = [
        resolver(bytes, today),
        resolver(earlier, today.add_days(-1)),
        resolver(overlaid, today),
    ];

    let sample = common::sample(&permits, KEYS);
    // Half the sample changed since the snapshot: in the third resolver's overlay.
    for (i, permit) in sample[..KEYS / 2].iter().enumerate() {
        let mut changed = (*permit).clone();
        changed.sequence = sequence + 1 + i as u64;
        let token = permitd::qr::Token::for_version(&changed.number, changed.version);
        let entry = OverlayEntry::new(&changed, resolvers[2].catalog(), today);
        resolvers[2]
            .overlay()
            .insert(changed.number.key(), token, entry);
    }
    let numbers = common::numbers(&sample);
    let tokens = common::tokens(&sample);
    let payloads: Vec<[u8; PAYLOAD_BYTES]> = sample.iter().map(|p| stored_qr(p)).collect();
    let printed: Vec<String> = payloads.iter().map(printed_path).collect();
    let unknown = unknown_numbers(&sample, &permits);
    let each = |f: &dyn Fn(usize) -> String| (0..KEYS).map(f).collect::<Vec<_>>();
    let route = |id, resolver, paths, accept, status| Route {
        id,
        resolver,
        paths,
        accept,
        status,
    };
    // The plain lookups and the sealed routes first and together (criterion runs them in this
    // order), so their ratios are measured as close in time as can be.
    let routes = vec![
        route(
            "qr_number_json",
            0,
            each(&|i| format!("/q/{}", numbers[i])),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "permit_json",
            0,
            each(&|i| format!("/v1/permits/{}", numbers[i])),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "qr_signed_upper",
            0,
            printed.clone(),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "qr_signed_lower",
            0,
            printed.iter().map(|p| p.to_ascii_lowercase()).collect(),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "attestation",
            0,
            each(&|i| format!("/v1/permits/{}/attestation", numbers[i])),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "qr_signed_forged_400",
            0,
            payloads.iter().map(|q| printed_path(&forged(q))).collect(),
            ACCEPT_ANY,
            StatusCode::BAD_REQUEST,
        ),
        route(
            "qr_number_html",
            0,
            each(&|i| format!("/q/{}", numbers[i])),
            ACCEPT_HTML,
            StatusCode::OK,
        ),
        route(
            "qr_token_json",
            0,
            each(&|i| format!("/q/{}", tokens[i].encode())),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "permit_json_overlay_hit",
            2,
            each(&|i| format!("/v1/permits/{}", numbers[i % (KEYS / 2)])),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "permit_json_overlay_miss",
            2,
            each(&|i| format!("/v1/permits/{}", numbers[KEYS / 2 + i % (KEYS / 2)])),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "permit_json_rendered",
            1,
            each(&|i| format!("/v1/permits/{}", numbers[i])),
            ACCEPT_ANY,
            StatusCode::OK,
        ),
        route(
            "malformed_number_400",
            0,
            each(&|i| format!("/v1/permits/{}", mistyped(&numbers[i]))),
            ACCEPT_ANY,
            StatusCode::BAD_REQUEST,
        ),
        route(
            "unknown_number_404",
            0,
            unknown.iter().map(|n| format!("/v1/permits/{n}")).collect(),
            ACCEPT_ANY,
            StatusCode::NOT_FOUND,
        ),
        route(
            "industry_03",
            0,
            vec!["/v1/industries/03".to_owned()],
            ACCEPT_ANY,
            StatusCode::OK,
        ),
    ];
    let setup = Setup {
        resolvers,
        routes,
        payloads,
        printed,
        numbers,
    };
    // Every request of every route answers as expected before anything is timed.
    for route in &setup.routes {
        assert!(!route.paths.is_empty(), "{} has requests", route.id);
        for path in &route.paths {
            let resolver = &setup.resolvers[route.resolver];
            let (status, length) = consume(resolver.respond(&Method::GET, path, route.accept));
            assert_eq!(status, route.status, "{} {path}", route.id);
            assert!(length > 0, "{} {path} has a body", route.id);
        }
    }
    // The sealed routes answer what they stand for: a genuine signed scan (either case) the
    // lookup's bytes, the attestation the stored JWS, a forged scan `forged_qr`.
    let answer = |id: &str, i: usize| {
        let route = setup.routes.iter().find(|r| r.id == id).expect("a route");
        let path = route.paths[i].as_str();
        body_of(setup.resolvers[route.resolver].respond(&Method::GET, path, route.accept)).1
    };
    for (i, permit) in sample.iter().enumerate() {
        let lookup = answer("permit_json", i);
        assert_eq!(answer("qr_signed_upper", i), lookup, "{}", permit.number);
        assert_eq!(answer("qr_signed_lower", i), lookup, "{}", permit.number);
        assert_eq!(answer("qr_number_json", i), lookup, "{}", permit.number);
        let jws = &permit.seal.as_ref().expect("sealed").attestation;
        assert_eq!(
            answer("attestation", i),
            jws.as_bytes(),
            "{}",
            permit.number
        );
        let forged = String::from_utf8(answer("qr_signed_forged_400", i)).expect("JSON");
        assert!(
            forged.contains("\"forged_qr\""),
            "{}: {forged}",
            permit.number
        );
    }
    setup
}

/// Mean allocations and bytes allocated per request.
struct Allocations {
    id: &'static str,
    per_request: f64,
    bytes_per_request: f64,
}

fn count_allocations(id: &'static str, mut request: impl FnMut(u64)) -> Allocations {
    let (before, bytes_before) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED_BYTES.load(Ordering::Relaxed),
    );
    for i in 0..COUNTED_REQUESTS {
        request(i);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let bytes = ALLOCATED_BYTES.load(Ordering::Relaxed) - bytes_before;
    Allocations {
        id,
        per_request: allocations as f64 / COUNTED_REQUESTS as f64,
        bytes_per_request: bytes as f64 / COUNTED_REQUESTS as f64,
    }
}

fn handler(c: &mut Criterion) {
    let setup = setup();
    let method = Method::GET;
    paired_report(&setup);

    let mut group = c.benchmark_group("handler");
    group.bench_function("floor", |b| b.iter(|| consume(black_box(floor()))));
    for route in &setup.routes {
        let resolver = &setup.resolvers[route.resolver];
        let mut i = 0usize;
        group.bench_function(route.id, |b| {
            b.iter(|| {
                i = (i + 1) % route.paths.len();
                let path = black_box(route.paths[i].as_str());
                consume(resolver.respond(&method, path, black_box(route.accept)))
            })
        });
    }
    // The same QR scan through the counting entry point the server uses: the cost of metrics.
    if let Some(route) = setup.routes.iter().find(|r| r.id == "qr_number_json") {
        let resolver = &setup.resolvers[route.resolver];
        let counters = resolver.metrics().register_thread();
        let mut i = 0usize;
        group.bench_function("qr_number_json_counted", |b| {
            b.iter(|| {
                i = (i + 1) % route.paths.len();
                let path = black_box(route.paths[i].as_str());
                consume(resolver.respond_counted(&counters, &method, path, black_box(route.accept)))
            })
        });
    }
    group.finish();
    signed_parts(c, &setup);

    // Counted after timing, on the same requests; nothing else allocates meanwhile (criterion
    // runs on this thread, and the verification threads are done).
    let mut counts = vec![count_allocations("floor", |_| {
        black_box(consume(black_box(floor())));
    })];
    for route in &setup.routes {
        let resolver = &setup.resolvers[route.resolver];
        counts.push(count_allocations(route.id, |i| {
            let path = route.paths[i as usize % route.paths.len()].as_str();
            black_box(consume(resolver.respond(&method, path, route.accept)));
        }));
    }
    ALLOCATION_REPORT.set(counts).ok();
}

/// The steps of a signed scan before its answer, one at a time over the same permits in the same
/// order as the routes: what a genuine scan decodes (`payload_head`: number and version from 16
/// characters), the lookup plus the comparison with the stored text, alone and with the
/// pre-rendered answer copied out (against the lookup and copy alone: the cost of reaching the
/// record's stored payload when the answers share the cache), and the full decode a refused
/// scan pays (`SignedQr::decode_text`) to say why.
fn signed_parts(c: &mut Criterion, setup: &Setup) {
    let snapshot = setup.resolvers[0].snapshot().expect("installed");
    let n = setup.payloads.len();
    let text = |i: usize| &setup.printed[i].as_bytes()[3..];
    // What `signed_scan` does before answering: head, lookup, comparison.
    let find_and_compare = |i: usize| {
        let scanned = black_box(text(i));
        let (key, version) = payload_head(scanned).expect("a genuine head");
        let location = snapshot.locate_key(key).expect("on record");
        let permit = snapshot.record(location).expect("a record");
        let stored = permit.seal.as_ref().and_then(|s| s.qr.as_ref());
        let genuine = version == permit.version() && stored.is_some_and(|q| q[..] == *scanned);
        (location, genuine)
    };
    let copy_answer = |location| {
        let answer = snapshot.answer(location).expect("pre-rendered");
        Bytes::copy_from_slice(answer.body)
    };
    let mut group = c.benchmark_group("signed_parts");
    let mut i = 0usize;
    group.bench_function("payload_head", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            payload_head(black_box(text(i)))
        })
    });
    group.bench_function("locate_only", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            snapshot.locate(black_box(&setup.numbers[i]))
        })
    });
    group.bench_function("head_locate_compare", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            find_and_compare(i)
        })
    });
    group.bench_function("locate_answer_copy", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            let location = snapshot
                .locate(black_box(&setup.numbers[i]))
                .expect("on record");
            copy_answer(location)
        })
    });
    group.bench_function("head_locate_compare_answer_copy", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            let (location, genuine) = find_and_compare(i);
            (genuine, copy_answer(location))
        })
    });
    group.bench_function("refusal_decode_text", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            let text = std::str::from_utf8(black_box(text(i))).expect("ASCII");
            SignedQr::decode_text(text).is_ok()
        })
    });
    group.finish();
}

/// Rounds of the interleaved comparison, and requests per route in each round.
const PAIRED_ROUNDS: usize = 41;
const PAIRED_REQUESTS: usize = 20_000;

/// The sealed routes against the plain lookup, interleaved: each round times every route for
/// [`PAIRED_REQUESTS`] requests back to back (in a rotated order), so a disturbance of this
/// noisy VM hits all of them alike; the median and quartiles of the per-round ratios are
/// printed. Separate criterion groups, minutes apart, drift by ±30 % here.
fn paired_report(setup: &Setup) {
    const IDS: [&str; 5] = [
        "permit_json",
        "qr_number_json",
        "qr_signed_upper",
        "qr_signed_lower",
        "attestation",
    ];
    let routes: Vec<&Route> = IDS
        .iter()
        .map(|id| {
            setup
                .routes
                .iter()
                .find(|r| r.id == *id)
                .expect("a bench route")
        })
        .collect();
    let mut ratios = vec![Vec::with_capacity(PAIRED_ROUNDS); IDS.len()];
    for round in 0..PAIRED_ROUNDS {
        let mut ns = [0f64; IDS.len()];
        for k in 0..IDS.len() {
            let index = (round + k) % IDS.len();
            let route = routes[index];
            let resolver = &setup.resolvers[route.resolver];
            let started = std::time::Instant::now();
            for i in 0..PAIRED_REQUESTS {
                let path = black_box(route.paths[i % route.paths.len()].as_str());
                black_box(consume(resolver.respond(&Method::GET, path, route.accept)));
            }
            ns[index] = started.elapsed().as_nanos() as f64 / PAIRED_REQUESTS as f64;
        }
        for (index, per) in ns.iter().enumerate() {
            // Throughput ratio: the lookup's time over this route's.
            ratios[index].push(ns[0] / per);
        }
    }
    println!(
        "\npaired: throughput as a multiple of permit_json's, {PAIRED_ROUNDS} interleaved rounds of \
         {PAIRED_REQUESTS} requests per route: median [first quartile, third quartile]"
    );
    for (id, mut r) in IDS.iter().zip(ratios) {
        r.sort_by(f64::total_cmp);
        let at = |q: f64| r[((r.len() - 1) as f64 * q).round() as usize];
        println!(
            "  {id:18} {:.3}× [{:.3}, {:.3}]",
            at(0.5),
            at(0.25),
            at(0.75)
        );
    }
}

static ALLOCATION_REPORT: std::sync::OnceLock<Vec<Allocations>> = std::sync::OnceLock::new();

fn print_report(estimates: &Estimates) {
    let plain = estimates.mean_ns("handler/qr_number_json");
    let counted = estimates.mean_ns("handler/qr_number_json_counted");
    if let (Some(plain), Some(counted)) = (plain, counted) {
        println!(
            "\nmetrics: a counted QR scan takes {:.3}× an uncounted one ({} vs {})",
            counted / plain,
            common::duration(counted),
            common::duration(plain)
        );
    }
    if let Some(empty) = estimates.mean_ns("handler/permit_json") {
        for id in ["permit_json_overlay_hit", "permit_json_overlay_miss"] {
            if let Some(ns) = estimates.mean_ns(&format!("handler/{id}")) {
                println!(
                    "overlay: {id} takes {:.3}× permit_json with an empty overlay ({} vs {})",
                    ns / empty,
                    common::duration(ns),
                    common::duration(empty)
                );
            }
        }
    }
    sealed_report(estimates);
    let counts = ALLOCATION_REPORT.get();
    let floor = estimates.mean_ns("handler/floor");
    match floor {
        Some(floor) => println!(
            "\nhandler at {} permits: mean per request and its multiple of the floor \
             (a minimal Response, {}); heap allocations per request:",
            common::permits_wanted(DEFAULT_PERMITS),
            common::duration(floor)
        ),
        None => estimates.missing("handler", "handler/floor"),
    }
    for allocations in counts.into_iter().flatten() {
        let time = estimates.mean_ns(&format!("handler/{}", allocations.id));
        let timing = match (time, floor) {
            (Some(ns), Some(floor)) => {
                format!("{:>10}  {:7.1}× floor", common::duration(ns), ns / floor)
            }
            _ => format!("{:>10}  {:>13}", "-", ""),
        };
        println!(
            "  {:22} {timing}  {:5.1} allocations, {:7.0} B",
            allocations.id, allocations.per_request, allocations.bytes_per_request
        );
    }
}

/// Each sealed route as a ratio to the plain lookup (`permit_json`) and, for the signed scans,
/// to the scan by number (`qr_number_json`): the time ratio and its inverse, the throughput
/// ratio the targets are stated in (≥ 0.95× for signed scans, 1× for the attestation).
fn sealed_report(estimates: &Estimates) {
    let Some(lookup) = estimates.mean_ns("handler/permit_json") else {
        return estimates.missing("handler (sealed routes)", "handler/permit_json");
    };
    let by_number = estimates.mean_ns("handler/qr_number_json");
    println!(
        "\nsealed: throughput of each route as a multiple of the plain lookup's \
         (permit_json, {}), from the same run:",
        common::duration(lookup)
    );
    for (id, signed) in SEALED_ROUTES {
        let Some(ns) = estimates.mean_ns(&format!("handler/{id}")) else {
            continue;
        };
        let mut line = format!(
            "  {id:22} {:>10}  {:.3}× permit_json throughput ({:.3}× its time)",
            common::duration(ns),
            lookup / ns,
            ns / lookup
        );
        if let Some(by_number) = by_number.filter(|_| signed) {
            line.push_str(&format!(
                ", {:.3}× qr_number_json throughput ({})",
                by_number / ns,
                common::duration(by_number)
            ));
        }
        println!("{line}");
    }
    let parts: Vec<(&str, f64)> = [
        "payload_head",
        "locate_only",
        "head_locate_compare",
        "locate_answer_copy",
        "head_locate_compare_answer_copy",
        "refusal_decode_text",
    ]
    .into_iter()
    .filter_map(|id| Some((id, estimates.mean_ns(&format!("signed_parts/{id}"))?)))
    .collect();
    if !parts.is_empty() {
        println!("signed scan steps (signed_parts), mean per call and share of permit_json:");
        for (id, ns) in parts {
            println!(
                "  {id:26} {:>10}  {:5.1}% of permit_json",
                common::duration(ns),
                100.0 * ns / lookup
            );
        }
    }
}

criterion_group!(benches, handler);

fn main() {
    let estimates = Estimates::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_report(&estimates);
}
