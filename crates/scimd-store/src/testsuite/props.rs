//! Property tests: the SQL translation of filters and sorts agrees with `scimd_core`'s
//! in-memory evaluator and comparator (the reference semantics) on varied documents.
//!
//! A fixed, pseudo-random set of User documents (with a test extension holding integer,
//! decimal, dateTime, caseExact and multi-valued attributes) is stored once; proptest then
//! generates filters (all operators, `and`/`or`/`not`, value paths, `pr`, `null`, case
//! variations, operands that do not fit the type) and checks that the store returns exactly
//! the ids the evaluator matches, or fails exactly when it fails. The store must have been
//! opened with [`registry`].

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use scimd_core::filter::{Evaluator, parse_filter};
use scimd_core::schema::{
    AttributeDef, AttributeType, Registry, ResourceKind, Schema, SchemaExtension,
};
use scimd_core::sort::{SortOrder, SortSpec, compare};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::{Document, Load, NewResource, Page, Query, Store, StoreError, TenantId};

/// The test extension's schema URN.
pub const TEST_EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The built-in catalogue plus an extension with the types the built-in User lacks.
pub fn registry() -> Registry {
    let base = Registry::builtin();
    let mut schemas = base.schemas().to_vec();
    let mut tags = AttributeDef::new("tags", AttributeType::String);
    tags.multi_valued = true;
    let mut badge = AttributeDef::new("badge", AttributeType::String);
    badge.case_exact = true;
    schemas.push(Schema {
        id: TEST_EXT.into(),
        name: "Test".into(),
        description: String::new(),
        attributes: vec![
            AttributeDef::new("level", AttributeType::Integer),
            AttributeDef::new("score", AttributeType::Decimal),
            AttributeDef::new("hired", AttributeType::DateTime),
            badge,
            tags,
        ],
    });
    let mut types = base.resource_types().to_vec();
    for rt in &mut types {
        if rt.name == "User" {
            rt.schema_extensions.push(SchemaExtension {
                schema: TEST_EXT.into(),
                required: false,
            });
        }
    }
    Registry::from_parts(schemas, types, base.common_schema().clone())
}

/// A small deterministic generator (xorshift64*), so the document set is varied but fixed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const NAMES: &[&str] = &[
    "ann", "Ann", "bob", "BOB", "carol", "Élodie", "zoë", "user", "x", "ab",
];
const TITLES: &[&str] = &["Boss", "boss", "Engineer", "eng", "", "Zebra", "Ängel"];
const DOMAINS: &[&str] = &["example.com", "Example.COM", "home.org", "x.io"];
const TYPES: &[&str] = &["work", "home", "WORK", "other"];
const BADGES: &[&str] = &["A1", "a1", "B2", "b"];
const TAGS: &[&str] = &["red", "Blue", "green", ""];
const TIMES: &[&str] = &[
    "2024-01-01T10:00:00Z",
    "2024-01-01T12:00:00+02:00",
    "2023-12-31T23:59:59.999Z",
    "2025-06-30T08:30:00.5Z",
    "2024-01-01",
];

fn documents(n: usize) -> Vec<Document> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut docs = Vec::new();
    for i in 0..n {
        let mut d = serde_json::Map::new();
        d.insert("userName".into(), json!(format!("{}{i}", rng.pick(NAMES))));
        if rng.chance(60) {
            d.insert("title".into(), json!(rng.pick(TITLES)));
        }
        if rng.chance(50) {
            d.insert("displayName".into(), json!(rng.pick(NAMES)));
        }
        if rng.chance(70) {
            d.insert("active".into(), json!(rng.chance(50)));
        }
        if rng.chance(40) {
            d.insert("externalId".into(), json!(rng.pick(&["E1", "e1", "E2"])));
        }
        if rng.chance(60) {
            let mut name = serde_json::Map::new();
            if rng.chance(70) {
                name.insert("givenName".into(), json!(rng.pick(NAMES)));
            }
            if rng.chance(50) {
                name.insert("familyName".into(), json!(rng.pick(TITLES)));
            }
            d.insert("name".into(), Value::Object(name));
        }
        let emails = rng.below(4);
        if emails > 0 {
            let mut list = Vec::new();
            for _ in 0..emails {
                let mut e = serde_json::Map::new();
                if rng.chance(85) {
                    e.insert(
                        "value".into(),
                        json!(format!("{}@{}", rng.pick(NAMES), rng.pick(DOMAINS))),
                    );
                }
                if rng.chance(70) {
                    e.insert("type".into(), json!(rng.pick(TYPES)));
                }
                if rng.chance(40) {
                    e.insert("primary".into(), json!(rng.chance(50)));
                }
                list.push(Value::Object(e));
            }
            d.insert("emails".into(), Value::Array(list));
        }
        if rng.chance(50) {
            let mut ent = serde_json::Map::new();
            if rng.chance(70) {
                ent.insert(
                    "employeeNumber".into(),
                    json!(rng.pick(&["701984", "7", "42", "0042"])),
                );
            }
            if rng.chance(50) {
                ent.insert("manager".into(), json!({"value": rng.pick(NAMES)}));
            }
            d.insert(ENTERPRISE.into(), Value::Object(ent));
        }
        if rng.chance(70) {
            let mut ext = serde_json::Map::new();
            if rng.chance(70) {
                ext.insert("level".into(), json!(rng.below(13) as i64 - 3));
            }
            if rng.chance(60) {
                ext.insert(
                    "score".into(),
                    json!([1.5, 2.0, -0.5, 10.25, 3.0][rng.below(5)]),
                );
            }
            if rng.chance(60) {
                ext.insert("hired".into(), json!(rng.pick(TIMES)));
            }
            if rng.chance(60) {
                ext.insert("badge".into(), json!(rng.pick(BADGES)));
            }
            if rng.chance(50) {
                let tags: Vec<&str> = (0..rng.below(4)).map(|_| rng.pick(TAGS)).collect();
                ext.insert("tags".into(), json!(tags));
            }
            d.insert(TEST_EXT.into(), Value::Object(ext));
        }
        docs.push(d);
    }
    docs
}

/// Attribute paths with their kind, for generating comparisons.
#[derive(Clone, Copy, Debug)]
enum Ty {
    Text,
    Bool,
    Int,
    Dec,
    Time,
}

fn attr_paths() -> Vec<(String, Ty)> {
    let mut v: Vec<(String, Ty)> = [
        ("userName", Ty::Text),
        ("USERNAME", Ty::Text),
        ("title", Ty::Text),
        ("displayName", Ty::Text),
        ("externalId", Ty::Text),
        ("name.givenName", Ty::Text),
        ("name.familyName", Ty::Text),
        ("emails", Ty::Text),
        ("emails.value", Ty::Text),
        ("emails.type", Ty::Text),
        ("emails.primary", Ty::Bool),
        ("active", Ty::Bool),
        ("name", Ty::Text),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_owned(), t))
    .collect();
    for (p, t) in [
        ("employeeNumber", Ty::Text),
        ("manager.value", Ty::Text),
        ("manager", Ty::Text),
    ] {
        v.push((format!("{ENTERPRISE}:{p}"), t));
    }
    for (p, t) in [
        ("level", Ty::Int),
        ("score", Ty::Dec),
        ("hired", Ty::Time),
        ("badge", Ty::Text),
        ("tags", Ty::Text),
    ] {
        v.push((format!("{TEST_EXT}:{p}"), t));
    }
    v
}

fn text_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "ann",
        "ANN",
        "a",
        "b",
        "bob1",
        "Boss",
        "BOSS",
        "eng",
        "",
        "work",
        "WORK",
        "home",
        "example.com",
        "@EXAMPLE",
        ".org",
        "élodie",
        "ÉLODIE",
        "Zoë",
        "A1",
        "a1",
        "red",
        "blue",
        "701984",
        "0042",
        "E1",
        "e1",
        "x",
        "zz",
        "user",
    ])
    .prop_map(|s| format!("\"{s}\""))
}

fn value_for(ty: Ty) -> BoxedStrategy<String> {
    match ty {
        Ty::Text => prop_oneof![
            8 => text_value(),
            1 => Just("true".to_owned()),
            1 => Just("12".to_owned()),
        ]
        .boxed(),
        Ty::Bool => prop::sample::select(vec!["true", "false", "\"TRUE\"", "\"maybe\"", "1"])
            .prop_map(str::to_owned)
            .boxed(),
        Ty::Int | Ty::Dec => prop::sample::select(vec![
            "-3", "0", "2", "7", "1.5", "2.0", "10.25", "\"3\"", "\"x\"",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        Ty::Time => prop::sample::select(vec![
            "\"2024-01-01T10:00:00Z\"",
            "\"2024-01-01T10:00:00.000Z\"",
            "\"2024-01-01T08:00:00-02:00\"",
            "\"2024-01-01\"",
            "\"2025-01-01T00:00:00Z\"",
            "\"not a date\"",
        ])
        .prop_map(str::to_owned)
        .boxed(),
    }
}

fn op() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co", "sW",
    ])
}

/// One comparison, `pr`, or `eq null` / `ne null` on a random path.
fn atom() -> BoxedStrategy<String> {
    let paths = attr_paths();
    (prop::sample::select(paths), op(), 0..10_u8)
        .prop_flat_map(|((path, ty), op, shape)| {
            value_for(ty).prop_map(move |v| match shape {
                0 => format!("{path} pr"),
                1 => format!("{path} eq null"),
                2 => format!("{path} ne null"),
                _ => format!("{path} {op} {v}"),
            })
        })
        .boxed()
}

/// A condition inside `emails[...]`.
fn email_atom() -> BoxedStrategy<String> {
    (
        prop::sample::select(vec![
            ("value", Ty::Text),
            ("type", Ty::Text),
            ("primary", Ty::Bool),
            ("VALUE", Ty::Text),
        ]),
        op(),
        0..8_u8,
    )
        .prop_flat_map(|((path, ty), op, shape)| {
            value_for(ty).prop_map(move |v| match shape {
                0 => format!("{path} pr"),
                1 => format!("{path} eq null"),
                _ => format!("{path} {op} {v}"),
            })
        })
        .boxed()
}

fn combine(inner: BoxedStrategy<String>) -> BoxedStrategy<String> {
    inner
        .prop_recursive(3, 12, 2, |e| {
            prop_oneof![
                (e.clone(), e.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (e.clone(), e.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
                e.prop_map(|a| format!("not({a})")),
            ]
            .boxed()
        })
        .boxed()
}

fn filter_text() -> BoxedStrategy<String> {
    let value_path = prop_oneof![
        combine(email_atom()).prop_map(|f| format!("emails[{f}]")),
        (email_atom(), email_atom()).prop_map(|(a, b)| format!("emails[{a}].{}", b)),
        combine(email_atom())
            .prop_map(|f| format!("{TEST_EXT}:tags[{}]", f.replace("type", "value"))),
    ];
    combine(prop_oneof![4 => atom(), 1 => value_path].boxed())
}

/// The fixed documents, stored under ids `id000`… in tenant `prop` (and, identically, in a
/// second tenant whose rows must never leak into results).
fn seed<S: Store>(rt: &Runtime, store: &S) -> (TenantId, Vec<(String, Document)>) {
    let docs: Vec<(String, Document)> = documents(60)
        .into_iter()
        .enumerate()
        .map(|(i, d)| (format!("id{i:03}"), d))
        .collect();
    let tenant = rt.block_on(async {
        let tenant = store.create_tenant("prop", json!({})).await.unwrap().id;
        let other = store.create_tenant("other", json!({})).await.unwrap().id;
        for t in [other, tenant] {
            for (id, d) in &docs {
                let user_name = d["userName"].as_str().unwrap().to_lowercase();
                store
                    .create(
                        t,
                        NewResource {
                            kind: ResourceKind::User,
                            id: id.clone(),
                            document: d.clone(),
                            unique_key: Some(user_name),
                            external_id: d
                                .get("externalId")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            display: None,
                            members: vec![],
                            password_hash: None,
                        },
                    )
                    .await
                    .unwrap();
            }
        }
        tenant
    });
    (tenant, docs)
}

fn all_rows(filter: Option<scimd_core::filter::Filter>, sort: Option<SortSpec>) -> Query {
    Query {
        filter,
        sort,
        page: Page::Index {
            start_index: 1,
            count: 1000,
        },
        load: Load::NONE,
    }
}

/// 1000 generated filters return exactly the ids the evaluator matches (or both fail).
pub fn sql_filters_match_the_evaluator<S: Store>(rt: &Runtime, store: &S, registry: &Registry) {
    let (tenant, docs) = seed(rt, store);
    let rt_def = registry.resource_type("User").unwrap();
    let evaluator = Evaluator::new(registry, rt_def);
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let matched_some = std::cell::Cell::new(0_u32);
    let parsed = std::cell::Cell::new(0_u32);
    let rejected = std::cell::Cell::new(0_u32);
    runner
        .run(&filter_text(), |text| {
            let Ok(filter) = parse_filter(&text) else {
                return Ok(());
            };
            parsed.set(parsed.get() + 1);
            let expected: Result<Vec<String>, _> = docs
                .iter()
                .filter_map(|(id, d)| match evaluator.matches(d, &filter) {
                    Ok(true) => Some(Ok(id.clone())),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect();
            let got = rt.block_on(store.query(
                tenant,
                ResourceKind::User,
                &all_rows(Some(filter.clone()), None),
            ));
            match (expected, got) {
                (Ok(want), Ok(got)) => {
                    let ids: Vec<String> = got.resources.into_iter().map(|r| r.id).collect();
                    prop_assert_eq!(&ids, &want, "filter {}", text);
                    prop_assert_eq!(got.total, want.len() as u64);
                    if !want.is_empty() && want.len() < docs.len() {
                        matched_some.set(matched_some.get() + 1);
                    }
                }
                (Err(_), Err(StoreError::Scim(_))) => rejected.set(rejected.get() + 1),
                // Documents are valid for every filter only if the filter is: an evaluator
                // error on no document means the filter was fine and the store must agree.
                (want, got) => {
                    prop_assert!(
                        false,
                        "filter {}: evaluator {:?}, store {:?}",
                        text,
                        want,
                        got
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    // The generator must exercise selective filters, not only all-or-nothing ones.
    let (selective, parsed, rejected) = (matched_some.get(), parsed.get(), rejected.get());
    assert!(
        selective > 250 && parsed > 900 && rejected < 500,
        "{parsed} parsed, {selective} selective, {rejected} rejected"
    );
}

/// Sorting by every path, both directions, gives the order of `sort::compare`.
pub fn sql_sort_matches_the_comparator<S: Store>(rt: &Runtime, store: &S, registry: &Registry) {
    let (tenant, docs) = seed(rt, store);
    let rt_def = registry.resource_type("User").unwrap();
    let mut paths: Vec<String> = attr_paths()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p != "name")
        .collect();
    paths.push("externalId".into());
    for path in paths {
        for order in [SortOrder::Ascending, SortOrder::Descending] {
            let spec = SortSpec::parse(&path, Some(order)).unwrap();
            let mut want: Vec<&(String, Document)> = docs.iter().collect();
            // Stable: equal keys keep insertion order, as the store breaks ties by seq.
            want.sort_by(|a, b| compare(registry, rt_def, &a.1, &b.1, &spec));
            let want: Vec<&str> = want.iter().map(|(id, _)| id.as_str()).collect();
            let got = rt
                .block_on(store.query(
                    tenant,
                    ResourceKind::User,
                    &all_rows(None, Some(spec.clone())),
                ))
                .unwrap();
            let got: Vec<&str> = got.resources.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(got, want, "sortBy={path} {order:?}");
        }
    }
}
