//! Ward's own knowledge documents, the data of an offline bundle (`ward feeds bundle`): what
//! the knowledge base holds — each source's view of each vulnerability, KEV entries, EPSS
//! scores — in Ward's model, so that a member without internet access imports exactly what the
//! central server knows.
//!
//! ```json
//! {"ward_knowledge": 1, "advisories": [ … ], "kev": [ … ], "epss": [ … ]}
//! ```
//!
//! A bad record is an error naming its list, index and field; the rest of the document is read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::document::{Format, Parsed, Record, RecordError, document_error};

/// The version of the document's shape this Ward reads and writes.
pub const VERSION: u32 = 1;

/// One knowledge document.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Document {
    pub ward_knowledge: u32,
    #[serde(default)]
    pub advisories: Vec<Value>,
    #[serde(default)]
    pub kev: Vec<Value>,
    #[serde(default)]
    pub epss: Vec<Value>,
}

fn read<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(v).map_err(|e| (e.path().to_string(), e.inner().to_string()))
}

pub(crate) fn parse(name: &str, bytes: &[u8]) -> Result<Parsed, RecordError> {
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| document_error(name, format!("a Ward knowledge document: {e}")))?;
    if doc.ward_knowledge != VERSION {
        return Err(document_error(
            name,
            format!(
                "Ward knowledge version {} (this Ward reads version {VERSION}): use the Ward that wrote it, or a newer one",
                doc.ward_knowledge
            ),
        ));
    }
    let mut parsed = Parsed::new(Format::WardKnowledge);
    let id = |v: &Value, key: &str, i: usize| {
        v[key]
            .as_str()
            .map_or_else(|| format!("#{i}"), str::to_owned)
    };
    for (i, v) in doc.advisories.into_iter().enumerate() {
        let record = id(&v, "id", i);
        match read(v) {
            Ok(a) => parsed.records.push(Record::Advisory(Box::new(a))),
            Err((field, message)) => {
                parsed.error(name, record, format!("advisories[{i}].{field}"), message)
            }
        }
    }
    for (i, v) in doc.kev.into_iter().enumerate() {
        let record = id(&v, "cve_id", i);
        match read(v) {
            Ok(k) => parsed.records.push(Record::Kev(k)),
            Err((field, message)) => {
                parsed.error(name, record, format!("kev[{i}].{field}"), message)
            }
        }
    }
    for (i, v) in doc.epss.into_iter().enumerate() {
        let record = id(&v, "cve_id", i);
        match read(v) {
            Ok(e) => parsed.records.push(Record::Epss(e)),
            Err((field, message)) => {
                parsed.error(name, record, format!("epss[{i}].{field}"), message)
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes_and_names_a_bad_field() {
        let a = ward_model::Advisory::new("CVE-2025-4427", ward_model::SourceId::Nvd);
        let doc = serde_json::json!({
            "ward_knowledge": 1,
            "advisories": [serde_json::to_value(&a).unwrap(), {"id": "CVE-2025-0001", "source": 7}],
        });
        let parsed = parse("k.json", doc.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.records, [Record::Advisory(Box::new(a))]);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].record, "CVE-2025-0001");
        assert!(
            parsed.errors[0].field.starts_with("advisories[1].source"),
            "{:?}",
            parsed.errors[0]
        );
        let e = parse("k.json", br#"{"ward_knowledge": 2}"#).unwrap_err();
        assert!(e.message.contains("version 2"), "{e}");
    }
}
