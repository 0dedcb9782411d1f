//! `/api/v1/actions`: what a party did within its own territory, linked to a commitment it owns
//! (alone or jointly).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use puente_domain::commitment::MAX_DESCRIPTION;
use puente_domain::error::Errors;
use puente_domain::{Action, ActionDraft, FieldErrorCode, Output, PartyCode, RecordMeta, Role};
use puente_policy::{Act, ResourceKind};
use puente_store::ActionFilter;
use serde_json::Value;
use uuid::Uuid;

use super::dto::{ActionOut, ActionPage};
use super::{Scope, authorize, cursor, may, now, page, parse_day, query_param, readable, today};
use crate::auth::Authed;
use crate::input::{JsonBody, Query, done, object, strings};
use crate::problem::ApiError;
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::ActionRecord;

fn parse(v: &Value, update: bool) -> Result<(ActionDraft, i64), ApiError> {
    let mut e = Errors::new();
    let parsed = object(&mut e, "", v).and_then(|mut o| {
        let commitment = o.uuid(&mut e, "commitment");
        let date = o.date(&mut e, "date");
        let agency = o.str(&mut e, "agency");
        let description = o.localized(&mut e, "description", MAX_DESCRIPTION);
        let outputs = o.opt_array(&mut e, "outputs").map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let ptr = format!("/outputs/{i}");
                    let mut oo = object(&mut e, &ptr, item)?;
                    let value = oo.f64(&mut e, "value");
                    let unit = oo.str(&mut e, "unit");
                    let what = oo.str(&mut e, "what");
                    oo.finish(&mut e);
                    e.take(Output::new(&ptr, value?, unit?, what?))
                })
                .collect::<Vec<_>>()
        });
        let evidence = o
            .opt_array(&mut e, "evidence")
            .map(|a| strings(&mut e, "/evidence", a));
        let completes = o.bool_or(&mut e, "completes", false);
        let version = if update {
            super::version(&mut o, &mut e)
        } else {
            Some(0)
        };
        o.finish(&mut e);
        let draft = e.take(ActionDraft::new(
            commitment?,
            date?,
            agency?,
            description?,
            outputs?,
            evidence?,
            completes,
        ))?;
        Some((draft, version?))
    });
    Ok(done(e, parsed)?)
}

/// `GET /api/v1/actions`
#[utoipa::path(get, path = "/api/v1/actions", tag = "actions",
    params(
        ("commitment" = Option<Uuid>, Query, description = "Actions on this commitment"),
        ("party" = Option<String>, Query, description = "Taken by this party"),
        ("agency" = Option<String>, Query),
        ("date_from" = Option<String>, Query, description = "On or after (YYYY-MM-DD)"),
        ("date_to" = Option<String>, Query, description = "On or before (YYYY-MM-DD)"),
        ("order" = Option<String>, Query, description = "`latest`: newest first (by date, then id), one page only (no next cursor; `cursor` is refused)"),
        ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query),
    ),
    responses((status = 200, body = ActionPage), (status = 400, body = crate::problem::Problem),
              (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<ActionPage>, ApiError> {
    may(&state, &who, Act::List, KIND).await?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let mut filter = ActionFilter {
        commitment: query_param(&mut q, &mut e, "commitment", "uuid", |s| {
            Uuid::try_parse(s).ok()
        }),
        party: query_param(&mut q, &mut e, "party", "party", |p| {
            PartyCode::parse(p).ok()
        }),
        agency: q.get("agency").map(str::to_owned),
        date_from: query_param(&mut q, &mut e, "date_from", "date", parse_day),
        date_to: query_param(&mut q, &mut e, "date_to", "date", parse_day),
        latest_first: query_param(&mut q, &mut e, "order", "latest", |o| {
            (o == "latest").then_some(true)
        })
        .unwrap_or(false),
    };
    let page = page(&mut q, &mut e);
    if filter.latest_first && page.after.is_some() {
        e.push("/cursor", FieldErrorCode::Contradictory);
    }
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    if who.user.role == Role::AgencyUser {
        filter.agency = Some(who.user.agency.clone().unwrap_or_default());
    }
    let paged = state.inner.store.list_actions(&filter, page).await?;
    let items: Vec<ActionOut> = readable(
        &state,
        &who,
        KIND,
        &paged.items,
        |a| a.meta.id,
        |a| Scope {
            owners: vec![a.meta.origin],
            agency: Some(a.body.agency.clone()),
        },
    )
    .into_iter()
    .map(ActionOut::from)
    .collect();
    Ok(Json(ActionPage {
        items,
        next_cursor: cursor(paged.next),
    }))
}

/// How many actions are dated in `[from, to]` within what the user may list (an agency user's
/// own agency): counted per day by the store, not by reading the actions. The count follows the
/// shipped policy, under which what a role may list depends on its agency alone; a node whose
/// own policy forbids particular records would count some its users cannot open.
pub(crate) async fn count_in(
    state: &AppState,
    who: &Authed,
    from: time::Date,
    to: time::Date,
) -> Result<u64, ApiError> {
    may(state, who, Act::List, KIND).await?;
    let agency =
        (who.user.role == Role::AgencyUser).then(|| who.user.agency.clone().unwrap_or_default());
    Ok(state
        .inner
        .store
        .count_actions(agency.as_deref(), from, to)
        .await?)
}

/// `GET /api/v1/actions/{id}`
#[utoipa::path(get, path = "/api/v1/actions/{id}", tag = "actions", params(("id" = Uuid, Path)),
    responses((status = 200, body = ActionOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<ActionOut>, ApiError> {
    Ok(Json(ActionOut::from(
        &load(&state, &who, &id, Act::Read).await?,
    )))
}

async fn load(state: &AppState, who: &Authed, raw: &str, act: Act) -> Result<Action, ApiError> {
    let scope = |r: &Action| Scope {
        owners: vec![r.meta.origin],
        agency: Some(r.body.agency.clone()),
    };
    super::load(
        state,
        who,
        raw,
        KIND,
        act,
        |id| state.inner.store.get_action(id),
        scope,
    )
    .await
}

/// The commitment an action is linked to must exist and be owned (alone or jointly) by the
/// acting party: actions happen within one's own territory.
async fn check_commitment(
    state: &AppState,
    who: &Authed,
    act: Act,
    draft: &ActionDraft,
    was_completing: bool,
) -> Result<(), ApiError> {
    let c = state
        .inner
        .store
        .get_commitment(draft.commitment)
        .await?
        .ok_or_else(|| {
            ApiError::Invalid(puente_domain::Invalid::one(
                "/commitment",
                FieldErrorCode::UnknownCommitment,
            ))
        })?;
    let sid = draft.commitment.to_string();
    authorize(
        state,
        who,
        act,
        KIND,
        Some(&sid),
        &c.body.owners.parties(),
        Some(&draft.agency),
    )
    .await?;
    // Each party records its own actions on a joint commitment, but declaring it fulfilled (or
    // no longer fulfilled) changes the joint commitment, which one party cannot do alone.
    if c.body.owners.is_joint() && (draft.completes || was_completing) {
        return Err(ApiError::JointChange);
    }
    Ok(())
}

/// Actions record what was done: a date after today is a plan, not an action.
fn not_in_future(draft: &ActionDraft) -> Result<(), ApiError> {
    if draft.date > today() {
        return Err(ApiError::Invalid(puente_domain::Invalid::one(
            "/date",
            FieldErrorCode::OutOfRange,
        )));
    }
    Ok(())
}

/// `POST /api/v1/actions`
#[utoipa::path(post, path = "/api/v1/actions", tag = "actions",
    request_body(content = super::dto::ActionIn, content_type = "application/json"),
    responses((status = 201, body = ActionOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<ActionOut>), ApiError> {
    may(&state, &who, Act::Create, KIND).await?;
    let (draft, _) = parse(&body, false)?;
    not_in_future(&draft)?;
    check_commitment(&state, &who, Act::Create, &draft, false).await?;
    let now = now();
    let meta = RecordMeta::new(Uuid::now_v7(), state.inner.party, now);
    let a = state
        .inner
        .store
        .create_action(&who.ctx(now), &meta, &draft)
        .await?;
    Ok((StatusCode::CREATED, Json(ActionOut::from(&a))))
}

/// `PUT /api/v1/actions/{id}`
#[utoipa::path(put, path = "/api/v1/actions/{id}", tag = "actions", params(("id" = Uuid, Path)),
    request_body(content = super::dto::ActionIn, content_type = "application/json"),
    responses((status = 200, body = ActionOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<ActionOut>, ApiError> {
    may(&state, &who, Act::Update, KIND).await?;
    let current = load(&state, &who, &id, Act::Update).await?;
    let id = current.meta.id;
    let (draft, version) = parse(&body, true)?;
    if draft.commitment != current.body.commitment {
        return Err(ApiError::Invalid(puente_domain::Invalid::one(
            "/commitment",
            FieldErrorCode::Immutable,
        )));
    }
    not_in_future(&draft)?;
    check_commitment(&state, &who, Act::Update, &draft, current.body.completes).await?;
    let now = now();
    let a = state
        .inner
        .store
        .update_action(&who.ctx(now), id, version, &draft)
        .await?;
    Ok(Json(ActionOut::from(&a)))
}
