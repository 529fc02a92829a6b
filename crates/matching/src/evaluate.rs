//! What one source says about one component: NVD configurations and CVE 5 `affected` blocks.

use ward_model::advisory::{
    Affected, AffectedVersion, NvdConfiguration, NvdCpeMatch, Operator, Status, normalised_eq,
};
use ward_model::cpe::{Attr, Cpe};
use ward_model::{Advisory, SourceId};

use crate::cpe_match::{compare_attr, match_identity};
use crate::version::{self, Bounds};

/// The component being matched, named by a CPE (its own, or one Ward derived).
#[derive(Debug, Clone)]
pub struct Subject {
    pub cpe: Cpe,
    /// The CPE was derived from vendor/name, not given by the inventory.
    pub derived: bool,
}

impl Subject {
    /// The version used for range comparison: `version` with a literal `update` appended
    /// (`9.8` + `p1` → `9.8p1`), or `None` when the version is unknown.
    pub fn full_version(&self) -> Option<String> {
        let v = self.cpe.version.literal()?;
        Some(match self.cpe.update.literal() {
            Some(u) => format!("{v}{u}"),
            None => v.to_owned(),
        })
    }
}

/// How precisely a source decided, least precise first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Basis {
    /// No entry named the version; the record's `defaultStatus` applied.
    DefaultStatus,
    /// The source lists the product with every version (`*`, `n/a`, no range).
    AllVersions,
    /// An exact version listed.
    Exact,
    /// A version range.
    Range,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DefaultStatus => "default-status",
            Self::AllVersions => "all-versions",
            Self::Exact => "exact",
            Self::Range => "range",
        }
    }

    /// Exact versions and ranges are equally precise; both beat a blanket statement.
    pub fn precision(self) -> u8 {
        match self {
            Self::DefaultStatus => 0,
            Self::AllVersions => 1,
            Self::Exact | Self::Range => 2,
        }
    }
}

/// One source's verdict on one component.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub source: SourceId,
    pub status: Status,
    pub basis: Basis,
    pub criterion: String,
    pub range: String,
    /// The configuration also needs a platform the inventory does not describe.
    pub platform_unknown: bool,
    /// CPE attributes assumed because the inventory leaves them ANY.
    pub assumed: Vec<&'static str>,
    /// Versions this source names as fixed for the product.
    pub fixed: Vec<String>,
    /// The ecosystem order the source's versions follow (OSV); `None`: the vendor order.
    pub scheme: Option<crate::ecosystem::Scheme>,
    /// The package matched but only OSV `GIT` ranges could place its version.
    pub git_only: bool,
    /// Caveats the finding should carry (a version the ecosystem order could not read…).
    pub notes: Vec<String>,
    /// The record lists only fix releases and its default is affected: what was inferred from
    /// the fix listed for the release's branch (a sentence).
    pub inferred: Option<String>,
    /// The inference overrode the record's literal default (`affected`) with `unaffected`.
    pub default_overridden: bool,
    /// The release is below the fix the record lists for its branch.
    pub below_listed_fix: bool,
    /// NVD: the versions that bound the product's vulnerable criteria (for gap detection).
    pub mentioned: Vec<String>,
    /// The record names as unaffected something that is not a release (`12.x.1.x RPM`).
    pub unverifiable_fix: Option<String>,
}

impl Verdict {
    /// A verdict with no platform caveat, no assumptions and no notes; the vendor order.
    pub(crate) fn new(
        source: &SourceId,
        status: Status,
        basis: Basis,
        criterion: String,
        range: String,
        fixed: Vec<String>,
    ) -> Self {
        Self {
            source: source.clone(),
            status,
            basis,
            criterion,
            range,
            platform_unknown: false,
            assumed: Vec::new(),
            fixed,
            scheme: None,
            git_only: false,
            notes: Vec::new(),
            inferred: None,
            default_overridden: false,
            below_listed_fix: false,
            mentioned: Vec::new(),
            unverifiable_fix: None,
        }
    }
}

#[cfg(test)]
#[test]
fn what_is_a_release() {
    for yes in [
        "12.5.0.1",
        "v2.4",
        "R2023b",
        "1.0.1g",
        "13.1-49.15",
        "2023.1",
    ] {
        assert!(is_release(yes), "{yes}");
    }
    for no in [
        "12.x.1.x RPM",
        "12.x",
        "QCA6390",
        "Snapdragon 8",
        "hotfix",
        "",
        "see advisory",
    ] {
        assert!(!is_release(no), "{no}");
    }
}

/// A release's branch: its first two numeric components (`12.1.0.4` → `12.1`); `None` for a
/// version that does not start with two.
pub(crate) fn branch(v: &str) -> Option<String> {
    let mut parts = v.trim().split(['.', '-', '_']);
    let a = parts
        .next()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let b = parts
        .next()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    Some(format!("{a}.{b}"))
}

/// Whether a record's "version" is a release of the product at all: `12.x.1.x RPM`, `hotfix
/// package`, `see advisory` are not (a word, a space, an `x` placeholder).
pub(crate) fn is_release(v: &str) -> bool {
    let t = v.trim();
    // `v2.4`, `V3.1`, `R2023b` are releases with a letter in front.
    let digits = t
        .strip_prefix(['v', 'V', 'r', 'R'])
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(t);
    !t.is_empty()
        && !t.contains(char::is_whitespace)
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && !t.split(['.', '-']).any(|p| p.eq_ignore_ascii_case("x"))
}

/// Other components on the same asset, for NVD platform (`running on`) nodes.
pub struct AssetContext<'a> {
    pub components: &'a [Subject],
}

/// Evaluates one source's view. `None`: the view says nothing about this product.
pub fn evaluate(
    advisory: &Advisory,
    subject: &Subject,
    asset: &AssetContext<'_>,
) -> Option<Verdict> {
    evaluate_with(advisory, None, subject, asset)
}

/// [`evaluate`], with the view's entries filed by product ([`EntryIndex::of`] of this view):
/// only the entries that can name the subject are evaluated, in the order the view lists them,
/// so the verdict is the one [`evaluate`] gives.
pub fn evaluate_with(
    advisory: &Advisory,
    index: Option<&EntryIndex>,
    subject: &Subject,
    asset: &AssetContext<'_>,
) -> Option<Verdict> {
    let mut best: Option<Verdict> = None;
    if !advisory.configurations.is_empty()
        && let Some(v) = evaluate_nvd(&advisory.source, &advisory.configurations, subject, asset)
    {
        keep_better(&mut best, v);
    }
    // Most of a record's entries are other products' (a WordPress record lists hundreds of
    // plugins): only a verdict is weighed, so the best one is not moved for each entry.
    let mut weigh = |affected: &Affected| {
        if let Some(v) = evaluate_affected(&advisory.source, affected, subject) {
            keep_better(&mut best, v);
        }
    };
    match index.zip(
        subject
            .cpe
            .vendor
            .literal()
            .zip(subject.cpe.product.literal()),
    ) {
        Some((index, (vendor, product))) => {
            for i in index.entries(vendor, product) {
                if let Some(affected) = advisory.affected.get(i as usize) {
                    weigh(affected);
                }
            }
        }
        None => advisory.affected.iter().for_each(weigh),
    }
    best
}

/// A view's `affected` entries filed by the `(vendor, product)` they can name, for a view
/// that lists many: a candidate component was compared with every entry of a record listing
/// hundreds of products (name comparisons were a tenth of a scan).
///
/// An entry relates to a subject whose vendor and product are literals only through a CPE
/// whose vendor and product are those same literals, or through vendor and product names
/// that normalise to them ([`affected_relates`]). Entries with a CPE whose vendor or product
/// is not a literal (ANY, NA, a wildcard) are evaluated for every subject.
///
/// Filed by a hash of the pair, not the pair: an entry found is still checked in full, so two
/// pairs with one hash only cost an extra check, and the index takes 12 bytes an entry (an
/// index of owned names grew a 5,000-component scan by 30 MB).
#[derive(Debug, Clone, Default)]
pub struct EntryIndex {
    /// `(hash of (vendor, product), entry)`, sorted: an entry's pairs in the view's order.
    filed: Vec<(u64, u32)>,
    always: Vec<u32>,
}

/// Views with fewer entries are evaluated entry by entry.
pub const INDEXED_FROM: usize = 16;

/// The hash entries are filed by: fixed, as an index and its lookups must agree.
fn pair_hash(vendor: &str, product: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5741_5244).hash_one((vendor, product))
}

impl EntryIndex {
    /// The index of a view's entries; `None` for a view with fewer than [`INDEXED_FROM`].
    pub fn of(view: &Advisory) -> Option<Self> {
        if view.affected.len() < INDEXED_FROM {
            return None;
        }
        let mut index = Self::default();
        for (i, affected) in view.affected.iter().enumerate() {
            let i = u32::try_from(i).ok()?;
            let mut hashes: Vec<u64> = Vec::new();
            if let Some((v, p)) = affected.derived_key() {
                hashes.push(pair_hash(&v, &p));
            }
            let mut always = false;
            for cpe in &affected.cpes {
                match cpe.vendor.literal().zip(cpe.product.literal()) {
                    Some((v, p)) => hashes.push(pair_hash(v, p)),
                    None => always = true,
                }
            }
            if always {
                index.always.push(i);
                continue;
            }
            hashes.sort_unstable();
            hashes.dedup();
            index.filed.extend(hashes.into_iter().map(|h| (h, i)));
        }
        index.filed.sort_unstable();
        index.filed.shrink_to_fit();
        index.always.shrink_to_fit();
        Some(index)
    }

    /// The entries that can name `(vendor, product)` (and perhaps a few more), in the view's
    /// order.
    fn entries(&self, vendor: &str, product: &str) -> impl Iterator<Item = u32> + '_ {
        let h = pair_hash(vendor, product);
        let start = self.filed.partition_point(|&(x, _)| x < h);
        let end = start + self.filed[start..].partition_point(|&(x, _)| x == h);
        merge(
            self.filed[start..end].iter().map(|&(_, i)| i),
            self.always.iter().copied(),
        )
    }
}

/// Two ascending lists as one, ascending.
fn merge(a: impl Iterator<Item = u32>, b: impl Iterator<Item = u32>) -> impl Iterator<Item = u32> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x <= y => a.next(),
        (_, Some(_)) => b.next(),
        (Some(_), None) => a.next(),
        (None, None) => None,
    })
}

/// Keeps the more precise verdict of `best` and `b`; at equal precision, `affected` (the
/// safer answer). The fixed versions of both are kept.
fn keep_better(best: &mut Option<Verdict>, mut b: Verdict) {
    let Some(a) = best.as_mut() else {
        *best = Some(b);
        return;
    };
    let rank = |v: &Verdict| {
        (
            v.status != Status::Unknown,
            v.basis.precision(),
            v.status == Status::Affected,
        )
    };
    if rank(&b) > rank(a) {
        let mut fixed = std::mem::take(&mut a.fixed);
        fixed.append(&mut b.fixed);
        b.fixed = fixed;
        *a = b;
    } else {
        a.fixed.extend(b.fixed);
    }
}

// ---------------------------------------------------------------------------------------------
// NVD configurations

/// Three-valued truth for configurations whose platforms may be undescribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn not(self) -> Self {
        match self {
            Self::True => Self::False,
            Self::False => Self::True,
            Self::Unknown => Self::Unknown,
        }
    }

    fn combine(op: Operator, values: impl Iterator<Item = Self>) -> Self {
        let mut any_unknown = false;
        let mut any_true = false;
        let mut any_false = false;
        for v in values {
            match v {
                Self::True => any_true = true,
                Self::False => any_false = true,
                Self::Unknown => any_unknown = true,
            }
        }
        match op {
            Operator::Or if any_true => Self::True,
            Operator::Or if any_unknown => Self::Unknown,
            Operator::Or => Self::False,
            Operator::And if any_false => Self::False,
            Operator::And if any_unknown => Self::Unknown,
            Operator::And => Self::True,
        }
    }
}

/// The vulnerable criterion the subject matched.
struct Hit {
    criterion: String,
    range: String,
    basis: Basis,
    assumed: Vec<&'static str>,
}

fn evaluate_nvd(
    source: &SourceId,
    configurations: &[NvdConfiguration],
    subject: &Subject,
    asset: &AssetContext<'_>,
) -> Option<Verdict> {
    let mut related = false;
    let mut fixed = Vec::new();
    let mut precise = false;
    let mut mentioned = Vec::new();
    for m in configurations
        .iter()
        .flat_map(|c| &c.nodes)
        .flat_map(|n| &n.cpe_match)
    {
        if m.vulnerable && match_identity(&m.criteria, &subject.cpe).is_some() {
            related = true;
            precise |= m.has_range() || m.criteria.version.literal().is_some();
            if let Some(f) = &m.end_excluding {
                fixed.push(f.clone());
            }
            mentioned.extend(
                [
                    &m.start_including,
                    &m.start_excluding,
                    &m.end_including,
                    &m.end_excluding,
                ]
                .into_iter()
                .flatten()
                .cloned(),
            );
            mentioned.extend(m.criteria.version.literal().map(str::to_owned));
        }
    }
    if !related {
        return None;
    }
    let mut found: Option<(Truth, Hit)> = None;
    for config in configurations {
        let mut hit = None;
        let truth = Truth::combine(
            config.operator,
            config.nodes.iter().map(|node| {
                let t = Truth::combine(
                    node.operator,
                    node.cpe_match
                        .iter()
                        .map(|m| cpe_match_truth(m, subject, asset, &mut hit)),
                );
                if node.negate { t.not() } else { t }
            }),
        );
        let truth = if config.negate { truth.not() } else { truth };
        if let Some(h) = hit
            && truth != Truth::False
        {
            let replace = match &found {
                None => true,
                Some((t, _)) => *t == Truth::Unknown && truth == Truth::True,
            };
            if replace {
                found = Some((truth, h));
            }
        }
    }
    Some(match found {
        Some((truth, hit)) => Verdict {
            platform_unknown: truth == Truth::Unknown,
            assumed: hit.assumed,
            ..Verdict::new(
                source,
                Status::Affected,
                hit.basis,
                hit.criterion,
                hit.range,
                fixed,
            )
        },
        None => Verdict {
            mentioned,
            ..Verdict::new(
                source,
                Status::Unaffected,
                if precise {
                    Basis::Range
                } else {
                    Basis::AllVersions
                },
                subject_product(subject),
                "outside every range NVD lists for this product".into(),
                fixed,
            )
        },
    })
}

fn subject_product(subject: &Subject) -> String {
    format!("{}:{}", subject.cpe.vendor, subject.cpe.product)
}

/// Evaluates one `cpeMatch`: true when the subject (or, for platform entries, another
/// component of the asset) satisfies it; unknown when the asset does not describe the product.
fn cpe_match_truth(
    m: &NvdCpeMatch,
    subject: &Subject,
    asset: &AssetContext<'_>,
    hit: &mut Option<Hit>,
) -> Truth {
    if let Some(identity) = match_identity(&m.criteria, &subject.cpe) {
        if let Some(basis) = version_satisfies(m, subject) {
            if m.vulnerable && hit.is_none() {
                *hit = Some(Hit {
                    criterion: m.criteria.to_string(),
                    range: if m.has_range() {
                        m.range_text()
                    } else {
                        match m.criteria.version.literal() {
                            Some(v) => format!("= {v}{}", update_suffix(&m.criteria.update)),
                            None => "all versions".into(),
                        }
                    },
                    basis,
                    assumed: identity.assumed,
                });
            }
            return Truth::True;
        }
        return Truth::False;
    }
    let mut described = false;
    for other in asset.components {
        if let Some(_identity) = match_identity(&m.criteria, &other.cpe) {
            if version_satisfies(m, other).is_some() {
                return Truth::True;
            }
            described = true;
        }
    }
    if described {
        Truth::False
    } else {
        Truth::Unknown
    }
}

fn update_suffix(update: &Attr) -> String {
    match update {
        Attr::Any => String::new(),
        Attr::Na => " (update -)".into(),
        other => format!(" (update {other})"),
    }
}

/// Whether the subject's version (and update) satisfy a criterion; `Some(basis)` when they do.
fn version_satisfies(m: &NvdCpeMatch, subject: &Subject) -> Option<Basis> {
    let c = &m.criteria;
    let s = &subject.cpe;
    match &c.version {
        Attr::Any => {
            if !(compare_attr(&c.update, &s.update).covers() || s.update.is_any()) {
                return None;
            }
            if !m.has_range() {
                return Some(Basis::AllVersions);
            }
            let v = subject.full_version()?;
            let bounds = Bounds {
                start_including: m.start_including.as_deref(),
                start_excluding: m.start_excluding.as_deref(),
                end_including: m.end_including.as_deref(),
                end_excluding: m.end_excluding.as_deref(),
            };
            bounds.contains(&v).then_some(Basis::Range)
        }
        Attr::Na => (compare_attr(&c.version, &s.version).covers()
            && compare_attr(&c.update, &s.update).covers())
        .then_some(Basis::Exact),
        Attr::Value { .. } if c.version.literal().is_none() => {
            // A wildcarded version (`1.?`): NISTIR 7696 pattern matching on the text.
            (compare_attr(&c.version, &s.version).covers()
                && compare_attr(&c.update, &s.update).covers())
            .then_some(Basis::Exact)
        }
        Attr::Value { .. } => {
            let want = c.version.literal()?;
            let have = s.version.literal()?;
            let ok = match (&c.update, &s.update) {
                // The inventory gives no update: its version string may carry it (`9.8p1`,
                // `1.9.5p2`), so compare against the criterion's version and update joined.
                (Attr::Any | Attr::Na, Attr::Any) => version::equal(have, want),
                (Attr::Value { .. }, Attr::Any) => match c.update.literal() {
                    Some(u) => version::equal(have, &format!("{want}{u}")),
                    None => false,
                },
                (cu, su) => {
                    version::equal(have, want)
                        && match (cu.literal(), su.literal()) {
                            (Some(a), Some(b)) => version::equal(a, b),
                            _ => compare_attr(cu, su).covers(),
                        }
                }
            };
            ok.then_some(Basis::Exact)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CVE JSON 5 `affected`

fn affected_relates(affected: &Affected, subject: &Subject) -> bool {
    if affected
        .cpes
        .iter()
        .any(|c| match_identity(c, &subject.cpe).is_some())
    {
        return true;
    }
    let (Some(vendor), Some(product)) =
        (subject.cpe.vendor.literal(), subject.cpe.product.literal())
    else {
        return false;
    };
    let named = affected
        .product
        .as_deref()
        .or(affected.package_name.as_deref());
    matches!((affected.vendor.as_deref(), named), (Some(v), Some(p)) if normalised_eq(v, vendor) && normalised_eq(p, product))
}

/// Start values that mean "from the first version" (the schema's convention is `0`).
fn is_open_start(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "*" | "" | "n/a" | "unspecified" | "all" | "all versions"
    )
}

fn is_unbounded(v: &str) -> bool {
    v.trim() == "*"
}

/// Reads range phrases that CNAs put in `version` (`< 2.4`, `<= 1.0`, `prior to 3.1`,
/// Siemens' `All versions < V3.1`, `12.5.0.0 and prior`): `(inclusive, bound)`.
pub(crate) fn phrase_range(v: &str) -> Option<(bool, &str)> {
    let mut t = v.trim();
    for all in ["All versions ", "all versions "] {
        if let Some(rest) = t.strip_prefix(all) {
            t = rest.trim_start();
        }
    }
    for suffix in [" and prior", " and earlier", " and below", " and older"] {
        if let Some(bound) = t.strip_suffix(suffix) {
            let bound = bound.trim();
            if is_release(bound.trim_start_matches(['v', 'V'])) {
                return Some((true, bound.trim_start_matches(['v', 'V'])));
            }
        }
    }
    for (prefix, inclusive) in [
        ("<=", true),
        ("<", false),
        ("before ", false),
        ("prior to ", false),
        ("up to ", true),
        ("through ", true),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            let rest = rest.trim();
            // Siemens writes `< V3.1`: the `V` is no part of the release.
            let rest = match rest.strip_prefix(['V', 'v']) {
                Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => r,
                _ => rest,
            };
            if !rest.is_empty() {
                return Some((inclusive, rest));
            }
        }
    }
    None
}

/// The status of version `v` under one entry, if the entry speaks about it (CVE JSON 5 schema,
/// `versions`: a range runs from `version` to `lessThan`/`lessThanOrEqual`, and within it the
/// status is that of the last `changes` entry at or below `v`).
fn entry_status(entry: &AffectedVersion, v: &str) -> Option<(Status, Basis, String)> {
    if entry.version_type.as_deref() == Some("git") {
        return None;
    }
    if entry.is_range() {
        let start = (!is_open_start(&entry.version)).then_some(entry.version.as_str());
        let (end, inclusive) = match (&entry.less_than, &entry.less_than_or_equal) {
            (_, Some(e)) => (e.as_str(), true),
            (Some(e), None) => (e.as_str(), false),
            (None, None) => unreachable!("is_range checked one bound exists"),
        };
        let mut bounds = Bounds {
            start_including: start,
            ..Default::default()
        };
        if !is_unbounded(end) {
            if inclusive {
                bounds.end_including = Some(end);
            } else {
                bounds.end_excluding = Some(end);
            }
        }
        if !bounds.contains(v) {
            return None;
        }
        let mut status = entry.status;
        let mut changes: Vec<_> = entry.changes.iter().collect();
        changes.sort_by(|a, b| version::compare(&a.at, &b.at));
        for c in changes {
            if version::compare(&c.at, v).is_le() {
                status = c.status;
            }
        }
        let range = format!(
            "{}{}{}",
            start.map(|s| format!(">= {s}, ")).unwrap_or_default(),
            if inclusive { "<= " } else { "< " },
            end
        );
        return Some((status, Basis::Range, range));
    }
    if let Some((inclusive, end)) = phrase_range(&entry.version) {
        let bounds = if inclusive {
            Bounds {
                end_including: Some(end),
                ..Default::default()
            }
        } else {
            Bounds {
                end_excluding: Some(end),
                ..Default::default()
            }
        };
        return bounds
            .contains(v)
            .then(|| (entry.status, Basis::Range, entry.version.trim().to_owned()));
    }
    if is_open_start(&entry.version) && entry.version.trim() != "0" {
        return Some((entry.status, Basis::AllVersions, entry.version.clone()));
    }
    version::equal(&entry.version, v)
        .then(|| (entry.status, Basis::Exact, format!("= {}", entry.version)))
}

fn evaluate_affected(source: &SourceId, affected: &Affected, subject: &Subject) -> Option<Verdict> {
    if !affected_relates(affected, subject) {
        return None;
    }
    let criterion = match (&affected.vendor, &affected.product) {
        (Some(v), Some(p)) => format!("{v} / {p}"),
        _ => affected
            .cpes
            .first()
            .map(ToString::to_string)
            .unwrap_or_else(|| subject_product(subject)),
    };
    let mut fixed = Vec::new();
    for e in &affected.versions {
        match e.status {
            Status::Affected => {
                if let Some(lt) = &e.less_than
                    && !is_unbounded(lt)
                {
                    fixed.push(lt.clone());
                }
                fixed.extend(
                    e.changes
                        .iter()
                        .filter(|c| c.status == Status::Unaffected)
                        .map(|c| c.at.clone()),
                );
            }
            Status::Unaffected if !e.is_range() && !is_open_start(&e.version) => {
                fixed.push(e.version.clone())
            }
            _ => {}
        }
    }
    let Some(v) = subject.full_version() else {
        return Some(Verdict::new(
            source,
            Status::Unknown,
            Basis::DefaultStatus,
            criterion,
            "the inventory gives no version".into(),
            fixed,
        ));
    };
    // Exact entries speak more precisely than ranges; among equals the last entry wins.
    let mut exact = None;
    let mut ranged = None;
    for e in &affected.versions {
        if let Some(found) = entry_status(e, &v) {
            match found.1 {
                Basis::Exact => exact = Some(found),
                _ => {
                    // Prefer a range that says `affected` over one that does not.
                    if ranged.as_ref().is_none_or(|r: &(Status, Basis, String)| {
                        r.0 != Status::Affected || found.1 > r.1
                    }) {
                        ranged = Some(found);
                    }
                }
            }
        }
    }
    let unverifiable: Vec<&str> = affected
        .versions
        .iter()
        .filter(|e| e.status == Status::Unaffected && !e.is_range() && !is_release(&e.version))
        .map(|e| e.version.trim())
        .filter(|v| !is_open_start(v))
        .collect();
    let fixed: Vec<String> = fixed.into_iter().filter(|f| is_release(f)).collect();
    let (status, basis, range) = match exact.or(ranged) {
        Some(x) => x,
        None => {
            let listed: Vec<String> = affected
                .versions
                .iter()
                .map(|e| format!("{} {}", e.version, status_word(e.status)))
                .collect();
            let default = affected.default_status.unwrap_or(Status::Unknown);
            if let Some(v) = point_list_inference(affected, default, &v) {
                let mut verdict = Verdict::new(
                    source,
                    v.status,
                    Basis::DefaultStatus,
                    criterion,
                    format!("not listed; {}", v.sentence),
                    fixed,
                );
                verdict.default_overridden = v.status != default;
                verdict.below_listed_fix = v.below_fix;
                verdict.inferred = Some(v.sentence);
                verdict.unverifiable_fix =
                    (!unverifiable.is_empty()).then(|| unverifiable.join(", "));
                return Some(verdict);
            }
            (
                default,
                Basis::DefaultStatus,
                format!(
                    "not listed (lists only: {}); defaultStatus applies",
                    listed.join(", ")
                ),
            )
        }
    };
    let mut verdict = Verdict::new(source, status, basis, criterion, range, fixed);
    if basis == Basis::DefaultStatus && !unverifiable.is_empty() {
        verdict.unverifiable_fix = Some(unverifiable.join(", "));
    }
    Some(verdict)
}

/// What a point list says of a release it does not name.
struct Inference {
    status: Status,
    sentence: String,
    below_fix: bool,
}

/// A record whose default is `affected` and whose entries are single releases marked
/// `unaffected` lists its fix releases (CVE-2024-7612: 12.0.0.5 and 12.1.0.4). Read literally,
/// every later release would be affected. Read as fixes, per branch (the first two numbers):
/// a release below the fix of its branch is affected, at or above it fixed; a release newer
/// than every fix is read as fixed; one in an older branch with no fix stays affected, as the
/// default says. `None` when the record is not such a list.
fn point_list_inference(affected: &Affected, default: Status, v: &str) -> Option<Inference> {
    if default != Status::Affected || affected.versions.is_empty() {
        return None;
    }
    let mut fixes: Vec<&str> = Vec::new();
    for e in &affected.versions {
        if e.status != Status::Unaffected || e.is_range() || phrase_range(&e.version).is_some() {
            return None;
        }
        if is_release(&e.version) {
            fixes.push(e.version.trim());
        }
    }
    if fixes.is_empty() {
        return None;
    }
    fixes.sort_by(|a, b| version::compare(a, b));
    let list = fixes.join(", ");
    let own = branch(v);
    if let Some(fix) = fixes.iter().find(|f| own.is_some() && branch(f) == own) {
        let below = version::compare(v, fix).is_lt();
        return Some(Inference {
            status: if below {
                Status::Affected
            } else {
                Status::Unaffected
            },
            sentence: format!(
                "read as a fix list ({list}): {v} is {} {fix}, the fix for the {} branch",
                if below { "below" } else { "at or above" },
                own.unwrap_or_default()
            ),
            below_fix: below,
        });
    }
    let newest = fixes.last()?;
    if version::compare(v, newest).is_gt() {
        return Some(Inference {
            status: Status::Unaffected,
            sentence: format!(
                "read as a fix list ({list}): {v} is newer than every fix, so fixed, not affected by the record's default"
            ),
            below_fix: false,
        });
    }
    Some(Inference {
        status: Status::Affected,
        sentence: format!(
            "read as a fix list ({list}): no fix for {v}'s branch, which is older than the newest fix; the default (affected) applies"
        ),
        below_fix: false,
    })
}

pub(crate) fn status_word(s: Status) -> &'static str {
    match s {
        Status::Affected => "affected",
        Status::Unaffected => "unaffected",
        Status::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::advisory::VersionChange;

    fn subject(cpe: &str) -> Subject {
        Subject {
            cpe: cpe.parse().unwrap(),
            derived: false,
        }
    }

    fn entry(version: &str, status: Status) -> AffectedVersion {
        AffectedVersion {
            version: version.into(),
            status,
            less_than: None,
            less_than_or_equal: None,
            version_type: None,
            changes: vec![],
        }
    }

    fn cna(default_status: Option<Status>, versions: Vec<AffectedVersion>) -> Advisory {
        let mut a = Advisory::new("CVE-2099-0001", SourceId::Cna("example".into()));
        a.affected.push(Affected {
            vendor: Some("Example Corp".into()),
            product: Some("Widget Server".into()),
            package_name: None,
            cpes: vec![],
            default_status,
            versions,
        });
        a
    }

    fn status_of(a: &Advisory, version: &str) -> Option<(Status, Basis)> {
        let s = subject(&format!(
            "cpe:2.3:a:example_corp:widget_server:{version}:*:*:*:*:*:*:*"
        ));
        evaluate(a, &s, &AssetContext { components: &[] }).map(|v| (v.status, v.basis))
    }

    #[test]
    fn cve5_range_with_changes() {
        // CVE JSON 5 schema, `changes`: within [1.0, 2.0) the status switches at each `at`.
        let mut e = entry("1.0", Status::Affected);
        e.less_than = Some("2.0".into());
        e.changes = vec![
            VersionChange {
                at: "1.5".into(),
                status: Status::Unaffected,
            },
            VersionChange {
                at: "1.7".into(),
                status: Status::Affected,
            },
        ];
        let a = cna(Some(Status::Unaffected), vec![e]);
        assert_eq!(status_of(&a, "1.2"), Some((Status::Affected, Basis::Range)));
        assert_eq!(
            status_of(&a, "1.5"),
            Some((Status::Unaffected, Basis::Range))
        );
        assert_eq!(
            status_of(&a, "1.6.9"),
            Some((Status::Unaffected, Basis::Range))
        );
        assert_eq!(status_of(&a, "1.8"), Some((Status::Affected, Basis::Range)));
        assert_eq!(
            status_of(&a, "2.0"),
            Some((Status::Unaffected, Basis::DefaultStatus))
        );
        assert_eq!(
            status_of(&a, "0.9"),
            Some((Status::Unaffected, Basis::DefaultStatus))
        );
    }

    #[test]
    fn cve5_inclusive_end_open_start_and_unbounded() {
        let mut e = entry("0", Status::Affected);
        e.less_than_or_equal = Some("3.2.1".into());
        let a = cna(None, vec![e]);
        assert_eq!(status_of(&a, "3.2.1").unwrap().0, Status::Affected);
        assert_eq!(status_of(&a, "0.1").unwrap().0, Status::Affected);
        assert_eq!(
            status_of(&a, "3.2.2"),
            Some((Status::Unknown, Basis::DefaultStatus)),
            "no defaultStatus: unknown"
        );

        let mut e = entry("5.0", Status::Affected);
        e.less_than = Some("*".into());
        let a = cna(Some(Status::Unaffected), vec![e]);
        assert_eq!(status_of(&a, "99.0").unwrap().0, Status::Affected);
        assert_eq!(status_of(&a, "4.9").unwrap().0, Status::Unaffected);
    }

    #[test]
    fn cve5_exact_entries_beat_ranges_and_phrases_are_read() {
        let mut r = entry("1.0", Status::Affected);
        r.less_than = Some("2.0".into());
        let a = cna(
            Some(Status::Unaffected),
            vec![r, entry("1.5", Status::Unaffected)],
        );
        assert_eq!(
            status_of(&a, "1.5"),
            Some((Status::Unaffected, Basis::Exact))
        );
        assert_eq!(status_of(&a, "1.4"), Some((Status::Affected, Basis::Range)));

        let a = cna(
            Some(Status::Unaffected),
            vec![entry("< 4.2.0", Status::Affected)],
        );
        assert_eq!(status_of(&a, "4.1.9").unwrap().0, Status::Affected);
        assert_eq!(status_of(&a, "4.2.0").unwrap().0, Status::Unaffected);
    }

    #[test]
    fn cve5_git_ranges_are_not_evaluated() {
        let mut e = entry("1a2b3c", Status::Affected);
        e.less_than = Some("4d5e6f".into());
        e.version_type = Some("git".into());
        let a = cna(Some(Status::Unaffected), vec![e]);
        assert_eq!(
            status_of(&a, "1.0"),
            Some((Status::Unaffected, Basis::DefaultStatus))
        );
    }

    #[test]
    fn cve5_names_match_like_cpe_names() {
        let a = cna(Some(Status::Affected), vec![]);
        let other = subject("cpe:2.3:a:example_corp:widget_client:1.0:*:*:*:*:*:*:*");
        assert!(evaluate(&a, &other, &AssetContext { components: &[] }).is_none());
        assert_eq!(
            status_of(&a, "1.0"),
            Some((Status::Affected, Basis::DefaultStatus))
        );
    }

    #[test]
    fn nvd_negated_node() {
        // "vulnerable unless running on X": a negated platform node.
        let mut a = Advisory::new("CVE-2099-0002", SourceId::Nvd);
        let m = |c: &str, vulnerable| NvdCpeMatch {
            vulnerable,
            criteria: c.parse().unwrap(),
            start_including: None,
            start_excluding: None,
            end_including: None,
            end_excluding: None,
        };
        a.configurations.push(NvdConfiguration {
            operator: Operator::And,
            negate: false,
            nodes: vec![
                ward_model::Node {
                    operator: Operator::Or,
                    negate: false,
                    cpe_match: vec![m("cpe:2.3:a:example:app:1.0:*:*:*:*:*:*:*", true)],
                },
                ward_model::Node {
                    operator: Operator::Or,
                    negate: true,
                    cpe_match: vec![m("cpe:2.3:o:example:hardened_os:-:*:*:*:*:*:*:*", false)],
                },
            ],
        });
        let app = subject("cpe:2.3:a:example:app:1.0:*:*:*:*:*:*:*");
        let hardened = [subject("cpe:2.3:o:example:hardened_os:-:*:*:*:*:*:*:*")];
        let on_hardened = evaluate(
            &a,
            &app,
            &AssetContext {
                components: &hardened,
            },
        )
        .unwrap();
        assert_eq!(on_hardened.status, Status::Unaffected);
        let alone = evaluate(&a, &app, &AssetContext { components: &[] }).unwrap();
        assert_eq!(
            (alone.status, alone.platform_unknown),
            (Status::Affected, true)
        );
    }

    /// A record listing many products (a plugin collection): the index finds each product's
    /// entries by name or by CPE, keeps a wildcarded CPE's entry for every subject, and
    /// gives the verdicts of evaluating every entry, whose order decides ties.
    #[test]
    fn an_entry_index_gives_every_entrys_verdict() {
        let mut a = Advisory::new("CVE-2099-0002", SourceId::Cna("example".into()));
        let plugin = |vendor: &str, product: &str, cpes: Vec<&str>, versions| Affected {
            vendor: Some(vendor.into()),
            product: Some(product.into()),
            package_name: None,
            cpes: cpes.into_iter().map(|c| c.parse().unwrap()).collect(),
            default_status: Some(Status::Unaffected),
            versions,
        };
        let below = |fix: &str| {
            let mut e = entry("0", Status::Affected);
            e.less_than = Some(fix.into());
            vec![e]
        };
        for i in 0..20 {
            a.affected.push(plugin(
                "Plugin Works",
                &format!("Plugin {i}"),
                vec![],
                below(&format!("{i}.5")),
            ));
        }
        // Named only by CPE (its names say nothing), and one named both ways.
        a.affected.push(plugin(
            "n/a",
            "n/a",
            vec!["cpe:2.3:a:acme:gateway:*:*:*:*:*:*:*:*"],
            below("3.0"),
        ));
        a.affected.push(plugin(
            "Acme",
            "Gateway",
            vec!["cpe:2.3:a:acme:gateway:*:*:*:*:*:*:*:*"],
            vec![entry("2.5", Status::Unaffected)],
        ));
        // A wildcarded product: only a full comparison can say which subjects it names.
        a.affected.push(plugin(
            "n/a",
            "n/a",
            vec!["cpe:2.3:a:acme:gate*:*:*:*:*:*:*:*:*"],
            below("9.0"),
        ));
        // The same product listed twice, as CNAs do: the later entry must still be weighed.
        a.affected.push(plugin(
            "Plugin Works",
            "Plugin 7",
            vec![],
            vec![entry("7.9", Status::Affected)],
        ));
        let index = EntryIndex::of(&a).expect("a record this long is indexed");
        assert_eq!(index.always, vec![22]);
        let context = AssetContext { components: &[] };
        let mut status = std::collections::HashMap::new();
        for cpe in [
            "cpe:2.3:a:plugin_works:plugin_3:3.1:*:*:*:*:*:*:*",
            "cpe:2.3:a:plugin_works:plugin_3:3.6:*:*:*:*:*:*:*",
            "cpe:2.3:a:plugin_works:plugin_7:7.9:*:*:*:*:*:*:*",
            "cpe:2.3:a:plugin_works:plugin_19:1.0:*:*:*:*:*:*:*",
            "cpe:2.3:a:plugin_works:plugin_20:1.0:*:*:*:*:*:*:*",
            "cpe:2.3:a:acme:gateway:2.5:*:*:*:*:*:*:*",
            "cpe:2.3:a:acme:gateway:3.5:*:*:*:*:*:*:*",
            "cpe:2.3:a:acme:gateway:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:acme:gatekeeper:4.0:*:*:*:*:*:*:*",
            "cpe:2.3:a:other:gateway:1.0:*:*:*:*:*:*:*",
            "cpe:2.3:a:*:plugin_3:3.1:*:*:*:*:*:*:*",
            "cpe:2.3:a:plugin_works:plugin_*:3.1:*:*:*:*:*:*:*",
        ] {
            let s = subject(cpe);
            let whole = evaluate(&a, &s, &context);
            let filed = evaluate_with(&a, Some(&index), &s, &context);
            assert_eq!(format!("{filed:?}"), format!("{whole:?}"), "{cpe}");
            status.insert(
                cpe.split(':').skip(3).take(3).collect::<Vec<_>>().join(":"),
                whole.map(|v| v.status),
            );
        }
        let of = |key: &str| status[key];
        assert_eq!(of("plugin_works:plugin_3:3.1"), Some(Status::Affected));
        assert_eq!(of("plugin_works:plugin_3:3.6"), Some(Status::Unaffected));
        // The second entry for plugin 7 names 7.9 exactly.
        assert_eq!(of("plugin_works:plugin_7:7.9"), Some(Status::Affected));
        assert_eq!(of("plugin_works:plugin_19:1.0"), Some(Status::Affected));
        assert_eq!(of("plugin_works:plugin_20:1.0"), None);
        // Past the CPE-only entry's fix, but below the wildcarded entry's.
        assert_eq!(of("acme:gateway:3.5"), Some(Status::Affected));
        // Only the wildcarded entry names it.
        assert_eq!(of("acme:gatekeeper:4.0"), Some(Status::Affected));
        assert_eq!(of("other:gateway:1.0"), None);
        assert_eq!(
            merge([1, 4, 9].into_iter(), [2, 3, 10].into_iter()).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 9, 10]
        );
    }
}
