//! Sessions in an AWS Lambda function behind API Gateway (REST or HTTP API) or an ALB, with
//! `sessionward::lambda`: the session layer wraps the `lambda_http` handler and serves the
//! refresh and sign-out endpoints; the handler logs users in and verifies sessions. Built with
//! the `lambda` feature; the binary is `src/bin/lambda.rs`.
//!
//! | request | answer |
//! |---|---|
//! | `POST /login` `{"userId": ".."}` | 200 `{"userId"}`, the session's tokens (cookies or headers, as the frontend asks) |
//! | `GET /user` with a valid session | 200 `{"userId","sessionHandle","accessTokenPayload"}` |
//! | `POST /auth/session/refresh`, `POST /auth/signout` | the SDK endpoints, served by the layer |
//! | `GET /auth/jwt/jwks.json`, `GET /auth/.well-known/openid-configuration` | the signing keys and the OpenID discovery document, served by the layer |
//! | no access token / an expired one | 401 `{"message":"unauthorised"}` / `{"message":"try refresh token"}` (the configured status) |
//! | another path | 404 |
//!
//! Paths may carry the API Gateway stage (`/dev/user`): the config's `api_gateway_path` names it.

use std::future::Future;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response, service_fn};
use serde::Deserialize;
use serde_json::json;
use sessionward::lambda::{Layer, SessionLayer, create_new_session, error_response, get_session};
use sessionward::{SessionConfig, SessionError, VerifyOptions};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    user_id: String,
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn login(request: &Request) -> Result<Response<Body>, SessionError> {
    let Ok(Login { user_id }) = serde_json::from_slice::<Login>(request.body().as_ref()) else {
        let message = json!({"message": "expected {\"userId\": \"..\"}"});
        return Ok(json_response(StatusCode::BAD_REQUEST, &message));
    };
    let session = create_new_session(request, user_id.trim(), json!({})).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"userId": session.user_id()}),
    ))
}

async fn user(request: &Request) -> Result<Response<Body>, SessionError> {
    let session = get_session(request, &VerifyOptions::new(true)).await?;
    let body = session.map(|s| {
        json!({
            "userId": s.user_id(),
            "sessionHandle": s.handle(),
            "accessTokenPayload": s.access_token_payload(),
        })
    });
    Ok(json_response(StatusCode::OK, &body.unwrap_or_default()))
}

/// The function's routes, under `stage` (the API Gateway stage path, or empty).
async fn route(stage: &str, request: Request) -> Response<Body> {
    let path = request.uri().path();
    let path = path.strip_prefix(stage).unwrap_or(path);
    let answer = match (request.method().clone(), path) {
        (Method::POST, "/login") => login(&request).await,
        (Method::GET, "/user") => user(&request).await,
        _ => Ok(json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": "not found"}),
        )),
    };
    answer.unwrap_or_else(error_response)
}

/// The Lambda function: the routes above under the session layer (what `lambda_http::run`
/// takes, and what the tests call with API Gateway events).
pub fn function(
    config: SessionConfig,
) -> impl lambda_http::Service<
    Request,
    Response = Response<Body>,
    Error = lambda_http::Error,
    Future = impl Future<Output = Result<Response<Body>, lambda_http::Error>> + Send,
> + Clone {
    let stage: std::sync::Arc<str> = config.api_gateway_path().into();
    SessionLayer::new(config).layer(service_fn(move |request: Request| {
        let stage = std::sync::Arc::clone(&stage);
        async move { Ok::<_, lambda_http::Error>(route(&stage, request).await) }
    }))
}
