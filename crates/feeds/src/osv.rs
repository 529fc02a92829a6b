//! OSV records (the Open Source Vulnerability schema, 1.x), in JSON or YAML.
//!
//! One OSV record becomes one [`Advisory`] view whose source is `osv:<record id>`. The view is
//! filed under the CVE it aliases, when it aliases exactly one, so that the GHSA, PYSEC and GO
//! records of one problem and the CVE's own CNA and NVD views are one vulnerability with one
//! finding; otherwise under its own id, and matching joins the rest through `aliases`.
//!
//! Own serde model rather than the `osv` crate: Ward needs leniency the schema types do not
//! give (unknown ecosystems and range types become warnings, not a failed record; `null` lists
//! are empty) and the path of a bad field for its error messages.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use ward_model::advisory::{PackageAffected, PackageRange, RangeEvent, RangeKind};
use ward_model::{Advisory, Cvss, CvssVersion, RecordState, SourceId};

use crate::Format;
use crate::document::{Parsed, Record, from_slice_with_path};
use crate::time::datetime;

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "null_default")]
    affected: Vec<OsvAffected>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<OsvReference>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvReference {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default, deserialize_with = "null_default")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "null_default")]
    ranges: Vec<OsvRange>,
    #[serde(default, deserialize_with = "null_default")]
    versions: Vec<String>,
    #[serde(default)]
    ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    events: Vec<BTreeMap<String, String>>,
}

/// Parses one OSV JSON record.
pub fn parse_json(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = Parsed::new(Format::Osv);
    match from_slice_with_path::<OsvRecord>(bytes) {
        Ok(r) => convert(file, r, &mut out),
        Err((field, message)) => {
            let record = record_id_hint(bytes);
            out.error(file, record, field, message);
        }
    }
    out
}

/// Parses one OSV YAML record (the PyPA advisory database's format).
pub fn parse_yaml(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = Parsed::new(Format::OsvYaml);
    // serde-saphyr's default budgets (alias expansion, depth, size) stay on: the input is untrusted.
    match serde_saphyr::from_slice::<OsvRecord>(bytes) {
        Ok(r) => convert(file, r, &mut out),
        Err(e) => {
            let record = record_id_hint(bytes);
            out.error(file, record, String::new(), e.to_string());
        }
    }
    out
}

/// The record's id for an error message, found textually when the record did not parse.
fn record_id_hint(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<serde_json::Value>,
    }
    if let Ok(IdOnly {
        id: Some(serde_json::Value::String(id)),
    }) = serde_json::from_slice(bytes)
    {
        return id;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    for line in text.lines() {
        let l = line.trim().trim_start_matches('{').trim();
        for prefix in ["\"id\":", "id:"] {
            if let Some(rest) = l.strip_prefix(prefix) {
                let id = rest
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches(['"', '\'']);
                if !id.is_empty() && id.len() < 100 {
                    return id.to_owned();
                }
            }
        }
    }
    "-".into()
}

/// The id an OSV record is filed under: the CVE when it is one or aliases exactly one.
pub fn canonical_id(id: &str, aliases: &[String]) -> String {
    if id.starts_with("CVE-") {
        return id.to_owned();
    }
    let mut cves = aliases
        .iter()
        .filter(|a| crate::document::is_cve_id(a.trim()));
    match (cves.next(), cves.next()) {
        (Some(cve), None) => cve.trim().to_owned(),
        _ => id.to_owned(),
    }
}

fn convert(file: &str, r: OsvRecord, out: &mut Parsed) {
    let id = r.id.trim().to_owned();
    if id.is_empty() {
        out.error(file, "-", "id", "an OSV record needs a non-empty `id`");
        return;
    }
    if !crate::document::is_advisory_id(&id)
        || (id.starts_with("CVE-") && !crate::document::is_cve_id(&id))
    {
        out.error(
            file,
            "-",
            "id",
            format!("{id:?} is not an advisory id (letters, digits, - _ . : and at most 128)"),
        );
        return;
    }
    let canonical = canonical_id(&id, &r.aliases);
    let mut a = Advisory::new(canonical.clone(), SourceId::Osv(id.clone()));
    a.state = if r.withdrawn.is_some() {
        RecordState::Withdrawn
    } else {
        RecordState::Published
    };
    a.updated = r.modified.as_deref().and_then(datetime);
    if r.modified.is_some() && a.updated.is_none() {
        out.warn(
            file,
            &id,
            "modified",
            "not an RFC 3339 timestamp; the record is taken as new",
        );
    }
    a.published = r.published.as_deref().and_then(datetime);
    for alias in &r.aliases {
        if !crate::document::is_advisory_id(alias.trim()) {
            out.warn(
                file,
                &id,
                "aliases",
                format!("{alias:?} is not an advisory id: left out"),
            );
        }
    }
    let mut aliases: Vec<String> = r
        .aliases
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| crate::document::is_advisory_id(s))
        .chain(std::iter::once(id.clone()))
        .filter(|s| !s.is_empty() && *s != canonical)
        .collect();
    aliases.sort();
    aliases.dedup();
    a.aliases = aliases;
    a.title = r.summary.filter(|s| !s.trim().is_empty());
    a.description = r.details.filter(|s| !s.trim().is_empty());
    a.references = r.references.into_iter().filter_map(|x| x.url).collect();
    a.database_specific = r.database_specific;
    severities(file, &id, "severity", &r.severity, &mut a.cvss, out);

    for (i, aff) in r.affected.into_iter().enumerate() {
        let at = format!("affected[{i}]");
        severities(
            file,
            &id,
            &format!("{at}.severity"),
            &aff.severity,
            &mut a.cvss,
            out,
        );
        let Some(pkg) = aff.package else {
            // Allowed by the schema for GIT-only entries; nothing a package can be matched by.
            continue;
        };
        if pkg.ecosystem.trim().is_empty() || pkg.name.trim().is_empty() {
            out.warn(
                file,
                &id,
                format!("{at}.package"),
                "package without an ecosystem or a name; entry ignored",
            );
            continue;
        }
        let mut ranges = Vec::new();
        for (j, range) in aff.ranges.into_iter().enumerate() {
            let at = format!("{at}.ranges[{j}]");
            let kind = match range.kind.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "GIT" => RangeKind::Git,
                other => {
                    out.warn(
                        file,
                        &id,
                        format!("{at}.type"),
                        format!(
                            "range type {other:?} is not SEMVER, ECOSYSTEM or GIT; range ignored"
                        ),
                    );
                    continue;
                }
            };
            let mut events = Vec::new();
            for (k, ev) in range.events.into_iter().enumerate() {
                let mut entries = ev.into_iter();
                let event = match (entries.next(), entries.next()) {
                    (Some((key, v)), None) => match key.as_str() {
                        "introduced" => Some(RangeEvent::Introduced(v)),
                        "fixed" => Some(RangeEvent::Fixed(v)),
                        "last_affected" => Some(RangeEvent::LastAffected(v)),
                        "limit" => Some(RangeEvent::Limit(v)),
                        _ => None,
                    },
                    _ => None,
                };
                match event {
                    Some(e) if !e.version().trim().is_empty() => events.push(e),
                    _ => out.warn(
                        file,
                        &id,
                        format!("{at}.events[{k}]"),
                        "an event has exactly one of introduced, fixed, last_affected or limit, with a version; event ignored",
                    ),
                }
            }
            if kind != RangeKind::Git
                && !events
                    .iter()
                    .any(|e| matches!(e, RangeEvent::Introduced(_)))
            {
                out.warn(
                    file,
                    &id,
                    format!("{at}.events"),
                    "a range without an `introduced` event affects nothing; range ignored",
                );
                continue;
            }
            ranges.push(PackageRange {
                kind,
                repo: range.repo,
                events,
            });
        }
        a.packages.push(PackageAffected {
            ecosystem: pkg.ecosystem.trim().to_owned(),
            name: pkg.name.trim().to_owned(),
            purl: pkg.purl,
            ranges,
            versions: aff.versions,
            ecosystem_specific: aff.ecosystem_specific,
            database_specific: aff.database_specific,
        });
    }
    out.records.push(Record::Advisory(Box::new(a)));
}

/// CVSS vectors from `severity`; the base score is computed from the vector (OSV publishes none).
fn severities(
    file: &str,
    id: &str,
    at: &str,
    list: &[OsvSeverity],
    cvss: &mut Vec<Cvss>,
    out: &mut Parsed,
) {
    for (i, s) in list.iter().enumerate() {
        let vector = s.score.trim();
        let scored: Result<(CvssVersion, f64), String> = match s.kind.as_str() {
            "CVSS_V2" => cvss::v2::Vector::from_str(vector.trim_start_matches("CVSS:2.0/"))
                .map(|v| (CvssVersion::V2, v.score().value()))
                .map_err(|e| e.to_string()),
            "CVSS_V3" => cvss::v3::Vector::from_str(vector)
                .map(|v| {
                    let version = if vector.starts_with("CVSS:3.0/") {
                        CvssVersion::V30
                    } else {
                        CvssVersion::V31
                    };
                    (version, v.base_score().value())
                })
                .map_err(|e| e.to_string()),
            "CVSS_V4" => cvss::v4::Vector::from_str(vector)
                .map(|v| (CvssVersion::V40, v.score().value()))
                .map_err(|e| e.to_string()),
            // `Ubuntu` priorities and future types: kept in the payload only.
            _ => continue,
        };
        match scored {
            Ok((version, base_score)) => {
                if !cvss.iter().any(|c| c.vector == vector) {
                    cvss.push(Cvss {
                        version,
                        vector: vector.to_owned(),
                        base_score,
                        source: format!("osv:{id}"),
                        published_score: None,
                    });
                }
            }
            Err(e) => out.warn(
                file,
                id,
                format!("{at}[{i}].score"),
                format!("not a valid {} vector ({e}); ignored", s.kind),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO: &str = r#"{
      "schema_version": "1.3.1", "id": "GO-2024-2916", "modified": "2024-06-01T00:00:00Z",
      "aliases": ["CVE-2024-22261", "GHSA-vw63-824v-qf2j"],
      "summary": "SQL Injection in Harbor",
      "affected": [{"package": {"name": "github.com/goharbor/harbor", "ecosystem": "Go"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.8.6+incompatible"}]}],
        "ecosystem_specific": {"imports": [{"path": "github.com/goharbor/harbor/src"}]}}],
      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],
      "database_specific": {"review_status": "UNREVIEWED"}
    }"#;

    /// An id that would run as a spreadsheet formula (or carry markup) is refused with the field
    /// named; such an alias is left out with a warning and never becomes the filing id.
    #[test]
    fn ids_that_are_not_advisory_ids_are_refused() {
        let formula = GO.replace("GO-2024-2916", "=HYPERLINK(\\\"http://evil.example\\\")");
        let p = parse_json("f.json", formula.as_bytes());
        assert!(p.records.is_empty());
        assert_eq!(p.errors[0].field, "id", "{:?}", p.errors);
        assert!(
            p.errors[0].message.contains("is not an advisory id"),
            "{:?}",
            p.errors
        );
        let alias = GO.replace("CVE-2024-22261", "CVE-2024-22261=1+1");
        let p = parse_json("a.json", alias.as_bytes());
        let a = advisory(&p);
        assert_eq!(a.id, "GO-2024-2916", "a bad alias is not the filing id");
        assert!(
            !a.aliases.iter().any(|x| x.contains('=')),
            "{:?}",
            a.aliases
        );
        assert_eq!(p.warnings[0].field, "aliases", "{:?}", p.warnings);
    }

    fn advisory(p: &Parsed) -> &Advisory {
        match &p.records[0] {
            Record::Advisory(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn go_record_is_filed_under_its_cve() {
        let p = parse_json("GO-2024-2916.json", GO.as_bytes());
        assert!(p.errors.is_empty() && p.warnings.is_empty(), "{p:?}");
        let a = advisory(&p);
        assert_eq!(a.id, "CVE-2024-22261");
        assert_eq!(a.source.key(), "osv:GO-2024-2916");
        assert_eq!(a.aliases, ["GHSA-vw63-824v-qf2j", "GO-2024-2916"]);
        assert_eq!(a.cvss[0].base_score, 7.2);
        assert_eq!(a.packages[0].ranges[0].events.len(), 2);
        assert!(a.packages[0].ecosystem_specific.is_some());
        assert_eq!(
            a.package_keys(),
            [("pkg:go".into(), "github.com/goharbor/harbor".into())]
        );
    }

    #[test]
    fn yaml_versions_stay_strings() {
        let y = "id: PYSEC-2099-1\nmodified: '2021-08-27T03:22:49Z'\nwithdrawn: '2022-01-01T00:00:00Z'\naliases: [CVE-2099-1, CVE-2099-2]\naffected:\n- package: {name: Foo_Bar, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: '0'\n    - fixed: 1.10\n  versions: [1.0, 1.10]\n";
        let p = parse_yaml("PYSEC-2099-1.yaml", y.as_bytes());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let a = advisory(&p);
        // Two CVE aliases: filed under its own id.
        assert_eq!(a.id, "PYSEC-2099-1");
        assert_eq!(a.state, RecordState::Withdrawn);
        assert_eq!(a.packages[0].versions, ["1.0", "1.10"]);
        assert_eq!(
            a.packages[0].ranges[0].events[1],
            RangeEvent::Fixed("1.10".into())
        );
    }

    #[test]
    fn bad_records_name_the_field() {
        let bad = r#"{"id": "GHSA-xxxx", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"name": "x", "ecosystem": "npm"}, "ranges": [{"type": "SEMVER", "events": "nope"}]}]}"#;
        let p = parse_json("bad.json", bad.as_bytes());
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].record, "GHSA-xxxx");
        assert_eq!(p.errors[0].field, "affected[0].ranges[0].events");

        let odd = r#"{"id": "GHSA-yyyy", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"name": "x", "ecosystem": "npm"}, "ranges": [{"type": "WEIRD", "events": []}, {"type": "SEMVER", "events": [{"fixed": "1.0.0"}]}, {"type": "SEMVER", "events": [{"introduced": "0", "fixed": "2"}]}]}]}"#;
        let p = parse_json("odd.json", odd.as_bytes());
        assert!(p.errors.is_empty());
        let fields: Vec<&str> = p.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "affected[0].ranges[0].type",
                "affected[0].ranges[1].events",
                "affected[0].ranges[2].events[0]",
                "affected[0].ranges[2].events"
            ]
        );
        let broken_yaml = "id: PYSEC-1\naffected: [\n";
        let p = parse_yaml("x.yaml", broken_yaml.as_bytes());
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].record, "PYSEC-1");
    }
}
