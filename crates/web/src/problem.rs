//! Every error answer of the API, as RFC 9457 problem details (`application/problem+json`) in the
//! reader's language, with a stable `code`, the request id, and an `errors` list naming each bad
//! field by JSON pointer.
//!
//! Handlers return [`ApiError`]; its `IntoResponse` only tags the response. The
//! [`problem_layer`] middleware, which knows the request's language and id, writes the body, so
//! there is exactly one place where problems are rendered. Causes of internal errors go to the
//! log under the request id, never into the body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fluent_bundle::FluentValue;
use puente_domain::{FieldError, FieldErrorCode, Invalid, Lang};
use puente_store::StoreError;
use serde::Serialize;
use uuid::Uuid;

use crate::i18n::{I18n, negotiate};
use crate::state::AppState;

/// Why a request failed. The set is closed; each variant has a stable code.
#[derive(Debug, Clone)]
pub enum ApiError {
    Unauthenticated,
    LoginFailed,
    Forbidden {
        rule: String,
    },
    NotFound {
        kind: &'static str,
    },
    Invalid(Invalid),
    BadQuery(Invalid),
    MalformedJson,
    /// A request the framework could not read (a path segment that is not UTF-8, say).
    MalformedRequest,
    UnsupportedMediaType,
    PayloadTooLarge {
        limit: usize,
    },
    VersionConflict {
        current: i64,
        given: i64,
    },
    JointChange,
    Duplicate {
        what: &'static str,
        pointer: &'static str,
    },
    TooManyRequests {
        retry_after_secs: u64,
    },
    MethodNotAllowed,
    /// The item's state machine refused the step; `reason` is `wrong-party`, `already-done`,
    /// `out-of-order` or `invalid`.
    StepRefused {
        reason: &'static str,
    },
    /// The node runs without its exchange (no identity files).
    ExchangeUnavailable,
    /// The cause has been logged where it happened.
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::LoginFailed => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadQuery(_) | Self::MalformedJson | Self::MalformedRequest => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::VersionConflict { .. }
            | Self::JointChange
            | Self::Duplicate { .. }
            | Self::StepRefused { .. } => StatusCode::CONFLICT,
            Self::ExchangeUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code, also the last segment of the problem `type`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::LoginFailed => "login-failed",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not-found",
            Self::Invalid(_) => "validation",
            Self::BadQuery(_) => "bad-query",
            Self::MalformedJson => "malformed-json",
            Self::MalformedRequest => "malformed-request",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::VersionConflict { .. } => "version-conflict",
            Self::JointChange => "joint-change",
            Self::Duplicate { .. } => "duplicate",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::StepRefused { .. } => "step-refused",
            Self::ExchangeUnavailable => "exchange-unavailable",
            Self::Internal => "internal",
        }
    }

    /// Logs an unexpected cause and hides it from the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::Internal
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, .. } => ApiError::NotFound { kind },
            StoreError::VersionConflict { current, given, .. } => {
                ApiError::VersionConflict { current, given }
            }
            StoreError::Duplicate { what, pointer } => ApiError::Duplicate { what, pointer },
            StoreError::Invalid(i) => ApiError::Invalid(i),
            // The node could not sign (its key, or a bug): a 500, logged with its reason.
            StoreError::Seal(reason) => ApiError::internal(&format!("sealing failed: {reason}")),
            other => {
                let chain = error_chain(&other);
                tracing::error!(error = %chain, "store error");
                ApiError::Internal
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

impl From<puente_exchange::error::ExchangeError> for ApiError {
    fn from(e: puente_exchange::error::ExchangeError) -> Self {
        use puente_exchange::error::ExchangeError as E;
        match e {
            E::Store(StoreError::StepRefused { code, .. }) => {
                let reason = match code {
                    "wrong-party" => "wrong-party",
                    "already-done" => "already-done",
                    "out-of-order" => "out-of-order",
                    _ => "invalid",
                };
                ApiError::StepRefused { reason }
            }
            E::Store(s) => s.into(),
            // What was composed is more than the exchange carries to a peer.
            E::BodyTooLarge { max, .. } => ApiError::PayloadTooLarge { limit: max },
            // The log does not hold it (yet): no such entry, or no checkpoint covers it.
            E::NotInLog { .. } => ApiError::NotFound { kind: "log-entry" },
            other => ApiError::internal(&error_chain(&other)),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(i: Invalid) -> Self {
        ApiError::Invalid(i)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = self.status().into_response();
        if let Self::TooManyRequests { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r.extensions_mut().insert(Arc::new(self));
        r
    }
}

/// One entry of the `errors` list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// RFC 6901 JSON pointer into the request body, or `/name` of a query parameter.
    pub pointer: String,
    /// Stable code, e.g. `missing`, `wrong-type`, `unknown-field`.
    pub code: String,
    /// What is wrong, in the reader's language.
    pub detail: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    pub code: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// Where authentication records the user's own language setting, which wins over
/// `Accept-Language`: the language is chosen per user first, then per request.
#[derive(Debug, Clone, Default)]
pub struct UserLang(Arc<AtomicU8>);

impl UserLang {
    pub fn set(&self, lang: Lang) {
        self.0.store(
            match lang {
                Lang::En => 1,
                Lang::Es => 2,
            },
            Ordering::Relaxed,
        );
    }

    fn get(&self) -> Option<Lang> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(Lang::En),
            2 => Some(Lang::Es),
            _ => None,
        }
    }
}

/// Assigns a request id and language, and renders any [`ApiError`] as a problem document.
pub async fn problem_layer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let request_id = Uuid::now_v7();
    let lang = negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let instance = req.uri().path().to_owned();
    let user_lang = UserLang::default();
    req.extensions_mut().insert(user_lang.clone());
    let span =
        tracing::info_span!("request", id = %request_id, method = %req.method(), path = %instance);
    let mut response = tracing::Instrument::instrument(next.run(req), span).await;
    let lang = user_lang.get().unwrap_or(lang);
    // A page renders its own errors, in HTML.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // Framework answers (unknown route, wrong method) become problems too.
    let error = match response.extensions_mut().remove::<Arc<ApiError>>() {
        Some(e) => Some((*e).clone()),
        None if is_page => None,
        None if response.status() == StatusCode::NOT_FOUND => {
            Some(ApiError::NotFound { kind: "route" })
        }
        None if response.status() == StatusCode::METHOD_NOT_ALLOWED => {
            Some(ApiError::MethodNotAllowed)
        }
        None if response.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Some(ApiError::PayloadTooLarge {
                limit: state.inner.config.max_body_bytes,
            })
        }
        None if response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Some(ApiError::UnsupportedMediaType)
        }
        None if response.status().is_client_error() => Some(ApiError::MalformedRequest),
        None => None,
    };
    if let Some(e) = error {
        let problem = render(&state.inner.i18n, &e, lang, &instance, request_id);
        let status = e.status();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let headers = std::mem::take(response.headers_mut());
        response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(match lang {
            Lang::En => "en",
            Lang::Es => "es",
        }),
    );
    response
}

/// The title, detail and field problems of `e` in `lang`, as the pages show them.
pub(crate) fn describe(i: &I18n, e: &ApiError, lang: Lang) -> (String, String, Vec<FieldProblem>) {
    let p = render(i, e, lang, "", Uuid::now_v7());
    (p.title, p.detail, p.errors)
}

fn render(i: &I18n, e: &ApiError, lang: Lang, instance: &str, id: Uuid) -> Problem {
    let code = e.code();
    let kind_name = |k: &str| i.t(lang, &format!("kind-{k}"), &[]);
    let (detail, errors) = match e {
        ApiError::Forbidden { rule } => (
            i.t(
                lang,
                "problem-forbidden-detail",
                &[("rule", rule.as_str().into())],
            ),
            vec![],
        ),
        ApiError::NotFound { kind } => (
            i.t(
                lang,
                "problem-not-found-detail",
                &[("kind", kind_name(kind).into())],
            ),
            vec![],
        ),
        ApiError::Invalid(inv) | ApiError::BadQuery(inv) => (
            i.t(
                lang,
                "problem-validation-detail",
                &[("count", inv.0.len().into())],
            ),
            inv.0.iter().map(|f| field_problem(i, lang, f)).collect(),
        ),
        ApiError::PayloadTooLarge { limit } => (
            i.t(
                lang,
                "problem-payload-too-large-detail",
                &[("limit", (*limit).into())],
            ),
            vec![],
        ),
        ApiError::VersionConflict { current, given } => {
            let args = [("current", (*current).into()), ("given", (*given).into())];
            let detail = i.t(lang, "problem-version-conflict-detail", &args);
            let field = FieldProblem {
                pointer: "/version".into(),
                code: "stale".into(),
                detail: detail.clone(),
            };
            (detail, vec![field])
        }
        ApiError::Duplicate { what, pointer } => (
            i.t(
                lang,
                "problem-duplicate-detail",
                &[("what", kind_name(what).into())],
            ),
            vec![FieldProblem {
                pointer: (*pointer).into(),
                code: "duplicate".into(),
                detail: i.t(lang, "field-duplicate", &[]),
            }],
        ),
        ApiError::StepRefused { reason } => (
            i.t(
                lang,
                "problem-step-refused-detail",
                &[("reason", i.t(lang, &format!("step-{reason}"), &[]).into())],
            ),
            vec![],
        ),
        ApiError::TooManyRequests { retry_after_secs } => (
            i.t(
                lang,
                "problem-too-many-requests-detail",
                &[("seconds", (*retry_after_secs).into())],
            ),
            vec![],
        ),
        ApiError::Internal => (
            i.t(
                lang,
                "problem-internal-detail",
                &[("request_id", id.to_string().into())],
            ),
            vec![],
        ),
        other => (
            i.t(lang, &format!("problem-{}-detail", other.code()), &[]),
            vec![],
        ),
    };
    let title_id = match e {
        ApiError::BadQuery(_) => "problem-bad-query".to_owned(),
        _ => format!("problem-{code}"),
    };
    Problem {
        type_: format!("/problems/{code}"),
        title: i.t(lang, &title_id, &[]),
        status: e.status().as_u16(),
        detail,
        instance: instance.to_owned(),
        code: code.to_owned(),
        request_id: id.to_string(),
        errors,
    }
}

pub(crate) fn field_problem(i: &I18n, lang: Lang, f: &FieldError) -> FieldProblem {
    let type_name = |t: &str| i.t(lang, &format!("type-{t}"), &[]);
    let args: Vec<(&str, FluentValue<'_>)> = match &f.code {
        FieldErrorCode::WrongType { expected } | FieldErrorCode::InvalidFormat { expected } => {
            vec![("expected", type_name(expected).into())]
        }
        FieldErrorCode::MissingLanguage { lang } => vec![("lang", (*lang).into())],
        FieldErrorCode::TooLong { max } => vec![("max", (*max).into())],
        _ => vec![],
    };
    FieldProblem {
        pointer: f.pointer.clone(),
        code: f.code.code().to_owned(),
        detail: i.t(lang, &format!("field-{}", f.code.code()), &args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use puente_domain::FieldError;

    /// The `"…"` literals that follow `marker` in the Rust files under `dir`: the message ids
    /// the code builds at run time (`kind: "…"`, `expected: "…"`, `duplicate("…"`).
    fn literals_after(dir: &str, marker: &str) -> Vec<String> {
        let mut out = vec![];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for piece in text.split(marker).skip(1) {
                        if let Some(lit) = piece.split('"').next() {
                            if !lit.is_empty()
                                && lit.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                            {
                                out.push(lit.to_owned());
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn assert_translated(i: &I18n, id: &str) {
        for lang in Lang::ALL {
            let text = i.t(
                lang,
                id,
                &[
                    ("count", 2.into()),
                    ("rule", "r".into()),
                    ("kind", "k".into()),
                ],
            );
            assert_ne!(text, id, "message {id} missing in {lang}");
        }
    }

    #[test]
    fn every_message_the_code_can_ask_for_exists_in_both_languages() {
        let i = I18n::new();
        let expected = [
            literals_after("src", "expected: \""),
            literals_after("../domain/src", "expected: \""),
            literals_after("../exchange/src", "expected: \""),
            // Token labels the wire readers pass as arguments.
            [
                "date-time",
                "entity-type",
                "referral-kind",
                "request-kind",
                "urgency",
                "tlp",
                "source-reliability",
                "information-credibility",
                "result-kind",
                "outcome-kind",
                "answer-kind",
                "referral-step",
                "request-step",
                "flow-direction",
                "party",
            ]
            .map(str::to_owned)
            .to_vec(),
        ]
        .concat();
        assert!(
            expected.contains(&"date".to_owned()) && expected.contains(&"user-name".to_owned())
        );
        for t in expected {
            assert_translated(&i, &format!("type-{t}"));
        }
        let kinds = [
            literals_after("src", "kind: \""),
            literals_after("../store/src", "duplicate(\""),
            puente_policy::ResourceKind::ALL
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
        ]
        .concat();
        assert!(kinds.contains(&"follow-up".to_owned()) && kinds.contains(&"route".to_owned()));
        for k in kinds {
            assert_translated(&i, &format!("kind-{k}"));
        }
        let codes = [
            FieldErrorCode::Missing,
            FieldErrorCode::WrongType { expected: "string" },
            FieldErrorCode::UnknownField,
            FieldErrorCode::UnknownArea,
            FieldErrorCode::UnknownParty,
            FieldErrorCode::UnknownPeer,
            FieldErrorCode::UnknownIndicator,
            FieldErrorCode::UnknownCommitment,
            FieldErrorCode::DueBeforeStart,
            FieldErrorCode::MissingLanguage { lang: "es" },
            FieldErrorCode::UnknownLanguage,
            FieldErrorCode::TooLong { max: 3 },
            FieldErrorCode::Empty,
            FieldErrorCode::InvalidFormat { expected: "date" },
            FieldErrorCode::OutOfRange,
            FieldErrorCode::Duplicate,
            FieldErrorCode::Immutable,
            FieldErrorCode::Mismatch,
            FieldErrorCode::Contradictory,
            FieldErrorCode::EndNotAfterStart,
            FieldErrorCode::Incomplete,
        ];
        for c in codes {
            assert_translated(&i, &format!("field-{}", c.code()));
        }
        let errors = [
            ApiError::Unauthenticated,
            ApiError::LoginFailed,
            ApiError::Forbidden { rule: "r".into() },
            ApiError::NotFound { kind: "commitment" },
            ApiError::Invalid(Invalid(vec![FieldError::new(
                "/x",
                FieldErrorCode::Missing,
            )])),
            ApiError::BadQuery(Invalid(vec![FieldError::new(
                "/x",
                FieldErrorCode::Missing,
            )])),
            ApiError::MalformedJson,
            ApiError::MalformedRequest,
            ApiError::UnsupportedMediaType,
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::VersionConflict {
                current: 2,
                given: 1,
            },
            ApiError::JointChange,
            ApiError::Duplicate {
                what: "user",
                pointer: "/name",
            },
            ApiError::TooManyRequests {
                retry_after_secs: 1,
            },
            ApiError::MethodNotAllowed,
            ApiError::StepRefused {
                reason: "wrong-party",
            },
            ApiError::StepRefused {
                reason: "already-done",
            },
            ApiError::StepRefused {
                reason: "out-of-order",
            },
            ApiError::StepRefused { reason: "invalid" },
            ApiError::ExchangeUnavailable,
            ApiError::Internal,
        ];
        for e in errors {
            for lang in Lang::ALL {
                let p = render(&i, &e, lang, "/x", Uuid::nil());
                let text = serde_json::to_string(&p).unwrap();
                for prefix in ["problem-", "field-", "type-", "kind-"] {
                    assert!(
                        !text.contains(prefix),
                        "untranslated id in {lang} {}: {text}",
                        e.code()
                    );
                }
            }
        }
    }
}
