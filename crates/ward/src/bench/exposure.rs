//! `ward bench attribution`: a generated scan report of N observations (Shadowserver's columns)
//! read and attributed against a generated federation footprint of M claims — IPv4 blocks
//! from /12 to /29 with blocks nested inside others, IPv6 /48s and /64s, domains and AS
//! numbers. Reported: parse and attribution time, observations per second, peak RSS; beside it
//! a linear scan of every claim per observation (what a table of ranges without an index
//! does), timed on a sample and checked to agree with the trie on every sampled observation.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use serde_json::{Value, json};
use ward_inventory::footprint::{Attributor, Claim};
use ward_inventory::observations::parse_observations;

/// SplitMix64: a deterministic generator, so every run measures the same report.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The generated footprint: `(member, claim)`, claims unique.
fn footprint(rng: &mut Rng, claims: usize, members: u32) -> Vec<(u32, Claim)> {
    let mut out: Vec<(u32, Claim)> = Vec::with_capacity(claims);
    let mut seen = std::collections::HashSet::new();
    while out.len() < claims {
        let member = rng.below(u64::from(members)) as u32;
        let roll = rng.below(100);
        let claim = if roll < 70 {
            // IPv4 blocks in 10/8 and 100.64/10 and public-looking space, /12 to /29.
            let len = 12 + rng.below(18) as u8;
            let a = Ipv4Addr::from(rng.next() as u32);
            Claim::Range(ipnet::Ipv4Net::new(a, len).expect("valid").trunc().into())
        } else if roll < 80 && !out.is_empty() {
            // A block nested inside an existing one (a delegation).
            let (_, parent) = &out[rng.below(out.len() as u64) as usize];
            let Claim::Range(ipnet::IpNet::V4(p)) = parent else {
                continue;
            };
            if p.prefix_len() >= 30 {
                continue;
            }
            let len = p.prefix_len() + 1 + rng.below(u64::from(30 - p.prefix_len())) as u8;
            let host = u32::from(p.network()) | (rng.next() as u32 & !u32::from(p.netmask()));
            Claim::Range(
                ipnet::Ipv4Net::new(Ipv4Addr::from(host), len)
                    .expect("valid")
                    .trunc()
                    .into(),
            )
        } else if roll < 92 {
            let a = Ipv6Addr::from((0x2001_0db8u128 << 96) | (u128::from(rng.next()) << 32));
            let len = if rng.below(2) == 0 { 48 } else { 64 };
            Claim::Range(ipnet::Ipv6Net::new(a, len).expect("valid").trunc().into())
        } else if roll < 97 {
            Claim::Domain(format!("trust-{}.nhs.example", rng.below(1 << 20)))
        } else {
            Claim::Asn(64_512 + rng.below(1 << 16) as u32)
        };
        if seen.insert(claim.clone()) {
            out.push((member, claim));
        }
    }
    out
}

/// A Shadowserver-style report: most rows inside some claim, the rest anywhere.
fn report(rng: &mut Rng, claims: &[(u32, Claim)], rows: usize) -> String {
    let ranges: Vec<&ipnet::IpNet> = claims
        .iter()
        .filter_map(|(_, c)| match c {
            Claim::Range(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut out = String::with_capacity(rows * 120);
    out.push_str("\"timestamp\",\"ip\",\"protocol\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"device_vendor\",\"device_model\",\"device_version\"\n");
    for i in 0..rows {
        let address: IpAddr = if rng.below(10) < 8 && !ranges.is_empty() {
            let net = ranges[rng.below(ranges.len() as u64) as usize];
            match net {
                ipnet::IpNet::V4(n) => {
                    let host =
                        u32::from(n.network()) | (rng.next() as u32 & !u32::from(n.netmask()));
                    IpAddr::V4(Ipv4Addr::from(host))
                }
                ipnet::IpNet::V6(n) => {
                    let host = u128::from(n.network())
                        | (u128::from(rng.next()) & !u128::from(n.netmask()));
                    IpAddr::V6(Ipv6Addr::from(host))
                }
            }
        } else {
            IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
        };
        let host = if rng.below(20) == 0 {
            format!("mdm.trust-{}.nhs.example", rng.below(1 << 20))
        } else {
            String::new()
        };
        let (vendor, model, version) = if i % 50 == 0 {
            ("Ivanti", "Endpoint Manager Mobile", "12.5.0.0")
        } else {
            ("", "", "")
        };
        let _ = writeln!(
            out,
            "\"2025-05-16 03:{:02}:{:02}\",\"{address}\",\"tcp\",443,\"{host}\",\"http\",{},\"GB\",\"{vendor}\",\"{model}\",\"{version}\"",
            i / 60 % 60,
            i % 60,
            64_512 + rng.below(1 << 16)
        );
    }
    out
}

/// The linear baseline: every claim looked at for every observation, the longest prefix kept
/// (then the longest domain, then the AS), as the trie decides.
fn linear<'a>(
    claims: &'a [(u32, Claim)],
    address: Option<IpAddr>,
    hostname: Option<&str>,
    asn: Option<u32>,
) -> Option<&'a u32> {
    let mut best: Option<(u8, &u32)> = None;
    if let Some(a) = address {
        for (m, c) in claims {
            if let Claim::Range(n) = c
                && n.contains(&a)
                && best.is_none_or(|(l, _)| n.prefix_len() > l)
            {
                best = Some((n.prefix_len(), m));
            }
        }
    }
    if best.is_none()
        && let Some(h) = hostname
    {
        for (m, c) in claims {
            if let Claim::Domain(d) = c
                && (h == d || h.ends_with(&format!(".{d}")))
                && best.is_none_or(|(l, _)| d.len() as u8 > l)
            {
                best = Some((d.len().min(255) as u8, m));
            }
        }
    }
    if best.is_none()
        && let Some(n) = asn
    {
        best = claims
            .iter()
            .find(|(_, c)| *c == Claim::Asn(n))
            .map(|(m, _)| (0, m));
    }
    best.map(|(_, m)| m)
}

pub(crate) fn bench(observations: usize, prefixes: usize, members: u32) -> anyhow::Result<Value> {
    let mut rng = Rng(SEED);
    let claims = footprint(&mut rng, prefixes, members);
    let text = report(&mut rng, &claims, observations);
    let started = Instant::now();
    let parsed = parse_observations("report.csv", text.as_bytes(), None, chrono::Utc::now())?;
    let parse_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let attributor = Attributor::new(claims.iter().cloned());
    let index_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut attributed = 0usize;
    let mut per_member = vec![0u32; members as usize];
    for o in &parsed.observations {
        if let Some(hit) = attributor.attribute(o.address, o.hostname.as_deref(), o.asn) {
            attributed += 1;
            per_member[*hit.owner as usize] += 1;
        }
    }
    let attribute_s = started.elapsed().as_secs_f64();
    // The linear baseline on a sample, checked against the trie.
    let sample = parsed.observations.len().min(2_000);
    let step = (parsed.observations.len() / sample.max(1)).max(1);
    let started = Instant::now();
    let mut disagreements = 0usize;
    let mut checked = 0usize;
    for o in parsed.observations.iter().step_by(step).take(sample) {
        let slow = linear(&claims, o.address, o.hostname.as_deref(), o.asn);
        let fast = attributor
            .attribute(o.address, o.hostname.as_deref(), o.asn)
            .map(|h| h.owner);
        if slow != fast {
            disagreements += 1;
        }
        checked += 1;
    }
    let linear_per_obs = started.elapsed().as_secs_f64() / checked.max(1) as f64;
    let trie_per_obs = attribute_s / parsed.observations.len().max(1) as f64;
    anyhow::ensure!(
        disagreements == 0,
        "the trie and the linear scan disagree on {disagreements} of {checked} observations"
    );
    Ok(json!({
        "bench": "attribution",
        "observations": parsed.observations.len(),
        "claims": claims.len(),
        "members": members,
        "attributed": attributed,
        "report_mib": text.len() as f64 / 1_048_576.0,
        "parse_seconds": parse_s,
        "index_seconds": index_s,
        "attribute_seconds": attribute_s,
        "observations_per_second_attributing": parsed.observations.len() as f64 / attribute_s,
        "observations_per_second_parse_and_attribute": parsed.observations.len() as f64 / (parse_s + index_s + attribute_s),
        "linear_scan_seconds_per_observation": linear_per_obs,
        "linear_scan_projected_seconds": linear_per_obs * parsed.observations.len() as f64,
        "trie_speedup_over_linear": linear_per_obs / trie_per_obs,
        "sampled_agreement": format!("{checked} of {checked}"),
        "peak_rss_mib": super::peak_rss_mib(),
    }))
}

/// The generator's seed (fixed: every run measures the same report).
const SEED: u64 = 0x5eed_2023_4427;

/// `ward bench observations`: a report of `rows` observations — one per address, spread over
/// `members` members' approved /24s, one in ten an EPMM 12.5.0.0 — posted to `ward serve` on
/// a copy of a knowledge database: the time to record, attribute, build and match the observed
/// assets and raise the alerts; then the same report again (nothing new to match).
pub(crate) async fn import_bench(
    location: &str,
    members: usize,
    rows: usize,
) -> anyhow::Result<Value> {
    use ward_store::{Role, Scope, Store};
    let store = Store::open(location).await?;
    let token = super::central_team(&store, location, Role::CentralAnalyst).await?;
    let actor = "bench";
    for m in 0..members {
        let slug = format!("trust-{m:04}");
        let org = store
            .create_organisation(actor, &slug, &format!("Trust {m}"), false)
            .await?;
        let owner = Scope::operator()
            .within(org.id)
            .expect("the operator reaches every member");
        let block = format!("10.{}.{}.0/24", m / 256, m % 256);
        store
            .claim_footprint(actor, owner, "range", &block, true)
            .await?;
    }
    store.close().await;
    let mut report = String::from(
        "timestamp,ip,port,hostname,tag,asn,device_vendor,device_model,device_version\n",
    );
    for i in 0..rows {
        let m = i % members.max(1);
        let host = 1 + (i / members.max(1)) % 254;
        let (v, p, ver) = if i % 10 == 0 {
            ("Ivanti", "Endpoint Manager Mobile", "12.5.0.0")
        } else {
            ("", "", "")
        };
        let _ = writeln!(
            report,
            "2025-05-16 03:12:44,10.{}.{}.{host},443,,http,64500,{v},{p},{ver}",
            m / 256,
            m % 256
        );
    }
    let (_child, url) = super::start_server(location).await?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3600))
        .build()?;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let r = client
            .post(format!("{url}/api/v1/observations?filename=bench.csv"))
            .bearer_auth(&token)
            .body(report.clone())
            .send()
            .await?;
        let status = r.status();
        let answer: Value = r.json().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "the import failed ({status}): {answer}"
        );
        let alerts: usize = answer["assets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["alerts"].as_array().map(Vec::len))
                    .sum()
            })
            .unwrap_or(0);
        runs.push(json!({
            "seconds": started.elapsed().as_secs_f64(),
            "attributed": answer["attributed"],
            "observed_assets": answer["assets"].as_array().map_or(0, Vec::len),
            "alert_changes": alerts,
        }));
    }
    let first = runs[0]["seconds"].as_f64().unwrap_or_default();
    Ok(json!({
        "bench": "observations",
        "members": members,
        "rows": rows,
        "report_kib": report.len() as f64 / 1024.0,
        "first_import": runs[0],
        "again": runs[1],
        "ms_per_observed_asset_first": 1000.0 * first / runs[0]["observed_assets"].as_f64().unwrap_or(1.0).max(1.0),
    }))
}
