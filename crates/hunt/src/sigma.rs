//! Sigma rules, parsed and compiled by `rsigma` (3,614 of 3,614 SigmaHQ rules; the modifiers,
//! keywords and conditions of the specification; literal and Aho-Corasick indexes across rules),
//! sorted by the kind of log they are written for.

use std::path::{Path, PathBuf};

use rsigma_eval::Engine;
use rsigma_parser::{
    Detection, DetectionItem, FieldSpec, Modifier, SigmaRule, SigmaString, SigmaValue,
};

use crate::logs::{Family, FieldId, Record};
use crate::prefilter::Prefilter;

/// A rule file or rule that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Unsupported {
    pub file: PathBuf,
    pub rule: Option<String>,
    pub reason: String,
}

/// The loaded rules: one engine per log family. Web server and proxy rules are split further
/// by the literal prefilter ([`crate::prefilter`]): those with literals a line must hold, asked
/// only about lines that hold one, and the rest, asked about every line.
pub struct RuleSet {
    webserver: Filtered,
    proxy: Filtered,
    syslog: Engine,
    json: Engine,
    pub loaded: usize,
    /// Of `loaded`, how many are written for web server and proxy logs.
    pub web_rules: usize,
    pub unsupported: Vec<Unsupported>,
}

/// One family's rules, split by whether the raw line can rule them out. A rule with literals
/// has an engine of its own, asked only about lines that hold one of them.
#[derive(Default)]
struct Filtered {
    /// Rules that need one of their literals in the line, one engine each.
    literal: Vec<Engine>,
    literals: Vec<Vec<String>>,
    /// Rules that may fire on any line.
    always: Engine,
    prefilter: std::sync::OnceLock<Prefilter>,
    /// Off: every rule is asked about every line (the reference the prefilter is tested
    /// against).
    bypass: bool,
}

thread_local! {
    /// Scratch space for the prefilter's candidates, per worker thread.
    static SCRATCH: std::cell::RefCell<crate::prefilter::Scratch> =
        std::cell::RefCell::new(crate::prefilter::Scratch::default());
}

impl Filtered {
    fn add_rule(&mut self, rule: &SigmaRule) -> rsigma_eval::Result<()> {
        match crate::prefilter::required_literals(rule) {
            Some(literals) => {
                let mut engine = Engine::new();
                engine.add_rule(rule)?;
                self.literal.push(engine);
                self.literals.push(literals);
                self.prefilter = std::sync::OnceLock::new();
            }
            None => self.always.add_rule(rule)?,
        }
        Ok(())
    }

    fn prefilter(&self) -> &Prefilter {
        self.prefilter
            .get_or_init(|| Prefilter::new(&self.literals))
    }

    fn evaluate(&self, record: &Record, line: &str) -> Vec<rsigma_eval::EvaluationResult> {
        let mut out = if self.always.rule_count() > 0 {
            self.always.evaluate(record)
        } else {
            Vec::new()
        };
        if self.bypass {
            for engine in &self.literal {
                out.extend(engine.evaluate(record));
            }
        } else if !self.literal.is_empty() {
            SCRATCH.with_borrow_mut(|scratch| {
                let prefilter = self.prefilter();
                match record.searchable() {
                    // User agents and referers repeat from line to line (request lines, with
                    // their queries, less: remembering them was slower).
                    Some(fields) => prefilter.candidates_in(
                        fields.map(|(name, text)| {
                            let repeats = matches!(name, FieldId::CsUserAgent | FieldId::CsReferer);
                            (text, repeats)
                        }),
                        scratch,
                    ),
                    None => prefilter.candidates(line, scratch),
                }
                for &rule in &scratch.out {
                    out.extend(self.literal[rule as usize].evaluate(record));
                }
            });
        }
        out
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        Self::new()
    }
}

/// What a rule is written for.
fn family(rule: &SigmaRule) -> Option<Family> {
    let ls = &rule.logsource;
    match ls.category.as_deref() {
        Some("webserver") => Some(Family::Webserver),
        Some("proxy") => Some(Family::Proxy),
        None if ls.product.as_deref() == Some("linux") => Some(Family::Syslog),
        _ => None,
    }
}

impl RuleSet {
    pub fn new() -> Self {
        Self {
            webserver: Filtered::default(),
            proxy: Filtered::default(),
            syslog: Engine::new(),
            json: Engine::new(),
            loaded: 0,
            web_rules: 0,
            unsupported: Vec::new(),
        }
    }

    /// Adds every rule in a YAML document (one file). Returns how many were added.
    /// The names sightings of a document's rules go by (each rule's `id`, or its title when it
    /// has none), as [`Self::add_yaml`] names them; none when the document does not parse.
    pub fn rule_names(yaml: &str) -> Vec<String> {
        rsigma_parser::parse_sigma_yaml(yaml)
            .map(|c| {
                c.rules
                    .iter()
                    .map(|r| r.id.clone().unwrap_or_else(|| r.title.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn add_yaml(&mut self, file: &Path, yaml: &str) -> usize {
        let unsupported = |rule: Option<String>, reason: String| Unsupported {
            file: file.to_path_buf(),
            rule,
            reason,
        };
        let collection = match rsigma_parser::parse_sigma_yaml(yaml) {
            Ok(c) => c,
            Err(e) => {
                self.unsupported.push(unsupported(None, e.to_string()));
                return 0;
            }
        };
        for e in &collection.errors {
            self.unsupported.push(unsupported(None, e.clone()));
        }
        for c in &collection.correlations {
            self.unsupported.push(unsupported(
                Some(c.title.clone()),
                "correlation rules are not evaluated by `ward hunt` (each record is judged alone)"
                    .into(),
            ));
        }
        for f in &collection.filters {
            self.unsupported.push(unsupported(
                Some(f.title.clone()),
                "filter documents are not applied by `ward hunt`".into(),
            ));
        }
        let mut added = 0;
        for rule in &collection.rules {
            let mut rule = rule.clone();
            fix_base64offset(&mut rule);
            let rule = &rule;
            let name = rule.id.clone().unwrap_or_else(|| rule.title.clone());
            let family = family(rule);
            let web = matches!(family, Some(Family::Webserver | Family::Proxy));
            // Every rule goes to the JSON engine; that one failing means the rule cannot be used.
            let result = self.json.add_rule(rule).and_then(|()| match family {
                Some(Family::Webserver) => self.webserver.add_rule(rule),
                Some(Family::Proxy) => self.proxy.add_rule(rule),
                Some(Family::Syslog) => self.syslog.add_rule(rule),
                _ => Ok(()),
            });
            match result {
                Ok(()) => {
                    added += 1;
                    self.loaded += 1;
                    if web {
                        self.web_rules += 1;
                    }
                }
                Err(e) => self
                    .unsupported
                    .push(unsupported(Some(name), e.to_string())),
            }
        }
        added
    }

    /// The rules that fire on a record read from `line`.
    pub fn evaluate(
        &self,
        family: Family,
        record: &Record,
        line: &str,
    ) -> Vec<rsigma_eval::EvaluationResult> {
        let engine = match family {
            Family::Webserver => return self.webserver.evaluate(record, line),
            Family::Proxy => return self.proxy.evaluate(record, line),
            Family::Syslog => &self.syslog,
            Family::Json => &self.json,
        };
        if engine.rule_count() == 0 {
            return Vec::new();
        }
        engine.evaluate(record)
    }

    /// Every rule asked about every line, as without the prefilter: what the prefilter is
    /// checked against.
    pub fn without_prefilter(mut self) -> Self {
        self.webserver.bypass = true;
        self.proxy.bypass = true;
        self
    }

    /// The literals the web server and proxy rules need (lower case, sorted, once each): what a
    /// `grep -F -i -f` beside the hunt would search for.
    pub fn web_literals(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .webserver
            .literals
            .iter()
            .chain(&self.proxy.literals)
            .flatten()
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// How many web server and proxy rules the prefilter can rule out by a line's literals,
    /// and how many it must always ask.
    pub fn prefiltered(&self) -> (usize, usize) {
        (
            self.webserver.literal.len() + self.proxy.literal.len(),
            self.webserver.always.rule_count() + self.proxy.always.rule_count(),
        )
    }
}

/// `base64offset` as the Sigma specification and pySigma define it. rsigma 0.23 keeps the last
/// character of each encoding, which depends on the byte that follows the value in the
/// encoded data, so a value not ending on a three-byte boundary never matched (found by
/// Ward's modifier test). The three encodings are computed here instead and the item becomes a
/// plain `contains` over them: per offset i, base64(i spaces + value) without the first
/// (0, 2, 3)[i] characters and, by (len + i) mod 3, none, the last 3 or the last 2.
fn fix_base64offset(rule: &mut SigmaRule) {
    for detection in rule.detection.named.values_mut() {
        fix_detection(detection);
    }
}

fn fix_detection(detection: &mut Detection) {
    match detection {
        Detection::AllOf(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.drain(..) {
                out.extend(fix_item(item));
            }
            *items = out;
        }
        Detection::AnyOf(children) | Detection::And(children) => {
            children.iter_mut().for_each(fix_detection)
        }
        Detection::ArrayMatch { body, .. } => fix_detection(body),
        Detection::Conditional { named, .. } => named.values_mut().for_each(fix_detection),
        Detection::Keywords(_) => {}
    }
}

/// One item, or (with `all`) one item per value, AND-linked by the enclosing mapping.
fn fix_item(item: DetectionItem) -> Vec<DetectionItem> {
    let mods = &item.field.modifiers;
    if !mods.contains(&Modifier::Base64Offset) {
        return vec![item];
    }
    let plain: Option<Vec<String>> = item
        .values
        .iter()
        .map(|v| match v {
            SigmaValue::String(s) => s.as_plain(),
            _ => None,
        })
        .collect();
    let Some(plain) = plain else {
        return vec![item];
    };
    let encode = |text: &str| -> Vec<u8> {
        if mods.contains(&Modifier::Wide) {
            text.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else if mods.contains(&Modifier::Utf16be) {
            text.encode_utf16().flat_map(u16::to_be_bytes).collect()
        } else if mods.contains(&Modifier::Utf16) {
            [0xff, 0xfe]
                .into_iter()
                .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
                .collect()
        } else {
            text.as_bytes().to_vec()
        }
    };
    let mut modifiers = vec![Modifier::Contains];
    if mods.contains(&Modifier::Cased) {
        modifiers.push(Modifier::Cased);
    }
    let field = FieldSpec::new(item.field.name.clone(), modifiers);
    let variants = |text: &str| -> Vec<SigmaValue> {
        base64_offsets(&encode(text))
            .into_iter()
            .map(|p| SigmaValue::String(SigmaString::from_raw(&p)))
            .collect()
    };
    if mods.contains(&Modifier::All) {
        plain
            .iter()
            .map(|v| DetectionItem {
                field: field.clone(),
                values: variants(v),
            })
            .collect()
    } else {
        vec![DetectionItem {
            field,
            values: plain.iter().flat_map(|v| variants(v)).collect(),
        }]
    }
}

/// The three offset encodings of `value` (Sigma `base64offset`).
pub fn base64_offsets(value: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .filter_map(|i| {
            let mut bytes = vec![b' '; i];
            bytes.extend_from_slice(value);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let end = encoded.len().checked_sub(END[(value.len() + i) % 3])?;
            (START[i] < end).then(|| encoded[START[i]..end].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64offset_matches_pysigma() {
        // pySigma's documented example: `|base64offset|contains: /bin/bash`.
        assert_eq!(
            base64_offsets(b"/bin/bash"),
            vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
        // Each encoding is found in the encoded text at its offset.
        use base64::Engine as _;
        for prefix in ["", "x", "xy", "xyz"] {
            let data = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}/bin/bash -c id"));
            assert!(
                base64_offsets(b"/bin/bash")
                    .iter()
                    .any(|p| data.contains(p.as_str())),
                "{prefix:?}: {data}"
            );
        }
    }
}
