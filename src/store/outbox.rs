//! The outbox's vocabulary: what a notice request says, the states of a notice, and
//! the retry schedule. Pure: the store writes and leases rows, the dispatch worker sends.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Account, Channel, EmailKind, Purpose};

/// How a notice leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeChannel {
    /// An email over SMTP, from a template.
    Email,
    /// A signed webhook to the endpoints subscribed to its event type.
    Webhook,
}

/// A request for a notice (`POST /v1/notices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct NoticeRequest {
    /// The account the notice is about.
    #[serde(deserialize_with = "crate::domain::deserialize_account_id")]
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub account_id: String,
    /// Email or webhook.
    pub channel: NoticeChannel,
    /// Why (the policy checks the purpose: a termination notice may go out under a
    /// cease-and-desist, a collection email may not).
    #[serde(default)]
    pub purpose: Purpose,
    /// The email template (`templates/<name>/`): required for an email, refused for a
    /// webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The webhook event type (`notice.requested`, `contact.due`, `account.escalated`);
    /// webhooks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The email address; defaults to the account's first personal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Data for the template or the webhook payload.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Not before this instant (the policy may push it later).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[schema(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub not_before: Option<DateTime<Utc>>,
}
crate::domain::object_only!(NoticeRequest);

/// A notice request that does not hold together, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NoticeError {
    /// The JSON field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> NoticeError {
    NoticeError {
        field,
        message: message.into(),
    }
}

impl NoticeRequest {
    /// Checks that the request names what its channel needs, and nothing else.
    pub fn validate(&self) -> Result<(), NoticeError> {
        match self.channel {
            NoticeChannel::Email => {
                if self.template.is_none() {
                    return Err(invalid("template", "an email notice needs a `template`"));
                }
                if self.event_type.is_some() {
                    return Err(invalid(
                        "event_type",
                        "`event_type` belongs to webhook notices",
                    ));
                }
            }
            NoticeChannel::Webhook => {
                if self.event_type.is_none() {
                    return Err(invalid(
                        "event_type",
                        "a webhook notice needs an `event_type`",
                    ));
                }
                if self.template.is_some() {
                    return Err(invalid("template", "`template` belongs to email notices"));
                }
                if self.to.is_some() {
                    return Err(invalid(
                        "to",
                        "webhooks go to the configured endpoints; `to` belongs to email notices",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The contact with the consumer this notice is, as the policy sees it: the channel
    /// and contact point to check. An email is an email to its address; a webhook asking
    /// a letter vendor to mail (`notice.requested`) is a letter, one telling a dialer to
    /// call (`contact.due`) is a call; other webhooks (`account.escalated`) reach no
    /// consumer and are not checked.
    pub fn checked_contact(
        &self,
        account: &Account,
    ) -> Result<Option<(Channel, Option<String>)>, NoticeError> {
        match self.channel {
            NoticeChannel::Email => {
                let emails = &account.consumer.emails;
                let to = self
                    .to
                    .clone()
                    .or_else(|| {
                        emails
                            .iter()
                            .find(|e| e.kind == EmailKind::Personal)
                            .or(emails.first())
                            .map(|e| e.address.clone())
                    })
                    .ok_or_else(|| {
                        invalid(
                            "to",
                            format!("account `{}` has no email address; give `to`", account.id),
                        )
                    })?;
                Ok(Some((Channel::Email, Some(to))))
            }
            NoticeChannel::Webhook => Ok(match self.event_type.as_deref() {
                Some("notice.requested") => Some((Channel::Letter, None)),
                Some("contact.due") => Some((Channel::Call, None)),
                _ => None,
            }),
        }
    }
}

/// Where a notice is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    /// Waiting for `due_at`, or being sent.
    Pending,
    /// Sent (an email accepted by the SMTP server, a webhook answered with 2xx).
    Delivered,
    /// The policy stopped it at send time (a cease-and-desist, an opt-out).
    Cancelled,
    /// Every try failed, or the receiver refused it for good.
    Dead,
}

impl NoticeStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Pending => "pending",
            NoticeStatus::Delivered => "delivered",
            NoticeStatus::Cancelled => "cancelled",
            NoticeStatus::Dead => "dead",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<NoticeStatus> {
        [
            NoticeStatus::Pending,
            NoticeStatus::Delivered,
            NoticeStatus::Cancelled,
            NoticeStatus::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A notice as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    /// Stable id (UUID v7): the webhook's `webhook-id`, the email's Message-ID.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// Where it is.
    pub status: NoticeStatus,
    /// When it is due (for a pending notice).
    pub due_at: DateTime<Utc>,
    /// Tries so far.
    pub attempts: u32,
    /// Why the last try failed, or why it was cancelled.
    pub last_error: Option<String>,
    /// What was asked.
    pub request: NoticeRequest,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The delays between tries after a failure: by default about a day in all, like Svix
/// (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each stretched by up to 20 % of jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl Default for RetrySchedule {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        RetrySchedule(vec![
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

impl RetrySchedule {
    /// When to try again after the `failures`-th failed try (1-based), or `None` when
    /// the schedule is spent (the notice is dead-lettered). A receiver's `Retry-After`
    /// is honoured when it asks for longer. `jitter` is in `[0, 1)`.
    pub fn next_try(
        &self,
        failures: u32,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(failures.checked_sub(1)?).ok()?;
        let base = *self.0.get(index)?;
        let stretched = base.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
        let delay = retry_after.map_or(stretched, |asked| asked.max(stretched));
        let delay = TimeDelta::from_std(delay).ok()?;
        now.checked_add_signed(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spreads_seven_retries_over_about_a_day_then_gives_up() {
        let schedule = RetrySchedule::default();
        let now: DateTime<Utc> = "2026-04-07T12:00:00Z".parse().unwrap_or_default();
        let total: Duration = schedule.0.iter().sum();
        assert_eq!(total.as_secs(), 5 + 60 * (5 + 30 + 120 + 300 + 600 + 600));
        assert_eq!(
            schedule.next_try(1, now, None, 0.0),
            Some(now + TimeDelta::seconds(5))
        );
        assert_eq!(
            schedule.next_try(2, now, None, 0.5),
            Some(now + TimeDelta::seconds(330))
        );
        // A receiver asking for longer is honoured; asking for shorter is not.
        assert_eq!(
            schedule.next_try(1, now, Some(Duration::from_secs(60)), 0.0),
            Some(now + TimeDelta::seconds(60))
        );
        assert_eq!(
            schedule.next_try(2, now, Some(Duration::from_secs(1)), 0.0),
            Some(now + TimeDelta::seconds(300))
        );
        assert_eq!(schedule.next_try(8, now, None, 0.0), None);
        assert_eq!(schedule.next_try(0, now, None, 0.0), None);
    }
}
