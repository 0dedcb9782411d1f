//! Oversight screens: the audit trail, the reciprocity figures per direction, and the exchange
//! log's status with the disputes raised.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use puente_policy::{Act, ResourceKind};

use super::Ctx;
use super::layout::page;
use crate::api;
use crate::api::exchange::DirectionOut;
use crate::problem::ApiError;

/// The audit trail from entry `after` on (the latest 100 when `None`).
pub async fn audit_table(ctx: &Ctx, after: Option<i64>) -> Result<Markup, ApiError> {
    let after = match after {
        Some(a) => a,
        None => ctx
            .state
            .inner
            .store
            .last_audit_seq()
            .await?
            .saturating_sub(100)
            .max(0),
    };
    let q = format!("after={after}&limit=100");
    let page = api::audit::list(State(ctx.state.clone()), ctx.who.clone(), RawQuery(Some(q)))
        .await?
        .0;
    let f = ctx.fmt();
    Ok(html! {
        table.audit {
            thead { tr {
                th scope="col" { "#" }
                th scope="col" { (ctx.t("ui-when")) }
                th scope="col" { (ctx.t("ui-actor")) }
                th scope="col" { (ctx.t("ui-audit-action")) }
                th scope="col" { (ctx.t("ui-audit-target")) }
            } }
            tbody { @for e in page.items.iter().rev() { tr {
                td.num { (e.seq) }
                td { (f.instant(&e.at)) }
                td { (e.actor) }
                td { code { (e.action) } }
                td { (e.target.clone().unwrap_or_default()) }
            } } }
        }
    })
}

/// `GET /audit`
pub async fn audit(ctx: Ctx) -> Response {
    match audit_table(&ctx, None).await {
        Ok(t) => page(
            &ctx,
            &ctx.t("ui-audit-title"),
            html! { p { (ctx.t("ui-audit-intro")) } (t) },
        )
        .into_response(),
        Err(e) => ctx.fail(&e),
    }
}

fn direction_rows(ctx: &Ctx, d: &DirectionOut) -> Markup {
    let f = ctx.fmt();
    html! {
        td.num { (f.count(d.items)) }
        td.num { (f.count(d.acknowledged)) }
        td.num { (f.count(d.acknowledged_in_time)) }
        td { @match d.median_seconds_to_acknowledge { Some(s) => (f.duration(s)), None => "—" } }
        td.num { (f.count(d.outcomes.acted + d.outcomes.found)) }
        td.num { (f.count(d.outcomes.no_trace + d.outcomes.not_found)) }
        td.num { (f.count(d.outcomes.declined)) }
        td.num { (f.count(d.open)) }
        td.num { (f.count(d.overdue_now)) }
    }
}

/// The reciprocity table (also on the progress report).
pub fn reciprocity_table(ctx: &Ctx, r: &api::exchange::ReciprocityOut) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { (ctx.t("ui-flow")) }
                th scope="col" { (ctx.t("ui-items")) }
                th scope="col" { (ctx.t("ui-acknowledged")) }
                th scope="col" { (ctx.t("ui-acknowledged-in-time")) }
                th scope="col" { (ctx.t("ui-median-ack")) }
                th scope="col" { (ctx.t("ui-outcome-positive")) }
                th scope="col" { (ctx.t("ui-outcome-nothing")) }
                th scope="col" { (ctx.t("ui-closure-declined")) }
                th scope="col" { (ctx.t("ui-open")) }
                th scope="col" { (ctx.t("ui-overdue-now")) }
            } }
            tbody {
                tr { th scope="row" { (ctx.t("ui-referrals-sent")) } (direction_rows(ctx, &r.referrals.outbound)) }
                tr { th scope="row" { (ctx.t("ui-referrals-received")) } (direction_rows(ctx, &r.referrals.inbound)) }
                tr { th scope="row" { (ctx.t("ui-requests-sent")) } (direction_rows(ctx, &r.requests.outbound)) }
                tr { th scope="row" { (ctx.t("ui-requests-received")) } (direction_rows(ctx, &r.requests.inbound)) }
            }
        }
    }
}

/// `GET /reciprocity`
pub async fn reciprocity(ctx: Ctx) -> Response {
    match api::exchange::get_reciprocity(State(ctx.state.clone()), ctx.who.clone(), RawQuery(None))
        .await
    {
        Ok(r) => page(
            &ctx,
            &ctx.t("ui-reciprocity-title"),
            html! { p { (ctx.t("ui-reciprocity-intro")) } (reciprocity_table(&ctx, &r.0)) },
        )
        .into_response(),
        Err(e) => ctx.fail(&e),
    }
}

/// `GET /exchange-log`
pub async fn exchange_log(ctx: Ctx) -> Response {
    let logs = match api::log::list(State(ctx.state.clone()), ctx.who.clone()).await {
        Ok(l) => l.0,
        Err(e) => return ctx.fail(&e),
    };
    let disputes = if ctx.can(Act::List, ResourceKind::Dispute) {
        match api::log::disputes(State(ctx.state.clone()), ctx.who.clone()).await {
            Ok(d) => d.0,
            Err(e) => return ctx.fail(&e),
        }
    } else {
        vec![]
    };
    let f = ctx.fmt();
    let body = html! {
        p { (ctx.t("ui-log-intro")) }
        table {
            thead { tr {
                th scope="col" { (ctx.t("ui-peer")) }
                th scope="col" { (ctx.t("ui-log-size")) }
                th scope="col" { (ctx.t("ui-log-cosigned")) }
                th scope="col" { (ctx.t("ui-log-peer-size")) }
                th scope="col" { (ctx.t("ui-log-verified")) }
                th scope="col" { (ctx.t("ui-log-state")) }
            } }
            tbody { @for l in &logs { tr {
                th scope="row" { (l.peer) }
                td.num { (f.count(l.size)) }
                td.num { @match l.cosigned { Some(n) => (f.count(n)), None => "—" } }
                td.num { (f.count(l.peer_size)) }
                td { (f.count(l.verified_size)) @if let Some(at) = &l.verified_at { " · " (f.instant(at)) } }
                td { @match &l.problem {
                    Some(p) => strong.status.status-overdue { (ctx.t("ui-log-problem")) ": " (p) },
                    None => span.status.status-done { (ctx.t("ui-log-ok")) },
                } }
            } } }
        }
        h2 { (ctx.t("ui-disputes")) }
        @if disputes.is_empty() { p { (ctx.t("ui-none")) } }
        @else {
            table {
                thead { tr {
                    th scope="col" { (ctx.t("ui-when")) }
                    th scope="col" { (ctx.t("ui-peer")) }
                    th scope="col" { (ctx.t("ui-kind")) }
                    th scope="col" { (ctx.t("ui-details")) }
                } }
                tbody { @for d in &disputes { tr {
                    td { (f.instant(&d.raised_at)) }
                    td { (d.peer) }
                    td { code { (d.kind) } }
                    td { (d.detail) }
                } } }
            }
        }
    };
    page(&ctx, &ctx.t("ui-log-title"), body).into_response()
}
