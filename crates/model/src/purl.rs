//! Package URLs (purl) and the OSV ecosystem each one names.
//!
//! Parsing and the purl specification's per-type canonical forms (lower-cased names for `pypi`,
//! `npm`, `deb`, `composer`…; `_` → `-` for PyPI) come from the `packageurl` crate, which ships
//! the purl-spec test suite. Ward adds what the specification leaves to tools: which OSV
//! ecosystem (`PyPI`, `Go`, `Debian:12`, `Alpine:v3.20`, …) and package name a purl denotes, and
//! the name normalisation each ecosystem's registry applies (PEP 503 for PyPI).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use packageurl::PackageUrl;

/// A parsed, canonical package URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub subpath: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid package URL {input:?}: {message}")]
pub struct PurlError {
    pub input: String,
    pub message: String,
}

impl FromStr for Purl {
    type Err = PurlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |message: String| PurlError {
            input: s.to_owned(),
            message,
        };
        let p = PackageUrl::from_str(s.trim()).map_err(|e| err(e.to_string()))?;
        let mut purl = Self {
            ty: p.ty().to_owned(),
            // The crate leaves an empty namespace for `pkg:t/./name`; it is no namespace.
            namespace: p.namespace().filter(|n| !n.is_empty()).map(str::to_owned),
            name: p.name().to_owned(),
            version: p.version().map(str::to_owned),
            qualifiers: p
                .qualifiers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            subpath: p.subpath().map(str::to_owned),
        };
        // The crate accepts an encoded `/` (`%2F`) inside a name or namespace segment but prints
        // it bare, so such a purl would read back as another (found by fuzzing). A purl Ward
        // keeps is one whose canonical form reads back as itself.
        let canonical = purl
            .to_package_url()
            .map_err(|e| err(e.to_string()))?
            .to_string();
        match canonical.parse::<PackageUrl>() {
            Ok(back)
                if back.name() == purl.name
                    && back.namespace().filter(|n| !n.is_empty()) == purl.namespace.as_deref() =>
            {
                // Go module paths are case-sensitive (`github.com/Masterminds/vcs` is not
                // `github.com/masterminds/vcs`), but the crate lower-cases a `golang` namespace
                // as an older purl-spec said to: Ward keeps the spelling as written.
                if purl.ty == "golang"
                    && let Some(written) = namespace_as_written(s.trim())
                    && purl
                        .namespace
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&written))
                {
                    purl.namespace = Some(written);
                }
                Ok(purl)
            }
            _ => Err(err(
                "a name or namespace segment contains `/` (encoded as %2F)".into(),
            )),
        }
    }
}

/// The namespace of a purl as its author spelled it, percent-decoded: the segments between the
/// type and the name. `None` when there is none or a segment does not decode.
fn namespace_as_written(s: &str) -> Option<String> {
    let s = s.split('#').next()?;
    let s = s.split('?').next()?;
    let s = s.strip_prefix("pkg:").or_else(|| s.strip_prefix("PKG:"))?;
    // The version follows the last `@` (an `@` in a namespace is written `%40`).
    let path = s.rsplit_once('@').map_or(s, |(p, _)| p);
    let segments: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if segments.len() < 3 {
        return None;
    }
    let decoded = segments[1..segments.len() - 1]
        .iter()
        .map(|seg| {
            percent_encoding::percent_decode_str(seg)
                .decode_utf8()
                .ok()
                .map(|d| d.into_owned())
        })
        .collect::<Option<Vec<_>>>()?;
    Some(decoded.join("/"))
}

impl Purl {
    /// The crate's value for this purl, which prints the canonical form.
    fn to_package_url(&self) -> Result<PackageUrl<'_>, packageurl::Error> {
        let mut p = PackageUrl::new(self.ty.as_str(), self.name.as_str())?;
        if let Some(ns) = &self.namespace {
            p.with_namespace(ns.as_str())?;
        }
        if let Some(v) = &self.version {
            p.with_version(v.as_str())?;
        }
        for (k, v) in &self.qualifiers {
            p.add_qualifier(k.as_str(), v.as_str())?;
        }
        if let Some(s) = &self.subpath {
            p.with_subpath(s.as_str())?;
        }
        Ok(p)
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Infallible for a parsed purl: parsing checks that its canonical form exists.
        self.to_package_url().map_err(|_| fmt::Error)?.fmt(f)
    }
}

/// A package as OSV names it: an ecosystem (with its release for distributions) and a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Package {
    /// The OSV ecosystem: `PyPI`, `Go`, `Maven`, `Debian:12`, `Alpine:v3.20`…
    pub ecosystem: String,
    /// The package name in the ecosystem's own spelling (`group:artifact` for Maven, the
    /// module path for Go, `@scope/name` for npm, the source package for Debian).
    pub name: String,
}

impl Package {
    /// The index key: `("pkg:<ecosystem base, lower-cased>", normalised name)`.
    pub fn key(&self) -> (String, String) {
        package_key(&self.ecosystem, &self.name)
    }
}

/// The ecosystem without its release: `Debian:12` → `Debian`.
pub fn ecosystem_base(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// The index key for a package named in an ecosystem (see [`Package::key`]).
pub fn package_key(ecosystem: &str, name: &str) -> (String, String) {
    let base = ecosystem_base(ecosystem).to_lowercase();
    let name = normalise_package_name(&base, name);
    (format!("pkg:{base}"), name)
}

/// A package name as its registry compares names: PEP 503 for PyPI (`Foo_Bar.baz` →
/// `foo-bar-baz`), lower-cased everywhere else. Lower-casing is safe for the index: ecosystems
/// with case-sensitive names (Go, Maven) do not publish two packages differing only in case.
pub fn normalise_package_name(ecosystem_base_lower: &str, name: &str) -> String {
    let lower = name.trim().to_lowercase();
    if ecosystem_base_lower != "pypi" {
        return lower;
    }
    let mut out = String::with_capacity(lower.len());
    let mut in_sep = false;
    for c in lower.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.push(c);
            in_sep = false;
        }
    }
    out
}

impl Purl {
    /// The OSV packages this purl can be matched as: usually one; a Debian binary package
    /// also as its source package (`upstream` qualifier), which is what Debian's advisories name.
    pub fn packages(&self) -> Vec<Package> {
        let joined = || match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        };
        let one = |ecosystem: &str, name: String| {
            vec![Package {
                ecosystem: ecosystem.to_owned(),
                name,
            }]
        };
        match self.ty.as_str() {
            "pypi" => one("PyPI", self.name.clone()),
            "npm" => one("npm", joined()),
            "maven" => match &self.namespace {
                Some(ns) => one("Maven", format!("{ns}:{}", self.name)),
                None => Vec::new(),
            },
            "golang" => one("Go", joined()),
            "cargo" => one("crates.io", self.name.clone()),
            "gem" => one("RubyGems", self.name.clone()),
            "nuget" => one("NuGet", self.name.clone()),
            "composer" => one("Packagist", joined()),
            "hex" => one("Hex", self.name.clone()),
            "pub" => one("Pub", self.name.clone()),
            "hackage" => one("Hackage", self.name.clone()),
            "cran" => one("CRAN", self.name.clone()),
            "swift" => one("SwiftURL", joined()),
            "conan" => one("ConanCenter", self.name.clone()),
            "bitnami" => one("Bitnami", self.name.clone()),
            "github" => one("GitHub Actions", joined()),
            "deb" => {
                let ecosystem = match self.namespace.as_deref() {
                    Some("ubuntu") => distro_release("Ubuntu", self.qualifiers.get("distro"), ""),
                    _ => distro_release("Debian", self.qualifiers.get("distro"), ""),
                };
                let mut out = one(&ecosystem, self.name.clone());
                if let Some(src) = self.qualifiers.get("upstream") {
                    // `upstream=openssl@3.0.11-1` or just the source name.
                    let src = src.split('@').next().unwrap_or(src).trim();
                    if !src.is_empty() && src != self.name {
                        out.push(Package {
                            ecosystem,
                            name: src.to_owned(),
                        });
                    }
                }
                out
            }
            "apk" => {
                let eco = match self.namespace.as_deref() {
                    Some("wolfi") => "Wolfi".to_owned(),
                    Some("chainguard") => "Chainguard".to_owned(),
                    _ => distro_release("Alpine", self.qualifiers.get("distro"), "v"),
                };
                one(&eco, self.name.clone())
            }
            "rpm" => {
                let base = match self.namespace.as_deref() {
                    Some("redhat") => "Red Hat",
                    Some("rocky" | "rockylinux") => "Rocky Linux",
                    Some("almalinux") => "AlmaLinux",
                    Some("opensuse") => "openSUSE",
                    Some("suse" | "sles") => "SUSE",
                    Some("mageia") => "Mageia",
                    Some("openeuler") => "openEuler",
                    _ => return Vec::new(),
                };
                // Enterprise Linux rebuilds: the major release from `distro=rhel-9.2` or the
                // version's `.el9` tag, as their advisories are per release.
                let release = matches!(base, "Red Hat" | "Rocky Linux" | "AlmaLinux")
                    .then(|| {
                        self.qualifiers
                            .get("distro")
                            .and_then(|d| {
                                let r = d.rsplit('-').next().unwrap_or(d);
                                let major: String =
                                    r.chars().take_while(char::is_ascii_digit).collect();
                                (!major.is_empty()).then_some(major)
                            })
                            .or_else(|| self.version.as_deref().and_then(el_release))
                    })
                    .flatten();
                match release {
                    Some(r) => one(&format!("{base}:{r}"), self.name.clone()),
                    None => one(base, self.name.clone()),
                }
            }
            _ => Vec::new(),
        }
    }
}

/// The Enterprise Linux major release an RPM version's dist tag names: `2.34-100.el9_4.2` →
/// `9`, `1.1.1k-9.el8_6` → `8`; `None` without an `.elN` tag.
pub fn el_release(version: &str) -> Option<String> {
    let release = version.rsplit_once('-').map_or(version, |(_, r)| r);
    let at = release.find(".el")?;
    let major: String = release[at + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!major.is_empty()).then_some(major)
}

/// `Debian` + `distro=debian-12` → `Debian:12`; `Alpine` + `distro=alpine-3.20.3` → `Alpine:v3.20`.
/// Without a usable distro qualifier, the ecosystem alone (any release).
fn distro_release(base: &str, distro: Option<&String>, prefix: &str) -> String {
    let Some(d) = distro else {
        return base.to_owned();
    };
    let release = d.rsplit('-').next().unwrap_or(d).trim_start_matches('v');
    let release = match base {
        // Debian's OSV releases are major numbers; code names map to them.
        "Debian" => match release {
            "buster" => "10".to_owned(),
            "bullseye" => "11".to_owned(),
            "bookworm" => "12".to_owned(),
            "trixie" => "13".to_owned(),
            r => r.split('.').next().unwrap_or(r).to_owned(),
        },
        "Alpine" => release.split('.').take(2).collect::<Vec<_>>().join("."),
        _ => release.to_owned(),
    };
    if release.is_empty() || !release.starts_with(|c: char| c.is_ascii_digit()) {
        return base.to_owned();
    }
    format!("{base}:{prefix}{release}")
}

/// The purl type (the `vers:` scheme) for an OSV ecosystem: `PyPI` → `pypi`, `Go` → `golang`.
/// Case-insensitive, so the lower-cased ecosystem of a package key (`pkg:go`) works too.
pub fn purl_type_for_ecosystem(ecosystem: &str) -> &'static str {
    match ecosystem_base(ecosystem).to_ascii_lowercase().as_str() {
        "pypi" => "pypi",
        "npm" => "npm",
        "go" => "golang",
        "crates.io" => "cargo",
        "maven" => "maven",
        "rubygems" => "gem",
        "nuget" => "nuget",
        "packagist" => "composer",
        "debian" | "ubuntu" => "deb",
        "alpine" | "wolfi" | "chainguard" => "apk",
        "hex" => "hex",
        "pub" => "pub",
        "red hat" | "rocky linux" | "almalinux" | "opensuse" | "suse" | "mageia" | "openeuler" => {
            "rpm"
        }
        _ => "generic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packages(s: &str) -> Vec<(String, String)> {
        s.parse::<Purl>()
            .unwrap()
            .packages()
            .into_iter()
            .map(|p| (p.ecosystem, p.name))
            .collect()
    }

    #[test]
    fn purls_name_osv_packages() {
        assert_eq!(
            packages("pkg:pypi/Django_Rest.Framework@3.0"),
            [("PyPI".into(), "django-rest.framework".into())]
        );
        assert_eq!(
            package_key("PyPI", "Django_Rest.Framework"),
            ("pkg:pypi".into(), "django-rest-framework".into())
        );
        assert_eq!(
            packages("pkg:npm/%40angular/core@16.0.0"),
            [("npm".into(), "@angular/core".into())]
        );
        assert_eq!(
            packages("pkg:maven/org.yaml/snakeyaml@1.25"),
            [("Maven".into(), "org.yaml:snakeyaml".into())]
        );
        assert_eq!(
            packages("pkg:golang/github.com/gorilla/mux@v1.8.0"),
            [("Go".into(), "github.com/gorilla/mux".into())]
        );
        // Go module paths keep their case (the crate would lower-case the namespace).
        assert_eq!(
            packages("pkg:golang/github.com/Masterminds/vcs@v1.13.1"),
            [("Go".into(), "github.com/Masterminds/vcs".into())]
        );
        assert_eq!(
            packages("pkg:golang/github.com/Foo%2Dbar/baz@v1.0.0?x=y#sub"),
            [("Go".into(), "github.com/Foo-bar/baz".into())]
        );
        assert_eq!(
            packages(
                "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
            ),
            [
                ("Debian:12".into(), "libssl3".into()),
                ("Debian:12".into(), "openssl".into())
            ]
        );
        assert_eq!(
            packages("pkg:apk/alpine/busybox@1.36.1-r5?distro=alpine-3.19.1"),
            [("Alpine:v3.19".into(), "busybox".into())]
        );
        assert_eq!(
            packages("pkg:deb/debian/bash@5.2?distro=bookworm"),
            [("Debian:12".into(), "bash".into())]
        );
        assert!(packages("pkg:generic/openssl@3.0").is_empty());
        assert_eq!(purl_type_for_ecosystem("Go"), "golang");
        assert_eq!(purl_type_for_ecosystem("go"), "golang");
        assert_eq!(purl_type_for_ecosystem("Debian:12"), "deb");
    }

    #[test]
    fn invalid_purls_are_errors_that_quote_the_input() {
        for bad in [
            "",
            "pkg:",
            "pkg:pypi",
            "npm/foo@1",
            "pkg:maven/@1.0",
            "pkg:composer/name@1",
            // Found by fuzzing: an encoded `/` in a namespace segment.
            "pkg:./@%/@%%%%%fkgp^kg:(@%2fk%%%%%tkg: \0:%2%%",
        ] {
            let e = bad.parse::<Purl>().unwrap_err();
            assert_eq!(e.input, bad);
        }
    }

    #[test]
    fn display_is_canonical() {
        let p: Purl = "pkg:PYPI/Foo_Bar@1.0".parse().unwrap();
        assert_eq!(p.to_string(), "pkg:pypi/foo-bar@1.0");
        // Found by fuzzing: an empty namespace printed as `//`, which then read differently.
        let p: Purl = "pkg:generic/./k".parse().unwrap();
        assert_eq!(p.namespace, None);
        assert_eq!(p.to_string().parse::<Purl>().unwrap(), p);
    }
}
