//! The CLI's side: finds a running node's API through its address file and
//! calls it, every request bounded by a timeout.

use std::{path::Path, time::Duration};

use serde_json::Value;

use crate::{Address, TOKEN_FILE, error::Error, error::Result};

/// How long a read may take; a node that does not answer in this time is
/// treated as not running.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call that steers the node may take (`archive-now` waits for
/// the runs).
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// A running node's API.
#[derive(Clone, Debug)]
pub struct Client {
    url: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// The API of the node whose data folder is `data_dir`, if its address
    /// file says one runs (whether it answers is for the first call to say).
    pub fn discover(data_dir: &Path) -> Option<Client> {
        let address = Address::read(data_dir)?;
        let token = std::fs::read_to_string(data_dir.join(TOKEN_FILE))
            .ok()
            .map(|t| t.trim().to_owned());
        Some(Client::new(address.url, token))
    }

    /// A client of the API at `url` (`http://127.0.0.1:<port>`).
    pub fn new(url: String, token: Option<String>) -> Client {
        Client {
            url: url.trim_end_matches('/').to_owned(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET path` (`/api/v1/communities`), as JSON. The token goes along
    /// when there is one: a node serving beyond loopback wants it for reads.
    pub async fn get(&self, path: &str) -> Result<Value> {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        self.send(request, READ_TIMEOUT).await
    }

    /// `POST path` with `body` as JSON, with the token.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        self.send(request, CALL_TIMEOUT).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, timeout: Duration) -> Result<Value> {
        let failed = |message: String| Error::Client {
            url: self.url.clone(),
            message,
        };
        let response = request
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| failed(e.to_string()))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| failed(format!("answered {status} with no JSON: {e}")))?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(Error::Refused {
                status: status.as_u16(),
                code: value["code"].as_str().unwrap_or("unknown").to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            })
        }
    }
}
