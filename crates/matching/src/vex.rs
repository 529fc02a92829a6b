//! VEX statements applied to a scan: a statement that clears a finding (not affected, fixed)
//! moves it to `suppressed[]` naming the statement — never dropped silently; one that says
//! affected or under investigation adds its action to the finding's notes. When several
//! statements speak to one finding, the latest (by timestamp) decides, as OpenVEX says.

use ward_model::cpe::Cpe;
use ward_model::{Finding, Inventory, Purl, VexProduct, VexStatement};

use crate::cpe_match::match_identity;
use crate::scan::{ScanReport, Suppressed, recount};
use crate::version;

/// Whether a statement's product names this component: the same package (purl type,
/// namespace and name; the version when the product gives one) or the same CPE product (and
/// version when given).
fn names(
    product: &VexProduct,
    cpe: Option<&Cpe>,
    purl: Option<&Purl>,
    version: Option<&str>,
) -> bool {
    if let (Some(theirs), Some(ours)) = (
        product.purl.as_deref().and_then(|p| p.parse::<Purl>().ok()),
        purl,
    ) && theirs.ty == ours.ty
        && theirs.namespace == ours.namespace
        && theirs.name == ours.name
    {
        return match (&theirs.version, ours.version.as_deref().or(version)) {
            (None, _) => true,
            (Some(want), Some(have)) => same_version(want, have),
            (Some(_), None) => false,
        };
    }
    if let (Some(theirs), Some(ours)) = (
        product.cpe.as_deref().and_then(|c| c.parse::<Cpe>().ok()),
        cpe,
    ) && match_identity(&theirs, ours).is_some()
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

/// The statement that speaks to a finding on this asset, the latest first.
fn statement_for<'a>(
    statements: &'a [VexStatement],
    finding: &Finding,
    inventory: &Inventory,
) -> Option<&'a VexStatement> {
    let asset = inventory.assets.iter().find(|a| a.name == finding.asset)?;
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
    let applies = |s: &&VexStatement| {
        if !speaks_of(s, finding) {
            return false;
        }
        // A statement naming no product speaks to every product the vulnerability is found in
        // (a central team's statement about the vulnerability as such).
        if s.products.is_empty() && s.subcomponents.is_empty() {
            return true;
        }
        if s.subcomponents.is_empty() {
            return s
                .products
                .iter()
                .any(|p| names(p, cpe.as_ref(), purl.as_ref(), version));
        }
        // A statement about parts of a product: the finding's component is one of the parts,
        // and the asset runs the product.
        s.subcomponents
            .iter()
            .any(|p| names(p, cpe.as_ref(), purl.as_ref(), version))
            && asset.components.iter().any(|c| {
                let cp = c.purl.as_deref().and_then(|p| p.parse::<Purl>().ok());
                s.products
                    .iter()
                    .any(|p| names(p, c.cpe.as_ref(), cp.as_ref(), c.version.as_deref()))
            })
    };
    statements
        .iter()
        .filter(applies)
        .max_by_key(|s| s.timestamp)
}

/// Applies statements to a report: cleared findings move to `suppressed[]` with the statement;
/// the others gain the statement's action in their notes. The summary is recounted.
pub fn apply(report: &mut ScanReport, inventory: &Inventory, statements: &[VexStatement]) {
    if statements.is_empty() {
        return;
    }
    let mut kept = Vec::with_capacity(report.findings.len());
    for mut f in std::mem::take(&mut report.findings) {
        let Some(s) = statement_for(statements, &f, inventory) else {
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
                component: f.component.clone(),
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
            f.explanation.notes.push(format!(
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
