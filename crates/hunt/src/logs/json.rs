//! JSON lines: Ward's own fields, and the web server names of ECS and nginx as aliases.

use super::access::{url_fields, web_request_fields};
use super::*;

pub(super) fn parse_json<'a>(line: &str) -> Result<Record<'a>, String> {
    let trimmed = line.trim_start();
    if !trimmed.starts_with('{') {
        return Err("not a JSON object".into());
    }
    let mut value: Value = serde_json::from_str(trimmed).map_err(|e| format!("JSON: {e}"))?;
    let Some(obj) = value.as_object_mut() else {
        return Err("not a JSON object".into());
    };
    add_web_aliases(obj);
    let timestamp = [
        "@timestamp",
        "timestamp",
        "time",
        "ts",
        "date",
        "time_local",
        "eventTime",
    ]
    .iter()
    .find_map(|k| obj.get(*k))
    .and_then(json_time);
    Ok(Record {
        timestamp,
        proxy_request: false,
        fields: Fields::Json(value),
    })
}

pub(super) fn json_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .or_else(|| DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z").ok())
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => {
            let secs = n.as_f64()?;
            // Milliseconds when too large to be seconds.
            let secs = if secs > 1e11 { secs / 1000.0 } else { secs };
            DateTime::from_timestamp(secs as i64, ((secs.fract()) * 1e9) as u32)
        }
        _ => None,
    }
}

/// The webserver/proxy names a JSON access log's fields stand for: Elastic Common Schema and
/// the keys nginx JSON log formats usually use. A name the line already has is left alone.
pub(super) fn add_web_aliases(obj: &mut Map<String, Value>) {
    const ALIASES: &[(&str, &[&str])] = &[
        (
            "c-ip",
            &[
                "source.ip",
                "client.ip",
                "remote_addr",
                "client_ip",
                "remote_ip",
            ],
        ),
        (
            "cs-method",
            &["http.request.method", "request_method", "method"],
        ),
        (
            "sc-status",
            &["http.response.status_code", "status", "status_code"],
        ),
        (
            "cs-user-agent",
            &[
                "user_agent.original",
                "http_user_agent",
                "user_agent",
                "useragent",
            ],
        ),
        (
            "c-useragent",
            &[
                "user_agent.original",
                "http_user_agent",
                "user_agent",
                "useragent",
            ],
        ),
        (
            "cs-referer",
            &[
                "http.request.referrer",
                "http_referer",
                "referer",
                "referrer",
            ],
        ),
        ("cs-username", &["user.name", "remote_user"]),
        (
            "cs-cookie",
            &["http.request.cookie", "http_cookie", "cookie"],
        ),
        (
            "cs-content-type",
            &["http.request.mime_type", "content_type"],
        ),
        ("dst_ip", &["destination.ip", "server.ip", "server_addr"]),
    ];
    let mut added: Vec<(&str, Value)> = Vec::new();
    let value = Value::Object(obj.clone());
    for (alias, sources) in ALIASES {
        if obj.contains_key(*alias) {
            continue;
        }
        if let Some(v) = sources
            .iter()
            .find_map(|s| lookup(&value, s))
            .and_then(scalar_text)
        {
            added.push((alias, Value::String(v.into_owned())));
        }
    }
    // The URL: a full one, or path and query, or nginx's request_uri / request line.
    let url = ["url.original", "url.full", "request_uri", "uri", "url"]
        .iter()
        .find_map(|s| lookup(&value, s).and_then(Value::as_str));
    let target;
    let mut url_parts = FlatFields::new();
    if let Some(u) = url {
        url_fields(u, &mut url_parts);
    } else if let Some(path) = lookup(&value, "url.path").and_then(Value::as_str) {
        target = match lookup(&value, "url.query").and_then(Value::as_str) {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        url_fields(&target, &mut url_parts);
    } else if let Some(req) = lookup(&value, "request").and_then(Value::as_str) {
        web_request_fields(req, &mut url_parts);
    }
    if let Some(domain) = ["url.domain", "host", "http_host", "server_name"]
        .iter()
        .find_map(|s| lookup(&value, s).and_then(Value::as_str))
    {
        url_parts.push((FieldId::CsHost, domain));
    }
    let named =
        url_parts
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(NAME_ALIASES.iter().filter_map(|(alias, field)| {
                url_parts
                    .iter()
                    .find(|(k, _)| k == field)
                    .map(|(_, v)| (*alias, v))
            }));
    // The first value a name is given wins, as with the aliases above.
    let mut parts: Vec<(&str, Value)> = Vec::new();
    for (k, v) in named {
        if !obj.contains_key(k)
            && !added.iter().any(|(a, _)| *a == k)
            && !parts.iter().any(|(a, _)| *a == k)
        {
            parts.push((k, Value::String(v.to_string())));
        }
    }
    added.extend(parts);
    for (k, v) in added {
        obj.insert(k.to_owned(), v);
    }
}
