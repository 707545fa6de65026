//! A [`SessionCore`] served over the SuperTokens Core Driver Interface (CDI 2.7 to 5.5), so
//! that supertokens-node (or any backend SDK speaking one of those versions, or a sessionward
//! [`CoreClient`](crate::core::CoreClient)) can use it as its SuperTokens Core.
//!
//! [`configure`] mounts the session endpoints on an actix `App`; the `sessionward-core`
//! binary of `sessionward-examples` serves the embedded core this way.
//!
//! | endpoint | auth |
//! |---|---|
//! | `GET /apiversion` → `{"versions":["2.7","2.8",…,"2.21","3.0",…,"5.5"]}` ([`CDI_VERSIONS`]) | api key |
//! | `GET /.well-known/jwks.json` | public |
//! | `GET /recipe/jwt/jwks` (deprecated) | api key |
//! | `POST /recipe/jwt`: sign a JWT for other services (`Jwt.createJWT`) | api key |
//! | `GET /hello` → `Hello` (liveness: answers while the process serves) | public |
//! | `GET /ready` → 200 `Ready`, or 503 when the core's store does not answer a trivial query within 2 s (readiness; not part of the CDI) | public |
//! | `POST /<tenant>/recipe/session`, `POST /recipe/session` (tenant `public`): create | api key |
//! | `GET /recipe/session?sessionHandle=`: session information | api key |
//! | `POST /recipe/session/verify`, `/refresh`, `/regenerate` | api key |
//! | `POST /recipe/handshake` (CDI before 2.21): the legacy key and the token lifetimes | api key |
//! | `POST [/<tenant>]/recipe/session/remove`: by handles, or by user | api key |
//! | `GET [/<tenant>]/recipe/session/user?userId=`: a user's session handles | api key |
//! | `PUT /recipe/session/data`, `PUT /recipe/jwt/data` (and their deprecated `GET`s) | api key |
//! | `GET /user/id` → `{"status":"UNKNOWN_USER_ID_ERROR"}` (no user store) | api key |
//!
//! Every path may be prefixed with `/appid-public`. Tenant-scoped endpoints take any tenant id
//! of 1–64 letters, digits, `-` or `_`; app-level endpoints accept only the `public` tenant
//! prefix. The api key comes in the `api-key` header, or as `Authorization: Bearer <key>` (or a
//! bare `Authorization: <key>`).
//!
//! **Versions**, read from the `cdi-version` header as the Java core reads it: none means 5.5;
//! the answers have the shapes of the version asked (`tenantId` from 3.0, `recipeUserId` from
//! 4.0) and create and refresh mint the access tokens it implies (v2 before 2.21, v3 for 2.21,
//! v4 for 3.x, v5 from 4.0). Before 2.21, v2 tokens are signed with a legacy key that is not in
//! the JWKS: the handshake, the create answer and the verify answers carry it
//! (`jwtSigningPublicKey`, its expiry, and from 2.9 `jwtSigningPublicKeyList`), and create and
//! refresh answers add `idRefreshToken`. A malformed value is 400 `cdi-version header is invalid`, one not served 400
//! `cdi-version <value> not supported`, a tenant prefix before 3.0 404 `Not found`
//! (docs/protocol.md §10.2).
//!
//! Answers follow the core byte for byte: HTTP 200 with a JSON `status` for logical outcomes
//! (`UNAUTHORISED`, `TRY_REFRESH_TOKEN`, `TOKEN_THEFT_DETECTED`), text errors otherwise, each
//! ending with a newline as the core's (labelled `text/plain`): 400 for malformed input
//! (`Field name 'userId' is invalid in JSON input`) and for an unknown app or tenant
//! (`AppId or tenantId not found => appId: a1, tenantId: public`), 401 `Invalid API key`, 404
//! `Not found` ([`not_found`]), 405 `Method not supported`, 500 or 503 when the core itself
//! fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, guard, web};

use crate::core::{SessionCore, wire};
use crate::headers::{bearer_credentials, header_text};
use crate::keys::KeySource;

mod handlers;
mod input;
mod routes;
mod version;

/// The CDI version [`CoreClient`](crate::core::CoreClient) speaks (one of
/// [`CDI_VERSIONS`]).
pub const CDI_VERSION: &str = wire::CDI_VERSION;

/// The CDI versions [`configure`] serves, oldest first, as `GET /apiversion` lists them: 2.7 to
/// 2.20 (v2 access tokens), 2.21 (v3), 3.0 and 3.1 (v4), 4.0 and 5.0 to 5.5 (v5).
pub const CDI_VERSIONS: &[&str] = version::SUPPORTED;

/// The core's answer to a path it does not serve: 404 `Not found` (and a newline). Mount it
/// as the default service of an `App` that serves only the CDI, as the `sessionward-core`
/// binary does:
///
/// ```no_run
/// # use std::sync::Arc;
/// use actix_web::{App, web};
/// # fn app(core: Arc<dyn sessionward::core::SessionCore>) {
/// let cdi = sessionward::cdi::configure(core, None);
/// let app = App::new()
///     .configure(cdi)
///     .default_service(web::to(sessionward::cdi::not_found));
/// # }
/// ```
pub async fn not_found() -> HttpResponse {
    input::Reject::not_found().into_response()
}

/// Largest accepted request body.
const MAX_BODY_BYTES: usize = 1 << 20;
/// How long a JWKS answer is reused before the key source is asked again. New signing keys
/// are published at least a minute before they sign, so this delay never hides a key in use.
const JWKS_REUSE: Duration = Duration::from_secs(5);
/// How long `GET /ready` waits for the core. Below the usual load-balancer check timeouts, and
/// well below the store's busy timeout, so a stuck store shows as 503 rather than as a probe
/// that timed out.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Mounts the CDI session endpoints of `core`, for CDI 2.7 to 5.5 (see the
/// [module docs](self)).
///
/// `api_key`: the keys callers must present, separated by `,` as in the core's `api_keys`
/// setting (so keys can be rotated); `None` (or only blanks) serves without a key, for
/// loopback-only deployments.
///
/// The endpoints are matched before any route registered after them, and only on the CDI
/// paths listed above, so the same `App` can serve other routes.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use sessionward::{SessionConfig, cdi};
///
/// # #[actix_web::main]
/// # async fn main() -> std::io::Result<()> {
/// let config = SessionConfig::builder()
///     .data_dir("./core-data")
///     .build()
///     .map_err(std::io::Error::other)?;
/// // Once, outside the factory: the workers share the endpoints' state.
/// let cdi = cdi::configure(config.core().clone(), std::env::var("API_KEY").ok());
/// HttpServer::new(move || App::new().configure(cdi.clone()))
///     .bind(("127.0.0.1", 3567))?
///     .run()
///     .await
/// # }
/// ```
pub fn configure(
    core: Arc<dyn SessionCore>,
    api_key: Option<String>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let api_keys = api_key
        .iter()
        .flat_map(|keys| keys.split(','))
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .collect();
    let state = web::Data::new(State {
        keys: core.key_source(),
        core,
        api_keys,
        jwks: tokio::sync::Mutex::new(None),
    });
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::resource("/{cdi_path:.*}")
                .guard(guard::fn_guard(|ctx| {
                    routes::parse(ctx.head().uri.path()).is_some()
                }))
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .to(dispatch),
        );
    }
}

/// What the mounted endpoints share.
pub(crate) struct State {
    core: Arc<dyn SessionCore>,
    keys: Arc<dyn KeySource>,
    api_keys: Vec<String>,
    /// The last JWKS answer body and when it was built.
    jwks: tokio::sync::Mutex<Option<(Instant, web::Bytes)>>,
}

impl State {
    /// Whether the request carries one of the configured api keys (or none is configured).
    fn allows(&self, req: &HttpRequest) -> bool {
        if self.api_keys.is_empty() {
            return true;
        }
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v| header_text(v.as_bytes()))
        };
        let presented = match header("api-key") {
            Some(key) => key.trim(),
            None => match header("authorization") {
                // `Bearer <key>`, or the bare key.
                Some(value) => {
                    let value = value.trim();
                    bearer_credentials(value).unwrap_or(value)
                }
                None => return false,
            },
        };
        self.api_keys.iter().any(|key| {
            aws_lc_rs::constant_time::verify_slices_are_equal(key.as_bytes(), presented.as_bytes())
                .is_ok()
        })
    }
}

async fn dispatch(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    match handlers::handle(&req, &body, &state).await {
        Ok(response) => response,
        Err(reject) => reject.into_response(),
    }
}
