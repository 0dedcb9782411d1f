//! `/api/v1/users`: the node's users and their roles, managed by its administrators.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use puente_domain::error::{Errors, check_text};
use puente_domain::{FieldErrorCode, Lang, RecordMeta, Role, UserName};
use puente_policy::{Act, ResourceKind};
use puente_store::{User, UserChanges};
use uuid::Uuid;

use super::dto::{UserCreatedOut, UserOut, UserPage};
use super::{Scope, authorize, cursor, may, now, page};
use crate::auth::{Authed, password};
use crate::input::{JsonBody, Obj, Query, done, object};
use crate::problem::ApiError;
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::User;
const MIN_PASSWORD: usize = 12;

fn role(o: &mut Obj<'_>, e: &mut Errors) -> Option<Role> {
    let r = o.str(e, "role")?;
    let parsed = r.parse::<Role>().ok();
    if parsed.is_none() {
        e.push("/role", FieldErrorCode::InvalidFormat { expected: "role" });
    }
    parsed
}

fn lang(o: &mut Obj<'_>, e: &mut Errors) -> Option<Option<String>> {
    match o.opt_str(e, "lang") {
        None => Some(None),
        Some(l) => match Lang::from_tag(l) {
            Some(l) => Some(Some(l.tag().to_owned())),
            None => {
                e.push("/lang", FieldErrorCode::UnknownLanguage);
                None
            }
        },
    }
}

fn new_password(o: &mut Obj<'_>, e: &mut Errors) -> Option<Option<String>> {
    match o.opt_str(e, "password") {
        None => Some(None),
        Some(p) if p.chars().count() < MIN_PASSWORD => {
            e.push("/password", FieldErrorCode::OutOfRange);
            None
        }
        Some(p) => e
            .take(check_text("/password", p, 1000))
            .map(|_| Some(p.to_owned())),
    }
}

fn agency(o: &mut Obj<'_>, e: &mut Errors) -> Option<Option<String>> {
    match o.opt_str(e, "agency") {
        None => Some(None),
        Some(a) => e.take(check_text("/agency", a, 200)).map(Some),
    }
}

/// An agency user belongs to an agency: without one it would see nothing and mean nothing.
fn agency_rule(role: Role, agency: Option<&str>) -> Result<(), ApiError> {
    if role == Role::AgencyUser && agency.is_none() {
        return Err(ApiError::Invalid(puente_domain::Invalid::one(
            "/agency",
            FieldErrorCode::Missing,
        )));
    }
    Ok(())
}

async fn hash(p: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&p))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

/// `GET /api/v1/users`
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = UserPage), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Json<UserPage>, ApiError> {
    may(&state, &who, Act::List, KIND).await?;
    let mut q = Query::parse(raw.as_deref());
    let mut e = Errors::new();
    let page = page(&mut q, &mut e);
    q.finish(&mut e);
    e.finish().map_err(ApiError::BadQuery)?;
    let paged = state.inner.store.list_users(page).await?;
    Ok(Json(UserPage {
        items: paged.items.iter().map(UserOut::from).collect(),
        next_cursor: cursor(paged.next),
    }))
}

async fn load(state: &AppState, who: &Authed, raw: &str, act: Act) -> Result<User, ApiError> {
    let scope = |r: &User| Scope::origin(r.meta.origin);
    super::load(
        state,
        who,
        raw,
        KIND,
        act,
        |id| state.inner.store.user_by_id(id),
        scope,
    )
    .await
}

/// `GET /api/v1/users/{id}`
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    Ok(Json(UserOut::from(
        &load(&state, &who, &id, Act::Read).await?,
    )))
}

/// `POST /api/v1/users`: a password is generated and returned once unless one is given.
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body(content = super::dto::UserIn, content_type = "application/json"),
    responses((status = 201, body = UserCreatedOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<UserCreatedOut>), ApiError> {
    may(&state, &who, Act::Create, KIND).await?;
    let mut e = Errors::new();
    let parsed = object(&mut e, "", &body).and_then(|mut o| {
        let name = o
            .str(&mut e, "name")
            .and_then(|n| e.take(UserName::parse(n)))
            .map(|n| n.as_str().to_owned());
        let role = role(&mut o, &mut e);
        let agency = agency(&mut o, &mut e);
        let pw = new_password(&mut o, &mut e);
        let lang = lang(&mut o, &mut e);
        o.finish(&mut e);
        Some((name?, role?, agency?, pw?, lang?))
    });
    let (name, role, agency, pw, lang) = done(e, parsed)?;
    agency_rule(role, agency.as_deref())?;
    let (shown, pw) = match pw {
        Some(p) => (None, p),
        None => {
            let p = password::generate();
            (Some(p.clone()), p)
        }
    };
    let now = now();
    let user = User {
        meta: RecordMeta::new(Uuid::now_v7(), state.inner.party, now),
        name,
        role,
        agency,
        password_hash: Some(hash(pw).await?),
        disabled: false,
        lang,
    };
    let u = state.inner.store.create_user(&who.ctx(now), &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserCreatedOut {
            user: UserOut::from(&u),
            password: shown,
        }),
    ))
}

/// `PUT /api/v1/users/{id}`
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    request_body(content = super::dto::UserUpdateIn, content_type = "application/json"),
    responses((status = 200, body = UserOut), (status = 401, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<UserOut>, ApiError> {
    may(&state, &who, Act::Update, KIND).await?;
    let current = load(&state, &who, &id, Act::Update).await?;
    let mut e = Errors::new();
    // Absent fields keep their current value: a change to one setting never resets another.
    let parsed = object(&mut e, "", &body).and_then(|mut o| {
        let role = match o.get("role") {
            None => Some(current.role),
            Some(_) => role(&mut o, &mut e),
        };
        let agency = agency(&mut o, &mut e).map(|a| a.or(current.agency.clone()));
        let disabled = o.bool_or(&mut e, "disabled", current.disabled);
        let lang = lang(&mut o, &mut e).map(|l| l.or(current.lang.clone()));
        let pw = new_password(&mut o, &mut e);
        let version = o.i64(&mut e, "version");
        o.finish(&mut e);
        Some((role?, agency?, disabled, lang?, pw?, version?))
    });
    let (role, agency, disabled, lang, pw, version) = done(e, parsed)?;
    // An administrator cannot demote or disable themself: a node must keep someone who can
    // manage its users.
    if current.meta.id == who.user.meta.id {
        let mut e = Errors::new();
        if role != current.role {
            e.push("/role", FieldErrorCode::Immutable);
        }
        if disabled {
            e.push("/disabled", FieldErrorCode::Immutable);
        }
        e.finish()?;
    }
    agency_rule(role, agency.as_deref())?;
    let password_hash = match pw {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    let changes = UserChanges {
        role,
        agency,
        disabled,
        lang,
        password_hash,
    };
    let now = now();
    let u = state
        .inner
        .store
        .update_user(&who.ctx(now), current.meta.id, version, &changes)
        .await?;
    Ok(Json(UserOut::from(&u)))
}

/// `PUT /api/v1/me`: a user's own settings: language, and password (with the current one).
#[utoipa::path(put, path = "/api/v1/me", tag = "users",
    request_body(content = super::dto::MeUpdateIn, content_type = "application/json"),
    responses((status = 200, body = super::dto::MeOut), (status = 401, body = crate::problem::Problem),
              (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(body): JsonBody,
) -> Result<Json<super::dto::MeOut>, ApiError> {
    let party = state.inner.party;
    let sid = who.user.meta.id.to_string();
    authorize(
        &state,
        &who,
        Act::Update,
        ResourceKind::Me,
        Some(&sid),
        &[party],
        None,
    )
    .await?;
    let mut e = Errors::new();
    let parsed = object(&mut e, "", &body).and_then(|mut o| {
        let lang = lang(&mut o, &mut e).map(|l| l.or(who.user.lang.clone()));
        let pw = new_password(&mut o, &mut e);
        let current = o.opt_str(&mut e, "current_password").map(str::to_owned);
        o.finish(&mut e);
        Some((lang?, pw?, current))
    });
    let (lang, pw, current) = done(e, parsed)?;
    let password_hash = match pw {
        None => None,
        Some(p) => {
            // Changing one's password needs the current one: a stolen session is not enough,
            // and guesses count against the same limit as logins.
            let limiter = &state.inner.limiter;
            let ip = who.ip.clone().unwrap_or_default();
            if let Err(t) = limiter.attempt(&who.user.name, &ip, std::time::Instant::now()) {
                return Err(ApiError::TooManyRequests {
                    retry_after_secs: t.retry_after_secs,
                });
            }
            let phc = who.user.password_hash.clone().unwrap_or_default();
            let given = current.unwrap_or_default();
            let ok = tokio::task::spawn_blocking(move || password::verify(&given, &phc))
                .await
                .unwrap_or(false);
            if !ok {
                let entry = puente_store::NewAuditEntry {
                    at: now(),
                    actor: who.user.name.clone(),
                    ip: who.ip.clone(),
                    action: "me.password.failure".to_owned(),
                    target: Some(who.user.meta.id.to_string()),
                    detail: "{}".to_owned(),
                };
                state.inner.store.append_audit(&entry).await?;
                return Err(ApiError::Invalid(puente_domain::Invalid::one(
                    "/current_password",
                    FieldErrorCode::Mismatch,
                )));
            }
            limiter.succeeded(&who.user.name);
            Some(hash(p).await?)
        }
    };
    let u = &who.user;
    let changes = UserChanges {
        role: u.role,
        agency: u.agency.clone(),
        disabled: u.disabled,
        lang,
        password_hash,
    };
    let now = now();
    let updated = state
        .inner
        .store
        .update_user(&who.ctx(now), u.meta.id, u.meta.version, &changes)
        .await?;
    Ok(Json(super::dto::MeOut::of(&updated, party)))
}
