//! The layers every request passes before a route handles it: injected
//! faults (delay, 503s) and, when configured, the node's CORS headers.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::state::NodeState;

/// Injected delay and 503s, before anything else runs.
pub(crate) async fn faults(
    State(node): State<Arc<NodeState>>,
    request: Request,
    next: Next,
) -> Response {
    let n = node.count_request();
    let faults = &node.config.faults;
    if !faults.delay.is_zero() {
        tokio::time::sleep(faults.delay).await;
    }
    let forced = node.take_forced_failure();
    if forced
        || faults
            .fail_every_nth
            .is_some_and(|every| every > 0 && n % every == 0)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "Service unavailable (injected by the devnode)",
        )
            .into_response();
    }
    next.run(request).await
}

/// `--api-cors-origin`: the node's CORS headers, only when configured.
pub(crate) async fn cors(
    State(node): State<Arc<NodeState>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(origin) = &node.config.cors_origin
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
}
