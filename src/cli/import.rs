//! `dunner import accounts.jsonl [events.jsonl]`: onboard a placement file and its
//! prior contact history, so the caps count what the previous system did. Every line
//! is checked first; one bad line and nothing is written. The write is one
//! transaction.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Exit, fail};
use crate::clock::{Clock, SystemClock};
use crate::domain::{Account, LedgerEvent};
use crate::engine::parse_json_str;
use crate::store::Store;

/// The most rejected lines printed; the count of the rest follows.
const MAX_SHOWN_REJECTS: usize = 50;

/// A line that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The file, as given.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The JSON field at fault; empty for the line itself.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// What a file held: the rows that parsed and the lines that did not.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The good rows, with their line numbers.
    pub rows: Vec<(usize, T)>,
    /// The bad lines.
    pub rejects: Vec<Reject>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed {
            rows: Vec::new(),
            rejects: Vec::new(),
        }
    }
}

/// Parses a placement file: one account (the `account` of the decide contract, with
/// balance, creditor and placement date) per line. Blank lines are skipped; an id seen
/// twice is rejected.
pub fn parse_accounts(file: &str, text: &str) -> Parsed<Account> {
    let mut parsed = Parsed::default();
    let mut seen = HashSet::new();
    for (index, line) in numbered_lines(text) {
        let reject = |field: &str, message: String| Reject {
            file: file.to_string(),
            line: index,
            field: field.to_string(),
            message,
        };
        match parse_json_str::<Account>(line) {
            Ok(account) if !seen.insert(account.id.clone()) => parsed.rejects.push(reject(
                "id",
                format!("account `{}` appears twice in the file", account.id),
            )),
            Ok(account) => parsed.rows.push((index, account)),
            Err(error) => parsed.rejects.push(reject(&error.field, error.message)),
        }
    }
    parsed
}

/// Parses a history file: one ledger event per line with the `account_id` it belongs
/// to. `known` says whether an account id exists (in the placement file or the ledger).
pub fn parse_events(
    file: &str,
    text: &str,
    known: &mut dyn FnMut(&str) -> bool,
) -> Parsed<(String, LedgerEvent)> {
    let mut parsed = Parsed::default();
    for (index, line) in numbered_lines(text) {
        match parse_event_line(line, known) {
            Ok(row) => parsed.rows.push((index, row)),
            Err((field, message)) => parsed.rejects.push(Reject {
                file: file.to_string(),
                line: index,
                field,
                message,
            }),
        }
    }
    parsed
}

pub(super) fn parse_event_line(
    line: &str,
    known: &mut dyn FnMut(&str) -> bool,
) -> Result<(String, LedgerEvent), (String, String)> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        parse_json_str(line).map_err(|error| (error.field, error.message))?;
    let account_id = match object.remove("account_id") {
        Some(serde_json::Value::String(id)) => id,
        Some(_) => return Err(("account_id".into(), "must be a string".into())),
        None => return Err(("account_id".into(), "missing field `account_id`".into())),
    };
    if !known(&account_id) {
        return Err((
            "account_id".into(),
            format!("account `{account_id}` is neither in the placement file nor in the ledger"),
        ));
    }
    let event: LedgerEvent = serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|error| (String::new(), error.to_string()))?;
    event
        .validate()
        .map_err(|error| (error.field.to_string(), error.message))?;
    Ok((account_id, event))
}

/// Non-blank lines with their 1-based numbers.
pub(super) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty())
}

/// Runs `dunner import`.
pub fn run(database: &str, accounts_path: &Path, events_path: Option<&Path>, check: bool) -> Exit {
    let started = Instant::now();
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|error| {
            fail(
                Exit::Failure,
                format!("cannot read {}: {error}", path.display()),
            )
        })
    };
    let accounts_text = match read(accounts_path) {
        Ok(text) => text,
        Err(exit) => return exit,
    };
    let events_text = match events_path.map(read).transpose() {
        Ok(text) => text,
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let store = match Store::open(database).await {
            Ok(store) => store,
            Err(error) => return fail(Exit::Failure, format!("failed to open the ledger: {error}")),
        };
        if matches!(store, Store::Sqlite(_))
            && let Err(error) = store.migrate().await
        {
            return fail(Exit::Failure, error);
        }
        if let Err(error) = store.ensure_migrated().await {
            return fail(Exit::Failure, error);
        }
        let accounts = parse_accounts(&accounts_path.display().to_string(), &accounts_text);
        let in_file: HashSet<String> =
            accounts.rows.iter().map(|(_, a)| a.id.clone()).collect();
        let mut in_ledger = HashSet::new();
        let mut missing = Vec::new();
        // Ids outside the placement file are looked up once each, after parsing.
        let events = events_path.zip(events_text.as_deref()).map(|(path, text)| {
            parse_events(&path.display().to_string(), text, &mut |id| {
                if !in_file.contains(id) && !in_ledger.contains(id) {
                    missing.push(id.to_string());
                    in_ledger.insert(id.to_string());
                }
                true
            })
        });
        let mut unknown = HashSet::new();
        for id in missing {
            match store.get_account(&id).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    unknown.insert(id);
                }
                Err(error) => return fail(Exit::Failure, error),
            }
        }
        let mut rejects = accounts.rejects;
        let mut event_rows = Vec::new();
        if let Some(events) = events {
            rejects.extend(events.rejects);
            for (line, (account_id, event)) in events.rows {
                if unknown.contains(&account_id) {
                    rejects.push(Reject {
                        file: events_path.map(|p| p.display().to_string()).unwrap_or_default(),
                        line,
                        field: "account_id".into(),
                        message: format!(
                            "account `{account_id}` is neither in the placement file nor in the ledger"
                        ),
                    });
                } else {
                    event_rows.push((account_id, event));
                }
            }
        }
        if !rejects.is_empty() {
            rejects.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            for reject in rejects.iter().take(MAX_SHOWN_REJECTS) {
                eprintln!("{reject}");
            }
            if rejects.len() > MAX_SHOWN_REJECTS {
                eprintln!("… and {} more", rejects.len() - MAX_SHOWN_REJECTS);
            }
            return fail(
                Exit::Failure,
                format!(
                    "{} rejected line(s); nothing was imported",
                    rejects.len()
                ),
            );
        }
        let accounts: Vec<Account> = accounts.rows.into_iter().map(|(_, a)| a).collect();
        let summary = Summary::of(&accounts, &event_rows);
        if check {
            eprintln!("{summary}: every line is valid (nothing written: --check)");
            return Exit::Ok;
        }
        let bar = ProgressBar::new((accounts.len() + event_rows.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let progress = |rows: u64| bar.inc(rows);
        let result = crate::service::import(
            &store,
            &accounts,
            &event_rows,
            SystemClock.now(),
            &progress,
        )
        .await;
        bar.finish_and_clear();
        match result {
            Ok(()) => {
                eprintln!(
                    "imported {summary} in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                Exit::Ok
            }
            Err(error) => fail(Exit::Failure, format!("{error}; nothing was imported")),
        }
    })
}

/// Counts for the closing line.
struct Summary {
    accounts: usize,
    contacts: usize,
    others: usize,
}

impl Summary {
    fn of(accounts: &[Account], events: &[(String, LedgerEvent)]) -> Summary {
        let contacts = events.iter().filter(|(_, e)| e.history().is_some()).count();
        Summary {
            accounts: accounts.len(),
            contacts,
            others: events.len() - contacts,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} accounts, {} contact and consent events, {} other events",
            self.accounts, self.contacts, self.others
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_line_is_named_with_its_number_and_field() {
        let accounts = parse_accounts(
            "a.jsonl",
            "{\"id\": \"A\", \"consumer\": {}}\n\n{\"id\": \"B\", \"consumer\": {\"time_zones\": [\"Mars/Base\"]}}\n{\"id\": \"A\", \"consumer\": {}}\nnot json\n",
        );
        assert_eq!(accounts.rows.len(), 1);
        let shown: Vec<String> = accounts.rejects.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(
            shown[0].starts_with("a.jsonl:3: consumer.time_zones[0]: "),
            "{shown:?}"
        );
        assert_eq!(
            shown[1],
            "a.jsonl:4: id: account `A` appears twice in the file"
        );
        assert!(
            shown[2].starts_with("a.jsonl:5: malformed JSON"),
            "{shown:?}"
        );

        let events = parse_events(
            "e.jsonl",
            "{\"account_id\": \"A\", \"at\": \"2026-04-01T15:00:00Z\", \"channel\": \"call\"}\n{\"at\": \"2026-04-01T15:00:00Z\", \"channel\": \"call\"}\n{\"account_id\": \"Z\", \"at\": \"2026-04-01T15:00:00Z\", \"channel\": \"call\"}\n{\"account_id\": \"A\", \"at\": \"2026-04-01T15:00:00Z\", \"type\": \"flag_set\"}\n",
            &mut |id| id == "A",
        );
        assert_eq!(events.rows.len(), 1);
        let shown: Vec<String> = events.rejects.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "e.jsonl:2: account_id: missing field `account_id`",
                "e.jsonl:3: account_id: account `Z` is neither in the placement file nor in the ledger",
                "e.jsonl:4: flag: a `flag_set` event needs a `flag`",
            ]
        );
    }
}
