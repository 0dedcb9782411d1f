//! `/api/v1/indicators` and their measurements: baseline, targets, actuals per period and party,
//! and computed progress.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use puente_domain::error::Errors;
use puente_domain::{
    Direction, FieldErrorCode, IndicatorDraft, MeasurementDraft, RecordMeta, Target,
};
use puente_policy::{Act, ResourceKind};
use puente_store::IndicatorFilter;
use serde_json::Value;
use uuid::Uuid;

use super::dto::{IndicatorOut, IndicatorPage, MeasurementOut};
use super::{Scope, authorize, cursor, may, now, page, path_id, query_param, readable};
use crate::auth::Authed;
use crate::input::{JsonBody, Query, done, object};
use crate::problem::ApiError;
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::Indicator;
const NAME_MAX: usize = 200;

fn parse(state: &AppState, v: &Value, update: bool) -> Result<(IndicatorDraft, i64), ApiError> {
    let mut e = Errors::new();
    let parsed = object(&mut e, "", v).and_then(|mut o| {
        let code = o.str(&mut e, "code");
        let area = match o.opt_str(&mut e, "area") {
            Some(a) => {
                let p = o.ptr("area");
                e.take(state.inner.program.parse_area(&p, a)).map(Some)
            }
            None => Some(None),
        };
        let name = o.localized(&mut e, "name", NAME_MAX);
        let unit = o.str(&mut e, "unit");
        let direction = o.str(&mut e, "direction").and_then(|d| {
            let r = Direction::parse(d);
            if r.is_none() {
                e.push(
                    o.ptr("direction"),
                    FieldErrorCode::InvalidFormat {
                        expected: "direction",
                    },
                );
            }
            r
        });
        let baseline = o.get("baseline");
        let baseline = match baseline {
            None => {
                e.push("/baseline", FieldErrorCode::Missing);
                None
            }
            Some(b) => object(&mut e, "/baseline", b).and_then(|mut bo| {
                let value = bo.f64(&mut e, "value");
                let period = bo.period(&mut e, "period");
                bo.finish(&mut e);
                value.zip(period)
            }),
        };
        let targets = o.opt_array(&mut e, "targets").map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    let mut to = object(&mut e, &format!("/targets/{i}"), t)?;
                    let period = to.period(&mut e, "period");
                    let value = to.f64(&mut e, "value");
                    to.finish(&mut e);
                    Some(Target {
                        period: period?,
                        value: value?,
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
        let (bv, bp) = baseline?;
        let draft = e.take(IndicatorDraft::new(
            code?, area?, name?, unit?, direction?, bv, bp, targets?,
        ))?;
        Some((draft, version?))
    });
    Ok(done(e, parsed)?)
}

/// An indicator with its actuals and progress — the measurements only if the user may see them.
async fn out(
    state: &AppState,
    who: &Authed,
    i: &puente_domain::Indicator,
) -> Result<IndicatorOut, ApiError> {
    let ms = if may(state, who, Act::List, ResourceKind::Measurement)
        .await
        .is_ok()
    {
        state.inner.store.list_measurements(i.meta.id).await?
    } else {
        vec![]
    };
    Ok(IndicatorOut::of(i, &ms))
}

/// `GET /api/v1/indicators`
#[utoipa::path(get, path = "/api/v1/indicators", tag = "indicators",
    params(("area" = Option<String>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = IndicatorPage), (status = 400, body = crate::problem::Problem),
              (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<IndicatorPage>, ApiError> {
    may(&state, &who, Act::List, KIND).await?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let program = &state.inner.program;
    let filter = IndicatorFilter {
        area: query_param(&mut q, &mut e, "area", "area", |a| {
            program.area(a).map(|a| a.code.clone())
        }),
    };
    let page = page(&mut q, &mut e);
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    let paged = state.inner.store.list_indicators(&filter, page).await?;
    let mut items = Vec::with_capacity(paged.items.len());
    let visible = readable(
        &state,
        &who,
        KIND,
        &paged.items,
        |i| i.meta.id,
        |i| Scope::origin(i.meta.origin),
    );
    for i in visible {
        items.push(out(&state, &who, i).await?);
    }
    Ok(Json(IndicatorPage {
        items,
        next_cursor: cursor(paged.next),
    }))
}

async fn load(
    state: &AppState,
    who: &Authed,
    raw: &str,
    act: Act,
) -> Result<puente_domain::Indicator, ApiError> {
    let scope = |r: &puente_domain::Indicator| Scope::origin(r.meta.origin);
    super::load(
        state,
        who,
        raw,
        KIND,
        act,
        |id| state.inner.store.get_indicator(id),
        scope,
    )
    .await
}

/// `GET /api/v1/indicators/{id}`
#[utoipa::path(get, path = "/api/v1/indicators/{id}", tag = "indicators", params(("id" = Uuid, Path)),
    responses((status = 200, body = IndicatorOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<IndicatorOut>, ApiError> {
    let i = load(&state, &who, &id, Act::Read).await?;
    Ok(Json(out(&state, &who, &i).await?))
}

/// `POST /api/v1/indicators`
#[utoipa::path(post, path = "/api/v1/indicators", tag = "indicators",
    request_body(content = super::dto::IndicatorIn, content_type = "application/json"),
    responses((status = 201, body = IndicatorOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<IndicatorOut>), ApiError> {
    may(&state, &who, Act::Create, KIND).await?;
    let (draft, _) = parse(&state, &body, false)?;
    let now = now();
    let meta = RecordMeta::new(Uuid::now_v7(), state.inner.party, now);
    let i = state
        .inner
        .store
        .create_indicator(&who.ctx(now), &meta, &draft)
        .await?;
    Ok((StatusCode::CREATED, Json(out(&state, &who, &i).await?)))
}

/// `PUT /api/v1/indicators/{id}`
#[utoipa::path(put, path = "/api/v1/indicators/{id}", tag = "indicators", params(("id" = Uuid, Path)),
    request_body(content = super::dto::IndicatorIn, content_type = "application/json"),
    responses((status = 200, body = IndicatorOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<IndicatorOut>, ApiError> {
    may(&state, &who, Act::Update, KIND).await?;
    let current = load(&state, &who, &id, Act::Update).await?;
    let (draft, version) = parse(&state, &body, true)?;
    let now = now();
    let i = state
        .inner
        .store
        .update_indicator(&who.ctx(now), current.meta.id, version, &draft)
        .await?;
    Ok(Json(out(&state, &who, &i).await?))
}

fn parse_measurement(
    state: &AppState,
    indicator: Uuid,
    v: &Value,
    update: bool,
) -> Result<(MeasurementDraft, i64), ApiError> {
    let mut e = Errors::new();
    let parsed = object(&mut e, "", v).and_then(|mut o| {
        let period = o.period(&mut e, "period");
        let party = match o.get("party") {
            None => Some(state.inner.party),
            Some(_) => o.party(&mut e, "party"),
        };
        let value = o.f64(&mut e, "value");
        let source = o.str(&mut e, "source");
        let version = if update {
            super::version(&mut o, &mut e)
        } else {
            Some(0)
        };
        o.finish(&mut e);
        let draft = e.take(MeasurementDraft::new(
            indicator, period?, party?, value?, source?,
        ))?;
        Some((draft, version?))
    });
    Ok(done(e, parsed)?)
}

/// All measurements of an indicator are for periods of one kind (all years, all quarters or all
/// months): the latest period's sum is its actual, and a December figure must not stand in for a
/// year's.
fn same_kind_of_period<'a>(
    draft: &MeasurementDraft,
    others: impl IntoIterator<Item = &'a MeasurementDraft>,
) -> Result<(), ApiError> {
    let kind = std::mem::discriminant(&draft.period);
    if others
        .into_iter()
        .any(|m| std::mem::discriminant(&m.period) != kind)
    {
        return Err(ApiError::Invalid(puente_domain::Invalid::one(
            "/period",
            FieldErrorCode::InvalidFormat {
                expected: "period-same-kind",
            },
        )));
    }
    Ok(())
}

/// `GET /api/v1/indicators/{id}/measurements`
#[utoipa::path(get, path = "/api/v1/indicators/{id}/measurements", tag = "indicators",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<MeasurementOut>), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn list_measurements(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<Vec<MeasurementOut>>, ApiError> {
    let i = load(&state, &who, &id, Act::Read).await?;
    may(&state, &who, Act::List, ResourceKind::Measurement).await?;
    let ms = state.inner.store.list_measurements(i.meta.id).await?;
    Ok(Json(ms.iter().map(MeasurementOut::from).collect()))
}

/// `POST /api/v1/indicators/{id}/measurements`: an actual for a period, by this node's party.
#[utoipa::path(post, path = "/api/v1/indicators/{id}/measurements", tag = "indicators",
    params(("id" = Uuid, Path)),
    request_body(content = super::dto::MeasurementIn, content_type = "application/json"),
    responses((status = 201, body = MeasurementOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn create_measurement(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<MeasurementOut>), ApiError> {
    let kind = ResourceKind::Measurement;
    may(&state, &who, Act::Create, kind).await?;
    let i = load(&state, &who, &id, Act::Read).await?;
    let (draft, _) = parse_measurement(&state, i.meta.id, &body, false)?;
    // A party reports only its own figures.
    authorize(&state, &who, Act::Create, kind, None, &[draft.party], None).await?;
    let existing = state.inner.store.list_measurements(i.meta.id).await?;
    same_kind_of_period(&draft, existing.iter().map(|m| &m.body))?;
    let now = now();
    let meta = RecordMeta::new(Uuid::now_v7(), draft.party, now);
    let m = state
        .inner
        .store
        .create_measurement(&who.ctx(now), &meta, &draft)
        .await?;
    Ok((StatusCode::CREATED, Json(MeasurementOut::from(&m))))
}

/// `PUT /api/v1/indicators/{id}/measurements/{mid}`
#[utoipa::path(put, path = "/api/v1/indicators/{id}/measurements/{mid}", tag = "indicators",
    params(("id" = Uuid, Path), ("mid" = Uuid, Path)),
    request_body(content = super::dto::MeasurementIn, content_type = "application/json"),
    responses((status = 200, body = MeasurementOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn update_measurement(
    State(state): State<AppState>,
    who: Authed,
    Path((id, mid)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Json<MeasurementOut>, ApiError> {
    let kind = ResourceKind::Measurement;
    may(&state, &who, Act::Update, kind).await?;
    let i = load(&state, &who, &id, Act::Read).await?;
    let mid = path_id(&mid, "measurement")?;
    let ms = state.inner.store.list_measurements(i.meta.id).await?;
    let current = ms
        .iter()
        .find(|m| m.meta.id == mid)
        .ok_or(ApiError::NotFound {
            kind: "measurement",
        })?;
    let smid = mid.to_string();
    authorize(
        &state,
        &who,
        Act::Update,
        kind,
        Some(&smid),
        &[current.meta.origin],
        None,
    )
    .await?;
    let (draft, version) = parse_measurement(&state, i.meta.id, &body, true)?;
    same_kind_of_period(
        &draft,
        ms.iter().filter(|m| m.meta.id != mid).map(|m| &m.body),
    )?;
    if draft.party != current.body.party {
        return Err(ApiError::Invalid(puente_domain::Invalid::one(
            "/party",
            FieldErrorCode::Immutable,
        )));
    }
    let now = now();
    let m = state
        .inner
        .store
        .update_measurement(&who.ctx(now), mid, version, &draft)
        .await?;
    Ok(Json(MeasurementOut::from(&m)))
}
