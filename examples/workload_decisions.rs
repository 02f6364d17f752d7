//! The callgrind harness of issue 15: makes N decisions of the engine workload and
//! nothing else. `cargo run --release --example workload_decisions -- N [subject|decide]`.
//!
//! The setup (policy, 3,000 accounts, their prepared subjects) is the same whatever N,
//! so `(Ir(3000) - Ir(1000)) / 2000` counts the decisions alone (`benches/callgrind.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../benches/workload/mod.rs"]
mod workload;

use std::hint::black_box;

use dunner::engine::{Subject, decide};

/// Accounts prepared whatever N: N may not exceed it.
const POOL: u64 = 3_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n as u64 <= POOL)
        .unwrap_or_else(|| panic!("usage: workload_decisions N(<= {POOL}) [subject|decide]"));
    let mode = args.next().unwrap_or_else(|| "subject".to_string());
    let policy = workload::policy();
    let cases = workload::cases(POOL);
    let mut refused = 0usize;
    match mode.as_str() {
        "subject" => {
            let subjects: Vec<Subject<'_>> = cases
                .iter()
                .map(|case| Subject::new(&policy, &case.request.account, &case.request.history))
                .collect();
            let questions: Vec<_> = cases.iter().map(|case| case.question()).collect();
            for (subject, question) in subjects.iter().zip(&questions).take(n) {
                refused += usize::from(!black_box(subject.decide(black_box(question))).allowed);
            }
        }
        "decide" => {
            for case in cases.iter().take(n) {
                refused +=
                    usize::from(!black_box(decide(&policy, black_box(&case.request))).allowed);
            }
        }
        other => panic!("unknown mode {other}: subject or decide"),
    }
    println!("{n} decisions ({mode}), {refused} refused");
}
