//! The REST routes of spec 2.2–2.3 under each configured prefix, with the
//! node's status codes, bodies and quirks: errors as `text/html` text, unknown
//! paths and methods 404, no Range support, `DELETE` always 204, `/exists` as
//! `{"<cid>": bool}`.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use cid::Cid;
use futures::StreamExt;
use serde_json::json;

use crate::{
    error::DevnodeError,
    format::cid::{cid_text, parse_cid},
    format::manifest::{DataItem, DataList, Manifest},
    format::tree::{BlockSplitter, DEFAULT_BLOCK_SIZE, block_digest, tree_cid},
    format::upload_headers::{check_mimetype, filename_from_disposition},
    network,
    state::NodeState,
    store::Upload,
};

/// Which API generation a prefix speaks; they differ only in small details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// `/api/codex/v1`, Codex ≤ 2025.
    Codex,
    /// `/api/storage/v1`, Logos Storage 2026.
    Storage,
}

#[derive(Clone)]
struct Api {
    node: Arc<NodeState>,
    flavor: Flavor,
}

/// The router for every prefix of `node`.
pub(crate) fn router(node: Arc<NodeState>) -> Router {
    let mut app = Router::new();
    for prefix in &node.config.prefixes {
        let flavor = if prefix.contains("codex") {
            Flavor::Codex
        } else {
            Flavor::Storage
        };
        app = app.nest(prefix, api(node.clone(), flavor));
    }
    app.fallback(not_found)
        .layer(axum::middleware::from_fn(head_is_not_routed))
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            crate::middleware::faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            node,
            crate::middleware::cors,
        ))
}

fn api(node: Arc<NodeState>, flavor: Flavor) -> Router {
    Router::new()
        .route("/data", get(list).post(upload).options(preflight))
        .route(
            "/data/{cid}",
            get(download_local).delete(delete).options(preflight),
        )
        .route("/data/{cid}/network", post(network_fetch))
        .route("/data/{cid}/network/stream", get(network_stream))
        .route("/data/{cid}/network/manifest", get(network_manifest))
        .route("/data/{cid}/exists", get(exists))
        .route("/space", get(space))
        .route("/debug/info", get(debug_info))
        .route("/peerid", get(peer_id))
        .route("/spr", get(spr))
        .method_not_allowed_fallback(not_found)
        .with_state(Api { node, flavor })
}

/// presto keys routes by method and path, so HEAD (which axum would answer
/// from the GET route) is a 404 like any other unrouted method.
async fn head_is_not_routed(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == axum::http::Method::HEAD {
        return not_found().await;
    }
    next.run(request).await
}

async fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// presto's default error shape: the bare message as `text/html`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        message.into(),
    )
        .into_response()
}

fn json_response(value: &impl serde::Serialize) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).expect("plain data serializes"),
    )
        .into_response()
}

fn cid_param(text: &str) -> Option<Cid> {
    parse_cid(text).ok()
}

fn bad_cid() -> Response {
    error(StatusCode::BAD_REQUEST, "Incorrect Cid")
}

fn not_retrievable(why: impl std::fmt::Display) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("The requested CID could not be retrieved ({why})."),
    )
}

fn internal(e: DevnodeError) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `OPTIONS /data` and `/data/{cid}` exist only when CORS is on.
async fn preflight(State(api): State<Api>) -> Response {
    if api.node.config.cors_origin.is_none() {
        return not_found().await;
    }
    (
        StatusCode::NO_CONTENT,
        [(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "content-type,content-disposition",
        )],
    )
        .into_response()
}

async fn upload(
    State(api): State<Api>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let header_text = |name| headers.get(name).map(|v: &HeaderValue| v.to_str());
    let mimetype = match header_text(header::CONTENT_TYPE) {
        None => None,
        Some(Err(_)) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The MIME type is not valid.",
            );
        }
        Some(Ok(v)) => match check_mimetype(v) {
            Ok(m) => m,
            Err(msg) => return error(StatusCode::UNPROCESSABLE_ENTITY, msg),
        },
    };
    let filename = match header_text(header::CONTENT_DISPOSITION) {
        None => None,
        Some(Err(_)) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The filename is not valid.",
            );
        }
        Some(Ok(v)) => match filename_from_disposition(v) {
            Ok(f) => f,
            Err(msg) => return error(StatusCode::UNPROCESSABLE_ENTITY, msg),
        },
    };
    // `?blockSize=` exists in 2026 code only; Codex ignores unknown queries.
    let block_size = match (api.flavor, query.get("blockSize")) {
        (Flavor::Storage, Some(v)) => match v.parse::<usize>() {
            Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid blockSize parameter"),
            Ok(n) if !n.is_power_of_two() || !(4096..=524_288).contains(&n) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "blockSize must be a power of two between 4096 and 524288 bytes",
                );
            }
            Ok(n) => n,
        },
        _ => DEFAULT_BLOCK_SIZE,
    };
    match store_upload(&api.node, body, block_size, filename, mimetype).await {
        Ok(cid) => ([(header::CONTENT_TYPE, "text/plain")], cid_text(&cid)).into_response(),
        // The node logs the quota detail and answers only this.
        Err(DevnodeError::QuotaExceeded { block, .. }) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Unable to store block {block}"),
        ),
        Err(e) => internal(e),
    }
}

/// Streams the body into padded blocks, then stores the tree and the
/// manifest; answers only when everything is stored, as the node does. A
/// failed upload leaves nothing behind.
async fn store_upload(
    node: &NodeState,
    body: Body,
    block_size: usize,
    filename: Option<String>,
    mimetype: Option<String>,
) -> Result<Cid, DevnodeError> {
    let mut upload = node.store.upload();
    let (leaves, dataset_size) = match store_blocks(&mut upload, body, block_size).await {
        Ok(stored) => stored,
        Err(e) => {
            upload.abandon().await;
            return Err(e);
        }
    };
    let tree = tree_cid(&leaves).ok_or(DevnodeError::EmptyUpload)?;
    let manifest = Manifest {
        tree_cid: tree,
        block_size: block_size as u64,
        dataset_size,
        filename,
        mimetype,
    };
    upload.finish(leaves, &manifest).await?;
    Ok(manifest.cid())
}

/// The data blocks of an upload: their digests in order, and the length.
async fn store_blocks(
    upload: &mut Upload,
    body: Body,
    block_size: usize,
) -> Result<(Vec<[u8; 32]>, u64), DevnodeError> {
    let mut splitter = BlockSplitter::new(block_size);
    let mut leaves = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| DevnodeError::io("reading the upload", std::io::Error::other(e)))?;
        let mut data = &chunk[..];
        while let Some(block) = splitter.next_block(&mut data) {
            let digest = block_digest(&block);
            upload.put_block(&digest, block).await?;
            leaves.push(digest);
        }
    }
    let dataset_size = splitter.len();
    if let Some(block) = splitter.finish() {
        let digest = block_digest(&block);
        upload.put_block(&digest, block).await?;
        leaves.push(digest);
    }
    Ok((leaves, dataset_size))
}

async fn list(State(api): State<Api>) -> Response {
    let content = api
        .node
        .store
        .manifests()
        .await
        .into_iter()
        .map(|(cid, m)| DataItem {
            cid: cid_text(&cid),
            manifest: m.to_json(),
            download_id: None,
        })
        .collect();
    json_response(&DataList { content })
}

async fn download_local(State(api): State<Api>, Path(cid): Path<String>) -> Response {
    let Some(cid) = cid_param(&cid) else {
        return bad_cid();
    };
    let manifest = match api.node.store.manifest(&cid).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_retrievable("Block not found in local store"),
        Err(e) => return not_retrievable(e),
    };
    match api.node.store.complete_leaves(&manifest) {
        Some(leaves) => {
            let body = api.node.store.read_dataset(leaves, manifest.dataset_size);
            dataset_response(&api.node, &manifest, body, false)
        }
        None => not_retrievable("Block not found in local store"),
    }
}

/// The local blocks when all are here, else the dataset streamed from a
/// peer while it is fetched and verified. Once the headers are out, a fetch
/// that fails ends the body early, as on the node (spec 2.2).
async fn network_stream(State(api): State<Api>, Path(cid): Path<String>) -> Response {
    let Some(cid) = cid_param(&cid) else {
        return bad_cid();
    };
    let manifest = match network::manifest(&api.node, &cid).await {
        Ok(m) => m,
        Err(e) => return not_retrievable(e),
    };
    match api.node.store.complete_leaves(&manifest) {
        Some(leaves) => {
            let body = api.node.store.read_dataset(leaves, manifest.dataset_size);
            dataset_response(&api.node, &manifest, body, true)
        }
        None => match network::open_dataset(&api.node, &cid, &manifest).await {
            Ok(body) => dataset_response(&api.node, &manifest, body, true),
            Err(e) => not_retrievable(e),
        },
    }
}

/// The dataset as a full `200` with `Content-Length`, its body `chunks` in
/// order, the padding already stripped. Range headers are ignored, as on the
/// node.
fn dataset_response(
    node: &NodeState,
    manifest: &Manifest,
    chunks: impl futures::Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static,
    network: bool,
) -> Response {
    let content_type = manifest
        .mimetype
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let disposition = match &manifest.filename {
        Some(name) => format!("attachment; filename=\"{name}\""),
        None => "attachment".into(),
    };
    let chunks = chunks.boxed();
    let chunks = if node.corrupt_data() {
        corrupted(chunks, manifest.block_size).boxed()
    } else {
        chunks
    };
    let body = match node.config.faults.stall_after {
        Some(after) => Body::from_stream(stalled(chunks, after)),
        None => Body::from_stream(chunks),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    let value =
        |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("attachment"));
    headers.insert(header::CONTENT_TYPE, value(&content_type));
    headers.insert(header::CONTENT_DISPOSITION, value(&disposition));
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(manifest.dataset_size),
    );
    if network {
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Content-Disposition"),
        );
    }
    response
}

/// A stalled node, for tests: the first `after` bytes, then nothing, with
/// the response still open.
fn stalled(
    chunks: impl futures::Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static,
    after: u64,
) -> impl futures::Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static {
    chunks
        .scan(after, |left, chunk| {
            let next = match chunk {
                Ok(_) if *left == 0 => None,
                Ok(bytes) => {
                    let n = bytes
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= n as u64;
                    Some(Ok(bytes.slice(..n)))
                }
                Err(e) => Some(Err(e)),
            };
            futures::future::ready(next)
        })
        .chain(futures::stream::pending())
}

/// A lying node, for tests: the first byte of every block flipped, wherever
/// the chunk boundaries fall.
fn corrupted(
    chunks: impl futures::Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static,
    block_size: u64,
) -> impl futures::Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static {
    let mut offset = 0u64;
    chunks.map(move |chunk| {
        let mut chunk = Vec::from(chunk?);
        let start = offset;
        offset += chunk.len() as u64;
        let mut first = start.next_multiple_of(block_size);
        while first < offset {
            chunk[(first - start) as usize] ^= 0xff;
            first += block_size;
        }
        Ok(Bytes::from(chunk))
    })
}

async fn network_fetch(
    State(api): State<Api>,
    Path(cid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(cid) = cid_param(&cid) else {
        return bad_cid();
    };
    // presto reads non-streaming bodies and wants a Content-Type for them.
    if !body.is_empty() && !headers.contains_key(header::CONTENT_TYPE) {
        return error(
            StatusCode::BAD_REQUEST,
            "Incorrect/missing Content-Type header",
        );
    }
    let manifest = match network::manifest(&api.node, &cid).await {
        Ok(m) => m,
        Err(e) => return not_retrievable(e),
    };
    let download_id = api.node.start_background_fetch(cid, manifest.clone());
    json_response(&DataItem {
        cid: cid_text(&cid),
        manifest: manifest.to_json(),
        download_id: (api.flavor == Flavor::Storage).then_some(download_id),
    })
}

async fn network_manifest(State(api): State<Api>, Path(cid): Path<String>) -> Response {
    let Some(cid) = cid_param(&cid) else {
        return bad_cid();
    };
    match network::manifest(&api.node, &cid).await {
        Ok(m) => json_response(&DataItem {
            cid: cid_text(&cid),
            manifest: m.to_json(),
            download_id: None,
        }),
        Err(e) => not_retrievable(e),
    }
}

async fn exists(State(api): State<Api>, Path(cid): Path<String>) -> Response {
    match cid_param(&cid) {
        Some(cid) => json_response(&json!({ cid_text(&cid): api.node.store.has(&cid) })),
        None => bad_cid(),
    }
}

async fn delete(State(api): State<Api>, Path(cid): Path<String>) -> Response {
    let Some(cid) = cid_param(&cid) else {
        return bad_cid();
    };
    match api.node.store.delete(&cid).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => internal(e),
    }
}

async fn space(State(api): State<Api>) -> Response {
    let (blocks, used) = api.node.store.usage();
    json_response(&json!({
        "totalBlocks": blocks,
        "quotaMaxBytes": api.node.config.quota_max_bytes,
        "quotaUsedBytes": used,
        "quotaReservedBytes": 0,
    }))
}

async fn debug_info(State(api): State<Api>) -> Response {
    let node = &api.node;
    let addr = format!("/ip4/127.0.0.1/tcp/{}", node.local_addr.port());
    let version = json!({ "version": concat!("v", env!("CARGO_PKG_VERSION"), "-devnode"), "revision": "devnode" });
    let info = match api.flavor {
        Flavor::Storage => json!({
            "id": node.peer_id,
            "addrs": [addr],
            "spr": node.spr,
            "libp2pPubKey": node.pub_key_hex,
            "mixPubKey": null,
            "table": { "localNode": { "peerId": node.peer_id, "addresses": [addr] }, "nodes": [] },
            "storage": version,
            "nat": { "reachability": "Unknown", "clientMode": false, "relayRunning": false, "portMapping": "none" },
            "connections": [],
        }),
        Flavor::Codex => json!({
            "id": node.peer_id,
            "addrs": [addr],
            "repo": node.config.data_dir.display().to_string(),
            "spr": node.spr,
            "announceAddresses": [addr],
            "table": {
                "localNode": { "nodeId": node.pub_key_hex, "peerId": node.peer_id, "record": node.spr, "address": addr, "seen": false },
                "nodes": [],
            },
            "codex": version,
        }),
    };
    // The node pretty-prints this one endpoint.
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&info).expect("plain data serializes"),
    )
        .into_response()
}

fn wants_text(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| accept.split(',').next())
        .is_some_and(|first| first.trim().starts_with("text/plain"))
}

async fn peer_id(State(api): State<Api>, headers: HeaderMap) -> Response {
    if wants_text(&headers) {
        (
            [(header::CONTENT_TYPE, "text/plain")],
            api.node.peer_id.clone(),
        )
            .into_response()
    } else {
        json_response(&json!({ "id": api.node.peer_id }))
    }
}

async fn spr(State(api): State<Api>, headers: HeaderMap) -> Response {
    if wants_text(&headers) {
        ([(header::CONTENT_TYPE, "text/plain")], api.node.spr.clone()).into_response()
    } else {
        json_response(&json!({ "spr": api.node.spr }))
    }
}
