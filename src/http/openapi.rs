//! The OpenAPI 3.1 document of the API, generated from the code: the handlers'
//! `#[utoipa::path]` attributes and the `ToSchema` derives of their bodies, collected by
//! the route list the router is built from (`route_list` in `http/mod.rs`), into the
//! frame [`ApiDoc`] gives (info, tags, shared responses, the security scheme).
//!
//! `GET /openapi.json` serves it (open, like the health probes) and `openapi.json` at
//! the repository root is the committed copy. The test `openapi` in `tests/it` fails when
//! the two drift apart or when a documented route is not served with exactly its
//! methods; `DUNNER_UPDATE_OPENAPI=1 cargo test --test it openapi` rewrites the committed
//! copy.
//!
//! Types with hand-written serde say here what their JSON really is ([`OptOut`] and
//! [`TimeOfDay`] are strings); fields with custom serde override their schema where
//! they are declared (`#[schema(value_type = String)]`).

use std::borrow::Cow;
use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::error::ApiError;
use super::responses::{
    BadRequest, Conflict, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable,
    Unprocessable,
};
use crate::domain::{OptOut, TimeOfDay};

/// The frame of the API's OpenAPI document: its info, tags, shared components and security
/// scheme. The paths come from the route list (`http::route_list`), which starts from it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "dunner",
        description = "Compliance-aware contact scheduling for debt collection: store accounts and \
                       their ledger, ask whether a contact may happen now (and if not, when), and \
                       record attempts atomically against the policy's caps.\n\n\
                       Every `/v1` route needs an API key, sent as `Authorization: Bearer dunner_…`, \
                       with the scope its description names (`decide` to ask and read, `record` to \
                       write; `admin` has both). Errors share one JSON shape, `Error`."
    ),
    components(
        schemas(super::error::ErrorBody),
        responses(
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        Unprocessable,
        Conflict,
        Internal,
        Unavailable
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Probes, metrics and this document; open (no API key)"),
        (name = "accounts", description = "The accounts in collection"),
        (name = "ledger", description = "The append-only ledger of each account"),
        (name = "decisions", description = "May we contact this account now, and if not, when?"),
        (name = "policy", description = "The rule packs in force"),
        (name = "reports", description = "Contacts, refusals, caps, holds, aging, right-party contacts and promises over a period; one account's permitted windows"),
        (name = "plans", description = "What the strategies plan for an account, and why"),
        (name = "records", description = "Retention (12 CFR 1006.100), purges of personal data, and the legal holds that stop them; admin only"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the `/v1` routes name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("dunner_<id>_<secret>")
                    .description(Some(
                        "An API key from `dunner keys create` or `[[keys]]` in `dunner.toml`. \
                         The scopes listed with each operation are the key's scopes it needs.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as committed and served: pretty-printed, ending with a newline.
pub fn document() -> Result<String, serde_json::Error> {
    let mut document = serde_json::to_value(super::documented())?;
    if let Some(serde_json::Value::Object(paths)) = document.get_mut("paths") {
        paths.values_mut().for_each(|path| forbid_nul(path, NO_NUL));
    }
    if let Some(serde_json::Value::Object(schemas)) = document.pointer_mut("/components/schemas") {
        schemas
            .iter_mut()
            // An error message may quote the input it refuses.
            .filter(|(name, _)| name.as_str() != "Error")
            .for_each(|(_, schema)| forbid_nul(schema, NO_NUL));
    }
    serde_json::to_string_pretty(&document).map(|json| json + "\n")
}

/// A string without NUL characters.
const NO_NUL: &str = "^[^\\u0000]*$";

/// A query parameter's value: not empty (`?account=` is refused, not read as absent) and
/// without NUL characters.
const NO_NUL_NOT_EMPTY: &str = "^[^\\u0000]+$";

/// Every string the API takes refuses a NUL character (U+0000) with a 400 (no store keeps
/// one), and a query parameter an empty value; every string schema that says nothing
/// narrower says so with a pattern, so that a client's validator and the daemon agree.
fn forbid_nul(value: &mut serde_json::Value, pattern: &'static str) {
    match value {
        serde_json::Value::Object(map) => {
            let pattern = if map.get("in").is_some_and(|place| place == "query") {
                NO_NUL_NOT_EMPTY
            } else {
                pattern
            };
            let is_string = match map.get("type") {
                Some(serde_json::Value::String(ty)) => ty == "string",
                Some(serde_json::Value::Array(types)) => types.iter().any(|t| t == "string"),
                _ => false,
            };
            let narrowed = ["pattern", "enum", "const", "format"]
                .iter()
                .any(|key| map.contains_key(*key));
            if is_string && !narrowed {
                map.insert("pattern".into(), pattern.into());
            }
            map.values_mut()
                .for_each(|inner| forbid_nul(inner, pattern));
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|item| forbid_nul(item, pattern))
        }
        _ => {}
    }
}

/// Built once; the document cannot change while the process runs.
static DOCUMENT: LazyLock<Result<String, String>> =
    LazyLock::new(|| document().map_err(|error| error.to_string()));

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    description = "This document (OpenAPI 3.1). Open (no API key).",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json",
         body = Object),
        (status = 500, response = Internal)))]
pub async fn serve() -> Response {
    match &*DOCUMENT {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        Err(error) => ApiError::internal(error.clone()).into_response(),
    }
}

impl PartialSchema for OptOut {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "What the consumer asked us not to use: a channel name (`call`, `sms`, `email`, \
                 `letter`, `visit`) opts out of the whole channel; any other string is one phone \
                 number or email address.",
            ))
            .examples([serde_json::json!("sms"), serde_json::json!("+12125550100")])
            .into()
    }
}

impl ToSchema for OptOut {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("OptOut")
    }
}

impl PartialSchema for TimeOfDay {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A local wall-clock time, `HH:MM` on a 24-hour clock, `00:00` to `24:00` \
                 (`24:00` is the end of the day).",
            ))
            .pattern(Some("^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"))
            .examples([serde_json::json!("21:00")])
            .into()
    }
}

impl ToSchema for TimeOfDay {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TimeOfDay")
    }
}
