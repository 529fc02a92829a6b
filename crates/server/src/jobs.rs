//! Ward's own work beside the API: matching one asset, continuous matching of knowledge
//! changes, the full re-match, and running a job on one server at a time.

use ward_priority::Policy;
use ward_store::{AssetId, Job, Scope, Store, StoreError};

/// Matches an asset's components against the knowledge base under the policy (with the
/// organisation's overrides, as of now): the keys its inventory is looked up by, and the findings.
pub async fn match_asset(
    store: &Store,
    policy: &Policy,
    asset: &ward_store::AssetRow,
    components: Vec<ward_model::Component>,
) -> Result<(Vec<(Option<String>, String)>, Vec<ward_model::Finding>), StoreError> {
    let inventory = ward_model::Inventory {
        assets: vec![asset.model(components)],
    };
    let keys = ward_matching::scan::inventory_keys(&inventory);
    let slice = store.load_for_products(&keys).await?;
    let policy = policy
        .for_organisation(&asset.organisation)
        .with_as_of(chrono::Utc::now());
    // The VEX statements in force for the organisation: its own and the central team's.
    let statements = store
        .statements_in_force(&[asset.organisation_id])
        .await?
        .remove(&asset.organisation_id)
        .unwrap_or_default();
    // Indexing the slice and matching are CPU work: off the async workers.
    let findings = ward_store::cpu::run(move || {
        let knowledge =
            ward_matching::Knowledge::from_parts(slice.advisories, slice.kev, slice.epss);
        let mut report = ward_matching::scan(&knowledge, &inventory, &policy);
        ward_matching::vex::apply(&mut report, &inventory, &statements);
        report.findings.into_iter().map(|f| *f).collect()
    })
    .await;
    Ok((keys, findings))
}

/// What one pass of continuous matching did.
#[derive(Debug, Default, serde::Serialize)]
pub struct MatchRun {
    pub vulnerabilities: usize,
    pub assets: usize,
    pub new: usize,
    pub changed: usize,
    pub resolved: usize,
    pub alerts: usize,
    /// Assets whose inventory was replaced while they were matched (matched again).
    pub superseded: usize,
}

/// Continuous matching: takes the knowledge changes no pass has matched yet (imports log them),
/// re-matches only the assets they can touch, and moves the cursor.
pub async fn match_knowledge_changes(
    store: &Store,
    policy: &Policy,
) -> Result<MatchRun, StoreError> {
    let mut run = MatchRun::default();
    while let Some((seq, vulns)) = store.pending_knowledge_changes(5000).await? {
        run.vulnerabilities += vulns.len();
        let touched = store.assets_touched(&vulns).await?;
        rematch(store, policy, &touched, Some(&vulns), &mut run).await?;
        store.advance_matching_cursor(seq).await?;
    }
    Ok(run)
}

/// Re-matches every asset of the federation: the knowledge all their products need is loaded
/// once, each asset is matched in memory, and its findings and alerts are written (a
/// transaction per batch of assets). Returns the run and the seconds spent matching in memory.
pub async fn match_all(store: &Store, policy: &Policy) -> Result<(MatchRun, f64), StoreError> {
    // Everything known now is matched below: pending knowledge changes are covered.
    let head = store.knowledge_mark().await?;
    let ids: Vec<AssetId> = store
        .assets(Scope::operator())
        .await?
        .iter()
        .map(|a| a.id)
        .collect();
    let mut run = MatchRun::default();
    let in_memory = rematch(store, policy, &ids, None, &mut run).await?;
    store.advance_matching_cursor(head).await?;
    // Every finding was rewritten: the details only the old ones referred to go.
    let collected = store.collect_finding_details().await?;
    tracing::debug!(collected, "finding details no finding refers to deleted");
    Ok((run, in_memory))
}

/// Assets matched together on the CPU pool, at most (whole organisations where they fit).
pub(crate) const REMATCH_BATCH: usize = 100;

/// Splits assets (in organisation order) into batches of at most `max`, an organisation's
/// assets in one batch unless it has more than `max`: its alerts are then brought in line
/// once, not raised by one batch and updated by the next (a KEV listing at 200 members
/// synced 343 organisations' alerts in batches of 50, 200 with whole organisations).
fn batches<T, K: PartialEq>(items: &[T], max: usize, organisation: impl Fn(&T) -> K) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut run) = (0, 0);
    while run < items.len() {
        let org = organisation(&items[run]);
        let end = run
            + items[run..]
                .iter()
                .take_while(|i| organisation(i) == org)
                .count();
        if end - start > max && run > start {
            out.push(&items[start..run]);
            start = run;
        }
        while end - start > max {
            out.push(&items[start..start + max]);
            start += max;
        }
        run = end;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// Re-matches these assets: the knowledge all of them need is loaded once, each is matched in
/// memory, and their findings and alerts are written (a transaction per batch of assets). With `only`
/// (a knowledge change) just those vulnerabilities are loaded, matched and diffed: the
/// asset's other findings are not touched. Returns the seconds spent matching in memory.
pub(crate) async fn rematch(
    store: &Store,
    policy: &Policy,
    ids: &[AssetId],
    only: Option<&[String]>,
    run: &mut MatchRun,
) -> Result<f64, StoreError> {
    let mut in_memory = 0.0;
    let mut ids = ids.to_vec();
    // An asset whose inventory was replaced while it was matched is matched again as it now
    // is: the upload's own matching may have read the knowledge before this change committed.
    while !ids.is_empty() {
        let (seconds, superseded) = rematch_once(store, policy, &ids, only, run).await?;
        in_memory += seconds;
        run.superseded += superseded.len();
        ids = superseded;
    }
    Ok(in_memory)
}

/// Assets read and matched at a time by a re-match: the inventories of this many are held in
/// memory, not the federation's.
pub(crate) const ASSET_GROUP: usize = 500;

/// Assets whose findings are written in one transaction at most: the writer joins the batches
/// already matched when it comes round (so the first is written as soon as it is matched, and
/// when the writing falls behind, the transactions grow, and each page of the findings'
/// indexes goes to the log once for several batches rather than once for each).
pub(crate) const WRITE_AT_MOST: usize = 400;

/// Assets a full re-match writes before the findings' statistics are refreshed (PostgreSQL).
const STATISTICS_AFTER: usize = 1000;

/// Matched batches waiting for the writer, at most: the matching runs this far ahead.
const MATCHED_AHEAD: usize = 4;

/// One batch of assets matched and readied for writing.
type Matched = Vec<(
    ward_store::AssetRow,
    ward_store::PreparedFindings,
    Vec<ward_store::Overruled>,
)>;

/// One pass of [`rematch`]: also returns the assets superseded by a newer inventory.
///
/// Two halves run side by side, joined by a short queue: one reads the assets a group at a
/// time and matches them a batch at a time on the CPU pool; the other writes what is matched.
/// A knowledge change loads its vulnerabilities once; a full re-match loads, for each group,
/// the vulnerabilities its products name that no group before loaded (so the knowledge grows
/// to what the federation needs, once, while the inventories in memory stay a group's). The
/// matching never waits for a group's last batch to be written before it starts on the next
/// group (at 200 members a KEV listing crossed 15 groups, and a full re-match loaded its
/// knowledge 40 times, with the writer idle).
pub(crate) async fn rematch_once(
    store: &Store,
    policy: &Policy,
    ids: &[AssetId],
    only: Option<&[String]>,
    run: &mut MatchRun,
) -> Result<(f64, Vec<AssetId>), StoreError> {
    let scope: Option<std::collections::HashSet<String>> =
        only.map(|v| v.iter().cloned().collect());
    let (matched_tx, mut matched_rx) = tokio::sync::mpsc::channel::<Matched>(MATCHED_AHEAD);
    let matching = match_groups(store, policy, ids, only, matched_tx);
    let writing = async {
        let mut superseded = Vec::new();
        let mut written = 0;
        while let Some(mut batch) = matched_rx.recv().await {
            // What else is matched already goes in the same transaction.
            while batch.len() < WRITE_AT_MOST {
                match matched_rx.try_recv() {
                    Ok(more) => batch.extend(more),
                    Err(_) => break,
                }
            }
            let done = store
                .rematch_assets(&batch, scope.as_ref(), policy.alert_threshold)
                .await?;
            for outcome in done.outcomes {
                run.assets += 1;
                run.new += outcome.new.len();
                run.changed += outcome.changed.len();
                run.resolved += outcome.resolved.len();
            }
            run.alerts += done.alerts.len();
            superseded.extend(done.superseded);
            // A full re-match may fill a table the planner last saw nearly empty.
            if only.is_none()
                && written < STATISTICS_AFTER
                && written + batch.len() >= STATISTICS_AFTER
            {
                store.refresh_finding_statistics().await?;
            }
            written += batch.len();
        }
        Ok::<_, StoreError>(superseded)
    };
    // The writer stops at the first error, dropping the queue: the matching then stops too.
    let (in_memory, superseded) = tokio::try_join!(matching, writing)?;
    Ok((in_memory, superseded))
}

/// The matching half of [`rematch_once`]: reads the assets a group at a time, matches them a
/// batch at a time on the CPU pool, and queues each batch for the writer. Returns the seconds
/// spent matching in memory; stops early, without error, when the writer has gone.
async fn match_groups(
    store: &Store,
    policy: &Policy,
    ids: &[AssetId],
    only: Option<&[String]>,
    matched: tokio::sync::mpsc::Sender<Matched>,
) -> Result<f64, StoreError> {
    let mut knowledge = std::sync::Arc::new(match only {
        Some(vulns) => {
            let slice = store.load_for_matching(vulns).await?;
            ward_store::cpu::run(move || {
                ward_matching::Knowledge::from_parts(slice.advisories, slice.kev, slice.epss)
            })
            .await
        }
        None => ward_matching::Knowledge::default(),
    });
    let mut keys_loaded: std::collections::HashSet<(Option<String>, String)> =
        std::collections::HashSet::new();
    let now = chrono::Utc::now();
    let mut in_memory = 0.0;
    // The next group's inventories are read (and decompressed) while this group is matched:
    // on SQLite a reader does not wait for the writer, and the reading is then off the
    // critical path (at 200 members, a KEV listing's 7,472 assets took 0.5–0.7 s to read,
    // one group after another).
    let read = |group: &[AssetId]| {
        let (store, group) = (store.clone(), group.to_vec());
        tokio::spawn(async move { store.assets_for_matching(&group).await })
    };
    let mut groups = ids.chunks(ASSET_GROUP);
    let mut reading = groups.next().map(read);
    // Batches are matched on every core but one (the writer's), in order of queuing.
    let in_flight = std::thread::available_parallelism()
        .map(|n| usize::from(n).saturating_sub(1))
        .unwrap_or(1)
        .max(1);
    let mut pending = Pending::new();
    while let Some(current) = reading.take() {
        let assets = match current.await {
            Ok(read) => read?,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        reading = groups.next().map(read);
        if only.is_none() {
            let inventory = ward_model::Inventory {
                assets: assets
                    .iter()
                    .map(|(asset, components)| asset.model(components.clone()))
                    .collect(),
            };
            let keys: Vec<(Option<String>, String)> =
                ward_matching::scan::inventory_keys(&inventory)
                    .into_iter()
                    .filter(|k| !keys_loaded.contains(k))
                    .collect();
            let vulns: Vec<String> = store
                .vulnerabilities_for_products(&keys)
                .await?
                .into_iter()
                .filter(|v| !knowledge.advisories.contains_key(v))
                .collect();
            keys_loaded.extend(keys);
            if !vulns.is_empty() {
                let slice = store.load_for_matching(&vulns).await?;
                // The batches still being matched finish first: then nothing else holds the
                // knowledge.
                while !pending.is_empty() {
                    if !queue(&mut pending, &matched, &mut in_memory).await {
                        return Ok(in_memory);
                    }
                }
                let mut grown = std::sync::Arc::try_unwrap(knowledge)
                    .unwrap_or_else(|_| unreachable!("a finished batch still holds the knowledge"));
                knowledge = std::sync::Arc::new(
                    ward_store::cpu::run(move || {
                        grown.extend(slice.advisories, slice.kev, slice.epss);
                        grown
                    })
                    .await,
                );
            }
        }
        let mut organisations: Vec<ward_store::OrgId> =
            assets.iter().map(|(a, _)| a.organisation_id).collect();
        organisations.sort();
        organisations.dedup();
        let statements = std::sync::Arc::new(store.statements_in_force(&organisations).await?);
        // Batches hold whole organisations where they can: the writer brings an
        // organisation's alerts in line once per transaction.
        let mut assets = assets.into_iter();
        let sizes: Vec<usize> =
            batches(assets.as_slice(), REMATCH_BATCH, |(a, _)| a.organisation_id)
                .iter()
                .map(|b| b.len())
                .collect();
        for size in sizes {
            let chunk: Vec<_> = assets.by_ref().take(size).collect();
            let work: Vec<_> = chunk
                .into_iter()
                .map(|(asset, components)| {
                    let org_policy = policy.for_organisation(&asset.organisation).with_as_of(now);
                    let inventory = ward_model::Inventory {
                        assets: vec![asset.model(components)],
                    };
                    (asset, inventory, org_policy)
                })
                .collect();
            let shared = knowledge.clone();
            let vex = statements.clone();
            let facts = store.clone();
            pending.push_back(tokio::spawn(ward_store::cpu::run(move || {
                let started = std::time::Instant::now();
                let batch: Matched = work
                    .into_iter()
                    .map(|(asset, inventory, org_policy)| {
                        let mut report = ward_matching::scan(&shared, &inventory, &org_policy);
                        if let Some(s) = vex.get(&asset.organisation_id) {
                            ward_matching::vex::apply(&mut report, &inventory, s);
                        }
                        // What a more precise source overruled: why a finding the knowledge
                        // took away went.
                        let overruled = report
                            .suppressed
                            .into_iter()
                            .map(|s| ward_store::Overruled {
                                vulnerability: s.vulnerability,
                                component: s.component,
                                reason: s.reason,
                            })
                            .collect::<Vec<_>>();
                        (asset, facts.prepare_findings(&report.findings), overruled)
                    })
                    .collect();
                (batch, started.elapsed().as_secs_f64())
            })));
            while pending.len() >= in_flight {
                if !queue(&mut pending, &matched, &mut in_memory).await {
                    return Ok(in_memory);
                }
            }
        }
    }
    while !pending.is_empty() {
        if !queue(&mut pending, &matched, &mut in_memory).await {
            break;
        }
    }
    Ok(in_memory)
}

/// Batches being matched, oldest first.
type Pending = std::collections::VecDeque<tokio::task::JoinHandle<(Matched, f64)>>;

/// Waits for the oldest batch being matched and queues it for the writer; false when the
/// writer has gone.
async fn queue(
    pending: &mut Pending,
    matched: &tokio::sync::mpsc::Sender<Matched>,
    in_memory: &mut f64,
) -> bool {
    let Some(oldest) = pending.pop_front() else {
        return true;
    };
    let (batch, seconds) = match oldest.await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    *in_memory += seconds;
    matched.send(batch).await.is_ok()
}

/// Runs `work` if this server takes `job` (see [`Store::try_job`]); `None` when another server
/// is doing it. The job is released afterwards, whatever `work` returned.
pub(crate) async fn exclusively<T>(
    store: &Store,
    job: Job,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Option<Result<T, StoreError>> {
    let lock = match store.try_job(job).await {
        Ok(Some(lock)) => lock,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    let result = work.await;
    if let Err(e) = lock.release().await {
        tracing::error!("releasing {job:?}: {e}");
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::batches;

    #[test]
    fn batches_keep_an_organisation_whole_unless_it_is_larger_than_one() {
        let lens = |orgs: &[i64], max| {
            batches(orgs, max, |o| *o)
                .iter()
                .map(|b| b.to_vec())
                .collect::<Vec<_>>()
        };
        // Whole organisations, as many as fit.
        assert_eq!(
            lens(&[1, 1, 2, 2, 2, 3], 5),
            vec![vec![1, 1, 2, 2, 2], vec![3]]
        );
        // One larger than a batch: split, after the batch before it is closed.
        assert_eq!(
            lens(&[1, 2, 2, 2, 2, 2, 2, 3], 4),
            vec![vec![1], vec![2, 2, 2, 2], vec![2, 2, 3]]
        );
        assert_eq!(lens(&[7; 3], 1), vec![vec![7], vec![7], vec![7]]);
        assert!(lens(&[], 3).is_empty());
        // Every item once, in order.
        let items: Vec<i64> = (0..1000).map(|i| i / 37).collect();
        let split = lens(&items, 100);
        assert!(split.iter().all(|b| !b.is_empty() && b.len() <= 100));
        assert_eq!(split.concat(), items);
    }
}
