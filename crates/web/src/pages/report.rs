//! The progress report for a period, in English or Spanish, printable (the stylesheet has a print
//! section): commitments by area and status, actions and their outputs in the period, indicators
//! against their targets, and referrals and requests with their outcomes by direction.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use puente_policy::{Act, ResourceKind};
use time::{Date, Month};

use super::Ctx;
use super::layout::{page, status};
use super::oversight::reciprocity_table;
use super::program::{actions_table, text};
use crate::api;
use crate::problem::ApiError;

/// A quarter: `2026-Q4`.
fn quarter(s: &str) -> Option<(i32, u8)> {
    let (y, q) = s.split_once("-Q")?;
    let q: u8 = q.parse().ok()?;
    ((1..=4).contains(&q)).then_some(())?;
    Some((y.parse().ok()?, q))
}

fn bounds(year: i32, q: u8) -> Option<(Date, Date)> {
    let first = Month::try_from(3 * (q - 1) + 1).ok()?;
    let start = Date::from_calendar_date(year, first, 1).ok()?;
    let end = if q == 4 {
        Date::from_calendar_date(year, Month::December, 31).ok()?
    } else {
        Date::from_calendar_date(year, Month::try_from(3 * q + 1).ok()?, 1)
            .ok()?
            .previous_day()?
    };
    Some((start, end))
}

/// How many of a period's actions the report lists (the latest).
const REPORT_ACTIONS: u32 = 200;

/// `GET /report?period=2026-Q4`
pub async fn show(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let mut q = crate::input::Query::parse(raw.as_deref());
    let today = api::today();
    let current = (today.year(), (u8::from(today.month()) - 1) / 3 + 1);
    let (year, qn) = q.get("period").and_then(quarter).unwrap_or(current);
    let Some((from, to)) = bounds(year, qn) else {
        return ctx.fail(&ApiError::NotFound { kind: "route" });
    };
    match body(&ctx, year, qn, from, to).await {
        Ok(b) => page(
            &ctx,
            &ctx.ta(
                "ui-report-title",
                &[("period", format!("{year}-Q{qn}").into())],
            ),
            b,
        )
        .into_response(),
        Err(e) => ctx.fail(&e),
    }
}

async fn body(ctx: &Ctx, year: i32, qn: u8, from: Date, to: Date) -> Result<Markup, ApiError> {
    let f = ctx.fmt();
    let lang = ctx.lang;
    let counts = super::home::counts(ctx).await?;
    let statuses = ["overdue", "at-risk", "on-track", "not-started", "done"];
    // The period's count, and its latest actions (a period can hold many thousands).
    let (n_actions, actions) = if ctx.can(Act::List, ResourceKind::ActionRecord) {
        let n = api::actions::count_in(&ctx.state, &ctx.who, from, to).await?;
        let latest = api::actions::list(
            State(ctx.state.clone()),
            ctx.who.clone(),
            RawQuery(Some(format!(
                "date_from={from}&date_to={to}&order=latest&limit={REPORT_ACTIONS}"
            ))),
        )
        .await?
        .0
        .items;
        (n, latest)
    } else {
        (0, vec![])
    };
    let indicators = api::indicators::list(
        State(ctx.state.clone()),
        ctx.who.clone(),
        RawQuery(Some("limit=200".into())),
    )
    .await?
    .0
    .items;
    let reciprocity = if ctx.can(Act::Read, ResourceKind::Reciprocity) {
        api::exchange::get_reciprocity(State(ctx.state.clone()), ctx.who.clone(), RawQuery(None))
            .await
            .ok()
            .map(|r| r.0)
    } else {
        None
    };
    let prev = if qn == 1 {
        format!("{}-Q4", year - 1)
    } else {
        format!("{year}-Q{}", qn - 1)
    };
    let next = if qn == 4 {
        format!("{}-Q1", year + 1)
    } else {
        format!("{year}-Q{}", qn + 1)
    };
    Ok(html! {
        p { (ctx.ta("ui-report-intro", &[("from", f.date(from).into()), ("to", f.date(to).into())])) }
        nav.period aria-label=(ctx.t("ui-period")) {
            a href=(format!("/report?period={prev}")) { "← " (prev) }
            " "
            a href=(format!("/report?period={next}")) { (next) " →" }
        }
        section {
            h2 { (ctx.t("ui-report-commitments")) }
            table {
                thead { tr {
                    th scope="col" { (ctx.t("ui-area")) }
                    @for s in statuses { th scope="col" { (status(ctx, s)) } }
                } }
                tbody { @for a in ctx.state.inner.program.areas() {
                    @let code = a.code.to_string();
                    tr {
                        th scope="row" { (a.name.get(lang)) }
                        @for s in statuses {
                            td.num { (f.count(counts.iter().filter(|c| c.0 == code && c.1 == s).map(|c| c.2).sum())) }
                        }
                    }
                } }
            }
        }
        section {
            h2 { (ctx.t("ui-report-actions")) }
            p { (ctx.ta("ui-count-actions", &[("count", n_actions.into())])) }
            @if n_actions > actions.len() as u64 {
                p { (ctx.ta("ui-latest-of", &[("shown", actions.len().into()), ("count", f.count(n_actions).into())])) }
            }
            @if !actions.is_empty() {
                (actions_table(ctx, &actions, false))
            }
        }
        section {
            h2 { (ctx.t("ui-report-indicators")) }
            table {
                thead { tr {
                    th scope="col" { (ctx.t("ui-indicator")) }
                    th scope="col" { (ctx.t("ui-baseline")) }
                    th scope="col" { (ctx.t("ui-target")) }
                    th scope="col" { (ctx.t("ui-actual-total")) }
                    th scope="col" { (ctx.t("ui-progress-label")) }
                } }
                tbody { @for i in &indicators { tr {
                    th scope="row" { a href=(format!("/indicators/{}", i.meta.id)) { (text(lang, &i.name)) } }
                    td.num { (f.number(i.baseline.value, 2)) " (" (i.baseline.period) ")" }
                    td.num { @match i.targets.last() { Some(t) => { (f.number(t.value, 2)) " (" (t.period) ")" }, None => "—" } }
                    td.num { @match i.actuals.last() { Some(a) => { (f.number(a.value, 2)) " (" (a.period) ")" }, None => "—" } }
                    td.num { @match i.progress { Some(p) => { (f.number(p * 100.0, 0)) " %" }, None => "—" } }
                } } }
            }
        }
        @if let Some(r) = &reciprocity {
            section {
                h2 { (ctx.t("ui-report-exchange")) }
                (reciprocity_table(ctx, r))
            }
        }
    })
}
