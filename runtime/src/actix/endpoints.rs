//! The session endpoints on actix-web: refresh and sign-out for the frontend (docs/protocol.md
//! §9), the JWKS and the OpenID discovery document for services verifying the JWTs of
//! [`SessionConfig::create_jwt`].

use actix_web::dev::HttpServiceFactory;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::config::SessionConfig;
use crate::protocol::{self, ResponseChanges};

use super::response::{apply_changes, reject};

impl SessionConfig {
    /// The session endpoints, to register on the app: `POST {apiBasePath}/session/refresh` and
    /// `POST {apiBasePath}/signout`, which the frontend SDK calls, and
    /// `GET {apiBasePath}/jwt/jwks.json` and `GET {apiBasePath}/.well-known/openid-configuration`
    /// (see [`SessionConfig::get_jwks`], [`SessionConfig::get_open_id_discovery_configuration`]).
    ///
    /// ```no_run
    /// # use actix_web::App;
    /// # fn app(config: sessionward::SessionConfig) {
    /// App::new().app_data(config.clone()).service(config.endpoints());
    /// # }
    /// ```
    pub fn endpoints(&self) -> impl HttpServiceFactory + 'static {
        let base = self.api_base_path().to_owned();
        (
            web::resource(format!("{base}/session/refresh")).route(web::post().to(refresh)),
            web::resource(format!("{base}/signout")).route(web::post().to(sign_out)),
            web::resource(format!("{base}{}", protocol::JWKS_PATH)).route(web::get().to(jwks)),
            web::resource(format!("{base}{}", protocol::DISCOVERY_PATH))
                .route(web::get().to(discovery)),
        )
    }
}

fn ok_with(body: serde_json::Value, changes: &ResponseChanges) -> HttpResponse {
    let mut response = HttpResponse::Ok().json(body);
    apply_changes(changes, response.headers_mut());
    response
}

/// `POST {apiBasePath}/session/refresh` (docs/protocol.md §9.1).
async fn refresh(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let config = SessionConfig::from_request(&req).map_err(|e| reject(&req, None, e))?;
    match protocol::refresh(&config, &req).await {
        Ok(changes) => Ok(ok_with(json!({}), &changes)),
        Err(error) => {
            let mut response = config.error_response(&req, &error);
            let legacy = protocol::legacy_cookie_clearing(&config, &req);
            apply_changes(&legacy, response.headers_mut());
            Ok(response)
        }
    }
}

/// `POST {apiBasePath}/signout` (docs/protocol.md §9.2).
async fn sign_out(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let config = SessionConfig::from_request(&req).map_err(|e| reject(&req, None, e))?;
    match protocol::sign_out(&config, &req, |_| {}).await {
        Ok(changes) => Ok(ok_with(json!({"status": "OK"}), &changes)),
        Err(error) => Err(reject(&req, Some(&config), error)),
    }
}

/// A 200 JSON answer of the JWKS or discovery endpoint.
fn jwt_endpoint(answer: protocol::JwtEndpointAnswer) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.content_type("application/json");
    for header in answer.headers {
        response.insert_header(header);
    }
    response.body(answer.body)
}

/// `GET {apiBasePath}/jwt/jwks.json`.
async fn jwks(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let config = SessionConfig::from_request(&req).map_err(|e| reject(&req, None, e))?;
    match protocol::jwks_answer(&config).await {
        Ok(answer) => Ok(jwt_endpoint(answer)),
        Err(error) => Err(reject(&req, Some(&config), error)),
    }
}

/// `GET {apiBasePath}/.well-known/openid-configuration`.
async fn discovery(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let config = SessionConfig::from_request(&req).map_err(|e| reject(&req, None, e))?;
    Ok(jwt_endpoint(protocol::discovery_answer(&config)))
}
