//! The STIX 2.1 patterning language (STIX 2.1 part 9): a tokenizer and recursive-descent parser
//! producing [`Pattern`], and STIX bundles' indicator objects.
//!
//! Written here: the one Rust STIX crate with a pattern parser (`stix2` 0.1) has one release,
//! one author and 90 dependencies, and Ward needs only the pattern grammar and the indicator
//! object.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A parsed pattern: observation expressions joined by `AND`, `OR`, `FOLLOWEDBY`.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// `[ comparison ]` with its qualifiers.
    Single(Comparison, Vec<Qualifier>),
    And(Vec<Self>, Vec<Qualifier>),
    Or(Vec<Self>, Vec<Qualifier>),
    FollowedBy(Vec<Self>, Vec<Qualifier>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    Within(f64),
    Repeats(u64),
    StartStop(DateTime<Utc>, DateTime<Utc>),
}

/// The inside of `[ … ]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    And(Vec<Self>),
    Or(Vec<Self>),
    Test(Test),
    Exists(ObjectPath),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub path: ObjectPath,
    pub negated: bool,
    pub op: Op,
    pub value: Literal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::In => "IN",
            Self::Like => "LIKE",
            Self::Matches => "MATCHES",
            Self::IsSubset => "ISSUBSET",
            Self::IsSuperset => "ISSUPERSET",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(DateTime<Utc>),
    /// `b'…'` (base64) and `h'…'` (hex), kept as written.
    Binary(String),
    Set(Vec<Self>),
}

impl Literal {
    /// The literal as the text a log field would hold.
    pub fn text(&self) -> String {
        match self {
            Self::Str(s) | Self::Binary(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Timestamp(t) => t.to_rfc3339(),
            Self::Set(items) => items.iter().map(Self::text).collect::<Vec<_>>().join(","),
        }
    }
}

/// `object-type:property.path`, e.g. `file:hashes.'SHA-256'` → `("file", ["hashes", "SHA-256"])`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    pub object: String,
    pub steps: Vec<String>,
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.object, self.steps.join("."))
    }
}

/// A pattern error, with the character offset in the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// A bare word: an identifier or a keyword (keywords are upper case in the grammar).
    Word(String),
    Str(String),
    Int(i64),
    Float(f64),
    Timestamp(DateTime<Utc>),
    Binary(String),
    Index(String),
}

/// Nesting deeper than this is refused (the parser recurses).
const MAX_DEPTH: usize = 64;

fn tokenize(input: &str) -> Result<Vec<(usize, Tok)>, PatternError> {
    let err = |offset: usize, message: String| PatternError { offset, message };
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '[' => {
                // `[index]` inside an object path: `[*]` or `[0]`.
                // An index follows a property name directly: `to_refs[*]`, `'x'[0]`.
                let adjacent = i > 0 && !chars[i - 1].1.is_whitespace();
                let after_property = match out.last() {
                    Some((_, Tok::Word(w))) => !matches!(
                        w.as_str(),
                        "AND" | "OR" | "FOLLOWEDBY" | "NOT" | "SECONDS" | "TIMES"
                    ),
                    Some((_, Tok::Str(_) | Tok::Index(_))) => true,
                    _ => false,
                };
                if adjacent && after_property {
                    let end = chars[i..]
                        .iter()
                        .position(|(_, ch)| *ch == ']')
                        .ok_or_else(|| err(at, "unclosed `[` index".into()))?;
                    let index: String = chars[i + 1..i + end].iter().map(|(_, ch)| ch).collect();
                    out.push((at, Tok::Index(index)));
                    i += end + 1;
                    continue;
                }
                Some(Tok::LBracket)
            }
            ']' => Some(Tok::RBracket),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ':' => Some(Tok::Colon),
            '.' => Some(Tok::Dot),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Eq),
            _ => None,
        };
        if let Some(t) = single {
            out.push((at, t));
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).map(|(_, c)| *c);
        match c {
            '!' if next == Some('=') => {
                out.push((at, Tok::Ne));
                i += 2;
            }
            '<' if next == Some('>') => {
                out.push((at, Tok::Ne));
                i += 2;
            }
            '<' if next == Some('=') => {
                out.push((at, Tok::Le));
                i += 2;
            }
            '>' if next == Some('=') => {
                out.push((at, Tok::Ge));
                i += 2;
            }
            '<' => {
                out.push((at, Tok::Lt));
                i += 1;
            }
            '>' => {
                out.push((at, Tok::Gt));
                i += 1;
            }
            '\'' => {
                let (s, len) =
                    quoted(&chars[i..]).ok_or_else(|| err(at, "unterminated string".into()))?;
                out.push((at, Tok::Str(s)));
                i += len;
            }
            't' | 'b' | 'h' if next == Some('\'') => {
                let (s, len) =
                    quoted(&chars[i + 1..]).ok_or_else(|| err(at, "unterminated string".into()))?;
                let tok = if c == 't' {
                    let t = DateTime::parse_from_rfc3339(&s)
                        .map_err(|e| err(at, format!("timestamp t'{s}': {e}")))?;
                    Tok::Timestamp(t.with_timezone(&Utc))
                } else {
                    Tok::Binary(s)
                };
                out.push((at, tok));
                i += len + 1;
            }
            '-' | '+' | '0'..='9' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].1.is_ascii_digit() || chars[i].1 == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|(_, ch)| ch).collect();
                let tok = if text.contains('.') {
                    Tok::Float(
                        text.parse()
                            .map_err(|_| err(at, format!("bad number {text:?}")))?,
                    )
                } else {
                    Tok::Int(
                        text.parse()
                            .map_err(|_| err(at, format!("bad number {text:?}")))?,
                    )
                };
                out.push((at, tok));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].1.is_ascii_alphanumeric() || matches!(chars[i].1, '_' | '-'))
                {
                    i += 1;
                }
                out.push((
                    at,
                    Tok::Word(chars[start..i].iter().map(|(_, ch)| ch).collect()),
                ));
            }
            other => return Err(err(at, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

/// A `'…'` string starting at chars[0]; `\'` and `\\` are the escapes. Returns the text and
/// how many chars were used.
fn quoted(chars: &[(usize, char)]) -> Option<(String, usize)> {
    let mut s = String::new();
    let mut i = 1;
    while i < chars.len() {
        match chars[i].1 {
            '\\' => {
                s.push(chars.get(i + 1)?.1);
                i += 2;
            }
            '\'' => return Some((s, i + 1)),
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    None
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    depth: usize,
}

/// Parses a STIX 2.1 pattern.
pub fn parse(pattern: &str) -> Result<Observation, PatternError> {
    let toks = tokenize(pattern)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: pattern.len(),
        depth: 0,
    };
    let obs = p.observations()?;
    if p.pos < p.toks.len() {
        return Err(p.error(format!("unexpected {}", p.describe())));
    }
    Ok(obs)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(o, _)| *o)
    }
    fn error(&self, message: String) -> PatternError {
        PatternError {
            offset: self.offset(),
            message,
        }
    }
    fn describe(&self) -> String {
        match self.peek() {
            None => "end of pattern".into(),
            Some(Tok::Word(w)) => format!("`{w}`"),
            Some(t) => format!("{t:?}"),
        }
    }
    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w == kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), PatternError> {
        if self.peek() == Some(tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", self.describe())))
        }
    }
    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    // observationExpressions: or (FOLLOWEDBY or)*
    fn observations(&mut self) -> Result<Observation, PatternError> {
        self.enter()?;
        let mut items = vec![self.obs_or()?];
        while self.keyword("FOLLOWEDBY") {
            items.push(self.obs_or()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Observation::FollowedBy(items, Vec::new())
        })
    }

    fn obs_or(&mut self) -> Result<Observation, PatternError> {
        let mut items = vec![self.obs_and()?];
        while self.keyword("OR") {
            items.push(self.obs_and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Observation::Or(items, Vec::new())
        })
    }

    fn obs_and(&mut self) -> Result<Observation, PatternError> {
        let mut items = vec![self.obs_single()?];
        while self.keyword("AND") {
            items.push(self.obs_single()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Observation::And(items, Vec::new())
        })
    }

    fn obs_single(&mut self) -> Result<Observation, PatternError> {
        let mut obs = match self.peek() {
            Some(Tok::LBracket) => {
                self.pos += 1;
                let cmp = self.comparison()?;
                self.expect(&Tok::RBracket, "`]`")?;
                Observation::Single(cmp, Vec::new())
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let inner = self.observations()?;
                self.expect(&Tok::RParen, "`)`")?;
                inner
            }
            _ => return Err(self.error(format!("expected `[` or `(`, found {}", self.describe()))),
        };
        while let Some(q) = self.qualifier()? {
            match &mut obs {
                Observation::Single(_, qs)
                | Observation::And(_, qs)
                | Observation::Or(_, qs)
                | Observation::FollowedBy(_, qs) => qs.push(q),
            }
        }
        Ok(obs)
    }

    fn qualifier(&mut self) -> Result<Option<Qualifier>, PatternError> {
        if self.keyword("WITHIN") {
            let n = self.number("WITHIN")?;
            if !self.keyword("SECONDS") {
                return Err(self.error("expected SECONDS after WITHIN n".into()));
            }
            return Ok(Some(Qualifier::Within(n)));
        }
        if self.keyword("REPEATS") {
            let n = self.number("REPEATS")?;
            if !self.keyword("TIMES") {
                return Err(self.error("expected TIMES after REPEATS n".into()));
            }
            if n < 1.0 || n.fract() != 0.0 {
                return Err(self.error("REPEATS takes a positive whole number".into()));
            }
            return Ok(Some(Qualifier::Repeats(n as u64)));
        }
        if self.keyword("START") {
            let start = self.timestamp("START")?;
            if !self.keyword("STOP") {
                return Err(self.error("expected STOP after START t'…'".into()));
            }
            let stop = self.timestamp("STOP")?;
            return Ok(Some(Qualifier::StartStop(start, stop)));
        }
        Ok(None)
    }

    fn number(&mut self, after: &str) -> Result<f64, PatternError> {
        let n = match self.peek() {
            Some(Tok::Int(i)) => *i as f64,
            Some(Tok::Float(f)) => *f,
            _ => return Err(self.error(format!("expected a number after {after}"))),
        };
        self.pos += 1;
        Ok(n)
    }

    fn timestamp(&mut self, after: &str) -> Result<DateTime<Utc>, PatternError> {
        match self.peek() {
            Some(Tok::Timestamp(t)) => {
                let t = *t;
                self.pos += 1;
                Ok(t)
            }
            _ => Err(self.error(format!("expected t'…' after {after}"))),
        }
    }

    // comparisonExpression: and (OR and)*
    fn comparison(&mut self) -> Result<Comparison, PatternError> {
        self.enter()?;
        let mut items = vec![self.comparison_and()?];
        while self.keyword("OR") {
            items.push(self.comparison_and()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Comparison::Or(items)
        })
    }

    fn comparison_and(&mut self) -> Result<Comparison, PatternError> {
        let mut items = vec![self.prop_test()?];
        while self.keyword("AND") {
            items.push(self.prop_test()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Comparison::And(items)
        })
    }

    fn prop_test(&mut self) -> Result<Comparison, PatternError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let inner = self.comparison()?;
            self.expect(&Tok::RParen, "`)`")?;
            return Ok(inner);
        }
        if self.keyword("EXISTS") {
            return Ok(Comparison::Exists(self.object_path()?));
        }
        let path = self.object_path()?;
        let negated = self.keyword("NOT");
        let op = match self.peek() {
            Some(Tok::Eq) => Op::Eq,
            Some(Tok::Ne) => Op::Ne,
            Some(Tok::Lt) => Op::Lt,
            Some(Tok::Le) => Op::Le,
            Some(Tok::Gt) => Op::Gt,
            Some(Tok::Ge) => Op::Ge,
            Some(Tok::Word(w)) => match w.as_str() {
                "IN" => Op::In,
                "LIKE" => Op::Like,
                "MATCHES" => Op::Matches,
                "ISSUBSET" => Op::IsSubset,
                "ISSUPERSET" => Op::IsSuperset,
                _ => return Err(self.error(format!("expected a comparison operator, found `{w}`"))),
            },
            _ => {
                return Err(self.error(format!(
                    "expected a comparison operator after {path}, found {}",
                    self.describe()
                )));
            }
        };
        self.pos += 1;
        let value = if op == Op::In {
            self.set()?
        } else {
            self.literal()?
        };
        match (op, &value) {
            (Op::Like | Op::Matches | Op::IsSubset | Op::IsSuperset, Literal::Str(_)) => {}
            (Op::Like | Op::Matches | Op::IsSubset | Op::IsSuperset, _) => {
                return Err(self.error(format!("{} takes a string", op.text())));
            }
            _ => {}
        }
        Ok(Comparison::Test(Test {
            path,
            negated,
            op,
            value,
        }))
    }

    fn set(&mut self) -> Result<Literal, PatternError> {
        self.expect(&Tok::LParen, "`(` after IN")?;
        let mut items = vec![self.literal()?];
        while self.peek() == Some(&Tok::Comma) {
            self.pos += 1;
            items.push(self.literal()?);
        }
        self.expect(&Tok::RParen, "`)` closing the IN set")?;
        Ok(Literal::Set(items))
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        let lit = match self.peek() {
            Some(Tok::Str(s)) => Literal::Str(s.clone()),
            Some(Tok::Int(i)) => Literal::Int(*i),
            Some(Tok::Float(f)) => Literal::Float(*f),
            Some(Tok::Timestamp(t)) => Literal::Timestamp(*t),
            Some(Tok::Binary(b)) => Literal::Binary(b.clone()),
            Some(Tok::Word(w)) if w == "true" => Literal::Bool(true),
            Some(Tok::Word(w)) if w == "false" => Literal::Bool(false),
            _ => return Err(self.error(format!("expected a value, found {}", self.describe()))),
        };
        self.pos += 1;
        Ok(lit)
    }

    fn object_path(&mut self) -> Result<ObjectPath, PatternError> {
        let object = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            _ => {
                return Err(self.error(format!(
                    "expected an object type, found {}",
                    self.describe()
                )));
            }
        };
        self.pos += 1;
        self.expect(&Tok::Colon, "`:` after the object type")?;
        let mut steps = vec![self.path_step()?];
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    steps.push(self.path_step()?);
                }
                Some(Tok::Index(i)) => {
                    steps.push(format!("[{i}]"));
                    self.pos += 1;
                }
                _ => break,
            }
        }
        Ok(ObjectPath { object, steps })
    }

    fn path_step(&mut self) -> Result<String, PatternError> {
        let step = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            Some(Tok::Str(s)) => s.clone(),
            _ => {
                return Err(self.error(format!(
                    "expected a property name, found {}",
                    self.describe()
                )));
            }
        };
        self.pos += 1;
        Ok(step)
    }
}

/// A STIX bundle (or a lone object, or a JSON array of objects): the indicators in it.
#[derive(Debug, Deserialize)]
struct Bundle {
    #[serde(default)]
    objects: Vec<serde_json::Value>,
}

/// An `indicator` object's fields the hunt uses.
#[derive(Debug, Clone, Deserialize)]
pub struct IndicatorObject {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub pattern: String,
    #[serde(default = "default_pattern_type")]
    pub pattern_type: String,
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub confidence: Option<u8>,
    #[serde(default)]
    pub revoked: bool,
}

fn default_pattern_type() -> String {
    "stix".into()
}

/// The indicator objects of a STIX document, each with its index in `objects` (for errors).
/// Other objects (reports, relationships, malware, …) are skipped.
pub fn indicators(json: &[u8]) -> Result<Vec<Result<IndicatorObject, String>>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("JSON: {e}"))?;
    let objects = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(ref map)
            if map.get("type").and_then(|t| t.as_str()) == Some("bundle") =>
        {
            serde_json::from_value::<Bundle>(value)
                .map_err(|e| format!("bundle: {e}"))?
                .objects
        }
        serde_json::Value::Object(_) => vec![value],
        _ => return Err("neither a STIX bundle nor a STIX object".into()),
    };
    Ok(objects
        .into_iter()
        .enumerate()
        .filter(|(_, o)| o.get("type").and_then(|t| t.as_str()) == Some("indicator"))
        .map(|(i, o)| {
            let id = o
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned();
            serde_json::from_value::<IndicatorObject>(o)
                .map_err(|e| format!("objects[{i}] ({id}): {e}"))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_specifications_examples() {
        let cases = [
            "[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32']",
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
            "[url:value = 'http://x4z9arb.cn/4712/']",
            "[domain-name:value LIKE '%.example.com']",
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24']",
            "[file:name MATCHES '^Final Report.+\\\\.exe$']",
            "([ipv4-addr:value = '198.51.100.1/32'] AND [domain-name:value = 'example.com']) WITHIN 300 SECONDS",
            "[a:b = 'c'] REPEATS 5 TIMES WITHIN 1800 SECONDS",
            "[file:name = 'x'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[x:y IN ('a', 'b', 3)] FOLLOWEDBY [x:z NOT = 'q']",
            "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'x']",
            "[email-message:to_refs[*].value = 'a@b.c']",
            "[EXISTS windows-registry-key:values]",
        ];
        for c in cases {
            parse(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        }
    }

    #[test]
    fn reads_the_structure() {
        let p = parse("[a:b = 'x' AND (a:c != 2 OR a:d > 3.5)] OR [e:f LIKE 'y%']").unwrap();
        let Observation::Or(items, q) = p else {
            panic!()
        };
        assert!(q.is_empty());
        assert_eq!(items.len(), 2);
        let Observation::Single(Comparison::And(parts), _) = &items[0] else {
            panic!()
        };
        assert_eq!(parts.len(), 2);
        assert!(matches!(&parts[1], Comparison::Or(v) if v.len() == 2));
        let p = parse("[file:hashes.'SHA-256' = 'ab']").unwrap();
        let Observation::Single(Comparison::Test(t), _) = p else {
            panic!()
        };
        assert_eq!(t.path.steps, vec!["hashes", "SHA-256"]);
        assert_eq!(t.path.to_string(), "file:hashes.SHA-256");
    }

    #[test]
    fn errors_say_where() {
        for (bad, offset) in [
            ("[ipv4-addr:value = ", 19),
            ("ipv4-addr:value = '1'", 0),
            ("[ipv4-addr:value == '1']", 18),
            ("[ipv4-addr:value = '1'", 22),
            ("[a:b = 'x'] WITHIN SECONDS", 19),
            ("[a:b LIKE 3]", 11),
            ("[a:b = 'x] ", 7),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.offset, offset, "{bad}: {e}");
        }
        let deep = format!("{}[a:b = 'c']{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
    }
}
