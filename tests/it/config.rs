//! The daemon's configuration through the real binary: defaults ← `dunner.toml` ←
//! `DUNNER_*` ← flags, `dunner config show`, errors that stop the daemon, keys from the
//! file, and logs without personal data.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{http, signal};
use crate::helpers::rules_dir;

/// A token for `[[keys]]` (the secret is 32 characters).
const TOKEN: &str = "dunner_cfgkey_0123456789abcdef0123456789abcdef";

/// `dunner` in `dir`, with every `DUNNER_*` variable of the test's environment
/// removed and `env` set.
fn command_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dunner"));
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("DUNNER_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command_in(dir, args, env).output().unwrap()
}

/// `dunner config show` in `dir`, parsed.
fn show(dir: &Path, env: &[(&str, &str)]) -> toml::Table {
    let output = run_in(dir, &["config", "show"], env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    toml::from_str(&String::from_utf8(output.stdout).unwrap()).unwrap()
}

fn setting<'a>(table: &'a toml::Table, section: &str, key: &str) -> &'a toml::Value {
    &table[section][key]
}

fn rules() -> String {
    rules_dir().display().to_string()
}

#[test]
fn with_no_file_the_built_in_defaults_apply() {
    let dir = tempfile::tempdir().unwrap();
    let shown = show(dir.path(), &[]);
    assert_eq!(
        setting(&shown, "server", "listen").as_str(),
        Some("127.0.0.1:8080")
    );
    assert_eq!(
        setting(&shown, "server", "open_evaluate").as_bool(),
        Some(false)
    );
    assert_eq!(
        setting(&shown, "database", "url").as_str(),
        Some("sqlite://dunner.db")
    );
    assert_eq!(setting(&shown, "rules", "dir").as_str(), Some("rules"));
    assert_eq!(setting(&shown, "log", "format").as_str(), Some("text"));
    assert_eq!(setting(&shown, "log", "level").as_str(), Some("info"));
    assert!(!shown.contains_key("keys"));
}

#[test]
fn the_file_in_the_working_directory_overrides_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dunner.toml"),
        "[server]\nlisten = \"0.0.0.0:9000\"\n\n[log]\nformat = \"json\"\n",
    )
    .unwrap();
    let shown = show(dir.path(), &[]);
    assert_eq!(
        setting(&shown, "server", "listen").as_str(),
        Some("0.0.0.0:9000")
    );
    assert_eq!(setting(&shown, "log", "format").as_str(), Some("json"));
    assert_eq!(
        setting(&shown, "database", "url").as_str(),
        Some("sqlite://dunner.db"),
        "what the file does not say keeps its default"
    );
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("elsewhere.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:9000\"\n[rules]\ndir = \"packs\"\n",
    )
    .unwrap();
    let shown = show(
        dir.path(),
        &[
            ("DUNNER_CONFIG", file.to_str().unwrap()),
            ("DUNNER_LISTEN", "127.0.0.1:9100"),
            ("DUNNER_OPEN_EVALUATE", "true"),
            ("DUNNER_DATABASE_URL", "postgres://dunner:hunter2@db/ledger"),
        ],
    );
    assert_eq!(
        setting(&shown, "server", "listen").as_str(),
        Some("127.0.0.1:9100")
    );
    assert_eq!(
        setting(&shown, "server", "open_evaluate").as_bool(),
        Some(true)
    );
    assert_eq!(
        setting(&shown, "rules", "dir").as_str(),
        Some("packs"),
        "DUNNER_CONFIG named the file"
    );
    assert_eq!(
        setting(&shown, "database", "url").as_str(),
        Some("postgres://dunner:<redacted>@db/ledger")
    );
}

#[test]
fn a_flag_overrides_the_environment_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dunner.toml"),
        "[rules]\ndir = \"no-rules-in-the-file\"\n",
    )
    .unwrap();
    let env = [
        ("DUNNER_RULES", "no-rules-in-the-environment"),
        ("DUNNER_LISTEN", "127.0.0.1:0"),
    ];
    // The environment wins over the file: no policy there, so the daemon refuses.
    let refused = run_in(dir.path(), &["serve"], &env);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no-rules-in-the-environment"), "{stderr}");
    // The flag wins over both.
    let daemon = Daemon::spawn(dir.path(), &["serve", "--rules", &rules()], &env);
    assert_eq!(
        http(&daemon.address, "", "GET", "/healthz", ""),
        (200, "ok".to_string())
    );
    let (code, _) = daemon.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn a_malformed_file_stops_the_daemon_with_its_place_and_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[server]\n\nlistn = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let output = run_in(
        dir.path(),
        &["serve", "--config", "bad.toml", "--rules", &rules()],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:3:1"), "{stderr}");
    assert!(stderr.contains("unknown field `listn`"), "{stderr}");
    assert!(stderr.contains("did you mean `listen`?"), "{stderr}");
    assert!(!stderr.contains("listening"), "the daemon did not start");

    // A key with an unknown scope is named.
    std::fs::write(
        dir.path().join("dunner.toml"),
        format!("[[keys]]\nname = \"crm\"\ntoken = \"{TOKEN}\"\nscopes = [\"recrod\"]\n"),
    )
    .unwrap();
    let output = run_in(dir.path(), &["config", "show"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("dunner.toml:1:1"), "{stderr}");
    assert!(
        stderr.contains("key `crm`: unknown scope `recrod`; did you mean `record`?"),
        "{stderr}"
    );

    // A file named explicitly must exist; a bad variable is named.
    let output = run_in(dir.path(), &["serve", "--config", "missing.toml"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml does not exist"));
    std::fs::remove_file(dir.path().join("dunner.toml")).unwrap();
    let output = run_in(
        dir.path(),
        &["serve"],
        &[("DUNNER_LOG_FORMAT", "jsno"), ("DUNNER_RULES", &rules())],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DUNNER_LOG_FORMAT"), "{stderr}");
    assert!(stderr.contains("did you mean `json`?"), "{stderr}");
}

#[test]
fn config_show_redacts_key_tokens_and_default_prints_the_shipped_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dunner.toml"),
        format!("[[keys]]\nname = \"dialer\"\ntoken = \"{TOKEN}\"\nscopes = [\"decide\"]\n"),
    )
    .unwrap();
    let output = run_in(dir.path(), &["config", "show"], &[]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    assert!(!stdout.contains("0123456789abcdef"), "{stdout}");
    let shown: toml::Table = toml::from_str(&stdout).unwrap();
    let key = &shown["keys"][0];
    assert_eq!(key["name"].as_str(), Some("dialer"));
    assert_eq!(key["token"].as_str(), Some("<redacted>"));
    assert_eq!(key["scopes"][0].as_str(), Some("decide"));

    let output = run_in(dir.path(), &["config", "show", "--default"], &[]);
    assert!(output.status.success());
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dunner.toml")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), shipped);
}

/// A config file with one `decide` key, rules and a ledger in `dir`.
fn config_with_key(dir: &Path, log: &str) -> String {
    let file = dir.join("daemon.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[database]\nurl = \"sqlite://{}\"\n\n\
             [rules]\ndir = \"{}\"\n\n[log]\n{log}\n\n\
             [[keys]]\nname = \"reader\"\ntoken = \"{TOKEN}\"\nscopes = [\"decide\"]\n",
            dir.join("ledger.db").display(),
            rules(),
        ),
    )
    .unwrap();
    file.display().to_string()
}

#[test]
fn a_key_from_the_configuration_authorizes_requests_to_the_real_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_with_key(dir.path(), "level = \"warn\"");
    let daemon = Daemon::spawn(dir.path(), &["serve", "--config", &file], &[]);
    let (status, body) = http(&daemon.address, TOKEN, "GET", "/v1/policy", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("sha256:"), "{body}");
    let wrong = TOKEN.replace("0123", "3210");
    assert_eq!(
        http(&daemon.address, &wrong, "GET", "/v1/policy", "").0,
        401
    );
    let (status, body) = http(
        &daemon.address,
        TOKEN,
        "PUT",
        "/v1/accounts/C-1",
        &json!({"id": "C-1"}).to_string(),
    );
    assert_eq!(status, 403, "the key has only `decide`: {body}");
    let (code, _) = daemon.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn the_daemon_logs_requests_but_no_phone_numbers_emails_or_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_with_key(dir.path(), "level = \"debug\"");
    let daemon = Daemon::spawn(
        dir.path(),
        &["serve", "--config", &file, "--log-format", "json"],
        &[],
    );
    let admin = create_admin_key(dir.path());
    let address = daemon.address.clone();
    let call = |method: &str, path: &str, body: &str| http(&address, &admin, method, path, body);
    let account = json!({
        "id": "P-1",
        "consumer": {
            "address": {"state": "NY"},
            "time_zones": ["America/New_York"],
            "phones": [{"number": "+12125550187", "kind": "mobile"}],
            "emails": [{"address": "jordan.doe@example.org", "kind": "personal"}]
        }
    });
    assert_eq!(call("PUT", "/v1/accounts/P-1", &account.to_string()).0, 200);
    // Errors that echo input: a name where a time zone belongs, an email as an id.
    let mut named = account.clone();
    named["id"] = json!("P-2");
    named["consumer"]["time_zones"] = json!(["Jordan Doe"]);
    let (status, echoed) = call("PUT", "/v1/accounts/P-2", &named.to_string());
    assert_eq!(status, 400);
    assert!(
        echoed.contains("Jordan Doe"),
        "the response echoes: {echoed}"
    );
    let (status, echoed) = call("GET", "/v1/accounts/jordan.doe%40example.org", "");
    assert_eq!(status, 400, "an email is not an account id");
    assert!(echoed.contains("jordan.doe@example.org"), "{echoed}");
    // A malformed body, and a phone number in a query.
    let whole = account.to_string();
    let truncated = &whole[..whole.find("2125550187").unwrap() + 12];
    assert!(truncated.contains("jordan.doe@example.org"), "{truncated}");
    assert_eq!(call("PUT", "/v1/accounts/P-3", truncated).0, 400);
    let (status, _) = call(
        "GET",
        "/v1/accounts/P-1/windows?channel=call&contact_point=%2B12125550187",
        "",
    );
    assert_eq!(status, 200);
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0));

    for personal in [
        "2125550187",
        "555-0187",
        "jordan",
        "Jordan",
        "example.org",
        "Doe",
    ] {
        assert!(!log.contains(personal), "`{personal}` was logged:\n{log}");
    }
    let events: Vec<Value> = log
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let requests: Vec<(&str, &str)> = events
        .iter()
        .filter(|event| event["fields"]["message"] == "finished processing request")
        .filter_map(|event| {
            Some((
                event["span"]["method"].as_str()?,
                event["span"]["uri"].as_str()?,
            ))
        })
        .collect();
    assert!(requests.contains(&("PUT", "/v1/accounts/P-1")), "{log}");
    assert!(requests.contains(&("GET", "/v1/accounts/<email>")), "{log}");
    assert!(
        requests.contains(&(
            "GET",
            "/v1/accounts/P-1/windows?channel=call&contact_point=<phone>"
        )),
        "{log}"
    );
}

/// An admin key in the ledger of [`config_with_key`], made with `dunner keys create`.
fn create_admin_key(dir: &Path) -> String {
    let database = format!("sqlite://{}", dir.join("ledger.db").display());
    let output = run_in(
        dir,
        &[
            "keys",
            "create",
            "--name",
            "admin",
            "--scope",
            "admin",
            "--database",
            &database,
        ],
        &[],
    );
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// The real daemon, its standard error captured whole; killed if a test fails first.
struct Daemon {
    child: Child,
    address: String,
    log: Option<JoinHandle<String>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Daemon {
    fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut command = command_in(dir, args, env);
        if !args.contains(&"--config") && !env.iter().any(|(k, _)| *k == "DUNNER_LISTEN") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (found, address) = mpsc::channel();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            for line in stderr.lines() {
                let line = line.unwrap();
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = found.send(rest.split_whitespace().next().unwrap().to_string());
                }
                log.push_str(&line);
                log.push('\n');
            }
            log
        });
        match address.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => Daemon {
                child,
                address,
                log: Some(log),
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the daemon did not listen:\n{}", log.join().unwrap());
            }
        }
    }

    /// SIGTERM; the exit code and everything the daemon wrote to standard error.
    fn stop(mut self) -> (Option<i32>, String) {
        signal(&self.child, "-TERM");
        let code = self.child.wait().unwrap().code();
        (code, self.log.take().unwrap().join().unwrap())
    }
}
