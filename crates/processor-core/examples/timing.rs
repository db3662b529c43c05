//! Times the steps on a file: `cargo run --release --example timing -- FILE [steps|fused]`.
use std::sync::Arc;
use std::time::Instant;

use processor_core::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: timing FILE [steps|fused]");
    let mode = args.next().unwrap_or_else(|| "both".into());
    let data: Body = Arc::new(std::fs::read(path).expect("readable file"));
    let contract = Arc::new(Contract::default_events());
    for _ in 0..3 {
        if mode != "fused" {
            let t0 = Instant::now();
            let parsed = parse(data.clone(), &ParseOptions::default()).unwrap();
            let t1 = Instant::now();
            let validated = validate(&parsed, contract.clone());
            let t2 = Instant::now();
            let transformed = transform(&validated, &TransformOptions::default());
            let t3 = Instant::now();
            let deduped = deduplicate(&transformed);
            let t4 = Instant::now();
            println!(
                "steps: parse {:?} validate {:?} transform {:?} dedup {:?} rows {} rejected {}",
                t1 - t0,
                t2 - t1,
                t3 - t2,
                t4 - t3,
                deduped.batch.num_rows(),
                deduped.rejected.len()
            );
        }
        if mode != "steps" {
            let t0 = Instant::now();
            let fused =
                process(data.clone(), contract.clone(), &ParseOptions::default(), &TransformOptions::default(), None)
                    .unwrap();
            println!("fused: process {:?} rows {}", t0.elapsed(), fused.batch.num_rows());
        }
    }
}
