//! A finding's detail as the text `serde_json` gives a `Value` of it — every object's keys in
//! order, compact — written straight from the finding, without building the `Value`.
//!
//! A finding's shared detail is keyed by the SHA-256 of that text (`finding_detail`), so the
//! text must stay exactly what it was: keys sorted as a `BTreeMap<String, _>` sorts them (by
//! bytes), the last of two equal keys kept, numbers and strings as `serde_json` writes them.
//! Building the `Value` (a string and a map node per field) and writing it out was as much CPU
//! as matching itself in a full re-match at 200 members; here each object's fields are written
//! once into one buffer and only their order is sorted. Written here because no crate writes
//! `serde_json`'s sorted text from a `Serialize` without the `Value`.

use serde::ser::{self, Serialize};
use serde_json::Error;

/// Where in a finding the serializer is: a decision point's `source` that names the finding's
/// own asset is written as the shared placeholder (see `finding_detail`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// The finding itself: its fields are handed back, not written.
    Finding,
    Explanation,
    DecisionPoints,
    DecisionPoint,
    DecisionPointSource,
    Elsewhere,
}

impl At {
    /// Where a field or element named `key` of this place is.
    fn down(self, key: Option<&str>) -> Self {
        match (self, key) {
            (Self::Finding, Some("explanation")) => Self::Explanation,
            (Self::Explanation, Some("decision_points")) => Self::DecisionPoints,
            (Self::DecisionPoints, None) => Self::DecisionPoint,
            (Self::DecisionPoint, Some("source")) => Self::DecisionPointSource,
            _ => Self::Elsewhere,
        }
    }
}

/// A finding's top-level fields, each as its sorted JSON text, in the order `serde_json`'s
/// `Value` would write them; a decision point's source equal to `named` is written as `own`.
pub(crate) fn finding_fields<T: Serialize + ?Sized>(
    finding: &T,
    named: &str,
    own: &str,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut buf = Vec::with_capacity(2048);
    let mut fields = Vec::new();
    finding.serialize(Canon {
        out: &mut buf,
        at: At::Finding,
        rename: (named, own),
        fields: Some(&mut fields),
    })?;
    let mut entries: Vec<(String, Vec<u8>)> = fields
        .into_iter()
        .map(|(key, range)| (key, buf[range].to_vec()))
        .collect();
    sort_entries(&mut entries);
    Ok(entries)
}

/// Writes `{"key":value,…}` of entries already sorted.
pub(crate) fn write_object<'e>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = (&'e str, &'e [u8])>,
) {
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        out.extend_from_slice(value);
    }
    out.push(b'}');
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec does not fail");
}

/// Sorts as a `BTreeMap` holds them: by key, the last of equal keys kept.
fn sort_entries<V>(entries: &mut Vec<(String, V)>) {
    // Stable, so equal keys stay in the order written; then the last of each run is kept.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut i = 0;
    while i + 1 < entries.len() {
        if entries[i].0 == entries[i + 1].0 {
            entries.remove(i);
        } else {
            i += 1;
        }
    }
}

struct Canon<'a, 'r> {
    out: &'a mut Vec<u8>,
    at: At,
    rename: (&'r str, &'r str),
    /// For the finding itself: its fields' keys and where their text is in `out`.
    fields: Option<&'a mut Vec<(String, std::ops::Range<usize>)>>,
}

impl<'a, 'r> Canon<'a, 'r> {
    fn json(&mut self) -> serde_json::Serializer<&mut Vec<u8>> {
        serde_json::Serializer::new(&mut *self.out)
    }
}

macro_rules! plain {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(mut self, v: $t) -> Result<(), Error> {
            ser::Serializer::$name(&mut self.json(), v)
        })*
    };
}

impl<'a, 'r> ser::Serializer for Canon<'a, 'r> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a, 'r>;
    type SerializeTuple = Seq<'a, 'r>;
    type SerializeTupleStruct = Seq<'a, 'r>;
    type SerializeTupleVariant = Seq<'a, 'r>;
    type SerializeMap = Map<'a, 'r>;
    type SerializeStruct = Map<'a, 'r>;
    type SerializeStructVariant = Map<'a, 'r>;

    plain!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f64: f64,
        serialize_char: char, serialize_bytes: &[u8]);

    /// As a `Value` holds it: widened to an `f64` (`0.1f32` is `0.10000000149011612`).
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        let (named, own) = self.rename;
        let v = if self.at == At::DecisionPointSource && v == named {
            own
        } else {
            v
        };
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_str(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(Canon {
            out: &mut *self.out,
            at: At::Elsewhere,
            rename: self.rename,
            fields: None,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a, 'r>, Error> {
        self.out.push(b'[');
        Ok(Seq {
            at: self.at.down(None),
            out: self.out,
            rename: self.rename,
            first: true,
            variant: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a, 'r>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a, 'r>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a, 'r>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.extend_from_slice(b":[");
        Ok(Seq {
            at: At::Elsewhere,
            out: self.out,
            rename: self.rename,
            first: true,
            variant: true,
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'a, 'r>, Error> {
        Ok(Map {
            start: self.out.len(),
            out: self.out,
            at: self.at,
            rename: self.rename,
            entries: Vec::new(),
            key: None,
            variant: None,
            fields: self.fields,
        })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Map<'a, 'r>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Map<'a, 'r>, Error> {
        Ok(Map {
            start: self.out.len(),
            out: self.out,
            at: At::Elsewhere,
            rename: self.rename,
            entries: Vec::new(),
            key: None,
            variant: Some(variant),
            fields: None,
        })
    }
}

struct Seq<'a, 'r> {
    out: &'a mut Vec<u8>,
    at: At,
    rename: (&'r str, &'r str),
    first: bool,
    /// A tuple variant: `{"variant":[…]}`.
    variant: bool,
}

impl Seq<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Canon {
            out: &mut *self.out,
            at: self.at,
            rename: self.rename,
            fields: None,
        })
    }

    fn close(self) -> Result<(), Error> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// An object: each value is written after the ones before it in `out`, then the text from
/// `start` on is put in key order.
struct Map<'a, 'r> {
    out: &'a mut Vec<u8>,
    start: usize,
    at: At,
    rename: (&'r str, &'r str),
    /// Each field's key and where its value's text is in `out`.
    entries: Vec<(String, std::ops::Range<usize>)>,
    key: Option<String>,
    /// A struct variant: `{"variant":{…}}`.
    variant: Option<&'static str>,
    fields: Option<&'a mut Vec<(String, std::ops::Range<usize>)>>,
}

impl Map<'_, '_> {
    fn value<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), Error> {
        let from = self.out.len();
        value.serialize(Canon {
            out: &mut *self.out,
            at: self.at.down(Some(&key)),
            rename: self.rename,
            fields: None,
        })?;
        self.entries.push((key, from..self.out.len()));
        Ok(())
    }

    fn close(mut self) -> Result<(), Error> {
        if let Some(fields) = self.fields.take() {
            *fields = std::mem::take(&mut self.entries);
            return Ok(());
        }
        sort_entries(&mut self.entries);
        let written = self.out.split_off(self.start);
        if let Some(variant) = self.variant {
            self.out.push(b'{');
            write_str(self.out, variant);
            self.out.push(b':');
        }
        write_object(
            self.out,
            self.entries.iter().map(|(key, range)| {
                (
                    key.as_str(),
                    &written[range.start - self.start..range.end - self.start],
                )
            }),
        );
        if self.variant.is_some() {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeMap for Map<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // A map's keys as `serde_json` makes them: strings, or numbers and the like as text.
        let text = match serde_json::to_value(key)? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => return Err(ser::Error::custom("key must be a string")),
        };
        self.key = Some(text);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("a map value without its key"))?;
        self.value(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Map<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.value(key.to_owned(), value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Map<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.value(key.to_owned(), value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;

    /// What `serde_json` writes of a `Value` of it, the text this module must give.
    fn through_value<T: Serialize>(value: &T) -> String {
        serde_json::to_value(value).unwrap().to_string()
    }

    fn canonical<T: Serialize>(value: &T) -> String {
        let fields = super::finding_fields(value, "named", "own").unwrap();
        let mut out = Vec::new();
        super::write_object(
            &mut out,
            fields.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
        );
        String::from_utf8(out).unwrap()
    }

    #[derive(Serialize)]
    enum Kind {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { zeta: bool, alpha: Option<f64> },
    }

    #[derive(Serialize)]
    struct Inner {
        z: u64,
        #[serde(rename = "A")]
        a: f32,
        m: Vec<Kind>,
    }

    #[derive(Serialize)]
    struct Outer {
        zulu: Inner,
        alpha: HashMap<String, i64>,
        numbered: BTreeMap<u32, &'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        nothing: Option<u8>,
        tuple: (u8, char, f64),
        bytes: serde_bytes_like::Bytes,
        #[serde(flatten)]
        flat: BTreeMap<String, String>,
        unit: (),
        nan: f64,
        big: i128,
    }

    mod serde_bytes_like {
        pub(super) struct Bytes(pub(super) Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn objects_come_out_as_a_values_text_would() {
        let value = Outer {
            zulu: Inner {
                z: u64::MAX,
                a: 0.1,
                m: vec![
                    Kind::Unit,
                    Kind::Newtype(7),
                    Kind::Tuple(-3, "t\"x".into()),
                    Kind::Struct {
                        zeta: true,
                        alpha: Some(2.5e-8),
                    },
                    Kind::Struct {
                        zeta: false,
                        alpha: None,
                    },
                ],
            },
            alpha: (0..20).map(|i| (format!("k{i}"), i * 1000 - 7)).collect(),
            numbered: [(10, "ten"), (9, "nine"), (100, "hundred")]
                .into_iter()
                .collect(),
            skipped: None,
            nothing: None,
            tuple: (1, '\u{1F600}', f64::INFINITY),
            bytes: serde_bytes_like::Bytes(vec![0, 255, 16]),
            // A flattened key that sorts first, and one equal to a field's (the last kept).
            flat: [
                ("AAA".to_owned(), "first".to_owned()),
                ("nothing".to_owned(), "later".to_owned()),
            ]
            .into_iter()
            .collect(),
            unit: (),
            nan: f64::NAN,
            big: -(1 << 40),
        };
        assert_eq!(canonical(&value), through_value(&value));
    }

    #[test]
    fn only_a_decision_points_source_is_renamed() {
        #[derive(Serialize)]
        struct Point {
            source: &'static str,
            value: &'static str,
        }
        #[derive(Serialize)]
        struct Explanation {
            source: &'static str,
            decision_points: Vec<Point>,
        }
        #[derive(Serialize)]
        struct Finding {
            source: &'static str,
            explanation: Explanation,
            other: Vec<Point>,
        }
        let finding = Finding {
            source: "named",
            explanation: Explanation {
                source: "named",
                decision_points: vec![
                    Point {
                        source: "named",
                        value: "named",
                    },
                    Point {
                        source: "named!",
                        value: "x",
                    },
                ],
            },
            other: vec![Point {
                source: "named",
                value: "y",
            }],
        };
        assert_eq!(
            canonical(&finding),
            r#"{"explanation":{"decision_points":[{"source":"own","value":"named"},{"source":"named!","value":"x"}],"source":"named"},"other":[{"source":"named","value":"y"}],"source":"named"}"#
        );
    }
}
