//! Renderings of a scan: a table for people, SARIF 2.1.0 for code-scanning tools.
//! (JSON is the report itself, serialised: `docs/findings.md`.)

use std::collections::BTreeMap;

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::{Value, json};
use ward_matching::ScanReport;
use ward_model::{Confidence, Finding, Inventory, Priority};

pub(crate) fn table(report: &ScanReport, inventory: &Inventory) {
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header([
        "priority",
        "vulnerability",
        "asset",
        "component",
        "remediate by",
        "KEV due",
        "CVSS",
        "EPSS",
        "fixed in",
        "confidence",
    ]);
    for f in &report.findings {
        let cvss = f
            .cvss
            .iter()
            .map(|c| c.base_score)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        t.add_row([
            f.priority.to_string(),
            f.vulnerability.clone(),
            f.asset.clone(),
            format!(
                "{} {}",
                f.component.name,
                f.component.version.as_deref().unwrap_or("?")
            ),
            f.deadlines
                .remediate_by
                .map_or("-".into(), |d| d.format("%Y-%m-%d %H:%M").to_string()),
            f.kev.as_ref().map_or("-".into(), |k| {
                k.due_date.map_or("listed".into(), |d| d.to_string())
            }),
            cvss.map_or("-".into(), |s| format!("{s:.1}")),
            f.epss
                .as_ref()
                .map_or("-".into(), |e| format!("{:.3}", e.score)),
            if f.fixed_versions.is_empty() {
                "-".into()
            } else {
                f.fixed_versions.join(", ")
            },
            confidence_word(f.confidence).into(),
        ]);
    }
    if report.findings.is_empty() {
        println!("No findings.");
    } else {
        println!("{t}");
    }
    let mut by_priority: BTreeMap<Priority, usize> = BTreeMap::new();
    for f in &report.findings {
        *by_priority.entry(f.priority).or_default() += 1;
    }
    let parts: Vec<String> = by_priority
        .iter()
        .map(|(p, n)| format!("{n} {p}"))
        .collect();
    println!(
        "{} findings ({}) on {} assets, {} components scanned.",
        report.findings.len(),
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        },
        inventory.assets.len(),
        inventory.component_count()
    );
    let disagreeing = report
        .findings
        .iter()
        .filter(|f| !f.explanation.disagreements.is_empty())
        .count();
    if disagreeing > 0 || !report.suppressed.is_empty() {
        println!(
            "Sources disagree on {disagreeing} findings; {} components not reported because a more precise source says unaffected.",
            report.suppressed.len()
        );
        for s in &report.suppressed {
            println!(
                "  not reported: {} on {} ({} {}): {}",
                s.vulnerability,
                s.asset,
                s.component.name,
                s.component.version.as_deref().unwrap_or("?"),
                s.reason
            );
        }
        println!("`--format json` shows every source's verdict and the reasons.");
    }
}

fn confidence_word(c: Confidence) -> &'static str {
    match c {
        Confidence::Exact => "exact",
        Confidence::Derived => "derived CPE",
        Confidence::PlatformUnknown => "platform unknown",
        Confidence::GitRange => "git range (unverified)",
    }
}

fn level(p: Priority) -> &'static str {
    match p {
        Priority::Immediate | Priority::OutOfCycle => "error",
        Priority::Scheduled => "warning",
        Priority::Defer => "note",
    }
}

fn message(f: &Finding) -> String {
    let mut m = format!(
        "{} {} on {} is affected by {}{}: {} {} matched {}.",
        f.component.name,
        f.component.version.as_deref().unwrap_or(""),
        f.asset,
        f.vulnerability,
        f.title
            .as_ref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default(),
        f.explanation.source,
        f.explanation.criterion,
        f.explanation.range
    );
    if !f.fixed_versions.is_empty() {
        m.push_str(&format!(" Fixed in {}.", f.fixed_versions.join(", ")));
    }
    m.push_str(&format!(
        " Priority {}: {}",
        f.priority, f.explanation.priority
    ));
    m
}

/// SARIF 2.1.0: one rule per vulnerability, one result per finding. The inventory file is the
/// artifact; the asset and component are logical locations.
pub(crate) fn sarif(report: &ScanReport, inventory: &Inventory, sources: &[String]) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        if index.contains_key(f.vulnerability.as_str()) {
            continue;
        }
        index.insert(&f.vulnerability, rules.len());
        let score = f.cvss.iter().map(|c| c.base_score).fold(0.0, f64::max);
        rules.push(json!({
            "id": f.vulnerability,
            "name": f.vulnerability,
            "shortDescription": { "text": f.title.clone().unwrap_or_else(|| f.vulnerability.clone()) },
            "helpUri": format!("https://nvd.nist.gov/vuln/detail/{}", f.vulnerability),
            "properties": {
                "security-severity": format!("{score:.1}"),
                "tags": ["security", "vulnerability"],
            },
        }));
    }
    // Each finding's asset maps to the inventory file that described it.
    let file_of = |asset: &str| -> Option<&String> {
        inventory
            .assets
            .iter()
            .position(|a| a.name == asset)
            .and_then(|i| sources.get(i))
    };
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut location = json!({
                "logicalLocations": [{
                    "name": f.component.name,
                    "fullyQualifiedName": format!("{}/{}@{}", f.asset, f.component.name, f.component.version.as_deref().unwrap_or("")),
                    "kind": "module",
                }]
            });
            if let Some(file) = file_of(&f.asset) {
                location["physicalLocation"] = json!({ "artifactLocation": { "uri": file } });
            }
            json!({
                "ruleId": f.vulnerability,
                "ruleIndex": index[f.vulnerability.as_str()],
                "level": level(f.priority),
                "message": { "text": message(f) },
                "locations": [location],
                "partialFingerprints": {
                    "wardFinding/v1": format!("{}|{}|{}|{}", f.vulnerability, f.asset, f.component.name, f.component.version.as_deref().unwrap_or("")),
                },
                "properties": {
                    "priority": f.priority,
                    "confidence": f.confidence,
                    "kev": f.kev,
                    "epss": f.epss,
                    "fixed_versions": f.fixed_versions,
                    "cpe": f.component.cpe,
                    "purl": f.component.purl,
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "ward",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/ward",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
