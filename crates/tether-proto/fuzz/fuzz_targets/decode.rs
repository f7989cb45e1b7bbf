//! Every decoder a peer can reach, fed arbitrary bytes.
//! Run: `cd crates/tether-proto/fuzz && cargo +nightly fuzz run decode seeds/decode`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tether_proto::fuzzing::decode_everything(data);
});
