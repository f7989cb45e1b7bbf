//! Runs the fuzz target's code over the committed seed corpus and every
//! truncation of it, so CI exercises the decoder without nightly.

use std::path::Path;

#[test]
fn the_decoder_survives_the_seed_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/update");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("seed corpus is committed") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        tether_screen_codec::fuzzing::decode_updates(&data);
        // Every cut in the headers, then a spread through the data.
        let cuts = (0..data.len().min(256)).chain((256..data.len()).step_by(61));
        for cut in cuts {
            tether_screen_codec::fuzzing::decode_updates(&data[..cut]);
        }
        count += 1;
    }
    assert!(count >= 5, "only {count} seeds in {}", dir.display());
}
