//! Fuzz target for the RFC 7644 §3.4.2.2 filter parser, printer and evaluator.
//!
//! Arbitrary UTF-8 is parsed with `parse_filter`. Errors are expected; panics, stack
//! overflows and timeouts are bugs. A filter that parses must print to a canonical form
//! that parses back to the same AST, and must validate and evaluate against a sample User
//! without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd_core::filter::{Evaluator, MAX_FILTER_LEN, parse_filter, validate};
use scimd_core::schema::{Registry, ResourceKind};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = parse_filter(text) else {
        return;
    };
    let printed = filter.to_string();
    // Escaping can make the canonical form longer than the input budget.
    if printed.len() <= MAX_FILTER_LEN {
        let reparsed = parse_filter(&printed);
        assert_eq!(reparsed.as_ref().ok(), Some(&filter), "printed as {printed}");
    }
    let registry = Registry::builtin();
    let Some(rt) = registry.resource_type_of(ResourceKind::User) else {
        return;
    };
    let user = json!({
        "userName": "bjensen@example.com",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "name": {"givenName": "Barbara", "familyName": "O'Malley"},
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"lastModified": "2026-01-01T00:00:00.0000000Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "42",
            "manager": {"value": "m1"}
        }
    });
    let valid = validate(&registry, rt, &filter).is_ok();
    if let Some(doc) = user.as_object() {
        let evaluated = Evaluator::new(&registry, rt).matches(doc, &filter);
        // Validation and evaluation agree on which filters are acceptable.
        assert_eq!(valid, evaluated.is_ok(), "{printed}");
    }
});
