//! Format detection and the common record/error types.

use std::fmt;

use serde::Deserialize;
use serde::de::IgnoredAny;
use ward_model::{Advisory, Epss, KevEntry};

use crate::{cve5, kev_epss, nvd, osv};

/// The document formats Ward imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Cve5,
    Nvd,
    KevJson,
    KevCsv,
    EpssCsv,
    Osv,
    OsvYaml,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cve5 => "CVE JSON 5",
            Self::Nvd => "NVD API 2.0",
            Self::KevJson => "CISA KEV (JSON)",
            Self::KevCsv => "CISA KEV (CSV)",
            Self::EpssCsv => "EPSS (CSV)",
            Self::Osv => "OSV (JSON)",
            Self::OsvYaml => "OSV (YAML)",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One imported record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// One source's view of a vulnerability (a CVE 5 container, an NVD record).
    Advisory(Box<Advisory>),
    Kev(KevEntry),
    Epss(Epss),
}

/// A record Ward could not read: which file, which record, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub file: String,
    /// The record's id where it could be read, else its index (`#12`), or `-` for the document.
    pub record: String,
    /// The path of the bad field (`containers.cna.affected[0].versions[2].status`), or empty.
    pub field: String,
    pub message: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: record {}", self.file, self.record)?;
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RecordError {}

/// Something in a record that Ward ignored while importing the rest of it (e.g. a CPE string
/// that is not a CPE name). Same shape as an error; the record is kept.
pub type Warning = RecordError;

/// What one document held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub format: Option<Format>,
    pub records: Vec<Record>,
    pub errors: Vec<RecordError>,
    pub warnings: Vec<Warning>,
}

impl Parsed {
    pub(crate) fn new(format: Format) -> Self {
        Self {
            format: Some(format),
            ..Self::default()
        }
    }

    pub(crate) fn error(
        &mut self,
        file: &str,
        record: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors.push(RecordError {
            file: file.into(),
            record: record.into(),
            field: field.into(),
            message: message.into(),
        });
    }

    pub(crate) fn warn(
        &mut self,
        file: &str,
        record: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.warnings.push(RecordError {
            file: file.into(),
            record: record.into(),
            field: field.into(),
            message: message.into(),
        });
    }
}

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
}

/// A document-level failure: the whole document was not read.
pub(crate) fn document_error(file: &str, message: impl Into<String>) -> RecordError {
    RecordError {
        file: file.into(),
        record: "-".into(),
        field: String::new(),
        message: message.into(),
    }
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

fn skip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn parse_json(name: &str, bytes: &[u8]) -> Result<Parsed, RecordError> {
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| document_error(name, format!("not valid JSON: {e}")))?;
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
        "unknown JSON format: expected a CVE JSON 5 record (`cveMetadata`), an NVD API 2.0 CVE object or page (`vulnerabilities`, `resultsPerPage`), the CISA KEV catalogue (`catalogVersion`), or an OSV record (`id`, `modified`, `affected`)",
    ))
}

/// Deserialises with the path of the failing field.
pub(crate) fn from_slice_with_path<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, (String, String)> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, e.into_inner().to_string())
    })
}
