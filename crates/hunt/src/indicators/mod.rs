//! Indicators of compromise: STIX 2.1 indicator patterns and plain lists (IPs and CIDRs, domains,
//! URLs, file hashes), compiled together into one matcher.
//!
//! Each `[ … ]` observation of a pattern is a *leaf*. A record reaches a leaf's full evaluation
//! only through an *anchor*: an exact value (hash map), an address range (prefix trie) or a
//! pattern (one `RegexSet` per kind of value) that must hold for the leaf to hold. Leaves without
//! an anchor (negations, `<`, `EXISTS`) are evaluated on every record; there are few in practice.
//! Patterns of several observations (`AND`, `OR`, `FOLLOWEDBY`, qualifiers) are decided at the end
//! of the hunt from the leaves' sightings.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Utc};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use regex::{Regex, RegexSet};

use crate::logs::{FieldName, Record};
use crate::stix::{self, Comparison, Literal, ObjectPath, Observation, Op, Qualifier, Test};

/// The hasher of the maps a record's values are looked up in, millions of times a hunt.
type Fast = foldhash::fast::RandomState;

/// A record's values for a source, with the field each came from; inline, as most records
/// give a source one or two values (borrowed from the line where they can be).
pub(crate) type Values<'r> = smallvec::SmallVec<[(Cow<'r, str>, Cow<'r, str>); 4]>;

/// What a STIX object path stands for in a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Any IPv4 address in the record (`ipv4-addr:value`).
    Ipv4,
    /// Any IPv6 address in the record (`ipv6-addr:value`).
    Ipv6,
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
    Domain,
    Url,
    /// A file hash; the algorithm is checked by length (MD5 32, SHA-1 40, SHA-256 64, SHA-512 128).
    Hash,
    Method,
    UserAgent,
    RequestTarget,
    User,
    CommandLine,
    Process,
    /// A path no log format Ward reads carries (`file:name`, `x509-certificate:…`): never seen.
    Unmapped,
}

impl Source {
    pub fn of(path: &ObjectPath) -> Self {
        let steps: Vec<&str> = path.steps.iter().map(String::as_str).collect();
        match (path.object.as_str(), steps.as_slice()) {
            ("ipv4-addr", ["value"]) => Self::Ipv4,
            ("ipv6-addr", ["value"]) => Self::Ipv6,
            ("network-traffic", ["src_ref", "value"]) => Self::SrcIp,
            ("network-traffic", ["dst_ref", "value"]) => Self::DstIp,
            ("network-traffic", ["src_port"]) => Self::SrcPort,
            ("network-traffic", ["dst_port"]) => Self::DstPort,
            ("domain-name", ["value"]) => Self::Domain,
            ("url", ["value"]) => Self::Url,
            ("file" | "artifact", ["hashes", _]) => Self::Hash,
            ("network-traffic", ["extensions", "http-request-ext", rest @ ..]) => match rest {
                ["request_method"] => Self::Method,
                ["request_value"] => Self::RequestTarget,
                ["request_header", h] if h.eq_ignore_ascii_case("user-agent") => Self::UserAgent,
                ["request_header", h] if h.eq_ignore_ascii_case("host") => Self::Domain,
                _ => Self::Unmapped,
            },
            ("user-account", ["user_id" | "account_login"]) => Self::User,
            ("process", ["command_line"]) => Self::CommandLine,
            ("process", ["name"]) => Self::Process,
            _ => Self::Unmapped,
        }
    }

    /// Case does not matter for these values (DNS names, hex digests, HTTP methods).
    fn case_insensitive(self) -> bool {
        matches!(self, Self::Domain | Self::Hash | Self::Method)
    }

    fn is_ip(self) -> bool {
        matches!(self, Self::Ipv4 | Self::Ipv6 | Self::SrcIp | Self::DstIp)
    }

    /// The record's values for this source, with the field each came from.
    fn values<'r>(self, record: &'r Record<'_>, out: &mut Values<'r>) {
        self.values_read(record, out, true);
    }

    /// [`Self::values`]; for `Ipv4` and `Ipv6`, with `filter` false, the candidates before
    /// they are read as addresses of the family (for a caller that reads them anyway).
    fn values_read<'r>(self, record: &'r Record<'_>, out: &mut Values<'r>, filter: bool) {
        // Names resolved at compile time: a record is asked for a few dozen fields.
        macro_rules! names {
            ($($n:literal),* $(,)?) => {{
                const NAMES: &[FieldName] = &[$(FieldName::new($n)),*];
                NAMES
            }};
        }
        const SRC: &[FieldName] = names!["c-ip", "source.ip", "client.ip", "src_ip", "SourceIp"];
        const DST: &[FieldName] = names!["dst_ip", "destination.ip", "server.ip", "DestinationIp"];
        let fields = |names: &[FieldName], out: &mut Values<'r>| {
            for n in names {
                if let Some(v) = record.get_named(n) {
                    out.push((Cow::Borrowed(n.name), v));
                }
            }
        };
        match self {
            Self::SrcIp => fields(SRC, out),
            Self::DstIp => fields(DST, out),
            Self::Ipv4 | Self::Ipv6 => {
                let start = out.len();
                fields(SRC, out);
                fields(DST, out);
                fields(names!["ip", "host.ip"], out);
                // Addresses inside a syslog message ("Failed password for root from 203.0.113.9").
                const MESSAGE: FieldName = FieldName::new("message");
                if let Some(msg) = record.get_named(&MESSAGE) {
                    let mut found = Vec::new();
                    for word in
                        msg.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
                    {
                        let word = word.trim_matches(|c| c == '.' || c == ':');
                        if word.len() >= 7 && word.parse::<IpAddr>().is_ok() {
                            found.push(word.to_owned());
                        }
                    }
                    out.extend(
                        found
                            .into_iter()
                            .map(|w| (Cow::Borrowed("message"), Cow::Owned(w))),
                    );
                }
                if !filter {
                    return;
                }
                let v4 = self == Self::Ipv4;
                let mut i = start;
                while i < out.len() {
                    if out[i]
                        .1
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| ip.is_ipv4() == v4)
                    {
                        i += 1;
                    } else {
                        out.swap_remove(i);
                    }
                }
            }
            Self::SrcPort => fields(names!["source.port", "src_port", "SourcePort"], out),
            Self::DstPort => fields(
                names!["destination.port", "dst_port", "DestinationPort"],
                out,
            ),
            Self::Domain => fields(
                names![
                    "cs-host",
                    "url.domain",
                    "destination.domain",
                    "dns.question.name",
                    "QueryName",
                ],
                out,
            ),
            Self::Url => {
                fields(names!["url.full", "url.original"], out);
                const URI: FieldName = FieldName::new("c-uri");
                const HOST: FieldName = FieldName::new("cs-host");
                if let Some(uri) = record.get_named(&URI) {
                    if uri.contains("://") {
                        out.push((Cow::Borrowed("c-uri"), uri));
                    } else if let Some(host) = record.get_named(&HOST) {
                        for scheme in ["http", "https"] {
                            out.push((
                                Cow::Borrowed("c-uri"),
                                Cow::Owned(format!("{scheme}://{host}{uri}")),
                            ));
                        }
                    }
                }
            }
            // Digests come from structured events (EDR, Sysmon as JSON); a line-oriented log
            // names no such field.
            Self::Hash if record.is_flat() => {}
            Self::Hash => {
                record.for_each_field(&mut |k, v| {
                    let is_digest_field = k
                        .as_bytes()
                        .windows(4)
                        .any(|w| w.eq_ignore_ascii_case(b"hash"))
                        || ["md5", "sha1", "sha256", "sha512"]
                            .iter()
                            .any(|n| k.eq_ignore_ascii_case(n));
                    if is_digest_field {
                        // Sysmon's `Hashes`: "SHA1=…,MD5=…,SHA256=…".
                        for part in v.split(',') {
                            let digest = part.rsplit('=').next().unwrap_or(part).trim();
                            if is_hex_digest(digest) {
                                out.push((Cow::Owned(k.to_owned()), Cow::Owned(digest.to_owned())));
                            }
                        }
                    }
                });
            }
            Self::Method => fields(names!["cs-method"], out),
            Self::UserAgent => fields(names!["cs-user-agent"], out),
            Self::RequestTarget => fields(names!["cs-uri"], out),
            Self::User => fields(names!["cs-username", "user.name", "User"], out),
            Self::CommandLine => fields(names!["CommandLine", "process.command_line"], out),
            Self::Process => fields(names!["Image", "process.executable", "process.name"], out),
            Self::Unmapped => {}
        }
    }
}

mod compile;
mod observations;

use compile::*;
use observations::*;

/// One indicator, as loaded.
#[derive(Debug, Clone)]
pub struct IndicatorInfo {
    pub id: String,
    pub title: String,
    pub file: String,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// `Observation` tree whose `Single`s are numbered leaves (in order of appearance).
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Leaf(usize, Vec<Qualifier>),
    And(Vec<Self>, Vec<Qualifier>),
    Or(Vec<Self>, Vec<Qualifier>),
    FollowedBy(Vec<Self>, Vec<Qualifier>),
}

impl IndicatorInfo {
    /// A lone observation without qualifiers: each matching record is a sighting.
    fn simple(&self) -> Option<usize> {
        match &self.shape {
            Shape::Leaf(l, q) if q.is_empty() => Some(*l),
            _ => None,
        }
    }
}

struct Leaf {
    indicator: u32,
    node: Node,
}

/// An indicator that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: String,
    /// Line (plain lists) or object index (STIX), 1-based for lines.
    pub location: String,
    pub message: String,
}

/// Every indicator, compiled for matching.
#[derive(Default)]
pub struct IndicatorSet {
    pub indicators: Vec<IndicatorInfo>,
    leaves: Vec<Leaf>,
    /// Per source some anchor needs (each source's values read once per record), what the
    /// anchors on it index.
    sources: Vec<Anchored>,
    /// Leaves with no anchor.
    always: Vec<u32>,
    pub problems: Vec<Problem>,
    /// Indicators whose every observation needs a value no log carries.
    pub unobservable: usize,
}

/// The anchors on one source, indexed. Found by position (the sources of a set are few), not
/// by hashing the source once per record for each kind of anchor.
struct Anchored {
    source: Source,
    /// Exact values; foldhash, as a record looks up each of its values.
    equals: HashMap<String, Vec<u32>, Fast>,
    /// IPv4 addresses and ranges.
    v4: V4Index,
    v6: PrefixMap<Ipv6Net, Vec<u32>>,
    /// The patterns as a set, the leaf of each, and (when every pattern requires some text) a
    /// search for that text, which a value must pass before the set is run.
    patterns: Option<(RegexSet, Vec<u32>, Option<aho_corasick::AhoCorasick>)>,
    /// Patterns added, built into `patterns` by `finish`.
    pending: Vec<(String, u32)>,
}

impl Anchored {
    fn new(source: Source) -> Self {
        Self {
            source,
            equals: HashMap::default(),
            v4: V4Index::default(),
            v6: PrefixMap::new(),
            patterns: None,
            pending: Vec::new(),
        }
    }
}

/// One leaf's sighting, kept for patterns decided at the end.
#[derive(Debug, Clone)]
pub struct LeafHit {
    pub leaf: u32,
    pub file: usize,
    pub line: u64,
    pub timestamp: Option<DateTime<Utc>>,
    pub matched: Vec<(String, String)>,
    pub evidence: crate::hunt::Evidence,
}

impl IndicatorSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// Adds a STIX bundle's indicators. Returns how many were added.
    pub fn add_stix(&mut self, file: &str, json: &[u8]) -> usize {
        let objects = match stix::indicators(json) {
            Ok(o) => o,
            Err(message) => {
                self.problems.push(Problem {
                    file: file.into(),
                    location: "document".into(),
                    message,
                });
                return 0;
            }
        };
        let mut added = 0;
        for (i, object) in objects.into_iter().enumerate() {
            let object = match object {
                Ok(o) => o,
                Err(message) => {
                    self.problems.push(Problem {
                        file: file.into(),
                        location: format!("indicator {}", i + 1),
                        message,
                    });
                    continue;
                }
            };
            let location = format!("indicator {}", object.id);
            if object.revoked {
                continue;
            }
            if object.pattern_type != "stix" {
                self.problems.push(Problem {
                    file: file.into(),
                    location,
                    message: format!(
                        "pattern_type {:?}: only STIX patterns are evaluated",
                        object.pattern_type
                    ),
                });
                continue;
            }
            let pattern = match stix::parse(&object.pattern) {
                Ok(p) => p,
                Err(e) => {
                    self.problems.push(Problem {
                        file: file.into(),
                        location,
                        message: format!("pattern {:?}: {e}", object.pattern),
                    });
                    continue;
                }
            };
            let title = object
                .name
                .clone()
                .unwrap_or_else(|| object.pattern.clone());
            match self.add_pattern(
                object.id.clone(),
                title,
                file,
                &pattern,
                object.valid_from,
                object.valid_until,
            ) {
                Ok(()) => added += 1,
                Err(message) => self.problems.push(Problem {
                    file: file.into(),
                    location,
                    message,
                }),
            }
        }
        added
    }

    /// Adds a parsed pattern as an indicator.
    pub fn add_pattern(
        &mut self,
        id: String,
        title: String,
        file: &str,
        pattern: &Observation,
        valid_from: Option<DateTime<Utc>>,
        valid_until: Option<DateTime<Utc>>,
    ) -> Result<(), String> {
        let index = self.indicators.len() as u32;
        let first_leaf = self.leaves.len();
        let mut new_leaves = Vec::new();
        let shape = self.shape(pattern, index, first_leaf, &mut new_leaves)?;
        let observable = new_leaves
            .iter()
            .any(|l: &Leaf| anchors(&l.node).is_none_or(|a| !a.is_empty()));
        if !observable {
            self.unobservable += 1;
        }
        for leaf in new_leaves {
            let id = self.leaves.len() as u32;
            match anchors(&leaf.node) {
                None => self.always.push(id),
                Some(list) => {
                    for a in list {
                        self.add_anchor(a, id);
                    }
                }
            }
            self.leaves.push(leaf);
        }
        self.indicators.push(IndicatorInfo {
            id,
            title,
            file: file.into(),
            valid_from,
            valid_until,
            shape,
        });
        Ok(())
    }

    fn shape(
        &self,
        obs: &Observation,
        indicator: u32,
        first: usize,
        leaves: &mut Vec<Leaf>,
    ) -> Result<Shape, String> {
        let children = |items: &[Observation], leaves: &mut Vec<Leaf>| {
            items
                .iter()
                .map(|o| self.shape(o, indicator, first, leaves))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match obs {
            Observation::Single(cmp, q) => {
                let mut regexes = Vec::new();
                let node = compile(cmp, &mut regexes)?;
                leaves.push(Leaf { indicator, node });
                Shape::Leaf(first + leaves.len() - 1, q.clone())
            }
            Observation::And(items, q) => Shape::And(children(items, leaves)?, q.clone()),
            Observation::Or(items, q) => Shape::Or(children(items, leaves)?, q.clone()),
            Observation::FollowedBy(items, q) => {
                Shape::FollowedBy(children(items, leaves)?, q.clone())
            }
        })
    }

    fn add_anchor(&mut self, anchor: Anchor, leaf: u32) {
        let source = match &anchor {
            Anchor::Equals(s, _) | Anchor::Net(s, _) | Anchor::Pattern(s, _) => *s,
        };
        let at = match self.sources.iter().position(|a| a.source == source) {
            Some(at) => at,
            None => {
                self.sources.push(Anchored::new(source));
                self.sources.len() - 1
            }
        };
        let anchored = &mut self.sources[at];
        match anchor {
            Anchor::Equals(s, v) => match v.parse::<Ipv4Addr>() {
                Ok(ip) if s.is_ip() => anchored.v4.add_address(ip, leaf),
                _ => anchored.equals.entry(v).or_default().push(leaf),
            },
            Anchor::Net(_, IpNet::V4(n)) => anchored.v4.add_net(n, leaf),
            Anchor::Net(_, IpNet::V6(n)) => {
                anchored.v6.entry(n.trunc()).or_default().push(leaf);
            }
            Anchor::Pattern(_, p) => anchored.pending.push((p, leaf)),
        }
    }

    /// Adds a plain list: one indicator a line (text) or a row (CSV, the value in a column named
    /// `value`, `indicator`, `ioc` or the first). `#` starts a comment. Defanged values
    /// (`hxxp://evil[.]example`) are read as meant.
    pub fn add_list(&mut self, file: &str, text: &str, csv_format: bool) -> usize {
        let mut rows: Vec<(usize, String)> = Vec::new();
        if csv_format {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .comment(Some(b'#'))
                .from_reader(text.as_bytes());
            let mut column = 0;
            for (i, rec) in reader.records().enumerate() {
                let line = rec
                    .as_ref()
                    .ok()
                    .and_then(|r| r.position())
                    .map_or(i + 1, |p| p.line() as usize);
                match rec {
                    Ok(r) => {
                        if i == 0
                            && let Some(c) = r.iter().position(|h| {
                                matches!(
                                    h.trim().to_ascii_lowercase().as_str(),
                                    "value" | "indicator" | "ioc" | "observable"
                                )
                            })
                        {
                            column = c;
                            continue;
                        }
                        if let Some(v) = r.get(column) {
                            rows.push((line, v.to_owned()));
                        }
                    }
                    Err(e) => self.problems.push(Problem {
                        file: file.into(),
                        location: format!("line {line}"),
                        message: format!("CSV: {e}"),
                    }),
                }
            }
        } else {
            for (i, line) in text.lines().enumerate() {
                let value = line.split('#').next().unwrap_or_default();
                rows.push((i + 1, value.to_owned()));
            }
        }
        let mut added = 0;
        for (line, raw) in rows {
            let value = refang(raw.trim());
            if value.is_empty() {
                continue;
            }
            let test = |path: &str, op: Op| {
                let (object, prop) = path.split_once(':').expect("static path");
                Comparison::Test(Test {
                    path: ObjectPath {
                        object: object.into(),
                        steps: prop.split('.').map(String::from).collect(),
                    },
                    negated: false,
                    op,
                    value: Literal::Str(value.clone()),
                })
            };
            let cmp = if let Some(net) = parse_net(&value) {
                let path = if matches!(net, IpNet::V4(_)) {
                    "ipv4-addr:value"
                } else {
                    "ipv6-addr:value"
                };
                test(
                    path,
                    if net.prefix_len() == net.max_prefix_len() {
                        Op::Eq
                    } else {
                        Op::IsSubset
                    },
                )
            } else if value.contains("://") {
                test("url:value", Op::Eq)
            } else if is_hex_digest(&value) {
                test("file:hashes.any", Op::Eq)
            } else if is_domain(&value) {
                test("domain-name:value", Op::Eq)
            } else {
                self.problems.push(Problem {
                    file: file.into(),
                    location: format!("line {line}"),
                    message: format!("{raw:?} is not an IP address, CIDR range, URL, hash (MD5, SHA-1, SHA-256, SHA-512) or domain"),
                });
                continue;
            };
            let id = format!("{file}:{line}");
            match self.add_pattern(
                id,
                value.clone(),
                file,
                &Observation::Single(cmp, Vec::new()),
                None,
                None,
            ) {
                Ok(()) => added += 1,
                Err(message) => self.problems.push(Problem {
                    file: file.into(),
                    location: format!("line {line}"),
                    message,
                }),
            }
        }
        added
    }

    /// Builds the pattern sets; call once after adding everything.
    pub fn finish(&mut self) {
        for anchored in &mut self.sources {
            if anchored.pending.is_empty() {
                continue;
            }
            let (patterns, leaves): (Vec<String>, Vec<u32>) =
                std::mem::take(&mut anchored.pending).into_iter().unzip();
            // Each pattern compiled alone already; the set of them compiles too.
            let set = RegexSet::new(&patterns).expect("patterns compiled one by one");
            let literals: Option<Vec<String>> =
                patterns.iter().map(|p| required_literal(p)).collect();
            let gate = literals.map(|l| {
                aho_corasick::AhoCorasick::new(l).expect("literals of patterns that compiled")
            });
            anchored.patterns = Some((set, leaves, gate));
        }
    }

    /// The leaves a record satisfies, with the matched fields.
    pub fn leaves_hit(
        &self,
        record: &Record,
        scratch: &mut Scratch,
    ) -> Vec<(u32, Vec<(String, String)>)> {
        if self.leaves.is_empty() {
            return Vec::new();
        }
        scratch.candidates.clear();
        let mut values = Values::new();
        for anchored in &self.sources {
            let source = anchored.source;
            values.clear();
            source.values_read(record, &mut values, false);
            for (_, value) in &values {
                // An address is read once: its family, its key (IPv4 has one spelling, IPv6
                // many) and the ranges that hold it come from the one reading.
                let ip = if source.is_ip() {
                    read_ipv4(value)
                        .map(IpAddr::V4)
                        .or_else(|| value.parse::<IpAddr>().ok())
                } else {
                    None
                };
                let family = match (source, ip) {
                    (Source::Ipv4, ip) => ip.is_some_and(|ip| ip.is_ipv4()),
                    (Source::Ipv6, ip) => ip.is_some_and(|ip| ip.is_ipv6()),
                    _ => true,
                };
                if !family {
                    continue;
                }
                // An IPv4 address has one spelling: the equal addresses and the ranges that
                // hold it are all in the source's `V4Index`, none in `equals`.
                let key = match ip {
                    Some(IpAddr::V4(ip)) => {
                        anchored.v4.cover(ip, &mut scratch.candidates);
                        None
                    }
                    Some(IpAddr::V6(ip)) => {
                        for (_, leaves) in anchored.v6.cover(&Ipv6Net::from(ip)) {
                            scratch.candidates.extend(leaves);
                        }
                        Some(Cow::Owned(ip.to_string()))
                    }
                    None if anchored.equals.is_empty() => None,
                    None => Some(normalise(source, value)),
                };
                if let Some(leaves) = key.and_then(|k| anchored.equals.get(k.as_ref())) {
                    scratch.candidates.extend(leaves);
                }
                if let Some((set, leaves, gate)) = &anchored.patterns
                    && gate.as_ref().is_none_or(|g| g.is_match(value.as_ref()))
                {
                    let matches = set.matches(value);
                    if matches.matched_any() {
                        scratch.candidates.extend(matches.iter().map(|i| leaves[i]));
                    }
                }
            }
        }
        scratch.candidates.extend(&self.always);
        let mut out = Vec::new();
        if scratch.candidates.is_empty() {
            // Nearly every record: nothing more to do.
            return out;
        }
        let mut seen = HashSet::with_hasher(Fast::default());
        let ts = record.timestamp;
        for &leaf in &scratch.candidates {
            if !seen.insert(leaf) {
                continue;
            }
            let l = &self.leaves[leaf as usize];
            let info = &self.indicators[l.indicator as usize];
            if let Some(t) = ts
                && (info.valid_from.is_some_and(|f| t < f)
                    || info.valid_until.is_some_and(|u| t >= u))
            {
                continue;
            }
            let mut matched = Vec::new();
            if l.node.eval(record, &mut matched) {
                out.push((leaf, matched));
            }
        }
        out
    }

    /// The indicator a leaf belongs to, and whether one record is a sighting on its own.
    pub fn leaf_indicator(&self, leaf: u32) -> (u32, bool) {
        let ind = self.leaves[leaf as usize].indicator;
        let simple = self.indicators[ind as usize].simple() == Some(leaf as usize);
        (ind, simple)
    }

    /// Decides the patterns of several observations from their leaves' hits: for each indicator
    /// that holds, the hits that make it hold.
    pub fn decide(&self, hits: &[LeafHit]) -> Vec<(u32, Vec<LeafHit>)> {
        let mut by_leaf: HashMap<u32, Vec<&LeafHit>> = HashMap::new();
        for h in hits {
            by_leaf.entry(h.leaf).or_default().push(h);
        }
        let mut out = Vec::new();
        for (i, info) in self.indicators.iter().enumerate() {
            if info.simple().is_some() {
                continue;
            }
            if let Some(found) = holds(&info.shape, &by_leaf) {
                let mut found: Vec<LeafHit> = found.into_iter().cloned().collect();
                found.sort_by_key(|h| (h.file, h.line));
                found.dedup_by_key(|h| (h.file, h.line, h.leaf));
                out.push((i as u32, found));
            }
        }
        out
    }
}

/// The IPv4 addresses and ranges of one source and the leaves anchored on each, in hash maps
/// keyed by numbers: an address is looked up once as itself and once per range length in use
/// (two lookups for a list of addresses and /24s), where a string map hashed its spelling and a
/// prefix trie was walked for its ranges.
#[derive(Default)]
struct V4Index {
    addresses: HashMap<u32, Vec<u32>, Fast>,
    /// The range lengths in use, shortest first (the order a prefix trie's cover gave).
    lengths: Vec<u8>,
    /// By range length and first address.
    ranges: HashMap<(u8, u32), Vec<u32>, Fast>,
}

impl V4Index {
    fn add_address(&mut self, ip: Ipv4Addr, leaf: u32) {
        self.addresses.entry(u32::from(ip)).or_default().push(leaf);
    }

    fn add_net(&mut self, net: Ipv4Net, leaf: u32) {
        let length = net.prefix_len();
        if let Err(at) = self.lengths.binary_search(&length) {
            self.lengths.insert(at, length);
        }
        self.ranges
            .entry((length, u32::from(net.network())))
            .or_default()
            .push(leaf);
    }

    /// Adds the leaves of the address and then of every range that holds it, shortest first.
    fn cover(&self, ip: Ipv4Addr, out: &mut Vec<u32>) {
        let ip = u32::from(ip);
        if let Some(leaves) = self.addresses.get(&ip) {
            out.extend(leaves);
        }
        for &length in &self.lengths {
            let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
            if let Some(leaves) = self.ranges.get(&(length, ip & mask)) {
                out.extend(leaves);
            }
        }
    }
}

/// Scratch space reused across records.
#[derive(Default)]
pub struct Scratch {
    candidates: Vec<u32>,
}

/// An IPv4 address in the one spelling std reads (four decimal octets of at most three digits,
/// no leading zeros), read a byte at a time; `None` for anything else, IPv6 included. Written
/// here because std's parser, built for every form of address, showed in a hunt's profile
/// (every access log line has a client address); std's is tried after it for IPv6.
fn read_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.as_bytes().split(|&b| b == b'.');
    for octet in &mut octets {
        let digits = parts.next()?;
        if digits.is_empty() || digits.len() > 3 || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let mut value = 0u16;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u16::from(d - b'0');
        }
        *octet = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

fn refang(s: &str) -> String {
    let mut out = s
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[:]", ":");
    for (from, to) in [
        ("hxxps://", "https://"),
        ("hxxp://", "http://"),
        ("hXXps://", "https://"),
        ("hXXp://", "http://"),
    ] {
        if let Some(rest) = out.strip_prefix(from) {
            out = format!("{to}{rest}");
        }
    }
    out
}

fn is_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && !s.starts_with('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && s.rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read_ipv4` reads exactly what std's parser reads, as the same address: every string
    /// of up to six characters over the characters addresses are made of, then longer ones
    /// built from octets spelt every way (leading zeros, too large, signs, spaces, empty).
    #[test]
    fn ipv4_addresses_are_read_as_std_reads_them() {
        let agree = |s: &str| {
            assert_eq!(read_ipv4(s), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        };
        let alphabet = ['0', '1', '2', '5', '9', '.', ':', 'a', ' '];
        let mut strings = vec![String::new()];
        for _ in 0..6 {
            let mut longer = Vec::new();
            for s in &strings {
                for c in alphabet {
                    longer.push(format!("{s}{c}"));
                }
            }
            for s in &longer {
                agree(s);
            }
            strings = longer;
        }
        let octets = [
            "0", "00", "01", "1", "9", "10", "99", "100", "199", "255", "256", "299", "300", "999",
            "1000", "0255", "+1", "-1", " 1", "", "a", "1a",
        ];
        for a in octets {
            for b in octets {
                agree(&format!("{a}.{b}.1.2"));
                agree(&format!("1.2.{a}.{b}"));
                agree(&format!("{a}.{b}.{a}.{b}.5"));
                agree(&format!("{a}.{b}.{a}"));
            }
        }
        for s in [
            "::1",
            "2001:db8::1",
            "::ffff:1.2.3.4",
            "1.2.3.4\n",
            "1.2.3.4 ",
            "１.2.3.4",
        ] {
            agree(s);
        }
        assert_eq!(
            read_ipv4("203.0.113.9"),
            Some(Ipv4Addr::new(203, 0, 113, 9))
        );
    }

    /// An address finds in the index exactly the addresses equal to it and the ranges that
    /// hold it, whatever their lengths (/0 and /32 included), each leaf once.
    #[test]
    fn the_ipv4_index_finds_the_ranges_that_hold_an_address() {
        let mut index = V4Index::default();
        let mut anchors: Vec<(Option<Ipv4Net>, Ipv4Addr)> = Vec::new();
        let mut x = 0x9e37_79b9_u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let base = [Ipv4Addr::new(10, 1, 2, 3), Ipv4Addr::new(192, 168, 0, 1)];
        for leaf in 0..400u32 {
            let ip = Ipv4Addr::from(u32::from(base[leaf as usize % 2]) ^ (next() & 0x0000_0f0f));
            if leaf % 3 == 0 {
                index.add_address(ip, leaf);
                anchors.push((None, ip));
            } else {
                let net = Ipv4Net::new(ip, (next() % 33) as u8).unwrap().trunc();
                index.add_net(net, leaf);
                anchors.push((Some(net), ip));
            }
        }
        for probe in 0..2000u32 {
            let ip = Ipv4Addr::from(u32::from(base[probe as usize % 2]) ^ (next() & 0x0000_0f0f));
            let mut found = Vec::new();
            index.cover(ip, &mut found);
            let mut want: Vec<u32> = (0..anchors.len() as u32)
                .filter(|&l| match anchors[l as usize] {
                    (None, a) => a == ip,
                    (Some(net), _) => net.contains(&ip),
                })
                .collect();
            found.sort_unstable();
            want.sort_unstable();
            assert_eq!(found, want, "{ip}");
        }
    }
}
