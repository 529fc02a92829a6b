//! VEX statements applied to a scan: a statement that clears a finding (not affected, fixed)
//! moves it to `suppressed[]` naming the statement — never dropped silently; one that says
//! affected or under investigation adds its action to the finding's notes. When several
//! statements speak to one finding, the latest (by timestamp) decides, as OpenVEX says.

use std::collections::HashMap;
use ward_model::cpe::Cpe;

use ward_model::{Asset, Finding, Inventory, Purl, VexProduct, VexStatement};

use crate::cpe_match::match_identity;
use crate::scan::{ScanReport, Suppressed, recount};
use crate::version;

/// A statement's product as [`names`] reads it: its purl and CPE parsed once.
struct Named {
    purl: Option<Purl>,
    cpe: Option<Cpe>,
}

impl Named {
    fn of(products: &[VexProduct]) -> Vec<Self> {
        products
            .iter()
            .map(|p| Self {
                purl: p.purl.as_deref().and_then(|p| p.parse().ok()),
                cpe: p.cpe.as_deref().and_then(|c| c.parse().ok()),
            })
            .collect()
    }
}

/// Whether a statement's product names this component: the same package (purl type,
/// namespace and name; the version when the product gives one) or the same CPE product (and
/// version when given).
fn names(product: &Named, cpe: Option<&Cpe>, purl: Option<&Purl>, version: Option<&str>) -> bool {
    if let (Some(theirs), Some(ours)) = (&product.purl, purl)
        && theirs.ty == ours.ty
        && theirs.namespace == ours.namespace
        && theirs.name == ours.name
    {
        return match (&theirs.version, ours.version.as_deref().or(version)) {
            (None, _) => true,
            (Some(want), Some(have)) => same_version(want, have),
            (Some(_), None) => false,
        };
    }
    if let (Some(theirs), Some(ours)) = (&product.cpe, cpe)
        && match_identity(theirs, ours).is_some()
    {
        return match (theirs.version.literal(), ours.version.literal().or(version)) {
            (None, _) => true,
            (Some(want), Some(have)) => same_version(want, have),
            (Some(_), None) => false,
        };
    }
    false
}

/// `v5.1.1` and `5.1.1` are one release.
fn same_version(a: &str, b: &str) -> bool {
    let t = |s: &str| s.trim().trim_start_matches(['v', 'V']).to_owned();
    version::equal(&t(a), &t(b))
}

fn speaks_of(statement: &VexStatement, finding: &Finding) -> bool {
    let ids = std::iter::once(&statement.vulnerability).chain(&statement.aliases);
    ids.into_iter().any(|id| {
        id.eq_ignore_ascii_case(&finding.vulnerability)
            || finding.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
    })
}

/// Statements filed by each vulnerability id they name (their own and their aliases), upper
/// case: a finding is weighed against the statements that speak of it, not every statement.
/// Weighed against all of them, a scan's own OpenVEX read back (9,233 statements for 9,233
/// findings) took 1.8 s, and grew with the product of the two.
struct Filed<'a> {
    statements: &'a [VexStatement],
    by_id: HashMap<String, Vec<usize>>,
    /// Each statement's products and subcomponents, parsed once (a statement is weighed
    /// against every finding of its vulnerability).
    named: Vec<(Vec<Named>, Vec<Named>)>,
}

impl<'a> Filed<'a> {
    fn new(statements: &'a [VexStatement]) -> Self {
        let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in statements.iter().enumerate() {
            for id in std::iter::once(&s.vulnerability).chain(&s.aliases) {
                let places = by_id.entry(id.to_ascii_uppercase()).or_default();
                if places.last() != Some(&i) {
                    places.push(i);
                }
            }
        }
        let named = statements
            .iter()
            .map(|s| (Named::of(&s.products), Named::of(&s.subcomponents)))
            .collect();
        Self {
            statements,
            by_id,
            named,
        }
    }

    /// The statements that speak of `finding` ([`speaks_of`]), in the order given.
    fn speaking_of(
        &self,
        finding: &Finding,
    ) -> impl Iterator<Item = (&'a VexStatement, &(Vec<Named>, Vec<Named>))> {
        let mut places: Vec<usize> = std::iter::once(&finding.vulnerability)
            .chain(&finding.aliases)
            .filter_map(|id| self.by_id.get(&id.to_ascii_uppercase()))
            .flatten()
            .copied()
            .collect();
        places.sort_unstable();
        places.dedup();
        places
            .into_iter()
            .map(move |i| (&self.statements[i], &self.named[i]))
    }
}

/// The statement that speaks to a finding on this asset, the latest first.
fn statement_for<'a>(
    filed: &Filed<'a>,
    finding: &Finding,
    asset: Option<&Asset>,
) -> Option<&'a VexStatement> {
    let asset = asset?;
    let component = asset.components.iter().find(|c| {
        c.name == finding.component.name
            && (c.version == finding.component.version || c.version.is_none())
            && (c.purl == finding.component.purl)
    })?;
    let purl = component
        .purl
        .as_deref()
        .and_then(|p| p.parse::<Purl>().ok());
    let version = component.version.as_deref();
    // The CPE the finding was matched as: the component's own, or the one Ward derived from its
    // vendor and product names.
    let cpe = finding
        .component
        .cpe
        .as_deref()
        .and_then(|c| c.parse::<Cpe>().ok())
        .or_else(|| component.cpe.clone());
    let applies = |&(s, (products, subcomponents)): &(&VexStatement, &(Vec<Named>, Vec<Named>))| {
        if !speaks_of(s, finding) {
            return false;
        }
        // A statement naming no product speaks to every product the vulnerability is found in
        // (a central team's statement about the vulnerability as such).
        if s.products.is_empty() && s.subcomponents.is_empty() {
            return true;
        }
        if s.subcomponents.is_empty() {
            return products
                .iter()
                .any(|p| names(p, cpe.as_ref(), purl.as_ref(), version));
        }
        // A statement about parts of a product: the finding's component is one of the parts,
        // and the asset runs the product.
        subcomponents
            .iter()
            .any(|p| names(p, cpe.as_ref(), purl.as_ref(), version))
            && asset.components.iter().any(|c| {
                let cp = c.purl.as_deref().and_then(|p| p.parse::<Purl>().ok());
                products
                    .iter()
                    .any(|p| names(p, c.cpe.as_ref(), cp.as_ref(), c.version.as_deref()))
            })
    };
    // Of equally late statements, the last given decides (as when every statement was read).
    filed
        .speaking_of(finding)
        .filter(applies)
        .max_by_key(|(s, _)| s.timestamp)
        .map(|(s, _)| s)
}

/// Applies statements to a report: cleared findings move to `suppressed[]` with the statement;
/// the others gain the statement's action in their notes. The summary is recounted.
pub fn apply(report: &mut ScanReport, inventory: &Inventory, statements: &[VexStatement]) {
    if statements.is_empty() {
        return;
    }
    let filed = Filed::new(statements);
    // By name, the first asset of that name (as a search from the start found it).
    let mut assets: HashMap<&str, &Asset> = HashMap::new();
    for a in &inventory.assets {
        assets.entry(a.name.as_str()).or_insert(a);
    }
    let mut kept = Vec::with_capacity(report.findings.len());
    for mut f in std::mem::take(&mut report.findings) {
        let asset = assets.get(f.asset.as_str()).copied();
        let Some(s) = statement_for(&filed, &f, asset) else {
            kept.push(f);
            continue;
        };
        let who = format!(
            "{}{}{}",
            s.author.as_deref().unwrap_or("an unnamed author"),
            s.timestamp
                .map(|t| format!(" on {}", t.format("%Y-%m-%d")))
                .unwrap_or_default(),
            format_args!(" in {}", s.document)
        );
        if s.status.clears() {
            report.suppressed.push(Suppressed {
                vulnerability: f.vulnerability.clone(),
                asset: f.asset.clone(),
                component: (*f.component).clone(),
                reason: format!(
                    "VEX: {who} says {}{}",
                    s.status.as_str(),
                    s.justification
                        .as_deref()
                        .map(|j| format!(" ({j})"))
                        .unwrap_or_default()
                ),
                statement: Some(s.clone()),
            });
        } else {
            std::sync::Arc::make_mut(&mut f.explanation)
                .notes
                .push(format!(
                    "VEX: {who} says {}{}",
                    s.status.as_str(),
                    s.action
                        .as_deref()
                        .map(|a| format!("; action: {a}"))
                        .unwrap_or_default()
                ));
            kept.push(f);
        }
    }
    report.findings = kept;
    recount(report);
}
