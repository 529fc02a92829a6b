//! CSAF 2.0 documents (`csaf_base`, `csaf_security_advisory`, `csaf_vex`): the product tree
//! resolved to things Ward can match, each vulnerability as one [`Advisory`] view of the
//! publisher (`csaf:<publisher namespace>#<tracking id>`), and the document's product statuses
//! as [`VexStatement`]s.
//!
//! **Products.** A product is named by a branch path (vendor › product name › version or
//! version range), a full product name, or a relationship (`X as a component of Y`). What makes
//! it matchable is its identification helper: a purl becomes an OSV-style package entry in its
//! ecosystem (`pkg:rpm/redhat/…` scoped to the Red Hat Enterprise Linux major release its
//! platform's CPE or its `.elN` tag names); a CPE, or failing that the vendor and product
//! names (and each model number and SKU as a further product name), becomes a CVE 5-style
//! `affected` entry whose versions come from the `product_version` branch or the
//! `product_version_range` (`vers:` or a comparison like `<= 4.2`).
//!
//! **Statuses.** `known_affected`, `first_affected`, `last_affected` are affected;
//! `fixed`, `first_fixed` and `known_not_affected` are not; `under_investigation` is unknown and
//! `recommended` says nothing about being affected. For packages, the fixed versions are read as
//! the vendor's fixes per branch (major.minor; per release for RPM): a version below the fix
//! of its branch is affected, and below the lowest branch's fix too.
//!
//! **Checks.** The document must deserialize into the schema's required shape (errors name the
//! JSON path), and the mandatory tests of CSAF 2.0 section 6.1 that decide what a product id
//! means are run: 6.1.1 (every referenced product id is defined), 6.1.2 (defined once), 6.1.3
//! (no relationship defines a product by itself), 6.1.4/6.1.5 (product group ids likewise),
//! 6.1.6 (no product in contradicting statuses), 6.1.7 (one score per CVSS version and
//! product). A product-tree failure refuses the document; a vulnerability-level failure is an
//! error for that vulnerability and the rest imports.
//!
//! The whole document is deserialized once into these typed structs (Red Hat's VEX documents
//! reach 23 MB); nothing else holds a copy of it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;
use ward_model::advisory::{
    Affected, AffectedVersion, PackageAffected, PackageRange, RangeEvent, RangeKind, Status,
};
use ward_model::cpe::Cpe;
use ward_model::{
    Advisory, Cvss, CvssVersion, Purl, SourceId, VexProduct, VexStatement, VexStatus,
};

use crate::Format;
use crate::document::{Parsed, Record, RecordError, from_slice_with_path, is_cve_id};
use crate::time::datetime;

// ---------------------------------------------------------------------------------------------
// The schema's shape (the parts Ward reads; unknown members are ignored, as the schema allows
// none but readers must not break on extensions).

#[derive(Deserialize)]
struct Doc {
    document: Document,
    #[serde(default)]
    product_tree: Option<ProductTree>,
    #[serde(default)]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Deserialize)]
struct Document {
    category: String,
    csaf_version: String,
    publisher: Publisher,
    title: String,
    tracking: Tracking,
    #[serde(default)]
    notes: Vec<Note>,
    #[serde(default)]
    references: Vec<Reference>,
}

#[derive(Deserialize)]
struct Publisher {
    category: PublisherCategory,
    name: String,
    namespace: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PublisherCategory {
    Coordinator,
    Discoverer,
    Other,
    Translator,
    User,
    Vendor,
}

#[derive(Deserialize)]
struct Tracking {
    id: String,
    current_release_date: String,
    initial_release_date: String,
    status: TrackingStatus,
    version: String,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum TrackingStatus {
    Draft,
    Final,
    Interim,
}

#[derive(Deserialize)]
struct Note {
    category: String,
    text: String,
}

#[derive(Deserialize)]
struct Reference {
    url: String,
}

#[derive(Deserialize, Default)]
struct ProductTree {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    full_product_names: Vec<FullProductName>,
    #[serde(default)]
    relationships: Vec<Relationship>,
    #[serde(default)]
    product_groups: Vec<ProductGroup>,
}

#[derive(Deserialize)]
struct Branch {
    category: String,
    name: String,
    #[serde(default)]
    branches: Vec<Self>,
    #[serde(default)]
    product: Option<FullProductName>,
}

#[derive(Deserialize, Clone)]
struct FullProductName {
    name: String,
    product_id: String,
    #[serde(default)]
    product_identification_helper: Option<Helper>,
}

#[derive(Deserialize, Clone, Default)]
struct Helper {
    #[serde(default)]
    cpe: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    model_numbers: Vec<String>,
    #[serde(default)]
    skus: Vec<String>,
}

#[derive(Deserialize)]
struct Relationship {
    category: String,
    full_product_name: FullProductName,
    product_reference: String,
    relates_to_product_reference: String,
}

#[derive(Deserialize)]
struct ProductGroup {
    group_id: String,
    product_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Vulnerability {
    #[serde(default)]
    cve: Option<String>,
    #[serde(default)]
    ids: Vec<VulnId>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    notes: Vec<Note>,
    #[serde(default)]
    cwe: Option<Cwe>,
    #[serde(default)]
    product_status: Option<ProductStatus>,
    #[serde(default)]
    remediations: Vec<Remediation>,
    #[serde(default)]
    threats: Vec<Threat>,
    #[serde(default)]
    flags: Vec<Flag>,
    #[serde(default)]
    scores: Vec<Score>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    release_date: Option<String>,
}

#[derive(Deserialize)]
struct VulnId {
    system_name: String,
    text: String,
}

#[derive(Deserialize)]
struct Cwe {
    id: String,
}

#[derive(Deserialize, Default)]
struct ProductStatus {
    #[serde(default)]
    first_affected: Vec<String>,
    #[serde(default)]
    first_fixed: Vec<String>,
    #[serde(default)]
    fixed: Vec<String>,
    #[serde(default)]
    known_affected: Vec<String>,
    #[serde(default)]
    known_not_affected: Vec<String>,
    #[serde(default)]
    last_affected: Vec<String>,
    #[serde(default)]
    recommended: Vec<String>,
    #[serde(default)]
    under_investigation: Vec<String>,
}

#[derive(Deserialize)]
struct Remediation {
    category: RemediationCategory,
    details: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RemediationCategory {
    Mitigation,
    NoFixPlanned,
    NoneAvailable,
    VendorFix,
    Workaround,
}

impl RemediationCategory {
    fn as_str(self) -> &'static str {
        match self {
            Self::Mitigation => "mitigation",
            Self::NoFixPlanned => "no_fix_planned",
            Self::NoneAvailable => "none_available",
            Self::VendorFix => "vendor_fix",
            Self::Workaround => "workaround",
        }
    }
}

#[derive(Deserialize)]
struct Threat {
    category: String,
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Flag {
    label: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Score {
    products: Vec<String>,
    #[serde(default)]
    cvss_v2: Option<Value>,
    #[serde(default)]
    cvss_v3: Option<Value>,
}

// ---------------------------------------------------------------------------------------------
// What Ward makes of a document.

/// A CSAF document read and checked.
#[derive(Debug, Default)]
pub struct CsafDocument {
    /// `csaf_security_advisory`, `csaf_vex`, `csaf_base` or a publisher's own category.
    pub category: String,
    pub publisher: String,
    pub namespace: String,
    pub tracking_id: String,
    /// One view per vulnerability the document describes.
    pub advisories: Vec<Advisory>,
    /// Every product status as a VEX statement (products by purl or CPE where they have one).
    pub statements: Vec<VexStatement>,
    /// Vulnerabilities that failed a check: the rest of the document stands.
    pub errors: Vec<RecordError>,
    pub warnings: Vec<RecordError>,
}

fn err(
    file: &str,
    record: &str,
    field: impl Into<String>,
    message: impl Into<String>,
) -> RecordError {
    RecordError::at(file, record, field, message)
}

/// Parses a CSAF document for import: its advisories become records.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, RecordError> {
    let doc = read_with(file, bytes, false)?;
    let mut parsed = Parsed::new(Format::Csaf);
    parsed.records = doc
        .advisories
        .into_iter()
        .map(|a| Record::Advisory(Box::new(a)))
        .collect();
    parsed.errors = doc.errors;
    parsed.warnings = doc.warnings;
    Ok(parsed)
}

/// One product as the tree defines it.
#[derive(Clone, Default)]
struct Product {
    id: String,
    name: String,
    /// The branch path above it: (category, name).
    path: Vec<(String, String)>,
    helper: Helper,
    /// For a relationship's product: the component and the product it is part of.
    relation: Option<(String, String)>,
    /// The helper's purl, parsed once (Red Hat's documents name tens of thousands of
    /// products, each referenced several times).
    purl: Option<Result<Purl, String>>,
}

impl PartialEq for Helper {
    fn eq(&self, o: &Self) -> bool {
        self.cpe == o.cpe
            && self.purl == o.purl
            && self.model_numbers == o.model_numbers
            && self.skus == o.skus
    }
}

impl Product {
    fn same_as(&self, other: &Self) -> bool {
        self.name == other.name
            && self.path == other.path
            && self.relation == other.relation
            && self.helper.cpe == other.helper.cpe
            && self.helper.purl == other.helper.purl
            && self.helper.model_numbers == other.helper.model_numbers
            && self.helper.skus == other.helper.skus
    }

    fn branch(&self, category: &str) -> Option<&str> {
        self.path
            .iter()
            .rev()
            .find(|(c, _)| c == category)
            .map(|(_, n)| n.as_str())
    }
}

struct Tree {
    products: HashMap<String, Product>,
    groups: HashMap<String, Vec<String>>,
}

/// Reads and checks a CSAF 2.0 document.
pub fn read(file: &str, bytes: &[u8]) -> Result<CsafDocument, RecordError> {
    read_with(file, bytes, true)
}

/// [`read`], with the VEX statements only when `statements` (an import needs the views alone).
fn read_with(file: &str, bytes: &[u8], with_statements: bool) -> Result<CsafDocument, RecordError> {
    let doc: Doc = from_slice_with_path(bytes).map_err(|(path, message)| {
        err(
            file,
            "-",
            path,
            format!("not a CSAF 2.0 document: {message}"),
        )
    })?;
    let d = &doc.document;
    if d.csaf_version != "2.0" {
        return Err(err(
            file,
            &d.tracking.id,
            "document.csaf_version",
            format!("CSAF version {:?}: Ward reads CSAF 2.0", d.csaf_version),
        ));
    }
    for (field, value) in [
        ("document.category", &d.category),
        ("document.title", &d.title),
        ("document.publisher.name", &d.publisher.name),
        ("document.tracking.id", &d.tracking.id),
        ("document.tracking.version", &d.tracking.version),
    ] {
        if value.trim().is_empty() {
            return Err(err(file, &d.tracking.id, field, "must not be empty"));
        }
    }
    // The schema's `uri` format: a scheme, a colon, and no white space.
    let ns = &d.publisher.namespace;
    let scheme_ok = ns.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if !scheme_ok || ns.contains(char::is_whitespace) {
        return Err(err(
            file,
            &d.tracking.id,
            "document.publisher.namespace",
            "must be a URI naming the publisher",
        ));
    }
    let mut out = CsafDocument {
        category: d.category.clone(),
        publisher: d.publisher.name.clone(),
        namespace: d.publisher.namespace.clone(),
        tracking_id: d.tracking.id.clone(),
        ..CsafDocument::default()
    };
    let tree = build_tree(
        file,
        &d.tracking.id,
        doc.product_tree.as_ref(),
        &mut out.warnings,
    )?;
    if d.tracking.status == TrackingStatus::Draft {
        out.warnings.push(err(
            file,
            &d.tracking.id,
            "document.tracking.status",
            "a draft document: imported, but the publisher has not released it",
        ));
    }
    let _ = &d.publisher.category;
    let source = SourceId::Csaf(format!("{}#{}", d.publisher.namespace, d.tracking.id));
    let updated = datetime(&d.tracking.current_release_date);
    let published = datetime(&d.tracking.initial_release_date);
    if updated.is_none() {
        return Err(err(
            file,
            &d.tracking.id,
            "document.tracking.current_release_date",
            "not a date-time",
        ));
    }
    for (i, v) in doc.vulnerabilities.iter().enumerate() {
        let record = v
            .cve
            .clone()
            .or_else(|| v.ids.first().map(|x| x.text.clone()))
            .unwrap_or_else(|| format!("#{i}"));
        let at = format!("vulnerabilities[{i}]");
        if let Err(e) = check_vulnerability(file, &record, &at, v, &tree, &mut out.warnings) {
            out.errors.push(e);
            continue;
        }
        let Some(id) = vulnerability_id(v) else {
            out.warnings.push(err(
                file,
                &record,
                at,
                "no CVE and no id Ward can file it under: skipped",
            ));
            continue;
        };
        let mut warnings = Vec::new();
        let mut a = advisory(
            file,
            &id,
            v,
            &tree,
            source.clone(),
            &d.publisher.name,
            &mut warnings,
        );
        a.updated = updated;
        a.published = v.release_date.as_deref().and_then(datetime).or(published);
        if a.title.is_none() {
            a.title = Some(d.title.clone());
        }
        if a.description.is_none() {
            a.description = d
                .notes
                .iter()
                .find(|n| n.category == "summary" || n.category == "description")
                .map(|n| n.text.clone());
        }
        for r in &d.references {
            if !a.references.contains(&r.url) {
                a.references.push(r.url.clone());
            }
        }
        if with_statements {
            out.statements.extend(statements(
                &id,
                &a.aliases,
                v,
                &tree,
                &d.publisher.name,
                updated,
                &format!("{} ({file})", d.tracking.id),
            ));
        }
        out.warnings.extend(warnings);
        out.advisories.push(a);
    }
    Ok(out)
}

/// The id a vulnerability is filed under: its CVE, else the first id that is an advisory id.
fn vulnerability_id(v: &Vulnerability) -> Option<String> {
    if let Some(cve) = &v.cve
        && is_cve_id(cve)
    {
        return Some(cve.clone());
    }
    v.ids
        .iter()
        .map(|x| x.text.trim())
        .find(|t| crate::document::is_advisory_id(t))
        .map(str::to_owned)
}

fn build_tree(
    file: &str,
    record: &str,
    tree: Option<&ProductTree>,
    warnings: &mut Vec<RecordError>,
) -> Result<Tree, RecordError> {
    let mut products: HashMap<String, Product> = HashMap::new();
    let mut groups = HashMap::new();
    let Some(tree) = tree else {
        return Ok(Tree { products, groups });
    };
    // Red Hat's documents repeat identical definitions (thousands in one document): one
    // meaning, so one warning for the document naming the first. Two different products under
    // one id cannot be matched: the document is refused.
    let mut repeated: Vec<(String, String)> = Vec::new();
    let mut define = |mut p: Product, at: String| -> Result<(), RecordError> {
        p.purl = p
            .helper
            .purl
            .as_deref()
            .map(|u| u.parse::<Purl>().map_err(|e| e.to_string()));
        if let Some(before) = products.get(&p.id) {
            if before.same_as(&p) {
                repeated.push((at, p.id));
                return Ok(());
            }
            return Err(err(
                file,
                record,
                at,
                format!("6.1.2: product id {:?} is defined more than once", p.id),
            ));
        }
        products.insert(p.id.clone(), p);
        Ok(())
    };
    // Branches, depth first, iteratively (the schema bounds nothing; a deep tree must not
    // overflow the stack).
    // (branch, the path above it, its JSON path)
    type Pending<'a> = (&'a Branch, Vec<(String, String)>, String);
    let mut stack: Vec<Pending<'_>> = tree
        .branches
        .iter()
        .enumerate()
        .rev()
        .map(|(i, b)| (b, Vec::new(), format!("product_tree.branches[{i}]")))
        .collect();
    while let Some((b, mut path, at)) = stack.pop() {
        path.push((b.category.clone(), b.name.clone()));
        if let Some(p) = &b.product {
            define(
                Product {
                    id: p.product_id.clone(),
                    name: p.name.clone(),
                    path: path.clone(),
                    helper: p.product_identification_helper.clone().unwrap_or_default(),
                    relation: None,
                    purl: None,
                },
                format!("{at}.product.product_id"),
            )?;
        }
        for (i, child) in b.branches.iter().enumerate().rev() {
            stack.push((child, path.clone(), format!("{at}.branches[{i}]")));
        }
    }
    for (i, p) in tree.full_product_names.iter().enumerate() {
        define(
            Product {
                id: p.product_id.clone(),
                name: p.name.clone(),
                path: Vec::new(),
                helper: p.product_identification_helper.clone().unwrap_or_default(),
                relation: None,
                purl: None,
            },
            format!("product_tree.full_product_names[{i}].product_id"),
        )?;
    }
    for (i, r) in tree.relationships.iter().enumerate() {
        let at = format!("product_tree.relationships[{i}]");
        let id = &r.full_product_name.product_id;
        if id == &r.product_reference || id == &r.relates_to_product_reference {
            return Err(err(
                file,
                record,
                format!("{at}.full_product_name.product_id"),
                format!("6.1.3: product id {id:?} is defined by a relationship to itself"),
            ));
        }
        define(
            Product {
                id: id.clone(),
                name: r.full_product_name.name.clone(),
                path: Vec::new(),
                helper: r
                    .full_product_name
                    .product_identification_helper
                    .clone()
                    .unwrap_or_default(),
                relation: Some((
                    r.product_reference.clone(),
                    r.relates_to_product_reference.clone(),
                )),
                purl: None,
            },
            format!("{at}.full_product_name.product_id"),
        )?;
        let _ = &r.category;
    }
    if let Some((at, id)) = repeated.first() {
        warnings.push(err(
            file,
            record,
            at.clone(),
            format!(
                "6.1.2: {} product ids are defined more than once, identically (read as one), the first {id:?}",
                repeated.len()
            ),
        ));
    }
    for (i, r) in tree.relationships.iter().enumerate() {
        for (field, reference) in [
            ("product_reference", &r.product_reference),
            (
                "relates_to_product_reference",
                &r.relates_to_product_reference,
            ),
        ] {
            if !products.contains_key(reference) {
                return Err(err(
                    file,
                    record,
                    format!("product_tree.relationships[{i}].{field}"),
                    format!("6.1.1: product id {reference:?} is not defined"),
                ));
            }
        }
    }
    // 6.1.3 through chains: following relationships from any product must end.
    for start in products.keys() {
        let mut seen = HashSet::new();
        let mut cur = start.as_str();
        while let Some((component, _)) = products.get(cur).and_then(|p| p.relation.as_ref()) {
            if !seen.insert(cur) {
                return Err(err(
                    file,
                    record,
                    "product_tree.relationships",
                    format!(
                        "6.1.3: product id {start:?} is defined through a circle of relationships"
                    ),
                ));
            }
            cur = component;
        }
    }
    for (i, g) in tree.product_groups.iter().enumerate() {
        if groups
            .insert(g.group_id.clone(), g.product_ids.clone())
            .is_some()
        {
            return Err(err(
                file,
                record,
                format!("product_tree.product_groups[{i}].group_id"),
                format!(
                    "6.1.5: product group id {:?} is defined more than once",
                    g.group_id
                ),
            ));
        }
        for (j, id) in g.product_ids.iter().enumerate() {
            if !products.contains_key(id) {
                return Err(err(
                    file,
                    record,
                    format!("product_tree.product_groups[{i}].product_ids[{j}]"),
                    format!("6.1.1: product id {id:?} is not defined"),
                ));
            }
        }
    }
    Ok(Tree { products, groups })
}

/// The mandatory tests that concern one vulnerability: 6.1.1, 6.1.4, 6.1.6, 6.1.7.
fn check_vulnerability(
    file: &str,
    record: &str,
    at: &str,
    v: &Vulnerability,
    tree: &Tree,
    warnings: &mut Vec<RecordError>,
) -> Result<(), RecordError> {
    let defined = |ids: &[String], field: String| -> Result<(), RecordError> {
        for (j, id) in ids.iter().enumerate() {
            if !tree.products.contains_key(id) {
                return Err(err(
                    file,
                    record,
                    format!("{field}[{j}]"),
                    format!("6.1.1: product id {id:?} is not defined in the product tree"),
                ));
            }
        }
        Ok(())
    };
    let groups = |ids: &[String], field: String| -> Result<(), RecordError> {
        for (j, id) in ids.iter().enumerate() {
            if !tree.groups.contains_key(id) {
                return Err(err(
                    file,
                    record,
                    format!("{field}[{j}]"),
                    format!("6.1.4: product group id {id:?} is not defined in the product tree"),
                ));
            }
        }
        Ok(())
    };
    if let Some(s) = &v.product_status {
        for (name, ids) in status_lists(s) {
            defined(ids, format!("{at}.product_status.{name}"))?;
        }
        // 6.1.6: one product, one of affected / not affected / fixed / under investigation.
        let mut seen: HashMap<&str, (&str, &str)> = HashMap::new();
        for (name, ids) in status_lists(s) {
            let Some(group) = status_group(name) else {
                continue;
            };
            for id in ids {
                if let Some((other, other_name)) = seen.insert(id, (group, name))
                    && other != group
                {
                    return Err(err(
                        file,
                        record,
                        format!("{at}.product_status"),
                        format!(
                            "6.1.6: product id {id:?} is both {other_name} and {name} (contradicting product status)"
                        ),
                    ));
                }
            }
        }
    }
    // Remediations and threats only add text to what the statuses say: an undefined id there
    // is a warning (it is ignored) rather than the loss of the vulnerability.
    for (i, r) in v.remediations.iter().enumerate() {
        for e in [
            defined(
                &r.product_ids,
                format!("{at}.remediations[{i}].product_ids"),
            ),
            groups(&r.group_ids, format!("{at}.remediations[{i}].group_ids")),
        ] {
            warnings.extend(e.err());
        }
    }
    for (i, t) in v.threats.iter().enumerate() {
        for e in [
            defined(&t.product_ids, format!("{at}.threats[{i}].product_ids")),
            groups(&t.group_ids, format!("{at}.threats[{i}].group_ids")),
        ] {
            warnings.extend(e.err());
        }
    }
    for (i, f) in v.flags.iter().enumerate() {
        defined(&f.product_ids, format!("{at}.flags[{i}].product_ids"))?;
        groups(&f.group_ids, format!("{at}.flags[{i}].group_ids"))?;
    }
    // 6.1.7: at most one score per CVSS version for a product.
    let mut scored: HashSet<(&str, String)> = HashSet::new();
    for (i, s) in v.scores.iter().enumerate() {
        defined(&s.products, format!("{at}.scores[{i}].products"))?;
        let versions: Vec<String> = [&s.cvss_v2, &s.cvss_v3]
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("version").and_then(Value::as_str).map(str::to_owned))
            .collect();
        for p in &s.products {
            for version in &versions {
                if !scored.insert((p.as_str(), version.clone())) {
                    return Err(err(
                        file,
                        record,
                        format!("{at}.scores[{i}]"),
                        format!("6.1.7: product id {p:?} has more than one CVSS {version} score"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn status_lists(s: &ProductStatus) -> [(&'static str, &[String]); 8] {
    [
        ("first_affected", &s.first_affected),
        ("first_fixed", &s.first_fixed),
        ("fixed", &s.fixed),
        ("known_affected", &s.known_affected),
        ("known_not_affected", &s.known_not_affected),
        ("last_affected", &s.last_affected),
        ("recommended", &s.recommended),
        ("under_investigation", &s.under_investigation),
    ]
}

/// The four groups of section 6.1.6; `recommended` is in none.
fn status_group(name: &str) -> Option<&'static str> {
    match name {
        "first_affected" | "known_affected" | "last_affected" => Some("affected"),
        "known_not_affected" => Some("not affected"),
        "first_fixed" | "fixed" => Some("fixed"),
        "under_investigation" => Some("under investigation"),
        _ => None,
    }
}

impl Tree {
    /// The product a status names, resolved to its component (for a relationship, the
    /// `product_reference` side, recursively) and the platform it is part of.
    fn resolve(&self, id: &str) -> Option<(&Product, Option<&Product>)> {
        let mut p = self.products.get(id)?;
        let mut platform = None;
        let mut hops = 0;
        while let Some((component, parent)) = &p.relation {
            if platform.is_none() {
                platform = self.products.get(parent);
            }
            p = self.products.get(component)?;
            hops += 1;
            if hops > 64 {
                return None;
            }
        }
        Some((p, platform))
    }

    fn expand<'a>(&'a self, products: &'a [String], groups: &'a [String]) -> Vec<&'a str> {
        let mut out: Vec<&str> = products.iter().map(String::as_str).collect();
        for g in groups {
            if let Some(ids) = self.groups.get(g) {
                out.extend(ids.iter().map(String::as_str));
            }
        }
        out
    }
}

/// What a product's status says for matching.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Said {
    Affected,
    /// `first_fixed`: this version fixes it; earlier ones are affected.
    FirstFixed,
    Fixed,
    NotAffected,
    Unknown,
}

fn said(status: &str) -> Option<Said> {
    Some(match status {
        "first_affected" | "known_affected" | "last_affected" => Said::Affected,
        "first_fixed" => Said::FirstFixed,
        "fixed" => Said::Fixed,
        "known_not_affected" => Said::NotAffected,
        "under_investigation" => Said::Unknown,
        _ => return None,
    })
}

/// The release an RPM belongs to: the major of its platform's CPE version
/// (`cpe:/o:redhat:enterprise_linux:9::baseos`, `rhel_eus:8.6`), else its `.elN` tag.
fn rpm_release(platform: Option<&Product>, version: Option<&str>) -> Option<String> {
    if let Some(cpe) = platform
        .and_then(|p| p.helper.cpe.as_deref())
        .and_then(|c| c.parse::<Cpe>().ok())
        && let Some(v) = cpe.version.literal()
    {
        let major: String = v.chars().take_while(char::is_ascii_digit).collect();
        if !major.is_empty() {
            return Some(major);
        }
    }
    version.and_then(ward_model::purl::el_release)
}

#[derive(Default)]
struct PackageFacts {
    purl: String,
    affected_all: bool,
    affected: BTreeSet<String>,
    fixes: BTreeSet<String>,
    first_fixed: BTreeSet<String>,
}

fn advisory(
    file: &str,
    id: &str,
    v: &Vulnerability,
    tree: &Tree,
    source: SourceId,
    publisher: &str,
    warnings: &mut Vec<RecordError>,
) -> Advisory {
    let mut a = Advisory::new(id, source);
    // Some publishers title a vulnerability with its id alone; the document's title says more.
    a.title = v.title.clone().filter(|t| t.trim() != id);
    a.description = v
        .notes
        .iter()
        .find(|n| n.category == "description")
        .or_else(|| v.notes.iter().find(|n| n.category == "summary"))
        .map(|n| n.text.clone());
    if let Some(cve) = &v.cve
        && cve != id
    {
        a.aliases.push(cve.clone());
    }
    for x in &v.ids {
        let t = x.text.trim();
        if t != id && crate::document::is_advisory_id(t) && !a.aliases.iter().any(|a| a == t) {
            a.aliases.push(t.to_owned());
        }
        let _ = &x.system_name;
    }
    if let Some(c) = &v.cwe {
        a.cwes.push(c.id.clone());
    }
    a.references = v.references.iter().map(|r| r.url.clone()).collect();
    for r in &v.remediations {
        if let Some(u) = &r.url
            && !a.references.contains(u)
        {
            a.references.push(u.clone());
        }
    }
    a.cvss = scores(v);

    let Some(status) = &v.product_status else {
        return a;
    };
    // Packages by (ecosystem with release, name); products by id, with what each status says.
    let mut packages: BTreeMap<(String, String), PackageFacts> = BTreeMap::new();
    let mut products: BTreeMap<String, Vec<Said>> = BTreeMap::new();
    for (name, ids) in status_lists(status) {
        let Some(s) = said(name) else { continue };
        for pid in ids {
            let Some((component, platform)) = tree.resolve(pid) else {
                continue;
            };
            if let Some(purl) = &component.purl {
                match purl {
                    Ok(p) => {
                        package_fact(&mut packages, p, platform, s);
                        continue;
                    }
                    Err(e) => warnings.push(err(
                        file,
                        id,
                        format!("product {pid:?}: product_identification_helper.purl"),
                        format!("not a purl ({e}): matched by its names instead"),
                    )),
                }
            }
            products.entry(component.id.clone()).or_default().push(s);
        }
    }
    // A package the document only calls not affected (or under investigation) gets no entry:
    // an OSV entry without ranges or versions would mean every version is affected.
    a.packages.extend(
        packages
            .into_iter()
            .filter_map(|((ecosystem, name), facts)| package_entry(ecosystem, name, facts)),
    );
    for (pid, says) in products {
        let Some(p) = tree.products.get(&pid) else {
            continue;
        };
        a.affected
            .extend(affected_entries(file, id, p, &says, warnings));
    }
    let remediations: Vec<Value> = v
        .remediations
        .iter()
        .map(|r| {
            // Many product ids (one per build and architecture) name one component: each
            // component's names once.
            let components: HashSet<&str> = tree
                .expand(&r.product_ids, &r.group_ids)
                .into_iter()
                .filter_map(|id| tree.resolve(id).map(|(c, _)| c.id.as_str()))
                .collect();
            let mut products: Vec<String> = components
                .into_iter()
                .flat_map(|id| criterion_names(tree, id))
                .collect::<HashSet<String>>()
                .into_iter()
                .collect();
            products.sort_unstable();
            serde_json::json!({
                "category": r.category.as_str(),
                "details": r.details,
                "url": r.url,
                "products": products,
            })
        })
        .collect();
    let threats: Vec<Value> = v
        .threats
        .iter()
        .filter(|t| t.category == "exploit_status" || t.category == "impact")
        .map(|t| serde_json::json!({"category": t.category, "details": t.details}))
        .collect();
    if !remediations.is_empty() || !threats.is_empty() {
        a.database_specific = Some(serde_json::json!({
            "csaf": {"publisher": publisher, "remediations": remediations, "threats": threats}
        }));
    }
    a
}

fn package_fact(
    packages: &mut BTreeMap<(String, String), PackageFacts>,
    p: &Purl,
    platform: Option<&Product>,
    s: Said,
) {
    let Some(pkg) = p.packages().into_iter().next() else {
        return;
    };
    let mut ecosystem = pkg.ecosystem.clone();
    if p.ty == "rpm"
        && !ecosystem.contains(':')
        && let Some(release) = rpm_release(platform, p.version.as_deref())
    {
        ecosystem = format!("{ecosystem}:{release}");
    }
    let version = p.version.clone().map(|v| match p.qualifiers.get("epoch") {
        Some(e) if e != "0" && !v.contains(':') => format!("{e}:{v}"),
        _ => v,
    });
    let facts = packages.entry((ecosystem, pkg.name.clone())).or_default();
    if facts.purl.is_empty() {
        facts.purl = format!(
            "pkg:{}/{}{}",
            p.ty,
            p.namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            p.name
        );
    }
    match (s, version) {
        (Said::Affected, None) => facts.affected_all = true,
        (Said::Affected, Some(v)) => {
            facts.affected.insert(v);
        }
        (Said::Fixed, Some(v)) => {
            facts.fixes.insert(v);
        }
        (Said::FirstFixed, Some(v)) => {
            facts.first_fixed.insert(v);
        }
        _ => {}
    }
}

/// The numeric major and minor of a version, for grouping fixes by branch.
fn branch_of(version: &str) -> (u64, u64) {
    let v = version.split_once(':').map_or(version, |(_, r)| r);
    let mut nums = v
        .trim_start_matches(['v', 'V'])
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().unwrap_or(u64::MAX));
    (nums.next().unwrap_or(0), nums.next().unwrap_or(0))
}

fn package_entry(ecosystem: String, name: String, facts: PackageFacts) -> Option<PackageAffected> {
    let rpm = ecosystem.starts_with("Red Hat") || facts.purl.starts_with("pkg:rpm/");
    let mut fixes: Vec<String> = facts.fixes.into_iter().chain(facts.first_fixed).collect();
    fixes.sort_by_key(|f| branch_of(f));
    let mut ranges = Vec::new();
    if !fixes.is_empty() {
        // Per branch: RPM fixes of one release are one branch (a rebase moves the version);
        // elsewhere major.minor. The lowest branch's fix bounds everything below it.
        let lowest = branch_of(&fixes[0]);
        for f in &fixes {
            let b = branch_of(f);
            let introduced = if rpm || b == lowest {
                "0".to_owned()
            } else {
                format!("{}.{}", b.0, b.1)
            };
            ranges.push(PackageRange {
                kind: RangeKind::Ecosystem,
                repo: None,
                events: vec![
                    RangeEvent::Introduced(introduced),
                    RangeEvent::Fixed(f.clone()),
                ],
            });
        }
    } else if facts.affected_all {
        ranges.push(PackageRange {
            kind: RangeKind::Ecosystem,
            repo: None,
            events: vec![RangeEvent::Introduced("0".into())],
        });
    }
    if ranges.is_empty() && facts.affected.is_empty() {
        return None;
    }
    Some(PackageAffected {
        ecosystem,
        name,
        purl: Some(facts.purl),
        ranges,
        versions: facts.affected.into_iter().collect(),
        ecosystem_specific: None,
        database_specific: None,
    })
}

/// CVE 5-style entries for a product named by CPE or by names: one per name it goes by (its
/// product name, each model number and SKU).
fn affected_entries(
    file: &str,
    id: &str,
    p: &Product,
    says: &[Said],
    warnings: &mut Vec<RecordError>,
) -> Vec<Affected> {
    let cpe = p
        .helper
        .cpe
        .as_deref()
        .and_then(|c| match c.parse::<Cpe>() {
            Ok(c) => Some(c),
            Err(e) => {
                warnings.push(err(
                    file,
                    id,
                    format!("product {:?}: product_identification_helper.cpe", p.id),
                    format!("not a CPE ({e}): matched by its names instead"),
                ));
                None
            }
        });
    let vendor = p.branch("vendor").map(str::to_owned);
    // The product's name: its `product_name` branch; a full product name only when nothing
    // else names it (a full name with a CPE usually carries the version too).
    let product = p
        .branch("product_name")
        .map(str::to_owned)
        .or_else(|| (p.path.is_empty() && cpe.is_none()).then(|| p.name.clone()));
    // The versions this product stands for.
    let (exact, range) = match (
        p.branch("product_version"),
        p.branch("product_version_range"),
    ) {
        (Some(v), _) => (Some(v.to_owned()), None),
        (None, Some(r)) => (None, Some(r.to_owned())),
        (None, None) => (
            cpe.as_ref()
                .and_then(|c| c.version.literal().map(str::to_owned)),
            None,
        ),
    };
    let mut versions = Vec::new();
    let mut default_status = None;
    for s in says {
        let status = match s {
            Said::Affected => Status::Affected,
            Said::Fixed | Said::NotAffected => Status::Unaffected,
            Said::FirstFixed => Status::Unaffected,
            Said::Unknown => Status::Unknown,
        };
        match (&exact, &range) {
            (Some(v), _) if *s == Said::FirstFixed => versions.push(AffectedVersion {
                version: "0".into(),
                status: Status::Affected,
                less_than: Some(v.clone()),
                less_than_or_equal: None,
                version_type: Some("custom".into()),
                changes: Vec::new(),
            }),
            (Some(v), _) => versions.push(AffectedVersion {
                version: v.clone(),
                status,
                less_than: None,
                less_than_or_equal: None,
                version_type: None,
                changes: Vec::new(),
            }),
            (None, Some(r)) => match range_versions(r, status) {
                Some(mut vs) => versions.append(&mut vs),
                None => warnings.push(err(
                    file,
                    id,
                    format!("product {:?}: product_version_range", p.id),
                    format!(
                        "{r:?} is not a range Ward can read: the product is matched as a whole"
                    ),
                )),
            },
            (None, None) => default_status = Some(status),
        }
    }
    if versions.is_empty() && default_status.is_none() {
        default_status = Some(Status::Affected);
    }
    let names = names_of(p, product.as_deref());
    let mut out = Vec::new();
    let base = Affected {
        vendor: vendor.clone().or_else(|| {
            cpe.as_ref()
                .and_then(|c| c.vendor.literal().map(str::to_owned))
        }),
        product: None,
        package_name: None,
        cpes: cpe.clone().into_iter().collect(),
        default_status,
        versions,
    };
    if names.is_empty() && !base.cpes.is_empty() {
        out.push(base);
        return out;
    }
    for (i, n) in names.into_iter().enumerate() {
        let mut e = base.clone();
        e.product = Some(n);
        if i > 0 {
            e.cpes.clear();
        }
        out.push(e);
    }
    out
}

/// Every name a product goes by: as published; without its order number (so that an
/// inventory naming the product line finds every variant's entry, the conservative reading);
/// each model number and SKU on its own.
fn names_of(p: &Product, product: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for n in product
        .iter()
        .flat_map(|n| [n.trim().to_owned(), strip_model(n)])
        .chain(p.helper.model_numbers.iter().cloned())
        .chain(p.helper.skus.iter().cloned())
    {
        if !n.trim().is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// What a remediation's products are called in findings' criteria: a package by its purl
/// without version and qualifiers; a product by its names.
fn criterion_names(tree: &Tree, id: &str) -> Vec<String> {
    let Some((component, _)) = tree.resolve(id) else {
        return Vec::new();
    };
    if let Some(Ok(p)) = &component.purl {
        return vec![format!(
            "pkg:{}/{}{}",
            p.ty,
            p.namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            p.name
        )];
    }
    let product = component
        .branch("product_name")
        .map(str::to_owned)
        .or_else(|| component.path.is_empty().then(|| component.name.clone()));
    names_of(component, product.as_deref())
}

/// `SIMATIC S7-1500 CPU 1511-1 PN (6ES7511-1AL03-0AB0)` is the product `SIMATIC S7-1500 CPU
/// 1511-1 PN` with its order number; the number is matched as a name of its own.
fn strip_model(name: &str) -> String {
    let t = name.trim();
    if let Some(open) = t.rfind(" (")
        && t.ends_with(')')
    {
        let inner = &t[open + 2..t.len() - 1];
        if inner.chars().any(|c| c.is_ascii_digit()) && !inner.contains(' ') {
            return t[..open].trim().to_owned();
        }
    }
    t.to_owned()
}

/// A `product_version_range` as CVE 5 versions: `vers:<scheme>/<constraints>` or a comparison
/// (`<= 4.2`, `<V3.1.4`, `>=1.0 <2.0`).
fn range_versions(range: &str, status: Status) -> Option<Vec<AffectedVersion>> {
    let r = range.trim();
    let constraints = match r.strip_prefix("vers:") {
        Some(rest) => rest.split_once('/')?.1.to_owned(),
        // `<= 4.2`, `>=1.0 <2.0`, `>= 1.0, < 2.0`: an operator's version may follow a space.
        None => {
            let mut joined = r.to_owned();
            for op in ["<=", ">=", "!=", "<", ">", "="] {
                joined = joined.replace(&format!("{op} "), op);
            }
            joined.replace([' ', ','], "|")
        }
    };
    let mut lower: Option<String> = None;
    let mut upper: Option<(String, bool)> = None;
    let mut exact = Vec::new();
    for c in constraints
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        if c == "*" {
            return Some(vec![AffectedVersion {
                version: "0".into(),
                status,
                less_than: Some("*".into()),
                less_than_or_equal: None,
                version_type: Some("custom".into()),
                changes: Vec::new(),
            }]);
        }
        let (op, v) = if let Some(v) = c.strip_prefix(">=") {
            (">=", v)
        } else if let Some(v) = c.strip_prefix("<=") {
            ("<=", v)
        } else if let Some(v) = c.strip_prefix('<') {
            ("<", v)
        } else if let Some(v) = c.strip_prefix('>') {
            (">", v)
        } else if let Some(v) = c.strip_prefix("!=") {
            ("!=", v)
        } else {
            ("=", c.strip_prefix('=').unwrap_or(c))
        };
        let v = v.trim().to_owned();
        // A version has a digit and no operator of another notation (`~1.0`, `^2`); words
        // ("all versions after …") are not versions.
        if v.is_empty() || !v.contains(|c: char| c.is_ascii_digit()) || v.contains(['~', '^', '*'])
        {
            return None;
        }
        match op {
            ">=" | ">" if lower.is_none() => lower = Some(v),
            "<" if upper.is_none() => upper = Some((v, false)),
            "<=" if upper.is_none() => upper = Some((v, true)),
            "=" => exact.push(v),
            _ => return None,
        }
    }
    let mut out: Vec<AffectedVersion> = exact
        .into_iter()
        .map(|v| AffectedVersion {
            version: v,
            status,
            less_than: None,
            less_than_or_equal: None,
            version_type: None,
            changes: Vec::new(),
        })
        .collect();
    if lower.is_some() || upper.is_some() {
        let (lt, le) = match upper {
            Some((v, false)) => (Some(v), None),
            Some((v, true)) => (None, Some(v)),
            None => (Some("*".to_owned()), None),
        };
        out.push(AffectedVersion {
            version: lower.unwrap_or_else(|| "0".into()),
            status,
            less_than: lt,
            less_than_or_equal: le,
            version_type: Some("custom".into()),
            changes: Vec::new(),
        });
    }
    (!out.is_empty()).then_some(out)
}

fn scores(v: &Vulnerability) -> Vec<Cvss> {
    let mut out: Vec<Cvss> = Vec::new();
    for s in &v.scores {
        for c in [&s.cvss_v3, &s.cvss_v2].into_iter().flatten() {
            let (Some(vector), Some(score)) = (
                c.get("vectorString").and_then(Value::as_str),
                c.get("baseScore").and_then(Value::as_f64),
            ) else {
                continue;
            };
            let version = match c.get("version").and_then(Value::as_str) {
                Some("2.0") => CvssVersion::V2,
                Some("3.0") => CvssVersion::V30,
                Some("3.1") => CvssVersion::V31,
                _ => continue,
            };
            if !(0.0..=10.0).contains(&score) || out.iter().any(|o| o.vector == vector) {
                continue;
            }
            out.push(Cvss {
                version,
                vector: vector.to_owned(),
                base_score: score,
                source: "csaf".into(),
                published_score: None,
            });
        }
    }
    out
}

/// Whether a label is one of CSAF's VEX justification flags (the same five as OpenVEX's).
pub fn is_justification(label: &str) -> bool {
    JUSTIFICATIONS.contains(&label)
}

/// The VEX justification labels CSAF flags carry (the same five as OpenVEX's).
const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "vulnerable_code_not_in_execute_path",
    "inline_mitigations_already_exist",
];

fn statements(
    id: &str,
    aliases: &[String],
    v: &Vulnerability,
    tree: &Tree,
    author: &str,
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
    document: &str,
) -> Vec<VexStatement> {
    let Some(status) = &v.product_status else {
        return Vec::new();
    };
    let mut justification: HashMap<&str, &str> = HashMap::new();
    for f in &v.flags {
        if JUSTIFICATIONS.contains(&f.label.as_str()) {
            for p in tree.expand(&f.product_ids, &f.group_ids) {
                justification.insert(p, f.label.as_str());
            }
        }
    }
    let mut impact: HashMap<&str, &str> = HashMap::new();
    for t in v.threats.iter().filter(|t| t.category == "impact") {
        for p in tree.expand(&t.product_ids, &t.group_ids) {
            impact.insert(p, t.details.as_str());
        }
    }
    let mut action: HashMap<&str, String> = HashMap::new();
    for r in &v.remediations {
        let text = match &r.url {
            Some(u) => format!("{}: {} ({u})", r.category.as_str(), r.details.trim()),
            None => format!("{}: {}", r.category.as_str(), r.details.trim()),
        };
        for p in tree.expand(&r.product_ids, &r.group_ids) {
            action
                .entry(p)
                .and_modify(|a| {
                    a.push_str("; ");
                    a.push_str(&text);
                })
                .or_insert_with(|| text.clone());
        }
    }
    let vex_product = |p: &Product| VexProduct {
        id: p.id.clone(),
        purl: p.helper.purl.clone(),
        cpe: p.helper.cpe.clone(),
    };
    let mut out = Vec::new();
    for (name, ids) in status_lists(status) {
        let s = match name {
            "first_affected" | "known_affected" | "last_affected" => VexStatus::Affected,
            "first_fixed" | "fixed" => VexStatus::Fixed,
            "known_not_affected" => VexStatus::NotAffected,
            "under_investigation" => VexStatus::UnderInvestigation,
            _ => continue,
        };
        for pid in ids {
            let Some(p) = tree.products.get(pid) else {
                continue;
            };
            let (products, subcomponents) = match tree.resolve(pid) {
                Some((component, Some(platform))) => {
                    (vec![vex_product(platform)], vec![vex_product(component)])
                }
                Some((component, None)) => (vec![vex_product(component)], Vec::new()),
                None => (vec![vex_product(p)], Vec::new()),
            };
            out.push(VexStatement {
                vulnerability: id.to_owned(),
                aliases: aliases.to_vec(),
                products,
                subcomponents,
                status: s,
                justification: justification.get(pid.as_str()).map(|j| (*j).to_owned()),
                impact: impact.get(pid.as_str()).map(|i| (*i).to_owned()),
                action: action.get(pid.as_str()).cloned(),
                author: Some(author.to_owned()),
                timestamp,
                document: document.to_owned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_from_vers_and_comparisons() {
        let r = range_versions("vers:all/<V3.1.4", Status::Affected).unwrap();
        assert_eq!(
            (r[0].version.as_str(), r[0].less_than.as_deref()),
            ("0", Some("V3.1.4"))
        );
        let r = range_versions("vers:all/*", Status::Affected).unwrap();
        assert_eq!(r[0].less_than.as_deref(), Some("*"));
        let r = range_versions("vers:generic/>=1.0|<=2.0", Status::Affected).unwrap();
        assert_eq!(
            (r[0].version.as_str(), r[0].less_than_or_equal.as_deref()),
            ("1.0", Some("2.0"))
        );
        let r = range_versions("<= 4.2", Status::Affected).unwrap();
        assert_eq!(r[0].less_than_or_equal.as_deref(), Some("4.2"));
        assert!(range_versions("vers:all/~1.0", Status::Affected).is_none());
        assert!(range_versions("all versions after the summer", Status::Affected).is_none());
    }

    #[test]
    fn model_numbers_leave_the_product_name() {
        assert_eq!(
            strip_model("SIMATIC S7-1500 CPU 1511-1 PN (6ES7511-1AL03-0AB0)"),
            "SIMATIC S7-1500 CPU 1511-1 PN"
        );
        assert_eq!(
            strip_model("SIMATIC ET 200SP Open Controller CPU 1515SP PC2 (incl. SIPLUS variants)"),
            "SIMATIC ET 200SP Open Controller CPU 1515SP PC2 (incl. SIPLUS variants)"
        );
    }

    #[test]
    fn branches_group_fixes() {
        assert_eq!(branch_of("2.13.9.Final-redhat-00003"), (2, 13));
        assert_eq!(branch_of("1:3.6.16-8.el8_9.3"), (3, 6));
        assert_eq!(branch_of("v10"), (10, 0));
    }
}
