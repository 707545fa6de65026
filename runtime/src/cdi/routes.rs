//! Which CDI endpoint a request path names: `[/appid-<app>][/<tenant>]/<endpoint>`
//! (docs/protocol.md §10.1).

/// The CDI endpoints served by [`super::configure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `GET /apiversion`.
    ApiVersion,
    /// `GET /hello` (health check, public).
    Hello,
    /// `GET /ready` (readiness check, public; not part of the CDI).
    Ready,
    /// `GET /.well-known/jwks.json` (public).
    Jwks,
    /// `GET /recipe/jwt/jwks` (deprecated, api key).
    JwtJwks,
    /// `POST /recipe/jwt`: sign a JWT for other services.
    Jwt,
    /// `GET /user/id` (the account-linking lookup supertokens-node makes before creating a
    /// session).
    UserId,
    /// `POST /<tenant>/recipe/session` (create), `GET /recipe/session` (information).
    Session,
    /// `POST /recipe/handshake` (CDI before 2.21).
    Handshake,
    /// `POST /recipe/session/verify`.
    Verify,
    /// `POST /recipe/session/refresh`.
    Refresh,
    /// `POST /recipe/session/regenerate`.
    Regenerate,
    /// `POST [/<tenant>]/recipe/session/remove`.
    Remove,
    /// `GET [/<tenant>]/recipe/session/user`.
    UserHandles,
    /// `PUT /recipe/session/data`, `GET` (deprecated).
    SessionData,
    /// `PUT /recipe/jwt/data`, `GET` (deprecated).
    JwtData,
}

impl Endpoint {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "apiversion" => Self::ApiVersion,
            "hello" => Self::Hello,
            "ready" => Self::Ready,
            ".well-known/jwks.json" => Self::Jwks,
            "recipe/jwt/jwks" => Self::JwtJwks,
            "recipe/jwt" => Self::Jwt,
            "user/id" => Self::UserId,
            "recipe/session" => Self::Session,
            "recipe/handshake" => Self::Handshake,
            "recipe/session/verify" => Self::Verify,
            "recipe/session/refresh" => Self::Refresh,
            "recipe/session/regenerate" => Self::Regenerate,
            "recipe/session/remove" => Self::Remove,
            "recipe/session/user" => Self::UserHandles,
            "recipe/session/data" => Self::SessionData,
            "recipe/jwt/data" => Self::JwtData,
            _ => return None,
        })
    }

    /// Endpoints whose tenant prefix selects the tenant (docs/protocol.md §10.3); the others are
    /// app-level and accept only the `public` prefix.
    pub(crate) fn is_tenant_scoped(self) -> bool {
        matches!(self, Self::Session | Self::Remove | Self::UserHandles)
    }

    /// Endpoints any caller may use (the core's public APIs).
    pub(crate) fn is_public(self) -> bool {
        matches!(self, Self::Hello | Self::Ready | Self::Jwks)
    }

    /// Endpoints that need a served `cdi-version` (all but the version query and the public
    /// ones, which refuse only a malformed or too new one, as the core's).
    pub(crate) fn checks_cdi_version(self) -> bool {
        !matches!(
            self,
            Self::ApiVersion | Self::Hello | Self::Ready | Self::Jwks
        )
    }
}

/// A parsed CDI request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// `a1` of `/appid-a1/…`.
    pub(crate) app: Option<&'a str>,
    /// `t1` of `/t1/recipe/session`.
    pub(crate) tenant: Option<&'a str>,
    /// The endpoint.
    pub(crate) endpoint: Endpoint,
}

/// The CDI endpoint `path` names, if any.
pub(crate) fn parse(path: &str) -> Option<Target<'_>> {
    let rest = path.strip_prefix('/')?;
    let (app, rest) = match rest.split_once('/') {
        Some((first, tail)) if first.starts_with("appid-") => {
            (Some(&first["appid-".len()..]), tail)
        }
        _ => (None, rest),
    };
    if let Some(endpoint) = Endpoint::from_path(rest) {
        return Some(Target {
            app,
            tenant: None,
            endpoint,
        });
    }
    let (tenant, tail) = rest.split_once('/')?;
    if tenant.is_empty() || tenant == "recipe" || tenant.starts_with("appid-") {
        return None;
    }
    Some(Target {
        app,
        tenant: Some(tenant),
        endpoint: Endpoint::from_path(tail)?,
    })
}

/// Whether `tenant` is a tenant id this server accepts: 1 to 64 ASCII letters, digits, `-`
/// or `_`.
pub(crate) fn is_valid_tenant(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(
        app: Option<&'static str>,
        tenant: Option<&'static str>,
        endpoint: Endpoint,
    ) -> Option<Target<'static>> {
        Some(Target {
            app,
            tenant,
            endpoint,
        })
    }

    #[test]
    fn paths_with_and_without_prefixes() {
        assert_eq!(
            parse("/recipe/session"),
            target(None, None, Endpoint::Session)
        );
        assert_eq!(
            parse("/public/recipe/session"),
            target(None, Some("public"), Endpoint::Session)
        );
        assert_eq!(
            parse("/appid-a1/t1/recipe/session/remove"),
            target(Some("a1"), Some("t1"), Endpoint::Remove)
        );
        assert_eq!(
            parse("/appid-public/.well-known/jwks.json"),
            target(Some("public"), None, Endpoint::Jwks)
        );
        assert_eq!(
            parse("/apiversion"),
            target(None, None, Endpoint::ApiVersion)
        );
        assert_eq!(parse("/user/id"), target(None, None, Endpoint::UserId));
        assert_eq!(parse("/recipe/jwt"), target(None, None, Endpoint::Jwt));
        assert_eq!(
            parse("/recipe/handshake"),
            target(None, None, Endpoint::Handshake)
        );
    }

    #[test]
    fn other_paths_are_not_cdi() {
        for path in [
            "",
            "/",
            "/login",
            "/recipe",
            "/recipe/session/",
            "/recipe/recipe/session",
            "/appid-a1/appid-a2/recipe/session",
            "//recipe/session",
            "/auth/session/refresh",
            "/a/b/recipe/session",
        ] {
            assert_eq!(parse(path), None, "{path}");
        }
    }

    #[test]
    fn tenant_ids() {
        assert!(is_valid_tenant("public"));
        assert!(is_valid_tenant("Tenant_1-a"));
        assert!(!is_valid_tenant(""));
        assert!(!is_valid_tenant("t%201"));
        assert!(!is_valid_tenant(&"t".repeat(65)));
    }
}
