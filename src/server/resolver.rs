//! What a request reads, and the function that answers it: [`Resolver::respond`], one request in,
//! one response out, with no socket (the handler benchmark calls it directly).
//!
//! The snapshot is installed after verification and swapped atomically when a newer one is
//! published ([`arc_swap`]: a request keeps the one it loaded until it answers); until the first
//! one, data routes answer 503 and `/readyz` says not ready. Permits changed since the snapshot
//! come from the [`Overlay`], consulted first. Reads take no lock a writer holds for longer than
//! one pointer swap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use memmap2::Mmap;

use crate::answer::html;
use crate::answer::json::{error_body, IndustryGuide, PermitView};
use crate::answer::library::{change_line, Aggregates, LibraryConfig};
use crate::catalog::Catalog;
use crate::codes::PermitNumber;
use crate::domain::permit::ArchivedPermit;
use crate::domain::Date;
use crate::limits::{CHANGES_PAGE_PERMITS_MAX, IMAGE_CACHE_ENTRIES_MAX, REQUEST_PATH_BYTES_MAX};
use crate::qr::Token;
use crate::server::metrics::{Metrics, SnapshotGauges, ThreadCounters};
use crate::server::negotiate::prefers_html;
use crate::server::overlay::{Overlay, OverlayEntry};
use crate::server::router::{route, Route, NO_ROUTE};
use crate::snapshot::index::Location;
use crate::snapshot::{Snapshot, SnapshotBytes};
use crate::trust::payload::{SignedQr, PAYLOAD_CHARS};
use crate::trust::seal::{payload_head, stored_payload};

pub type Body = Full<Bytes>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
/// Permit states change; a cached answer could show a revoked licence as valid.
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
/// The catalogue changes only with a new build.
const CATALOGUE_CACHE: HeaderValue = HeaderValue::from_static("public, max-age=3600");

/// Where "today" comes from: the system clock, or a fixed date for tests and reproducible demos.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(Date),
}

impl Clock {
    pub fn today(self) -> Date {
        match self {
            Clock::System => Date::today_in_beijing(),
            Clock::Fixed(date) => date,
        }
    }
}

pub struct Resolver<B: SnapshotBytes = Mmap> {
    catalog: Catalog,
    snapshot: ArcSwapOption<Snapshot<B>>,
    overlay: Overlay,
    /// The last change-log sequence the follower read.
    followed: AtomicU64,
    clock: Clock,
    industries_body: Bytes,
    /// Index = category − 1.
    industry_bodies: Vec<Bytes>,
    metrics: Metrics,
    library: LibraryConfig,
    /// The snapshot's counts for `GET /v1/aggregates`, made when it is installed.
    aggregates: ArcSwapOption<BaseAggregates>,
    /// The JWK Set served at `/.well-known/permitd-keys.json` (public keys only: a resolver never
    /// holds a private key).
    keys_body: ArcSwapOption<Bytes>,
    /// The scheme and host QR images and certificates print, e.g. `https://zwfw.bjfsh.gov.cn`.
    public_url: String,
    /// Rendered QR images and certificate faces by (permit key, version, kind): rendered on
    /// first request, never per scan.
    images: dashmap::DashMap<(u64, u32, Image), Bytes>,
}

/// The images a permit version has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Image {
    QrSvg,
    QrPng,
    Certificate,
}

/// The scheme and host QR images print when none is configured (`--public-url`): a
/// placeholder under `.example`, never a real address.
pub const DEFAULT_PUBLIC_URL: &str = "https://permit.fangshan.example";

/// Where a permit's current state lives: the overlay (changed since the snapshot) or the
/// snapshot.
enum Found {
    Overlay(Arc<OverlayEntry>),
    Snapshot(Location),
}

/// The key set changes only when a key is added.
const KEYS_CACHE: HeaderValue = HeaderValue::from_static("public, max-age=300");
/// The image URLs name a permit, not a version: a reissue changes what they show, so caches
/// must ask again (the `ETag` names the version).
const IMAGE_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
/// PNG module size: 8 px per module gives a 456-px image for a version-8 code plus quiet zone.
const QR_PNG_MODULE_PX: u32 = 8;

/// Permit counts over one snapshot at one date; the overlay's changes are applied per request.
struct BaseAggregates {
    sequence: u64,
    as_of: Date,
    counts: Aggregates,
}

/// Permits one `GET /v1/changes` lists when the query does not say.
const CHANGES_PAGE_PERMITS_DEFAULT: usize = 1000;
/// Times a `/v1/changes` page is listed before answering 503 while snapshots keep swapping.
const CHANGES_PAGE_ATTEMPTS: usize = 3;

impl<B: SnapshotBytes> Resolver<B> {
    /// A resolver with no snapshot yet; the catalogue answers are rendered here, once.
    pub fn new(catalog: Catalog, clock: Clock) -> Resolver<B> {
        let guides: Vec<IndustryGuide<'_>> = catalog
            .industries()
            .iter()
            .map(|i| IndustryGuide::new(i, &catalog))
            .collect();
        let industries_body = Bytes::from(
            serde_json::to_vec(&serde_json::json!({ "industries": guides })).expect("serializes"),
        );
        let industry_bodies = guides
            .iter()
            .map(|g| Bytes::from(serde_json::to_vec(g).expect("serializes")))
            .collect();
        drop(guides);
        Resolver {
            metrics: Metrics::default(),
            catalog,
            snapshot: ArcSwapOption::empty(),
            overlay: Overlay::default(),
            followed: AtomicU64::new(0),
            clock,
            industries_body,
            industry_bodies,
            library: LibraryConfig::fangshan_default(),
            aggregates: ArcSwapOption::empty(),
            keys_body: ArcSwapOption::empty(),
            public_url: String::from(DEFAULT_PUBLIC_URL),
            images: dashmap::DashMap::new(),
        }
    }

    /// Sets the scheme and host printed in QR images (before serving).
    pub fn with_public_url(mut self, url: &str) -> Resolver<B> {
        self.public_url = url.trim_end_matches('/').to_owned();
        self
    }

    /// Serves `jwks` (a validated JWK Set) at `/.well-known/permitd-keys.json`.
    pub fn set_public_keys(&self, jwks: String) {
        self.keys_body.store(Some(Arc::new(Bytes::from(jwks))));
    }

    /// Reads `DIR/keys/public.jwks` and serves it; `Ok(false)` when there is none.
    ///
    /// # Errors
    /// When the file exists but is not a valid JWK Set (the old set stays served).
    pub fn load_public_keys(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<bool, crate::trust::seal::SealError> {
        match crate::trust::seal::read_public_keys(data_dir)? {
            Some(set) => {
                self.set_public_keys(set.to_jwks());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Installs a verified snapshot: every request that starts after this reads it; requests
    /// under way finish on the one they loaded, which is unmapped when the last of them ends.
    pub fn install(&self, snapshot: Snapshot<B>) {
        self.snapshot.store(Some(Arc::new(snapshot)));
        self.refresh_aggregates();
    }

    /// Counts the installed snapshot's permits by industry × state × authority for today, unless
    /// counts for this snapshot and date exist. One pass over every record: call it off the
    /// request path (install and the follower do).
    pub fn refresh_aggregates(&self) {
        let Some(snapshot) = self.snapshot.load_full() else {
            return;
        };
        let today = self.clock.today();
        let sequence = snapshot.header().sequence;
        let current = self.aggregates.load();
        if current
            .as_ref()
            .is_some_and(|a| a.sequence == sequence && a.as_of == today)
        {
            return;
        }
        let mut counts = Aggregates::new();
        for permit in snapshot.iter() {
            counts.add(permit, today);
        }
        self.aggregates.store(Some(Arc::new(BaseAggregates {
            sequence,
            as_of: today,
            counts,
        })));
    }

    pub fn snapshot(&self) -> Option<Arc<Snapshot<B>>> {
        self.snapshot.load_full()
    }

    /// What changed since the snapshot (filled by [`crate::server::follow`]).
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// The date answers are evaluated for.
    pub fn today(&self) -> Date {
        self.clock.today()
    }

    /// Records the last change-log sequence the follower read.
    pub fn set_followed(&self, sequence: u64) {
        self.followed.store(sequence, Ordering::Relaxed);
    }

    /// The newest sequence this resolver answers for: the follower's or the snapshot's.
    pub fn sequence(&self) -> u64 {
        let snapshot = self
            .snapshot
            .load()
            .as_ref()
            .map_or(0, |s| s.header().sequence);
        snapshot.max(self.followed.load(Ordering::Relaxed))
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// [`Resolver::respond`], counted in `counters` (the calling thread's).
    #[inline]
    pub fn respond_counted(
        &self,
        counters: &ThreadCounters,
        method: &Method,
        path: &str,
        accept: Option<&[u8]>,
    ) -> Response<Body> {
        let started = std::time::Instant::now();
        let (route, response) = self.respond_routed(method, path, accept);
        counters.request(route, response.status().as_u16(), started.elapsed());
        response
    }

    pub fn is_ready(&self) -> bool {
        self.snapshot.load().is_some()
    }

    /// Answers one request. `accept` is the raw `Accept` header, if any.
    pub fn respond(&self, method: &Method, path: &str, accept: Option<&[u8]>) -> Response<Body> {
        self.respond_routed(method, path, accept).1
    }

    /// [`Resolver::respond`], also saying which route answered (for metrics).
    fn respond_routed(
        &self,
        method: &Method,
        path: &str,
        accept: Option<&[u8]>,
    ) -> (usize, Response<Body>) {
        if path.len() > REQUEST_PATH_BYTES_MAX {
            let too_long = error(
                StatusCode::URI_TOO_LONG,
                "path_too_long",
                "the request path is too long",
            );
            return (NO_ROUTE, too_long);
        }
        let Some(route) = route(path) else {
            let message = "no such route; see /v1/industries, /v1/permits/{number}, /q/{token}";
            return (
                NO_ROUTE,
                error(StatusCode::NOT_FOUND, "route_not_found", message),
            );
        };
        (route.index(), self.respond_to(method, route, accept))
    }

    fn respond_to(
        &self,
        method: &Method,
        route: Route<'_>,
        accept: Option<&[u8]>,
    ) -> Response<Body> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "only GET and HEAD are served here",
            );
            response
                .headers_mut()
                .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match route {
            Route::Healthz => plain(StatusCode::OK, "ok\n"),
            Route::Metrics => self.metrics_answer(),
            Route::Readyz if self.is_ready() => plain(StatusCode::OK, "ready\n"),
            Route::Readyz => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: no verified snapshot yet\n",
            ),
            Route::Industries => cached(self.industries_body.clone()),
            Route::Industry { code } => self.industry(code),
            Route::Permit { number } => self.permit(number),
            Route::Changes { query } => self.changes(query),
            Route::Aggregates => self.aggregates_answer(),
            Route::Attestation { number } => self.attestation(number),
            Route::QrSvg { number } => self.image(number, Image::QrSvg),
            Route::QrPng { number } => self.image(number, Image::QrPng),
            Route::Certificate { number } => self.image(number, Image::Certificate),
            Route::Keys => match self.keys_body.load_full() {
                Some(body) => respond_with(
                    StatusCode::OK,
                    HeaderValue::from_static("application/jwk-set+json"),
                    KEYS_CACHE,
                    (*body).clone(),
                ),
                None => error(
                    StatusCode::NOT_FOUND,
                    "no_public_keys",
                    "this resolver has no public key set (DIR/keys/public.jwks) yet",
                ),
            },
            Route::QrScan { token } => {
                let mut response = self.scan(token, prefers_html(accept));
                // The answer depends on Accept: caches must key on it.
                response
                    .headers_mut()
                    .insert(hyper::header::VARY, HeaderValue::from_static("accept"));
                response
            }
        }
    }

    fn metrics_answer(&self) -> Response<Body> {
        let gauges = self.snapshot.load_full().map(|s| {
            let age_ms = crate::event::Timestamp::now().unix_ms - s.header().created_unix_ms;
            SnapshotGauges {
                sequence: s.header().sequence,
                permits: s.len(),
                age_seconds: age_ms.max(0) as f64 / 1000.0,
            }
        });
        const PROMETHEUS_TEXT: HeaderValue =
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
        respond_with(
            StatusCode::OK,
            PROMETHEUS_TEXT,
            NO_STORE,
            Bytes::from(self.metrics.render(gauges)),
        )
    }

    fn industry(&self, code: &str) -> Response<Body> {
        let category = (code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()))
            .then(|| code.parse::<u8>().ok())
            .flatten();
        let body = category
            .filter(|&c| self.catalog.industry(c).is_some())
            .and_then(|c| self.industry_bodies.get(c as usize - 1));
        match body {
            Some(body) => cached(body.clone()),
            None => error(
                StatusCode::NOT_FOUND,
                "unknown_industry",
                &format!("industry code {code:?} is not in the catalogue (two digits, 01–40)"),
            ),
        }
    }

    fn permit(&self, text: &str) -> Response<Body> {
        let guard = self.snapshot.load();
        let Some(snapshot) = guard.as_deref() else {
            return not_ready();
        };
        let number = match PermitNumber::parse(text) {
            Ok(n) => n,
            Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_number", &e.to_string()),
        };
        if let Some(entry) = self.overlay.get(number.key(), snapshot.header().sequence) {
            return self.answer_entry(&entry, None, false);
        }
        match snapshot.locate(&number) {
            Some(location) => self.answer(snapshot, location, None, false),
            None => not_on_record(&number),
        }
    }

    /// A QR scan: a permit number (current version) or a token (one version).
    fn scan(&self, text: &str, html: bool) -> Response<Body> {
        let guard = self.snapshot.load();
        let Some(snapshot) = guard.as_deref() else {
            return with_page(not_ready(), html, "无法验证", "服务正在启动，请稍后再扫。");
        };
        if text.len() == PAYLOAD_CHARS {
            return self.signed_scan(snapshot, text, html);
        }
        // Scanned codes are case-insensitive (QR alphanumeric mode is upper case only).
        let mut upper = [0u8; 16];
        let looks_like_number = text.len() == 16
            && text.is_ascii()
            && text
                .get(6..8)
                .is_some_and(|zh| zh.eq_ignore_ascii_case("ZH"));
        if looks_like_number {
            upper.copy_from_slice(text.as_bytes());
            upper.make_ascii_uppercase();
            let text = std::str::from_utf8(&upper).expect("ASCII stays UTF-8");
            match PermitNumber::parse(text) {
                Ok(number) => {
                    let covered = snapshot.header().sequence;
                    if let Some(entry) = self.overlay.get(number.key(), covered) {
                        return self.answer_entry(&entry, None, html);
                    }
                    return match snapshot.locate(&number) {
                        Some(location) => self.answer(snapshot, location, None, html),
                        None => not_on_record_page(&number, html),
                    };
                }
                // A token can look like a number by chance: try it before refusing.
                Err(e)
                    if Token::decode(text).is_none_or(|t| {
                        snapshot.get_by_token(&t).is_none() && self.overlay.token(&t).is_none()
                    }) =>
                {
                    return with_page(
                        error(StatusCode::BAD_REQUEST, "malformed_number", &e.to_string()),
                        html,
                        "无法验证",
                        "二维码内容不是有效的综合许可凭证编号，可能已损坏或被篡改。",
                    );
                }
                Err(_) => {}
            }
        }
        let Some(token) = Token::decode(text) else {
            return unreadable_page(
                error(
                    StatusCode::BAD_REQUEST,
                    "malformed_token",
                    "the QR token is neither a permit number nor a 16-character base32 token",
                ),
                html,
            );
        };
        let covered = snapshot.header().sequence;
        if let Some((location, version)) = snapshot.locate_token(&token) {
            if !self.overlay.is_empty() {
                let key = snapshot.record(location).map(|p| p.number.key());
                if let Some(entry) = key.and_then(|k| self.overlay.get(k, covered)) {
                    return self.answer_entry(&entry, Some(version), html);
                }
            }
            return self.answer(snapshot, location, Some(version), html);
        }
        let issued_since = self
            .overlay
            .token(&token)
            .and_then(|(key, version)| Some((self.overlay.get(key, covered)?, version)));
        match issued_since {
            Some((entry, version)) => self.answer_entry(&entry, Some(version), html),
            None => with_page(
                error(
                    StatusCode::NOT_FOUND,
                    "token_not_found",
                    "no permit version carries this QR token",
                ),
                html,
                "查无此证",
                "未查询到该二维码对应的综合许可凭证。",
            ),
        }
    }

    /// A scan of a signed city code (`docs/qr.md`): the text is compared, case-insensitively,
    /// with the payload text the writer signed for that permit version; no signature is
    /// verified and nothing but the first 16 characters (number and version) is decoded per
    /// request. Equal → the permit's answer as that version sees it (superseded when old);
    /// anything else is decoded and checked in full to say what is wrong: malformed (400),
    /// unknown permit (404) or forged (400).
    fn signed_scan(&self, snapshot: &Snapshot<B>, text: &str, html: bool) -> Response<Body> {
        if let Some((key, version)) = payload_head(text.as_bytes()) {
            let covered = snapshot.header().sequence;
            if let Some(entry) = self.overlay.get(key, covered) {
                if issued_payload(entry.permit(), version)
                    .is_some_and(|issued| matches_scan(issued, text.as_bytes()))
                {
                    if html {
                        return self.signed_page(entry.permit(), version, entry.sequence, text);
                    }
                    return self.answer_entry(&entry, Some(version), false);
                }
            } else if let Some(location) = snapshot.locate_key(key) {
                let genuine = snapshot.record(location).filter(|permit| {
                    issued_payload(permit, version)
                        .is_some_and(|issued| matches_scan(issued, text.as_bytes()))
                });
                if let Some(permit) = genuine {
                    if html {
                        let sequence = snapshot.header().sequence;
                        return self.signed_page(permit, version, sequence, text);
                    }
                    return self.answer(snapshot, location, Some(version), false);
                }
            }
        }
        self.refused_scan(snapshot, text, html)
    }

    /// The citizen page for a genuine signed scan: the permit's page with the anti-counterfeit
    /// check stated (防伪核验).
    fn signed_page(
        &self,
        permit: &ArchivedPermit,
        version: u32,
        sequence: u64,
        text: &str,
    ) -> Response<Body> {
        let scanned = Some(version).filter(|&v| v != permit.version());
        let view = PermitView::new(permit, scanned, &self.catalog, self.clock.today(), sequence);
        let kid = SignedQr::decode_text(text)
            .map(|qr| qr.payload().kid().to_string())
            .unwrap_or_default();
        let page = html::signed_permit_page(&view, &kid);
        respond_with(StatusCode::OK, HTML, NO_STORE, Bytes::from(page))
    }

    /// Why a signed scan is not genuine, decoded and checked in full.
    #[cold]
    fn refused_scan(&self, snapshot: &Snapshot<B>, text: &str, html: bool) -> Response<Body> {
        let forged_page = "此二维码不是房山区签发的综合许可凭证二维码，可能已被伪造或篡改。请勿信任，并向房山区政务服务局反映。";
        let signed = match SignedQr::decode_text(text) {
            Ok(signed) => signed,
            Err(e) => {
                return unreadable_page(
                    error(StatusCode::BAD_REQUEST, "malformed_qr", &e.to_string()),
                    html,
                )
            }
        };
        let number = signed.payload().number();
        let version = signed.payload().version();
        if self.find(snapshot, &number).is_none() {
            return not_on_record_page(&number, html);
        }
        with_page(
            error(
                StatusCode::BAD_REQUEST,
                "forged_qr",
                &format!(
                    "this QR payload is not the one issued for permit {number} version \
                     {version}: forged or altered"
                ),
            ),
            html,
            "无法验证",
            forged_page,
        )
    }

    /// The current state of `number`: the overlay's when it changed since the snapshot.
    fn find(&self, snapshot: &Snapshot<B>, number: &PermitNumber) -> Option<Found> {
        if let Some(entry) = self.overlay.get(number.key(), snapshot.header().sequence) {
            return Some(Found::Overlay(entry));
        }
        snapshot.locate(number).map(Found::Snapshot)
    }

    /// `GET /v1/permits/{number}/attestation`: the JWS the writer signed for the permit's
    /// current state, as stored. Not one of an earlier state, nor an expired one (503 either
    /// way): the writer signs each state just after acknowledging it, and renews them.
    fn attestation(&self, text: &str) -> Response<Body> {
        self.with_current(text, |number, permit| {
            let Some(seal) = permit.attested() else {
                return pending(
                    "attestation_pending",
                    &format!(
                        "permit {number} changed a moment ago and the writer has not signed the \
                         attestation of its new state yet; retry in a second"
                    ),
                );
            };
            let now = crate::event::Timestamp::now().unix_ms / 1000;
            if seal.attestation_expires.to_native() <= now {
                let mut response = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "attestation_expired",
                    &format!(
                        "the attestation of permit {number} has expired and the writer has not \
                         renewed it yet; retry later"
                    ),
                );
                response
                    .headers_mut()
                    .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("60"));
                return response;
            }
            let body = Bytes::copy_from_slice(seal.attestation.as_bytes());
            const JOSE: HeaderValue = HeaderValue::from_static("application/jose");
            respond_with(StatusCode::OK, JOSE, NO_STORE, body)
        })
    }

    /// Calls `answer` with the current record of the permit `text` names (overlay, then
    /// snapshot), or answers not ready, malformed (400) or not found (404) itself.
    fn with_current(
        &self,
        text: &str,
        answer: impl FnOnce(PermitNumber, &ArchivedPermit) -> Response<Body>,
    ) -> Response<Body> {
        let guard = self.snapshot.load();
        let Some(snapshot) = guard.as_deref() else {
            return not_ready();
        };
        let number = match PermitNumber::parse(text) {
            Ok(n) => n,
            Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_number", &e.to_string()),
        };
        let found = self.find(snapshot, &number);
        let permit = match &found {
            Some(Found::Overlay(entry)) => Some(entry.permit()),
            Some(Found::Snapshot(location)) => match snapshot.record(*location) {
                Some(permit) => Some(permit),
                None => return internal(),
            },
            None => None,
        };
        match permit {
            Some(permit) => answer(number, permit),
            None => not_on_record(&number),
        }
    }

    /// A permit's QR image or certificate face, rendered once per version and kept.
    fn image(&self, text: &str, kind: Image) -> Response<Body> {
        self.with_current(text, |number, permit| self.image_of(number, permit, kind))
    }

    fn image_of(
        &self,
        number: PermitNumber,
        permit: &ArchivedPermit,
        kind: Image,
    ) -> Response<Body> {
        let key = (number.key(), permit.version(), kind);
        let content_type = match kind {
            Image::QrPng => HeaderValue::from_static("image/png"),
            Image::QrSvg | Image::Certificate => HeaderValue::from_static("image/svg+xml"),
        };
        let etag = HeaderValue::from_str(&format!("\"{}-v{}\"", number, permit.version()))
            .unwrap_or(HeaderValue::from_static("\"\""));
        if let Some(body) = self.images.get(&key) {
            let mut response =
                respond_with(StatusCode::OK, content_type, IMAGE_CACHE, body.clone());
            response.headers_mut().insert(hyper::header::ETAG, etag);
            return response;
        }
        let Some(qr) = permit.seal.as_ref().and_then(|s| s.qr.as_ref()) else {
            return pending(
                "qr_pending",
                &format!(
                    "version {} of permit {number} was issued a moment ago and the writer has \
                     not signed its QR code yet; retry in a second",
                    permit.version()
                ),
            );
        };
        let Some(signed) = stored_payload(qr) else {
            return internal();
        };
        let url = signed.to_url(&self.public_url);
        let rendered = match kind {
            Image::QrSvg => crate::render::qr_svg(&url).map(String::into_bytes),
            Image::QrPng => crate::render::qr_png(&url, QR_PNG_MODULE_PX),
            Image::Certificate => {
                let owned = rkyv::deserialize::<crate::domain::Permit, rkyv::rancor::Error>(permit);
                match owned {
                    Ok(owned) => Ok(
                        crate::render::certificate_svg(&owned, &self.catalog, &url).into_bytes()
                    ),
                    Err(_) => return internal(),
                }
            }
        };
        let body = match rendered {
            Ok(bytes) => Bytes::from(bytes),
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "render_failed",
                    &format!("the QR code of permit {number} cannot be drawn: {e}"),
                )
            }
        };
        if self.images.len() >= IMAGE_CACHE_ENTRIES_MAX {
            // Full: forget one entry (any); a forgotten image is rendered again on request.
            let victim = self.images.iter().next().map(|e| *e.key());
            if let Some(victim) = victim {
                self.images.remove(&victim);
            }
        }
        self.images.insert(key, body.clone());
        let mut response = respond_with(StatusCode::OK, content_type, IMAGE_CACHE, body);
        response.headers_mut().insert(hyper::header::ETAG, etag);
        response
    }

    /// The answer for the record at `location`, as the version `scanned` (a QR token's) sees
    /// it. The current version's JSON is served from the snapshot's pre-rendered bytes while
    /// they hold; everything else is rendered here.
    fn answer(
        &self,
        snapshot: &Snapshot<B>,
        location: Location,
        scanned: Option<u32>,
        html: bool,
    ) -> Response<Body> {
        let Some(permit) = snapshot.record(location) else {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "index and records disagree",
            );
        };
        // A token naming the current version is a scan of the current permit.
        let scanned = scanned.filter(|&v| v != permit.version());
        let today = self.clock.today();
        if !html && scanned.is_none() {
            if let Some(answer) = snapshot.answer(location) {
                if answer.holds_on(snapshot.header().answers_as_of, today) {
                    let body = Bytes::copy_from_slice(answer.body);
                    return respond_with(StatusCode::OK, JSON, NO_STORE, body);
                }
            }
        }
        self.render(permit, scanned, today, snapshot.header().sequence, html)
    }

    /// `GET /v1/changes?after=SEQ&limit=N`: NDJSON, one line per permit whose state changed
    /// after sequence `SEQ`, in sequence order, each with its `cursor`; the header
    /// `Next-Cursor` is the cursor to ask with next (the last line's), `More` whether the page
    /// was cut at `limit`. Snapshot records first (their sequences are all at most the
    /// snapshot's), then the overlay's; a permit changed since the snapshot is listed once, with
    /// its latest state. Compaction does not move a cursor: a permit keeps its sequence.
    fn changes(&self, query: &str) -> Response<Body> {
        let (after, limit) = match changes_query(query) {
            Ok(parsed) => parsed,
            Err(message) => return error(StatusCode::BAD_REQUEST, "bad_query", &message),
        };
        // A snapshot installed while the page is listed prunes overlay entries this request
        // (holding the old snapshot) would then skip, and the cursor would pass them for good:
        // the page is listed again on the new snapshot. Swaps are seconds apart at least.
        for _ in 0..CHANGES_PAGE_ATTEMPTS {
            let guard = self.snapshot.load();
            let Some(snapshot) = guard.as_deref() else {
                return not_ready();
            };
            let page = self.changes_page(snapshot, after, limit);
            let now = self.snapshot.load();
            if now.as_ref().is_some_and(|n| std::ptr::eq(&**n, snapshot)) {
                return page;
            }
        }
        pending(
            "snapshot_changing",
            "snapshots were swapped while this page was listed; ask again",
        )
    }

    /// One `/v1/changes` page on `snapshot` and the overlay.
    fn changes_page(&self, snapshot: &Snapshot<B>, after: u64, limit: usize) -> Response<Body> {
        let today = self.clock.today();
        let covered = snapshot.header().sequence;
        let mut body = Vec::with_capacity(limit.min(256) * 1536);
        let mut listed = 0usize;
        let mut cursor = after;
        let mut more = false;
        for (sequence, location) in snapshot.changes_after(after) {
            let Some(permit) = snapshot.record(location) else {
                continue;
            };
            if self.overlay.get(permit.number.key(), covered).is_some() {
                continue; // listed below with its newer state
            }
            if listed == limit {
                more = true;
                break;
            }
            change_line(&mut body, permit, &self.catalog, &self.library, today);
            (listed, cursor) = (listed + 1, sequence);
        }
        if !more {
            for (sequence, key) in self.overlay.changes_after(after, covered) {
                let Some(entry) = self.overlay.get(key, covered) else {
                    continue;
                };
                if listed == limit {
                    more = true;
                    break;
                }
                change_line(
                    &mut body,
                    entry.permit(),
                    &self.catalog,
                    &self.library,
                    today,
                );
                (listed, cursor) = (listed + 1, sequence);
            }
        }
        const NDJSON: HeaderValue = HeaderValue::from_static("application/x-ndjson");
        let mut response = respond_with(StatusCode::OK, NDJSON, NO_STORE, Bytes::from(body));
        let headers = response.headers_mut();
        headers.insert("next-cursor", HeaderValue::from(cursor));
        headers.insert(
            "more",
            HeaderValue::from_static(if more { "true" } else { "false" }),
        );
        response
    }

    /// `GET /v1/aggregates`: permit counts by industry × derived state × issuing authority, as
    /// of the newest sequence this resolver has read.
    fn aggregates_answer(&self) -> Response<Body> {
        let guard = self.snapshot.load();
        let Some(snapshot) = guard.as_deref() else {
            return not_ready();
        };
        let today = self.clock.today();
        let covered = snapshot.header().sequence;
        let base = self.aggregates.load();
        let Some(base) = base
            .as_deref()
            .filter(|b| b.sequence == covered && b.as_of == today)
        else {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "counting",
                "the counts for the current snapshot are being made; retry shortly",
            );
            response
                .headers_mut()
                .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        };
        let mut counts = base.counts.clone();
        let mut sequence = covered;
        for (key, entry) in self.overlay.entries(covered) {
            if let Some(old) = PermitNumber::from_key(key).and_then(|n| snapshot.get(&n)) {
                counts.remove(old, today);
            }
            counts.add(entry.permit(), today);
            sequence = sequence.max(entry.sequence);
        }
        let body = counts.to_json(sequence, today, &self.catalog);
        respond_with(StatusCode::OK, JSON, NO_STORE, Bytes::from(body))
    }

    /// [`Resolver::answer`] for a permit changed since the snapshot.
    fn answer_entry(
        &self,
        entry: &OverlayEntry,
        scanned: Option<u32>,
        html: bool,
    ) -> Response<Body> {
        let scanned = scanned.filter(|&v| v != entry.version);
        let today = self.clock.today();
        if !html && scanned.is_none() && entry.holds_on(today) {
            return respond_with(StatusCode::OK, JSON, NO_STORE, entry.json.clone());
        }
        self.render(entry.permit(), scanned, today, entry.sequence, html)
    }

    fn render(
        &self,
        permit: &ArchivedPermit,
        scanned: Option<u32>,
        today: Date,
        sequence: u64,
        html: bool,
    ) -> Response<Body> {
        let view = PermitView::new(permit, scanned, &self.catalog, today, sequence);
        if html {
            respond_with(
                StatusCode::OK,
                HTML,
                NO_STORE,
                Bytes::from(html::permit_page(&view)),
            )
        } else {
            respond_with(StatusCode::OK, JSON, NO_STORE, Bytes::from(view.to_json()))
        }
    }
}

/// `after` (default 0) and `limit` (default [`CHANGES_PAGE_PERMITS_DEFAULT`], at most
/// [`CHANGES_PAGE_PERMITS_MAX`]) from a query string; anything else in it is an error.
fn changes_query(query: &str) -> Result<(u64, usize), String> {
    let (mut after, mut limit) = (0u64, CHANGES_PAGE_PERMITS_DEFAULT);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "after" => {
                after = value
                    .parse()
                    .map_err(|_| format!("after={value:?} is not a sequence number"))?;
            }
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=CHANGES_PAGE_PERMITS_MAX).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "limit={value:?} is not a count from 1 to {CHANGES_PAGE_PERMITS_MAX}"
                        )
                    })?;
            }
            other => return Err(format!("unknown query parameter {other:?} (after, limit)")),
        }
    }
    Ok((after, limit))
}

fn respond_with(
    status: StatusCode,
    content_type: HeaderValue,
    cache: HeaderValue,
    body: Bytes,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CACHE_CONTROL, cache);
    response
}

/// 503 with `Retry-After: 1`: what the writer signs just after acknowledging a change is not
/// here yet, or a page met a snapshot swap.
fn pending(code: &str, message: &str) -> Response<Body> {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, code, message);
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// 404 for a well-formed permit number that is not on record.
fn not_on_record(number: &PermitNumber) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "permit_not_found",
        &format!("no permit {number} is on record"),
    )
}

/// [`not_on_record`] for a scan: the 查无此证 page when the client wants HTML.
fn not_on_record_page(number: &PermitNumber, html: bool) -> Response<Body> {
    with_page(
        not_on_record(number),
        html,
        "查无此证",
        "未查询到该综合许可凭证，请核对或联系房山区政务服务局。",
    )
}

/// A scanned code that cannot be read: `response` (a 400), or the 无法验证 page.
fn unreadable_page(response: Response<Body>, html: bool) -> Response<Body> {
    with_page(
        response,
        html,
        "无法验证",
        "二维码内容无法识别，可能已损坏或被篡改。",
    )
}

fn internal() -> Response<Body> {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "index and records disagree",
    )
}

/// Whether a scanned payload text is the issued one: exact (as printed, upper case: one
/// `memcmp`) or equal but for case (some scanner apps lower-case URLs).
#[inline]
fn matches_scan(issued: &[u8; PAYLOAD_CHARS], scanned: &[u8]) -> bool {
    issued[..] == *scanned || issued.eq_ignore_ascii_case(scanned)
}

/// The signed payload text the writer issued for `version` of `permit` (current or superseded).
#[inline]
fn issued_payload(permit: &ArchivedPermit, version: u32) -> Option<&[u8; PAYLOAD_CHARS]> {
    if version == permit.version() {
        return permit.seal.as_ref()?.qr.as_ref();
    }
    permit
        .superseded_versions
        .iter()
        .find(|v| v.version.to_native() == version)?
        .qr
        .as_ref()
}

fn not_ready() -> Response<Body> {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "no verified snapshot is loaded yet; retry shortly",
    );
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn cached(body: Bytes) -> Response<Body> {
    respond_with(StatusCode::OK, JSON, CATALOGUE_CACHE, body)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    respond_with(status, TEXT, NO_STORE, Bytes::from_static(text.as_bytes()))
}

/// A JSON error answer: status, stable code, human sentence.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    respond_with(
        status,
        JSON,
        NO_STORE,
        Bytes::from(error_body(code, message)),
    )
}

/// Replaces a JSON error's body with a page for people when the client wants HTML.
fn with_page(response: Response<Body>, html: bool, title: &str, message: &str) -> Response<Body> {
    if !html {
        return response;
    }
    let status = response.status();
    respond_with(
        status,
        HTML,
        NO_STORE,
        Bytes::from(html::error_page(title, message)),
    )
}
