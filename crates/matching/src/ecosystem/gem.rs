//! RubyGems' `Gem::Version` (rubygems/version.rb).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Num(String),
    Str(String),
}

#[derive(Debug, Clone)]
pub struct GemVersion(Vec<Seg>);

pub fn parse(v: &str) -> Result<GemVersion, String> {
    let t = v.trim();
    let ok = !t.is_empty()
        && t.starts_with(|c: char| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !ok {
        return Err(format!("{v:?} is not a RubyGems version"));
    }
    // `1.0-beta` is `1.0.pre.beta`.
    let t = t.replace('-', ".pre.");
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut digit = false;
    for c in t.chars() {
        if c.is_ascii_alphanumeric() {
            if !cur.is_empty() && c.is_ascii_digit() != digit {
                segs.push(seg(&cur, digit));
                cur.clear();
            }
            digit = c.is_ascii_digit();
            cur.push(c);
        } else if !cur.is_empty() {
            segs.push(seg(&cur, digit));
            cur.clear();
        }
    }
    if !cur.is_empty() {
        segs.push(seg(&cur, digit));
    }
    Ok(GemVersion(canonical(segs)))
}

fn seg(s: &str, digit: bool) -> Seg {
    if digit {
        let d = s.trim_start_matches('0');
        Seg::Num(if d.is_empty() { "0".into() } else { d.into() })
    } else {
        Seg::Str(s.to_owned())
    }
}

/// `canonical_segments`: trailing zeros dropped from the release part and the pre-release part.
fn canonical(segs: Vec<Seg>) -> Vec<Seg> {
    let split = segs
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(segs.len());
    let (num, pre) = segs.split_at(split);
    let trim = |part: &[Seg]| -> Vec<Seg> {
        let mut v = part.to_vec();
        while v.last().is_some_and(|s| *s == Seg::Num("0".into())) {
            v.pop();
        }
        v
    };
    let mut out = trim(num);
    out.extend(trim(pre));
    out
}

pub fn compare(a: &GemVersion, b: &GemVersion) -> Ordering {
    let zero = Seg::Num("0".into());
    for i in 0..a.0.len().max(b.0.len()) {
        let l = a.0.get(i).unwrap_or(&zero);
        let r = b.0.get(i).unwrap_or(&zero);
        let ord = match (l, r) {
            (Seg::Num(x), Seg::Num(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
            (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
            (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
            (Seg::Str(x), Seg::Str(y)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}
