//! The `dunner` binary: parse the command line, run it, map the result to an exit code.

use clap::Parser;

fn main() -> dunner::cli::Exit {
    let cli = dunner::cli::Cli::parse();
    dunner::cli::run(cli)
}
