//! Criterion benchmarks of each step on 50,000 synthetic events (`cargo bench -p processor-bench`).
//! The project-level comparison against Python, polars and DuckDB is `make bench`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use processor_core::*;

fn sample(n: usize) -> Vec<u8> {
    let types = ["page_view", "add_to_cart", "purchase", "search"];
    let mut out = String::with_capacity(n * 240);
    for i in 0..n {
        out.push_str(&format!(
            concat!(
                r#"{{"event_id": "{:032x}", "user_id": "u_{:06}", "event_type": "{}", "#,
                r#""event_timestamp": "2026-11-{:02}T10:15:30.123456Z", "event_value": {}.5, "#,
                r#""product_id": "p_{:05}", "properties": {{"page": "/products/{}", "device": "mobile"}}}}"#,
                "\n"
            ),
            i.wrapping_mul(2_654_435_761),
            i % 2000,
            types[i % 4],
            1 + i % 28,
            i % 100,
            i % 300,
            i % 300
        ));
    }
    out.into_bytes()
}

fn steps(c: &mut Criterion) {
    let data: Body = Arc::new(sample(50_000));
    let contract = Arc::new(Contract::default_events());
    let options = ParseOptions::default();
    let parsed = parse(data.clone(), &options).unwrap();
    let validated = validate(&parsed, contract.clone());
    let transformed = transform(&validated, &TransformOptions::default());

    let mut group = c.benchmark_group("events_50k");
    group.throughput(Throughput::Bytes((*data).as_ref().len() as u64));
    group.sample_size(20);
    group.bench_function("parse", |b| b.iter(|| parse(data.clone(), &options).unwrap()));
    group.bench_function("validate", |b| b.iter(|| validate(&parsed, contract.clone())));
    group.bench_function("transform", |b| b.iter(|| transform(&validated, &TransformOptions::default())));
    group.bench_function("deduplicate", |b| b.iter(|| deduplicate(&transformed)));
    group.bench_function("process (fused)", |b| {
        b.iter(|| process(data.clone(), contract.clone(), &options, &TransformOptions::default(), None).unwrap())
    });
    group.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
