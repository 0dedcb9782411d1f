//! The frame of every page: landmarks (header, nav, main, footer), a skip link, the language
//! switch, the navigation the user's role may use (asked of the policy), and small helpers for
//! forms, statuses and field errors.

use axum::response::Html;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use puente_domain::Lang;
use puente_policy::{Act, ResourceKind};

use super::{CSS_PATH, Ctx, HTMX_PATH};
use crate::problem::FieldProblem;
use crate::state::AppState;

fn lang_tag(lang: Lang) -> &'static str {
    lang.tag()
}

/// `uri` with its `lang` parameter set to `lang`.
pub fn switch_href(uri: &str, lang: Lang) -> String {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut parts: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang="))
        .collect();
    let l = format!("lang={}", lang.tag());
    parts.push(&l);
    format!("{path}?{}", parts.join("&"))
}

fn head(title: &str, party: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · puente " (party) }
            link rel="stylesheet" href=(CSS_PATH);
            script src=(HTMX_PATH) defer {}
        }
    }
}

fn switch(i18n: &crate::i18n::I18n, lang: Lang, uri: &str) -> Markup {
    html! {
        nav.lang aria-label=(i18n.t(lang, "ui-lang-switch", &[])) {
            @for (l, name) in [(Lang::En, "English"), (Lang::Es, "Español")] {
                @if l == lang {
                    span lang=(lang_tag(l)) aria-current="true" { (name) }
                } @else {
                    a href=(switch_href(uri, l)) lang=(lang_tag(l)) hreflang=(lang_tag(l)) { (name) }
                }
            }
        }
    }
}

/// The navigation entries: (path, message id, kind the role must be able to list).
const NAV: &[(&str, &str, Act, ResourceKind)] = &[
    (
        "/commitments",
        "ui-nav-commitments",
        Act::List,
        ResourceKind::Commitment,
    ),
    (
        "/meetings",
        "ui-nav-meetings",
        Act::List,
        ResourceKind::Meeting,
    ),
    (
        "/referrals",
        "ui-nav-referrals",
        Act::List,
        ResourceKind::Referral,
    ),
    (
        "/requests",
        "ui-nav-requests",
        Act::List,
        ResourceKind::InformationRequest,
    ),
    (
        "/reciprocity",
        "ui-nav-reciprocity",
        Act::Read,
        ResourceKind::Reciprocity,
    ),
    (
        "/report",
        "ui-nav-report",
        Act::List,
        ResourceKind::Indicator,
    ),
    (
        "/audit",
        "ui-nav-audit",
        Act::List,
        ResourceKind::AuditEntry,
    ),
    (
        "/exchange-log",
        "ui-nav-log",
        Act::List,
        ResourceKind::ExchangeLog,
    ),
];

/// What the user may open, as the policy decides for their role.
pub fn nav_items(ctx: &Ctx) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![("/home", "ui-nav-home")];
    out.extend(
        NAV.iter()
            .filter(|(_, _, act, kind)| ctx.can(*act, *kind))
            .map(|(p, id, _, _)| (*p, *id)),
    );
    out
}

/// A whole page for a signed-in user.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Html<String> {
    let party = ctx.state.inner.party.to_string();
    let path = ctx.uri.split('?').next().unwrap_or("");
    let role = ctx.t(&format!("ui-role-{}", ctx.who.user.role.as_str()));
    let markup = html! {
        (DOCTYPE)
        html lang=(lang_tag(ctx.lang)) {
            (head(title, &party))
            body {
                a.skip href="#main" { (ctx.t("ui-skip")) }
                header.top {
                    p.brand { a href="/home" { "puente" } " · " (ctx.ta("ui-node-of", &[("party", party.as_str().into())])) }
                    (switch(&ctx.state.inner.i18n, ctx.lang, &ctx.uri))
                    div.who {
                        span { (ctx.who.user.name) " · " (role)
                            @if let Some(a) = &ctx.who.user.agency { " · " (a) } }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button type="submit" { (ctx.t("ui-logout")) }
                        }
                    }
                }
                nav.main aria-label=(ctx.t("ui-nav-label")) {
                    ul {
                        @for (href, id) in nav_items(ctx) {
                            li {
                                @if path == href || (href != "/home" && path.starts_with(&format!("{href}/"))) {
                                    a href=(href) aria-current="page" { (ctx.t(id)) }
                                } @else {
                                    a href=(href) { (ctx.t(id)) }
                                }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
                footer { p { (ctx.t("ui-footer")) } }
            }
        }
    };
    Html(markup.into_string())
}

/// A page without navigation, for a signed-in user (the CSRF refusal).
pub fn bare(ctx: &Ctx, title: &str, body: Markup) -> Html<String> {
    standalone_with(&ctx.state, ctx.lang, &ctx.uri, title, body)
}

/// A page for someone not signed in (the login page, errors before a session).
pub fn standalone(state: &AppState, lang: Lang, title: &str, body: Markup) -> Html<String> {
    standalone_with(state, lang, "/login", title, body)
}

pub fn standalone_with(
    state: &AppState,
    lang: Lang,
    uri: &str,
    title: &str,
    body: Markup,
) -> Html<String> {
    let party = state.inner.party.to_string();
    let i18n = &state.inner.i18n;
    let markup = html! {
        (DOCTYPE)
        html lang=(lang_tag(lang)) {
            (head(title, &party))
            body {
                a.skip href="#main" { (i18n.t(lang, "ui-skip", &[])) }
                header.top {
                    p.brand { a href="/home" { "puente" } " · " (i18n.t(lang, "ui-node-of", &[("party", party.as_str().into())])) }
                    (switch(i18n, lang, uri))
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
                footer { p { (i18n.t(lang, "ui-footer", &[])) } }
            }
        }
    };
    Html(markup.into_string())
}

/// The hidden CSRF field every form carries.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// The error messages of the field at `pointer` (and below it), next to that field.
pub fn field_errors(errors: &[FieldProblem], pointer: &str, id: &str) -> Markup {
    let mine: Vec<&FieldProblem> = errors
        .iter()
        .filter(|e| e.pointer == pointer || e.pointer.starts_with(&format!("{pointer}/")))
        .collect();
    html! {
        @if !mine.is_empty() {
            p.field-error id=(format!("{id}-error")) {
                @for e in mine { (e.detail) " " }
            }
        }
    }
}

/// Whether `pointer` has an error (for `aria-invalid`).
pub fn invalid(errors: &[FieldProblem], pointer: &str) -> Option<&'static str> {
    errors
        .iter()
        .any(|e| e.pointer == pointer || e.pointer.starts_with(&format!("{pointer}/")))
        .then_some("true")
}

/// A status in words, with a class for its colour (the word carries the meaning).
pub fn status(ctx: &Ctx, status: &str) -> Markup {
    html! { span class=(format!("status status-{status}")) { (ctx.t(&format!("ui-status-{status}"))) } }
}

/// A summary of field errors at the top of a form: the count, then each error with a link to
/// its field, named by the field's label. `fields` maps pointers (or their prefixes) to the
/// label's message id and the field's id; the longest matching prefix names an error.
pub fn error_summary(ctx: &Ctx, errors: &[FieldProblem], fields: &[(&str, &str, &str)]) -> Markup {
    let name = |pointer: &str| {
        fields
            .iter()
            .filter(|(p, _, _)| pointer == *p || pointer.starts_with(&format!("{p}/")))
            .max_by_key(|(p, _, _)| p.len())
            .map(|(_, label, id)| (ctx.t(label), *id))
    };
    html! {
        @if !errors.is_empty() {
            div.error-summary role="alert" {
                p { (ctx.ta("problem-validation-detail", &[("count", errors.len().into())])) }
                ul { @for e in errors { li {
                    @match name(&e.pointer) {
                        Some((label, id)) => { a href=(format!("#{id}")) { (label) } ": " (e.detail) },
                        None => (e.detail),
                    }
                } } }
            }
        }
    }
}

/// Text that is already HTML-safe (an SVG drawn by this crate).
pub fn raw(s: String) -> Markup {
    PreEscaped(s)
}
