//! CVSS vectors: parsed and scored with the RustSec `cvss` crate (v2.0, v3.0, v3.1, v4.0), so
//! that a published base score is never trusted without its vector.

use ward_model::{Cvss, CvssVersion};

/// A published score checked against its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The base score computed from the vector.
    pub computed: f64,
    /// The score the source published.
    pub published: f64,
}

impl Checked {
    /// Published and computed agree to the one decimal CVSS scores are given in.
    pub fn agrees(&self) -> bool {
        (self.computed - self.published).abs() < 0.05
    }
}

/// The CVSS v3.x temporal score of a vector that carries temporal metrics (`E`, `RL`, `RC`):
/// some CNAs publish it in the `baseScore` field. CVSS v3.1 specification §7.2 and Appendix A
/// (Roundup); the `cvss` crate computes base scores only, so the three multipliers are here.
pub fn temporal_score(c: &Cvss) -> Option<f64> {
    if !matches!(c.version, CvssVersion::V30 | CvssVersion::V31) {
        return None;
    }
    let base = c
        .vector
        .parse::<cvss::v3::Vector>()
        .ok()?
        .base_score()
        .value();
    let mut factor = 1.0;
    let mut temporal = false;
    for metric in c.vector.split('/') {
        let (k, v) = metric.split_once(':')?;
        let f = match (k, v) {
            ("E", "X" | "H") | ("RL", "X" | "U") | ("RC", "X" | "C") => 1.0,
            ("E", "F") => 0.97,
            ("E", "P") => 0.94,
            ("E", "U") => 0.91,
            ("RL", "W") => 0.97,
            ("RL", "T") => 0.96,
            ("RL", "O") => 0.95,
            ("RC", "R") => 0.96,
            ("RC", "U") => 0.92,
            _ => continue,
        };
        temporal = true;
        factor *= f;
    }
    temporal.then(|| roundup(base * factor))
}

/// CVSS v3.1 Appendix A: the smallest one-decimal number not below `x`, computed on integers so
/// that floating-point noise (4.000000001) does not round up.
fn roundup(x: f64) -> f64 {
    let i = (x * 100_000.0).round() as i64;
    if i % 10_000 == 0 {
        i as f64 / 100_000.0
    } else {
        ((i / 10_000) + 1) as f64 / 10.0
    }
}

/// Parses the vector and computes its base score. `Err` names what is wrong with the vector.
pub fn check(c: &Cvss) -> Result<Checked, String> {
    let vector = c.vector.trim();
    let computed = match c.version {
        CvssVersion::V2 => {
            // NVD writes v2 vectors bare (`AV:N/AC:L/…`); some sources prefix `CVSS:2.0/`.
            let bare = vector.strip_prefix("CVSS:2.0/").unwrap_or(vector);
            bare.parse::<cvss::v2::Vector>()
                .map_err(|e| e.to_string())?
                .score()
                .value()
        }
        CvssVersion::V30 | CvssVersion::V31 => {
            let want = if c.version == CvssVersion::V30 {
                "CVSS:3.0/"
            } else {
                "CVSS:3.1/"
            };
            if !vector.starts_with(want) {
                return Err(format!(
                    "a CVSS {} vector starts with `{want}`",
                    c.version.as_str()
                ));
            }
            vector
                .parse::<cvss::v3::Vector>()
                .map_err(|e| e.to_string())?
                .base_score()
                .value()
        }
        CvssVersion::V40 => vector
            .parse::<cvss::v4::Vector>()
            .map_err(|e| e.to_string())?
            .score()
            .value(),
    };
    Ok(Checked {
        computed,
        published: c.base_score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(version: CvssVersion, vector: &str, score: f64) -> Cvss {
        Cvss {
            version,
            vector: vector.into(),
            base_score: score,
            source: "test".into(),
            published_score: None,
        }
    }

    #[test]
    fn scores_every_version() {
        let cases = [
            (CvssVersion::V2, "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
            (
                CvssVersion::V30,
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
            ),
            (
                CvssVersion::V31,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                7.5,
            ),
            (
                CvssVersion::V31,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
                10.0,
            ),
            (
                CvssVersion::V40,
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
        ];
        for (v, vector, want) in cases {
            let checked = check(&c(v, vector, want)).unwrap();
            assert!(
                checked.agrees(),
                "{vector}: computed {} want {want}",
                checked.computed
            );
        }
    }

    #[test]
    fn temporal_scores() {
        // Fortinet publishes the temporal score: base 9.8 × E:P 0.94 → 9.3.
        let v = c(
            CvssVersion::V31,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:U/RC:C",
            9.3,
        );
        assert_eq!(temporal_score(&v), Some(9.3));
        let plain = c(
            CvssVersion::V31,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            9.8,
        );
        assert_eq!(temporal_score(&plain), None);
        assert_eq!(roundup(4.02), 4.1);
        assert_eq!(roundup(4.000_000_000_1), 4.0);
    }

    #[test]
    fn invalid_vectors_are_reported() {
        assert!(check(&c(CvssVersion::V31, "CVSS:3.1/AV:X/AC:L", 9.8)).is_err());
        assert!(
            check(&c(
                CvssVersion::V31,
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8
            ))
            .is_err()
        );
        assert!(check(&c(CvssVersion::V2, "garbage", 5.0)).is_err());
        let wrong = check(&c(
            CvssVersion::V31,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
            9.8,
        ))
        .unwrap();
        assert!(
            !wrong.agrees(),
            "a published score that contradicts its vector is caught"
        );
    }
}
