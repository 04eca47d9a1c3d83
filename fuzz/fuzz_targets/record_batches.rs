#![no_main]
//! See gregor::fuzzing::record_batches.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::fuzzing::record_batches(data));
