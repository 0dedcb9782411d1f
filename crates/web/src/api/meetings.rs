//! `/api/v1/meetings`: meetings of the implementation group, their decisions and follow-ups, and
//! the agenda built from what is due, overdue or at risk.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use puente_domain::error::Errors;
use puente_domain::{
    AgendaSubject, FieldErrorCode, FollowUp, MeetingDecision, MeetingDraft, RecordMeta,
    build_agenda,
};
use puente_policy::{Act, ResourceKind};
use puente_store::MeetingFilter;
use serde_json::Value;
use uuid::Uuid;

use super::dto::{AgendaItemOut, AgendaOut, MeetingOut, MeetingPage, TextOut};
use super::{Scope, authorize, cursor, may, now, page, parse_day, query_param, readable, today};
use crate::auth::Authed;
use crate::input::{JsonBody, Query, done, localized, object, strings};
use crate::problem::ApiError;
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::Meeting;
const TEXT_MAX: usize = 2000;

fn parse(v: &Value, update: bool) -> Result<(MeetingDraft, i64), ApiError> {
    let mut e = Errors::new();
    let parsed = object(&mut e, "", v).and_then(|mut o| {
        let date = o.date(&mut e, "date");
        let place = o.str(&mut e, "place");
        let attendees = o
            .opt_array(&mut e, "attendees")
            .map(|a| strings(&mut e, "/attendees", a));
        let decisions = o.opt_array(&mut e, "decisions").map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, d)| {
                    localized(&mut e, &format!("/decisions/{i}"), d, TEXT_MAX)
                        .map(|text| MeetingDecision { text })
                })
                .collect::<Vec<_>>()
        });
        let follow_ups = o.opt_array(&mut e, "follow_ups").map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    let mut fo = object(&mut e, &format!("/follow_ups/{i}"), f)?;
                    let id = match fo.get("id") {
                        None => Some(Uuid::now_v7()),
                        Some(_) => fo.uuid(&mut e, "id"),
                    };
                    let title = fo.localized(&mut e, "title", TEXT_MAX);
                    let owner = fo.party(&mut e, "owner");
                    let due = fo.date(&mut e, "due");
                    let completed_on = fo.opt_date(&mut e, "completed_on");
                    // Completion is reported after the fact, never ahead of it.
                    if completed_on.is_some_and(|c| c > today()) {
                        e.push(fo.ptr("completed_on"), FieldErrorCode::OutOfRange);
                    }
                    fo.finish(&mut e);
                    Some(FollowUp {
                        id: id?,
                        title: title?,
                        owner: owner?,
                        due: due?,
                        completed_on,
                    })
                })
                .collect::<Vec<_>>()
        });
        let version = if update {
            super::version(&mut o, &mut e)
        } else {
            Some(0)
        };
        o.finish(&mut e);
        let draft = e.take(MeetingDraft::new(
            date?,
            place?,
            attendees?,
            decisions?,
            follow_ups?,
        ))?;
        Some((draft, version?))
    });
    Ok(done(e, parsed)?)
}

/// `GET /api/v1/meetings`
#[utoipa::path(get, path = "/api/v1/meetings", tag = "meetings",
    params(("date_from" = Option<String>, Query), ("date_to" = Option<String>, Query),
           ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = MeetingPage), (status = 400, body = crate::problem::Problem),
              (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<MeetingPage>, ApiError> {
    may(&state, &who, Act::List, KIND).await?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let filter = MeetingFilter {
        date_from: query_param(&mut q, &mut e, "date_from", "date", parse_day),
        date_to: query_param(&mut q, &mut e, "date_to", "date", parse_day),
    };
    let page = page(&mut q, &mut e);
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    let paged = state.inner.store.list_meetings(&filter, page).await?;
    let today = today();
    let items: Vec<MeetingOut> = readable(
        &state,
        &who,
        KIND,
        &paged.items,
        |m| m.meta.id,
        |m| Scope::origin(m.meta.origin),
    )
    .into_iter()
    .map(|m| MeetingOut::of(m, today))
    .collect();
    Ok(Json(MeetingPage {
        items,
        next_cursor: cursor(paged.next),
    }))
}

async fn load(
    state: &AppState,
    who: &Authed,
    raw: &str,
    act: Act,
) -> Result<puente_domain::Meeting, ApiError> {
    let scope = |r: &puente_domain::Meeting| Scope::origin(r.meta.origin);
    super::load(
        state,
        who,
        raw,
        KIND,
        act,
        |id| state.inner.store.get_meeting(id),
        scope,
    )
    .await
}

/// `GET /api/v1/meetings/{id}`
#[utoipa::path(get, path = "/api/v1/meetings/{id}", tag = "meetings", params(("id" = Uuid, Path)),
    responses((status = 200, body = MeetingOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<MeetingOut>, ApiError> {
    let m = load(&state, &who, &id, Act::Read).await?;
    Ok(Json(MeetingOut::of(&m, today())))
}

/// `POST /api/v1/meetings`
#[utoipa::path(post, path = "/api/v1/meetings", tag = "meetings",
    request_body(content = super::dto::MeetingIn, content_type = "application/json"),
    responses((status = 201, body = MeetingOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<MeetingOut>), ApiError> {
    may(&state, &who, Act::Create, KIND).await?;
    let (draft, _) = parse(&body, false)?;
    let now = now();
    let meta = RecordMeta::new(Uuid::now_v7(), state.inner.party, now);
    let m = state
        .inner
        .store
        .create_meeting(&who.ctx(now), &meta, &draft)
        .await?;
    Ok((StatusCode::CREATED, Json(MeetingOut::of(&m, today()))))
}

/// `PUT /api/v1/meetings/{id}`
#[utoipa::path(put, path = "/api/v1/meetings/{id}", tag = "meetings", params(("id" = Uuid, Path)),
    request_body(content = super::dto::MeetingIn, content_type = "application/json"),
    responses((status = 200, body = MeetingOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<MeetingOut>, ApiError> {
    may(&state, &who, Act::Update, KIND).await?;
    let current = load(&state, &who, &id, Act::Update).await?;
    let (draft, version) = parse(&body, true)?;
    let now = now();
    let m = state
        .inner
        .store
        .update_meeting(&who.ctx(now), current.meta.id, version, &draft)
        .await?;
    Ok(Json(MeetingOut::of(&m, today())))
}

/// `GET /api/v1/meetings/{id}/agenda`: built by the agenda rule (see `puente_domain::agenda`).
#[utoipa::path(get, path = "/api/v1/meetings/{id}/agenda", tag = "meetings", params(("id" = Uuid, Path)),
    responses((status = 200, body = AgendaOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn agenda(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<AgendaOut>, ApiError> {
    agenda_of(&state, &who, &id, usize::MAX)
        .await
        .map(|(a, _)| Json(a))
}

/// The agenda of meeting `id` with at most `limit` items (the first by the agenda rule's
/// order), and how many it has in all: only the items shown are loaded and asked about.
pub(crate) async fn agenda_of(
    state: &AppState,
    who: &Authed,
    id: &str,
    limit: usize,
) -> Result<(AgendaOut, usize), ApiError> {
    let (state, who) = (state.clone(), who.clone());
    let m = load(&state, &who, id, Act::Read).await?;
    may(&state, &who, Act::List, ResourceKind::Commitment).await?;
    let store = &state.inner.store;
    let date = m.body.date;
    let since = store.previous_meeting_date(date, m.meta.id).await?;
    // The rule runs over the first `limit` commitments of each reason and every follow-up,
    // which hold the agenda's first `limit` items; the totals come with them.
    let (head, commitments) = store.agenda_head(date, since, m.meta.id, limit).await?;
    let items = build_agenda(date, since, head);
    let follow_ups = items
        .iter()
        .filter(|i| matches!(i.subject, AgendaSubject::FollowUp { .. }))
        .count();
    let total = usize::try_from(commitments)
        .unwrap_or(usize::MAX)
        .saturating_add(follow_ups);
    let items: Vec<_> = items.into_iter().take(limit).collect();
    let shown: Vec<Uuid> = items
        .iter()
        .filter_map(|i| match i.subject {
            AgendaSubject::Commitment(id) => Some(id),
            AgendaSubject::FollowUp { .. } => None,
        })
        .collect();
    let mut commitments: std::collections::HashMap<Uuid, _> = store
        .get_commitments(&shown)
        .await?
        .into_iter()
        .map(|c| (c.meta.id, c))
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (kind, id, meeting, title, owners) = match item.subject {
            AgendaSubject::Commitment(cid) => {
                let Some(c) = commitments.remove(&cid) else {
                    continue;
                };
                let owners = c.body.owners.parties();
                let sid = cid.to_string();
                let ok = authorize(
                    &state,
                    &who,
                    Act::Read,
                    ResourceKind::Commitment,
                    Some(&sid),
                    &owners,
                    Some(&c.body.agency),
                )
                .await
                .is_ok();
                if !ok {
                    continue;
                }
                (
                    "commitment",
                    cid,
                    None,
                    TextOut::from(&c.body.title),
                    owners,
                )
            }
            AgendaSubject::FollowUp { meeting, follow_up } => {
                let Some(mt) = store.get_meeting(meeting).await? else {
                    continue;
                };
                let Some(f) = mt.body.follow_ups.iter().find(|f| f.id == follow_up) else {
                    continue;
                };
                (
                    "follow-up",
                    follow_up,
                    Some(meeting),
                    TextOut::from(&f.title),
                    vec![f.owner],
                )
            }
        };
        out.push(AgendaItemOut {
            reason: item.reason.as_str(),
            kind,
            id,
            meeting,
            title,
            owners: owners.iter().map(ToString::to_string).collect(),
            status: item.status.as_str(),
            due: item.due.to_string(),
        });
    }
    Ok((
        AgendaOut {
            meeting: m.meta.id,
            date: date.to_string(),
            since: since.map(|d| d.to_string()),
            items: out,
        },
        total,
    ))
}
