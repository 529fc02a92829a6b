//! A comparison of a STIX pattern compiled into a check on one record's field, and the exact
//! values (anchors) that let a record find the few leaves it can match without trying them all.

use super::*;

pub(super) fn is_hex_digest(s: &str) -> bool {
    matches!(s.len(), 32 | 40 | 64 | 128) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A compiled property test.
#[derive(Debug)]
pub(super) enum Check {
    /// `=` and `IN`: normalised values.
    Equals(Vec<String>),
    /// `=` with an address range, and `ISSUBSET`.
    InNet(IpNet),
    /// `ISSUPERSET`: the record's address range contains this one (a lone address contains only
    /// itself).
    Contains(IpNet),
    Regex(Regex),
    Compare(Op, Literal),
}

#[derive(Debug)]
pub(super) struct CompiledTest {
    source: Source,
    negated: bool,
    check: Check,
}

#[derive(Debug)]
pub(super) enum Node {
    And(Vec<Self>),
    Or(Vec<Self>),
    Test(CompiledTest),
    Exists(Source),
}

pub(super) fn normalise(source: Source, value: &str) -> Cow<'_, str> {
    if source.is_ip()
        && let Ok(ip) = value.parse::<IpAddr>()
    {
        // Rust reads IPv4 only in its one spelling (no leading zeros); IPv6 has many.
        return if ip.is_ipv4() {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(ip.to_string())
        };
    }
    if source.case_insensitive() && value.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(value.to_ascii_lowercase())
    } else {
        Cow::Borrowed(value)
    }
}

/// A run of text every match of the regex contains (case as written), when one can be named:
/// the longest the pattern requires. A value without any of a pattern set's literals cannot
/// match the set, which is then not run (a regex set is several times slower than a search for
/// its literals). `None` when some match could lack every literal (alternations, optional
/// parts, case-insensitive text, which the parser turns into classes).
pub(super) fn required_literal(pattern: &str) -> Option<String> {
    use regex_syntax::hir::{Hir, HirKind};
    fn keep(best: &mut Option<Vec<u8>>, run: Vec<u8>) {
        if !run.is_empty() && best.as_ref().is_none_or(|b| run.len() > b.len()) {
            *best = Some(run);
        }
    }
    fn required(hir: &Hir) -> Option<Vec<u8>> {
        match hir.kind() {
            HirKind::Literal(l) => Some(l.0.to_vec()),
            HirKind::Capture(c) => required(&c.sub),
            HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
            HirKind::Concat(items) => {
                // Literals side by side are one run.
                let (mut best, mut run) = (None, Vec::new());
                for item in items {
                    if let HirKind::Literal(l) = item.kind() {
                        run.extend_from_slice(&l.0);
                        continue;
                    }
                    keep(&mut best, std::mem::take(&mut run));
                    if let Some(inner) = required(item) {
                        keep(&mut best, inner);
                    }
                }
                keep(&mut best, run);
                best
            }
            _ => None,
        }
    }
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    String::from_utf8(required(&hir)?).ok()
}

/// SQL LIKE as a regex: `%` any run, `_` one character, everything else literal.
pub(super) fn like_regex(pattern: &str) -> String {
    let mut re = String::from("(?s)^");
    let mut lit = String::new();
    for c in pattern.chars() {
        match c {
            '%' | '_' => {
                re.push_str(&regex::escape(&lit));
                lit.clear();
                re.push_str(if c == '%' { ".*" } else { "." });
            }
            c => lit.push(c),
        }
    }
    re.push_str(&regex::escape(&lit));
    re.push('$');
    re
}

pub(super) fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

pub(super) fn compile(cmp: &Comparison, regexes: &mut Vec<String>) -> Result<Node, String> {
    Ok(match cmp {
        Comparison::And(items) => Node::And(
            items
                .iter()
                .map(|c| compile(c, regexes))
                .collect::<Result<_, _>>()?,
        ),
        Comparison::Or(items) => Node::Or(
            items
                .iter()
                .map(|c| compile(c, regexes))
                .collect::<Result<_, _>>()?,
        ),
        Comparison::Exists(path) => Node::Exists(Source::of(path)),
        Comparison::Test(Test {
            path,
            negated,
            op,
            value,
        }) => {
            let source = Source::of(path);
            let check = match (op, value) {
                (Op::Eq | Op::Ne, Literal::Str(s)) if source.is_ip() && s.contains('/') => {
                    Check::InNet(
                        parse_net(s).ok_or_else(|| format!("{s:?} is not an address range"))?,
                    )
                }
                (Op::Eq | Op::Ne, v) => {
                    Check::Equals(vec![normalise(source, &v.text()).into_owned()])
                }
                (Op::In, Literal::Set(items)) => Check::Equals(
                    items
                        .iter()
                        .map(|v| normalise(source, &v.text()).into_owned())
                        .collect(),
                ),
                (Op::Like, Literal::Str(s)) => {
                    let re = like_regex(s);
                    regexes.push(re.clone());
                    Check::Regex(Regex::new(&re).map_err(|e| format!("LIKE {s:?}: {e}"))?)
                }
                (Op::Matches, Literal::Str(s)) => {
                    let re = Regex::new(s).map_err(|e| format!("MATCHES {s:?}: {e}"))?;
                    regexes.push(s.clone());
                    Check::Regex(re)
                }
                (Op::IsSubset, Literal::Str(s)) => Check::InNet(
                    parse_net(s)
                        .ok_or_else(|| format!("ISSUBSET {s:?} is not an address range"))?,
                ),
                (Op::IsSuperset, Literal::Str(s)) => Check::Contains(
                    parse_net(s)
                        .ok_or_else(|| format!("ISSUPERSET {s:?} is not an address range"))?,
                ),
                (Op::Lt | Op::Le | Op::Gt | Op::Ge, v) => Check::Compare(*op, v.clone()),
                (op, v) => return Err(format!("{} cannot take {v:?}", op.text())),
            };
            Node::Test(CompiledTest {
                source,
                // `a != b` is `NOT a = b` in the grammar's terms.
                negated: *negated ^ (*op == Op::Ne),
                check,
            })
        }
    })
}

impl Check {
    fn holds(&self, source: Source, value: &str) -> bool {
        match self {
            Self::Equals(set) => {
                let v = normalise(source, value);
                set.iter().any(|s| *s == *v)
            }
            Self::InNet(net) => value.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
            Self::Contains(net) => parse_net(value).is_some_and(|own| own.contains(net)),
            Self::Regex(re) => re.is_match(value),
            Self::Compare(op, lit) => {
                let ord = match (value.parse::<f64>(), lit) {
                    (Ok(v), Literal::Int(i)) => v.partial_cmp(&(*i as f64)),
                    (Ok(v), Literal::Float(f)) => v.partial_cmp(f),
                    (_, other) => Some(value.cmp(other.text().as_str())),
                };
                ord.is_some_and(|o| match op {
                    Op::Lt => o.is_lt(),
                    Op::Le => o.is_le(),
                    Op::Gt => o.is_gt(),
                    _ => o.is_ge(),
                })
            }
        }
    }
}

impl Node {
    /// Whether the node holds for the record; the fields that made positive tests hold are
    /// added to `matched`.
    pub(super) fn eval(&self, record: &Record<'_>, matched: &mut Vec<(String, String)>) -> bool {
        match self {
            Self::And(items) => {
                let mark = matched.len();
                let all = items.iter().all(|n| n.eval(record, matched));
                if !all {
                    matched.truncate(mark);
                }
                all
            }
            Self::Or(items) => items.iter().any(|n| n.eval(record, matched)),
            Self::Exists(source) => {
                let mut values = Values::new();
                source.values(record, &mut values);
                !values.is_empty()
            }
            Self::Test(t) => {
                let mut values = Values::new();
                t.source.values(record, &mut values);
                // STIX: a comparison needs the object; `NOT` negates the test on an existing value.
                for (field, value) in &values {
                    if t.check.holds(t.source, value) != t.negated {
                        matched.push((field.to_string(), value.to_string()));
                        return true;
                    }
                }
                false
            }
        }
    }
}

/// Where a record must be found for a leaf to hold.
#[derive(Debug, Clone)]
pub(super) enum Anchor {
    Equals(Source, String),
    Net(Source, IpNet),
    Pattern(Source, String),
}

/// `None`: no anchor exists (the leaf is evaluated for every record).
/// `Some(empty)`: the leaf can never hold (it needs a value no log carries).
pub(super) fn anchors(node: &Node) -> Option<Vec<Anchor>> {
    match node {
        Node::Test(t) if t.source == Source::Unmapped => Some(Vec::new()),
        Node::Exists(Source::Unmapped) => Some(Vec::new()),
        Node::Exists(_) => None,
        Node::Test(t) if t.negated => None,
        Node::Test(t) => match &t.check {
            Check::Equals(values) => Some(
                values
                    .iter()
                    .map(|v| Anchor::Equals(t.source, v.clone()))
                    .collect(),
            ),
            Check::InNet(net) if t.source.is_ip() => Some(vec![Anchor::Net(t.source, *net)]),
            Check::Regex(re) => Some(vec![Anchor::Pattern(t.source, re.as_str().to_owned())]),
            _ => None,
        },
        Node::And(items) => {
            let mut best: Option<Vec<Anchor>> = None;
            for a in items.iter().filter_map(anchors) {
                if best.as_ref().is_none_or(|b| a.len() < b.len()) {
                    best = Some(a);
                }
            }
            best
        }
        Node::Or(items) => {
            let mut all = Vec::new();
            for i in items {
                all.extend(anchors(i)?);
            }
            Some(all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_names_the_text_every_match_holds() {
        let (wp, ab) = (like_regex("%/wp-admin9/%"), like_regex("/a_b%"));
        let cases = [
            (r"^/cgi-bin/x9\.", Some("/cgi-bin/x9.")),
            (wp.as_str(), Some("/wp-admin9/")),
            (ab.as_str(), Some("/a")),
            (r"(evil)+\.example", Some(".example")),
            (r"x[0-9]{2}longer-part", Some("longer-part")),
            // Some match could lack any one run: nothing to require.
            (r"evil|bad", None),
            (r"(?i)evil", None),
            (r"(evil)?x", Some("x")),
            (r"(evil)*", None),
            (r".*", None),
        ];
        for (pattern, want) in cases {
            assert_eq!(required_literal(pattern).as_deref(), want, "{pattern}");
            // What is required is in every match the regex finds.
            if let Some(lit) = want {
                let re = Regex::new(pattern).unwrap();
                for text in [
                    "/cgi-bin/x9.sh",
                    "x/wp-admin9/y",
                    "/a.b",
                    "evilevil.example",
                    "x12longer-part",
                ] {
                    if re.is_match(text) {
                        assert!(text.contains(lit), "{pattern} matched {text} without {lit}");
                    }
                }
            }
        }
    }
}
