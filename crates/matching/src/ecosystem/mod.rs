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
/// A Go toolchain version as Go's own tools read it (golang.org/x/vuln's `GoTagToSemver`):
/// `go1.20.4` → `1.20.4`, `go1.20` → `1.20.0`, `go1.21rc2` → `1.21.0-rc.2`, `go1.19beta1` →
/// `1.19.0-beta.1`, `go1` → `1.0.0`. `None` when it is not one.
fn go_toolchain(s: &str) -> Option<String> {
    let rest = s.strip_prefix("go")?;
    if rest == "1" {
        return Some("1.0.0".into());
    }
    let split = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let (core, pre) = rest.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut version = format!("{}.{}.{}", parts[0], parts[1], parts.get(2).unwrap_or(&"0"));
    if !pre.is_empty() {
        let digits = pre.find(|c: char| c.is_ascii_digit())?;
        let (word, n) = pre.split_at(digits);
        if !matches!(word, "beta" | "rc") || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        version.push_str(&format!("-{word}.{n}"));
    }
    Some(version)
}

fn semver_lenient(s: &str, go: bool) -> Result<semver::Version, String> {
    let toolchain = if go { go_toolchain(s.trim()) } else { None };
    let mut t = toolchain
        .as_deref()
        .unwrap_or(s)
        .trim_start_matches('=')
        .trim();
    if let Some(rest) = t.strip_prefix(['v', 'V']) {
        t = rest;
    } else if go && toolchain.is_none() && t != "0" && !t.starts_with(|c: char| c.is_ascii_digit())
    {
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

pub mod maven;

pub mod gem;

pub mod nuget;

pub mod composer;

pub mod apk;

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
