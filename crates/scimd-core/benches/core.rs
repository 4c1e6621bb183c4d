//! Criterion benches of the protocol core's per-request hot paths: parsing and evaluating the
//! filters identity providers send (RFC 7644 §3.4.2.2), and parsing and applying a typical
//! Entra user PATCH (RFC 7644 §3.5.2). Figures go to docs/PERFORMANCE.md.
//!
//! Run: `cargo bench -p scimd-core --bench core -- --warm-up-time 1 --measurement-time 3`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scimd_core::Mode;
use scimd_core::filter::{Evaluator, parse_filter};
use scimd_core::patch::{PatchContext, PatchRequest, apply};
use scimd_core::schema::{Registry, ResourceKind};
use serde_json::{Value, json};

fn user_document() -> Value {
    json!({
        "userName": "test.user@okta.local",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "name": {"givenName": "Test", "familyName": "User", "formatted": "Test User"},
        "displayName": "Test User",
        "locale": "en-US",
        "active": true,
        "emails": [
            {"value": "test.user@okta.local", "type": "work", "primary": true},
            {"value": "x@y.com", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "42",
            "department": "Engineering",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

fn filters(c: &mut Criterion) {
    let registry = Registry::builtin();
    let rt = registry.resource_type_of(ResourceKind::User).unwrap();
    let doc = user_document();
    let doc = doc.as_object().unwrap();
    let evaluator = Evaluator::new(&registry, rt);
    for (name, text) in [
        (
            "filter/okta_userName_eq",
            r#"userName eq "test.user@okta.local""#,
        ),
        (
            "filter/entra_emails_work_value_eq",
            r#"emails[type eq "work"].value eq "x@y.com""#,
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let filter = parse_filter(black_box(text)).unwrap();
                evaluator.matches(black_box(doc), &filter).unwrap()
            })
        });
    }
}

fn entra_patch(c: &mut Criterion) {
    let registry = Registry::builtin();
    let rt = registry.resource_type_of(ResourceKind::User).unwrap();
    let doc = user_document();
    let doc = doc.as_object().unwrap();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updated@contoso.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Updated"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"},
            {"op": "Replace", "path": "active", "value": "False"}
        ]
    });
    let ctx = PatchContext {
        registry: &registry,
        resource_type: rt,
        resource_id: "2819c223-7f76-453a-919d-413861904646",
        mode: Mode::Compatible,
    };
    c.bench_function("patch/entra_user_replace_4_ops", |b| {
        b.iter(|| {
            let request = PatchRequest::parse(black_box(&body), Mode::Compatible).unwrap();
            apply(&ctx, black_box(doc), &request).unwrap()
        })
    });
}

criterion_group!(benches, filters, entra_patch);
criterion_main!(benches);
