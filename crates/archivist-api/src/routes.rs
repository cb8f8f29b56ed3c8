//! The JSON endpoints under `/api/v1`, `/metrics` and the dashboard, and
//! the guard in front of them: mutating calls need the bearer token, and a
//! loopback API answers only requests that name a loopback host.

use std::{sync::Arc, time::Duration};

use archivist::{
    CommunityStatus, JoinOptions, Node,
    index::{CommunityId, DownloadPolicy, LinkKind, TimeRange, coalesce, parse_duration},
    scheduler::RunOutcome,
};
use axum::{
    Json, Router,
    extract::{Path, Query, Request, State, rejection::QueryRejection},
    http::{Method, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{auth, error::ApiError, tracker::Tracker};

/// How long the node endpoint waits for the relay's peer list.
const PEERS_TIMEOUT: Duration = Duration::from_secs(2);

/// The embedded dashboard: one page, no build step.
const DASHBOARD: &str = include_str!("dashboard.html");

/// What every handler shares.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) node: Node,
    pub(crate) tracker: Tracker,
    pub(crate) token: Arc<str>,
    /// Bound to a loopback address: reads are open, and the `Host` header
    /// must name a loopback host.
    pub(crate) loopback: bool,
}

type Answer<T = Json<Value>> = Result<T, ApiError>;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/metrics", get(metrics))
        .route("/api/v1/node", get(node_status))
        .route("/api/v1/communities", get(communities))
        .route("/api/v1/communities/{id}", get(community))
        .route("/api/v1/communities/{id}/archives", get(archives))
        .route("/api/v1/downloads", get(downloads))
        .route("/api/v1/events", get(events))
        .route("/api/v1/communities/{id}/join", post(join))
        .route("/api/v1/communities/{id}/leave", post(leave))
        .route("/api/v1/communities/{id}/archiving", post(archiving))
        .route("/api/v1/communities/{id}/archive-now", post(archive_now))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "the endpoint exists, not with this method (reads are GET, changes POST)",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Refuses what the caller may not do before any handler runs.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if state.loopback && !auth::host_is_loopback(headers) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden-host",
            "this API answers only requests for a loopback host (127.0.0.1, localhost)",
        )
        .into_response();
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if (!reads || !state.loopback)
        && let Err(refused) = auth::check_bearer(headers, &state.token)
    {
        return refused.into_response();
    }
    next.run(request).await
}

fn community_id(text: &str) -> Result<CommunityId, ApiError> {
    text.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-community-id",
            format!("{text:?} is not a community ID (0x + 66 hex digits): {e}"),
        )
    })
}

async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = &state.tracker.metrics;
    if let Some(waku) = state.node.waku()
        && let Ok(Ok(peers)) = tokio::time::timeout(PEERS_TIMEOUT, waku.relay_peers()).await
    {
        metrics
            .peers
            .get_or_create(&crate::metrics::Network {
                network: "waku".to_owned(),
            })
            .set(i64::try_from(peers.len()).unwrap_or(i64::MAX));
    }
    let (owned, joined) = state.node.communities();
    let (fetched, uploaded, peers) = owned
        .iter()
        .chain(&joined)
        .map(|c| state.node.torrent_traffic(c))
        .fold((0u64, 0u64, 0u64), |(f, u, p), (df, du, dp)| {
            (f + df, u + du, p + u64::from(dp))
        });
    let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    metrics.torrent_bytes_live.set(gauge(fetched));
    metrics.torrent_bytes_uploaded.set(gauge(uploaded));
    if state.node.torrent_listen_addr().is_some() {
        metrics
            .peers
            .get_or_create(&crate::metrics::Network {
                network: "torrent".to_owned(),
            })
            .set(gauge(peers));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}

async fn node_status(State(state): State<AppState>) -> Answer {
    let node = &state.node;
    let (owned, joined) = node.communities();
    let waku = match node.waku() {
        Some(waku) => {
            let peers = tokio::time::timeout(PEERS_TIMEOUT, waku.relay_peers())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|p| p.len());
            json!({
                "listen": waku.listen_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
                "peers": peers,
            })
        }
        None => Value::Null,
    };
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started_at": state.tracker.started_at,
        "data_dir": node.config().data_dir.display().to_string(),
        "networks": node.config().enabled_kinds().iter().map(|k| k.name().to_owned()).collect::<Vec<_>>(),
        "torrent_listen": node.torrent_listen_addr().map(|a| a.to_string()),
        "waku": waku,
        "owned": owned.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "joined": joined.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

/// One community as the list and the single endpoint show it: the facade's
/// status JSON plus the role, archive count, download and last event.
async fn summary(state: &AppState, community: &CommunityId) -> Result<Value, ApiError> {
    let status = state.node.status(community).await?;
    let mut value = status.to_json();
    value["role"] = json!(role(&status));
    value["archives"] = json!(status.networks.iter().filter_map(|n| n.archives).max());
    let downloads = state.tracker.downloads(&state.node);
    let tracked = state.tracker.lock();
    value["last_event"] = json!(tracked.last_events.get(community));
    drop(tracked);
    let community_text = community.to_string();
    value["download"] = json!(downloads.iter().find(|d| d.community == community_text));
    Ok(value)
}

fn role(status: &CommunityStatus) -> &'static str {
    match (status.owned, status.joined) {
        (true, true) => "owner+member",
        (true, false) => "owner",
        _ => "member",
    }
}

async fn communities(State(state): State<AppState>) -> Answer {
    let (owned, joined) = state.node.communities();
    let mut all: Vec<CommunityId> = owned.into_iter().chain(joined).collect();
    all.sort();
    all.dedup();
    let mut list = Vec::new();
    for community in &all {
        list.push(summary(&state, community).await?);
    }
    Ok(Json(json!({ "communities": list })))
}

async fn community(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let community = community_id(&id)?;
    Ok(Json(summary(&state, &community).await?))
}

/// Every archive behind the community's current links, merged across
/// networks, with what this node has of each, and the coverage the
/// dashboard's timeline draws.
async fn archives(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let community = community_id(&id)?;
    let status = state.node.status(&community).await?;
    let mut merged: Vec<(String, TimeRange, Vec<String>)> = Vec::new();
    for network in &status.networks {
        let Some(list) = state
            .node
            .current_archives(&community, &network.kind)
            .await?
        else {
            continue;
        };
        for (archive, range) in list {
            let archive = archive.to_string();
            match merged.iter_mut().find(|(id, ..)| *id == archive) {
                Some((.., networks)) => networks.push(network.kind.name().to_owned()),
                None => merged.push((archive, range, vec![network.kind.name().to_owned()])),
            }
        }
    }
    merged.sort_by_key(|(id, range, _)| (*range, id.clone()));
    let imported: Vec<String> = status.imported.iter().map(ToString::to_string).collect();
    let downloaded: Vec<String> = status.downloaded.iter().map(ToString::to_string).collect();
    let state_of = |id: &String| {
        if imported.contains(id) {
            "imported"
        } else if downloaded.contains(id) {
            "downloaded"
        } else if status.owned {
            "published"
        } else {
            "available"
        }
    };
    let available = coalesce(merged.iter().map(|(_, r, _)| *r));
    let missing = coalesce(
        merged
            .iter()
            .filter(|(id, ..)| state_of(id) == "available")
            .map(|(_, r, _)| *r),
    );
    let gaps: Vec<TimeRange> = available
        .windows(2)
        .map(|w| TimeRange {
            from: w[0].to,
            to: w[1].from,
        })
        .collect();
    let list: Vec<Value> = merged
        .iter()
        .map(|(id, range, networks)| {
            json!({
                "id": id,
                "from": range.from,
                "to": range.to,
                "networks": networks,
                "state": state_of(id),
            })
        })
        .collect();
    Ok(Json(json!({
        "community": community.to_string(),
        "role": role(&status),
        "archives": list,
        "coverage": {
            "imported": ranges(&status.imported_ranges),
            "available": ranges(&available),
            "missing": ranges(&missing),
            "gaps": ranges(&gaps),
        },
    })))
}

fn ranges(ranges: &[TimeRange]) -> Value {
    ranges
        .iter()
        .map(|r| json!({ "from": r.from, "to": r.to }))
        .collect()
}

async fn downloads(State(state): State<AppState>) -> Answer {
    Ok(Json(
        json!({ "downloads": state.tracker.downloads(&state.node) }),
    ))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    /// Only events with a larger sequence number.
    after: Option<u64>,
}

async fn events(
    State(state): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let tracked = state.tracker.lock();
    let list: Vec<_> = tracked
        .recent
        .iter()
        .filter(|e| query.after.is_none_or(|after| e.seq > after))
        .cloned()
        .collect();
    Ok(Json(json!({ "events": list })))
}

/// `POST …/join`: how to join. Both fields optional; the body may be
/// absent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    /// The network tried first: `torrent`, `codex`, …
    prefer: Option<String>,
    /// `all` (default), `latest`, or a duration such as `30d` (the last 30
    /// days).
    download: Option<String>,
}

/// A JSON body, or its default when the request has none.
fn body_or_default<T: Default + for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

async fn join(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let community = community_id(&id)?;
    let body: JoinBody = body_or_default(&body)?;
    let prefer = body
        .prefer
        .map(|p| {
            p.parse::<LinkKind>()
                .map_err(|e| ApiError::bad_request(format!("prefer {p:?}: {e}")))
        })
        .transpose()?;
    let download = match body.download.as_deref() {
        None | Some("all") => DownloadPolicy::All,
        Some("latest") => DownloadPolicy::Latest,
        Some(last) => DownloadPolicy::Last {
            seconds: parse_duration(last).map_err(|e| {
                ApiError::bad_request(format!(
                    "download {last:?}: use \"all\", \"latest\" or a duration such as \"30d\": {e}"
                ))
            })?,
        },
    };
    state
        .node
        .join_with(
            community,
            JoinOptions::default()
                .with_prefer(prefer)
                .with_download(download),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(summary(&state, &community).await?),
    ))
}

async fn leave(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let community = community_id(&id)?;
    state.node.leave(&community).await?;
    Ok(Json(
        json!({ "community": community.to_string(), "left": true }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchivingBody {
    enabled: bool,
}

async fn archiving(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    let community = community_id(&id)?;
    let body: ArchivingBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("body {{\"enabled\": bool}}: {e}")))?;
    state.node.set_archiving(&community, body.enabled).await?;
    Ok(Json(summary(&state, &community).await?))
}

async fn archive_now(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let community = community_id(&id)?;
    let outcomes = state.node.archive_now(&community).await?;
    let runs: Vec<Value> = outcomes
        .into_iter()
        .map(|(network, outcome)| match outcome {
            RunOutcome::Created {
                range,
                archives,
                link,
            } => json!({
                "network": network,
                "outcome": "created",
                "from": range.from,
                "to": range.to,
                "archives": archives.len(),
                "link": link.map(|l| l.to_string()),
            }),
            RunOutcome::Nothing => json!({ "network": network, "outcome": "nothing" }),
            RunOutcome::Failed { error } => {
                json!({ "network": network, "outcome": "failed", "error": error })
            }
            // A future outcome is still reported, by name only.
            _ => json!({ "network": network, "outcome": "other" }),
        })
        .collect();
    Ok(Json(
        json!({ "community": community.to_string(), "runs": runs }),
    ))
}
