//! Access logs: NCSA common and combined (Apache, nginx), and the fields of the request line.

use super::*;

pub(super) fn parse_access(line: &str, combined: bool) -> Result<Record, String> {
    let mut c = Cursor::new(line);
    let client = c.token().ok_or("empty line")?;
    if !looks_like_host(client) {
        return Err(format!("{client:?} is not a client address"));
    }
    let _ident = c.token().ok_or("no ident field")?;
    let user = c.token().ok_or("no user field")?;
    let time = c.bracketed().ok_or("no [time] field")?;
    let timestamp = DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z")
        .map_err(|e| format!("time [{time}]: {e}"))?
        .with_timezone(&Utc);
    c.skip_spaces();
    let request = c.quoted().ok_or("no quoted request")?;
    c.skip_spaces();
    let status = c.token().ok_or("no status")?;
    if !(status == "-" || (status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()))) {
        return Err(format!("status {status:?} is not a three-digit code"));
    }
    let bytes = c.token().ok_or("no size")?;
    let mut referer = None;
    let mut agent = None;
    c.skip_spaces();
    if combined {
        referer = Some(c.quoted().ok_or("no quoted referer (combined format)")?);
        c.skip_spaces();
        agent = Some(c.quoted().ok_or("no quoted user agent (combined format)")?);
    } else if !c.at_end() && c.rest().starts_with('"') {
        return Err("has referer and user agent: combined, not common".into());
    }

    let mut fields: Vec<(&'static str, String)> = Vec::with_capacity(24);
    fields.push(("c-ip", client.to_owned()));
    if user != "-" {
        fields.push(("cs-username", user.to_owned()));
    }
    fields.push(("sc-status", status.to_owned()));
    fields.push(("sc-bytes", bytes.to_owned()));
    fields.push(("cs-request", request.to_owned()));
    if let Some(r) = referer.filter(|r| *r != "-") {
        fields.push(("cs-referer", r.to_owned()));
    }
    if let Some(a) = agent.filter(|a| *a != "-") {
        fields.push(("cs-user-agent", a.to_owned()));
    }
    let searchable = fields.len();
    web_request_fields(request, &mut fields);
    let proxy_request = fields.iter().any(|(k, v)| {
        (*k == "cs-method" && v == "CONNECT") || (*k == "cs-uri" && v.contains("://"))
    });
    let mut record = Record::flat_split(Some(timestamp), fields, searchable);
    record.proxy_request = proxy_request;
    Ok(record)
}

pub(super) fn looks_like_host(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'_' | b'%' | b'[' | b']')
    })
}

/// Fields from the request line `METHOD target PROTOCOL`, under the names of Sigma's webserver
/// (W3C/IIS: `cs-method`, `cs-uri-stem`, `cs-uri-query`, `cs-version`) and proxy (`c-uri`,
/// `c-uri-stem`, `c-uri-query`, `c-uri-extension`, `cs-host`) taxonomies.
pub(super) fn web_request_fields(request: &str, fields: &mut Vec<(&'static str, String)>) {
    let mut parts = request.splitn(3, ' ');
    let method = parts.next().unwrap_or_default();
    let Some(target) = parts.next() else {
        // A bare string (a scanner's junk, "-"): keep it as the URI for URI rules.
        fields.push(("cs-uri", request.to_owned()));
        return;
    };
    let version = parts.next();
    fields.push(("cs-method", method.to_owned()));
    if let Some(v) = version {
        fields.push(("cs-version", v.to_owned()));
    }
    url_fields(target, fields);
}

/// Splits a request target or URL into the webserver/proxy URI fields.
pub(super) fn url_fields(target: &str, fields: &mut Vec<(&'static str, String)>) {
    let (host, path_and_query) = match target.find("://") {
        Some(i) if target[..i].bytes().all(|b| b.is_ascii_alphabetic()) => {
            let after = &target[i + 3..];
            let end = after.find(['/', '?']).unwrap_or(after.len());
            let authority = &after[..end];
            let host = authority.rsplit('@').next().unwrap_or(authority);
            let host = match host.rfind(':') {
                Some(p) if !host.ends_with(']') => &host[..p],
                _ => host,
            };
            (Some(host), &after[end..])
        }
        _ => (None, target),
    };
    let (stem, query) = match path_and_query.split_once('?') {
        Some((s, q)) => (s, Some(q)),
        None => (path_and_query, None),
    };
    fields.push(("cs-uri", target.to_owned()));
    fields.push(("cs-uri-stem", stem.to_owned()));
    if let Some(q) = query {
        fields.push(("cs-uri-query", q.to_owned()));
    }
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        fields.push(("cs-host", h.to_owned()));
    }
    let last = stem.rsplit('/').next().unwrap_or_default();
    if let Some((_, ext)) = last.rsplit_once('.')
        && !ext.is_empty()
    {
        fields.push(("c-uri-extension", ext.to_owned()));
    }
}
