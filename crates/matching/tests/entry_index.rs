//! A view's entries filed by product ([`EntryIndex`]) give the verdict that evaluating every
//! entry gives: over every view of the shared CVE 5 corpus that lists enough entries to be
//! indexed, for components named by each entry's names and CPEs at the versions it lists.

use ward_feeds::{Record, parse_document, walk};
use ward_matching::evaluate::{
    AssetContext, EntryIndex, INDEXED_FROM, Subject, evaluate, evaluate_with,
};
use ward_model::Advisory;
use ward_model::cpe::{Cpe, Part};

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
    let Some(path) = ward_testdata::shared("cve5/vulnrichment-2024-10-24.tar.xz") else {
        eprintln!("skipped: the shared CVE 5 corpus is not here (set WARD_SHARED_DATA)");
        return;
    };
    let mut views: Vec<Advisory> = Vec::new();
    walk(&path, &mut |name: &str, bytes: &[u8]| {
        if let Ok(parsed) = parse_document(name, bytes) {
            for r in parsed.records {
                if let Record::Advisory(a) = r
                    && a.affected.len() >= INDEXED_FROM
                {
                    views.push(*a);
                }
            }
        }
        Ok(())
    })
    .expect("the corpus reads");
    let context = AssetContext { components: &[] };
    let (mut asked, mut affected, mut wildcard_cpes) = (0usize, 0usize, 0usize);
    for view in &views {
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
