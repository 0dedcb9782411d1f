//! The routes of the JSON API and what every handler shares: the clock, policy checks, paging.

pub mod actions;
pub mod audit;
pub mod commitments;
pub mod dto;
pub mod exchange;
pub mod indicators;
pub mod log;
pub mod meetings;
pub mod users;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use puente_domain::error::Errors;
use puente_domain::{FieldErrorCode, PartyCode};
use puente_policy::{Act, Decision, Principal, Resource, ResourceKind};
use puente_store::{NewAuditEntry, Page};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::auth::{self, Authed};
use crate::input::Query;
use crate::openapi;
use crate::problem::{ApiError, problem_layer};
use crate::state::AppState;
use dto::{AreaOut, Health, MeOut};

/// Now, to the microsecond (what the store keeps).
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

/// Today in UTC: the day statuses are derived for.
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

pub fn router(state: AppState) -> Router {
    let limit = state.inner.config.max_body_bytes;
    let api = Router::new()
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/me", get(me).put(users::update_me))
        .route("/program", get(program))
        .route(
            "/commitments",
            get(commitments::list).post(commitments::create),
        )
        .route(
            "/commitments/{id}",
            get(commitments::get).put(commitments::update),
        )
        .route("/actions", get(actions::list).post(actions::create))
        .route("/actions/{id}", get(actions::get).put(actions::update))
        .route(
            "/indicators",
            get(indicators::list).post(indicators::create),
        )
        .route(
            "/indicators/{id}",
            get(indicators::get).put(indicators::update),
        )
        .route(
            "/indicators/{id}/measurements",
            get(indicators::list_measurements).post(indicators::create_measurement),
        )
        .route(
            "/indicators/{id}/measurements/{mid}",
            axum::routing::put(indicators::update_measurement),
        )
        .route("/meetings", get(meetings::list).post(meetings::create))
        .route("/meetings/{id}", get(meetings::get).put(meetings::update))
        .route("/meetings/{id}/agenda", get(meetings::agenda))
        .route("/audit", get(audit::list))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get).put(users::update))
        .route(
            "/referrals",
            get(exchange::list_referrals).post(exchange::create_referral),
        )
        .route("/referrals/{id}", get(exchange::get_referral))
        .route(
            "/referrals/{id}/acknowledge",
            post(exchange::acknowledge_referral),
        )
        .route("/referrals/{id}/assign", post(exchange::assign_referral))
        .route("/referrals/{id}/outcome", post(exchange::report_outcome))
        .route(
            "/referrals/{id}/withdraw",
            post(exchange::withdraw_referral),
        )
        .route(
            "/requests",
            get(exchange::list_requests).post(exchange::create_request),
        )
        .route("/requests/{id}", get(exchange::get_request))
        .route(
            "/requests/{id}/acknowledge",
            post(exchange::acknowledge_request),
        )
        .route("/requests/{id}/answer", post(exchange::answer_request))
        .route("/requests/{id}/withdraw", post(exchange::withdraw_request))
        .route("/peers", get(exchange::list_peers))
        .route("/reciprocity", get(exchange::get_reciprocity))
        .route("/log", get(log::list))
        .route("/log/{peer}/checkpoint", get(log::checkpoint))
        .route("/log/{peer}/proof", get(log::proof))
        .route("/log/{peer}/consistency", get(log::consistency))
        .route("/disputes", get(log::disputes))
        .route("/disputes/{id}", get(log::dispute));

    // Fallbacks first: layers wrap only what the router holds when they are added.
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi::serve))
        .nest("/api/v1", api)
        .merge(crate::pages::routes(state.clone()))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NotFound { kind: "route" } })
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            problem_layer,
        ))
        .with_state(state)
}

/// Headers every answer carries: API data is not to be cached, sniffed, framed or leaked by
/// referrer.
async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    // Pages and their assets set their own policy and caching (see `crate::pages`).
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    r
}

/// `GET /`: where things are, for someone who opened the node's address. Public, like
/// `/healthz`; browsers are sent to the web application.
pub async fn index(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // A browser is sent to the web application (which asks it to sign in).
    let browser = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if browser {
        return axum::response::Redirect::to("/home").into_response();
    }
    Json(serde_json::json!({
        "name": "puente",
        "party": state.inner.party.to_string(),
        "api": "/api/v1",
        "openapi": "/api/openapi.json",
        "health": "/healthz",
        "web": "/home",
    }))
    .into_response()
}

/// `GET /healthz`: answers without authentication, and says nothing secret.
#[utoipa::path(get, path = "/healthz", tag = "node", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        party: state.inner.party.to_string(),
        store: state.inner.store.backend(),
    })
}

/// `GET /api/v1/me`: who is asking.
#[utoipa::path(get, path = "/api/v1/me", tag = "users",
    responses((status = 200, body = MeOut), (status = 401, body = crate::problem::Problem)))]
pub async fn me(State(state): State<AppState>, who: Authed) -> Result<Json<MeOut>, ApiError> {
    may(&state, &who, Act::Read, ResourceKind::Me).await?;
    Ok(Json(MeOut::of(&who.user, state.inner.party)))
}

/// `GET /api/v1/program`: the measure areas of the joint program.
#[utoipa::path(get, path = "/api/v1/program", tag = "program",
    responses((status = 200, body = Vec<AreaOut>), (status = 401, body = crate::problem::Problem)))]
pub async fn program(
    State(state): State<AppState>,
    who: Authed,
) -> Result<Json<Vec<AreaOut>>, ApiError> {
    may(&state, &who, Act::List, ResourceKind::Program).await?;
    Ok(Json(
        state
            .inner
            .program
            .areas()
            .iter()
            .map(|a| AreaOut {
                code: a.code.to_string(),
                name: (&a.name).into(),
                description: (&a.description).into(),
            })
            .collect(),
    ))
}

/// Asks the node's policy; a denial is a 403 naming the rule, and a denied write is audited.
pub async fn authorize(
    state: &AppState,
    who: &Authed,
    act: Act,
    kind: ResourceKind,
    id: Option<&str>,
    owners: &[PartyCode],
    agency: Option<&str>,
) -> Result<(), ApiError> {
    let resource = Resource {
        kind,
        id,
        owners,
        agency,
        tlp: None,
        persons: false,
    };
    authorize_resource(state, who, act, &resource).await
}

/// [`authorize`] for a resource with every attribute the policy may look at.
pub async fn authorize_resource(
    state: &AppState,
    who: &Authed,
    act: Act,
    resource: &Resource<'_>,
) -> Result<(), ApiError> {
    let user_id = who.user.meta.id.to_string();
    let principal = Principal {
        user: &user_id,
        role: who.user.role,
        party: state.inner.party,
        agency: who.user.agency.as_deref(),
    };
    match state.inner.policy.authorize(&principal, act, resource) {
        Decision::Allow => Ok(()),
        Decision::Deny(denial) => {
            tracing::info!(user = %who.user.name, rule = %denial.rule, explanation = %denial.explanation, "denied");
            if matches!(act, Act::Create | Act::Update | Act::Release) {
                state
                    .inner
                    .store
                    .append_audit(&NewAuditEntry {
                        at: now(),
                        actor: who.user.name.clone(),
                        ip: who.ip.clone(),
                        action: format!("{}.{}.denied", resource.kind.as_str(), act.as_str()),
                        target: resource.id.map(str::to_owned),
                        detail: serde_json::json!({ "rule": denial.rule }).to_string(),
                    })
                    .await?;
            }
            Err(ApiError::Forbidden { rule: denial.rule })
        }
    }
}

/// The records of a page the user may read, in order: the policy decides each one (records
/// that look the same to it share one evaluation). A denied read is not an error in a list, the
/// record is just left out.
pub fn readable<'t, T>(
    state: &AppState,
    who: &Authed,
    kind: ResourceKind,
    items: &'t [T],
    id: impl Fn(&T) -> Uuid,
    scope: impl Fn(&T) -> Scope,
) -> Vec<&'t T> {
    let user_id = who.user.meta.id.to_string();
    let principal = Principal {
        user: &user_id,
        role: who.user.role,
        party: state.inner.party,
        agency: who.user.agency.as_deref(),
    };
    let asked: Vec<(String, Scope)> = items
        .iter()
        .map(|t| (id(t).to_string(), scope(t)))
        .collect();
    let resources: Vec<Resource<'_>> = asked
        .iter()
        .map(|(id, s)| Resource {
            kind,
            id: Some(id),
            owners: &s.owners,
            agency: s.agency.as_deref(),
            tlp: None,
            persons: false,
        })
        .collect();
    let decisions = state
        .inner
        .policy
        .authorize_each(&principal, Act::Read, &resources);
    items
        .iter()
        .zip(decisions)
        .filter_map(|(t, d)| d.is_allow().then_some(t))
        .collect()
}

/// Whether the role may `act` on this kind of record at all. Asked before anything is read or
/// parsed, so a caller without the right learns nothing about the data or the rules.
pub async fn may(
    state: &AppState,
    who: &Authed,
    act: Act,
    kind: ResourceKind,
) -> Result<(), ApiError> {
    authorize(state, who, act, kind, None, &[state.inner.party], None).await
}

/// Who owns a record and which agency it concerns, as the policy sees it.
pub struct Scope {
    pub owners: Vec<PartyCode>,
    pub agency: Option<String>,
}

impl Scope {
    /// A record owned by the party whose node created it, of no particular agency.
    pub fn origin(party: PartyCode) -> Scope {
        Scope {
            owners: vec![party],
            agency: None,
        }
    }
}

/// Loads the record whose id is the path segment `raw`, for `act`: the role must be able to list
/// the kind (so ids cannot be probed), the record must exist (404; an id that is not a UUID names
/// nothing either), and the policy must allow `act` on that record.
pub async fn load<T, Fut>(
    state: &AppState,
    who: &Authed,
    raw: &str,
    kind: ResourceKind,
    act: Act,
    fetch: impl FnOnce(Uuid) -> Fut,
    scope: impl FnOnce(&T) -> Scope,
) -> Result<T, ApiError>
where
    Fut: std::future::Future<Output = Result<Option<T>, puente_store::StoreError>>,
{
    may(state, who, Act::List, kind).await?;
    let id = path_id(raw, kind.as_str())?;
    let record = fetch(id).await?.ok_or(ApiError::NotFound {
        kind: kind.as_str(),
    })?;
    let Scope { owners, agency } = scope(&record);
    let sid = id.to_string();
    authorize(
        state,
        who,
        act,
        kind,
        Some(&sid),
        &owners,
        agency.as_deref(),
    )
    .await?;
    Ok(record)
}

/// A path id that is not a UUID names nothing: 404.
pub fn path_id(raw: &str, kind: &'static str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| ApiError::NotFound { kind })
}

/// Reads `cursor` and `limit` (default 50, at most 200).
pub fn page(q: &mut Query, e: &mut Errors) -> Page {
    let after = q.get("cursor").and_then(|c| {
        let id = URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(Uuid::from_bytes);
        if id.is_none() {
            e.push(
                "/cursor",
                FieldErrorCode::InvalidFormat { expected: "cursor" },
            );
        }
        id
    });
    let limit = match q.get("limit").map(str::parse::<u32>) {
        None => 50,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => {
            e.push("/limit", FieldErrorCode::OutOfRange);
            50
        }
    };
    Page { after, limit }
}

pub fn cursor(next: Option<Uuid>) -> Option<String> {
    next.map(|id| URL_SAFE_NO_PAD.encode(id.as_bytes()))
}

/// Reads an optional query parameter with `parse`, recording a format error.
pub fn query_param<T>(
    q: &mut Query,
    e: &mut Errors,
    key: &'static str,
    expected: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    let raw = q.get(key)?.to_owned();
    let v = parse(&raw);
    if v.is_none() {
        let code = match key {
            "area" => FieldErrorCode::UnknownArea,
            "party" => FieldErrorCode::UnknownParty,
            _ => FieldErrorCode::InvalidFormat { expected },
        };
        e.push(format!("/{key}"), code);
    }
    v
}

pub fn parse_day(s: &str) -> Option<Date> {
    crate::input::date(s)
}

/// Reads the `version` an update must carry.
pub fn version(o: &mut crate::input::Obj<'_>, e: &mut Errors) -> Option<i64> {
    o.i64(e, "version")
}
