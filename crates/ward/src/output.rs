//! Renderings of a scan: a table for people, SARIF 2.1.0 for code-scanning tools.
//! (JSON is the report itself, serialised: `docs/findings.md`.)

use std::collections::HashMap;
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
        .map(|f| &**f)
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
                    f.title.as_deref().unwrap_or("-").to_owned(),
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
        f.title.as_deref().unwrap_or("-").to_owned(),
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
            f.title.as_deref().unwrap_or_default().to_owned(),
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
            "shortDescription": { "text": f.title.as_deref().unwrap_or(&f.vulnerability) },
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
    findings: &'a [Box<Finding>],
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
                .then_some((&**f, id))
        })
        .collect()
}

/// OpenVEX 0.2 (validated against the OpenVEX schema in the tests): one `affected` statement per
/// vulnerability and product found (the fix to upgrade to as its action), and the statements of
/// the VEX documents given with `--vex` that cleared findings, carried with their author. The
/// document's id is a digest of its statements, so the same scan gives the same id.
///
/// Written as it is serialised: each statement is built when it is written (and once before,
/// for the digest). Held as one document, a 50,000-component scan's 88,000 statements took
/// 450 MB beside the report.
pub(crate) fn openvex(report: &ScanReport) -> impl serde::Serialize + '_ {
    let statements = OpenVexStatements {
        affected: affected(report),
        suppressed: &report.suppressed,
    };
    let digest = digest_of(&statements);
    OpenVex {
        id: format!("urn:ward:vex:{}", &digest[..32]),
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        statements,
    }
}

struct OpenVex<'a> {
    id: String,
    timestamp: String,
    statements: OpenVexStatements<'a>,
}

impl serde::Serialize for OpenVex<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // By name, as `serde_json::Value` writes an object's members.
        let mut doc = serializer.serialize_map(Some(8))?;
        doc.serialize_entry("@context", "https://openvex.dev/ns/v0.2.0")?;
        doc.serialize_entry("@id", &self.id)?;
        doc.serialize_entry("author", "Ward (scan)")?;
        doc.serialize_entry("role", "Scanner")?;
        doc.serialize_entry("statements", &self.statements)?;
        doc.serialize_entry("timestamp", &self.timestamp)?;
        doc.serialize_entry("tooling", concat!("ward ", env!("CARGO_PKG_VERSION")))?;
        doc.serialize_entry("version", &1)?;
        doc.end()
    }
}

/// What was found as `affected`, then the statements that cleared findings.
struct OpenVexStatements<'a> {
    affected: Vec<(&'a Finding, String)>,
    suppressed: &'a [ward_matching::scan::Suppressed],
}

impl serde::Serialize for OpenVexStatements<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let cleared = self
            .suppressed
            .iter()
            .filter_map(|s| s.statement.as_ref())
            .map(openvex_cleared);
        let found = self.affected.iter().map(|(f, id)| openvex_affected(f, id));
        write_items(serializer, found.chain(cleared))
    }
}

fn openvex_affected(f: &Finding, id: &str) -> Value {
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
    json!({
        "vulnerability": vulnerability,
        "products": [{ "@id": id, "identifiers": identifiers }],
        "status": "affected",
        "action_statement": if f.fixed_versions.is_empty() {
            "No fix release is named by the sources: follow the vendor's advisory".to_owned()
        } else {
            format!("Upgrade to {}", f.fixed_versions.join(" or "))
        },
    })
}

fn openvex_cleared(s: &ward_model::VexStatement) -> Value {
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
    st
}

/// A JSON array of `items`, each written as it is built.
fn write_items<S: serde::Serializer>(
    serializer: S,
    items: impl Iterator<Item = Value>,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(None)?;
    for item in items {
        seq.serialize_element(&item)?;
    }
    seq.end()
}

/// The SHA-256 of `value` as compact JSON, in hex: written into the hash, never held whole.
fn digest_of(value: &impl serde::Serialize) -> String {
    use sha2::{Digest, Sha256};
    struct Hashing(Sha256);
    impl Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(Sha256::new());
    // Values and strings only: serialising them cannot fail, and the hash takes every byte.
    serde_json::to_writer(&mut hashing, value).expect("JSON values serialise");
    hex::encode(hashing.0.finalize())
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
///
/// Written as it is serialised: each component and vulnerability entry is built when it is
/// written (and the entries once before, for the serial number's digest).
pub(crate) fn cyclonedx_vex<'a>(report: &'a ScanReport) -> impl serde::Serialize + 'a {
    let mut components: Vec<&ward_model::ComponentRef> = Vec::new();
    let mut refs: HashMap<[&str; 4], usize> = HashMap::new();
    // Each distinct component is numbered in the order first named: `component-1`, ….
    let mut component_ref = |c: &'a ward_model::ComponentRef| -> usize {
        let key = [
            c.name.as_str(),
            c.version.as_deref().unwrap_or(""),
            c.purl.as_deref().unwrap_or(""),
            c.cpe.as_deref().unwrap_or(""),
        ];
        *refs.entry(key).or_insert_with(|| {
            components.push(c);
            components.len()
        })
    };
    let mut entries: Vec<(Entry<'a>, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Vulnerability)
    {
        let r = component_ref(&f.component);
        if seen.insert((f.vulnerability.as_str(), r)) {
            entries.push((Entry::Found(f), r));
        }
    }
    for s in &report.suppressed {
        let Some(st) = &s.statement else { continue };
        let r = component_ref(&s.component);
        if seen.insert((s.vulnerability.as_str(), r)) {
            entries.push((Entry::Cleared(s, st), r));
        }
    }
    let vulnerabilities = CycloneDxVulnerabilities(entries);
    let digest = digest_of(&vulnerabilities);
    // A UUID (version 4 layout) from the digest: the same scan, the same serial number.
    let serial = format!(
        "urn:uuid:{}-{}-4{}-8{}-{}",
        &digest[0..8],
        &digest[8..12],
        &digest[13..16],
        &digest[17..20],
        &digest[20..32]
    );
    CycloneDxVex {
        serial,
        metadata: json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "tools": { "components": [{ "type": "application", "name": "ward", "version": env!("CARGO_PKG_VERSION") }] },
        }),
        components: CycloneDxComponents(components),
        vulnerabilities,
    }
}

struct CycloneDxVex<'a> {
    serial: String,
    metadata: Value,
    components: CycloneDxComponents<'a>,
    vulnerabilities: CycloneDxVulnerabilities<'a>,
}

impl serde::Serialize for CycloneDxVex<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // By name, as `serde_json::Value` writes an object's members.
        let mut doc = serializer.serialize_map(Some(7))?;
        doc.serialize_entry("bomFormat", "CycloneDX")?;
        doc.serialize_entry("components", &self.components)?;
        doc.serialize_entry("metadata", &self.metadata)?;
        doc.serialize_entry("serialNumber", &self.serial)?;
        doc.serialize_entry("specVersion", "1.5")?;
        doc.serialize_entry("version", &1)?;
        doc.serialize_entry("vulnerabilities", &self.vulnerabilities)?;
        doc.end()
    }
}

/// The components findings and statements name, `component-1` first.
struct CycloneDxComponents<'a>(Vec<&'a ward_model::ComponentRef>);

impl serde::Serialize for CycloneDxComponents<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write_items(
            serializer,
            self.0.iter().enumerate().map(|(i, c)| {
                let mut entry = json!({ "type": "library", "bom-ref": format!("component-{}", i + 1), "name": c.name });
                if let Some(v) = &c.version {
                    entry["version"] = json!(v);
                }
                if let Some(p) = &c.purl {
                    entry["purl"] = json!(p);
                }
                if let Some(cpe) = &c.cpe {
                    entry["cpe"] = json!(cpe);
                }
                entry
            }),
        )
    }
}

/// A vulnerability entry: a finding, or a statement that cleared one.
enum Entry<'a> {
    Found(&'a Finding),
    Cleared(
        &'a ward_matching::scan::Suppressed,
        &'a ward_model::VexStatement,
    ),
}

/// One entry per vulnerability and component, with the component's number.
struct CycloneDxVulnerabilities<'a>(Vec<(Entry<'a>, usize)>);

impl serde::Serialize for CycloneDxVulnerabilities<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write_items(
            serializer,
            self.0.iter().map(|(entry, r)| {
                let r = format!("component-{r}");
                match entry {
                    Entry::Found(f) => cyclonedx_found(f, &r),
                    Entry::Cleared(s, st) => cyclonedx_cleared(s, st, &r),
                }
            }),
        )
    }
}

fn cyclonedx_found(f: &Finding, r: &str) -> Value {
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
    v
}

fn cyclonedx_cleared(
    s: &ward_matching::scan::Suppressed,
    st: &ward_model::VexStatement,
    r: &str,
) -> Value {
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
    json!({
        "id": s.vulnerability,
        "analysis": analysis,
        "affects": [{ "ref": r }],
    })
}
