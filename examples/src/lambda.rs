//! Sessions in an AWS Lambda function behind API Gateway (or an ALB), without actix: the
//! handler reads the access token itself and verifies it with
//! [`SessionConfig::get_session_without_request_response`] (the SDKs'
//! `getSessionWithoutRequestResponse`). Built with the `lambda` feature; the binary is
//! `src/bin/lambda.rs`.
//!
//! Only verification runs here. Login, `POST /auth/session/refresh` and `POST /auth/signout`
//! stay on an actix-web app (or are served by your auth service), and every instance must
//! verify with the same keys: point the config at a SuperTokens Core with `.core(..)` in
//! production, or share the embedded core's `DATA_DIR`.
//!
//! The answers follow the protocol, so the frontend SDK refreshes on 401 as usual:
//!
//! | request | answer |
//! |---|---|
//! | `GET /user` with a valid session | 200 `{"userId","sessionHandle","accessTokenPayload"}` |
//! | no access token | 401 `{"message":"unauthorised"}` |
//! | expired or invalid token, or a cookie POST without `rid` | 401 `{"message":"try refresh token"}` |
//! | another path | 404 |

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use sessionward::{SessionConfig, SessionError, VerifyOptions};

/// The access token of a request and whether it came in a cookie (protocol §3.2: the
/// `Authorization: Bearer` header wins over the `sAccessToken` cookie).
fn access_token(request: &Request) -> Option<(String, bool)> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
        return Some((token.to_owned(), false));
    }
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "sAccessToken")
        .map(|(_, value)| (value.to_owned(), true))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The protocol's response for a session error (protocol §6.3).
fn error_response(error: &SessionError) -> Response<Body> {
    let status = actix_web::ResponseError::status_code(error).as_u16();
    let body = match error {
        SessionError::Unauthorised { .. } => json!({"message": "unauthorised"}),
        SessionError::TryRefreshToken { .. } => json!({"message": "try refresh token"}),
        SessionError::TokenTheftDetected { .. } => json!({"message": "token theft detected"}),
        SessionError::InvalidClaims(errors) => {
            json!({"message": "invalid claim", "claimValidationErrors": errors})
        }
        _ => json!({"message": "internal error"}),
    };
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
}

/// Verifies the request's session, as `#[verify_session]` does, without actix.
///
/// With cookies, a request other than GET must carry a `rid` header (anti-CSRF by custom
/// header, protocol §5); the frontend SDK adds it to every request.
///
/// # Errors
/// The [`SessionError`] of protocol §6.3.
pub async fn verify(
    config: &SessionConfig,
    request: &Request,
) -> Result<sessionward::SessionContainer, SessionError> {
    let Some((token, from_cookie)) = access_token(request) else {
        return Err(SessionError::Unauthorised {
            clear_tokens: false,
            reason: "no access token",
        });
    };
    if from_cookie && request.method() != Method::GET && !request.headers().contains_key("rid") {
        return Err(SessionError::TryRefreshToken {
            reason: "anti-CSRF: missing rid header",
        });
    }
    // The custom-header check was made above: the request-less API cannot see headers.
    let options = VerifyOptions::new(true).anti_csrf_check(false);
    let anti_csrf = request
        .headers()
        .get("anti-csrf")
        .and_then(|v| v.to_str().ok());
    config
        .get_session_without_request_response(&token, anti_csrf, &options)
        .await?
        .ok_or(SessionError::Unauthorised {
            clear_tokens: false,
            reason: "no access token",
        })
}

/// The Lambda function: `GET /user` answers with the session, as in the SuperTokens guide.
///
/// # Errors
/// Never: every failure is an HTTP answer (the `Result` is what `lambda_http::run` takes).
pub async fn handle(
    config: &SessionConfig,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    if request.uri().path() != "/user" || request.method() != Method::GET {
        return Ok(json_response(
            StatusCode::NOT_FOUND,
            json!({"message": "not found"}),
        ));
    }
    Ok(match verify(config, &request).await {
        Ok(session) => json_response(
            StatusCode::OK,
            json!({
                "userId": session.user_id(),
                "sessionHandle": session.handle(),
                "accessTokenPayload": session.access_token_payload(),
            }),
        ),
        Err(error) => error_response(&error),
    })
}
