#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tether_screen_codec::fuzzing::decode_updates(data);
});
