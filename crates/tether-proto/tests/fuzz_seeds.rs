//! Runs the fuzz target's code over the committed seed corpus (and any
//! crash reproducers added to it), so CI exercises the decoders on every
//! run without nightly or cargo-fuzz.

use std::path::Path;

#[test]
fn decoders_survive_the_seed_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/decode");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("seed corpus is committed") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        tether_proto::fuzzing::decode_everything(&data);
        // Every truncation of a seed too: incomplete input must never panic.
        for cut in 0..data.len() {
            tether_proto::fuzzing::decode_everything(&data[..cut]);
        }
        count += 1;
    }
    assert!(count >= 24, "only {count} seeds in {}", dir.display());
}
