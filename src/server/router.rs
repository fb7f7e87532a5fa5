//! Which route a request path names. Matching is by hand on path segments: no allocation, no
//! regular expressions.

/// A matched route, borrowing its parameters from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    Permit {
        number: &'a str,
    },
    QrScan {
        token: &'a str,
    },
    Industries,
    Industry {
        code: &'a str,
    },
    Healthz,
    Readyz,
    Metrics,
    /// `/v1/changes?after=SEQ&limit=N`, with the raw query string.
    Changes {
        query: &'a str,
    },
    Aggregates,
    /// `/v1/permits/{number}/attestation`: the pre-signed JWS.
    Attestation {
        number: &'a str,
    },
    /// `/v1/permits/{number}/qr.svg`
    QrSvg {
        number: &'a str,
    },
    /// `/v1/permits/{number}/qr.png`
    QrPng {
        number: &'a str,
    },
    /// `/v1/permits/{number}/certificate.svg`
    Certificate {
        number: &'a str,
    },
    /// `/.well-known/permitd-keys.json`: the public key set (JWK Set).
    Keys,
}

impl Route<'_> {
    /// The route's position in [`crate::server::metrics::ROUTE_LABELS`].
    pub fn index(&self) -> usize {
        match self {
            Route::Permit { .. } => 0,
            Route::QrScan { .. } => 1,
            Route::Industries => 2,
            Route::Industry { .. } => 3,
            Route::Healthz => 4,
            Route::Readyz => 5,
            Route::Metrics => 6,
            Route::Changes { .. } => 7,
            Route::Aggregates => 8,
            Route::Attestation { .. } => 9,
            Route::QrSvg { .. } => 10,
            Route::QrPng { .. } => 11,
            Route::Certificate { .. } => 12,
            Route::Keys => 13,
        }
    }
}

/// The metrics label index of a request that matched no route.
pub const NO_ROUTE: usize = 14;

/// Every route template, as the OpenAPI document names them. A test keeps the two in step.
pub const ROUTE_TEMPLATES: &[&str] = &[
    "/v1/permits/{number}",
    "/q/{token}",
    "/v1/industries",
    "/v1/industries/{code}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/changes",
    "/v1/aggregates",
    "/v1/permits/{number}/attestation",
    "/v1/permits/{number}/qr.svg",
    "/v1/permits/{number}/qr.png",
    "/v1/permits/{number}/certificate.svg",
    "/.well-known/permitd-keys.json",
];

/// The route `path` names, or `None`. A query string is ignored except where a route reads it.
pub fn route<'a>(path: &'a str) -> Option<Route<'a>> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let rest = path.strip_prefix('/')?;
    let mut segments = rest.splitn(4, '/');
    let first = segments.next()?;
    let second = segments.next();
    let third = segments.next();
    let fourth = segments.next();
    let param = |s: &'a str| (!s.is_empty()).then_some(s);
    match (first, second, third, fourth) {
        ("healthz", None, None, None) => Some(Route::Healthz),
        ("readyz", None, None, None) => Some(Route::Readyz),
        ("metrics", None, None, None) => Some(Route::Metrics),
        // `/Q/` too: a QR code in alphanumeric mode carries the URL in upper case.
        ("q" | "Q", Some(token), None, None) => Some(Route::QrScan {
            token: param(token)?,
        }),
        ("v1", Some("permits"), Some(number), None) => Some(Route::Permit {
            number: param(number)?,
        }),
        ("v1", Some("permits"), Some(number), Some(part)) => {
            let number = param(number)?;
            match part {
                "attestation" => Some(Route::Attestation { number }),
                "qr.svg" => Some(Route::QrSvg { number }),
                "qr.png" => Some(Route::QrPng { number }),
                "certificate.svg" => Some(Route::Certificate { number }),
                _ => None,
            }
        }
        (".well-known", Some("permitd-keys.json"), None, None) => Some(Route::Keys),
        ("v1", Some("industries"), None, None) => Some(Route::Industries),
        ("v1", Some("changes"), None, None) => Some(Route::Changes { query }),
        ("v1", Some("aggregates"), None, None) => Some(Route::Aggregates),
        ("v1", Some("industries"), Some(code), None) => {
            Some(Route::Industry { code: param(code)? })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_its_own_metrics_label() {
        // Route::index and ROUTE_LABELS are kept in two places: this ties them together.
        use crate::server::metrics::ROUTE_LABELS;
        let cases = [
            ("/v1/permits/X", "permit"),
            ("/q/X", "qr_scan"),
            ("/v1/industries", "industries"),
            ("/v1/industries/03", "industry"),
            ("/healthz", "healthz"),
            ("/readyz", "readyz"),
            ("/metrics", "metrics"),
            ("/v1/changes?after=3", "changes"),
            ("/v1/aggregates", "aggregates"),
            ("/v1/permits/X/attestation", "attestation"),
            ("/v1/permits/X/qr.svg", "qr_svg"),
            ("/v1/permits/X/qr.png", "qr_png"),
            ("/v1/permits/X/certificate.svg", "certificate"),
            ("/.well-known/permitd-keys.json", "keys"),
        ];
        assert_eq!(cases.len(), ROUTE_TEMPLATES.len());
        for (path, label) in cases {
            assert_eq!(ROUTE_LABELS[route(path).unwrap().index()], label, "{path}");
        }
        assert_eq!(ROUTE_LABELS[NO_ROUTE], "none");
    }

    #[test]
    fn paths_map_to_routes() {
        // Each route matches its own path shape and nothing longer or shorter.
        let cases: &[(&str, Option<Route>)] = &[
            ("/healthz", Some(Route::Healthz)),
            ("/readyz", Some(Route::Readyz)),
            ("/metrics", Some(Route::Metrics)),
            ("/q/ABC", Some(Route::QrScan { token: "ABC" })),
            ("/q/ABC?utm=x", Some(Route::QrScan { token: "ABC" })),
            ("/Q/ABC", Some(Route::QrScan { token: "ABC" })),
            (
                "/v1/permits/110111ZH0300001M",
                Some(Route::Permit {
                    number: "110111ZH0300001M",
                }),
            ),
            ("/v1/industries", Some(Route::Industries)),
            ("/v1/industries/03", Some(Route::Industry { code: "03" })),
            (
                "/v1/changes?after=5&limit=2",
                Some(Route::Changes {
                    query: "after=5&limit=2",
                }),
            ),
            ("/v1/changes", Some(Route::Changes { query: "" })),
            ("/v1/aggregates", Some(Route::Aggregates)),
            (
                "/v1/permits/N/attestation",
                Some(Route::Attestation { number: "N" }),
            ),
            ("/v1/permits/N/qr.png", Some(Route::QrPng { number: "N" })),
            ("/.well-known/permitd-keys.json", Some(Route::Keys)),
            ("/v1/permits/N/qr.gif", None),
            ("/v1/permits//qr.png", None),
            ("/v1/permits/N/attestation/x", None),
            ("/.well-known/other.json", None),
            ("/q/", None),
            ("/q/A/B", None),
            ("/v1/permits/", None),
            ("/v1/permits/X/extra", None),
            ("/v1/industries/03/x", None),
            ("/", None),
            ("", None),
            ("healthz", None),
            ("/healthz/", None),
        ];
        for (path, expect) in cases {
            assert_eq!(route(path), *expect, "path {path:?}");
        }
    }
}
