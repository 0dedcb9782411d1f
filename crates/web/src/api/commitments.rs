//! `/api/v1/commitments`: list, get, create, update. A party changes only the commitments it
//! owns; a joint commitment is refused with 409 until co-signed changes exist.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use puente_domain::commitment::{MAX_DESCRIPTION, MAX_TITLE};
use puente_domain::error::Errors;
use puente_domain::{Commitment, CommitmentDraft, FieldErrorCode, Owners, PartyCode, Status};
use puente_policy::{Act, ResourceKind};
use puente_store::CommitmentFilter;
use serde_json::Value;
use uuid::Uuid;

use super::dto::{CommitmentOut, CommitmentPage};
use super::{Scope, authorize, cursor, may, now, page, parse_day, query_param, readable, today};
use crate::auth::Authed;
use crate::input::{JsonBody, Query, done, object, parse_uuid};
use crate::problem::ApiError;
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::Commitment;

/// Reads a commitment body; `update` requires a `version`.
fn parse(state: &AppState, v: &Value, update: bool) -> Result<(CommitmentDraft, i64), ApiError> {
    let mut e = Errors::new();
    let parsed = object(&mut e, "", v).and_then(|mut o| {
        let area = o.str(&mut e, "area").and_then(|a| {
            let p = o.ptr("area");
            e.take(state.inner.program.parse_area(&p, a))
        });
        let title = o.localized(&mut e, "title", MAX_TITLE);
        let description = o.localized(&mut e, "description", MAX_DESCRIPTION);
        let owners = o.array(&mut e, "owners").and_then(|items| {
            let parties: Vec<Option<PartyCode>> = items
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let ptr = format!("/owners/{i}");
                    match p.as_str() {
                        Some(s) => e.take(PartyCode::parse_field(&ptr, s)),
                        None => {
                            e.push(ptr, FieldErrorCode::WrongType { expected: "string" });
                            None
                        }
                    }
                })
                .collect();
            let parties: Option<Vec<PartyCode>> = parties.into_iter().collect();
            parties.and_then(|p| e.take(Owners::new("/owners", &p)))
        });
        let agency = o.str(&mut e, "agency");
        let start = o.date(&mut e, "start");
        let due = o.date(&mut e, "due");
        let indicators = o.opt_array(&mut e, "indicators").map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    let ptr = format!("/indicators/{i}");
                    match x.as_str() {
                        Some(s) => parse_uuid(&mut e, &ptr, s),
                        None => {
                            e.push(ptr, FieldErrorCode::WrongType { expected: "string" });
                            None
                        }
                    }
                })
                .collect::<Vec<_>>()
        });
        let version = if update {
            super::version(&mut o, &mut e)
        } else {
            Some(0)
        };
        o.finish(&mut e);
        let (area, title, description, owners, agency) =
            (area?, title?, description?, owners?, agency?);
        let (start, due, indicators, version) = (start?, due?, indicators?, version?);
        let draft = e.take(CommitmentDraft::new(
            area,
            title,
            description,
            owners,
            agency,
            start,
            due,
            indicators,
        ))?;
        Some((draft, version))
    });
    Ok(done(e, parsed)?)
}

/// `GET /api/v1/commitments`
#[utoipa::path(get, path = "/api/v1/commitments", tag = "commitments",
    params(
        ("area" = Option<String>, Query, description = "Measure area code"),
        ("party" = Option<String>, Query, description = "Owned (alone or jointly) by this party"),
        ("status" = Option<String>, Query, description = "Status today: not-started, on-track, at-risk, overdue, done"),
        ("due_from" = Option<String>, Query, description = "Due on or after (YYYY-MM-DD)"),
        ("due_to" = Option<String>, Query, description = "Due on or before (YYYY-MM-DD)"),
        ("agency" = Option<String>, Query, description = "Responsible agency"),
        ("q" = Option<String>, Query, description = "The title, in English or Spanish, contains this text (ignoring ASCII case)"),
        ("cursor" = Option<String>, Query, description = "From the previous page's next_cursor"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
    ),
    responses((status = 200, body = CommitmentPage), (status = 400, body = crate::problem::Problem),
              (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<CommitmentPage>, ApiError> {
    may(&state, &who, Act::List, KIND).await?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let program = &state.inner.program;
    let today = today();
    let mut filter = CommitmentFilter {
        area: query_param(&mut q, &mut e, "area", "area", |a| {
            program.area(a).map(|a| a.code.clone())
        }),
        party: query_param(&mut q, &mut e, "party", "party", |p| {
            PartyCode::parse(p).ok()
        }),
        status: query_param(&mut q, &mut e, "status", "status", |s| {
            s.parse::<Status>().ok()
        })
        .map(|s| (s, today)),
        due_from: query_param(&mut q, &mut e, "due_from", "date", parse_day),
        due_to: query_param(&mut q, &mut e, "due_to", "date", parse_day),
        agency: q.get("agency").map(str::to_owned),
        text: q.get("q").map(str::to_owned),
    };
    let page = page(&mut q, &mut e);
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    // An agency user sees only its own agency's commitments, whatever it asked for.
    if who.user.role == puente_domain::Role::AgencyUser {
        filter.agency = Some(who.user.agency.clone().unwrap_or_default());
    }
    let paged = state.inner.store.list_commitments(&filter, page).await?;
    let items = readable(
        &state,
        &who,
        KIND,
        &paged.items,
        |c| c.meta.id,
        |c| Scope {
            owners: c.body.owners.parties(),
            agency: Some(c.body.agency.clone()),
        },
    )
    .into_iter()
    .map(|c| CommitmentOut::of(c, today))
    .collect();
    Ok(Json(CommitmentPage {
        items,
        next_cursor: cursor(paged.next),
    }))
}

async fn load(state: &AppState, who: &Authed, raw: &str, act: Act) -> Result<Commitment, ApiError> {
    let store = &state.inner.store;
    let scope = |c: &Commitment| Scope {
        owners: c.body.owners.parties(),
        agency: Some(c.body.agency.clone()),
    };
    super::load(
        state,
        who,
        raw,
        KIND,
        act,
        |id| store.get_commitment(id),
        scope,
    )
    .await
}

/// `GET /api/v1/commitments/{id}`
#[utoipa::path(get, path = "/api/v1/commitments/{id}", tag = "commitments",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CommitmentOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<CommitmentOut>, ApiError> {
    let c = load(&state, &who, &id, Act::Read).await?;
    Ok(Json(CommitmentOut::of(&c, today())))
}

/// `POST /api/v1/commitments`
#[utoipa::path(post, path = "/api/v1/commitments", tag = "commitments",
    request_body(content = super::dto::CommitmentIn, content_type = "application/json"),
    responses((status = 201, body = CommitmentOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<CommitmentOut>), ApiError> {
    may(&state, &who, Act::Create, KIND).await?;
    let (draft, _) = parse(&state, &body, false)?;
    authorize(
        &state,
        &who,
        Act::Create,
        KIND,
        None,
        &draft.owners.parties(),
        Some(&draft.agency),
    )
    .await?;
    let now = now();
    let meta = puente_domain::RecordMeta::new(Uuid::now_v7(), state.inner.party, now);
    let c = state
        .inner
        .store
        .create_commitment(&who.ctx(now), &meta, &draft)
        .await?;
    Ok((StatusCode::CREATED, Json(CommitmentOut::of(&c, today()))))
}

/// `PUT /api/v1/commitments/{id}`: the new state, with the version it replaces.
#[utoipa::path(put, path = "/api/v1/commitments/{id}", tag = "commitments",
    params(("id" = Uuid, Path)),
    request_body(content = super::dto::CommitmentIn, content_type = "application/json"),
    responses((status = 200, body = CommitmentOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<CommitmentOut>, ApiError> {
    may(&state, &who, Act::Update, KIND).await?;
    let current = load(&state, &who, &id, Act::Update).await?;
    let id = current.meta.id;
    if current.body.owners.is_joint() {
        return Err(ApiError::JointChange);
    }
    let (draft, version) = parse(&state, &body, true)?;
    if draft.owners != current.body.owners {
        return Err(ApiError::Invalid(puente_domain::Invalid::one(
            "/owners",
            FieldErrorCode::Immutable,
        )));
    }
    let now = now();
    let c = state
        .inner
        .store
        .update_commitment(&who.ctx(now), id, version, &draft)
        .await?;
    Ok(Json(CommitmentOut::of(&c, today())))
}
