//! Sessions for your own handler tests, without an HTTP login (feature `test-utils`).
//!
//! ```
//! use actix_web::{App, HttpResponse, Responder, get, test};
//! use sessionward::claims::Roles;
//! use sessionward::prelude::*;
//! use sessionward::testing::TestSession;
//!
//! #[get("/admin")]
//! #[verify_session(claims = [Roles::includes("admin")])]
//! async fn admin(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Ok().body(session.user_id().to_owned())
//! }
//!
//! # #[actix_web::main]
//! # async fn main() {
//! let dir = tempfile::tempdir().unwrap();
//! let config = SessionConfig::builder().data_dir(dir.path()).build().unwrap();
//! let app = test::init_service(App::new().app_data(config.clone()).service(admin)).await;
//!
//! let tokens = TestSession::for_user("u1")
//!     .with_claim(&Roles, vec!["admin".to_owned()])
//!     .create(&config)
//!     .await
//!     .unwrap();
//! let req = tokens.authorize(test::TestRequest::get().uri("/admin")).to_request();
//! let res = test::call_service(&app, req).await;
//! assert_eq!(res.status(), 200);
//! # }
//! ```

use std::fmt;

#[cfg(feature = "actix")]
use actix_web::test::TestRequest;
use serde_json::{Map, Value};

use crate::claims::SessionClaim;
use crate::config::SessionConfig;
use crate::core::NewSession;
use crate::error::SessionError;
use crate::token::PROTECTED_PROPS;
use crate::util::now_ms;

/// Describes a session to create directly in the config's core.
#[derive(Debug, Clone)]
pub struct TestSession {
    user_id: String,
    tenant_id: String,
    payload: Map<String, Value>,
    session_data: Value,
}

/// The tokens of a test session.
#[derive(Clone)]
pub struct TestTokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The anti-CSRF token, if the config issues them.
    pub anti_csrf_token: Option<String>,
}

impl fmt::Debug for TestTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestTokens").finish_non_exhaustive()
    }
}

impl TestSession {
    /// A session for `user_id` in the `public` tenant with an empty payload.
    pub fn for_user(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            tenant_id: "public".to_owned(),
            payload: Map::new(),
            session_data: Value::Object(Map::new()),
        }
    }

    /// Puts the session in `tenant_id`.
    #[must_use]
    pub fn in_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }

    /// Sets a claim's value, as if it had just been fetched.
    #[must_use]
    pub fn with_claim<C: SessionClaim>(mut self, claim: &C, value: C::Value) -> Self {
        self.payload.insert(
            claim.key().to_owned(),
            claim.to_payload_value(&value, now_ms()),
        );
        self
    }

    /// Adds a custom payload field (protected fields such as `sub` are ignored).
    #[must_use]
    pub fn with_payload(mut self, key: impl Into<String>, value: Value) -> Self {
        let key = key.into();
        if !PROTECTED_PROPS.contains(&key.as_str()) {
            self.payload.insert(key, value);
        }
        self
    }

    /// Sets the database-only session data.
    #[must_use]
    pub fn with_session_data(mut self, data: Value) -> Self {
        self.session_data = data;
        self
    }

    /// Creates the session in `config`'s core.
    ///
    /// # Errors
    /// Core failures.
    pub async fn create(self, config: &SessionConfig) -> Result<TestTokens, SessionError> {
        let c = config.inner();
        let created = c
            .core
            .create_session(NewSession {
                tenant_id: self.tenant_id,
                recipe_user_id: self.user_id,
                access_token_payload: self.payload,
                session_data: self.session_data,
                enable_anti_csrf: false,
                use_dynamic_signing_key: c.use_dynamic_signing_key,
                access_token_version: crate::core::AccessTokenVersion::default(),
            })
            .await?;
        Ok(TestTokens {
            access_token: created.access_token.token,
            refresh_token: created.refresh_token.token,
            anti_csrf_token: created.anti_csrf_token,
        })
    }
}

#[cfg(feature = "actix")]
impl TestTokens {
    /// Adds `Authorization: Bearer <access token>` to a test request.
    pub fn authorize(&self, request: TestRequest) -> TestRequest {
        request.insert_header(("authorization", format!("Bearer {}", self.access_token)))
    }

    /// Adds the `sAccessToken` cookie (and `rid`, for anti-CSRF) to a test request.
    pub fn with_cookie(&self, request: TestRequest) -> TestRequest {
        request
            .insert_header(("cookie", format!("sAccessToken={}", self.access_token)))
            .insert_header(("rid", "anti-csrf"))
    }
}
