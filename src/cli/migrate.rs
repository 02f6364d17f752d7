//! `dunner migrate`: apply the embedded migrations to the ledger.

use super::{Exit, fail};
use crate::store::Store;

pub fn run(database: &str) -> Exit {
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let shown = redact_password(database);
    let result = runtime.block_on(async {
        let store = Store::open(database).await?;
        store.migrate().await
    });
    match result {
        Ok(()) => {
            eprintln!("migrated {shown}");
            Exit::Ok
        }
        Err(error) => fail(Exit::Failure, format!("failed to migrate {shown}: {error}")),
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn a_password_in_a_database_url_is_never_shown() {
        assert_eq!(
            redact_password("postgres://dunner:hunter2@db:5432/ledger"),
            "postgres://dunner:***@db:5432/ledger"
        );
        assert_eq!(redact_password("sqlite://dunner.db"), "sqlite://dunner.db");
    }
}
