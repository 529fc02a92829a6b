//! Renderings of a scan: a table for people, SARIF 2.1.0 for code-scanning tools.
//! (JSON is the report itself, serialised: `docs/findings.md`.)

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde_json::{Value, json};
use ward_matching::ScanReport;
use ward_model::{Confidence, Finding, FindingKind, Inventory, Priority};

/// How a table is laid out: to a width (the terminal's, 100 columns when not a terminal), or
/// `wide`: every column, nothing shortened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) width: usize,
    pub(crate) wide: bool,
}

/// Cells are shortened to fit with an ellipsis; ids and priorities never are.
fn fit(text: &str, width: usize) -> String {
    console::truncate_str(text, width, "…").into_owned()
}

fn display_width(text: &str) -> usize {
    console::measure_text_width(text)
}

fn component_cell(f: &Finding) -> String {
    match f.component.version.as_deref() {
        Some(v) => format!("{}@{v}", f.component.name),
        None => f.component.name.clone(),
    }
}

fn fixed_cell(f: &Finding) -> String {
    if f.fixed_versions.is_empty() {
        "-".into()
    } else {
        f.fixed_versions.join(", ")
    }
}

fn severity_cell(f: &Finding) -> String {
    f.severity.level.to_string()
}

/// A table for people: findings grouped under their asset (most urgent asset first), then
/// informational notices, then what could not be checked and the summary. Laid out by hand
/// (columns padded to one width for the whole table, cells shortened with `…`), so that the
/// groups line up and the table fits the width it is given.
pub(crate) fn table(
    out: &mut dyn Write,
    report: &ScanReport,
    inventory: &Inventory,
    layout: Layout,
) -> io::Result<()> {
    let (vulnerabilities, notices): (Vec<&Finding>, Vec<&Finding>) = report
        .findings
        .iter()
        .partition(|f| f.kind == FindingKind::Vulnerability);
    // Each asset's findings, the assets in the order of their most urgent finding (findings
    // come sorted): grouped in one pass. Searched for asset by asset, a 50,000-component
    // scan's 88,000 findings on 1,000 assets took 6 s of comparing names.
    let mut places: HashMap<&str, usize> = HashMap::new();
    let mut assets: Vec<(&str, Vec<&Finding>)> = Vec::new();
    for f in &vulnerabilities {
        let place = *places.entry(f.asset.as_str()).or_insert_with(|| {
            assets.push((f.asset.as_str(), Vec::new()));
            assets.len() - 1
        });
        assets[place].1.push(f);
    }
    if !vulnerabilities.is_empty() {
        let grid = Grid::for_findings(&vulnerabilities, layout);
        writeln!(out, "{}", grid.header())?;
        let named: HashMap<&str, &ward_model::Asset> = inventory
            .assets
            .iter()
            .map(|a| (a.name.as_str(), a))
            .collect();
        for (asset, findings) in &assets {
            let heading = asset_heading(asset, named.get(asset).copied(), findings);
            say(out, layout, "", &heading)?;
            for f in findings {
                writeln!(out, "{}", grid.row(&finding_cells(f, layout.wide)))?;
            }
        }
    }
    if !notices.is_empty() {
        writeln!(out)?;
        say(
            out,
            layout,
            "",
            &format!(
                "Informational: {} advisor{} that {} not vulnerabilities (unmaintained, unsound, notices)",
                notices.len(),
                if notices.len() == 1 { "y" } else { "ies" },
                if notices.len() == 1 { "is" } else { "are" },
            ),
        )?;
        let rows: Vec<Vec<String>> = notices
            .iter()
            .map(|f| {
                vec![
                    f.informational.clone().unwrap_or_default(),
                    f.vulnerability.clone(),
                    f.asset.clone(),
                    component_cell(f),
                    f.title.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let grid = Grid::fit(
            &["kind", "advisory", "asset", "component@version", "title"],
            &rows,
            &[
                Fit::Keep,
                Fit::Keep,
                Fit::Share(1),
                Fit::Share(2),
                Fit::Rest,
            ],
            layout,
        );
        writeln!(out, "{}", grid.header())?;
        for r in &rows {
            writeln!(out, "{}", grid.row(r))?;
        }
    }
    writeln!(out)?;
    footer(out, report, inventory, layout)
}

fn asset_heading(asset: &str, named: Option<&ward_model::Asset>, findings: &[&Finding]) -> String {
    let n = findings.len();
    let mut facts = Vec::new();
    if let Some(a) = named {
        if let Some(e) = a.exposure {
            facts.push(format!("exposure {}", e.as_str()));
        }
        if let Some(c) = a.criticality {
            facts.push(format!("criticality {}", c.as_str()));
        }
    }
    facts.push(format!("{n} finding{}", if n == 1 { "" } else { "s" }));
    // The deadline that comes first (every finding's is in `--wide`).
    if let Some(due) = findings
        .iter()
        .filter_map(|f| f.deadlines.remediate_by)
        .min()
    {
        facts.push(format!("remediate by {}", due.format("%Y-%m-%d %H:%M")));
    }
    format!("{asset}: {}", facts.join(", "))
}

const FINDING_HEADER: [&str; 6] = [
    "priority",
    "severity",
    "vulnerability",
    "component@version",
    "fixed in",
    "title",
];
const WIDE_HEADER: [&str; 6] = [
    "CVSS",
    "EPSS",
    "KEV due",
    "remediate by",
    "confidence",
    "source",
];

fn finding_cells(f: &Finding, wide: bool) -> Vec<String> {
    let mut row = vec![
        f.priority.to_string(),
        severity_cell(f),
        f.vulnerability.clone(),
        component_cell(f),
        fixed_cell(f),
        f.title.clone().unwrap_or_else(|| "-".into()),
    ];
    if wide {
        let cvss = f
            .cvss
            .iter()
            .map(|c| c.base_score)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        row.extend([
            cvss.map_or("-".into(), |s| format!("{s:.1}")),
            f.epss
                .as_ref()
                .map_or("-".into(), |e| format!("{:.3}", e.score)),
            f.kev.as_ref().map_or("-".into(), |k| {
                k.due_date.map_or("listed".into(), |d| d.to_string())
            }),
            f.deadlines
                .remediate_by
                .map_or("-".into(), |d| d.format("%Y-%m-%d %H:%M").to_string()),
            confidence_word(f.confidence).into(),
            f.explanation.source.clone(),
        ]);
    }
    row
}

/// How a column gives way when the table is too wide.
#[derive(Clone, Copy)]
enum Fit {
    /// Never shortened (ids, priorities).
    Keep,
    /// Shortened to at most this many shares of the room left by the kept columns.
    Share(usize),
    /// Takes whatever is left.
    Rest,
}

/// Column widths for a table; rows are indented by two spaces, columns two apart.
struct Grid {
    header: Vec<String>,
    widths: Vec<usize>,
}

impl Grid {
    fn for_findings(findings: &[&Finding], layout: Layout) -> Self {
        let rows: Vec<Vec<String>> = findings
            .iter()
            .map(|f| finding_cells(f, layout.wide))
            .collect();
        let mut header: Vec<&str> = FINDING_HEADER.to_vec();
        let mut fits = vec![
            Fit::Keep,
            Fit::Keep,
            Fit::Keep,
            Fit::Share(3),
            Fit::Share(1),
            Fit::Rest,
        ];
        if layout.wide {
            header.extend(WIDE_HEADER);
            fits.extend([Fit::Keep; 6]);
        }
        Self::fit(&header, &rows, &fits, layout)
    }

    fn fit(header: &[&str], rows: &[Vec<String>], fits: &[Fit], layout: Layout) -> Self {
        let natural: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| display_width(&r[i]))
                    .chain([display_width(header[i])])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut widths = natural.clone();
        if !layout.wide {
            let kept: usize = fits
                .iter()
                .zip(&natural)
                .filter(|(f, _)| matches!(f, Fit::Keep))
                .map(|(_, w)| w)
                .sum();
            let gaps = 2 + 2 * (header.len() - 1);
            let room = layout.width.saturating_sub(kept + gaps);
            let shares: usize = fits
                .iter()
                .map(|f| match f {
                    Fit::Share(n) => *n,
                    Fit::Rest => 2,
                    Fit::Keep => 0,
                })
                .sum();
            let mut left = room;
            for (i, f) in fits.iter().enumerate() {
                if let Fit::Share(n) = f {
                    // A shared column takes its share, or less when its content is narrower.
                    let cap = (room * n / shares.max(1)).max(8);
                    widths[i] = natural[i].min(cap);
                    left = left.saturating_sub(widths[i]);
                }
            }
            for (i, f) in fits.iter().enumerate() {
                if let Fit::Rest = f {
                    widths[i] = natural[i].min(left.max(8));
                }
            }
        }
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            widths,
        }
    }

    fn header(&self) -> String {
        let line = self.row(&self.header);
        let rule = "─".repeat(display_width(&line).saturating_sub(2));
        format!("{line}\n  {rule}")
    }

    fn row(&self, cells: &[String]) -> String {
        let last = self.widths.len() - 1;
        let mut out = String::from(" ");
        for (i, (cell, &w)) in cells.iter().zip(&self.widths).enumerate() {
            out.push(' ');
            let text = fit(cell, w);
            out.push_str(&text);
            if i < last {
                out.push_str(&" ".repeat(w - display_width(&text) + 1));
            }
        }
        out
    }
}

/// A line for people, wrapped to the layout's width (continuation lines indented two more).
fn say(out: &mut dyn Write, layout: Layout, indent: &str, text: &str) -> io::Result<()> {
    if layout.wide {
        return writeln!(out, "{indent}{text}");
    }
    let more = format!("{indent}  ");
    let options = textwrap::Options::new(layout.width)
        .initial_indent(indent)
        .subsequent_indent(&more);
    for line in textwrap::wrap(text, options) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// What was found in numbers, what could not be checked, and what sources disagreed on.
fn footer(
    out: &mut dyn Write,
    report: &ScanReport,
    inventory: &Inventory,
    layout: Layout,
) -> io::Result<()> {
    let s = &report.summary;
    let gaps: Vec<_> = report.coverage.iter().filter(|c| !c.checked).collect();
    let shown = |n: usize| if layout.wide { usize::MAX } else { n };
    if s.findings == 0 {
        if gaps.is_empty() && report.unchecked.is_empty() {
            say(out, layout, "", "No findings.")?;
        } else {
            say(
                out,
                layout,
                "",
                "No findings among the components Ward could check; see below what it could not.",
            )?;
        }
    }
    let priorities: Vec<String> = s
        .by_priority
        .iter()
        .map(|(p, n)| format!("{n} {p}"))
        .collect();
    let severities: Vec<String> = s
        .by_severity
        .iter()
        .map(|(l, n)| format!("{n} {l}"))
        .collect();
    say(
        out,
        layout,
        "",
        &format!(
            "{} finding{}{} on {} asset{}, {} component{} scanned{}.",
            s.findings,
            if s.findings == 1 { "" } else { "s" },
            if priorities.is_empty() {
                String::new()
            } else {
                format!(
                    " ({}; severity {})",
                    priorities.join(", "),
                    severities.join(", ")
                )
            },
            inventory.assets.len(),
            if inventory.assets.len() == 1 { "" } else { "s" },
            s.components,
            if s.components == 1 { "" } else { "s" },
            if s.informational > 0 {
                format!("; {} informational notices", s.informational)
            } else {
                String::new()
            }
        ),
    )?;
    let checked: Vec<String> = report
        .coverage
        .iter()
        .filter(|c| c.checked)
        .map(|c| {
            format!(
                "{} ({} advisories{})",
                if c.kind == "package" {
                    c.name.as_str()
                } else {
                    "CPE"
                },
                c.advisories,
                c.updated
                    .map(|u| format!(", updated {}", u.format("%Y-%m-%d")))
                    .unwrap_or_default()
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !checked.is_empty() {
        say(
            out,
            layout,
            "",
            &format!("Checked against: {}.", checked.join("; ")),
        )?;
    }
    if !gaps.is_empty() {
        say(
            out,
            layout,
            "",
            "Not checked (the knowledge base has nothing for them):",
        )?;
        for c in &gaps {
            say(out, layout, "  ", &c.note)?;
        }
    }
    if !report.unchecked.is_empty() {
        say(
            out,
            layout,
            "",
            &format!(
                "Not checked: {} component{} whose version cannot be placed (never guessed):",
                report.unchecked.len(),
                if report.unchecked.len() == 1 { "" } else { "s" }
            ),
        )?;
        for u in report.unchecked.iter().take(shown(10)) {
            say(
                out,
                layout,
                "  ",
                &format!(
                    "{} on {}: {} ({} advisor{} name it)",
                    u.component
                        .version
                        .as_deref()
                        .map_or(u.component.name.clone(), |v| format!(
                            "{}@{v}",
                            u.component.name
                        )),
                    u.asset,
                    u.reason,
                    u.advisories,
                    if u.advisories == 1 { "y" } else { "ies" }
                ),
            )?;
        }
        if report.unchecked.len() > shown(10) {
            say(
                out,
                layout,
                "  ",
                &format!(
                    "… and {} more (`--wide` or `--format json` lists them all)",
                    report.unchecked.len() - 10
                ),
            )?;
        }
    }
    let disagreeing = report
        .findings
        .iter()
        .filter(|f| !f.explanation.disagreements.is_empty())
        .count();
    if disagreeing > 0 || !report.suppressed.is_empty() {
        say(
            out,
            layout,
            "",
            &format!(
                "Sources disagree on {disagreeing} findings; {} components not reported because a more precise source says unaffected.",
                report.suppressed.len()
            ),
        )?;
        for s in report.suppressed.iter().take(shown(10)) {
            say(
                out,
                layout,
                "  ",
                &format!(
                    "not reported: {} on {} ({} {}): {}",
                    s.vulnerability,
                    s.asset,
                    s.component.name,
                    s.component.version.as_deref().unwrap_or("?"),
                    s.reason
                ),
            )?;
        }
        if report.suppressed.len() > shown(10) {
            say(
                out,
                layout,
                "  ",
                &format!("… and {} more", report.suppressed.len() - 10),
            )?;
        }
        say(
            out,
            layout,
            "",
            "`--format json` shows every source's verdict and the reasons.",
        )?;
    }
    Ok(())
}

/// One row per finding, for spreadsheets: every column of `--wide` and the identifiers.
pub(crate) fn csv(report: &ScanReport) -> anyhow::Result<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "asset",
        "kind",
        "priority",
        "severity",
        "severity_score",
        "severity_source",
        "vulnerability",
        "aliases",
        "component",
        "version",
        "purl",
        "cpe",
        "fixed_in",
        "title",
        "cvss",
        "epss",
        "kev_due",
        "acknowledge_by",
        "remediate_by",
        "confidence",
        "source",
    ])?;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    for f in &report.findings {
        let cvss = f
            .cvss
            .iter()
            .map(|c| c.base_score)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        w.write_record([
            f.asset.clone(),
            match f.kind {
                FindingKind::Vulnerability => "vulnerability".into(),
                FindingKind::Informational => "informational".into(),
            },
            f.priority.to_string(),
            f.severity.level.to_string(),
            f.severity
                .score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
            f.severity.source.clone().unwrap_or_default(),
            f.vulnerability.clone(),
            f.aliases.join(" "),
            f.component.name.clone(),
            f.component.version.clone().unwrap_or_default(),
            f.component.purl.clone().unwrap_or_default(),
            f.component.cpe.clone().unwrap_or_default(),
            f.fixed_versions.join(" "),
            f.title.clone().unwrap_or_default(),
            cvss.map(|s| format!("{s:.1}")).unwrap_or_default(),
            f.epss
                .as_ref()
                .map(|e| format!("{:.5}", e.score))
                .unwrap_or_default(),
            f.kev
                .as_ref()
                .and_then(|k| k.due_date)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            time(f.deadlines.acknowledge_by),
            time(f.deadlines.remediate_by),
            confidence_word(f.confidence).into(),
            f.explanation.source.clone(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn confidence_word(c: Confidence) -> &'static str {
    c.words()
}

fn level(p: Priority) -> &'static str {
    match p {
        Priority::Immediate | Priority::OutOfCycle => "error",
        Priority::Scheduled => "warning",
        Priority::Defer => "note",
    }
}

fn message(f: &Finding) -> String {
    let mut m = format!(
        "{} {} on {} is affected by {}{}: {} {} matched {}.",
        f.component.name,
        f.component.version.as_deref().unwrap_or(""),
        f.asset,
        f.vulnerability,
        f.title
            .as_ref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default(),
        f.explanation.source,
        f.explanation.criterion,
        f.explanation.range
    );
    if !f.fixed_versions.is_empty() {
        m.push_str(&format!(" Fixed in {}.", f.fixed_versions.join(", ")));
    }
    m.push_str(&format!(
        " Priority {}: {}",
        f.priority, f.explanation.priority
    ));
    m
}

/// SARIF 2.1.0: one rule per vulnerability, one result per finding. The inventory file is the
/// artifact; the asset and component are logical locations.
///
/// Serialised as it is written: each result is built, written and dropped in turn. Built as one
/// document first, a 50,000-component scan's 88,000 results took 1.2 GB beside the report.
pub(crate) fn sarif<'a>(
    report: &'a ScanReport,
    inventory: &'a Inventory,
    sources: &'a [String],
) -> impl serde::Serialize + 'a {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for f in &report.findings {
        if index.contains_key(f.vulnerability.as_str()) {
            continue;
        }
        index.insert(&f.vulnerability, rules.len());
        // GitHub's code scanning ranks by `security-severity`: the finding's own severity
        // score, else the highest CVSS.
        let score = f
            .severity
            .score
            .unwrap_or_else(|| f.cvss.iter().map(|c| c.base_score).fold(0.0, f64::max));
        rules.push(json!({
            "id": f.vulnerability,
            "name": f.vulnerability,
            "shortDescription": { "text": f.title.clone().unwrap_or_else(|| f.vulnerability.clone()) },
            "helpUri": format!("https://nvd.nist.gov/vuln/detail/{}", f.vulnerability),
            "properties": {
                "security-severity": format!("{score:.1}"),
                "tags": ["security", "vulnerability"],
            },
        }));
    }
    // Each finding's asset maps to the inventory file that described it (the first, where
    // two files name one asset).
    let mut files: HashMap<&str, &String> = HashMap::new();
    for (asset, file) in inventory.assets.iter().zip(sources) {
        files.entry(asset.name.as_str()).or_insert(file);
    }
    Sarif {
        tool: json!({ "driver": {
            "name": "ward",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://example.invalid/ward",
            "rules": rules,
        }}),
        results: SarifResults {
            findings: &report.findings,
            index,
            files,
        },
    }
}

/// A SARIF log of one run; its members written in the order `serde_json::Value` writes them
/// (by name), as the document was when it was built whole.
struct Sarif<'a> {
    tool: Value,
    results: SarifResults<'a>,
}

impl serde::Serialize for Sarif<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Run<'r>(&'r Sarif<'r>);
        impl serde::Serialize for Run<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut run = serializer.serialize_map(Some(2))?;
                run.serialize_entry("results", &self.0.results)?;
                run.serialize_entry("tool", &self.0.tool)?;
                run.end()
            }
        }
        let mut log = serializer.serialize_map(Some(3))?;
        log.serialize_entry(
            "$schema",
            "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        )?;
        log.serialize_entry("runs", &[Run(self)])?;
        log.serialize_entry("version", "2.1.0")?;
        log.end()
    }
}

/// A run's results, each built as it is written.
struct SarifResults<'a> {
    findings: &'a [Finding],
    /// Each vulnerability's place among the rules.
    index: HashMap<&'a str, usize>,
    /// Each asset's inventory file.
    files: HashMap<&'a str, &'a String>,
}

impl serde::Serialize for SarifResults<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.findings.len()))?;
        for f in self.findings {
            seq.serialize_element(&self.result(f))?;
        }
        seq.end()
    }
}

impl SarifResults<'_> {
    fn result(&self, f: &Finding) -> Value {
        let mut location = json!({
            "logicalLocations": [{
                "name": f.component.name,
                "fullyQualifiedName": format!("{}/{}@{}", f.asset, f.component.name, f.component.version.as_deref().unwrap_or("")),
                "kind": "module",
            }]
        });
        if let Some(file) = self.files.get(f.asset.as_str()) {
            location["physicalLocation"] = json!({ "artifactLocation": { "uri": file } });
        }
        json!({
            "ruleId": f.vulnerability,
            "ruleIndex": self.index[f.vulnerability.as_str()],
            "level": if f.kind == FindingKind::Informational { "note" } else { level(f.priority) },
            "message": { "text": message(f) },
            "locations": [location],
            "partialFingerprints": {
                "wardFinding/v1": format!("{}|{}|{}|{}", f.vulnerability, f.asset, f.component.name, f.component.version.as_deref().unwrap_or("")),
            },
            "properties": {
                "priority": f.priority,
                "severity": f.severity,
                "kind": f.kind,
                "confidence": f.confidence,
                "kev": f.kev,
                "epss": f.epss,
                "fixed_versions": f.fixed_versions,
                "cpe": f.component.cpe,
                "purl": f.component.purl,
            },
        })
    }
}

/// The vulnerabilities found, once per vulnerability and product (its purl, else its CPE):
/// what VEX documents out call affected.
fn affected(report: &ScanReport) -> Vec<(&ward_model::Finding, String)> {
    let mut seen = std::collections::BTreeSet::new();
    report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Vulnerability)
        .filter_map(|f| {
            let id = f
                .component
                .purl
                .clone()
                .or_else(|| f.component.cpe.clone())?;
            seen.insert((f.vulnerability.clone(), id.clone()))
                .then_some((f, id))
        })
        .collect()
}

/// OpenVEX 0.2 (validated against the OpenVEX schema in the tests): one `affected` statement per
/// vulnerability and product found (the fix to upgrade to as its action), and the statements of
/// the VEX documents given with `--vex` that cleared findings, carried with their author. The
/// document's id is a digest of its statements, so the same scan gives the same id.
pub(crate) fn openvex(report: &ScanReport) -> Value {
    use sha2::{Digest, Sha256};
    let mut statements: Vec<Value> = Vec::new();
    for (f, id) in affected(report) {
        let mut identifiers = serde_json::Map::new();
        if let Some(p) = &f.component.purl {
            identifiers.insert("purl".into(), json!(p));
        }
        if let Some(c) = &f.component.cpe {
            identifiers.insert("cpe23".into(), json!(c));
        }
        let mut vulnerability = json!({ "name": f.vulnerability });
        if !f.aliases.is_empty() {
            vulnerability["aliases"] = json!(f.aliases);
        }
        statements.push(json!({
            "vulnerability": vulnerability,
            "products": [{ "@id": id, "identifiers": identifiers }],
            "status": "affected",
            "action_statement": if f.fixed_versions.is_empty() {
                "No fix release is named by the sources: follow the vendor's advisory".to_owned()
            } else {
                format!("Upgrade to {}", f.fixed_versions.join(" or "))
            },
        }));
    }
    for s in report
        .suppressed
        .iter()
        .filter_map(|s| s.statement.as_ref())
    {
        // A CycloneDX `bom-ref` is no IRI: the product's purl or CPE stands for it.
        let products: Vec<Value> = s
            .products
            .iter()
            .map(|p| json!({ "@id": p.purl.clone().or(p.cpe.clone()).unwrap_or(p.id.clone()) }))
            .collect();
        let mut st = json!({
            "vulnerability": { "name": s.vulnerability },
            "products": products,
            "status": s.status.as_str(),
        });
        if let Some(j) = &s.justification {
            st["justification"] = json!(j);
        }
        if let Some(i) = &s.impact {
            st["impact_statement"] = json!(i);
        }
        if s.status == ward_model::VexStatus::NotAffected
            && s.justification.is_none()
            && s.impact.is_none()
        {
            st["impact_statement"] = json!(format!("as stated in {}", s.document));
        }
        if let Some(a) = &s.author {
            st["supplier"] = json!(a);
        }
        if let Some(t) = s.timestamp {
            st["timestamp"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        statements.push(st);
    }
    let digest = hex::encode(Sha256::digest(
        serde_json::to_string(&statements)
            .unwrap_or_default()
            .as_bytes(),
    ));
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("urn:ward:vex:{}", &digest[..32]),
        "author": "Ward (scan)",
        "role": "Scanner",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "version": 1,
        "tooling": concat!("ward ", env!("CARGO_PKG_VERSION")),
        "statements": statements,
    })
}

use ward_feeds::vex_out::cyclonedx_justification;

/// A CSAF 2.0 VEX document (validated against the OASIS schema in the tests): what was found
/// as `known_affected` with the fix as its remediation, and the statements that cleared findings
/// as they were made. The scan is the publisher (`urn:ward:scan`).
pub(crate) fn csaf_vex(report: &ScanReport) -> Value {
    let mut statements: Vec<ward_model::VexStatement> = Vec::new();
    for (f, id) in affected(report) {
        statements.push(ward_model::VexStatement {
            vulnerability: f.vulnerability.clone(),
            aliases: f.aliases.clone(),
            products: vec![ward_model::VexProduct {
                id,
                purl: f.component.purl.clone(),
                cpe: f.component.cpe.clone(),
            }],
            subcomponents: Vec::new(),
            status: ward_model::VexStatus::Affected,
            justification: None,
            impact: None,
            action: (!f.fixed_versions.is_empty())
                .then(|| format!("Upgrade to {}", f.fixed_versions.join(" or "))),
            author: None,
            timestamp: None,
            document: "ward scan".into(),
        });
    }
    statements.extend(report.suppressed.iter().filter_map(|s| s.statement.clone()));
    ward_feeds::vex_out::csaf(
        &statements,
        &ward_feeds::vex_out::Publisher {
            name: "Ward (scan)".into(),
            namespace: "urn:ward:scan".into(),
            category: "user",
            timestamp: chrono::Utc::now(),
        },
    )
}

/// CycloneDX 1.5 VEX (validated against the CycloneDX schema in the tests): the components
/// findings and statements name, and one vulnerability entry per vulnerability and component
/// with its `analysis` — `exploitable` with the fix to upgrade to for what was found, the
/// statements that cleared findings as `not_affected` or `resolved`.
pub(crate) fn cyclonedx_vex(report: &ScanReport) -> Value {
    use sha2::{Digest, Sha256};
    let mut components: Vec<Value> = Vec::new();
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    let mut component_ref = |c: &ward_model::ComponentRef| -> String {
        let key = format!(
            "{}|{}|{}|{}",
            c.name,
            c.version.as_deref().unwrap_or(""),
            c.purl.as_deref().unwrap_or(""),
            c.cpe.as_deref().unwrap_or("")
        );
        if let Some(r) = refs.get(&key) {
            return r.clone();
        }
        let r = format!("component-{}", refs.len() + 1);
        let mut entry = json!({ "type": "library", "bom-ref": r, "name": c.name });
        if let Some(v) = &c.version {
            entry["version"] = json!(v);
        }
        if let Some(p) = &c.purl {
            entry["purl"] = json!(p);
        }
        if let Some(cpe) = &c.cpe {
            entry["cpe"] = json!(cpe);
        }
        components.push(entry);
        refs.insert(key, r.clone());
        r
    };
    let mut vulnerabilities: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Vulnerability)
    {
        let r = component_ref(&f.component);
        if !seen.insert((f.vulnerability.clone(), r.clone())) {
            continue;
        }
        let mut v = json!({
            "id": f.vulnerability,
            "analysis": {
                "state": "exploitable",
                "response": if f.fixed_versions.is_empty() { json!(["can_not_fix"]) } else { json!(["update"]) },
                "detail": if f.fixed_versions.is_empty() {
                    format!("{}: no fix release is named by the sources", f.explanation.source)
                } else {
                    format!("Upgrade to {}", f.fixed_versions.join(" or "))
                },
            },
            "affects": [{ "ref": r }],
        });
        if let Some(score) = f.severity.score {
            let method = match f.severity.basis.as_deref() {
                Some("CVSS 4.0") => "CVSSv4",
                Some("CVSS 3.1") => "CVSSv31",
                Some("CVSS 3.0") => "CVSSv3",
                Some("CVSS 2.0") => "CVSSv2",
                _ => "other",
            };
            v["ratings"] = json!([{
                "score": score,
                "severity": f.severity.level.as_str(),
                "method": method,
                "source": { "name": f.severity.source.clone().unwrap_or_default() },
            }]);
        }
        vulnerabilities.push(v);
    }
    for s in &report.suppressed {
        let Some(st) = &s.statement else { continue };
        let r = component_ref(&s.component);
        if !seen.insert((s.vulnerability.clone(), r.clone())) {
            continue;
        }
        let mut analysis = json!({
            "state": if st.status == ward_model::VexStatus::Fixed { "resolved" } else { "not_affected" },
            "detail": format!(
                "{}{}",
                st.author.as_deref().map(|a| format!("{a}: ")).unwrap_or_default(),
                st.impact.clone().unwrap_or_else(|| format!("as stated in {}", st.document))
            ),
        });
        if let Some(j) = st
            .justification
            .as_deref()
            .and_then(cyclonedx_justification)
        {
            analysis["justification"] = json!(j);
        }
        if let Some(t) = st.timestamp {
            analysis["lastUpdated"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        vulnerabilities.push(json!({
            "id": s.vulnerability,
            "analysis": analysis,
            "affects": [{ "ref": r }],
        }));
    }
    let digest = hex::encode(Sha256::digest(
        serde_json::to_string(&vulnerabilities)
            .unwrap_or_default()
            .as_bytes(),
    ));
    // A UUID (version 4 layout) from the digest: the same scan, the same serial number.
    let serial = format!(
        "urn:uuid:{}-{}-4{}-8{}-{}",
        &digest[0..8],
        &digest[8..12],
        &digest[13..16],
        &digest[17..20],
        &digest[20..32]
    );
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "tools": { "components": [{ "type": "application", "name": "ward", "version": env!("CARGO_PKG_VERSION") }] },
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}
