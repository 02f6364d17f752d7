//! A rule as decisions cite it: its id, pack, citation and message.
//!
//! The compiled policy makes one per rule and every refusal, warning, plan and audit
//! line shares it: a decision's reason is one reference count, not four (the texts
//! and their counts were the largest share of a refused decision's instructions after
//! the rules themselves). On the wire it is the plain object of its four texts.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::SharedText;

/// A [`ReasonText`] shared with the compiled policy: the texts are read through it
/// (`reason.rule`, `reason.citation`), and a refusal copies one pointer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reason(Arc<ReasonText>);

/// A decision's refusing rules: inline up to two (most refusals have one or two), so a
/// decision allocates nothing for them.
pub type Reasons = smallvec::SmallVec<[Reason; 2]>;

/// One rule that refused (or warned), with its source in law.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReasonText {
    /// The rule id.
    #[schema(value_type = String)]
    pub rule: SharedText,
    /// The pack id.
    #[schema(value_type = String)]
    pub pack: SharedText,
    /// The citation of the rule.
    #[schema(value_type = String)]
    pub citation: SharedText,
    /// What a person is told.
    #[schema(value_type = String)]
    pub message: SharedText,
}

impl Reason {
    /// A reason of its four texts.
    pub fn new(
        rule: impl Into<SharedText>,
        pack: impl Into<SharedText>,
        citation: impl Into<SharedText>,
        message: impl Into<SharedText>,
    ) -> Reason {
        Reason(Arc::new(ReasonText {
            rule: rule.into(),
            pack: pack.into(),
            citation: citation.into(),
            message: message.into(),
        }))
    }
}

impl Deref for Reason {
    type Target = ReasonText;

    fn deref(&self) -> &ReasonText {
        &self.0
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl utoipa::PartialSchema for Reason {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ReasonText as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for Reason {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Reason")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_the_object_of_its_four_texts_on_the_wire() {
        let reason = Reason::new(
            "reg-f.call-frequency",
            "reg-f",
            "12 CFR 1006.14(b)",
            "7 in 7",
        );
        let json = serde_json::to_value(&reason).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "rule": "reg-f.call-frequency",
                "pack": "reg-f",
                "citation": "12 CFR 1006.14(b)",
                "message": "7 in 7",
            })
        );
        let back: Reason =
            serde_json::from_value(json).unwrap_or_else(|_| Reason::new("", "", "", ""));
        assert_eq!(back, reason);
        // A missing text is an error, not an empty string.
        assert!(
            serde_json::from_str::<Reason>(r#"{"rule":"a","pack":"b","citation":"c"}"#).is_err()
        );
    }
}
