//! What an OSV view says about a component named by a purl.

use ward_model::advisory::{PackageAffected, PackageRange, RangeEvent, RangeKind, Status};
use ward_model::purl::{Package, ecosystem_base, package_key, purl_type_for_ecosystem};
use ward_model::{Advisory, Purl};

use crate::ecosystem::Scheme;
use crate::evaluate::{Basis, Verdict};
use crate::vers::{Vers, is_zero, sorted_events};

/// A component as OSV sees it: the packages its purl names and its version.
#[derive(Debug, Clone)]
pub struct PackageSubject {
    pub purl: String,
    pub packages: Vec<Package>,
    pub version: Option<String>,
}

impl PackageSubject {
    /// `None` when the purl is invalid or names no ecosystem OSV covers.
    pub fn from_purl(purl: &str, version: Option<&str>) -> Option<Self> {
        let p: Purl = purl.parse().ok()?;
        let packages = p.packages();
        if packages.is_empty() {
            return None;
        }
        Some(Self {
            purl: p.to_string(),
            version: p
                .version
                .clone()
                .or_else(|| version.map(str::to_owned))
                .filter(|v| !v.trim().is_empty()),
            packages,
        })
    }

    /// Why this component's version cannot be placed among its advisories' ranges: none is
    /// given (`no-version`), or it is not valid in its ecosystem's order (`invalid-version`).
    /// Such a version is never ordered by a fallback: the component is reported unchecked.
    pub fn unreadable(&self) -> Option<(&'static str, String)> {
        let Some(version) = self.version.as_deref() else {
            return Some((
                "no-version",
                "the inventory gives no version, so no advisory's ranges could be applied".into(),
            ));
        };
        let ecosystem = &self.packages.first()?.ecosystem;
        let scheme = Scheme::for_ecosystem(ecosystem);
        if scheme == Scheme::Generic {
            return None;
        }
        match scheme.parse(version) {
            Ok(_) => None,
            Err(e) => Some((
                "invalid-version",
                format!(
                    "version `{version}` is not valid in {}'s version order ({e}); Ward does not guess where it falls",
                    ward_model::purl::ecosystem_base(ecosystem)
                ),
            )),
        }
    }

    pub fn keys(&self) -> Vec<(String, String)> {
        let mut k: Vec<_> = self.packages.iter().map(Package::key).collect();
        k.dedup();
        k
    }
}

/// Which of the subject's packages an OSV entry names, and a caveat when the release is unsaid.
fn names(affected: &PackageAffected, subject: &PackageSubject) -> Option<Option<String>> {
    // The key holds the ecosystem (without release) and the normalised name.
    let key = package_key(&affected.ecosystem, &affected.name);
    for p in &subject.packages {
        if p.key() != key {
            continue;
        }
        // The index folds case; Go module paths are case-sensitive (`github.com/Masterminds/vcs`
        // is not `github.com/masterminds/vcs`), and govulncheck matches them exactly.
        if ecosystem_base(&affected.ecosystem).eq_ignore_ascii_case("Go") && p.name != affected.name
        {
            continue;
        }
        let theirs = affected.ecosystem.split_once(':').map(|(_, r)| r);
        let ours = p.ecosystem.split_once(':').map(|(_, r)| r);
        match (theirs, ours) {
            (Some(t), Some(o)) if !same_release(&affected.ecosystem, t, o) => continue,
            (Some(t), None) => {
                return Some(Some(format!(
                    "the advisory is for {} {t}; the inventory does not say which release the package is from",
                    ecosystem_base(&affected.ecosystem)
                )));
            }
            _ => return Some(None),
        }
    }
    None
}

/// Two spellings of a distribution release: equal ignoring case; for the Enterprise Linux
/// family, equal majors (`enterprise_linux:9::appstream`, `rhel_eus:9.2::baseos` and `9` are
/// all release 9, as RPM dist tags `.el9_2` are).
fn same_release(ecosystem: &str, theirs: &str, ours: &str) -> bool {
    if theirs.eq_ignore_ascii_case(ours) {
        return true;
    }
    if !matches!(
        ecosystem_base(ecosystem),
        "Red Hat" | "Rocky Linux" | "AlmaLinux"
    ) {
        return false;
    }
    let major = |r: &str| -> Option<String> {
        let at = r.find(|c: char| c.is_ascii_digit())?;
        Some(r[at..].chars().take_while(char::is_ascii_digit).collect())
    };
    major(theirs).is_some() && major(theirs) == major(ours)
}

/// OSV's evaluation of one `SEMVER`/`ECOSYSTEM` range (the schema's `isAffected`): walk the
/// events in order; `introduced` at or below the version opens, `fixed` at or below and
/// `last_affected` below it close.
pub fn in_range(scheme: Scheme, range: &PackageRange, version: &str, fallback: &mut bool) -> bool {
    in_sorted(scheme, &sorted_events(scheme, range), version, fallback)
}

/// [`in_range`] over events already in order; the installed version is read once.
fn in_sorted(scheme: Scheme, events: &[&RangeEvent], version: &str, fallback: &mut bool) -> bool {
    let installed = scheme.parse(version).ok();
    let mut cmp = |v: &str| match (&installed, scheme.parse(v)) {
        (Some(a), Ok(b)) => a.cmp_key(&b),
        _ => {
            *fallback = true;
            crate::version::compare(version, v)
        }
    };
    let mut affected = false;
    for e in events {
        let v = e.version();
        match e {
            RangeEvent::Introduced(_) => {
                if is_zero(v) || cmp(v).is_ge() {
                    affected = true;
                }
            }
            RangeEvent::Fixed(_) | RangeEvent::Limit(_) => {
                if cmp(v).is_ge() {
                    affected = false;
                }
            }
            RangeEvent::LastAffected(_) => {
                if cmp(v).is_gt() {
                    affected = false;
                }
            }
        }
    }
    affected
}

/// One OSV view's verdict on a component; `None` when the view does not name its package.
pub fn evaluate_package(advisory: &Advisory, subject: &PackageSubject) -> Option<Verdict> {
    let mut named = false;
    let mut notes = Vec::new();
    let mut fixed = Vec::new();
    let mut evaluable = false;
    let mut hit: Option<(Basis, String, String)> = None;
    let mut outside: Vec<String> = Vec::new();
    let mut git: Vec<String> = Vec::new();
    let mut fallback = false;
    let mut scheme = Scheme::Generic;
    for aff in &advisory.packages {
        let Some(caveat) = names(aff, subject) else {
            continue;
        };
        named = true;
        notes.extend(caveat);
        scheme = Scheme::for_ecosystem(&aff.ecosystem);
        let criterion = aff.purl.clone().unwrap_or_else(|| {
            format!(
                "pkg:{}/{}",
                purl_type_for_ecosystem(&aff.ecosystem),
                aff.name
            )
        });
        for r in &aff.ranges {
            for e in &r.events {
                if let RangeEvent::Fixed(v) = e
                    && r.kind != RangeKind::Git
                {
                    fixed.push(v.clone());
                }
            }
        }
        let Some(version) = subject.version.as_deref() else {
            continue;
        };
        if !aff.versions.is_empty() {
            evaluable = true;
            let listed = aff.versions.iter().find(|v| {
                v.trim() == version.trim() || scheme.compare(v, version).is_some_and(|o| o.is_eq())
            });
            if let Some(v) = listed
                && hit.is_none()
            {
                hit = Some((
                    Basis::Exact,
                    criterion.clone(),
                    format!("{v} (listed in `versions` of {})", aff.ecosystem),
                ));
            }
        }
        for r in &aff.ranges {
            if r.kind == RangeKind::Git {
                git.push(git_text(r));
                continue;
            }
            evaluable = true;
            // SEMVER ranges are SemVer whatever the ecosystem; ECOSYSTEM ranges use its order.
            let s = if r.kind == RangeKind::Semver && !scheme.is_semver() {
                Scheme::Semver
            } else {
                scheme
            };
            // Sorted once for both the verdict and its `vers:` text.
            let events = sorted_events(s, r);
            let vers = Vers::from_sorted(s, &events).to_string();
            if in_sorted(s, &events, version, &mut fallback) {
                if !matches!(hit, Some((Basis::Range, ..))) {
                    hit = Some((Basis::Range, criterion.clone(), vers));
                }
            } else {
                outside.push(vers);
            }
        }
    }
    if !named {
        return None;
    }
    if fallback {
        notes.push(format!(
            "a version here is not valid in the {} scheme; it was ordered by Ward's generic version order",
            scheme.vers_name()
        ));
    }
    let git_only = hit.is_none() && !evaluable && !git.is_empty() && subject.version.is_some();
    let (status, basis, criterion, range) = if subject.version.is_none() {
        (
            Status::Unknown,
            Basis::DefaultStatus,
            subject.purl.clone(),
            "the inventory gives no version".to_owned(),
        )
    } else if let Some((basis, criterion, range)) = hit {
        (Status::Affected, basis, criterion, range)
    } else if evaluable {
        (
            Status::Unaffected,
            Basis::Range,
            subject.purl.clone(),
            format!("outside {}", outside.join(" and ")),
        )
    } else if git_only {
        notes.push(
            "the advisory gives only GIT commit ranges; Ward cannot place a released version among commits without the repository, so check by hand".into(),
        );
        (
            Status::Affected,
            Basis::AllVersions,
            subject.purl.clone(),
            git.join("; "),
        )
    } else {
        // Named with neither ranges nor versions: OSV reads this as every version.
        (
            Status::Affected,
            Basis::AllVersions,
            subject.purl.clone(),
            "every version (the advisory lists no ranges)".to_owned(),
        )
    };
    Some(Verdict {
        scheme: Some(scheme),
        git_only,
        notes,
        ..Verdict::new(&advisory.source, status, basis, criterion, range, fixed)
    })
}

fn git_text(r: &PackageRange) -> String {
    let events: Vec<String> = r
        .events
        .iter()
        .map(|e| match e {
            RangeEvent::Introduced(v) => format!("introduced {v}"),
            RangeEvent::Fixed(v) => format!("fixed {v}"),
            RangeEvent::LastAffected(v) => format!("last affected {v}"),
            RangeEvent::Limit(v) => format!("limit {v}"),
        })
        .collect();
    format!(
        "GIT {}: {}",
        r.repo.as_deref().unwrap_or("(repository not named)"),
        events.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::SourceId;

    fn advisory(
        ecosystem: &str,
        name: &str,
        ranges: Vec<PackageRange>,
        versions: &[&str],
    ) -> Advisory {
        let mut a = Advisory::new("CVE-2099-0001", SourceId::Osv("GHSA-test".into()));
        a.packages.push(PackageAffected {
            ecosystem: ecosystem.into(),
            name: name.into(),
            purl: None,
            ranges,
            versions: versions.iter().map(|s| s.to_string()).collect(),
            ecosystem_specific: None,
            database_specific: None,
        });
        a
    }

    fn range(kind: RangeKind, events: &[(&str, &str)]) -> PackageRange {
        PackageRange {
            kind,
            repo: Some("https://example.invalid/repo".into()),
            events: events
                .iter()
                .map(|(k, v)| match *k {
                    "introduced" => RangeEvent::Introduced(v.to_string()),
                    "fixed" => RangeEvent::Fixed(v.to_string()),
                    "last_affected" => RangeEvent::LastAffected(v.to_string()),
                    _ => RangeEvent::Limit(v.to_string()),
                })
                .collect(),
        }
    }

    fn verdict(a: &Advisory, purl: &str) -> Option<Verdict> {
        evaluate_package(a, &PackageSubject::from_purl(purl, None).unwrap())
    }

    #[test]
    fn ecosystem_ranges_use_the_ecosystem_order() {
        let a = advisory(
            "PyPI",
            "Django_REST",
            vec![range(
                RangeKind::Ecosystem,
                &[
                    ("introduced", "0"),
                    ("fixed", "1.0rc1"),
                    ("introduced", "2.0"),
                    ("last_affected", "2.0.post1"),
                ],
            )],
            &[],
        );
        let v = verdict(&a, "pkg:pypi/django-rest@1.0b3").unwrap();
        assert_eq!(v.status, Status::Affected);
        assert_eq!(v.range, "vers:pypi/<1.0rc1|>=2.0|<=2.0.post1");
        assert_eq!(
            verdict(&a, "pkg:pypi/django-rest@1.0").unwrap().status,
            Status::Unaffected
        );
        assert_eq!(
            verdict(&a, "pkg:pypi/django_rest@2.0.post1")
                .unwrap()
                .status,
            Status::Affected
        );
        assert_eq!(
            verdict(&a, "pkg:pypi/django-rest@2.0.post2")
                .unwrap()
                .status,
            Status::Unaffected
        );
        assert!(verdict(&a, "pkg:pypi/django@1.0").is_none());
        assert!(verdict(&a, "pkg:npm/django-rest@1.0.0").is_none());
        assert_eq!(v.fixed, ["1.0rc1"]);
    }

    #[test]
    fn go_semver_ranges_ignore_build_metadata_and_v() {
        let a = advisory(
            "Go",
            "github.com/goharbor/harbor",
            vec![range(
                RangeKind::Semver,
                &[("introduced", "0"), ("fixed", "2.8.6+incompatible")],
            )],
            &[],
        );
        assert_eq!(
            verdict(
                &a,
                "pkg:golang/github.com/goharbor/harbor@v2.8.5%2Bincompatible"
            )
            .unwrap()
            .status,
            Status::Affected
        );
        assert_eq!(
            verdict(&a, "pkg:golang/github.com/goharbor/harbor@v2.8.6")
                .unwrap()
                .status,
            Status::Unaffected
        );
    }

    /// The Go standard library as toolchains write its versions (`go1.20.4`, `go1.21rc2`) is
    /// read as Go's own tools read it (`v1.20.4`, `v1.21.0-rc.2`), not by a fallback order that
    /// put it below every bound (149 false findings for each before).
    #[test]
    fn go_toolchain_versions_are_read_as_go_reads_them() {
        let a = advisory(
            "Go",
            "stdlib",
            vec![range(
                RangeKind::Semver,
                &[
                    ("introduced", "0"),
                    ("fixed", "1.20.5"),
                    ("introduced", "1.21.0-0"),
                    ("fixed", "1.21.1"),
                ],
            )],
            &[],
        );
        for (version, want) in [
            ("go1.20.4", Status::Affected),
            ("go1.20.5", Status::Unaffected),
            ("go1.20", Status::Affected),
            ("go1.21rc2", Status::Affected),
            ("go1.21.1", Status::Unaffected),
            ("go1.21.0", Status::Affected),
            ("go1.19beta1", Status::Affected),
        ] {
            let v = verdict(&a, &format!("pkg:golang/stdlib@{version}")).unwrap();
            assert_eq!(v.status, want, "{version}: {v:?}");
        }
    }

    #[test]
    fn versions_lists_and_git_ranges() {
        let a = advisory(
            "PyPI",
            "unoconv",
            vec![range(
                RangeKind::Git,
                &[("introduced", "abc123"), ("fixed", "def456")],
            )],
            &["0.6", "0.8.2"],
        );
        let v = verdict(&a, "pkg:pypi/unoconv@0.8.2").unwrap();
        assert_eq!((v.status, v.basis), (Status::Affected, Basis::Exact));
        assert_eq!(
            verdict(&a, "pkg:pypi/unoconv@0.9").unwrap().status,
            Status::Unaffected
        );
        let git_only = advisory(
            "PyPI",
            "unoconv",
            vec![range(
                RangeKind::Git,
                &[("introduced", "abc123"), ("fixed", "def456")],
            )],
            &[],
        );
        let v = verdict(&git_only, "pkg:pypi/unoconv@0.9").unwrap();
        assert!(v.git_only);
        assert_eq!(v.status, Status::Affected);
        assert!(v.range.contains("abc123"), "{}", v.range);
    }

    #[test]
    fn distribution_releases() {
        let a = advisory(
            "Debian:12",
            "openssl",
            vec![range(
                RangeKind::Ecosystem,
                &[("introduced", "0"), ("fixed", "3.0.15-1~deb12u1")],
            )],
            &[],
        );
        let v = verdict(
            &a,
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12&upstream=openssl",
        )
        .unwrap();
        assert_eq!(v.status, Status::Affected);
        assert!(v.notes.is_empty());
        assert!(verdict(&a, "pkg:deb/debian/openssl@3.0.11-1?distro=debian-11").is_none());
        let v = verdict(&a, "pkg:deb/debian/openssl@3.0.16-1").unwrap();
        assert_eq!(v.status, Status::Unaffected);
        assert!(v.notes[0].contains("which release"), "{:?}", v.notes);
    }
}
