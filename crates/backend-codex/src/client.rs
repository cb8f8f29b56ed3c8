//! A REST client for Codex / Logos Storage nodes (spec 2 and 8): raw-body
//! uploads, verified downloads, manifests, `/exists` in both JSON shapes,
//! deletes and background fetches, with deadlines, retries and progress.

mod download;
mod progress;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::Stream;
use reqwest::{RequestBuilder, Response, StatusCode, header};
use serde::Deserialize;

pub use self::{
    download::DownloadOptions,
    progress::{OnProgress, Progress},
};
use crate::{
    config::ClientConfig,
    error::ClientError,
    format::{
        cid::parse_cid,
        manifest::{DataItem, DataList},
        upload_headers::is_valid_filename,
    },
};

/// How to upload: the metadata sent with it (both change the dataset's
/// CID) and where to report progress (which does not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOptions {
    /// Sent as `Content-Disposition: attachment; filename="…"`; must be a
    /// name the node accepts.
    pub filename: Option<String>,
    /// Sent as `Content-Type`; must be an exact MIME type, no parameters.
    pub mimetype: Option<String>,
    /// Called as the body goes out.
    pub progress: Option<OnProgress>,
}

impl UploadOptions {
    /// Options with a filename and a MIME type.
    pub fn new(filename: Option<&str>, mimetype: Option<&str>) -> UploadOptions {
        UploadOptions {
            filename: filename.map(str::to_string),
            mimetype: mimetype.map(str::to_string),
            progress: None,
        }
    }

    /// The same, reporting progress to `callback`.
    pub fn with_progress(
        mut self,
        callback: impl Fn(Progress) + Send + Sync + 'static,
    ) -> UploadOptions {
        self.progress = Some(OnProgress::new(callback));
        self
    }
}

/// Where a download may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The node's own store only (`GET /data/{cid}`).
    Local,
    /// The node, fetching what it lacks from the network
    /// (`GET /data/{cid}/network/stream`).
    Network,
}

/// `GET /space`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Space {
    /// Blocks stored.
    pub total_blocks: u64,
    /// Quota.
    pub quota_max_bytes: u64,
    /// Bytes used, padding and manifests included.
    pub quota_used_bytes: u64,
    /// Bytes reserved (marketplace; 0 otherwise).
    #[serde(default)]
    pub quota_reserved_bytes: u64,
}

/// A client of one node. Clones share the connection pool and the kept
/// download buffer.
#[derive(Clone, Debug)]
pub struct CodexClient {
    http: reqwest::Client,
    api: String,
    config: ClientConfig,
    buffers: Arc<download::BufferPool>,
}

impl CodexClient {
    /// A client for `config`. Proxies from the environment are ignored: the
    /// node is local.
    pub fn new(config: ClientConfig) -> Result<CodexClient, ClientError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(|source| ClientError::Connect {
                what: "building the HTTP client".into(),
                source,
            })?;
        let api = format!("{}{}", config.base_url, config.prefix);
        let buffers = download::BufferPool::new(config.keep_download_buffer);
        Ok(CodexClient {
            http,
            api,
            config,
            buffers,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The base URL with the prefix.
    pub fn api_url(&self) -> &str {
        &self.api
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// `{api}/data/{cid}{rest}`, once `cid` is checked to be a CID whose
    /// text is safe in a URL path as it is (see [`check_cid`]).
    fn cid_url(&self, cid: &str, rest: &str) -> Result<String, ClientError> {
        check_cid(cid)?;
        Ok(self.url(&format!("/data/{cid}{rest}")))
    }

    /// Sends the request `build` makes, retrying connection failures,
    /// timeouts and 5xx with backoff; any other status fails at once with its
    /// body. `deadline` bounds each try until the headers arrive.
    async fn send(
        &self,
        what: &str,
        deadline: Option<Duration>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ClientError> {
        let policy = self.config.retry;
        let mut attempt = 1;
        loop {
            let mut request = build();
            if let Some(d) = deadline {
                request = request.timeout(d);
            }
            let error = match request.send().await {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) => status_error(what, r).await,
                Err(e) => self.transport_error(what, e, deadline),
            };
            if !policy.retries_after(attempt) || !error.is_retryable() {
                return Err(error);
            }
            tokio::time::sleep(policy.delay_after(attempt)).await;
            attempt += 1;
        }
    }

    fn transport_error(
        &self,
        what: &str,
        e: reqwest::Error,
        deadline: Option<Duration>,
    ) -> ClientError {
        if e.is_timeout() {
            ClientError::Timeout {
                what: what.into(),
                after: deadline.unwrap_or(self.config.read_timeout),
            }
        } else if e.is_connect() {
            ClientError::Connect {
                what: what.into(),
                source: e,
            }
        } else {
            ClientError::Transport {
                what: what.into(),
                source: e,
            }
        }
    }

    /// Uploads `data` as one dataset and returns its manifest CID. Retried
    /// on failure: uploads are content-addressed, so a repeat is harmless.
    pub async fn upload(
        &self,
        data: Bytes,
        options: &UploadOptions,
    ) -> Result<String, ClientError> {
        let mut headers = upload_headers(options)?;
        if options.progress.is_some() {
            headers.insert(header::CONTENT_LENGTH, data.len().into());
        }
        let url = self.url("/data");
        let response = self
            .send("POST /data", None, || {
                let body = match &options.progress {
                    Some(progress) => progress::reporting_body(data.clone(), progress.clone()),
                    None => data.clone().into(),
                };
                self.http.post(&url).headers(headers.clone()).body(body)
            })
            .await?;
        read_cid(response).await
    }

    /// Uploads a stream as one dataset, never buffering it whole. Not retried:
    /// a stream cannot be replayed.
    pub async fn upload_stream<S>(
        &self,
        body: S,
        options: &UploadOptions,
    ) -> Result<String, ClientError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let headers = upload_headers(options)?;
        let body = match &options.progress {
            Some(progress) => {
                reqwest::Body::wrap_stream(progress::reporting_stream(body, progress.clone()))
            }
            None => reqwest::Body::wrap_stream(body),
        };
        let request = self
            .http
            .post(self.url("/data"))
            .headers(headers)
            .body(body);
        let response = match request.send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => return Err(status_error("POST /data", r).await),
            Err(e) => return Err(self.transport_error("POST /data", e, None)),
        };
        read_cid(response).await
    }

    /// `GET /data/{cid}/network/manifest`: the manifest, fetched from the
    /// network if needed, within the manifest deadline.
    pub async fn manifest(&self, cid: &str) -> Result<DataItem, ClientError> {
        let url = self.cid_url(cid, "/network/manifest")?;
        let what = format!("GET /data/{cid}/network/manifest");
        let deadline = Some(self.config.manifest_deadline);
        let response = self.send(&what, deadline, || self.http.get(&url)).await?;
        read_json(&what, response).await
    }

    /// `POST /data/{cid}/network`: makes the node fetch the dataset in the
    /// background; returns once the manifest is local. Sent without a body,
    /// which the node would otherwise want a Content-Type for.
    pub async fn fetch_in_background(&self, cid: &str) -> Result<DataItem, ClientError> {
        let url = self.cid_url(cid, "/network")?;
        let what = format!("POST /data/{cid}/network");
        let deadline = Some(self.config.manifest_deadline);
        let response = self.send(&what, deadline, || self.http.post(&url)).await?;
        read_json(&what, response).await
    }

    /// `GET /data/{cid}/exists`: whether the block is in the node's store. Both
    /// answers are read: the node's `{"<cid>": bool}` and the spec's
    /// `{"has": bool}`.
    pub async fn exists(&self, cid: &str) -> Result<bool, ClientError> {
        let url = self.cid_url(cid, "/exists")?;
        let what = format!("GET /data/{cid}/exists");
        let deadline = Some(self.config.request_deadline);
        let response = self.send(&what, deadline, || self.http.get(&url)).await?;
        let map: serde_json::Map<String, serde_json::Value> = read_json(&what, response).await?;
        exists_answer(&map, cid).ok_or_else(|| ClientError::Protocol {
            what,
            reason: format!("no boolean for {cid} in {map:?}"),
        })
    }

    /// `DELETE /data/{cid}`: removes a dataset (or block) from the node.
    pub async fn delete(&self, cid: &str) -> Result<(), ClientError> {
        let url = self.cid_url(cid, "")?;
        let what = format!("DELETE /data/{cid}");
        let deadline = Some(self.config.request_deadline);
        self.send(&what, deadline, || self.http.delete(&url))
            .await?;
        Ok(())
    }

    /// `GET /space`.
    pub async fn space(&self) -> Result<Space, ClientError> {
        let url = self.url("/space");
        let deadline = Some(self.config.request_deadline);
        let response = self
            .send("GET /space", deadline, || self.http.get(&url))
            .await?;
        read_json("GET /space", response).await
    }

    /// `GET /data`: every dataset whose manifest is local.
    pub async fn list(&self) -> Result<DataList, ClientError> {
        let url = self.url("/data");
        let deadline = Some(self.config.request_deadline);
        let response = self
            .send("GET /data", deadline, || self.http.get(&url))
            .await?;
        read_json("GET /data", response).await
    }
}

/// Reads `/exists`: the node's `{"<cid>": bool}` (keyed by the CID as the
/// node re-encodes it, so a lone key also counts) or the openapi's
/// `{"has": bool}`.
fn exists_answer(map: &serde_json::Map<String, serde_json::Value>, cid: &str) -> Option<bool> {
    map.get(cid)
        .or_else(|| map.get("has"))
        .or_else(|| (map.len() == 1).then(|| map.values().next()).flatten())
        .and_then(serde_json::Value::as_bool)
}

/// Refuses a CID that does not parse, or whose text is not all letters and
/// digits: every multibase a node prints (base58btc) or may be given
/// (base32, base36) is, while base64 ones carry `/` and `+`, and anything
/// else could carry `..`, `?` or `#` into the node's router.
fn check_cid(cid: &str) -> Result<(), ClientError> {
    let invalid = |reason: String| ClientError::InvalidCid {
        cid: cid.chars().take(200).collect(),
        reason,
    };
    if cid.is_empty() || !cid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(
            "only letters and digits (a base58btc, base32 or base36 CID) go into a URL".into(),
        ));
    }
    parse_cid(cid).map_err(|e| invalid(e.to_string()))?;
    Ok(())
}

/// The headers of an upload: never multipart, no Content-Type unless given.
fn upload_headers(options: &UploadOptions) -> Result<header::HeaderMap, ClientError> {
    let mut headers = header::HeaderMap::new();
    if let Some(name) = &options.filename {
        let value = format!("attachment; filename=\"{name}\"");
        let value = header::HeaderValue::from_str(&value)
            .ok()
            .filter(|_| is_valid_filename(name) && name.len() <= 255)
            .ok_or_else(|| {
                ClientError::InvalidInput(format!("the node refuses the filename {name:?}"))
            })?;
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(mime) = &options.mimetype {
        // The node matches the whole value against its table: parameters
        // such as `; charset=` make it answer 422.
        let exact = mime.contains('/') && !mime.contains([';', ' ', ',']) && mime.len() <= 128;
        let value = header::HeaderValue::from_str(mime)
            .ok()
            .filter(|_| exact)
            .ok_or_else(|| {
                ClientError::InvalidInput(format!("{mime:?} is not an exact MIME type"))
            })?;
        headers.insert(header::CONTENT_TYPE, value);
    }
    Ok(headers)
}

async fn status_error(what: &str, response: Response) -> ClientError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.trim().chars().take(2_000).collect();
    ClientError::Status {
        what: what.into(),
        status: status.as_u16(),
        body: if body.is_empty() {
            status.canonical_reason().unwrap_or("").to_string()
        } else {
            body
        },
    }
}

async fn read_cid(response: Response) -> Result<String, ClientError> {
    let protocol = |reason: String| ClientError::Protocol {
        what: "POST /data".into(),
        reason,
    };
    let text = response.text().await.map_err(|e| protocol(e.to_string()))?;
    let cid = text.trim();
    parse_cid(cid).map_err(|e| protocol(format!("{cid:?} is not a CID: {e}")))?;
    Ok(cid.to_string())
}

async fn read_json<T: serde::de::DeserializeOwned>(
    what: &str,
    response: Response,
) -> Result<T, ClientError> {
    let protocol = |reason: String| ClientError::Protocol {
        what: what.into(),
        reason,
    };
    if response.status() == StatusCode::NO_CONTENT {
        return Err(protocol("no content".into()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| protocol(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| protocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exists_reads_both_json_shapes() {
        let parse = |text: &str| serde_json::from_str::<serde_json::Map<_, _>>(text).unwrap();
        assert_eq!(
            exists_answer(&parse(r#"{"zDvA": true}"#), "zDvA"),
            Some(true)
        );
        assert_eq!(
            exists_answer(&parse(r#"{"has": false}"#), "zDvA"),
            Some(false)
        );
        assert_eq!(
            exists_answer(&parse(r#"{"zDvOther": true}"#), "zDvA"),
            Some(true)
        );
        assert_eq!(
            exists_answer(&parse(r#"{"a": true, "b": false}"#), "zDvA"),
            None
        );
        assert_eq!(exists_answer(&parse(r#"{"zDvA": "yes"}"#), "zDvA"), None);
    }

    #[test]
    fn upload_headers_are_exact_or_absent() {
        let none = upload_headers(&UploadOptions::default()).unwrap();
        assert!(none.is_empty(), "no Content-Type unless asked for");
        let both = upload_headers(&UploadOptions::new(
            Some("a.bin"),
            Some("application/octet-stream"),
        ))
        .unwrap();
        assert_eq!(
            both[header::CONTENT_DISPOSITION],
            "attachment; filename=\"a.bin\""
        );
        assert_eq!(both[header::CONTENT_TYPE], "application/octet-stream");
        assert!(upload_headers(&UploadOptions::new(Some("a\"b"), None)).is_err());
        assert!(
            upload_headers(&UploadOptions::new(
                None,
                Some("multipart/form-data; boundary=x")
            ))
            .is_err()
        );
    }
}
