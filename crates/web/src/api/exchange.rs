//! `/api/v1/referrals`, `/api/v1/requests`, `/api/v1/peers` and `/api/v1/reciprocity`: what a
//! liaison officer sends to a peer and receives from it, each item with its state, history and
//! clocks.
//!
//! Composing an item goes through two policy questions — may this user create it, and may it be
//! released to that party (the release policy sees the TLP level and whether persons are named)
//! — and then through the exchange, which seals it and puts it in the outbox in one
//! transaction. Every read of exchange data, lists included, is written to the audit trail.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use puente_domain::error::Errors;
use puente_domain::reciprocity::{FlowDirection, ItemSummary, reciprocity};
use puente_domain::{
    ClockState, Closure, ClosureKind, FieldErrorCode, Invalid, PartyCode, Role, Timeline, Urgency,
    clocks,
};
use puente_exchange::items::AnyStep;
use puente_exchange::node::{Exchange, Outgoing};
use puente_exchange::wire::{self, MessageKind};
use puente_policy::{Act, Resource, ResourceKind};
use puente_store::{ExchangeItem, ItemFilter, ItemKind, NewAuditEntry, Page};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::{authorize_resource, cursor, may, now, page, path_id, query_param};
use crate::auth::Authed;
use crate::input::{JsonBody, Query};
use crate::problem::ApiError;
use crate::state::AppState;

// ---- views ----------------------------------------------------------------------------------

/// One clock of an item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockOut {
    /// `running`, `overdue`, `met`, `met-late`, `withdrawn`.
    pub state: &'static str,
    /// Seconds left (running) or past due (overdue).
    pub seconds: Option<i64>,
    pub late: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClocksOut {
    pub acknowledge_due: String,
    pub act_due: String,
    pub acknowledge: ClockOut,
    pub act: ClockOut,
    /// A clock is running past its due instant.
    pub overdue: bool,
}

/// A step of an item's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    /// The message type, e.g. `referral.acknowledge`.
    pub step: String,
    pub by: String,
    pub at: String,
    #[schema(value_type = Object)]
    pub body: Value,
}

/// A referral or request for information as this node holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemOut {
    pub id: String,
    /// `outbound` (sent by this node's party) or `inbound`.
    pub direction: &'static str,
    pub from: String,
    pub to: String,
    /// The referral kind or request kind.
    pub kind: String,
    pub urgency: String,
    /// The referral's summary or the request's question.
    pub summary: String,
    /// `sent`, `acknowledged`, `assigned`, `closed`, `withdrawn` (referrals); `asked`,
    /// `acknowledged`, `answered`, `withdrawn` (requests).
    pub state: String,
    pub agency: Option<String>,
    pub sent_at: String,
    pub acknowledged_at: Option<String>,
    pub closed_at: Option<String>,
    /// How it ended: `acted`, `no-trace`, `declined`, `found`, `not-found`, `withdrawn`.
    pub closure: Option<String>,
    /// The originator withdrew it while the outcome or answer was on its way: the two steps
    /// crossed, the outcome stands, and both are in the history.
    pub withdrawal_crossed: bool,
    pub clocks: ClocksOut,
    /// The item as composed (the body of its signed envelope).
    #[schema(value_type = Object)]
    pub content: Value,
    pub history: Vec<StepOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemPage {
    pub items: Vec<ItemOut>,
    pub next_cursor: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn timeline(item: &ExchangeItem) -> Timeline {
    let closure = item
        .state
        .closed_at
        .zip(item.state.closure.as_deref())
        .and_then(|(at, kind)| {
            kind.parse::<ClosureKind>()
                .ok()
                .map(|kind| Closure { at, kind })
        });
    Timeline {
        sent_at: item.sent_at,
        acknowledged_at: item.state.acknowledged_at,
        closure,
    }
}

fn clock_out(c: ClockState) -> ClockOut {
    let (state, seconds) = match c {
        ClockState::Running { left } => ("running", Some(left.whole_seconds())),
        ClockState::Overdue { by } => ("overdue", Some(by.whole_seconds())),
        ClockState::Met { late: false } => ("met", None),
        ClockState::Met { late: true } => ("met-late", None),
        ClockState::Withdrawn { .. } => ("withdrawn", None),
    };
    ClockOut {
        state,
        seconds,
        late: c.is_late(),
    }
}

fn item_clocks(x: &Exchange, item: &ExchangeItem, at: OffsetDateTime) -> puente_domain::Clocks {
    let urgency = item.urgency.parse::<Urgency>().unwrap_or(Urgency::Routine);
    clocks(&timeline(item), urgency, &x.settings().clocks, at)
}

fn item_out(x: &Exchange, item: &ExchangeItem, content: Value, at: OffsetDateTime) -> ItemOut {
    let c = item_clocks(x, item, at);
    ItemOut {
        id: item.id.to_string(),
        direction: if item.originator == x.party() {
            "outbound"
        } else {
            "inbound"
        },
        from: item.originator.to_string(),
        to: item.recipient.to_string(),
        kind: item.subtype.clone(),
        urgency: item.urgency.clone(),
        summary: item.summary.clone(),
        state: item.state.state.clone(),
        agency: item.state.agency.clone(),
        sent_at: rfc3339(item.sent_at),
        acknowledged_at: item.state.acknowledged_at.map(rfc3339),
        closed_at: item.state.closed_at.map(rfc3339),
        closure: item.state.closure.clone(),
        withdrawal_crossed: item.state.closure.as_deref() != Some("withdrawn")
            && item.steps.iter().any(|s| s.step.ends_with(".withdraw")),
        clocks: ClocksOut {
            acknowledge_due: rfc3339(c.acknowledge_due),
            act_due: rfc3339(c.act_due),
            acknowledge: clock_out(c.acknowledge),
            act: clock_out(c.act),
            overdue: c.overdue(),
        },
        content,
        history: item
            .steps
            .iter()
            .map(|s| StepOut {
                step: s.step.clone(),
                by: s.by.to_string(),
                at: rfc3339(s.at),
                body: serde_json::from_str(&s.body).unwrap_or(Value::Null),
            })
            .collect(),
    }
}

// ---- shared ---------------------------------------------------------------------------------

pub(crate) fn exchange(state: &AppState) -> Result<&Arc<Exchange>, ApiError> {
    state
        .inner
        .exchange
        .get()
        .ok_or(ApiError::ExchangeUnavailable)
}

/// The policy's kind of an exchanged item.
pub fn resource_kind(kind: ItemKind) -> ResourceKind {
    match kind {
        ItemKind::Referral => ResourceKind::Referral,
        ItemKind::Request => ResourceKind::InformationRequest,
    }
}

/// An item's content as JSON, read once per request for both the policy and the answer.
fn content_of(item: &ExchangeItem) -> Value {
    serde_json::from_str(&item.body).unwrap_or(Value::Null)
}

/// Asks the policy about `act` on a stored item.
async fn authorize_item(
    state: &AppState,
    who: &Authed,
    act: Act,
    item: &ExchangeItem,
    content: &Value,
) -> Result<(), ApiError> {
    let (tlp, persons) = wire::handling_facts(content);
    let id = item.id.to_string();
    let owners = [item.originator, item.recipient];
    // The agency an item is assigned to is one of this party's only when this party received
    // it; on an outbound item it is the peer's word, and must not open the item to a local
    // agency that happens to have the same name.
    let agency = (item.recipient == state.inner.party)
        .then_some(item.state.agency.as_deref())
        .flatten();
    authorize_resource(
        state,
        who,
        act,
        &Resource {
            kind: resource_kind(item.kind),
            id: Some(&id),
            owners: &owners,
            agency,
            tlp: tlp.as_deref(),
            persons,
        },
    )
    .await
}

/// Writes a read of exchange data to the audit trail.
pub(crate) async fn audit_read(
    state: &AppState,
    who: &Authed,
    action: &str,
    target: Option<String>,
    detail: Value,
) -> Result<(), ApiError> {
    let entry = NewAuditEntry {
        at: now(),
        actor: who.user.name.clone(),
        ip: who.ip.clone(),
        action: action.to_owned(),
        target,
        detail: detail.to_string(),
    };
    // Within a page view the entry is written with the page's others, before the page is sent.
    if !crate::audit_batch::defer(&entry) {
        state.inner.store.append_audit(&entry).await?;
    }
    Ok(())
}

/// Loads the item `raw` names, of `kind`, if the user may `act` on it (404 for another kind),
/// with its content.
async fn load_item(
    state: &AppState,
    who: &Authed,
    kind: ItemKind,
    raw: &str,
    act: Act,
) -> Result<(ExchangeItem, Value), ApiError> {
    let rk = resource_kind(kind);
    may(state, who, Act::List, rk).await?;
    let id = path_id(raw, rk.as_str())?;
    let item = state
        .inner
        .store
        .get_item(id)
        .await?
        .filter(|i| i.kind == kind)
        .ok_or(ApiError::NotFound { kind: rk.as_str() })?;
    let content = content_of(&item);
    authorize_item(state, who, act, &item, &content).await?;
    Ok((item, content))
}

// ---- composing ------------------------------------------------------------------------------

/// Reads `to` from a composed item and checks it names a registered peer; returns the body
/// without it.
async fn recipient(
    state: &AppState,
    body: Value,
    e: &mut Errors,
) -> Result<(Option<PartyCode>, Value), ApiError> {
    let mut rest = body;
    let to = match rest.as_object_mut().and_then(|o| o.remove("to")) {
        None if rest.is_object() => {
            e.push("/to", FieldErrorCode::Missing);
            None
        }
        None => None,
        Some(Value::String(s)) => match e.take(PartyCode::parse_field("/to", &s)) {
            Some(p) if p == state.inner.party => {
                e.push("/to", FieldErrorCode::Duplicate);
                None
            }
            Some(p) if !exchange(state)?.is_peer(p).await? => {
                e.push("/to", FieldErrorCode::UnknownPeer);
                None
            }
            other => other,
        },
        Some(_) => {
            e.push("/to", FieldErrorCode::WrongType { expected: "string" });
            None
        }
    };
    Ok((to, rest))
}

struct Composed {
    to: PartyCode,
    content: Value,
    subtype: String,
    urgency: String,
    summary: String,
}

pub(crate) async fn compose(
    state: &AppState,
    who: &Authed,
    kind: ItemKind,
    body: Value,
) -> Result<ItemOut, ApiError> {
    let x = exchange(state)?;
    let rk = resource_kind(kind);
    let me = [state.inner.party];
    authorize_resource(
        state,
        who,
        Act::Create,
        &Resource {
            kind: rk,
            id: None,
            owners: &me,
            agency: None,
            tlp: None,
            persons: false,
        },
    )
    .await?;
    let mut e = Errors::new();
    let (to, rest) = recipient(state, body, &mut e).await?;
    let composed = match kind {
        ItemKind::Referral => e.take(wire::read_referral(&rest)).map(|d| Composed {
            to: state.inner.party,
            content: wire::referral_json(&d),
            subtype: d.kind.as_str().to_owned(),
            urgency: d.urgency.as_str().to_owned(),
            summary: d.summary,
        }),
        ItemKind::Request => e.take(wire::read_request(&rest)).map(|d| Composed {
            to: state.inner.party,
            content: wire::request_json(&d),
            subtype: d.kind.as_str().to_owned(),
            urgency: d.urgency.as_str().to_owned(),
            summary: d.question,
        }),
    };
    e.finish().map_err(ApiError::Invalid)?;
    let (Some(to), Some(mut c)) = (to, composed) else {
        return Err(ApiError::internal(
            &"a composed item without errors lacks a part",
        ));
    };
    c.to = to;
    // The release decision sees the parties, the TLP level and whether persons are named.
    let (tlp, persons) = wire::handling_facts(&c.content);
    let owners = [state.inner.party, c.to];
    authorize_resource(
        state,
        who,
        Act::Release,
        &Resource {
            kind: rk,
            id: None,
            owners: &owners,
            agency: None,
            tlp: tlp.as_deref(),
            persons,
        },
    )
    .await?;
    let message = match kind {
        ItemKind::Referral => MessageKind::Referral,
        ItemKind::Request => MessageKind::Request,
    };
    let outgoing = Outgoing {
        to: c.to,
        kind: message,
        content: &c.content,
        subtype: &c.subtype,
        urgency: &c.urgency,
        summary: &c.summary,
    };
    let sent = x.send_item(&who.ctx(now()), &outgoing).await?;
    // The content just checked and sent is what the stored body holds: no need to parse the
    // body back.
    Ok(item_out(
        x,
        &sent.item,
        c.content,
        OffsetDateTime::now_utc(),
    ))
}

pub(crate) async fn step(
    state: &AppState,
    who: &Authed,
    kind: ItemKind,
    raw: &str,
    body: &Value,
    read: impl FnOnce(&Value) -> Result<AnyStep, Invalid>,
) -> Result<ItemOut, ApiError> {
    let x = exchange(state)?;
    // Whether the user may take a step depends on the item (an agency user's, on whether it is
    // assigned to its agency), so the policy is asked about the item itself.
    let (item, content) = load_item(state, who, kind, raw, Act::Update).await?;
    let step = read(body).map_err(ApiError::Invalid)?;
    let sent = x.send_step(&who.ctx(now()), &item, step).await?;
    // A step does not change the item's content, read above.
    Ok(item_out(x, &sent.item, content, OffsetDateTime::now_utc()))
}

fn created(item: ItemOut) -> axum::response::Response {
    (StatusCode::CREATED, Json(item)).into_response()
}

fn stepped(item: ItemOut) -> axum::response::Response {
    (StatusCode::OK, Json(item)).into_response()
}

// ---- lists ----------------------------------------------------------------------------------

pub(crate) async fn list(
    state: &AppState,
    who: &Authed,
    kind: ItemKind,
    raw: Option<&str>,
) -> Result<Json<ItemPage>, ApiError> {
    let x = exchange(state)?;
    let rk = resource_kind(kind);
    may(state, who, Act::List, rk).await?;
    let mut q = Query::parse(raw);
    let mut e = Errors::new();
    let me = state.inner.party;
    let direction = query_param(&mut q, &mut e, "direction", "flow-direction", |d| {
        d.parse::<FlowDirection>().ok()
    });
    let peer = query_param(&mut q, &mut e, "peer", "party", |p| {
        PartyCode::parse(p).ok()
    });
    let urgency = query_param(&mut q, &mut e, "urgency", "urgency", |u| {
        u.parse::<Urgency>().ok()
    });
    let state_filter = q.get("state").map(str::to_owned);
    let late = query_param(&mut q, &mut e, "late", "boolean", |l| match l {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    let page = page(&mut q, &mut e);
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    // Only what this party received is ever assigned to one of its agencies.
    let direction = match who.user.role {
        Role::AgencyUser => Some(FlowDirection::Inbound),
        _ => direction,
    };
    let mut filter = ItemFilter {
        kind: Some(kind),
        state: state_filter,
        urgency: urgency.map(|u| u.as_str().to_owned()),
        ..ItemFilter::default()
    };
    match (direction, peer) {
        (Some(FlowDirection::Outbound), p) => {
            filter.originator = Some(me);
            filter.recipient = p;
        }
        (Some(FlowDirection::Inbound), p) => {
            filter.recipient = Some(me);
            filter.originator = p;
        }
        (None, Some(p)) if p == me => {}
        (None, Some(p)) => {
            // Either way between this node's party and `p`: two pages would be needed, so
            // ask for the peer's side by the other column once each and merge.
            filter.originator = Some(p);
            let mut other = filter.clone();
            other.originator = Some(me);
            other.recipient = Some(p);
            return list_both(state, who, x, kind, filter, other, page, late).await;
        }
        (None, None) => {}
    }
    if who.user.role == Role::AgencyUser {
        filter.agency = Some(who.user.agency.clone().unwrap_or_default());
    }
    let paged = state.inner.store.list_items(&filter, page).await?;
    finish_list(state, who, x, kind, paged.items, paged.next, late).await
}

#[allow(clippy::too_many_arguments)]
async fn list_both(
    state: &AppState,
    who: &Authed,
    x: &Exchange,
    kind: ItemKind,
    mut a: ItemFilter,
    mut b: ItemFilter,
    page: Page,
    late: Option<bool>,
) -> Result<Json<ItemPage>, ApiError> {
    if who.user.role == Role::AgencyUser {
        let agency = Some(who.user.agency.clone().unwrap_or_default());
        a.agency.clone_from(&agency);
        b.agency = agency;
    }
    let first = state.inner.store.list_items(&a, page).await?;
    let second = state.inner.store.list_items(&b, page).await?;
    let mut items = first.items;
    items.extend(second.items);
    items.sort_by_key(|i| i.id);
    items.truncate(page.limit as usize);
    let next = if items.len() == page.limit as usize {
        items.last().map(|i| i.id)
    } else {
        None
    };
    finish_list(state, who, x, kind, items, next, late).await
}

async fn finish_list(
    state: &AppState,
    who: &Authed,
    x: &Exchange,
    kind: ItemKind,
    items: Vec<ExchangeItem>,
    next: Option<uuid::Uuid>,
    late: Option<bool>,
) -> Result<Json<ItemPage>, ApiError> {
    let at = OffsetDateTime::now_utc();
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let content = content_of(item);
        if authorize_item(state, who, Act::Read, item, &content)
            .await
            .is_err()
        {
            continue;
        }
        let c = item_clocks(x, item, at);
        let is_late = c.acknowledge.is_late() || c.act.is_late();
        if late.is_some_and(|l| l != is_late) {
            continue;
        }
        out.push(item_out(x, item, content, at));
    }
    let ids: Vec<&str> = out.iter().map(|i| i.id.as_str()).collect();
    audit_read(
        state,
        who,
        &format!("{}.list", kind.as_str()),
        None,
        json!({ "ids": ids }),
    )
    .await?;
    Ok(Json(ItemPage {
        items: out,
        next_cursor: cursor(next),
    }))
}

pub(crate) async fn get_one(
    state: &AppState,
    who: &Authed,
    kind: ItemKind,
    raw: &str,
) -> Result<Json<ItemOut>, ApiError> {
    let x = exchange(state)?;
    let (item, content) = load_item(state, who, kind, raw, Act::Read).await?;
    // The read names where the item's envelopes are in the exchange log.
    let peer = if item.originator == x.party() {
        item.recipient
    } else {
        item.originator
    };
    let envelopes: Vec<uuid::Uuid> = std::iter::once(item.id)
        .chain(item.steps.iter().map(|s| s.envelope))
        .collect();
    let indexes: Vec<u64> = state
        .inner
        .store
        .log_indexes_of_envelopes(peer, &envelopes)
        .await?
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    audit_read(
        state,
        who,
        &format!("{}.read", kind.as_str()),
        Some(item.id.to_string()),
        json!({ "log_indexes": indexes }),
    )
    .await?;
    Ok(Json(item_out(x, &item, content, OffsetDateTime::now_utc())))
}

// ---- referrals --------------------------------------------------------------------------------

/// `GET /api/v1/referrals`
#[utoipa::path(get, path = "/api/v1/referrals", tag = "referrals",
    params(
        ("direction" = Option<String>, Query, description = "outbound (sent by this party) or inbound"),
        ("peer" = Option<String>, Query, description = "The other party"),
        ("state" = Option<String>, Query, description = "sent, acknowledged, assigned, closed, withdrawn"),
        ("urgency" = Option<String>, Query, description = "flash, immediate, priority, routine"),
        ("late" = Option<bool>, Query, description = "true: only items with a clock late (now or when met); false: only the others"),
        ("cursor" = Option<String>, Query, description = "From the previous page's next_cursor"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
    ),
    responses((status = 200, body = ItemPage), (status = 400, body = crate::problem::Problem),
              (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)))]
pub async fn list_referrals(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<ItemPage>, ApiError> {
    list(&state, &who, ItemKind::Referral, raw.as_deref()).await
}

/// `POST /api/v1/referrals`: composes a referral and sends it to `to`.
#[utoipa::path(post, path = "/api/v1/referrals", tag = "referrals",
    request_body(content = Object, content_type = "application/json", description = "The referral (see docs/api.md) and `to`, the receiving party"),
    responses((status = 201, body = ItemOut), (status = 403, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem)))]
pub async fn create_referral(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    compose(&state, &who, ItemKind::Referral, body)
        .await
        .map(created)
}

/// `GET /api/v1/referrals/{id}`
#[utoipa::path(get, path = "/api/v1/referrals/{id}", tag = "referrals",
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, body = ItemOut), (status = 404, body = crate::problem::Problem)))]
pub async fn get_referral(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<ItemOut>, ApiError> {
    get_one(&state, &who, ItemKind::Referral, &id).await
}

/// `POST /api/v1/referrals/{id}/acknowledge` (the recipient)
#[utoipa::path(post, path = "/api/v1/referrals/{id}/acknowledge", tag = "referrals",
    params(("id" = String, Path, description = "Referral id")),
    request_body(content = Object, content_type = "application/json", description = "{}"),
    responses((status = 200, body = ItemOut), (status = 409, body = crate::problem::Problem)))]
pub async fn acknowledge_referral(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    step(&state, &who, ItemKind::Referral, &id, &body, |v| {
        wire::read_empty(v).map(|()| AnyStep::Referral(puente_domain::ReferralStep::Acknowledge))
    })
    .await
    .map(stepped)
}

/// `POST /api/v1/referrals/{id}/assign` `{"agency": "..."}` (the recipient)
#[utoipa::path(post, path = "/api/v1/referrals/{id}/assign", tag = "referrals",
    params(("id" = String, Path, description = "Referral id")),
    request_body(content = Object, content_type = "application/json", description = "{\"agency\": \"...\"}"),
    responses((status = 200, body = ItemOut), (status = 409, body = crate::problem::Problem)))]
pub async fn assign_referral(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    step(&state, &who, ItemKind::Referral, &id, &body, |v| {
        wire::read_agency(v)
            .map(|agency| AnyStep::Referral(puente_domain::ReferralStep::Assign { agency }))
    })
    .await
    .map(stepped)
}

/// `POST /api/v1/referrals/{id}/outcome` (the recipient): acted (with results), no-trace, or
/// declined (with a reason).
#[utoipa::path(post, path = "/api/v1/referrals/{id}/outcome", tag = "referrals",
    params(("id" = String, Path, description = "Referral id")),
    request_body(content = Object, content_type = "application/json", description = "{\"kind\": \"acted\", \"results\": [...]} | {\"kind\": \"no-trace\"} | {\"kind\": \"declined\", \"reason\": {...}}"),
    responses((status = 200, body = ItemOut), (status = 409, body = crate::problem::Problem)))]
pub async fn report_outcome(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    step(&state, &who, ItemKind::Referral, &id, &body, |v| {
        wire::read_outcome(v)
            .map(|o| AnyStep::Referral(puente_domain::ReferralStep::ReportOutcome(o)))
    })
    .await
    .map(stepped)
}

/// `POST /api/v1/referrals/{id}/withdraw` `{"reason": {"lang", "text"}}` (the originator)
#[utoipa::path(post, path = "/api/v1/referrals/{id}/withdraw", tag = "referrals",
    params(("id" = String, Path, description = "Referral id")),
    request_body(content = Object, content_type = "application/json", description = "{\"reason\": {\"lang\": \"en\", \"text\": \"...\"}}"),
    responses((status = 200, body = ItemOut), (status = 409, body = crate::problem::Problem)))]
pub async fn withdraw_referral(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    step(&state, &who, ItemKind::Referral, &id, &body, |v| {
        wire::read_reason(v)
            .map(|reason| AnyStep::Referral(puente_domain::ReferralStep::Withdraw { reason }))
    })
    .await
    .map(stepped)
}

// ---- requests for information -----------------------------------------------------------------

/// `GET /api/v1/requests`
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests",
    params(
        ("direction" = Option<String>, Query, description = "outbound or inbound"),
        ("peer" = Option<String>, Query, description = "The other party"),
        ("state" = Option<String>, Query, description = "asked, acknowledged, answered, withdrawn"),
        ("urgency" = Option<String>, Query, description = "flash, immediate, priority, routine"),
        ("late" = Option<bool>, Query, description = "Only late (true) or only not late (false)"),
        ("cursor" = Option<String>, Query, description = "From the previous page's next_cursor"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
    ),
    responses((status = 200, body = ItemPage), (status = 400, body = crate::problem::Problem)))]
pub async fn list_requests(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<ItemPage>, ApiError> {
    list(&state, &who, ItemKind::Request, raw.as_deref()).await
}

/// `POST /api/v1/requests`: asks a peer for information.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests",
    request_body(content = Object, content_type = "application/json", description = "The request (see docs/api.md) and `to`"),
    responses((status = 201, body = ItemOut), (status = 422, body = crate::problem::Problem)))]
pub async fn create_request(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    compose(&state, &who, ItemKind::Request, body)
        .await
        .map(created)
}

/// `GET /api/v1/requests/{id}`
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = ItemOut), (status = 404, body = crate::problem::Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<ItemOut>, ApiError> {
    get_one(&state, &who, ItemKind::Request, &id).await
}

/// `POST /api/v1/requests/{id}/acknowledge`
#[utoipa::path(post, path = "/api/v1/requests/{id}/acknowledge", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body(content = Object, content_type = "application/json", description = "{}"),
    responses((status = 200, body = ItemOut), (status = 409, body = crate::problem::Problem)))]
pub async fn acknowledge_request(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    step(&state, &who, ItemKind::Request, &id, &body, |v| {
        wire::read_empty(v).map(|()| AnyStep::Request(puente_domain::RequestStep::Acknowledge))
    })
    .await
    .map(stepped)
}

/// `POST /api/v1/requests/{id}/answer`
#[utoipa::path(post, path = "/api/v1/requests/{id}/answer", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body(content = Object, content_type = "application/json", description = "{\"kind\": \"found\", \"text\": {...}, \"entities\": [...]} | {\"kind\": \"not-found\"} | {\"kind\": \"declined\", \"reason\": {...}}"),
    responses((status = 200, body = ItemOut), (status = 409, body = crate::problem::Problem)))]
pub async fn answer_request(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    step(&state, &who, ItemKind::Request, &id, &body, |v| {
        wire::read_answer(v).map(|a| AnyStep::Request(puente_domain::RequestStep::Answer(a)))
    })
    .await
    .map(stepped)
}

/// `POST /api/v1/requests/{id}/withdraw`
#[utoipa::path(post, path = "/api/v1/requests/{id}/withdraw", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body(content = Object, content_type = "application/json", description = "{\"reason\": {...}}"),
    responses((status = 200, body = ItemOut), (status = 409, body = crate::problem::Problem)))]
pub async fn withdraw_request(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    step(&state, &who, ItemKind::Request, &id, &body, |v| {
        wire::read_reason(v)
            .map(|reason| AnyStep::Request(puente_domain::RequestStep::Withdraw { reason }))
    })
    .await
    .map(stepped)
}

// ---- peers and reciprocity --------------------------------------------------------------------

/// A registered peer and where the exchange with it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerOut {
    pub party: String,
    pub endpoint: String,
    pub signing_key: String,
    pub tls_fingerprint: String,
    /// Envelopes sent but not yet acknowledged by a receipt.
    pub backlog: u64,
    pub oldest_undelivered_at: Option<String>,
    pub last_contact_at: Option<String>,
    pub last_error: Option<String>,
    pub next_out_seq: u64,
    pub next_in_seq: u64,
}

/// `GET /api/v1/peers`
#[utoipa::path(get, path = "/api/v1/peers", tag = "peers",
    responses((status = 200, body = [PeerOut]), (status = 403, body = crate::problem::Problem)))]
pub async fn list_peers(
    State(state): State<AppState>,
    who: Authed,
) -> Result<Json<Vec<PeerOut>>, ApiError> {
    may(&state, &who, Act::List, ResourceKind::Peer).await?;
    let peers = state.inner.store.list_peers().await?;
    audit_read(
        &state,
        &who,
        "peer.list",
        None,
        json!({ "count": peers.len() }),
    )
    .await?;
    Ok(Json(
        peers
            .into_iter()
            .map(|p| PeerOut {
                party: p.party.to_string(),
                endpoint: p.endpoint,
                signing_key: p.signing_key,
                tls_fingerprint: p.tls_fingerprint,
                backlog: p.backlog,
                oldest_undelivered_at: p.oldest_undelivered_at.map(rfc3339),
                last_contact_at: p.last_contact_at.map(rfc3339),
                last_error: p.last_error,
                next_out_seq: p.next_out_seq,
                next_in_seq: p.next_in_seq,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomesOut {
    pub acted: u64,
    pub no_trace: u64,
    pub found: u64,
    pub not_found: u64,
    pub declined: u64,
    pub withdrawn: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectionOut {
    /// Items sent (outbound) or received (inbound).
    pub items: u64,
    pub acknowledged: u64,
    pub acknowledged_in_time: u64,
    /// Median seconds from sending to the recipient's first sign of receipt.
    pub median_seconds_to_acknowledge: Option<i64>,
    /// Closed items by how they ended: the outcomes reported.
    pub outcomes: OutcomesOut,
    pub open: u64,
    pub overdue_now: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReciprocityOut {
    /// The peer the figures are about, or null for all peers.
    pub peer: Option<String>,
    pub referrals: ReciprocityPair,
    pub requests: ReciprocityPair,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReciprocityPair {
    pub outbound: DirectionOut,
    pub inbound: DirectionOut,
}

fn direction_out(d: &puente_domain::reciprocity::DirectionFigures) -> DirectionOut {
    DirectionOut {
        items: d.items,
        acknowledged: d.acknowledged,
        acknowledged_in_time: d.acknowledged_in_time,
        median_seconds_to_acknowledge: d.median_to_acknowledge.map(|m| m.whole_seconds()),
        outcomes: OutcomesOut {
            acted: d.outcomes.acted,
            no_trace: d.outcomes.no_trace,
            found: d.outcomes.found,
            not_found: d.outcomes.not_found,
            declined: d.outcomes.declined,
            withdrawn: d.outcomes.withdrawn,
        },
        open: d.open,
        overdue_now: d.overdue_now,
    }
}

/// `GET /api/v1/reciprocity[?peer=MX]`: per kind and direction, what was sent and received,
/// acknowledged (in time), the median time to acknowledge, and the outcomes reported.
#[utoipa::path(get, path = "/api/v1/reciprocity", tag = "peers",
    params(("peer" = Option<String>, Query, description = "Only the exchange with this party")),
    responses((status = 200, body = ReciprocityOut), (status = 403, body = crate::problem::Problem)))]
pub async fn get_reciprocity(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<ReciprocityOut>, ApiError> {
    let x = exchange(&state)?;
    may(&state, &who, Act::Read, ResourceKind::Reciprocity).await?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let peer = query_param(&mut q, &mut e, "peer", "party", |p| {
        PartyCode::parse(p).ok()
    });
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    let me = state.inner.party;
    let at = OffsetDateTime::now_utc();
    let mut pairs = Vec::with_capacity(2);
    for kind in [ItemKind::Referral, ItemKind::Request] {
        let mut summaries = Vec::new();
        let mut after = None;
        loop {
            let filter = ItemFilter {
                kind: Some(kind),
                ..ItemFilter::default()
            };
            let paged = state
                .inner
                .store
                .list_items(&filter, Page { after, limit: 500 })
                .await?;
            for item in &paged.items {
                let other = if item.originator == me {
                    item.recipient
                } else {
                    item.originator
                };
                if peer.is_some_and(|p| p != other) {
                    continue;
                }
                summaries.push(ItemSummary {
                    direction: if item.originator == me {
                        FlowDirection::Outbound
                    } else {
                        FlowDirection::Inbound
                    },
                    urgency: item.urgency.parse().unwrap_or(Urgency::Routine),
                    timeline: timeline(item),
                });
            }
            match paged.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let r = reciprocity(&summaries, &x.settings().clocks, at);
        pairs.push(ReciprocityPair {
            outbound: direction_out(&r.outbound),
            inbound: direction_out(&r.inbound),
        });
    }
    audit_read(
        &state,
        &who,
        "reciprocity.read",
        peer.map(|p| p.to_string()),
        json!({}),
    )
    .await?;
    let requests = pairs.pop();
    let referrals = pairs.pop();
    let (Some(referrals), Some(requests)) = (referrals, requests) else {
        return Err(ApiError::internal(&"reciprocity figures missing"));
    };
    Ok(Json(ReciprocityOut {
        peer: peer.map(|p| p.to_string()),
        referrals,
        requests,
    }))
}
