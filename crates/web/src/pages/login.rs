//! The login page, signing in (the same session as the API's login) and signing out.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use puente_domain::Lang;
use std::net::SocketAddr;

use super::layout::standalone;
use super::{ChosenLang, Ctx, Form, LOGIN_CSRF_COOKIE, constant_eq, error_page};
use crate::auth::{CLEAR_SESSION, cookie, end_session, start_session};
use crate::problem::ApiError;
use crate::state::AppState;

/// The language of a page nobody is signed in to: the switch, else `Accept-Language`.
pub struct AnonLang(pub Lang);

impl axum::extract::FromRequestParts<AppState> for AnonLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        _: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        let ChosenLang(chosen, accept) = super::chosen_lang(parts);
        Ok(AnonLang(chosen.unwrap_or(accept)))
    }
}

fn form(
    state: &AppState,
    lang: Lang,
    token: &str,
    name: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = |id: &str| state.inner.i18n.t(lang, id, &[]);
    let body = html! {
        @if let Some(e) = error {
            div.error-summary role="alert" { p #login-error { (e) } }
        }
        form.login method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            p {
                label for="name" { (t("ui-login-name")) }
                input #name type="text" name="name" value=(name) autocomplete="username" required
                    aria-describedby=[error.map(|_| "login-error")];
            }
            p {
                label for="password" { (t("ui-login-password")) }
                input #password type="password" name="password" autocomplete="current-password" required;
            }
            p { button type="submit" { (t("ui-login-submit")) } }
        }
    };
    let mut r = (status, standalone(state, lang, &t("ui-login-title"), body)).into_response();
    let c = format!("{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn new_token() -> String {
    let (secret, _) = crate::auth::token::generate();
    secret
}

/// `GET /login`
pub async fn show(State(state): State<AppState>, AnonLang(lang): AnonLang) -> Response {
    form(&state, lang, &new_token(), "", None, StatusCode::OK)
}

/// `POST /login`: on success to the home page; else the form again with the error, and the name.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    AnonLang(lang): AnonLang,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(f) = Form::parse(&headers, &body) else {
        return error_page(&state, lang, &ApiError::UnsupportedMediaType);
    };
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    let given = f.get("csrf").unwrap_or("");
    if expected.is_empty() || !constant_eq(expected.as_bytes(), given.as_bytes()) {
        let t = state.inner.i18n.t(lang, "ui-csrf-detail", &[]);
        return form(
            &state,
            lang,
            &new_token(),
            f.val("name"),
            Some(&t),
            StatusCode::FORBIDDEN,
        );
    }
    let name = f.val("name").to_owned();
    let password = f
        .pairs
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match start_session(&state, &name, password, &addr.ip().to_string()).await {
        Ok((_, session)) => {
            let mut r = Redirect::to("/home").into_response();
            if let Ok(v) = HeaderValue::from_str(&session) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let (_, detail, _) = crate::problem::describe(&state.inner.i18n, &e, lang);
            form(&state, lang, &new_token(), &name, Some(&detail), e.status())
        }
    }
}

/// `POST /logout`
pub async fn logout(ctx: Ctx, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = ctx.form(&headers, &body) {
        return r;
    }
    let ip = ctx.who.ip.clone().unwrap_or_default();
    if let Err(e) = end_session(&ctx.state, &headers, &ip).await {
        return ctx.fail(&e);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_SESSION));
    r
}
