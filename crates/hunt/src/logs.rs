//! Log readers: web server access logs (NCSA common and combined, as Apache and nginx write them),
//! JSON lines, and syslog (RFC 3164, RFC 5424, and the RFC 3339-stamped lines of rsyslog's files).
//!
//! Each line becomes a [`Record`]: a timestamp and named fields. Access-log fields carry the names
//! Sigma's `webserver` and `proxy` categories use (`cs-uri-stem`, `c-uri`, `c-ip`, …), so SigmaHQ
//! rules run on them unchanged; JSON lines keep their own fields and gain the same names from the
//! Elastic Common Schema and nginx's usual JSON keys.
//!
//! Hand-written parsers rather than one regex per format: the hunt reads gigabytes, and a cursor
//! over the line is several times faster than a capturing regex (see `ward bench hunt`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use rsigma_eval::event::{Event, EventValue};
use serde_json::{Map, Value};

/// The formats Ward reads. `--log-format` takes these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// NCSA combined: common plus `"referer" "user-agent"` (Apache `combined`, nginx default).
    Combined,
    /// NCSA common: `host ident user [time] "request" status bytes`.
    Common,
    /// One JSON object per line.
    JsonLines,
    /// BSD syslog, RFC 3164 (`<PRI>Mmm dd hh:mm:ss host tag: msg`, PRI optional as in files).
    Syslog3164,
    /// RFC 5424 (`<PRI>1 timestamp host app procid msgid [sd] msg`), and files whose lines start
    /// with an RFC 3339 timestamp followed by `host tag: msg` (rsyslog's high-precision format).
    Syslog5424,
}

impl LogFormat {
    pub const ALL: [Self; 5] = [
        Self::Combined,
        Self::Common,
        Self::JsonLines,
        Self::Syslog3164,
        Self::Syslog5424,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Combined => "combined",
            Self::Common => "common",
            Self::JsonLines => "json",
            Self::Syslog3164 => "syslog3164",
            Self::Syslog5424 => "syslog5424",
        }
    }

    /// Which family of Sigma rules its records are offered to.
    pub fn family(self) -> Family {
        match self {
            Self::Combined | Self::Common => Family::Webserver,
            Self::JsonLines => Family::Json,
            Self::Syslog3164 | Self::Syslog5424 => Family::Syslog,
        }
    }

    /// The format of a log, judged from its first lines: the first format that reads a
    /// non-empty line (of at most the first 20) wins.
    pub fn detect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        for line in lines.into_iter().filter(|l| !l.trim().is_empty()).take(20) {
            for format in [
                Self::JsonLines,
                Self::Syslog5424,
                Self::Syslog3164,
                Self::Combined,
                Self::Common,
            ] {
                if parse_line(format, line, 2026).is_ok() {
                    return Some(format);
                }
            }
        }
        None
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "combined" | "apache" | "nginx" => Ok(Self::Combined),
            "common" | "clf" => Ok(Self::Common),
            "json" | "jsonl" | "ndjson" | "json-lines" => Ok(Self::JsonLines),
            "syslog3164" | "rfc3164" | "syslog" => Ok(Self::Syslog3164),
            "syslog5424" | "rfc5424" => Ok(Self::Syslog5424),
            other => Err(format!(
                "unknown log format {other:?}; expected one of combined, common, json, syslog3164, syslog5424"
            )),
        }
    }
}

/// The rule families: a record is offered only to rules written for its kind of log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Sigma `category: webserver`: access logs of the server the requests were for.
    Webserver,
    /// Sigma `category: proxy`: an access-log line whose request target is an absolute URL
    /// (`GET http://host/path`, the form clients use only towards a proxy) or `CONNECT`.
    Proxy,
    /// Sigma `product: linux` rules without a category (syslog, auth, sshd, sudo, cron, …).
    Syslog,
    /// Every rule: a JSON event names its own fields.
    Json,
}

/// One log line, read.
#[derive(Debug, Clone)]
pub struct Record {
    pub timestamp: Option<DateTime<Utc>>,
    /// A request made through a proxy (absolute-form target or `CONNECT`).
    pub proxy_request: bool,
    fields: Fields,
}

#[derive(Debug, Clone)]
enum Fields {
    /// Fields read from a line. The first `searchable` are what the line says (client, user,
    /// request line, status, size, referer, agent): Sigma keywords search those, as they would
    /// search the raw line. The rest are parts of them (method, URI stem, query, …): named for
    /// rules, not searched twice.
    Flat {
        fields: Vec<(&'static str, String)>,
        searchable: usize,
    },
    Json(Value),
}

/// Other names the webserver and proxy taxonomies use for the same field (alias, field).
/// Kept as names only: the value is stored once.
const NAME_ALIASES: [(&str, &str); 6] = [
    ("c-uri", "cs-uri"),
    ("c-uri-stem", "cs-uri-stem"),
    ("c-uri-query", "cs-uri-query"),
    ("c-useragent", "cs-user-agent"),
    ("cs(User-Agent)", "cs-user-agent"),
    ("cs(Referer)", "cs-referer"),
];

fn flat_get<'a>(fields: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    let name = NAME_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, field)| field);
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

impl Record {
    fn flat(timestamp: Option<DateTime<Utc>>, fields: Vec<(&'static str, String)>) -> Self {
        let searchable = fields.len();
        Self::flat_split(timestamp, fields, searchable)
    }

    fn flat_split(
        timestamp: Option<DateTime<Utc>>,
        fields: Vec<(&'static str, String)>,
        searchable: usize,
    ) -> Self {
        Self {
            timestamp,
            proxy_request: false,
            fields: Fields::Flat { fields, searchable },
        }
    }

    /// Read from a line-oriented log (access log, syslog), not a JSON event.
    pub fn is_flat(&self) -> bool {
        matches!(self.fields, Fields::Flat { .. })
    }

    /// A field's value as text (JSON numbers and booleans in their JSON spelling).
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        match &self.fields {
            Fields::Flat { fields, .. } => flat_get(fields, name).map(Cow::Borrowed),
            Fields::Json(value) => lookup(value, name).and_then(scalar_text),
        }
    }

    /// Every (field, text) pair under every name it has; nested JSON objects flattened with dots.
    pub fn for_each_field(&self, f: &mut dyn FnMut(&str, &str)) {
        match &self.fields {
            Fields::Flat { fields, .. } => {
                for (k, v) in fields {
                    f(k, v);
                }
                for (alias, field) in NAME_ALIASES {
                    if let Some(v) = flat_get(fields, field) {
                        f(alias, v);
                    }
                }
            }
            Fields::Json(value) => walk_json(value, &mut String::new(), f),
        }
    }
}

fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// A field by its full name first (`"url.path"` as one key), then by dotted path.
fn lookup<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let obj = value.as_object()?;
    if let Some(v) = obj.get(name) {
        return Some(v);
    }
    let mut current = value;
    for part in name.split('.') {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn walk_json(value: &Value, path: &mut String, f: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                walk_json(v, path, f);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for v in items {
                walk_json(v, path, f);
            }
        }
        other => {
            if let Some(text) = scalar_text(other) {
                f(path, &text);
            }
        }
    }
}

impl Event for Record {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        match &self.fields {
            Fields::Flat { fields, .. } => {
                flat_get(fields, path).map(|v| EventValue::Str(Cow::Borrowed(v)))
            }
            Fields::Json(value) => rsigma_eval::event::JsonEvent::borrow(value)
                .get_field(path)
                .map(own_event_value),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        match &self.fields {
            Fields::Flat { fields, searchable } => {
                fields[..*searchable].iter().any(|(_, v)| pred(v))
            }
            Fields::Json(value) => {
                rsigma_eval::event::JsonEvent::borrow(value).any_string_value(pred)
            }
        }
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        match &self.fields {
            Fields::Flat { fields, searchable } => fields[..*searchable]
                .iter()
                .map(|(_, v)| Cow::Borrowed(v.as_str()))
                .collect(),
            Fields::Json(_) => {
                let mut out = Vec::new();
                self.for_each_field(&mut |_, v| out.push(Cow::Owned(v.to_owned())));
                out
            }
        }
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        match &self.fields {
            Fields::Flat { fields, searchable } => {
                fields[..*searchable].iter().for_each(|(_, v)| visit(v));
            }
            Fields::Json(_) => self.for_each_field(&mut |_, v| visit(v)),
        }
    }

    fn to_json(&self) -> Value {
        match &self.fields {
            Fields::Flat { .. } => {
                let mut map = Map::new();
                self.for_each_field(&mut |k, v| {
                    map.insert(k.to_owned(), Value::String(v.to_owned()));
                });
                Value::Object(map)
            }
            Fields::Json(value) => value.clone(),
        }
    }
}

/// `JsonEvent` borrows from a temporary; the value it returns must not outlive it. Copy the
/// (small) value out so the record's own lifetime applies.
fn own_event_value(v: EventValue<'_>) -> EventValue<'static> {
    match v {
        EventValue::Str(s) => EventValue::Str(Cow::Owned(s.into_owned())),
        EventValue::Int(i) => EventValue::Int(i),
        EventValue::Float(f) => EventValue::Float(f),
        EventValue::Bool(b) => EventValue::Bool(b),
        EventValue::Null => EventValue::Null,
        EventValue::Array(items) => {
            EventValue::Array(items.into_iter().map(own_event_value).collect())
        }
        EventValue::Map(items) => EventValue::Map(
            items
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), own_event_value(v)))
                .collect(),
        ),
    }
}

/// Reads one line in the given format. `year` dates RFC 3164 stamps, which have none.
pub fn parse_line(format: LogFormat, line: &str, year: i32) -> Result<Record, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    match format {
        LogFormat::Combined => parse_access(line, true),
        LogFormat::Common => parse_access(line, false),
        LogFormat::JsonLines => parse_json(line),
        LogFormat::Syslog3164 => parse_3164(line, year),
        LogFormat::Syslog5424 => parse_5424(line),
    }
}

/// A cursor over a line.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    /// The text up to the next space (or the end), consuming one space after it.
    fn token(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(' ').unwrap_or(rest.len());
        let tok = &rest[..end];
        self.pos += (end + 1).min(rest.len());
        (!tok.is_empty()).then_some(tok)
    }
    fn skip_spaces(&mut self) {
        while self.s.as_bytes().get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.s.as_bytes().get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }
    /// `[...]`, returning the inside.
    fn bracketed(&mut self) -> Option<&'a str> {
        self.expect(b'[')?;
        let rest = self.rest();
        let end = rest.find(']')?;
        self.pos += end + 1;
        Some(&rest[..end])
    }
    /// `"..."` with `\"` and `\\` escapes (as Apache and nginx write them), returning the
    /// inside with escapes kept: the log's own text is what rules and reports see.
    fn quoted(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    self.pos = i + 1;
                    return Some(&self.s[start..i]);
                }
                _ => i += 1,
            }
        }
        None
    }
}

fn parse_access(line: &str, combined: bool) -> Result<Record, String> {
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

fn looks_like_host(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'_' | b'%' | b'[' | b']')
    })
}

/// Fields from the request line `METHOD target PROTOCOL`, under the names of Sigma's webserver
/// (W3C/IIS: `cs-method`, `cs-uri-stem`, `cs-uri-query`, `cs-version`) and proxy (`c-uri`,
/// `c-uri-stem`, `c-uri-query`, `c-uri-extension`, `cs-host`) taxonomies.
fn web_request_fields(request: &str, fields: &mut Vec<(&'static str, String)>) {
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
fn url_fields(target: &str, fields: &mut Vec<(&'static str, String)>) {
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

fn parse_json(line: &str) -> Result<Record, String> {
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

fn json_time(v: &Value) -> Option<DateTime<Utc>> {
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
fn add_web_aliases(obj: &mut Map<String, Value>) {
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
    let mut url_parts: Vec<(&'static str, String)> = Vec::new();
    if let Some(u) = url {
        url_fields(u, &mut url_parts);
    } else if let Some(path) = lookup(&value, "url.path").and_then(Value::as_str) {
        let target = match lookup(&value, "url.query").and_then(Value::as_str) {
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
        url_parts.push(("cs-host", domain.to_owned()));
    }
    let alias_parts: Vec<(&'static str, String)> = NAME_ALIASES
        .iter()
        .filter_map(|(alias, field)| {
            url_parts
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, v)| (*alias, v.clone()))
        })
        .collect();
    url_parts.extend(alias_parts);
    for (k, v) in url_parts {
        if !obj.contains_key(k) && !added.iter().any(|(a, _)| *a == k) {
            added.push((k, Value::String(v)));
        }
    }
    for (k, v) in added {
        obj.insert(k.to_owned(), v);
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `<PRI>` at the start of a syslog line: returns the rest and the priority.
fn priority(line: &str) -> Option<(&str, u16)> {
    let rest = line.strip_prefix('<')?;
    let end = rest.find('>')?;
    let pri: u16 = rest[..end].parse().ok().filter(|p| *p <= 191)?;
    Some((&rest[end + 1..], pri))
}

fn parse_3164(line: &str, year: i32) -> Result<Record, String> {
    let (rest, pri) = match priority(line) {
        Some((rest, pri)) => (rest, Some(pri)),
        None => (line, None),
    };
    // Mmm dd hh:mm:ss (day space-padded)
    // Found by fuzzing: the stamp is sliced by byte position, so it must be ASCII.
    if rest.len() < 16 || !rest.as_bytes()[..15].is_ascii() {
        return Err("no RFC 3164 timestamp (Mmm dd hh:mm:ss) at the start".into());
    }
    let month = MONTHS
        .iter()
        .position(|m| rest.starts_with(m))
        .ok_or("no month at the start (RFC 3164 timestamp)")?;
    let stamp = &rest[..15];
    let day: u32 = stamp[4..6]
        .trim()
        .parse()
        .map_err(|_| "day is not a number")?;
    let time = chrono::NaiveTime::parse_from_str(&stamp[7..15], "%H:%M:%S")
        .map_err(|e| format!("time {:?}: {e}", &stamp[7..15]))?;
    let date =
        chrono::NaiveDate::from_ymd_opt(year, month as u32 + 1, day).ok_or("no such date")?;
    let timestamp = Utc.from_utc_datetime(&NaiveDateTime::new(date, time));
    let mut c = Cursor::new(&rest[15..]);
    c.skip_spaces();
    let host = c.token().ok_or("no host")?;
    let mut fields = Vec::with_capacity(8);
    if let Some(p) = pri {
        push_priority(p, &mut fields);
    }
    fields.push(("hostname", host.to_owned()));
    tag_and_message(c.rest(), &mut fields);
    Ok(Record::flat(Some(timestamp), fields))
}

fn push_priority(pri: u16, fields: &mut Vec<(&'static str, String)>) {
    fields.push(("facility", (pri / 8).to_string()));
    fields.push(("severity", (pri % 8).to_string()));
}

/// `tag[pid]: message` (the tag optional).
fn tag_and_message(rest: &str, fields: &mut Vec<(&'static str, String)>) {
    let tag_end = rest
        .find([':', '[', ' '])
        .filter(|&i| i > 0 && rest[i..].contains(':'));
    let message = match tag_end {
        Some(i) if !rest[..i].contains(' ') => {
            fields.push(("app_name", rest[..i].to_owned()));
            fields.push(("program", rest[..i].to_owned()));
            let after = &rest[i..];
            let after = if let Some(p) = after.strip_prefix('[') {
                match p.find(']') {
                    Some(e) => {
                        fields.push(("procid", p[..e].to_owned()));
                        &p[e + 1..]
                    }
                    None => after,
                }
            } else {
                after
            };
            after.strip_prefix(':').unwrap_or(after).trim_start()
        }
        _ => rest,
    };
    fields.push(("message", message.to_owned()));
}

fn parse_5424(line: &str) -> Result<Record, String> {
    if let Some((rest, pri)) = priority(line) {
        let mut c = Cursor::new(rest);
        if c.token() != Some("1") {
            return Err("RFC 5424 needs version 1 after <PRI>".into());
        }
        let stamp = c.token().ok_or("no timestamp")?;
        let timestamp = if stamp == "-" {
            None
        } else {
            Some(
                DateTime::parse_from_rfc3339(stamp)
                    .map_err(|e| format!("timestamp {stamp:?}: {e}"))?
                    .with_timezone(&Utc),
            )
        };
        let mut fields = Vec::with_capacity(10);
        push_priority(pri, &mut fields);
        for name in ["hostname", "app_name", "procid", "msgid"] {
            let tok = c.token().ok_or_else(|| format!("no {name}"))?;
            if tok != "-" {
                fields.push((name, tok.to_owned()));
            }
        }
        if name_is(&fields, "app_name") {
            let app = fields
                .iter()
                .find(|(k, _)| *k == "app_name")
                .map(|(_, v)| v.clone());
            fields.push(("program", app.unwrap_or_default()));
        }
        let rest = c.rest();
        let (sd, msg) = structured_data(rest)?;
        if let Some(sd) = sd.filter(|s| *s != "-") {
            fields.push(("structured_data", sd.to_owned()));
        }
        let msg = msg.trim_start();
        let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
        fields.push(("message", msg.to_owned()));
        return Ok(Record::flat(timestamp, fields));
    }
    // rsyslog's RFC 3339 files: `2026-11-29T05:30:10.123+00:00 host tag[pid]: msg`.
    let mut c = Cursor::new(line);
    let stamp = c.token().ok_or("empty line")?;
    if !stamp.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return Err("no <PRI> and no RFC 3339 timestamp".into());
    }
    let timestamp = DateTime::parse_from_rfc3339(stamp)
        .map_err(|e| format!("timestamp {stamp:?}: {e}"))?
        .with_timezone(&Utc);
    let host = c.token().ok_or("no host")?;
    let mut fields = vec![("hostname", host.to_owned())];
    tag_and_message(c.rest(), &mut fields);
    Ok(Record::flat(Some(timestamp), fields))
}

fn name_is(fields: &[(&'static str, String)], name: &str) -> bool {
    fields.iter().any(|(k, _)| *k == name)
}

/// RFC 5424 STRUCTURED-DATA: `-` or one or more `[id k="v" …]` (`\]`, `\"`, `\\` escaped).
fn structured_data(rest: &str) -> Result<(Option<&str>, &str), String> {
    if let Some(after) = rest.strip_prefix('-') {
        return Ok((Some("-"), after));
    }
    if rest.is_empty() {
        return Ok((None, ""));
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() && bytes[i] == b'[' {
        let mut in_quotes = false;
        i += 1;
        loop {
            match bytes.get(i) {
                None => return Err("unterminated structured data".into()),
                Some(b'\\') => i += 2,
                Some(b'"') => {
                    in_quotes = !in_quotes;
                    i += 1;
                }
                Some(b']') if !in_quotes => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
    }
    if i == 0 {
        return Err("structured data must be `-` or start with `[`".into());
    }
    Ok((Some(&rest[..i]), &rest[i..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(r: &Record, k: &str) -> Option<String> {
        r.get(k).map(Cow::into_owned)
    }

    #[test]
    fn combined_lines_with_escapes_and_the_webserver_and_proxy_names() {
        let line = r#"2001:db8::1 - alice [15/May/2025:21:20:05 +0200] "GET /a/b.tar.gz?x=\"1\"&y=2 HTTP/1.1" 404 - "-" "Agent \"quoted\"/1.0""#;
        let r = parse_line(LogFormat::Combined, line, 2025).unwrap();
        assert_eq!(
            r.timestamp.unwrap().to_rfc3339(),
            "2025-05-15T19:20:05+00:00"
        );
        assert_eq!(get(&r, "c-ip").unwrap(), "2001:db8::1");
        assert_eq!(get(&r, "cs-username").unwrap(), "alice");
        assert_eq!(get(&r, "cs-method").unwrap(), "GET");
        assert_eq!(get(&r, "cs-uri-stem").unwrap(), "/a/b.tar.gz");
        assert_eq!(get(&r, "c-uri-stem").unwrap(), "/a/b.tar.gz");
        assert_eq!(get(&r, "cs-uri-query").unwrap(), r#"x=\"1\"&y=2"#);
        assert_eq!(get(&r, "c-uri-extension").unwrap(), "gz");
        assert_eq!(get(&r, "sc-status").unwrap(), "404");
        assert_eq!(get(&r, "cs-user-agent").unwrap(), r#"Agent \"quoted\"/1.0"#);
        assert_eq!(get(&r, "cs-referer"), None, "`-` is no referer");
        assert!(!r.proxy_request);
    }

    #[test]
    fn proxy_requests_are_recognised_by_their_target() {
        let absolute = r#"10.0.0.5 - - [15/May/2025:21:20:05 +0000] "GET http://user@evil.example:8080/p/x.exe?a=1 HTTP/1.1" 200 5 "-" "curl/8""#;
        let r = parse_line(LogFormat::Combined, absolute, 2025).unwrap();
        assert!(r.proxy_request);
        assert_eq!(get(&r, "cs-host").unwrap(), "evil.example");
        assert_eq!(
            get(&r, "c-uri").unwrap(),
            "http://user@evil.example:8080/p/x.exe?a=1"
        );
        assert_eq!(get(&r, "c-uri-stem").unwrap(), "/p/x.exe");
        assert_eq!(get(&r, "c-uri-query").unwrap(), "a=1");
        let connect = r#"10.0.0.5 - - [15/May/2025:21:20:05 +0000] "CONNECT evil.example:443 HTTP/1.1" 200 5 "-" "curl/8""#;
        assert!(
            parse_line(LogFormat::Combined, connect, 2025)
                .unwrap()
                .proxy_request
        );
    }

    #[test]
    fn common_and_combined_are_told_apart() {
        let common = r#"192.0.2.1 - - [15/May/2025:21:20:05 +0000] "GET / HTTP/1.0" 200 12"#;
        let combined = format!("{common} \"-\" \"x\"");
        assert_eq!(LogFormat::detect([common]), Some(LogFormat::Common));
        assert_eq!(
            LogFormat::detect([combined.as_str()]),
            Some(LogFormat::Combined)
        );
        assert!(parse_line(LogFormat::Combined, common, 2025).is_err());
        assert!(parse_line(LogFormat::Common, &combined, 2025).is_err());
    }

    #[test]
    fn syslog_3164_with_and_without_priority() {
        let r = parse_line(
            LogFormat::Syslog3164,
            "<38>Feb  5 01:02:03 gw sshd[77]: Accepted publickey for bob",
            2025,
        )
        .unwrap();
        assert_eq!(
            r.timestamp.unwrap().to_rfc3339(),
            "2025-02-05T01:02:03+00:00"
        );
        assert_eq!(get(&r, "facility").unwrap(), "4");
        assert_eq!(get(&r, "severity").unwrap(), "6");
        assert_eq!(get(&r, "hostname").unwrap(), "gw");
        assert_eq!(get(&r, "program").unwrap(), "sshd");
        assert_eq!(get(&r, "procid").unwrap(), "77");
        assert_eq!(get(&r, "message").unwrap(), "Accepted publickey for bob");
        let r = parse_line(
            LogFormat::Syslog3164,
            "Nov 29 05:30:10 host kernel: oops: x",
            2026,
        )
        .unwrap();
        assert_eq!(get(&r, "program").unwrap(), "kernel");
        assert_eq!(get(&r, "message").unwrap(), "oops: x");
        assert!(parse_line(LogFormat::Syslog3164, "Feb 30 01:02:03 gw x: y", 2025).is_err());
        // Found by fuzzing: a multi-byte character where the day or time should be.
        for line in [
            "Sep{{\u{44d};{\0\0\0\0\0\0\0\0\u{44d};",
            "Feb 5\u{e9}01:02:03 gw x: y",
        ] {
            assert!(parse_line(LogFormat::Syslog3164, line, 2025).is_err());
            assert_eq!(LogFormat::detect([line]), None);
        }
        assert!(parse_line(LogFormat::Syslog3164, "Foo  5 01:02:03 gw x: y", 2025).is_err());
    }

    #[test]
    fn syslog_5424_with_structured_data_and_rsyslog_files() {
        let r = parse_line(
            LogFormat::Syslog5424,
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventID="10\]11"][x@1 a="b"] An application event"#,
            2025,
        )
        .unwrap();
        assert_eq!(
            r.timestamp.unwrap().to_rfc3339(),
            "2003-10-11T22:14:15.003+00:00"
        );
        assert_eq!(get(&r, "app_name").unwrap(), "evntslog");
        assert_eq!(get(&r, "procid"), None);
        assert_eq!(get(&r, "msgid").unwrap(), "ID47");
        assert_eq!(
            get(&r, "structured_data").unwrap(),
            r#"[exampleSDID@32473 iut="3" eventID="10\]11"][x@1 a="b"]"#
        );
        assert_eq!(get(&r, "message").unwrap(), "An application event");
        let r = parse_line(
            LogFormat::Syslog5424,
            "2026-11-29T05:30:10.123456+01:00 host sudo: bob : TTY=pts/0 ; COMMAND=/bin/sh",
            2025,
        )
        .unwrap();
        assert_eq!(get(&r, "program").unwrap(), "sudo");
        assert_eq!(
            get(&r, "message").unwrap(),
            "bob : TTY=pts/0 ; COMMAND=/bin/sh"
        );
        assert!(
            parse_line(
                LogFormat::Syslog5424,
                "<34>2 2003-10-11T22:14:15Z h a - - - m",
                2025
            )
            .is_err()
        );
        assert!(
            parse_line(
                LogFormat::Syslog5424,
                "<34>1 2003-10-11T22:14:15Z h a - - [unterminated",
                2025
            )
            .is_err()
        );
    }

    #[test]
    fn json_lines_gain_webserver_names_from_ecs_and_nginx_keys() {
        let ecs = r#"{"@timestamp":"2025-05-15T21:20:05Z","source":{"ip":"203.0.113.66"},"url":{"path":"/mifs/rs/api/v2/featureusage","query":"format=x"},"http":{"request":{"method":"GET"},"response":{"status_code":400}}}"#;
        let r = parse_line(LogFormat::JsonLines, ecs, 2025).unwrap();
        assert_eq!(get(&r, "c-ip").unwrap(), "203.0.113.66");
        assert_eq!(
            get(&r, "cs-uri-stem").unwrap(),
            "/mifs/rs/api/v2/featureusage"
        );
        assert_eq!(get(&r, "cs-uri-query").unwrap(), "format=x");
        assert_eq!(get(&r, "sc-status").unwrap(), "400");
        assert_eq!(
            get(&r, "source.ip").unwrap(),
            "203.0.113.66",
            "own fields stay"
        );
        assert_eq!(
            r.timestamp.unwrap().to_rfc3339(),
            "2025-05-15T21:20:05+00:00"
        );
        let nginx = r#"{"time_local":"15/May/2025:21:20:05 +0000","remote_addr":"192.0.2.9","request":"POST /login?next=%2F HTTP/1.1","status":302,"http_user_agent":"x"}"#;
        let r = parse_line(LogFormat::JsonLines, nginx, 2025).unwrap();
        assert_eq!(get(&r, "cs-method").unwrap(), "POST");
        assert_eq!(get(&r, "cs-uri-query").unwrap(), "next=%2F");
        assert_eq!(get(&r, "c-useragent").unwrap(), "x");
        assert!(r.timestamp.is_some());
        assert!(parse_line(LogFormat::JsonLines, "[1,2]", 2025).is_err());
        assert!(parse_line(LogFormat::JsonLines, "{\"a\":", 2025).is_err());
    }

    #[test]
    fn format_names_read_back() {
        for f in LogFormat::ALL {
            assert_eq!(f.name().parse::<LogFormat>().unwrap(), f);
        }
        assert!(
            "xml"
                .parse::<LogFormat>()
                .unwrap_err()
                .contains("expected one of")
        );
    }
}
