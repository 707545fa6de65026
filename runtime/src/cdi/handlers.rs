//! The CDI endpoints: request checks, then one [`SessionCore`](crate::core::SessionCore) call
//! each, answered with the JSON shapes of the request's CDI version.

use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::input::{Body, Query, Reject, text_response};
use super::routes::{self, Endpoint};
use super::version::{self, CdiVersion, Requested};
use super::{JWKS_REUSE, READY_TIMEOUT, State};
use crate::core::wire::{PUBLIC_TENANT, Session, TheftSession, Token, status};
use crate::core::{
    CreatedSession, LegacyHandshake, MAX_JWT_VALIDITY_SECS, NewJwt, NewSession, RefreshOutcome,
    RefreshRequest, RegenerateOutcome, VerifyOutcome, VerifyRequest,
};

/// Runs the checks every endpoint shares (app, api key, CDI version, tenant, method), then
/// the endpoint.
pub(super) async fn handle(
    req: &HttpRequest,
    body: &[u8],
    state: &State,
) -> Result<HttpResponse, Reject> {
    let target = routes::parse(req.path()).ok_or_else(Reject::not_found)?;
    let endpoint = target.endpoint;
    if let Some(app) = target.app
        && !app.eq_ignore_ascii_case(PUBLIC_TENANT)
    {
        // The only app is `public`; the core names the missing app and tenant.
        let tenant = target
            .tenant
            .filter(|_| endpoint.is_tenant_scoped())
            .unwrap_or(PUBLIC_TENANT);
        return Err(not_found_in_core(app, tenant));
    }
    if !endpoint.is_public() && !state.allows(req) {
        return Err(Reject::new(StatusCode::UNAUTHORIZED, "Invalid API key"));
    }
    let tenant = target.tenant.unwrap_or(PUBLIC_TENANT);
    // The core's order: a malformed or too new version, then tenants before multitenancy
    // (CDI 3.0), then whether this endpoint serves the version.
    let requested = if endpoint == Endpoint::Ready {
        Requested::Served(CdiVersion::LATEST)
    } else {
        Requested::parse(req.headers().get("cdi-version").map(|v| v.as_bytes()))?
    };
    if requested.or_latest() < CdiVersion::V3_0 && tenant != PUBLIC_TENANT {
        return Err(Reject::new(StatusCode::NOT_FOUND, "Not found"));
    }
    let cdi = if endpoint.checks_cdi_version() {
        requested.served()?
    } else {
        requested.or_latest()
    };
    if !routes::is_valid_tenant(tenant) {
        return Err(Reject::bad_request("Invalid tenantId"));
    }
    if !endpoint.is_tenant_scoped() && tenant != PUBLIC_TENANT {
        // App-level endpoints know only the public tenant: the core's answer for a tenant
        // it does not have.
        return Err(not_found_in_core(PUBLIC_TENANT, tenant));
    }
    tracing::debug!(method = %req.method(), ?endpoint, tenant, "CDI request");

    let method = req.method();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let put = method == Method::PUT;
    match endpoint {
        Endpoint::ApiVersion if get => Ok(ok_json(&json!({ "versions": version::SUPPORTED }))),
        // The core answers these four methods alike.
        Endpoint::Hello if get || post || put || method == Method::DELETE => {
            Ok(text_response(StatusCode::OK, "Hello"))
        }
        Endpoint::Ready if get => Ok(ready(state).await),
        Endpoint::Jwks if get => jwks(state).await,
        Endpoint::JwtJwks if get => jwt_jwks(state).await,
        Endpoint::Jwt if post => create_jwt(state, &Body::parse(body)?).await,
        Endpoint::UserId if get => {
            // No user store: every user is unknown, so the SDK keeps the recipe user id.
            Query::parse(req.query_string())?.string("userId")?;
            Ok(ok_json(&json!({ "status": status::UNKNOWN_USER_ID_ERROR })))
        }
        Endpoint::Session if post => create(state, tenant, cdi, &Body::parse(body)?).await,
        // Session information is app-level: only creation takes a tenant.
        Endpoint::Session if get && tenant != PUBLIC_TENANT => {
            Err(not_found_in_core(PUBLIC_TENANT, tenant))
        }
        Endpoint::Session if get => session_information(state, cdi, req).await,
        Endpoint::Handshake if post => handshake(state, cdi).await,
        Endpoint::Verify if post => verify(state, cdi, &Body::parse(body)?).await,
        Endpoint::Refresh if post => refresh(state, cdi, &Body::parse(body)?).await,
        Endpoint::Regenerate if post => regenerate(state, cdi, &Body::parse(body)?).await,
        Endpoint::Remove if post => remove(state, tenant, &Body::parse(body)?).await,
        Endpoint::UserHandles if get => user_handles(state, tenant, req).await,
        Endpoint::SessionData if put => {
            let body = Body::parse(body)?;
            let handle = body.string("sessionHandle")?;
            let data = body.object("userDataInDatabase")?;
            let found = state
                .core
                .update_session_data(handle, Value::Object(data))
                .await?;
            Ok(ok_or_unauthorised(found))
        }
        Endpoint::SessionData if get => stored_field(state, req, "userDataInDatabase").await,
        Endpoint::JwtData if put => {
            let body = Body::parse(body)?;
            let handle = body.string("sessionHandle")?;
            let payload = body.object("userDataInJWT")?;
            let found = state
                .core
                .update_access_token_payload(handle, payload)
                .await?;
            Ok(ok_or_unauthorised(found))
        }
        Endpoint::JwtData if get => stored_field(state, req, "userDataInJWT").await,
        _ => Err(Reject::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not supported",
        )),
    }
}

/// The core's 400 for an app or tenant it does not have:
/// `AppId or tenantId not found => appId: <app>, tenantId: <tenant>` (ids in lower case).
fn not_found_in_core(app: &str, tenant: &str) -> Reject {
    Reject::bad_request(format!(
        "AppId or tenantId not found => appId: {}, tenantId: {}",
        app.to_ascii_lowercase(),
        tenant.to_ascii_lowercase()
    ))
}

/// `GET /ready`: 200 once the core answered a trivial query within [`READY_TIMEOUT`], else
/// 503. The reason is logged, not sent: a load balancer only needs the status.
async fn ready(state: &State) -> HttpResponse {
    let text = |status: StatusCode, body: &'static str| {
        HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    };
    match tokio::time::timeout(READY_TIMEOUT, state.core.ready()).await {
        Ok(Ok(())) => text(StatusCode::OK, "Ready"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: the core failed");
            text(StatusCode::SERVICE_UNAVAILABLE, "Not ready")
        }
        Err(_) => {
            tracing::warn!(
                timeout = ?READY_TIMEOUT,
                "readiness check: the core did not answer in time"
            );
            text(StatusCode::SERVICE_UNAVAILABLE, "Not ready")
        }
    }
}

/// A JSON answer; as the core's, the body ends with a newline.
fn ok_json(body: &Value) -> HttpResponse {
    let mut bytes = body.to_string().into_bytes();
    bytes.push(b'\n');
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(bytes)
}

fn unauthorised(message: &str) -> HttpResponse {
    ok_json(&json!({ "status": status::UNAUTHORISED, "message": message }))
}

fn ok_or_unauthorised(found: bool) -> HttpResponse {
    if found {
        ok_json(&json!({ "status": status::OK }))
    } else {
        unauthorised(SESSION_MISSING)
    }
}

const SESSION_MISSING: &str = "Session does not exist.";

/// The CDI `session` object as `cdi` shapes it: `tenantId` from CDI 3.0, `recipeUserId` from
/// CDI 4.0.
fn session_value(session: &crate::core::CoreSession, cdi: CdiVersion) -> Value {
    let mut value = json!(Session::from(session));
    without_newer_fields(&mut value, cdi);
    value
}

/// Removes the session fields `cdi` does not know yet.
fn without_newer_fields(value: &mut Value, cdi: CdiVersion) {
    if let Some(fields) = value.as_object_mut() {
        if cdi < CdiVersion::V3_0 {
            fields.remove("tenantId");
        }
        if cdi < CdiVersion::V4_0 {
            fields.remove("recipeUserId");
        }
    }
}

/// `{"status":"OK","session","accessToken","refreshToken","idRefreshToken"?,"antiCsrfToken"?}`
/// (create, refresh). Before CDI 2.21 the core adds `idRefreshToken`: a random UUID with the
/// refresh token's times, which old SDKs keep in a cookie to tell a signed-in client.
fn created_json(created: &CreatedSession, cdi: CdiVersion) -> Value {
    let mut body = json!({
        "status": status::OK,
        "session": session_value(&created.session, cdi),
        "accessToken": Token::from(&created.access_token),
        "refreshToken": Token::from(&created.refresh_token),
    });
    if cdi < CdiVersion::V2_21 {
        body["idRefreshToken"] = json!({
            "token": uuid::Uuid::new_v4().to_string(),
            "expiry": created.refresh_token.expiry_ms,
            "createdTime": created.refresh_token.created_ms,
        });
    }
    if let Some(anti_csrf) = &created.anti_csrf_token {
        body["antiCsrfToken"] = Value::String(anti_csrf.clone());
    }
    body
}

/// `{"status":"OK","session","accessToken"?}` (verify, regenerate).
fn session_json(
    session: &crate::core::CoreSession,
    token: Option<&crate::core::IssuedToken>,
    cdi: CdiVersion,
) -> Value {
    let mut body = json!({ "status": status::OK, "session": session_value(session, cdi) });
    if let Some(token) = token {
        body["accessToken"] = json!(Token::from(token));
    }
    body
}

async fn create(
    state: &State,
    tenant: &str,
    cdi: CdiVersion,
    body: &Body,
) -> Result<HttpResponse, Reject> {
    let new = NewSession {
        tenant_id: tenant.to_owned(),
        recipe_user_id: body.string("userId")?,
        access_token_payload: body.object("userDataInJWT")?,
        session_data: Value::Object(body.object("userDataInDatabase")?),
        enable_anti_csrf: body.boolean("enableAntiCsrf")?,
        // Before CDI 2.21 the core does not read it: sessions use the dynamic key, the
        // core's default.
        use_dynamic_signing_key: if cdi >= CdiVersion::V2_21 {
            body.opt_bool("useDynamicSigningKey")?.unwrap_or(true)
        } else {
            true
        },
        access_token_version: cdi.access_token_version(),
    };
    let created = state.core.create_session(new).await?;
    let mut answer = created_json(&created, cdi);
    if cdi < CdiVersion::V2_21 {
        add_legacy_keys(state, cdi, &mut answer).await?;
    }
    Ok(ok_json(&answer))
}

/// `POST /recipe/handshake`, CDI before 2.21 only (404 `Not found` from 2.21, as the core):
/// the legacy key (the list of them from 2.9), whether verification checks the database
/// (never: the signature is the proof until a token is promoted), and the token lifetimes.
async fn handshake(state: &State, cdi: CdiVersion) -> Result<HttpResponse, Reject> {
    if cdi >= CdiVersion::V2_21 {
        return Err(Reject::not_found());
    }
    let handshake = state.core.legacy_handshake().await?;
    let mut answer = json!({ "status": status::OK });
    legacy_key_fields(&handshake, cdi, &mut answer);
    answer["accessTokenBlacklistingEnabled"] = Value::Bool(false);
    answer["accessTokenValidity"] = json!(handshake.access_token_validity_ms);
    answer["refreshTokenValidity"] = json!(handshake.refresh_token_validity_ms);
    Ok(ok_json(&answer))
}

/// Adds the legacy key fields of `cdi` (before 2.21) to an answer.
async fn add_legacy_keys(state: &State, cdi: CdiVersion, answer: &mut Value) -> Result<(), Reject> {
    let handshake = state.core.legacy_handshake().await?;
    legacy_key_fields(&handshake, cdi, answer);
    Ok(())
}

/// `jwtSigningPublicKey` and `jwtSigningPublicKeyExpiryTime` (the key that signs), and from
/// CDI 2.9 `jwtSigningPublicKeyList` (`publicKey`, `expiryTime`, `createdAt` of each).
fn legacy_key_fields(handshake: &LegacyHandshake, cdi: CdiVersion, answer: &mut Value) {
    if let Some(signer) = handshake.keys.first() {
        answer["jwtSigningPublicKey"] = json!(signer.public_key);
        answer["jwtSigningPublicKeyExpiryTime"] = json!(signer.expiry_ms);
    }
    if cdi >= CdiVersion::V2_9 {
        answer["jwtSigningPublicKeyList"] = handshake
            .keys
            .iter()
            .map(|key| {
                json!({
                    "publicKey": key.public_key,
                    "expiryTime": key.expiry_ms,
                    "createdAt": key.created_ms,
                })
            })
            .collect();
    }
}

/// `POST /recipe/jwt`: `{"status":"OK","jwt"}`. As the core: `algorithm`, `jwksDomain`,
/// `payload` (an object) and `validity` (seconds) are required, `useStaticSigningKey` defaults
/// to `true`, and an algorithm the core does not sign (anything but RS256, in any case) is the
/// logical answer `UNSUPPORTED_ALGORITHM_ERROR`, which the SDKs return to their caller.
async fn create_jwt(state: &State, body: &Body) -> Result<HttpResponse, Reject> {
    let algorithm = body.string("algorithm")?;
    let jwks_domain = body.string("jwksDomain")?;
    let payload = body.object("payload")?;
    let validity = body.integer("validity")?;
    if validity <= 0 {
        return Err(Reject::bad_request("validity must be greater than 0"));
    }
    let validity_secs = validity.unsigned_abs();
    if validity_secs > MAX_JWT_VALIDITY_SECS {
        return Err(Reject::bad_request(format!(
            "validity must be at most {MAX_JWT_VALIDITY_SECS} seconds (1000 years)"
        )));
    }
    let use_static_signing_key = body.opt_bool("useStaticSigningKey")?.unwrap_or(true);
    if !algorithm.eq_ignore_ascii_case("RS256") {
        return Ok(ok_json(
            &json!({ "status": status::UNSUPPORTED_ALGORITHM_ERROR }),
        ));
    }
    let jwt = state
        .core
        .create_jwt(NewJwt {
            payload,
            validity_secs,
            use_static_signing_key,
            jwks_domain,
        })
        .await?;
    Ok(ok_json(&json!({ "status": status::OK, "jwt": jwt })))
}

/// `POST /recipe/session/verify`: `checkDatabase` is required, as by the core from CDI 2.21;
/// before, the core does not read it and checks the database only when it blacklists access
/// tokens (never here: `accessTokenBlacklistingEnabled` is `false`), and both the `OK` and the
/// `TRY_REFRESH_TOKEN` answers carry the legacy key fields.
async fn verify(state: &State, cdi: CdiVersion, body: &Body) -> Result<HttpResponse, Reject> {
    let request = VerifyRequest {
        access_token: body.string("accessToken")?,
        anti_csrf_token: body.opt_string("antiCsrfToken")?,
        do_anti_csrf_check: body.boolean("doAntiCsrfCheck")?,
        enable_anti_csrf: body.boolean("enableAntiCsrf")?,
        check_database: if cdi >= CdiVersion::V2_21 {
            body.boolean("checkDatabase")?
        } else {
            false
        },
    };
    let mut answer = match state.core.verify_session(request).await? {
        VerifyOutcome::Ok {
            session,
            new_access_token,
        } => session_json(&session, new_access_token.as_ref(), cdi),
        VerifyOutcome::Unauthorised => {
            return Ok(unauthorised(
                "Either the session has ended or has been blacklisted",
            ));
        }
        VerifyOutcome::TryRefreshToken => json!({
            "status": status::TRY_REFRESH_TOKEN,
            "message": "the access token is expired or invalid",
        }),
    };
    if cdi < CdiVersion::V2_21 {
        add_legacy_keys(state, cdi, &mut answer).await?;
    }
    Ok(ok_json(&answer))
}

/// `POST /recipe/session/refresh`. As the core: `useDynamicSigningKey` is required from CDI 5.0,
/// optional in 3.x and 4.0, and ignored before (absent: the session keeps its key type).
async fn refresh(state: &State, cdi: CdiVersion, body: &Body) -> Result<HttpResponse, Reject> {
    let refresh_token = body.string("refreshToken")?;
    let anti_csrf_token = body.opt_string("antiCsrfToken")?;
    let enable_anti_csrf = body.boolean("enableAntiCsrf")?;
    let use_dynamic_signing_key = if cdi >= CdiVersion::V5_0 {
        Some(body.boolean("useDynamicSigningKey")?)
    } else if cdi >= CdiVersion::V3_0 {
        body.opt_bool("useDynamicSigningKey")?
    } else {
        None
    };
    let request = RefreshRequest {
        refresh_token,
        anti_csrf_token,
        enable_anti_csrf,
        use_dynamic_signing_key,
        access_token_version: cdi.access_token_version(),
    };
    Ok(match state.core.refresh_session(request).await? {
        RefreshOutcome::Ok(created) => ok_json(&created_json(&created, cdi)),
        RefreshOutcome::Unauthorised(message) => unauthorised(&message),
        RefreshOutcome::TokenTheftDetected {
            handle,
            user_id,
            recipe_user_id,
        } => ok_json(&json!({
            "status": status::TOKEN_THEFT_DETECTED,
            "session": TheftSession { handle, user_id, recipe_user_id: Some(recipe_user_id) },
        })),
    })
}

/// `POST /recipe/session/regenerate`. As the core: without `userDataInJWT` the stored payload
/// is signed again.
async fn regenerate(state: &State, cdi: CdiVersion, body: &Body) -> Result<HttpResponse, Reject> {
    let access_token = body.string("accessToken")?;
    let payload = match body.opt_object("userDataInJWT")? {
        Some(payload) => payload,
        None => match stored_payload(state, &access_token).await? {
            Some(payload) => payload,
            None => return Ok(unauthorised(SESSION_MISSING)),
        },
    };
    Ok(
        match state
            .core
            .regenerate_access_token(access_token, payload)
            .await?
        {
            RegenerateOutcome::Ok {
                session,
                new_access_token,
            } => ok_json(&session_json(&session, new_access_token.as_ref(), cdi)),
            RegenerateOutcome::Unauthorised => unauthorised(SESSION_MISSING),
        },
    )
}

/// The stored custom payload of the session `access_token` names; `None` when the token names
/// none or the session does not exist. The token is not verified here: the core verifies it
/// before it signs anything.
async fn stored_payload(
    state: &State,
    access_token: &str,
) -> Result<Option<serde_json::Map<String, Value>>, Reject> {
    let Ok(token) = crate::token::parse_access_token(access_token) else {
        return Ok(None);
    };
    let Some(handle) = token.payload.get("sessionHandle").and_then(Value::as_str) else {
        return Ok(None);
    };
    Ok(state
        .core
        .session_information(handle.to_owned())
        .await?
        .map(|info| info.user_data_in_jwt))
}

async fn remove(state: &State, tenant: &str, body: &Body) -> Result<HttpResponse, Reject> {
    let revoked = match (body.has("sessionHandles"), body.has("userId")) {
        (true, false) => {
            state
                .core
                .revoke_sessions(body.strings("sessionHandles")?)
                .await?
        }
        (false, true) => {
            let user_id = body.string("userId")?;
            // Linked accounts do not exist here: the flag is accepted and has no effect.
            body.opt_bool("revokeSessionsForLinkedAccounts")?;
            let across = across_all_tenants(
                body.opt_bool("revokeAcrossAllTenants")?,
                tenant,
                "revokeAcrossAllTenants",
            )?;
            state
                .core
                .revoke_all_sessions_for_user(tenant.to_owned(), user_id, across)
                .await?
        }
        _ => {
            return Err(Reject::bad_request(
                "Invalid JSON input - use one of userId or sessionHandles array",
            ));
        }
    };
    Ok(ok_json(
        &json!({ "status": status::OK, "sessionHandlesRevoked": revoked }),
    ))
}

/// The core's rule: "across all tenants" is the default, and only the public tenant may ask
/// for it.
fn across_all_tenants(flag: Option<bool>, tenant: &str, name: &str) -> Result<bool, Reject> {
    let across = flag.unwrap_or(true);
    if across && tenant != PUBLIC_TENANT {
        return Err(Reject::bad_request(format!(
            "{name} can be true only on the public tenant; set it to false for tenant {tenant}"
        )));
    }
    Ok(across)
}

async fn user_handles(
    state: &State,
    tenant: &str,
    req: &HttpRequest,
) -> Result<HttpResponse, Reject> {
    let query = Query::parse(req.query_string())?;
    let user_id = query.string("userId")?;
    query.boolean("fetchSessionsForAllLinkedAccounts", true)?;
    let across = across_all_tenants(
        Some(query.boolean("fetchAcrossAllTenants", true)?),
        tenant,
        "fetchAcrossAllTenants",
    )?;
    let handles = state
        .core
        .session_handles_for_user(tenant.to_owned(), user_id, across)
        .await?;
    Ok(ok_json(
        &json!({ "status": status::OK, "sessionHandles": handles }),
    ))
}

async fn session_information(
    state: &State,
    cdi: CdiVersion,
    req: &HttpRequest,
) -> Result<HttpResponse, Reject> {
    let handle = Query::parse(req.query_string())?.string("sessionHandle")?;
    Ok(match state.core.session_information(handle).await? {
        Some(info) => ok_json(&{
            let mut body = json!({
            "status": status::OK,
            "sessionHandle": info.handle,
            "userId": info.user_id,
            "recipeUserId": info.recipe_user_id,
            "userDataInDatabase": info.session_data,
            "userDataInJWT": info.user_data_in_jwt,
            "expiry": info.expiry_ms,
            "timeCreated": info.time_created_ms,
            "tenantId": info.tenant_id,
            });
            without_newer_fields(&mut body, cdi);
            body
        }),
        None => unauthorised(SESSION_MISSING),
    })
}

/// The deprecated `GET /recipe/session/data` and `GET /recipe/jwt/data`:
/// `{"status":"OK","<field>":…}`.
async fn stored_field(
    state: &State,
    req: &HttpRequest,
    field: &str,
) -> Result<HttpResponse, Reject> {
    let handle = Query::parse(req.query_string())?.string("sessionHandle")?;
    Ok(match state.core.session_information(handle).await? {
        Some(info) => {
            let value = if field == "userDataInJWT" {
                Value::Object(info.user_data_in_jwt)
            } else {
                info.session_data
            };
            let mut body = json!({ "status": status::OK });
            body[field] = value;
            ok_json(&body)
        }
        None => unauthorised(SESSION_MISSING),
    })
}

/// `GET /.well-known/jwks.json`: `{"keys":[…]}`, cacheable for a minute.
async fn jwks(state: &State) -> Result<HttpResponse, Reject> {
    let body = jwks_body(state).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60, must-revalidate"),
        ))
        .body(body))
}

/// `GET /recipe/jwt/jwks` (deprecated): `{"status":"OK","keys":[…]}`.
async fn jwt_jwks(state: &State) -> Result<HttpResponse, Reject> {
    let body = jwks_body(state).await?;
    let mut value: Value = serde_json::from_slice(&body)
        .map_err(|_| Reject::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error"))?;
    value["status"] = Value::String(status::OK.to_owned());
    Ok(ok_json(&value))
}

/// The serialized JWKS, reused for [`JWKS_REUSE`] (the endpoint is public: the key source is
/// not asked more often than that, whatever the request rate).
async fn jwks_body(state: &State) -> Result<web::Bytes, Reject> {
    let mut cached = state.jwks.lock().await;
    if let Some((at, body)) = &*cached
        && at.elapsed() < JWKS_REUSE
    {
        return Ok(body.clone());
    }
    let internal = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "cannot serve the JWKS");
        Reject::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error")
    };
    let set = state.keys.fetch_keys().await.map_err(|e| internal(&e))?;
    let body = web::Bytes::from(serde_json::to_vec(&set).map_err(|e| internal(&e))?);
    *cached = Some((Instant::now(), body.clone()));
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn across_all_tenants_defaults_to_true_on_public_only() {
        assert!(across_all_tenants(None, "public", "x").unwrap());
        assert!(!across_all_tenants(Some(false), "t1", "x").unwrap());
        assert!(across_all_tenants(None, "t1", "x").is_err());
        assert!(across_all_tenants(Some(true), "t1", "x").is_err());
    }

    #[test]
    fn tokens_have_the_cdi_shape_and_a_redacted_debug() {
        let token = crate::core::IssuedToken {
            token: "secret".into(),
            expiry_ms: 2,
            created_ms: 1,
        };
        let value = json!(Token::from(&token));
        assert_eq!(
            value,
            json!({"token": "secret", "expiry": 2, "createdTime": 1})
        );
        assert!(!format!("{:?}", Token::from(&token)).contains("secret"));
    }
}
