//! The OpenAPI document: generated from the code, committed as `openapi.json`, served
//! at `GET /openapi.json`, and built from the router's own route list.
//!
//! `DUNNER_UPDATE_OPENAPI=1 cargo test --test it openapi` rewrites the committed file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dunner::http::{AppState, Server, router};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::store_conformance::TestStore;

const REGENERATE: &str = "DUNNER_UPDATE_OPENAPI=1 cargo test --test it openapi";

/// The methods a route may answer (HEAD follows GET in axum, so it is not listed).
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// Whether this run rewrites `openapi.json` instead of checking it.
fn updating() -> bool {
    std::env::var_os("DUNNER_UPDATE_OPENAPI").is_some()
}

fn generated() -> String {
    dunner::http::openapi::document().unwrap()
}

async fn state() -> (AppState, TestStore) {
    crate::api::app_state(false).await
}

/// The documented operations: path → methods (lower case).
fn documented(document: &Value) -> BTreeMap<String, BTreeSet<String>> {
    document["paths"]
        .as_object()
        .expect("the document has paths")
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| method.to_string())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = generated();
    let path = committed_path();
    if updating() {
        // Write and rename, so that a test reading the file meanwhile sees either whole.
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, &generated).unwrap();
        std::fs::rename(&temporary, &path).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "openapi.json is out of date with the code (first difference at line {}): \
             regenerate it with `{REGENERATE}`, review the diff and commit it",
            line + 1
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_with_bearer_auth_and_the_crate_version() {
    let document: Value = serde_json::from_str(&generated()).unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "dunner");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    // Every `/v1` operation names the bearer scheme with its scope; the rest are open.
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let security = &operation["security"];
            if path.starts_with("/v1/") {
                let scopes = security[0]["bearer"].as_array().unwrap_or_else(|| {
                    panic!("{method} {path} names no bearer security: {security}")
                });
                assert_eq!(scopes.len(), 1, "{method} {path}: {scopes:?}");
                let scope = scopes[0].as_str().unwrap();
                assert!(
                    ["decide", "record", "admin"].contains(&scope),
                    "{method} {path}"
                );
                let description = operation["description"].as_str().unwrap_or_default();
                assert!(
                    description.contains(&format!("`{scope}` scope")),
                    "{method} {path}: the description names the scope: {description}"
                );
                for status in ["401", "403"] {
                    assert!(
                        operation["responses"].get(status).is_some(),
                        "{method} {path} documents {status}"
                    );
                }
            } else {
                assert!(security.is_null(), "{method} {path} is open: {security}");
            }
        }
    }
    // Custom serde is documented as the JSON it really is.
    let schemas = &document["components"]["schemas"];
    for name in ["OptOut", "TimeOfDay"] {
        assert_eq!(schemas[name]["type"], "string", "{name}");
    }
    assert_eq!(
        schemas["Money"]["properties"]["amount"]["type"], "string",
        "{}",
        schemas["Money"]
    );
    assert_eq!(
        schemas["Decision"]["properties"]["time_zones"]["items"]["type"],
        "string"
    );
    assert_eq!(
        schemas["Consumer"]["properties"]["time_zones"]["items"]["type"],
        "string"
    );
    for field in ["code", "message", "field"] {
        assert!(
            schemas["Error"]["properties"].get(field).is_some(),
            "{}",
            schemas["Error"]
        );
    }
}

/// The router and the document are built from one route list (`route_list` in
/// src/http/mod.rs), so every route the router serves is documented by construction;
/// this checks the other way: each documented path is served, answering exactly the
/// documented methods (any other gets 405).
#[tokio::test]
async fn every_documented_route_answers_exactly_its_methods() {
    let (state, _store) = state().await;
    let app = router(state);
    let document: Value = serde_json::from_str(&generated()).unwrap();
    let documented = documented(&document);
    assert!(
        documented.len() >= 15 && documented.contains_key("/v1/accounts/{id}"),
        "{documented:?}"
    );
    // Each path answers exactly the documented methods: any other gets 405.
    for (path, methods) in &documented {
        let concrete = path.replace("{id}", "A-1");
        for method in METHODS {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let status = app.clone().oneshot(request).await.unwrap().status();
            let routed =
                status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::NOT_FOUND;
            assert_eq!(
                routed,
                methods.contains(method),
                "{} {path}: the router answers {status}, the document lists {methods:?}",
                method.to_uppercase()
            );
        }
    }
}

#[tokio::test]
async fn a_real_app_serves_the_committed_document_without_a_key() {
    let (state, _store) = state().await;
    let app = Server::bind("127.0.0.1:0".parse().unwrap(), state)
        .await
        .unwrap();
    let address = app.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET /openapi.json HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    // While the file is being rewritten, the served document must be the generated one.
    let committed = if updating() {
        generated()
    } else {
        std::fs::read_to_string(committed_path()).unwrap()
    };
    assert!(
        body == committed,
        "GET /openapi.json differs from the committed openapi.json: regenerate it with \
         `{REGENERATE}`"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
