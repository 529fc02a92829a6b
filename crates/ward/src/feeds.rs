//! `ward feeds sync|status`: the publishers' feeds followed by Ward itself (`ward-sync`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use comfy_table::Table;
use ward_store::Store;

use crate::{DbArgs, TextOrJson, exit};

#[derive(Subcommand)]
pub(crate) enum FeedsCommand {
    /// Sync the configured sources once (each an import: a failed one changes nothing).
    /// Exit 0 when every source synced, 1 when one failed (the others still ran), 2 on error.
    Sync(SyncArgs),
    /// Each source's last success, last error, cursor, lag and next run.
    Status(StatusArgs),
    /// Write an offline bundle: the knowledge imported since a date (views, the KEV catalogue,
    /// EPSS scores), with a manifest of SHA-256 hashes signed by an Ed25519 key (from `ward
    /// audit keygen`). Members import it with `ward db import FILE --verify-key KEY.pub`.
    Bundle(BundleArgs),
}

#[derive(Args)]
pub(crate) struct BundleArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Knowledge imported since this day or time (`2026-11-01`, or RFC 3339).
    #[arg(long, value_name = "DATE")]
    since: String,
    /// The bundle to write (`.tar.gz`).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: PathBuf,
    /// The Ed25519 private key (PKCS#8 PEM) that signs the manifest.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
}

#[derive(Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The feeds file (TOML: `[[source]]` name, kind, url, every, …; see docs/feeds.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Only this source.
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
}

#[derive(Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The feeds file: its sources are listed even before their first sync, with their next run.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
}

pub(crate) async fn run(command: FeedsCommand) -> anyhow::Result<u8> {
    match command {
        FeedsCommand::Sync(args) => sync(args).await,
        FeedsCommand::Status(args) => status(args).await,
        FeedsCommand::Bundle(args) => bundle(args).await,
    }
}

async fn bundle(args: BundleArgs) -> anyhow::Result<u8> {
    let since = match chrono::DateTime::parse_from_rfc3339(&args.since) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => chrono::NaiveDate::parse_from_str(&args.since, "%Y-%m-%d")
            .map_err(|_| {
                anyhow::anyhow!(
                    "--since {:?}: give a day (2026-11-01) or an RFC 3339 time",
                    args.since
                )
            })?
            .and_time(chrono::NaiveTime::MIN)
            .and_utc(),
    };
    let pem = std::fs::read_to_string(&args.key)
        .map_err(|e| anyhow::anyhow!("--key {}: {e}", args.key.display()))?;
    let key = ward_store::checkpoint::signing_key(&pem).map_err(anyhow::Error::msg)?;
    let store = Store::open(&args.db.location()).await?;
    let result = ward_sync::bundle::write(&store, since, &args.out, &key).await;
    store.close().await;
    let manifest = result.map_err(anyhow::Error::msg)?;
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&manifest)?),
        TextOrJson::Text => println!(
            "{}: {} views, {} KEV entries, {} EPSS scores since {} in {} files, signed by {}",
            args.out.display(),
            manifest.views,
            manifest.kev,
            manifest.epss,
            manifest.since,
            manifest.files.len(),
            manifest.key_id
        ),
    }
    Ok(exit::OK)
}

async fn sync(args: SyncArgs) -> anyhow::Result<u8> {
    let config = ward_sync::Config::load(&args.config)?;
    let http = ward_sync::Http::new(config.ca_file.as_deref())?;
    let store = Store::open(&args.db.location()).await?;
    let result = ward_sync::sync(&store, &http, &config, args.source.as_deref()).await;
    store.close().await;
    let reports = result?;
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        TextOrJson::Text => {
            for r in &reports {
                match &r.error {
                    None => println!(
                        "{}: {} ({} records: {} new, {} updated{}; {} requests, {} bytes, {:.1} s)",
                        r.name,
                        if r.changed { "changed" } else { "no change" },
                        r.records,
                        r.new,
                        r.updated,
                        if r.removed.is_empty() {
                            String::new()
                        } else {
                            format!(
                                ", {} removed from KEV: {}",
                                r.removed.len(),
                                r.removed.join(" ")
                            )
                        },
                        r.requests,
                        r.bytes,
                        r.seconds
                    ),
                    Some(e) => println!(
                        "{}: FAILED, nothing of the failed step was imported: {e}",
                        r.name
                    ),
                }
            }
        }
    }
    Ok(if reports.iter().all(|r| r.ok) {
        exit::OK
    } else {
        exit::FOUND
    })
}

/// One source's status: its state and, when the feeds file is given, its schedule.
#[derive(serde::Serialize)]
struct Status {
    #[serde(flatten)]
    state: ward_store::FeedState,
    /// Seconds since the last success (`null`: never).
    lag_seconds: Option<i64>,
    /// When the next sync is due (with `--config`).
    next_run_at: Option<String>,
    /// Behind: no success for twice the interval (with `--config`).
    behind: bool,
}

pub(crate) fn statuses(
    states: Vec<ward_store::FeedState>,
    config: Option<&ward_sync::Config>,
) -> Vec<serde_json::Value> {
    let now = chrono::Utc::now();
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let mut states = states;
    if let Some(c) = config {
        for s in &c.sources {
            if !states.iter().any(|st| st.name == s.name) {
                states.push(ward_store::FeedState {
                    name: s.name.clone(),
                    kind: s.kind.as_str().to_owned(),
                    ..Default::default()
                });
            }
        }
    }
    states
        .into_iter()
        .map(|state| {
            let every = config
                .and_then(|c| c.sources.iter().find(|s| s.name == state.name))
                .map(|s| chrono::Duration::from_std(s.every).unwrap_or_default());
            let success = parse(&state.last_success_at);
            let run = parse(&state.last_run_at);
            let status = Status {
                lag_seconds: success.map(|t| (now - t).num_seconds()),
                next_run_at: every.map(|e| {
                    run.map_or(now, |r| r + e)
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                }),
                behind: every.is_some_and(|e| success.is_none_or(|t| now - t > e * 2)),
                state,
            };
            serde_json::to_value(status).expect("a status serialises")
        })
        .collect()
}

async fn status(args: StatusArgs) -> anyhow::Result<u8> {
    let config = args
        .config
        .as_deref()
        .map(ward_sync::Config::load)
        .transpose()?;
    let store = Store::open(&args.db.location()).await?;
    let states = store.feed_states().await;
    store.close().await;
    let all = statuses(states?, config.as_ref());
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&all)?),
        TextOrJson::Text => {
            let mut table = Table::new();
            table.load_style(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
            table.set_header([
                "source",
                "kind",
                "last success",
                "lag",
                "last error",
                "next run",
            ]);
            let text = |v: &serde_json::Value| v.as_str().unwrap_or("—").to_owned();
            for s in &all {
                table.add_row([
                    text(&s["name"]),
                    text(&s["kind"]),
                    text(&s["last_success_at"]),
                    s["lag_seconds"].as_i64().map_or("never".into(), |l| {
                        format!(
                            "{}{}",
                            human(l),
                            if s["behind"] == true { " (behind)" } else { "" }
                        )
                    }),
                    match s["last_error"].as_str() {
                        Some(e) if s["failures"].as_i64().unwrap_or(0) > 0 => {
                            e.chars().take(60).collect()
                        }
                        _ => "—".into(),
                    },
                    text(&s["next_run_at"]),
                ]);
            }
            if all.is_empty() {
                println!("no source has synced yet (ward feeds sync --config FILE)");
            } else {
                println!("{table}");
            }
        }
    }
    Ok(exit::OK)
}

/// `3 h 5 min`, `40 s`.
fn human(seconds: i64) -> String {
    match seconds {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
