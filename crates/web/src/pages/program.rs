//! Program screens: commitments (list, filter, search; one commitment with its actions,
//! indicators and derived status; recording an action), an indicator with its chart, meetings
//! and their agenda.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use puente_domain::Lang;
use puente_policy::{Act, ResourceKind};
use serde_json::{Value, json};

use super::layout::{csrf, error_summary, field_errors, invalid, page, raw, status};
use super::{Ctx, Form, see_other};
use crate::api;
use crate::api::dto::{ActionOut, CommitmentOut, IndicatorOut, MeetingOut, TextOut};
use crate::input::JsonBody;
use crate::problem::{ApiError, FieldProblem};

pub fn text(lang: Lang, t: &TextOut) -> &str {
    match lang {
        Lang::En => &t.en,
        Lang::Es => &t.es,
    }
}

/// A table of actions with their outputs (a commitment's page marks the action that completes
/// it; the progress report does not).
pub fn actions_table(ctx: &Ctx, actions: &[ActionOut], mark_completes: bool) -> Markup {
    let lang = ctx.lang;
    let f = ctx.fmt();
    html! {
        table {
            thead { tr {
                th scope="col" { (ctx.t("ui-date")) }
                th scope="col" { (ctx.t("ui-agency")) }
                th scope="col" { (ctx.t("ui-description")) }
                th scope="col" { (ctx.t("ui-outputs")) }
            } }
            tbody { @for a in actions { tr {
                td { (f.day(&a.date)) }
                td { (a.agency) }
                td { (text(lang, &a.description)) @if mark_completes && a.completes { " — " strong { (ctx.t("ui-completes")) } } }
                td { @for o in &a.outputs { (f.number(o.value, 2)) " " (o.unit) " · " (o.what) br; } }
            } } }
        }
    }
}

pub fn commitment_table<'a>(
    ctx: &Ctx,
    items: impl IntoIterator<Item = &'a CommitmentOut>,
) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { (ctx.t("ui-commitment")) }
                th scope="col" { (ctx.t("ui-area")) }
                th scope="col" { (ctx.t("ui-owners")) }
                th scope="col" { (ctx.t("ui-due")) }
                th scope="col" { (ctx.t("ui-status")) }
            } }
            tbody {
                @for c in items {
                    tr {
                        td { a href=(format!("/commitments/{}", c.meta.id)) { (text(ctx.lang, &c.title)) } }
                        td { (area_name(ctx, &c.area)) }
                        td { (c.owners.join(", ")) @if c.joint { " (" (ctx.t("ui-joint")) ")" } }
                        td { (ctx.fmt().day(&c.due)) }
                        td { (status(ctx, c.status)) }
                    }
                }
            }
        }
    }
}

fn area_name(ctx: &Ctx, code: &str) -> String {
    ctx.state
        .inner
        .program
        .area(code)
        .map_or_else(|| code.to_owned(), |a| a.name.get(ctx.lang).to_owned())
}

/// `GET /commitments?area=&status=&q=&cursor=`: a page of 50, filtered and searched by the
/// store (the API's `q`), with a link to the next page.
pub async fn commitments(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let mut q = crate::input::Query::parse(raw.as_deref());
    let area = q.get("area").map(str::to_owned);
    let st = q.get("status").map(str::to_owned);
    let search = q.get("q").map(str::to_owned);
    let cursor = q.get("cursor").map(str::to_owned);
    let enc = |v: &str| {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let mut filters = vec![];
    if let Some(a) = &area {
        filters.push(format!("area={}", enc(a)));
    }
    if let Some(s) = &st {
        filters.push(format!("status={}", enc(s)));
    }
    if let Some(s) = &search {
        filters.push(format!("q={}", enc(s)));
    }
    let mut api_q = filters.clone();
    api_q.push("limit=50".into());
    if let Some(c) = &cursor {
        api_q.push(format!("cursor={}", enc(c)));
    }
    let page_of = match api::commitments::list(
        State(ctx.state.clone()),
        ctx.who.clone(),
        RawQuery(Some(api_q.join("&"))),
    )
    .await
    {
        Ok(p) => p.0,
        Err(e) => return ctx.fail(&e),
    };
    let shown: Vec<&CommitmentOut> = page_of.items.iter().collect();
    let next = page_of.next_cursor.as_ref().map(|c| {
        let mut f = filters.clone();
        f.push(format!("cursor={}", enc(c)));
        format!("/commitments?{}", f.join("&"))
    });
    let statuses = ["not-started", "on-track", "at-risk", "overdue", "done"];
    let body = html! {
        form.filters method="get" action="/commitments" hx-get="/commitments" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-trigger="change, submit" {
            p {
                label for="area" { (ctx.t("ui-area")) }
                select #area name="area" {
                    option value="" { (ctx.t("ui-all")) }
                    @for a in ctx.state.inner.program.areas() {
                        @let code = a.code.to_string();
                        option value=(code) selected[area.as_deref() == Some(code.as_str())] { (a.name.get(ctx.lang)) }
                    }
                }
            }
            p {
                label for="status" { (ctx.t("ui-status")) }
                select #status name="status" {
                    option value="" { (ctx.t("ui-all")) }
                    @for s in statuses {
                        option value=(s) selected[st.as_deref() == Some(s)] { (ctx.t(&format!("ui-status-{s}"))) }
                    }
                }
            }
            p {
                label for="q" { (ctx.t("ui-search")) }
                input #q type="search" name="q" value=(search.clone().unwrap_or_default());
            }
            p { button type="submit" { (ctx.t("ui-filter")) } }
        }
        div #results aria-live="polite" {
            @if shown.is_empty() { p { (ctx.t("ui-none")) } }
            @else { (commitment_table(&ctx, shown)) }
            @if let Some(n) = &next { p { a href=(n) rel="next" { (ctx.t("ui-next-page")) } } }
        }
    };
    page(&ctx, &ctx.t("ui-commitments-title"), body).into_response()
}

/// What the user typed in the action form, to put back after an error.
#[derive(Default)]
struct ActionForm {
    date: String,
    agency: String,
    description_en: String,
    description_es: String,
    value: String,
    unit: String,
    what: String,
    completes: bool,
}

/// `GET /commitments/{id}`
pub async fn commitment(ctx: Ctx, Path(id): Path<String>) -> Response {
    commitment_page(&ctx, &id, &ActionForm::default(), &[], StatusCode::OK).await
}

async fn commitment_page(
    ctx: &Ctx,
    id: &str,
    form: &ActionForm,
    errors: &[FieldProblem],
    code: StatusCode,
) -> Response {
    let c = match api::commitments::get(
        State(ctx.state.clone()),
        ctx.who.clone(),
        Path(id.to_owned()),
    )
    .await
    {
        Ok(c) => c.0,
        Err(e) => return ctx.fail(&e),
    };
    let actions = if ctx.can(Act::List, ResourceKind::ActionRecord) {
        match api::actions::list(
            State(ctx.state.clone()),
            ctx.who.clone(),
            RawQuery(Some(format!("commitment={}&limit=200", c.meta.id))),
        )
        .await
        {
            Ok(a) => a.0.items,
            Err(e) => return ctx.fail(&e),
        }
    } else {
        vec![]
    };
    let mut indicators = vec![];
    for i in &c.indicators {
        if let Ok(ind) = api::indicators::get(
            State(ctx.state.clone()),
            ctx.who.clone(),
            Path(i.to_string()),
        )
        .await
        {
            indicators.push(ind.0);
        }
    }
    let lang = ctx.lang;
    let f = ctx.fmt();
    let may_record = ctx.can(Act::Create, ResourceKind::ActionRecord);
    let body = html! {
        dl.facts {
            dt { (ctx.t("ui-status")) } dd { (status(ctx, c.status)) }
            dt { (ctx.t("ui-status-reason")) } dd { (ctx.t(&format!("ui-status-reason-{}", c.status))) }
            dt { (ctx.t("ui-area")) } dd { (area_name(ctx, &c.area)) }
            dt { (ctx.t("ui-owners")) } dd { (c.owners.join(", ")) @if c.joint { " (" (ctx.t("ui-joint")) ")" } }
            dt { (ctx.t("ui-agency")) } dd { (c.agency) }
            dt { (ctx.t("ui-start")) } dd { (f.day(&c.start)) }
            dt { (ctx.t("ui-due")) } dd { (f.day(&c.due)) }
        }
        p { (text(lang, &c.description)) }
        section aria-labelledby="actions" {
            h2 #actions { (ctx.t("ui-actions")) }
            @if actions.is_empty() { p { (ctx.t("ui-none")) } }
            @else {
                (actions_table(ctx, &actions, true))
            }
        }
        section aria-labelledby="indicators" {
            h2 #indicators { (ctx.t("ui-indicators")) }
            @if indicators.is_empty() { p { (ctx.t("ui-none")) } }
            ul { @for i in &indicators {
                li { a href=(format!("/indicators/{}", i.meta.id)) { (text(lang, &i.name)) }
                    @if let Some(p) = i.progress { " · " (ctx.ta("ui-progress", &[("percent", f.number(p * 100.0, 0).into())])) } }
            } }
        }
        @if may_record {
            section aria-labelledby="record" {
                h2 #record { (ctx.t("ui-record-action")) }
                (error_summary(ctx, errors, ACTION_FIELDS))
                form method="post" action=(format!("/commitments/{}/actions", c.meta.id)) novalidate {
                    (csrf(ctx))
                    (input(ctx, errors, "date", "/date", "ui-date", &form.date, "date"))
                    (input(ctx, errors, "agency", "/agency", "ui-agency", &form.agency, "text"))
                    (input(ctx, errors, "description_en", "/description/en", "ui-description-en", &form.description_en, "text"))
                    (input(ctx, errors, "description_es", "/description/es", "ui-description-es", &form.description_es, "text"))
                    fieldset {
                        legend { (ctx.t("ui-output")) }
                        (input(ctx, errors, "output_value", "/outputs/0/value", "ui-output-value", &form.value, "text"))
                        (input(ctx, errors, "output_unit", "/outputs/0/unit", "ui-output-unit", &form.unit, "text"))
                        (input(ctx, errors, "output_what", "/outputs/0/what", "ui-output-what", &form.what, "text"))
                    }
                    p.check {
                        input #completes type="checkbox" name="completes" value="true" checked[form.completes];
                        label for="completes" { (ctx.t("ui-completes")) }
                    }
                    p { button type="submit" { (ctx.t("ui-save")) } }
                }
            }
        }
    };
    (code, page(ctx, text(lang, &c.title), body)).into_response()
}

/// The action form's fields, for its error summary.
const ACTION_FIELDS: &[(&str, &str, &str)] = &[
    ("/date", "ui-date", "date"),
    ("/agency", "ui-agency", "agency"),
    ("/description", "ui-description", "description_en"),
    ("/description/en", "ui-description-en", "description_en"),
    ("/description/es", "ui-description-es", "description_es"),
    ("/outputs", "ui-output", "output_value"),
    ("/outputs/0/value", "ui-output-value", "output_value"),
    ("/outputs/0/unit", "ui-output-unit", "output_unit"),
    ("/outputs/0/what", "ui-output-what", "output_what"),
];

/// The meeting form's fields (the new decision and follow-up come after `decisions` and
/// `follow_ups` existing ones).
fn meeting_fields(
    decisions: usize,
    follow_ups: usize,
) -> Vec<(String, &'static str, &'static str)> {
    vec![
        ("/attendees".into(), "ui-attendees", "attendees"),
        ("/decisions".into(), "ui-decisions", "decision_en"),
        (
            format!("/decisions/{decisions}/en"),
            "ui-text-en",
            "decision_en",
        ),
        (
            format!("/decisions/{decisions}/es"),
            "ui-text-es",
            "decision_es",
        ),
        ("/follow_ups".into(), "ui-follow-ups", "follow_en"),
        (
            format!("/follow_ups/{follow_ups}/title/en"),
            "ui-text-en",
            "follow_en",
        ),
        (
            format!("/follow_ups/{follow_ups}/title/es"),
            "ui-text-es",
            "follow_es",
        ),
        (
            format!("/follow_ups/{follow_ups}/owner"),
            "ui-owner-party",
            "follow_owner",
        ),
        (
            format!("/follow_ups/{follow_ups}/due"),
            "ui-due",
            "follow_due",
        ),
    ]
}

/// A labelled input with its errors next to it.
pub fn input(
    ctx: &Ctx,
    errors: &[FieldProblem],
    name: &str,
    pointer: &str,
    label: &str,
    value: &str,
    kind: &str,
) -> Markup {
    let bad = invalid(errors, pointer);
    html! {
        p.field {
            label for=(name) { (ctx.t(label)) }
            input id=(name) name=(name) type=(kind) value=(value) aria-invalid=[bad]
                aria-describedby=[bad.map(|_| format!("{name}-error"))];
            (field_errors(errors, pointer, name))
        }
    }
}

/// A number from a form as JSON: a number if it reads as one, else the text (which the API's
/// validation then names as the wrong type).
pub fn number_or_text(s: &str) -> Value {
    s.parse::<f64>()
        .ok()
        .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
        .unwrap_or_else(|| Value::String(s.to_owned()))
}

/// The fields of the form's `ptr` that the API names, for errors; `Invalid` gives the list.
pub fn field_problems(ctx: &Ctx, e: &ApiError) -> Option<Vec<FieldProblem>> {
    match e {
        ApiError::Invalid(_) | ApiError::BadQuery(_) | ApiError::VersionConflict { .. } => {
            Some(crate::problem::describe(&ctx.state.inner.i18n, e, ctx.lang).2)
        }
        _ => None,
    }
}

/// `POST /commitments/{id}/actions`
pub async fn record_action(
    ctx: Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match ctx.form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let form = ActionForm {
        date: f.val("date").to_owned(),
        agency: f.val("agency").to_owned(),
        description_en: f.val("description_en").to_owned(),
        description_es: f.val("description_es").to_owned(),
        value: f.val("output_value").to_owned(),
        unit: f.val("output_unit").to_owned(),
        what: f.val("output_what").to_owned(),
        completes: f.get("completes") == Some("true"),
    };
    let mut body = json!({
        "commitment": id,
        "date": form.date,
        "agency": form.agency,
        "description": {"en": form.description_en, "es": form.description_es},
        "completes": form.completes,
    });
    if !(form.value.is_empty() && form.unit.is_empty() && form.what.is_empty()) {
        body["outputs"] = json!([{
            "value": number_or_text(&form.value),
            "unit": form.unit,
            "what": form.what,
        }]);
    }
    match api::actions::create(State(ctx.state.clone()), ctx.who.clone(), JsonBody(body)).await {
        Ok(_) => see_other(&headers, &format!("/commitments/{id}#actions")),
        Err(e) => match field_problems(&ctx, &e) {
            Some(errors) => {
                commitment_page(&ctx, &id, &form, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => ctx.fail(&e),
        },
    }
}

// ---- indicators ----------------------------------------------------------------------------------

/// `GET /indicators/{id}`
pub async fn indicator(ctx: Ctx, Path(id): Path<String>) -> Response {
    let i = match api::indicators::get(State(ctx.state.clone()), ctx.who.clone(), Path(id)).await {
        Ok(i) => i.0,
        Err(e) => return ctx.fail(&e),
    };
    let f = ctx.fmt();
    let parties: Vec<String> = parties_of(&i);
    let body = html! {
        dl.facts {
            dt { (ctx.t("ui-code")) } dd { (i.code) }
            dt { (ctx.t("ui-unit")) } dd { (i.unit) }
            dt { (ctx.t("ui-direction")) } dd { (ctx.t(&format!("ui-direction-{}", i.direction))) }
            dt { (ctx.t("ui-baseline")) } dd { (f.number(i.baseline.value, 2)) " (" (i.baseline.period) ")" }
            @if let Some(p) = i.progress { dt { (ctx.t("ui-progress-label")) } dd { (f.number(p * 100.0, 0)) " %" } }
        }
        figure.chart {
            (raw(chart(&ctx, &i)))
            figcaption { (ctx.t("ui-chart-caption")) }
        }
        table {
            caption { (ctx.t("ui-chart-table")) }
            thead { tr {
                th scope="col" { (ctx.t("ui-period")) }
                th scope="col" { (ctx.t("ui-target")) }
                @for p in &parties { th scope="col" { (ctx.ta("ui-actual-of", &[("party", p.as_str().into())])) } }
                th scope="col" { (ctx.t("ui-actual-total")) }
            } }
            tbody { @for period in periods_of(&i) { tr {
                th scope="row" { (period) }
                td.num { @if let Some(t) = i.targets.iter().find(|t| t.period == period) { (f.number(t.value, 2)) } @else { "—" } }
                @let actual = i.actuals.iter().find(|a| a.period == period);
                @for p in &parties {
                    td.num { @match actual.and_then(|a| a.by_party.get(p)) { Some(v) => (f.number(*v, 2)), None => "—" } }
                }
                td.num { @match actual { Some(a) => (f.number(a.value, 2)), None => "—" } }
            } } }
        }
    };
    page(&ctx, text(ctx.lang, &i.name), body).into_response()
}

/// `GET /indicators/{id}/chart.svg`: the chart alone (for the report and downloads).
pub async fn chart_svg(ctx: Ctx, Path(id): Path<String>) -> Response {
    match api::indicators::get(State(ctx.state.clone()), ctx.who.clone(), Path(id)).await {
        Ok(i) => ([(header::CONTENT_TYPE, "image/svg+xml")], chart(&ctx, &i.0)).into_response(),
        Err(e) => ctx.fail(&e),
    }
}

fn parties_of(i: &IndicatorOut) -> Vec<String> {
    let mut p: Vec<String> = i
        .actuals
        .iter()
        .flat_map(|a| a.by_party.keys().cloned())
        .collect();
    p.sort();
    p.dedup();
    p
}

fn periods_of(i: &IndicatorOut) -> Vec<String> {
    let mut p: Vec<String> = std::iter::once(i.baseline.period.clone())
        .chain(i.targets.iter().map(|t| t.period.clone()))
        .chain(i.actuals.iter().map(|a| a.period.clone()))
        .collect();
    p.sort();
    p.dedup();
    p
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The indicator's chart as SVG drawn here: the baseline (dotted), the targets (dashed), and the
/// actuals of each party (solid, with a different marker each, so colour is not the only cue).
pub fn chart(ctx: &Ctx, i: &IndicatorOut) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 300.0, 64.0, 40.0, 16.0, 48.0);
    let periods = periods_of(i);
    let parties = parties_of(i);
    let mut max = i.baseline.value;
    for t in &i.targets {
        max = max.max(t.value);
    }
    for a in &i.actuals {
        max = max.max(a.value);
    }
    if max <= 0.0 {
        max = 1.0;
    }
    let n = periods.len().max(2) as f64;
    let x = |p: &str| {
        let k = periods.iter().position(|q| q == p).unwrap_or(0) as f64;
        left + k * (w - left - right) / (n - 1.0)
    };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let f = ctx.fmt();
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title"><title id="chart-title">{}</title>"#,
        esc(&ctx.ta(
            "ui-chart-title",
            &[("name", text(ctx.lang, &i.name).into())]
        ))
    );
    // Axes and gridlines with labels.
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let yy = y(v);
        s.push_str(&format!(
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#d0d0d0"/><text x="{}" y="{:.1}" font-size="12" text-anchor="end" fill="#222">{}</text>"##,
            w - right,
            left - 6.0,
            yy + 4.0,
            esc(&f.number(v, 1))
        ));
    }
    for p in &periods {
        s.push_str(&format!(
            r##"<text x="{:.1}" y="{}" font-size="12" text-anchor="middle" fill="#222">{}</text>"##,
            x(p),
            h - bottom + 18.0,
            esc(p)
        ));
    }
    // Baseline.
    s.push_str(&format!(
        r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#555" stroke-dasharray="2 4" stroke-width="2"/>"##,
        w - right,
        y = y(i.baseline.value)
    ));
    // Targets.
    let pts: Vec<String> = i
        .targets
        .iter()
        .map(|t| format!("{:.1},{:.1}", x(&t.period), y(t.value)))
        .collect();
    if !pts.is_empty() {
        s.push_str(&format!(
            r##"<polyline points="{}" fill="none" stroke="#7a4b00" stroke-width="2" stroke-dasharray="8 4"/>"##,
            pts.join(" ")
        ));
    }
    // Actuals per party.
    let colours = ["#0b5394", "#38761d", "#741b47", "#b45f06"];
    for (k, party) in parties.iter().enumerate() {
        let colour = colours[k % colours.len()];
        let pts: Vec<(f64, f64)> = i
            .actuals
            .iter()
            .filter_map(|a| a.by_party.get(party).map(|v| (x(&a.period), y(*v))))
            .collect();
        let line: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        s.push_str(&format!(
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="3"/>"#,
            line.join(" ")
        ));
        for (px, py) in pts {
            if k % 2 == 0 {
                s.push_str(&format!(
                    r#"<circle cx="{px:.1}" cy="{py:.1}" r="5" fill="{colour}"/>"#
                ));
            } else {
                s.push_str(&format!(
                    r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/>"#,
                    px - 5.0,
                    py - 5.0
                ));
            }
        }
    }
    // Legend.
    let mut lx = left;
    let ly = h - 10.0;
    let mut legend = vec![
        (
            ctx.t("ui-baseline"),
            r##"stroke="#555" stroke-dasharray="2 4""##.to_owned(),
        ),
        (
            ctx.t("ui-target"),
            r##"stroke="#7a4b00" stroke-dasharray="8 4""##.to_owned(),
        ),
    ];
    for (k, p) in parties.iter().enumerate() {
        legend.push((
            ctx.ta("ui-actual-of", &[("party", p.as_str().into())]),
            format!(r#"stroke="{}""#, colours[k % colours.len()]),
        ));
    }
    for (label, stroke) in legend {
        s.push_str(&format!(
            r##"<line x1="{lx}" x2="{}" y1="{}" y2="{}" {stroke} stroke-width="3"/><text x="{}" y="{ly}" font-size="12" fill="#222">{}</text>"##,
            lx + 24.0,
            ly - 4.0,
            ly - 4.0,
            lx + 28.0,
            esc(&label)
        ));
        lx += 40.0 + 7.0 * label.chars().count() as f64;
    }
    s.push_str("</svg>");
    s
}

// ---- meetings ---------------------------------------------------------------------------------

/// `GET /meetings`
pub async fn meetings(ctx: Ctx) -> Response {
    let list = match api::meetings::list(
        State(ctx.state.clone()),
        ctx.who.clone(),
        RawQuery(Some("limit=200".into())),
    )
    .await
    {
        Ok(m) => m.0.items,
        Err(e) => return ctx.fail(&e),
    };
    let f = ctx.fmt();
    let body = html! {
        @if list.is_empty() { p { (ctx.t("ui-none")) } }
        @else {
            table {
                thead { tr {
                    th scope="col" { (ctx.t("ui-date")) }
                    th scope="col" { (ctx.t("ui-place")) }
                    th scope="col" { (ctx.t("ui-attendees")) }
                } }
                tbody { @for m in &list { tr {
                    td { a href=(format!("/meetings/{}", m.meta.id)) { (f.day(&m.date)) } }
                    td { (m.place) }
                    td.num { (m.attendees.len()) }
                } } }
            }
        }
    };
    page(&ctx, &ctx.t("ui-meetings-title"), body).into_response()
}

/// Agenda items a meeting page shows (the first, by the agenda rule's order).
const AGENDA_SHOWN: usize = 50;

/// What was typed in the meeting form.
#[derive(Default)]
struct MeetingForm {
    attendees: String,
    decision_en: String,
    decision_es: String,
    follow_en: String,
    follow_es: String,
    follow_owner: String,
    follow_due: String,
}

/// `GET /meetings/{id}`: the meeting, its agenda (what is due), and the form that records
/// attendees, decisions and follow-ups.
pub async fn meeting(ctx: Ctx, Path(id): Path<String>) -> Response {
    meeting_page(&ctx, &id, &MeetingForm::default(), &[], StatusCode::OK).await
}

async fn meeting_page(
    ctx: &Ctx,
    id: &str,
    form: &MeetingForm,
    errors: &[FieldProblem],
    code: StatusCode,
) -> Response {
    let m = match api::meetings::get(
        State(ctx.state.clone()),
        ctx.who.clone(),
        Path(id.to_owned()),
    )
    .await
    {
        Ok(m) => m.0,
        Err(e) => return ctx.fail(&e),
    };
    let agenda = match api::meetings::agenda_of(&ctx.state, &ctx.who, id, AGENDA_SHOWN).await {
        Ok(a) => Some(a),
        Err(ApiError::Forbidden { .. }) => None,
        Err(e) => return ctx.fail(&e),
    };
    let f = ctx.fmt();
    let lang = ctx.lang;
    let may_update = ctx.can(Act::Update, ResourceKind::Meeting);
    let title = ctx.ta("ui-meeting-of", &[("date", f.day(&m.date).into())]);
    let body = html! {
        dl.facts {
            dt { (ctx.t("ui-place")) } dd { (m.place) }
            dt { (ctx.t("ui-attendees")) } dd { @if m.attendees.is_empty() { (ctx.t("ui-none")) } @else { (m.attendees.join(", ")) } }
        }
        @if let Some((a, total)) = &agenda {
            section aria-labelledby="agenda" {
                h2 #agenda { (ctx.t("ui-agenda")) }
                @if let Some(s) = &a.since { p { (ctx.ta("ui-agenda-since", &[("date", f.day(s).into())])) } }
                @if a.items.is_empty() { p { (ctx.t("ui-none")) } }
                @else {
                    @if *total > a.items.len() {
                        p { (ctx.ta("ui-first-of", &[("shown", a.items.len().into()), ("count", ctx.fmt().count(*total as u64).into())])) }
                    }
                    ol.agenda { @for it in &a.items { li {
                        (ctx.t(&format!("ui-agenda-reason-{}", it.reason))) ": "
                        @if it.kind == "commitment" {
                            a href=(format!("/commitments/{}", it.id)) { (text(lang, &it.title)) }
                        } @else { (text(lang, &it.title)) " (" (ctx.t("ui-follow-up")) ")" }
                        " · " (it.owners.join(", ")) " · " (ctx.t("ui-due")) " " (f.day(&it.due)) " · " (status(ctx, it.status))
                    } } }
                }
            }
        }
        section aria-labelledby="decisions" {
            h2 #decisions { (ctx.t("ui-decisions")) }
            @if m.decisions.is_empty() { p { (ctx.t("ui-none")) } }
            ul { @for d in &m.decisions { li { (text(lang, d)) } } }
        }
        section aria-labelledby="follow-ups" {
            h2 #follow-ups { (ctx.t("ui-follow-ups")) }
            @if m.follow_ups.is_empty() { p { (ctx.t("ui-none")) } }
            ul { @for fu in &m.follow_ups { li { (text(lang, &fu.title)) " · " (fu.owner) " · " (ctx.t("ui-due")) " " (f.day(&fu.due)) " · " (status(ctx, fu.status)) } } }
        }
        @if may_update {
            section aria-labelledby="prepare" {
                h2 #prepare { (ctx.t("ui-prepare")) }
                @let fields = meeting_fields(m.decisions.len(), m.follow_ups.len());
                @let fields: Vec<(&str, &str, &str)> = fields.iter().map(|(p, l, i)| (p.as_str(), *l, *i)).collect();
                (error_summary(ctx, errors, &fields))
                form method="post" action=(format!("/meetings/{}/prepare", m.meta.id)) novalidate {
                    (csrf(ctx))
                    p.field {
                        label for="attendees" { (ctx.t("ui-attendees-one-per-line")) }
                        textarea #attendees name="attendees" rows="4" aria-invalid=[invalid(errors, "/attendees")] {
                            (if form.attendees.is_empty() { m.attendees.join("\n") } else { form.attendees.clone() })
                        }
                        (field_errors(errors, "/attendees", "attendees"))
                    }
                    fieldset {
                        legend { (ctx.t("ui-new-decision")) }
                        @let k = m.decisions.len();
                        (input(ctx, errors, "decision_en", &format!("/decisions/{k}/en"), "ui-text-en", &form.decision_en, "text"))
                        (input(ctx, errors, "decision_es", &format!("/decisions/{k}/es"), "ui-text-es", &form.decision_es, "text"))
                    }
                    fieldset {
                        legend { (ctx.t("ui-new-follow-up")) }
                        @let k = m.follow_ups.len();
                        (input(ctx, errors, "follow_en", &format!("/follow_ups/{k}/title/en"), "ui-text-en", &form.follow_en, "text"))
                        (input(ctx, errors, "follow_es", &format!("/follow_ups/{k}/title/es"), "ui-text-es", &form.follow_es, "text"))
                        (input(ctx, errors, "follow_owner", &format!("/follow_ups/{k}/owner"), "ui-owner-party", &form.follow_owner, "text"))
                        (input(ctx, errors, "follow_due", &format!("/follow_ups/{k}/due"), "ui-due", &form.follow_due, "date"))
                    }
                    input type="hidden" name="version" value=(m.meta.version);
                    p { button type="submit" { (ctx.t("ui-save")) } }
                }
            }
        }
    };
    (code, page(ctx, &title, body)).into_response()
}

fn meeting_json(m: &MeetingOut) -> Value {
    json!({
        "date": m.date,
        "place": m.place,
        "attendees": m.attendees,
        "decisions": m.decisions.iter().map(|d| json!({"en": d.en, "es": d.es})).collect::<Vec<_>>(),
        "follow_ups": m.follow_ups.iter().map(|f| {
            let mut v = json!({"id": f.id, "title": {"en": f.title.en, "es": f.title.es}, "owner": f.owner, "due": f.due});
            if let Some(c) = &f.completed_on { v["completed_on"] = json!(c); }
            v
        }).collect::<Vec<_>>(),
    })
}

/// `POST /meetings/{id}/prepare`: records the attendees and adds a decision and a follow-up.
pub async fn prepare_meeting(
    ctx: Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f: Form = match ctx.form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let form = MeetingForm {
        attendees: f.val("attendees").to_owned(),
        decision_en: f.val("decision_en").to_owned(),
        decision_es: f.val("decision_es").to_owned(),
        follow_en: f.val("follow_en").to_owned(),
        follow_es: f.val("follow_es").to_owned(),
        follow_owner: f.val("follow_owner").to_owned(),
        follow_due: f.val("follow_due").to_owned(),
    };
    let m = match api::meetings::get(State(ctx.state.clone()), ctx.who.clone(), Path(id.clone()))
        .await
    {
        Ok(m) => m.0,
        Err(e) => return ctx.fail(&e),
    };
    let mut body = meeting_json(&m);
    body["attendees"] = json!(
        form.attendees
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
    );
    if !(form.decision_en.is_empty() && form.decision_es.is_empty()) {
        if let Some(d) = body["decisions"].as_array_mut() {
            d.push(json!({"en": form.decision_en, "es": form.decision_es}));
        }
    }
    if !(form.follow_en.is_empty()
        && form.follow_es.is_empty()
        && form.follow_owner.is_empty()
        && form.follow_due.is_empty())
    {
        if let Some(fu) = body["follow_ups"].as_array_mut() {
            fu.push(json!({"title": {"en": form.follow_en, "es": form.follow_es}, "owner": form.follow_owner, "due": form.follow_due}));
        }
    }
    body["version"] = f
        .val("version")
        .parse::<i64>()
        .map_or_else(|_| json!(f.val("version")), |v| json!(v));
    match api::meetings::update(
        State(ctx.state.clone()),
        ctx.who.clone(),
        Path(id.clone()),
        JsonBody(body),
    )
    .await
    {
        Ok(_) => see_other(&headers, &format!("/meetings/{id}")),
        Err(e) => match field_problems(&ctx, &e) {
            Some(errors) => {
                meeting_page(&ctx, &id, &form, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => ctx.fail(&e),
        },
    }
}
