//! `scimd-bench report`: the Markdown table for docs/PERFORMANCE.md from the JSON results of
//! a scimd run, the limit run (W2 and W3 ratios) and optionally a baseline run at another
//! scale (how each figure changed, e.g. 1M users against 10k).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A results file as written by `run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsFile {
    /// Who was measured: `scimd` or `limit`.
    pub target: String,
    pub users: u64,
    pub backend: String,
    pub date: String,
    pub command: String,
    pub machine: Value,
    pub seed: Value,
    pub workloads: Vec<Value>,
}

fn find<'a>(file: Option<&'a ResultsFile>, key: &str) -> Option<&'a Value> {
    file?
        .workloads
        .iter()
        .find(|w| w.get("key").and_then(Value::as_str) == Some(key))
}

fn num(w: &Value, field: &str) -> Option<f64> {
    w.get(field).and_then(Value::as_f64)
}

fn fmt_rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The Markdown table.
pub fn markdown(
    scimd: &ResultsFile,
    limit: Option<&ResultsFile>,
    baseline: Option<&ResultsFile>,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} users, {}, {}. \n\n",
        scimd.users, scimd.backend, scimd.date
    ));
    let base_label = baseline.map_or(String::new(), |b| format!(" | req/s vs {} users", b.users));
    out.push_str(&format!(
        "| workload | requests | c | req/s | p50 ms | p99 ms | errors | peak RSS MiB | server CPU ms/unit | ratio to limit{base_label} |\n"
    ));
    out.push_str(&format!(
        "|---|---|---|---|---|---|---|---|---|---|{}\n",
        if baseline.is_some() { "---|" } else { "" }
    ));
    for w in &scimd.workloads {
        let key = w.get("key").and_then(Value::as_str).unwrap_or_default();
        let rps = num(w, "requests_per_sec").unwrap_or(0.0);
        let mut rate = fmt_rate(rps);
        if let Some(u) = num(w, "users_per_sec") {
            rate.push_str(&format!(" ({} users/s)", fmt_rate(u)));
        }
        let ratio = find(limit, key)
            .and_then(|l| num(l, "requests_per_sec"))
            .filter(|l| *l > 0.0)
            .map_or("—".to_owned(), |l| {
                format!("{:.0}% of {}", rps / l * 100.0, fmt_rate(l))
            });
        let growth = baseline.map(|_| {
            find(baseline, key)
                .and_then(|b| num(b, "requests_per_sec"))
                .filter(|b| *b > 0.0)
                .map_or(" | —".to_owned(), |b| format!(" | {:.2}×", rps / b))
        });
        out.push_str(&format!(
            "| {key} | {} | {} | {rate} | {:.2} | {:.2} | {} | {} | {} | {ratio}{} |\n",
            w.get("what").and_then(Value::as_str).unwrap_or_default(),
            w.get("concurrency").and_then(Value::as_u64).unwrap_or(0),
            num(w, "p50_ms").unwrap_or(0.0),
            num(w, "p99_ms").unwrap_or(0.0),
            w.get("errors").and_then(Value::as_u64).unwrap_or(0),
            num(w, "peak_rss_mib").map_or("—".into(), |v| format!("{v:.0}")),
            num(w, "server_cpu_ms_per_unit").map_or("—".into(), |v| format!("{v:.3}")),
            growth.unwrap_or_default(),
        ));
    }
    if let Some(l) = limit {
        out.push_str(&format!(
            "\nLimit (bare axum, pre-serialized, same load generator), {} users:",
            l.users
        ));
        for w in &l.workloads {
            out.push_str(&format!(
                " {} {} req/s (p50 {:.2} ms, p99 {:.2} ms);",
                w.get("key").and_then(Value::as_str).unwrap_or_default(),
                fmt_rate(num(w, "requests_per_sec").unwrap_or(0.0)),
                num(w, "p50_ms").unwrap_or(0.0),
                num(w, "p99_ms").unwrap_or(0.0),
            ));
        }
        out.push('\n');
    }
    let notes: Vec<&str> = scimd
        .machine
        .get("notes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !notes.is_empty() {
        out.push_str(&format!("\nNotes: {}\n", notes.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn file(target: &str, users: u64, rps: f64) -> ResultsFile {
        ResultsFile {
            target: target.into(),
            users,
            backend: "sqlite".into(),
            date: "2026-11-23".into(),
            command: "x".into(),
            machine: json!({}),
            seed: json!({}),
            workloads: vec![json!({"key": "W2", "what": "GET", "concurrency": 16,
                "requests_per_sec": rps, "p50_ms": 1.0, "p99_ms": 2.0, "errors": 0,
                "peak_rss_mib": 30.0, "server_cpu_ms_per_unit": 0.1})],
        }
    }

    #[test]
    fn ratio_and_growth_columns() {
        let s = file("scimd", 1_000_000, 6000.0);
        let l = file("limit", 1_000_000, 20000.0);
        let b = file("scimd", 10_000, 8000.0);
        let md = markdown(&s, Some(&l), Some(&b));
        assert!(md.contains("30% of 20000"), "{md}");
        assert!(md.contains("0.75×"), "{md}");
        assert!(md.contains("| W2 | GET | 16 | 6000 |"), "{md}");
        assert!(!md.contains("Notes:"), "{md}");
    }

    #[test]
    fn notes_from_the_machine_are_printed() {
        let mut s = file("scimd", 10_000, 6000.0);
        s.machine = json!({"notes": ["PostgreSQL 15 on the same 2 CPUs."]});
        let md = markdown(&s, None, None);
        assert!(
            md.ends_with("\nNotes: PostgreSQL 15 on the same 2 CPUs.\n"),
            "{md}"
        );
    }
}
