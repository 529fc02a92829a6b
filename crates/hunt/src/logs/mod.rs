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
use smallvec::SmallVec;

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

/// One log line, read. Fields of line-oriented logs borrow from the line.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub timestamp: Option<DateTime<Utc>>,
    /// A request made through a proxy (absolute-form target or `CONNECT`).
    pub proxy_request: bool,
    fields: Fields<'a>,
}

/// A line-oriented record's fields, kept inline: the hunt reads millions of lines a second
/// and a line holds at most 14 fields.
type FlatFields<'a> = SmallVec<[(FieldId, &'a str); 14]>;

// The inline fields are the point: a record lives for one line, on the stack.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Fields<'a> {
    /// Fields read from a line. The first `searchable` are what the line says (client, user,
    /// request line, status, size, referer, agent): Sigma keywords search those, as they would
    /// search the raw line. The rest are parts of them (method, URI stem, query, …): named for
    /// rules, not searched twice.
    Flat {
        fields: FlatFields<'a>,
        searchable: usize,
    },
    Json(Value),
}

/// The fields line-oriented logs carry, a byte each: looking a field up compares bytes, not
/// names (a rule or indicator asks for fields by name millions of times a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldId {
    CIp,
    CsUsername,
    ScStatus,
    ScBytes,
    CsRequest,
    CsReferer,
    CsUserAgent,
    CsMethod,
    CsVersion,
    CsUri,
    CsUriStem,
    CsUriQuery,
    CsHost,
    CUriExtension,
    Facility,
    Severity,
    Hostname,
    AppName,
    Program,
    Procid,
    Msgid,
    StructuredData,
    Message,
}

impl FieldId {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CIp => "c-ip",
            Self::CsUsername => "cs-username",
            Self::ScStatus => "sc-status",
            Self::ScBytes => "sc-bytes",
            Self::CsRequest => "cs-request",
            Self::CsReferer => "cs-referer",
            Self::CsUserAgent => "cs-user-agent",
            Self::CsMethod => "cs-method",
            Self::CsVersion => "cs-version",
            Self::CsUri => "cs-uri",
            Self::CsUriStem => "cs-uri-stem",
            Self::CsUriQuery => "cs-uri-query",
            Self::CsHost => "cs-host",
            Self::CUriExtension => "c-uri-extension",
            Self::Facility => "facility",
            Self::Severity => "severity",
            Self::Hostname => "hostname",
            Self::AppName => "app_name",
            Self::Program => "program",
            Self::Procid => "procid",
            Self::Msgid => "msgid",
            Self::StructuredData => "structured_data",
            Self::Message => "message",
        }
    }

    /// The field a name stands for, its aliases ([`NAME_ALIASES`]) included.
    /// A `const fn`, so that [`FieldName`]s are resolved at compile time.
    const fn of(name: &str) -> Option<Self> {
        Some(match name.as_bytes() {
            b"c-ip" => Self::CIp,
            b"cs-username" => Self::CsUsername,
            b"sc-status" => Self::ScStatus,
            b"sc-bytes" => Self::ScBytes,
            b"cs-request" => Self::CsRequest,
            b"cs-referer" | b"cs(Referer)" => Self::CsReferer,
            b"cs-user-agent" | b"c-useragent" | b"cs(User-Agent)" => Self::CsUserAgent,
            b"cs-method" => Self::CsMethod,
            b"cs-version" => Self::CsVersion,
            b"cs-uri" | b"c-uri" => Self::CsUri,
            b"cs-uri-stem" | b"c-uri-stem" => Self::CsUriStem,
            b"cs-uri-query" | b"c-uri-query" => Self::CsUriQuery,
            b"cs-host" => Self::CsHost,
            b"c-uri-extension" => Self::CUriExtension,
            b"facility" => Self::Facility,
            b"severity" => Self::Severity,
            b"hostname" => Self::Hostname,
            b"app_name" => Self::AppName,
            b"program" => Self::Program,
            b"procid" => Self::Procid,
            b"msgid" => Self::Msgid,
            b"structured_data" => Self::StructuredData,
            b"message" => Self::Message,
            _ => return None,
        })
    }
}

/// A field name as code asks for it, resolved once: the field of a line-oriented record it
/// stands for (if any), so that looking it up compares a byte rather than names.
#[derive(Debug, Clone, Copy)]
pub struct FieldName {
    pub name: &'static str,
    flat: Option<FieldId>,
}

impl FieldName {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            flat: FieldId::of(name),
        }
    }
}

/// Other names the webserver and proxy taxonomies use for the same field (alias, field).
/// Kept as names only: the value is stored once.
const NAME_ALIASES: [(&str, FieldId); 6] = [
    ("c-uri", FieldId::CsUri),
    ("c-uri-stem", FieldId::CsUriStem),
    ("c-uri-query", FieldId::CsUriQuery),
    ("c-useragent", FieldId::CsUserAgent),
    ("cs(User-Agent)", FieldId::CsUserAgent),
    ("cs(Referer)", FieldId::CsReferer),
];

fn flat_find<'r>(fields: &'r [(FieldId, &str)], name: FieldId) -> Option<&'r str> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_ref())
}

fn flat_get<'r>(fields: &'r [(FieldId, &str)], name: &str) -> Option<&'r str> {
    flat_find(fields, FieldId::of(name)?)
}

impl<'a> Record<'a> {
    fn flat(timestamp: Option<DateTime<Utc>>, fields: FlatFields<'a>) -> Self {
        let searchable = fields.len();
        Self::flat_split(timestamp, fields, searchable)
    }

    fn flat_split(
        timestamp: Option<DateTime<Utc>>,
        fields: FlatFields<'a>,
        searchable: usize,
    ) -> Self {
        Self {
            timestamp,
            proxy_request: false,
            fields: Fields::Flat { fields, searchable },
        }
    }

    /// A field's value, as [`Self::get`] gives it, by a name resolved ahead of time.
    pub fn get_named(&self, field: &FieldName) -> Option<Cow<'_, str>> {
        match &self.fields {
            Fields::Flat { fields, .. } => field
                .flat
                .and_then(|n| flat_find(fields, n))
                .map(Cow::Borrowed),
            Fields::Json(value) => lookup(value, field.name).and_then(scalar_text),
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

    /// The fields a Sigma keyword searches (what a line-oriented log's line says, field by
    /// field: every other field is part of one of them); `None` for a JSON event.
    pub(crate) fn searchable(&self) -> Option<impl Iterator<Item = (FieldId, &str)>> {
        match &self.fields {
            Fields::Flat { fields, searchable } => {
                Some(fields[..*searchable].iter().map(|(k, v)| (*k, *v)))
            }
            Fields::Json(_) => None,
        }
    }

    /// Every (field, text) pair under every name it has; nested JSON objects flattened with dots.
    pub fn for_each_field(&self, f: &mut dyn FnMut(&str, &str)) {
        match &self.fields {
            Fields::Flat { fields, .. } => {
                for (k, v) in fields {
                    f(k.as_str(), v);
                }
                for (alias, field) in NAME_ALIASES {
                    if let Some(v) = flat_find(fields, field) {
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

impl Event for Record<'_> {
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
                .map(|(_, v)| Cow::Borrowed(*v))
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
mod access;
mod json;
mod syslog;

use access::parse_access;
use json::parse_json;
use syslog::{parse_3164, parse_5424};

pub fn parse_line(format: LogFormat, line: &str, year: i32) -> Result<Record<'_>, String> {
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
pub(crate) struct Cursor<'a> {
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
        let end = memchr::memchr(b' ', rest.as_bytes()).unwrap_or(rest.len());
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
        while let Some(at) = bytes
            .get(i..)
            .and_then(|rest| memchr::memchr2(b'\\', b'"', rest))
        {
            i += at;
            if bytes[i] == b'"' {
                self.pos = i + 1;
                return Some(&self.s[start..i]);
            }
            i += 2;
        }
        None
    }
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
        // A URL in an ordinary target's query does not make it a proxy's request (an open
        // redirect probe is for the web server's rules).
        let redirect = r#"10.0.0.5 - - [15/May/2025:21:20:05 +0000] "GET /login?next=https://evil.example/ HTTP/1.1" 302 5 "-" "curl/8""#;
        let r = parse_line(LogFormat::Combined, redirect, 2025).unwrap();
        assert!(!r.proxy_request);
        assert_eq!(get(&r, "cs-host"), None);
        assert_eq!(
            get(&r, "cs-uri-query").unwrap(),
            "next=https://evil.example/"
        );
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
        // A name given twice keeps the first value: the URL's own host before `url.domain`.
        let both = r#"{"url":{"full":"http://evil.example/x.php?a=1","domain":"other.example"}}"#;
        let r = parse_line(LogFormat::JsonLines, both, 2025).unwrap();
        assert_eq!(get(&r, "cs-host").unwrap(), "evil.example");
        assert_eq!(get(&r, "c-uri-query").unwrap(), "a=1");
        assert_eq!(get(&r, "c-uri-extension").unwrap(), "php");
        assert!(parse_line(LogFormat::JsonLines, "[1,2]", 2025).is_err());
        assert!(parse_line(LogFormat::JsonLines, "{\"a\":", 2025).is_err());
    }

    #[test]
    fn field_names_resolve_to_the_field_they_name() {
        let line = r#"192.0.2.1 - bob [15/May/2025:21:20:05 +0000] "GET http://h.example/a.php?q=1 HTTP/1.1" 200 5 "https://r.example/" "UA/1""#;
        let r = parse_line(LogFormat::Combined, line, 2025).unwrap();
        let mut named = 0;
        r.for_each_field(&mut |name, value| {
            // Every name a record gives (aliases included) reads back its value, by name
            // and resolved ahead of time.
            assert_eq!(get(&r, name).as_deref(), Some(value), "{name}");
            let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
            assert_eq!(
                r.get_named(&FieldName::new(leaked)).as_deref(),
                Some(value),
                "{name}"
            );
            assert!(
                FieldId::of(name)
                    .is_some_and(|n| n.as_str() == name || NAME_ALIASES.contains(&(leaked, n)))
            );
            named += 1;
        });
        assert_eq!(named, 14 + 6, "14 fields and the 6 aliases");
        assert_eq!(r.get_named(&FieldName::new("source.ip")), None);
        assert_eq!(FieldId::of("C-IP"), None, "names are exact");
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
