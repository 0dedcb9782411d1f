//! Reading request bodies and query strings into domain drafts, collecting an error for every bad
//! field (missing, wrong type, unknown field, bad format) with its JSON pointer.
//!
//! serde's derive stops at the first error and cannot name unknown fields by pointer, so bodies
//! are parsed to `serde_json::Value` and walked here; the domain constructors then check the
//! rules that span fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use puente_domain::error::Errors;
use puente_domain::lang::escape_pointer;
use puente_domain::{FieldErrorCode, Invalid, LocalizedText, PartyCode, Period};
use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

/// A JSON request body: `Content-Type: application/json`, within the node's size limit, parsed.
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.inner.config.max_body_bytes;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::PayloadTooLarge { limit })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|_| ApiError::MalformedJson)
    }
}

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

    /// An optional boolean, `default` when absent.
    pub fn bool_or(&mut self, e: &mut Errors, key: &'static str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                type_err(e, self.ptr(key), "boolean");
                default
            }
        }
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

    pub fn date(&mut self, e: &mut Errors, key: &'static str) -> Option<Date> {
        let s = self.str(e, key)?;
        parse_date(e, &self.ptr(key), s)
    }

    pub fn opt_date(&mut self, e: &mut Errors, key: &'static str) -> Option<Date> {
        let s = self.opt_str(e, key)?;
        parse_date(e, &self.ptr(key), s)
    }

    pub fn uuid(&mut self, e: &mut Errors, key: &'static str) -> Option<Uuid> {
        let s = self.str(e, key)?;
        parse_uuid(e, &self.ptr(key), s)
    }

    pub fn party(&mut self, e: &mut Errors, key: &'static str) -> Option<PartyCode> {
        let s = self.str(e, key)?;
        e.take(PartyCode::parse_field(&self.ptr(key), s))
    }

    pub fn period(&mut self, e: &mut Errors, key: &'static str) -> Option<Period> {
        let s = self.str(e, key)?;
        e.take(Period::parse_field(&self.ptr(key), s))
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

/// Query-string parameters, each readable once; unknown ones are reported.
pub struct Query {
    pairs: Vec<(String, String)>,
    seen: Vec<&'static str>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Query {
            pairs,
            seen: vec![],
        }
    }

    pub fn get(&mut self, key: &'static str) -> Option<&str> {
        self.seen.push(key);
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Reports unknown parameters, parameters given twice, and values that are not text.
    pub fn finish(self, e: &mut Errors) {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            let ptr = format!("/{}", escape_pointer(k));
            if e.has(&ptr) {
                continue;
            }
            if !self.seen.contains(&k.as_str()) {
                e.push(ptr, FieldErrorCode::UnknownField);
            } else if self.pairs[..i].iter().any(|(k2, _)| k2 == k) {
                e.push(ptr, FieldErrorCode::Duplicate);
            } else if v.chars().any(char::is_control) {
                e.push(ptr, FieldErrorCode::InvalidFormat { expected: "string" });
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = &bytes[i + 1..i + 3];
                let hex = hex
                    .iter()
                    .all(u8::is_ascii_hexdigit)
                    .then(|| std::str::from_utf8(hex).ok())
                    .flatten();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_is_named_by_pointer() {
        let v = json!({"title": {"en": "x", "fr": "y"}, "start": 3, "extra": true});
        let mut e = Errors::new();
        let mut o = object(&mut e, "", &v).unwrap();
        o.localized(&mut e, "title", 200);
        o.date(&mut e, "start");
        o.str(&mut e, "agency");
        o.finish(&mut e);
        let got: Vec<_> = match e.finish() {
            Err(Invalid(v)) => v.into_iter().map(|f| (f.pointer, f.code.code())).collect(),
            Ok(()) => vec![],
        };
        assert_eq!(
            got,
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
    fn query_strings_decode_and_report_unknowns() {
        let mut q = Query::parse(Some("area=fuel-theft&due_from=2025-01-01&x=%C3%A9+a"));
        assert_eq!(q.get("area"), Some("fuel-theft"));
        let mut e = Errors::new();
        q.finish(&mut e);
        assert!(e.has("/due_from") && e.has("/x"));
        assert_eq!(percent_decode("%C3%A9+a%2"), "é a%2");
        assert_eq!(percent_decode("%+1"), "% 1");
        let mut q = Query::parse(Some("party=US&party=XX&agency=a%00b"));
        q.get("party");
        q.get("agency");
        let mut e = Errors::new();
        q.finish(&mut e);
        assert!(e.has("/party") && e.has("/agency"));
    }
}
