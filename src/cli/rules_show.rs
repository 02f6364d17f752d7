//! `dunner rules show DIGEST`: the exact pack texts behind a policy digest (the
//! `policy_digest` of any logged decision), from the ledger, or from the rules directory
//! when it is the one that digest names.

use std::path::{Component, Path, PathBuf};

use super::report::{ledger_to_read, open_to_read};
use super::{Exit, fail};
use crate::policy::Policy;

/// Prints the texts (each after a `==> FILE <==` line), or writes them under `out`, so
/// that `dunner rules test OUT` runs today's tests against a past policy.
pub fn show(
    digest: &str,
    database: Option<&String>,
    rules: Option<&PathBuf>,
    out: Option<&Path>,
    config_file: Option<&Path>,
) -> Exit {
    let sources = match ledger_to_read(database, rules, config_file) {
        Ok(sources) => sources,
        Err(exit) => return exit,
    };
    // The rules directory stands in for the ledger when it holds the asked-for policy
    // (a digest no decision has used yet); a directory that does not load is no answer.
    let settings = sources
        .config
        .as_ref()
        .map(|config| config.rules.settings())
        .unwrap_or_default();
    let live = Policy::load_with(&sources.rules, &settings).ok();
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let texts = runtime.block_on(async {
        if let Some(live) = live.as_ref().filter(|live| live.digest() == digest) {
            return Ok(Some(live.source_texts()));
        }
        let store = open_to_read(&sources.database).await?;
        store
            .policy_sources(digest)
            .await
            .map_err(|error| format!("failed to read the ledger: {error}"))
    });
    let texts = match texts {
        Ok(Some(texts)) => texts,
        Ok(None) => {
            return fail(
                Exit::Failure,
                format!(
                    "no decision in {} used a policy with digest `{digest}`, and the rules in {} are not it",
                    sources.database,
                    sources.rules.display()
                ),
            );
        }
        Err(message) => return fail(Exit::Failure, message),
    };
    match out {
        None => {
            for (file, text) in &texts {
                outln!("==> {file} <==");
                outln!("{text}");
            }
            Exit::Ok
        }
        Some(out) => write_texts(out, &texts),
    }
}

/// The pack files' names as kept: paths as loaded (absolute for a daemon's rules
/// directory), written relative to the directory they share.
fn relative_names(texts: &[(String, String)]) -> Vec<PathBuf> {
    let parents: Vec<&Path> = texts
        .iter()
        .map(|(file, _)| Path::new(file).parent().unwrap_or(Path::new("")))
        .collect();
    let mut common: PathBuf = parents.first().map(|p| p.to_path_buf()).unwrap_or_default();
    while !parents.iter().all(|parent| parent.starts_with(&common)) {
        if !common.pop() {
            break;
        }
    }
    texts
        .iter()
        .map(|(file, _)| {
            Path::new(file)
                .strip_prefix(&common)
                .unwrap_or(Path::new(file))
                .to_path_buf()
        })
        .collect()
}

fn write_texts(out: &Path, texts: &[(String, String)]) -> Exit {
    let names = relative_names(texts);
    // A name from the ledger never climbs out of `out`: all are checked before any is
    // written.
    if let Some(file) = names.iter().find(|file| {
        file.as_os_str().is_empty()
            || file
                .components()
                .any(|part| !matches!(part, Component::Normal(_)))
    }) {
        let file = file.display();
        return fail(
            Exit::Failure,
            format!("the ledger names a pack file `{file}` outside its directory; nothing written"),
        );
    }
    for (file, (_, text)) in names.iter().zip(texts) {
        let path = out.join(file);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(error) = written {
            return fail(
                Exit::Failure,
                format!("failed to write {}: {error}", path.display()),
            );
        }
    }
    eprintln!("wrote {} pack files to {}", texts.len(), out.display());
    Exit::Ok
}
