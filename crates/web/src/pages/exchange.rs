//! Exchange screens: referrals and requests for information — the lists with their clocks, one
//! item with its state and history and the steps its receiver (or sender) may take, and the
//! forms that compose them (structured entities, handling with each TLP level explained).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use puente_domain::Lang;
use puente_exchange::items::AnyStep;
use puente_exchange::wire;
use puente_policy::Act;
use puente_store::ItemKind;
use serde_json::{Value, json};

use super::home::late_first;
use super::layout::{csrf, error_summary, field_errors, invalid, page, status};
use super::program::{field_problems, input, number_or_text};
use super::{Ctx, Form, see_other};
use crate::api;
use crate::api::exchange::{ClockOut, ItemOut};
use crate::problem::{ApiError, FieldProblem};

const REFERRAL_KINDS: [&str; 8] = [
    "arms-trafficking",
    "drug-shipment",
    "human-smuggling",
    "clandestine-tunnel",
    "fuel-theft",
    "illicit-financial-flow",
    "wanted-person-located",
    "other",
];
const REQUEST_KINDS: [&str; 4] = ["firearm-trace", "person-check", "vehicle-plate", "other"];
const URGENCIES: [&str; 4] = ["flash", "immediate", "priority", "routine"];
const TLPS: [&str; 5] = ["clear", "green", "amber", "amber-strict", "red"];
const ENTITY_TYPES: [&str; 7] = [
    "person",
    "organization",
    "vehicle",
    "vessel",
    "firearm",
    "account",
    "location",
];
/// The step forms' fields, for their error summary.
const STEP_FIELDS: &[(&str, &str, &str)] = &[
    ("/agency", "ui-assign-agency", "agency"),
    ("/results", "ui-outcome", "result_value"),
    ("/results/0/value", "ui-output-value", "result_value"),
    ("/results/0/unit", "ui-output-unit", "result_unit"),
    ("/results/0/what", "ui-output-what", "result_what"),
    ("/reason", "ui-withdraw-reason", "reason"),
    ("/text", "ui-answer-text", "text"),
];

/// The compose forms' fields, for their error summary.
const COMPOSE_FIELDS: &[(&str, &str, &str)] = &[
    ("/to", "ui-to", "to"),
    ("/kind", "ui-kind", "kind"),
    ("/urgency", "ui-urgency", "urgency"),
    ("/summary", "ui-summary", "summary"),
    ("/details", "ui-details", "details"),
    ("/question", "ui-question", "question"),
    ("/locations", "ui-location", "place"),
    ("/locations/0/place", "ui-place", "place"),
    ("/locations/0/lat", "ui-lat", "lat"),
    ("/locations/0/lon", "ui-lon", "lon"),
    ("/entities", "ui-entities", "entity_0_type"),
    ("/entities/0", "ui-entities", "entity_0_type"),
    ("/entities/1", "ui-entities", "entity_1_type"),
    ("/entities/2", "ui-entities", "entity_2_type"),
    ("/subject", "ui-subject", "entity_0_type"),
    ("/evaluation", "ui-evaluation", "reliability"),
    ("/evaluation/reliability", "ui-reliability", "reliability"),
    ("/evaluation/credibility", "ui-credibility", "credibility"),
    ("/handling", "ui-handling", "tlp-amber"),
    ("/handling/tlp", "ui-tlp", "tlp-amber"),
    ("/handling/purpose", "ui-purpose", "purpose"),
    ("/handling/legal_basis", "ui-legal-basis", "legal_basis"),
    (
        "/handling/retention_days",
        "ui-retention-days",
        "retention_days",
    ),
];

/// Rows of entities the compose form offers.
const ENTITY_ROWS: usize = 3;

fn base(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Referral => "/referrals",
        ItemKind::Request => "/requests",
    }
}

fn clock(ctx: &Ctx, c: &ClockOut) -> Markup {
    let f = ctx.fmt();
    let key = format!("ui-clock-{}", c.state);
    html! {
        span class=(format!("clock clock-{}", c.state)) {
            @match (c.state, c.seconds) {
                ("running", Some(s)) => (ctx.ta("ui-clock-left", &[("time", f.duration(s).into())])),
                ("overdue", Some(s)) => strong { (ctx.ta("ui-clock-late-by", &[("time", f.duration(s).into())])) },
                _ => (ctx.t(&key)),
            }
        }
    }
}

/// A table of referrals or requests, with state and clocks.
pub fn item_table(ctx: &Ctx, base: &str, items: &[ItemOut]) -> Markup {
    html! {
        @if items.is_empty() { p { (ctx.t("ui-none")) } }
        @else {
            table.items {
                thead { tr {
                    th scope="col" { (ctx.t("ui-summary")) }
                    th scope="col" { (ctx.t("ui-direction-col")) }
                    th scope="col" { (ctx.t("ui-urgency")) }
                    th scope="col" { (ctx.t("ui-state")) }
                    th scope="col" { (ctx.t("ui-clock-ack")) }
                    th scope="col" { (ctx.t("ui-clock-act")) }
                } }
                tbody { @for i in items { tr {
                    td { a href=(format!("{base}/{}", i.id)) { (i.summary) } }
                    td { (ctx.ta(&format!("ui-{}", i.direction), &[("party", (if i.direction == "outbound" { i.to.as_str() } else { i.from.as_str() }).into())])) }
                    td { (ctx.t(&format!("ui-urgency-{}", i.urgency))) }
                    td { (status(ctx, &i.state)) }
                    td { (clock(ctx, &i.clocks.acknowledge)) }
                    td { (clock(ctx, &i.clocks.act)) }
                } } }
            }
        }
    }
}

async fn list_page(ctx: Ctx, kind: ItemKind, raw: Option<String>) -> Response {
    let mut q = crate::input::Query::parse(raw.as_deref());
    let direction = q.get("direction").map(str::to_owned);
    let mut api_q = vec!["limit=100".to_owned()];
    if let Some(d) = direction
        .as_deref()
        .filter(|d| *d == "inbound" || *d == "outbound")
    {
        api_q.push(format!("direction={d}"));
    }
    let res = match kind {
        ItemKind::Referral => {
            api::exchange::list_referrals(
                State(ctx.state.clone()),
                ctx.who.clone(),
                RawQuery(Some(api_q.join("&"))),
            )
            .await
        }
        ItemKind::Request => {
            api::exchange::list_requests(
                State(ctx.state.clone()),
                ctx.who.clone(),
                RawQuery(Some(api_q.join("&"))),
            )
            .await
        }
    };
    let mut items = match res {
        Ok(j) => j.0.items,
        Err(e) => return ctx.fail(&e),
    };
    late_first(&mut items);
    let b = base(kind);
    let (title, new) = match kind {
        ItemKind::Referral => ("ui-referrals-title", "ui-compose-referral"),
        ItemKind::Request => ("ui-requests-title", "ui-compose-request"),
    };
    let may_compose = ctx.can(Act::Create, api::exchange::resource_kind(kind));
    let body = html! {
        @if may_compose { p { a.button href=(format!("{b}/new")) { (ctx.t(new)) } } }
        nav.tabs aria-label=(ctx.t("ui-direction-col")) {
            @for (d, label) in [("", "ui-all"), ("inbound", "ui-inbox"), ("outbound", "ui-outbox")] {
                @let href = if d.is_empty() { b.to_owned() } else { format!("{b}?direction={d}") };
                @if direction.as_deref().unwrap_or("") == d {
                    a href=(href) aria-current="page" { (ctx.t(label)) }
                } @else { a href=(href) { (ctx.t(label)) } }
            }
        }
        p { (ctx.t("ui-late-first")) }
        (item_table(&ctx, b, &items))
    };
    page(&ctx, &ctx.t(title), body).into_response()
}

/// `GET /referrals`
pub async fn referrals(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    list_page(ctx, ItemKind::Referral, raw).await
}

/// `GET /requests`
pub async fn requests(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    list_page(ctx, ItemKind::Request, raw).await
}

// ---- one item ---------------------------------------------------------------------------------

fn entity_line(v: &Value) -> String {
    let Some(o) = v.as_object() else {
        return String::new();
    };
    o.iter()
        .filter(|(k, _)| *k != "type")
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What a step said, for the history: the agency assigned, the closure and its results, the
/// answer's or the reason's text (in the language it was written in). `step` is the step's
/// body as signed (`docs/exchange.md`): an outcome and an answer are members of it.
fn step_details(ctx: &Ctx, step: &Value) -> Markup {
    let agency = step["agency"].as_str();
    let b = ["outcome", "answer"]
        .iter()
        .map(|k| &step[*k])
        .find(|v| v.is_object())
        .unwrap_or(step);
    let tagged = |v: &Value| {
        v["text"]
            .as_str()
            .map(|t| (t.to_owned(), v["lang"].as_str().unwrap_or("").to_owned()))
    };
    let kind = b["kind"].as_str().filter(|k| !k.is_empty());
    let results: Vec<&Value> = b["results"]
        .as_array()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    html! {
        @if let Some(a) = agency { ": " (a) }
        @if let Some(k) = kind { " — " (ctx.t(&format!("ui-closure-{k}"))) }
        @if !results.is_empty() {
            ul.results { @for r in results {
                li {
                    @if let Some(k) = r["kind"].as_str() { (ctx.t(&format!("ui-result-{k}"))) ": " }
                    (r["value"].as_f64().map_or_else(
                        || r["value"].to_string(),
                        |v| ctx.fmt().number(v, if v.fract() == 0.0 { 0 } else { 2 }),
                    ))
                    " " (r["unit"].as_str().unwrap_or("")) " · " (r["what"].as_str().unwrap_or(""))
                }
            } }
        }
        @for key in ["text", "reason"] {
            @if let Some((text, lang)) = tagged(&b[key]) {
                blockquote lang=(lang) { (text) }
            }
        }
    }
}

fn content_view(ctx: &Ctx, c: &Value) -> Markup {
    let h = &c["handling"];
    let tlp = h["tlp"].as_str().unwrap_or("");
    html! {
        dl.facts {
            @if let Some(s) = c["details"].as_str() { dt { (ctx.t("ui-details")) } dd { (s) } }
            @if let Some(e) = c["evaluation"].as_object() {
                dt { (ctx.t("ui-evaluation")) }
                dd { (ctx.ta("ui-evaluation-value", &[
                    ("reliability", e.get("reliability").and_then(Value::as_str).unwrap_or("").into()),
                    ("credibility", e.get("credibility").and_then(Value::as_str).unwrap_or("").into()),
                ])) }
            }
            dt { (ctx.t("ui-tlp")) }
            dd { strong { "TLP:" (tlp.to_uppercase()) } " — " (ctx.t(&format!("ui-tlp-{tlp}-help"))) }
            dt { (ctx.t("ui-may-pass-on")) } dd { (ctx.t(if h["may_pass_on"] == json!(true) { "ui-yes" } else { "ui-no" })) }
            dt { (ctx.t("ui-evidence-use")) } dd { (ctx.t(if h["evidence_use"] == json!(true) { "ui-yes" } else { "ui-no" })) }
            @if let Some(s) = h["purpose"].as_str() { dt { (ctx.t("ui-purpose")) } dd { (s) } }
            @if let Some(s) = h["legal_basis"].as_str() { dt { (ctx.t("ui-legal-basis")) } dd { (s) } }
            @if let Some(n) = h["retention_days"].as_u64() { dt { (ctx.t("ui-retention-days")) } dd { (n) } }
        }
        @let entities: Vec<&Value> = c["entities"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        @let subject = c.get("subject");
        @if !entities.is_empty() || subject.is_some() {
            h2 { (ctx.t("ui-entities")) }
            ul {
                @for e in subject.into_iter().chain(entities) {
                    li { strong { (ctx.t(&format!("ui-entity-{}", e["type"].as_str().unwrap_or("other")))) } " — " (entity_line(e)) }
                }
            }
        }
        @if let Some(ls) = c["locations"].as_array() {
            @if !ls.is_empty() {
                h2 { (ctx.t("ui-locations")) }
                ul { @for l in ls { li { (entity_line(l)) } } }
            }
        }
    }
}

async fn item_page(
    ctx: &Ctx,
    kind: ItemKind,
    id: &str,
    errors: &[FieldProblem],
    code: StatusCode,
) -> Response {
    let item = match api::exchange::get_one(&ctx.state, &ctx.who, kind, id).await {
        Ok(i) => i.0,
        Err(e) => return ctx.fail(&e),
    };
    let f = ctx.fmt();
    let b = base(kind);
    let may_step = ctx.can(Act::Update, api::exchange::resource_kind(kind));
    let inbound = item.direction == "inbound";
    let closed = matches!(item.state.as_str(), "closed" | "withdrawn" | "answered");
    let body = html! {
        dl.facts {
            dt { (ctx.t("ui-state")) } dd { (status(ctx, &item.state)) @if let Some(c) = &item.closure { " — " (ctx.t(&format!("ui-closure-{c}"))) } }
            dt { (ctx.t("ui-direction-col")) } dd { (ctx.ta(&format!("ui-{}", item.direction), &[("party", (if inbound { item.from.as_str() } else { item.to.as_str() }).into())])) }
            dt { (ctx.t("ui-kind")) } dd { (ctx.t(&format!("ui-kind-{}", item.kind))) }
            dt { (ctx.t("ui-urgency")) } dd { (ctx.t(&format!("ui-urgency-{}", item.urgency))) }
            @if let Some(a) = &item.agency { dt { (ctx.t("ui-agency")) } dd { (a) } }
            dt { (ctx.t("ui-sent-at")) } dd { (f.instant(&item.sent_at)) }
            dt { (ctx.t("ui-clock-ack")) } dd { (clock(ctx, &item.clocks.acknowledge)) " (" (f.instant(&item.clocks.acknowledge_due)) ")" }
            dt { (ctx.t("ui-clock-act")) } dd { (clock(ctx, &item.clocks.act)) " (" (f.instant(&item.clocks.act_due)) ")" }
        }
        (content_view(ctx, &item.content))
        section aria-labelledby="history" {
            h2 #history { (ctx.t("ui-history")) }
            ol.history { @for s in &item.history {
                li {
                    (f.instant(&s.at)) " · " (s.by) " · " (ctx.t(&format!("ui-step-{}", s.step.replace('.', "-"))))
                    (step_details(ctx, &s.body))
                }
            } }
        }
        @if may_step && !closed {
            section aria-labelledby="steps" {
                h2 #steps { (ctx.t("ui-next-steps")) }
                (error_summary(ctx, errors, STEP_FIELDS))
                @if inbound {
                    @if matches!(item.state.as_str(), "sent" | "asked") {
                        form method="post" action=(format!("{b}/{}/acknowledge", item.id)) {
                            (csrf(ctx))
                            button type="submit" { (ctx.t("ui-acknowledge")) }
                        }
                    } @else if kind == ItemKind::Referral {
                        form.step method="post" action=(format!("{b}/{}/assign", item.id)) novalidate {
                            (csrf(ctx))
                            (input(ctx, errors, "agency", "/agency", "ui-assign-agency", "", "text"))
                            button type="submit" { (ctx.t("ui-assign")) }
                        }
                        form.step method="post" action=(format!("{b}/{}/outcome", item.id)) novalidate {
                            (csrf(ctx))
                            fieldset {
                                legend { (ctx.t("ui-outcome")) }
                                @for k in ["acted", "no-trace", "declined"] {
                                    p.check {
                                        input type="radio" name="kind" id=(format!("outcome-{k}")) value=(k) checked[k == "acted"];
                                        label for=(format!("outcome-{k}")) { (ctx.t(&format!("ui-closure-{k}"))) }
                                    }
                                }
                                p.field {
                                    label for="result_kind" { (ctx.t("ui-result-kind")) }
                                    select #result_kind name="result_kind" {
                                        @for r in ["seizure", "arrest", "interdiction"] { option value=(r) { (ctx.t(&format!("ui-result-{r}"))) } }
                                    }
                                }
                                (input(ctx, errors, "result_value", "/results/0/value", "ui-output-value", "", "text"))
                                (input(ctx, errors, "result_unit", "/results/0/unit", "ui-output-unit", "", "text"))
                                (input(ctx, errors, "result_what", "/results/0/what", "ui-output-what", "", "text"))
                                (input(ctx, errors, "reason", "/reason/text", "ui-reason-if-declined", "", "text"))
                            }
                            button type="submit" { (ctx.t("ui-report-outcome")) }
                        }
                    } @else {
                        form.step method="post" action=(format!("{b}/{}/answer", item.id)) novalidate {
                            (csrf(ctx))
                            fieldset {
                                legend { (ctx.t("ui-answer")) }
                                @for k in ["found", "not-found", "declined"] {
                                    p.check {
                                        input type="radio" name="kind" id=(format!("answer-{k}")) value=(k) checked[k == "found"];
                                        label for=(format!("answer-{k}")) { (ctx.t(&format!("ui-closure-{k}"))) }
                                    }
                                }
                                (input(ctx, errors, "text", "/text/text", "ui-answer-text", "", "text"))
                            }
                            button type="submit" { (ctx.t("ui-send-answer")) }
                        }
                    }
                } @else {
                    form.step method="post" action=(format!("{b}/{}/withdraw", item.id)) novalidate {
                        (csrf(ctx))
                        (input(ctx, errors, "reason", "/reason/text", "ui-withdraw-reason", "", "text"))
                        button type="submit" { (ctx.t("ui-withdraw")) }
                    }
                }
            }
        }
    };
    (code, page(ctx, &item.summary, body)).into_response()
}

/// `GET /referrals/{id}`
pub async fn referral(ctx: Ctx, Path(id): Path<String>) -> Response {
    item_page(&ctx, ItemKind::Referral, &id, &[], StatusCode::OK).await
}

/// `GET /requests/{id}`
pub async fn request(ctx: Ctx, Path(id): Path<String>) -> Response {
    item_page(&ctx, ItemKind::Request, &id, &[], StatusCode::OK).await
}

fn tagged(lang: Lang, text: &str) -> Value {
    json!({"lang": lang.tag(), "text": text})
}

/// The API body and reader of a step posted from a form.
fn step_of(ctx: &Ctx, kind: ItemKind, step: &str, f: &Form) -> Option<(Value, StepReader)> {
    let lang = ctx.lang;
    Some(match (kind, step) {
        (_, "acknowledge") => (json!({}), StepReader::Acknowledge),
        (ItemKind::Referral, "assign") => (json!({"agency": f.val("agency")}), StepReader::Assign),
        (ItemKind::Referral, "outcome") => {
            let body = match f.val("kind") {
                "declined" => json!({"kind": "declined", "reason": tagged(lang, f.val("reason"))}),
                "no-trace" => json!({"kind": "no-trace"}),
                _ => json!({"kind": "acted", "results": [{
                    "kind": f.val("result_kind"),
                    "value": number_or_text(f.val("result_value")),
                    "unit": f.val("result_unit"),
                    "what": f.val("result_what"),
                }]}),
            };
            (body, StepReader::Outcome)
        }
        (ItemKind::Request, "answer") => {
            let body = match f.val("kind") {
                "declined" => json!({"kind": "declined", "reason": tagged(lang, f.val("text"))}),
                "not-found" => json!({"kind": "not-found"}),
                _ => json!({"kind": "found", "text": tagged(lang, f.val("text")), "entities": []}),
            };
            (body, StepReader::Answer)
        }
        (_, "withdraw") => (
            json!({"reason": tagged(lang, f.val("reason"))}),
            StepReader::Withdraw,
        ),
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum StepReader {
    Acknowledge,
    Assign,
    Outcome,
    Answer,
    Withdraw,
}

fn read_step(kind: ItemKind, r: StepReader, v: &Value) -> Result<AnyStep, puente_domain::Invalid> {
    use puente_domain::{ReferralStep as F, RequestStep as Q};
    match (kind, r) {
        (ItemKind::Referral, StepReader::Acknowledge) => {
            wire::read_empty(v).map(|()| AnyStep::Referral(F::Acknowledge))
        }
        (ItemKind::Request, StepReader::Acknowledge) => {
            wire::read_empty(v).map(|()| AnyStep::Request(Q::Acknowledge))
        }
        (ItemKind::Referral, StepReader::Withdraw) => {
            wire::read_reason(v).map(|reason| AnyStep::Referral(F::Withdraw { reason }))
        }
        (ItemKind::Request, StepReader::Withdraw) => {
            wire::read_reason(v).map(|reason| AnyStep::Request(Q::Withdraw { reason }))
        }
        (_, StepReader::Assign) => {
            wire::read_agency(v).map(|agency| AnyStep::Referral(F::Assign { agency }))
        }
        (_, StepReader::Outcome) => {
            wire::read_outcome(v).map(|o| AnyStep::Referral(F::ReportOutcome(o)))
        }
        (_, StepReader::Answer) => wire::read_answer(v).map(|a| AnyStep::Request(Q::Answer(a))),
    }
}

async fn take_step(
    ctx: Ctx,
    kind: ItemKind,
    id: String,
    step: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match ctx.form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some((body, reader)) = step_of(&ctx, kind, &step, &f) else {
        return ctx.fail(&ApiError::NotFound { kind: "route" });
    };
    match api::exchange::step(&ctx.state, &ctx.who, kind, &id, &body, |v| {
        read_step(kind, reader, v)
    })
    .await
    {
        Ok(_) => see_other(&headers, &format!("{}/{id}", base(kind))),
        Err(e) => match field_problems(&ctx, &e) {
            Some(errors) => {
                item_page(&ctx, kind, &id, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => ctx.fail(&e),
        },
    }
}

/// `POST /referrals/{id}/{step}`
pub async fn referral_step(
    ctx: Ctx,
    Path((id, step)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    take_step(ctx, ItemKind::Referral, id, step, headers, body).await
}

/// `POST /requests/{id}/{step}`
pub async fn request_step(
    ctx: Ctx,
    Path((id, step)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    take_step(ctx, ItemKind::Request, id, step, headers, body).await
}

// ---- composing --------------------------------------------------------------------------------

/// What an entity row's three generic fields mean for each type.
fn entity_fields(t: &str) -> [Option<&'static str>; 3] {
    match t {
        "person" => [Some("name"), Some("birth_date"), None],
        "organization" => [Some("name"), None, None],
        "vehicle" => [Some("plate"), Some("make"), Some("colour")],
        "vessel" => [Some("name"), Some("imo"), Some("flag")],
        "firearm" => [Some("serial"), Some("make"), Some("model")],
        "account" => [Some("number"), Some("institution"), None],
        "location" => [Some("place"), None, None],
        _ => [None, None, None],
    }
}

fn entity_json(t: &str, values: [&str; 3]) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), json!(t));
    for (field, v) in entity_fields(t).into_iter().zip(values) {
        if let (Some(field), false) = (field, v.is_empty()) {
            m.insert(field.into(), json!(v));
        }
    }
    Value::Object(m)
}

#[allow(clippy::too_many_arguments)] // one labelled field: every argument is one of its parts
fn select(
    ctx: &Ctx,
    errors: &[FieldProblem],
    name: &str,
    pointer: &str,
    label: &str,
    prefix: &str,
    options: &[&str],
    chosen: &str,
) -> Markup {
    html! {
        p.field {
            label for=(name) { (ctx.t(label)) }
            select id=(name) name=(name) aria-invalid=[invalid(errors, pointer)] {
                @for o in options {
                    option value=(o) selected[*o == chosen] { (ctx.t(&format!("{prefix}{o}"))) }
                }
            }
            (field_errors(errors, pointer, name))
        }
    }
}

async fn compose_page(
    ctx: &Ctx,
    kind: ItemKind,
    f: Option<&Form>,
    errors: &[FieldProblem],
    code: StatusCode,
) -> Response {
    // Someone who may not compose is not shown the form (and the refusal is audited).
    if let Err(e) = api::may(
        &ctx.state,
        &ctx.who,
        Act::Create,
        api::exchange::resource_kind(kind),
    )
    .await
    {
        return ctx.fail(&e);
    }
    let peers = match api::exchange::list_peers(State(ctx.state.clone()), ctx.who.clone()).await {
        Ok(p) => p.0,
        Err(ApiError::Forbidden { .. }) => vec![],
        Err(e) => return ctx.fail(&e),
    };
    let v = |k: &str| f.map_or("", |f| f.val(k)).to_owned();
    let b = base(kind);
    let (title, kinds) = match kind {
        ItemKind::Referral => ("ui-compose-referral", &REFERRAL_KINDS[..]),
        ItemKind::Request => ("ui-compose-request", &REQUEST_KINDS[..]),
    };
    let tlp = f.and_then(|f| f.get("tlp")).unwrap_or("amber").to_owned();
    let body = html! {
        (error_summary(ctx, errors, COMPOSE_FIELDS))
        form.compose method="post" action=(b) novalidate {
            (csrf(ctx))
            p.field {
                label for="to" { (ctx.t("ui-to")) }
                select #to name="to" aria-invalid=[invalid(errors, "/to")] {
                    @for p in &peers { option value=(p.party) selected[v("to") == p.party] { (p.party) } }
                }
                (field_errors(errors, "/to", "to"))
            }
            (select(ctx, errors, "kind", "/kind", "ui-kind", "ui-kind-", kinds, &v("kind")))
            (select(ctx, errors, "urgency", "/urgency", "ui-urgency", "ui-urgency-", &URGENCIES, &v("urgency")))
            @if kind == ItemKind::Referral {
                (input(ctx, errors, "summary", "/summary", "ui-summary", &v("summary"), "text"))
                p.field {
                    label for="details" { (ctx.t("ui-details")) }
                    textarea #details name="details" rows="4" aria-invalid=[invalid(errors, "/details")] { (v("details")) }
                    (field_errors(errors, "/details", "details"))
                }
                fieldset {
                    legend { (ctx.t("ui-location")) }
                    @if invalid(errors, "/locations").is_some() && !errors.iter().any(|e| e.pointer.starts_with("/locations/")) {
                        (field_errors(errors, "/locations", "locations"))
                    }
                    (input(ctx, errors, "place", "/locations/0/place", "ui-place", &v("place"), "text"))
                    (input(ctx, errors, "lat", "/locations/0/lat", "ui-lat", &v("lat"), "text"))
                    (input(ctx, errors, "lon", "/locations/0/lon", "ui-lon", &v("lon"), "text"))
                }
            } @else {
                (input(ctx, errors, "question", "/question", "ui-question", &v("question"), "text"))
            }
            fieldset {
                legend { (ctx.t(if kind == ItemKind::Referral { "ui-entities" } else { "ui-subject" })) }
                p.hint { (ctx.t("ui-entity-help")) }
                @let rows = if kind == ItemKind::Referral { ENTITY_ROWS } else { 1 };
                @for k in 0..rows {
                    @let ptr = if kind == ItemKind::Referral { format!("/entities/{k}") } else { "/subject".to_owned() };
                    div.entity {
                        p.field {
                            label for=(format!("entity_{k}_type")) { (ctx.ta("ui-entity-type-n", &[("n", (k + 1).into())])) }
                            select id=(format!("entity_{k}_type")) name=(format!("entity_{k}_type")) aria-invalid=[invalid(errors, &ptr)] {
                                option value="" { (ctx.t("ui-entity-none")) }
                                @for t in ENTITY_TYPES {
                                    option value=(t) selected[v(&format!("entity_{k}_type")) == t] { (ctx.t(&format!("ui-entity-{t}"))) }
                                }
                            }
                        }
                        @for (j, label) in ["ui-entity-field-1", "ui-entity-field-2", "ui-entity-field-3"].iter().enumerate() {
                            p.field {
                                label for=(format!("entity_{k}_{j}")) { (ctx.t(label)) }
                                input id=(format!("entity_{k}_{j}")) name=(format!("entity_{k}_{j}")) type="text" value=(v(&format!("entity_{k}_{j}")));
                            }
                        }
                        (field_errors(errors, &ptr, &format!("entity_{k}")))
                    }
                }
            }
            @if kind == ItemKind::Referral {
                fieldset {
                    legend { (ctx.t("ui-evaluation")) }
                    (select(ctx, errors, "reliability", "/evaluation/reliability", "ui-reliability", "ui-reliability-", &["A", "B", "C", "X"], &v("reliability")))
                    (select(ctx, errors, "credibility", "/evaluation/credibility", "ui-credibility", "ui-credibility-", &["1", "2", "3", "4"], &v("credibility")))
                }
            }
            fieldset {
                legend { (ctx.t("ui-handling")) }
                fieldset.tlp {
                    legend { (ctx.t("ui-tlp")) }
                    @for t in TLPS {
                        p.check {
                            input type="radio" name="tlp" id=(format!("tlp-{t}")) value=(t) checked[tlp == t] aria-describedby=(format!("tlp-{t}-help"));
                            label for=(format!("tlp-{t}")) { "TLP:" (t.to_uppercase()) }
                            span.hint id=(format!("tlp-{t}-help")) { " — " (ctx.t(&format!("ui-tlp-{t}-help"))) }
                        }
                    }
                    (field_errors(errors, "/handling/tlp", "tlp"))
                }
                p.check {
                    input #may_pass_on type="checkbox" name="may_pass_on" value="true" checked[v("may_pass_on") == "true"];
                    label for="may_pass_on" { (ctx.t("ui-may-pass-on")) }
                }
                p.check {
                    input #evidence_use type="checkbox" name="evidence_use" value="true" checked[v("evidence_use") == "true"];
                    label for="evidence_use" { (ctx.t("ui-evidence-use")) }
                }
                (input(ctx, errors, "purpose", "/handling/purpose", "ui-purpose", &v("purpose"), "text"))
                (input(ctx, errors, "legal_basis", "/handling/legal_basis", "ui-legal-basis", &v("legal_basis"), "text"))
                (input(ctx, errors, "retention_days", "/handling/retention_days", "ui-retention-days", &v("retention_days"), "text"))
            }
            p { button type="submit" { (ctx.t("ui-send")) } }
        }
    };
    (code, page(ctx, &ctx.t(title), body)).into_response()
}

/// `GET /referrals/new`
pub async fn compose_referral(ctx: Ctx) -> Response {
    compose_page(&ctx, ItemKind::Referral, None, &[], StatusCode::OK).await
}

/// `GET /requests/new`
pub async fn compose_request(ctx: Ctx) -> Response {
    compose_page(&ctx, ItemKind::Request, None, &[], StatusCode::OK).await
}

fn composed_json(ctx: &Ctx, kind: ItemKind, f: &Form) -> Value {
    let entity = |k: usize| {
        let t = f.val(&format!("entity_{k}_type"));
        (!t.is_empty()).then(|| {
            entity_json(
                t,
                [
                    f.val(&format!("entity_{k}_0")),
                    f.val(&format!("entity_{k}_1")),
                    f.val(&format!("entity_{k}_2")),
                ],
            )
        })
    };
    let retention = f.val("retention_days");
    let handling = json!({
        "tlp": f.val("tlp"),
        "may_pass_on": f.get("may_pass_on") == Some("true"),
        "evidence_use": f.get("evidence_use") == Some("true"),
        "purpose": f.val("purpose"),
        "legal_basis": f.val("legal_basis"),
        "retention_days": retention.parse::<u64>().map_or_else(|_| json!(retention), |n| json!(n)),
    });
    let mut body = json!({
        "to": f.val("to"),
        "kind": f.val("kind"),
        "urgency": f.val("urgency"),
        "lang": ctx.lang.tag(),
        "handling": handling,
    });
    match kind {
        ItemKind::Referral => {
            body["summary"] = json!(f.val("summary"));
            if let Some(d) = f.get("details") {
                body["details"] = json!(d);
            }
            let (place, lat, lon) = (f.val("place"), f.val("lat"), f.val("lon"));
            if !(place.is_empty() && lat.is_empty() && lon.is_empty()) {
                let mut l = serde_json::Map::new();
                if !place.is_empty() {
                    l.insert("place".into(), json!(place));
                }
                if !lat.is_empty() {
                    l.insert("lat".into(), number_or_text(lat));
                }
                if !lon.is_empty() {
                    l.insert("lon".into(), number_or_text(lon));
                }
                body["locations"] = json!([Value::Object(l)]);
            }
            body["entities"] = Value::Array((0..ENTITY_ROWS).filter_map(entity).collect());
            body["evaluation"] =
                json!({"reliability": f.val("reliability"), "credibility": f.val("credibility")});
        }
        ItemKind::Request => {
            body["question"] = json!(f.val("question"));
            if let Some(s) = entity(0) {
                body["subject"] = s;
            }
        }
    }
    body
}

async fn send(ctx: Ctx, kind: ItemKind, headers: HeaderMap, body: Bytes) -> Response {
    let f = match ctx.form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let json = composed_json(&ctx, kind, &f);
    match api::exchange::compose(&ctx.state, &ctx.who, kind, json).await {
        Ok(item) => see_other(&headers, &format!("{}/{}", base(kind), item.id)),
        Err(e) => match field_problems(&ctx, &e) {
            Some(errors) => {
                compose_page(
                    &ctx,
                    kind,
                    Some(&f),
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => ctx.fail(&e),
        },
    }
}

/// `POST /referrals`
pub async fn send_referral(ctx: Ctx, headers: HeaderMap, body: Bytes) -> Response {
    send(ctx, ItemKind::Referral, headers, body).await
}

/// `POST /requests`
pub async fn send_request(ctx: Ctx, headers: HeaderMap, body: Bytes) -> Response {
    send(ctx, ItemKind::Request, headers, body).await
}
