//! VEX documents in: OpenVEX 0.2, CycloneDX VEX (1.4–1.6 `vulnerabilities[].analysis`) and
//! CSAF 2.0 product statuses (`csaf_vex`; read by [`crate::csaf`]),
//! into [`VexStatement`]s with their provenance (document, author, time). Errors name the file,
//! the statement and the field; a statement that cannot be read is an error, a product that
//! is not a purl or CPE is kept by its id (it matches nothing Ward scans) with a warning —
//! the Node.js project's own document names `pkg:nodejs/node@v>= 10.9.0`, which is neither.

use serde_json::Value;
use ward_model::{VexProduct, VexStatement, VexStatus};

use crate::document::RecordError;

/// More statements than this in one document is refused (the largest real VEX documents,
/// Red Hat's, hold tens of thousands of product-status pairs).
pub const MAX_STATEMENTS: usize = 500_000;

/// Statements read from one document, and what was read around.
#[derive(Debug, Default)]
pub struct VexDocument {
    pub format: &'static str,
    pub statements: Vec<VexStatement>,
    pub warnings: Vec<String>,
}

fn err(
    file: &str,
    record: impl Into<String>,
    field: impl Into<String>,
    message: impl Into<String>,
) -> RecordError {
    RecordError::at(file, record, field, message)
}

/// The top-level keys that tell VEX formats apart; every value is skipped unread (a CSAF
/// document can be tens of megabytes: it is parsed once, by the CSAF reader).
#[derive(serde::Deserialize)]
struct Probe {
    document: Option<CsafProbe>,
}

#[derive(serde::Deserialize)]
struct CsafProbe {
    csaf_version: Option<serde::de::IgnoredAny>,
}

/// Reads a VEX document: OpenVEX (`@context` naming openvex), CycloneDX with
/// `vulnerabilities`, or CSAF 2.0 (`csaf_vex`, or any CSAF document's product statuses).
pub fn parse_vex(file: &str, bytes: &[u8]) -> Result<VexDocument, RecordError> {
    if let Ok(Probe {
        document: Some(CsafProbe {
            csaf_version: Some(_),
        }),
    }) = serde_json::from_slice::<Probe>(bytes)
    {
        let csaf = crate::csaf::read(file, bytes)?;
        let mut warnings: Vec<String> = csaf
            .errors
            .iter()
            .chain(&csaf.warnings)
            .map(ToString::to_string)
            .collect();
        if csaf.statements.len() > MAX_STATEMENTS {
            return Err(err(
                file,
                "-",
                "vulnerabilities",
                format!("more than {MAX_STATEMENTS} product statuses; refused"),
            ));
        }
        let unnamed = csaf
            .statements
            .iter()
            .filter(|s| {
                s.products
                    .iter()
                    .chain(&s.subcomponents)
                    .all(|p| p.purl.is_none() && p.cpe.is_none())
            })
            .count();
        if unnamed > 0 {
            warnings.push(format!(
                "{file}: {unnamed} product statuses name products by neither purl nor CPE: kept, but they match no component"
            ));
        }
        return Ok(VexDocument {
            format: "CSAF VEX",
            statements: csaf.statements,
            warnings,
        });
    }
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| err(file, "-", "", format!("not valid JSON: {e}")))?;
    let context = doc.get("@context").and_then(Value::as_str).unwrap_or("");
    if context.contains("openvex") {
        openvex(file, &doc)
    } else if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        cyclonedx(file, &doc)
    } else {
        Err(err(
            file,
            "-",
            "",
            "not a VEX document Ward reads: expected OpenVEX (`@context` https://openvex.dev/ns/…), CycloneDX with `vulnerabilities`, or CSAF 2.0 (`document.csaf_version`)",
        ))
    }
}

fn time(v: Option<&Value>) -> Option<chrono::DateTime<chrono::Utc>> {
    v.and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A product identifier as Ward can match it: a purl, a CPE, or only its id.
fn product(
    id: &str,
    identifiers: Option<&Value>,
    warnings: &mut Vec<String>,
    at: &str,
) -> VexProduct {
    let mut p = VexProduct {
        id: id.to_owned(),
        purl: None,
        cpe: None,
    };
    let ids = identifiers.cloned().unwrap_or(Value::Null);
    for candidate in [Some(id), ids.get("purl").and_then(Value::as_str)] {
        if let Some(c) = candidate
            && c.starts_with("pkg:")
            && p.purl.is_none()
            && c.parse::<ward_model::Purl>().is_ok()
        {
            p.purl = Some(c.to_owned());
        }
    }
    for candidate in [
        Some(id),
        ids.get("cpe23").and_then(Value::as_str),
        ids.get("cpe22").and_then(Value::as_str),
    ] {
        if let Some(c) = candidate
            && c.starts_with("cpe:")
            && p.cpe.is_none()
            && c.parse::<ward_model::Cpe>().is_ok()
        {
            p.cpe = Some(c.to_owned());
        }
    }
    if p.purl.is_none() && p.cpe.is_none() {
        warnings.push(format!(
            "{at}: product {id:?} is neither a valid purl nor a CPE: kept, but it matches no component"
        ));
    }
    // `pkg:nodejs/node@v>= 10.9.0`: a range where a purl has one version.
    if let Some(version) = p
        .purl
        .as_deref()
        .and_then(|u| u.parse::<ward_model::Purl>().ok())
        .and_then(|u| u.version)
        && (version.contains(char::is_whitespace)
            || version
                .trim_start_matches(['v', 'V'])
                .starts_with(['<', '>', '=']))
    {
        warnings.push(format!(
            "{at}: product {id:?} writes a range as its version ({version:?}), which a purl cannot say: it matches no installed version"
        ));
    }
    p
}

fn openvex(file: &str, doc: &Value) -> Result<VexDocument, RecordError> {
    let mut out = VexDocument {
        format: "OpenVEX",
        ..VexDocument::default()
    };
    let document = doc
        .get("@id")
        .and_then(Value::as_str)
        .map_or_else(|| file.to_owned(), |id| format!("{file} ({id})"));
    let author = doc.get("author").and_then(Value::as_str).map(str::to_owned);
    let doc_time = time(doc.get("timestamp"));
    let statements = doc
        .get("statements")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            err(
                file,
                "-",
                "statements",
                "an OpenVEX document needs a `statements` array",
            )
        })?;
    if statements.len() > MAX_STATEMENTS {
        return Err(err(
            file,
            "-",
            "statements",
            format!(
                "{} statements: more than {MAX_STATEMENTS}",
                statements.len()
            ),
        ));
    }
    for (i, s) in statements.iter().enumerate() {
        let at = format!("statements[{i}]");
        let v = s.get("vulnerability");
        let name = v
            .and_then(|v| v.get("name").or(v.get("@id")))
            .or(v)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                err(
                    file,
                    &at,
                    format!("{at}.vulnerability.name"),
                    "a statement names its vulnerability",
                )
            })?;
        let aliases = v
            .and_then(|v| v.get("aliases"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        let record = format!("{at} ({name})");
        let status_word = s.get("status").and_then(Value::as_str).ok_or_else(|| {
            err(
                file,
                &record,
                format!("{at}.status"),
                "a statement has a status",
            )
        })?;
        let status = match status_word {
            "not_affected" => VexStatus::NotAffected,
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            other => {
                return Err(err(
                    file,
                    &record,
                    format!("{at}.status"),
                    format!(
                        "{other:?} is not an OpenVEX status (not_affected, affected, fixed, under_investigation)"
                    ),
                ));
            }
        };
        let mut products = Vec::new();
        let mut subcomponents = Vec::new();
        for (j, p) in s
            .get("products")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let pat = format!("{at}.products[{j}]");
            let id = p
                .get("@id")
                .or(Some(p))
                .and_then(Value::as_str)
                .unwrap_or("");
            products.push(product(id, p.get("identifiers"), &mut out.warnings, &pat));
            for (k, sc) in p
                .get("subcomponents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let id = sc
                    .get("@id")
                    .or(Some(sc))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                subcomponents.push(product(
                    id,
                    sc.get("identifiers"),
                    &mut out.warnings,
                    &format!("{pat}.subcomponents[{k}]"),
                ));
            }
        }
        if products.is_empty() {
            return Err(err(
                file,
                &record,
                format!("{at}.products"),
                "a statement names at least one product",
            ));
        }
        let text = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
        out.statements.push(VexStatement {
            vulnerability: name.rsplit("id=").next().unwrap_or(name).to_owned(),
            aliases,
            products,
            subcomponents,
            status,
            justification: text("justification"),
            impact: text("impact_statement"),
            action: text("action_statement"),
            author: author.clone(),
            timestamp: time(s.get("timestamp")).or(doc_time),
            document: document.clone(),
        });
    }
    Ok(out)
}

/// CycloneDX VEX: `vulnerabilities[]` with `analysis` and `affects[].ref` naming components of
/// the same document (by `bom-ref`, or a BOM-Link `urn:cdx:…#ref`).
fn cyclonedx(file: &str, doc: &Value) -> Result<VexDocument, RecordError> {
    let mut out = VexDocument {
        format: "CycloneDX VEX",
        ..VexDocument::default()
    };
    let document = doc
        .get("serialNumber")
        .and_then(Value::as_str)
        .map_or_else(|| file.to_owned(), |id| format!("{file} ({id})"));
    let author = doc
        .pointer("/metadata/authors/0/name")
        .or_else(|| doc.pointer("/metadata/supplier/name"))
        .or_else(|| doc.pointer("/metadata/manufacturer/name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let doc_time = time(doc.pointer("/metadata/timestamp"));
    // Components by bom-ref, at any depth.
    let mut refs = std::collections::HashMap::new();
    let mut stack: Vec<&Value> = doc
        .get("components")
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    stack.extend(doc.pointer("/metadata/component"));
    while let Some(c) = stack.pop() {
        if let Some(r) = c.get("bom-ref").and_then(Value::as_str) {
            refs.insert(r.to_owned(), c);
        }
        stack.extend(
            c.get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    let vulns = doc
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            err(
                file,
                "-",
                "vulnerabilities",
                "a CycloneDX VEX document needs `vulnerabilities`",
            )
        })?;
    if vulns.len() > MAX_STATEMENTS {
        return Err(err(
            file,
            "-",
            "vulnerabilities",
            format!("more than {MAX_STATEMENTS} vulnerabilities"),
        ));
    }
    for (i, v) in vulns.iter().enumerate() {
        let at = format!("vulnerabilities[{i}]");
        let Some(analysis) = v.get("analysis") else {
            continue; // a BOM's vulnerability list without analysis says nothing VEX
        };
        let name = v
            .get("id")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| err(file, &at, format!("{at}.id"), "a vulnerability has an id"))?;
        let record = format!("{at} ({name})");
        let state = analysis.get("state").and_then(Value::as_str).unwrap_or("");
        let status = match state {
            "not_affected" | "false_positive" => VexStatus::NotAffected,
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "exploitable" => VexStatus::Affected,
            "in_triage" => VexStatus::UnderInvestigation,
            other => {
                return Err(err(
                    file,
                    &record,
                    format!("{at}.analysis.state"),
                    format!(
                        "{other:?} is not a CycloneDX analysis state (resolved, resolved_with_pedigree, exploitable, in_triage, false_positive, not_affected)"
                    ),
                ));
            }
        };
        let mut products = Vec::new();
        for (j, a) in v
            .get("affects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let pat = format!("{at}.affects[{j}]");
            let r = a.get("ref").and_then(Value::as_str).unwrap_or("");
            let local = r.rsplit_once('#').map_or(r, |(_, frag)| frag);
            match refs.get(r).or_else(|| refs.get(local)) {
                Some(c) => {
                    let mut p = VexProduct {
                        id: r.to_owned(),
                        purl: c
                            .get("purl")
                            .and_then(Value::as_str)
                            .filter(|p| p.parse::<ward_model::Purl>().is_ok())
                            .map(str::to_owned),
                        cpe: c
                            .get("cpe")
                            .and_then(Value::as_str)
                            .filter(|p| p.parse::<ward_model::Cpe>().is_ok())
                            .map(str::to_owned),
                    };
                    if p.purl.is_none() && p.cpe.is_none() {
                        out.warnings.push(format!("{pat}: component {r:?} has neither a valid purl nor a CPE: it matches no component"));
                        p.id = r.to_owned();
                    }
                    products.push(p);
                }
                None => products.push(product(r, None, &mut out.warnings, &pat)),
            }
        }
        if products.is_empty() {
            return Err(err(
                file,
                &record,
                format!("{at}.affects"),
                "an analysis applies to at least one component (`affects`)",
            ));
        }
        let responses: Vec<&str> = analysis
            .get("response")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let detail = analysis
            .get("detail")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let aliases = v
            .get("references")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("id").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        out.statements.push(VexStatement {
            vulnerability: name.trim().to_owned(),
            aliases,
            products,
            subcomponents: Vec::new(),
            status,
            justification: analysis
                .get("justification")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| (state == "false_positive").then(|| "false_positive".to_owned())),
            impact: if status.clears() {
                detail.clone()
            } else {
                None
            },
            action: if status.clears() {
                None
            } else {
                match (responses.is_empty(), &detail) {
                    (true, d) => d.clone(),
                    (false, Some(d)) => Some(format!("{} ({d})", responses.join(", "))),
                    (false, None) => Some(responses.join(", ")),
                }
            },
            author: author.clone(),
            timestamp: time(analysis.get("lastUpdated"))
                .or(time(analysis.get("firstIssued")))
                .or(doc_time),
            document: document.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openvex_and_cyclonedx_statements() {
        let openvex = br#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.org/vex-1",
          "author": "Example PSIRT", "timestamp": "2025-01-02T03:04:05Z", "version": 1,
          "statements": [
            {"vulnerability": {"name": "CVE-2021-44228"}, "status": "not_affected",
             "justification": "vulnerable_code_not_in_execute_path",
             "products": [{"@id": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}]},
            {"vulnerability": {"name": "CVE-2099-0001"}, "status": "affected", "action_statement": "upgrade",
             "products": [{"@id": "pkg:nodejs/node@v>= 10.9.0"}]}]}"#;
        let d = parse_vex("a.json", openvex).unwrap();
        assert_eq!(d.statements.len(), 2);
        let s = &d.statements[0];
        assert_eq!(
            (s.vulnerability.as_str(), s.status),
            ("CVE-2021-44228", VexStatus::NotAffected)
        );
        assert_eq!(s.author.as_deref(), Some("Example PSIRT"));
        assert!(s.timestamp.is_some() && s.document.contains("vex-1"));
        assert!(s.products[0].purl.is_some());
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        let bad = br#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "maybe", "products": [{"@id": "x"}]}]}"#;
        let e = parse_vex("b.json", bad).unwrap_err();
        assert_eq!(e.field, "statements[0].status");
        assert!(e.record.contains("CVE-1"));

        let cdx = br#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"timestamp": "2025-01-01T00:00:00Z", "authors": [{"name": "Vendor"}]},
          "components": [{"bom-ref": "c1", "name": "epmm", "cpe": "cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*"}],
          "vulnerabilities": [{"id": "CVE-2025-4427", "analysis": {"state": "exploitable", "response": ["update"], "detail": "apply 12.5.0.1"},
                               "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#c1"}]}]}"#;
        let d = parse_vex("c.cdx.json", cdx).unwrap();
        let s = &d.statements[0];
        assert_eq!(s.status, VexStatus::Affected);
        assert_eq!(s.action.as_deref(), Some("update (apply 12.5.0.1)"));
        assert!(s.products[0].cpe.is_some());
        assert_eq!(s.author.as_deref(), Some("Vendor"));

        // Every truncation and single-byte change of both documents: an answer, never a panic.
        for doc in [&openvex[..], &cdx[..]] {
            for end in 0..doc.len() {
                let _ = parse_vex("t.json", &doc[..end]);
            }
            for i in 0..doc.len() {
                for b in [b'"', b'{', b']', b'0', b'\\', 0xff] {
                    let mut m = doc.to_vec();
                    m[i] = b;
                    if let Err(e) = parse_vex("m.json", &m) {
                        assert_eq!(e.file, "m.json");
                    }
                }
            }
        }
    }
}
