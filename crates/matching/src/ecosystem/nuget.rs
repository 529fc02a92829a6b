//! NuGet's `NuGetVersion` (NuGet.Versioning): up to four numbers, SemVer 2.0 release labels
//! compared case-insensitively, metadata ignored.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct NuGetVersion {
    numbers: [u64; 4],
    labels: Vec<String>,
}

pub fn parse(v: &str) -> Result<NuGetVersion, String> {
    let t = v.trim();
    let t = t.split_once('+').map_or(t, |(x, _)| x);
    let (core, label) = match t.split_once('-') {
        Some((c, l)) => (c, Some(l)),
        None => (t, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return Err(format!("{v:?} is not a NuGet version"));
    }
    let mut numbers = [0u64; 4];
    for (i, p) in parts.iter().enumerate() {
        numbers[i] = p
            .parse()
            .map_err(|_| format!("{v:?} is not a NuGet version"))?;
    }
    let labels: Vec<String> = match label {
        Some(l) => {
            let ls: Vec<String> = l.split('.').map(str::to_lowercase).collect();
            if ls
                .iter()
                .any(|x| x.is_empty() || !x.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                return Err(format!("{v:?} has an invalid release label"));
            }
            ls
        }
        None => Vec::new(),
    };
    Ok(NuGetVersion { numbers, labels })
}

pub fn compare(a: &NuGetVersion, b: &NuGetVersion) -> Ordering {
    a.numbers
        .cmp(&b.numbers)
        .then_with(|| match (a.labels.is_empty(), b.labels.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (x, y) in a.labels.iter().zip(&b.labels) {
                    let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(m), Ok(n)) => m.cmp(&n),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => x.cmp(y),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                a.labels.len().cmp(&b.labels.len())
            }
        })
}
