//! Format detection: which parser a document goes to.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::document::{Parsed, RecordError, document_error};
use crate::{cve5, kev_epss, nvd, osv};

/// The top-level keys that tell JSON formats apart; every value is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    data_type: Option<String>,
    cve_metadata: Option<IgnoredAny>,
    catalog_version: Option<IgnoredAny>,
    vulnerabilities: Option<IgnoredAny>,
    results_per_page: Option<IgnoredAny>,
    format: Option<String>,
    source_identifier: Option<IgnoredAny>,
    vuln_status: Option<IgnoredAny>,
    configurations: Option<IgnoredAny>,
    cve: Option<IgnoredAny>,
    id: Option<IgnoredAny>,
    modified: Option<IgnoredAny>,
    affected: Option<IgnoredAny>,
    #[serde(rename = "schema_version")]
    schema_version: Option<IgnoredAny>,
    #[serde(rename = "ward_knowledge")]
    ward_knowledge: Option<IgnoredAny>,
    /// CSAF's `document` (with `csaf_version`).
    document: Option<CsafProbe>,
}

#[derive(Deserialize)]
struct CsafProbe {
    csaf_version: Option<IgnoredAny>,
}

/// Detects the format of one document and parses every record in it.
///
/// `name` is used in messages and, for CSV, to tell KEV from EPSS when the header is ambiguous.
/// Returns `Err` when the document as a whole cannot be read (not JSON, unknown format).
pub fn parse_document(name: &str, bytes: &[u8]) -> Result<Parsed, RecordError> {
    let head = skip_bom(bytes);
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'{') => parse_json(name, head),
        Some(_) if is_yaml_name(name) => Ok(osv::parse_yaml(name, head)),
        Some(b'[') => Err(document_error(
            name,
            "a JSON array at the top level is not a format Ward imports (expected a CVE 5 record, an NVD API 2.0 object or page, or the KEV catalogue)",
        )),
        Some(_) => kev_epss::parse_csv(name, head),
        None => Err(document_error(name, "the file is empty")),
    }
}

/// `.yaml`/`.yml` files are OSV YAML records (the PyPA advisory database's layout).
fn is_yaml_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

/// Whether the document opens with `{"dataType": "CVE_RECORD"`, as every record of the CVE
/// List does: such a document goes to the CVE 5 parser without the probe, which reads the whole
/// document once more only to tell its format.
fn starts_as_cve_record(bytes: &[u8]) -> bool {
    fn token<'a>(rest: &'a [u8], expected: &[u8]) -> Option<&'a [u8]> {
        rest.trim_ascii_start().strip_prefix(expected)
    }
    token(bytes, b"{")
        .and_then(|rest| token(rest, br#""dataType""#))
        .and_then(|rest| token(rest, b":"))
        .and_then(|rest| token(rest, br#""CVE_RECORD""#))
        .is_some()
}

fn skip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn parse_json(name: &str, bytes: &[u8]) -> Result<Parsed, RecordError> {
    if starts_as_cve_record(bytes) {
        return Ok(cve5::parse(name, bytes));
    }
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| document_error(name, format!("not valid JSON: {e}")))?;
    if probe.ward_knowledge.is_some() {
        return crate::ward_knowledge::parse(name, bytes);
    }
    if probe.document.is_some_and(|d| d.csaf_version.is_some()) {
        return crate::csaf::parse(name, bytes);
    }
    if probe.cve_metadata.is_some() || probe.data_type.as_deref() == Some("CVE_RECORD") {
        return Ok(cve5::parse(name, bytes));
    }
    if probe.catalog_version.is_some() {
        return Ok(kev_epss::parse_kev_json(name, bytes));
    }
    if probe.vulnerabilities.is_some()
        && (probe.results_per_page.is_some() || probe.format.as_deref() == Some("NVD_CVE"))
    {
        return Ok(nvd::parse_page(name, bytes));
    }
    if probe.id.is_some()
        && (probe.modified.is_some() || probe.affected.is_some() || probe.schema_version.is_some())
    {
        return Ok(osv::parse_json(name, bytes));
    }
    if probe.cve.is_some() {
        return Ok(nvd::parse_wrapped(name, bytes));
    }
    if probe.source_identifier.is_some()
        || probe.vuln_status.is_some()
        || probe.configurations.is_some()
    {
        return Ok(nvd::parse_single(name, bytes));
    }
    Err(document_error(
        name,
        "unknown JSON format: expected a CVE JSON 5 record (`cveMetadata`), an NVD API 2.0 CVE object or page (`vulnerabilities`, `resultsPerPage`), the CISA KEV catalogue (`catalogVersion`), an OSV record (`id`, `modified`, `affected`), or a CSAF 2.0 document (`document.csaf_version`)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_document_opening_as_a_cve_record_skips_the_probe() {
        assert!(starts_as_cve_record(
            br#"{"dataType": "CVE_RECORD", "dataVersion": "5.1"}"#
        ));
        assert!(starts_as_cve_record(
            b"\n{\n  \"dataType\" :\t\"CVE_RECORD\"\n}"
        ));
        assert!(!starts_as_cve_record(br#"{"dataType": "CVE_RECORDS"}"#));
        assert!(!starts_as_cve_record(
            br#"{"cveMetadata": {}, "dataType": "CVE_RECORD"}"#
        ));
        assert!(!starts_as_cve_record(br#"{"dataType": "cve_record"}"#));
        assert!(!starts_as_cve_record(b"{"));
    }

    #[test]
    fn a_cve_record_read_either_way_gives_the_same_views() {
        let record = br#"{"dataType": "CVE_RECORD", "dataVersion": "5.1",
            "cveMetadata": {"cveId": "CVE-2025-4427", "assignerShortName": "ivanti", "state": "PUBLISHED",
                            "dateUpdated": "2025-05-14T00:00:00.000Z"},
            "containers": {"cna": {"providerMetadata": {"orgId": "x", "shortName": "ivanti"},
                "affected": [{"vendor": "Ivanti", "product": "Endpoint Manager Mobile",
                              "versions": [{"version": "12.5.0.0", "status": "affected", "lessThan": "12.5.0.1", "versionType": "custom"}]}]}}}"#;
        let fast = parse_document("a.json", record).unwrap();
        // The same record with its members reordered takes the probe.
        let text = std::str::from_utf8(record).unwrap();
        let (head, tail) = text.split_once(r#""dataVersion""#).unwrap();
        let reordered = format!(
            "{{\"dataVersion\"{},{}}}",
            tail.trim_end().strip_suffix('}').unwrap(),
            head.trim_start_matches('{')
                .trim_end()
                .trim_end_matches(',')
        );
        assert!(!starts_as_cve_record(reordered.as_bytes()));
        let probed = parse_document("a.json", reordered.as_bytes()).unwrap();
        assert_eq!(fast.format, Some(crate::Format::Cve5));
        assert_eq!(fast.records.len(), 1);
        assert_eq!(
            format!("{:?}", fast.records),
            format!("{:?}", probed.records)
        );
    }
}
