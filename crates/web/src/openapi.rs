//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types.

use axum::Json;
use utoipa::OpenApi;

use crate::api::{self, dto};
use crate::{auth, problem};

#[derive(OpenApi)]
#[openapi(
    info(title = "puente node API", description = "The JSON API of one puente node: the joint program's commitments, actions, indicators and meetings, and the referrals and requests for information exchanged with peer nodes, behind authentication and the node's policy. Errors are RFC 9457 problem documents in English or Spanish (Accept-Language)."),
    paths(
        api::healthz, api::me, api::users::update_me, api::program, auth::login, auth::logout,
        api::commitments::list, api::commitments::get, api::commitments::create, api::commitments::update,
        api::actions::list, api::actions::get, api::actions::create, api::actions::update,
        api::indicators::list, api::indicators::get, api::indicators::create, api::indicators::update,
        api::indicators::list_measurements, api::indicators::create_measurement, api::indicators::update_measurement,
        api::meetings::list, api::meetings::get, api::meetings::create, api::meetings::update, api::meetings::agenda,
        api::audit::list, api::users::list, api::users::get, api::users::create, api::users::update,
        api::exchange::list_referrals, api::exchange::create_referral, api::exchange::get_referral,
        api::exchange::acknowledge_referral, api::exchange::assign_referral, api::exchange::report_outcome,
        api::exchange::withdraw_referral,
        api::exchange::list_requests, api::exchange::create_request, api::exchange::get_request,
        api::exchange::acknowledge_request, api::exchange::answer_request, api::exchange::withdraw_request,
        api::exchange::list_peers, api::exchange::get_reciprocity,
        api::log::list, api::log::checkpoint, api::log::proof, api::log::consistency,
        api::log::disputes, api::log::dispute,
    ),
    components(schemas(problem::Problem, problem::FieldProblem, dto::CommitmentIn, dto::ActionIn,
        dto::IndicatorIn, dto::MeasurementIn, dto::MeetingIn, dto::UserIn, dto::UserUpdateIn, dto::MeUpdateIn, dto::LoginIn)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// `GET /api/openapi.json`: public, so clients can be generated before they have credentials.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
