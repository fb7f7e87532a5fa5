//! The OpenAPI document in docs/ and the router stay in step.

use permitd::server::router::ROUTE_TEMPLATES;

use crate::support::{get, TestServer};

fn document() -> serde_json::Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_route_is_documented_and_every_documented_path_is_a_route() {
    // The set of paths in docs/openapi.json equals the router's table.
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut routed: Vec<&str> = ROUTE_TEMPLATES.to_vec();
    documented.sort_unstable();
    routed.sort_unstable();
    assert_eq!(documented, routed);
}

#[test]
fn each_documented_path_answers_with_a_documented_status() {
    // Requesting every documented path with its example parameters reaches the route (not the
    // route_not_found fallback) and answers with a status the document lists for it.
    let server = TestServer::start(200);
    let doc = document();
    let example_number = server.permits[0].number.to_string();
    for (template, item) in doc["paths"].as_object().unwrap() {
        let operation = &item["get"];
        let mut path = template.clone();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] != "path" {
                continue;
            }
            let name = parameter["name"].as_str().unwrap();
            let value = match name {
                "number" | "token" => example_number.clone(),
                _ => parameter["example"].as_str().unwrap().to_owned(),
            };
            path = path.replace(&format!("{{{name}}}"), &value);
        }
        let answer = get(&server.url(&path), None);
        let statuses = operation["responses"].as_object().unwrap();
        assert!(
            statuses.contains_key(&answer.status.to_string()),
            "{path} answered {} which {template} does not document",
            answer.status
        );
        if answer.content_type == "application/json" && answer.status >= 400 {
            assert_ne!(answer.error_code(), "route_not_found", "{path}");
        }
    }
}

#[test]
fn documented_error_codes_cover_the_ones_the_server_uses() {
    // Every error code the resolver source emits is in the Error schema's enum.
    let doc = document();
    let codes: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let source = include_str!("../../src/server/resolver.rs");
    let mut used = Vec::new();
    for piece in source.split("error(").skip(1) {
        // error(StatusCode::X, "code", …)
        if let Some(code) = piece.split('"').nth(1) {
            if code.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !code.is_empty() {
                used.push(code);
            }
        }
    }
    assert!(used.len() >= 8, "found {used:?}");
    for code in used {
        assert!(codes.contains(&code), "{code} is not documented");
    }
}
