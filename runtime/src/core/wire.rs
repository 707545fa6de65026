//! CDI 5.4 JSON shapes shared by both ends: the server ([`crate::cdi`]) writes them and the
//! client ([`crate::core::CoreClient`]) reads them (supertokens-node 24.0.3,
//! `lib/ts/core/versions/5.4/schema.d.ts`: `session`, `cookieInfo`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::core::{CoreSession, IssuedToken};

/// The CDI version both ends speak.
pub(crate) const CDI_VERSION: &str = "5.4";
/// The tenant every app has.
pub(crate) const PUBLIC_TENANT: &str = "public";

/// CDI `session`: `{"handle","userId","recipeUserId","userDataInJWT","tenantId"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Session {
    pub(crate) handle: String,
    pub(crate) user_id: String,
    /// Older cores leave it out; it is then the user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) recipe_user_id: Option<String>,
    #[serde(default, rename = "userDataInJWT")]
    pub(crate) user_data_in_jwt: Map<String, Value>,
    #[serde(default = "public_tenant")]
    pub(crate) tenant_id: String,
}

fn public_tenant() -> String {
    PUBLIC_TENANT.to_owned()
}

impl From<&CoreSession> for Session {
    fn from(session: &CoreSession) -> Self {
        Self {
            handle: session.handle.clone(),
            user_id: session.user_id.clone(),
            recipe_user_id: Some(session.recipe_user_id.clone()),
            user_data_in_jwt: session.user_data_in_jwt.clone(),
            tenant_id: session.tenant_id.clone(),
        }
    }
}

impl From<Session> for CoreSession {
    fn from(session: Session) -> Self {
        Self {
            recipe_user_id: session
                .recipe_user_id
                .unwrap_or_else(|| session.user_id.clone()),
            handle: session.handle,
            user_id: session.user_id,
            tenant_id: session.tenant_id,
            user_data_in_jwt: session.user_data_in_jwt,
        }
    }
}

/// CDI `cookieInfo`: `{"token","expiry","createdTime"}` (ms).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Token {
    pub(crate) token: String,
    pub(crate) expiry: u64,
    pub(crate) created_time: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token", &"<redacted>")
            .field("expiry", &self.expiry)
            .field("created_time", &self.created_time)
            .finish()
    }
}

impl From<&IssuedToken> for Token {
    fn from(token: &IssuedToken) -> Self {
        Self {
            token: token.token.clone(),
            expiry: token.expiry_ms,
            created_time: token.created_ms,
        }
    }
}

impl From<Token> for IssuedToken {
    fn from(token: Token) -> Self {
        Self {
            token: token.token,
            expiry_ms: token.expiry,
            created_ms: token.created_time,
        }
    }
}

/// The `session` of a `TOKEN_THEFT_DETECTED` refresh answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TheftSession {
    pub(crate) handle: String,
    pub(crate) user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) recipe_user_id: Option<String>,
}

/// The logical statuses of CDI session answers (HTTP 200 with `"status"`).
pub(crate) mod status {
    pub(crate) const OK: &str = "OK";
    pub(crate) const UNAUTHORISED: &str = "UNAUTHORISED";
    pub(crate) const TRY_REFRESH_TOKEN: &str = "TRY_REFRESH_TOKEN";
    pub(crate) const TOKEN_THEFT_DETECTED: &str = "TOKEN_THEFT_DETECTED";
    pub(crate) const UNKNOWN_USER_ID_ERROR: &str = "UNKNOWN_USER_ID_ERROR";
    pub(crate) const UNSUPPORTED_ALGORITHM_ERROR: &str = "UNSUPPORTED_ALGORITHM_ERROR";
}
