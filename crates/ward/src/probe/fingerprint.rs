//! Fingerprints as data: technology-detection templates in the style of Nuclei's (YAML: `id`,
//! `info` with `metadata.vendor`/`product` or `classification.cpe`, `http` requests of `method:
//! GET` with `{{BaseURL}}/path`, `word`/`regex`/`status` matchers, `regex` extractors for the
//! version, and the favicon hash form `mmh3(base64_py(body)) == N`).
//!
//! Only what cannot hurt a service is read: a template with raw requests, a request body,
//! payloads, a method other than GET, placeholders other than `{{BaseURL}}`, out-of-band
//! interaction (`interactsh`) or a tag that marks an attack (`rce`, `sqli`, `intrusive`, …) is
//! refused with the reason — Ward fingerprints, it never exploits. Nothing in a template is
//! evaluated: matchers are data compared with the response; a `dsl` matcher is accepted only
//! in the favicon-hash form, read by a pattern, not by an expression evaluator.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

/// Tags that mark a template as an attack rather than a detection.
const ATTACK_TAGS: &[&str] = &[
    "rce",
    "sqli",
    "xss",
    "lfi",
    "rfi",
    "ssrf",
    "ssti",
    "xxe",
    "intrusive",
    "fuzz",
    "dos",
    "oast",
    "deserialization",
    "injection",
    "traversal",
    "bypass",
    "auth-bypass",
    "exploit",
];

/// At most this many requests per template, and bytes of a template file.
const MAX_PATHS: usize = 8;
pub(crate) const MAX_TEMPLATE_BYTES: usize = 64 << 10;

#[derive(Deserialize)]
struct Template {
    id: String,
    info: Info,
    #[serde(default)]
    http: Vec<Request>,
    #[serde(default)]
    requests: Vec<Request>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Info {
    name: String,
    #[serde(default)]
    tags: Option<serde_json::Value>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    classification: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Vec<String>,
    #[serde(default)]
    raw: Vec<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    payloads: Option<serde_json::Value>,
    #[serde(default, rename = "matchers-condition")]
    matchers_condition: Option<String>,
    #[serde(default)]
    matchers: Vec<MatcherSpec>,
    #[serde(default)]
    extractors: Vec<ExtractorSpec>,
}

#[derive(Deserialize)]
struct MatcherSpec {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    part: Option<String>,
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    regex: Vec<String>,
    #[serde(default)]
    status: Vec<u16>,
    #[serde(default)]
    dsl: Vec<String>,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    negative: bool,
    #[serde(default, rename = "case-insensitive")]
    case_insensitive: bool,
}

#[derive(Deserialize)]
struct ExtractorSpec {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    part: Option<String>,
    #[serde(default)]
    regex: Vec<String>,
    #[serde(default)]
    group: Option<usize>,
}

/// Which part of a response a matcher reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Body,
    Header,
    All,
}

#[derive(Debug)]
enum Test {
    Words {
        words: Vec<String>,
        all: bool,
        fold: bool,
    },
    Regex {
        regex: Vec<Regex>,
        all: bool,
    },
    Status(Vec<u16>),
    /// `mmh3(base64_py(body)) == N`: the body's favicon hash.
    FaviconHash(i32),
}

#[derive(Debug)]
struct Matcher {
    part: Part,
    test: Test,
    negative: bool,
}

/// A compiled fingerprint.
#[derive(Debug)]
pub(crate) struct Fingerprint {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) vendor: Option<String>,
    pub(crate) product: Option<String>,
    pub(crate) cpe: Option<String>,
    /// Paths to GET, each beginning with `/`.
    pub(crate) paths: Vec<String>,
    matchers: Vec<Matcher>,
    all: bool,
    extractors: Vec<(Part, Regex, usize)>,
}

/// A response as the matchers see it.
pub(crate) struct Response<'a> {
    pub(crate) status: u16,
    /// Header lines, `Name: value`, one per line.
    pub(crate) headers: &'a str,
    pub(crate) body: &'a [u8],
}

impl Response<'_> {
    fn part(&self, part: Part) -> String {
        let body = String::from_utf8_lossy(self.body);
        match part {
            Part::Body => body.into_owned(),
            Part::Header => self.headers.to_owned(),
            Part::All => format!("{}\n{body}", self.headers),
        }
    }
}

fn part(p: Option<&str>) -> Result<Part, String> {
    match p.unwrap_or("body") {
        "body" => Ok(Part::Body),
        "header" | "all_headers" => Ok(Part::Header),
        "all" | "response" | "raw" => Ok(Part::All),
        other => Err(format!(
            "matcher part `{other}` is not one Ward reads (body, header, all)"
        )),
    }
}

fn all_of(condition: Option<&str>) -> Result<bool, String> {
    match condition.unwrap_or("or") {
        "and" => Ok(true),
        "or" => Ok(false),
        other => Err(format!("condition `{other}` is neither and nor or")),
    }
}

/// `mmh3(base64_py(body)) == 362091310` or `"362091310" == mmh3(base64_py(body))`, spaces
/// aside: the favicon-hash form, the one `dsl` Ward reads.
fn favicon_hash(dsl: &str) -> Option<i32> {
    let compact: String = dsl.chars().filter(|c| !c.is_whitespace()).collect();
    let call = "mmh3(base64_py(body))";
    let (a, b) = compact.split_once("==")?;
    let number = if a == call {
        b
    } else if b == call {
        a
    } else {
        return None;
    };
    number.trim_matches('"').trim_matches('\'').parse().ok()
}

impl Fingerprint {
    /// Reads one template (`file` names it in errors); refuses anything that is not a safe
    /// detection, saying why.
    pub(crate) fn parse(file: &str, text: &str) -> Result<Self, String> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(format!("{file}: larger than {MAX_TEMPLATE_BYTES} bytes"));
        }
        let t: Template = serde_saphyr::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let refused = |why: &str| format!("{file}: template {}: {why}; not used", t.id);
        for key in [
            "tcp",
            "network",
            "dns",
            "file",
            "headless",
            "code",
            "javascript",
            "ssl",
            "websocket",
            "whois",
            "flow",
            "workflows",
        ] {
            if t.other.contains_key(key) {
                return Err(refused(&format!("`{key}` requests are not safe HTTP GETs")));
            }
        }
        let tags: Vec<String> = match &t.info.tags {
            Some(serde_json::Value::String(s)) => s
                .split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .collect(),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str())
                .map(str::to_ascii_lowercase)
                .collect(),
            _ => Vec::new(),
        };
        if let Some(tag) = tags.iter().find(|t| ATTACK_TAGS.contains(&t.as_str())) {
            return Err(refused(&format!(
                "tagged `{tag}`: an attack, not a detection"
            )));
        }
        let requests: Vec<&Request> = t.http.iter().chain(&t.requests).collect();
        let [request] = requests[..] else {
            return Err(refused(
                "Ward reads templates with exactly one HTTP request block",
            ));
        };
        if !request.raw.is_empty() {
            return Err(refused("raw requests"));
        }
        if request.body.is_some() || request.payloads.is_some() {
            return Err(refused("a request body or payloads"));
        }
        if !request
            .method
            .as_deref()
            .unwrap_or("GET")
            .eq_ignore_ascii_case("GET")
        {
            return Err(refused("a method other than GET"));
        }
        let mut paths = Vec::new();
        for p in &request.path {
            let Some(rest) = p.strip_prefix("{{BaseURL}}") else {
                return Err(refused(&format!(
                    "path `{p}` does not start with {{{{BaseURL}}}}"
                )));
            };
            if rest.contains("{{") {
                return Err(refused(&format!("path `{p}` has placeholders")));
            }
            let rest = if rest.is_empty() { "/" } else { rest };
            if !rest.starts_with('/') || rest.chars().any(|c| c.is_control() || c == ' ') {
                return Err(refused(&format!("path `{p}` is not a plain path")));
            }
            paths.push(rest.to_owned());
        }
        if paths.is_empty() || paths.len() > MAX_PATHS {
            return Err(refused(&format!("between 1 and {MAX_PATHS} paths")));
        }
        let mut matchers = Vec::new();
        for m in &request.matchers {
            let p = part(m.part.as_deref()).map_err(|e| refused(&e))?;
            let all = all_of(m.condition.as_deref()).map_err(|e| refused(&e))?;
            let test = match m.kind.as_str() {
                "word" if !m.words.is_empty() => Test::Words {
                    words: if m.case_insensitive {
                        m.words.iter().map(|w| w.to_lowercase()).collect()
                    } else {
                        m.words.clone()
                    },
                    all,
                    fold: m.case_insensitive,
                },
                "regex" if !m.regex.is_empty() => Test::Regex {
                    regex: m
                        .regex
                        .iter()
                        .map(|r| Regex::new(r).map_err(|e| format!("{file}: regex `{r}`: {e}")))
                        .collect::<Result<_, _>>()?,
                    all,
                },
                "status" if !m.status.is_empty() => Test::Status(m.status.clone()),
                "dsl" => match &m.dsl[..] {
                    [one] => match favicon_hash(one) {
                        Some(h) => Test::FaviconHash(h),
                        None => {
                            return Err(refused(&format!(
                                "dsl `{one}`: Ward reads only the favicon hash form"
                            )));
                        }
                    },
                    _ => return Err(refused("dsl matchers other than one favicon hash")),
                },
                other => {
                    return Err(refused(&format!(
                        "matcher type `{other}` (or an empty one)"
                    )));
                }
            };
            matchers.push(Matcher {
                part: p,
                test,
                negative: m.negative,
            });
        }
        if matchers.is_empty() {
            return Err(refused("no matchers"));
        }
        let mut extractors = Vec::new();
        for x in &request.extractors {
            if x.kind != "regex" {
                return Err(refused(&format!("extractor type `{}`", x.kind)));
            }
            let p = part(x.part.as_deref()).map_err(|e| refused(&e))?;
            for r in &x.regex {
                let re = Regex::new(r).map_err(|e| format!("{file}: regex `{r}`: {e}"))?;
                extractors.push((p, re, x.group.unwrap_or(0)));
            }
        }
        let text_of = |m: &BTreeMap<String, serde_json::Value>, k: &str| {
            m.get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        Ok(Self {
            id: t.id.clone(),
            name: t.info.name.clone(),
            vendor: text_of(&t.info.metadata, "vendor"),
            product: text_of(&t.info.metadata, "product"),
            cpe: text_of(&t.info.classification, "cpe"),
            paths,
            all: all_of(request.matchers_condition.as_deref()).map_err(|e| refused(&e))?,
            matchers,
            extractors,
        })
    }

    /// Whether the response is the product's, and the version it shows (the first extractor
    /// that finds one).
    pub(crate) fn check(&self, response: &Response<'_>) -> Option<Option<String>> {
        let hit = |m: &Matcher| {
            let r = match &m.test {
                Test::Status(codes) => codes.contains(&response.status),
                Test::FaviconHash(h) => favicon_mmh3(response.body) == *h,
                Test::Words { words, all, fold } => {
                    let mut text = response.part(m.part);
                    if *fold {
                        text = text.to_lowercase();
                    }
                    if *all {
                        words.iter().all(|w| text.contains(w.as_str()))
                    } else {
                        words.iter().any(|w| text.contains(w.as_str()))
                    }
                }
                Test::Regex { regex, all } => {
                    let text = response.part(m.part);
                    if *all {
                        regex.iter().all(|r| r.is_match(&text))
                    } else {
                        regex.iter().any(|r| r.is_match(&text))
                    }
                }
            };
            r != m.negative
        };
        let matched = if self.all {
            self.matchers.iter().all(hit)
        } else {
            self.matchers.iter().any(hit)
        };
        if !matched {
            return None;
        }
        let version = self.extractors.iter().find_map(|(p, re, group)| {
            let text = response.part(*p);
            re.captures(&text)
                .and_then(|c| c.get(*group))
                .map(|m| m.as_str().to_owned())
        });
        Some(version)
    }
}

/// The favicon hash internet search engines index by: MurmurHash3 (x86, 32-bit, seed 0, as a
/// signed integer) of the body in base64 with a newline every 76 characters and at the end
/// (Python's `base64.encodebytes`), as Shodan and Nuclei compute it.
pub(crate) fn favicon_mmh3(body: &[u8]) -> i32 {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let mut text = Vec::with_capacity(b64.len() + b64.len() / 76 + 1);
    for chunk in b64.as_bytes().chunks(76) {
        text.extend_from_slice(chunk);
        text.push(b'\n');
    }
    murmur3_32(&text, 0) as i32
}

/// MurmurHash3 x86_32 (Austin Appleby's reference, public domain). Own code: a dozen lines,
/// and the crates that offer it are unmaintained.
fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Ward's own fingerprints, compiled in.
pub(crate) const BUILT_IN: &[(&str, &str)] = &[
    (
        "ivanti-epmm.yaml",
        include_str!("../../fingerprints/ivanti-epmm.yaml"),
    ),
    (
        "ivanti-connect-secure.yaml",
        include_str!("../../fingerprints/ivanti-connect-secure.yaml"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_agrees_with_pythons_mmh3() {
        // Values from Python's mmh3.hash (signed), the library Shodan's favicon hash uses.
        assert_eq!(murmur3_32(b"foo", 0) as i32, -156_908_512);
        assert_eq!(murmur3_32(b"hello", 0) as i32, 613_153_351);
        assert_eq!(murmur3_32(b"", 0) as i32, 0);
        assert_eq!(murmur3_32(b"abc", 0) as i32, -1_277_324_294);
        assert_eq!(murmur3_32(b"abcd", 0) as i32, 1_139_631_978);
        assert_eq!(murmur3_32(b"abcde", 0) as i32, -392_455_434);
        // mmh3.hash(base64.encodebytes(bytes(range(256)) * 3)): three lines of 76 and a tail.
        let body: Vec<u8> = (0..3).flat_map(|_| 0..=255u8).collect();
        assert_eq!(favicon_mmh3(&body), 1_836_528_006);
    }

    #[test]
    fn wards_epmm_fingerprint_reads_the_version_from_the_login_page() {
        let (file, text) = BUILT_IN[0];
        let f = Fingerprint::parse(file, text).unwrap();
        assert_eq!(f.paths, ["/mifs/user/login.jsp", "/mifs/login.jsp"]);
        assert_eq!(f.product.as_deref(), Some("endpoint_manager_mobile"));
        let page = br#"<html><title>Ivanti User Portal</title><link href="/mifs/css/login.css?12.5.0.0"></html>"#;
        let ok = Response {
            status: 200,
            headers: "server: Apache",
            body: page,
        };
        assert_eq!(f.check(&ok), Some(Some("12.5.0.0".into())));
        assert_eq!(f.check(&Response { status: 404, ..ok }), None);
        let other = Response {
            status: 200,
            headers: "",
            body: b"<title>Welcome to nginx</title>",
        };
        assert_eq!(f.check(&other), None);
    }

    #[test]
    fn nucleis_panel_template_loads_and_its_exploits_are_refused() {
        let Some(dir) = ward_testdata::shared("detection/nuclei/epmm") else {
            return;
        };
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
        let login =
            Fingerprint::parse("mobileiron-login.yaml", &read("mobileiron-login.yaml")).unwrap();
        assert_eq!(login.paths.len(), 3);
        let page = b"<title>MobileIron User Portal</title>";
        assert_eq!(
            login.check(&Response {
                status: 200,
                headers: "",
                body: page
            }),
            Some(None)
        );
        // Every CVE template in the set is an exploit: raw requests, attack tags, interactsh.
        for n in [
            "CVE-2025-4427.yaml",
            "CVE-2023-35078.yaml",
            "CVE-2023-35082.yaml",
            "CVE-2026-1281.yaml",
            "CVE-2020-15505.yaml",
        ] {
            let e = Fingerprint::parse(n, &read(n)).unwrap_err();
            assert!(e.contains("not used"), "{n}: {e}");
        }
    }

    #[test]
    fn unsafe_and_unreadable_templates_are_refused_with_the_reason() {
        let base = |http: &str| format!("id: t\ninfo:\n  name: T\n  tags: panel\nhttp:\n{http}");
        let cases = [
            (
                "  - method: POST\n    path: ['{{BaseURL}}/x']\n    matchers: [{type: status, status: [200]}]\n",
                "GET",
            ),
            (
                "  - raw: ['GET / HTTP/1.1']\n    matchers: [{type: status, status: [200]}]\n",
                "raw",
            ),
            (
                "  - path: ['{{BaseURL}}/{{randstr}}']\n    matchers: [{type: status, status: [200]}]\n",
                "placeholders",
            ),
            (
                "  - path: ['http://203.0.113.1/x']\n    matchers: [{type: status, status: [200]}]\n",
                "BaseURL",
            ),
            (
                "  - path: ['{{BaseURL}}/x']\n    matchers: [{type: dsl, dsl: ['contains(body, \"x\")']}]\n",
                "favicon",
            ),
            (
                "  - path: ['{{BaseURL}}/x']\n    matchers: [{type: word, part: interactsh_protocol, words: [dns]}]\n",
                "interactsh_protocol",
            ),
            (
                "  - path: ['{{BaseURL}}/x']\n    body: 'a=1'\n    matchers: [{type: status, status: [200]}]\n",
                "body",
            ),
        ];
        for (http, why) in cases {
            let e = Fingerprint::parse("t.yaml", &base(http)).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
        let e = Fingerprint::parse(
            "t.yaml",
            "id: t\ninfo: {name: T, tags: 'cve,rce'}\nhttp: []\n",
        )
        .unwrap_err();
        assert!(e.contains("rce"), "{e}");
        assert!(
            Fingerprint::parse("t.yaml", "id: [")
                .unwrap_err()
                .starts_with("t.yaml:")
        );
        let f = Fingerprint::parse(
            "t.yaml",
            &base("  - path: ['{{BaseURL}}/favicon.ico']\n    matchers: [{type: dsl, dsl: ['\"1836528006\" == mmh3(base64_py(body))']}]\n"),
        )
        .unwrap();
        let body: Vec<u8> = (0..3).flat_map(|_| 0..=255u8).collect();
        assert_eq!(
            f.check(&Response {
                status: 200,
                headers: "",
                body: &body
            }),
            Some(None)
        );
    }
}
