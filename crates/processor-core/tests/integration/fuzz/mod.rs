//! The fuzz targets' smoke, in `cargo test` (and so in `make test`): each target's seed corpus
//! (crates/processor-core/fuzz/corpus/<target>/), then mutants of it from a fixed-seed
//! generator, through the very harness functions libFuzzer drives in `make fuzz`. Building the
//! libFuzzer binaries (sanitizer-coverage, arrow and parquet again) costs minutes of CPU, far
//! more than a smoke may; this costs the harness's compile and a second or two of running.

pub mod harness;

use std::path::PathBuf;

/// Mutants per target: enough to pass each harness's branches a few thousand times.
const MUTANTS: usize = 3_000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|path| std::fs::read(path).unwrap()).collect()
}

/// xorshift64: deterministic, so a failure here fails the same way every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens the formats are made of, for insertions.
#[rustfmt::skip]
const TOKENS: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b"\"", b":", b",", b"\\", b"\\u", b"\\ud800", b"\n", b"\r\n", b" ", b"0", b"-1", b".5",
    b"e+", b"1e400", b"true", b"null", b"\xff", b"\xc3", b"\xEF\xBB\xBF", b"\x1f\x8b", b"T", b"Z", b"+05:30", b"2026-",
    b"\"event_id\"", b"\"event_timestamp\":", b"name: x\n", b"  - {name: a, type: ", b"ELDEDUP1",
];

/// One mutation of `seed`: bytes flipped, cut, spliced with another seed, or tokens inserted.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.truncate(at),
            2 => {
                let from = rng.below(other.len() + 1);
                out.splice(at..at, other[from..].iter().copied().take(rng.below(64)));
            }
            3 if at < out.len() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
        }
    }
    out
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutants() {
    for (name, harness) in harness::TARGETS {
        let seeds = corpus(name);
        assert!(!seeds.is_empty(), "{name} has a seed corpus");
        for seed in &seeds {
            harness(seed);
        }
        let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ name.len() as u64);
        for _ in 0..MUTANTS {
            let seed = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, seed, other);
            // On failure, the input: make it a named test next to the tests of the module at fault.
            let outcome = std::panic::catch_unwind(|| harness(&input));
            assert!(outcome.is_ok(), "{name} failed on {input:?} ({:?})", String::from_utf8_lossy(&input));
        }
    }
}

#[test]
fn the_fuzz_crate_has_a_target_per_harness() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for (name, _) in harness::TARGETS {
        let target = std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap();
        assert!(target.contains(&format!("harness::{name}(")), "{name}.rs drives harness::{name}");
    }
}
