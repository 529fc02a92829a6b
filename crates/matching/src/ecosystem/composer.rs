//! Packagist: Composer normalises (`v1.2` → `1.2.0.0`, `-beta.2` → `-beta2`), then compares with
//! PHP's `version_compare`.

use std::cmp::Ordering;

/// The canonical parts PHP's `version_compare` splits a normalised version into.
pub fn normalise(v: &str) -> Result<Vec<String>, String> {
    let t = v.trim().to_lowercase();
    let t = t.strip_prefix('v').unwrap_or(&t);
    if !t.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("{v:?} is not a Composer version"));
    }
    let t = t.split_once('+').map_or(t, |(x, _)| x);
    // The numeric core padded to four parts, as Composer's VersionParser does.
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (core, rest) = t.split_at(end);
    let mut nums: Vec<&str> = core.split('.').filter(|s| !s.is_empty()).collect();
    if nums.len() > 4 {
        return Err(format!("{v:?} has more than four numbers"));
    }
    while nums.len() < 4 {
        nums.push("0");
    }
    let joined = format!("{}{}", nums.join("."), rest);
    Ok(php_canonical(&joined))
}

/// PHP's `php_canonicalize_version` + split: `-`, `_`, `+` become `.`, and a change between
/// digits and other characters starts a new part.
fn php_canonical(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<bool> = None;
    for c in s.chars() {
        if matches!(c, '.' | '-' | '_' | '+') {
            if !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
            prev = None;
            continue;
        }
        let d = c.is_ascii_digit();
        if prev.is_some_and(|p| p != d) && !cur.is_empty() {
            parts.push(std::mem::take(&mut cur));
        }
        cur.push(c);
        prev = Some(d);
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// PHP's special forms: `dev` < `alpha`=`a` < `beta`=`b` < `RC`=`rc` < `#` (a number) <
/// `pl`=`p`; anything else below all of them.
fn special(s: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
        ("patch", 5),
    ];
    FORMS
        .iter()
        .find(|(f, _)| s.starts_with(f))
        .map_or(-6, |(_, n)| *n)
}

fn num(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn part_cmp(a: &str, b: &str) -> Ordering {
    match (num(a), num(b)) {
        (true, true) => {
            let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (false, false) => special(a).cmp(&special(b)),
        (true, false) => special("#").cmp(&special(b)),
        (false, true) => special(a).cmp(&special("#")),
    }
}

pub fn compare(a: &[String], b: &[String]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let ord = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => part_cmp(x, y),
            // PHP: a longer version wins when the extra part is a number (1.0 < 1.0.1), and is
            // compared as a special form against `#` otherwise (1.0-beta < 1.0).
            (Some(x), None) => {
                if num(x) {
                    Ordering::Greater
                } else {
                    part_cmp(x, "0")
                }
            }
            (None, Some(y)) => {
                if num(y) {
                    Ordering::Less
                } else {
                    part_cmp("0", y)
                }
            }
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}
