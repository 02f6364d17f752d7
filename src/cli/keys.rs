//! `dunner keys create`: issue an API key; the token goes to standard output once.

use super::{Exit, fail};
use crate::auth::{Scope, issue};
use crate::clock::{Clock, SystemClock};
use crate::store::Store;

pub fn create(database: &str, name: &str, scopes: &[Scope]) -> Exit {
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let key = issue();
    let result = runtime.block_on(async {
        let store = Store::open(database).await?;
        store.migrate().await?;
        crate::service::add_api_key(&store, &key, name, scopes, SystemClock.now()).await
    });
    match result {
        Ok(()) => {
            outln!("{}", key.token);
            let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            eprintln!(
                "created API key `{name}` ({}) with scopes {}; the token above is not shown again",
                key.id,
                scopes.join(", ")
            );
            Exit::Ok
        }
        Err(error) => fail(
            Exit::Failure,
            format!("failed to create the API key: {error}"),
        ),
    }
}
