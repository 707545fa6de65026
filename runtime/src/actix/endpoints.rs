//! The session endpoints on actix-web, answered by the protocol layer: refresh and sign-out
//! for the frontend (docs/protocol.md §9), the JWKS and the OpenID discovery document for
//! services verifying the JWTs of [`SessionConfig::create_jwt`].

use actix_web::dev::HttpServiceFactory;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::config::SessionConfig;
use crate::protocol::{self, Endpoint};

use super::response::{apply_changes, reject, to_http_response};

impl SessionConfig {
    /// The session endpoints, to register on the app: `POST {apiBasePath}/session/refresh` and
    /// `POST {apiBasePath}/signout`, which the frontend SDK calls (each unless disabled in the
    /// builder), and `GET {apiBasePath}/jwt/jwks.json` and
    /// `GET {apiBasePath}/.well-known/openid-configuration` (see [`SessionConfig::get_jwks`],
    /// [`SessionConfig::get_open_id_discovery_configuration`]).
    ///
    /// ```no_run
    /// # use actix_web::App;
    /// # fn app(config: sessionward::SessionConfig) {
    /// App::new().app_data(config.clone()).service(config.endpoints());
    /// # }
    /// ```
    pub fn endpoints(&self) -> impl HttpServiceFactory + 'static {
        let base = self.api_base_path();
        Endpoint::ALL
            .into_iter()
            .filter(|endpoint| endpoint.enabled(self))
            .map(|endpoint| {
                // Endpoints are read with GET or written with POST.
                let method = match endpoint.method() {
                    "GET" => Method::GET,
                    _ => Method::POST,
                };
                web::resource(format!("{base}{}", endpoint.path()))
                    .route(web::method(method).to(move |req: HttpRequest| serve(req, endpoint)))
            })
            .collect::<Vec<_>>()
    }
}

async fn serve(req: HttpRequest, endpoint: Endpoint) -> Result<HttpResponse, actix_web::Error> {
    let config = match SessionConfig::from_request(&req) {
        Ok(config) => config,
        Err(error) => return Err(reject(&req, None, error).await),
    };
    let answer = protocol::serve_endpoint(&config, endpoint, &req).await;
    let mut response = to_http_response(answer.response);
    apply_changes(&answer.changes, response.headers_mut());
    Ok(response)
}
