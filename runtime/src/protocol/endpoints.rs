//! The endpoints the frontend SDK calls (docs/protocol.md §9), whatever the framework: which
//! request is for which endpoint, and the answer to it. Adapters route requests here and
//! turn the answer into their framework's response.

use serde_json::json;

use crate::config::SessionConfig;
use crate::error::{ErrorResponse, RequestInfo};

use super::answer::{Answer, error_answer};
use super::jwt::{DISCOVERY_PATH, JWKS_PATH, discovery_response, jwks_response};
use super::refresh::{
    CLEARED_DUPLICATES_MESSAGE, Refreshed, legacy_cookie_clearing, refresh, sign_out,
};
use super::request::RequestView;
use super::response::ResponseChanges;

/// An endpoint served under `{apiBasePath}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `POST {apiBasePath}/session/refresh`.
    Refresh,
    /// `POST {apiBasePath}/signout`.
    SignOut,
    /// `GET {apiBasePath}/jwt/jwks.json`: the keys that verify [`SessionConfig::create_jwt`]'s
    /// tokens.
    Jwks,
    /// `GET {apiBasePath}/.well-known/openid-configuration`.
    OpenIdDiscovery,
}

impl Endpoint {
    /// Every endpoint, in the order adapters register them.
    pub(crate) const ALL: [Endpoint; 4] = [
        Endpoint::Refresh,
        Endpoint::SignOut,
        Endpoint::Jwks,
        Endpoint::OpenIdDiscovery,
    ];

    /// Whether `config` serves the endpoint (it may be disabled).
    pub(crate) fn enabled(self, config: &SessionConfig) -> bool {
        let c = config.inner();
        match self {
            Endpoint::Refresh => !c.refresh_endpoint_disabled,
            Endpoint::SignOut => !c.sign_out_endpoint_disabled,
            Endpoint::Jwks | Endpoint::OpenIdDiscovery => true,
        }
    }

    /// The method the endpoint answers.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Endpoint::Refresh | Endpoint::SignOut => "POST",
            Endpoint::Jwks | Endpoint::OpenIdDiscovery => "GET",
        }
    }

    /// The path below `{apiBasePath}`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::Refresh => "/session/refresh",
            Endpoint::SignOut => "/signout",
            Endpoint::Jwks => JWKS_PATH,
            Endpoint::OpenIdDiscovery => DISCOVERY_PATH,
        }
    }
}

/// The endpoint a request for `method` `path` is for, if any and enabled. Behind an API
/// gateway stage the function may see the stage in the path or not; prefixes match whole
/// segments only. (The tower layer routes by it; actix-web registers each endpoint's path.)
#[cfg(any(feature = "axum", test))]
pub(crate) fn endpoint_for(config: &SessionConfig, method: &str, path: &str) -> Option<Endpoint> {
    let path = strip_segments(path, config.api_gateway_path()).unwrap_or(path);
    let rest = strip_segments(path, config.api_base_path())?;
    Endpoint::ALL
        .into_iter()
        .find(|endpoint| endpoint.path() == rest && endpoint.method() == method)
        .filter(|endpoint| endpoint.enabled(config))
}

/// `path` without `prefix` when the prefix ends at a segment boundary (`/dev` is a prefix of
/// `/dev/auth` but not of `/devices`).
#[cfg(any(feature = "axum", test))]
fn strip_segments<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The answer to `req`, a request for `endpoint`: the 200 with its token changes, or the
/// config's answer to the error; the config's [`SessionApis`](super::hooks::SessionApis) run
/// before and after.
pub(crate) async fn serve_endpoint<R: RequestView>(
    config: &SessionConfig,
    endpoint: Endpoint,
    req: &R,
) -> Answer {
    let request = RequestInfo::new(req.method(), req.path(), req.query());
    let apis = config.apis();
    match endpoint {
        Endpoint::Refresh => {
            if let Some(apis) = apis
                && let Some(response) = apis.before_refresh(request).await
            {
                return Answer::from(response);
            }
            let outcome = refresh(config, req).await;
            if let Some(apis) = apis {
                match &outcome {
                    Ok(Refreshed::Session(session)) => {
                        apis.after_refresh(request, Ok(session)).await;
                    }
                    Err(error) => apis.after_refresh(request, Err(error)).await,
                    // Nothing was refreshed: the client refreshes again.
                    Ok(Refreshed::DuplicatesCleared(_)) => {}
                }
            }
            let mut answer = match outcome {
                Ok(Refreshed::Session(session)) => {
                    Answer::ok(&json!({}), session.response_changes())
                }
                Ok(Refreshed::DuplicatesCleared(changes)) => {
                    Answer::ok(&json!({ "message": CLEARED_DUPLICATES_MESSAGE }), changes)
                }
                Err(error) => error_answer(config, &error, &request, None).await,
            };
            // The legacy cookie goes whatever the outcome (docs/protocol.md §9.1).
            answer.changes.extend(legacy_cookie_clearing(config, req));
            answer
        }
        Endpoint::SignOut => {
            if let Some(apis) = apis
                && let Some(response) = apis.before_sign_out(request).await
            {
                return Answer::from(response);
            }
            let outcome = sign_out(config, req, |_| {}).await;
            if let Some(apis) = apis {
                apis.after_sign_out(request, outcome.as_ref()).await;
            }
            match outcome {
                Ok(session) => Answer::ok(&json!({"status": "OK"}), session.response_changes()),
                Err(error) => error_answer(config, &error, &request, None).await,
            }
        }
        Endpoint::Jwks => match jwks_response(config).await {
            Ok(response) => Answer::from(response),
            Err(error) => error_answer(config, &error, &request, None).await,
        },
        Endpoint::OpenIdDiscovery => Answer::from(discovery_response(config)),
    }
}

impl Answer {
    /// A 200 with the JSON `body` and `changes`.
    fn ok(body: &serde_json::Value, changes: ResponseChanges) -> Self {
        Answer {
            response: ErrorResponse::json(200, body),
            changes,
        }
    }
}

impl From<ErrorResponse> for Answer {
    fn from(response: ErrorResponse) -> Self {
        Answer {
            response,
            changes: ResponseChanges::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(gateway: &str) -> (tempfile::TempDir, SessionConfig) {
        let dir = tempfile::tempdir().unwrap();
        let config = SessionConfig::builder()
            .data_dir(dir.path())
            .api_gateway_path(gateway)
            .build()
            .unwrap();
        (dir, config)
    }

    #[test]
    fn endpoints_are_matched_by_whole_segments_with_or_without_the_stage() {
        let (_dir, staged) = config("/dev");
        for path in ["/dev/auth/session/refresh", "/auth/session/refresh"] {
            assert_eq!(
                endpoint_for(&staged, "POST", path),
                Some(Endpoint::Refresh),
                "{path}"
            );
        }
        assert_eq!(
            endpoint_for(&staged, "POST", "/dev/auth/signout"),
            Some(Endpoint::SignOut)
        );
        for path in [
            "/devices/auth/signout",
            "/authx/signout",
            "/auth/signout/x",
            "/auth",
            "/",
        ] {
            assert_eq!(endpoint_for(&staged, "POST", path), None, "{path}");
        }
        assert_eq!(endpoint_for(&staged, "GET", "/auth/signout"), None);
        assert_eq!(
            endpoint_for(&staged, "GET", "/dev/auth/jwt/jwks.json"),
            Some(Endpoint::Jwks)
        );
        assert_eq!(
            endpoint_for(&staged, "GET", "/auth/.well-known/openid-configuration"),
            Some(Endpoint::OpenIdDiscovery)
        );
        assert_eq!(endpoint_for(&staged, "POST", "/auth/jwt/jwks.json"), None);
        assert_eq!(
            staged.inner().refresh_token_path,
            "/dev/auth/session/refresh"
        );
    }
}
