//! Each [`SessionCore`] call of [`CoreClient`] as its CDI request, and the CDI answer mapped
//! back to the core's types (docs/protocol.md §10.3).

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{CoreClient, Inner};
use crate::core::wire::{CDI_VERSION, PUBLIC_TENANT, Session, Token, status};
use crate::core::{
    AccessTokenVersion, BoxFuture, CoreError, CreatedSession, NewJwt, NewSession, RefreshOutcome,
    RefreshRequest, RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome,
    VerifyRequest,
};
use crate::keys::{KeySource, KeySourceError};

/// Bytes of a tenant id kept as is in a URL path.
const TENANT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `/<tenant>/recipe/…`, the tenant id percent-encoded.
fn tenant_path(tenant: &str, path: &str) -> String {
    format!("/{}{path}", utf8_percent_encode(tenant, TENANT))
}

/// The error for a `status` a call does not expect.
fn unexpected(path: &str, status: &str) -> CoreError {
    CoreError::Internal(format!(
        "the SuperTokens core answered {path} with the unexpected status {status:?}"
    ))
}

/// The error for an `OK` answer that lacks a field.
fn incomplete(path: &str, field: &str) -> CoreError {
    CoreError::Unavailable(format!(
        "malformed answer from the SuperTokens core to {path}: `{field}` is missing"
    ))
}

/// Create, verify, refresh and regenerate answers (and the theft answer's `session`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    session: Option<Session>,
    #[serde(default)]
    access_token: Option<Token>,
    #[serde(default)]
    refresh_token: Option<Token>,
    #[serde(default)]
    anti_csrf_token: Option<String>,
}

impl SessionAnswer {
    fn session(&mut self, path: &str) -> Result<Session, CoreError> {
        self.session
            .take()
            .ok_or_else(|| incomplete(path, "session"))
    }

    fn created(mut self, path: &str) -> Result<CreatedSession, CoreError> {
        Ok(CreatedSession {
            session: self.session(path)?.into(),
            access_token: self
                .access_token
                .take()
                .ok_or_else(|| incomplete(path, "accessToken"))?
                .into(),
            refresh_token: self
                .refresh_token
                .take()
                .ok_or_else(|| incomplete(path, "refreshToken"))?
                .into(),
            anti_csrf_token: self.anti_csrf_token.take(),
        })
    }
}

/// Answers that carry only a status (data updates).
#[derive(Deserialize)]
struct StatusAnswer {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoveAnswer {
    status: String,
    #[serde(default)]
    session_handles_revoked: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HandlesAnswer {
    status: String,
    #[serde(default)]
    session_handles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InformationAnswer {
    status: String,
    session_handle: Option<String>,
    user_id: Option<String>,
    recipe_user_id: Option<String>,
    #[serde(default)]
    user_data_in_database: Value,
    #[serde(default, rename = "userDataInJWT")]
    user_data_in_jwt: Map<String, Value>,
    expiry: Option<u64>,
    time_created: Option<u64>,
    tenant_id: Option<String>,
}

/// The client speaks CDI 5.4, at which the core mints v5 access tokens only.
fn v5_only(version: AccessTokenVersion) -> Result<(), CoreError> {
    if version == AccessTokenVersion::V5 {
        Ok(())
    } else {
        Err(CoreError::BadRequest(format!(
            "a SuperTokens Core called with CDI {CDI_VERSION} mints v5 access tokens, not v{}",
            version.number()
        )))
    }
}

impl SessionCore for CoreClient {
    fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(CoreKeySource(Arc::clone(&self.inner)))
    }

    fn create_session(&self, new: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>> {
        Box::pin(async move {
            v5_only(new.access_token_version)?;
            let path = tenant_path(&new.tenant_id, "/recipe/session");
            let answer: SessionAnswer = self
                .inner
                .post(
                    &path,
                    json!({
                        "userId": new.recipe_user_id,
                        "userDataInJWT": new.access_token_payload,
                        "userDataInDatabase": null_as_empty(new.session_data),
                        "useDynamicSigningKey": new.use_dynamic_signing_key,
                        "enableAntiCsrf": new.enable_anti_csrf,
                    }),
                )
                .await?;
            match answer.status.as_str() {
                status::OK => answer.created(&path),
                other => Err(unexpected(&path, other)),
            }
        })
    }

    fn verify_session(
        &self,
        request: VerifyRequest,
    ) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/verify";
            let mut body = json!({
                "accessToken": request.access_token,
                "doAntiCsrfCheck": request.do_anti_csrf_check,
                "enableAntiCsrf": request.enable_anti_csrf,
                "checkDatabase": request.check_database,
            });
            if let Some(anti_csrf) = request.anti_csrf_token {
                body["antiCsrfToken"] = Value::String(anti_csrf);
            }
            let mut answer: SessionAnswer = self.inner.post(PATH, body).await?;
            match answer.status.as_str() {
                status::OK => Ok(VerifyOutcome::Ok {
                    session: answer.session(PATH)?.into(),
                    new_access_token: answer.access_token.map(Into::into),
                }),
                status::UNAUTHORISED => Ok(VerifyOutcome::Unauthorised),
                status::TRY_REFRESH_TOKEN => Ok(VerifyOutcome::TryRefreshToken),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn refresh_session(
        &self,
        request: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/refresh";
            v5_only(request.access_token_version)?;
            let mut body = json!({
                "refreshToken": request.refresh_token,
                "enableAntiCsrf": request.enable_anti_csrf,
                // CDI 5.4 requires the field; `true` is the SDKs' default.
                "useDynamicSigningKey": request.use_dynamic_signing_key.unwrap_or(true),
            });
            if let Some(anti_csrf) = request.anti_csrf_token {
                body["antiCsrfToken"] = Value::String(anti_csrf);
            }
            let mut answer: SessionAnswer = self.inner.post(PATH, body).await?;
            match answer.status.as_str() {
                status::OK => answer.created(PATH).map(RefreshOutcome::Ok),
                status::UNAUTHORISED => Ok(RefreshOutcome::Unauthorised(
                    answer.message.unwrap_or_else(|| "unauthorised".to_owned()),
                )),
                status::TOKEN_THEFT_DETECTED => {
                    let session = answer.session(PATH)?;
                    Ok(RefreshOutcome::TokenTheftDetected {
                        recipe_user_id: session
                            .recipe_user_id
                            .unwrap_or_else(|| session.user_id.clone()),
                        handle: session.handle,
                        user_id: session.user_id,
                    })
                }
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn regenerate_access_token(
        &self,
        access_token: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/regenerate";
            let mut answer: SessionAnswer = self
                .inner
                .post(
                    PATH,
                    json!({ "accessToken": access_token, "userDataInJWT": user_data_in_jwt }),
                )
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(RegenerateOutcome::Ok {
                    session: answer.session(PATH)?.into(),
                    new_access_token: answer.access_token.map(Into::into),
                }),
                status::UNAUTHORISED => Ok(RegenerateOutcome::Unauthorised),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn revoke_sessions(
        &self,
        handles: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/remove";
            if handles.is_empty() {
                return Ok(Vec::new());
            }
            let answer: RemoveAnswer = self
                .inner
                .post(PATH, json!({ "sessionHandles": handles }))
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(answer.session_handles_revoked),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn revoke_all_sessions_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            let path = if across_all_tenants {
                "/recipe/session/remove".to_owned()
            } else {
                tenant_path(&tenant_id, "/recipe/session/remove")
            };
            let answer: RemoveAnswer = self
                .inner
                .post(
                    &path,
                    json!({
                        "userId": user_id,
                        "revokeSessionsForLinkedAccounts": true,
                        "revokeAcrossAllTenants": across_all_tenants,
                    }),
                )
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(answer.session_handles_revoked),
                other => Err(unexpected(&path, other)),
            }
        })
    }

    fn session_handles_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            let path = if across_all_tenants {
                "/recipe/session/user".to_owned()
            } else {
                tenant_path(&tenant_id, "/recipe/session/user")
            };
            let answer: HandlesAnswer = self
                .inner
                .get(
                    &path,
                    vec![
                        ("userId", user_id),
                        ("fetchSessionsForAllLinkedAccounts", "true".to_owned()),
                        ("fetchAcrossAllTenants", across_all_tenants.to_string()),
                    ],
                )
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(answer.session_handles),
                other => Err(unexpected(&path, other)),
            }
        })
    }

    fn session_information(
        &self,
        handle: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session";
            let answer: InformationAnswer = self
                .inner
                .get(PATH, vec![("sessionHandle", handle)])
                .await?;
            match answer.status.as_str() {
                status::OK => {
                    let user_id = answer.user_id.ok_or_else(|| incomplete(PATH, "userId"))?;
                    Ok(Some(SessionInformation {
                        handle: answer
                            .session_handle
                            .ok_or_else(|| incomplete(PATH, "sessionHandle"))?,
                        recipe_user_id: answer.recipe_user_id.unwrap_or_else(|| user_id.clone()),
                        user_id,
                        tenant_id: answer.tenant_id.unwrap_or_else(|| PUBLIC_TENANT.to_owned()),
                        session_data: answer.user_data_in_database,
                        user_data_in_jwt: answer.user_data_in_jwt,
                        expiry_ms: answer.expiry.ok_or_else(|| incomplete(PATH, "expiry"))?,
                        time_created_ms: answer
                            .time_created
                            .ok_or_else(|| incomplete(PATH, "timeCreated"))?,
                    }))
                }
                status::UNAUTHORISED => Ok(None),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn update_session_data(
        &self,
        handle: String,
        data: Value,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/data";
            let answer: StatusAnswer = self
                .inner
                .put(
                    PATH,
                    json!({ "sessionHandle": handle, "userDataInDatabase": null_as_empty(data) }),
                )
                .await?;
            found(PATH, &answer.status)
        })
    }

    fn update_access_token_payload(
        &self,
        handle: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/jwt/data";
            let answer: StatusAnswer = self
                .inner
                .put(
                    PATH,
                    json!({ "sessionHandle": handle, "userDataInJWT": user_data_in_jwt }),
                )
                .await?;
            found(PATH, &answer.status)
        })
    }

    fn create_jwt(&self, jwt: NewJwt) -> BoxFuture<'_, Result<String, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/jwt";
            jwt.check()?;
            let answer: JwtAnswer = self
                .inner
                .post(
                    PATH,
                    json!({
                        "payload": jwt.payload,
                        "validity": jwt.validity_secs,
                        "algorithm": "RS256",
                        "jwksDomain": jwt.jwks_domain,
                        "useStaticSigningKey": jwt.use_static_signing_key,
                    }),
                )
                .await?;
            match answer.status.as_str() {
                status::OK => answer.jwt.ok_or_else(|| incomplete(PATH, "jwt")),
                // `UNSUPPORTED_ALGORITHM_ERROR`: never for RS256, which every core signs.
                other => Err(unexpected(PATH, other)),
            }
        })
    }
}

/// The answer to `POST /recipe/jwt`.
#[derive(Deserialize)]
struct JwtAnswer {
    status: String,
    #[serde(default)]
    jwt: Option<String>,
}

/// Session data of `null` is sent as `{}` (the core wants an object), as the SDKs do.
fn null_as_empty(data: Value) -> Value {
    match data {
        Value::Null => json!({}),
        data => data,
    }
}

/// `OK` ⇒ `true`, `UNAUTHORISED` (no such session) ⇒ `false`.
fn found(path: &str, status: &str) -> Result<bool, CoreError> {
    match status {
        status::OK => Ok(true),
        status::UNAUTHORISED => Ok(false),
        other => Err(unexpected(path, other)),
    }
}

/// The cores' public JWKS, for the verifier's [`JwksCache`](crate::JwksCache).
struct CoreKeySource(Arc<Inner>);

impl KeySource for CoreKeySource {
    fn fetch_keys(&self) -> BoxFuture<'_, Result<JwkSet, KeySourceError>> {
        Box::pin(self.0.fetch_jwks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_paths_are_encoded() {
        assert_eq!(
            tenant_path("public", "/recipe/session"),
            "/public/recipe/session"
        );
        assert_eq!(tenant_path("a b/c", "/x"), "/a%20b%2Fc/x");
    }
}
