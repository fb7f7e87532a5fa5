//! What a request reads, and the function that answers it: [`Resolver::respond`], one request in,
//! one response out, with no socket (the handler benchmark calls it directly).
//!
//! The snapshot is installed once, after verification; until then data routes answer 503 and
//! `/readyz` says not ready. Reads take no lock: `OnceLock::get` is one atomic load.

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use memmap2::Mmap;

use crate::answer::html;
use crate::answer::json::{error_body, IndustryGuide, PermitView};
use crate::catalog::Catalog;
use crate::codes::PermitNumber;
use crate::domain::permit::ArchivedPermit;
use crate::domain::Date;
use crate::limits::REQUEST_PATH_BYTES_MAX;
use crate::qr::Token;
use crate::server::metrics::{Metrics, SnapshotGauges, ThreadCounters};
use crate::server::negotiate::prefers_html;
use crate::server::router::{route, Route, NO_ROUTE};
use crate::snapshot::index::Location;
use crate::snapshot::{Snapshot, SnapshotBytes};

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
    fn today(self) -> Date {
        match self {
            Clock::System => Date::today_in_beijing(),
            Clock::Fixed(date) => date,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a snapshot is installed already")]
pub struct AlreadyInstalled;

pub struct Resolver<B: SnapshotBytes = Mmap> {
    catalog: Catalog,
    snapshot: OnceLock<Snapshot<B>>,
    clock: Clock,
    industries_body: Bytes,
    /// Index = category − 1.
    industry_bodies: Vec<Bytes>,
    metrics: Metrics,
}

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
            snapshot: OnceLock::new(),
            clock,
            industries_body,
            industry_bodies,
        }
    }

    /// Installs the verified snapshot that every later request reads.
    ///
    /// # Errors
    /// [`AlreadyInstalled`] if one is installed already (swapping comes with the writer path);
    /// the new one is dropped.
    pub fn install(&self, snapshot: Snapshot<B>) -> Result<(), AlreadyInstalled> {
        self.snapshot.set(snapshot).map_err(|_| AlreadyInstalled)
    }

    pub fn snapshot(&self) -> Option<&Snapshot<B>> {
        self.snapshot.get()
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
        self.snapshot.get().is_some()
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
        let gauges = self.snapshot.get().map(|s| {
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
        let Some(snapshot) = self.snapshot.get() else {
            return not_ready();
        };
        let number = match PermitNumber::parse(text) {
            Ok(n) => n,
            Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_number", &e.to_string()),
        };
        match snapshot.locate(&number) {
            Some(location) => self.answer(snapshot, location, None, false),
            None => error(
                StatusCode::NOT_FOUND,
                "permit_not_found",
                &format!("no permit {number} is on record"),
            ),
        }
    }

    /// A QR scan: a permit number (current version) or a token (one version).
    fn scan(&self, text: &str, html: bool) -> Response<Body> {
        let Some(snapshot) = self.snapshot.get() else {
            return with_page(not_ready(), html, "无法验证", "服务正在启动，请稍后再扫。");
        };
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
                    return match snapshot.locate(&number) {
                        Some(location) => self.answer(snapshot, location, None, html),
                        None => with_page(
                            error(
                                StatusCode::NOT_FOUND,
                                "permit_not_found",
                                &format!("no permit {number} is on record"),
                            ),
                            html,
                            "查无此证",
                            "未查询到该综合许可凭证，请核对或联系房山区政务服务局。",
                        ),
                    };
                }
                // A token can look like a number by chance: try it before refusing.
                Err(e)
                    if Token::decode(text)
                        .and_then(|t| snapshot.get_by_token(&t))
                        .is_none() =>
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
            return with_page(
                error(
                    StatusCode::BAD_REQUEST,
                    "malformed_token",
                    "the QR token is neither a permit number nor a 16-character base32 token",
                ),
                html,
                "无法验证",
                "二维码内容无法识别，可能已损坏或被篡改。",
            );
        };
        match snapshot.locate_token(&token) {
            Some((location, version)) => self.answer(snapshot, location, Some(version), html),
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
