//! VEX documents out: [`VexStatement`]s written as OpenVEX 0.2, CycloneDX 1.5 VEX or a CSAF 2.0
//! `csaf_vex` document. The server exports a member's decisions and the central team's
//! statements through these (`GET /api/v1/vex`); `ward scan --format csaf-vex` too. Each
//! output is validated against its official JSON schema in the tests.
//!
//! Documents are deterministic: ids and serial numbers are digests of the statements, so the
//! same statements give the same document (but its `timestamp`).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ward_model::{VexProduct, VexStatement, VexStatus};

/// Who publishes a document, and when.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The organisation's or team's name (`St Elsewhere NHS Trust`).
    pub name: String,
    /// A URI naming the publisher (`https://ward.example.nhs.uk/org/st-elsewhere`,
    /// `urn:ward:org:st-elsewhere`).
    pub namespace: String,
    /// CSAF's publisher category: `user` for a member, `coordinator` for the central team.
    pub category: &'static str,
    pub timestamp: DateTime<Utc>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn digest(v: &impl serde::Serialize) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_string(v).unwrap_or_default().as_bytes(),
    ))
}

/// The identifier a product is written under: its purl, else its CPE, else its id.
fn product_key(p: &VexProduct) -> String {
    p.purl
        .clone()
        .or_else(|| p.cpe.clone())
        .unwrap_or_else(|| p.id.clone())
}

/// The parts a statement is about (its subcomponents), else its products.
fn subjects(s: &VexStatement) -> &[VexProduct] {
    if s.subcomponents.is_empty() {
        &s.products
    } else {
        &s.subcomponents
    }
}

/// OpenVEX 0.2.
pub fn openvex(statements: &[VexStatement], publisher: &Publisher) -> Value {
    let out: Vec<Value> = statements
        .iter()
        .map(|s| {
            let identifiers = |p: &VexProduct| {
                let mut ids = serde_json::Map::new();
                if let Some(u) = &p.purl {
                    ids.insert("purl".into(), json!(u));
                }
                if let Some(c) = &p.cpe {
                    ids.insert("cpe23".into(), json!(c));
                }
                ids
            };
            let product = |p: &VexProduct| {
                let ids = identifiers(p);
                let mut v = json!({ "@id": product_key(p) });
                if !ids.is_empty() {
                    v["identifiers"] = Value::Object(ids);
                }
                v
            };
            let mut products: Vec<Value> = s.products.iter().map(product).collect();
            if !s.subcomponents.is_empty() {
                let subs: Vec<Value> = s.subcomponents.iter().map(product).collect();
                for p in &mut products {
                    p["subcomponents"] = json!(subs);
                }
            }
            let mut vulnerability = json!({ "name": s.vulnerability });
            if !s.aliases.is_empty() {
                vulnerability["aliases"] = json!(s.aliases);
            }
            let mut st = json!({
                "vulnerability": vulnerability,
                "products": products,
                "status": s.status.as_str(),
            });
            if let Some(j) = &s.justification {
                st["justification"] = json!(j);
            }
            if let Some(i) = &s.impact {
                st["impact_statement"] = json!(i);
            }
            if s.status == VexStatus::NotAffected && s.justification.is_none() && s.impact.is_none()
            {
                st["impact_statement"] = json!(format!("as stated in {}", s.document));
            }
            if s.status == VexStatus::Affected {
                st["action_statement"] = json!(
                    s.action
                        .clone()
                        .unwrap_or_else(|| "Follow the vendor's advisory".to_owned())
                );
            }
            if let Some(a) = &s.author {
                st["supplier"] = json!(a);
            }
            if let Some(t) = s.timestamp {
                st["timestamp"] = json!(rfc3339(t));
            }
            st
        })
        .collect();
    let id = digest(&out);
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("{}/vex/{}", publisher.namespace.trim_end_matches('/'), &id[..32]),
        "author": publisher.name,
        "timestamp": rfc3339(publisher.timestamp),
        "version": 1,
        "tooling": concat!("ward ", env!("CARGO_PKG_VERSION")),
        "statements": out,
    })
}

/// OpenVEX's justifications in CycloneDX's vocabulary (the CISA VEX minimum-elements mapping);
/// CycloneDX's own words pass through.
pub fn cyclonedx_justification(openvex: &str) -> Option<&'static str> {
    Some(match openvex {
        "component_not_present" | "vulnerable_code_not_present" => "code_not_present",
        "vulnerable_code_not_in_execute_path" => "code_not_reachable",
        "vulnerable_code_cannot_be_controlled_by_adversary" => "requires_environment",
        "inline_mitigations_already_exist" => "protected_by_mitigating_control",
        "code_not_present" => "code_not_present",
        "code_not_reachable" => "code_not_reachable",
        "requires_configuration" => "requires_configuration",
        "requires_dependency" => "requires_dependency",
        "requires_environment" => "requires_environment",
        "protected_by_compiler" => "protected_by_compiler",
        "protected_at_runtime" => "protected_at_runtime",
        "protected_at_perimeter" => "protected_at_perimeter",
        "protected_by_mitigating_control" => "protected_by_mitigating_control",
        _ => return None,
    })
}

/// CycloneDX 1.5 VEX: a component per product, a vulnerability entry per statement with its
/// `analysis` (`not_affected` with the justification, `resolved`, `exploitable` with the
/// action, `in_triage`).
pub fn cyclonedx(statements: &[VexStatement], publisher: &Publisher) -> Value {
    let mut components: Vec<Value> = Vec::new();
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    let mut component_ref = |p: &VexProduct| -> String {
        let key = product_key(p);
        if let Some(r) = refs.get(&key) {
            return r.clone();
        }
        let r = format!("component-{}", refs.len() + 1);
        let name = p
            .purl
            .as_deref()
            .and_then(|u| u.parse::<ward_model::Purl>().ok())
            .map(|u| u.name)
            .unwrap_or_else(|| p.id.clone());
        let mut entry = json!({ "type": "library", "bom-ref": r, "name": name });
        if let Some(u) = &p.purl {
            entry["purl"] = json!(u);
            if let Some(v) = u.parse::<ward_model::Purl>().ok().and_then(|u| u.version) {
                entry["version"] = json!(v);
            }
        }
        if let Some(c) = &p.cpe {
            entry["cpe"] = json!(c);
        }
        components.push(entry);
        refs.insert(key, r.clone());
        r
    };
    let vulnerabilities: Vec<Value> = statements
        .iter()
        .map(|s| {
            let affects: Vec<Value> = subjects(s)
                .iter()
                .map(|p| json!({ "ref": component_ref(p) }))
                .collect();
            let mut analysis = match s.status {
                VexStatus::NotAffected => json!({ "state": "not_affected" }),
                VexStatus::Fixed => json!({ "state": "resolved" }),
                VexStatus::Affected => json!({ "state": "exploitable" }),
                VexStatus::UnderInvestigation => json!({ "state": "in_triage" }),
            };
            let detail = [s.author.clone(), s.impact.clone(), s.action.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            if !detail.is_empty() {
                analysis["detail"] = json!(detail);
            }
            if let Some(j) = s.justification.as_deref().and_then(cyclonedx_justification) {
                analysis["justification"] = json!(j);
            }
            if s.status == VexStatus::Affected {
                analysis["response"] = json!([if s.action.is_some() {
                    "update"
                } else {
                    "can_not_fix"
                }]);
            }
            if let Some(t) = s.timestamp {
                analysis["lastUpdated"] = json!(rfc3339(t));
            }
            json!({ "id": s.vulnerability, "analysis": analysis, "affects": affects })
        })
        .collect();
    let d = digest(&vulnerabilities);
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        // A UUID (version 4 layout) from the digest: the same statements, the same serial.
        "serialNumber": format!("urn:uuid:{}-{}-4{}-8{}-{}", &d[0..8], &d[8..12], &d[13..16], &d[17..20], &d[20..32]),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(publisher.timestamp),
            "tools": { "components": [{ "type": "application", "name": "ward", "version": env!("CARGO_PKG_VERSION") }] },
            "supplier": { "name": publisher.name },
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}

/// A CSAF 2.0 `csaf_vex` document (profile 5): the products in a flat product tree (a
/// statement about a part of a product is a `default_component_of` relationship), and per
/// vulnerability the product statuses, justification flags, impact statements for the
/// not-affected without one, and a remediation for every affected product (the action, or
/// `none_available`), as the profile's mandatory tests 6.1.27.x require.
pub fn csaf(statements: &[VexStatement], publisher: &Publisher) -> Value {
    // Products: one full product name per distinct product, P1, P2, …
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut full_product_names: Vec<Value> = Vec::new();
    let mut relationships: Vec<Value> = Vec::new();
    let mut product_id = |p: &VexProduct| -> String {
        let key = product_key(p);
        if let Some(id) = ids.get(&key) {
            return id.clone();
        }
        let id = format!("P{}", ids.len() + 1);
        let mut helper = serde_json::Map::new();
        if let Some(u) = &p.purl {
            helper.insert("purl".into(), json!(u));
        }
        if let Some(c) = p.cpe.as_deref().filter(|c| c.starts_with("cpe:")) {
            helper.insert("cpe".into(), json!(c));
        }
        let mut entry = json!({ "name": key, "product_id": id });
        if !helper.is_empty() {
            entry["product_identification_helper"] = Value::Object(helper);
        }
        full_product_names.push(entry);
        ids.insert(key, id.clone());
        id
    };
    let mut relation_ids: BTreeMap<(String, String), String> = BTreeMap::new();
    // Statements grouped by vulnerability, in order of first appearance.
    let mut order: Vec<&str> = Vec::new();
    let mut by_vuln: BTreeMap<&str, Vec<(&VexStatement, Vec<String>)>> = BTreeMap::new();
    for s in statements {
        let mut pids = Vec::new();
        for product in &s.products {
            let parent = product_id(product);
            if s.subcomponents.is_empty() {
                pids.push(parent);
                continue;
            }
            for sub in &s.subcomponents {
                let child = product_id(sub);
                let key = (child.clone(), parent.clone());
                let rid = match relation_ids.get(&key) {
                    Some(r) => r.clone(),
                    None => {
                        let r = format!("{child}:{parent}");
                        relationships.push(json!({
                            "category": "default_component_of",
                            "full_product_name": {
                                "name": format!("{} as a component of {}", product_key(sub), product_key(product)),
                                "product_id": r,
                            },
                            "product_reference": child,
                            "relates_to_product_reference": parent,
                        }));
                        relation_ids.insert(key, r.clone());
                        r
                    }
                };
                pids.push(rid);
            }
        }
        if !by_vuln.contains_key(s.vulnerability.as_str()) {
            order.push(&s.vulnerability);
        }
        by_vuln.entry(&s.vulnerability).or_default().push((s, pids));
    }
    let mut vulnerabilities = Vec::new();
    for v in order {
        let entries = &by_vuln[v];
        // One status per product: the latest statement decides, as when applying VEX.
        let mut latest: BTreeMap<&str, &VexStatement> = BTreeMap::new();
        for (s, pids) in entries {
            for pid in pids {
                match latest.get(pid.as_str()) {
                    Some(before) if before.timestamp > s.timestamp => {}
                    _ => {
                        latest.insert(pid.as_str(), s);
                    }
                }
            }
        }
        let mut status: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut flags: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut impacts: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        let mut remediations: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
        for (pid, s) in &latest {
            let list = match s.status {
                VexStatus::NotAffected => "known_not_affected",
                VexStatus::Affected => "known_affected",
                VexStatus::Fixed => "fixed",
                VexStatus::UnderInvestigation => "under_investigation",
            };
            status.entry(list).or_default().push(pid);
            match s.status {
                VexStatus::NotAffected => match s.justification.as_deref() {
                    Some(j) if crate::csaf::is_justification(j) => {
                        flags.entry(j).or_default().push(pid);
                    }
                    _ => {
                        let text = s
                            .impact
                            .clone()
                            .or_else(|| s.justification.clone())
                            .unwrap_or_else(|| {
                                format!("not affected, as stated in {}", s.document)
                            });
                        impacts.entry(text).or_default().push(pid);
                    }
                },
                VexStatus::Affected => {
                    let (category, details) = match &s.action {
                        Some(a) => ("vendor_fix", a.clone()),
                        None => ("none_available", "No remediation is named".to_owned()),
                    };
                    remediations
                        .entry((category, details))
                        .or_default()
                        .push(pid);
                }
                _ => {}
            }
        }
        let mut product_status = serde_json::Map::new();
        for (list, pids) in status {
            product_status.insert(list.into(), json!(pids));
        }
        let mut vuln = json!({
            "product_status": product_status,
            "notes": [{
                "category": "description",
                "title": "Statement",
                "text": format!("{} on {v}", publisher.name),
            }],
        });
        if crate::document::is_cve_id(v) {
            vuln["cve"] = json!(v);
        } else {
            vuln["ids"] = json!([{ "system_name": "Ward", "text": v }]);
        }
        if !flags.is_empty() {
            vuln["flags"] = json!(
                flags
                    .into_iter()
                    .map(|(label, pids)| json!({ "label": label, "product_ids": pids }))
                    .collect::<Vec<_>>()
            );
        }
        if !impacts.is_empty() {
            vuln["threats"] = json!(
                impacts
                    .into_iter()
                    .map(|(details, pids)| json!({ "category": "impact", "details": details, "product_ids": pids }))
                    .collect::<Vec<_>>()
            );
        }
        if !remediations.is_empty() {
            vuln["remediations"] = json!(
                remediations
                    .into_iter()
                    .map(|((category, details), pids)| json!({ "category": category, "details": details, "product_ids": pids }))
                    .collect::<Vec<_>>()
            );
        }
        vulnerabilities.push(vuln);
    }
    let mut tree = json!({});
    if !full_product_names.is_empty() {
        tree["full_product_names"] = json!(full_product_names);
    }
    if !relationships.is_empty() {
        tree["relationships"] = json!(relationships);
    }
    let d = digest(&vulnerabilities);
    let now = rfc3339(publisher.timestamp);
    json!({
        "document": {
            "category": "csaf_vex",
            "csaf_version": "2.0",
            "publisher": {
                "category": publisher.category,
                "name": publisher.name,
                "namespace": publisher.namespace,
            },
            "title": format!("VEX statements of {}", publisher.name),
            "tracking": {
                "id": format!("WARD-VEX-{}", &d[..16]),
                "status": "final",
                "version": "1",
                "initial_release_date": now,
                "current_release_date": now,
                "revision_history": [{ "date": now, "number": "1", "summary": "Exported by Ward" }],
                "generator": { "engine": { "name": "ward", "version": env!("CARGO_PKG_VERSION") } },
            },
            "notes": [{
                "category": "summary",
                "title": "About",
                "text": format!("What {} says about the vulnerabilities of its products, exported by Ward.", publisher.name),
            }],
        },
        "product_tree": tree,
        "vulnerabilities": vulnerabilities,
    })
}
