//! Runs the DNS fuzz target's code over its committed seed corpus, and
//! every truncation of each seed, in every CI run.

use std::path::Path;

#[test]
fn dns_parser_survives_the_seed_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/dns_answer");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("seed corpus is committed") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for cut in 0..=data.len() {
            tether_diag::net::dns::fuzz_answer(&data[..cut]);
        }
        count += 1;
    }
    assert!(count >= 5, "only {count} seeds in {}", dir.display());
}
