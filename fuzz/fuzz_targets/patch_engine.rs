//! Fuzz target for the PATCH engine (RFC 7644 §3.5.2): arbitrary bytes are read as a JSON
//! PATCH body, parsed with `PatchRequest::parse` and applied to a sample User and Group in
//! both strictness modes. Any panic is a bug; errors are expected.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd_core::Mode;
use scimd_core::patch::{PatchContext, PatchRequest, apply};
use scimd_core::schema::{Registry, ResourceKind};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let registry = Registry::builtin();
    let user = json!({
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "42",
            "manager": {"value": "m1"}
        }
    });
    let group = json!({"displayName": "Tour Guides"});
    for mode in [Mode::Compatible, Mode::Strict] {
        let Ok(request) = PatchRequest::parse(&body, mode) else {
            continue;
        };
        for (kind, doc) in [(ResourceKind::User, &user), (ResourceKind::Group, &group)] {
            let (Some(rt), Some(doc)) = (registry.resource_type_of(kind), doc.as_object()) else {
                continue;
            };
            let ctx = PatchContext {
                registry: &registry,
                resource_type: rt,
                resource_id: "2819c223-7f76-453a-919d-413861904646",
                mode,
            };
            let _ = apply(&ctx, doc, &request);
        }
    }
});
