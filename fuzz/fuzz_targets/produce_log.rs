#![no_main]
//! See gregor::fuzzing::produce_log.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::fuzzing::produce_log(data));
