//! The error responses the handlers name in their `#[utoipa::path]` attributes
//! (`response = BadRequest`): OpenAPI response components in the API's one error shape.
//! Apart from [`super::openapi`], which lists the handlers, so that neither imports the
//! other both ways.

use utoipa::ToResponse;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

/// An error response in the API's one shape, as a reusable response component.
fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .into()
}

macro_rules! error_responses {
    ($($name:ident: $description:literal,)*) => {$(
        #[doc = $description]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                (stringify!($name), error_response($description))
            }
        }
    )*};
}

error_responses! {
    BadRequest: "`invalid_request`: malformed JSON, an unknown or missing field, or a value out of range; `field` names it",
    Unauthorized: "`unauthorized`: no API key, or not a live one",
    Forbidden: "`forbidden`: the API key lacks the scope the route needs",
    NotFound: "`not_found`: the account does not exist",
    TooLarge: "`body_too_large`: the body is over the route's limit (1 MiB; 32 MiB for the bulk import)",
    Conflict: "`conflict`: the request contradicts the ledger (an outcome already known or reported too late, a notice that cannot be replayed); nothing was written",
    Unprocessable: "`unprocessable`: well-formed, but cannot apply to the stored account; `field` names the cause",
    Internal: "`internal`: an internal error (the body carries no details; the cause is logged)",
    Unavailable: "`unavailable`: the ledger is unreachable or shutting down",
}
