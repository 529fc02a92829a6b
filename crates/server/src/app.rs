//! The application layer: each rule that the API and the UI share, written once — inventory
//! upload with its retry, issue planning, alert transitions, asset creation, reports.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use ward_store::{AlertId, AssetId, NewSighting, Principal, StoreError};

use crate::auth::request_scope;
use ward_model::{AlertExposure, SightingsBundle, StixObject};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::jobs::match_asset;

/// Sigma's rule levels, the only words a sighting's `x_ward_level` may hold.
const SIGMA_LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// The sightings of a STIX bundle (`ward hunt --report`'s [`SightingsBundle`]), checked field
/// by field; an error names the object and field.
pub fn parse_sightings(body: &[u8]) -> Result<Vec<NewSighting>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("body: not JSON: {e}"))?;
    if value.get("type").and_then(Value::as_str) != Some(SightingsBundle::KIND) {
        return Err("body: expected a STIX 2.1 bundle (\"type\": \"bundle\")".into());
    }
    if !value.get("objects").is_some_and(Value::is_array) {
        return Err("body: the bundle has no \"objects\" array".into());
    }
    let objects = value["objects"].as_array().expect("checked above");
    // A field of the wrong type is named by its path (`objects[2].count: invalid type …`).
    let bundle: SightingsBundle = serde_path_to_error::deserialize(value.clone())
        .map_err(|e| format!("{}: {}", e.path(), e.inner()))?;
    let names: std::collections::HashMap<&str, &str> = bundle
        .objects
        .iter()
        .filter(|o| o.kind == StixObject::INDICATOR)
        .filter_map(|o| Some((o.id.as_deref()?, o.name.as_deref()?)))
        .collect();
    // The indicators' tags (`labels`) and the CVEs they name, by indicator id.
    let mut about: std::collections::HashMap<&str, (Vec<String>, Vec<String>)> =
        std::collections::HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        if o["type"] != StixObject::INDICATOR {
            continue;
        }
        let Some(id) = o["id"].as_str() else { continue };
        let tags = words(o, "labels", i)?;
        about.insert(id, (tags, ward_store::vulnerabilities_of(o)));
    }
    let mut out = Vec::new();
    for (i, o) in bundle.objects.iter().enumerate() {
        if o.kind != StixObject::SIGHTING {
            continue;
        }
        let field = |name: &str, v: &Option<String>| -> Result<String, String> {
            v.clone()
                .ok_or_else(|| format!("objects[{i}].{name}: missing or not a string"))
        };
        let id = field("id", &o.id)?;
        if !id.starts_with("sighting--") || id.len() > 100 {
            return Err(format!("objects[{i}].id: {id:?} is not a sighting id"));
        }
        let of = field("sighting_of_ref", &o.sighting_of_ref)?;
        if !of.contains("--") || of.len() > 200 {
            return Err(format!(
                "objects[{i}].sighting_of_ref: {of:?} is not a STIX id"
            ));
        }
        let time = |name: &str, v: &Option<String>| -> Result<String, String> {
            let t = field(name, v)?;
            ward_store::normalise_time(&t)
                .ok_or_else(|| format!("objects[{i}].{name}: {t:?} is not an RFC 3339 time"))
        };
        // A level is one of Sigma's words: never free text that could reach an e-mail header.
        if let Some(level) = o.x_ward_level.as_deref()
            && !SIGMA_LEVELS.contains(&level)
        {
            return Err(format!(
                "objects[{i}].x_ward_level: {level:?} is not a Sigma level ({})",
                SIGMA_LEVELS.join(", ")
            ));
        }
        let first_seen = time("first_seen", &o.first_seen)?;
        let last_seen = time("last_seen", &o.last_seen)?;
        if o.count.is_some_and(|c| !(1..=999_999_999).contains(&c)) {
            return Err(format!(
                "objects[{i}].count: from 1 to 999999999 (STIX 2.1)"
            ));
        }
        // What is shown of the sighting to people: short text, no control characters.
        for (key, max) in [
            ("x_ward_source", 100),
            ("x_ward_asset", 300),
            ("x_ward_line_sha256", 64),
            ("x_ward_excerpt", 2_000),
        ] {
            match &objects[i][key] {
                Value::Null => {}
                Value::String(t)
                    if t.chars().count() <= max
                        && !t.chars().any(|c| c.is_control() && c != '\t') => {}
                _ => {
                    return Err(format!(
                        "objects[{i}].{key}: at most {max} characters of text on one line"
                    ));
                }
            }
        }
        let (mut tags, mut vulnerabilities) = about.get(of.as_str()).cloned().unwrap_or_default();
        // A rule's tags ride on the sighting when the indicator is the central team's.
        for t in words(&objects[i], "x_ward_tags", i)? {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        for v in ward_store::vulnerabilities_of(&objects[i]) {
            if !vulnerabilities.contains(&v) {
                vulnerabilities.push(v);
            }
        }
        out.push(NewSighting {
            tags,
            vulnerabilities,
            title: names
                .get(of.as_str())
                .map_or_else(|| of.clone(), |n| (*n).to_owned()),
            stix_id: id,
            sighting_of: of,
            level: o.x_ward_level.clone(),
            first_seen,
            last_seen,
            // The object as the member sent it (every field, in its own order).
            payload: objects[i].clone(),
        });
    }
    if out.is_empty() {
        return Err("body: the bundle holds no sighting objects".into());
    }
    Ok(out)
}

/// A list of short words (tags) in a STIX object's `key`, checked: at most 100, each one line
/// of at most 200 characters.
fn words(object: &Value, key: &str, i: usize) -> Result<Vec<String>, String> {
    let list = match &object[key] {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) if list.len() <= 100 => list,
        _ => return Err(format!("objects[{i}].{key}: a list of at most 100 words")),
    };
    list.iter()
        .enumerate()
        .map(|(j, l)| match l.as_str() {
            Some(t) if t.len() <= 200 && !t.chars().any(char::is_control) => Ok(t.to_owned()),
            _ => Err(format!("objects[{i}].{key}[{j}]: not a short line of text")),
        })
        .collect()
}

/// How many times an upload is matched before an import that keeps committing meanwhile
/// makes it give up (503: try again).
pub(crate) const UPLOAD_ATTEMPTS: usize = 5;

/// Parses an uploaded inventory with `ward scan`'s parsers, matches it and stores it as the
/// asset's current inventory with its findings (a malformed file: 400, nothing changed).
pub(crate) async fn store_inventory(
    state: &AppState,
    who: &Principal,
    asset: &ward_store::AssetRow,
    name: &str,
    body: &[u8],
) -> ApiResult<(ward_store::UploadOutcome, Vec<String>)> {
    let (file, bytes) = (name.to_owned(), body.to_vec());
    let parsed = ward_store::cpu::run(move || {
        // A compressed upload may expand to four times the request bound, no further.
        ward_inventory::parse_inventory_within(&file, &bytes, 4 * crate::MAX_BODY as u64)
    })
    .await
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let components: Vec<ward_model::Component> = parsed
        .inventory
        .assets
        .into_iter()
        .flat_map(|a| a.components)
        .collect();
    let outcome =
        store_components(state, who, asset, parsed.format, name, body, components).await?;
    let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
    Ok((outcome, warnings))
}

/// Matches `components` and stores them as the asset's current inventory (`format` and `name`
/// say what they were read from, `body` is the file as received).
pub(crate) async fn store_components(
    state: &AppState,
    who: &Principal,
    asset: &ward_store::AssetRow,
    format: &str,
    name: &str,
    body: &[u8],
    components: Vec<ward_model::Component>,
) -> ApiResult<ward_store::UploadOutcome> {
    // An import that commits while the inventory is matched makes the store refuse the
    // findings (they may predate it): matched again with the new knowledge, a few times.
    let mut attempts = 0;
    Ok(loop {
        attempts += 1;
        let knowledge_mark = state.store.knowledge_mark().await?;
        let (keys, findings) =
            match_asset(&state.store, &state.policy, asset, components.clone()).await?;
        let upload = ward_store::InventoryUpload {
            format,
            file_name: name,
            bytes: body,
            components: &components,
            keys: &keys,
            findings: &findings,
            knowledge_mark,
            keep_versions: state.policy.inventory_versions,
        };
        match state
            .store
            .upload_inventory(&who.actor(), asset, &upload, state.policy.alert_threshold)
            .await
        {
            Err(StoreError::KnowledgeMoved) if attempts < UPLOAD_ATTEMPTS => continue,
            result => break result?,
        }
    })
}

/// Who an issued alert about one vulnerability reaches, by member slug.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct IssuePreview {
    pub(crate) vulnerability: String,
    /// Members with open findings: alerted as affected.
    pub(crate) affected: Vec<String>,
    /// Members whose inventory says nothing of the products: asked to confirm.
    pub(crate) confirm_exposure: Vec<String>,
    /// Members whose inventory has the products at versions not affected: not alerted.
    pub(crate) not_affected: Vec<String>,
}

/// Who a high severity alert for these vulnerabilities reaches: every member with matching
/// findings (`affected`), every member whose inventory says nothing about the products
/// (`confirm-exposure`); members whose inventory has the products at unaffected versions are
/// listed as not affected and get nothing.
pub(crate) async fn plan_issue(
    state: &AppState,
    who: &Principal,
    vulnerabilities: &[String],
) -> ApiResult<(Vec<ward_store::IssueTarget>, Vec<IssuePreview>)> {
    if vulnerabilities.is_empty() || vulnerabilities.len() > 100 {
        return Err(ApiError::bad_request(
            "vulnerabilities: name 1 to 100 vulnerabilities",
        ));
    }
    let members: Vec<_> = state
        .store
        .organisations()
        .await?
        .into_iter()
        .filter(|o| !o.central)
        .collect();
    let now = chrono::Utc::now();
    let mut targets = Vec::new();
    let mut preview = Vec::new();
    for vuln in vulnerabilities {
        let products = state.store.vulnerability_products(vuln).await?;
        if products.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "vulnerabilities: {vuln:?} names no product in the knowledge base (import it first)"
                ),
            ));
        }
        // What the alert says of itself: the vulnerability's title and severity.
        let summary = crate::summary::load(&state.store, vuln).await?;
        let title = summary
            .as_ref()
            .and_then(|s| {
                s.title.clone().or_else(|| {
                    s.description.as_ref().map(|d| {
                        let first = d.split(". ").next().unwrap_or(d);
                        first.chars().take(160).collect()
                    })
                })
            })
            .map_or_else(|| vuln.clone(), |t| format!("{vuln}: {t}"));
        let severity = summary
            .as_ref()
            .and_then(|s| s.severity.as_ref())
            .map(|s| s.rating.to_owned());
        // Members whose inventories name the products (from the keys stored with each upload).
        let mentioning = state.store.organisations_mentioning(&products).await?;
        let (mut affected, mut confirm, mut unaffected) = (Vec::new(), Vec::new(), Vec::new());
        for org in &members {
            let policy = state.policy.for_organisation(&org.slug).with_as_of(now);
            // The findings' own deadlines where there are findings. Members asked to confirm answer to the clock of the findings of members that
            // have the product (the policy's `clock`, from the publication or KEV listing).
            let (issued, _) = policy.issued_deadlines(
                summary.as_ref().and_then(|s| s.published),
                summary.as_ref().and_then(|s| s.finding_kev()).as_ref(),
            );
            let millis = |t: chrono::DateTime<chrono::Utc>| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            };
            let target = |exposure, priority, ack: Option<String>, rem: Option<String>| {
                ward_store::IssueTarget {
                    organisation_id: org.id,
                    vulnerability: vuln.clone(),
                    title: title.clone(),
                    severity: severity.clone(),
                    exposure,
                    priority,
                    acknowledge_by: ack.or_else(|| issued.acknowledge_by.map(millis)),
                    remediate_by: rem.or_else(|| issued.remediate_by.map(millis)),
                }
            };
            if let Some((_, priority, ack, rem)) = state
                .store
                .open_findings_for(who.scope(), org.id, vuln)
                .await?
            {
                affected.push(org.slug.clone());
                targets.push(target(AlertExposure::Affected, Some(priority), ack, rem));
                continue;
            }
            if mentioning.contains(&org.id) {
                unaffected.push(org.slug.clone());
            } else {
                confirm.push(org.slug.clone());
                targets.push(target(AlertExposure::ConfirmExposure, None, None, None));
            }
        }
        preview.push(IssuePreview {
            vulnerability: vuln.clone(),
            affected,
            confirm_exposure: confirm,
            not_affected: unaffected,
        });
    }
    Ok((targets, preview))
}

/// An alert action by name, with its justification and (risk acceptances) expiry.
pub(crate) fn parse_transition(
    action: &str,
    justification: Option<String>,
    until: Option<&str>,
) -> ApiResult<ward_store::Transition> {
    Ok(match action {
        "acknowledge" => ward_store::Transition::Acknowledge,
        // A confirm-exposure alert's "we run it": the version in `justification`.
        "running" => ward_store::Transition::Running {
            version: justification.unwrap_or_default(),
        },
        "remediate" => ward_store::Transition::Remediate,
        // A hot-fix the version cannot show: the fix's name in `justification`.
        "fix-installed" => ward_store::Transition::FixInstalled {
            fix: justification.unwrap_or_default(),
        },
        "accept-risk" => {
            let until = until.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
                ApiError::bad_request("until: when does the acceptance expire (RFC 3339)?")
            })?;
            let until = chrono::DateTime::parse_from_rfc3339(until)
                .map_err(|e| ApiError::bad_request(format!("until: {until:?}: {e}")))?
                .with_timezone(&chrono::Utc);
            ward_store::Transition::AcceptRisk {
                justification: justification.unwrap_or_default(),
                until,
            }
        }
        "not-affected" => ward_store::Transition::NotAffected {
            justification: justification.unwrap_or_default(),
        },
        // Incidents (possible-compromise alerts); the reason in `justification`.
        "triage" => ward_store::Transition::Triage,
        "confirm" => ward_store::Transition::Confirm,
        "contain" => ward_store::Transition::Contain,
        "close" => ward_store::Transition::Close {
            reason: justification,
        },
        "false-positive" => ward_store::Transition::FalsePositive {
            reason: justification.unwrap_or_default(),
        },
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no alert action {other:?}: acknowledge, running, remediate, fix-installed, accept-risk, not-affected; for incidents triage, confirm, contain, close, false-positive"
                ),
            ));
        }
    })
}

/// A report's JSON answer (`format` absent or `json`; anything else but `csv` is refused).
pub(crate) fn json<T: serde::Serialize>(body: T, format: Option<&str>) -> ApiResult<Response> {
    match format.unwrap_or("json") {
        "json" => Ok(Json(body).into_response()),
        other => Err(ApiError::bad_request(format!(
            "format: {other:?}: json or csv"
        ))),
    }
}

/// A report's rows as CSV (a header line from the field names). A cell that a spreadsheet
/// would read as a formula (`=`, `+`, `-`, `@`, tab or carriage return first, and not a plain
/// number) is written with a leading `'`, so that text from a feed or a member never runs in
/// the central team's spreadsheet (OWASP's CSV injection advice).
pub(crate) fn csv<T: serde::Serialize>(rows: &[T]) -> ApiResult<Response> {
    let internal =
        |e: ::csv::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    // Serialised once for the header and field order serde gives, then every cell escaped.
    let mut plain = ::csv::Writer::from_writer(Vec::new());
    for row in rows {
        plain.serialize(row).map_err(internal)?;
    }
    let plain = plain
        .into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut escaped = ::csv::Writer::from_writer(Vec::new());
    for record in ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(plain.as_slice())
        .records()
    {
        let record = record.map_err(internal)?;
        escaped
            .write_record(record.iter().map(|cell| defuse_formula(cell).into_owned()))
            .map_err(internal)?;
    }
    let bytes = escaped
        .into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(r)
}

/// A CSV cell a spreadsheet will not evaluate (see [`csv`]).
pub(crate) fn defuse_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// An asset created by `who` for the organisation it names (or its own): members create
/// assets in their own organisation; central roles create them for a member they name, never
/// for the central team itself (the central team has no inventory of its own to match).
pub(crate) async fn create_asset(
    state: &AppState,
    who: &Principal,
    named: Option<&str>,
    asset: &ward_store::NewAsset,
) -> ApiResult<ward_store::AssetRow> {
    if !who.role.can_write() {
        return Err(ApiError::forbidden("create assets"));
    }
    let named = named.filter(|n| !n.is_empty());
    if who.role.is_central() {
        let Some(slug) = named else {
            return Err(ApiError::bad_request(
                "organisation: name the member the asset belongs to",
            ));
        };
        if state
            .store
            .organisation_by_slug(slug)
            .await?
            .is_some_and(|o| o.central)
        {
            return Err(ApiError::bad_request(
                "organisation: assets belong to members; name the member the asset belongs to",
            ));
        }
    }
    let owner = request_scope(state, who, named).await?;
    Ok(state.store.create_asset(&who.actor(), owner, asset).await?)
}

/// An asset within the caller's scope; another organisation's asset does not exist for them.
pub(crate) async fn scoped_asset(
    state: &AppState,
    who: &Principal,
    id: AssetId,
) -> ApiResult<ward_store::AssetRow> {
    state
        .store
        .asset(who.scope(), id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no such asset {id}")))
}

/// A caller's action on an alert within its scope, by the action's name (`acknowledge`,
/// `remediate`, `accept-risk`, `not-affected`), with its justification and (risk acceptances)
/// expiry. Only roles that may speak for the member act: writers of the member, and the central
/// admin on its behalf.
pub(crate) async fn act_on_alert(
    state: &AppState,
    who: &Principal,
    id: AlertId,
    action: &str,
    justification: Option<String>,
    until: Option<&str>,
) -> ApiResult<ward_store::AlertRow> {
    if !who.role.can_act_on_alerts() {
        return Err(ApiError::forbidden("act on alerts"));
    }
    let transition = parse_transition(action, justification, until)?;
    if let ward_store::Transition::AcceptRisk { until, .. } = &transition {
        let max = state.policy.max_risk_acceptance;
        if *until > chrono::Utc::now() + max {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "until: a risk may be accepted for {} days at most (the policy's max_risk_acceptance); accept it again when that runs out",
                    max.num_days()
                ),
            ));
        }
    }
    Ok(state
        .store
        .transition_alert(&who.actor(), who.scope(), id, &transition)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::defuse_formula;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://evil.example\",\"x\")",
                "'=HYPERLINK(\"http://evil.example\",\"x\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-5", "-5"),
            ("+1.5", "+1.5"),
            ("CVE-2025-4427", "CVE-2025-4427"),
            ("", ""),
        ] {
            assert_eq!(defuse_formula(cell), written, "{cell:?}");
        }
    }
}
