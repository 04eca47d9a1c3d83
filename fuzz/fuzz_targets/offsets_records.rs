#![no_main]
//! See gregor::fuzzing::offsets_records.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::fuzzing::offsets_records(data));
