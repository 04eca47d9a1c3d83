#![no_main]
//! See gregor::fuzzing::segment_recovery.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::fuzzing::segment_recovery(data));
