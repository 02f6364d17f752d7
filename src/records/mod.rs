//! Records management (issue 16): how long what the agency learns about a consumer is
//! kept, which accounts may have their personal data removed, and the legal holds that
//! stop it.
//!
//! Pure: no I/O, no clock (the instant to judge at is a parameter). The store gathers a
//! [`Candidate`] per account and the holds in force; [`select`] says which accounts a
//! purge may touch and why; [`scrub`] says what an account's rows look like after it.
//!
//! Regulation F keeps records that evidence compliance from the start of collection until
//! three years after the last collection activity on the debt (12 CFR 1006.100(a)); the
//! floor here is that rule, and a configuration may only lengthen it.

pub mod retention;
pub mod scrub;

pub use retention::{
    Candidate, FLOOR_YEARS, Hold, HoldKind, HoldScope, Keep, PurgeRule, RetentionConfig,
    RetentionYears, Selected, Verdict, judge, retention_end, select,
};
