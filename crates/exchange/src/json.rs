//! The strict JSON walker: reads a `serde_json::Value` field by field into domain values,
//! collecting an error with its JSON pointer for every bad field (missing, wrong type, unknown
//! field, bad format) instead of stopping at the first.
//!
//! serde's derive stops at the first error and cannot name unknown fields by pointer, so bodies
//! are parsed to `Value` and walked here; the domain constructors then check the rules that span
//! fields. The web API reads its request bodies with it, and `wire` reads the bodies peers send,
//! so one reader serves both.

use std::str::FromStr;

use puente_domain::error::Errors;
use puente_domain::lang::escape_pointer;
use puente_domain::{FieldErrorCode, Invalid, Lang, LocalizedText, PartyCode, Period};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// A JSON object being read field by field.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    base: String,
    seen: Vec<&'a str>,
}

/// Starts reading `v`, which must be an object, at `pointer` (`""` for the root).
pub fn object<'a>(e: &mut Errors, pointer: &str, v: &'a Value) -> Option<Obj<'a>> {
    match v {
        Value::Object(map) => Some(Obj {
            map,
            base: pointer.to_owned(),
            seen: vec![],
        }),
        _ => {
            e.push(
                pointer_or_root(pointer),
                FieldErrorCode::WrongType { expected: "object" },
            );
            None
        }
    }
}

fn pointer_or_root(p: &str) -> String {
    if p.is_empty() {
        "/".to_owned()
    } else {
        p.to_owned()
    }
}

fn type_err(e: &mut Errors, ptr: String, expected: &'static str) {
    e.push(ptr, FieldErrorCode::WrongType { expected });
}

impl<'a> Obj<'a> {
    pub fn ptr(&self, key: &str) -> String {
        format!("{}/{}", self.base, escape_pointer(key))
    }

    /// The value at `key`, `null` counting as absent; marks the key as known.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn required(&mut self, e: &mut Errors, key: &'static str) -> Option<&'a Value> {
        let v = self.get(key);
        if v.is_none() {
            e.push(self.ptr(key), FieldErrorCode::Missing);
        }
        v
    }

    pub fn str(&mut self, e: &mut Errors, key: &'static str) -> Option<&'a str> {
        let v = self.required(e, key)?;
        self.as_str(e, key, v)
    }

    pub fn opt_str(&mut self, e: &mut Errors, key: &'static str) -> Option<&'a str> {
        let v = self.get(key)?;
        self.as_str(e, key, v)
    }

    fn as_str(&self, e: &mut Errors, key: &str, v: &'a Value) -> Option<&'a str> {
        let s = v.as_str();
        if s.is_none() {
            type_err(e, self.ptr(key), "string");
        }
        s
    }

    pub fn f64(&mut self, e: &mut Errors, key: &'static str) -> Option<f64> {
        let v = self.required(e, key)?;
        self.as_f64(e, key, v)
    }

    pub fn opt_f64(&mut self, e: &mut Errors, key: &'static str) -> Option<f64> {
        let v = self.get(key)?;
        self.as_f64(e, key, v)
    }

    fn as_f64(&self, e: &mut Errors, key: &str, v: &Value) -> Option<f64> {
        let n = v.as_f64();
        if n.is_none() {
            type_err(e, self.ptr(key), "number");
        }
        n
    }

    pub fn i64(&mut self, e: &mut Errors, key: &'static str) -> Option<i64> {
        let v = self.required(e, key)?;
        let n = v.as_i64();
        if n.is_none() {
            type_err(e, self.ptr(key), "integer");
        }
        n
    }

    /// A whole number that fits in a `u32`: a fraction is the wrong type, a negative or too
    /// large whole number is out of range.
    pub fn u32(&mut self, e: &mut Errors, key: &'static str) -> Option<u32> {
        let v = self.required(e, key)?;
        let n = match v.as_number() {
            Some(n) if n.is_i64() || n.is_u64() => n,
            _ => {
                type_err(e, self.ptr(key), "integer");
                return None;
            }
        };
        let r = n.as_u64().and_then(|n| u32::try_from(n).ok());
        if r.is_none() {
            e.push(self.ptr(key), FieldErrorCode::OutOfRange);
        }
        r
    }

    /// A required boolean.
    pub fn bool(&mut self, e: &mut Errors, key: &'static str) -> Option<bool> {
        let v = self.required(e, key)?;
        self.as_bool(e, key, v)
    }

    /// An optional boolean, `None` when absent.
    pub fn opt_bool(&mut self, e: &mut Errors, key: &'static str) -> Option<bool> {
        let v = self.get(key)?;
        self.as_bool(e, key, v)
    }

    fn as_bool(&self, e: &mut Errors, key: &str, v: &Value) -> Option<bool> {
        let b = v.as_bool();
        if b.is_none() {
            type_err(e, self.ptr(key), "boolean");
        }
        b
    }

    /// An optional boolean, `default` when absent.
    pub fn bool_or(&mut self, e: &mut Errors, key: &'static str, default: bool) -> bool {
        self.opt_bool(e, key).unwrap_or(default)
    }

    pub fn array(&mut self, e: &mut Errors, key: &'static str) -> Option<&'a Vec<Value>> {
        let v = self.required(e, key)?;
        self.as_array(e, key, v)
    }

    /// An optional list, empty when absent.
    pub fn opt_array(&mut self, e: &mut Errors, key: &'static str) -> Option<&'a Vec<Value>> {
        match self.get(key) {
            None => Some(empty()),
            Some(v) => self.as_array(e, key, v),
        }
    }

    fn as_array(&self, e: &mut Errors, key: &str, v: &'a Value) -> Option<&'a Vec<Value>> {
        let a = v.as_array();
        if a.is_none() {
            type_err(e, self.ptr(key), "array");
        }
        a
    }

    /// A required nested object, to be read and finished by the caller.
    pub fn obj(&mut self, e: &mut Errors, key: &'static str) -> Option<Obj<'a>> {
        let v = self.required(e, key)?;
        object(e, &self.ptr(key), v)
    }

    /// An optional nested object.
    pub fn opt_obj(&mut self, e: &mut Errors, key: &'static str) -> Option<Obj<'a>> {
        let v = self.get(key)?;
        object(e, &self.ptr(key), v)
    }

    pub fn date(&mut self, e: &mut Errors, key: &'static str) -> Option<Date> {
        let s = self.str(e, key)?;
        parse_date(e, &self.ptr(key), s)
    }

    pub fn opt_date(&mut self, e: &mut Errors, key: &'static str) -> Option<Date> {
        let s = self.opt_str(e, key)?;
        parse_date(e, &self.ptr(key), s)
    }

    /// An RFC 3339 instant (see [`datetime`]).
    pub fn datetime(&mut self, e: &mut Errors, key: &'static str) -> Option<OffsetDateTime> {
        let s = self.str(e, key)?;
        parse_datetime(e, &self.ptr(key), s)
    }

    pub fn uuid(&mut self, e: &mut Errors, key: &'static str) -> Option<Uuid> {
        let s = self.str(e, key)?;
        parse_uuid(e, &self.ptr(key), s)
    }

    pub fn party(&mut self, e: &mut Errors, key: &'static str) -> Option<PartyCode> {
        let s = self.str(e, key)?;
        e.take(PartyCode::parse_field(&self.ptr(key), s))
    }

    pub fn opt_party(&mut self, e: &mut Errors, key: &'static str) -> Option<PartyCode> {
        let s = self.opt_str(e, key)?;
        e.take(PartyCode::parse_field(&self.ptr(key), s))
    }

    pub fn period(&mut self, e: &mut Errors, key: &'static str) -> Option<Period> {
        let s = self.str(e, key)?;
        e.take(Period::parse_field(&self.ptr(key), s))
    }

    /// A language tag, exactly `en` or `es` (one spelling per language, so a body has one
    /// reading).
    pub fn lang(&mut self, e: &mut Errors, key: &'static str) -> Option<Lang> {
        let s = self.str(e, key)?;
        let l = Lang::ALL.into_iter().find(|l| l.tag() == s);
        if l.is_none() {
            e.push(self.ptr(key), FieldErrorCode::UnknownLanguage);
        }
        l
    }

    /// One token of a closed vocabulary (`flash`, `amber-strict`); anything else is an
    /// invalid format naming `expected`.
    pub fn token<T: FromStr>(
        &mut self,
        e: &mut Errors,
        key: &'static str,
        expected: &'static str,
    ) -> Option<T> {
        let s = self.str(e, key)?;
        let t = s.parse().ok();
        if t.is_none() {
            e.push(self.ptr(key), FieldErrorCode::InvalidFormat { expected });
        }
        t
    }

    /// A `{"en": …, "es": …}` object of texts of at most `max` characters.
    pub fn localized(
        &mut self,
        e: &mut Errors,
        key: &'static str,
        max: usize,
    ) -> Option<LocalizedText> {
        let v = self.required(e, key)?;
        localized(e, &self.ptr(key), v, max)
    }

    /// Reports every key that no reader asked for as an unknown field.
    pub fn finish(self, e: &mut Errors) {
        for k in self.map.keys() {
            if !self.seen.contains(&k.as_str()) {
                e.push(self.ptr(k), FieldErrorCode::UnknownField);
            }
        }
    }
}

fn empty() -> &'static Vec<Value> {
    static EMPTY: Vec<Value> = Vec::new();
    &EMPTY
}

/// Reads a bilingual text object at `ptr`.
pub fn localized(e: &mut Errors, ptr: &str, v: &Value, max: usize) -> Option<LocalizedText> {
    let Value::Object(map) = v else {
        type_err(e, ptr.to_owned(), "object");
        return None;
    };
    let mut pairs = vec![];
    let mut ok = true;
    for (tag, text) in map {
        match text.as_str() {
            Some(t) => pairs.push((tag.as_str(), t)),
            None => {
                type_err(e, format!("{ptr}/{}", escape_pointer(tag)), "string");
                ok = false;
            }
        }
    }
    let parsed = e.take(LocalizedText::parse(ptr, pairs, max));
    if ok { parsed } else { None }
}

/// The days puente accepts: the same years as reporting periods.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// An ISO 8601 calendar date (`YYYY-MM-DD`) in [`YEARS`], or `None`.
pub fn date(s: &str) -> Option<Date> {
    let d = Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    // The parser also takes signed and five-digit years; only four-digit ones in range are days.
    (s.len() == 10 && YEARS.contains(&d.year())).then_some(d)
}

pub fn parse_date(e: &mut Errors, ptr: &str, s: &str) -> Option<Date> {
    let r = date(s);
    if r.is_none() {
        e.push(ptr, FieldErrorCode::InvalidFormat { expected: "date" });
    }
    r
}

/// An RFC 3339 instant (`2025-09-03T12:00:00Z`, any offset), as UTC, or `None`. At most
/// microsecond precision, as everywhere in puente (the stores keep microseconds), so that what
/// is read is exactly what [`format_datetime`] writes back; years 0000–9999 after conversion.
pub fn datetime(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let t = t.checked_to_offset(UtcOffset::UTC)?;
    (t.nanosecond() % 1000 == 0 && (0..=9999).contains(&t.year())).then_some(t)
}

pub fn parse_datetime(e: &mut Errors, ptr: &str, s: &str) -> Option<OffsetDateTime> {
    let r = datetime(s);
    if r.is_none() {
        e.push(
            ptr,
            FieldErrorCode::InvalidFormat {
                expected: "date-time",
            },
        );
    }
    r
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, the one form puente writes instants in (the same as
/// envelope headers); sub-microsecond digits are dropped.
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

pub fn parse_uuid(e: &mut Errors, ptr: &str, s: &str) -> Option<Uuid> {
    let r = Uuid::try_parse(s).ok();
    if r.is_none() {
        e.push(ptr, FieldErrorCode::InvalidFormat { expected: "uuid" });
    }
    r
}

/// Reads a list of strings at `ptr`.
pub fn strings(e: &mut Errors, ptr: &str, items: &[Value]) -> Vec<String> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| match v.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                type_err(e, format!("{ptr}/{i}"), "string");
                None
            }
        })
        .collect()
}

/// Finishes reading: every collected error, or the value.
pub fn done<T>(e: Errors, v: Option<T>) -> Result<T, Invalid> {
    e.finish()?;
    v.ok_or_else(|| Invalid::one("/", FieldErrorCode::Missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn codes(e: Errors) -> Vec<(String, &'static str)> {
        match e.finish() {
            Err(Invalid(v)) => v.into_iter().map(|f| (f.pointer, f.code.code())).collect(),
            Ok(()) => vec![],
        }
    }

    #[test]
    fn every_problem_is_named_by_pointer() {
        let v = json!({"title": {"en": "x", "fr": "y"}, "start": 3, "extra": true});
        let mut e = Errors::new();
        let mut o = object(&mut e, "", &v).unwrap();
        o.localized(&mut e, "title", 200);
        o.date(&mut e, "start");
        o.str(&mut e, "agency");
        o.finish(&mut e);
        assert_eq!(
            codes(e),
            [
                ("/title/fr".to_owned(), "unknown-language"),
                ("/title/es".to_owned(), "missing-language"),
                ("/start".to_owned(), "wrong-type"),
                ("/agency".to_owned(), "missing"),
                ("/extra".to_owned(), "unknown-field"),
            ]
        );
    }

    #[test]
    fn dates_are_plain_four_digit_years_in_range() {
        assert!(date("2025-09-03").is_some());
        for bad in [
            "-0001-01-01",
            "+2025-09-03",
            "1899-12-31",
            "2201-01-01",
            "2025-9-3",
            "12025-01-01",
        ] {
            assert!(date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn instants_are_rfc3339_read_as_utc_to_the_microsecond() {
        let t = datetime!(2025-09-03 12:00 UTC);
        assert_eq!(datetime("2025-09-03T12:00:00Z"), Some(t));
        assert_eq!(datetime("2025-09-03T06:00:00-06:00"), Some(t));
        assert_eq!(format_datetime(t), "2025-09-03T12:00:00.000000Z");
        let micro = datetime("2025-09-03T12:00:00.123456Z");
        assert_eq!(
            micro.map(format_datetime).as_deref(),
            Some("2025-09-03T12:00:00.123456Z")
        );
        for bad in [
            "2025-09-03",
            "2025-09-03T12:00:00",
            "2025-09-03T12:00:00.123456789Z",
            "2025-02-30T12:00:00Z",
            "0000-01-01T00:00:00+01:00",
        ] {
            assert_eq!(datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_booleans_tokens_and_nested_objects() {
        let v = json!({"n": 3.5, "big": 5_000_000_000u64, "neg": -1, "ok": 7, "b": "yes",
                       "tlp": "purple", "lang": "es-MX", "at": "noon", "w": [], "o": {"x": 1}});
        let mut e = Errors::new();
        let mut o = object(&mut e, "", &v).unwrap();
        assert_eq!(o.u32(&mut e, "n"), None);
        assert_eq!(o.u32(&mut e, "big"), None);
        assert_eq!(o.u32(&mut e, "neg"), None);
        assert_eq!(o.u32(&mut e, "ok"), Some(7));
        assert_eq!(o.opt_bool(&mut e, "b"), None);
        assert_eq!(o.opt_bool(&mut e, "absent"), None);
        assert_eq!(o.token::<puente_domain::Tlp>(&mut e, "tlp", "tlp"), None);
        assert_eq!(o.lang(&mut e, "lang"), None);
        assert_eq!(o.datetime(&mut e, "at"), None);
        assert!(o.opt_obj(&mut e, "w").is_none());
        let inner = o.obj(&mut e, "o").unwrap();
        inner.finish(&mut e);
        o.finish(&mut e);
        assert_eq!(
            codes(e),
            [
                ("/n".to_owned(), "wrong-type"),
                ("/big".to_owned(), "out-of-range"),
                ("/neg".to_owned(), "out-of-range"),
                ("/b".to_owned(), "wrong-type"),
                ("/tlp".to_owned(), "invalid-format"),
                ("/lang".to_owned(), "unknown-language"),
                ("/at".to_owned(), "invalid-format"),
                ("/w".to_owned(), "wrong-type"),
                ("/o/x".to_owned(), "unknown-field"),
            ]
        );
    }
}
