//! `dunner keys create|list|revoke`: issue an API key (the token goes to standard output
//! once), list the stored keys without their secrets, revoke one.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::{Exit, fail};
use crate::auth::{Access, Scope, issue};
use crate::clock::{Clock, SystemClock};
use crate::store::{KeyListing, Store};

/// When a new key stops working: `--expires-in DAYS` or `--expires-at INSTANT` (never
/// both; clap refuses that).
#[derive(Debug, Default)]
pub struct Expiry {
    /// Days from now.
    pub in_days: Option<u32>,
    /// An RFC 3339 instant or a date (its midnight UTC).
    pub at: Option<String>,
}

impl Expiry {
    fn resolve(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
        if let Some(days) = self.in_days {
            return Ok(Some(now + TimeDelta::days(i64::from(days))));
        }
        let Some(text) = self.at.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let at = DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc())
            })
            .map_err(|_| {
                format!(
                    "--expires-at: `{text}` is neither an RFC 3339 instant (2026-12-31T18:00:00Z) nor a date (2026-12-31)"
                )
            })?;
        if at <= now {
            return Err(format!("--expires-at: {text} is not in the future"));
        }
        Ok(Some(at))
    }
}

async fn open(database: &str) -> Result<Store, crate::store::StoreError> {
    let store = Store::open(database).await?;
    store.migrate().await?;
    Ok(store)
}

pub fn create(
    database: &str,
    name: &str,
    scopes: &[Scope],
    clients: &[String],
    expiry: Expiry,
) -> Exit {
    for client in clients {
        if let Err(message) = crate::domain::check_client_id(client) {
            return fail(Exit::Usage, format!("--client `{client}`: {message}"));
        }
    }
    let access = Access::limited_to(clients.iter().cloned());
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let now = SystemClock.now();
    let expires_at = match expiry.resolve(now) {
        Ok(at) => at,
        Err(message) => return fail(Exit::Usage, message),
    };
    let key = issue();
    let result = runtime.block_on(async {
        let store = open(database).await?;
        crate::service::add_api_key_within(&store, &key, name, scopes, &access, now).await?;
        if expires_at.is_some() {
            store.set_api_key_expiry(&key.id, expires_at).await?;
        }
        Ok::<_, crate::store::StoreError>(())
    });
    match result {
        Ok(()) => {
            outln!("{}", key.token);
            let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            let until = expires_at.map_or(String::new(), |at| {
                format!(
                    ", until {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            });
            let reach = access.clients().map_or(String::new(), |clients| {
                format!(", limited to clients {}", clients.join(", "))
            });
            eprintln!(
                "created API key `{name}` ({}) with scopes {}{reach}{until}; the token above is not shown again",
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

pub fn list(database: &str, json: bool) -> Exit {
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let keys = match runtime.block_on(async { open(database).await?.list_api_keys().await }) {
        Ok(keys) => keys,
        Err(error) => {
            return fail(
                Exit::Failure,
                format!("failed to list the API keys: {error}"),
            );
        }
    };
    let now = SystemClock.now();
    if json {
        for key in &keys {
            match serde_json::to_string(key) {
                Ok(line) => outln!("{line}"),
                Err(error) => {
                    return fail(Exit::Failure, format!("failed to write a key: {error}"));
                }
            }
        }
        return Exit::Ok;
    }
    let day = |at: Option<DateTime<Utc>>, none: &str| {
        at.map_or(none.to_string(), |at| {
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    };
    let header = [
        "NAME",
        "ID",
        "SCOPES",
        "CLIENTS",
        "CREATED",
        "LAST USED",
        "EXPIRES",
        "STATE",
    ];
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|key| {
            vec![
                key.name.clone(),
                key.id.clone(),
                key.scopes.join(","),
                key.clients
                    .as_ref()
                    .map_or("all".to_string(), |c| c.join(",")),
                day(Some(key.created_at), ""),
                day(key.last_used_at, "never"),
                day(key.expires_at, "never"),
                state(key, now).to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(column, title)| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(String::len)
                .fold(title.len(), usize::max)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    outln!("{}", line(header.to_vec()));
    for row in &rows {
        outln!("{}", line(row.iter().map(String::as_str).collect()));
    }
    if keys.is_empty() {
        eprintln!(
            "no API keys are stored in the ledger (keys of the configuration file are not listed)"
        );
    }
    Exit::Ok
}

fn state(key: &KeyListing, now: DateTime<Utc>) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "live"
    }
}

pub fn revoke(database: &str, id: &str) -> Exit {
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let now = SystemClock.now();
    match runtime.block_on(async { open(database).await?.revoke_api_key(id, now).await }) {
        Ok(true) => {
            eprintln!("revoked API key `{id}`; it is refused from now on");
            Exit::Ok
        }
        Ok(false) => fail(
            Exit::Failure,
            format!("no live API key has the id `{id}` (see `dunner keys list`)"),
        ),
        Err(error) => fail(
            Exit::Failure,
            format!("failed to revoke the API key: {error}"),
        ),
    }
}
