//! The order of vendor versions: the versions in CPE names, NVD ranges and CVE 5 records.
//!
//! Vendor versions follow no single scheme (`11.12.0.5`, `9.8p1`, `13.1-49.15`, `1.0.1g`,
//! `7.0.0-beta`, `2021-12-13`), so no crate orders them; this order is Ward's own and is
//! documented in `docs/version-order.md`. In short:
//!
//! 1. A version is split into tokens: runs of digits (numbers) and runs of letters (words);
//!    every other character (`.`, `-`, `_`, `+`, `~`, space) only separates tokens.
//! 2. Tokens compare by class, then within the class:
//!    `pre-release word < (end of version = 0) < other word < positive number`.
//!    Pre-release words are `dev`, `snapshot`, `alpha`, `beta`, `milestone`, `pre`, `preview`,
//!    `rc`, `cr` (ranked in that order); numbers compare by value (any length); other words
//!    compare case-insensitively by text, with `patch`/`pl` read as `p` and `update` as `u`.
//! 3. Versions compare token by token; the shorter one is padded with the end marker, which
//!    equals the number 0, so `12.3` = `12.3.0.0`.
//!
//! Consequences: `7.0.0-beta` < `7.0.0`; `9.8` < `9.8p1` < `9.8.1`; `1.0.1` < `1.0.1a` < `1.0.1g`
//! < `1.0.2`; `11.12.0.4` < `11.12.0.5`. Single letters are post-release suffixes (OpenSSL,
//! Cisco), not PEP 440's `a`/`b`: ecosystem orders (PEP 440, semver, …) live elsewhere.
//!
//! The order is total: every token maps to a key in one total order, and sequences compare
//! lexicographically after padding, so comparison is a total preorder (tested with proptest).

use std::cmp::Ordering;

/// A token's class, in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Token<'a> {
    /// A pre-release word with its rank (dev=0 … rc=7).
    Pre(u8),
    /// The end of a version, or a number that is zero.
    Zero,
    /// Any other word (post-release suffixes such as `p`, `g`, `u`, `sp`).
    Word(Word<'a>),
    /// A positive number, digits without leading zeros: compared by length, then text.
    Num(Digits<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Word<'a>(&'a str);

impl PartialOrd for Word<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Word<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.bytes().map(|b| b.to_ascii_lowercase());
        let b = other.0.bytes().map(|b| b.to_ascii_lowercase());
        a.cmp(b)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Digits<'a>(&'a str);

impl PartialOrd for Digits<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Digits<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(other.0))
    }
}

fn classify_word(w: &str) -> Token<'_> {
    let lower = w.to_ascii_lowercase();
    let pre = match lower.as_str() {
        "dev" => Some(0),
        "snapshot" => Some(1),
        "alpha" => Some(2),
        "beta" => Some(3),
        "milestone" => Some(4),
        "pre" | "preview" => Some(5),
        "rc" => Some(6),
        "cr" => Some(7),
        _ => None,
    };
    if let Some(rank) = pre {
        return Token::Pre(rank);
    }
    // Spellings of the same post-release marker compare equal.
    match lower.as_str() {
        "patch" | "pl" => Token::Word(Word("p")),
        "update" => Token::Word(Word("u")),
        _ => Token::Word(Word(w)),
    }
}

/// Iterates the tokens of a version string without allocating.
struct Tokens<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let bytes = self.s.as_bytes();
        // Skip separators: anything that is neither an ASCII digit nor a letter.
        while self.pos < bytes.len() && !is_token_byte(bytes[self.pos]) {
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return None;
        }
        let start = self.pos;
        if bytes[start].is_ascii_digit() {
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
            let digits = self.s[start..self.pos].trim_start_matches('0');
            Some(if digits.is_empty() {
                Token::Zero
            } else {
                Token::Num(Digits(digits))
            })
        } else {
            while self.pos < bytes.len() && is_letter_byte(bytes[self.pos]) {
                self.pos += 1;
            }
            Some(classify_word(&self.s[start..self.pos]))
        }
    }
}

fn is_letter_byte(b: u8) -> bool {
    // Non-ASCII bytes count as letters so that no character is silently dropped.
    b.is_ascii_alphabetic() || b >= 0x80
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_digit() || is_letter_byte(b)
}

fn tokens(s: &str) -> Tokens<'_> {
    Tokens { s, pos: 0 }
}

/// Compares two vendor versions (see the module documentation for the rules).
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut ta = tokens(a);
    let mut tb = tokens(b);
    loop {
        match (ta.next(), tb.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => {
                let x = x.unwrap_or(Token::Zero);
                let y = y.unwrap_or(Token::Zero);
                match x.cmp(&y) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
        }
    }
}

/// True when the two versions are the same under this order (`12.3` and `12.3.0.0`).
pub fn equal(a: &str, b: &str) -> bool {
    compare(a, b) == Ordering::Equal
}

/// A version range with optional bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds<'a> {
    pub start_including: Option<&'a str>,
    pub start_excluding: Option<&'a str>,
    pub end_including: Option<&'a str>,
    pub end_excluding: Option<&'a str>,
}

impl Bounds<'_> {
    pub fn contains(&self, v: &str) -> bool {
        if let Some(s) = self.start_including
            && compare(v, s) == Ordering::Less
        {
            return false;
        }
        if let Some(s) = self.start_excluding
            && compare(v, s) != Ordering::Greater
        {
            return false;
        }
        if let Some(e) = self.end_including
            && compare(v, e) == Ordering::Greater
        {
            return false;
        }
        if let Some(e) = self.end_excluding
            && compare(v, e) != Ordering::Less
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn documented_cases() {
        let cases = [
            ("11.12.0.4", "11.12.0.5", Less),
            ("11.12.0.5", "11.12.0.5", Equal),
            ("12.5.0.0", "12.5.0.1", Less),
            ("12.3", "12.3.0.0", Equal),
            ("12.4.0.1", "12.4.0.2", Less),
            ("9.8", "9.8p1", Less),
            ("9.8p1", "9.8.1", Less),
            ("9.8p1", "9.8p2", Less),
            ("1.9.5", "1.9.5p2", Less),
            ("1.9.5p1", "1.9.5p2", Less),
            ("1.9.5patch1", "1.9.5p1", Equal),
            ("7.0.0-beta", "7.0.0", Less),
            ("7.0.0-alpha", "7.0.0-beta", Less),
            ("7.0.0-rc1", "7.0.0", Less),
            ("7.0.0-beta2", "7.0.0-rc1", Less),
            ("1.0.1", "1.0.1a", Less),
            ("1.0.1a", "1.0.1g", Less),
            ("1.0.1g", "1.0.2", Less),
            ("13.1-49.15", "13.1-49.9", Greater),
            ("13.1-37.164", "13.1-49.15", Less),
            ("2.5.10", "2.5.10.1", Less),
            ("16.12", "16.12.10a", Less),
            ("16.12.10", "16.12.10a", Less),
            ("17.3.8a", "17.3.9", Less),
            ("2021-12-13", "2021-12-14", Less),
            ("1.10", "1.9", Greater),
            ("007", "7", Equal),
            ("99999999999999999999999", "100000000000000000000000", Less),
            ("7.0 update1a", "7.0u1a", Equal),
            ("", "0", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn epmm_ranges() {
        // NVD, CVE-2025-4427: < 11.12.0.5; [12.3.0.0, 12.3.0.2); [12.4.0.0, 12.4.0.2); = 12.5.0.0.
        let first = Bounds {
            end_excluding: Some("11.12.0.5"),
            ..Default::default()
        };
        let r3 = Bounds {
            start_including: Some("12.3.0.0"),
            end_excluding: Some("12.3.0.2"),
            ..Default::default()
        };
        assert!(first.contains("11.12.0.4"));
        assert!(first.contains("10.0"));
        assert!(!first.contains("11.12.0.5"));
        assert!(!first.contains("12.0.0.0"));
        assert!(r3.contains("12.3.0.1"));
        assert!(r3.contains("12.3"));
        assert!(!r3.contains("12.3.0.2"));
        assert!(!r3.contains("12.2.9.9"));
    }

    fn version_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex(
            "[0-9]{0,3}([.-]?([0-9]{1,3}|p|rc|beta|a|g|dev|update)){0,5}",
        )
        .unwrap()
    }

    proptest::proptest! {
        #[test]
        fn order_is_antisymmetric(a in version_strategy(), b in version_strategy()) {
            proptest::prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        }

        #[test]
        fn order_is_transitive(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
            for (x, y, z) in [(&a, &b, &c), (&a, &c, &b), (&b, &a, &c), (&b, &c, &a), (&c, &a, &b), (&c, &b, &a)] {
                if compare(x, y) != Greater && compare(y, z) != Greater {
                    proptest::prop_assert_ne!(compare(x, z), Greater, "{} {} {}", x, y, z);
                }
                if compare(x, y) == Equal && compare(y, z) == Equal {
                    proptest::prop_assert_eq!(compare(x, z), Equal);
                }
            }
        }

        #[test]
        fn order_is_reflexive_and_never_panics(a in "\\PC{0,20}") {
            proptest::prop_assert_eq!(compare(&a, &a), Equal);
        }

        #[test]
        fn trailing_zeros_do_not_matter(a in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}", zeros in 0usize..4) {
            let padded = format!("{a}{}", ".0".repeat(zeros));
            proptest::prop_assert_eq!(compare(&a, &padded), Equal);
        }
    }
}
