//! `dunner ledger check`: the stored rows that no longer pass the parse every entry
//! point uses (accounts written before a check existed, or edited by hand). Nothing is
//! decided on such an account until it is fixed; this lists them with the field at fault.

use super::{Exit, fail};
use crate::store::{Store, StoreError};

pub fn check(database: &str) -> Exit {
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let result = runtime.block_on(async {
        let store = Store::open(database).await?;
        store.ensure_migrated().await?;
        store.invalid_accounts().await
    });
    match result {
        Ok(invalid) if invalid.is_empty() => {
            eprintln!("every stored account is valid");
            Exit::Ok
        }
        Ok(invalid) => {
            for error in &invalid {
                if let StoreError::InvalidStoredAccount { id, field, message } = error {
                    outln!("{id}\t{field}\t{message}");
                }
            }
            fail(
                Exit::Failure,
                format!(
                    "{} stored account(s) are invalid (account, field, problem above); nothing is decided on them until they are fixed",
                    invalid.len()
                ),
            )
        }
        Err(error) => fail(
            Exit::Failure,
            format!("failed to check the ledger: {error}"),
        ),
    }
}
