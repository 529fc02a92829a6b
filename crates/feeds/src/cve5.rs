//! CVE JSON 5.x records (CVE Record Format 5.0/5.1): the CNA container and every ADP
//! container become separate views; CISA's Vulnrichment ADP carries SSVC options and KEV.

use serde::Deserialize;
use serde_json::Value;
use ward_model::advisory::{
    Affected, AffectedVersion, Cvss, CvssVersion, KevEntry, Ssvc, Status, VersionChange,
};
use ward_model::{Advisory, Cpe, RecordState, SourceId};

use crate::document::{Format, Parsed, Record, from_slice_with_path};
use crate::time::{date, datetime};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CveRecord {
    cve_metadata: Metadata,
    #[serde(default)]
    containers: Containers,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    cve_id: String,
    state: String,
    assigner_short_name: Option<String>,
    date_updated: Option<String>,
    date_published: Option<String>,
}

#[derive(Deserialize, Default)]
struct Containers {
    cna: Option<Container>,
    #[serde(default)]
    adp: Vec<Container>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Container {
    provider_metadata: Option<ProviderMetadata>,
    title: Option<String>,
    #[serde(default)]
    descriptions: Vec<Description>,
    #[serde(default)]
    affected: Vec<AffectedJson>,
    #[serde(default)]
    metrics: Vec<Metric>,
    #[serde(default)]
    problem_types: Vec<ProblemType>,
    #[serde(default)]
    references: Vec<Reference>,
    date_public: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderMetadata {
    short_name: Option<String>,
    date_updated: Option<String>,
}

#[derive(Deserialize)]
struct Description {
    lang: Option<String>,
    value: String,
}

#[derive(Deserialize)]
struct Reference {
    url: String,
}

#[derive(Deserialize)]
struct ProblemType {
    #[serde(default)]
    descriptions: Vec<ProblemDescription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProblemDescription {
    cwe_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AffectedJson {
    vendor: Option<String>,
    product: Option<String>,
    package_name: Option<String>,
    #[serde(default)]
    cpes: Vec<String>,
    default_status: Option<String>,
    #[serde(default)]
    versions: Vec<VersionJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionJson {
    version: String,
    status: String,
    less_than: Option<String>,
    less_than_or_equal: Option<String>,
    version_type: Option<String>,
    #[serde(default)]
    changes: Vec<ChangeJson>,
}

#[derive(Deserialize)]
struct ChangeJson {
    at: String,
    status: String,
}

#[derive(Deserialize)]
struct Metric {
    #[serde(rename = "cvssV2_0")]
    cvss_v2_0: Option<CvssJson>,
    #[serde(rename = "cvssV3_0")]
    cvss_v3_0: Option<CvssJson>,
    #[serde(rename = "cvssV3_1")]
    cvss_v3_1: Option<CvssJson>,
    #[serde(rename = "cvssV4_0")]
    cvss_v4_0: Option<CvssJson>,
    other: Option<Other>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssJson {
    vector_string: Option<String>,
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct Other {
    #[serde(rename = "type")]
    kind: Option<String>,
    content: Option<Value>,
}

/// Parses one CVE JSON 5 record into its CNA view and one view per ADP container.
pub(crate) fn parse(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = Parsed::new(Format::Cve5);
    let record: CveRecord = match from_slice_with_path(bytes) {
        Ok(r) => r,
        Err((path, message)) => {
            let id = record_id(bytes).unwrap_or_else(|| "#0".into());
            out.error(file, id, path, message);
            return out;
        }
    };
    let meta = &record.cve_metadata;
    let id = meta.cve_id.trim().to_owned();
    if !crate::document::is_cve_id(&id) {
        out.error(
            file,
            id.clone(),
            "cveMetadata.cveId",
            format!("`{id}` is not a CVE id"),
        );
        return out;
    }
    let record_updated = meta.date_updated.as_deref().and_then(datetime);
    let assigner = meta
        .assigner_short_name
        .clone()
        .unwrap_or_else(|| "cna".into());

    if meta.state.eq_ignore_ascii_case("REJECTED") {
        let mut a = Advisory::new(&id, SourceId::Cna(assigner));
        a.state = RecordState::Rejected;
        a.updated = record_updated;
        out.records.push(Record::Advisory(Box::new(a)));
        return out;
    }

    if let Some(cna) = &record.containers.cna {
        let short = cna
            .provider_metadata
            .as_ref()
            .and_then(|p| p.short_name.clone())
            .unwrap_or(assigner);
        let mut a = view(
            &mut out,
            file,
            &id,
            "containers.cna",
            cna,
            SourceId::Cna(short),
        );
        a.published = meta.date_published.as_deref().and_then(datetime);
        // The record's dateUpdated covers the CNA container when the container has none.
        a.updated = a.updated.max(record_updated);
        out.records.push(Record::Advisory(Box::new(a)));
    }
    for (i, adp) in record.containers.adp.iter().enumerate() {
        let short = adp
            .provider_metadata
            .as_ref()
            .and_then(|p| p.short_name.clone())
            .unwrap_or_else(|| format!("adp{i}"));
        let a = view(
            &mut out,
            file,
            &id,
            &format!("containers.adp[{i}]"),
            adp,
            SourceId::Adp(short),
        );
        // Containers that only add references (the CVE Program container) say nothing to match on.
        if a.affected.is_empty() && a.cvss.is_empty() && a.ssvc.is_none() && a.kev.is_none() {
            continue;
        }
        out.records.push(Record::Advisory(Box::new(a)));
    }
    out
}

/// Reads just the id of a record that failed to parse, for the error message.
fn record_id(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Id {
        cve_metadata: IdMeta,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct IdMeta {
        cve_id: String,
    }
    serde_json::from_slice::<Id>(bytes)
        .ok()
        .map(|i| i.cve_metadata.cve_id)
}

fn status(s: &str) -> Option<Status> {
    match s.trim().to_ascii_lowercase().as_str() {
        "affected" => Some(Status::Affected),
        "unaffected" => Some(Status::Unaffected),
        "unknown" => Some(Status::Unknown),
        _ => None,
    }
}

fn view(
    out: &mut Parsed,
    file: &str,
    id: &str,
    at: &str,
    c: &Container,
    source: SourceId,
) -> Advisory {
    let mut a = Advisory::new(id, source.clone());
    a.updated = c
        .provider_metadata
        .as_ref()
        .and_then(|p| p.date_updated.as_deref())
        .and_then(datetime);
    a.published = c.date_public.as_deref().and_then(datetime);
    a.title = c.title.clone();
    a.description = c
        .descriptions
        .iter()
        .find(|d| d.lang.as_deref().is_some_and(|l| l.starts_with("en")))
        .or(c.descriptions.first())
        .map(|d| d.value.clone());
    a.references = c.references.iter().map(|r| r.url.clone()).collect();
    a.cwes = c
        .problem_types
        .iter()
        .flat_map(|p| &p.descriptions)
        .filter_map(|d| d.cwe_id.clone())
        .collect();
    let scorer = match &source {
        SourceId::Cna(n) | SourceId::Adp(n) | SourceId::Osv(n) | SourceId::Csaf(n) => n.clone(),
        SourceId::Nvd => "nvd".into(),
    };

    for (i, m) in c.metrics.iter().enumerate() {
        for (version, cvss) in [
            (CvssVersion::V2, &m.cvss_v2_0),
            (CvssVersion::V30, &m.cvss_v3_0),
            (CvssVersion::V31, &m.cvss_v3_1),
            (CvssVersion::V40, &m.cvss_v4_0),
        ] {
            let Some(cvss) = cvss else { continue };
            match (&cvss.vector_string, cvss.base_score) {
                (Some(vector), Some(score)) if (0.0..=10.0).contains(&score) => a.cvss.push(Cvss {
                    version,
                    vector: vector.clone(),
                    base_score: score,
                    source: scorer.clone(),
                    published_score: None,
                }),
                _ => out.warn(
                    file,
                    id,
                    format!("{at}.metrics[{i}]"),
                    "CVSS entry without a vector string and a base score in 0..10; ignored",
                ),
            }
        }
        if let Some(other) = &m.other {
            let content = other.content.as_ref();
            match other.kind.as_deref() {
                Some("ssvc") => a.ssvc = content.map(|c| Box::new(ssvc(c))),
                Some("kev") => {
                    let added = content
                        .and_then(|c| c.get("dateAdded"))
                        .and_then(Value::as_str)
                        .and_then(date);
                    a.kev = Some(Box::new(KevEntry {
                        cve_id: id.to_owned(),
                        date_added: added,
                        ..KevEntry::default()
                    }));
                }
                _ => {}
            }
        }
    }

    for (i, aj) in c.affected.iter().enumerate() {
        let path = format!("{at}.affected[{i}]");
        let mut cpes = Vec::new();
        for (k, s) in aj.cpes.iter().enumerate() {
            match s.parse::<Cpe>() {
                Ok(cpe) => cpes.push(cpe),
                Err(e) => out.warn(
                    file,
                    id,
                    format!("{path}.cpes[{k}]"),
                    format!("`{s}` is not a CPE name ({e}); ignored"),
                ),
            }
        }
        let default_status = match aj.default_status.as_deref() {
            None => None,
            Some(s) => match status(s) {
                Some(st) => Some(st),
                None => {
                    out.warn(
                        file,
                        id,
                        format!("{path}.defaultStatus"),
                        format!("`{s}` is not affected/unaffected/unknown; taken as unknown"),
                    );
                    Some(Status::Unknown)
                }
            },
        };
        let mut versions = Vec::new();
        for (k, v) in aj.versions.iter().enumerate() {
            let Some(st) = status(&v.status) else {
                out.warn(
                    file,
                    id,
                    format!("{path}.versions[{k}].status"),
                    format!(
                        "`{}` is not affected/unaffected/unknown; entry ignored",
                        v.status
                    ),
                );
                continue;
            };
            let changes = v
                .changes
                .iter()
                .filter_map(|c| {
                    status(&c.status).map(|s| VersionChange {
                        at: c.at.clone(),
                        status: s,
                    })
                })
                .collect();
            versions.push(AffectedVersion {
                version: v.version.clone(),
                status: st,
                less_than: v.less_than.clone(),
                less_than_or_equal: v.less_than_or_equal.clone(),
                version_type: v.version_type.clone(),
                changes,
            });
        }
        a.affected.push(Affected {
            vendor: aj.vendor.clone(),
            product: aj.product.clone(),
            package_name: aj.package_name.clone(),
            cpes,
            default_status,
            versions,
        });
    }
    a
}

/// CISA's SSVC content: `options` is a list of one-key objects (`{"Exploitation": "active"}`).
fn ssvc(content: &Value) -> Ssvc {
    let mut s = Ssvc {
        role: content
            .get("role")
            .and_then(Value::as_str)
            .map(str::to_owned),
        timestamp: content
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Ssvc::default()
    };
    let options = content
        .get("options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for option in options.filter_map(Value::as_object) {
        for (k, v) in option {
            let v = v.as_str().map(|v| v.trim().to_ascii_lowercase());
            match k.trim().to_ascii_lowercase().as_str() {
                "exploitation" => s.exploitation = v,
                "automatable" => s.automatable = v,
                "technical impact" => s.technical_impact = v,
                _ => {}
            }
        }
    }
    s
}
