//! Hooks: the recipe's functions and the frontend endpoints, overridable (the SDKs'
//! `override.functions` and `override.apis`).
//!
//! [`SessionFunctions`] is a trait whose every method by default calls the built-in behaviour
//! through [`Original`]; override a method to add logic before or after it, change its input or
//! output, or refuse the call with an error. Every path reaches the same hook: a session created
//! by a handler or without a request goes through
//! [`create_new_session`](SessionFunctions::create_new_session), the sign-out endpoint and
//! [`SessionContainer::revoke_session`] through
//! [`revoke_session`](SessionFunctions::revoke_session), and so on.
//!
//! [`SessionApis`] runs logic before and after the refresh and sign-out endpoints; the
//! builder's `disable_refresh_endpoint` and `disable_sign_out_endpoint` turn them off.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{SessionConfig, SessionConfigBuilder};
use crate::core::{
    CreatedSession, NewSession, RefreshOutcome, RefreshRequest, RegenerateOutcome,
    SessionInformation,
};
use crate::error::{ErrorResponse, RequestInfo, SessionError};
use crate::token::PROTECTED_PROPS;

use super::manage::{Tenants, merged_payload, payload_update};
use super::options::VerifyOptions;
use super::session::SessionContainer;

/// The boxed future a hook returns: `Box::pin(async move { .. })`.
pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The recipe's functions (the SDKs' `override.functions`). Each method's default calls the
/// built-in behaviour through `original`; implement the ones to change and register the value
/// with the builder's `override_functions`.
///
/// ```no_run
/// use sessionward::core::{CreatedSession, NewSession};
/// use sessionward::hooks::{HookFuture, Original, SessionFunctions};
/// use sessionward::SessionError;
///
/// /// Stamps every new session's payload with the app's deployment.
/// struct StampDeployment;
///
/// impl SessionFunctions for StampDeployment {
///     fn create_new_session<'a>(
///         &'a self,
///         mut new: NewSession,
///         original: Original<'a>,
///     ) -> HookFuture<'a, Result<CreatedSession, SessionError>> {
///         Box::pin(async move {
///             new.access_token_payload.insert("deployment".into(), "eu-1".into());
///             original.create_new_session(new).await
///         })
///     }
/// }
///
/// # fn main() -> Result<(), sessionward::ConfigError> {
/// let config = sessionward::SessionConfig::builder()
///     .data_dir("./session-data")
///     .override_functions(StampDeployment)
///     .build()?;
/// # Ok(()) }
/// ```
pub trait SessionFunctions: Send + Sync + 'static {
    /// Creates a session in the core: every creation path (a handler's
    /// `create_new_session`, `create_new_session_without_request_response`). `new` carries
    /// the payload with the first values of fetched claims; protected fields are dropped after
    /// the hook.
    fn create_new_session<'a>(
        &'a self,
        new: NewSession,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<CreatedSession, SessionError>> {
        original.create_new_session(new)
    }

    /// Runs after every verification (route guards, extractors, `get_session`,
    /// `get_session_without_request_response`, sign-out) with its result: the session, `None`
    /// for an optional route without one, or the error. Return it, another result, or an error
    /// to refuse the session (the SDKs' `getSession`). Only called when overridden, so
    /// verification costs nothing more without it.
    fn get_session<'a>(
        &'a self,
        request: Option<RequestInfo<'a>>,
        options: &'a VerifyOptions,
        verified: Result<Option<SessionContainer>, SessionError>,
    ) -> HookFuture<'a, Result<Option<SessionContainer>, SessionError>> {
        let _ = (request, options);
        Box::pin(async move { verified })
    }

    /// Rotates a refresh token: the refresh endpoint and
    /// `refresh_session_without_request_response`. A refused token is
    /// [`SessionError::Unauthorised`]; a reused one revokes its session and is
    /// [`SessionError::TokenTheftDetected`].
    fn refresh_session<'a>(
        &'a self,
        request: RefreshRequest,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<CreatedSession, SessionError>> {
        original.refresh_session(request)
    }

    /// Re-signs an access token with a new custom payload
    /// ([`SessionContainer::merge_into_access_token_payload`]).
    fn regenerate_access_token<'a>(
        &'a self,
        access_token: String,
        payload: Map<String, Value>,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<RegenerateOutcome, SessionError>> {
        original.regenerate_access_token(access_token, payload)
    }

    /// Revokes one session: `SessionConfig::revoke_session`,
    /// [`SessionContainer::revoke_session`], the sign-out endpoint, and a refresh that detects
    /// token theft. `false` when there was no such session.
    fn revoke_session<'a>(
        &'a self,
        handle: String,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<bool, SessionError>> {
        original.revoke_session(handle)
    }

    /// Revokes sessions by handle; returns the handles that existed.
    fn revoke_multiple_sessions<'a>(
        &'a self,
        handles: Vec<String>,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<Vec<String>, SessionError>> {
        original.revoke_multiple_sessions(handles)
    }

    /// Revokes every session of a user in `tenants`; returns the revoked handles.
    fn revoke_all_sessions_for_user<'a>(
        &'a self,
        user_id: String,
        tenants: Tenants<'a>,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<Vec<String>, SessionError>> {
        original.revoke_all_sessions_for_user(user_id, tenants)
    }

    /// The handles of a user's live sessions in `tenants`.
    fn get_all_session_handles_for_user<'a>(
        &'a self,
        user_id: String,
        tenants: Tenants<'a>,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<Vec<String>, SessionError>> {
        original.get_all_session_handles_for_user(user_id, tenants)
    }

    /// What the core keeps about a session; `None` when there is no such session.
    fn get_session_information<'a>(
        &'a self,
        handle: String,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<Option<SessionInformation>, SessionError>> {
        original.get_session_information(handle)
    }

    /// Replaces a session's database-only data; `false` when there is no such session.
    fn update_session_data_in_database<'a>(
        &'a self,
        handle: String,
        data: Value,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<bool, SessionError>> {
        original.update_session_data_in_database(handle, data)
    }

    /// Merges `update` into a session's custom access-token payload by handle (`null` deletes a
    /// key); `false` when there is no such session.
    fn merge_into_access_token_payload<'a>(
        &'a self,
        handle: String,
        update: Map<String, Value>,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<bool, SessionError>> {
        original.merge_into_access_token_payload(handle, update)
    }
}

/// The built-in recipe functions, handed to every [`SessionFunctions`] method.
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    config: &'a SessionConfig,
}

impl<'a> Original<'a> {
    /// The config the call is made under.
    pub fn config(&self) -> &'a SessionConfig {
        self.config
    }

    /// Creates the session in the core (protected payload fields dropped).
    pub fn create_new_session(
        self,
        mut new: NewSession,
    ) -> HookFuture<'a, Result<CreatedSession, SessionError>> {
        Box::pin(async move {
            for key in PROTECTED_PROPS {
                new.access_token_payload.remove(*key);
            }
            Ok(self.config.core().create_session(new).await?)
        })
    }

    /// Rotates the refresh token in the core; revokes the session on reuse.
    pub fn refresh_session(
        self,
        request: RefreshRequest,
    ) -> HookFuture<'a, Result<CreatedSession, SessionError>> {
        Box::pin(async move {
            let core = self.config.core();
            match core.refresh_session(request).await? {
                RefreshOutcome::Ok(created) => Ok(created),
                RefreshOutcome::Unauthorised(reason) => {
                    tracing::debug!(%reason, "refresh refused by the core");
                    Err(SessionError::Unauthorised {
                        clear_tokens: true,
                        reason: "refresh token invalid or expired",
                    })
                }
                RefreshOutcome::TokenTheftDetected {
                    handle,
                    user_id,
                    recipe_user_id,
                } => {
                    tracing::warn!(session_handle = %handle, user_id = %user_id, "refresh token theft detected; revoking the session");
                    // Through the functions in force, so that an overridden revocation sees
                    // this one too.
                    let (functions, original) = self.config.functions();
                    functions.revoke_session(handle.clone(), original).await?;
                    Err(SessionError::TokenTheftDetected {
                        session_handle: handle,
                        user_id,
                        recipe_user_id,
                    })
                }
            }
        })
    }

    /// Re-signs the access token in the core.
    pub fn regenerate_access_token(
        self,
        access_token: String,
        payload: Map<String, Value>,
    ) -> HookFuture<'a, Result<RegenerateOutcome, SessionError>> {
        Box::pin(async move {
            Ok(self
                .config
                .core()
                .regenerate_access_token(access_token, payload)
                .await?)
        })
    }

    /// Revokes the session in the core.
    pub fn revoke_session(self, handle: String) -> HookFuture<'a, Result<bool, SessionError>> {
        Box::pin(async move {
            let revoked = self.config.core().revoke_sessions(vec![handle]).await?;
            Ok(!revoked.is_empty())
        })
    }

    /// Revokes the sessions in the core.
    pub fn revoke_multiple_sessions(
        self,
        handles: Vec<String>,
    ) -> HookFuture<'a, Result<Vec<String>, SessionError>> {
        Box::pin(async move {
            if handles.is_empty() {
                return Ok(Vec::new());
            }
            Ok(self.config.core().revoke_sessions(handles).await?)
        })
    }

    /// Revokes the user's sessions in the core.
    pub fn revoke_all_sessions_for_user(
        self,
        user_id: String,
        tenants: Tenants<'a>,
    ) -> HookFuture<'a, Result<Vec<String>, SessionError>> {
        Box::pin(async move {
            let (tenant_id, all) = tenants.scope();
            Ok(self
                .config
                .core()
                .revoke_all_sessions_for_user(tenant_id, user_id, all)
                .await?)
        })
    }

    /// Lists the user's session handles from the core.
    pub fn get_all_session_handles_for_user(
        self,
        user_id: String,
        tenants: Tenants<'a>,
    ) -> HookFuture<'a, Result<Vec<String>, SessionError>> {
        Box::pin(async move {
            let (tenant_id, all) = tenants.scope();
            Ok(self
                .config
                .core()
                .session_handles_for_user(tenant_id, user_id, all)
                .await?)
        })
    }

    /// Reads the session from the core.
    pub fn get_session_information(
        self,
        handle: String,
    ) -> HookFuture<'a, Result<Option<SessionInformation>, SessionError>> {
        Box::pin(async move { Ok(self.config.core().session_information(handle).await?) })
    }

    /// Replaces the session data in the core (`null` stores `{}`).
    pub fn update_session_data_in_database(
        self,
        handle: String,
        data: Value,
    ) -> HookFuture<'a, Result<bool, SessionError>> {
        Box::pin(async move {
            let data = if data.is_null() {
                Value::Object(Map::new())
            } else {
                data
            };
            Ok(self.config.core().update_session_data(handle, data).await?)
        })
    }

    /// Reads the payload from the core, merges `update` into it and stores it; protected fields
    /// are refused.
    pub fn merge_into_access_token_payload(
        self,
        handle: String,
        update: Map<String, Value>,
    ) -> HookFuture<'a, Result<bool, SessionError>> {
        Box::pin(async move {
            let update = payload_update(Value::Object(update))?;
            let core = self.config.core();
            let Some(info) = core.session_information(handle.clone()).await? else {
                return Ok(false);
            };
            let payload = merged_payload(info.user_data_in_jwt, update);
            Ok(core.update_access_token_payload(handle, payload).await?)
        })
    }
}

/// Logic before and after the frontend endpoints (the SDKs' `override.apis`): refresh and
/// sign-out. Register it with the builder's `override_apis`.
///
/// A `before_` hook that returns a response answers the request with it instead of the
/// endpoint (for example a 429 from a rate limiter); an `after_` hook sees the outcome.
///
/// ```
/// use sessionward::hooks::{HookFuture, SessionApis};
/// use sessionward::{ErrorResponse, RequestInfo, SessionContainer, SessionError};
///
/// struct AuditSignOuts;
///
/// impl SessionApis for AuditSignOuts {
///     fn after_sign_out<'a>(
///         &'a self,
///         _request: RequestInfo<'a>,
///         outcome: Result<&'a SessionContainer, &'a SessionError>,
///     ) -> HookFuture<'a, ()> {
///         Box::pin(async move {
///             if let Ok(session) = outcome {
///                 println!("user {} signed out", session.user_id());
///             }
///         })
///     }
/// }
/// ```
pub trait SessionApis: Send + Sync + 'static {
    /// Before `POST {apiBasePath}/session/refresh`; `Some(response)` is sent instead.
    fn before_refresh<'a>(
        &'a self,
        request: RequestInfo<'a>,
    ) -> HookFuture<'a, Option<ErrorResponse>> {
        let _ = request;
        Box::pin(async { None })
    }

    /// After a refresh, with its new session or its error.
    fn after_refresh<'a>(
        &'a self,
        request: RequestInfo<'a>,
        outcome: Result<&'a SessionContainer, &'a SessionError>,
    ) -> HookFuture<'a, ()> {
        let _ = (request, outcome);
        Box::pin(async {})
    }

    /// Before `POST {apiBasePath}/signout`; `Some(response)` is sent instead.
    fn before_sign_out<'a>(
        &'a self,
        request: RequestInfo<'a>,
    ) -> HookFuture<'a, Option<ErrorResponse>> {
        let _ = request;
        Box::pin(async { None })
    }

    /// After a sign-out, with the revoked session or the error.
    fn after_sign_out<'a>(
        &'a self,
        request: RequestInfo<'a>,
        outcome: Result<&'a SessionContainer, &'a SessionError>,
    ) -> HookFuture<'a, ()> {
        let _ = (request, outcome);
        Box::pin(async {})
    }
}

/// The built-in recipe functions: every method is the trait's default, which calls the original.
struct BuiltIn;

impl SessionFunctions for BuiltIn {}

// The config stores hooks without naming these traits (it sits below this layer), as a
// `Box<dyn Trait>` inside its `StoredHook`; these are the only writers and readers.
type BoxedFunctions = Box<dyn SessionFunctions>;
type BoxedApis = Box<dyn SessionApis>;

impl SessionConfigBuilder {
    /// Overrides the recipe's functions (the SDKs' `override.functions`): every method of
    /// `functions` that is not overridden calls the built-in one. See [`SessionFunctions`].
    pub fn override_functions(mut self, functions: impl SessionFunctions) -> Self {
        let boxed: BoxedFunctions = Box::new(functions);
        self.functions = Some(Arc::new(boxed));
        self
    }

    /// Runs `apis` before and after the refresh and sign-out endpoints (the SDKs'
    /// `override.apis`). See [`SessionApis`].
    pub fn override_apis(mut self, apis: impl SessionApis) -> Self {
        let boxed: BoxedApis = Box::new(apis);
        self.apis = Some(Arc::new(boxed));
        self
    }
}

impl SessionConfig {
    /// The recipe functions of this config and the originals to hand them.
    pub(crate) fn functions(&self) -> (&dyn SessionFunctions, Original<'_>) {
        static BUILT_IN: BuiltIn = BuiltIn;
        let functions = self.overridden_functions().unwrap_or(&BUILT_IN);
        (functions, Original { config: self })
    }

    /// The overridden recipe functions, if any (verification asks this alone, so that it
    /// costs nothing more without an override).
    pub(crate) fn overridden_functions(&self) -> Option<&dyn SessionFunctions> {
        let stored = self.inner().functions.as_deref()?;
        stored.downcast_ref::<BoxedFunctions>().map(|f| f.as_ref())
    }

    /// The logic around the endpoints, if any.
    pub(crate) fn apis(&self) -> Option<&dyn SessionApis> {
        let stored = self.inner().apis.as_deref()?;
        stored.downcast_ref::<BoxedApis>().map(|a| a.as_ref())
    }
}
