//! Email notices: templates loaded and checked, rendered, and sent to a real SMTP
//! server (aiosmtpd, `tests/smtp_sink.py`) over lettre's pooled transport.

use std::path::{Path, PathBuf};

use dunner::config::{AgencyConfig, EmailConfig, SmtpConfig, SmtpTls};
use dunner::dispatch::templates::{NoticeContext, Sender, TemplateError, Templates};
use dunner::dispatch::{Delivery, EmailSender, RenderedEmail};
use dunner::domain::{Account, Purpose};

use crate::helpers::{SmtpSink, dunner};

pub(crate) fn shipped_templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

pub(crate) fn sender() -> Sender {
    Sender::from_config(
        &EmailConfig::default(),
        &AgencyConfig {
            name: "Example Recovery LLC".into(),
            address: "1 Main Street, Albany, NY 12207".into(),
            phone: "+1 518 555 0100".into(),
        },
    )
}

fn account() -> Account {
    serde_json::from_value(serde_json::json!({
        "id": "ACC-77",
        "creditor": "Example Bank, N.A.",
        "balance": {"amount": "1842.17", "currency": "USD"},
        "consumer": {
            "address": {"state": "NY", "city": "Albany"},
            "emails": [{"address": "alex@example.com", "kind": "personal"}]
        }
    }))
    .unwrap()
}

fn render(purpose: Purpose, notice_id: &str) -> RenderedEmail {
    let templates = Templates::load(&shipped_templates_dir(), &sender()).unwrap();
    let data = serde_json::json!({
        "consumer_name": "Alex <Doe>",
        "validation_notice_url": "https://pay.recovery.example/n/ACC-77",
        "amount_due": {"amount": "150", "currency": "USD"},
        "due_date": "2026-03-03",
    });
    templates
        .render(NoticeContext {
            account: &account(),
            notice_id,
            purpose,
            data: &data,
        })
        .unwrap()
}

fn part<'a>(message: &'a serde_json::Value, content_type: &str) -> &'a str {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {message}"))["body"]
        .as_str()
        .unwrap()
}

/// A template directory holding copies of the shipped templates, to break.
fn copy_of_shipped() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for purpose in [
        "validation_notice",
        "payment_reminder",
        "termination_notice",
    ] {
        std::fs::create_dir(dir.path().join(purpose)).unwrap();
        for file in ["subject.txt", "body.txt", "body.html"] {
            std::fs::copy(
                shipped_templates_dir().join(purpose).join(file),
                dir.path().join(purpose).join(file),
            )
            .unwrap();
        }
    }
    dir
}

fn problems(error: TemplateError) -> Vec<String> {
    match error {
        TemplateError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        TemplateError::Render(problem) => vec![problem.to_string()],
        other => panic!("expected template problems, got {other}"),
    }
}

#[test]
fn the_shipped_templates_all_load_and_serve_their_purposes() {
    let templates = Templates::load(&shipped_templates_dir(), &sender()).unwrap();
    assert_eq!(
        templates.purposes(),
        [
            Purpose::ValidationNotice,
            Purpose::PaymentReminder,
            Purpose::TerminationNotice
        ]
    );
    let reminder = render(Purpose::PaymentReminder, "n-1");
    assert!(
        reminder
            .text
            .contains("A payment of $150.00 is due on March 3, 2026."),
        "{}",
        reminder.text
    );
    assert!(
        reminder
            .text
            .contains("This communication is from a debt collector.")
    );
    let termination = render(Purpose::TerminationNotice, "n-2");
    assert!(
        termination.text.contains("1006.6(c)(2)"),
        "{}",
        termination.text
    );
    assert!(
        termination.html.contains("Dear Alex &lt;Doe&gt;,"),
        "HTML is escaped"
    );
    assert!(termination.text.contains("Dear Alex <Doe>,"), "text is not");
    assert!(
        !termination.text.contains("payment of"),
        "no demand in a termination notice"
    );
}

#[test]
fn a_template_without_the_opt_out_line_is_refused_naming_the_file() {
    let dir = copy_of_shipped();
    let html = dir.path().join("payment_reminder/body.html");
    let text = std::fs::read_to_string(&html).unwrap();
    std::fs::write(&html, text.replace("{{ opt_out.line }}", "")).unwrap();
    let found = problems(Templates::load(dir.path(), &sender()).unwrap_err());
    let expected = format!(
        "{}: the rendered message lacks the opt-out line required by 12 CFR 1006.6(e)",
        html.display()
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(&expected), "{found:?}");
}

#[test]
fn an_opt_out_line_hidden_in_an_html_comment_does_not_count() {
    let dir = copy_of_shipped();
    let html = dir.path().join("termination_notice/body.html");
    let text = std::fs::read_to_string(&html).unwrap();
    std::fs::write(
        &html,
        text.replace("{{ opt_out.line }}", "<!-- {{ opt_out.line }} -->"),
    )
    .unwrap();
    let found = problems(Templates::load(dir.path(), &sender()).unwrap_err());
    assert!(
        found[0].contains("termination_notice/body.html"),
        "{found:?}"
    );
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let dir = copy_of_shipped();
    let body = dir.path().join("validation_notice/body.txt");
    std::fs::write(&body, "Hello\n\n{% if data.x %}\n{{ opt_out.line }}\n").unwrap();
    let found = problems(Templates::load(dir.path(), &sender()).unwrap_err());
    assert_eq!(found.len(), 1, "{found:?}");
    let prefix = format!("{}:", body.display());
    assert!(found[0].starts_with(&prefix), "{found:?}");
    assert!(found[0].contains("syntax error"), "{found:?}");
    let line: usize = found[0][prefix.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3..=5).contains(&line), "{found:?}");
}

#[test]
fn a_directory_that_is_no_purpose_and_a_missing_part_are_refused() {
    let dir = copy_of_shipped();
    std::fs::create_dir(dir.path().join("payment_remindr")).unwrap();
    std::fs::remove_file(dir.path().join("termination_notice/body.html")).unwrap();
    let found = problems(Templates::load(dir.path(), &sender()).unwrap_err());
    assert!(
        found
            .iter()
            .any(|p| p.contains("did you mean `payment_reminder`?")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("termination_notice/body.html: missing")),
        "{found:?}"
    );
}

#[test]
fn rules_check_reports_bad_templates_with_exit_code_3() {
    let dir = copy_of_shipped();
    let html = dir.path().join("payment_reminder/body.html");
    let text = std::fs::read_to_string(&html).unwrap();
    std::fs::write(&html, text.replace("{{ opt_out.line }}", "")).unwrap();
    let templates = dir.path().to_str().unwrap();
    let output = dunner(&["rules", "check", "rules", "--templates", templates], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("payment_reminder/body.html: the rendered message lacks the opt-out line"),
        "{stderr}"
    );
    let output = dunner(&["rules", "check", "rules", "--format", "plain"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("3 email template(s) valid in"), "{stderr}");
}

#[tokio::test]
async fn a_validation_notice_reaches_a_real_smtp_server_with_both_parts_and_a_stable_message_id() {
    let sink = SmtpSink::start();
    let sender = EmailSender::new(&sink.config()).unwrap();
    let notice_id = "0190a3c2-7f4e-7b1a-9c55-3f2d8e6a1b07";
    let rendered = render(Purpose::ValidationNotice, notice_id);
    let delivery = sender.send(notice_id, "alex@example.com", &rendered).await;
    assert_eq!(delivery, Delivery::Delivered);
    // A retried send of the same notice carries the same Message-ID.
    let again = sender.send(notice_id, "alex@example.com", &rendered).await;
    assert_eq!(again, Delivery::Delivered);

    let received = sink.received();
    assert_eq!(received.len(), 2);
    let message = &received[0];
    let headers = &message["headers"];
    let expected_id = format!("<{notice_id}@recovery.example>");
    assert_eq!(headers["message-id"], expected_id.as_str());
    assert_eq!(received[1]["headers"]["message-id"], expected_id.as_str());
    assert_eq!(headers["to"], "alex@example.com");
    assert_eq!(
        headers["from"],
        "Example Recovery <notices@recovery.example>"
    );
    assert_eq!(message["mail_from"], "notices@recovery.example");
    assert_eq!(message["rcpt_tos"], serde_json::json!(["alex@example.com"]));
    assert_eq!(message["content_type"], "multipart/alternative");
    assert!(
        headers["subject"]
            .as_str()
            .unwrap()
            .contains("Example Bank, N.A."),
        "{headers}"
    );

    let opt_out = dunner::config::DEFAULT_OPT_OUT_LINE;
    let text = part(message, "text/plain");
    let html = part(message, "text/html");
    for body in [text, html] {
        assert!(body.contains(opt_out), "{body}");
        assert!(body.contains("$1,842.17"), "{body}");
        assert!(
            body.contains("This communication is from a debt collector."),
            "{body}"
        );
        // HTML escaping writes `/` as `&#x2f;` (still the same link in a browser).
        assert!(body.contains("pay.recovery.example"), "{body}");
    }
    assert!(html.contains("<html"), "{html}");
    assert!(!text.contains("<p>"), "{text}");
}

#[tokio::test]
async fn a_closed_port_is_worth_a_retry() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        tls: SmtpTls::None,
        from: "notices@recovery.example".into(),
        timeout: 5,
        ..SmtpConfig::default()
    };
    let sender = EmailSender::new(&config).unwrap();
    let rendered = render(Purpose::PaymentReminder, "n-closed");
    match sender.send("n-closed", "alex@example.com", &rendered).await {
        Delivery::Retry { reason, .. } => {
            assert!(!reason.contains("alex"), "no personal data: {reason}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_recipient_refused_with_550_is_permanent_and_with_451_is_a_retry() {
    let sink = SmtpSink::start_rejecting(&[
        (
            "gone@example.com",
            "550 5.1.1 <gone@example.com>: no such user",
        ),
        (
            "busy@example.com",
            "451 4.3.0 <busy@example.com>: try again later",
        ),
    ]);
    let sender = EmailSender::new(&sink.config()).unwrap();
    let rendered = render(Purpose::PaymentReminder, "n-rcpt");
    match sender.send("n-rcpt", "gone@example.com", &rendered).await {
        Delivery::Permanent { reason } => {
            assert!(reason.contains("550"), "{reason}");
            assert!(!reason.contains("gone"), "no personal data: {reason}");
        }
        other => panic!("expected permanent, got {other:?}"),
    }
    match sender.send("n-rcpt", "busy@example.com", &rendered).await {
        Delivery::Retry { reason, .. } => {
            assert!(reason.contains("451"), "{reason}");
            assert!(!reason.contains("busy"), "no personal data: {reason}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    // The pooled connection is still good for the next message.
    assert_eq!(
        sender.send("n-ok", "alex@example.com", &rendered).await,
        Delivery::Delivered
    );
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_malformed_address_is_permanent_without_echoing_it() {
    let config = SmtpConfig {
        from: "notices@recovery.example".into(),
        tls: SmtpTls::None,
        ..SmtpConfig::default()
    };
    let sender = EmailSender::new(&config).unwrap();
    let rendered = render(Purpose::PaymentReminder, "n-bad");
    match sender.send("n-bad", "not an address", &rendered).await {
        Delivery::Permanent { reason } => assert!(!reason.contains("not an address"), "{reason}"),
        other => panic!("expected permanent, got {other:?}"),
    }
}

/// A throwaway CA and a server certificate it signed for `localhost` and 127.0.0.1,
/// written as PEM files to a temporary directory.
pub(crate) struct TestCa {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) ca_cert: PathBuf,
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, name);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        TestCa {
            ca_cert: write("ca.pem", ca_cert.pem()),
            server_cert: write("server.pem", server_cert.pem()),
            server_key: write("server-key.pem", server_key.serialize_pem()),
            _dir: dir,
        }
    }
}

fn tls_config(sink: &SmtpSink, tls: SmtpTls, ca_file: Option<&Path>) -> SmtpConfig {
    SmtpConfig {
        tls,
        ca_file: ca_file.map(Path::to_path_buf),
        ..sink.config()
    }
}

#[tokio::test]
async fn tls_and_starttls_reach_a_relay_whose_private_ca_is_in_ca_file() {
    let ca = TestCa::new("dunner test CA");
    for (mode, tls) in [("implicit", SmtpTls::Tls), ("starttls", SmtpTls::StartTls)] {
        let sink = SmtpSink::start_tls(mode, &ca);
        let sender = EmailSender::new(&tls_config(&sink, tls, Some(&ca.ca_cert))).unwrap();
        let notice_id = format!("n-tls-{mode}");
        let rendered = render(Purpose::PaymentReminder, &notice_id);
        let delivery = sender.send(&notice_id, "alex@example.com", &rendered).await;
        assert_eq!(delivery, Delivery::Delivered, "{mode}");
        let received = sink.received();
        assert_eq!(received.len(), 1, "{mode}");
        let message = &received[0];
        assert!(
            message["tls"]
                .as_str()
                .is_some_and(|v| v.starts_with("TLSv1.")),
            "{mode}: the message came over TLS: {}",
            message["tls"]
        );
        assert_eq!(message["rcpt_tos"], serde_json::json!(["alex@example.com"]));
        assert_eq!(
            message["headers"]["message-id"],
            format!("<{notice_id}@recovery.example>").as_str()
        );
        assert!(part(message, "text/plain").contains("$150.00"), "{mode}");
    }
}

#[tokio::test]
async fn a_relay_with_an_untrusted_certificate_is_refused_and_nothing_is_sent() {
    let ca = TestCa::new("dunner test CA");
    // Another CA, which did not sign the relay's certificate.
    let stranger = TestCa::new("a stranger's CA");
    for (mode, tls) in [("implicit", SmtpTls::Tls), ("starttls", SmtpTls::StartTls)] {
        let sink = SmtpSink::start_tls(mode, &ca);
        for ca_file in [None, Some(stranger.ca_cert.as_path())] {
            let config = tls_config(&sink, tls, ca_file);
            let sender = match EmailSender::new(&config) {
                Ok(sender) => sender,
                // A machine without system roots cannot even build the verifier.
                Err(error) if ca_file.is_none() => {
                    assert!(error.to_string().contains("TLS"), "{error}");
                    continue;
                }
                Err(error) => panic!("{mode}: {error}"),
            };
            let rendered = render(Purpose::PaymentReminder, "n-untrusted");
            match sender
                .send("n-untrusted", "alex@example.com", &rendered)
                .await
            {
                Delivery::Retry { reason, .. } => {
                    assert!(
                        reason.contains("TLS") && reason.contains("UnknownIssuer"),
                        "{mode}, ca_file {ca_file:?}: {reason}"
                    );
                }
                other => panic!("{mode}, ca_file {ca_file:?}: expected a refusal, got {other:?}"),
            }
        }
        assert!(sink.received().is_empty(), "{mode}: nothing was sent");
    }
}

#[test]
fn a_ca_file_that_is_missing_or_not_pem_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let key_only = dir.path().join("key.pem");
    std::fs::write(
        &key_only,
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    for (path, expected) in [
        (&missing, "cannot read it"),
        (&garbage, "holds no certificate"),
        (&key_only, "holds no certificate"),
    ] {
        let config = SmtpConfig {
            tls: SmtpTls::StartTls,
            ca_file: Some(path.clone()),
            from: "notices@recovery.example".into(),
            ..SmtpConfig::default()
        };
        let error = EmailSender::new(&config).unwrap_err().to_string();
        let named = format!("[smtp] `ca_file` {}: {expected}", path.display());
        assert!(error.starts_with(&named), "{error}");

        // The daemon's configuration says so too, naming the file it read.
        let file = dir.path().join("dunner.toml");
        std::fs::write(
            &file,
            format!(
                "[smtp]\nhost = \"127.0.0.1\"\nfrom = \"notices@recovery.example\"\nca_file = \"{}\"\n",
                path.display()
            ),
        )
        .unwrap();
        let output = dunner(
            &["--config", file.to_str().unwrap(), "config", "show"],
            None,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(&named), "{stderr}");
        assert!(stderr.contains("dunner.toml"), "{stderr}");
    }
}
