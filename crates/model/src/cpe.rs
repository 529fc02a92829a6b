//! CPE 2.3 names in the formatted-string binding (NISTIR 7695 §6.2).
//!
//! A [`Cpe`] exists only in valid form: eleven attributes, each ANY (`*`), NA (`-`) or a value
//! whose special characters were quoted with `\`. Values are kept unquoted and lower-cased
//! (NISTIR 7695 §5.3.2: CPE values are case-insensitive), with the only wildcards the standard
//! allows: `*` or a run of `?` at the start or end of a value (§5.3.2, §6.2.3.2).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a CPE 2.3 formatted string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpeError {
    #[error("a CPE 2.3 name starts with `cpe:2.3:`")]
    Prefix,
    #[error("a CPE 2.3 name has 11 attributes after `cpe:2.3:`, this one has {0}")]
    AttributeCount(usize),
    #[error("the part is `{0}`; it must be `a`, `o`, `h` or `*`")]
    Part(String),
    #[error("attribute {attribute}: {reason}")]
    Value {
        attribute: &'static str,
        reason: String,
    },
}

/// The `part` attribute: application, operating system or hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Application,
    OperatingSystem,
    Hardware,
    Any,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "a",
            Self::OperatingSystem => "o",
            Self::Hardware => "h",
            Self::Any => "*",
        }
    }
}

/// A wildcard at one end of a value (NISTIR 7695 §5.3.2: `*` any run, `?` exactly one character).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Wild {
    #[default]
    None,
    /// Unquoted `*`: zero or more characters.
    Many,
    /// A run of unquoted `?`: exactly this many characters... or fewer at the string's edge
    /// (NISTIR 7696 §6.1.3.2 lets `?` match "zero or one" at the beginning and end). At most
    /// 65,535 (a longer run is refused): kept small, as every CPE of the knowledge base in
    /// memory holds ten attributes.
    Single(u16),
}

/// One attribute of a CPE name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attr {
    /// `*`: any value.
    Any,
    /// `-`: not applicable.
    Na,
    /// A value: `text` unquoted and lower-cased; `prefix`/`suffix` are wildcards at its ends.
    Value {
        text: Box<str>,
        prefix: Wild,
        suffix: Wild,
    },
}

impl Attr {
    /// A plain value with no wildcards, lower-cased.
    pub fn value(text: &str) -> Self {
        if text.is_empty() {
            return Self::Any;
        }
        Self::Value {
            text: text.to_lowercase().into(),
            prefix: Wild::None,
            suffix: Wild::None,
        }
    }

    /// The literal text of a value without wildcards; `None` for ANY, NA and wildcarded values.
    pub fn literal(&self) -> Option<&str> {
        match self {
            Self::Value {
                text,
                prefix: Wild::None,
                suffix: Wild::None,
            } => Some(text),
            _ => None,
        }
    }

    pub fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }

    fn parse(raw: &str, attribute: &'static str) -> Result<Self, CpeError> {
        match raw {
            "*" => return Ok(Self::Any),
            "-" => return Ok(Self::Na),
            "" => {
                return Err(CpeError::Value {
                    attribute,
                    reason: "empty value".into(),
                });
            }
            _ => {}
        }
        // Most values are plain ASCII with nothing quoted and no wildcard: lower-cased at once
        // (knowledge views hold hundreds of thousands of CPEs, parsed every time they load).
        if raw
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'\\' | b'*' | b'?'))
        {
            return Ok(Self::Value {
                text: raw.to_ascii_lowercase().into(),
                prefix: Wild::None,
                suffix: Wild::None,
            });
        }
        let chars: Vec<char> = raw.chars().collect();
        let mut text = String::with_capacity(raw.len());
        let mut prefix = Wild::None;
        let mut suffix = Wild::None;
        let mut i = 0;
        // Leading wildcard: `*` or a run of `?`.
        if chars[0] == '*' {
            prefix = Wild::Many;
            i = 1;
        } else if chars[0] == '?' {
            let n = chars.iter().take_while(|c| **c == '?').count();
            prefix = Wild::Single(question_marks(n, raw, attribute)?);
            i = n;
        }
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\\' => {
                    let Some(next) = chars.get(i + 1) else {
                        return Err(CpeError::Value {
                            attribute,
                            reason: format!("`{raw}` ends with a lone backslash"),
                        });
                    };
                    text.extend(next.to_lowercase());
                    i += 2;
                }
                '*' | '?' => {
                    // Only allowed as the trailing wildcard.
                    let rest = &chars[i..];
                    if c == '*' && rest.len() == 1 {
                        suffix = Wild::Many;
                    } else if c == '?' && rest.iter().all(|r| *r == '?') {
                        suffix = Wild::Single(question_marks(rest.len(), raw, attribute)?);
                    } else {
                        return Err(CpeError::Value {
                            attribute,
                            reason: format!("`{raw}` has an unquoted `{c}` inside the value"),
                        });
                    }
                    break;
                }
                c if c.is_control() || c.is_whitespace() => {
                    return Err(CpeError::Value {
                        attribute,
                        reason: format!("`{raw}` contains whitespace or a control character"),
                    });
                }
                _ => {
                    text.extend(c.to_lowercase());
                    i += 1;
                }
            }
        }
        if text.is_empty() && prefix == Wild::Many && suffix == Wild::None {
            // A value of only `*` was handled above; `**` and the like mean ANY as well.
            return Ok(Self::Any);
        }
        Ok(Self::Value {
            text: text.into(),
            prefix,
            suffix,
        })
    }

    fn write_bound(&self, out: &mut String) {
        match self {
            Self::Any => out.push('*'),
            Self::Na => out.push('-'),
            Self::Value {
                text,
                prefix,
                suffix,
            } => {
                write_wild(prefix, out);
                if &**text == "-" && *prefix == Wild::None && *suffix == Wild::None {
                    // A lone unquoted `-` would bind NA.
                    out.push_str("\\-");
                    return;
                }
                for c in text.chars() {
                    // NISTIR 7695 §6.2.2.2: every non-alphanumeric character except `.`, `-`
                    // and `_` is quoted in the formatted string.
                    if !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_')) {
                        out.push('\\');
                    }
                    out.push(c);
                }
                write_wild(suffix, out);
            }
        }
    }
}

/// A run of `n` unquoted `?`, as a [`Wild::Single`] holds it.
fn question_marks(n: usize, raw: &str, attribute: &'static str) -> Result<u16, CpeError> {
    u16::try_from(n).map_err(|_| CpeError::Value {
        attribute,
        reason: format!(
            "`{}…` has a run of {n} `?`, more than a name can mean",
            raw.chars().take(16).collect::<String>()
        ),
    })
}

fn write_wild(w: &Wild, out: &mut String) {
    match w {
        Wild::None => {}
        Wild::Many => out.push('*'),
        Wild::Single(n) => out.extend(std::iter::repeat_n('?', usize::from(*n))),
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_bound(&mut s);
        f.write_str(&s)
    }
}

/// A CPE 2.3 name (a WFN), parsed from its formatted-string binding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cpe {
    pub part: Part,
    pub vendor: Attr,
    pub product: Attr,
    pub version: Attr,
    pub update: Attr,
    pub edition: Attr,
    pub language: Attr,
    pub sw_edition: Attr,
    pub target_sw: Attr,
    pub target_hw: Attr,
    pub other: Attr,
}

/// Attribute names in binding order, for error messages and iteration.
pub const ATTRIBUTE_NAMES: [&str; 11] = [
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
];

impl Cpe {
    /// A name for `part:vendor:product:version` with every other attribute ANY.
    pub fn new(part: Part, vendor: &str, product: &str, version: Option<&str>) -> Self {
        Self {
            part,
            vendor: Attr::value(vendor),
            product: Attr::value(product),
            version: version.map_or(Attr::Any, Attr::value),
            update: Attr::Any,
            edition: Attr::Any,
            language: Attr::Any,
            sw_edition: Attr::Any,
            target_sw: Attr::Any,
            target_hw: Attr::Any,
            other: Attr::Any,
        }
    }

    /// The ten attributes after `part`, in binding order.
    pub fn attrs(&self) -> [&Attr; 10] {
        [
            &self.vendor,
            &self.product,
            &self.version,
            &self.update,
            &self.edition,
            &self.language,
            &self.sw_edition,
            &self.target_sw,
            &self.target_hw,
            &self.other,
        ]
    }

    /// `vendor:product` when both are literal: the key Ward indexes vulnerabilities by.
    pub fn product_key(&self) -> Option<(String, String)> {
        self.product_key_ref()
            .map(|(vendor, product)| (vendor.to_owned(), product.to_owned()))
    }

    /// [`Cpe::product_key`], borrowed.
    pub fn product_key_ref(&self) -> Option<(&str, &str)> {
        Some((self.vendor.literal()?, self.product.literal()?))
    }
}

impl FromStr for Cpe {
    type Err = CpeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(uri) = s.strip_prefix("cpe:/").or_else(|| s.strip_prefix("CPE:/")) {
            return Self::from_uri(uri);
        }
        let rest = s
            .strip_prefix("cpe:2.3:")
            .or_else(|| s.strip_prefix("CPE:2.3:"))
            .ok_or(CpeError::Prefix)?;
        let fields = split_unquoted(rest);
        if fields.len() != 11 {
            return Err(CpeError::AttributeCount(fields.len()));
        }
        let part = match fields[0].to_ascii_lowercase().as_str() {
            "a" => Part::Application,
            "o" => Part::OperatingSystem,
            "h" => Part::Hardware,
            "*" => Part::Any,
            other => return Err(CpeError::Part(other.to_owned())),
        };
        let a = |i: usize| Attr::parse(fields[i], ATTRIBUTE_NAMES[i]);
        Ok(Self {
            part,
            vendor: a(1)?,
            product: a(2)?,
            version: a(3)?,
            update: a(4)?,
            edition: a(5)?,
            language: a(6)?,
            sw_edition: a(7)?,
            target_sw: a(8)?,
            target_hw: a(9)?,
            other: a(10)?,
        })
    }
}

impl Cpe {
    /// Unbinds a CPE 2.2-style URI (`cpe:/a:vendor:product:version:update:edition:language`,
    /// NISTIR 7695 §6.1.3), given without its `cpe:/` prefix. Empty components are ANY, `-` is
    /// NA, `%xx` are percent-decoded, and a packed edition (`~ed~sw~tsw~thw~other`) is unpacked.
    fn from_uri(uri: &str) -> Result<Self, CpeError> {
        let parts: Vec<&str> = uri.split(':').collect();
        if parts.len() > 7 {
            return Err(CpeError::AttributeCount(parts.len()));
        }
        let get = |i: usize| parts.get(i).copied().unwrap_or("");
        let part = match get(0).to_ascii_lowercase().as_str() {
            "a" => Part::Application,
            "o" => Part::OperatingSystem,
            "h" => Part::Hardware,
            "" => Part::Any,
            other => return Err(CpeError::Part(other.to_owned())),
        };
        let attr = |raw: &str, name: &'static str| -> Result<Attr, CpeError> {
            match raw {
                "" => Ok(Attr::Any),
                "-" => Ok(Attr::Na),
                _ => {
                    let decoded = percent_decode(raw).ok_or_else(|| CpeError::Value {
                        attribute: name,
                        reason: format!("`{raw}` has a bad percent-encoding"),
                    })?;
                    Ok(Attr::value(&decoded))
                }
            }
        };
        let mut cpe = Self::new(part, "", "", None);
        cpe.vendor = attr(get(1), "vendor")?;
        cpe.product = attr(get(2), "product")?;
        cpe.version = attr(get(3), "version")?;
        cpe.update = attr(get(4), "update")?;
        let edition = get(5);
        if let Some(packed) = edition.strip_prefix('~') {
            let f: Vec<&str> = packed.split('~').collect();
            if f.len() != 5 {
                return Err(CpeError::Value {
                    attribute: "edition",
                    reason: format!("packed edition `{edition}` needs 5 fields"),
                });
            }
            cpe.edition = attr(f[0], "edition")?;
            cpe.sw_edition = attr(f[1], "sw_edition")?;
            cpe.target_sw = attr(f[2], "target_sw")?;
            cpe.target_hw = attr(f[3], "target_hw")?;
            cpe.other = attr(f[4], "other")?;
        } else {
            cpe.edition = attr(edition, "edition")?;
        }
        cpe.language = attr(get(6), "language")?;
        Ok(cpe)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Splits on `:` that is not quoted by a backslash.
fn split_unquoted(s: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(11);
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ':' => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

impl fmt::Display for Cpe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(64);
        s.push_str("cpe:2.3:");
        s.push_str(self.part.as_str());
        for a in self.attrs() {
            s.push(':');
            a.write_bound(&mut s);
        }
        f.write_str(&s)
    }
}

/// In JSON a CPE is its formatted string (`cpe:2.3:a:ivanti:…`).
impl schemars::JsonSchema for Cpe {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cpe".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A CPE 2.3 name in its formatted-string binding",
            "pattern": "^cpe:2\\.3:[aho*-]:",
        })
    }
}

impl Serialize for Cpe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cpe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse()
            .map_err(|e: CpeError| serde::de::Error::custom(format!("`{s}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_epmm_criteria() {
        let c: Cpe = "cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*"
            .parse()
            .unwrap();
        assert_eq!(c.part, Part::Application);
        assert_eq!(c.vendor.literal(), Some("ivanti"));
        assert_eq!(c.product.literal(), Some("endpoint_manager_mobile"));
        assert_eq!(c.version.literal(), Some("12.5.0.0"));
        assert!(c.update.is_any());
    }

    #[test]
    fn quoted_characters_are_unquoted_and_rebound() {
        let s = r"cpe:2.3:o:cisco:ios:12.6\(1\):*:*:*:*:*:*:*";
        let c: Cpe = s.parse().unwrap();
        assert_eq!(c.version.literal(), Some("12.6(1)"));
        assert_eq!(c.to_string(), s);
        let c: Cpe = r"cpe:2.3:a:cisco:dna_spaces\:_connector:-:*:*:*:*:*:*:*"
            .parse()
            .unwrap();
        assert_eq!(c.product.literal(), Some("dna_spaces:_connector"));
        assert_eq!(c.version, Attr::Na);
    }

    #[test]
    fn wildcards_only_at_the_ends() {
        let c: Cpe = "cpe:2.3:a:foo:bar*:1.?:*:*:*:*:*:*:*".parse().unwrap();
        assert_eq!(
            c.product,
            Attr::Value {
                text: "bar".into(),
                prefix: Wild::None,
                suffix: Wild::Many
            }
        );
        assert_eq!(
            c.version,
            Attr::Value {
                text: "1.".into(),
                prefix: Wild::None,
                suffix: Wild::Single(1)
            }
        );
        let err = "cpe:2.3:a:foo:b*r:1:*:*:*:*:*:*:*"
            .parse::<Cpe>()
            .unwrap_err();
        assert!(
            matches!(
                err,
                CpeError::Value {
                    attribute: "product",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_wrong_shapes() {
        assert_eq!(
            "cpe:a:foo:bar".parse::<Cpe>().unwrap_err(),
            CpeError::Prefix
        );
        assert_eq!(
            "cpe:2.3:a:foo:bar".parse::<Cpe>().unwrap_err(),
            CpeError::AttributeCount(3)
        );
        assert!(matches!(
            "cpe:2.3:x:a:b:*:*:*:*:*:*:*:*".parse::<Cpe>(),
            Err(CpeError::Part(_))
        ));
        assert!("cpe:2.3:a:a:b:1\\".parse::<Cpe>().is_err());
    }

    #[test]
    fn uri_binding_is_unbound() {
        let c: Cpe = "cpe:/o:redhat:enterprise_linux:8".parse().unwrap();
        assert_eq!(c.part, Part::OperatingSystem);
        assert_eq!(c.version.literal(), Some("8"));
        assert!(c.update.is_any());
        let c: Cpe = "cpe:/a:foo:bar%21:1.0:-:~~pro~win~x64~".parse().unwrap();
        assert_eq!(c.product.literal(), Some("bar!"));
        assert_eq!(c.update, Attr::Na);
        assert_eq!(c.sw_edition.literal(), Some("pro"));
        assert_eq!(c.target_hw.literal(), Some("x64"));
        assert_eq!(
            c.to_string(),
            r"cpe:2.3:a:foo:bar\!:1.0:-:*:*:pro:win:x64:*"
        );
    }

    #[test]
    fn values_are_case_insensitive() {
        let a: Cpe = "cpe:2.3:a:Ivanti:EPMM:*:*:*:*:*:*:*:*".parse().unwrap();
        assert_eq!(a.vendor.literal(), Some("ivanti"));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "cpe:2\\.3:[aoh*]:[a-z\\\\:*?._-]{0,40}") {
            let _ = s.parse::<Cpe>();
        }

        #[test]
        fn bind_unbind_round_trip(vendor in "[a-z0-9_.!()&/-]{1,12}", version in "[0-9a-z.()-]{1,10}") {
            let c = Cpe::new(Part::Application, &vendor, "product", Some(&version));
            let again: Cpe = c.to_string().parse().unwrap();
            proptest::prop_assert_eq!(c, again);
        }
    }
}
