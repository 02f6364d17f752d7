//! The `dunner` binary: parse the command line, run it, map the result to an exit code.

use clap::Parser;

/// mimalloc rather than the system allocator: the planner's threads allocate and free
/// small objects at a great rate, and glibc's arenas made two threads barely faster
/// than one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> dunner::cli::Exit {
    let cli = dunner::cli::Cli::parse();
    dunner::cli::run(cli)
}
