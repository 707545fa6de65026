//! One CDI call to the cores: the `/apiversion` check (once per client), the JSON request and
//! answer, and the public JWKS fetch.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Inner;
use super::transport::{Answer, Call};
use crate::core::CoreError;
use crate::core::wire::CDI_VERSION;
use crate::keys::KeySourceError;

impl Inner {
    /// Fails with the same message on every call once the core was found incompatible.
    async fn ensure_compatible(&self) -> Result<(), CoreError> {
        self.compatibility
            .get_or_try_init(|| self.check_version())
            .await?
            .clone()
            .map_err(CoreError::Internal)
    }

    async fn check_version(&self) -> Result<Result<(), String>, CoreError> {
        #[derive(Deserialize)]
        struct Versions {
            versions: Vec<String>,
        }
        let answer = self
            .transport
            .send(&Call {
                method: Method::GET,
                path: "/apiversion",
                query: Vec::new(),
                body: None,
                cdi_version: false,
                api_key: true,
            })
            .await?;
        let Versions { versions } = parse(&answer)?;
        if versions.iter().any(|v| v == CDI_VERSION) {
            tracing::debug!(
                core = answer.host,
                "SuperTokens core speaks CDI {CDI_VERSION}"
            );
            return Ok(Ok(()));
        }
        let message = format!(
            "the SuperTokens core at {} supports CDI versions {versions:?}, but sessionward \
             needs CDI {CDI_VERSION} (the version supertokens-node 24 uses): run a core whose \
             /apiversion lists {CDI_VERSION}",
            answer.host
        );
        tracing::error!("{message}");
        Ok(Err(message))
    }

    /// A CDI call after the version check; the answer's JSON.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Vec<(&str, String)>,
        body: Option<Value>,
    ) -> Result<T, CoreError> {
        self.ensure_compatible().await?;
        let body = body
            .map(|body| serde_json::to_vec(&body))
            .transpose()
            .map_err(|e| CoreError::Internal(format!("cannot encode a core request: {e}")))?;
        let answer = self
            .transport
            .send(&Call {
                method,
                path,
                query,
                body,
                cdi_version: true,
                api_key: true,
            })
            .await?;
        parse(&answer)
    }

    pub(super) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
    ) -> Result<T, CoreError> {
        self.call(Method::POST, path, Vec::new(), Some(body)).await
    }

    pub(super) async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
    ) -> Result<T, CoreError> {
        self.call(Method::PUT, path, Vec::new(), Some(body)).await
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Vec<(&str, String)>,
    ) -> Result<T, CoreError> {
        self.call(Method::GET, path, query, None).await
    }

    /// `GET /.well-known/jwks.json` from each core in order until one answers a key set.
    pub(super) async fn fetch_jwks(&self) -> Result<JwkSet, KeySourceError> {
        #[derive(Deserialize)]
        struct Keys {
            keys: Vec<Value>,
        }
        let mut failures = Vec::new();
        for host in self.transport.hosts() {
            let call = Call {
                method: Method::GET,
                path: "/.well-known/jwks.json",
                query: Vec::new(),
                body: None,
                cdi_version: false,
                api_key: false,
            };
            let keys = match self.transport.send_to_host(host, &call).await {
                Ok(answer) => parse::<Keys>(&answer),
                Err(error) => Err(error),
            };
            match keys {
                Ok(Keys { keys }) => {
                    // A key this crate cannot read is skipped, as the cache skips unusable ones.
                    let keys = keys
                        .into_iter()
                        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
                        .collect();
                    return Ok(JwkSet { keys });
                }
                Err(error) => {
                    tracing::warn!(core = host.base(), %error, "cannot fetch the JWKS");
                    failures.push(error.to_string());
                }
            }
        }
        Err(KeySourceError(failures.join("; ")))
    }
}

/// The answer's JSON; malformed JSON means a broken core or proxy: unavailable.
fn parse<T: DeserializeOwned>(answer: &Answer) -> Result<T, CoreError> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        // The position and category only: the text could contain a token.
        CoreError::Unavailable(format!(
            "malformed answer from the SuperTokens core at {} ({:?} error at line {}, column {})",
            answer.host,
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_answers_do_not_echo_the_body() {
        let answer = Answer {
            body: br#"{"accessToken": secret-token"#.to_vec(),
            host: "http://a".into(),
        };
        let error = parse::<Value>(&answer).unwrap_err();
        assert!(
            matches!(&error, CoreError::Unavailable(m) if !m.contains("secret")),
            "{error}"
        );
    }
}
