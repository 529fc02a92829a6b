//! Matching's shortcuts checked against the long way, over the shared CVE 5 corpus:
//! - a view's entries filed by product ([`EntryIndex`]) give the verdict that evaluating every
//!   entry gives, for every view listing enough entries to be indexed, asked about components
//!   named by each entry's names and CPEs at the versions it lists;
//! - a scan's knowledge without the `affected` entries its inventory cannot be weighed against
//!   ([`entries_needed`]) gives the report of the whole knowledge, for an inventory named from a
//!   sample of the corpus's records, by CPE and by vendor and product names.

use std::sync::OnceLock;

use ward_feeds::{Record, parse_document, walk};
use ward_matching::evaluate::{
    AssetContext, EntryIndex, INDEXED_FROM, Subject, evaluate, evaluate_with,
};
use ward_matching::scan::{CPE_COVERAGE, Covered, Knowledge, entries_needed, inventory_keys, scan};
use ward_model::cpe::{Cpe, Part};
use ward_model::{Advisory, Assessment, Asset, Component, Finding, Inventory, Prioritiser};

/// Every view of the corpus, read once for every test here (without descriptions and
/// references, which matching never reads); `None`, said once, where the corpus is absent.
fn corpus() -> Option<&'static [Advisory]> {
    static CORPUS: OnceLock<Option<Vec<Advisory>>> = OnceLock::new();
    let views = CORPUS.get_or_init(|| {
        let Some(path) = ward_testdata::shared("cve5/vulnrichment-2024-10-24.tar.xz") else {
            eprintln!("skipped: the shared CVE 5 corpus is not here (set WARD_SHARED_DATA)");
            return None;
        };
        let mut views = Vec::new();
        walk(&path, &mut |name: &str, bytes: &[u8]| {
            if let Ok(parsed) = parse_document(name, bytes) {
                for r in parsed.records {
                    if let Record::Advisory(mut a) = r {
                        a.description = None;
                        a.references = Vec::new();
                        views.push(*a);
                    }
                }
            }
            Ok(())
        })
        .expect("the corpus reads");
        Some(views)
    });
    views.as_deref()
}

/// The components to ask a view about: each entry's products at a few of the versions it
/// names (and at no version), and one product it does not name.
fn subjects(view: &Advisory) -> Vec<Subject> {
    let mut out = Vec::new();
    let mut add = |part: Part, vendor: &str, product: &str, version: Option<&str>| {
        out.push(Subject {
            cpe: Cpe::new(part, vendor, product, version),
            derived: false,
        });
    };
    for entry in &view.affected {
        let mut versions: Vec<Option<&str>> = vec![None];
        for v in entry.versions.iter().take(2) {
            versions.push(Some(&v.version));
            versions.extend(v.less_than.as_deref().map(Some));
        }
        if let Some((vendor, product)) = entry.derived_key() {
            for v in &versions {
                add(Part::Application, &vendor, &product, *v);
            }
        }
        for cpe in entry.cpes.iter().take(2) {
            let (Some(vendor), Some(product)) = (cpe.vendor.literal(), cpe.product.literal())
            else {
                continue;
            };
            for v in &versions {
                add(cpe.part, vendor, product, *v);
            }
        }
    }
    add(Part::Application, "nobody", "nothing_listed", Some("1.0"));
    out
}

#[test]
fn an_indexed_view_gives_the_verdicts_of_every_entry() {
    let Some(corpus) = corpus() else {
        return;
    };
    let views: Vec<&Advisory> = corpus
        .iter()
        .filter(|v| v.affected.len() >= INDEXED_FROM)
        .collect();
    let context = AssetContext { components: &[] };
    let (mut asked, mut affected, mut wildcard_cpes) = (0usize, 0usize, 0usize);
    for &view in &views {
        let index = EntryIndex::of(view).expect("a view this long is indexed");
        wildcard_cpes += view
            .affected
            .iter()
            .flat_map(|e| &e.cpes)
            .filter(|c| c.vendor.literal().is_none() || c.product.literal().is_none())
            .count();
        let all = subjects(view);
        // A view of hundreds of entries is asked about an evenly spread sample of them.
        let step = all.len().div_ceil(300).max(1);
        for subject in all.iter().step_by(step) {
            let whole = evaluate(view, subject, &context);
            let filed = evaluate_with(view, Some(&index), subject, &context);
            assert_eq!(
                format!("{filed:?}"),
                format!("{whole:?}"),
                "{} ({}) for {}",
                view.id,
                view.source.key(),
                subject.cpe
            );
            asked += 1;
            affected += usize::from(whole.is_some());
        }
    }
    eprintln!(
        "{} indexed views, {asked} components asked, {affected} verdicts, {wildcard_cpes} CPEs \
         without a literal vendor or product",
        views.len()
    );
    // The corpus holds hundreds of such views (WordPress plugin collections, appliances by
    // model): the comparison is not empty.
    assert!(views.len() >= 100, "{} views", views.len());
    assert!(affected >= 1000, "{affected} verdicts");
}

/// Every finding at one priority, with the finding's facts in its reason: the report then
/// shows whatever the knowledge changed.
struct Plain;

impl Prioritiser for Plain {
    fn prioritise(&self, f: &Finding, _: &Asset) -> Assessment {
        Assessment {
            priority: ward_model::Priority::Scheduled,
            reason: format!("{} on {}", f.vulnerability, f.component.name),
            deadlines: ward_model::Deadlines::default(),
            decision_points: vec![],
            notes: vec![],
            cvss: vec![],
        }
    }
}

/// Components from every 47th view's entries: named by CPE, or by vendor and product as
/// an inventory without CPEs gives them, at the first version each entry lists.
fn inventory(views: &[Advisory]) -> Inventory {
    let mut components = Vec::new();
    for (i, view) in views.iter().enumerate().filter(|(i, _)| i % 47 == 0) {
        let Some(entry) = view.affected.iter().find(|e| e.derived_key().is_some()) else {
            continue;
        };
        let (vendor, product) = entry.derived_key().expect("found with one");
        // The kernel has thousands of records: its findings would be most of the report.
        if vendor == "linux" {
            continue;
        }
        let version = entry.versions.first().map(|v| v.version.clone());
        components.push(if i % 2 == 0 {
            Component {
                name: product.clone(),
                version: version.clone(),
                cpe: Some(Cpe::new(
                    Part::Application,
                    &vendor,
                    &product,
                    version.as_deref(),
                )),
                ..Component::default()
            }
        } else {
            Component {
                name: entry.product.clone().unwrap_or(product),
                vendor: entry.vendor.clone(),
                version,
                ..Component::default()
            }
        });
    }
    Inventory {
        assets: components
            .chunks(40)
            .enumerate()
            .map(|(i, c)| Asset {
                name: format!("asset-{i:03}"),
                components: c.to_vec(),
                ..Asset::default()
            })
            .collect(),
    }
}

#[test]
fn a_scan_without_the_entries_it_cannot_weigh_gives_the_same_report() {
    let Some(corpus) = corpus() else {
        return;
    };
    let inventory = inventory(corpus);
    // What a store loads for it: every view of each vulnerability with a view filed under
    // one of the inventory's products (the keys `Knowledge` files them by).
    let wanted: std::collections::HashSet<(String, String)> = inventory_keys(&inventory)
        .into_iter()
        .filter_map(|(v, p)| Some((v?, p)))
        .collect();
    let ids: std::collections::HashSet<&str> = corpus
        .iter()
        .filter(|v| v.product_keys().into_iter().any(|k| wanted.contains(&k)))
        .map(|v| v.id.as_str())
        .collect();
    let views: Vec<Advisory> = corpus
        .iter()
        .filter(|v| ids.contains(v.id.as_str()))
        .cloned()
        .collect();
    let keep = entries_needed(&inventory).expect("every component's CPE names its product");
    let kept: Vec<Advisory> = views
        .iter()
        .cloned()
        .map(|mut v| {
            v.affected.retain(|a| keep(a));
            v
        })
        .collect();
    let (before, after) = (
        views.iter().map(|v| v.affected.len()).sum::<usize>(),
        kept.iter().map(|v| v.affected.len()).sum::<usize>(),
    );
    // What the knowledge base covers comes from the store in a scan (`with_coverage`), not
    // from the views loaded: both are given the same.
    let covered = || {
        [(
            CPE_COVERAGE.to_owned(),
            Covered {
                advisories: 44_130,
                updated: None,
            },
        )]
    };
    let whole = scan(
        &Knowledge::from_parts(views, vec![], vec![]).with_coverage(covered()),
        &inventory,
        &Plain,
    );
    let slim = scan(
        &Knowledge::from_parts(kept, vec![], vec![]).with_coverage(covered()),
        &inventory,
        &Plain,
    );
    eprintln!(
        "{} components; entries {before} → {after}; {} findings, {} suppressed, {} unchecked",
        inventory.component_count(),
        whole.findings.len(),
        whole.suppressed.len(),
        whole.unchecked.len()
    );
    std::fs::write(
        "/tmp/slim.json",
        serde_json::to_string_pretty(&slim).unwrap(),
    )
    .unwrap();
    std::fs::write(
        "/tmp/whole.json",
        serde_json::to_string_pretty(&whole).unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&slim).unwrap(),
        serde_json::to_string_pretty(&whole).unwrap()
    );
    // Not an empty comparison: most entries went, and the inventory is found affected.
    assert!(after * 2 < before, "{before} → {after}");
    assert!(whole.findings.len() >= 1000, "{}", whole.findings.len());
}

/// A component whose CPE leaves its product open could be named by any entry: nothing is
/// dropped for such an inventory.
#[test]
fn an_open_product_keeps_every_entry() {
    let open = Inventory {
        assets: vec![Asset {
            name: "a".into(),
            components: vec![Component {
                name: "anything".into(),
                cpe: Some("cpe:2.3:a:example:*:1.0:*:*:*:*:*:*:*".parse().unwrap()),
                ..Component::default()
            }],
            ..Asset::default()
        }],
    };
    assert!(entries_needed(&open).is_none());
}
