//! Runs the fuzz target's code over the committed seed corpus and every
//! truncation of it, so CI exercises the decoder without nightly.

use std::path::Path;

#[test]
fn the_decoder_survives_the_seed_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/update");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("seed corpus is committed") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        tether_screen_codec::fuzzing::decode_update(&data);
        for cut in 0..data.len().min(4096) {
            tether_screen_codec::fuzzing::decode_update(&data[..cut]);
        }
        count += 1;
    }
    assert!(count >= 5, "only {count} seeds in {}", dir.display());
}
