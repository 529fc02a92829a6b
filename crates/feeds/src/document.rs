//! What parsing a document yields, whatever its format: records, errors and warnings that name
//! the file, record and field. The format parsers and the detector share these; none of them
//! depends on another.

use std::fmt;

use serde::Deserialize;
use ward_model::{Advisory, Epss, KevEntry};

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
    /// Ward's own knowledge documents (offline bundles).
    WardKnowledge,
    /// CSAF 2.0 advisories and VEX documents.
    Csaf,
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
            Self::WardKnowledge => "Ward knowledge",
            Self::Csaf => "CSAF 2.0",
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

/// A document-level failure: the whole document was not read.
impl RecordError {
    /// An error naming the file, the record and the field.
    pub(crate) fn at(
        file: &str,
        record: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            record: record.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

pub(crate) fn document_error(file: &str, message: impl Into<String>) -> RecordError {
    RecordError {
        file: file.into(),
        record: "-".into(),
        field: String::new(),
        message: message.into(),
    }
}

/// Deserialises with the path of the failing field.
///
/// Read without tracking the path first: tracking it costs every value a step of its own, and
/// only a document that fails needs it, so that one is read a second time with the path kept.
pub(crate) fn from_slice_with_path<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, (String, String)> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, e.into_inner().to_string())
    })
}

/// A CVE id as the CVE program writes it: `CVE-`, a four-digit year, `-`, four or more digits.
/// Ids reach members' exports, pages and e-mails, so a record whose id is anything else (a
/// spreadsheet formula, markup) is refused.
pub fn is_cve_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && (4..=19).contains(&number.len())
        && year.bytes().all(|b| b.is_ascii_digit())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// An advisory id of any database (`GHSA-…`, `PYSEC-…`, `GO-…`, `RUSTSEC-…`, `RHSA-2024:1234`):
/// 1–128 characters, letters, digits, `-`, `_`, `.`, `:`, starting with a letter or digit, as
/// the OSV schema's `<DB>-<ENTRYID>` ids are.
pub fn is_advisory_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn ids_are_checked_by_their_form() {
        assert!(is_cve_id("CVE-2025-4427"));
        assert!(is_cve_id("CVE-2021-44228"));
        assert!(!is_cve_id("CVE-2025-442"));
        assert!(!is_cve_id("CVE-25-4427"));
        assert!(!is_cve_id("CVE-2025-4427=1+1"));
        assert!(!is_cve_id("=HYPERLINK(\"http://x\")"));
        for ok in [
            "GHSA-vw63-824v-qf2j",
            "PYSEC-2021-1",
            "RHSA-2024:1234",
            "GO-2024-2916",
            "RUSTSEC-2019-0033",
        ] {
            assert!(is_advisory_id(ok), "{ok}");
        }
        for bad in [
            "",
            "=HYPERLINK(\"x\")",
            "-1",
            "@SUM(A1)",
            "a b",
            "x\r\ny",
            "<script>",
        ] {
            assert!(!is_advisory_id(bad), "{bad}");
        }
        assert!(!is_advisory_id(&"A".repeat(129)));
    }
}
