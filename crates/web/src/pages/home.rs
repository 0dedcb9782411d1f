//! The home page of each role: what that person looks at first.
//!
//! - program officer (and administrator): commitments by measure area and status, what is
//!   overdue or at risk, the next meeting;
//! - liaison officer and analyst: the inbox and the outbox with each item's clocks, late first;
//! - agency user: only what is assigned to their agency;
//! - auditor: the latest entries of the audit trail.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use puente_domain::Role;
use puente_policy::{Act, ResourceKind};

use super::Ctx;
use super::exchange::item_table;
use super::layout::{page, status};
use super::program::commitment_table;
use crate::api;
use crate::api::dto::CommitmentOut;
use crate::api::exchange::ItemOut;
use crate::problem::ApiError;

/// `GET /home`
pub async fn show(ctx: Ctx) -> Response {
    match body(&ctx).await {
        Ok(b) => page(&ctx, &ctx.t("ui-home-title"), b).into_response(),
        Err(e) => ctx.fail(&e),
    }
}

async fn body(ctx: &Ctx) -> Result<Markup, ApiError> {
    Ok(match ctx.who.user.role {
        Role::ProgramOfficer | Role::Administrator => program_home(ctx).await?,
        Role::LiaisonOfficer | Role::Analyst => liaison_home(ctx).await?,
        Role::AgencyUser => agency_home(ctx).await?,
        Role::Auditor => auditor_home(ctx).await?,
    })
}

/// How many commitments of each measure area have each status today (of the user's agency for
/// an agency user), counted by the store in one query: the role must be able to list them.
pub async fn counts(ctx: &Ctx) -> Result<Vec<(String, String, u64)>, ApiError> {
    api::may(&ctx.state, &ctx.who, Act::List, ResourceKind::Commitment).await?;
    let agency = match ctx.who.user.role {
        Role::AgencyUser => Some(ctx.who.user.agency.clone().unwrap_or_default()),
        _ => None,
    };
    Ok(ctx
        .state
        .inner
        .store
        .count_commitments(agency.as_deref(), api::today())
        .await?
        .into_iter()
        .map(|(a, s, n)| (a.to_string(), s.as_str().to_owned(), n))
        .collect())
}

/// The commitments with `status` today, at most `limit`.
async fn with_status(ctx: &Ctx, status: &str, limit: u32) -> Result<Vec<CommitmentOut>, ApiError> {
    Ok(api::commitments::list(
        State(ctx.state.clone()),
        ctx.who.clone(),
        RawQuery(Some(format!("status={status}&limit={limit}"))),
    )
    .await?
    .0
    .items)
}

async fn program_home(ctx: &Ctx) -> Result<Markup, ApiError> {
    let all = counts(ctx).await?;
    let statuses = ["overdue", "at-risk", "on-track", "not-started", "done"];
    let areas = ctx.state.inner.program.areas();
    let count = |area: &str, st: &str| {
        all.iter()
            .filter(|c| c.0 == area && c.1 == st)
            .map(|c| c.2)
            .sum::<u64>()
    };
    let mut attention = with_status(ctx, "overdue", 25).await?;
    attention.extend(with_status(ctx, "at-risk", 25).await?);
    let n_attention = count_all(&all, "overdue") + count_all(&all, "at-risk");
    let today = api::today().to_string();
    let next = api::meetings::list(
        State(ctx.state.clone()),
        ctx.who.clone(),
        RawQuery(Some(format!("date_from={today}&limit=1"))),
    )
    .await
    .map(|j| j.0.items)
    .unwrap_or_default();
    let lang = ctx.lang;
    Ok(html! {
        section aria-labelledby="by-area" {
            h2 #by-area { (ctx.t("ui-home-by-area")) }
            table {
                caption.visually-hidden { (ctx.t("ui-home-by-area")) }
                thead { tr {
                    th scope="col" { (ctx.t("ui-area")) }
                    @for s in statuses { th scope="col" { (status(ctx, s)) } }
                } }
                tbody {
                    @for a in areas {
                        tr {
                            th scope="row" {
                                a href=(format!("/commitments?area={}", a.code)) { (a.name.get(lang)) }
                            }
                            @for s in statuses {
                                td.num {
                                    @let n = count(a.code.as_str(), s);
                                    @if n > 0 {
                                        a href=(format!("/commitments?area={}&status={s}", a.code)) { (ctx.fmt().count(n)) }
                                    } @else { "0" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="attention" {
            h2 #attention { (ctx.t("ui-home-attention")) }
            @if attention.is_empty() { p { (ctx.t("ui-none")) } }
            @else {
                @if n_attention > attention.len() as u64 {
                    p { (ctx.ta("ui-first-of", &[("shown", attention.len().into()), ("count", ctx.fmt().count(n_attention).into())])) }
                }
                (commitment_table(ctx, &attention))
            }
        }
        section aria-labelledby="next-meeting" {
            h2 #next-meeting { (ctx.t("ui-home-next-meeting")) }
            @match next.first() {
                Some(m) => p {
                    a href=(format!("/meetings/{}", m.meta.id)) { (ctx.fmt().day(&m.date)) " · " (m.place) }
                },
                None => p { (ctx.t("ui-none")) },
            }
        }
    })
}

fn count_all(counts: &[(String, String, u64)], status: &str) -> u64 {
    counts.iter().filter(|c| c.1 == status).map(|c| c.2).sum()
}

/// Late items first, then by the instant they must be acknowledged.
pub fn late_first(items: &mut [ItemOut]) {
    items.sort_by(|a, b| {
        let late =
            |i: &ItemOut| !(i.clocks.overdue || i.clocks.acknowledge.late || i.clocks.act.late);
        late(a)
            .cmp(&late(b))
            .then_with(|| a.clocks.acknowledge_due.cmp(&b.clocks.acknowledge_due))
    });
}

async fn items(ctx: &Ctx, kind: ResourceKind, query: &str) -> Result<Vec<ItemOut>, ApiError> {
    let q = RawQuery(Some(query.to_owned()));
    let mut v = if kind == ResourceKind::Referral {
        api::exchange::list_referrals(State(ctx.state.clone()), ctx.who.clone(), q).await?
    } else {
        api::exchange::list_requests(State(ctx.state.clone()), ctx.who.clone(), q).await?
    }
    .0
    .items;
    late_first(&mut v);
    Ok(v)
}

async fn liaison_home(ctx: &Ctx) -> Result<Markup, ApiError> {
    let mut sections = Vec::new();
    for (kind, base, title) in [
        (ResourceKind::Referral, "/referrals", "ui-home-referrals"),
        (
            ResourceKind::InformationRequest,
            "/requests",
            "ui-home-requests",
        ),
    ] {
        if !ctx.can(Act::List, kind) {
            continue;
        }
        let inbox = items(ctx, kind, "direction=inbound&limit=50").await?;
        let outbox = items(ctx, kind, "direction=outbound&limit=50").await?;
        sections.push((base, title, inbox, outbox));
    }
    Ok(html! {
        @for (base, title, inbox, outbox) in &sections {
            section {
                h2 { (ctx.t(title)) }
                h3 { (ctx.t("ui-inbox")) }
                (item_table(ctx, base, inbox))
                h3 { (ctx.t("ui-outbox")) }
                (item_table(ctx, base, outbox))
            }
        }
    })
}

async fn agency_home(ctx: &Ctx) -> Result<Markup, ApiError> {
    let agency = ctx.who.user.agency.clone().unwrap_or_default();
    let referrals = if ctx.can(Act::List, ResourceKind::Referral) {
        items(ctx, ResourceKind::Referral, "limit=100").await?
    } else {
        vec![]
    };
    let commitments = if ctx.can(Act::List, ResourceKind::Commitment) {
        api::commitments::list(
            State(ctx.state.clone()),
            ctx.who.clone(),
            RawQuery(Some("limit=50".into())),
        )
        .await?
        .0
        .items
    } else {
        vec![]
    };
    Ok(html! {
        p { (ctx.ta("ui-home-agency-intro", &[("agency", agency.as_str().into())])) }
        section {
            h2 { (ctx.t("ui-home-assigned")) }
            (item_table(ctx, "/referrals", &referrals))
        }
        section {
            h2 { (ctx.t("ui-home-agency-commitments")) }
            @if commitments.is_empty() { p { (ctx.t("ui-none")) } }
            @else { (commitment_table(ctx, &commitments)) }
        }
    })
}

async fn auditor_home(ctx: &Ctx) -> Result<Markup, ApiError> {
    Ok(html! {
        p { (ctx.t("ui-home-auditor-intro")) }
        (super::oversight::audit_table(ctx, None).await?)
    })
}
