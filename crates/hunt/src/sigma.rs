//! Sigma rules, parsed and compiled by `rsigma` (3,614 of 3,614 SigmaHQ rules; the modifiers,
//! keywords and conditions of the specification; literal and Aho-Corasick indexes across rules),
//! sorted by the kind of log they are written for.

use std::path::{Path, PathBuf};

use rsigma_eval::Engine;
use rsigma_parser::SigmaRule;

use crate::logs::{Family, Record};

/// A rule file or rule that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Unsupported {
    pub file: PathBuf,
    pub rule: Option<String>,
    pub reason: String,
}

/// The loaded rules: one engine per log family.
pub struct RuleSet {
    webserver: Engine,
    proxy: Engine,
    syslog: Engine,
    json: Engine,
    pub loaded: usize,
    /// Of `loaded`, how many are written for web server and proxy logs.
    pub web_rules: usize,
    pub unsupported: Vec<Unsupported>,
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
            webserver: Engine::new(),
            proxy: Engine::new(),
            syslog: Engine::new(),
            json: Engine::new(),
            loaded: 0,
            web_rules: 0,
            unsupported: Vec::new(),
        }
    }

    /// Adds every rule in a YAML document (one file). Returns how many were added.
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
            let name = rule.id.clone().unwrap_or_else(|| rule.title.clone());
            let family = family(rule);
            let web = matches!(family, Some(Family::Webserver | Family::Proxy));
            // Every rule goes to the JSON engine; that one failing means the rule cannot be used.
            let result = self.json.add_rule(rule).and_then(|()| match family {
                Some(f) if f != Family::Json => self.engine_mut(f).add_rule(rule),
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

    fn engine_mut(&mut self, family: Family) -> &mut Engine {
        match family {
            Family::Webserver => &mut self.webserver,
            Family::Proxy => &mut self.proxy,
            Family::Syslog => &mut self.syslog,
            Family::Json => &mut self.json,
        }
    }

    /// The rules that fire on a record.
    pub fn evaluate(&self, family: Family, record: &Record) -> Vec<rsigma_eval::EvaluationResult> {
        let engine = match family {
            Family::Webserver => &self.webserver,
            Family::Proxy => &self.proxy,
            Family::Syslog => &self.syslog,
            Family::Json => &self.json,
        };
        if engine.rule_count() == 0 {
            return Vec::new();
        }
        engine.evaluate(record)
    }
}
