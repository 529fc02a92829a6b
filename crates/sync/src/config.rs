//! The feeds file (a contract: scripts and operators write it):
//!
//! ```toml
//! ca_file = "/etc/ssl/proxy-ca.pem"   # optional: trust a TLS-inspecting proxy's CA too
//!
//! [[source]]
//! name = "kev"                  # unique; defaults to kind
//! kind = "kev"                  # kev | epss | nvd | cve5 | vulnrichment | osv | csaf | stix
//! url = "https://…"             # the publisher's URL (or a mirror)
//! every = "15m"                 # polling interval
//! # ecosystems = ["PyPI", "Go"] for osv; api_key_env = "NVD_API_KEY" for nvd
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// Which publisher's interface a source speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// CISA KEV JSON (`known_exploited_vulnerabilities.json`): the whole catalogue each time.
    Kev,
    /// FIRST EPSS daily CSV (`epss_scores-current.csv.gz`).
    Epss,
    /// NVD CVE API 2.0 (`/rest/json/cves/2.0`), by last-modified windows and pages.
    Nvd,
    /// CVE List V5 (CVEProject/cvelistV5 layout): a baseline archive, then `deltaLog.json`.
    Cve5,
    /// CISA Vulnrichment, in the CVE List V5 layout (ADP containers).
    Vulnrichment,
    /// OSV's bucket per ecosystem: `all.zip`, then `modified_id.csv`.
    Osv,
    /// A CSAF 2.0 provider (`provider-metadata.json`): its directory (`changes.csv`) or ROLIE
    /// feeds, each document's hash and OpenPGP signature checked.
    Csaf,
    /// A STIX 2.1 bundle at a URL (a threat-intelligence provider's indicators and Sigma rules
    /// as indicators): fetched when it changed, its objects added to a TAXII collection
    /// (`collection`) that members pull.
    Stix,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kev => "kev",
            Self::Epss => "epss",
            Self::Nvd => "nvd",
            Self::Cve5 => "cve5",
            Self::Vulnrichment => "vulnrichment",
            Self::Osv => "osv",
            Self::Csaf => "csaf",
            Self::Stix => "stix",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    ca_file: Option<PathBuf>,
    #[serde(default)]
    source: Vec<SourceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    name: Option<String>,
    kind: Kind,
    url: String,
    every: Option<String>,
    #[serde(default)]
    ecosystems: Vec<String>,
    api_key_env: Option<String>,
    /// cve5, vulnrichment: an archive of every record for the first load.
    baseline: Option<String>,
    /// nvd: where the first load starts (RFC 3339; default: 120 days ago).
    since: Option<String>,
    /// nvd: the longest `lastModStartDate`–`lastModEndDate` window (at most 120 days).
    window_days: Option<u32>,
    /// nvd: requests per rolling 30 seconds (NVD: 5 without a key, 50 with one).
    requests_per_30s: Option<u32>,
    /// The largest download accepted, in bytes (default 4 GiB).
    max_bytes: Option<u64>,
    /// How long a request may stall before it is retried (default "60s").
    timeout: Option<String>,
    /// How many times a request is tried (default 5).
    attempts: Option<u32>,
    /// stix: the TAXII collection (its id) the bundle's objects are added to.
    collection: Option<String>,
}

/// One configured source, checked.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: Kind,
    pub url: Url,
    pub every: Duration,
    pub ecosystems: Vec<String>,
    pub api_key_env: Option<String>,
    pub baseline: Option<Url>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub window_days: u32,
    pub requests_per_30s: Option<u32>,
    pub max_bytes: u64,
    pub timeout: Duration,
    pub attempts: u32,
    /// stix: the TAXII collection the objects go to.
    pub collection: Option<String>,
}

/// The feeds file, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub ca_file: Option<PathBuf>,
    pub sources: Vec<Source>,
}

/// What is wrong with a feeds file: the file, the source and the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

/// `15m`, `30s`, `6h`, `1d`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?}: give a unit (s, m, h or d)"))?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?}: not a number of s, m, h or d"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    if seconds == 0 {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Ok(Duration::from_secs(seconds))
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError {
            file: file.to_owned(),
            message,
        };
        let raw: File = toml::from_str(text).map_err(|e| err(e.to_string().trim().to_owned()))?;
        let mut sources: Vec<Source> = Vec::new();
        for (i, s) in raw.source.into_iter().enumerate() {
            let name = s.name.clone().unwrap_or_else(|| s.kind.as_str().to_owned());
            let at = |field: &str, message: String| {
                err(format!("source {} ({name}), {field}: {message}", i + 1))
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(at(
                    "name",
                    format!("{name:?}: letters, digits, '-', '_' and '.' only"),
                ));
            }
            if sources.iter().any(|o| o.name == name) {
                return Err(at(
                    "name",
                    "another source has this name (give each a name)".into(),
                ));
            }
            let web = |field: &str, text: &str| -> Result<Url, ConfigError> {
                let url = Url::parse(text).map_err(|e| at(field, format!("{text:?}: {e}")))?;
                if !matches!(url.scheme(), "https" | "http") {
                    return Err(at(field, format!("{text:?}: only http and https")));
                }
                Ok(url)
            };
            let url = web("url", &s.url)?;
            let baseline = s
                .baseline
                .as_deref()
                .map(|b| web("baseline", b))
                .transpose()?;
            let every = duration(s.every.as_deref().unwrap_or(match s.kind {
                Kind::Kev => "15m",
                Kind::Nvd => "2h",
                Kind::Csaf | Kind::Stix => "1h",
                _ => "1d",
            }))
            .map_err(|e| at("every", e))?;
            let timeout =
                duration(s.timeout.as_deref().unwrap_or("60s")).map_err(|e| at("timeout", e))?;
            if s.kind == Kind::Osv && s.ecosystems.is_empty() {
                return Err(at(
                    "ecosystems",
                    "name the OSV ecosystems to follow, e.g. [\"PyPI\", \"Go\"]".into(),
                ));
            }
            if s.kind != Kind::Osv && !s.ecosystems.is_empty() {
                return Err(at("ecosystems", "only osv sources have ecosystems".into()));
            }
            if let Some(e) = s
                .ecosystems
                .iter()
                .find(|e| e.is_empty() || e.contains(['/', '\\', '?', '#']) || e.starts_with('.'))
            {
                return Err(at("ecosystems", format!("{e:?} is not an ecosystem name")));
            }
            match (s.kind, &s.collection) {
                (Kind::Stix, None) => {
                    return Err(at(
                        "collection",
                        "name the TAXII collection (its id) the bundle's objects go to".into(),
                    ));
                }
                (Kind::Stix, Some(_)) | (_, None) => {}
                (_, Some(_)) => {
                    return Err(at(
                        "collection",
                        "only stix sources have a collection".into(),
                    ));
                }
            }
            let window_days = s.window_days.unwrap_or(120);
            if !(1..=120).contains(&window_days) {
                return Err(at(
                    "window_days",
                    "NVD allows windows of 1 to 120 days".into(),
                ));
            }
            let since = s
                .since
                .as_deref()
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map(|d| d.with_timezone(&chrono::Utc))
                        .map_err(|e| at("since", format!("{t:?}: {e}")))
                })
                .transpose()?;
            sources.push(Source {
                name,
                kind: s.kind,
                url,
                every,
                ecosystems: s.ecosystems,
                api_key_env: s
                    .api_key_env
                    .or_else(|| (s.kind == Kind::Nvd).then(|| "NVD_API_KEY".to_owned())),
                baseline,
                since,
                window_days,
                requests_per_30s: s.requests_per_30s,
                max_bytes: s.max_bytes.unwrap_or(4 << 30),
                timeout,
                attempts: s.attempts.unwrap_or(5).clamp(1, 20),
                collection: s.collection,
            });
        }
        Ok(Self {
            ca_file: raw.ca_file,
            sources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_example_loads() {
        let c = Config::parse(
            "feeds.toml",
            "[[source]]\nname = \"kev\"\nkind = \"kev\"\nurl = \"https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json\"\nevery = \"15m\"\n\n\
             [[source]]\nkind = \"osv\"\nurl = \"https://osv-vulnerabilities.storage.googleapis.com\"\necosystems = [\"PyPI\", \"Go\"]\n\n\
             [[source]]\nkind = \"nvd\"\nurl = \"https://services.nvd.nist.gov/rest/json/cves/2.0\"\napi_key_env = \"NVD_API_KEY\"\n",
        )
        .unwrap();
        assert_eq!(c.sources.len(), 3);
        assert_eq!(c.sources[0].every, Duration::from_secs(900));
        assert_eq!(c.sources[1].name, "osv");
        assert_eq!(c.sources[2].api_key_env.as_deref(), Some("NVD_API_KEY"));
    }

    #[test]
    fn mistakes_name_the_file_source_and_field() {
        for (text, want) in [
            (
                "[[source]]\nkind = \"kev\"\nurl = \"ftp://x\"\n",
                "source 1 (kev), url: \"ftp://x\": only http and https",
            ),
            (
                "[[source]]\nkind = \"kev\"\nurl = \"https://x\"\nevery = \"15 minutes\"\n",
                "source 1 (kev), every",
            ),
            (
                "[[source]]\nkind = \"osv\"\nurl = \"https://x\"\n",
                "source 1 (osv), ecosystems",
            ),
            (
                "[[source]]\nkind = \"kev\"\nurl = \"https://x\"\n[[source]]\nkind = \"kev\"\nurl = \"https://y\"\n",
                "source 2 (kev), name",
            ),
            (
                "[[source]]\nkind = \"nvd\"\nurl = \"https://x\"\nwindow_days = 365\n",
                "window_days",
            ),
            (
                "[[source]]\nkind = \"rss\"\nurl = \"https://x\"\n",
                "unknown variant `rss`",
            ),
            (
                "[[source]]\nkind = \"kev\"\nurl = \"https://x\"\ncolour = 1\n",
                "unknown field `colour`",
            ),
        ] {
            let e = Config::parse("feeds.toml", text).unwrap_err().to_string();
            assert!(e.starts_with("feeds.toml: ") && e.contains(want), "{e}");
        }
    }
}
