#![no_main]

#[allow(dead_code)]
#[path = "../../tests/integration/fuzz/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::gzip(data));
