//! `dunner config show`: the effective configuration, or the shipped default.

use std::path::Path;

use super::{Exit, fail};
use crate::config::SHIPPED;

pub fn show(default: bool, file: Option<&Path>) -> Exit {
    if default {
        out!("{SHIPPED}");
        return Exit::Ok;
    }
    let loaded = match super::load_config(file) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    match loaded.config.to_redacted_toml() {
        Ok(text) => {
            let layers = loaded.file.as_ref().map_or_else(
                || "defaults < DUNNER_* environment (no file)".to_string(),
                |path| format!("defaults < {} < DUNNER_* environment", path.display()),
            );
            outln!("# effective configuration: {layers}; secrets redacted\n");
            out!("{text}");
            Exit::Ok
        }
        Err(error) => fail(
            Exit::Failure,
            format!("failed to print the configuration: {error}"),
        ),
    }
}
