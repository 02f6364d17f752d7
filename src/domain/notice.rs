//! The outbox's vocabulary: what a notice request says and the states of a notice.
//! Pure: the store writes and leases rows, the outbox worker sends them. It lives in the
//! domain so that the store, the service and the outbox share it without a cycle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Account, Channel, EmailKind, Purpose};

/// What a webhook notice announces, as the receiver is told in the body's `type` and as
/// `[[webhooks]] event_types` subscribe to it. Parsed once, where a request or the
/// configuration arrives; a typo is refused with the closest name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[non_exhaustive]
pub enum WebhookEventType {
    /// A notice should be produced, e.g. by a letter vendor.
    #[serde(rename = "notice.requested")]
    NoticeRequested,
    /// A contact is allowed now: a dialer may call.
    #[serde(rename = "contact.due")]
    ContactDue,
    /// An account was escalated.
    #[serde(rename = "account.escalated")]
    AccountEscalated,
}

impl WebhookEventType {
    /// Every event type.
    pub const ALL: [WebhookEventType; 3] = [
        WebhookEventType::NoticeRequested,
        WebhookEventType::ContactDue,
        WebhookEventType::AccountEscalated,
    ];

    /// The dotted name used on the wire and in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::NoticeRequested => "notice.requested",
            WebhookEventType::ContactDue => "contact.due",
            WebhookEventType::AccountEscalated => "account.escalated",
        }
    }
}

impl std::fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WebhookEventType {
    type Err = String;

    /// Parses a dotted name, suggesting the closest one on a typo.
    fn from_str(name: &str) -> Result<WebhookEventType, String> {
        if let Some(found) = WebhookEventType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
        {
            return Ok(found);
        }
        let names = WebhookEventType::ALL.map(WebhookEventType::as_str);
        let help = crate::suggest::did_you_mean(name, names)
            .map(|best| format!("; did you mean `{best}`?"))
            .unwrap_or_else(|| format!("; use one of `{}`", names.join("`, `")));
        Err(format!("unknown event type `{name}`{help}"))
    }
}

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
    #[serde(deserialize_with = "super::deserialize_account_id")]
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub account_id: String,
    /// Email or webhook.
    pub channel: NoticeChannel,
    /// Why (the policy checks the purpose: a termination notice may go out under a
    /// cease-and-desist, a collection email may not).
    #[serde(default)]
    pub purpose: Purpose,
    /// The email template (`templates/<purpose>/`), named after the purpose it serves
    /// (it must be the notice's `purpose`): required for an email, refused for a webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Purpose>,
    /// The webhook event type (`notice.requested`, `contact.due`, `account.escalated`);
    /// webhooks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<WebhookEventType>,
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
super::object_only!(NoticeRequest);

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
                let Some(template) = self.template else {
                    return Err(invalid("template", "an email notice needs a `template`"));
                };
                if template != self.purpose {
                    return Err(invalid(
                        "template",
                        format!(
                            "the template `{}` serves another purpose than the notice's `{}`",
                            template.as_str(),
                            self.purpose.as_str()
                        ),
                    ));
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
            NoticeChannel::Webhook => Ok(match self.event_type {
                Some(WebhookEventType::NoticeRequested) => Some((Channel::Letter, None)),
                Some(WebhookEventType::ContactDue) => Some((Channel::Call, None)),
                _ => None,
            }),
        }
    }
}

/// Who can deliver notices in this daemon: the purposes an email can be sent for (an
/// SMTP server and a template per purpose), and whether any `[[webhooks]]` endpoint
/// is configured. A notice nobody can deliver is refused when it is asked for, not
/// retried for a day and dead-lettered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeSenders {
    /// The purposes with an email template, when `[smtp]` is configured; `None` without.
    pub email_templates: Option<Vec<Purpose>>,
    /// Whether `[[webhooks]]` endpoints are configured.
    pub webhooks: bool,
}

impl NoticeSenders {
    /// Every channel and template deliverable (tools and tests that send nothing).
    pub fn every() -> NoticeSenders {
        NoticeSenders {
            email_templates: Some(Purpose::ALL.to_vec()),
            webhooks: true,
        }
    }

    /// Refuses a request nobody here can deliver, naming what is missing.
    pub fn check(&self, request: &NoticeRequest) -> Result<(), NoticeError> {
        match request.channel {
            NoticeChannel::Email => {
                let Some(templates) = &self.email_templates else {
                    return Err(invalid(
                        "channel",
                        "no SMTP server is configured (`[smtp]` in dunner.toml): email notices cannot be sent",
                    ));
                };
                if let Some(template) = request.template
                    && !templates.contains(&template)
                {
                    return Err(invalid(
                        "template",
                        format!(
                            "there is no email template `{}` under the templates directory",
                            template.as_str()
                        ),
                    ));
                }
            }
            NoticeChannel::Webhook if !self.webhooks => {
                return Err(invalid(
                    "channel",
                    "no webhook endpoint is configured (`[[webhooks]]` in dunner.toml): webhook notices cannot be sent",
                ));
            }
            NoticeChannel::Webhook => {}
        }
        Ok(())
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
