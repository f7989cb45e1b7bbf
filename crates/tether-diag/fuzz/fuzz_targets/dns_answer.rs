//! The DNS stub client's answer parser, fed arbitrary resolver answers.
//! Run: `cd crates/tether-diag/fuzz && cargo +nightly fuzz run dns_answer seeds/dns_answer`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tether_diag::net::dns::fuzz_answer(data);
});
