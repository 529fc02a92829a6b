//! Policies: from a finding's facts to an SSVC decision and deadlines (`docs/policies.md`).
//!
//! A policy is TOML: which remediation timelines apply (per-decision windows, or CISA BOD
//! 26-04's table), from when they count, whether the KEV due date caps them, the defaults for
//! unknown inputs, and per-organisation overrides. Three presets are compiled in:
//! `ssvc-deployer`, `nhs-hsa` and `bod-26-04` (`crates/priority/policies/`).
//!
//! The priority is always the SSVC Deployer decision (`ssvc::DEPLOYER`), from exploitation
//! (KEV, else CISA's SSVC), system exposure and human impact (the asset), and automatable (SSVC).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, SubsecRound, Utc};
use serde::Deserialize;
use toml::Spanned;
use ward_model::{
    Assessment, Asset, Deadlines, DecisionPointValue, Finding, IncidentWindows, Prioritiser,
    Priority,
};

use crate::ssvc::{BOD_26_04, DEPLOYER};

/// A policy error with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The built-in presets, by name.
pub const PRESETS: [(&str, &str); 3] = [
    (
        "ssvc-deployer",
        include_str!("../policies/ssvc-deployer.toml"),
    ),
    ("nhs-hsa", include_str!("../policies/nhs-hsa.toml")),
    ("bod-26-04", include_str!("../policies/bod-26-04.toml")),
];

/// Which remediation timelines apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Remediation {
    /// `[windows.<decision>] remediate = "14d"`.
    Windows,
    /// CISA BOD 26-04's decision table (In KEV × Publicly Exposed × Automatable × Technical Impact).
    #[serde(rename = "bod-26-04")]
    Bod2604,
}

/// From when remediation windows count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Clock {
    /// From the scan (or alert).
    Now,
    /// From the fix's release; Ward takes the vulnerability's first publication, when vendors
    /// publish their fixed releases with the advisory.
    FixRelease,
    /// From the day CISA listed the vulnerability as known exploited (KEV `dateAdded`); from
    /// now when it is not listed.
    KevListing,
}

/// What happens when a clock started before the alert, so that remediation would be due
/// before acknowledgement (an old CVE under `fix-release`, a KEV due date gone by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LateStart {
    /// Remediation is due with acknowledgement (the default).
    #[default]
    Acknowledgement,
    /// The remediation window counts again from the alert.
    Restart,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsFile {
    exploitation: Option<Spanned<String>>,
    exposure: Option<Spanned<String>>,
    automatable: Option<Spanned<String>>,
    criticality: Option<Spanned<String>>,
    technical_impact: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowFile {
    acknowledge: Option<Spanned<String>>,
    remediate: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    #[serde(default)]
    defaults: DefaultsFile,
    #[serde(default)]
    windows: BTreeMap<Spanned<String>, WindowFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentsFile {
    triage: Option<Spanned<String>>,
    contain: Option<Spanned<String>>,
    exploited_triage: Option<Spanned<String>>,
    exploited_contain: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    #[serde(default)]
    description: String,
    remediation: Remediation,
    clock: Clock,
    #[serde(default)]
    late_start: LateStart,
    #[serde(default)]
    kev_due_date: bool,
    alert_threshold: Option<Spanned<String>>,
    /// The longest a member may accept a risk for (`"180d"`, the default).
    max_risk_acceptance: Option<Spanned<String>>,
    /// How many of an asset's newest inventory versions keep their components (10).
    inventory_versions: Option<Spanned<i64>>,
    #[serde(default)]
    defaults: DefaultsFile,
    #[serde(default)]
    windows: BTreeMap<Spanned<String>, WindowFile>,
    #[serde(default)]
    organisations: BTreeMap<String, OverrideFile>,
    #[serde(default)]
    incidents: IncidentsFile,
}

/// Values used where a finding's input is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub exploitation: String,
    pub exposure: String,
    pub automatable: String,
    pub criticality: String,
    pub technical_impact: String,
}

/// Acknowledge and remediate windows for one decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub acknowledge: Option<Duration>,
    pub remediate: Option<Duration>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub description: String,
    pub remediation: Remediation,
    pub clock: Clock,
    /// When the clock started before the alert: remediate with acknowledgement, or restart.
    pub late_start: LateStart,
    pub kev_due_date: bool,
    /// Findings at least this urgent raise alerts (used by the server).
    pub alert_threshold: Priority,
    /// The longest a risk acceptance may run (`max_risk_acceptance`, default 180 days): the
    /// central team extends it in its policy file.
    pub max_risk_acceptance: Duration,
    /// How many of an asset's newest inventory versions keep their components
    /// (`inventory_versions`, default 10); older versions keep only their history row (who
    /// uploaded what file when, its SHA-256 and its component count).
    pub inventory_versions: usize,
    pub defaults: Defaults,
    pub windows: BTreeMap<Priority, Window>,
    /// Deadlines of possible-compromise incidents.
    pub incidents: IncidentWindows,
    overrides: BTreeMap<String, (Defaults, BTreeMap<Priority, Window>)>,
    /// The time deadlines count from when the clock is `now`.
    pub as_of: DateTime<Utc>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Parses `48h`, `14d`, `2w`, `30m`, `90s`.
fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 48h, 14d or 2w"))?;
    match unit {
        "s" => Ok(Duration::seconds(n)),
        "m" => Ok(Duration::minutes(n)),
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        "w" => Ok(Duration::weeks(n)),
        _ => Err(format!("`{s}`: the unit must be s, m, h, d or w")),
    }
}

/// Inventory versions that keep their components when the policy does not say.
pub const DEFAULT_INVENTORY_VERSIONS: usize = 10;

const EXPLOITATION: [&str; 3] = ["none", "public-poc", "active"];
const EXPOSURE: [&str; 3] = ["small", "controlled", "open"];
const YES_NO: [&str; 2] = ["no", "yes"];
const CRITICALITY: [&str; 4] = ["low", "medium", "high", "very-high"];
const TECHNICAL_IMPACT: [&str; 2] = ["partial", "total"];

impl Policy {
    /// A preset by name, or a TOML file's contents; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyError> {
        let err = |offset: usize, message: String| PolicyError {
            file: file.into(),
            line: line_of(text, offset),
            message,
        };
        let raw: PolicyFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            err(offset, e.message().to_owned())
        })?;
        let base = Defaults {
            exploitation: "none".into(),
            exposure: "controlled".into(),
            automatable: "no".into(),
            criticality: "medium".into(),
            technical_impact: "partial".into(),
        };
        let defaults = apply_defaults(&base, &raw.defaults, &err)?;
        let windows = parse_windows(&BTreeMap::new(), &raw.windows, &err)?;
        let mut overrides = BTreeMap::new();
        for (org, o) in &raw.organisations {
            overrides.insert(
                org.clone(),
                (
                    apply_defaults(&defaults, &o.defaults, &err)?,
                    parse_windows(&windows, &o.windows, &err)?,
                ),
            );
        }
        let alert_threshold = match &raw.alert_threshold {
            None => Priority::OutOfCycle,
            Some(t) => t.get_ref().parse().map_err(|m| err(t.span().start, m))?,
        };
        let max_risk_acceptance = match &raw.max_risk_acceptance {
            None => Duration::days(180),
            Some(d) => duration(d.get_ref()).map_err(|m| err(d.span().start, m))?,
        };
        let inventory_versions = match &raw.inventory_versions {
            None => DEFAULT_INVENTORY_VERSIONS,
            Some(n) => match usize::try_from(*n.get_ref()) {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(err(
                        n.span().start,
                        format!(
                            "inventory_versions must be from 1 to 10000, not {}",
                            n.get_ref()
                        ),
                    ));
                }
            },
        };
        let mut incidents = IncidentWindows::default();
        for (slot, value) in [
            (&mut incidents.triage, &raw.incidents.triage),
            (&mut incidents.contain, &raw.incidents.contain),
            (
                &mut incidents.exploited_triage,
                &raw.incidents.exploited_triage,
            ),
            (
                &mut incidents.exploited_contain,
                &raw.incidents.exploited_contain,
            ),
        ] {
            if let Some(v) = value {
                *slot = duration(v.get_ref()).map_err(|m| err(v.span().start, m))?;
                if *slot <= Duration::zero() {
                    return Err(err(
                        v.span().start,
                        "an incident window must be longer than zero".into(),
                    ));
                }
            }
        }
        if incidents.exploited_triage > incidents.exploited_contain
            || incidents.triage > incidents.contain
        {
            return Err(err(
                0,
                "[incidents]: containment cannot be due before triage".into(),
            ));
        }
        Ok(Self {
            name: raw.name,
            description: raw.description,
            remediation: raw.remediation,
            clock: raw.clock,
            late_start: raw.late_start,
            kev_due_date: raw.kev_due_date,
            alert_threshold,
            max_risk_acceptance,
            inventory_versions,
            defaults,
            windows,
            incidents,
            overrides,
            as_of: Utc::now(),
        })
    }

    /// A preset (`ssvc-deployer`, `nhs-hsa`, `bod-26-04`) or a policy file's path.
    pub fn load(name_or_path: &str) -> Result<Self, PolicyError> {
        if let Some((name, text)) = PRESETS.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(&format!("preset {name}"), text);
        }
        let text = std::fs::read_to_string(name_or_path).map_err(|e| PolicyError {
            file: name_or_path.into(),
            line: 0,
            message: format!(
                "{e} (not a preset either: {})",
                PRESETS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        Self::parse(name_or_path, &text)
    }

    /// The policy as it applies to one organisation (its overrides, where it has any).
    pub fn for_organisation(&self, organisation: &str) -> Self {
        let mut p = self.clone();
        if let Some((defaults, windows)) = self.overrides.get(organisation) {
            p.defaults = defaults.clone();
            p.windows = windows.clone();
        }
        p
    }

    pub fn organisations(&self) -> impl Iterator<Item = &str> {
        self.overrides.keys().map(String::as_str)
    }

    pub fn with_as_of(mut self, as_of: DateTime<Utc>) -> Self {
        self.as_of = as_of;
        self
    }

    /// When the remediation clock started, by the policy's `clock`.
    fn clock_start(
        &self,
        published: Option<DateTime<Utc>>,
        kev: Option<&ward_model::FindingKev>,
        notes: &mut Vec<String>,
    ) -> DateTime<Utc> {
        match self.clock {
            Clock::Now => self.as_of,
            Clock::FixRelease => published.unwrap_or_else(|| {
                notes.push("the fix's release date is unknown: remediation counts from now".into());
                self.as_of
            }),
            Clock::KevListing => match kev.and_then(|k| k.date_added) {
                Some(d) => d.and_time(NaiveTime::MIN).and_utc(),
                None => {
                    notes.push("not listed in KEV: remediation counts from now".into());
                    self.as_of
                }
            },
        }
    }

    /// Acknowledgement from now; remediation as computed from the clock's `start`, capped by
    /// the KEV due date when the policy says so, and — when the clock started so long before
    /// the alert that remediation would be due before acknowledgement — moved by `late_start`.
    fn finish_deadlines(
        &self,
        window: Window,
        start: DateTime<Utc>,
        clocked: Option<DateTime<Utc>>,
        kev: Option<&ward_model::FindingKev>,
        notes: &mut Vec<String>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let mut remediate_by = clocked;
        if self.kev_due_date
            && let Some(due) = kev.and_then(|k| k.due_date)
        {
            let due = due
                .and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time"))
                .and_utc();
            if remediate_by.is_none_or(|r| due < r) {
                remediate_by = Some(due);
                notes.push(format!(
                    "remediate by the KEV due date {}",
                    due.date_naive()
                ));
            }
        }
        // A remediation clock that started long before the alert (an old CVE under a policy
        // counting from the fix's release, a KEV due date gone by) would put remediation before
        // acknowledgement, and the member would be escalated the moment it is told.
        let acknowledge_by = window.acknowledge.map(|d| self.as_of + d);
        if let (Some(ack), Some(rem)) = (acknowledge_by, remediate_by)
            && rem < ack
        {
            let moved = match (self.late_start, clocked) {
                (LateStart::Restart, Some(c)) => (self.as_of + (c - start)).max(ack),
                _ => ack,
            };
            notes.push(format!(
                "the remediation deadline ({}) came before the acknowledgement deadline: {} {}",
                rem.date_naive(),
                match self.late_start {
                    LateStart::Restart => "the window counts again from the alert: remediate by",
                    LateStart::Acknowledgement => "remediate by",
                },
                moved.date_naive()
            ));
            remediate_by = Some(moved);
        }
        // To the millisecond: what the store keeps (a deadline's nanoseconds say nothing), so
        // that a finding reads back as it was decided.
        let ms = |t: DateTime<Utc>| t.trunc_subsecs(3);
        (acknowledge_by.map(ms), remediate_by.map(ms))
    }

    /// The deadlines of an alert the central team issues to a member whose inventory says
    /// nothing of the product (asked to confirm exposure): the `immediate` window, counted
    /// by the same clock as the findings of members that have it, so that both kinds of
    /// member answer to one clock.
    pub fn issued_deadlines(
        &self,
        published: Option<DateTime<Utc>>,
        kev: Option<&ward_model::FindingKev>,
    ) -> (Deadlines, Vec<String>) {
        let mut notes = Vec::new();
        let window = self
            .windows
            .get(&Priority::Immediate)
            .copied()
            .unwrap_or_default();
        let start = self.clock_start(published, kev, &mut notes);
        let clocked = window.remediate.map(|d| start + d);
        let (acknowledge_by, remediate_by) =
            self.finish_deadlines(window, start, clocked, kev, &mut notes);
        (
            Deadlines {
                acknowledge_by,
                remediate_by,
            },
            notes,
        )
    }
}

type ErrFn<'a> = dyn Fn(usize, String) -> PolicyError + 'a;

fn apply_defaults(
    base: &Defaults,
    file: &DefaultsFile,
    err: &ErrFn<'_>,
) -> Result<Defaults, PolicyError> {
    let pick = |v: &Option<Spanned<String>>,
                allowed: &[&str],
                current: &str,
                what: &str|
     -> Result<String, PolicyError> {
        match v {
            None => Ok(current.to_owned()),
            Some(s) => {
                let value = crate::ssvc::normalise_value(s.get_ref());
                if allowed.contains(&value.as_str()) {
                    Ok(value)
                } else {
                    Err(err(
                        s.span().start,
                        format!(
                            "{what} `{}` is not one of {}",
                            s.get_ref(),
                            allowed.join(", ")
                        ),
                    ))
                }
            }
        }
    };
    Ok(Defaults {
        exploitation: pick(
            &file.exploitation,
            &EXPLOITATION,
            &base.exploitation,
            "exploitation",
        )?,
        exposure: pick(&file.exposure, &EXPOSURE, &base.exposure, "exposure")?,
        automatable: pick(&file.automatable, &YES_NO, &base.automatable, "automatable")?,
        criticality: pick(
            &file.criticality,
            &CRITICALITY,
            &base.criticality,
            "criticality",
        )?,
        technical_impact: pick(
            &file.technical_impact,
            &TECHNICAL_IMPACT,
            &base.technical_impact,
            "technical_impact",
        )?,
    })
}

fn parse_windows(
    base: &BTreeMap<Priority, Window>,
    file: &BTreeMap<Spanned<String>, WindowFile>,
    err: &ErrFn<'_>,
) -> Result<BTreeMap<Priority, Window>, PolicyError> {
    let mut out = base.clone();
    for (decision, w) in file {
        let p: Priority = decision
            .get_ref()
            .parse()
            .map_err(|m| err(decision.span().start, m))?;
        let parse = |d: &Option<Spanned<String>>| -> Result<Option<Duration>, PolicyError> {
            d.as_ref()
                .map(|s| duration(s.get_ref()).map_err(|m| err(s.span().start, m)))
                .transpose()
        };
        let entry = out.entry(p).or_default();
        if w.acknowledge.is_some() {
            entry.acknowledge = parse(&w.acknowledge)?;
        }
        if w.remediate.is_some() {
            entry.remediate = parse(&w.remediate)?;
        }
    }
    Ok(out)
}

impl Prioritiser for Policy {
    fn prioritise(&self, f: &Finding, asset: &Asset) -> Assessment {
        let assumed = |name: &str, value: &str| DecisionPointValue {
            name: name.into(),
            value: value.into(),
            source: "assumed (policy default)".into(),
        };
        let known = |name: &str, value: &str, source: String| DecisionPointValue {
            name: name.into(),
            value: value.into(),
            source,
        };
        let ssvc = f.ssvc.as_ref();
        let mut notes = Vec::new();

        let exploitation = match (&f.kev, ssvc.and_then(|s| s.exploitation.as_deref())) {
            (Some(k), _) => known(
                "exploitation",
                "active",
                format!(
                    "CISA KEV{}",
                    k.date_added
                        .map(|d| format!(" (added {d})"))
                        .unwrap_or_default()
                ),
            ),
            (None, Some(e)) => published(
                "exploitation",
                match crate::ssvc::normalise_value(e).as_str() {
                    // CISA writes `poc` for SSVC's "Public PoC".
                    "poc" => "public-poc".to_owned(),
                    other => other.to_owned(),
                },
                &EXPLOITATION,
                &self.defaults.exploitation,
                &mut notes,
            ),
            (None, None) => assumed("exploitation", &self.defaults.exploitation),
        };
        let exposure = match asset.exposure {
            Some(e) => known(
                "system_exposure",
                e.as_str(),
                format!("inventory: asset `{}`", asset.name),
            ),
            None => assumed("system_exposure", &self.defaults.exposure),
        };
        let automatable = match ssvc.and_then(|s| s.automatable.as_deref()) {
            Some(a) => published(
                "automatable",
                crate::ssvc::normalise_value(a),
                &YES_NO,
                &self.defaults.automatable,
                &mut notes,
            ),
            None => assumed("automatable", &self.defaults.automatable),
        };
        let human_impact = match asset.criticality {
            Some(c) => known(
                "human_impact",
                c.as_str(),
                format!("inventory: asset `{}`", asset.name),
            ),
            None => assumed("human_impact", &self.defaults.criticality),
        };
        let mut points = vec![exploitation, exposure, automatable, human_impact];
        let decision = DEPLOYER
            .decide(&points.iter().map(|p| p.value.as_str()).collect::<Vec<_>>())
            .and_then(|d| d.parse::<Priority>().ok())
            .expect("every input is in its vocabulary and the deployer table has every combination (tested)");
        let mut reason = format!(
            "SSVC deployer decision {decision} ({}); policy {}",
            points
                .iter()
                .map(|p| format!("{} {}", p.name, p.value))
                .collect::<Vec<_>>()
                .join(", "),
            self.name
        );
        if let Some(e) = &f.epss {
            reason.push_str(&format!(
                "; EPSS {:.3} (percentile {:.3}) orders it within the decision",
                e.score, e.percentile
            ));
        }

        let window = self.windows.get(&decision).copied().unwrap_or_default();
        let start = self.clock_start(f.published, f.kev.as_ref(), &mut notes);
        let remediate_by = match self.remediation {
            Remediation::Windows => window.remediate.map(|d| start + d),
            Remediation::Bod2604 => {
                let in_kev = if f.kev.is_some() { "yes" } else { "no" };
                let public = if points[1].value == "open" {
                    "yes"
                } else {
                    "no"
                };
                let technical = match ssvc.and_then(|s| s.technical_impact.as_deref()) {
                    Some(t) => published(
                        "technical_impact",
                        crate::ssvc::normalise_value(t),
                        &TECHNICAL_IMPACT,
                        &self.defaults.technical_impact,
                        &mut notes,
                    ),
                    None => assumed("technical_impact", &self.defaults.technical_impact),
                };
                let timeline = BOD_26_04
                    .decide(&[in_kev, public, &points[2].value, &technical.value])
                    .expect("every input is in its vocabulary and the BOD 26-04 table has every combination (tested)")
                    .to_owned();
                points.push(known("in_kev", in_kev, "CISA KEV".into()));
                points.push(known(
                    "publicly_exposed",
                    public,
                    "system exposure is open".into(),
                ));
                points.push(technical);
                notes.push(format!(
                    "CISA BOD 26-04 timeline: {}",
                    timeline.replace('-', " ")
                ));
                if timeline.contains("forensic") {
                    notes.push("BOD 26-04 asks for a forensic investigation: run `ward hunt` over this asset's logs".into());
                }
                bod_days(&timeline).map(|d| start + Duration::days(d))
            }
        };
        let (acknowledge_by, remediate_by) =
            self.finish_deadlines(window, start, remediate_by, f.kev.as_ref(), &mut notes);
        let cvss = checked_cvss(f, &mut notes);
        Assessment {
            cvss,
            priority: decision,
            reason,
            deadlines: Deadlines {
                acknowledge_by,
                remediate_by,
            },
            decision_points: points,
            notes,
        }
    }
}

/// A value CISA's SSVC published, checked against the decision point's vocabulary; an unknown
/// value is not guessed at: the policy default is used and the finding says so.
fn published(
    name: &str,
    value: String,
    allowed: &[&str],
    default: &str,
    notes: &mut Vec<String>,
) -> DecisionPointValue {
    if allowed.contains(&value.as_str()) {
        return DecisionPointValue {
            name: name.into(),
            value,
            source: "CISA SSVC (Vulnrichment)".into(),
        };
    }
    notes.push(format!(
        "CISA SSVC gives {name} `{value}`, which is not one of {}; the policy default `{default}` was used",
        allowed.join(", ")
    ));
    DecisionPointValue {
        name: name.into(),
        value: default.into(),
        source: "assumed (policy default)".into(),
    }
}

/// Scores as their vectors give them: an invalid vector is dropped, a published score that
/// contradicts its vector is replaced (and kept as `published_score`), each with a note.
fn checked_cvss(f: &Finding, notes: &mut Vec<String>) -> Vec<ward_model::Cvss> {
    let mut out = Vec::new();
    for c in f.cvss.iter() {
        match crate::cvss::check(c) {
            Ok(checked) if checked.agrees() => out.push(c.clone()),
            Ok(checked) => {
                let temporal =
                    crate::cvss::temporal_score(c).is_some_and(|t| (t - c.base_score).abs() < 0.05);
                notes.push(format!(
                    "CVSS {} from {}: published {} but the vector `{}` gives {}{}; Ward uses the vector's score",
                    c.version.as_str(),
                    c.source,
                    c.base_score,
                    c.vector,
                    checked.computed,
                    if temporal { " (the published figure is the temporal score)" } else { "" }
                ));
                out.push(ward_model::Cvss {
                    base_score: checked.computed,
                    published_score: Some(c.base_score),
                    ..c.clone()
                });
            }
            Err(e) => notes.push(format!(
                "CVSS {} from {}: the vector `{}` is invalid ({e}); not used",
                c.version.as_str(),
                c.source,
                c.vector
            )),
        }
    }
    out
}

fn bod_days(timeline: &str) -> Option<i64> {
    if timeline.starts_with("fix-on") {
        return None;
    }
    timeline.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Arc;
    use ward_model::advisory::Ssvc;
    use ward_model::{ComponentRef, Confidence, Criticality, Explanation, Exposure, FindingKev};

    fn epmm_finding() -> Finding {
        Finding {
            vulnerability: "CVE-2025-4427".into(),
            aliases: vec![],
            component: ComponentRef {
                name: "epmm".into(),
                version: Some("12.5.0.0".into()),
                cpe: None,
                purl: None,
                evidence: None,
            }
            .into(),
            asset: "mdm".into(),
            confidence: Confidence::Exact,
            kev: Some(FindingKev {
                date_added: chrono::NaiveDate::from_ymd_opt(2025, 5, 19),
                due_date: chrono::NaiveDate::from_ymd_opt(2025, 6, 9),
                ransomware: false,
            }),
            epss: None,
            cvss: Arc::new([]),
            fixed_versions: vec![],
            priority: Priority::Defer,
            explanation: Explanation {
                source: String::new(),
                criterion: String::new(),
                range: String::new(),
                sources: vec![],
                disagreements: vec![],
                priority: String::new(),
                notes: vec![],
                decision_points: vec![],
            }
            .into(),
            title: None,
            deadlines: Deadlines::default(),
            // CISA ADP (Vulnrichment) for CVE-2025-4427: active, automatable, total.
            ssvc: Some(
                Ssvc {
                    exploitation: Some("active".into()),
                    automatable: Some("yes".into()),
                    technical_impact: Some("total".into()),
                    role: None,
                    timestamp: None,
                }
                .into(),
            ),
            published: Some(Utc.with_ymd_and_hms(2025, 5, 13, 15, 45, 35).unwrap()),
            kind: Default::default(),
            informational: None,
            severity: Default::default(),
        }
    }

    fn asset(exposure: Exposure, criticality: Criticality) -> Asset {
        Asset {
            name: "mdm".into(),
            exposure: Some(exposure),
            criticality: Some(criticality),
            components: vec![],
        }
    }

    fn as_of() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 5, 20, 9, 0, 0).unwrap()
    }

    #[test]
    fn presets_parse() {
        for (name, _) in PRESETS {
            let p = Policy::load(name).unwrap();
            assert_eq!(p.name, name);
        }
    }

    #[test]
    fn epmm_on_an_open_high_impact_asset_is_immediate_with_deadlines() {
        let p = Policy::load("nhs-hsa").unwrap().with_as_of(as_of());
        let a = p.prioritise(&epmm_finding(), &asset(Exposure::Open, Criticality::High));
        assert_eq!(a.priority, Priority::Immediate);
        assert_eq!(
            a.deadlines.acknowledge_by,
            Some(as_of() + Duration::hours(48))
        );
        // 14 days from the fix's release (2025-05-13) beats the KEV due date (2025-06-09).
        assert_eq!(
            a.deadlines.remediate_by,
            Some(Utc.with_ymd_and_hms(2025, 5, 27, 15, 45, 35).unwrap())
        );
        let points: Vec<(&str, &str)> = a
            .decision_points
            .iter()
            .map(|d| (d.name.as_str(), d.value.as_str()))
            .collect();
        assert_eq!(
            points,
            [
                ("exploitation", "active"),
                ("system_exposure", "open"),
                ("automatable", "yes"),
                ("human_impact", "high")
            ]
        );
        assert!(
            a.decision_points[0]
                .source
                .starts_with("CISA KEV (added 2025-05-19)")
        );
        assert!(a.decision_points[2].source.contains("SSVC"));
    }

    /// Deadlines are decided to the millisecond, as the store keeps them (0028): a finding
    /// reads back as it was decided, whatever the clock's nanoseconds.
    #[test]
    fn deadlines_are_whole_milliseconds() {
        let now = as_of() + Duration::nanoseconds(123_456_789);
        let p = Policy::load("nhs-hsa").unwrap().with_as_of(now);
        let a = p.prioritise(&epmm_finding(), &asset(Exposure::Open, Criticality::High));
        assert_eq!(
            a.deadlines.acknowledge_by,
            Some(as_of() + Duration::hours(48) + Duration::milliseconds(123))
        );
        let mut published = epmm_finding();
        published.published = Some(as_of() + Duration::nanoseconds(999_999));
        let a = p.prioritise(&published, &asset(Exposure::Open, Criticality::High));
        for t in [a.deadlines.acknowledge_by, a.deadlines.remediate_by] {
            assert_eq!(t.unwrap().timestamp_subsec_nanos() % 1_000_000, 0, "{t:?}");
        }
    }

    /// Under every preset, for a CVE published years before the alert (and a KEV due date long
    /// gone) as for one published yesterday, remediation is never due before acknowledgement.
    #[test]
    fn remediation_is_never_due_before_acknowledgement() {
        for (name, _) in PRESETS {
            let p = Policy::load(name).unwrap().with_as_of(as_of());
            for published in [
                Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap(),
                as_of() - Duration::days(1),
            ] {
                let mut f = epmm_finding();
                f.published = Some(published);
                if let Some(k) = f.kev.as_mut() {
                    k.due_date = Some(published.date_naive() + Duration::days(21));
                }
                for exposure in [Exposure::Open, Exposure::Controlled, Exposure::Small] {
                    let a = p.prioritise(&f, &asset(exposure, Criticality::High));
                    if let (Some(ack), Some(rem)) =
                        (a.deadlines.acknowledge_by, a.deadlines.remediate_by)
                    {
                        assert!(
                            rem >= ack,
                            "{name}, published {published}, {exposure:?}: remediate by {rem} before acknowledging by {ack}"
                        );
                    }
                }
            }
        }
        // The old one under nhs-hsa (14 days from the fix's release): due with acknowledgement,
        // and the note says why.
        let p = Policy::load("nhs-hsa").unwrap().with_as_of(as_of());
        let mut f = epmm_finding();
        f.published = Some(Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap());
        let a = p.prioritise(&f, &asset(Exposure::Open, Criticality::High));
        assert_eq!(a.deadlines.remediate_by, a.deadlines.acknowledge_by);
        assert!(
            a.notes
                .iter()
                .any(|n| n.contains("came before the acknowledgement")),
            "{:?}",
            a.notes
        );
    }

    /// What the clocks count from is policy data: the alert (`now`), the publication
    /// (`fix-release`) or the KEV listing (`kev-listing`); and what happens when a clock started
    /// before the alert (`late_start`): due with acknowledgement, or the window again from the
    /// alert. Each on an old and a new CVE.
    #[test]
    fn clocks_and_late_starts_are_policy_data() {
        let policy = |clock: &str, late: &str| {
            Policy::parse(
                "test",
                &format!(
                    "name = \"t\"\nremediation = \"windows\"\nclock = \"{clock}\"\nlate_start = \"{late}\"\n\
                     [windows.immediate]\nacknowledge = \"48h\"\nremediate = \"14d\"\n"
                ),
            )
            .unwrap()
            .with_as_of(as_of())
        };
        let open = asset(Exposure::Open, Criticality::High);
        let old = Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap();
        let ack = as_of() + Duration::hours(48);
        let remediate = |p: &Policy, published: DateTime<Utc>| {
            let mut f = epmm_finding();
            f.published = Some(published);
            p.prioritise(&f, &open).deadlines.remediate_by.unwrap()
        };
        // From the alert: the publication date does not matter.
        assert_eq!(
            remediate(&policy("now", "acknowledgement"), old),
            as_of() + Duration::days(14)
        );
        // From the publication: a new CVE's window runs from it; an old one's has run out, and
        // is due with acknowledgement or counts again from the alert.
        let recent = as_of() - Duration::days(2);
        assert_eq!(
            remediate(&policy("fix-release", "acknowledgement"), recent),
            recent + Duration::days(14)
        );
        assert_eq!(
            remediate(&policy("fix-release", "acknowledgement"), old),
            ack
        );
        assert_eq!(
            remediate(&policy("fix-release", "restart"), old),
            as_of() + Duration::days(14)
        );
        // From the KEV listing (2025-05-19 for CVE-2025-4427), whatever the publication.
        let listed = chrono::NaiveDate::from_ymd_opt(2025, 5, 19)
            .unwrap()
            .and_time(NaiveTime::MIN)
            .and_utc();
        assert_eq!(
            remediate(&policy("kev-listing", "acknowledgement"), old),
            listed + Duration::days(14)
        );
        let mut unlisted = epmm_finding();
        unlisted.kev = None;
        let a = policy("kev-listing", "acknowledgement").prioritise(&unlisted, &open);
        assert!(
            a.notes.iter().any(|n| n.contains("not listed in KEV")),
            "{:?}",
            a.notes
        );
        let e = Policy::parse(
            "t.toml",
            "name = \"t\"\nremediation = \"windows\"\nclock = \"now\"\nlate_start = \"sometimes\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.toml") && e.contains("late_start") || e.contains("sometimes"),
            "{e}"
        );
    }

    /// A member asked to confirm exposure answers to the same clock as a member whose
    /// inventory has the product: under every preset, the issued alert's deadlines for an old
    /// and a new CVE are those of an `immediate` finding, and remediation never comes first.
    #[test]
    fn issued_alerts_answer_to_the_findings_clock() {
        for (name, _) in PRESETS {
            let p = Policy::load(name).unwrap().with_as_of(as_of());
            for published in [
                Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap(),
                as_of() - Duration::days(1),
            ] {
                let mut f = epmm_finding();
                f.published = Some(published);
                let (issued, _) = p.issued_deadlines(f.published, f.kev.as_ref());
                if let (Some(ack), Some(rem)) = (issued.acknowledge_by, issued.remediate_by) {
                    assert!(rem >= ack, "{name}, {published}: {issued:?}");
                }
                let found = p.prioritise(&f, &asset(Exposure::Open, Criticality::High));
                if p.remediation == Remediation::Windows && found.priority == Priority::Immediate {
                    assert_eq!(issued, found.deadlines, "{name}, published {published}");
                }
            }
        }
    }

    #[test]
    fn the_same_cves_on_a_small_lab_asset_rank_lower() {
        let p = Policy::load("ssvc-deployer").unwrap().with_as_of(as_of());
        let a = p.prioritise(&epmm_finding(), &asset(Exposure::Small, Criticality::Low));
        assert_eq!(a.priority, Priority::Scheduled);
        // Scheduled: 60 days from now, but the KEV due date is earlier.
        assert_eq!(
            a.deadlines.remediate_by,
            Some(Utc.with_ymd_and_hms(2025, 6, 9, 23, 59, 59).unwrap())
        );
    }

    #[test]
    fn unknown_inputs_use_defaults_and_say_so() {
        let p = Policy::load("ssvc-deployer").unwrap().with_as_of(as_of());
        let mut f = epmm_finding();
        f.kev = None;
        f.ssvc = None;
        let a = p.prioritise(
            &f,
            &Asset {
                name: "x".into(),
                ..Asset::default()
            },
        );
        assert!(
            a.decision_points
                .iter()
                .all(|d| d.source == "assumed (policy default)"),
            "{:?}",
            a.decision_points
        );
        // none, controlled, no, medium → scheduled (CERT/CC deployer table, row 9).
        assert_eq!(a.priority, Priority::Scheduled);
        assert_eq!(
            a.deadlines.acknowledge_by,
            Some(as_of() + Duration::days(7))
        );
        let lab = Asset {
            name: "lab".into(),
            exposure: Some(Exposure::Small),
            criticality: Some(Criticality::Low),
            components: vec![],
        };
        // none, small, no, low → defer: no deadlines.
        let a = p.prioritise(&f, &lab);
        assert_eq!(a.priority, Priority::Defer);
        assert_eq!(a.deadlines, Deadlines::default());
    }

    #[test]
    fn bod_26_04_rows_and_forensics() {
        let p = Policy::load("bod-26-04").unwrap().with_as_of(as_of());
        // In KEV, publicly exposed, automatable, total → 3 days and a forensic investigation.
        let a = p.prioritise(&epmm_finding(), &asset(Exposure::Open, Criticality::High));
        assert_eq!(a.deadlines.remediate_by, Some(as_of() + Duration::days(3)));
        assert!(
            a.notes.iter().any(|n| n.contains("forensic")),
            "{:?}",
            a.notes
        );
        // Not in KEV, not exposed, not automatable, partial → fix on system upgrade: no deadline.
        let mut f = epmm_finding();
        f.kev = None;
        f.ssvc = Some(
            Ssvc {
                automatable: Some("no".into()),
                technical_impact: Some("partial".into()),
                ..Ssvc::default()
            }
            .into(),
        );
        let a = p.prioritise(&f, &asset(Exposure::Small, Criticality::Low));
        assert_eq!(a.deadlines.remediate_by, None);
    }

    #[test]
    fn cvss_scores_are_taken_from_their_vectors() {
        let p = Policy::load("ssvc-deployer").unwrap().with_as_of(as_of());
        let mut f = epmm_finding();
        let cvss = |vector: &str, score: f64| ward_model::Cvss {
            version: ward_model::CvssVersion::V31,
            vector: vector.into(),
            base_score: score,
            source: "cna".into(),
            published_score: None,
        };
        f.cvss = vec![
            cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
            // Published 9.1; CVSS 3.1's Roundup gives 9.0.
            cvss("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H", 9.1),
            cvss("CVSS:3.1/AV:Q/AC:L", 9.8),
        ]
        .into();
        let a = p.prioritise(&f, &asset(Exposure::Open, Criticality::High));
        assert_eq!(a.cvss.len(), 2, "the invalid vector is not used");
        assert_eq!(a.cvss[0].published_score, None);
        assert_eq!(
            (a.cvss[1].base_score, a.cvss[1].published_score),
            (9.0, Some(9.1))
        );
        assert_eq!(
            a.notes
                .iter()
                .filter(|n| n.starts_with("CVSS 3.1 from cna"))
                .count(),
            2,
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn unknown_ssvc_values_are_not_guessed() {
        let p = Policy::load("ssvc-deployer").unwrap().with_as_of(as_of());
        let mut f = epmm_finding();
        f.kev = None;
        f.ssvc = Some(
            Ssvc {
                exploitation: Some("poc".into()),
                automatable: Some("maybe".into()),
                ..Ssvc::default()
            }
            .into(),
        );
        let a = p.prioritise(&f, &asset(Exposure::Open, Criticality::High));
        assert_eq!(
            (
                a.decision_points[0].value.as_str(),
                a.decision_points[0].source.as_str()
            ),
            ("public-poc", "CISA SSVC (Vulnrichment)")
        );
        assert_eq!(
            (
                a.decision_points[2].value.as_str(),
                a.decision_points[2].source.as_str()
            ),
            ("no", "assumed (policy default)")
        );
        assert!(
            a.notes.iter().any(|n| n.contains("automatable `maybe`")),
            "{:?}",
            a.notes
        );
        // public-poc, open, no, high → scheduled (CERT/CC deployer table).
        assert_eq!(a.priority, Priority::Scheduled);
    }

    #[test]
    fn organisations_override_defaults_and_windows() {
        let text = r#"
name = "trusts"
remediation = "windows"
clock = "now"
[windows.immediate]
acknowledge = "48h"
remediate = "14d"
[organisations."st-elsewhere".defaults]
exposure = "open"
[organisations."st-elsewhere".windows.immediate]
remediate = "7d"
"#;
        let p = Policy::parse("trusts.toml", text)
            .unwrap()
            .with_as_of(as_of());
        let org = p.for_organisation("st-elsewhere");
        assert_eq!(org.defaults.exposure, "open");
        assert_eq!(
            org.windows[&Priority::Immediate].remediate,
            Some(Duration::days(7))
        );
        assert_eq!(
            org.windows[&Priority::Immediate].acknowledge,
            Some(Duration::hours(48)),
            "inherited"
        );
        assert_eq!(p.for_organisation("elsewhere").windows, p.windows);
    }

    #[test]
    fn incident_windows_default_and_are_read() {
        let p = Policy::parse(
            "p.toml",
            "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n",
        )
        .unwrap();
        assert_eq!(p.incidents, IncidentWindows::default());
        assert_eq!(
            (p.incidents.exploited_triage, p.incidents.exploited_contain),
            (Duration::hours(4), Duration::hours(72))
        );
        let p = Policy::parse(
            "p.toml",
            "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n[incidents]\nexploited_triage = \"90s\"\ntriage = \"2h\"\n",
        )
        .unwrap();
        assert_eq!(p.incidents.exploited_triage, Duration::seconds(90));
        assert_eq!(
            (p.incidents.triage, p.incidents.contain),
            (Duration::hours(2), Duration::days(7))
        );
        let e = Policy::parse(
            "p.toml",
            "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n[incidents]\ntriage = \"8d\"\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("containment cannot be due before triage"),
            "{e}"
        );
        assert_eq!(
            Policy::load("nhs-hsa").unwrap().incidents,
            IncidentWindows::default()
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n[windows.urgent]\nremediate = \"3d\"\n",
                4,
                "immediate, out-of-cycle",
            ),
            (
                "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n[windows.immediate]\nremediate = \"3 days\"\n",
                5,
                "unit",
            ),
            (
                "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n[defaults]\nexposure = \"internet\"\n",
                5,
                "small, controlled, open",
            ),
            (
                "name = \"x\"\nremediation = \"weekly\"\nclock = \"now\"\n",
                2,
                "unknown variant",
            ),
            (
                "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\ncolour = \"red\"\n",
                4,
                "unknown field",
            ),
            ("name = \"x\"\nremediation = \"windows\"\n", 1, "clock"),
            (
                "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n[incidents]\ntriage = \"soon\"\n",
                5,
                "is not a duration",
            ),
            (
                "name = \"x\"\nremediation = \"windows\"\nclock = \"now\"\n[incidents]\ncontain = \"0h\"\n",
                5,
                "longer than zero",
            ),
        ];
        for (text, line, words) in cases {
            let e = Policy::parse("p.toml", text).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(e.message.contains(words), "{e}");
            assert!(
                e.to_string().starts_with(&format!("p.toml:{line}: ")),
                "{e}"
            );
        }
    }
}
