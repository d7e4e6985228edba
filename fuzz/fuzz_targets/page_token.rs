//! Page and follow tokens: whatever a client sends as `page_token` opens to
//! a position or is refused cleanly, and every position the server issues
//! opens back to itself.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use audit_fuzz::tokens::{TokenCase, check_token_case};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Unstructured::new(data);
    if let Ok(case) = TokenCase::arbitrary_take_rest(input) {
        check_token_case(case);
    }
});
