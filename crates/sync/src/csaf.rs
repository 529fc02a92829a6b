//! CSAF providers (CSAF 2.0 section 7): `provider-metadata.json` names the provider's
//! distributions — a directory (`changes.csv`, newest first) or ROLIE feeds — and its OpenPGP
//! public keys. Each document new since the cursor is fetched with its `.sha512` (or `.sha256`)
//! and its detached `.asc` signature; the hash must match and one of the provider's keys (their
//! fingerprints as the metadata states them) must verify the signature, or the step fails and
//! nothing of it is imported. Documents are fetched only from the provider's own origin.
//!
//! Signatures are checked with `pgp` (rPGP, pure Rust); no OpenPGP code of Ward's own.

use chrono::{DateTime, Utc};
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;
use serde_json::Value;
use sha2::Digest;
use url::Url;

use crate::{Run, SyncError, http, join, millis};

/// A provider's public key, checked against the fingerprint its metadata states.
pub(crate) fn provider_key(
    armored: &str,
    fingerprint: Option<&str>,
) -> Result<SignedPublicKey, String> {
    let (key, _) = SignedPublicKey::from_string(armored)
        .map_err(|e| format!("not an OpenPGP public key: {e}"))?;
    key.verify()
        .map_err(|e| format!("the key's self-signatures do not verify: {e}"))?;
    let actual = format!("{:X}", key.fingerprint());
    if let Some(want) = fingerprint {
        let want: String = want.chars().filter(|c| !c.is_whitespace()).collect();
        if !want.eq_ignore_ascii_case(&actual) {
            return Err(format!(
                "its fingerprint is {actual}, not {want} as the provider metadata says"
            ));
        }
    }
    Ok(key)
}

/// Whether one of `keys` (or their subkeys) made this detached signature over `data`.
pub(crate) fn verified(keys: &[SignedPublicKey], data: &[u8], armored: &str) -> Result<(), String> {
    let (signature, _) = DetachedSignature::from_string(armored)
        .map_err(|e| format!("not an OpenPGP signature: {e}"))?;
    for key in keys {
        if signature.verify(key, data).is_ok() {
            return Ok(());
        }
        if key
            .public_subkeys
            .iter()
            .any(|sub| signature.verify(sub, data).is_ok())
        {
            return Ok(());
        }
    }
    Err("no key of the provider verifies its signature".into())
}

/// The hash file's digest: `<hex>  <file name>` or the hex alone.
fn stated_digest(text: &str) -> Option<String> {
    let first = text.split_whitespace().next()?;
    (first.len() >= 64 && first.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| first.to_ascii_lowercase())
}

impl Run<'_> {
    fn same_origin(&self, url: &Url) -> Result<(), SyncError> {
        let ours = &self.source.url;
        if url.scheme() == ours.scheme()
            && url.host_str() == ours.host_str()
            && url.port_or_known_default() == ours.port_or_known_default()
        {
            Ok(())
        } else {
            Err(SyncError::Content(format!(
                "{} is not on the provider's origin ({}): not fetched",
                http::redacted(url),
                ours.origin().ascii_serialization()
            )))
        }
    }

    async fn text(&mut self, url: &Url) -> Result<String, SyncError> {
        self.same_origin(url)?;
        let bytes = self
            .fetch_bytes(url)
            .await?
            .ok_or_else(|| SyncError::Content(format!("{}: no content", http::redacted(url))))?;
        String::from_utf8(bytes)
            .map_err(|e| SyncError::Content(format!("{}: {e}", http::redacted(url))))
    }

    /// The documents a distribution lists: (URL, time).
    async fn listed(&mut self, metadata: &Value) -> Result<Vec<(Url, DateTime<Utc>)>, SyncError> {
        let mut out = Vec::new();
        let distributions = metadata["distributions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for d in &distributions {
            if let Some(dir) = d["directory_url"].as_str() {
                let base = Url::parse(dir)
                    .map_err(|e| SyncError::Content(format!("directory_url {dir:?}: {e}")))?;
                let changes = join(&base, "changes.csv")?;
                let text = self.text(&changes).await?;
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(text.as_bytes());
                for (n, row) in reader.records().enumerate() {
                    let row = row.map_err(|e| {
                        SyncError::Content(format!(
                            "{}, line {}: {e}",
                            http::redacted(&changes),
                            n + 1
                        ))
                    })?;
                    let (Some(path), Some(at)) = (row.get(0), row.get(1)) else {
                        return Err(SyncError::Content(format!(
                            "{}, line {}: not \"path\",\"time\"",
                            http::redacted(&changes),
                            n + 1
                        )));
                    };
                    if path.starts_with('/') || path.contains("..") || path.contains('\\') {
                        return Err(SyncError::Content(format!(
                            "{}, line {}: {path:?} is not a path inside the directory",
                            http::redacted(&changes),
                            n + 1
                        )));
                    }
                    let at = DateTime::parse_from_rfc3339(at.trim())
                        .map_err(|e| {
                            SyncError::Content(format!(
                                "{}, line {}: {e}",
                                http::redacted(&changes),
                                n + 1
                            ))
                        })?
                        .with_timezone(&Utc);
                    out.push((join(&base, path)?, at));
                }
            }
            for feed in d["rolie"]["feeds"].as_array().into_iter().flatten() {
                let Some(url) = feed["url"].as_str() else {
                    continue;
                };
                let url = Url::parse(url)
                    .map_err(|e| SyncError::Content(format!("ROLIE feed {url:?}: {e}")))?;
                let text = self.text(&url).await?;
                let doc: Value = serde_json::from_str(&text).map_err(|e| {
                    SyncError::Content(format!("{}: not a ROLIE feed: {e}", http::redacted(&url)))
                })?;
                for entry in doc["feed"]["entry"].as_array().into_iter().flatten() {
                    let href = entry["link"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|l| l["rel"] == "self")
                        .and_then(|l| l["href"].as_str())
                        .or_else(|| entry["content"]["src"].as_str());
                    let (Some(href), Some(at)) = (href, entry["updated"].as_str()) else {
                        continue;
                    };
                    let at = DateTime::parse_from_rfc3339(at)
                        .map_err(|e| {
                            SyncError::Content(format!(
                                "{}: entry {href}: {e}",
                                http::redacted(&url)
                            ))
                        })?
                        .with_timezone(&Utc);
                    let doc_url = url
                        .join(href)
                        .map_err(|e| SyncError::Content(format!("{href}: {e}")))?;
                    out.push((doc_url, at));
                }
            }
        }
        Ok(out)
    }

    /// A CSAF provider: documents new since the cursor, each checked (hash, signature, format),
    /// imported together; the cursor then moves to the newest.
    pub(crate) async fn csaf(&mut self) -> Result<(), SyncError> {
        let state = self.state().await?;
        let since = state
            .cursor
            .as_ref()
            .and_then(|c| c["since"].as_str())
            .and_then(|t| {
                DateTime::parse_from_rfc3339(t)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            });
        let url = self.source.url.clone();
        let text = self.text(&url).await?;
        let metadata: Value = serde_json::from_str(&text).map_err(|e| {
            SyncError::Content(format!(
                "{}: not provider metadata: {e}",
                http::redacted(&url)
            ))
        })?;
        if metadata["metadata_version"].as_str() != Some("2.0")
            || !metadata["distributions"].is_array()
        {
            return Err(SyncError::Content(format!(
                "{}: not CSAF 2.0 provider metadata (metadata_version, distributions)",
                http::redacted(&url)
            )));
        }
        // The provider's keys, each checked against the fingerprint the metadata states.
        let mut keys = Vec::new();
        for k in metadata["public_openpgp_keys"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(key_url) = k["url"].as_str() else {
                continue;
            };
            let key_url = Url::parse(key_url).map_err(|e| {
                SyncError::Content(format!("public_openpgp_keys url {key_url:?}: {e}"))
            })?;
            let armored = self.text(&key_url).await?;
            keys.push(
                provider_key(&armored, k["fingerprint"].as_str()).map_err(|e| {
                    SyncError::Content(format!("{}: {e}", http::redacted(&key_url)))
                })?,
            );
        }
        if keys.is_empty() {
            return Err(SyncError::Content(format!(
                "{}: the provider lists no OpenPGP public key; its documents cannot be verified",
                http::redacted(&url)
            )));
        }
        let mut listed = self.listed(&metadata).await?;
        listed.retain(|(_, at)| since.is_none_or(|s| *at > s));
        listed.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
        listed.dedup_by(|a, b| a.0 == b.0);
        let Some(newest) = listed.iter().map(|(_, at)| *at).max() else {
            return Ok(());
        };
        let dir = tempfile::tempdir()
            .map_err(|e| SyncError::Fetch(format!("a temporary folder: {e}")))?;
        let mut paths = Vec::new();
        for (i, (doc_url, _)) in listed.iter().enumerate() {
            self.same_origin(doc_url)?;
            let shown = http::redacted(doc_url);
            let bytes = self
                .fetch_bytes(doc_url)
                .await?
                .ok_or_else(|| SyncError::Content(format!("{shown}: no content")))?;
            // The hash: SHA-512 where published, else SHA-256.
            let mut checked = false;
            for (ext, sha512) in [("sha512", true), ("sha256", false)] {
                let hash_url = Url::parse(&format!("{doc_url}.{ext}"))
                    .map_err(|e| SyncError::Content(e.to_string()))?;
                let Ok(Some(stated)) = self.fetch_bytes(&hash_url).await else {
                    continue;
                };
                let stated = stated_digest(&String::from_utf8_lossy(&stated)).ok_or_else(|| {
                    SyncError::Content(format!("{}: not a hash", http::redacted(&hash_url)))
                })?;
                let actual = if sha512 {
                    hex::encode(sha2::Sha512::digest(&bytes))
                } else {
                    hex::encode(sha2::Sha256::digest(&bytes))
                };
                if actual != stated {
                    return Err(SyncError::Content(format!(
                        "{shown}: its {ext} is {actual}, the provider states {stated}: refused"
                    )));
                }
                checked = true;
                break;
            }
            if !checked {
                return Err(SyncError::Content(format!(
                    "{shown}: the provider publishes neither .sha512 nor .sha256 for it: refused"
                )));
            }
            let sig_url = Url::parse(&format!("{doc_url}.asc"))
                .map_err(|e| SyncError::Content(e.to_string()))?;
            let signature = self.text(&sig_url).await?;
            verified(&keys, &bytes, &signature)
                .map_err(|e| SyncError::Content(format!("{shown}: {e}: refused")))?;
            let name = format!("csaf-{i}.json");
            let path = dir.path().join(&name);
            std::fs::write(&path, &bytes).map_err(|e| SyncError::Fetch(e.to_string()))?;
            crate::check(&path, ward_feeds::Format::Csaf, doc_url).await?;
            paths.push(path);
        }
        self.import(paths, false).await?;
        self.save(
            Some(&serde_json::json!({"since": millis(newest)})),
            None,
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_files_state_a_digest() {
        let d = "a".repeat(64);
        assert_eq!(
            stated_digest(&format!("{d}  bsi-2022-0001.json\n")),
            Some(d.clone())
        );
        assert_eq!(stated_digest(&d), Some(d));
        assert_eq!(stated_digest("<html>Not Found</html>"), None);
    }
}
