//! Access logs: NCSA common and combined (Apache, nginx), and the fields of the request line.

use super::*;

pub(super) fn parse_access(line: &str, combined: bool) -> Result<Record<'_>, String> {
    let mut c = Cursor::new(line);
    let client = c.token().ok_or("empty line")?;
    if !looks_like_host(client) {
        return Err(format!("{client:?} is not a client address"));
    }
    let _ident = c.token().ok_or("no ident field")?;
    let user = c.token().ok_or("no user field")?;
    let time = c.bracketed().ok_or("no [time] field")?;
    let timestamp = match clf_time(time) {
        Some(t) => t,
        None => DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z")
            .map_err(|e| format!("time [{time}]: {e}"))?
            .with_timezone(&Utc),
    };
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

    let mut fields = FlatFields::new();
    fields.push((FieldId::CIp, client));
    if user != "-" {
        fields.push((FieldId::CsUsername, user));
    }
    fields.push((FieldId::ScStatus, status));
    fields.push((FieldId::ScBytes, bytes));
    fields.push((FieldId::CsRequest, request));
    if let Some(r) = referer.filter(|r| *r != "-") {
        fields.push((FieldId::CsReferer, r));
    }
    if let Some(a) = agent.filter(|a| *a != "-") {
        fields.push((FieldId::CsUserAgent, a));
    }
    let searchable = fields.len();
    let proxy_request = web_request_fields(request, &mut fields);
    let mut record = Record::flat_split(Some(timestamp), fields, searchable);
    record.proxy_request = proxy_request;
    Ok(record)
}

/// `10/Oct/2000:13:55:36 -0700`, the access logs' time, read by hand: chrono's format parser
/// was a tenth of the hunt's time. `None` for anything else (chrono then says what is wrong).
fn clf_time(s: &str) -> Option<DateTime<Utc>> {
    let b: [u8; 26] = s.as_bytes().try_into().ok()?;
    thread_local! {
        /// The last time read: a busy server writes the same second on many lines in a row.
        static LAST: std::cell::Cell<Option<([u8; 26], DateTime<Utc>)>> =
            const { std::cell::Cell::new(None) };
    }
    if let Some((last, t)) = LAST.get()
        && last == b
    {
        return Some(t);
    }
    let t = read_clf_time(&b)?;
    LAST.set(Some((b, t)));
    Some(t)
}

fn read_clf_time(b: &[u8; 26]) -> Option<DateTime<Utc>> {
    if b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| m[..] == b[3..6])? as u32 + 1;
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(7..11)? as i32, month, num(0..2)?)?;
    let time = chrono::NaiveTime::from_hms_opt(num(12..14)?, num(15..17)?, num(18..20)?)?;
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = (num(22..24)?, num(24..26)?);
    if om >= 60 {
        return None;
    }
    let offset = chrono::FixedOffset::east_opt(sign * (oh * 3600 + om * 60) as i32)?;
    Some(
        offset
            .from_local_datetime(&date.and_time(time))
            .single()?
            .with_timezone(&Utc),
    )
}

pub(super) fn looks_like_host(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'_' | b'%' | b'[' | b']')
    })
}

/// Fields from the request line `METHOD target PROTOCOL`, under the names of Sigma's webserver
/// (W3C/IIS: `cs-method`, `cs-uri-stem`, `cs-uri-query`, `cs-version`) and proxy (`c-uri`,
/// `c-uri-stem`, `c-uri-query`, `c-uri-extension`, `cs-host`) taxonomies. True when the
/// request is one made to a proxy: `CONNECT`, or a target in absolute form (`http://host/…`;
/// a `://` later in an ordinary target, as in `/login?next=https://…`, is not one).
pub(super) fn web_request_fields<'a>(request: &'a str, fields: &mut FlatFields<'a>) -> bool {
    // Split at the first two spaces, as `splitn(3, ' ')` does; the delimiters are ASCII, so
    // each byte position found is a character boundary. Byte searches (`memchr`) here and in
    // `url_fields`: with `str`'s patterns (`CharSearcher`) these two functions took 1,050
    // instructions a line of the bench log, 490 with these (callgrind).
    let Some(first) = memchr::memchr(b' ', request.as_bytes()) else {
        // A bare string (a scanner's junk, "-"): keep it as the URI for URI rules.
        fields.push((FieldId::CsUri, request));
        return false;
    };
    let method = &request[..first];
    let rest = &request[first + 1..];
    let (target, version) = match memchr::memchr(b' ', rest.as_bytes()) {
        Some(second) => (&rest[..second], Some(&rest[second + 1..])),
        None => (rest, None),
    };
    fields.push((FieldId::CsMethod, method));
    if let Some(v) = version {
        fields.push((FieldId::CsVersion, v));
    }
    url_fields(target, fields) || method == "CONNECT"
}

/// Splits a request target or URL into the webserver/proxy URI fields; true when it is an
/// absolute URL (`scheme://…`).
pub(super) fn url_fields<'a>(target: &'a str, fields: &mut FlatFields<'a>) -> bool {
    // An origin-form target (`/path?query`) has no scheme: the search for one is skipped.
    let scheme_end = if target.starts_with('/') {
        None
    } else {
        memchr::memmem::find(target.as_bytes(), b"://")
    };
    let (host, path_and_query) = match scheme_end {
        Some(i) if target[..i].bytes().all(|b| b.is_ascii_alphabetic()) => {
            let after = &target[i + 3..];
            let end = memchr::memchr2(b'/', b'?', after.as_bytes()).unwrap_or(after.len());
            let authority = &after[..end];
            let host = match memchr::memrchr(b'@', authority.as_bytes()) {
                Some(at) => &authority[at + 1..],
                None => authority,
            };
            let host = match memchr::memrchr(b':', host.as_bytes()) {
                Some(p) if !host.ends_with(']') => &host[..p],
                _ => host,
            };
            (Some(host), &after[end..])
        }
        _ => (None, target),
    };
    let (stem, query) = match memchr::memchr(b'?', path_and_query.as_bytes()) {
        Some(q) => (&path_and_query[..q], Some(&path_and_query[q + 1..])),
        None => (path_and_query, None),
    };
    let last = match memchr::memrchr(b'/', stem.as_bytes()) {
        Some(slash) => &stem[slash + 1..],
        None => stem,
    };
    let extension = memchr::memrchr(b'.', last.as_bytes())
        .map(|dot| &last[dot + 1..])
        .filter(|e| !e.is_empty());
    push_url_parts(fields, target, stem, query, host, extension);
    host.is_some()
}

/// The parts of a request target as fields: the target and its stem, then the query, host and
/// extension a target has.
fn push_url_parts<'a>(
    fields: &mut FlatFields<'a>,
    target: &'a str,
    stem: &'a str,
    query: Option<&'a str>,
    host: Option<&'a str>,
    extension: Option<&'a str>,
) {
    fields.push((FieldId::CsUri, target));
    fields.push((FieldId::CsUriStem, stem));
    if let Some(q) = query {
        fields.push((FieldId::CsUriQuery, q));
    }
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        fields.push((FieldId::CsHost, h));
    }
    if let Some(e) = extension {
        fields.push((FieldId::CUriExtension, e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request line split as `str`'s own methods split it (the implementation the byte
    /// searches replaced; the fields pushed in the same order): the fields and the proxy flag
    /// agree for every request below.
    fn split_as_str_does<'a>(request: &'a str, fields: &mut FlatFields<'a>) -> bool {
        let mut parts = request.splitn(3, ' ');
        let method = parts.next().unwrap_or_default();
        let Some(target) = parts.next() else {
            fields.push((FieldId::CsUri, request));
            return false;
        };
        fields.push((FieldId::CsMethod, method));
        if let Some(v) = parts.next() {
            fields.push((FieldId::CsVersion, v));
        }
        let scheme_end = if target.starts_with('/') {
            None
        } else {
            target.find("://")
        };
        let (host, path_and_query) = match scheme_end {
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
        let last = stem.rsplit('/').next().unwrap_or_default();
        let extension = last
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| !e.is_empty());
        push_url_parts(fields, target, stem, query, host, extension);
        host.is_some() || method == "CONNECT"
    }

    #[test]
    fn request_lines_split_as_str_splits_them() {
        let targets = [
            "/",
            "",
            "/a/b.php",
            "/a/b.tar.gz?x=1&y=2",
            "/a.",
            "/.htaccess",
            "/a/b/",
            "?q",
            "/login?next=https://evil.example/x",
            "http://h.example/p?q",
            "https://u:p@h:8443/x.js",
            "http://[2001:db8::1]:80/",
            "http://[2001:db8::1]/",
            "HTTP://H/",
            "h:1",
            "ftp://h",
            "1http://h/",
            "http://h?x",
            "http://@/",
            "http://a@b@c:9/",
            "/é/ü.ÿ?ø=1",
            "*",
            "evil.example:443",
            "/x?y?z",
            "/x.y/z",
            "..",
            "/a b",
        ];
        let methods = ["GET", "CONNECT", "", "POST"];
        let mut requests: Vec<String> = vec![
            "-".into(),
            "".into(),
            " ".into(),
            "  ".into(),
            "GET".into(),
            "\x16\x03".into(),
        ];
        for m in methods {
            for t in targets {
                requests.push(format!("{m} {t}"));
                requests.push(format!("{m} {t} HTTP/1.1"));
                requests.push(format!("{m} {t} HTTP/1.1 extra words"));
            }
        }
        for r in &requests {
            let (mut ours, mut theirs) = (FlatFields::new(), FlatFields::new());
            let flag = web_request_fields(r, &mut ours);
            assert_eq!(flag, split_as_str_does(r, &mut theirs), "{r:?}");
            assert_eq!(ours.as_slice(), theirs.as_slice(), "{r:?}");
        }
    }

    #[test]
    fn access_log_times_read_as_chrono_reads_them() {
        for t in [
            "10/Oct/2000:13:55:36 -0700",
            "01/May/2025:00:00:00 +0000",
            "29/Feb/2024:23:59:59 +0530",
            "31/Dec/1999:12:00:00 -1130",
        ] {
            let chrono = DateTime::parse_from_str(t, "%d/%b/%Y:%H:%M:%S %z")
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(clf_time(t), Some(chrono), "{t}");
        }
        // The last time read is remembered: the same text again, and another in between.
        let (a, b) = ("10/Oct/2000:13:55:36 -0700", "10/Oct/2000:13:55:37 -0700");
        for t in [a, a, b, a, b, b] {
            let chrono = DateTime::parse_from_str(t, "%d/%b/%Y:%H:%M:%S %z")
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(clf_time(t), Some(chrono), "{t}");
        }
        // Not times: left to chrono, which says why.
        for t in [
            "30/Feb/2024:00:00:00 +0000",
            "10/Foo/2000:13:55:36 -0700",
            "10/Oct/2000:24:00:00 +0000",
            "10/Oct/2000:13:55:36 0700",
            "10/Oct/2000 13:55:36 +0000",
        ] {
            assert_eq!(clf_time(t), None, "{t}");
            assert!(
                DateTime::parse_from_str(t, "%d/%b/%Y:%H:%M:%S %z").is_err(),
                "{t}"
            );
        }
        // A spelling only chrono reads (a one-digit day) still reads, through chrono.
        let line = r#"192.0.2.1 - - [1/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1"#;
        assert_eq!(clf_time("1/Oct/2000:13:55:36 +0000"), None);
        assert!(parse_access(line, false).unwrap().timestamp.is_some());
    }
}
