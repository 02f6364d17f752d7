//! What the web console and key administration keep in the ledger: sessions (the hash
//! of each session id, never the id), and the life of API keys (expiry, last use,
//! revocation). Several daemons sharing a PostgreSQL ledger share both, so a session
//! opened on one works on the others and a key revoked on one is refused by all.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, instant_text, stored_account};

/// A live console session, as the console needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The API key the session was opened with (re-checked on every request).
    pub key_id: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// A stored API key as `dunner keys list` and the console show it: never the secret,
/// nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyListing {
    /// The key's id (also inside its token).
    pub id: String,
    /// Who or what it is for.
    pub name: String,
    /// The names of what it may do.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to within a minute), if ever.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The clients whose accounts it reaches; absent for every client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<String>>,
}

/// A comma-joined column (scopes, clients) as its names.
fn scope_names(scopes: &str) -> Vec<String> {
    scopes
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

fn instant(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(&text)
            .map(|instant| instant.with_timezone(&Utc))
            .map_err(|error| StoreError::Corrupt {
                what: "instant",
                reason: format!("`{text}`: {error}"),
            })
    })
    .transpose()
}

impl Store {
    /// Opens a console session (by the hash of its id) for a key, until `expires_at`;
    /// sessions already expired are cleared on the way.
    pub async fn create_console_session(
        &self,
        id_hash: &str,
        key_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => {
                let mut tx = store.pool().begin().await?;
                sqlx::query("DELETE FROM console_sessions WHERE expires_at <= ?1")
                    .bind(instant_text(now))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO console_sessions (id_hash, key_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)")
                    .bind(id_hash)
                    .bind(key_id)
                    .bind(instant_text(now))
                    .bind(instant_text(expires_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Store::Postgres(store) => {
                let mut tx = store.pool().begin().await?;
                sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO console_sessions (id_hash, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(id_hash)
                    .bind(key_id)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// The session whose id hashes to `id_hash`, if it has not expired at `now`.
    pub async fn console_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        match self {
            Store::Sqlite(store) => {
                let row = sqlx::query("SELECT key_id, expires_at FROM console_sessions WHERE id_hash = ?1 AND expires_at > ?2")
                    .bind(id_hash)
                    .bind(instant_text(now))
                    .fetch_optional(store.pool())
                    .await?;
                row.map(|row| {
                    Ok(ConsoleSession {
                        key_id: row.get("key_id"),
                        expires_at: instant(Some(row.get("expires_at")))?.unwrap_or(now),
                    })
                })
                .transpose()
            }
            Store::Postgres(store) => {
                let row = sqlx::query("SELECT key_id, expires_at FROM console_sessions WHERE id_hash = $1 AND expires_at > $2")
                    .bind(id_hash)
                    .bind(now)
                    .fetch_optional(store.pool())
                    .await?;
                row.map(|row| {
                    Ok(ConsoleSession {
                        key_id: row.get("key_id"),
                        expires_at: row.try_get("expires_at")?,
                    })
                })
                .transpose()
            }
        }
    }

    /// Ends a session (sign-out); ending one that is gone is not an error.
    pub async fn delete_console_session(&self, id_hash: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => {
                sqlx::query("DELETE FROM console_sessions WHERE id_hash = ?1")
                    .bind(id_hash)
                    .execute(store.pool())
                    .await?;
            }
            Store::Postgres(store) => {
                sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(store.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// Every stored API key, oldest first, without secrets.
    pub async fn list_api_keys(&self) -> Result<Vec<KeyListing>, StoreError> {
        match self {
            Store::Sqlite(store) => {
                let rows = sqlx::query("SELECT id, name, scopes, created_at, last_used_at, expires_at, revoked_at, clients FROM api_keys ORDER BY created_at, id")
                    .fetch_all(store.pool())
                    .await?;
                rows.into_iter()
                    .map(|row| {
                        Ok(KeyListing {
                            id: row.get("id"),
                            name: row.get("name"),
                            scopes: scope_names(row.get("scopes")),
                            created_at: instant(Some(row.get("created_at")))?
                                .unwrap_or(DateTime::<Utc>::MIN_UTC),
                            last_used_at: instant(row.get("last_used_at"))?,
                            expires_at: instant(row.get("expires_at"))?,
                            revoked_at: instant(row.get("revoked_at"))?,
                            clients: row.get::<Option<&str>, _>("clients").map(scope_names),
                        })
                    })
                    .collect()
            }
            Store::Postgres(store) => {
                let rows = sqlx::query("SELECT id, name, scopes, created_at, last_used_at, expires_at, revoked_at, clients FROM api_keys ORDER BY created_at, id")
                    .fetch_all(store.pool())
                    .await?;
                rows.into_iter()
                    .map(|row| {
                        Ok(KeyListing {
                            id: row.get("id"),
                            name: row.get("name"),
                            scopes: scope_names(row.get("scopes")),
                            created_at: row.try_get("created_at")?,
                            last_used_at: row.try_get("last_used_at")?,
                            expires_at: row.try_get("expires_at")?,
                            revoked_at: row.try_get("revoked_at")?,
                            clients: row.get::<Option<&str>, _>("clients").map(scope_names),
                        })
                    })
                    .collect()
            }
        }
    }

    /// Revokes a key from `now` on; false when no live key has that id. Its console
    /// sessions end with it.
    pub async fn revoke_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let revoked = match self {
            Store::Sqlite(store) => {
                let mut tx = store.pool().begin().await?;
                let revoked = sqlx::query(
                    "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(instant_text(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("DELETE FROM console_sessions WHERE key_id = ?1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                revoked
            }
            Store::Postgres(store) => {
                let mut tx = store.pool().begin().await?;
                let revoked = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("DELETE FROM console_sessions WHERE key_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                revoked
            }
        };
        Ok(revoked > 0)
    }

    /// Sets (or clears) when a key stops working; false when no key has that id.
    pub async fn set_api_key_expiry(
        &self,
        id: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let updated = match self {
            Store::Sqlite(store) => {
                sqlx::query("UPDATE api_keys SET expires_at = ?2 WHERE id = ?1")
                    .bind(id)
                    .bind(expires_at.map(instant_text))
                    .execute(store.pool())
                    .await?
                    .rows_affected()
            }
            Store::Postgres(store) => {
                sqlx::query("UPDATE api_keys SET expires_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(expires_at)
                    .execute(store.pool())
                    .await?
                    .rows_affected()
            }
        };
        Ok(updated > 0)
    }

    /// Notes that a key was used at `now`. The caller writes only when the stored
    /// instant is a minute old or more, so a busy key costs a write a minute, not one
    /// per request; the condition here keeps two daemons from both writing.
    pub async fn touch_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let stale = now - chrono::TimeDelta::minutes(1);
        match self {
            Store::Sqlite(store) => {
                sqlx::query("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?3)")
                    .bind(id)
                    .bind(instant_text(now))
                    .bind(instant_text(stale))
                    .execute(store.pool())
                    .await?;
            }
            Store::Postgres(store) => {
                sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)")
                    .bind(id)
                    .bind(now)
                    .bind(stale)
                    .execute(store.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// The ids of the accounts one of whose phones or emails is exactly `point`, in id
    /// order: a lookup, never a listing (an empty or partial point matches nothing).
    /// The bodies holding the text are read and parsed, and only an exact contact
    /// point counts.
    pub async fn accounts_by_contact_point(&self, point: &str) -> Result<Vec<String>, StoreError> {
        let point = point.trim();
        if point.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String)> = match self {
            Store::Sqlite(store) => sqlx::query(
                "SELECT id, body FROM accounts WHERE instr(body, ?1) > 0 ORDER BY id LIMIT 500",
            )
            .bind(point)
            .fetch_all(store.pool())
            .await?
            .into_iter()
            .map(|row| (row.get("id"), row.get("body")))
            .collect(),
            Store::Postgres(store) => sqlx::query(
                "SELECT id, body::text AS body FROM accounts WHERE strpos(body::text, $1) > 0 ORDER BY id LIMIT 500",
            )
            .bind(point)
            .fetch_all(store.pool())
            .await?
            .into_iter()
            .map(|row| (row.get("id"), row.get("body")))
            .collect(),
        };
        let mut ids = Vec::new();
        for (id, body) in rows {
            let account = stored_account(&id, &body)?;
            let consumer = &account.consumer;
            let matches = consumer.phones.iter().any(|phone| phone.number == point)
                || consumer.emails.iter().any(|email| email.address == point);
            if matches {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
