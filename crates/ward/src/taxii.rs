//! Ward's TAXII 2.1 client, for `ward hunt --taxii`: pulls a collection's objects from an API
//! root page by page (`added_after` from the last pull, then `next`), keeps them — the newest
//! version of each — with the cursor in a state file of its own, and hands the indicators
//! (STIX patterns) and Sigma rules (`pattern_type: "sigma"`) to the hunt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hunt::Loaded;

const MEDIA: &str = "application/taxii+json;version=2.1";
/// Objects kept per collection, at most.
const MAX_OBJECTS: usize = 1_000_000;

/// What was pulled before: the cursor and every object (its newest version).
#[derive(Default, Serialize, Deserialize)]
struct State {
    root: String,
    /// The last `X-TAXII-Date-Added-Last` seen: the next pull asks for what was added after.
    cursor: Option<String>,
    objects: BTreeMap<String, Value>,
}

fn state_file(dir: &Path, collection: &str) -> anyhow::Result<PathBuf> {
    if collection.is_empty()
        || collection.len() > 100
        || !collection
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--collection {collection:?}: not a collection id");
    }
    Ok(dir.join(format!("{collection}.json")))
}

/// Where `--taxii` pulls from.
pub(crate) struct Source {
    pub(crate) root: String,
    pub(crate) collection: String,
    pub(crate) token: String,
    /// Where the objects and the cursor are kept.
    pub(crate) dir: PathBuf,
}

/// [`pull`] from a source.
pub(crate) async fn pull_from(source: &Source) -> anyhow::Result<Pulled> {
    pull(&source.root, &source.collection, &source.token, &source.dir).await
}

/// What a pull brought.
pub(crate) struct Pulled {
    /// Every object kept (the newest version of each).
    pub(crate) all: Vec<Value>,
    /// Objects (or versions) this pull brought that were not kept before.
    pub(crate) new: Vec<Value>,
}

/// Pulls what the collection added since the last pull.
pub(crate) async fn pull(
    root: &str,
    collection: &str,
    token: &str,
    dir: &Path,
) -> anyhow::Result<Pulled> {
    let mut new: BTreeMap<String, Value> = BTreeMap::new();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let file = state_file(dir, collection)?;
    let root = format!("{}/", root.trim_end_matches('/'));
    let mut state: State = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not Ward's TAXII state", file.display()))?,
        Err(_) => State::default(),
    };
    if state.root != root {
        // Another server's collection of the same id: start afresh.
        state = State {
            root: root.clone(),
            ..State::default()
        };
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let endpoint = format!("{root}collections/{collection}/objects/");
    let mut next: Option<String> = None;
    let mut pulled = 0usize;
    let mut newest = state.cursor.clone();
    loop {
        let mut query: Vec<(&str, String)> = vec![("limit", "1000".into())];
        if let Some(c) = &state.cursor {
            query.push(("added_after", c.clone()));
        }
        if let Some(n) = &next {
            query.push(("next", n.clone()));
        }
        let mut url = reqwest::Url::parse(&endpoint)
            .with_context(|| format!("--taxii {root:?}: not a URL"))?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let response = client
            .get(url)
            .bearer_auth(token)
            .header("accept", MEDIA)
            .send()
            .await
            .with_context(|| format!("GET {endpoint}"))?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            bail!(
                "{endpoint}: the server answered {status}: {}",
                body["error"].as_str().unwrap_or("(no message)")
            );
        }
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .replace(' ', "");
        if !media.starts_with("application/taxii+json") {
            bail!("{endpoint}: answered {media:?}, not {MEDIA}");
        }
        let last = response
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let envelope: Value = response
            .json()
            .await
            .with_context(|| format!("{endpoint}: not a TAXII envelope"))?;
        for object in envelope["objects"].as_array().into_iter().flatten() {
            let Some(id) = object["id"].as_str() else {
                continue;
            };
            let newer = state.objects.get(id).is_none_or(|kept| {
                object["modified"].as_str().unwrap_or_default()
                    > kept["modified"].as_str().unwrap_or_default()
            });
            if newer {
                state.objects.insert(id.to_owned(), object.clone());
                new.insert(id.to_owned(), object.clone());
            }
            pulled += 1;
        }
        if state.objects.len() > MAX_OBJECTS {
            bail!("{endpoint}: more than {MAX_OBJECTS} objects; refused");
        }
        if let Some(l) = last
            && newest.as_deref().is_none_or(|n| l.as_str() > n)
        {
            newest = Some(l);
        }
        match (envelope["more"].as_bool(), envelope["next"].as_str()) {
            (Some(true), Some(n)) => next = Some(n.to_owned()),
            _ => break,
        }
    }
    state.cursor = newest;
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&state)?).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, &file).with_context(|| file.display().to_string())?;
    eprintln!(
        "pulled {pulled} new objects from TAXII collection {collection} ({} kept in {})",
        state.objects.len(),
        file.display()
    );
    Ok(Pulled {
        all: state.objects.into_values().collect(),
        new: new.into_values().collect(),
    })
}

/// Adds the pulled indicators (STIX patterns) and Sigma rules to what the hunt loaded.
pub(crate) fn load_into(objects: &[Value], collection: &str, loaded: &mut Loaded) {
    let stix: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            o["type"] == "indicator" && o["pattern_type"].as_str().unwrap_or("stix") == "stix"
        })
        .collect();
    if !stix.is_empty() {
        let bundle = serde_json::json!({
            "type": "bundle",
            "id": "bundle--00000000-0000-4000-8000-000000000000",
            "objects": stix,
        });
        loaded.indicators.add_stix(
            &format!("taxii:{collection}"),
            bundle.to_string().as_bytes(),
        );
        loaded.indicators.finish();
    }
    for o in objects
        .iter()
        .filter(|o| o["type"] == "indicator" && o["pattern_type"] == "sigma")
        .filter(|o| o["revoked"] != true)
    {
        let (Some(id), Some(rule)) = (o["id"].as_str(), o["pattern"].as_str()) else {
            continue;
        };
        loaded
            .rules
            .add_yaml(Path::new(&format!("taxii:{collection}/{id}")), rule);
        // Sightings of the rule name the indicator the central team published, so that the
        // server ties them to it (its title, tags and CVEs).
        for name in ward_hunt::RuleSet::rule_names(rule) {
            loaded.published.insert(name, id.to_owned());
        }
    }
}
