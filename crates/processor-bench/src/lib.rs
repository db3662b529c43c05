//! Nothing but benchmarks: `cargo bench -p processor-bench` (benches/pipeline.rs).
