#![no_main]
//! See gregor::fuzzing::producer_snapshot.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::fuzzing::producer_snapshot(data));
