//! CISA Known Exploited Vulnerabilities (JSON catalogue and CSV) and EPSS scores (CSV).

use serde::Deserialize;
use serde_json::value::RawValue;
use ward_model::{Epss, KevEntry};

use crate::document::{Format, Parsed, Record, RecordError, document_error, from_slice_with_path};
use crate::time::date;

#[derive(Deserialize)]
struct Catalogue<'a> {
    #[serde(borrow)]
    vulnerabilities: Vec<&'a RawValue>,
}

/// One KEV entry, as the JSON catalogue and the CSV (same column names) spell it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KevJson {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: Option<String>,
    product: Option<String>,
    vulnerability_name: Option<String>,
    date_added: String,
    required_action: Option<String>,
    due_date: Option<String>,
    known_ransomware_campaign_use: Option<String>,
    notes: Option<String>,
}

fn kev_entry(out: &mut Parsed, file: &str, record: &str, field_prefix: &str, k: KevJson) {
    let id = k.cve_id.trim().to_owned();
    if !crate::document::is_cve_id(&id) {
        out.error(
            file,
            record,
            format!("{field_prefix}cveID"),
            format!("`{id}` is not a CVE id"),
        );
        return;
    }
    let Some(added) = date(&k.date_added) else {
        out.error(
            file,
            &id,
            format!("{field_prefix}dateAdded"),
            format!("`{}` is not a date (YYYY-MM-DD)", k.date_added),
        );
        return;
    };
    let due = match k
        .due_date
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(d) => match date(d) {
            Some(d) => Some(d),
            None => {
                out.error(
                    file,
                    &id,
                    format!("{field_prefix}dueDate"),
                    format!("`{d}` is not a date (YYYY-MM-DD)"),
                );
                return;
            }
        },
    };
    let blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
    out.records.push(Record::Kev(KevEntry {
        cve_id: id,
        date_added: Some(added),
        due_date: due,
        ransomware: blank(k.known_ransomware_campaign_use),
        vendor_project: blank(k.vendor_project),
        product: blank(k.product),
        name: blank(k.vulnerability_name),
        required_action: blank(k.required_action),
        notes: blank(k.notes),
    }));
}

pub(crate) fn parse_kev_json(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = Parsed::new(Format::KevJson);
    let cat: Catalogue<'_> = match from_slice_with_path(bytes) {
        Ok(c) => c,
        Err((path, message)) => {
            out.error(file, "-", path, message);
            return out;
        }
    };
    for (i, raw) in cat.vulnerabilities.iter().enumerate() {
        match from_slice_with_path::<KevJson>(raw.get().as_bytes()) {
            Ok(k) => kev_entry(
                &mut out,
                file,
                &format!("#{i}"),
                &format!("vulnerabilities[{i}]."),
                k,
            ),
            Err((path, message)) => out.error(
                file,
                format!("#{i}"),
                format!("vulnerabilities[{i}].{path}"),
                message,
            ),
        }
    }
    out
}

/// CSV: the KEV catalogue (header starts `cveID,`) or EPSS scores (`#model_version:…` comment
/// line, then `cve,epss,percentile`).
pub(crate) fn parse_csv(file: &str, bytes: &[u8]) -> Result<Parsed, RecordError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| document_error(file, format!("not UTF-8 text: {e}")))?;
    let (comment, body) = match text.strip_prefix('#') {
        Some(rest) => match rest.split_once('\n') {
            Some((c, b)) => (Some(c.trim()), b),
            None => (Some(rest.trim()), ""),
        },
        None => (None, text),
    };
    let header = body
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if header.starts_with("cveid,") {
        return Ok(parse_kev_csv(file, body));
    }
    if header.starts_with("cve,epss") {
        return Ok(parse_epss(file, comment, body));
    }
    Err(document_error(
        file,
        format!(
            "unknown format: the first line `{}` is neither the KEV CSV header (`cveID,vendorProject,…`) nor the EPSS header (`cve,epss,percentile`)",
            header.chars().take(80).collect::<String>()
        ),
    ))
}

fn parse_kev_csv(file: &str, body: &str) -> Parsed {
    let mut out = Parsed::new(Format::KevCsv);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(body.as_bytes());
    for (i, row) in reader.deserialize::<KevJson>().enumerate() {
        // Line numbers are 1-based and the header is line 1.
        let record = format!("line {}", i + 2);
        match row {
            Ok(k) => kev_entry(&mut out, file, &record, "", k),
            Err(e) => out.error(file, record, csv_field(&e), e.to_string()),
        }
    }
    out
}

fn csv_field(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err
            .field()
            .map(|f| format!("column {}", f + 1))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
struct EpssRow {
    cve: String,
    epss: f64,
    percentile: f64,
}

fn parse_epss(file: &str, comment: Option<&str>, body: &str) -> Parsed {
    let mut out = Parsed::new(Format::EpssCsv);
    // `#model_version:v2023.03.01,score_date:2023-07-27T00:00:00+0000`
    let mut model_version = None;
    let mut score_date = None;
    for part in comment.unwrap_or("").split(',') {
        match part.split_once(':') {
            Some(("model_version", v)) => model_version = Some(v.trim().to_owned()),
            Some(("score_date", v)) => score_date = date(v),
            _ => {}
        }
    }
    let line_offset = if comment.is_some() { 3 } else { 2 };
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    for (i, row) in reader.deserialize::<EpssRow>().enumerate() {
        let record = format!("line {}", i + line_offset);
        match row {
            Ok(r) => {
                if !crate::document::is_cve_id(&r.cve) {
                    out.error(file, record, "cve", format!("`{}` is not a CVE id", r.cve));
                } else if !(0.0..=1.0).contains(&r.epss) || !(0.0..=1.0).contains(&r.percentile) {
                    out.error(
                        file,
                        r.cve,
                        "epss",
                        "score and percentile must be within 0..1",
                    );
                } else {
                    out.records.push(Record::Epss(Epss {
                        cve_id: r.cve,
                        score: r.epss,
                        percentile: r.percentile,
                        model_version: model_version.clone(),
                        score_date,
                    }));
                }
            }
            Err(e) => out.error(file, record, csv_field(&e), e.to_string()),
        }
    }
    out
}
