//! Patterns of several observations (`AND`, `OR`, `FOLLOWEDBY`, `WITHIN`, `REPEATS`,
//! `START … STOP`), decided at the end of a hunt from the hits of their leaves.

use super::*;

pub(super) fn qualified<'a>(
    hits: Vec<&'a LeafHit>,
    quals: &[Qualifier],
) -> Option<Vec<&'a LeafHit>> {
    let mut hits = hits;
    for q in quals {
        match q {
            Qualifier::StartStop(start, stop) => {
                hits.retain(|h| h.timestamp.is_some_and(|t| t >= *start && t < *stop));
            }
            Qualifier::Repeats(n) => {
                if (hits.len() as u64) < *n {
                    return None;
                }
            }
            Qualifier::Within(_) => {}
        }
    }
    // WITHIN with REPEATS: n sightings within the window.
    let within = quals.iter().find_map(|q| match q {
        Qualifier::Within(s) => Some(*s),
        _ => None,
    });
    let repeats = quals.iter().find_map(|q| match q {
        Qualifier::Repeats(n) => Some(*n as usize),
        _ => None,
    });
    if let (Some(w), Some(n)) = (within, repeats) {
        let mut times: Vec<DateTime<Utc>> = hits.iter().filter_map(|h| h.timestamp).collect();
        times.sort();
        let ok = times
            .windows(n)
            .any(|win| (win[n - 1] - win[0]).as_seconds_f64() <= w);
        if !ok {
            return None;
        }
    }
    (!hits.is_empty()).then_some(hits)
}

pub(super) fn holds<'a>(
    shape: &Shape,
    by_leaf: &HashMap<u32, Vec<&'a LeafHit>>,
) -> Option<Vec<&'a LeafHit>> {
    match shape {
        Shape::Leaf(leaf, quals) => {
            let hits = by_leaf.get(&(*leaf as u32)).cloned().unwrap_or_default();
            qualified(hits, quals)
        }
        Shape::Or(items, quals) => {
            let all: Vec<&LeafHit> = items
                .iter()
                .filter_map(|s| holds(s, by_leaf))
                .flatten()
                .collect();
            qualified(all, quals)
        }
        Shape::And(items, quals) => {
            let parts: Vec<Vec<&LeafHit>> = items
                .iter()
                .map(|s| holds(s, by_leaf))
                .collect::<Option<_>>()?;
            if let Some(w) = within(quals) {
                return within_window(&parts, w, false);
            }
            qualified(parts.into_iter().flatten().collect(), quals)
        }
        Shape::FollowedBy(items, quals) => {
            let parts: Vec<Vec<&LeafHit>> = items
                .iter()
                .map(|s| holds(s, by_leaf))
                .collect::<Option<_>>()?;
            within_window(&parts, within(quals).unwrap_or(f64::INFINITY), true)
        }
    }
}

pub(super) fn within(quals: &[Qualifier]) -> Option<f64> {
    quals.iter().find_map(|q| match q {
        Qualifier::Within(s) => Some(*s),
        _ => None,
    })
}

/// One hit of each part, all within `seconds` of the first (and, when `ordered`, each no
/// earlier than the previous part's). Tries each hit of the first part as the start.
pub(super) fn within_window<'a>(
    parts: &[Vec<&'a LeafHit>],
    seconds: f64,
    ordered: bool,
) -> Option<Vec<&'a LeafHit>> {
    let time = |h: &LeafHit| h.timestamp;
    for start in &parts[0] {
        let Some(t0) = time(start) else { continue };
        let mut chosen = vec![*start];
        let mut last = t0;
        let mut ok = true;
        for part in &parts[1..] {
            let pick = part
                .iter()
                .filter_map(|h| time(h).map(|t| (t, *h)))
                .filter(|(t, _)| {
                    let since = (*t - t0).as_seconds_f64();
                    if ordered {
                        *t >= last && since <= seconds
                    } else {
                        since.abs() <= seconds
                    }
                })
                .min_by_key(|(t, _)| *t);
            match pick {
                Some((t, h)) => {
                    last = t;
                    chosen.push(h);
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            return Some(chosen);
        }
    }
    None
}
