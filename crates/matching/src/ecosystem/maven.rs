//! Maven's `ComparableVersion` (the order documented in
//! <https://maven.apache.org/pom.html#version-order-specification>): maven-artifact 3.0–3.8's
//! parsing, as univers ports it, with Maven 3.9's `release` alias (MNG-7559) and whole-list
//! comparison with nothing (MNG-6964). Maven 3.9's other two changes — a trailing `.qualifier`
//! read as `-qualifier`, `X1` runs as combination items — Ward does not follow yet
//! (docs/version-order.md).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Digits without leading zeros (arbitrary length: `20230101123456` is common).
    Int(String),
    Str(String),
    List(Vec<Self>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(d) => d == "0",
        Item::Str(s) => s.is_empty(),
        Item::List(l) => l.is_empty(),
    }
}

fn parse_item(buf: &str, followed_by_digit: bool) -> Item {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        let d = buf.trim_start_matches('0');
        return Item::Int(if d.is_empty() { "0".into() } else { d.into() });
    }
    let s = match (followed_by_digit, buf) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, "ga" | "final" | "release") => "",
        (_, "cr") => "rc",
        (_, other) => other,
    };
    Item::Str(s.to_owned())
}

/// Removes trailing null items (`1.0.0` = `1`), looking past sub-lists as Maven does.
fn normalise(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if is_null(&list[i]) {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

pub fn parse(version: &str) -> Item {
    let v = version.trim().to_lowercase();
    let chars: Vec<char> = v.chars().collect();
    // The open lists, outermost first; each new one is the last item of the one before.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0;
    let buf = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    for (i, &c) in chars.iter().enumerate() {
        let top = stack.len() - 1;
        if c == '.' || c == '-' {
            if i == start {
                stack[top].push(Item::Int("0".into()));
            } else {
                stack[top].push(parse_item(&buf(start, i), false));
            }
            start = i + 1;
            if c == '-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                stack[top].push(parse_item(&buf(start, i), true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                stack[top].push(parse_item(&buf(start, i), false));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if chars.len() > start {
        let top = stack.len() - 1;
        stack[top].push(parse_item(&buf(start, chars.len()), false));
    }
    while stack.len() > 1 {
        let mut inner = stack.pop().expect("len > 1");
        normalise(&mut inner);
        stack.last_mut().expect("len >= 1").push(Item::List(inner));
    }
    let mut root = stack.pop().expect("the root list");
    normalise(&mut root);
    Item::List(root)
}

fn qualifier(s: &str) -> String {
    match QUALIFIERS.iter().position(|q| *q == s) {
        Some(i) => i.to_string(),
        None => format!("{}-{s}", QUALIFIERS.len()),
    }
}

fn int_cmp(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `ComparableVersion.Item.compareTo`, with `None` for a missing item.
pub fn compare(a: &Item, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (Item::Int(x), None) => {
            if x == "0" {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Item::Int(x), Some(Item::Int(y))) => int_cmp(x, y),
        (Item::Int(_), Some(_)) => Ordering::Greater,
        (Item::Str(x), None) => qualifier(x).cmp(&qualifier("")),
        (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
        (Item::Str(x), Some(Item::Str(y))) => qualifier(x).cmp(&qualifier(y)),
        // Maven 3.9 (MNG-6964): the whole list against nothing, not only its first item;
        // comparing the first alone is not transitive (found by fuzzing, as MNG-6964 was).
        (Item::List(l), None) => l
            .iter()
            .map(|x| compare(x, None))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
        (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
        (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
        (Item::List(l), Some(Item::List(r))) => {
            for i in 0..l.len().max(r.len()) {
                let ord = match (l.get(i), r.get(i)) {
                    (Some(x), y) => compare(x, y),
                    (None, Some(y)) => compare(y, None).reverse(),
                    (None, None) => Ordering::Equal,
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        }
    }
}
