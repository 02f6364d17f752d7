//! The couriers the outbox worker hands notices to: an email courier (a template
//! rendered for the account, sent over SMTP) and a webhook courier (the notice signed
//! and posted to every endpoint subscribed to its event type). Each delivers one notice
//! once and classifies the result; when, whether and how often is the outbox's business.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Delivery;
use super::email::EmailSender;
use super::templates::{NoticeContext, Templates};
use super::webhook::WebhookEndpoint;
use super::webhook::{EventType, WebhookSender};
use crate::clock::Clock;
use crate::domain::{Account, Notice, NoticeChannel};

/// What sends one notice: an email courier, a webhook courier.
pub trait Courier: Send + Sync {
    /// Delivers the notice about `account` once and says how it went.
    fn deliver<'a>(
        &'a self,
        notice: &'a Notice,
        account: &'a Account,
        contact_point: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Delivery> + Send + 'a>>;
}

/// The couriers the daemon has (an email courier only when SMTP is configured, a
/// webhook courier only when `[[webhooks]]` are), and the purposes it has email
/// templates for.
#[derive(Clone, Default)]
pub struct Couriers {
    /// Sends email notices.
    pub email: Option<Arc<dyn Courier>>,
    /// Sends webhook notices.
    pub webhook: Option<Arc<dyn Courier>>,
}

impl Couriers {
    /// The courier of a notice's channel, if one is configured.
    pub fn for_channel(&self, channel: NoticeChannel) -> Option<&Arc<dyn Courier>> {
        match channel {
            NoticeChannel::Email => self.email.as_ref(),
            NoticeChannel::Webhook => self.webhook.as_ref(),
        }
    }
}

/// Sends email notices: the template named by the notice (a purpose's name), filled
/// with the account and the notice's data.
pub struct EmailCourier {
    /// The SMTP sender.
    pub sender: EmailSender,
    /// The loaded, checked templates.
    pub templates: Arc<Templates>,
}

impl Courier for EmailCourier {
    fn deliver<'a>(
        &'a self,
        notice: &'a Notice,
        account: &'a Account,
        contact_point: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Delivery> + Send + 'a>> {
        Box::pin(async move {
            let Some(to) = contact_point else {
                return Delivery::Permanent {
                    reason: "the notice has no email address".into(),
                };
            };
            let Some(purpose) = notice.request.template else {
                return Delivery::Permanent {
                    reason: "the notice names no template".into(),
                };
            };
            let data = Value::Object(notice.request.data.clone());
            let rendered = match self.templates.render(NoticeContext {
                account,
                notice_id: &notice.id,
                purpose,
                data: &data,
            }) {
                Ok(rendered) => rendered,
                Err(error) => {
                    return Delivery::Permanent {
                        reason: format!("the template cannot be filled: {error}"),
                    };
                }
            };
            self.sender.send(&notice.id, to, &rendered).await
        })
    }
}

/// Sends webhook notices to every endpoint subscribed to their event type, with the
/// notice's id as the stable `webhook-id`.
pub struct WebhookCourier {
    /// The HTTP sender.
    pub sender: WebhookSender,
    /// The configured endpoints.
    pub endpoints: Arc<[WebhookEndpoint]>,
    /// For the `webhook-timestamp`.
    pub clock: Arc<dyn Clock>,
}

impl Courier for WebhookCourier {
    fn deliver<'a>(
        &'a self,
        notice: &'a Notice,
        account: &'a Account,
        _contact_point: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Delivery> + Send + 'a>> {
        Box::pin(async move {
            let Some(event_type) = notice.request.event_type else {
                return Delivery::Permanent {
                    reason: "the notice names no event type".into(),
                };
            };
            let payload = json!({
                "notice_id": notice.id,
                "account_id": notice.account_id,
                "purpose": notice.request.purpose,
                "account": account,
                "data": notice.request.data,
            });
            let mut outcomes = Vec::new();
            for endpoint in self.endpoints.iter().filter(|e| e.wants(event_type)) {
                let delivery = self
                    .sender
                    .deliver(endpoint, &notice.id, event_type, &payload, self.clock.now())
                    .await;
                outcomes.push((endpoint.name.as_str(), delivery));
            }
            combine(event_type, outcomes)
        })
    }
}

/// One result for a notice sent to several endpoints: delivered when every endpoint
/// took it; otherwise retried while any failure is worth retrying (endpoints that took
/// it get it again with the same `webhook-id`, which receivers deduplicate on); dead when
/// the only failures are permanent.
fn combine(event_type: EventType, outcomes: Vec<(&str, Delivery)>) -> Delivery {
    if outcomes.is_empty() {
        return Delivery::Permanent {
            reason: format!(
                "no webhook endpoint subscribes to `{}`",
                event_type.as_str()
            ),
        };
    }
    let mut retry: Option<(Option<Duration>, Vec<String>)> = None;
    let mut permanent = Vec::new();
    for (name, outcome) in outcomes {
        match outcome {
            Delivery::Delivered => {}
            Delivery::Retry { after, reason } => {
                let (longest, reasons) = retry.get_or_insert((None, Vec::new()));
                *longest = (*longest).max(after);
                reasons.push(format!("{name}: {reason}"));
            }
            Delivery::Permanent { reason } => permanent.push(format!("{name}: {reason}")),
        }
    }
    match retry {
        Some((after, mut reasons)) => {
            reasons.extend(permanent);
            Delivery::Retry {
                after,
                reason: reasons.join("; "),
            }
        }
        None if permanent.is_empty() => Delivery::Delivered,
        None => Delivery::Permanent {
            reason: permanent.join("; "),
        },
    }
}
