//! The web application people use in a browser: server-rendered HTML pages (maud), in English
//! or Spanish, over the same handlers, policy decisions and audit entries as the JSON API.
//!
//! - **Sessions.** The login page opens the same session as `POST /api/v1/login` (an HttpOnly,
//!   SameSite=Strict cookie, `Secure` when the node is configured for TLS); pages accept only the
//!   session cookie, never a bearer token, and send anyone without one to the login page.
//! - **CSRF.** Every form carries a token derived from the session secret
//!   (`SHA-256("puente-csrf" ‖ secret)`): a page on another site can neither read nor compute it.
//!   Every POST is refused (403) without it. The login form, which has no session yet, uses a
//!   double-submit cookie.
//! - **Content-Security-Policy.** Pages load scripts, styles and images from the node only; no
//!   inline script or style (htmx and the stylesheet are served from `/assets/`).
//! - **Language.** `?lang=es|en` (the switch on every page, remembered in a cookie), else the
//!   user's setting, else `Accept-Language`, else English. Every string comes from the Fluent
//!   files.
//!
//! **Architecture invariant:** a page reads and writes only by calling the API's handlers or
//! their shared functions in-process, so it is allowed, refused and audited exactly as the API
//! would be.

mod exchange;
mod format;
mod home;
mod layout;
mod login;
mod oversight;
mod program;
pub mod report;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use fluent_bundle::FluentValue;
use puente_domain::Lang;
use puente_policy::{Act, Principal, Resource, ResourceKind};
use sha2::{Digest, Sha256};

use crate::auth::{Authed, SESSION_COOKIE, cookie, token};
use crate::i18n::negotiate;
use crate::problem::ApiError;
use crate::state::AppState;

pub use format::Fmt;

/// The cookie that remembers the language chosen with the switch.
pub const LANG_COOKIE: &str = "puente_lang";
/// The login form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "puente_login_csrf";

/// The policy every page answers with. No inline script or style: `style=` attributes are
/// blocked too, so pages use classes (SVG presentation attributes are not styles).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The routes of the pages and their assets. A page view's audit entries are written together
/// (`audit_batch`).
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/home", get(home::show))
        .route("/commitments", get(program::commitments))
        .route("/commitments/{id}", get(program::commitment))
        .route("/commitments/{id}/actions", post(program::record_action))
        .route("/indicators/{id}", get(program::indicator))
        .route("/indicators/{id}/chart.svg", get(program::chart_svg))
        .route("/meetings", get(program::meetings))
        .route("/meetings/{id}", get(program::meeting))
        .route("/meetings/{id}/prepare", post(program::prepare_meeting))
        .route(
            "/referrals",
            get(exchange::referrals).post(exchange::send_referral),
        )
        .route("/referrals/new", get(exchange::compose_referral))
        .route("/referrals/{id}", get(exchange::referral))
        .route("/referrals/{id}/{step}", post(exchange::referral_step))
        .route(
            "/requests",
            get(exchange::requests).post(exchange::send_request),
        )
        .route("/requests/new", get(exchange::compose_request))
        .route("/requests/{id}", get(exchange::request))
        .route("/requests/{id}/{step}", post(exchange::request_step))
        .route("/reciprocity", get(oversight::reciprocity))
        .route("/report", get(report::show))
        .route("/audit", get(oversight::audit))
        .route("/exchange-log", get(oversight::exchange_log))
        .route("/assets/{name}", get(asset))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::audit_batch::group,
        ))
        .layer(axum::middleware::from_fn(page_headers))
}

// ---- assets -----------------------------------------------------------------------------------

const HTMX: &[u8] = include_bytes!("../../assets/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../assets/puente.css");

/// The node's own assets, named with their version so they can be cached for a year.
pub const HTMX_PATH: &str = "/assets/htmx-2.0.11.min.js";
pub const CSS_PATH: &str = "/assets/puente-1.css";

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "puente-1.css" => (CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// The sizes of every asset a page loads, for the page-weight benchmark.
pub fn asset_bytes() -> usize {
    HTMX.len() + CSS.len()
}

// ---- headers and language -----------------------------------------------------------------------

/// The language a request asked for explicitly: the switch (`?lang=`) or its cookie.
#[derive(Debug, Clone, Copy)]
struct ChosenLang(Option<Lang>, Lang);

async fn page_headers(mut req: Request, next: Next) -> Response {
    let from_query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix("lang="))
            .and_then(Lang::from_tag)
    });
    let from_cookie = cookie(req.headers(), LANG_COOKIE).and_then(Lang::from_tag);
    let accept = negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    req.extensions_mut()
        .insert(ChosenLang(from_query.or(from_cookie), accept));
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    if let Some(lang) = from_query {
        let c = format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
            lang.tag()
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

fn chosen_lang(parts: &Parts) -> ChosenLang {
    parts
        .extensions
        .get::<ChosenLang>()
        .copied()
        .unwrap_or(ChosenLang(None, Lang::En))
}

// ---- the signed-in user of a page ------------------------------------------------------------

/// Who is looking at a page, in which language, with the CSRF token for its forms.
#[derive(Clone)]
pub struct Ctx {
    pub state: AppState,
    pub who: Authed,
    pub lang: Lang,
    pub csrf: String,
    /// The path and query of the page, for the language switch.
    pub uri: String,
}

fn csrf_of(secret: &str) -> String {
    let d = Sha256::new()
        .chain_update(b"puente-csrf\0")
        .chain_update(secret.as_bytes())
        .finalize();
    hex::encode(&d[..16])
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ChosenLang(chosen, accept) = chosen_lang(parts);
        let to_login = || Redirect::to("/login").into_response();
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(to_login());
        };
        let user = state
            .inner
            .store
            .user_by_session(&token::hash(&secret), crate::api::now())
            .await
            .map_err(|e| {
                let lang = chosen.unwrap_or(accept);
                error_page(state, lang, &ApiError::from(e))
            })?;
        let Some(user) = user.filter(|u| !u.disabled) else {
            return Err(to_login());
        };
        let lang = chosen
            .or_else(|| user.lang.as_deref().and_then(Lang::from_tag))
            .unwrap_or(accept);
        Ok(Ctx {
            state: state.clone(),
            who: Authed {
                user,
                ip: crate::auth::client_ip(parts),
            },
            lang,
            csrf: csrf_of(&secret),
            uri: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/home".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

impl Ctx {
    /// A message in the page's language.
    pub fn t(&self, id: &str) -> String {
        self.state.inner.i18n.t(self.lang, id, &[])
    }

    /// A message with arguments.
    pub fn ta(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        self.state.inner.i18n.t(self.lang, id, args)
    }

    pub fn fmt(&self) -> Fmt {
        Fmt(self.lang)
    }

    /// Whether the policy lets this user `act` on records of `kind` of this node's party (what
    /// the navigation and buttons show; the handlers ask again, about the record itself).
    pub fn can(&self, act: Act, kind: ResourceKind) -> bool {
        let id = self.who.user.meta.id.to_string();
        let principal = Principal {
            user: &id,
            role: self.who.user.role,
            party: self.state.inner.party,
            agency: self.who.user.agency.as_deref(),
        };
        let owners = [self.state.inner.party];
        self.state
            .inner
            .policy
            .authorize(
                &principal,
                act,
                &Resource {
                    kind,
                    id: None,
                    owners: &owners,
                    agency: None,
                    tlp: None,
                    persons: false,
                },
            )
            .is_allow()
    }

    /// The page for an error of a handler.
    pub fn fail(&self, e: &ApiError) -> Response {
        let (title, detail, _) = crate::problem::describe(&self.state.inner.i18n, e, self.lang);
        let body = layout::page(self, &title, maud::html! { p { (detail) } });
        (e.status(), body).into_response()
    }

    /// Reads a posted form and checks its CSRF token: a form without the session's token is
    /// refused before anything is read from it.
    // The error is the finished page to answer with, made once on a refused form.
    #[allow(clippy::result_large_err)]
    pub fn form(&self, headers: &HeaderMap, body: &Bytes) -> Result<Form, Response> {
        let form =
            Form::parse(headers, body).ok_or_else(|| self.fail(&ApiError::UnsupportedMediaType))?;
        let given = form.get("csrf").unwrap_or("");
        if !constant_eq(given.as_bytes(), self.csrf.as_bytes()) {
            return Err(self.csrf_refused());
        }
        Ok(form)
    }

    fn csrf_refused(&self) -> Response {
        let body = layout::bare(
            self,
            &self.t("ui-csrf-title"),
            maud::html! { p { (self.t("ui-csrf-detail")) } },
        );
        (StatusCode::FORBIDDEN, body).into_response()
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A posted `application/x-www-form-urlencoded` body.
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    fn parse(headers: &HeaderMap, body: &Bytes) -> Option<Form> {
        let ok = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim() == "application/x-www-form-urlencoded");
        if !ok {
            return None;
        }
        let text = std::str::from_utf8(body).ok()?;
        Some(Form {
            pairs: text
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (
                        crate::input::percent_decode(k),
                        crate::input::percent_decode(v),
                    )
                })
                .collect(),
        })
    }

    /// The first value of `key`, trimmed; `None` if absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// `get` or the empty string (to put back into a re-rendered form).
    pub fn val(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// Every value of `key` (checkboxes, repeated fields).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// An error as a page in `lang`, with the status the API would answer.
pub fn error_page(state: &AppState, lang: Lang, e: &ApiError) -> Response {
    let (title, detail, _) = crate::problem::describe(&state.inner.i18n, e, lang);
    let body = layout::standalone(state, lang, &title, maud::html! { p { (detail) } });
    (e.status(), body).into_response()
}

/// Where a form goes after it succeeded: a 303 to `to`, or for htmx an `HX-Redirect`.
pub fn see_other(headers: &HeaderMap, to: &str) -> Response {
    if headers.contains_key("hx-request") {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        return r;
    }
    Redirect::to(to).into_response()
}
