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

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::Delivery;
use super::templates::RenderedEmail;
use crate::secret::Secret;

/// `[smtp]` (optional: absent by default, and then no email leaves the building).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay's host name or address (also the name its TLS certificate must carry).
    pub host: String,
    /// The relay's port; unset means 25 for `none`, 587 for `starttls`, 465 for `tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// The user name, when the relay wants authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password that goes with `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A PEM file of CA certificates to trust for the relay's TLS certificate, besides
    /// the system's roots (a relay with a private or self-signed CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The sender mailbox (`Agency <notices@agency.example>`); its domain names the
    /// Message-IDs.
    pub from: String,
    /// Seconds to wait for the relay on each step before the try counts as failed.
    pub timeout: u64,
    /// The most connections kept open to the relay at once.
    pub pool_size: u32,
}

impl Default for SmtpConfig {
    fn default() -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: None,
            tls: SmtpTls::StartTls,
            username: None,
            password: None,
            ca_file: None,
            from: String::new(),
            timeout: 30,
            pool_size: 10,
        }
    }
}

impl SmtpConfig {
    /// The port to connect to: the configured one, else the usual one for `tls`.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        })
    }

    /// The checks serde cannot make: a sender mailbox, and a user name and password
    /// given together.
    pub fn check(&self) -> Result<(), String> {
        let from = self.from.trim();
        if from.is_empty() {
            return Err(
                "[smtp] needs `from`, the sender mailbox (`Agency <notices@agency.example>`)"
                    .into(),
            );
        }
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(
                "[smtp] `from` is not a mailbox such as `Agency <notices@agency.example>`".into(),
            );
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(
                "[smtp] `username` and `password` go together: give both or neither".into(),
            );
        }
        if self.pool_size == 0 {
            return Err("[smtp] `pool_size` must be at least 1".into());
        }
        if self.timeout == 0 {
            return Err("[smtp] `timeout` must be at least 1 second".into());
        }
        if self.ca_file.is_some() && self.tls == SmtpTls::None {
            return Err(
                "[smtp] `ca_file` is for TLS, but `tls` is \"none\": use \"starttls\" or \"tls\", or drop `ca_file`"
                    .into(),
            );
        }
        self.ca_certificates()?;
        Ok(())
    }

    /// The CA certificates of `ca_file` (PEM), checked: readable, at least one
    /// certificate, each one usable as a trust anchor. `None` without `ca_file`.
    pub fn ca_certificates(&self) -> Result<Option<Vec<u8>>, String> {
        use rustls::pki_types::pem::PemObject;
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        let problem = |what: String| format!("[smtp] `ca_file` {}: {what}", path.display());
        let pem =
            std::fs::read(path).map_err(|error| problem(format!("cannot read it: {error}")))?;
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let certificate =
                certificate.map_err(|error| problem(format!("not valid PEM: {error}")))?;
            roots
                .add(certificate)
                .map_err(|error| problem(format!("not a usable CA certificate: {error}")))?;
        }
        if roots.is_empty() {
            return Err(problem(
                "holds no certificate (expected PEM `-----BEGIN CERTIFICATE-----` blocks)".into(),
            ));
        }
        Ok(Some(pem))
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same machine or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS, which the relay must offer.
    #[default]
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

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
