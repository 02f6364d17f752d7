//! Crash test (issue 10): the real `dunner serve` takes concurrent attempts and event
//! appends from several writers and gets SIGKILL at a random moment, a few times over,
//! restarted each time on the same ledger. Afterwards every acknowledged (2xx) write is in
//! the ledger exactly once, and no write of any kind is there twice.
//!
//! Each write carries a marker the ledger keeps: its own `at` instant, one second apart
//! from every other write's. The moments of the kills come from a seeded RNG (the seed is
//! printed; `DUNNER_CRASH_SEED` replays one), counted in acknowledgements rather than in
//! time so that a slow machine sees the same kills. `DUNNER_CRASH_CYCLES` (default 5)
//! raises the number of kill-and-restart cycles for a longer run:
//!
//! ```sh
//! DUNNER_CRASH_CYCLES=30 cargo test --test it crash -- --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::api::{create_key, spawn_daemon};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// Concurrent writers per cycle.
const WRITERS: usize = 8;
/// The accounts written to; the writers share them, so writes to one account race.
const ACCOUNTS: [&str; 2] = ["CRASH-1", "CRASH-2"];
/// At most this many acknowledgements before a kill (the kill comes after 0..=this).
const MOST_ACKNOWLEDGED_BEFORE_KILL: u64 = 200;
/// Writes per cycle never exceed this, whatever happens (a bound, not a target).
const MOST_WRITES_PER_CYCLE: u64 = 2_000;

/// splitmix64: a tiny seeded generator, enough to pick the moments of the kills.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
        _ => default,
    }
}

/// The marker of write number `n`: an instant of its own, during Chicago business hours
/// of a Tuesday (nothing in the shipped packs refuses a letter then).
fn marker(n: u64) -> DateTime<Utc> {
    let base: DateTime<Utc> = "2026-01-06T15:00:00Z".parse().unwrap();
    base + chrono::Duration::seconds(i64::try_from(n).unwrap())
}

/// One HTTP/1.1 request with `Connection: close`; an error (instead of a panic) when the
/// daemon is gone, and after 30 s without an answer.
fn request(
    address: &str,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("a truncated response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    Ok((status, body.to_string()))
}

/// A daemon on the ledger, killed with SIGKILL and reaped when dropped.
struct Daemon {
    child: Child,
    address: String,
}

impl Daemon {
    fn start(database: &str) -> Daemon {
        let (child, address) = spawn_daemon(database, "rules");
        Daemon { child, address }
    }

    fn kill_9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL: no drain, no shutdown hook
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the writers saw, over every cycle.
#[derive(Default)]
struct Tally {
    /// Marker → account of every write acknowledged with a 2xx.
    acknowledged: BTreeMap<DateTime<Utc>, &'static str>,
    /// Markers of every write sent (acknowledged or not).
    sent: BTreeSet<DateTime<Utc>>,
    /// Attempts the policy refused (409): answered, nothing recorded.
    refused: u64,
    /// Answers that are neither 2xx nor 409, with the request.
    unexpected: Vec<String>,
}

/// One write: even numbers record an attempt, odd numbers append an event.
fn write(address: &str, token: &str, n: u64) -> (&'static str, std::io::Result<(u16, String)>) {
    let account = ACCOUNTS[usize::try_from(n / 2).unwrap() % ACCOUNTS.len()];
    let at = marker(n).to_rfc3339();
    let (path, body) = if n.is_multiple_of(2) {
        (
            format!("/v1/accounts/{account}/attempts"),
            json!({"channel": "letter", "at": at}),
        )
    } else {
        (
            format!("/v1/accounts/{account}/events"),
            json!({"type": "contact", "channel": "letter", "at": at}),
        )
    };
    (
        account,
        request(address, token, "POST", &path, &body.to_string()),
    )
}

/// Starts the daemon, lets the writers run until `kill_after` acknowledgements, kills it
/// and waits for every writer to notice.
fn cycle(database: &str, token: &str, next: &AtomicU64, kill_after: u64, tally: &mut Tally) {
    let mut daemon = Daemon::start(database);
    let address = daemon.address.clone();
    let first = next.load(Ordering::SeqCst);
    let (events, answers) = mpsc::channel::<(u64, &'static str, Result<(u16, String), String>)>();
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            let events = events.clone();
            let address = address.as_str();
            scope.spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n - first >= MOST_WRITES_PER_CYCLE {
                        return;
                    }
                    let (account, answer) = write(address, token, n);
                    let failed = answer.is_err();
                    let _ = events.send((n, account, answer.map_err(|error| error.to_string())));
                    if failed {
                        return; // the daemon is gone
                    }
                }
            });
        }
        drop(events);
        let mut acknowledged_now = 0;
        let mut killed = false;
        if kill_after == 0 {
            daemon.kill_9();
            killed = true;
        }
        for (n, account, answer) in answers.iter() {
            tally.sent.insert(marker(n));
            match answer {
                Ok((status, _)) if (200..300).contains(&status) => {
                    tally.acknowledged.insert(marker(n), account);
                    acknowledged_now += 1;
                }
                Ok((409, _)) => tally.refused += 1,
                Ok((status, body)) => tally
                    .unexpected
                    .push(format!("write {n} on {account}: {status} {body}")),
                Err(_) => {}
            }
            if !killed && acknowledged_now >= kill_after {
                daemon.kill_9();
                killed = true;
            }
        }
        if !killed {
            daemon.kill_9();
        }
    });
}

/// Every event of an account, following the pages: marker → how many times it is there.
fn stored_markers(address: &str, token: &str, account: &str) -> BTreeMap<DateTime<Utc>, u64> {
    let mut counts = BTreeMap::new();
    let mut path = format!("/v1/accounts/{account}/events?limit=1000");
    loop {
        let (status, body) = request(address, token, "GET", &path, "").unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        for event in page["events"].as_array().unwrap() {
            let at: DateTime<Utc> = event["event"]["at"].as_str().unwrap().parse().unwrap();
            *counts.entry(at).or_insert(0) += 1;
        }
        match page["next_after"].as_i64() {
            Some(after) => path = format!("/v1/accounts/{account}/events?limit=1000&after={after}"),
            None => return counts,
        }
    }
}

fn writes_survive_kill_9(test: &TestStore, store: &str) {
    let cycles = env_number("DUNNER_CRASH_CYCLES", 5);
    let seed = env_number("DUNNER_CRASH_SEED", 0x0010_C2A5);
    let mut rng = Rng(seed);
    let token = create_key(&test.url, &["admin"]);
    {
        let setup = Daemon::start(&test.url);
        for account in ACCOUNTS {
            // Texas: no state or city pack caps letters.
            let body = json!({"id": account, "consumer": {"address": {"state": "TX"},
                              "time_zones": ["America/Chicago"]}});
            let (status, answer) = request(
                &setup.address,
                &token,
                "PUT",
                &format!("/v1/accounts/{account}"),
                &body.to_string(),
            )
            .unwrap();
            assert_eq!(status, 200, "{answer}");
        }
    }

    let next = AtomicU64::new(0);
    let mut tally = Tally::default();
    let mut kills = Vec::new();
    for _ in 0..cycles {
        let kill_after = rng.below(MOST_ACKNOWLEDGED_BEFORE_KILL + 1);
        kills.push(kill_after);
        cycle(&test.url, &token, &next, kill_after, &mut tally);
    }

    let daemon = Daemon::start(&test.url);
    let mut stored: BTreeMap<DateTime<Utc>, (&str, u64)> = BTreeMap::new();
    for account in ACCOUNTS {
        for (at, count) in stored_markers(&daemon.address, &token, account) {
            let entry = stored.entry(at).or_insert((account, 0));
            entry.1 += count;
        }
    }
    let lost: Vec<String> = tally
        .acknowledged
        .iter()
        .filter(|(at, account)| stored.get(*at).is_none_or(|(held, _)| held != *account))
        .map(|(at, account)| format!("{account} {at}"))
        .collect();
    let duplicated: Vec<String> = stored
        .iter()
        .filter(|(_, (_, count))| *count > 1)
        .map(|(at, (account, count))| format!("{account} {at} ×{count}"))
        .collect();
    let strangers: Vec<String> = stored
        .keys()
        .filter(|at| !tally.sent.contains(*at))
        .map(ToString::to_string)
        .collect();
    let unacknowledged_but_stored = stored
        .keys()
        .filter(|at| !tally.acknowledged.contains_key(*at))
        .count();
    eprintln!(
        "crash test on {store}: seed {seed:#x}, {cycles} cycles (kills after {kills:?} acknowledgements), \
         {} writes sent, {} acknowledged, {} refused (409), {unacknowledged_but_stored} stored without an \
         acknowledgement, {} lost, {} duplicated, {} unexpected answers",
        tally.sent.len(),
        tally.acknowledged.len(),
        tally.refused,
        lost.len(),
        duplicated.len(),
        tally.unexpected.len(),
    );
    assert!(
        tally.unexpected.is_empty(),
        "answers other than 2xx and 409: {:?}",
        tally.unexpected
    );
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes are not in the ledger: {lost:?}",
        lost.len(),
        tally.acknowledged.len()
    );
    assert!(
        duplicated.is_empty(),
        "writes in the ledger more than once: {duplicated:?}"
    );
    assert!(strangers.is_empty(), "events nobody sent: {strangers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_exactly_once_on_sqlite() {
    let test = sqlite().await;
    tokio::task::block_in_place(|| writes_survive_kill_9(&test, "sqlite"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_exactly_once_on_postgres() {
    let test = postgres().await;
    tokio::task::block_in_place(|| writes_survive_kill_9(&test, "postgres"));
}
