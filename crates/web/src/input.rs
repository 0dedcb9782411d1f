//! Reading request bodies and query strings: the JSON body extractor and query-string
//! parameters, each bad parameter named by its pointer.
//!
//! The field-by-field JSON walker (`Obj`, `object`, `done`, …) lives in `puente_exchange::json`,
//! shared with the bodies peers send; it is re-exported here so handlers read every body the
//! same way.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use puente_domain::FieldErrorCode;
use puente_domain::error::Errors;
use puente_domain::lang::escape_pointer;
use serde_json::Value;

use crate::problem::ApiError;
use crate::state::AppState;

pub use puente_exchange::json::{
    Obj, YEARS, date, datetime, done, localized, object, parse_date, parse_datetime, parse_uuid,
    strings,
};

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

pub(crate) fn percent_decode(s: &str) -> String {
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
