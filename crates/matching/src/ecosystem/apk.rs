//! Alpine's apk-tools order: `1.2.3[letter][_suffix[N]]…[-rN]`, suffixes `_alpha` < `_beta` <
//! `_pre` < `_rc` < (none) < `_cvs` < `_svn` < `_git` < `_hg` < `_p`.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkVersion {
    numbers: Vec<String>,
    letter: Option<char>,
    suffixes: Vec<(i8, u64)>,
    revision: u64,
}

const SUFFIXES: [(&str, i8); 9] = [
    ("alpha", -4),
    ("beta", -3),
    ("pre", -2),
    ("rc", -1),
    ("cvs", 1),
    ("svn", 2),
    ("git", 3),
    ("hg", 4),
    ("p", 5),
];

pub fn parse(v: &str) -> Result<ApkVersion, String> {
    let bad = || format!("{v:?} is not an Alpine package version");
    let t = v.trim();
    let (t, revision) = match t.rsplit_once("-r") {
        Some((head, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => {
            (head, r.parse().map_err(|_| bad())?)
        }
        _ => (t, 0),
    };
    let mut pieces = t.split('_');
    let head = pieces.next().ok_or_else(bad)?;
    let (nums, letter) = match head.chars().last() {
        Some(c) if c.is_ascii_lowercase() => (&head[..head.len() - 1], Some(c)),
        _ => (head, None),
    };
    let numbers: Vec<String> = nums.split('.').map(str::to_owned).collect();
    if numbers
        .iter()
        .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let mut suffixes = Vec::new();
    for s in pieces {
        let name_end = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
        let (name, n) = s.split_at(name_end);
        let rank = SUFFIXES
            .iter()
            .find(|(x, _)| *x == name)
            .map(|(_, r)| *r)
            .ok_or_else(bad)?;
        let n = if n.is_empty() {
            0
        } else {
            n.parse().map_err(|_| bad())?
        };
        suffixes.push((rank, n));
    }
    Ok(ApkVersion {
        numbers,
        letter,
        suffixes,
        revision,
    })
}

fn num_cmp(first: bool, a: &str, b: &str) -> Ordering {
    // apk compares a later component with a leading zero as a decimal fraction (1.01 < 1.1).
    if !first && (a.starts_with('0') || b.starts_with('0')) {
        return a.cmp(b);
    }
    let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
}

pub fn compare(a: &ApkVersion, b: &ApkVersion) -> Ordering {
    for (i, (x, y)) in a.numbers.iter().zip(&b.numbers).enumerate() {
        let ord = num_cmp(i == 0, x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.numbers
        .len()
        .cmp(&b.numbers.len())
        .then_with(|| a.letter.cmp(&b.letter))
        .then_with(|| {
            for i in 0..a.suffixes.len().max(b.suffixes.len()) {
                let x = a.suffixes.get(i).copied().unwrap_or((0, 0));
                let y = b.suffixes.get(i).copied().unwrap_or((0, 0));
                let ord = x.cmp(&y);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        })
        .then_with(|| a.revision.cmp(&b.revision))
}
