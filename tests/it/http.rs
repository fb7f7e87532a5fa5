//! The resolver's routes through a real HTTP client against a server on 127.0.0.1.

use std::sync::Arc;

use permitd::catalog::Catalog;
use permitd::qr::Token;
use permitd::server::resolver::Clock;
use permitd::server::Resolver;

use crate::support::{as_of, get, TestServer};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[test]
fn a_permit_lookup_returns_face_state_and_every_licence() {
    // GET /v1/permits/{number} answers the JSON a partner system reads, for each state kind.
    let server = TestServer::start(3000);
    for state in ["valid", "partial", "void"] {
        let permit = server.find(state);
        let answer = get(&server.url(&format!("/v1/permits/{}", permit.number)), None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, "application/json");
        let json = answer.json();
        assert_eq!(json["number"], permit.number.as_str());
        assert_eq!(json["version"], permit.version);
        assert_eq!(json["state"]["code"], state);
        assert_eq!(json["face"]["operator_name"], permit.operator_name.as_str());
        assert_eq!(json["face"]["uscc"], permit.uscc.as_str());
        assert!(
            json.get("answer_valid_through").is_some(),
            "the answer says how long it holds"
        );
        assert_eq!(json["snapshot_sequence"], server.sequence);
        let licences = json["licences"].as_array().unwrap();
        assert_eq!(licences.len(), permit.licences.len());
        for (got, want) in licences.iter().zip(&permit.licences) {
            assert_eq!(got["type"], format!("L{:02}", want.licence_type.0));
            assert!(!got["name"].as_str().unwrap().is_empty());
            assert!(!got["department"].as_str().unwrap().is_empty());
            assert_eq!(
                got["certificate_number"].as_str(),
                want.certificate_number.as_deref()
            );
            assert_eq!(got["on_commitment"], want.on_commitment);
        }
        match state {
            "void" => assert!(json["state"]["void"]["by"].is_string()),
            "partial" => assert!(json["state"]["not_in_force"].as_u64().unwrap() >= 1),
            _ => assert!(json["state"].get("void").is_none()),
        }
    }
}

#[test]
fn unpermitted_items_are_listed() {
    // A partial permit's 未许可事项 appear by name and department.
    let server = TestServer::start(3000);
    let permit = server
        .permits
        .iter()
        .find(|p| {
            p.licences
                .iter()
                .any(|l| l.state == permitd::domain::LicenceState::NotGranted)
        })
        .expect("the data set has a permit with an unpermitted item");
    let json = get(&server.url(&format!("/v1/permits/{}", permit.number)), None).json();
    let items = json["unpermitted_items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|i| i["name"].is_string() && i["department"].is_string()));
}

#[test]
fn malformed_numbers_get_400_naming_the_problem_and_unknown_ones_404() {
    // Bad input gets a clear JSON error; a well-formed number not on record is not found.
    let server = TestServer::start(500);
    let valid = server.permits[0].number.to_string();
    let mut wrong_check = valid.clone();
    let last = wrong_check.pop().unwrap();
    wrong_check.push(if last == '0' { '1' } else { '0' });
    for (number, words) in [
        ("110111ZH03", "16 characters"),
        (wrong_check.as_str(), "check character"),
        ("110111XX0300001M", "ZH"),
    ] {
        let answer = get(&server.url(&format!("/v1/permits/{number}")), None);
        assert_eq!(answer.status, 400, "{number}");
        assert_eq!(answer.error_code(), "malformed_number");
        let message = answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase();
        assert!(
            message.contains(&words.to_lowercase()),
            "{number}: {message}"
        );
    }
    let unknown = permitd::codes::PermitNumber::new(110111, 39, 99_998).unwrap();
    let answer = get(&server.url(&format!("/v1/permits/{unknown}")), None);
    assert_eq!(answer.status, 404);
    assert_eq!(answer.error_code(), "permit_not_found");
}

#[test]
fn a_qr_scan_gives_browsers_the_page_and_programs_json() {
    // /q/ negotiates: the citizen page for text/html, the same facts as JSON otherwise.
    let server = TestServer::start(2000);
    let permit = server.find("valid");
    let url = server.url(&format!("/q/{}", permit.number));
    let page = get(&url, Some(BROWSER));
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("有效"));
    assert!(page.body.contains(&permit.operator_name));
    assert!(page.body.contains("data-state=\"valid\""));
    let json = get(&url, Some("*/*")).json();
    assert_eq!(json["state"]["code"], "valid");
    assert_eq!(json["number"], permit.number.as_str());
    // QR alphanumeric mode is upper case: /Q/ and any letter case scan the same.
    let shouted = server.url(&format!("/Q/{}", permit.number.as_str().to_lowercase()));
    assert_eq!(get(&shouted, None).json()["number"], permit.number.as_str());
    let response = crate::support::client().get(&url).call().unwrap();
    assert_eq!(response.headers().get("vary").unwrap(), "accept");
}

#[test]
fn an_old_versions_token_says_superseded_and_the_current_one_does_not() {
    // A token names a version: scanning the old paper certificate says which version replaced it.
    let server = TestServer::start(3000);
    let permit = server
        .permits
        .iter()
        .find(|p| p.version > 1)
        .expect("a reissued permit");
    let old = Token::for_version(&permit.number, 1).encode();
    let json = get(&server.url(&format!("/q/{old}")), None).json();
    assert_eq!(json["state"]["code"], "superseded");
    assert_eq!(json["state"]["superseded_by_version"], permit.version);
    assert_eq!(json["scanned_version"], 1);
    let current = Token::for_version(&permit.number, permit.version).encode();
    let json = get(&server.url(&format!("/q/{}", current.to_lowercase())), None).json();
    assert_ne!(json["state"]["code"], "superseded");
    let page = get(&server.url(&format!("/q/{old}")), Some(BROWSER));
    assert!(page.body.contains("已换发"));
}

#[test]
fn forged_and_unknown_qr_tokens_are_refused() {
    // A token that decodes but names nothing is 404; one that does not decode is 400, in both forms.
    let server = TestServer::start(500);
    let unknown = Token([0xAB; 10]).encode();
    let answer = get(&server.url(&format!("/q/{unknown}")), None);
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (404, "token_not_found")
    );
    let answer = get(&server.url("/q/not-a-token!"), None);
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (400, "malformed_token")
    );
    let page = get(&server.url("/q/not-a-token!"), Some(BROWSER));
    assert_eq!(page.status, 400);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("无法验证"));
}

#[test]
fn the_catalogue_is_served_as_the_one_time_notification_guide() {
    // /v1/industries lists 40 industries; /v1/industries/03 is the restaurant's guide.
    let server = TestServer::start(100);
    let json = get(&server.url("/v1/industries"), None).json();
    assert_eq!(json["industries"].as_array().unwrap().len(), 40);
    let restaurant = get(&server.url("/v1/industries/03"), None).json();
    assert_eq!(restaurant["name"], "餐饮店");
    let must = restaurant["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["obligation"] == "must")
        .unwrap();
    let names: Vec<&str> = must["licences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"食品经营许可证"), "{names:?}");
    for code in ["00", "41", "3", "abc"] {
        let answer = get(&server.url(&format!("/v1/industries/{code}")), None);
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (404, "unknown_industry"),
            "{code}"
        );
    }
}

#[test]
fn unknown_routes_and_methods_get_json_errors() {
    // Anything off the route table is a JSON 404; a POST to a GET route is a 405 with Allow.
    let server = TestServer::start(100);
    let answer = get(&server.url("/nope"), None);
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (404, "route_not_found")
    );
    let mut response = crate::support::client()
        .post(&server.url("/v1/industries"))
        .send("x")
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers().get("allow").unwrap(), "GET, HEAD");
    let body = response.body_mut().read_to_string().unwrap();
    assert!(body.contains("method_not_allowed"));
}

#[test]
fn readiness_waits_for_a_verified_snapshot() {
    // Before a snapshot is installed: healthz 200, readyz 503, data routes 503 not_ready.
    let resolver = Arc::new(Resolver::new(
        Catalog::embedded().unwrap(),
        Clock::Fixed(as_of()),
    ));
    let server = TestServer::serving(resolver, Vec::new(), 0);
    assert_eq!(get(&server.url("/healthz"), None).status, 200);
    assert_eq!(get(&server.url("/readyz"), None).status, 503);
    let answer = get(&server.url("/v1/permits/110111ZH0300042F"), None);
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (503, "not_ready")
    );
    let ready = TestServer::start(10);
    assert_eq!(get(&ready.url("/readyz"), None).status, 200);
}

#[test]
fn shutdown_finishes_in_flight_connections_and_returns() {
    // After the shutdown signal the server stops accepting and serve() returns cleanly.
    let server = TestServer::start(100);
    let addr = server.addr;
    assert_eq!(get(&server.url("/healthz"), None).status, 200);
    assert_eq!(server.stop(), permitd::server::listener::Drained::Cleanly);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed"
    );
}

#[test]
fn an_oversized_request_head_is_refused() {
    // A request head beyond the limit is cut off by the server (431 or connection closed).
    use std::io::{Read, Write};
    let server = TestServer::start(10);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let huge = "x".repeat(permitd::limits::REQUEST_HEAD_BYTES_MAX * 2);
    let _ = write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: {huge}\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(80)]
    );
}

#[test]
fn metrics_count_requests_by_route_and_status() {
    // /metrics is Prometheus text: the requests just made appear under their route and status.
    let server = TestServer::start(200);
    let number = server.permits[0].number.to_string();
    for _ in 0..3 {
        assert_eq!(
            get(&server.url(&format!("/v1/permits/{number}")), None).status,
            200
        );
    }
    assert_eq!(get(&server.url("/v1/permits/110111ZH03"), None).status, 400);
    let answer = get(&server.url("/metrics"), None);
    assert_eq!(answer.status, 200);
    assert!(answer.content_type.starts_with("text/plain"));
    let text = answer.body;
    assert!(
        text.contains("permitd_http_requests_total{route=\"permit\",status=\"200\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("permitd_http_requests_total{route=\"permit\",status=\"400\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(&format!("permitd_snapshot_sequence {}", server.sequence)),
        "{text}"
    );
    assert!(text.contains("permitd_snapshot_permits 200"));
    assert!(text.contains("# TYPE permitd_http_request_duration_seconds histogram"));
    assert!(text.contains("permitd_open_connections"));
}
