//! Version order per package ecosystem (`docs/version-order.md`).
//!
//! Crates where a good one exists: `semver` (SemVer 2.0 precedence: npm, crates.io, Go, Hex,
//! Pub), `pep440_rs` (PyPI, PEP 440), `debversion` (dpkg), `rpm-version` (rpmvercmp with `~` and
//! `^`). Own code, small and transcribed from the reference implementations, where no maintained
//! crate exists: Maven (`ComparableVersion`), RubyGems (`Gem::Version`), NuGet
//! (`NuGetVersion`), Packagist (Composer's normalisation + PHP `version_compare`) and Alpine
//! (apk-tools). A version the scheme cannot read is ordered by Ward's generic vendor order and
//! the caller is told (`Order::fallback`), never silently dropped.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::version;

/// A version ordering scheme, named as in `vers:` (the purl type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Semver,
    Npm,
    Cargo,
    Go,
    Hex,
    Pub,
    PyPI,
    Maven,
    RubyGems,
    NuGet,
    Packagist,
    Debian,
    Rpm,
    Alpine,
    Generic,
}

impl Scheme {
    /// The scheme that orders an OSV ecosystem's versions.
    pub fn for_ecosystem(ecosystem: &str) -> Self {
        Self::from_vers(ward_model::purl::purl_type_for_ecosystem(ecosystem))
            .unwrap_or(Self::Generic)
    }

    /// The `vers:` scheme name.
    pub fn vers_name(self) -> &'static str {
        match self {
            Self::Semver => "semver",
            Self::Npm => "npm",
            Self::Cargo => "cargo",
            Self::Go => "golang",
            Self::Hex => "hex",
            Self::Pub => "pub",
            Self::PyPI => "pypi",
            Self::Maven => "maven",
            Self::RubyGems => "gem",
            Self::NuGet => "nuget",
            Self::Packagist => "composer",
            Self::Debian => "deb",
            Self::Rpm => "rpm",
            Self::Alpine => "apk",
            Self::Generic => "generic",
        }
    }

    pub fn from_vers(name: &str) -> Option<Self> {
        Some(match name {
            "semver" => Self::Semver,
            "npm" => Self::Npm,
            "cargo" => Self::Cargo,
            "golang" => Self::Go,
            "hex" => Self::Hex,
            "pub" => Self::Pub,
            "pypi" => Self::PyPI,
            "maven" => Self::Maven,
            "gem" => Self::RubyGems,
            "nuget" => Self::NuGet,
            "composer" => Self::Packagist,
            "deb" => Self::Debian,
            "rpm" => Self::Rpm,
            "apk" | "alpine" => Self::Alpine,
            "generic" => Self::Generic,
            _ => return None,
        })
    }

    /// SemVer 2.0 precedence, possibly with the ecosystem's spelling (Go's `v`).
    pub fn is_semver(self) -> bool {
        matches!(
            self,
            Self::Semver | Self::Npm | Self::Cargo | Self::Go | Self::Hex | Self::Pub
        )
    }

    /// Reads a version in this scheme.
    pub fn parse(self, v: &str) -> Result<Key, String> {
        let t = v.trim();
        if t.is_empty() {
            return Err("empty version".into());
        }
        Ok(match self {
            Self::Semver | Self::Npm | Self::Cargo | Self::Hex | Self::Pub => {
                Key::Semver(semver_lenient(t, false)?)
            }
            Self::Go => Key::Semver(semver_lenient(t, true)?),
            Self::PyPI => Key::Pep440(
                pep440_rs::Version::from_str(t).map_err(|e| format!("not PEP 440: {e}"))?,
            ),
            Self::Debian => Key::Debian(
                debversion::Version::from_str(t)
                    .map_err(|e| format!("not a Debian version: {e}"))?,
            ),
            Self::Rpm => Key::Rpm(t.to_owned()),
            Self::Maven => Key::Maven(maven::parse(t)),
            Self::RubyGems => Key::Gem(gem::parse(t)?),
            Self::NuGet => Key::NuGet(nuget::parse(t)?),
            Self::Packagist => Key::Composer(composer::normalise(t)?),
            Self::Alpine => Key::Apk(apk::parse(t)?),
            Self::Generic => Key::Generic(t.to_owned()),
        })
    }

    /// Orders two versions; `None` when either is not a version of this scheme.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        Some(self.parse(a).ok()?.cmp_key(&self.parse(b).ok()?))
    }

    /// Orders two versions, falling back to the generic vendor order when either is not a
    /// version of this scheme (then `fallback` is true and the caller should say so).
    pub fn order(self, a: &str, b: &str) -> Order {
        match self.compare(a, b) {
            Some(ordering) => Order {
                ordering,
                fallback: false,
            },
            None => Order {
                ordering: version::compare(a, b),
                fallback: true,
            },
        }
    }
}

/// Sorts a short list (a range's events, its constraints, fixed releases) by a version order.
///
/// [`Scheme::order`] is total on the versions a scheme reads, but a version it cannot read is
/// compared by the vendor order, and the mix need not be transitive; `slice::sort_by` may panic
/// on such a comparison (found by fuzzing). Insertion sort never does, is stable, and these lists
/// hold a handful of items.
pub fn sort_versions<T>(items: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && cmp(&items[j - 1], &items[j]).is_gt() {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub ordering: Ordering,
    pub fallback: bool,
}

/// A parsed version, ready to compare with another of the same scheme.
#[derive(Debug, Clone)]
pub enum Key {
    Semver(semver::Version),
    Pep440(pep440_rs::Version),
    Debian(debversion::Version),
    Rpm(String),
    Maven(maven::Item),
    Gem(gem::GemVersion),
    NuGet(nuget::NuGetVersion),
    Composer(Vec<String>),
    Apk(apk::ApkVersion),
    Generic(String),
}

impl Key {
    /// Compares two keys of one scheme (keys of different schemes compare by variant).
    pub fn cmp_key(&self, other: &Self) -> Ordering {
        match (self, other) {
            // SemVer 2.0 §10: build metadata does not take part in precedence
            // (`2.8.6+incompatible` == `2.8.6`).
            (Self::Semver(a), Self::Semver(b)) => a.cmp_precedence(b),
            (Self::Pep440(a), Self::Pep440(b)) => a.cmp(b),
            (Self::Debian(a), Self::Debian(b)) => a.cmp(b),
            (Self::Rpm(a), Self::Rpm(b)) => rpm_version::rpm_evr_compare(a, b),
            (Self::Maven(a), Self::Maven(b)) => maven::compare(a, Some(b)),
            (Self::Gem(a), Self::Gem(b)) => gem::compare(a, b),
            (Self::NuGet(a), Self::NuGet(b)) => nuget::compare(a, b),
            (Self::Composer(a), Self::Composer(b)) => composer::compare(a, b),
            (Self::Apk(a), Self::Apk(b)) => apk::compare(a, b),
            (Self::Generic(a), Self::Generic(b)) => version::compare(a, b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Semver(_) => 0,
            Self::Pep440(_) => 1,
            Self::Debian(_) => 2,
            Self::Rpm(_) => 3,
            Self::Maven(_) => 4,
            Self::Gem(_) => 5,
            Self::NuGet(_) => 6,
            Self::Composer(_) => 7,
            Self::Apk(_) => 8,
            Self::Generic(_) => 9,
        }
    }
}

/// SemVer 2.0, accepting what registries and SBOMs write around it: a leading `v` (always for
/// Go, which writes `v1.2.3`; also `=`/`v` as npm's loose mode does) and a short core
/// (`1.2` → `1.2.0`, as npm's coercion and Go's `semver.Canonical` do).
fn semver_lenient(s: &str, go: bool) -> Result<semver::Version, String> {
    let mut t = s.trim_start_matches('=').trim();
    if let Some(rest) = t.strip_prefix(['v', 'V']) {
        t = rest;
    } else if go && t != "0" && !t.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("{s:?} is not a Go module version"));
    }
    if let Ok(v) = semver::Version::parse(t) {
        return Ok(v);
    }
    let split = t.find(['-', '+']).unwrap_or(t.len());
    let (core, rest) = t.split_at(split);
    let parts = core.split('.').count();
    if (1..3).contains(&parts)
        && core
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
        if let Ok(v) = semver::Version::parse(&padded) {
            return Ok(v);
        }
    }
    semver::Version::parse(t).map_err(|e| format!("not SemVer: {e}"))
}

/// Maven's `ComparableVersion` (the order documented in
/// <https://maven.apache.org/pom.html#version-order-specification>): maven-artifact 3.0–3.8's
/// parsing, as univers ports it, with Maven 3.9's `release` alias (MNG-7559) and whole-list
/// comparison with nothing (MNG-6964). Maven 3.9's other two changes — a trailing `.qualifier`
/// read as `-qualifier`, `X1` runs as combination items — Ward does not follow yet
/// (docs/version-order.md).
pub mod maven {
    use std::cmp::Ordering;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Item {
        /// Digits without leading zeros (arbitrary length: `20230101123456` is common).
        Int(String),
        Str(String),
        List(Vec<Self>),
    }

    const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

    fn is_null(item: &Item) -> bool {
        match item {
            Item::Int(d) => d == "0",
            Item::Str(s) => s.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }

    fn parse_item(buf: &str, followed_by_digit: bool) -> Item {
        if buf.bytes().all(|b| b.is_ascii_digit()) {
            let d = buf.trim_start_matches('0');
            return Item::Int(if d.is_empty() { "0".into() } else { d.into() });
        }
        let s = match (followed_by_digit, buf) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "ga" | "final" | "release") => "",
            (_, "cr") => "rc",
            (_, other) => other,
        };
        Item::Str(s.to_owned())
    }

    /// Removes trailing null items (`1.0.0` = `1`), looking past sub-lists as Maven does.
    fn normalise(list: &mut Vec<Item>) {
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            if is_null(&list[i]) {
                list.remove(i);
            } else if !matches!(list[i], Item::List(_)) {
                break;
            }
        }
    }

    pub fn parse(version: &str) -> Item {
        let v = version.trim().to_lowercase();
        let chars: Vec<char> = v.chars().collect();
        // The open lists, outermost first; each new one is the last item of the one before.
        let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
        let mut is_digit = false;
        let mut start = 0;
        let buf = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
        for (i, &c) in chars.iter().enumerate() {
            let top = stack.len() - 1;
            if c == '.' || c == '-' {
                if i == start {
                    stack[top].push(Item::Int("0".into()));
                } else {
                    stack[top].push(parse_item(&buf(start, i), false));
                }
                start = i + 1;
                if c == '-' {
                    stack.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    stack[top].push(parse_item(&buf(start, i), true));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    stack[top].push(parse_item(&buf(start, i), false));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = false;
            }
        }
        if chars.len() > start {
            let top = stack.len() - 1;
            stack[top].push(parse_item(&buf(start, chars.len()), false));
        }
        while stack.len() > 1 {
            let mut inner = stack.pop().expect("len > 1");
            normalise(&mut inner);
            stack.last_mut().expect("len >= 1").push(Item::List(inner));
        }
        let mut root = stack.pop().expect("the root list");
        normalise(&mut root);
        Item::List(root)
    }

    fn qualifier(s: &str) -> String {
        match QUALIFIERS.iter().position(|q| *q == s) {
            Some(i) => i.to_string(),
            None => format!("{}-{s}", QUALIFIERS.len()),
        }
    }

    fn int_cmp(a: &str, b: &str) -> Ordering {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }

    /// `ComparableVersion.Item.compareTo`, with `None` for a missing item.
    pub fn compare(a: &Item, b: Option<&Item>) -> Ordering {
        match (a, b) {
            (Item::Int(x), None) => {
                if x == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(x), Some(Item::Int(y))) => int_cmp(x, y),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(x), None) => qualifier(x).cmp(&qualifier("")),
            (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
            (Item::Str(x), Some(Item::Str(y))) => qualifier(x).cmp(&qualifier(y)),
            // Maven 3.9 (MNG-6964): the whole list against nothing, not only its first item;
            // comparing the first alone is not transitive (found by fuzzing, as MNG-6964 was).
            (Item::List(l), None) => l
                .iter()
                .map(|x| compare(x, None))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(l), Some(Item::List(r))) => {
                for i in 0..l.len().max(r.len()) {
                    let ord = match (l.get(i), r.get(i)) {
                        (Some(x), y) => compare(x, y),
                        (None, Some(y)) => compare(y, None).reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

/// RubyGems' `Gem::Version` (rubygems/version.rb).
pub mod gem {
    use std::cmp::Ordering;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Seg {
        Num(String),
        Str(String),
    }

    #[derive(Debug, Clone)]
    pub struct GemVersion(Vec<Seg>);

    pub fn parse(v: &str) -> Result<GemVersion, String> {
        let t = v.trim();
        let ok = !t.is_empty()
            && t.starts_with(|c: char| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            return Err(format!("{v:?} is not a RubyGems version"));
        }
        // `1.0-beta` is `1.0.pre.beta`.
        let t = t.replace('-', ".pre.");
        let mut segs = Vec::new();
        let mut cur = String::new();
        let mut digit = false;
        for c in t.chars() {
            if c.is_ascii_alphanumeric() {
                if !cur.is_empty() && c.is_ascii_digit() != digit {
                    segs.push(seg(&cur, digit));
                    cur.clear();
                }
                digit = c.is_ascii_digit();
                cur.push(c);
            } else if !cur.is_empty() {
                segs.push(seg(&cur, digit));
                cur.clear();
            }
        }
        if !cur.is_empty() {
            segs.push(seg(&cur, digit));
        }
        Ok(GemVersion(canonical(segs)))
    }

    fn seg(s: &str, digit: bool) -> Seg {
        if digit {
            let d = s.trim_start_matches('0');
            Seg::Num(if d.is_empty() { "0".into() } else { d.into() })
        } else {
            Seg::Str(s.to_owned())
        }
    }

    /// `canonical_segments`: trailing zeros dropped from the release part and the pre-release part.
    fn canonical(segs: Vec<Seg>) -> Vec<Seg> {
        let split = segs
            .iter()
            .position(|s| matches!(s, Seg::Str(_)))
            .unwrap_or(segs.len());
        let (num, pre) = segs.split_at(split);
        let trim = |part: &[Seg]| -> Vec<Seg> {
            let mut v = part.to_vec();
            while v.last().is_some_and(|s| *s == Seg::Num("0".into())) {
                v.pop();
            }
            v
        };
        let mut out = trim(num);
        out.extend(trim(pre));
        out
    }

    pub fn compare(a: &GemVersion, b: &GemVersion) -> Ordering {
        let zero = Seg::Num("0".into());
        for i in 0..a.0.len().max(b.0.len()) {
            let l = a.0.get(i).unwrap_or(&zero);
            let r = b.0.get(i).unwrap_or(&zero);
            let ord = match (l, r) {
                (Seg::Num(x), Seg::Num(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
                (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
                (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
                (Seg::Str(x), Seg::Str(y)) => x.cmp(y),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

/// NuGet's `NuGetVersion` (NuGet.Versioning): up to four numbers, SemVer 2.0 release labels
/// compared case-insensitively, metadata ignored.
pub mod nuget {
    use std::cmp::Ordering;

    #[derive(Debug, Clone)]
    pub struct NuGetVersion {
        numbers: [u64; 4],
        labels: Vec<String>,
    }

    pub fn parse(v: &str) -> Result<NuGetVersion, String> {
        let t = v.trim();
        let t = t.split_once('+').map_or(t, |(x, _)| x);
        let (core, label) = match t.split_once('-') {
            Some((c, l)) => (c, Some(l)),
            None => (t, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 4 {
            return Err(format!("{v:?} is not a NuGet version"));
        }
        let mut numbers = [0u64; 4];
        for (i, p) in parts.iter().enumerate() {
            numbers[i] = p
                .parse()
                .map_err(|_| format!("{v:?} is not a NuGet version"))?;
        }
        let labels: Vec<String> = match label {
            Some(l) => {
                let ls: Vec<String> = l.split('.').map(str::to_lowercase).collect();
                if ls.iter().any(|x| {
                    x.is_empty() || !x.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                }) {
                    return Err(format!("{v:?} has an invalid release label"));
                }
                ls
            }
            None => Vec::new(),
        };
        Ok(NuGetVersion { numbers, labels })
    }

    pub fn compare(a: &NuGetVersion, b: &NuGetVersion) -> Ordering {
        a.numbers
            .cmp(&b.numbers)
            .then_with(|| match (a.labels.is_empty(), b.labels.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (x, y) in a.labels.iter().zip(&b.labels) {
                        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                            (Ok(m), Ok(n)) => m.cmp(&n),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => x.cmp(y),
                        };
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                    a.labels.len().cmp(&b.labels.len())
                }
            })
    }
}

/// Packagist: Composer normalises (`v1.2` → `1.2.0.0`, `-beta.2` → `-beta2`), then compares with
/// PHP's `version_compare`.
pub mod composer {
    use std::cmp::Ordering;

    /// The canonical parts PHP's `version_compare` splits a normalised version into.
    pub fn normalise(v: &str) -> Result<Vec<String>, String> {
        let t = v.trim().to_lowercase();
        let t = t.strip_prefix('v').unwrap_or(&t);
        if !t.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("{v:?} is not a Composer version"));
        }
        let t = t.split_once('+').map_or(t, |(x, _)| x);
        // The numeric core padded to four parts, as Composer's VersionParser does.
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (core, rest) = t.split_at(end);
        let mut nums: Vec<&str> = core.split('.').filter(|s| !s.is_empty()).collect();
        if nums.len() > 4 {
            return Err(format!("{v:?} has more than four numbers"));
        }
        while nums.len() < 4 {
            nums.push("0");
        }
        let joined = format!("{}{}", nums.join("."), rest);
        Ok(php_canonical(&joined))
    }

    /// PHP's `php_canonicalize_version` + split: `-`, `_`, `+` become `.`, and a change between
    /// digits and other characters starts a new part.
    fn php_canonical(s: &str) -> Vec<String> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut prev: Option<bool> = None;
        for c in s.chars() {
            if matches!(c, '.' | '-' | '_' | '+') {
                if !cur.is_empty() {
                    parts.push(std::mem::take(&mut cur));
                }
                prev = None;
                continue;
            }
            let d = c.is_ascii_digit();
            if prev.is_some_and(|p| p != d) && !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
            cur.push(c);
            prev = Some(d);
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
        parts
    }

    /// PHP's special forms: `dev` < `alpha`=`a` < `beta`=`b` < `RC`=`rc` < `#` (a number) <
    /// `pl`=`p`; anything else below all of them.
    fn special(s: &str) -> i32 {
        const FORMS: [(&str, i32); 10] = [
            ("dev", 0),
            ("alpha", 1),
            ("a", 1),
            ("beta", 2),
            ("b", 2),
            ("rc", 3),
            ("#", 4),
            ("pl", 5),
            ("p", 5),
            ("patch", 5),
        ];
        FORMS
            .iter()
            .find(|(f, _)| s.starts_with(f))
            .map_or(-6, |(_, n)| *n)
    }

    fn num(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_digit())
    }

    fn part_cmp(a: &str, b: &str) -> Ordering {
        match (num(a), num(b)) {
            (true, true) => {
                let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (false, false) => special(a).cmp(&special(b)),
            (true, false) => special("#").cmp(&special(b)),
            (false, true) => special(a).cmp(&special("#")),
        }
    }

    pub fn compare(a: &[String], b: &[String]) -> Ordering {
        for i in 0..a.len().max(b.len()) {
            let ord = match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => part_cmp(x, y),
                // PHP: a longer version wins when the extra part is a number (1.0 < 1.0.1), and is
                // compared as a special form against `#` otherwise (1.0-beta < 1.0).
                (Some(x), None) => {
                    if num(x) {
                        Ordering::Greater
                    } else {
                        part_cmp(x, "0")
                    }
                }
                (None, Some(y)) => {
                    if num(y) {
                        Ordering::Less
                    } else {
                        part_cmp("0", y)
                    }
                }
                (None, None) => Ordering::Equal,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

/// Alpine's apk-tools order: `1.2.3[letter][_suffix[N]]…[-rN]`, suffixes `_alpha` < `_beta` <
/// `_pre` < `_rc` < (none) < `_cvs` < `_svn` < `_git` < `_hg` < `_p`.
pub mod apk {
    use std::cmp::Ordering;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ApkVersion {
        numbers: Vec<String>,
        letter: Option<char>,
        suffixes: Vec<(i8, u64)>,
        revision: u64,
    }

    const SUFFIXES: [(&str, i8); 9] = [
        ("alpha", -4),
        ("beta", -3),
        ("pre", -2),
        ("rc", -1),
        ("cvs", 1),
        ("svn", 2),
        ("git", 3),
        ("hg", 4),
        ("p", 5),
    ];

    pub fn parse(v: &str) -> Result<ApkVersion, String> {
        let bad = || format!("{v:?} is not an Alpine package version");
        let t = v.trim();
        let (t, revision) = match t.rsplit_once("-r") {
            Some((head, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => {
                (head, r.parse().map_err(|_| bad())?)
            }
            _ => (t, 0),
        };
        let mut pieces = t.split('_');
        let head = pieces.next().ok_or_else(bad)?;
        let (nums, letter) = match head.chars().last() {
            Some(c) if c.is_ascii_lowercase() => (&head[..head.len() - 1], Some(c)),
            _ => (head, None),
        };
        let numbers: Vec<String> = nums.split('.').map(str::to_owned).collect();
        if numbers
            .iter()
            .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let mut suffixes = Vec::new();
        for s in pieces {
            let name_end = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
            let (name, n) = s.split_at(name_end);
            let rank = SUFFIXES
                .iter()
                .find(|(x, _)| *x == name)
                .map(|(_, r)| *r)
                .ok_or_else(bad)?;
            let n = if n.is_empty() {
                0
            } else {
                n.parse().map_err(|_| bad())?
            };
            suffixes.push((rank, n));
        }
        Ok(ApkVersion {
            numbers,
            letter,
            suffixes,
            revision,
        })
    }

    fn num_cmp(first: bool, a: &str, b: &str) -> Ordering {
        // apk compares a later component with a leading zero as a decimal fraction (1.01 < 1.1).
        if !first && (a.starts_with('0') || b.starts_with('0')) {
            return a.cmp(b);
        }
        let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
    }

    pub fn compare(a: &ApkVersion, b: &ApkVersion) -> Ordering {
        for (i, (x, y)) in a.numbers.iter().zip(&b.numbers).enumerate() {
            let ord = num_cmp(i == 0, x, y);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.numbers
            .len()
            .cmp(&b.numbers.len())
            .then_with(|| a.letter.cmp(&b.letter))
            .then_with(|| {
                for i in 0..a.suffixes.len().max(b.suffixes.len()) {
                    let x = a.suffixes.get(i).copied().unwrap_or((0, 0));
                    let y = b.suffixes.get(i).copied().unwrap_or((0, 0));
                    let ord = x.cmp(&y);
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            })
            .then_with(|| a.revision.cmp(&b.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Each list is strictly increasing in its scheme.
    fn ascending(scheme: Scheme, list: &[&str]) {
        for w in list.windows(2) {
            assert_eq!(
                scheme.compare(w[0], w[1]),
                Some(Less),
                "{scheme:?}: {} < {}",
                w[0],
                w[1]
            );
            assert_eq!(scheme.compare(w[1], w[0]), Some(Greater));
        }
    }

    #[test]
    fn pypi_follows_pep_440() {
        ascending(
            Scheme::PyPI,
            &[
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.1.dev1",
                "1!0.1",
            ],
        );
        assert_eq!(Scheme::PyPI.compare("1.0", "1.0.0"), Some(Equal));
        assert_eq!(Scheme::PyPI.compare("v1.0", "1.0"), Some(Equal));
        assert!(Scheme::PyPI.compare("0.1-bulbasaur", "1.0").is_none());
        assert!(Scheme::PyPI.order("0.1-bulbasaur", "1.0").fallback);
    }

    #[test]
    fn semver_family() {
        ascending(
            Scheme::Npm,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.1",
                "1.10.0",
            ],
        );
        assert_eq!(Scheme::Npm.compare("v1.2", "1.2.0"), Some(Equal));
        assert_eq!(Scheme::Cargo.compare("1.0.0+build.1", "1.0.0"), Some(Equal));
        assert!(Scheme::Cargo.compare("01.0.0", "1.0.0").is_none());
    }

    #[test]
    fn go_pseudo_versions_and_incompatible() {
        ascending(
            Scheme::Go,
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-000000000000",
                "v0.1.0",
                "v1.2.3-pre",
                "v1.2.3",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4",
            ],
        );
        assert_eq!(
            Scheme::Go.compare("2.8.6+incompatible", "v2.8.6"),
            Some(Equal)
        );
        assert_eq!(Scheme::Go.compare("0", "v0.0.0"), Some(Equal));
    }

    #[test]
    fn maven_comparable_version() {
        // From maven-artifact 3.6's ComparableVersionTest (VERSIONS_QUALIFIER and VERSIONS_NUMBER).
        ascending(
            Scheme::Maven,
            &[
                "1-alpha2snapshot",
                "1-alpha2",
                "1-alpha-123",
                "1-beta-2",
                "1-beta123",
                "1-m2",
                "1-m11",
                "1-rc",
                "1-cr2",
                "1-rc123",
                "1-SNAPSHOT",
                "1",
                "1-sp",
                "1-sp2",
                "1-sp123",
                "1-abc",
                "1-def",
                "1-pom-1",
                "1-1-snapshot",
                "1-1",
                "1-2",
                "1-123",
            ],
        );
        ascending(
            Scheme::Maven,
            &[
                "2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b",
                "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
                "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
            ],
        );
        for (a, b) in [
            ("1", "1.0.0"),
            ("1-ga", "1"),
            ("1-final", "1"),
            ("1a1", "1-alpha-1"),
            ("1cr", "1rc"),
            ("1.0-RC1", "1.0-rc-1"),
        ] {
            assert_eq!(Scheme::Maven.compare(a, b), Some(Equal), "{a} = {b}");
        }
    }

    #[test]
    fn maven_is_not_transitive_and_ward_follows_it() {
        // An unknown qualifier is above the release (`1.0.semver` > `1`) but below any number
        // (`1.0.semver` < `1.0.0.alpha.2`), while the alpha is below the release: a cycle in
        // Maven's own ComparableVersion. Ward follows Maven; sorts use `sort_versions`.
        let o = |a, b| Scheme::Maven.compare(a, b).unwrap();
        assert_eq!(o("1", "1.0.semver"), Less);
        assert_eq!(o("1.0.semver", "1.0.0.alpha.2"), Less);
        assert_eq!(o("1.0.0.alpha.2", "1"), Less);
    }

    #[test]
    fn rubygems() {
        ascending(
            Scheme::RubyGems,
            &[
                "1.0.a", "1.0.b1", "1.0.pre", "1.0.rc1", "1.0", "1.0.1", "1.1", "5.0.0.1",
            ],
        );
        assert_eq!(Scheme::RubyGems.compare("1.0.0", "1"), Some(Equal));
        assert_eq!(
            Scheme::RubyGems.compare("1.0-beta", "1.0.pre.beta"),
            Some(Equal)
        );
    }

    #[test]
    fn nuget() {
        ascending(
            Scheme::NuGet,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.2",
                "1.0.0-alpha.10",
                "1.0.0-Beta",
                "1.0.0",
                "1.0.0.1",
                "1.0.1",
            ],
        );
        assert_eq!(Scheme::NuGet.compare("1.0", "1.0.0.0"), Some(Equal));
        assert_eq!(
            Scheme::NuGet.compare("1.0.0-RC", "1.0.0-rc+meta"),
            Some(Equal)
        );
    }

    #[test]
    fn composer() {
        ascending(
            Scheme::Packagist,
            &[
                "1.0.0-dev",
                "1.0.0-alpha1",
                "1.0.0-beta2",
                "1.0.0-RC1",
                "1.0.0",
                "1.0.0-p1",
                "1.0.1",
                "v1.1",
            ],
        );
        assert_eq!(Scheme::Packagist.compare("v1.2", "1.2.0.0"), Some(Equal));
    }

    #[test]
    fn debian_rpm_alpine() {
        ascending(
            Scheme::Debian,
            &[
                "1.0~rc1-1",
                "1.0-1",
                "1.0-1+deb12u1",
                "1.0-2",
                "1.0a-1",
                "1:0.9-1",
            ],
        );
        ascending(
            Scheme::Rpm,
            &["1.0~rc1-1", "1.0-1", "1.0^git1-1", "1.0.1-1", "1:0.5-1"],
        );
        ascending(
            Scheme::Alpine,
            &[
                "1.2_alpha",
                "1.2_beta2",
                "1.2_rc1",
                "1.2",
                "1.2-r1",
                "1.2_p1",
                "1.2a",
                "1.2.1",
                "1.10",
            ],
        );
        assert!(Scheme::Alpine.compare("1.2-foo", "1.2").is_none());
    }

    #[test]
    fn mixed_readable_and_unreadable_versions_sort_without_panicking() {
        // `1.0a!` is not PEP 440: compared by the vendor order it sits between `1.0` and `1.0a1`,
        // while PEP 440 puts the alpha `1.0a1` before `1.0`: a cycle, no total order.
        let o = |a, b| Scheme::PyPI.order(a, b).ordering;
        assert_eq!(
            (o("1.0", "1.0a!"), o("1.0a!", "1.0a1"), o("1.0a1", "1.0")),
            (Less, Less, Less)
        );
        let mut v: Vec<&str> = ["1.0a1", "2.0", "1.0a!", "0.9", "1.0", "x", "1.0a!"]
            .into_iter()
            .cycle()
            .take(70)
            .collect();
        sort_versions(&mut v, |a, b| o(a, b));
        let mut sorted = v.clone();
        sorted.sort_unstable();
        let mut expected: Vec<&str> = ["1.0a1", "2.0", "1.0a!", "0.9", "1.0", "x", "1.0a!"]
            .into_iter()
            .cycle()
            .take(70)
            .collect();
        expected.sort_unstable();
        assert_eq!(sorted, expected, "a permutation");
    }

    #[test]
    fn unreadable_versions_fall_back_with_a_flag() {
        let o = Scheme::NuGet.order("not-a-version", "1.0");
        assert!(o.fallback);
        assert_eq!(
            Scheme::Generic.order("1.0", "2.0"),
            Order {
                ordering: Less,
                fallback: false
            }
        );
    }
}
