#![no_main]
//! See gregor::fuzzing::frames_and_requests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::fuzzing::frames_and_requests(data));
