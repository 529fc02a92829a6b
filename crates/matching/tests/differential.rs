//! Differential test: Ward's version orders and OSV range evaluation against univers
//! (aboutcode-org/univers, installed from PyPI by `.ci/run`), an independent implementation.
//!
//! Over every version in the shared OSV data (Go vulndb, PyPA advisory database) and edge
//! cases written for each scheme, both sides order pairs of versions and decide whether a
//! version is in a range (Ward: OSV's event algorithm; univers: the `vers:` Ward prints for the
//! same range). Agreement is printed per scheme; every disagreement must fall under a case
//! documented in docs/version-order.md, where the reference departs from the specification.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use ward_feeds::{Record, parse_document, walk};
use ward_matching::ecosystem::Scheme;
use ward_matching::package::in_range;
use ward_matching::vers::Vers;
use ward_model::Advisory;
use ward_model::advisory::RangeKind;

const SCRIPT: &str = include_str!("reference/univers_check.py");

fn load(rel: &str, out: &mut Vec<Advisory>) -> bool {
    let Some(path) = ward_testdata::shared(rel) else {
        return false;
    };
    walk(&path, &mut |name: &str, bytes: &[u8]| {
        if let Ok(parsed) = parse_document(name, bytes) {
            for r in parsed.records {
                if let Record::Advisory(a) = r {
                    out.push(*a);
                }
            }
        }
        Ok(())
    })
    .expect("the OSV archive reads");
    true
}

/// Edge cases per scheme, from each ecosystem's documentation and test suites.
fn edge_cases() -> Vec<(Scheme, Vec<&'static str>)> {
    vec![
        (
            Scheme::PyPI,
            vec![
                "1.0.dev0",
                "1.0a1",
                "1.0a1.post1",
                "1.0b2",
                "1.0rc1",
                "1.0c2",
                "1.0",
                "1.0.0",
                "1.0+local.1",
                "1.0+local.a",
                "1.0.post1",
                "1.0-1",
                "1.0.post1.dev1",
                "1!0.5",
                "1.0.0.0.1",
                "2.0.0a0",
                "v2.0",
                "2.0.dev",
                "2.0-rc.1",
                "2.0.RC2",
                "1.0_a1",
                "0.9.9999",
            ],
        ),
        (
            Scheme::Go,
            vec![
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-000000000000",
                "v0.1.0",
                "v1.2.3-pre",
                "v1.2.3-pre.1",
                "v1.2.3",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4",
                "v2.0.0",
                "v2.0.0+incompatible",
                "v2.1.0+incompatible",
                "v1.10.0",
                "v1.9.9",
            ],
        ),
        (
            Scheme::Npm,
            vec![
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
                "1.2.0",
                "0.0.1",
                "2.0.0-0",
            ],
        ),
        (
            Scheme::Maven,
            vec![
                "1-alpha2",
                "1-alpha-123",
                "1-beta-2",
                "1-beta123",
                "1-m2",
                "1-rc",
                "1-cr2",
                "1-SNAPSHOT",
                "1",
                "1.0.0",
                "1-sp",
                "1-sp2",
                "1-abc",
                "1-1",
                "1-123",
                "2.0",
                "2-1",
                "2.0.a",
                "2.0.2",
                "2.1-a",
                "2.1b",
                "2.1.0.1",
                "11.a2",
                "11.m11",
                "11",
                "1.0.RELEASE",
                "1.0.Final",
                "1.0-ga",
                "3.0.0.GA",
                "5.3.18",
            ],
        ),
        (
            Scheme::Debian,
            vec![
                "1.0~rc1-1",
                "1.0-1",
                "1.0-1+deb12u1",
                "1.0-1ubuntu0.1",
                "1.0-2",
                "1.0a-1",
                "1:0.9-1",
                "1.0",
                "1.0+dfsg-1",
                "1.0~~-1",
                "2.30-1",
                "2.4-1",
                "0:1.0-1",
            ],
        ),
        (
            Scheme::Rpm,
            vec![
                "1.0~rc1-1",
                "1.0-1",
                "1.0^git1-1",
                "1.0.1-1",
                "1:0.5-1",
                "1.0a-1",
                "1.0-1.el8",
                "1.0-1.el8_2",
                "1.0-10.el8",
                "2.0",
                "1.010-1",
            ],
        ),
        (
            Scheme::RubyGems,
            vec![
                "1.0.a",
                "1.0.b1",
                "1.0.pre",
                "1.0.rc1",
                "1.0",
                "1.0.0",
                "1.0.1",
                "1.1",
                "5.0.0.1",
                "1.0-beta",
                "2.0.0.pre.1",
            ],
        ),
        (
            Scheme::NuGet,
            vec![
                "1.0.0-alpha",
                "1.0.0-alpha.2",
                "1.0.0-alpha.10",
                "1.0.0-beta",
                "1.0.0",
                "1.0",
                "1.0.0.1",
                "1.0.1",
                "2.0.0-rc.1",
            ],
        ),
        (
            Scheme::Alpine,
            vec![
                "1.2_alpha",
                "1.2_beta2",
                "1.2_rc1",
                "1.2",
                "1.2-r1",
                "1.2_p1",
                "1.2a",
                "1.2.1",
                "1.10",
                "1.2_git20200101",
            ],
        ),
    ]
}

#[derive(Default)]
struct Tally {
    pairs: usize,
    agree: usize,
    ward_unreadable: usize,
    reference_unreadable: usize,
    documented: BTreeMap<&'static str, usize>,
    unexplained: Vec<String>,
}

/// Cases where univers departs from the specification Ward follows (docs/version-order.md).
/// Each is checked, not assumed: Ward, made to follow univers' rule, must give univers' answer.
fn documented(scheme: Scheme, a: &str, b: &str, theirs: i64) -> Option<&'static str> {
    if scheme == Scheme::Maven {
        // Maven 3.9 (MNG-7559) made `release` an alias of the release itself, like `ga` and
        // `final`: 1.0.RELEASE == 1.0. univers ports the older alias list, where `release` is
        // an unknown qualifier: Ward with `release` made unknown must agree with it.
        let unknown = |v: &str| v.to_lowercase().replace("release", "xrelease");
        if (a.to_lowercase().contains("release") || b.to_lowercase().contains("release"))
            && scheme.compare(&unknown(a), &unknown(b)).map(sign) == Some(theirs)
        {
            return Some(
                "maven `release` qualifier: an alias of the release since Maven 3.9 (MNG-7559); univers predates it",
            );
        }
    }
    None
}

fn sign(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

#[test]
fn version_order_and_ranges_agree_with_univers() {
    let mut advisories = Vec::new();
    let have_go = load("osv/golang-vulndb-2026-08-21.tar.xz", &mut advisories);
    let have_pypi = load(
        "osv/pypa-advisory-database-2024-10-10.tar.xz",
        &mut advisories,
    );

    // Versions per scheme, and range cases (vers printed by Ward, version, Ward's verdict).
    let mut versions: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut ranges: Vec<(Scheme, String, String, bool, String)> = Vec::new();
    let mut timed: Vec<(Scheme, &ward_model::advisory::PackageRange, String)> = Vec::new();
    for a in &advisories {
        for p in &a.packages {
            let scheme = Scheme::for_ecosystem(&p.ecosystem);
            if !matches!(scheme, Scheme::PyPI | Scheme::Go) {
                continue;
            }
            let set = versions.entry(scheme.vers_name()).or_default();
            set.extend(p.versions.iter().cloned());
            for r in p.ranges.iter().filter(|r| r.kind != RangeKind::Git) {
                let mut probes: BTreeSet<String> = p.versions.iter().cloned().collect();
                for e in &r.events {
                    if e.version() != "0" {
                        set.insert(e.version().to_owned());
                        probes.insert(e.version().to_owned());
                    }
                }
                let vers = Vers::from_osv(scheme, r).to_string();
                for v in probes {
                    if scheme.parse(&v).is_err() {
                        continue;
                    }
                    let mut fallback = false;
                    let ours = in_range(scheme, r, &v, &mut fallback);
                    if !fallback {
                        timed.push((scheme, r, v.clone()));
                        ranges.push((scheme, vers.clone(), v, ours, a.source.key()));
                    }
                }
            }
        }
    }

    // Pairs per scheme: neighbours in Ward's order, plus a deterministic sample.
    let mut jobs: Vec<(Scheme, Vec<(String, String)>)> = Vec::new();
    let mut unreadable: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for (name, set) in &versions {
        let scheme = Scheme::from_vers(name).unwrap();
        let (mut ok, bad): (Vec<&String>, Vec<&String>) =
            set.iter().partition(|v| scheme.parse(v).is_ok());
        *unreadable.entry(name).or_default() += bad.len();
        ok.sort_by(|a, b| scheme.compare(a, b).unwrap());
        let mut pairs: Vec<(String, String)> = ok
            .windows(2)
            .map(|w| (w[0].clone(), w[1].clone()))
            .collect();
        for _ in 0..10_000.min(ok.len() * 4) {
            let (i, j) = (next(ok.len()), next(ok.len()));
            pairs.push((ok[i].clone(), ok[j].clone()));
        }
        jobs.push((scheme, pairs));
    }
    for (scheme, list) in edge_cases() {
        let mut pairs = Vec::new();
        for a in &list {
            for b in &list {
                pairs.push((a.to_string(), b.to_string()));
            }
        }
        jobs.push((scheme, pairs));
    }

    let input = serde_json::json!({
        "orders": jobs.iter().map(|(s, p)| serde_json::json!([s.vers_name(), p])).collect::<Vec<_>>(),
        "ranges": ranges.iter().map(|(_, vers, v, ..)| serde_json::json!([vers, v])).collect::<Vec<_>>(),
    });
    let Some((ok, stdout, stderr)) =
        ward_testdata::python(&["univers"], SCRIPT, input.to_string().as_bytes())
    else {
        return;
    };
    assert!(ok, "univers_check.py failed: {stderr}");
    let reference: serde_json::Value =
        serde_json::from_str(&stdout).expect("JSON from the reference");

    let mut tallies: BTreeMap<(&'static str, &'static str), Tally> = BTreeMap::new();
    for ((scheme, pairs), results) in jobs.iter().zip(reference["orders"].as_array().unwrap()) {
        for ((a, b), theirs) in pairs.iter().zip(results.as_array().unwrap()) {
            let kind = if edge_cases()
                .iter()
                .any(|(s, l)| s == scheme && l.contains(&a.as_str()))
            {
                "edge cases"
            } else {
                "OSV data"
            };
            let t = tallies.entry((scheme.vers_name(), kind)).or_default();
            t.pairs += 1;
            let Some(ours) = scheme.compare(a, b) else {
                t.ward_unreadable += 1;
                continue;
            };
            let Some(theirs) = theirs.as_i64() else {
                t.reference_unreadable += 1;
                continue;
            };
            if sign(ours) == theirs {
                t.agree += 1;
            } else if let Some(why) = documented(*scheme, a, b, theirs) {
                *t.documented.entry(why).or_default() += 1;
            } else {
                t.unexplained
                    .push(format!("{a} vs {b}: Ward {ours:?}, univers {theirs}"));
            }
        }
    }
    let mut range_tally: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for ((scheme, vers, v, ours, source), theirs) in
        ranges.iter().zip(reference["ranges"].as_array().unwrap())
    {
        let t = range_tally.entry(scheme.vers_name()).or_default();
        t.pairs += 1;
        let Some(theirs) = theirs.as_bool() else {
            t.reference_unreadable += 1;
            continue;
        };
        if *ours == theirs {
            t.agree += 1;
        } else {
            t.unexplained.push(format!(
                "{source}: {v} in {vers}: Ward {ours}, univers {theirs}"
            ));
        }
    }

    // Not a timed assertion: the same range checks timed on both sides, for the closing note.
    let started = std::time::Instant::now();
    let mut fallback = false;
    let inside = timed
        .iter()
        .filter(|(scheme, r, v)| in_range(*scheme, r, v, &mut fallback))
        .count();
    let ward_seconds = started.elapsed().as_secs_f64();
    let univers_seconds = reference["range_seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "range checks: {} ({inside} inside); Ward {ward_seconds:.3} s, univers {univers_seconds:.3} s ({:.0}x)",
        timed.len(),
        univers_seconds / ward_seconds
    );
    println!(
        "data: Go vulndb {have_go}, PyPA {have_pypi}; versions Ward cannot read (kept, ordered by the generic order): {unreadable:?}"
    );
    println!(
        "{:<10} {:<11} {:>7} {:>7} {:>9} {:>9} {:>10} {:>11}",
        "scheme", "set", "pairs", "agree", "ward n/a", "univ n/a", "documented", "unexplained"
    );
    let rows = tallies
        .iter()
        .map(|((scheme, kind), t)| (*scheme, *kind, t))
        .chain(range_tally.iter().map(|(scheme, t)| (*scheme, "ranges", t)));
    let mut unexplained = Vec::new();
    for (scheme, kind, t) in rows {
        println!(
            "{scheme:<10} {kind:<11} {:>7} {:>7} {:>9} {:>9} {:>10} {:>11}",
            t.pairs,
            t.agree,
            t.ward_unreadable,
            t.reference_unreadable,
            t.documented.values().sum::<usize>(),
            t.unexplained.len()
        );
        unexplained.extend(
            t.unexplained
                .iter()
                .take(20)
                .map(|u| format!("{scheme} {kind}: {u}")),
        );
    }
    for t in tallies.values().chain(range_tally.values()) {
        for (why, n) in &t.documented {
            println!("  documented ({n}): {why}");
        }
    }
    assert!(
        unexplained.is_empty(),
        "unexplained disagreements:\n{}",
        unexplained.join("\n")
    );
    if have_pypi {
        let t = &range_tally["pypi"];
        assert!(
            t.pairs > 10_000 && t.agree * 100 >= t.pairs * 99,
            "PyPI ranges: {} of {}",
            t.agree,
            t.pairs
        );
    }
}
