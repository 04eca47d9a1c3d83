//! Replays the fuzz seeds and every saved fuzz finding (`fuzz/regressions/<target>/`) through
//! the fuzz entry points, plus every truncation and a deterministic set of byte flips of each
//! seed: a small, repeatable slice of the fuzzing that runs in every test run.

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("frames", gregor::fuzzing::frames_and_requests),
    ("record_batches", gregor::fuzzing::record_batches),
    ("segment_recovery", gregor::fuzzing::segment_recovery),
    ("offsets_records", gregor::fuzzing::offsets_records),
    ("producer_snapshot", gregor::fuzzing::producer_snapshot),
    ("produce_log", gregor::fuzzing::produce_log),
];

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(std::path::PathBuf, Vec<u8>)> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

#[test]
fn seeds_findings_and_their_mutations_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut tried = 0usize;
    for (name, run) in TARGETS {
        let seeds = files(&root.join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{name} has inputs");
        for input in files(&root.join("regressions").join(name)) {
            run(&input);
            tried += 1;
        }
        // Segment recovery and the produce log touch the disk per input: fewer mutations there.
        let step = match *name {
            "segment_recovery" => 7,
            "produce_log" => 5,
            _ => 1,
        };
        for seed in &seeds {
            run(seed);
            for cut in (0..seed.len()).step_by(step) {
                run(&seed[..cut]);
            }
            for i in (0..seed.len()).step_by(step) {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut m = seed.clone();
                    m[i] ^= flip;
                    run(&m);
                }
            }
            tried += 1 + 4 * seed.len().div_ceil(step);
        }
    }
    eprintln!("fuzz regressions: {tried} inputs");
}
