//! The tamper-evident log (issue 13 part 4): a ledger written through the real service
//! and store, then tampered with directly in the SQLite file and the PostgreSQL tables;
//! `audit verify` names the first entry edited, deleted, inserted or reordered, on both
//! stores, and a clean ledger verifies.

use chrono::{DateTime, Utc};
use dunner::audit::verify::{Verification, verify};
use dunner::domain::{Account, Channel, LedgerEvent, Outcome};
use dunner::store::{Attempt, Store};
use sqlx::Connection;

use crate::helpers::{SHIPPED_SHARED, dunner, on_both_stores};
use crate::store_conformance::{TestStore, postgres, sqlite};

fn now() -> DateTime<Utc> {
    "2026-04-20T00:00:00Z".parse().unwrap()
}

fn account(id: &str) -> Account {
    serde_json::from_str(&format!(
        r#"{{"id": "{id}", "consumer": {{"address": {{"state": "NY", "city": "Albany"}}, "time_zones": ["America/New_York"],
             "phones": [{{"number": "+12125550100", "kind": "mobile"}}]}}}}"#
    ))
    .unwrap()
}

fn call_at(at: &str) -> LedgerEvent {
    serde_json::from_str(&format!(
        r#"{{"at": "{at}", "channel": "call", "outcome": "no_answer", "contact_point": "+12125550100"}}"#
    ))
    .unwrap()
}

/// A-1: three imported calls (positions 1–3), a recorded call (4, its decision 5), a
/// flag appended (6). A-2: two imported calls (1, 2). A-3: a recorded call (1, 2).
async fn write_ledger(store: &Store) {
    let accounts: Vec<Account> = ["A-1", "A-2", "A-3"].iter().map(|id| account(id)).collect();
    let events: Vec<(String, LedgerEvent)> = [
        ("A-1", "2026-04-01T15:00:00Z"),
        ("A-1", "2026-04-02T15:00:00Z"),
        ("A-1", "2026-04-03T15:00:00Z"),
        ("A-2", "2026-04-01T16:00:00Z"),
        ("A-2", "2026-04-02T16:00:00Z"),
    ]
    .iter()
    .map(|(id, at)| (id.to_string(), call_at(at)))
    .collect();
    dunner::service::import(store, &accounts, &events, now(), &|_| {})
        .await
        .unwrap();
    for (id, at) in [
        ("A-1", "2026-04-06T15:00:00Z"),
        ("A-3", "2026-04-06T16:00:00Z"),
    ] {
        let attempt = Attempt {
            account_id: id.into(),
            at: at.parse().unwrap(),
            channel: Channel::Call,
            purpose: Default::default(),
            contact_point: Some("+12125550100".into()),
            outcome: Some(Outcome::NoAnswer),
            idempotency: None,
        };
        let recorded = dunner::service::check_and_record(store, &SHIPPED_SHARED, &attempt, now())
            .await
            .unwrap();
        assert!(recorded.decision.allowed);
    }
    let flag: LedgerEvent = serde_json::from_str(
        r#"{"at": "2026-04-07T12:00:00Z", "type": "flag_set", "flag": "disputed"}"#,
    )
    .unwrap();
    dunner::service::append_event(store, "A-1", &flag, now())
        .await
        .unwrap();
}

/// Runs statements on the store's database from outside dunner: the SQLite file through
/// its own connection, the PostgreSQL schema through its own session.
async fn tamper(test: &TestStore, sqlite_sql: &str, postgres_sql: &str) {
    tamper_at(&test.url, sqlite_sql, postgres_sql).await;
}

pub(crate) async fn tamper_at(url: &str, sqlite_sql: &str, postgres_sql: &str) {
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sqlite_sql.to_string()))
            .execute(&mut connection)
            .await
            .unwrap();
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(postgres_sql.to_string()))
            .execute(&mut connection)
            .await
            .unwrap();
    }
}

async fn same_tamper(test: &TestStore, sql: &str) {
    tamper(test, sql, sql).await;
}

async fn id_at(test: &TestStore, table: &str, account: &str, position: i64) -> String {
    let sql =
        format!("SELECT id FROM {table} WHERE account_id = '{account}' AND chain_pos = {position}");
    match &test.store {
        Store::Sqlite(_) => {
            let mut connection = sqlx::SqliteConnection::connect(&test.url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut connection)
                .await
                .unwrap()
        }
        Store::Postgres(_) => {
            let mut connection = sqlx::PgConnection::connect(&test.url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut connection)
                .await
                .unwrap()
        }
    }
}

async fn verified(test: &TestStore) -> Verification {
    verify(&test.store).await.unwrap()
}

/// The kind, account, position, entry id and entry kind of the first tampered entry.
fn found(
    verification: &Verification,
) -> (&str, Option<&str>, Option<i64>, Option<&str>, Option<&str>) {
    let tampered = verification
        .tampered
        .as_ref()
        .unwrap_or_else(|| panic!("not tampered: {verification:?}"));
    (
        tampered.kind,
        tampered.account_id.as_deref(),
        tampered.position,
        tampered.entry_id.as_deref(),
        tampered.entry_kind,
    )
}

async fn a_clean_ledger_verifies_with_every_entry_chained(test: TestStore) {
    write_ledger(&test.store).await;
    let verification = verified(&test).await;
    assert!(verification.intact(), "{verification:?}");
    assert_eq!((verification.accounts, verification.entries), (3, 10));
    let checkpoint = test.store.take_checkpoint(now()).await.unwrap();
    assert_eq!((checkpoint.accounts, checkpoint.entries), (3, 10));
    // Appends after a checkpoint move heads on; the ledger stays intact.
    dunner::service::append_event(&test.store, "A-2", &call_at("2026-04-08T16:00:00Z"), now())
        .await
        .unwrap();
    let second = test.store.take_checkpoint(now()).await.unwrap();
    assert_eq!(second.previous, checkpoint.hash);
    let verification = verified(&test).await;
    assert!(verification.intact(), "{verification:?}");
    assert_eq!((verification.entries, verification.checkpoints), (11, 2));
    // Importing the same files again writes nothing and takes no place in a chain.
    let events = vec![("A-2".to_string(), call_at("2026-04-01T16:00:00Z"))];
    dunner::service::import(&test.store, &[account("A-2")], &events, now(), &|_| {})
        .await
        .unwrap();
    assert!(verified(&test).await.intact());
}

async fn an_edited_event_body_is_named(test: TestStore) {
    write_ledger(&test.store).await;
    let id = id_at(&test, "events", "A-1", 2).await;
    tamper(
        &test,
        "UPDATE events SET body = json_set(body, '$.outcome', 'voicemail') WHERE account_id = 'A-1' AND chain_pos = 2",
        "UPDATE events SET body = jsonb_set(body, '{outcome}', '\"voicemail\"') WHERE account_id = 'A-1' AND chain_pos = 2",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        (
            "edited",
            Some("A-1"),
            Some(2),
            Some(id.as_str()),
            Some("event")
        )
    );
}

async fn an_edited_decision_with_recomputed_content_hash_is_named(test: TestStore) {
    write_ledger(&test.store).await;
    let id = id_at(&test, "decisions", "A-1", 5).await;
    // The forger changes the outcome and writes a content hash to match: the entry hash
    // no longer follows.
    same_tamper(
        &test,
        "UPDATE decisions SET outcome = 'refused', content_hash = '00' || substr(content_hash, 3) WHERE account_id = 'A-1' AND chain_pos = 5",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        (
            "edited",
            Some("A-1"),
            Some(5),
            Some(id.as_str()),
            Some("decision")
        )
    );
}

async fn a_deleted_event_is_named_by_its_position(test: TestStore) {
    write_ledger(&test.store).await;
    same_tamper(
        &test,
        "DELETE FROM events WHERE account_id = 'A-1' AND chain_pos = 2",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        ("deleted", Some("A-1"), Some(2), None, None)
    );
}

async fn a_forged_row_is_named_as_inserted(test: TestStore) {
    write_ledger(&test.store).await;
    // Without chain columns.
    tamper(
        &test,
        "INSERT INTO events (id, account_id, at, body, recorded_at)
         SELECT 'forged', account_id, at, body, recorded_at FROM events WHERE account_id = 'A-2' AND chain_pos = 1",
        "INSERT INTO events (id, account_id, at, body, recorded_at)
         SELECT 'forged', account_id, at, body, recorded_at FROM events WHERE account_id = 'A-2' AND chain_pos = 1",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        ("inserted", Some("A-2"), None, Some("forged"), Some("event"))
    );
}

async fn a_forged_row_claiming_a_genuine_position_is_named_as_inserted(test: TestStore) {
    write_ledger(&test.store).await;
    // A copy of the entry at position 1 with its hashes, the content changed.
    tamper(
        &test,
        "INSERT INTO events (id, account_id, at, body, recorded_at, chain_pos, content_hash, entry_hash)
         SELECT 'forged', account_id, at, json_set(body, '$.outcome', 'conversation'), recorded_at, chain_pos, content_hash, entry_hash
           FROM events WHERE account_id = 'A-2' AND chain_pos = 1",
        "INSERT INTO events (id, account_id, at, body, recorded_at, chain_pos, content_hash, entry_hash)
         SELECT 'forged', account_id, at, jsonb_set(body, '{outcome}', '\"conversation\"'), recorded_at, chain_pos, content_hash, entry_hash
           FROM events WHERE account_id = 'A-2' AND chain_pos = 1",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        (
            "inserted",
            Some("A-2"),
            Some(1),
            Some("forged"),
            Some("event")
        )
    );
}

async fn a_forged_row_with_the_later_entries_renumbered_is_named_as_inserted(test: TestStore) {
    write_ledger(&test.store).await;
    // The forger makes room at position 2 and forges a consistent content hash.
    same_tamper(
        &test,
        "UPDATE events SET chain_pos = chain_pos + 1 WHERE account_id = 'A-2' AND chain_pos >= 2;
         INSERT INTO events (id, account_id, at, body, recorded_at, chain_pos, content_hash, entry_hash)
         SELECT 'forged', account_id, at, body, recorded_at, 2, content_hash, entry_hash
           FROM events WHERE account_id = 'A-2' AND chain_pos = 1;
         UPDATE chain_heads SET position = position + 1 WHERE account_id = 'A-2'",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        (
            "inserted",
            Some("A-2"),
            Some(2),
            Some("forged"),
            Some("event")
        )
    );
}

async fn two_swapped_entries_are_named_as_reordered(test: TestStore) {
    write_ledger(&test.store).await;
    let second = id_at(&test, "events", "A-1", 2).await;
    let third = id_at(&test, "events", "A-1", 3).await;
    same_tamper(
        &test,
        "UPDATE events SET chain_pos = CASE chain_pos WHEN 2 THEN 3 ELSE 2 END
          WHERE account_id = 'A-1' AND chain_pos IN (2, 3)",
    )
    .await;
    let verification = verified(&test).await;
    assert_eq!(
        found(&verification),
        (
            "reordered",
            Some("A-1"),
            Some(2),
            Some(third.as_str()),
            Some("event")
        )
    );
    assert!(
        verification.tampered.unwrap().detail.contains(&second),
        "the entry that belongs there is named"
    );
}

async fn swapped_row_numbers_are_named_as_reordered(test: TestStore) {
    write_ledger(&test.store).await;
    // The ledger order readers page by (`seq`), swapped for two events of one chain.
    same_tamper(
        &test,
        "UPDATE events SET seq = seq + 100000 WHERE account_id = 'A-2' AND chain_pos = 1;
         UPDATE events SET seq = seq - 100000 + 200000 WHERE account_id = 'A-2' AND chain_pos = 1",
    )
    .await;
    let verification = verified(&test).await;
    let (kind, account, position, ..) = found(&verification);
    assert_eq!(
        (kind, account, position),
        ("reordered", Some("A-2"), Some(2))
    );
}

async fn a_whole_accounts_chain_deleted_is_found(test: TestStore) {
    write_ledger(&test.store).await;
    test.store.take_checkpoint(now()).await.unwrap();
    // The rows alone: the head kept beside the chain names the account.
    same_tamper(&test, "DELETE FROM events WHERE account_id = 'A-2'").await;
    assert_eq!(
        found(&verified(&test).await),
        ("deleted", Some("A-2"), Some(1), None, None)
    );
    // The head too: only the checkpoint still knows the account was there.
    same_tamper(&test, "DELETE FROM chain_heads WHERE account_id = 'A-2'").await;
    let verification = verified(&test).await;
    assert_eq!(found(&verification), ("deleted", None, None, None, None));
    assert!(
        verification
            .tampered
            .unwrap()
            .detail
            .contains("covered 3 accounts and 10 entries"),
    );
}

async fn a_truncated_tail_is_found_by_the_head_and_by_the_checkpoint(test: TestStore) {
    write_ledger(&test.store).await;
    // The newest entry removed: its head still says 6.
    same_tamper(
        &test,
        "DELETE FROM events WHERE account_id = 'A-1' AND chain_pos = 6",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        ("deleted", Some("A-1"), Some(6), None, None)
    );
    // The head rewritten to match: the checkpoint taken before still saw position 6.
    let mut test = test;
    test = rebuild_with_checkpoint(test).await;
    same_tamper(
        &test,
        "DELETE FROM events WHERE account_id = 'A-1' AND chain_pos = 6;
         UPDATE chain_heads SET position = 5,
                head = (SELECT entry_hash FROM decisions WHERE account_id = 'A-1' AND chain_pos = 5)
          WHERE account_id = 'A-1'",
    )
    .await;
    assert_eq!(
        found(&verified(&test).await),
        ("deleted", Some("A-1"), Some(6), None, None)
    );
}

/// A fresh store of the same backend with the ledger written and a checkpoint taken.
async fn rebuild_with_checkpoint(test: TestStore) -> TestStore {
    let fresh = match test.store {
        Store::Sqlite(_) => sqlite().await,
        Store::Postgres(_) => postgres().await,
    };
    write_ledger(&fresh.store).await;
    fresh.store.take_checkpoint(now()).await.unwrap();
    fresh
}

async fn an_edited_checkpoint_is_found(test: TestStore) {
    write_ledger(&test.store).await;
    test.store.take_checkpoint(now()).await.unwrap();
    same_tamper(&test, "UPDATE chain_checkpoints SET entries = entries - 1").await;
    let verification = verified(&test).await;
    assert_eq!(found(&verification), ("edited", None, None, None, None));
}

async fn rows_written_before_the_chains_are_chained_by_the_migration(test: TestStore) {
    write_ledger(&test.store).await;
    // As a ledger written before migration 0009: no links, no heads.
    same_tamper(
        &test,
        "UPDATE events SET chain_pos = NULL, content_hash = NULL, entry_hash = NULL;
         UPDATE decisions SET chain_pos = NULL, content_hash = NULL, entry_hash = NULL;
         DELETE FROM chain_heads",
    )
    .await;
    assert_eq!(found(&verified(&test).await).0, "inserted");
    assert_eq!(test.store.chain_unchained().await.unwrap(), 10);
    let verification = verified(&test).await;
    assert!(verification.intact(), "{verification:?}");
    assert_eq!(verification.entries, 10);
}

/// Bursts of attempts (on SQLite, groups of more decisions than one of the writer's
/// inserts takes), with heads moved in between through another connection — an
/// appended event, a checkpoint — which the writer must read afresh: every chain stays
/// whole, with every entry written.
async fn bursts_and_heads_moved_elsewhere_leave_every_chain_whole(test: TestStore) {
    let store = &test.store;
    let ids = ["G-1", "G-2", "G-3"];
    for id in ids {
        store.put_account(&account(id), now()).await.unwrap();
    }
    let burst = |round: usize, size: usize| {
        futures_util::future::join_all((0..size).map(move |i| {
            let attempt = Attempt {
                account_id: ids[i % ids.len()].into(),
                at: format!("2026-04-{:02}T15:{:02}:00Z", 6 + round, i)
                    .parse()
                    .unwrap(),
                channel: Channel::Call,
                purpose: Default::default(),
                contact_point: Some("+12125550100".into()),
                outcome: Some(Outcome::NoAnswer),
                idempotency: None,
            };
            async move {
                dunner::service::check_and_record(store, &SHIPPED_SHARED, &attempt, now())
                    .await
                    .unwrap()
            }
        }))
    };
    let mut recorded = burst(0, 60).await;
    let other = Store::open(&test.url).await.unwrap();
    dunner::service::append_event(&other, "G-1", &call_at("2026-04-07T09:00:00Z"), now())
        .await
        .unwrap();
    other.take_checkpoint(now()).await.unwrap();
    recorded.extend(burst(1, 30).await);
    let events = recorded.iter().filter(|r| r.event_id.is_some()).count();
    assert!(
        events > 0 && events < recorded.len(),
        "both kinds of answer"
    );
    let verification = verified(&test).await;
    assert!(verification.intact(), "{verification:?}");
    // Every decision, every recorded call and the appended one.
    assert_eq!(verification.entries, (recorded.len() + events + 1) as u64);
}

on_both_stores!(
    bursts_and_heads_moved_elsewhere_leave_every_chain_whole,
    a_clean_ledger_verifies_with_every_entry_chained,
    an_edited_event_body_is_named,
    an_edited_decision_with_recomputed_content_hash_is_named,
    a_deleted_event_is_named_by_its_position,
    a_forged_row_is_named_as_inserted,
    a_forged_row_claiming_a_genuine_position_is_named_as_inserted,
    a_forged_row_with_the_later_entries_renumbered_is_named_as_inserted,
    two_swapped_entries_are_named_as_reordered,
    swapped_row_numbers_are_named_as_reordered,
    a_whole_accounts_chain_deleted_is_found,
    a_truncated_tail_is_found_by_the_head_and_by_the_checkpoint,
    an_edited_checkpoint_is_found,
    rows_written_before_the_chains_are_chained_by_the_migration,
    the_api_verifies_the_chains,
    an_export_verifies_with_the_public_key_alone,
);

async fn the_api_verifies_the_chains(test: TestStore) {
    let url = test.url.clone();
    let api = crate::api::api_on(test).await;
    write_ledger(&api.state.store).await;
    let (status, body) = api.call("GET", "/v1/audit/verify", None).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(body["status"], "intact");
    assert_eq!(body["entries"], 10);
    tamper_at(
        &url,
        "UPDATE decisions SET policy_digest = 'forged' WHERE account_id = 'A-3'",
        "UPDATE decisions SET policy_digest = 'forged' WHERE account_id = 'A-3'",
    )
    .await;
    let (status, body) = api.call("GET", "/v1/audit/verify", None).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(body["status"], "tampered");
    assert_eq!(body["tampered"]["kind"], "edited");
    assert_eq!(body["tampered"]["account_id"], "A-3");
    assert_eq!(body["tampered"]["entry_kind"], "decision");
    assert_eq!(body["tampered"]["position"], 2);
}

/// The daemon takes checkpoints at its `[audit] checkpoint_interval`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_takes_checkpoints_at_its_interval() {
    let app = crate::helpers::TestApp::spawn_with(sqlite().await, |config| {
        config.audit.checkpoint_interval = std::time::Duration::from_millis(200);
    })
    .await;
    write_ledger(&app.state.store).await;
    let mut checkpoints = Vec::new();
    // Bounded wait for the real interval to pass (a few ticks).
    for _ in 0..100 {
        checkpoints = app.state.store.checkpoints().await.unwrap();
        if checkpoints.last().is_some_and(|c| c.entries == 10) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let latest = checkpoints.last().expect("a checkpoint was taken");
    assert_eq!((latest.accounts, latest.entries), (3, 10));
    assert!(verify(&app.state.store).await.unwrap().intact());
    app.stop().await.unwrap();
}

/// The real binary: exit 0 on a clean ledger, 5 and the entry named once tampered; the
/// period audit's flags still work beside the subcommand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_verifies_exits_5_when_tampered_and_keeps_the_period_audit() {
    let test = sqlite().await;
    write_ledger(&test.store).await;
    let database = test.url.clone();
    let clean = dunner(&["audit", "verify", "--database", &database], None);
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    assert!(
        String::from_utf8_lossy(&clean.stdout)
            .starts_with("intact: 10 entries in 3 account chains")
    );
    let checkpoint = dunner(&["audit", "checkpoint", "--database", &database], None);
    assert_eq!(checkpoint.status.code(), Some(0), "{checkpoint:?}");
    same_tamper(&test, "DELETE FROM decisions WHERE account_id = 'A-3'").await;
    let tampered = dunner(
        &[
            "audit",
            "verify",
            "--database",
            &database,
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(tampered.status.code(), Some(5), "{tampered:?}");
    let answer: serde_json::Value = serde_json::from_slice(&tampered.stdout).unwrap();
    assert_eq!(answer["status"], "tampered");
    assert_eq!(answer["tampered"]["kind"], "deleted");
    assert_eq!(answer["tampered"]["account_id"], "A-3");
    assert_eq!(answer["tampered"]["position"], 2);
    // `dunner audit --from … --to …` is unchanged; without them it names what is missing.
    let period = dunner(
        &[
            "audit",
            "--from",
            "2026-04-01",
            "--to",
            "2026-04-19",
            "--database",
            &database,
            "--rules",
            &crate::helpers::rules_dir().display().to_string(),
        ],
        None,
    );
    assert_eq!(period.status.code(), Some(0), "{period:?}");
    let bare = dunner(&["audit", "--database", &database], None);
    assert_eq!(bare.status.code(), Some(2), "{bare:?}");
    let missing = dunner(
        &[
            "audit",
            "verify",
            "--database",
            "sqlite:///nonexistent/x.db",
        ],
        None,
    );
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
}

async fn an_export_verifies_with_the_public_key_alone(test: TestStore) {
    use base64::Engine as _;
    use dunner::audit::signing::{Signer, generate};
    use dunner::audit::verify::{export, verify_export};
    write_ledger(&test.store).await;
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate().unwrap();
    std::fs::write(dir.path().join("key.pem"), private).unwrap();
    let signer = Signer::load(&dir.path().join("key.pem")).unwrap();
    let public = base64::engine::general_purpose::STANDARD
        .decode(public)
        .unwrap();
    let checkpoint = test.store.take_checkpoint(now()).await.unwrap();
    test.store
        .sign_checkpoint(checkpoint.seq, &signer.sign(checkpoint.hash.as_bytes()))
        .await
        .unwrap();
    let exported = export(&test.store).await.unwrap();
    // Through JSON, as a third party receives it.
    let exported: dunner::audit::verify::Export =
        serde_json::from_str(&serde_json::to_string(&exported).unwrap()).unwrap();
    let verification = verify_export(&exported, &public).unwrap();
    assert!(verification.intact(), "{verification:?}");
    assert_eq!(verification.entries, 10);
    // Another key's signature does not verify.
    let (_, other) = generate().unwrap();
    let other = base64::engine::general_purpose::STANDARD
        .decode(other)
        .unwrap();
    let verification = verify_export(&exported, &other).unwrap();
    assert_eq!(found(&verification).0, "edited");
    // A chain rewritten consistently in the export — the entry, its hashes and its head —
    // no longer hashes to the signed checkpoint's digest.
    let mut forged = exported.clone();
    let chain = forged
        .accounts
        .iter_mut()
        .find(|a| a.account_id == "A-2")
        .unwrap();
    chain.entries.retain(|e| e.position != Some(2));
    let head = chain
        .entries
        .iter()
        .find(|e| e.position == Some(1))
        .and_then(|e| e.entry_hash.clone())
        .unwrap();
    chain.head = Some(dunner::domain::chain::Head {
        position: 1,
        hash: head.clone(),
    });
    chain.checkpoint = Some(dunner::domain::chain::Head {
        position: 1,
        hash: head,
    });
    let verification = verify_export(&forged, &public).unwrap();
    assert_eq!(found(&verification), ("deleted", None, None, None, None));
    // An export whose newest checkpoint is unsigned vouches for nothing.
    test.store.take_checkpoint(now()).await.unwrap();
    assert!(verify_export(&export(&test.store).await.unwrap(), &public).is_err());
}

/// The real binary: keygen, a signed checkpoint, export, verify with the public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exports_a_log_a_third_party_verifies_with_the_public_key() {
    let test = sqlite().await;
    write_ledger(&test.store).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("audit.pem");
    let key_text = key.display().to_string();
    let public = format!("{key_text}.pub");
    let export_file = dir.path().join("log.json").display().to_string();
    let database = test.url.clone();
    let run = |args: &[&str]| dunner(args, None);
    let made = run(&["audit", "keygen", "--out", &key_text]);
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    assert_eq!(
        run(&["audit", "keygen", "--out", &key_text]).status.code(),
        Some(1)
    );
    let signed = run(&[
        "audit",
        "checkpoint",
        "--database",
        &database,
        "--signing-key",
        &key_text,
    ]);
    assert_eq!(signed.status.code(), Some(0), "{signed:?}");
    let exported = run(&[
        "audit",
        "export",
        "--database",
        &database,
        "--out",
        &export_file,
    ]);
    assert_eq!(exported.status.code(), Some(0), "{exported:?}");
    let verified = run(&[
        "audit",
        "verify",
        "--export",
        &export_file,
        "--public-key",
        &public,
    ]);
    assert_eq!(verified.status.code(), Some(0), "{verified:?}");
    // An entry's body edited in the file.
    let text = std::fs::read_to_string(&export_file).unwrap();
    let edited = text.replacen("no_answer", "conversation", 1);
    assert_ne!(edited, text);
    std::fs::write(&export_file, edited).unwrap();
    let tampered = run(&[
        "audit",
        "verify",
        "--export",
        &export_file,
        "--public-key",
        &public,
    ]);
    assert_eq!(tampered.status.code(), Some(5), "{tampered:?}");
    assert!(String::from_utf8_lossy(&tampered.stdout).contains("TAMPERED: edited"));
}
