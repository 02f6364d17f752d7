//! Shared fixtures: the shipped policy, requests, the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

use dunner::Policy;
use dunner::policy::SourceFile;

/// The repository's `rules/` directory.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// The shipped policy, loaded once.
pub static SHIPPED: LazyLock<Policy> =
    LazyLock::new(|| Policy::load(&rules_dir()).expect("the shipped packs load"));

/// The shipped policy as the daemon holds it (shared with the store's writer).
pub static SHIPPED_SHARED: LazyLock<std::sync::Arc<Policy>> =
    LazyLock::new(|| std::sync::Arc::new(SHIPPED.clone()));

/// A client overlay stricter than the shipped packs: calls only between noon and 1 pm.
pub const NOON_ONLY: &str = r#"
[pack]
id = "client-noon"
title = "Client overlay: calls only at lunchtime"
version = "1"
citation = "Client contract 4.2"
effective_from = 2021-01-01

[pack.scope]
country = "US"

[[window]]
id = "client.noon-only"
citation = "Client contract 4.2"
message = "Calls only between noon and 1 pm."
channels = ["call"]
allow = [{ from = "12:00", to = "13:00" }]
"#;

/// The shipped packs with one more pack file: an overlay, a candidate, a shadow.
pub fn shipped_with(name: &str, text: &str) -> std::sync::Arc<Policy> {
    let mut sources: Vec<SourceFile> = SHIPPED_SHARED.sources().to_vec();
    sources.push(SourceFile::new(name, text));
    std::sync::Arc::new(Policy::from_sources(sources).expect("the overlay compiles"))
}

/// Compiles packs given as (file name, text).
pub fn compile(files: &[(&str, &str)]) -> Result<Policy, dunner::policy::PolicyError> {
    Policy::from_sources(
        files
            .iter()
            .map(|(name, text)| SourceFile::new(*name, *text))
            .collect(),
    )
}

/// Runs the real `dunner` binary.
pub fn dunner(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_dunner"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("dunner starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

/// The example request of the issue, with the Tuesday inconvenient time.
pub const EXAMPLE_REQUEST: &str = r#"{
  "at": "2026-04-07T18:00:00Z",
  "channel": "call",
  "purpose": "collection",
  "contact_point": "+12125550100",
  "account": {
    "id": "D-1001",
    "debt_type": "credit_card",
    "consumer": {
      "address": {"state": "NY", "city": "New York", "postal_code": "10001"},
      "time_zones": ["America/New_York"],
      "phones": [{"number": "+12125550100", "kind": "mobile"}],
      "emails": [{"address": "pat@example.com", "kind": "personal"}]
    },
    "flags": {"cease_and_desist": false, "attorney_represented": false, "disputed": false, "bankruptcy": false, "deceased": false, "work_contact_prohibited": false},
    "opted_out": ["email"],
    "inconvenient_times": [{"days": ["tue", "thu"], "from": "00:00", "to": "24:00", "until": "2026-12-31"}]
  },
  "history": [
    {"at": "2026-04-01T14:00:00Z", "channel": "call", "outcome": "voicemail"},
    {"at": "2026-04-03T15:00:00Z", "channel": "call", "outcome": "conversation", "initiated_by": "consumer"},
    {"at": "2026-04-03T15:10:00Z", "type": "consent", "channel": "call"}
  ]
}"#;

/// A minimal valid pack to build broken variants from.
pub const MINIMAL_PACK: &str = r#"
[pack]
id = "test"
title = "Test pack"
version = "1"
citation = "none"

[[window]]
id = "test.hours"
citation = "none"
message = "hours"
channels = ["call"]
allow = [{ from = "08:00", to = "21:00" }]
"#;

/// Says that a test could not run, where it is seen: on the terminal, past the test
/// harness's capture (which would hide an `eprintln!` of a passing test). In CI
/// (`CI` set) a test that cannot run fails instead: it never passes silently there.
pub fn skip_loudly(test: &str, why: &str) {
    use std::io::Write;
    if std::env::var_os("CI").is_some_and(|value| !value.is_empty()) {
        panic!("{test} cannot run in CI: {why}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The Python interpreter and `PYTHONPATH` that run `tests/smtp_sink.py`. The email
/// tests need aiosmtpd; when the machine's `python3` lacks it, it is installed once from
/// PyPI into the target directory (`pip install --target`), so that `cargo test` works
/// on a fresh machine with only Rust and Python. A failed install fails the tests that
/// need it, saying why.
pub fn smtp_python() -> (&'static str, Option<&'static Path>) {
    static PROVISIONED: LazyLock<Result<Option<PathBuf>, String>> = LazyLock::new(|| {
        let has_aiosmtpd = |pythonpath: Option<&Path>| {
            let mut command = Command::new("python3");
            command.args(["-c", "import aiosmtpd"]);
            if let Some(path) = pythonpath {
                command.env("PYTHONPATH", path);
            }
            command.output().is_ok_and(|output| output.status.success())
        };
        if has_aiosmtpd(None) {
            return Ok(None);
        }
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-aiosmtpd");
        if has_aiosmtpd(Some(&target)) {
            return Ok(Some(target));
        }
        let output = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&target)
            .arg("aiosmtpd==1.4.6")
            .output()
            .map_err(|error| format!("python3 could not be run to install aiosmtpd: {error}"))?;
        if output.status.success() && has_aiosmtpd(Some(&target)) {
            Ok(Some(target))
        } else {
            Err(format!(
                "aiosmtpd (the real SMTP server of the email tests) could not be installed \
                 with `python3 -m pip install --target {} aiosmtpd==1.4.6`: {}",
                target.display(),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    match &*PROVISIONED {
        Ok(path) => ("python3", path.as_deref()),
        Err(why) => panic!("{why}"),
    }
}

/// The instant the test daemon's clock stands at: 10:00 in New York.
pub const TEST_NOW: &str = "2026-04-07T14:00:00Z";

/// The daemon as `dunner serve` builds it ([`dunner::app::App::build`]), serving on
/// port 0 over a test ledger, with the shipped rules and a clock fixed at [`TEST_NOW`].
/// Stopped (and drained) when dropped or by [`TestApp::stop`].
pub struct TestApp {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// What its handlers share (the same ledger, policy and metrics).
    pub state: dunner::http::AppState,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _store: crate::store_conformance::TestStore,
}

impl TestApp {
    /// On a fresh SQLite file.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(crate::store_conformance::sqlite().await, |_| {}).await
    }

    /// On a given ledger (a fresh SQLite file or PostgreSQL schema), with the
    /// configuration changed by `configure` first.
    pub async fn spawn_with(
        test: crate::store_conformance::TestStore,
        configure: impl FnOnce(&mut dunner::config::Config),
    ) -> TestApp {
        let mut config = dunner::config::Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.database.url = test.url.clone();
        config.rules.dir = rules_dir();
        config.email.templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        configure(&mut config);
        let clock = std::sync::Arc::new(dunner::clock::FixedClock(TEST_NOW.parse().unwrap()));
        let app = dunner::app::App::build(&config, clock, true)
            .await
            .unwrap_or_else(|error| panic!("the test daemon does not start: {error}"));
        let address = app.local_addr().unwrap();
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default();
        TestApp {
            address,
            state,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            stop: Some(stop),
            served: Some(served),
            _store: test,
        }
    }

    /// `http://ADDRESS{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A request to the daemon, over a real connection.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.client.request(method, self.url(path))
    }

    /// Stops the daemon and waits until it has drained (the server, the outbox worker,
    /// the rule watcher).
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.served.take() {
            Some(served) => served.await.unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The SMTP sink: a real SMTP server (aiosmtpd, `tests/smtp_sink.py`) on loopback that
/// keeps every message it accepts.
mod smtp_sink {
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    use dunner::config::{SmtpConfig, SmtpTls};

    use crate::email::TestCa;

    /// A running `tests/smtp_sink.py`; killed when dropped.
    pub(crate) struct SmtpSink {
        child: Child,
        port: u16,
        out: tempfile::TempDir,
    }

    impl SmtpSink {
        pub(crate) fn start() -> SmtpSink {
            SmtpSink::start_rejecting(&[])
        }

        /// A sink whose RCPT TO answers `reply` for `address`.
        pub(crate) fn start_rejecting(rejects: &[(&str, &str)]) -> SmtpSink {
            SmtpSink::start_with(rejects, None)
        }

        /// A sink speaking TLS (`implicit` or `starttls`) with `ca`'s server certificate.
        pub(crate) fn start_tls(mode: &str, ca: &TestCa) -> SmtpSink {
            SmtpSink::start_with(&[], Some((mode, ca)))
        }

        pub(crate) fn start_with(
            rejects: &[(&str, &str)],
            tls: Option<(&str, &TestCa)>,
        ) -> SmtpSink {
            let out = tempfile::tempdir().unwrap();
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
            let (python, pythonpath) = crate::helpers::smtp_python();
            let mut command = Command::new(python);
            if let Some(path) = pythonpath {
                command.env("PYTHONPATH", path);
            }
            command
                .arg(script)
                .args(["--port", "0", "--out"])
                .arg(out.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            for (address, reply) in rejects {
                command.arg("--reject").arg(format!("{address}={reply}"));
            }
            if let Some((mode, ca)) = tls {
                command
                    .args(["--tls", mode, "--tls-cert"])
                    .arg(&ca.server_cert)
                    .arg("--tls-key")
                    .arg(&ca.server_key);
            }
            let mut child = command
                .spawn()
                .expect("python3 runs tests/smtp_sink.py (pip install aiosmtpd)");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let port = line
                .trim()
                .strip_prefix("ready ")
                .and_then(|port| port.parse().ok())
                .unwrap_or_else(|| {
                    let _ = child.kill();
                    panic!("the SMTP sink did not start (is aiosmtpd installed?): {line:?}")
                });
            SmtpSink { child, port, out }
        }

        pub(crate) fn config(&self) -> SmtpConfig {
            SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(self.port),
                tls: SmtpTls::None,
                from: "Example Recovery <notices@recovery.example>".into(),
                timeout: 10,
                ..SmtpConfig::default()
            }
        }

        /// The received messages as the sink parsed them, in order.
        pub(crate) fn received(&self) -> Vec<serde_json::Value> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.out.path())
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
                .collect()
        }
    }

    impl Drop for SmtpSink {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
pub(crate) use smtp_sink::SmtpSink;

/// The webhook receiver: an axum server on loopback that records each request and
/// answers with a status (and delay, and `Retry-After`) the test chooses.
mod webhook_receiver {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use dunner::config::{Config, WebhookEndpoint};

    pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// One request as the receiver saw it.
    #[derive(Debug, Clone)]
    pub(crate) struct Recorded {
        headers: HeaderMap,
        pub(crate) body: Bytes,
    }

    impl Recorded {
        pub(crate) fn header(&self, name: &str) -> &str {
            self.headers.get(name).unwrap().to_str().unwrap()
        }
    }

    /// How the receiver answers.
    #[derive(Debug, Clone)]
    pub(crate) struct Answer {
        pub(crate) status: StatusCode,
        pub(crate) retry_after: Option<&'static str>,
        pub(crate) delay: Duration,
    }

    #[derive(Clone)]
    struct ReceiverState {
        answer: Answer,
        requests: Arc<Mutex<Vec<Recorded>>>,
    }

    /// A real HTTP server on 127.0.0.1 that records every request.
    pub(crate) struct TestReceiver {
        addr: SocketAddr,
        requests: Arc<Mutex<Vec<Recorded>>>,
    }

    impl TestReceiver {
        /// A receiver that takes `delay` to answer `status`.
        pub(crate) async fn slow(status: u16, delay: Duration) -> TestReceiver {
            TestReceiver::start(Answer {
                status: StatusCode::from_u16(status).unwrap(),
                retry_after: None,
                delay,
            })
            .await
        }

        pub(crate) fn address(&self) -> SocketAddr {
            self.addr
        }

        pub(crate) async fn answering(status: u16) -> TestReceiver {
            TestReceiver::start(Answer {
                status: StatusCode::from_u16(status).unwrap(),
                retry_after: None,
                delay: Duration::ZERO,
            })
            .await
        }

        pub(crate) async fn start(answer: Answer) -> TestReceiver {
            let requests = Arc::new(Mutex::new(Vec::new()));
            let state = ReceiverState {
                answer,
                requests: requests.clone(),
            };
            let app = axum::Router::new().fallback(record).with_state(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            TestReceiver { addr, requests }
        }

        pub(crate) fn endpoint(&self, timeout: Duration) -> WebhookEndpoint {
            endpoint_at(&format!("http://{}/hooks", self.addr), timeout)
        }

        pub(crate) fn requests(&self) -> Vec<Recorded> {
            self.requests.lock().unwrap().clone()
        }
    }

    async fn record(
        State(state): State<ReceiverState>,
        headers: HeaderMap,
        body: Bytes,
    ) -> impl IntoResponse {
        state
            .requests
            .lock()
            .unwrap()
            .push(Recorded { headers, body });
        tokio::time::sleep(state.answer.delay).await;
        let mut response_headers = HeaderMap::new();
        if let Some(after) = state.answer.retry_after {
            response_headers.insert("retry-after", after.parse().unwrap());
        }
        (state.answer.status, response_headers, "")
    }

    /// An endpoint as the configuration file would give it.
    pub(crate) fn endpoint_at(url: &str, timeout: Duration) -> WebhookEndpoint {
        let text = format!(
            "[[webhooks]]\nname = \"test\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nevent_types = [\"notice.requested\", \"contact.due\", \"account.escalated\"]\ntimeout = \"{}ms\"\n",
            timeout.as_millis()
        );
        Config::from_toml("test.toml", &text)
            .unwrap()
            .webhooks
            .remove(0)
    }
}
pub(crate) use webhook_receiver::{Answer, Recorded, SECRET, TestReceiver, endpoint_at};

/// One test module per store, each running every story (an `async fn(TestStore)` of
/// the calling module, which imports `sqlite` and `postgres`) on a fresh store.
macro_rules! on_both_stores {
    ($($story:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story(super::sqlite().await).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story(super::postgres().await).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_stores;
