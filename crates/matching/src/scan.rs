//! Scanning an inventory against the knowledge that concerns it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use ward_model::advisory::{Status, normalise_name};
use ward_model::cpe::{Cpe, Part};
use ward_model::{
    Advisory, Asset, Component, ComponentRef, Confidence, Criticality, Epss, Explanation, Exposure,
    Finding, FindingEpss, FindingKev, FindingKind, Inventory, KevEntry, Prioritiser, RecordState,
    Severity, SeverityLevel, SourceVerdict,
};

use crate::evaluate::{
    AssetContext, EntryIndex, Subject, Verdict, evaluate, evaluate_with, status_word,
};
use crate::package::{PackageSubject, evaluate_package};
use crate::version;

/// Everything known about the vulnerabilities that may concern an inventory.
#[derive(Debug, Default)]
pub struct Knowledge {
    /// Every source's view, by vulnerability id.
    pub advisories: HashMap<String, Vec<Advisory>, Fast>,
    pub kev: HashMap<String, KevEntry>,
    pub epss: HashMap<String, Epss>,
    by_product: HashMap<(String, String), Vec<String>, Fast>,
    /// OSV packages: `(pkg:<ecosystem>, name)` → vulnerability ids.
    by_package: HashMap<(String, String), Vec<String>, Fast>,
    vendors_by_product: HashMap<String, HashSet<String, Fast>, Fast>,
    wildcard: Vec<String>,
    /// The entries of views listing many, filed by product: vulnerability id → (the view's
    /// place in `advisories[id]`, its index).
    entry_indexes: HashMap<String, Vec<(usize, EntryIndex)>, Fast>,
    /// What the whole knowledge base covers, by coverage key (`pkg:<ecosystem>`, `cpe`), as the
    /// store counts it; without it (knowledge built in memory), what the loaded views cover.
    coverage: Option<HashMap<String, Covered>>,
    loaded_coverage: HashMap<String, i64>,
}

/// The maps' hasher: a scan looks keys up hundreds of thousands of times, and their keys
/// come from the store (SipHash's resistance to chosen keys buys nothing here).
type Fast = foldhash::fast::RandomState;

/// What the knowledge base holds for one coverage key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Covered {
    /// Vulnerabilities with a view for it.
    pub advisories: i64,
    /// When an import last changed them.
    pub updated: Option<chrono::DateTime<chrono::Utc>>,
}

/// The coverage key of products named by CPE (NVD configurations, CVE 5 `affected`).
pub const CPE_COVERAGE: &str = "cpe";

impl Knowledge {
    /// Knowledge from loaded parts (a store's slice).
    pub fn from_parts(advisories: Vec<Advisory>, kev: Vec<KevEntry>, epss: Vec<Epss>) -> Self {
        let mut k = Self::default();
        // A store gives a vulnerability's views together: each run is kept in a list of its
        // exact length. Pushed one by one, every list would start with room for four views
        // (2.5 KB), half of it unused: 38 MB of a 5,000-component scan's 15,000 lists.
        let mut runs = Vec::new();
        for (i, a) in advisories.iter().enumerate() {
            if i == 0 || advisories[i - 1].id != a.id {
                runs.push(1usize);
            } else if let Some(n) = runs.last_mut() {
                *n += 1;
            }
        }
        k.advisories.reserve(runs.len());
        let keys = keys_of(&advisories);
        let mut views = advisories.into_iter().zip(keys);
        for n in runs {
            for (a, keys) in views.by_ref().take(n) {
                k.add_keyed(a, keys, n);
            }
        }
        k.kev = kev.into_iter().map(|e| (e.cve_id.clone(), e)).collect();
        k.epss = epss.into_iter().map(|e| (e.cve_id.clone(), e)).collect();
        k
    }

    /// Adds a further slice: the views of vulnerabilities not yet known (a vulnerability's
    /// views come together, so one already known is complete), and their KEV and EPSS entries.
    pub fn extend(&mut self, advisories: Vec<Advisory>, kev: Vec<KevEntry>, epss: Vec<Epss>) {
        let known: HashSet<String> = advisories
            .iter()
            .filter(|a| self.advisories.contains_key(&a.id))
            .map(|a| a.id.clone())
            .collect();
        for a in advisories {
            if !known.contains(&a.id) {
                self.add_advisory(a);
            }
        }
        for e in kev {
            self.kev.entry(e.cve_id.clone()).or_insert(e);
        }
        for e in epss {
            self.epss.entry(e.cve_id.clone()).or_insert(e);
        }
    }

    /// The store's account of what the whole knowledge base covers (key → holdings).
    pub fn with_coverage(mut self, coverage: impl IntoIterator<Item = (String, Covered)>) -> Self {
        self.coverage = Some(coverage.into_iter().collect());
        self
    }

    /// What the knowledge base holds for a coverage key.
    pub fn covered(&self, key: &str) -> Covered {
        match &self.coverage {
            Some(c) => c.get(key).cloned().unwrap_or_default(),
            None => Covered {
                advisories: self.loaded_coverage.get(key).copied().unwrap_or(0),
                updated: None,
            },
        }
    }

    pub fn add_advisory(&mut self, advisory: Advisory) {
        let keys = Keys::of(&advisory);
        self.add_keyed(advisory, keys, 1);
    }

    /// Adds a view with its keys; `capacity`: the views its vulnerability will have, for its
    /// first.
    fn add_keyed(&mut self, advisory: Advisory, mut keys: Keys, capacity: usize) {
        let entries = keys.entries.take();
        self.index(&advisory, keys);
        let views = self
            .advisories
            .entry(advisory.id.clone())
            .or_insert_with(|| Vec::with_capacity(capacity));
        if let Some(entries) = entries {
            self.entry_indexes
                .entry(advisory.id.clone())
                .or_default()
                .push((views.len(), entries));
        }
        views.push(advisory);
    }

    /// The entry index of `advisories[id][position]`, if the view has one.
    fn entry_index(&self, id: &str, position: usize) -> Option<&EntryIndex> {
        self.entry_indexes
            .get(id)?
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, index)| index)
    }

    /// Files a view under the products and packages it names, and counts what it covers.
    fn index(&mut self, advisory: &Advisory, keys: Keys) {
        let id = &advisory.id;
        let Keys {
            products: product_keys,
            packages: package_keys,
            entries: _,
        } = keys;
        if advisory.state == RecordState::Published {
            if !product_keys.is_empty() {
                *self
                    .loaded_coverage
                    .entry(CPE_COVERAGE.to_owned())
                    .or_default() += 1;
            }
            let mut ecosystems: Vec<&String> = package_keys.iter().map(|(e, _)| e).collect();
            ecosystems.dedup();
            for e in ecosystems {
                *self.loaded_coverage.entry(e.clone()).or_default() += 1;
            }
        }
        // Each key's vulnerabilities are kept sorted by id, whatever order they were loaded in:
        // candidates are visited in that order, and which of two aliases of equal priority a
        // finding keeps depends on it — an asset matched alone on upload and the same asset in
        // a full re-match (its knowledge loaded a group of assets at a time) agree.
        for key in product_keys {
            if key.0 == "*" {
                insert_sorted(&mut self.wildcard, id);
                continue;
            }
            match self.vendors_by_product.get_mut(&key.1) {
                Some(vendors) => {
                    if !vendors.contains(&key.0) {
                        vendors.insert(key.0.clone());
                    }
                }
                None => {
                    let vendors = HashSet::from_iter([key.0.clone()]);
                    self.vendors_by_product.insert(key.1.clone(), vendors);
                }
            }
            insert_sorted(self.by_product.entry(key).or_default(), id);
        }
        for key in package_keys {
            insert_sorted(self.by_package.entry(key).or_default(), id);
        }
    }

    fn candidates(&self, key: &(String, String)) -> impl Iterator<Item = &String> {
        self.by_product
            .get(key)
            .into_iter()
            .flatten()
            .chain(self.wildcard.iter())
    }

    pub fn advisory_count(&self) -> usize {
        self.advisories.values().map(Vec::len).sum()
    }
}

/// The products and packages a view is filed under (worked out once: they normalise every
/// name it lists).
struct Keys {
    products: Vec<(String, String)>,
    packages: Vec<(String, String)>,
    entries: Option<EntryIndex>,
}

impl Keys {
    fn of(view: &Advisory) -> Self {
        Self {
            products: view.product_keys(),
            packages: view.package_keys(),
            entries: EntryIndex::of(view),
        }
    }
}

/// Views below this many are keyed on the caller's thread alone.
const KEYED_ALONE: usize = 4096;

/// Every view's keys, in order: on a thread per core for a large slice (a 5,000-component
/// scan's 29,730 views took 140 ms to file on one), as the views are independent.
fn keys_of(views: &[Advisory]) -> Vec<Keys> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || views.len() < KEYED_ALONE {
        return views.iter().map(Keys::of).collect();
    }
    std::thread::scope(|s| {
        let parts: Vec<_> = views
            .chunks(views.len().div_ceil(threads))
            .map(|part| s.spawn(move || part.iter().map(Keys::of).collect::<Vec<_>>()))
            .collect();
        let mut keys = Vec::with_capacity(views.len());
        for part in parts {
            match part.join() {
                Ok(part) => keys.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        keys
    })
}

/// Adds `id` to a sorted list unless it is there.
fn insert_sorted(ids: &mut Vec<String>, id: &str) {
    if let Err(at) = ids.binary_search_by(|x| x.as_str().cmp(id)) {
        ids.insert(at, id.to_owned());
    }
}

/// The product keys a component can be looked up by: `(vendor, product)`, with `None` as the
/// vendor when the inventory names none (then every vendor of that product is a candidate).
pub fn lookup_keys(component: &Component) -> Vec<(Option<String>, String)> {
    if let Some(cpe) = &component.cpe {
        return cpe
            .product_key()
            .map(|(v, p)| (Some(v), p))
            .into_iter()
            .collect();
    }
    let Some(product) = normalise_name(&component.name) else {
        return Vec::new();
    };
    let vendor = component.vendor.as_deref().and_then(normalise_name);
    // The CPE dictionary joins words with `_` or `-` (`home-assistant`, `endpoint_manager_mobile`):
    // names derived from words are looked up both ways.
    let mut keys = Vec::new();
    for p in spellings(&product) {
        match &vendor {
            Some(v) => keys.extend(spellings(v).into_iter().map(|v| (Some(v), p.clone()))),
            None => keys.push((None, p)),
        }
    }
    keys
}

/// Every key the knowledge base indexes a component's vulnerabilities under: its product keys
/// ([`lookup_keys`]) and, for a purl, its OSV package keys (`pkg:<ecosystem>`, name).
pub fn index_keys(component: &Component) -> Vec<(Option<String>, String)> {
    let mut keys = lookup_keys(component);
    if let Some(p) = component
        .purl
        .as_deref()
        .and_then(|p| PackageSubject::from_purl(p, None))
    {
        keys.extend(p.keys().into_iter().map(|(e, n)| (Some(e), n)));
    }
    keys
}

/// `a_b` and `a-b` for a name of several words; the name alone otherwise.
fn spellings(name: &str) -> Vec<String> {
    let hyphens = name.replace('_', "-");
    if hyphens == name {
        vec![name.to_owned()]
    } else {
        vec![name.to_owned(), hyphens]
    }
}

/// Why a component was not reported although some source said it is affected.
#[derive(Debug, Clone, Serialize)]
pub struct Suppressed {
    pub vulnerability: String,
    pub asset: String,
    pub component: ComponentRef,
    pub reason: String,
    /// The VEX statement that cleared it (document, author, time, status, justification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<ward_model::VexStatement>,
}

/// A component Ward could not check against advisories that name it, and why: its version is
/// not valid in its ecosystem's order (never guessed), or the inventory gives none.
#[derive(Debug, Clone, Serialize)]
pub struct Unchecked {
    pub asset: String,
    pub component: ComponentRef,
    /// `invalid-version` or `no-version`.
    pub code: &'static str,
    pub reason: String,
    /// How many advisories name the component's package (none of them was evaluated).
    pub advisories: usize,
}

/// What a scan could check: for one kind of component (a package ecosystem, or a CPE part),
/// how many there were and whether the knowledge base holds advisories for them.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageEntry {
    /// `package` (named by purl: an ecosystem) or `cpe` (named by CPE: a part, or `derived`
    /// for components without one, matched by a CPE derived from vendor and name).
    pub kind: &'static str,
    /// The ecosystem (`PyPI`, `Go`, `Debian`, or `pkg:<type>` for a purl type no advisory
    /// source names) or the CPE part (`application`, `operating-system`, `hardware`,
    /// `derived`).
    pub name: String,
    pub components: usize,
    /// The knowledge base holds advisories for this kind of component.
    pub checked: bool,
    /// Vulnerabilities the knowledge base holds for it.
    pub advisories: i64,
    /// When that knowledge last changed (`null` when unknown or absent).
    pub updated: Option<chrono::DateTime<chrono::Utc>>,
    /// The sentence for people, e.g. `708 deb components: no Debian advisories in the
    /// knowledge base`.
    pub note: String,
}

/// The scan in numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanSummary {
    pub assets: usize,
    pub components: usize,
    /// Vulnerability findings (informational notices are counted apart).
    pub findings: usize,
    pub informational: usize,
    pub suppressed: usize,
    /// Components listed in `unchecked`.
    pub unchecked: usize,
    /// Components no part of the knowledge base covers (neither their ecosystem nor CPEs).
    pub not_covered: usize,
    pub by_priority: BTreeMap<ward_model::Priority, usize>,
    pub by_severity: BTreeMap<ward_model::SeverityLevel, usize>,
}

#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    pub summary: ScanSummary,
    /// Each finding in a place of its own, so that putting the runs' findings together and
    /// sorting them moves pointers: moved whole (344 bytes each), the runs' lists and the
    /// report's were both held at the end of matching (30 MB of a 50,000-component scan's
    /// peak).
    pub findings: Vec<Box<Finding>>,
    /// Components that a less precise source called affected, overruled by a more precise one.
    pub suppressed: Vec<Suppressed>,
    /// Components that advisories name but whose version could not be placed.
    pub unchecked: Vec<Unchecked>,
    /// Per ecosystem and CPE part: what was scanned and what the knowledge base covers.
    pub coverage: Vec<CoverageEntry>,
}

/// The `(vendor, product)` and package keys an inventory's components are looked up by, sorted
/// and without repeats: what to load from the store before matching.
pub fn inventory_keys(inventory: &Inventory) -> Vec<(Option<String>, String)> {
    let mut keys: Vec<(Option<String>, String)> = inventory
        .assets
        .iter()
        .flat_map(|a| &a.components)
        .flat_map(index_keys)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Which `affected` entries of a view a scan of `inventory` can weigh, for a store to drop
/// the rest as it decodes (a 5,000-component scan's views list 92,040 entries, about 39,000
/// of them of its products or read across views, by a count over the database). `None`:
/// every entry, since a component's CPE leaves its vendor or product open and any entry could
/// name it.
///
/// Kept: an entry naming one of the inventory's products, by a CPE's literal product or by its
/// normalised name (a subject's product is one of these: [`subjects`] names a component by its
/// CPE or by the spellings of its name); an entry with a CPE whose vendor or product is not a
/// literal (only a full comparison says what it names); and an entry [`inverted_adps`] compares
/// across views ([`may_take_part_in_inversion`]), which looks past the product matched.
pub fn entries_needed(
    inventory: &Inventory,
) -> Option<impl Fn(&ward_model::advisory::Affected) -> bool + Send + Sync + 'static> {
    let mut products: HashSet<String, Fast> = HashSet::default();
    for component in inventory.assets.iter().flat_map(|a| &a.components) {
        match &component.cpe {
            Some(cpe) => {
                cpe.vendor.literal()?;
                products.insert(cpe.product.literal()?.to_owned());
            }
            None => products.extend(lookup_keys(component).into_iter().map(|(_, p)| p)),
        }
    }
    Some(move |entry: &ward_model::advisory::Affected| {
        entry
            .cpes
            .iter()
            .any(|c| c.vendor.literal().is_none() || c.product.literal().is_none())
            || entry
                .cpes
                .iter()
                .any(|c| c.product.literal().is_some_and(|p| products.contains(p)))
            || entry
                .derived_product()
                .is_some_and(|p| products.contains(&p))
            || may_take_part_in_inversion(entry)
    })
}

/// Matches every component of every asset against the knowledge.
pub fn scan(
    knowledge: &Knowledge,
    inventory: &Inventory,
    prioritiser: &(dyn Prioritiser + Sync),
) -> ScanReport {
    scan_on(1, knowledge, inventory, prioritiser)
}

/// [`scan`] on up to `threads` threads of its own (the caller's among them), for a command
/// that has the machine to itself: runs of an asset's components ([`COMPONENTS_PER_UNIT`])
/// are matched independently, taken one at a time from a shared counter and put back in
/// order, so the report is the same however many threads matched it.
pub fn scan_on(
    threads: usize,
    knowledge: &Knowledge,
    inventory: &Inventory,
    prioritiser: &(dyn Prioritiser + Sync),
) -> ScanReport {
    let assets = &inventory.assets;
    // Runs of an asset's components are matched apart: one SBOM is one asset, and matched as a
    // whole it had one core however many there were.
    let units: Vec<(usize, std::ops::Range<usize>)> = assets
        .iter()
        .enumerate()
        .flat_map(|(i, asset)| {
            let n = asset.components.len();
            (0..n.div_ceil(COMPONENTS_PER_UNIT).max(1)).map(move |k| {
                (
                    i,
                    k * COMPONENTS_PER_UNIT..((k + 1) * COMPONENTS_PER_UNIT).min(n),
                )
            })
        })
        .collect();
    // Each asset's subjects (what its components are matched as; the whole asset's are the
    // context of each of its components) are worked out by the first of its runs to start and
    // dropped when its last run is done: only the assets being matched hold theirs (worked out
    // for every asset first, they were ~30 MB of a 50,000-component scan's peak).
    let prepared: Vec<Prepared> = assets
        .iter()
        .map(|asset| Prepared {
            subjects: std::sync::Mutex::new(None),
            runs_left: std::sync::atomic::AtomicUsize::new(
                asset.components.len().div_ceil(COMPONENTS_PER_UNIT).max(1),
            ),
        })
        .collect();
    let shared = Shared::default();
    let matched = on_threads(threads, units.len(), |u| {
        let (i, range) = &units[u];
        let subjects = prepared[*i].take(knowledge, &assets[*i]);
        let mut part = scan_components(
            knowledge,
            &assets[*i],
            &subjects,
            range.clone(),
            prioritiser,
        );
        drop(subjects);
        prepared[*i].done();
        shared.share(&mut part.findings);
        part
    });
    drop(shared);
    drop(prepared);
    let mut report = ScanReport {
        // At their count: grown by doubling, each step copied every finding's place.
        findings: Vec::with_capacity(matched.iter().map(|p| p.findings.len()).sum()),
        ..ScanReport::default()
    };
    let mut tally = Tally::default();
    for part in matched {
        report.findings.extend(part.findings);
        report.suppressed.extend(part.suppressed);
        report.unchecked.extend(part.unchecked);
        for (group, n) in part.tally.groups {
            *tally.groups.entry(group).or_default() += n;
        }
        tally.not_covered += part.tally.not_covered;
    }
    // Most urgent first (informational notices last); within a decision EPSS breaks ties,
    // then KEV listing, the most exposed and critical assets, and CVSS.
    let weight: HashMap<&str, (Option<Exposure>, Option<Criticality>)> = inventory
        .assets
        .iter()
        .map(|a| (a.name.as_str(), (a.exposure, a.criticality)))
        .collect();
    // Each finding's weights worked out once, not at each comparison (its asset's looked up by
    // name twice a comparison: hashing names and comparing were 4.6% of a 50,000-component
    // scan's profile, 1.8% now).
    let findings = &report.findings;
    let weights: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                epss_score(f),
                f.kev.is_some(),
                weight.get(f.asset.as_str()).copied().unwrap_or_default(),
                max_cvss(f),
            )
        })
        .collect();
    // Their places are sorted rather than the findings: a stable sort of the findings
    // themselves took a buffer of half of them (3.5 MB of a 5,000-component scan's peak).
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&findings[i], &findings[j]);
        let (wa, wb) = (&weights[i], &weights[j]);
        a.kind
            .cmp(&b.kind)
            .then_with(|| a.priority.cmp(&b.priority))
            .then_with(|| wb.0.total_cmp(&wa.0))
            .then_with(|| wb.1.cmp(&wa.1))
            .then_with(|| wb.2.cmp(&wa.2))
            .then_with(|| wb.3.total_cmp(&wa.3))
            .then_with(|| a.vulnerability.cmp(&b.vulnerability))
            .then_with(|| a.asset.cmp(&b.asset))
            .then_with(|| a.component.name.cmp(&b.component.name))
    });
    drop(weights);
    permute(&mut report.findings, order);
    report.coverage = tally.entries(knowledge);
    report.summary = ScanSummary {
        assets: inventory.assets.len(),
        components: inventory.component_count(),
        not_covered: tally.not_covered,
        ..ScanSummary::default()
    };
    recount(&mut report);
    report
}

/// Puts `items` in the order `order` gives (`order[k]`: the place of the item that goes
/// k-th), in place: each cycle of the permutation is followed once.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..order.len() {
        let mut k = start;
        // Item `order[k]` goes to `k`; a place already filled points at itself.
        while order[k] != start {
            let from = order[k];
            items.swap(k, from);
            order[k] = k;
            k = from;
        }
        order[k] = k;
    }
}

/// The parts that findings have alike, each kept once: the same component on many assets,
/// the same explanation for it on each, one vulnerability's title, CVSS scores, severity and
/// SSVC values on all of them. Findings share them as each run of components is matched, so
/// the copies never pile up (a 50,000-component scan's 88,152 findings: 14,186 components,
/// 18,309 explanations, 15,711 vulnerabilities).
#[derive(Default)]
struct Shared(std::sync::Mutex<SharedParts>);

#[derive(Default)]
struct SharedParts {
    components: HashSet<Arc<ComponentRef>, Fast>,
    explanations: HashSet<Arc<Explanation>, Fast>,
    ssvc: HashSet<Arc<ward_model::Ssvc>, Fast>,
    titles: HashSet<Arc<str>, Fast>,
    /// A vulnerability's CVSS scores and severity, by its id (their scores are numbers: no
    /// `Hash`), each way they were reported (one, but for a policy that weighs them per asset).
    facts: HashMap<String, Vec<Facts>, Fast>,
}

/// A vulnerability's CVSS scores and severity as a finding reports them.
type Facts = (Arc<[ward_model::Cvss]>, Arc<Severity>);

impl Shared {
    /// Points each finding's parts at the copies kept before, keeping those not seen yet.
    fn share(&self, findings: &mut [Box<Finding>]) {
        fn one<T: std::hash::Hash + Eq + ?Sized>(
            set: &mut HashSet<Arc<T>, Fast>,
            item: &mut Arc<T>,
        ) {
            match set.get(&**item) {
                Some(kept) => *item = kept.clone(),
                None => {
                    set.insert(item.clone());
                }
            }
        }
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = &mut *kept;
        for f in findings.iter_mut() {
            one(&mut kept.components, &mut f.component);
            one(&mut kept.explanations, &mut f.explanation);
            if let Some(s) = &mut f.ssvc {
                one(&mut kept.ssvc, s);
            }
            if let Some(t) = &mut f.title {
                one(&mut kept.titles, t);
            }
            let known = match kept.facts.get_mut(f.vulnerability.as_str()) {
                Some(known) => known,
                None => kept.facts.entry(f.vulnerability.clone()).or_default(),
            };
            match known
                .iter()
                .find(|(cvss, severity)| *cvss == f.cvss && *severity == f.severity)
            {
                Some((cvss, severity)) => {
                    f.cvss = cvss.clone();
                    f.severity = severity.clone();
                }
                None => known.push((f.cvss.clone(), f.severity.clone())),
            }
        }
    }
}

/// What matching one asset found.
struct AssetScan {
    #[expect(
        clippy::vec_box,
        reason = "moved into the report's list (see ScanReport)"
    )]
    findings: Vec<Box<Finding>>,
    suppressed: Vec<Suppressed>,
    unchecked: Vec<Unchecked>,
    tally: Tally,
}

/// Components matched as one piece of work: a 5,000-component SBOM is some 40 of them.
const COMPONENTS_PER_UNIT: usize = 128;

/// `work(0)`, `work(1)`, … `work(n - 1)` on up to `threads` threads (the caller's among
/// them), each taking the next index from a shared counter; the results in index order, so
/// they are the same however many threads worked.
fn on_threads<T: Send>(threads: usize, n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = threads.clamp(1, n.max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= n {
                return done;
            }
            done.push((i, work(i)));
        }
    };
    let mut all = if threads == 1 {
        run()
    } else {
        std::thread::scope(|s| {
            let others: Vec<_> = (1..threads).map(|_| s.spawn(run)).collect();
            let mut all = run();
            for other in others {
                match other.join() {
                    Ok(part) => all.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        })
    };
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// What an asset's components are matched as: all of them, each component's a run of them.
struct AssetSubjects {
    all: Vec<Subject>,
    /// Where each component's subjects lie in `all`.
    each: Vec<std::ops::Range<usize>>,
}

impl AssetSubjects {
    fn of(knowledge: &Knowledge, asset: &Asset) -> Self {
        let mut all = Vec::new();
        let each = asset
            .components
            .iter()
            .map(|c| {
                let start = all.len();
                all.extend(subjects(knowledge, c));
                start..all.len()
            })
            .collect();
        Self { all, each }
    }
}

/// One asset's subjects while its runs are matched ([`scan_on`]).
struct Prepared {
    subjects: std::sync::Mutex<Option<Arc<AssetSubjects>>>,
    runs_left: std::sync::atomic::AtomicUsize,
}

impl Prepared {
    /// The asset's subjects, worked out by the first run to ask (the others wait for it).
    fn take(&self, knowledge: &Knowledge, asset: &Asset) -> Arc<AssetSubjects> {
        let mut slot = self
            .subjects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert_with(|| Arc::new(AssetSubjects::of(knowledge, asset)))
            .clone()
    }

    /// One run is done; after the last, the subjects are dropped.
    fn done(&self) {
        if self
            .runs_left
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.subjects
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
        }
    }
}

/// The findings of the asset's components in `range`, in their order.
fn scan_components(
    knowledge: &Knowledge,
    asset: &Asset,
    prepared: &AssetSubjects,
    range: std::ops::Range<usize>,
    prioritiser: &(dyn Prioritiser + Sync),
) -> AssetScan {
    let mut report = ScanReport::default();
    let mut tally = Tally::default();
    let context = AssetContext {
        components: &prepared.all,
    };
    for (component, run) in asset.components[range.clone()]
        .iter()
        .zip(&prepared.each[range])
    {
        let package = component
            .purl
            .as_deref()
            .and_then(|p| PackageSubject::from_purl(p, component.version.as_deref()));
        // A version its ecosystem cannot read is never placed by a fallback order.
        let unreadable = package.as_ref().and_then(|p| p.unreadable());
        let package_covered = tally.component(knowledge, component, package.as_ref());
        // Every candidate vulnerability once, with the first CPE subject that reached it.
        let mut candidates: Vec<(&String, Option<&Subject>)> = Vec::new();
        let mut seen = HashSet::new();
        for subject in &prepared.all[run.clone()] {
            let key = subject.cpe.product_key().unwrap_or_default();
            for id in knowledge.candidates(&key) {
                if seen.insert(id) {
                    candidates.push((id, Some(subject)));
                }
            }
        }
        let mut unplaced = 0;
        for key in package.iter().flat_map(PackageSubject::keys) {
            for id in knowledge.by_package.get(&key).into_iter().flatten() {
                if seen.insert(id) {
                    if unreadable.is_some() {
                        unplaced += 1;
                    } else {
                        candidates.push((id, None));
                    }
                }
            }
        }
        if let Some((code, reason)) = &unreadable
            && unplaced > 0
        {
            report.unchecked.push(Unchecked {
                asset: asset.name.clone(),
                component: ComponentRef {
                    name: component.name.clone(),
                    version: component
                        .version
                        .clone()
                        .or_else(|| package.as_ref().and_then(|p| p.version.clone())),
                    cpe: component.cpe.as_ref().map(ToString::to_string),
                    purl: component.purl.clone(),
                    evidence: component.evidence.clone(),
                },
                code,
                reason: reason.clone(),
                advisories: unplaced,
            });
        }
        // Every component can be matched by CPE (its own or one derived from its names).
        if !package_covered && knowledge.covered(CPE_COVERAGE).advisories == 0 {
            tally.not_covered += 1;
        }
        let package = package.filter(|_| unreadable.is_none());
        let first = report.findings.len();
        for (id, subject) in candidates {
            let Some(views) = knowledge.advisories.get(id) else {
                continue;
            };
            match_one(
                knowledge,
                asset,
                component,
                Subjects {
                    cpe: subject,
                    package: package.as_ref(),
                },
                &context,
                id,
                views,
                prioritiser,
                &mut report,
            );
        }
        merge_aliases(&mut report.findings, first);
    }
    AssetScan {
        findings: report.findings,
        suppressed: report.suppressed,
        unchecked: report.unchecked,
        tally,
    }
}

/// The summary's counts of findings, notices, suppressions and unchecked components, from the
/// report as it stands (after VEX statements moved findings, say).
pub fn recount(report: &mut ScanReport) {
    let vulnerabilities = || {
        report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Vulnerability)
    };
    let mut by_priority = BTreeMap::new();
    let mut by_severity = BTreeMap::new();
    for f in vulnerabilities() {
        *by_priority.entry(f.priority).or_default() += 1;
        *by_severity.entry(f.severity.level).or_default() += 1;
    }
    let findings = vulnerabilities().count();
    let s = &mut report.summary;
    s.findings = findings;
    s.informational = report.findings.len() - findings;
    s.suppressed = report.suppressed.len();
    s.unchecked = report.unchecked.len();
    s.by_priority = by_priority;
    s.by_severity = by_severity;
}

/// Components counted per ecosystem and CPE part, for the report's coverage.
#[derive(Default)]
struct Tally {
    /// (kind, name, coverage key) → components.
    groups: BTreeMap<(&'static str, String, Option<String>), usize>,
    not_covered: usize,
}

impl Tally {
    /// Counts a component under its ecosystem and CPE part; true when its ecosystem's
    /// advisories are in the knowledge base.
    fn component(
        &mut self,
        knowledge: &Knowledge,
        component: &Component,
        package: Option<&PackageSubject>,
    ) -> bool {
        let cpe_group = match &component.cpe {
            Some(cpe) => match cpe.part {
                Part::Application => "application",
                Part::OperatingSystem => "operating-system",
                Part::Hardware => "hardware",
                Part::Any => "any",
            },
            None => "derived",
        };
        *self
            .groups
            .entry(("cpe", cpe_group.to_owned(), Some(CPE_COVERAGE.to_owned())))
            .or_default() += 1;
        let Some(purl) = &component.purl else {
            return false;
        };
        let (name, key) = match package.and_then(|p| p.packages.first()) {
            Some(p) => (
                ward_model::purl::ecosystem_base(&p.ecosystem).to_owned(),
                Some(p.key().0),
            ),
            None => match purl.parse::<ward_model::Purl>() {
                Ok(p) => (format!("pkg:{}", p.ty), None),
                Err(_) => return false,
            },
        };
        let covered = key
            .as_deref()
            .is_some_and(|k| knowledge.covered(k).advisories > 0);
        *self.groups.entry(("package", name, key)).or_default() += 1;
        covered
    }

    fn entries(&self, knowledge: &Knowledge) -> Vec<CoverageEntry> {
        let mut groups: Vec<_> = self.groups.iter().collect();
        // Ecosystems first: they are what a scanner user looks for.
        groups.sort_by_key(|((kind, name, _), _)| (*kind != "package", name.clone()));
        groups
            .into_iter()
            .map(|((kind, name, key), &components)| {
                let covered = key
                    .as_deref()
                    .map(|k| knowledge.covered(k))
                    .unwrap_or_default();
                let checked = covered.advisories > 0;
                let what = if *kind == "package" {
                    let ty = key.as_deref().map_or_else(
                        || name.trim_start_matches("pkg:").to_owned(),
                        |k| ward_model::purl::purl_type_for_ecosystem(k.trim_start_matches("pkg:")).to_owned(),
                    );
                    format!("{components} {ty} component{}", plural(components))
                } else if name == "derived" {
                    format!(
                        "{components} component{} without a CPE (matched by vendor and name)",
                        plural(components)
                    )
                } else {
                    format!("{components} {name} CPE{}", plural(components))
                };
                let note = match (kind, key, checked) {
                    (_, _, true) => format!(
                        "{what}: checked against {} {}",
                        covered.advisories,
                        if *kind == "package" {
                            format!("{name} advisories")
                        } else {
                            "CPE-matched vulnerabilities".to_owned()
                        }
                    ),
                    (&"package", None, _) => format!(
                        "{what}: no advisory source Ward reads names {name} packages"
                    ),
                    (&"package", Some(_), _) => {
                        format!("{what}: no {name} advisories in the knowledge base")
                    }
                    _ => format!(
                        "{what}: no CPE-matched vulnerabilities (NVD, CVE records) in the knowledge base"
                    ),
                };
                CoverageEntry {
                    kind,
                    name: name.clone(),
                    components,
                    checked,
                    advisories: covered.advisories,
                    updated: covered.updated,
                    note,
                }
            })
            .collect()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn max_cvss(f: &Finding) -> f64 {
    f.cvss.iter().map(|c| c.base_score).fold(0.0, f64::max)
}

fn epss_score(f: &Finding) -> f64 {
    f.epss.as_ref().map_or(0.0, |e| e.score)
}

/// Words that name a vendor in a component's purl namespace (`pkg:maven/com.google.protobuf/…`
/// → `google`, `protobuf`), without the words every namespace has.
fn vendor_hints(component: &Component) -> Vec<String> {
    const GENERIC: [&str; 9] = [
        "org", "com", "net", "io", "github", "gitlab", "www", "dev", "pkg",
    ];
    let Some(purl) = &component.purl else {
        return Vec::new();
    };
    let path = purl.split(['?', '#']).next().unwrap_or(purl);
    let path = path.rsplit_once('@').map_or(path, |(p, _)| p);
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop(); // the name
    parts
        .iter()
        .skip(1) // `pkg:<type>`
        .flat_map(|p| p.split(['.', '-', '_', '%']))
        .map(str::to_lowercase)
        .filter(|w| w.len() > 1 && !GENERIC.contains(&w.as_str()))
        .collect()
}

/// Without a vendor in the inventory, a product name alone is weak evidence: `core` and
/// `platform` name products of many vendors. A vendor is a candidate only when the component's
/// purl names it, or vendor and product names share their stem (`snakeyaml_project` for
/// `snakeyaml`, `h2database` for `h2`, `jenkins` for `jenkins`).
fn plausible_vendor(vendor: &str, product: &str, hints: &[String]) -> bool {
    vendor
        .split(['_', '-', '.'])
        .any(|w| hints.iter().any(|h| h == w))
        || vendor.starts_with(product)
        || product.starts_with(vendor)
}

/// The CPEs a component is matched as: its own, or ones derived from vendor and name.
fn subjects(knowledge: &Knowledge, component: &Component) -> Vec<Subject> {
    if let Some(cpe) = &component.cpe {
        return vec![Subject {
            cpe: cpe.clone(),
            derived: false,
        }];
    }
    let mut out = Vec::new();
    let keys = lookup_keys(component);
    // Of the spellings, those the knowledge has; the first when it has none.
    let known: Vec<_> = keys
        .iter()
        .filter(|(v, p)| match v {
            Some(v) => knowledge.by_product.contains_key(&(v.clone(), p.clone())),
            None => knowledge.vendors_by_product.contains_key(p),
        })
        .cloned()
        .collect();
    let keys = if known.is_empty() {
        keys.into_iter().take(1).collect()
    } else {
        known
    };
    for (vendor, product) in keys {
        let vendors: Vec<String> = match vendor {
            Some(v) => vec![v],
            None => {
                let hints = vendor_hints(component);
                let mut v: Vec<String> = knowledge
                    .vendors_by_product
                    .get(&product)
                    .into_iter()
                    .flatten()
                    .filter(|v| plausible_vendor(v, &product, &hints))
                    .cloned()
                    .collect();
                v.sort();
                v
            }
        };
        for vendor in vendors {
            // A derived name matches applications, systems and hardware alike.
            let cpe = Cpe::new(Part::Any, &vendor, &product, component.version.as_deref());
            out.push(Subject { cpe, derived: true });
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn match_one(
    knowledge: &Knowledge,
    asset: &Asset,
    component: &Component,
    subjects: Subjects<'_>,
    context: &AssetContext<'_>,
    id: &str,
    views: &[Advisory],
    prioritiser: &dyn Prioritiser,
    report: &mut ScanReport,
) {
    if views.iter().any(|v| v.state == RecordState::Rejected) {
        return;
    }
    let mut verdicts: Vec<Verdict> = views
        .iter()
        .enumerate()
        .filter(|(_, v)| v.state != RecordState::Withdrawn)
        .filter_map(|(i, v)| {
            if !v.packages.is_empty() {
                evaluate_package(v, subjects.package?)
            } else {
                evaluate_with(v, knowledge.entry_index(id, i), subjects.cpe?, context)
            }
        })
        .collect();
    if verdicts.is_empty() {
        return;
    }
    // An ADP container that inverts the CNA's record (the CNA's fix releases listed as the only
    // affected ones, default unaffected: CVE-2024-7612) is named and left out.
    let mut early_notes = Vec::new();
    for inverted in inverted_adps(views) {
        if verdicts.iter().any(|v| v.source == inverted) && verdicts.len() > 1 {
            verdicts.retain(|v| v.source != inverted);
            early_notes.push(format!(
                "{} inverts the CNA's record (it lists the CNA's fix releases as the only affected ones and defaults to unaffected); Ward reads the record as the CNA wrote it",
                inverted.key()
            ));
        }
    }
    // The chosen verdict: the most precise; at equal precision `affected` wins (the safe side).
    verdicts.sort_by_key(|v| {
        std::cmp::Reverse((
            v.status != Status::Unknown,
            v.basis.precision(),
            v.status == Status::Affected,
        ))
    });
    let subject = subjects.cpe;
    // No silent gaps: a release a less precise source calls affected, that the more precise
    // leaves between its ranges and that no source names fixed, is reported as disputed.
    let mut disputed: Option<String> = None;
    if let Some(installed) = subject.and_then(Subject::full_version)
        && let Some(sentence) = gap(&verdicts, &installed)
    {
        let loud = verdicts
            .iter()
            .position(|v| v.status == Status::Affected)
            .expect("gap() found an affected verdict");
        let v = verdicts.remove(loud);
        verdicts.insert(0, v);
        disputed = Some(sentence);
    }
    let chosen = &verdicts[0];
    let component_ref = ComponentRef {
        name: component.name.clone(),
        version: component
            .version
            .clone()
            .or_else(|| subject.and_then(|s| s.cpe.version.literal().map(str::to_owned)))
            .or_else(|| subjects.package.and_then(|p| p.version.clone())),
        cpe: subject
            .map(|s| s.cpe.to_string())
            .or_else(|| component.cpe.as_ref().map(ToString::to_string)),
        purl: component.purl.clone(),
        evidence: component.evidence.clone(),
    };
    let mut disagreements = if disputed.is_some() {
        Vec::new()
    } else {
        disagreements(&verdicts)
    };
    disagreements.extend(disputed.clone());
    if let Some(subject) = subject
        && disputed.is_none()
    {
        disagreements.extend(fixed_release_disagreements(
            &verdicts, views, subject, context,
        ));
    }
    if chosen.status != Status::Affected {
        // A record's literal default (`affected`) read as fixed: listed, with the inference.
        if !verdicts.iter().any(|v| v.status == Status::Affected)
            && let Some(read) = verdicts.iter().find(|v| v.default_overridden)
        {
            report.suppressed.push(Suppressed {
                vulnerability: id.to_owned(),
                asset: asset.name.clone(),
                component: component_ref.clone(),
                statement: None,
                reason: format!(
                    "{}'s default status says affected, but {}",
                    read.source.key(),
                    read.inferred
                        .as_deref()
                        .unwrap_or("its fix list says otherwise")
                ),
            });
            return;
        }
        if let Some(loud) = verdicts.iter().find(|v| v.status == Status::Affected) {
            report.suppressed.push(Suppressed {
                vulnerability: id.to_owned(),
                asset: asset.name.clone(),
                component: component_ref,
                statement: None,
                reason: format!(
                    "{} says affected ({}: {}), but {} says {} ({}: {}); used {}, the more precise",
                    loud.source,
                    loud.basis.as_str(),
                    loud.range,
                    chosen.source,
                    status_word(chosen.status),
                    chosen.basis.as_str(),
                    chosen.range,
                    chosen.source
                ),
            });
        }
        return;
    }

    // Fixed releases above the installed version: the upgrade targets.
    // In the chosen source's order: the ecosystem's for OSV, the vendor order for CPEs.
    let order = |a: &str, b: &str| match chosen.scheme {
        Some(scheme) => scheme.order(a, b).ordering,
        None => version::compare(a, b),
    };
    let installed = match chosen.scheme {
        Some(_) => subjects.package.and_then(|p| p.version.clone()),
        None => subject.and_then(Subject::full_version),
    };
    // Fixed releases of the source chosen (and of sources using the same order).
    let mut fixed: Vec<String> = verdicts
        .iter()
        .filter(|v| v.scheme == chosen.scheme)
        .flat_map(|v| v.fixed.iter().cloned())
        .filter(|f| installed.as_deref().is_none_or(|v| order(f, v).is_gt()))
        .collect();
    crate::ecosystem::sort_versions(&mut fixed, |a, b| order(a, b).then_with(|| a.cmp(b)));
    fixed.dedup_by(|a, b| order(a, b).is_eq());

    // One entry per vector: NVD repeats the CNA's score under the CNA's UUID; keep the name.
    let mut cvss: Vec<ward_model::Cvss> = Vec::new();
    for c in views.iter().flat_map(|v| &v.cvss) {
        match cvss
            .iter_mut()
            .find(|x| x.vector == c.vector && x.version == c.version)
        {
            Some(x) if looks_like_uuid(&x.source) && !looks_like_uuid(&c.source) => *x = c.clone(),
            Some(_) => {}
            None => cvss.push(c.clone()),
        }
    }
    cvss.sort_by(|a, b| {
        b.version
            .cmp(&a.version)
            .then_with(|| a.source.cmp(&b.source))
    });

    // KEV and EPSS are keyed by CVE: an OSV record filed under its own id finds them through
    // the CVEs it aliases.
    let cve_ids: Vec<&str> = std::iter::once(id)
        .chain(
            views
                .iter()
                .flat_map(|v| &v.aliases)
                .map(String::as_str)
                .filter(|a| a.starts_with("CVE-")),
        )
        .collect();
    let kev = cve_ids
        .iter()
        .find_map(|i| knowledge.kev.get(*i))
        .cloned()
        .or_else(|| views.iter().find_map(|v| v.kev.as_deref().cloned()));
    let title = views
        .iter()
        .find(|v| matches!(v.source, ward_model::SourceId::Cna(_)))
        .and_then(|v| v.title.clone())
        .or_else(|| views.iter().find_map(|v| v.title.clone()))
        .or_else(|| kev.as_ref().and_then(|k| k.name.clone()));
    let mut aliases: Vec<String> = views
        .iter()
        .flat_map(|v| v.aliases.iter().cloned())
        .collect();
    aliases.sort();
    aliases.dedup();

    let mut notes = early_notes;
    notes.extend(chosen.notes.iter().cloned());
    if let Some(fix) = &chosen.unverifiable_fix {
        notes.push(format!(
            "the record names a fix that is not a release ({fix}): whether it is installed cannot be told from the version; check for it, and answer \"fix installed\" if it is"
        ));
    }
    notes.extend(vendor_remediations(views, &verdicts));
    let cpe_chosen = chosen.scheme.is_none();
    if let Some(subject) = subject.filter(|s| s.derived && cpe_chosen) {
        notes.push(format!(
            "the inventory gives no CPE; Ward derived {} from its vendor and name",
            subject.cpe
        ));
    }
    if chosen.platform_unknown {
        notes.push(
            "the configuration also requires a platform (running on) that this asset's inventory does not describe"
                .into(),
        );
    }
    let assumed: Vec<&str> = chosen
        .assumed
        .iter()
        .copied()
        .filter(|a| !(subject.is_some_and(|s| s.derived) && *a == "part"))
        .collect();
    if !assumed.is_empty() {
        notes.push(format!(
            "the criterion fixes {} which the inventory leaves unspecified; assumed to match",
            assumed.join(", ")
        ));
    }
    let confidence = if chosen.git_only {
        Confidence::GitRange
    } else if disputed.is_some() {
        Confidence::Disputed
    } else if chosen.unverifiable_fix.is_some() {
        Confidence::FixUnverifiable
    } else if chosen.below_listed_fix {
        Confidence::InferredFix
    } else if chosen.basis == crate::evaluate::Basis::DefaultStatus {
        Confidence::DefaultStatus
    } else if chosen.platform_unknown {
        Confidence::PlatformUnknown
    } else if cpe_chosen && subject.is_some_and(|s| s.derived) {
        Confidence::Derived
    } else {
        Confidence::Exact
    };
    // RustSec's `informational` advisories (unmaintained, unsound, notice) are not
    // vulnerabilities: reported apart, outside the priority order.
    let informational = views
        .iter()
        .find(|v| v.source == chosen.source)
        .into_iter()
        .flat_map(|v| &v.packages)
        .find_map(|p| {
            p.database_specific
                .as_ref()?
                .get("informational")?
                .as_str()
                .map(str::to_owned)
        });
    let mut finding = Finding {
        vulnerability: id.to_owned(),
        aliases,
        component: Arc::new(component_ref),
        asset: asset.name.clone(),
        confidence,
        kev: kev.map(|k| FindingKev {
            date_added: k.date_added,
            due_date: k.due_date,
            ransomware: k
                .ransomware
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case("known")),
        }),
        epss: cve_ids
            .iter()
            .find_map(|i| knowledge.epss.get(*i))
            .map(|e| FindingEpss {
                score: e.score,
                percentile: e.percentile,
            }),
        cvss: cvss.into(),
        fixed_versions: fixed,
        priority: ward_model::Priority::Defer,
        explanation: Arc::new(Explanation {
            source: chosen.source.key(),
            criterion: chosen.criterion.clone(),
            range: chosen.range.clone(),
            sources: verdicts
                .iter()
                .map(|v| SourceVerdict {
                    source: v.source.key(),
                    status: v.status,
                    basis: v.basis.as_str().into(),
                    criterion: v.criterion.clone(),
                    range: v.range.clone(),
                })
                .collect(),
            disagreements,
            priority: String::new(),
            notes,
            decision_points: Vec::new(),
        }),
        title: title.map(Arc::from),
        deadlines: Default::default(),
        ssvc: views
            .iter()
            .find_map(|v| v.ssvc.as_deref().cloned().map(Arc::new)),
        published: views.iter().filter_map(|v| v.published).min(),
        kind: if informational.is_some() {
            FindingKind::Informational
        } else {
            FindingKind::Vulnerability
        },
        informational,
        severity: Arc::default(),
    };
    let assessment = prioritiser.prioritise(&finding, asset);
    finding.cvss = assessment.cvss.into();
    finding.severity = Arc::new(severity(views, &finding.cvss));
    // The explanation is this finding's alone so far: no copy is made.
    let explanation = Arc::make_mut(&mut finding.explanation);
    if let Some(category) = &finding.informational {
        finding.priority = ward_model::Priority::Defer;
        explanation.priority = format!(
            "informational advisory ({category}), not a vulnerability: outside the priority order and the exit code"
        );
    } else {
        finding.priority = assessment.priority;
        explanation.priority = assessment.reason;
        explanation.decision_points = assessment.decision_points;
        explanation.notes.extend(assessment.notes);
        finding.deadlines = assessment.deadlines;
    }
    report.findings.push(Box::new(finding));
}

/// What a vendor's CSAF document says to do about the products a finding was matched as
/// (`database_specific.csaf.remediations`, each naming its products as findings' criteria name
/// them): "Red Hat Product Security: vendor_fix: … (https://…)".
fn vendor_remediations(views: &[Advisory], verdicts: &[Verdict]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in verdicts
        .iter()
        .filter(|v| matches!(v.source, ward_model::SourceId::Csaf(_)))
    {
        let Some(csaf) = views
            .iter()
            .find(|a| a.source == v.source)
            .and_then(|a| a.database_specific.as_ref()?.get("csaf"))
        else {
            continue;
        };
        let publisher = csaf["publisher"].as_str().unwrap_or("the vendor");
        for r in csaf["remediations"].as_array().into_iter().flatten() {
            let names = |n: &str| {
                !n.is_empty()
                    && (v.criterion == n
                        || v.criterion.starts_with(&format!("{n}@"))
                        || v.criterion.ends_with(&format!(" / {n}")))
            };
            if !r["products"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
                .any(names)
            {
                continue;
            }
            let mut text = format!(
                "{publisher}: {}: {}",
                r["category"].as_str().unwrap_or("remediation"),
                r["details"].as_str().unwrap_or("").trim()
            );
            if let Some(url) = r["url"].as_str() {
                text.push_str(&format!(" ({url})"));
            }
            if !out.contains(&text) && out.len() < 4 {
                out.push(text);
            }
        }
    }
    out
}

/// The severity of a vulnerability: the CVSS base score (newest version, highest score) of the
/// first source that scores it, in the order CNA (who published it), NVD, ADPs, OSV records;
/// else an OSV record's own rating (`database_specific.severity`, GitHub's `MODERATE`…).
/// Scores are the ones the prioritiser trusts (recomputed from their vectors).
fn severity(views: &[Advisory], trusted: &[ward_model::Cvss]) -> Severity {
    use ward_model::SourceId;
    let rank = |s: &SourceId| match s {
        SourceId::Cna(_) => 0,
        SourceId::Nvd => 1,
        SourceId::Adp(_) => 2,
        SourceId::Csaf(_) => 3,
        SourceId::Osv(_) => 4,
    };
    let mut ordered: Vec<&Advisory> = views.iter().collect();
    ordered.sort_by_key(|v| (rank(&v.source), v.source.key()));
    for view in &ordered {
        // NVD's view carries the CNA's scores beside its own (Secondary): NVD's own first.
        let own = |c: &&ward_model::Cvss| {
            view.source != SourceId::Nvd || c.source == "nvd@nist.gov" || c.source == "nvd"
        };
        let pick: Vec<&ward_model::Cvss> = if view.cvss.iter().any(|c| own(&c)) {
            view.cvss.iter().filter(own).collect()
        } else {
            view.cvss.iter().collect()
        };
        let scores: Vec<&ward_model::Cvss> = pick
            .into_iter()
            .map(|c| {
                trusted
                    .iter()
                    .find(|t| t.vector == c.vector && t.version == c.version)
                    .unwrap_or(c)
            })
            .collect();
        if let Some(best) = ward_model::advisory::headline_score(scores) {
            let level = match (best.version, best.base_score) {
                // CVSS v2 names three ranges: low < 4.0 <= medium < 7.0 <= high.
                (ward_model::advisory::CvssVersion::V2, s) if s >= 7.0 => SeverityLevel::High,
                (_, s) => SeverityLevel::from_word(ward_model::advisory::severity_rating(s))
                    .unwrap_or_default(),
            };
            return Severity {
                level,
                source: Some(view.source.key()),
                score: Some(best.base_score),
                basis: Some(format!("CVSS {}", best.version.as_str())),
            };
        }
    }
    for view in &ordered {
        let word = view
            .database_specific
            .as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(|s| s.as_str())
            .and_then(SeverityLevel::from_word);
        if let Some(level) = word {
            return Severity {
                level,
                source: Some(view.source.key()),
                score: None,
                basis: Some("advisory".into()),
            };
        }
    }
    Severity::default()
}

/// ADP views that invert their CNA's record: for the same product, the CNA defaults to
/// affected and lists releases as unaffected, the ADP defaults to unaffected and lists exactly
/// those releases as affected.
pub(crate) fn inverted_adps(views: &[Advisory]) -> Vec<ward_model::SourceId> {
    use ward_model::SourceId;
    let Some(cna) = views.iter().find(|v| matches!(v.source, SourceId::Cna(_))) else {
        return Vec::new();
    };
    let listed = |a: &ward_model::advisory::Affected, status: Status| -> Vec<String> {
        let mut v: Vec<String> = a
            .versions
            .iter()
            .filter(|e| e.status == status && !e.is_range())
            .map(|e| e.version.trim().to_owned())
            .collect();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for adp in views
        .iter()
        .filter(|v| matches!(v.source, SourceId::Adp(_)))
    {
        let inverts = adp.affected.iter().any(|theirs| {
            lists_only_affected_releases(theirs)
                && cna.affected.iter().any(|ours| {
                    ours.default_status == Some(Status::Affected)
                        && listed(ours, Status::Unaffected) == listed(theirs, Status::Affected)
                        && same_product(&ours.product, &theirs.product)
                })
        });
        if inverts {
            out.push(adp.source.clone());
        }
    }
    out
}

/// An inverting ADP's shape: default unaffected, and only single releases listed, all
/// affected.
fn lists_only_affected_releases(entry: &ward_model::advisory::Affected) -> bool {
    entry.default_status == Some(Status::Unaffected)
        && !entry.versions.is_empty()
        && entry
            .versions
            .iter()
            .all(|e| e.status == Status::Affected && !e.is_range())
}

/// Whether [`inverted_adps`] can read this entry, whichever product it names: a CNA's entry
/// whose default is affected, or an ADP's in [`lists_only_affected_releases`]'s shape
/// ([`entries_needed`] keeps these).
fn may_take_part_in_inversion(entry: &ward_model::advisory::Affected) -> bool {
    entry.default_status == Some(Status::Affected) || lists_only_affected_releases(entry)
}

/// Whether two sources name the same product, however each spells it (`Endpoint Manager
/// Mobile`, `endpoint_manager_mobile`). Both names are normalised: `normalised_eq` takes one
/// name already normalised, and given two as written it told a CNA's and an ADP's
/// `Endpoint Manager Mobile` apart.
fn same_product(a: &Option<String>, b: &Option<String>) -> bool {
    match (
        a.as_deref().and_then(normalise_name),
        b.as_deref().and_then(normalise_name),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The release the chosen (more precise) source leaves between its ranges while a less
/// precise one calls it affected: below the chosen source's highest bound, in a branch its
/// ranges do not mention, and fixed by no source. The disagreement, in one sentence.
fn gap(verdicts: &[Verdict], installed: &str) -> Option<String> {
    let chosen = verdicts.first()?;
    if chosen.status != Status::Unaffected
        || chosen.scheme.is_some()
        || chosen.basis.precision() < 2
        || chosen.mentioned.is_empty()
    {
        return None;
    }
    let loud = verdicts
        .iter()
        .find(|v| v.status == Status::Affected && v.basis.precision() < chosen.basis.precision())?;
    let own = crate::evaluate::branch(installed)?;
    let highest = chosen
        .mentioned
        .iter()
        .max_by(|a, b| version::compare(a, b))?;
    if !version::compare(installed, highest).is_lt() {
        return None;
    }
    if chosen
        .mentioned
        .iter()
        .any(|m| crate::evaluate::branch(m).as_deref() == Some(own.as_str()))
    {
        return None;
    }
    let fixed_here = verdicts.iter().flat_map(|v| &v.fixed).any(|f| {
        crate::evaluate::branch(f).as_deref() == Some(own.as_str())
            && version::compare(f, installed).is_le()
    });
    if fixed_here {
        return None;
    }
    Some(format!(
        "{} calls {installed} affected ({}), {} leaves it between its ranges (they name releases up to {highest} but nothing in the {own} branch) and no source names it fixed: reported as disputed; confirm whether it is exposed",
        loud.source.key(),
        loud.basis.as_str(),
        chosen.source.key()
    ))
}

/// How a component is named for matching: a CPE (its own or derived) and/or a purl.
#[derive(Clone, Copy)]
struct Subjects<'a> {
    cpe: Option<&'a Subject>,
    package: Option<&'a PackageSubject>,
}

/// One problem, one finding: findings for the same component whose ids are linked through
/// aliases (a GHSA filed under its own id, a GO record aliasing it) are merged into the most
/// urgent, which keeps the others' ids as aliases.
#[expect(clippy::vec_box, reason = "the report's list (see ScanReport)")]
fn merge_aliases(findings: &mut Vec<Box<Finding>>, first: usize) {
    let mut i = first;
    while i < findings.len() {
        let mut j = i + 1;
        while j < findings.len() {
            let linked = {
                let (a, b) = (&findings[i], &findings[j]);
                a.aliases.contains(&b.vulnerability)
                    || b.aliases.contains(&a.vulnerability)
                    || a.aliases.iter().any(|x| b.aliases.contains(x))
            };
            if linked {
                let mut other = findings.remove(j);
                if other.priority < findings[i].priority {
                    std::mem::swap(&mut findings[i], &mut other);
                }
                let keep = &mut findings[i];
                keep.aliases.push(other.vulnerability.clone());
                keep.aliases.extend(other.aliases);
                let own = keep.vulnerability.clone();
                keep.aliases.retain(|a| *a != own);
                keep.aliases.sort();
                keep.aliases.dedup();
                Arc::make_mut(&mut keep.explanation).notes.push(format!(
                    "also published as {} ({}), the same problem: reported once",
                    other.vulnerability, other.explanation.source
                ));
                j = i + 1;
            } else {
                j += 1;
            }
        }
        i += 1;
    }
}

/// Sentences for each source whose verdict differs from the chosen one.
fn disagreements(verdicts: &[Verdict]) -> Vec<String> {
    let chosen = &verdicts[0];
    let mut by_status: BTreeMap<String, ()> = BTreeMap::new();
    for other in &verdicts[1..] {
        if other.status == chosen.status || other.status == Status::Unknown {
            continue;
        }
        let how = if other.basis.precision() < chosen.basis.precision() {
            format!(
                "used {}, the more precise ({} vs {})",
                chosen.source,
                chosen.basis.as_str(),
                other.basis.as_str()
            )
        } else {
            format!(
                "both are {}; reported as affected, the safe side",
                chosen.basis.as_str()
            )
        };
        by_status.insert(
            format!(
                "{} says {} ({}: {}) where {} says {} ({}: {}); {}",
                other.source,
                status_word(other.status),
                other.basis.as_str(),
                other.range,
                chosen.source,
                status_word(chosen.status),
                chosen.basis.as_str(),
                chosen.range,
                how
            ),
            (),
        );
    }
    by_status.into_keys().collect()
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4
}

/// Where a less precise source (a CVE 5 `defaultStatus`) would call affected the releases the
/// chosen source names as fixed: the disagreement that would otherwise flag patched systems
/// (CVE-2025-4427: Ivanti's record lists only 12.5.0.1 as unaffected, NVD's ranges end at
/// 11.12.0.5, 12.3.0.2 and 12.4.0.2).
fn fixed_release_disagreements(
    verdicts: &[Verdict],
    views: &[Advisory],
    subject: &Subject,
    context: &AssetContext<'_>,
) -> Vec<String> {
    let chosen = &verdicts[0];
    let mut out = Vec::new();
    for other in &verdicts[1..] {
        if other.basis.precision() >= chosen.basis.precision() {
            continue;
        }
        let Some(view) = views.iter().find(|v| v.source == other.source) else {
            continue;
        };
        let mut called_affected: Vec<&str> = Vec::new();
        for fixed in &chosen.fixed {
            let mut probe = subject.clone();
            probe.cpe.version = ward_model::Attr::value(fixed);
            probe.cpe.update = ward_model::Attr::Any;
            if evaluate(view, &probe, context).is_some_and(|v| v.status == Status::Affected) {
                called_affected.push(fixed);
            }
        }
        called_affected.sort_by(|a, b| version::compare(a, b));
        called_affected.dedup();
        if !called_affected.is_empty() {
            out.push(format!(
                "{} ({}) would call the fixed releases {} affected, which {}'s {} exclude; Ward follows {}, the more precise",
                other.source,
                other.basis.as_str(),
                called_affected.join(", "),
                chosen.source,
                if chosen.basis == crate::evaluate::Basis::Range { "ranges" } else { "versions" },
                chosen.source
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every finding scheduled, its reason naming the vulnerability.
    struct Scheduled;

    impl Prioritiser for Scheduled {
        fn prioritise(&self, f: &Finding, _: &Asset) -> ward_model::Assessment {
            ward_model::Assessment {
                priority: ward_model::Priority::Scheduled,
                reason: format!("{} is scheduled", f.vulnerability),
                deadlines: ward_model::Deadlines::default(),
                decision_points: vec![],
                notes: vec![],
                cvss: f.cvss.to_vec(),
            }
        }
    }

    /// Three EPMM vulnerabilities (an ADP's every version overruled by the CNA's ranges), and
    /// seven one-component assets on 12.1 or 12.5, one with none, and one SBOM of 300
    /// components (more than two runs of components matched apart).
    fn epmm_fleet() -> (Knowledge, Inventory) {
        let affected =
            |versions: Vec<ward_model::AffectedVersion>, default| ward_model::advisory::Affected {
                vendor: Some("Ivanti".into()),
                product: Some("Endpoint Manager Mobile".into()),
                package_name: None,
                cpes: vec![],
                default_status: Some(default),
                versions,
            };
        let mut views = Vec::new();
        for id in ["CVE-2025-4427", "CVE-2025-4428", "CVE-2025-9999"] {
            // An ADP: every version; the CNA, more precise: below 12.3.0.2 only.
            let mut adp = Advisory::new(id, ward_model::SourceId::Adp("CISA-ADP".into()));
            adp.affected.push(affected(vec![], Status::Affected));
            let mut cna = Advisory::new(id, ward_model::SourceId::Cna("ivanti".into()));
            cna.title = Some(format!("{id} in EPMM"));
            cna.cvss.push(ward_model::Cvss {
                version: ward_model::CvssVersion::V31,
                vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
                base_score: 9.8,
                source: "ivanti".into(),
                published_score: None,
            });
            let range = |from: &str, to: &str, status| ward_model::AffectedVersion {
                version: from.into(),
                status,
                less_than: Some(to.into()),
                less_than_or_equal: None,
                version_type: Some("custom".into()),
                changes: vec![],
            };
            cna.affected.push(affected(
                vec![
                    range("12.0.0", "12.3.0.2", Status::Affected),
                    range("12.3.0.2", "13", Status::Unaffected),
                ],
                Status::Unaffected,
            ));
            views.extend([adp, cna]);
        }
        let knowledge = Knowledge::from_parts(views, vec![], vec![]);
        let epmm = |i: usize| Component {
            name: "Endpoint Manager Mobile".into(),
            vendor: Some("Ivanti".into()),
            version: Some(["12.1.0.0", "12.5.0.0"][i % 2].into()),
            cpe: None,
            purl: None,
            location: None,
            evidence: None,
        };
        let asset = |name: String, components| Asset {
            name,
            exposure: None,
            criticality: None,
            components,
        };
        let mut assets: Vec<Asset> = (0..7)
            .map(|i| asset(format!("epmm-{i}"), vec![epmm(i)]))
            .collect();
        assets.push(asset("empty".into(), vec![]));
        assets.push(asset("sbom".into(), (0..300).map(epmm).collect()));
        (knowledge, Inventory { assets })
    }

    /// However many threads match it, a scan reports the same findings, suppressions and
    /// coverage in the same order.
    #[test]
    fn a_scan_on_threads_reports_what_one_thread_does() {
        let (knowledge, inventory) = epmm_fleet();
        let one = scan(&knowledge, &inventory, &Scheduled);
        assert_eq!(
            one.findings.len(),
            (4 + 150) * 3,
            "the components on 12.1, each vulnerability"
        );
        assert_eq!(
            one.suppressed.len(),
            (3 + 150) * 3,
            "those on 12.5: the ADP overruled"
        );
        let json = |r: &ScanReport| serde_json::to_value(r).expect("a report serialises");
        for threads in [2, 3, 16] {
            assert_eq!(
                json(&scan_on(threads, &knowledge, &inventory, &Scheduled)),
                json(&one),
                "{threads} threads"
            );
        }
    }

    /// Findings alike share their component and explanation (one copy in memory however many
    /// assets have the component), on one thread or several; a VEX statement's note on one
    /// finding is that finding's alone.
    #[test]
    fn findings_alike_share_their_parts_and_a_note_on_one_is_its_own() {
        let (knowledge, mut inventory) = epmm_fleet();
        // Two more assets, each naming its EPMM by CPE: 12.1.0.0 and 12.1.0.1 lie in the same
        // range, so their findings have the same explanation.
        for (name, version) in [("by-cpe-0", "12.1.0.0"), ("by-cpe-1", "12.1.0.1")] {
            let cpe = format!("cpe:2.3:a:ivanti:endpoint_manager_mobile:{version}:*:*:*:*:*:*:*");
            inventory.assets.push(Asset {
                name: name.into(),
                exposure: None,
                criticality: None,
                components: vec![Component {
                    name: "Endpoint Manager Mobile".into(),
                    vendor: Some("Ivanti".into()),
                    version: Some(version.into()),
                    cpe: Some(cpe.parse().expect("a CPE")),
                    purl: None,
                    location: None,
                    evidence: None,
                }],
            });
        }
        let on = |report: &ScanReport, asset: &str| -> Vec<Finding> {
            report
                .findings
                .iter()
                .filter(|f| f.asset == asset && f.vulnerability == "CVE-2025-4427")
                .map(|f| (**f).clone())
                .collect()
        };
        for threads in [1, 2] {
            let mut report = scan_on(threads, &knowledge, &inventory, &Scheduled);
            let (a, b) = (on(&report, "epmm-0"), on(&report, "epmm-2"));
            assert_eq!((a.len(), b.len()), (1, 1), "{threads} threads");
            assert!(Arc::ptr_eq(&a[0].component, &b[0].component));
            assert!(Arc::ptr_eq(&a[0].explanation, &b[0].explanation));
            // The vulnerability's own facts, on every asset that has it.
            let title = a[0].title.as_ref().expect("a title");
            assert_eq!(&**title, "CVE-2025-4427 in EPMM");
            assert_eq!(a[0].cvss.len(), 1);
            assert_eq!(a[0].severity.level, SeverityLevel::Critical);
            for f in b.iter().chain(&on(&report, "sbom")) {
                assert!(Arc::ptr_eq(title, f.title.as_ref().expect("a title")));
                assert!(Arc::ptr_eq(&a[0].cvss, &f.cvss));
                assert!(Arc::ptr_eq(&a[0].severity, &f.severity));
            }
            // The SBOM's 150 components on 12.1, matched in runs of their own, share it too.
            let sbom = on(&report, "sbom");
            assert_eq!(sbom.len(), 150);
            assert!(
                sbom.iter()
                    .all(|f| Arc::ptr_eq(&f.explanation, &a[0].explanation))
            );
            let (c0, c1) = (on(&report, "by-cpe-0"), on(&report, "by-cpe-1"));
            assert_eq!((c0.len(), c1.len()), (1, 1));
            assert!(Arc::ptr_eq(&c0[0].explanation, &c1[0].explanation));
            assert!(!Arc::ptr_eq(&c0[0].component, &c1[0].component));
            // Under investigation, for 12.1.0.0 only: a note on that finding.
            let statement = ward_model::VexStatement {
                vulnerability: "CVE-2025-4427".into(),
                aliases: vec![],
                products: vec![ward_model::VexProduct {
                    id: "epmm".into(),
                    purl: None,
                    cpe: Some(
                        "cpe:2.3:a:ivanti:endpoint_manager_mobile:12.1.0.0:*:*:*:*:*:*:*".into(),
                    ),
                }],
                subcomponents: vec![],
                status: ward_model::VexStatus::UnderInvestigation,
                justification: None,
                impact: None,
                action: Some("look".into()),
                author: None,
                timestamp: None,
                document: "test".into(),
            };
            crate::vex::apply(&mut report, &inventory, &[statement]);
            let vex_notes = |f: &Finding| {
                f.explanation
                    .notes
                    .iter()
                    .filter(|n| n.starts_with("VEX:"))
                    .count()
            };
            let (c0, c1) = (on(&report, "by-cpe-0"), on(&report, "by-cpe-1"));
            assert_eq!(vex_notes(&c0[0]), 1, "{:?}", c0[0].explanation.notes);
            assert_eq!(vex_notes(&c1[0]), 0, "{:?}", c1[0].explanation.notes);
            // Every finding on 12.1.0.0 (named by CPE or by vendor and name) has the note, and
            // no other: 12.1.0.1's shared its explanation with them before.
            for f in &report.findings {
                let named = f.vulnerability == "CVE-2025-4427"
                    && f.component.version.as_deref() == Some("12.1.0.0");
                assert_eq!(vex_notes(f), usize::from(named), "{f:?}");
            }
        }
    }

    /// An ADP that inverts the CNA for one product is left out for every product of the record
    /// (CVE-2024-7612's shape): a scan of another product keeps the entries that show the
    /// inversion, so it reports what the whole knowledge reports.
    #[test]
    fn entries_that_show_an_inversion_are_kept_for_every_product() {
        let point = |version: &str, status| ward_model::AffectedVersion {
            version: version.into(),
            status,
            less_than: None,
            less_than_or_equal: None,
            version_type: None,
            changes: vec![],
        };
        let entry = |product: &str, default, versions| ward_model::advisory::Affected {
            vendor: Some("Ivanti".into()),
            product: Some(product.into()),
            package_name: None,
            cpes: vec![],
            default_status: Some(default),
            versions,
        };
        let id = "CVE-2099-7612";
        let mut cna = Advisory::new(id, ward_model::SourceId::Cna("ivanti".into()));
        cna.affected = vec![
            entry(
                "Endpoint Manager Mobile",
                Status::Affected,
                vec![
                    point("12.0.0.5", Status::Unaffected),
                    point("12.1.0.4", Status::Unaffected),
                ],
            ),
            entry("Sentry", Status::Unaffected, {
                let mut below = point("0", Status::Affected);
                below.less_than = Some("9.0".into());
                vec![below]
            }),
        ];
        let mut adp = Advisory::new(id, ward_model::SourceId::Adp("CISA-ADP".into()));
        adp.affected = vec![
            entry(
                "Endpoint Manager Mobile",
                Status::Unaffected,
                vec![
                    point("12.0.0.5", Status::Affected),
                    point("12.1.0.4", Status::Affected),
                ],
            ),
            entry("Sentry", Status::Affected, vec![]),
        ];
        let inventory = Inventory {
            assets: vec![Asset {
                name: "gateway".into(),
                components: vec![ward_model::Component {
                    name: "sentry".into(),
                    version: Some("9.5".into()),
                    cpe: Some("cpe:2.3:a:ivanti:sentry:9.5:*:*:*:*:*:*:*".parse().unwrap()),
                    ..ward_model::Component::default()
                }],
                ..Asset::default()
            }],
        };
        let keep = entries_needed(&inventory).expect("the component's CPE names its product");
        let views = vec![adp, cna];
        let kept: Vec<Advisory> = views
            .iter()
            .cloned()
            .map(|mut v| {
                v.affected.retain(|a| keep(a));
                v
            })
            .collect();
        assert!(kept.iter().all(|v| v.affected.len() == 2), "{kept:?}");
        let whole = scan(
            &Knowledge::from_parts(views, vec![], vec![]),
            &inventory,
            &Scheduled,
        );
        let slim = scan(
            &Knowledge::from_parts(kept, vec![], vec![]),
            &inventory,
            &Scheduled,
        );
        // The ADP's "every version" for Sentry is not weighed: its record is inverted.
        assert!(whole.findings.is_empty(), "{:?}", whole.findings);
        assert_eq!(
            serde_json::to_string(&slim).unwrap(),
            serde_json::to_string(&whole).unwrap()
        );
        // Another product's range is dropped; its list of affected releases (the shape an
        // inverting ADP has) is kept.
        let mut below = point("0", Status::Affected);
        below.less_than = Some("22.7".into());
        assert!(!keep(&entry(
            "Connect Secure",
            Status::Unaffected,
            vec![below]
        )));
        assert!(keep(&entry(
            "Connect Secure",
            Status::Unaffected,
            vec![point("22.7", Status::Affected)]
        )));
    }

    /// Every permutation of up to six items, and a long one, is applied as an index sort says.
    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        fn permutations(n: usize) -> Vec<Vec<usize>> {
            if n == 0 {
                return vec![vec![]];
            }
            let mut out = Vec::new();
            for p in permutations(n - 1) {
                for at in 0..=p.len() {
                    let mut q = p.clone();
                    q.insert(at, n - 1);
                    out.push(q);
                }
            }
            out
        }
        let mut orders: Vec<Vec<usize>> = (0..=6).flat_map(permutations).collect();
        // A long one of many cycles: i ↦ 7i mod 1000 has cycles of several lengths.
        orders.push((0..1000).map(|i| (i * 7) % 1000).collect());
        for order in orders {
            let items: Vec<String> = (0..order.len()).map(|i| format!("item {i}")).collect();
            let want: Vec<String> = order.iter().map(|&i| items[i].clone()).collect();
            let mut got = items;
            permute(&mut got, order.clone());
            assert_eq!(got, want, "{order:?}");
        }
    }

    /// Candidates come in id order however the knowledge was loaded: all at once, in reverse,
    /// or a slice at a time (a full re-match's groups).
    #[test]
    fn candidates_keep_id_order_whatever_the_load_order() {
        let view = |id: &str| {
            let mut a = Advisory::new(id, ward_model::SourceId::Nvd);
            a.affected.push(ward_model::advisory::Affected {
                vendor: Some("Ivanti".into()),
                product: Some("Endpoint Manager Mobile".into()),
                package_name: None,
                cpes: vec![],
                default_status: Some(Status::Affected),
                versions: vec![],
            });
            a
        };
        let ids = ["CVE-2025-4427", "CVE-2025-4428", "GHSA-xxxx-yyyy-zzzz"];
        let key = ("ivanti".to_owned(), "endpoint_manager_mobile".to_owned());
        let order = |k: &Knowledge| -> Vec<String> { k.candidates(&key).cloned().collect() };
        let forward = Knowledge::from_parts(ids.iter().map(|i| view(i)).collect(), vec![], vec![]);
        let backward =
            Knowledge::from_parts(ids.iter().rev().map(|i| view(i)).collect(), vec![], vec![]);
        let mut sliced = Knowledge::from_parts(vec![view(ids[2])], vec![], vec![]);
        sliced.extend(
            vec![view(ids[0]), view(ids[2]), view(ids[1])],
            vec![],
            vec![],
        );
        assert_eq!(order(&forward), ids);
        assert_eq!(order(&backward), ids);
        assert_eq!(order(&sliced), ids);
        assert_eq!(
            sliced.advisory_count(),
            3,
            "a known vulnerability is not added again"
        );
    }

    fn component(name: &str, purl: Option<&str>) -> Component {
        Component {
            name: name.into(),
            version: Some("1.0".into()),
            purl: purl.map(Into::into),
            ..Component::default()
        }
    }

    #[test]
    fn vendorless_components_need_a_plausible_vendor() {
        let mut k = Knowledge::default();
        for (vendor, product) in [
            ("home-assistant", "core"),
            ("snakeyaml_project", "snakeyaml"),
            ("google", "protobuf-java"),
            ("h2database", "h2"),
        ] {
            k.vendors_by_product
                .entry(product.into())
                .or_default()
                .insert(vendor.into());
        }
        let vendors = |k: &Knowledge, c: &Component| -> Vec<String> {
            subjects(k, c)
                .iter()
                .map(|s| s.cpe.vendor.literal().unwrap().to_owned())
                .collect()
        };
        assert!(
            vendors(
                &k,
                &component("core", Some("pkg:maven/org.keycloak/core@10.0.2"))
            )
            .is_empty()
        );
        assert_eq!(
            vendors(
                &k,
                &component("snakeyaml", Some("pkg:maven/org.yaml/snakeyaml@1.25"))
            ),
            ["snakeyaml_project"]
        );
        assert_eq!(
            vendors(
                &k,
                &component(
                    "protobuf-java",
                    Some("pkg:maven/com.google.protobuf/protobuf-java@3.0")
                )
            ),
            ["google"]
        );
        assert_eq!(vendors(&k, &component("h2", None)), ["h2database"]);
        // A vendor given by the inventory is taken as it is, in the spelling the knowledge has.
        let mut given = component("core", None);
        given.vendor = Some("Home Assistant".into());
        assert_eq!(
            vendors(&k, &given),
            ["home_assistant"],
            "unknown to the knowledge: as written"
        );
        k.by_product.insert(
            ("home-assistant".into(), "core".into()),
            vec!["CVE-2099-0003".into()],
        );
        assert_eq!(vendors(&k, &given), ["home-assistant"]);
    }
}
