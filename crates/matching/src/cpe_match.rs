//! CPE name matching per NISTIR 7696 (CPE Name Matching Specification 2.3).

use ward_model::cpe::{Attr, Cpe, Part, Wild};

/// The relation of a source attribute (the criterion) to a target attribute (the component),
/// NISTIR 7696 §6.1, Table 6-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Superset,
    Subset,
    Equal,
    Disjoint,
    Undefined,
}

impl Relation {
    /// Superset or equal: the source covers the target.
    pub fn covers(self) -> bool {
        matches!(self, Self::Superset | Self::Equal)
    }
}

/// Compares one attribute (NISTIR 7696 §6.1.2.3 and Table 6-2).
pub fn compare_attr(source: &Attr, target: &Attr) -> Relation {
    use Relation::*;
    let target_wild = matches!(target, Attr::Value { prefix, suffix, .. } if *prefix != Wild::None || *suffix != Wild::None);
    match (source, target) {
        (Attr::Any, Attr::Any) => Equal,
        (Attr::Any, _) if target_wild => Undefined,
        (Attr::Any, _) => Superset,
        (Attr::Na, Attr::Any) => Subset,
        (Attr::Na, Attr::Na) => Equal,
        (Attr::Na, _) if target_wild => Undefined,
        (Attr::Na, _) => Disjoint,
        (Attr::Value { .. }, _) if target_wild => Undefined,
        (Attr::Value { .. }, Attr::Any) => Subset,
        (Attr::Value { .. }, Attr::Na) => Disjoint,
        (
            Attr::Value {
                text: s,
                prefix,
                suffix,
            },
            Attr::Value { text: t, .. },
        ) => {
            if *prefix == Wild::None && *suffix == Wild::None {
                if s == t { Equal } else { Disjoint }
            } else if wildcard_match(s, prefix, suffix, t) {
                Superset
            } else {
                Disjoint
            }
        }
    }
}

/// Matches `text` against a value with end wildcards (NISTIR 7696 §6.1.3.2): `*` is any run;
/// a run of n `?` at the start or end is "up to n" characters there (one `?` is "zero or one").
fn wildcard_match(core: &str, prefix: &Wild, suffix: &Wild, text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let core: Vec<char> = core.chars().collect();
    let n = chars.len();
    // Try every placement of `core` inside `text` that the wildcards allow.
    if core.len() > n {
        return false;
    }
    (0..=n - core.len()).any(|start| {
        let end = start + core.len();
        chars[start..end] == core[..] && fits(prefix, start) && fits(suffix, n - end)
    })
}

fn fits(w: &Wild, extra: usize) -> bool {
    match w {
        Wild::None => extra == 0,
        Wild::Many => true,
        Wild::Single(k) => extra <= usize::from(*k),
    }
}

fn compare_part(source: Part, target: Part) -> Relation {
    match (source, target) {
        (Part::Any, Part::Any) => Relation::Equal,
        (Part::Any, _) => Relation::Superset,
        (_, Part::Any) => Relation::Subset,
        (s, t) if s == t => Relation::Equal,
        _ => Relation::Disjoint,
    }
}

/// How a criterion relates to a component's CPE, attribute by attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMatch {
    /// Every attribute is superset or equal: a match in the sense of NISTIR 7696 §6.2.
    pub strict: bool,
    /// Attributes the criterion fixes but the component leaves ANY (its inventory does not
    /// say): the match holds only if the component has these values.
    pub assumed: Vec<&'static str>,
}

/// Matches the identity of a component (everything except `version` and `update`, which
/// [`crate::nvd`] and [`crate::cve5`] compare with version order) against a criterion.
///
/// Returns `None` when some attribute is disjoint or undefined. An attribute where the
/// criterion is specific and the component is ANY is relation SUBSET in NISTIR 7696 and so
/// strictly no match; inventories rarely describe editions, languages or target platforms, so
/// Ward reports it as a match on an assumption, named in the finding.
pub fn match_identity(criterion: &Cpe, component: &Cpe) -> Option<NameMatch> {
    const NAMES: [&str; 8] = [
        "vendor",
        "product",
        "edition",
        "language",
        "sw_edition",
        "target_sw",
        "target_hw",
        "other",
    ];
    let pairs = [
        (&criterion.vendor, &component.vendor),
        (&criterion.product, &component.product),
        (&criterion.edition, &component.edition),
        (&criterion.language, &component.language),
        (&criterion.sw_edition, &component.sw_edition),
        (&criterion.target_sw, &component.target_sw),
        (&criterion.target_hw, &component.target_hw),
        (&criterion.other, &component.other),
    ];
    let mut assumed = Vec::new();
    match compare_part(criterion.part, component.part) {
        Relation::Equal | Relation::Superset => {}
        Relation::Subset => assumed.push("part"),
        _ => return None,
    }
    for (i, (s, t)) in pairs.into_iter().enumerate() {
        match compare_attr(s, t) {
            Relation::Equal | Relation::Superset => {}
            // Vendor and product must be named by both sides.
            Relation::Subset if i >= 2 && t.is_any() => assumed.push(NAMES[i]),
            _ => return None,
        }
    }
    Some(NameMatch {
        strict: assumed.is_empty(),
        assumed,
    })
}

/// Full NISTIR 7696 name comparison: true when the source is a superset of or equal to the
/// target in every attribute.
pub fn is_match(source: &Cpe, target: &Cpe) -> bool {
    compare_part(source.part, target.part).covers()
        && source
            .attrs()
            .iter()
            .zip(target.attrs())
            .all(|(s, t)| compare_attr(s, t).covers())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpe(s: &str) -> Cpe {
        s.parse().unwrap()
    }

    #[test]
    fn table_6_2() {
        use Relation::*;
        let v = |s: &str| Attr::value(s);
        let cases = [
            (Attr::Any, Attr::Any, Equal),
            (Attr::Any, Attr::Na, Superset),
            (Attr::Any, v("x"), Superset),
            (Attr::Na, Attr::Any, Subset),
            (Attr::Na, Attr::Na, Equal),
            (Attr::Na, v("x"), Disjoint),
            (v("x"), Attr::Any, Subset),
            (v("x"), Attr::Na, Disjoint),
            (v("x"), v("x"), Equal),
            (v("x"), v("y"), Disjoint),
        ];
        for (s, t, want) in cases {
            assert_eq!(compare_attr(&s, &t), want, "{s} vs {t}");
        }
        let wild = cpe("cpe:2.3:a:foo:bar*:1.?:*:*:*:*:*:*:*");
        assert_eq!(
            compare_attr(&wild.product, &Attr::value("barista")),
            Superset
        );
        assert_eq!(compare_attr(&wild.product, &Attr::value("ba")), Disjoint);
        assert_eq!(compare_attr(&wild.version, &Attr::value("1.2")), Superset);
        assert_eq!(compare_attr(&wild.version, &Attr::value("1.")), Superset);
        assert_eq!(compare_attr(&wild.version, &Attr::value("1.23")), Disjoint);
        assert_eq!(compare_attr(&Attr::value("x"), &wild.product), Undefined);
    }

    #[test]
    fn full_name_match() {
        let criterion = cpe("cpe:2.3:a:ivanti:endpoint_manager_mobile:*:*:*:*:*:*:*:*");
        assert!(is_match(
            &criterion,
            &cpe("cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*")
        ));
        assert!(!is_match(
            &criterion,
            &cpe("cpe:2.3:a:ivanti:connect_secure:22.7:r2:*:*:*:*:*:*")
        ));
        assert!(!is_match(
            &criterion,
            &cpe("cpe:2.3:o:ivanti:endpoint_manager_mobile:1:*:*:*:*:*:*:*")
        ));
    }

    #[test]
    fn identity_match_assumes_undescribed_attributes() {
        let fips = cpe("cpe:2.3:a:citrix:netscaler_adc:*:*:*:*:fips:*:*:*");
        let any = cpe("cpe:2.3:a:citrix:netscaler_adc:13.1-49.13:*:*:*:*:*:*:*");
        let m = match_identity(&fips, &any).unwrap();
        assert!(!m.strict);
        assert_eq!(m.assumed, vec!["sw_edition"]);
        let ndcpp = cpe("cpe:2.3:a:citrix:netscaler_adc:13.1:*:*:*:ndcpp:*:*:*");
        assert_eq!(match_identity(&fips, &ndcpp), None);
        let named = cpe("cpe:2.3:a:citrix:netscaler_adc:13.1:*:*:*:fips:*:*:*");
        assert!(match_identity(&fips, &named).unwrap().strict);
    }
}
