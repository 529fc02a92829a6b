//! The purl `vers:` range notation (`vers:pypi/>=1.0|<1.5|>=2.0|<2.0.3`), parsed, printed and
//! evaluated per the vers specification; and OSV ranges written in it for explanations.
//!
//! Own code: the one crate (`vers-rs`) knows four schemes, Ward needs every scheme of
//! [`Scheme`].

use std::fmt;

use ward_model::advisory::{PackageRange, RangeEvent};

use crate::ecosystem::{Scheme, sort_versions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub comparator: Comparator,
    pub version: String,
}

/// A `vers:` range. An empty constraint list with `star` set is `*` (every version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vers {
    pub scheme: Scheme,
    pub star: bool,
    pub constraints: Vec<Constraint>,
}

/// Percent-encodes what has a meaning in vers: `%`, `|`, the comparator characters (a version
/// `=1` must not read back as the comparator `=` and `1`), and every whitespace and control
/// character, which parsing drops (found by fuzzing: `%0C` decoded to a form feed, printed
/// bare, and read back without it). Each UTF-8 byte of such a character is encoded.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '%' | '|' | '<' | '>' | '=' | '!') || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn decode(v: &str) -> Result<String, String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in {v:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{v:?} does not decode to UTF-8"))
}

impl fmt::Display for Vers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vers:{}/", self.scheme.vers_name())?;
        if self.star {
            return f.write_str("*");
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{}{}", c.comparator.as_str(), encode(&c.version))?;
        }
        Ok(())
    }
}

impl Vers {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let rest = t
            .strip_prefix("vers:")
            .ok_or_else(|| format!("{s:?} does not start with `vers:`"))?;
        let (scheme, constraints) = rest
            .split_once('/')
            .ok_or_else(|| format!("{s:?} has no `/` after the scheme"))?;
        let scheme = Scheme::from_vers(&scheme.to_lowercase())
            .ok_or_else(|| format!("unknown vers scheme {scheme:?}"))?;
        let constraints = constraints.trim_matches('|');
        if constraints == "*" {
            return Ok(Self {
                scheme,
                star: true,
                constraints: Vec::new(),
            });
        }
        if constraints.is_empty() {
            return Err(format!("{s:?} has no constraints"));
        }
        let mut out = Vec::new();
        for c in constraints.split('|') {
            let (comparator, v) = if let Some(v) = c.strip_prefix(">=") {
                (Comparator::Ge, v)
            } else if let Some(v) = c.strip_prefix("<=") {
                (Comparator::Le, v)
            } else if let Some(v) = c.strip_prefix("!=") {
                (Comparator::Ne, v)
            } else if let Some(v) = c.strip_prefix('>') {
                (Comparator::Gt, v)
            } else if let Some(v) = c.strip_prefix('<') {
                (Comparator::Lt, v)
            } else if let Some(v) = c.strip_prefix('=') {
                (Comparator::Eq, v)
            } else {
                (Comparator::Eq, c)
            };
            if v.is_empty() || v == "*" {
                return Err(format!("constraint {c:?} in {s:?} has no version"));
            }
            out.push(Constraint {
                comparator,
                version: decode(v)?,
            });
        }
        Ok(Self {
            scheme,
            star: false,
            constraints: out,
        })
    }

    /// Whether `version` is in the range, by the vers specification's algorithm. `fallback`
    /// is set when a version had to be ordered by the generic order.
    pub fn contains(&self, version: &str, fallback: &mut bool) -> bool {
        if self.star {
            return true;
        }
        let mut cmp = |a: &str, b: &str| {
            let o = self.scheme.order(a, b);
            *fallback |= o.fallback;
            o.ordering
        };
        for c in &self.constraints {
            if c.comparator == Comparator::Eq && cmp(version, &c.version).is_eq() {
                return true;
            }
        }
        for c in &self.constraints {
            if c.comparator == Comparator::Ne && cmp(version, &c.version).is_eq() {
                return false;
            }
        }
        let mut rest: Vec<&Constraint> = self
            .constraints
            .iter()
            .filter(|c| !matches!(c.comparator, Comparator::Eq | Comparator::Ne))
            .collect();
        sort_versions(&mut rest, |a, b| cmp(&a.version, &b.version));
        let satisfies = |c: &Constraint, cmp: &mut dyn FnMut(&str, &str) -> std::cmp::Ordering| {
            let o = cmp(version, &c.version);
            match c.comparator {
                Comparator::Lt => o.is_lt(),
                Comparator::Le => o.is_le(),
                Comparator::Gt => o.is_gt(),
                Comparator::Ge => o.is_ge(),
                Comparator::Eq => o.is_eq(),
                Comparator::Ne => o.is_ne(),
            }
        };
        let lower = |c: &Constraint| matches!(c.comparator, Comparator::Gt | Comparator::Ge);
        let upper = |c: &Constraint| matches!(c.comparator, Comparator::Lt | Comparator::Le);
        match rest.len() {
            0 => return false,
            1 => return satisfies(rest[0], &mut cmp),
            _ => {}
        }
        if upper(rest[0]) && satisfies(rest[0], &mut cmp) {
            return true;
        }
        let last = rest[rest.len() - 1];
        if lower(last) && satisfies(last, &mut cmp) {
            return true;
        }
        for w in rest.windows(2) {
            if lower(w[0]) && upper(w[1]) && satisfies(w[0], &mut cmp) && satisfies(w[1], &mut cmp)
            {
                return true;
            }
        }
        false
    }

    /// An OSV `SEMVER`/`ECOSYSTEM` range in vers notation: `introduced` → `>=`, `fixed` → `<`,
    /// `last_affected` → `<=`, `introduced: 0` → no lower bound. Events are sorted by the
    /// scheme first, as the OSV evaluation algorithm does.
    pub fn from_osv(scheme: Scheme, range: &PackageRange) -> Self {
        Self::from_sorted(scheme, &sorted_events(scheme, range))
    }

    /// [`Vers::from_osv`] over events already in the scheme's order.
    pub(crate) fn from_sorted(scheme: Scheme, events: &[&RangeEvent]) -> Self {
        let mut constraints = Vec::new();
        let mut open = false;
        let mut unbounded_start = false;
        for e in events {
            match *e {
                RangeEvent::Introduced(v) if !open => {
                    open = true;
                    if is_zero(v) {
                        unbounded_start = constraints.is_empty();
                    } else {
                        constraints.push(Constraint {
                            comparator: Comparator::Ge,
                            version: v.clone(),
                        });
                    }
                }
                RangeEvent::Fixed(v) | RangeEvent::Limit(v) if open => {
                    open = false;
                    // `introduced: X, fixed: X` is an empty interval: printed as nothing.
                    if constraints.last().is_some_and(|c: &Constraint| {
                        c.comparator == Comparator::Ge
                            && scheme.order(&c.version, v).ordering.is_eq()
                    }) {
                        constraints.pop();
                        continue;
                    }
                    constraints.push(Constraint {
                        comparator: Comparator::Lt,
                        version: v.clone(),
                    });
                }
                RangeEvent::LastAffected(v) if open => {
                    open = false;
                    constraints.push(Constraint {
                        comparator: Comparator::Le,
                        version: v.clone(),
                    });
                }
                _ => {}
            }
        }
        let star = unbounded_start && constraints.is_empty();
        Self {
            scheme,
            star,
            constraints,
        }
    }
}

pub(crate) fn is_zero(v: &str) -> bool {
    v.trim() == "0"
}

/// The events in the scheme's order; `introduced: 0` first; at equal versions, the order
/// OSV's reference evaluator uses (introduced before fixed and last_affected).
pub(crate) fn sorted_events(scheme: Scheme, range: &PackageRange) -> Vec<&RangeEvent> {
    let mut events: Vec<&RangeEvent> = range.events.iter().collect();
    let rank = |e: &RangeEvent| match e {
        RangeEvent::Introduced(_) => 0,
        RangeEvent::LastAffected(_) => 1,
        RangeEvent::Fixed(_) => 2,
        RangeEvent::Limit(_) => 3,
    };
    sort_versions(&mut events, |a, b| {
        let (va, vb) = (a.version(), b.version());
        let by_version = match (is_zero(va), is_zero(vb)) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => scheme.order(va, vb).ordering,
        };
        by_version.then_with(|| rank(a).cmp(&rank(b)))
    });
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::advisory::RangeKind;

    fn range(events: &[RangeEvent]) -> PackageRange {
        PackageRange {
            kind: RangeKind::Ecosystem,
            repo: None,
            events: events.to_vec(),
        }
    }

    #[test]
    fn osv_ranges_print_as_vers() {
        use RangeEvent::*;
        let r = range(&[
            Introduced("0".into()),
            Fixed("1.5".into()),
            Introduced("2.0".into()),
            LastAffected("2.0.3".into()),
        ]);
        let v = Vers::from_osv(Scheme::PyPI, &r);
        assert_eq!(v.to_string(), "vers:pypi/<1.5|>=2.0|<=2.0.3");
        assert_eq!(Vers::parse(&v.to_string()).unwrap(), v);
        let all = range(&[Introduced("0".into())]);
        assert_eq!(
            Vers::from_osv(Scheme::Go, &all).to_string(),
            "vers:golang/*"
        );
        let empty = range(&[
            Introduced("0".into()),
            Fixed("3.1.1".into()),
            Introduced("3.2.0".into()),
            Fixed("3.2.0".into()),
        ]);
        // PYSEC-2023-72 has such an empty interval.
        assert_eq!(
            Vers::from_osv(Scheme::PyPI, &empty).to_string(),
            "vers:pypi/<3.1.1"
        );
        let open = range(&[Introduced("3.0".into())]);
        assert_eq!(
            Vers::from_osv(Scheme::Npm, &open).to_string(),
            "vers:npm/>=3.0"
        );
    }

    /// Found by fuzzing: a version holding a form feed (or any whitespace) after decoding
    /// printed it bare, and parsing the print dropped it.
    #[test]
    fn whitespace_in_a_version_survives_a_round_trip() {
        for range in ["vers:gem/|||99|9|00%0C", "vers:npm/1.0%C2%A0x|2%09"] {
            let v = Vers::parse(range).unwrap();
            let printed = v.to_string();
            assert_eq!(
                Vers::parse(&printed).unwrap(),
                v,
                "{range} printed {printed}"
            );
        }
        assert_eq!(
            Vers::parse("vers:gem/00%0C").unwrap().to_string(),
            "vers:gem/00%0C"
        );
    }

    #[test]
    fn containment_follows_the_vers_algorithm() {
        let v = Vers::parse("vers:pypi/<1.5|>=2.0|<=2.0.3|!=2.0.1|=3.1").unwrap();
        let mut fb = false;
        for (version, want) in [
            ("1.0", true),
            ("1.5", false),
            ("1.9", false),
            ("2.0", true),
            ("2.0.1", false),
            ("2.0.3", true),
            ("2.0.4", false),
            ("3.1", true),
            ("3.1.0", true),
        ] {
            assert_eq!(v.contains(version, &mut fb), want, "{version}");
        }
        assert!(!fb);
        assert!(Vers::parse("vers:pypi/").is_err());
        assert!(Vers::parse("vers:nope/1.0").is_err());
        assert!(Vers::parse("pypi/1.0").is_err());
        assert_eq!(
            Vers::parse("vers:npm/1.0.0%7Cx").unwrap().constraints[0].version,
            "1.0.0|x"
        );
        // Found by fuzzing: a version starting with `=` lost it on a round trip.
        let odd = Vers::parse("vers:deb/==1.0|<%3D2").unwrap();
        assert_eq!(odd.constraints[0].version, "=1.0");
        assert_eq!(odd.to_string(), "vers:deb/%3D1.0|<%3D2");
        assert_eq!(Vers::parse(&odd.to_string()).unwrap(), odd);
    }
}
