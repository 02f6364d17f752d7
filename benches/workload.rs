//! The engine workload of issue 15 (see `benches/workload/mod.rs`): `Subject::decide`
//! on prepared accounts and `engine::decide` with the request already parsed, cycling
//! over the first 10,000 accounts. After criterion, a sampling loop times 200,000
//! decisions one by one and prints the mean, p50 and p99 (each sample includes one
//! `Instant::now`, ~20-30 ns). Run with `cargo bench --bench workload`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "workload/mod.rs"]
mod workload;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dunner::engine::{Subject, decide};

const ACCOUNTS: u64 = 10_000;

fn bench(c: &mut Criterion) {
    let policy = workload::policy();
    let cases = workload::cases(ACCOUNTS);
    let subjects: Vec<Subject<'_>> = cases
        .iter()
        .map(|case| Subject::new(&policy, &case.request.account, &case.request.history))
        .collect();
    let questions: Vec<_> = cases.iter().map(|case| case.question()).collect();

    let mut i = 0usize;
    c.bench_function("workload/prepared subject", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(&subjects[i]).decide(black_box(&questions[i]))
        })
    });
    let mut i = 0usize;
    c.bench_function("workload/engine::decide", |b| {
        b.iter(|| {
            i = (i + 1) % cases.len();
            decide(black_box(&policy), black_box(&cases[i].request))
        })
    });

    percentiles("workload/prepared subject", |i| {
        let i = i % subjects.len();
        drop(black_box(subjects[i].decide(&questions[i])));
    });
    percentiles("workload/engine::decide", |i| {
        let i = i % cases.len();
        drop(black_box(decide(&policy, &cases[i].request)));
    });
}

/// Times 200,000 decisions one by one (after 20,000 to warm up).
fn percentiles(name: &str, mut one: impl FnMut(usize)) {
    for i in 0..20_000 {
        one(i);
    }
    let mut samples: Vec<Duration> = (0..200_000)
        .map(|i| {
            let start = Instant::now();
            one(i);
            start.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{name}: sampled mean {:?}, p50 {:?}, p99 {:?}, p99.9 {:?}",
        mean,
        at(0.50),
        at(0.99),
        at(0.999)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
