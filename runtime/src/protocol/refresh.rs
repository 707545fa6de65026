//! The frontend's session endpoints (docs/protocol.md §9): refresh and sign-out.

use crate::config::{AntiCsrf, ConfigInner, SessionConfig, TokenTransferMethod};
use crate::core::{CreatedSession, RefreshRequest};
use crate::error::SessionError;
use crate::headers::find_cookies;

use super::options::VerifyOptions;
use super::read::{
    ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, Transfer, allowed_transfer, cookie_values,
    has_legacy_cookie, refresh_token,
};
use super::request::{HeaderKey, RequestView};
use super::response::ResponseChanges;
use super::session::SessionContainer;
use super::verify::verify_request;

/// The body of the refresh answer that only cleared the older domain's duplicate cookies (the
/// SDKs' text: the frontend reads the status, a person reads the message).
pub(super) const CLEARED_DUPLICATES_MESSAGE: &str = "The request contains multiple session cookies. We are \
    clearing the cookie from olderCookieDomain. Session will be refreshed in the next refresh call.";

/// What a successful refresh request did.
#[derive(Debug)]
pub(crate) enum Refreshed {
    /// Rotated the tokens: the session's
    /// [`response_changes`](SessionContainer::response_changes) go out with a 200 `{}`.
    Session(SessionContainer),
    /// Only expired the older cookie domain's duplicate session cookies (with
    /// `older_cookie_domain` set): these changes go out with a 200 `{"message"}`.
    DuplicatesCleared(ResponseChanges),
}

/// `POST {apiBasePath}/session/refresh` (docs/protocol.md §9.1). The answer carries
/// [`legacy_cookie_clearing`] whatever the outcome. Runs in a `sessionward.refresh` span that
/// records the outcome.
pub(crate) async fn refresh<R: RequestView>(
    config: &SessionConfig,
    req: &R,
) -> Result<Refreshed, SessionError> {
    crate::observe::refresh(refresh_session(config, req)).await
}

async fn refresh_session<R: RequestView>(
    config: &SessionConfig,
    req: &R,
) -> Result<Refreshed, SessionError> {
    let c = config.inner();
    let allowed = allowed_transfer(req, c);
    if allowed != TokenTransferMethod::Header
        && let Some(changes) = clear_duplicate_cookies(c, req)?
    {
        return Ok(Refreshed::DuplicatesCleared(changes));
    }
    let Some((refresh_token, method)) = refresh_token(req, allowed)? else {
        return Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "no refresh token",
        });
    };
    let anti_csrf_disabled = method == Transfer::Header;
    if !anti_csrf_disabled
        && c.anti_csrf == AntiCsrf::ViaCustomHeader
        && req.header(HeaderKey::Rid).is_none()
    {
        return Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "anti-CSRF: refresh without rid header",
        });
    }
    let created = refresh_in_core(
        config,
        refresh_token,
        req.header(HeaderKey::AntiCsrf).map(str::to_owned),
        !anti_csrf_disabled && c.anti_csrf == AntiCsrf::ViaToken,
    )
    .await?;
    // Clear a refresh token that came by the other method (docs/protocol.md §9.1 step 5).
    let other_has_refresh_token =
        method == Transfer::Header && !cookie_values(req, REFRESH_TOKEN_COOKIE).is_empty();
    let session = SessionContainer::from_created(config, created, method, other_has_refresh_token)?;
    crate::observe::record_session(session.user_id(), session.handle(), session.tenant_id());
    tracing::debug!(
        session_handle = session.handle(),
        user_id = session.user_id(),
        "session refreshed"
    );
    Ok(Refreshed::Session(session))
}

/// Duplicate session cookies (docs/protocol.md §9.1 step 1): two `sAccessToken` or two
/// `sRefreshToken` cookies come from two cookie domains (typically after `cookie_domain`
/// changed), and the server cannot tell which is current. With `older_cookie_domain` set, the
/// changes that expire the older domain's duplicated cookies; without it, unauthorised with
/// the tokens cleared, since refreshing with either cookie could loop forever. `None` when
/// no cookie is duplicated.
fn clear_duplicate_cookies<R: RequestView>(
    c: &ConfigInner,
    req: &R,
) -> Result<Option<ResponseChanges>, SessionError> {
    let [access, refresh] = find_cookies(
        req.header_values(HeaderKey::Cookie),
        [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE],
    );
    let duplicated = [(false, access.len() > 1), (true, refresh.len() > 1)];
    if duplicated.iter().all(|(_, twice)| !twice) {
        return Ok(None);
    }
    let Some(older_domain) = &c.older_cookie_domain else {
        tracing::warn!(
            "refresh request carries duplicate session cookies, as after a change of \
             cookie_domain; set older_cookie_domain to the previous domain to clear its cookies"
        );
        return Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "duplicate session cookies and no older_cookie_domain",
        });
    };
    let mut changes = ResponseChanges::default();
    for (refresh, twice) in duplicated {
        if twice {
            changes.clear_cookie_in_domain(c, older_domain, refresh);
        }
    }
    tracing::debug!("cleared duplicate session cookies of the older cookie domain");
    Ok(Some(changes))
}

/// Rotates `refresh_token` through the recipe functions (the core, or an override). A refused
/// token is [`SessionError::Unauthorised`] (clearing); a reused one revokes its session and is
/// [`SessionError::TokenTheftDetected`].
pub(super) async fn refresh_in_core(
    config: &SessionConfig,
    refresh_token: String,
    anti_csrf_token: Option<String>,
    enable_anti_csrf: bool,
) -> Result<CreatedSession, SessionError> {
    let (functions, original) = config.functions();
    functions
        .refresh_session(
            RefreshRequest {
                refresh_token,
                anti_csrf_token,
                enable_anti_csrf,
                use_dynamic_signing_key: Some(config.inner().use_dynamic_signing_key),
                access_token_version: crate::core::AccessTokenVersion::default(),
            },
            original,
        )
        .await
}

/// Expires the legacy `sIdRefreshToken` cookie if the request has one: refresh answers carry it,
/// whatever their outcome.
pub(crate) fn legacy_cookie_clearing<R: RequestView>(
    config: &SessionConfig,
    req: &R,
) -> ResponseChanges {
    let mut changes = ResponseChanges::default();
    if has_legacy_cookie(req) {
        changes.clear_legacy_id_refresh_cookie(config.inner());
    }
    changes
}

/// `POST {apiBasePath}/signout` (docs/protocol.md §9.2): revokes the request's session, whose
/// [`response_changes`](SessionContainer::response_changes) (the cleared tokens) go out with a
/// 200 `{"status":"OK"}`.
///
/// On an error, the session whose token checked out (if any) went to `keep`, as in
/// [`verify_request`].
pub(crate) async fn sign_out<R: RequestView>(
    config: &SessionConfig,
    req: &R,
    keep: impl FnOnce(&SessionContainer),
) -> Result<SessionContainer, SessionError> {
    // Sign-out verifies like any POST, but checks no claims: a user must always be able to
    // leave.
    let options = VerifyOptions::new(true).without_global_claims();
    let session =
        verify_request(req, config, &options, keep)
            .await?
            .ok_or(SessionError::Unauthorised {
                clear_tokens: false,
                reason: "no access token",
            })?;
    session.revoke_session().await?;
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::test_view::TestRequest;

    fn config(older: Option<&str>) -> (tempfile::TempDir, SessionConfig) {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = SessionConfig::builder().data_dir(dir.path());
        if let Some(older) = older {
            builder = builder.older_cookie_domain(older);
        }
        (dir, builder.build().unwrap())
    }

    #[test]
    fn single_cookies_are_no_duplicates() {
        let (_dir, config) = config(Some("example.com"));
        let req = TestRequest::get().header(HeaderKey::Cookie, "sAccessToken=a; sRefreshToken=b");
        assert!(matches!(
            clear_duplicate_cookies(config.inner(), &req),
            Ok(None)
        ));
    }

    #[test]
    fn duplicates_are_cleared_in_the_older_domain_or_end_the_session() {
        let req = TestRequest::get()
            .header(HeaderKey::Cookie, "sAccessToken=a; sRefreshToken=b")
            .header(HeaderKey::Cookie, "sRefreshToken=c");
        let (_dir, with) = config(Some("https://Old.Example.com/"));
        let changes = clear_duplicate_cookies(with.inner(), &req)
            .unwrap()
            .expect("changes");
        let cookies: Vec<_> = changes.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        assert!(
            cookies[0]
                .contains("sRefreshToken=; Domain=old.example.com; Path=/auth/session/refresh;"),
            "{cookies:?}"
        );

        let (_dir, without) = config(None);
        assert!(matches!(
            clear_duplicate_cookies(without.inner(), &req),
            Err(SessionError::Unauthorised {
                clear_tokens: true,
                ..
            })
        ));
    }
}
