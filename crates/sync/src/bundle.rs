//! Offline bundles: the knowledge changed since a date, for members without internet access.
//!
//! A bundle is a `.tar.gz` of Ward knowledge documents (`knowledge-0001.json`, …: each source's
//! views, the KEV catalogue, EPSS scores; `ward_feeds::ward_knowledge`), a manifest
//! (`manifest.ward-bundle`: when, since, the signing key's id, each file's SHA-256 and size)
//! and the manifest's Ed25519 signature (`manifest.ward-bundle.sig`). `ward db import FILE
//! --verify-key KEY` checks the signature and every file's hash (and that no file was added)
//! before anything is imported; the import itself is an ordinary one.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ward_store::Store;
use ward_store::checkpoint::{SigningKey, VerifyingKey, key_id, sign, verify};

pub const MANIFEST: &str = "manifest.ward-bundle";
pub const SIGNATURE: &str = "manifest.ward-bundle.sig";
/// Views per knowledge document (each stays well under the import's per-document limit).
const VIEWS_PER_FILE: i64 = 5_000;
const EPSS_PER_FILE: usize = 100_000;
/// The most a manifest or signature may be (they are read whole).
const SMALL: u64 = 4 << 20;

/// What a bundle holds, signed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Manifest {
    pub ward_bundle: u32,
    pub created_at: String,
    /// Knowledge imported since this time is in it (RFC 3339).
    pub since: String,
    /// The first 16 hex digits of the signing key's public key's SHA-256.
    pub key_id: String,
    pub files: Vec<FileEntry>,
    pub views: usize,
    pub kev: usize,
    pub epss: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

fn append(tar: &mut tar::Builder<impl Write>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
}

/// Writes a bundle of the knowledge imported since `since` to `out`, signed with `key`.
pub async fn write(
    store: &Store,
    since: chrono::DateTime<chrono::Utc>,
    out: &Path,
    key: &SigningKey,
) -> Result<Manifest, String> {
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut files = Vec::new();
    let mut put =
        |tar: &mut tar::Builder<_>, name: String, doc: &serde_json::Value| -> Result<(), String> {
            let bytes = serde_json::to_vec(doc).expect("a document serialises");
            append(tar, &name, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            files.push(FileEntry {
                sha256: hex::encode(Sha256::digest(&bytes)),
                bytes: bytes.len() as u64,
                name,
            });
            Ok(())
        };
    let since_text = since.to_rfc3339();
    let mut views = 0;
    let mut after: Option<(String, String)> = None;
    let mut part = 0;
    loop {
        let page = store
            .views_imported_since(&since_text, after.as_ref(), VIEWS_PER_FILE)
            .await
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(v, s, _)| (v.clone(), s.clone()));
        views += page.len();
        let advisories: Vec<serde_json::Value> = page
            .iter()
            .map(|(_, _, payload)| serde_json::from_str(payload).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        part += 1;
        put(
            &mut tar,
            format!("knowledge-{part:04}.json"),
            &serde_json::json!({"ward_knowledge": ward_feeds::ward_knowledge::VERSION, "advisories": advisories}),
        )?;
    }
    let kev: Vec<serde_json::Value> = store
        .kev_payloads()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|p| serde_json::from_str(p).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    part += 1;
    put(
        &mut tar,
        format!("knowledge-{part:04}.json"),
        &serde_json::json!({"ward_knowledge": ward_feeds::ward_knowledge::VERSION, "kev": kev}),
    )?;
    let epss = store
        .epss_since(&since.date_naive().to_string())
        .await
        .map_err(|e| e.to_string())?;
    for chunk in epss.chunks(EPSS_PER_FILE) {
        part += 1;
        put(
            &mut tar,
            format!("knowledge-{part:04}.json"),
            &serde_json::json!({"ward_knowledge": ward_feeds::ward_knowledge::VERSION, "epss": chunk}),
        )?;
    }
    let manifest = Manifest {
        ward_bundle: 1,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        since: since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        key_id: key_id(&key.verifying_key()),
        files,
        views,
        kev: kev.len(),
        epss: epss.len(),
    };
    let bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    append(&mut tar, MANIFEST, &bytes).map_err(|e| e.to_string())?;
    append(&mut tar, SIGNATURE, sign(key, &bytes).as_bytes()).map_err(|e| e.to_string())?;
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(manifest)
}

/// Checks a bundle before anything of it is imported: the manifest's signature by `key`, every
/// file it lists present with its SHA-256 and size, and nothing else in the archive.
pub fn verify_file(path: &Path, key: &VerifyingKey) -> Result<Manifest, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut manifest_bytes: Option<Vec<u8>> = None;
    let mut signature: Option<String> = None;
    let mut seen: Vec<FileEntry> = Vec::new();
    for entry in tar
        .entries()
        .map_err(|e| format!("{shown}: not a bundle (.tar.gz): {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("{shown}: {e}"))?;
        let name = entry
            .path()
            .map_err(|e| format!("{shown}: {e}"))?
            .to_string_lossy()
            .into_owned();
        if name == MANIFEST || name == SIGNATURE {
            if entry.size() > SMALL {
                return Err(format!(
                    "{shown}: {name} is {} bytes: not a manifest",
                    entry.size()
                ));
            }
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| format!("{shown}: {name}: {e}"))?;
            if name == MANIFEST {
                manifest_bytes = Some(bytes);
            } else {
                signature = Some(String::from_utf8_lossy(&bytes).trim().to_owned());
            }
            continue;
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut bytes = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| format!("{shown}: {name}: {e}"))?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            hasher.update(&buf[..n]);
        }
        seen.push(FileEntry {
            name,
            sha256: hex::encode(hasher.finalize()),
            bytes,
        });
    }
    let manifest_bytes =
        manifest_bytes.ok_or_else(|| format!("{shown}: no {MANIFEST}: not a Ward bundle"))?;
    let signature =
        signature.ok_or_else(|| format!("{shown}: no {SIGNATURE}: the bundle is not signed"))?;
    if !verify(key, &manifest_bytes, &signature) {
        return Err(format!(
            "{shown}: the manifest's signature does not match the key {} (a different key, or the manifest was changed)",
            key_id(key)
        ));
    }
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| format!("{shown}: {MANIFEST}: {e}"))?;
    for listed in &manifest.files {
        match seen.iter().find(|s| s.name == listed.name) {
            None => {
                return Err(format!(
                    "{shown}: {} is in the manifest but not in the bundle",
                    listed.name
                ));
            }
            Some(s) if s.sha256 != listed.sha256 || s.bytes != listed.bytes => {
                return Err(format!(
                    "{shown}: {}: SHA-256 {} ({} bytes), the manifest says {} ({} bytes): the file was changed",
                    listed.name, s.sha256, s.bytes, listed.sha256, listed.bytes
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = seen
        .iter()
        .find(|s| !manifest.files.iter().any(|l| l.name == s.name))
    {
        return Err(format!(
            "{shown}: {} is not in the manifest: the bundle was added to",
            extra.name
        ));
    }
    Ok(manifest)
}
