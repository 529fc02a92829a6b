//! `ward scan`: inventories → findings, most urgent first.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ward_inventory::parse_inventory;
use ward_matching::{Knowledge, ScanReport};
use ward_model::{Inventory, Priority};
use ward_priority::Policy;
use ward_store::Store;

use crate::{DbArgs, exit, output};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScanFormat {
    Table,
    Json,
    Sarif,
    Csv,
    /// OpenVEX 0.2: what was found as `affected`, and what `--vex` cleared.
    Openvex,
    /// CycloneDX 1.5 VEX: the same, as `vulnerabilities[].analysis`.
    CyclonedxVex,
    /// CSAF 2.0 VEX (`csaf_vex`): the same, as product statuses.
    CsafVex,
}

/// When a scan exits with 1: a finding at least this urgent, and/or (`unchecked`) a component
/// Ward could not check. Informational notices never count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FailOn {
    pub(crate) priority: Option<Priority>,
    pub(crate) unchecked: bool,
}

/// `immediate`, `scheduled,unchecked`, `unchecked`…
pub(crate) fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    let mut fail = FailOn::default();
    for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word.eq_ignore_ascii_case("unchecked") {
            fail.unchecked = true;
        } else {
            let p: Priority = word
                .parse()
                .map_err(|e| format!("{e}, or `unchecked` (a component could not be checked)"))?;
            fail.priority = Some(fail.priority.map_or(p, |q: Priority| q.max(p)));
        }
    }
    if fail == FailOn::default() {
        return Err(
            "name a priority (immediate, out-of-cycle, scheduled, defer) and/or `unchecked`".into(),
        );
    }
    Ok(fail)
}

/// How the table is laid out.
#[derive(Args, Clone, Copy)]
pub(crate) struct ViewArgs {
    /// Table: every column, nothing shortened (wider than most terminals).
    #[arg(long)]
    pub(crate) wide: bool,
    /// Table: fit this many columns (default: the terminal's width, or 100 when the output
    /// is not a terminal).
    #[arg(long, value_parser = clap::value_parser!(u16).range(40..))]
    pub(crate) width: Option<u16>,
}

impl ViewArgs {
    pub(crate) fn layout(self) -> output::Layout {
        let width = self.width.map(usize::from).unwrap_or_else(|| {
            let term = console::Term::stdout();
            match term.size_checked() {
                Some((_, cols)) if term.is_term() => usize::from(cols).max(40),
                _ => 100,
            }
        });
        output::Layout {
            width,
            wide: self.wide,
        }
    }
}

#[derive(Args)]
pub(crate) struct ScanArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: ScanFormat,
    /// Exit with 1 when a finding is at least this urgent (immediate, out-of-cycle,
    /// scheduled, defer), and/or with `unchecked` when a component could not be checked
    /// (its version unreadable, or no advisories for its kind): `--fail-on immediate,unchecked`.
    #[arg(long, value_parser = parse_fail_on)]
    pub(crate) fail_on: Option<FailOn>,
    #[command(flatten)]
    pub(crate) view: ViewArgs,
    #[command(flatten)]
    pub(crate) policy: PolicyArgs,
    /// VEX documents (OpenVEX, CycloneDX VEX): what they clear moves to `suppressed`, naming
    /// the statement, its author and time; what they say is affected gains its action.
    #[arg(long, value_name = "FILE")]
    pub(crate) vex: Vec<PathBuf>,
    /// Inventory files: CycloneDX (JSON, XML), SPDX (2.x JSON or tag-value, 3.0 JSON-LD),
    /// nmap XML, or Ward CSV; gzip or xz compressed too.
    #[arg(required = true)]
    pub(crate) inventories: Vec<PathBuf>,
}

/// Which policy prioritises findings, and when "now" is.
#[derive(Args, Clone)]
pub(crate) struct PolicyArgs {
    /// Policy: a preset (ssvc-deployer, nhs-hsa, bod-26-04) or a TOML file (`docs/policies.md`).
    #[arg(long, default_value = "ssvc-deployer")]
    pub(crate) policy: String,
    /// Apply this organisation's overrides from the policy.
    #[arg(long)]
    pub(crate) organisation: Option<String>,
    /// Count deadlines from this time (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_time)]
    pub(crate) as_of: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time (2025-05-20T09:00:00Z): {e}"))
}

impl PolicyArgs {
    pub(crate) fn load(&self) -> anyhow::Result<Policy> {
        let mut policy = Policy::load(&self.policy)?;
        if let Some(org) = &self.organisation {
            policy = policy.for_organisation(org);
        }
        Ok(policy.with_as_of(self.as_of.unwrap_or_else(chrono::Utc::now)))
    }
}

/// Reads inventories, printing warnings; any unreadable inventory is an error.
pub(crate) fn read_inventories(paths: &[PathBuf]) -> anyhow::Result<(Inventory, Vec<String>)> {
    let mut inventory = Inventory::default();
    let mut sources = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("{name}: cannot read"))?;
        let parsed = parse_inventory(&name, &bytes)?;
        for w in &parsed.warnings {
            eprintln!("warning: {w}");
        }
        sources.extend(std::iter::repeat_n(name, parsed.inventory.assets.len()));
        inventory.assets.extend(parsed.inventory.assets);
    }
    Ok((inventory, sources))
}

/// VEX documents are read whole: one larger than this is refused before it is read.
const MAX_VEX_BYTES: u64 = 256 << 20;

/// Reads VEX documents, printing their warnings; an unreadable one is an error naming the
/// file, statement and field.
pub(crate) fn read_vex(paths: &[PathBuf]) -> anyhow::Result<Vec<ward_model::VexStatement>> {
    let mut statements = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let size = std::fs::metadata(path)
            .with_context(|| format!("{name}: cannot read"))?
            .len();
        anyhow::ensure!(
            size <= MAX_VEX_BYTES,
            "{name}: {size} bytes, more than the {MAX_VEX_BYTES} a VEX document may have"
        );
        let bytes = std::fs::read(path).with_context(|| format!("{name}: cannot read"))?;
        let doc = ward_feeds::vex::parse_vex(&name, &bytes)?;
        for w in &doc.warnings {
            eprintln!("warning: {name}: {w}");
        }
        statements.extend(doc.statements);
    }
    Ok(statements)
}

/// Loads what the inventory needs from the store and matches it.
/// For commands that end after one scan: the knowledge is not freed (see below).
pub(crate) async fn scan_inventory(
    store: &Store,
    inventory: &Inventory,
    policy: &Policy,
) -> anyhow::Result<ScanReport> {
    let knowledge = load_knowledge(store, inventory).await?;
    // A scan has the machine to itself: its assets are matched on every core.
    let report = ward_matching::scan::scan_on(crate::cores(), &knowledge, inventory, policy);
    // The process ends soon after a scan: its tens of thousands of views are left for the
    // exit to reclaim rather than freed one allocation at a time (6% of a 5,000-component
    // scan's time).
    std::mem::forget(knowledge);
    Ok(report)
}

/// Loads the slice of the knowledge base that the inventory's products need.
pub(crate) async fn load_knowledge(
    store: &Store,
    inventory: &Inventory,
) -> anyhow::Result<Knowledge> {
    // Only the entries this inventory's components can be weighed against are kept.
    let keep = ward_matching::scan::entries_needed(inventory)
        .map(|keep| std::sync::Arc::new(keep) as ward_store::KeepEntry);
    let slice = store
        .load_for_products_keeping(&ward_matching::scan::inventory_keys(inventory), keep)
        .await?;
    // What the knowledge base covers is read here, for reports: the server's matching, which
    // needs none of it, does not pay for the query.
    let coverage: Vec<(String, ward_matching::scan::Covered)> = store
        .coverage()
        .await?
        .into_iter()
        .map(|c| {
            (
                c.key,
                ward_matching::scan::Covered {
                    advisories: c.advisories,
                    updated: c.updated,
                },
            )
        })
        .collect();
    Ok(Knowledge::from_parts(slice.advisories, slice.kev, slice.epss).with_coverage(coverage))
}

pub(crate) async fn run(args: ScanArgs) -> anyhow::Result<u8> {
    // A scan's heap is tens of thousands of views and findings, built once and gone at exit:
    // transparent huge pages only raised its resident set (each 2 MiB page zeroed and counted
    // whole when first touched; 222 → 187 MiB for a 5,000-component scan without them).
    // Linux only; where the flag cannot be set the scan runs as before.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
    let policy = args.policy.load()?;
    let (inventory, sources) = read_inventories(&args.inventories)?;
    let store = Store::open(&args.db.location()).await?;
    if store.knowledge_is_empty().await? {
        eprintln!(
            "warning: the knowledge base at {} is empty: run `ward db import` first (or `ward demo`)",
            ward_store::redact(&args.db.location())
        );
    }
    let statements = read_vex(&args.vex)?;
    let mut report = scan_inventory(&store, &inventory, &policy).await?;
    store.close().await;
    ward_matching::vex::apply(&mut report, &inventory, &statements);
    let printed = print_report(
        &report,
        &inventory,
        &sources,
        args.format,
        args.view.layout(),
    );
    // A reader that stops early (`ward scan … | head`) is no error: the exit code still says
    // what the scan found.
    if let Err(e) = printed
        && !is_broken_pipe(&e)
    {
        return Err(e);
    }
    let code = exit_code(&report, args.fail_on);
    // As with the knowledge: the process ends here, and freeing tens of thousands of findings
    // and components one allocation at a time took ~10 ms of a 5,000-component scan's 0.4 s.
    std::mem::forget(report);
    std::mem::forget(inventory);
    Ok(code)
}

pub(crate) fn print_report(
    report: &ScanReport,
    inventory: &Inventory,
    sources: &[String],
    format: ScanFormat,
    layout: output::Layout,
) -> anyhow::Result<()> {
    // JSON documents are written to standard output as they are serialised, not built as one
    // string first (a 50,000-component scan's report is some 170 MB).
    fn write_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
        use std::io::Write;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        serde_json::to_writer_pretty(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }
    match format {
        ScanFormat::Json => write_json(report)?,
        ScanFormat::Sarif => write_json(&output::sarif(report, inventory, sources))?,
        ScanFormat::Csv => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(output::csv(report)?.as_bytes())?;
            out.flush()?;
        }
        ScanFormat::Openvex => write_json(&output::openvex(report))?,
        ScanFormat::CyclonedxVex => write_json(&output::cyclonedx_vex(report))?,
        ScanFormat::CsafVex => write_json(&output::csaf_vex(report))?,
        ScanFormat::Table => {
            use std::io::Write;
            // Written through one buffer: stdout alone writes a line at a time.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            output::table(&mut out, report, inventory, layout)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Whether writing failed because the reader of standard output went away.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

pub(crate) fn exit_code(report: &ScanReport, fail_on: Option<FailOn>) -> u8 {
    let Some(fail) = fail_on else {
        return exit::OK;
    };
    let urgent = fail.priority.is_some_and(|threshold| {
        report
            .findings
            .iter()
            .filter(|f| f.kind == ward_model::FindingKind::Vulnerability)
            .any(|f| f.priority.reaches(threshold))
    });
    let unchecked =
        fail.unchecked && (report.summary.unchecked > 0 || report.summary.not_covered > 0);
    if urgent || unchecked {
        exit::FOUND
    } else {
        exit::OK
    }
}
