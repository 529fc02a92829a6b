//! The literal prefilter: which lines a Sigma rule could possibly fire on, decided from the
//! raw line before it is parsed.
//!
//! For most rules some literal must appear in any line the rule fires on: `cs-uri-query|contains:
//! '/etc/passwd'` cannot fire on a line without `/etc/passwd` in it, because every field Ward
//! reads from an access log is a slice of the line (nothing is unescaped or decoded; see
//! `logs::access`). [`required_literals`] works that set out from a rule's detection and
//! condition: an AND needs any one of its parts' sets, an OR the union of all of them, and
//! whatever cannot be reduced to literals (a regex, a CIDR block, a number compared, a field's
//! mere existence, a `not`) makes the rule one that is always evaluated. One Aho-Corasick
//! automaton over every filterable rule's literals (ASCII case-insensitive, as Sigma matches)
//! then names, per line, the rules whose literals the line holds, and only those rules' engines
//! are asked about it. It searches the fields the line was read into rather than the raw line
//! (every field a rule names lies within one of them, and a rule's literal within one field), so
//! the timestamp is never searched and a user agent or referer seen before is looked up in a
//! memo instead of searched again. The line is still parsed (indicators and the
//! always-evaluated rules need its fields, and an unreadable line is still counted).
//!
//! The set over-approximates, never under: a rule is only dropped for a line that cannot hold
//! its match. `crates/hunt/tests/prefilter.rs` checks that against every rule asked about every
//! line, on the shared SigmaHQ rules.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaRule,
    SigmaValue, StringPart,
};

/// Literals of which a line must contain at least one (lower case) for the rule to fire on
/// it; `None` when no such set can be named (the rule is evaluated on every line).
pub fn required_literals(rule: &SigmaRule) -> Option<Vec<String>> {
    let named = &rule.detection.named;
    if rule.detection.conditions.is_empty() {
        return None;
    }
    // Several conditions: the rule fires when any does.
    let set = union(
        rule.detection
            .conditions
            .iter()
            .map(|c| condition(c, named)),
    )?;
    // A set likely in most lines (`=`, `_`, one letter) filters nothing: such a rule is asked
    // about every line rather than after a search that almost always succeeds.
    (chance(&set) < WEAK).then_some(set)
}

/// The estimated chance above which a set is too weak to filter: one in a thousand lines.
const WEAK: f64 = 1e-3;

fn condition(expr: &ConditionExpr, named: &HashMap<String, Detection>) -> Option<Vec<String>> {
    match expr {
        ConditionExpr::Identifier(name) => detection(named.get(name)?),
        ConditionExpr::And(parts) => best(parts.iter().map(|p| condition(p, named))),
        ConditionExpr::Or(parts) => union(parts.iter().map(|p| condition(p, named))),
        // What a negation matches is everything but some lines: no literal is needed.
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let chosen: Vec<&Detection> = named
                .iter()
                .filter(|(name, _)| match pattern {
                    SelectorPattern::Them => true,
                    SelectorPattern::Pattern(p) => glob(p, name),
                })
                .map(|(_, d)| d)
                .collect();
            if chosen.is_empty() {
                return None;
            }
            match quantifier {
                Quantifier::All => best(chosen.into_iter().map(detection)),
                Quantifier::Any | Quantifier::Count(1..) => {
                    union(chosen.into_iter().map(detection))
                }
                Quantifier::Count(0) => None,
            }
        }
    }
}

fn detection(d: &Detection) -> Option<Vec<String>> {
    match d {
        Detection::AllOf(items) => best(items.iter().map(item)),
        Detection::AnyOf(children) => union(children.iter().map(detection)),
        Detection::And(children) => best(children.iter().map(detection)),
        Detection::Keywords(values) => union(values.iter().map(|v| value(v).map(|l| vec![l]))),
        Detection::ArrayMatch { .. } | Detection::Conditional { .. } => None,
    }
}

fn item(item: &DetectionItem) -> Option<Vec<String>> {
    let literal_modifiers = item.field.modifiers.iter().all(|m| {
        matches!(
            m,
            Modifier::Contains
                | Modifier::StartsWith
                | Modifier::EndsWith
                | Modifier::All
                | Modifier::Cased
        )
    });
    if !literal_modifiers || item.values.is_empty() {
        return None;
    }
    let each = item.values.iter().map(|v| value(v).map(|l| vec![l]));
    if item.field.modifiers.contains(&Modifier::All) {
        best(each)
    } else {
        union(each)
    }
}

/// The longest run of plain text a value must contain, in lower case.
fn value(v: &SigmaValue) -> Option<String> {
    let text = match v {
        SigmaValue::String(s) => s
            .parts
            .iter()
            .filter_map(|p| match p {
                StringPart::Plain(t) => Some(t.as_str()),
                StringPart::Special(_) => None,
            })
            .max_by_key(|t| t.len())?
            .to_owned(),
        SigmaValue::Integer(i) => i.to_string(),
        // A float's spelling in a log need not be Rust's; a boolean or null need not be
        // spelt at all.
        SigmaValue::Float(_) | SigmaValue::Bool(_) | SigmaValue::Null => return None,
    };
    (!text.is_empty()).then(|| text.to_lowercase())
}

/// All of them: every part needs a set, and any literal of any part will do.
fn union(parts: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<String>> {
    let mut all = Vec::new();
    for p in parts {
        all.extend(p?);
    }
    all.sort();
    all.dedup();
    (!all.is_empty()).then_some(all)
}

/// Any one of them: the most selective part's set, or none when no part has one. A set's
/// chance of being found in a line is estimated as the sum of its literals' chances, each the
/// product over its first eight characters of 1 in 26 for a letter or digit and 1 in 100 for
/// anything else (punctuation is rarer in logs than words): `["get"]` (1 in 17,576) is a worse
/// filter than ten template-injection strings such as `={{` (1 in 10^6 each).
fn best(parts: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<String>> {
    parts
        .flatten()
        .min_by(|a, b| chance(a).total_cmp(&chance(b)).then_with(|| a.cmp(b)))
}

fn chance(set: &[String]) -> f64 {
    set.iter()
        .map(|l| {
            l.chars()
                .take(8)
                .map(|c| {
                    if c.is_alphanumeric() {
                        1.0 / 26.0
                    } else {
                        0.01
                    }
                })
                .product::<f64>()
        })
        .sum()
}

/// Sigma's selector patterns: `*` any run of characters, everything else literal.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// One automaton over the literals of the rules that have them, each literal leading to the
/// rules that need it.
pub struct Prefilter {
    automaton: Option<AhoCorasick>,
    /// Per pattern of the automaton, the rules (indexes into the sets given) that name it.
    rules: Vec<Vec<u32>>,
    /// How many rules there are.
    count: usize,
    /// Names this prefilter's entries in a [`Scratch`]'s memo.
    id: u64,
    /// Whether some literal is all [`numeric`] bytes: when none is, a numeric text (an IPv4
    /// address, a status, a size) holds none and is not searched.
    numeric_literals: bool,
}

/// Digits and the punctuation of numbers and IPv4 addresses.
fn numeric(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'.' | b':' | b'-')
}

/// A worker's scratch space for the prefilter: one flag per rule, the rules found, and per
/// prefilter the rules each recently seen repeating value (a user agent, a referer) holds.
#[derive(Default)]
pub struct Scratch {
    hit: Vec<bool>,
    /// The rules found by the last search, in order, without repeats.
    pub out: Vec<u32>,
    memos: Vec<(u64, Memo)>,
}

/// Per value, the rules its literals name and whether it was seen again since the memo was
/// last swept.
type Memo = HashMap<Box<str>, (Box<[u32]>, bool), foldhash::fast::RandomState>;

/// Values remembered per prefilter and worker: a few thousand user agents and referers cover
/// most lines of a web server's log. When full, the values not seen again
/// since the last sweep are forgotten (and everything, when that frees too little), so that a
/// log of ever-new values costs at most this many values' worth of memory.
const MEMO_MAX: usize = 8192;

impl Prefilter {
    /// `sets[i]`: the literals rule `i` needs one of (lower case).
    pub fn new(sets: &[Vec<String>]) -> Self {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut by_literal: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
        for (i, set) in sets.iter().enumerate() {
            for literal in set {
                by_literal.entry(literal).or_default().push(i as u32);
            }
        }
        let automaton = (!by_literal.is_empty()).then(|| {
            // A DFA: the automaton runs over every line, and a few thousand literals make a
            // table of a few megabytes.
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(by_literal.keys())
                .expect("literals of bounded size build an automaton")
        });
        Self {
            automaton,
            numeric_literals: by_literal.keys().any(|l| l.bytes().all(numeric)),
            rules: by_literal.into_values().collect(),
            count: sets.len(),
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The rules whose literals the line holds, in `scratch.out`, in order, without repeats.
    /// The literals are lower case and matched ASCII case-insensitively; a line with non-ASCII
    /// text is also searched in lower case.
    pub fn candidates(&self, line: &str, scratch: &mut Scratch) {
        self.candidates_in(std::iter::once((line, false)), scratch);
    }

    /// The rules whose literals the texts hold (in `scratch.out`, in order, without repeats):
    /// what [`Self::candidates`] finds in a line, from the fields the line was read into.
    /// Every field a rule can name is part of one of these texts, and a rule's literal must lie
    /// within one field's value, so this finds what the whole line would (and skips the
    /// timestamp and the punctuation between fields). A text marked as repeating (user agents
    /// and referers come back line after line) is looked up in a memo before it is searched.
    pub fn candidates_in<'t>(
        &self,
        texts: impl Iterator<Item = (&'t str, bool)>,
        scratch: &mut Scratch,
    ) {
        let Scratch { hit, out, memos } = scratch;
        out.clear();
        let Some(a) = &self.automaton else { return };
        hit.clear();
        hit.resize(self.count, false);
        let memo = match memos.iter().position(|(id, _)| *id == self.id) {
            Some(i) => &mut memos[i].1,
            None => {
                memos.push((self.id, Memo::default()));
                &mut memos.last_mut().expect("just pushed").1
            }
        };
        let mut add = |rule: u32| {
            if !std::mem::replace(&mut hit[rule as usize], true) {
                out.push(rule);
            }
        };
        for (text, repeats) in texts {
            if !repeats {
                self.search(a, text, &mut add);
                continue;
            }
            if let Some((rules, again)) = memo.get_mut(text) {
                rules.iter().for_each(|&r| add(r));
                *again = true;
                continue;
            }
            let mut rules = Vec::new();
            self.search(a, text, &mut |r| rules.push(r));
            rules.sort_unstable();
            rules.dedup();
            rules.iter().for_each(|&r| add(r));
            if memo.len() >= MEMO_MAX {
                memo.retain(|_, (_, again)| std::mem::take(again));
                if memo.len() > MEMO_MAX / 2 {
                    memo.clear();
                }
            }
            memo.insert(text.into(), (rules.into(), false));
        }
        out.sort_unstable();
    }

    /// Every rule (with repeats) whose literal `text` holds.
    fn search(&self, a: &AhoCorasick, text: &str, found: &mut dyn FnMut(u32)) {
        if !self.numeric_literals && text.bytes().all(numeric) {
            return;
        }
        let mut mark = |text: &str| {
            for m in a.find_overlapping_iter(text) {
                for &rule in &self.rules[m.pattern().as_usize()] {
                    found(rule);
                }
            }
        };
        mark(text);
        if !text.is_ascii() {
            mark(&text.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::FieldId;

    fn rule(yaml: &str) -> SigmaRule {
        rsigma_parser::parse_sigma_yaml(yaml)
            .expect("parses")
            .rules
            .remove(0)
    }

    fn literals(detection: &str) -> Option<Vec<String>> {
        required_literals(&rule(&format!(
            "title: t\nlogsource:\n  category: webserver\ndetection:\n{detection}"
        )))
    }

    #[test]
    fn and_takes_one_part_or_takes_all_and_not_takes_none() {
        // The rarer part: two long strings rather than one word, one word of five letters
        // rather than one of three.
        assert_eq!(
            literals(
                "  sel:\n    cs-uri-query|contains:\n      - '/etc/passwd'\n      - 'win.ini'\n  \
                 ua:\n    cs-user-agent|contains: 'Nikto'\n  condition: sel and ua\n"
            ),
            Some(vec!["/etc/passwd".into(), "win.ini".into()])
        );
        assert_eq!(
            literals(
                "  m:\n    cs-method: 'GET'\n  \
                 ua:\n    cs-user-agent|contains: 'Nikto'\n  condition: m and ua\n"
            ),
            Some(vec!["nikto".into()])
        );
        assert_eq!(
            literals(
                "  sel:\n    cs-uri-query|contains: '/etc/passwd'\n  \
                 ua:\n    cs-user-agent|contains: 'Nikto'\n  condition: sel or ua\n"
            ),
            Some(vec!["/etc/passwd".into(), "nikto".into()])
        );
        assert_eq!(
            literals("  sel:\n    cs-uri-query|contains: 'x'\n  condition: not sel\n"),
            None
        );
        assert_eq!(
            literals(
                "  sel:\n    cs-uri-query|contains: '/etc/passwd'\n  \
                 filter:\n    sc-status: 404\n  condition: sel and not filter\n"
            ),
            Some(vec!["/etc/passwd".into()])
        );
    }

    #[test]
    fn wildcards_regexes_and_selectors() {
        // The longest plain run between wildcards.
        assert_eq!(
            literals("  sel:\n    cs-uri-stem: '/a*/wp-admin/*.php'\n  condition: sel\n"),
            Some(vec!["/wp-admin/".into()])
        );
        assert_eq!(
            literals("  sel:\n    cs-uri-query|re: 'a.*b'\n  condition: sel\n"),
            None
        );
        // `1 of sel*`: every matching detection's literals; one without any spoils the set.
        assert_eq!(
            literals(
                "  sel_a:\n    cs-uri|contains: 'AAA'\n  sel_b:\n    cs-uri|contains: 'BBB'\n  \
                 other:\n    cs-uri|re: 'x'\n  condition: 1 of sel*\n"
            ),
            Some(vec!["aaa".into(), "bbb".into()])
        );
        assert_eq!(
            literals(
                "  sel_a:\n    cs-uri|contains: 'AAA'\n  sel_b:\n    cs-uri|re: 'x'\n  \
                 condition: 1 of sel*\n"
            ),
            None
        );
        // `|all`: any one value is needed.
        assert_eq!(
            literals(
                "  sel:\n    cs-uri|contains|all:\n      - 'ab'\n      - 'cdef'\n  condition: sel\n"
            ),
            Some(vec!["cdef".into()])
        );
        // Keywords are literals; numbers are spelt.
        assert_eq!(
            literals("  keywords:\n    - 'Evil'\n    - 5000\n  condition: keywords\n"),
            Some(vec!["5000".into(), "evil".into()])
        );
        // A set nearly every line holds filters nothing.
        assert_eq!(
            literals("  sel:\n    cs-user-agent|endswith: '='\n  condition: sel\n"),
            None
        );
        assert_eq!(
            literals("  sel:\n    cs-method: 'GET'\n  condition: sel\n"),
            Some(vec!["get".into()])
        );
    }

    #[test]
    fn glob_patterns() {
        assert!(glob("sel*", "selection"));
        assert!(glob("*_a", "sel_a"));
        assert!(glob("s*l*n", "selection"));
        assert!(!glob("s*x*n", "selection"));
        assert!(!glob("filter*", "selection"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn fields_find_what_the_line_finds_and_the_memo_remembers_it() {
        let p = Prefilter::new(&[
            vec!["/etc/passwd".into()],
            vec!["nikto".into(), "sqlmap".into()],
            vec!["200".into()],
            vec!["ünï".into()],
            vec!["portal.example".into()],
        ]);
        let lines = [
            r#"192.0.2.1 - - [15/May/2025:21:20:05 +0000] "GET /x?f=/etc/passwd HTTP/1.1" 200 5 "https://portal.example/" "Nikto/2.5""#,
            r#"192.0.2.2 - - [15/May/2025:21:20:06 +0000] "GET / HTTP/1.1" 404 5 "https://portal.example/" "Nikto/2.5""#,
            r#"192.0.2.3 - - [15/May/2025:21:20:07 +0000] "GET /ÜNÏ HTTP/1.1" 302 5 "-" "sqlmap""#,
            r#"192.0.2.4 - - [15/May/2025:21:20:08 +0000] "GET / HTTP/1.1" 302 5 "-" "sqlmap""#,
            r#"192.0.2.5 - - [15/May/2025:21:20:09 +0000] "GET / HTTP/1.1" 302 5 "-" "curl""#,
        ];
        let (mut scratch, mut whole) = (Scratch::default(), Scratch::default());
        // Twice over: the second time user agents and referers come from the memo.
        for line in lines.iter().chain(&lines) {
            let record = crate::logs::parse_line(crate::logs::LogFormat::Combined, line, 2025)
                .expect("reads");
            p.candidates(line, &mut whole);
            p.candidates_in(
                record
                    .searchable()
                    .expect("an access log's record")
                    .map(|(name, text)| {
                        (
                            text,
                            matches!(name, FieldId::CsUserAgent | FieldId::CsReferer),
                        )
                    }),
                &mut scratch,
            );
            assert_eq!(scratch.out, whole.out, "{line}");
        }
        assert_eq!(scratch.memos.len(), 1);
        // One referer ("-" is none) and three user agents.
        assert_eq!(scratch.memos[0].1.len(), 4);
    }

    #[test]
    fn case_and_non_ascii_lines() {
        let p = Prefilter::new(&[
            vec!["/etc/passwd".into(), "ünï".into()],
            vec!["nikto".into()],
            vec!["passwd".into()],
        ]);
        let mut s = Scratch::default();
        p.candidates("ÜNÏ", &mut s);
        assert_eq!(s.out, vec![0]);
        Prefilter::new(&[]).candidates("anything", &mut s);
        assert!(s.out.is_empty());
        p.candidates("GET /ETC/PASSWD (Nikto)", &mut s);
        assert_eq!(s.out, vec![0, 1, 2]);
        p.candidates("GET /x?q=ÜNÏ", &mut s);
        assert_eq!(s.out, vec![0]);
        p.candidates("GET /index.html", &mut s);
        assert!(s.out.is_empty());
        // Numbers are searched only when some literal could be one.
        let digits = Prefilter::new(&[vec!["passwd".into()], vec!["10.0.0.1".into()]]);
        assert!(digits.numeric_literals);
        digits.candidates("10.0.0.1", &mut s);
        assert_eq!(s.out, vec![1]);
        let words = Prefilter::new(&[vec!["passwd".into()], vec!["a1".into()]]);
        assert!(!words.numeric_literals);
        words.candidates("10.0.0.1", &mut s);
        assert!(s.out.is_empty());
        words.candidates("a10", &mut s);
        assert_eq!(s.out, vec![1]);
    }
}
