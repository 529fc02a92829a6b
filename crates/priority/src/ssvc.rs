//! SSVC decision tables as data: the CERT/CC Deployer patch-application table and CISA's BOD
//! 26-04 remediation timelines ship in `crates/priority/tables/` and are compiled in; any table
//! in CERT/CC's SSVC JSON form (schema 2.0.0) can be loaded too.
//!
//! Names are normalised one way everywhere: decision-point names lower-case with `_` for
//! spaces (`System Exposure` → `system_exposure`), values lower-case with `-` for spaces
//! (`Public PoC` → `public-poc`, `very high` → `very-high`).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

/// A decision table: every combination of input values maps to one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionTable {
    pub name: String,
    /// Input decision points, in column order.
    pub inputs: Vec<String>,
    /// Rows in their published order: input values and the outcome.
    pub rows: Vec<(Vec<String>, String)>,
    index: HashMap<Vec<String>, usize>,
}

pub fn normalise_point(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

pub fn normalise_value(value: &str) -> String {
    value
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
}

impl DecisionTable {
    fn new(
        name: String,
        inputs: Vec<String>,
        rows: Vec<(Vec<String>, String)>,
    ) -> Result<Self, String> {
        let mut index = HashMap::new();
        for (i, (values, _)) in rows.iter().enumerate() {
            if values.len() != inputs.len() {
                return Err(format!(
                    "{name}: row {i} has {} values for {} decision points",
                    values.len(),
                    inputs.len()
                ));
            }
            if index.insert(values.clone(), i).is_some() {
                return Err(format!("{name}: row {i} repeats the inputs {values:?}"));
            }
        }
        Ok(Self {
            name,
            inputs,
            rows,
            index,
        })
    }

    /// Ward's CSV form: `#` comment lines, a header (inputs then the outcome), one row per line.
    pub fn from_csv(name: &str, text: &str) -> Result<Self, String> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let header = lines.next().ok_or_else(|| format!("{name}: no header"))?;
        let mut inputs: Vec<String> = header.split(',').map(normalise_point).collect();
        inputs.pop();
        let rows = lines
            .map(|l| {
                let mut values: Vec<String> = l.split(',').map(normalise_value).collect();
                let outcome = values.pop().unwrap_or_default();
                (values, outcome)
            })
            .collect();
        Self::new(name.to_owned(), inputs, rows)
    }

    /// CERT/CC's SSVC JSON form (`decision_points`, `outcome`, `mapping` of value keys).
    pub fn from_ssvc_json(text: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let name = doc
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("decision table")
            .to_owned();
        let points = doc
            .get("decision_points")
            .and_then(Value::as_object)
            .ok_or("no `decision_points`")?;
        let outcome = doc
            .get("outcome")
            .and_then(Value::as_str)
            .ok_or("no `outcome`")?;
        let mapping = doc
            .get("mapping")
            .and_then(Value::as_array)
            .ok_or("no `mapping`")?;
        // Value keys (`N`, `P`, `A`) → names, per decision point.
        let mut names: HashMap<&str, (String, HashMap<&str, String>)> = HashMap::new();
        for (id, p) in points {
            let point = normalise_point(p.get("name").and_then(Value::as_str).unwrap_or(id));
            let values = p
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    Some((
                        v.get("key")?.as_str()?,
                        normalise_value(v.get("name")?.as_str()?),
                    ))
                })
                .collect();
            names.insert(id.as_str(), (point, values));
        }
        let first = mapping
            .first()
            .and_then(Value::as_object)
            .ok_or("empty `mapping`")?;
        let input_ids: Vec<&str> = first
            .keys()
            .map(String::as_str)
            .filter(|k| *k != outcome)
            .collect();
        let inputs = input_ids
            .iter()
            .map(|id| names.get(id).map_or((*id).to_owned(), |n| n.0.clone()))
            .collect();
        let lookup = |id: &str, key: &str| -> Result<String, String> {
            names
                .get(id)
                .and_then(|(_, values)| values.get(key).cloned())
                .ok_or_else(|| format!("{name}: `{id}` has no value `{key}`"))
        };
        let mut rows = Vec::new();
        for (i, row) in mapping.iter().enumerate() {
            let row = row
                .as_object()
                .ok_or_else(|| format!("{name}: mapping[{i}] is not an object"))?;
            let get = |id: &str| {
                row.get(id)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{name}: mapping[{i}] lacks `{id}`"))
            };
            let values = input_ids
                .iter()
                .map(|id| lookup(id, get(id)?))
                .collect::<Result<Vec<_>, _>>()?;
            rows.push((values, lookup(outcome, get(outcome)?)?));
        }
        Self::new(name, inputs, rows)
    }

    /// The outcome for named inputs, in any order (`[("automatable", "yes"), …]`).
    pub fn decide_by_name(&self, named: &[(&str, &str)]) -> Option<&str> {
        let values: Option<Vec<&str>> = self
            .inputs
            .iter()
            .map(|input| {
                named
                    .iter()
                    .find(|(n, _)| normalise_point(n) == *input)
                    .map(|(_, v)| *v)
            })
            .collect();
        self.decide(&values?)
    }

    /// The outcome for these input values (normalised names, in `inputs` order).
    pub fn decide(&self, values: &[&str]) -> Option<&str> {
        let key: Vec<String> = values.iter().map(|v| normalise_value(v)).collect();
        self.index.get(&key).map(|&i| self.rows[i].1.as_str())
    }
}

/// SSVC Deployer Patch Application Priority (72 rows).
pub static DEPLOYER: LazyLock<DecisionTable> = LazyLock::new(|| {
    DecisionTable::from_csv(
        "SSVC Deployer Patch Application Priority",
        include_str!("../tables/ssvc_deployer_1_0_0.csv"),
    )
    .expect("the compiled-in deployer table is well formed (tested)")
});

/// CISA BOD 26-04 Remediation Timelines (16 rows).
pub static BOD_26_04: LazyLock<DecisionTable> = LazyLock::new(|| {
    DecisionTable::from_csv(
        "CISA BOD 26-04 Remediation Timelines",
        include_str!("../tables/cisa_bod_26_04_1_0_0.csv"),
    )
    .expect("the compiled-in BOD 26-04 table is well formed (tested)")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_tables_are_complete() {
        assert_eq!(DEPLOYER.rows.len(), 72);
        assert_eq!(
            DEPLOYER.inputs,
            [
                "exploitation",
                "system_exposure",
                "automatable",
                "human_impact"
            ]
        );
        assert_eq!(BOD_26_04.rows.len(), 16);
        assert_eq!(
            BOD_26_04.inputs,
            [
                "in_kev",
                "publicly_exposed",
                "automatable",
                "technical_impact"
            ]
        );
        // 3 × 3 × 2 × 4 and 2 × 2 × 2 × 2: every combination has exactly one row.
        assert_eq!(
            DEPLOYER.decide(&["active", "open", "yes", "very high"]),
            Some("immediate")
        );
        assert_eq!(
            DEPLOYER.decide(&["none", "small", "no", "low"]),
            Some("defer")
        );
        assert_eq!(
            BOD_26_04.decide(&["yes", "yes", "yes", "total"]),
            Some("3-days-&-forensic-investigation")
        );
        assert_eq!(DEPLOYER.decide(&["active", "open"]), None);
    }

    #[test]
    fn malformed_tables_are_refused() {
        assert!(
            DecisionTable::from_csv("t", "a,b,out\nx,y,1\nx,y,2\n")
                .unwrap_err()
                .contains("repeats")
        );
        assert!(
            DecisionTable::from_csv("t", "a,b,out\nx,1\n")
                .unwrap_err()
                .contains("has 1 values")
        );
        assert!(DecisionTable::from_ssvc_json("[]").is_err());
    }
}
