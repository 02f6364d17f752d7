//! The email sender: one rendered notice to one address over SMTP, through lettre's
//! pooled async transport (rustls with the ring provider; plain, STARTTLS or TLS; the
//! system's CA roots plus `ca_file`'s, when set).
//!
//! It delivers and classifies, nothing more: rendering is [`super::templates`], and
//! whether to send, when to retry and when to give up belong to the outbox worker.
//!
//! The Message-ID is `<{notice id}@{domain of from}>`, so every try of one notice
//! carries the same id and a receiver (or a person reading a mailbox) recognises a
//! retried send. [`Delivery`] reasons name the SMTP code and what it means, never the
//! address, the body or the server's text (which often echoes the address).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Delivery;
use super::templates::RenderedEmail;
use crate::config::{SmtpConfig, SmtpTls};

/// Why an [`EmailSender`] could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// Email notices need an `[smtp]` section.
    #[error(
        "email notices need an SMTP relay: add an [smtp] section to the configuration (or set DUNNER_SMTP_HOST and DUNNER_SMTP_FROM)"
    )]
    NotConfigured,
    /// `from` is not a mailbox with a domain.
    #[error(
        "[smtp] `from` is not a mailbox with a domain, such as `Agency <notices@agency.example>`"
    )]
    InvalidFrom,
    /// `ca_file` could not be read or holds no usable CA certificate.
    #[error("{0}")]
    CaFile(String),
    /// The TLS settings could not be built.
    #[error("failed to set up TLS for the SMTP relay {host}: {source}")]
    Tls {
        /// The relay.
        host: String,
        /// The cause.
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

/// Sends rendered notices through one SMTP relay, reusing pooled connections.
#[derive(Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    /// The sender for the `[smtp]` section; [`EmailError::NotConfigured`] without one.
    pub fn from_config(smtp: Option<&SmtpConfig>) -> Result<EmailSender, EmailError> {
        smtp.map_or(Err(EmailError::NotConfigured), EmailSender::new)
    }

    /// Builds the pooled transport. Nothing connects until the first send.
    pub fn new(config: &SmtpConfig) -> Result<EmailSender, EmailError> {
        let from: Mailbox = config
            .from
            .trim()
            .parse()
            .map_err(|_| EmailError::InvalidFrom)?;
        let domain = from.email.domain().to_string();
        if domain.is_empty() {
            return Err(EmailError::InvalidFrom);
        }
        let host = config.host.trim().to_string();
        let ca = config.ca_certificates().map_err(EmailError::CaFile)?;
        let tls = |host: &str| {
            let error = |source| EmailError::Tls {
                host: host.to_string(),
                source,
            };
            let mut builder = TlsParameters::builder(host.to_string());
            if let Some(pem) = &ca {
                builder = builder.add_root_certificate(Certificate::from_pem(pem).map_err(error)?);
            }
            builder.build().map_err(error)
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls(&host)?),
            SmtpTls::Tls => Tls::Wrapper(tls(&host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.effective_port())
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.timeout)))
            .pool_config(PoolConfig::new().max_size(config.pool_size));
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(EmailSender {
            transport: builder.build(),
            from,
            domain,
        })
    }

    /// The Message-ID every try of this notice carries.
    pub fn message_id(&self, notice_id: &str) -> String {
        format!("<{}@{}>", message_id_local_part(notice_id), self.domain)
    }

    /// Sends one notice as multipart/alternative (text and HTML) and says how it went.
    pub async fn send(&self, notice_id: &str, to: &str, rendered: &RenderedEmail) -> Delivery {
        let Ok(to) = to.trim().parse::<Mailbox>() else {
            return Delivery::Permanent {
                reason: "the recipient is not a valid email address".into(),
            };
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.as_str())
            .message_id(Some(self.message_id(notice_id)))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ));
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                return Delivery::Permanent {
                    reason: format!("the message could not be built: {error}"),
                };
            }
        };
        match self.transport.send(message).await {
            Ok(_) => Delivery::Delivered,
            Err(error) => classify(&error),
        }
    }
}

/// An SMTP 5xx is permanent; a 4xx, a refused or dropped connection, a timeout or a
/// TLS failure is worth another try. The server's text is left out: it often echoes
/// the address.
fn classify(error: &lettre::transport::smtp::Error) -> Delivery {
    let code = error.status().map(|code| code.to_string());
    if error.is_permanent() {
        return Delivery::Permanent {
            reason: format!(
                "the SMTP server refused the message permanently (SMTP {})",
                code.as_deref().unwrap_or("5xx")
            ),
        };
    }
    let reason = if error.is_transient() {
        format!(
            "the SMTP server deferred the message (SMTP {})",
            code.as_deref().unwrap_or("4xx")
        )
    } else if error.is_timeout() {
        "the SMTP server did not answer in time".to_string()
    } else if let Some(cause) = tls_cause(error) {
        // rustls says why (an unknown issuer, a name the certificate does not carry);
        // it names certificates and hosts, never the recipient.
        format!("the TLS handshake with the SMTP server failed: {cause}")
    } else if error.is_tls() {
        "the TLS handshake with the SMTP server failed".to_string()
    } else if error.is_response() {
        "the SMTP server's answer could not be understood".to_string()
    } else {
        "could not talk to the SMTP server (connection refused or dropped)".to_string()
    };
    Delivery::Retry {
        after: None,
        reason,
    }
}

/// The rustls error somewhere in the chain of causes (an I/O error carries it inside,
/// where `source()` does not look).
fn tls_cause(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(tls) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        next = error.source();
    }
    None
}

/// The notice id as a Message-ID's left part (RFC 5322 `dot-atom-text`): letters,
/// digits, `-` and `_` pass; anything else (a dot too, which may not lead, trail or
/// double) becomes `=XX` per UTF-8 byte, so the mapping is
/// one-to-one and the same id always gives the same Message-ID.
fn message_id_local_part(notice_id: &str) -> String {
    let mut out = String::with_capacity(notice_id.len());
    for byte in notice_id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("={byte:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("notice");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_left_parts_keep_safe_characters_and_escape_the_rest() {
        assert_eq!(
            message_id_local_part("0190a3c2-7f4e-7b1a-9c55-3f2d8e6a1b07"),
            "0190a3c2-7f4e-7b1a-9c55-3f2d8e6a1b07"
        );
        assert_eq!(message_id_local_part("a b<c>"), "a=20b=3Cc=3E");
        assert_eq!(message_id_local_part("a=b"), "a=3Db");
        assert_eq!(message_id_local_part("a.b"), "a=2Eb");
    }

    #[test]
    fn a_sender_needs_a_from_mailbox_with_a_domain() {
        let config = SmtpConfig {
            from: "not an address".into(),
            ..SmtpConfig::default()
        };
        assert!(matches!(
            EmailSender::new(&config),
            Err(EmailError::InvalidFrom)
        ));
        assert!(matches!(
            EmailSender::from_config(None),
            Err(EmailError::NotConfigured)
        ));
    }
}
