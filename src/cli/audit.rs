//! `dunner audit`: every collector-initiated contact of a period judged by the policy in
//! force when it was made (or by `--rules DIR`), as JSON, CSV or an HTML page. Exit code
//! 0 when every contact was allowed, 4 when any is refused, 1 on an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::report::{ledger_to_read, open_to_read, output_format};
use super::{Exit, fail};
use crate::audit::signing::{Signer, generate, load_public};
use crate::audit::verify::{Export, Verification, export, verify, verify_export};
use crate::audit::{render, run_with_progress as audit};
use crate::clock::{Clock, SystemClock};
use crate::report::Period;

/// Arguments of `dunner audit`: the audit of a period, or a subcommand (`verify`,
/// `checkpoint`) about the tamper-evident log.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AuditArgs {
    /// Verify or checkpoint the hash chains instead of auditing a period.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// The first day, YYYY-MM-DD (UTC).
    #[arg(long, required = true)]
    pub from: Option<String>,
    /// The last day, included, YYYY-MM-DD (UTC).
    #[arg(long, required = true)]
    pub to: Option<String>,
    /// Judge every contact by the packs of this directory (a candidate) instead of the
    /// policy in force when it was made.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// json, csv or html [default: from the `--out` file's extension, else json].
    #[arg(long)]
    pub format: Option<String>,
    /// Write the audit to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
    /// `database.url`, `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
    #[arg(long = "database")]
    pub database: Option<String>,
}

/// `dunner audit verify` and `dunner audit checkpoint`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute every account's hash chain and the global checkpoints; name the first
    /// entry edited, deleted, inserted or reordered. Exit code 0 when intact, 5 when
    /// tampered, 1 on an error.
    Verify(VerifyArgs),
    /// Take a global checkpoint now: a hash over every account chain's head, linked to
    /// the checkpoint before it (the daemon takes one every `audit.checkpoint_interval`).
    Checkpoint {
        /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
        /// `database.url`].
        #[arg(long = "database")]
        database: Option<String>,
        /// Sign the checkpoint with this ed25519 private key (PKCS#8 PEM).
        #[arg(long, value_name = "PATH")]
        signing_key: Option<PathBuf>,
    },
    /// Write the log for a third party: every chain's entries with their contents and
    /// hashes, and the checkpoints with their signatures (JSON).
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The ledger [default: the configuration's `database.url`].
        #[arg(long = "database")]
        database: Option<String>,
    },
    /// Make an ed25519 key pair for signed checkpoints: PATH (private, PKCS#8 PEM) and
    /// PATH.pub (public, base64).
    Keygen {
        /// Where to write the private key (refused if it exists).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

/// Arguments of `dunner audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
    /// `database.url`, `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
    #[arg(long = "database")]
    pub database: Option<String>,
    /// human (one line) or json.
    #[arg(long, default_value = "human")]
    pub format: String,
    /// Verify this export (`dunner audit export`) instead of a ledger, with only
    /// `--public-key`.
    #[arg(
        long,
        value_name = "FILE",
        requires = "public_key",
        conflicts_with = "database"
    )]
    pub export: Option<PathBuf>,
    /// The public key (`PATH.pub` of `dunner audit keygen`) the export's checkpoints
    /// must be signed with.
    #[arg(long, value_name = "PATH", requires = "export")]
    pub public_key: Option<PathBuf>,
}

pub fn run(args: &AuditArgs, config_file: Option<&Path>) -> Exit {
    match &args.command {
        Some(AuditCommand::Verify(verify)) => return run_verify(verify, config_file),
        Some(AuditCommand::Checkpoint {
            database,
            signing_key,
        }) => {
            return run_checkpoint(database.as_ref(), signing_key.as_deref(), config_file);
        }
        Some(AuditCommand::Export { out, database }) => {
            return run_export(out, database.as_ref(), config_file);
        }
        Some(AuditCommand::Keygen { out }) => return run_keygen(out),
        None => {}
    }
    let (Some(from), Some(to)) = (&args.from, &args.to) else {
        return fail(
            Exit::Usage,
            "dunner audit needs --from and --to (or a subcommand: verify, checkpoint)",
        );
    };
    let started = Instant::now();
    let today = SystemClock.now().date_naive();
    let period = Period::parse_date("from", from)
        .and_then(|from| Ok((from, Period::parse_date("to", to)?)))
        .and_then(|(from, to)| Period::new(Some(from), Some(to), today));
    let period = match period {
        Ok(period) => period,
        Err(error) => return fail(Exit::Failure, described(&error)),
    };
    let format = match output_format(args.format.as_deref(), args.out.as_deref()) {
        Ok(format) => format,
        Err(exit) => return exit,
    };
    let candidate = args.rules.is_some();
    let (database, rules) =
        match ledger_to_read(args.database.as_ref(), args.rules.as_ref(), config_file) {
            Ok(sources) => (sources.database, sources.rules),
            Err(exit) => return exit,
        };
    let policy = match super::rules::load_or_report(&rules) {
        Ok(policy) => Arc::new(policy),
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    // Drawn only on a terminal (indicatif hides it otherwise); the count of accounts is
    // not known ahead, so no length and no eta.
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} accounts audited in {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let result = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        audit(&store, policy, candidate, period, &|accounts| {
            bar.inc(accounts)
        })
        .await
        .map_err(|error| format!("failed to audit the ledger: {error}"))
    });
    bar.finish_and_clear();
    let result = match result {
        Ok(result) => result,
        Err(message) => return fail(Exit::Failure, message),
    };
    let text = render(&result, format);
    match &args.out {
        Some(out) => {
            if let Err(error) = std::fs::write(out, &text) {
                return fail(
                    Exit::Failure,
                    format!("failed to write {}: {error}", out.display()),
                );
            }
            eprintln!(
                "audited {} contacts ({} to {}): {} violation(s); wrote {} to {} in {:.1} s",
                result.contacts,
                period.from,
                period.to,
                result.violations.len(),
                format.as_str(),
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
        None => out!("{text}"),
    }
    if result.clean {
        Exit::Ok
    } else {
        Exit::Refused
    }
}

/// An error with the flag it is about.
fn described(error: &crate::report::ReportError) -> String {
    match error.field() {
        Some(field) => format!("--{field}: {error}"),
        None => error.to_string(),
    }
}

/// The ledger of a chain command: the flag, else the configuration's; a SQLite ledger
/// must exist.
pub(super) fn chain_ledger(
    database: Option<&String>,
    config_file: Option<&Path>,
) -> Result<String, Exit> {
    let database = match database {
        Some(database) => database.clone(),
        None => super::load_config(config_file)?.config.database.url,
    };
    if let Some(path) = super::report::sqlite_file(&database)
        && !path.exists()
    {
        return Err(fail(
            Exit::Failure,
            format!("database: the ledger {} does not exist", path.display()),
        ));
    }
    Ok(database)
}

fn run_verify(args: &VerifyArgs, config_file: Option<&Path>) -> Exit {
    let json = match args.format.trim() {
        "json" => true,
        "human" => false,
        other => {
            return fail(
                Exit::Usage,
                format!("--format: `{other}` is not a format of verify: use human or json"),
            );
        }
    };
    let started = Instant::now();
    let result = if let (Some(export), Some(public_key)) = (&args.export, &args.public_key) {
        verify_exported(export, public_key)
    } else {
        verify_ledger(args.database.as_ref(), config_file)
    };
    let verification = match result {
        Ok(verification) => verification,
        Err(exit) => return exit,
    };
    if json {
        match serde_json::to_string_pretty(&verification) {
            Ok(text) => outln!("{text}"),
            Err(error) => {
                return fail(
                    Exit::Failure,
                    format!("failed to write the result: {error}"),
                );
            }
        }
    } else {
        outln!("{}", verification.summary());
    }
    eprintln!(
        "verified {} entries of {} accounts in {:.2} s",
        verification.entries,
        verification.accounts,
        started.elapsed().as_secs_f64()
    );
    if verification.intact() {
        Exit::Ok
    } else {
        Exit::Tampered
    }
}

fn verify_exported(export: &Path, public_key: &Path) -> Result<Verification, Exit> {
    let key = load_public(public_key)
        .map_err(|error| fail(Exit::Failure, format!("--public-key: {error}")))?;
    let text = std::fs::read_to_string(export).map_err(|error| {
        fail(
            Exit::Failure,
            format!("failed to read {}: {error}", export.display()),
        )
    })?;
    let exported: Export = serde_json::from_str(&text).map_err(|error| {
        fail(
            Exit::Failure,
            format!("{}: not a dunner chain export: {error}", export.display()),
        )
    })?;
    verify_export(&exported, &key)
        .map_err(|error| fail(Exit::Failure, format!("{}: {error}", export.display())))
}

fn verify_ledger(
    database: Option<&String>,
    config_file: Option<&Path>,
) -> Result<Verification, Exit> {
    let database = chain_ledger(database, config_file)?;
    let runtime = super::runtime(true)?;
    let result = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        verify(&store).await.map_err(|error| {
            format!("failed to verify the ledger: {error} (a ledger older than its chains needs `dunner migrate`)")
        })
    });
    result.map_err(|message| fail(Exit::Failure, message))
}

fn run_checkpoint(
    database: Option<&String>,
    signing_key: Option<&Path>,
    config_file: Option<&Path>,
) -> Exit {
    let database = match chain_ledger(database, config_file) {
        Ok(database) => database,
        Err(exit) => return exit,
    };
    let signer = match signing_key.map(Signer::load).transpose() {
        Ok(signer) => signer,
        Err(error) => return fail(Exit::Failure, format!("--signing-key: {error}")),
    };
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let result = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        let checkpoint = store
            .take_checkpoint(SystemClock.now())
            .await
            .map_err(|error| format!("failed to take a checkpoint: {error}"))?;
        if let Some(signer) = &signer {
            store
                .sign_checkpoint(checkpoint.seq, &signer.sign(checkpoint.hash.as_bytes()))
                .await
                .map_err(|error| format!("failed to keep the checkpoint's signature: {error}"))?;
        }
        Ok::<_, String>(checkpoint)
    });
    match result {
        Ok(checkpoint) => {
            outln!(
                "checkpoint #{} at {}: {} accounts, {} entries, hash {}",
                checkpoint.seq,
                checkpoint.taken_at.to_rfc3339(),
                checkpoint.accounts,
                checkpoint.entries,
                checkpoint.hash
            );
            if signer.is_some() {
                outln!("signed");
            }
            Exit::Ok
        }
        Err(message) => fail(Exit::Failure, message),
    }
}

fn run_export(out: &Path, database: Option<&String>, config_file: Option<&Path>) -> Exit {
    let database = match chain_ledger(database, config_file) {
        Ok(database) => database,
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let result = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        export(&store)
            .await
            .map_err(|error| format!("failed to read the log: {error}"))
    });
    let exported = match result {
        Ok(exported) => exported,
        Err(message) => return fail(Exit::Failure, message),
    };
    let written = serde_json::to_vec(&exported)
        .map_err(|error| error.to_string())
        .and_then(|bytes| std::fs::write(out, bytes).map_err(|error| error.to_string()));
    if let Err(error) = written {
        return fail(
            Exit::Failure,
            format!("failed to write {}: {error}", out.display()),
        );
    }
    let entries: usize = exported.accounts.iter().map(|a| a.entries.len()).sum();
    eprintln!(
        "exported {entries} entries of {} accounts and {} checkpoint(s) to {}",
        exported.accounts.len(),
        exported.checkpoints.len(),
        out.display()
    );
    Exit::Ok
}

fn run_keygen(out: &Path) -> Exit {
    let public_path = {
        let mut name = out.as_os_str().to_owned();
        name.push(".pub");
        PathBuf::from(name)
    };
    if out.exists() || public_path.exists() {
        return fail(
            Exit::Failure,
            format!(
                "--out: {} (or its .pub) exists; a key is never overwritten",
                out.display()
            ),
        );
    }
    let (private, public) = match generate() {
        Ok(pair) => pair,
        Err(error) => return fail(Exit::Failure, error.to_string()),
    };
    if let Err(error) = write_private(out, &private)
        .and_then(|()| std::fs::write(&public_path, format!("{public}\n")))
    {
        return fail(Exit::Failure, format!("failed to write the key: {error}"));
    }
    outln!(
        "wrote {} (private: give it to the daemon as [audit] signing_key) and {} (public: give it to whoever verifies)",
        out.display(),
        public_path.display()
    );
    Exit::Ok
}

/// Writes a private key readable by its owner alone.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}
