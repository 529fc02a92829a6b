//! Syslog: RFC 3164 (the priority optional) and RFC 5424 with structured data.

use super::*;

pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `<PRI>` at the start of a syslog line: returns the rest and the priority.
pub(super) fn priority(line: &str) -> Option<(&str, u16)> {
    let rest = line.strip_prefix('<')?;
    let end = rest.find('>')?;
    let pri: u16 = rest[..end].parse().ok().filter(|p| *p <= 191)?;
    Some((&rest[end + 1..], pri))
}

pub(super) fn parse_3164(line: &str, year: i32) -> Result<Record<'_>, String> {
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
    let mut fields = FlatFields::new();
    if let Some(p) = pri {
        push_priority(p, &mut fields);
    }
    fields.push((FieldId::Hostname, host));
    tag_and_message(c.rest(), &mut fields);
    Ok(Record::flat(Some(timestamp), fields))
}

pub(super) fn push_priority(pri: u16, fields: &mut FlatFields<'_>) {
    // PRI is at most 191: facility 0..=23, severity 0..=7.
    const NUMBERS: [&str; 24] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
        "17", "18", "19", "20", "21", "22", "23",
    ];
    // `priority` reads no PRI above 191, so every number is in the table.
    let number = |n: u16| NUMBERS.get(usize::from(n)).copied().unwrap_or_default();
    fields.push((FieldId::Facility, number(pri / 8)));
    fields.push((FieldId::Severity, number(pri % 8)));
}

/// `tag[pid]: message` (the tag optional).
pub(super) fn tag_and_message<'a>(rest: &'a str, fields: &mut FlatFields<'a>) {
    let tag_end = rest
        .find([':', '[', ' '])
        .filter(|&i| i > 0 && rest[i..].contains(':'));
    let message = match tag_end {
        Some(i) if !rest[..i].contains(' ') => {
            fields.push((FieldId::AppName, &rest[..i]));
            fields.push((FieldId::Program, &rest[..i]));
            let after = &rest[i..];
            let after = if let Some(p) = after.strip_prefix('[') {
                match p.find(']') {
                    Some(e) => {
                        fields.push((FieldId::Procid, &p[..e]));
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
    fields.push((FieldId::Message, message));
}

pub(super) fn parse_5424(line: &str) -> Result<Record<'_>, String> {
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
        let mut fields = FlatFields::new();
        push_priority(pri, &mut fields);
        let mut app = None;
        for name in [
            FieldId::Hostname,
            FieldId::AppName,
            FieldId::Procid,
            FieldId::Msgid,
        ] {
            let tok = c.token().ok_or_else(|| format!("no {}", name.as_str()))?;
            if tok != "-" {
                fields.push((name, tok));
                if name == FieldId::AppName {
                    app = Some(tok);
                }
            }
        }
        if let Some(app) = app {
            fields.push((FieldId::Program, app));
        }
        let rest = c.rest();
        let (sd, msg) = structured_data(rest)?;
        if let Some(sd) = sd.filter(|s| *s != "-") {
            fields.push((FieldId::StructuredData, sd));
        }
        let msg = msg.trim_start();
        let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
        fields.push((FieldId::Message, msg));
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
    let mut fields = FlatFields::new();
    fields.push((FieldId::Hostname, host));
    tag_and_message(c.rest(), &mut fields);
    Ok(Record::flat(Some(timestamp), fields))
}

/// RFC 5424 STRUCTURED-DATA: `-` or one or more `[id k="v" …]` (`\]`, `\"`, `\\` escaped).
pub(super) fn structured_data(rest: &str) -> Result<(Option<&str>, &str), String> {
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
