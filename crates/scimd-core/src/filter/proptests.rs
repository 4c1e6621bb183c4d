//! Property tests of the filter language: print → parse is the identity on ASTs, and the
//! evaluator obeys the laws of Boolean logic (De Morgan, double negation, commutativity)
//! on generated documents. The parser must also never panic on arbitrary input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

use super::*;
use crate::schema::Registry;

const URNS: [&str; 3] = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:example:custom:1.0:Thing",
];

/// Valid attribute names, excluding `User`/`Group`, which after a URN and before a `.`
/// are read as Microsoft's `urn:…:User.attr` form.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        Just("$ref".to_owned()),
        Just("not".to_owned()),
        Just("and".to_owned()),
        Just("pr".to_owned()),
    ]
    .prop_filter("ms dot form", |n| {
        !n.eq_ignore_ascii_case("user") && !n.eq_ignore_ascii_case("group")
    })
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::of(prop::sample::select(&URNS[..])),
        name(),
        prop::option::of(name()),
    )
        .prop_map(|(urn, name, sub)| AttrPath {
            urn: urn.map(str::to_owned),
            name,
            sub,
        })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
        "[ -~]{0,12}".prop_map(CompValue::String),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

/// Filters whose paths are plain names (the inside of `[...]`).
fn inner_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (name(), op(), comp_value()).prop_map(|(n, op, value)| Filter::Compare {
            path: AttrPath::simple(&n),
            op,
            value
        }),
        name().prop_map(|n| Filter::Present(AttrPath::simple(&n))),
    ];
    leaf.prop_recursive(3, 12, 2, combine)
}

fn combine(inner: impl Strategy<Value = Filter> + Clone) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        inner.prop_map(|a| Filter::Not(Box::new(a))),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (attr_path(), op(), comp_value()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
        attr_path().prop_map(Filter::Present),
        (
            prop::option::of(prop::sample::select(&URNS[..])),
            name(),
            inner_filter()
        )
            .prop_map(|(urn, name, f)| Filter::ValuePath {
                path: AttrPath {
                    urn: urn.map(str::to_owned),
                    name,
                    sub: None
                },
                filter: Box::new(f),
            }),
    ];
    leaf.prop_recursive(5, 32, 2, combine)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_identity(f in filter()) {
        let printed = f.to_string();
        let parsed = parse_filter(&printed);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&f), "printed: {} -> {:?}", printed, parsed);
    }

    #[test]
    fn attr_and_patch_paths_round_trip(p in attr_path(), f in prop::option::of(inner_filter()), sub in prop::option::of(name())) {
        prop_assert_eq!(parse_attr_path(&p.to_string()).ok(), Some(p.clone()));
        let pp = match f {
            Some(f) => PatchPath { attr: AttrPath { sub: None, ..p }, filter: Some(f), sub_attr: sub },
            None => PatchPath { attr: p, filter: None, sub_attr: None },
        };
        prop_assert_eq!(parse_patch_path(&pp.to_string()).ok(), Some(pp));
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,64}") {
        let _ = parse_filter(&s);
        let _ = parse_attr_path(&s);
        let _ = parse_patch_path(&s);
    }

    #[test]
    fn parsers_never_panic_on_filter_like_input(
        parts in prop::collection::vec(prop::sample::select(vec![
            "(", ")", "[", "]", "\"", "\\", " ", "not", "and", "or", "pr", "eq", "a", "b.c",
            "urn:x:y:", ".", "1", "\"s\"", "true", "null", "\\u", "d83d",
        ]), 0..40)
    ) {
        let s = parts.concat();
        let _ = parse_filter(&s);
        let _ = parse_patch_path(&s);
    }
}

/// Filters that are valid for the built-in User schema.
const ATOMS: [&str; 16] = [
    r#"userName eq "bjensen""#,
    r#"userName sw "B""#,
    r#"userName gt "m""#,
    "title pr",
    "title eq null",
    r#"title co "guide""#,
    "active eq true",
    "active ne false",
    r#"emails.type eq "work""#,
    r#"emails co "example.com""#,
    r#"emails[type eq "home" and value ew ".org"]"#,
    r#"emails[type eq "work"].value sw "b""#,
    r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
    r#"meta.lastModified le "2026-06-01T00:00:00.0000000+02:00""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42""#,
    r#"externalId eq "X1""#,
];

fn atom() -> impl Strategy<Value = Filter> {
    prop::sample::select(&ATOMS[..]).prop_map(|s| parse_filter(s).unwrap())
}

fn document() -> impl Strategy<Value = Map<String, Value>> {
    let email = (
        prop::sample::select(vec!["bjensen@example.com", "BABS@jensen.org", "b@x.io", ""]),
        prop::option::of(prop::sample::select(vec!["work", "Home", "other"])),
    )
        .prop_map(|(v, t)| {
            let mut m = json!({"value": v});
            if let Some(t) = t {
                m["type"] = json!(t);
            }
            m
        });
    (
        prop::option::of(prop::sample::select(vec![
            "bjensen", "BJensen", "zed", "Alice",
        ])),
        prop::option::of(prop::sample::select(vec!["Tour Guide", "", "Engineer"])),
        prop::option::of(prop::sample::select(vec![
            json!(true),
            json!(false),
            json!("True"),
            json!(null),
        ])),
        prop::collection::vec(email, 0..3),
        prop::option::of(prop::sample::select(vec![
            "2025-12-31T23:59:59Z",
            "2026-01-01T00:00:00.0000001Z",
            "2026-05-31T23:00:00+01:00",
            "2026-07-01T00:00:00Z",
        ])),
        prop::option::of(prop::sample::select(vec!["42", "7"])),
        prop::option::of(prop::sample::select(vec!["X1", "x1"])),
    )
        .prop_map(
            |(user_name, title, active, emails, modified, number, external)| {
                let mut d = Map::new();
                if let Some(u) = user_name {
                    d.insert("userName".into(), json!(u));
                }
                if let Some(t) = title {
                    d.insert("title".into(), json!(t));
                }
                if let Some(a) = active {
                    d.insert("active".into(), a);
                }
                d.insert("emails".into(), Value::Array(emails));
                if let Some(m) = modified {
                    d.insert("meta".into(), json!({"lastModified": m}));
                }
                if let Some(n) = number {
                    d.insert(
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into(),
                        json!({"employeeNumber": n}),
                    );
                }
                if let Some(x) = external {
                    d.insert("externalId".into(), json!(x));
                }
                d
            },
        )
}

fn schema_filter() -> impl Strategy<Value = Filter> {
    atom().prop_recursive(3, 8, 2, combine)
}

fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn evaluator_obeys_boolean_laws(d in document(), a in schema_filter(), b in schema_filter()) {
        let reg = Registry::builtin();
        let rt = reg.resource_type("User").unwrap();
        let ev = Evaluator::new(&reg, rt);
        let m = |f: &Filter| ev.matches(&d, f).unwrap();
        let (ma, mb) = (m(&a), m(&b));
        prop_assert_eq!(m(&not(not(a.clone()))), ma);
        prop_assert_eq!(m(&not(and(a.clone(), b.clone()))), m(&or(not(a.clone()), not(b.clone()))));
        prop_assert_eq!(m(&not(or(a.clone(), b.clone()))), m(&and(not(a.clone()), not(b.clone()))));
        prop_assert_eq!(m(&and(a.clone(), b.clone())), ma && mb);
        prop_assert_eq!(m(&and(b.clone(), a.clone())), ma && mb);
        prop_assert_eq!(m(&or(a.clone(), b.clone())), ma || mb);
        prop_assert_eq!(m(&or(b.clone(), a.clone())), ma || mb);
        // The printed form means the same thing.
        prop_assert_eq!(m(&parse_filter(&a.to_string()).unwrap()), ma);
        // `ne` is `not eq`, and `eq null` is `not pr`.
        if let Filter::Compare { path, op: CompareOp::Eq, value } = &a {
            let ne = Filter::Compare { path: path.clone(), op: CompareOp::Ne, value: value.clone() };
            prop_assert_eq!(m(&ne), !ma);
        }
        if let Filter::Present(path) = &a {
            let eq_null = Filter::Compare { path: path.clone(), op: CompareOp::Eq, value: CompValue::Null };
            prop_assert_eq!(m(&eq_null), !ma);
        }
    }
}
