//! NVD CVE API 2.0: single CVE objects, `{"cve": …}` wrappers and API pages
//! (`vulnerabilities[]`), with their CPE match configurations and `cisa*` KEV fields.

use serde::Deserialize;
use serde_json::value::RawValue;
use ward_model::advisory::{
    Cvss, CvssVersion, KevEntry, Node, NvdConfiguration, NvdCpeMatch, Operator,
};
use ward_model::{Advisory, Cpe, SourceId};

use crate::document::{Format, Parsed, Record, from_slice_with_path};
use crate::time::{date, datetime};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdCve {
    id: String,
    published: Option<String>,
    last_modified: Option<String>,
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<Description>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    weaknesses: Vec<Weakness>,
    #[serde(default)]
    configurations: Vec<ConfigJson>,
    #[serde(default)]
    references: Vec<Reference>,
    cisa_exploit_add: Option<String>,
    cisa_action_due: Option<String>,
    cisa_required_action: Option<String>,
    cisa_vulnerability_name: Option<String>,
}

#[derive(Deserialize)]
struct Description {
    lang: String,
    value: String,
}

#[derive(Deserialize)]
struct Reference {
    url: String,
}

#[derive(Deserialize)]
struct Weakness {
    #[serde(default)]
    description: Vec<Description>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    cvss_metric_v2: Vec<MetricJson>,
    #[serde(default)]
    cvss_metric_v30: Vec<MetricJson>,
    #[serde(default)]
    cvss_metric_v31: Vec<MetricJson>,
    #[serde(default)]
    cvss_metric_v40: Vec<MetricJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricJson {
    source: Option<String>,
    cvss_data: CvssData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssData {
    vector_string: String,
    base_score: f64,
}

#[derive(Deserialize)]
struct ConfigJson {
    operator: Option<String>,
    negate: Option<bool>,
    nodes: Vec<NodeJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeJson {
    operator: Option<String>,
    negate: Option<bool>,
    #[serde(default)]
    cpe_match: Vec<CpeMatchJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpeMatchJson {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    vulnerabilities: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Wrapped {
    cve: NvdCve,
}

pub(crate) fn parse_single(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = Parsed::new(Format::Nvd);
    match from_slice_with_path::<NvdCve>(bytes) {
        Ok(cve) => convert(&mut out, file, "", cve),
        Err((path, message)) => {
            let id = peek_id(bytes).unwrap_or_else(|| "#0".into());
            out.error(file, id, path, message);
        }
    }
    out
}

pub(crate) fn parse_wrapped(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = Parsed::new(Format::Nvd);
    match from_slice_with_path::<Wrapped>(bytes) {
        Ok(w) => convert(&mut out, file, "cve.", w.cve),
        Err((path, message)) => out.error(file, "#0", path, message),
    }
    out
}

pub(crate) fn parse_page(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = Parsed::new(Format::Nvd);
    let page: Page<'_> = match from_slice_with_path(bytes) {
        Ok(p) => p,
        Err((path, message)) => {
            out.error(file, "-", path, message);
            return out;
        }
    };
    for (i, raw) in page.vulnerabilities.iter().enumerate() {
        match from_slice_with_path::<Wrapped>(raw.get().as_bytes()) {
            Ok(w) => convert(&mut out, file, &format!("vulnerabilities[{i}].cve."), w.cve),
            Err((path, message)) => {
                let id = peek_id(raw.get().as_bytes()).unwrap_or_else(|| format!("#{i}"));
                out.error(file, id, format!("vulnerabilities[{i}].{path}"), message);
            }
        }
    }
    out
}

fn peek_id(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        id: Option<String>,
        cve: Option<Box<Self>>,
    }
    let id: Id = serde_json::from_slice(bytes).ok()?;
    id.id.or_else(|| id.cve.and_then(|c| c.id))
}

fn operator(s: Option<&str>) -> Operator {
    match s {
        Some(o) if o.eq_ignore_ascii_case("and") => Operator::And,
        _ => Operator::Or,
    }
}

fn convert(out: &mut Parsed, file: &str, at: &str, cve: NvdCve) {
    let id = cve.id.trim().to_owned();
    if !crate::document::is_cve_id(&id) {
        out.error(
            file,
            id.clone(),
            "cve.id",
            format!("`{id}` is not a CVE id"),
        );
        return;
    }
    let mut a = Advisory::new(&id, SourceId::Nvd);
    a.updated = cve.last_modified.as_deref().and_then(datetime);
    a.published = cve.published.as_deref().and_then(datetime);
    if cve.vuln_status.as_deref() == Some("Rejected") {
        a.state = ward_model::RecordState::Rejected;
    }
    a.description = cve
        .descriptions
        .iter()
        .find(|d| d.lang.starts_with("en"))
        .map(|d| d.value.clone());
    a.references = cve.references.into_iter().map(|r| r.url).collect();
    a.cwes = cve
        .weaknesses
        .iter()
        .flat_map(|w| &w.description)
        .map(|d| d.value.clone())
        .filter(|v| v.starts_with("CWE-"))
        .collect();
    a.cwes.dedup();
    for (version, metrics) in [
        (CvssVersion::V2, &cve.metrics.cvss_metric_v2),
        (CvssVersion::V30, &cve.metrics.cvss_metric_v30),
        (CvssVersion::V31, &cve.metrics.cvss_metric_v31),
        (CvssVersion::V40, &cve.metrics.cvss_metric_v40),
    ] {
        for m in metrics {
            let source = match m.source.as_deref() {
                Some("nvd@nist.gov") | None => "nvd".to_owned(),
                Some(other) => other.to_owned(),
            };
            a.cvss.push(Cvss {
                version,
                vector: m.cvss_data.vector_string.clone(),
                base_score: m.cvss_data.base_score,
                source,
                published_score: None,
            });
        }
    }
    for (ci, config) in cve.configurations.into_iter().enumerate() {
        let mut nodes = Vec::new();
        for (ni, node) in config.nodes.into_iter().enumerate() {
            let mut cpe_match = Vec::new();
            for (mi, m) in node.cpe_match.into_iter().enumerate() {
                match m.criteria.parse::<Cpe>() {
                    Ok(criteria) => cpe_match.push(NvdCpeMatch {
                        vulnerable: m.vulnerable,
                        criteria,
                        start_including: m.version_start_including,
                        start_excluding: m.version_start_excluding,
                        end_including: m.version_end_including,
                        end_excluding: m.version_end_excluding,
                    }),
                    Err(e) => out.warn(
                        file,
                        &id,
                        format!("{at}configurations[{ci}].nodes[{ni}].cpeMatch[{mi}].criteria"),
                        format!("`{}` is not a CPE name ({e}); ignored", m.criteria),
                    ),
                }
            }
            nodes.push(Node {
                operator: operator(node.operator.as_deref()),
                negate: node.negate.unwrap_or(false),
                cpe_match,
            });
        }
        a.configurations.push(NvdConfiguration {
            operator: operator(config.operator.as_deref()),
            negate: config.negate.unwrap_or(false),
            nodes,
        });
    }
    if cve.cisa_exploit_add.is_some() || cve.cisa_action_due.is_some() {
        a.kev = Some(Box::new(KevEntry {
            cve_id: id.clone(),
            date_added: cve.cisa_exploit_add.as_deref().and_then(date),
            due_date: cve.cisa_action_due.as_deref().and_then(date),
            name: cve.cisa_vulnerability_name,
            required_action: cve.cisa_required_action,
            ..KevEntry::default()
        }));
    }
    out.records.push(Record::Advisory(Box::new(a)));
}

#[cfg(test)]
mod tests {
    use crate::{Format, Record, parse_document};

    const PAGE: &str = r#"{"resultsPerPage": 3, "startIndex": 0, "totalResults": 3, "format": "NVD_CVE", "version": "2.0",
      "vulnerabilities": [
        {"cve": {"id": "CVE-2099-1000", "lastModified": "2099-01-01T00:00:00.000",
                 "configurations": [{"operator": "AND", "nodes": [
                    {"operator": "OR", "negate": false, "cpeMatch": [{"vulnerable": true, "criteria": "cpe:2.3:o:example:fw:*:*:*:*:*:*:*:*", "versionEndExcluding": "2.0"}]},
                    {"operator": "OR", "negate": true, "cpeMatch": [{"vulnerable": false, "criteria": "cpe:2.3:h:example:box:-:*:*:*:*:*:*:*"}]}]}]}},
        {"cve": {"id": "CVE-2099-1001", "configurations": [{"nodes": [{"operator": "OR", "cpeMatch": [{"vulnerable": "yes", "criteria": "cpe:2.3:a:x:y:*:*:*:*:*:*:*:*"}]}]}]}},
        {"cve": {"id": "CVE-2099-1002", "configurations": [{"nodes": [{"operator": "OR", "cpeMatch": [{"vulnerable": true, "criteria": "cpe:2.3:a:x"}]}]}]}}
      ]}"#;

    #[test]
    fn api_page_records_are_isolated() {
        let p = parse_document("page.json", PAGE.as_bytes()).unwrap();
        assert_eq!(p.format, Some(Format::Nvd));
        assert_eq!(
            p.records.len(),
            2,
            "the record with a bad field is skipped, the others kept"
        );
        let Record::Advisory(first) = &p.records[0] else {
            panic!()
        };
        let config = &first.configurations[0];
        assert_eq!(config.operator, ward_model::Operator::And);
        assert!(config.nodes[1].negate);
        assert!(!config.nodes[1].cpe_match[0].vulnerable);
        assert_eq!(p.errors.len(), 1);
        let e = &p.errors[0];
        assert_eq!(e.record, "CVE-2099-1001");
        assert_eq!(
            e.field,
            "vulnerabilities[1].cve.configurations[0].nodes[0].cpeMatch[0].vulnerable"
        );
        assert_eq!(
            p.warnings.len(),
            1,
            "an unparsable criterion is a warning on its record"
        );
        assert!(p.warnings[0].field.ends_with("cpeMatch[0].criteria"));
    }

    #[test]
    fn wrapped_and_single_objects() {
        let single =
            r#"{"id": "CVE-2099-2000", "sourceIdentifier": "x", "vulnStatus": "Rejected"}"#;
        let p = parse_document("single.json", single.as_bytes()).unwrap();
        let Record::Advisory(a) = &p.records[0] else {
            panic!()
        };
        assert_eq!(a.state, ward_model::RecordState::Rejected);
        let wrapped = r#"{"cve": {"id": "CVE-2099-2001"}}"#;
        assert_eq!(
            parse_document("w.json", wrapped.as_bytes())
                .unwrap()
                .records
                .len(),
            1
        );
    }
}
