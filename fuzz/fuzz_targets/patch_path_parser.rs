//! Fuzz target for PATCH paths (RFC 7644 §3.5.2) and attribute paths (§3.10).
//!
//! Arbitrary UTF-8 is parsed with `parse_patch_path` and `parse_attr_path`. Errors are
//! expected; panics are bugs. A path that parses must print to a form that parses back to
//! the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd_core::filter::{MAX_FILTER_LEN, parse_attr_path, parse_patch_path};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = parse_patch_path(text) {
        let printed = path.to_string();
        if printed.len() <= MAX_FILTER_LEN {
            assert_eq!(parse_patch_path(&printed).ok(), Some(path), "printed as {printed}");
        }
    }
    if let Ok(path) = parse_attr_path(text) {
        let printed = path.to_string();
        assert_eq!(parse_attr_path(&printed).ok(), Some(path), "printed as {printed}");
    }
});
