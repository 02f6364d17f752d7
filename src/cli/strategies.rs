//! `dunner strategies check`: validate strategy files with file:line:column
//! diagnostics, as `dunner rules check` does for rule packs.

use std::path::{Path, PathBuf};

use super::{Exit, Format, fail, stderr_is_terminal};
use crate::policy::diagnostics::{Diagnostic, render_human};
use crate::strategy::{Strategy, StrategyError};

/// Loads a strategy, printing every diagnostic on failure (exit 3, like rule packs).
pub fn load_or_report(path: &Path) -> Result<Strategy, Exit> {
    match Strategy::load(path) {
        Ok(strategy) => Ok(strategy),
        Err(StrategyError::Invalid(diagnostics)) => {
            eprint!("{}", render_human(&diagnostics, stderr_is_terminal()));
            Err(fail(
                Exit::InvalidRules,
                format!("the strategy {} is invalid", path.display()),
            ))
        }
        Err(error) => Err(fail(Exit::Failure, error)),
    }
}

/// `dunner strategies check [PATH…]`: every `*.toml` of a directory, or the files given.
pub fn check(paths: &[PathBuf], format: Format) -> Exit {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match toml_files(path) {
                Ok(found) => files.extend(found),
                Err(error) => {
                    return fail(
                        Exit::Failure,
                        format!("cannot list {}: {error}", path.display()),
                    );
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        return fail(Exit::Failure, "no strategy files (*.toml) to check");
    }
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut valid = Vec::new();
    for file in &files {
        match Strategy::load(file) {
            Ok(strategy) => valid.push(format!(
                "{}: strategy `{}` ({} step(s), {} escalation(s)) valid",
                file.display(),
                strategy.id,
                strategy.steps.len(),
                strategy.escalations.len()
            )),
            Err(StrategyError::Invalid(found)) => diagnostics.extend(found),
            Err(error) => return fail(Exit::Failure, error),
        }
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let summary = format!(
        "{} of {} strategy file(s) valid, {errors} error(s)",
        valid.len(),
        files.len()
    );
    match format {
        Format::Json => {
            let body = serde_json::json!({
                "valid": errors == 0,
                "summary": summary,
                "diagnostics": diagnostics,
            });
            outln!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        Format::Plain => {
            for diagnostic in &diagnostics {
                eprintln!("{}", diagnostic.plain());
            }
            for line in &valid {
                eprintln!("{line}");
            }
            eprintln!("{summary}");
        }
        Format::Human => {
            eprint!("{}", render_human(&diagnostics, stderr_is_terminal()));
            for line in &valid {
                eprintln!("{line}");
            }
            eprintln!("{summary}");
        }
    }
    if errors == 0 {
        Exit::Ok
    } else {
        Exit::InvalidRules
    }
}

fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
