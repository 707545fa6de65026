//! The frontend-facing session endpoints on actix-web (docs/protocol.md §9): refresh and sign-out.

use actix_web::dev::HttpServiceFactory;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::config::SessionConfig;
use crate::protocol::{self, ResponseChanges};

use super::response::{apply_changes, reject};

impl SessionConfig {
    /// The session endpoints the frontend SDK calls, to register on the app:
    /// `POST {apiBasePath}/session/refresh` and `POST {apiBasePath}/signout`.
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
        Ok(refreshed) => Ok(ok_with(refreshed.body, &refreshed.changes)),
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
