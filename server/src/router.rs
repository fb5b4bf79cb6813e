//! The HTTP router: pages, server functions, assets, sessions.

use app::error::AppError;
use app::{
    App,
    server::{session_store::DbSessionStore, state::AppState},
    shell,
};
use axum::{
    Router,
    body::Body,
    extract::State,
    http::{Request, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

use crate::{assets, ipxe, security};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "pxecloud_session";

/// The whole app as one router, ready to serve.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let ttl = time::Duration::seconds(
        i64::try_from(state.settings.web_session_ttl.as_secs()).unwrap_or(i64::MAX),
    );
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.settings.secure_cookies)
        .with_expiry(Expiry::OnInactivity(ttl));

    let context_state = state.clone();
    let shell_options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(health))
        .merge(ipxe::routes())
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(context_state.clone());
                security::provide_nonce();
            },
            move || shell(shell_options.clone()),
        )
        .fallback(fallback)
        .layer(middleware::from_fn(api_error_status))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::same_origin_writes,
        ))
        .layer(middleware::from_fn(security::headers))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Answers whether the server and its database are up.
async fn health(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::error!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

/// Serves an embedded file, or the app's not-found page.
async fn fallback(State(state): State<AppState>, request: Request<Body>) -> Response {
    if let Some(response) = assets::serve(request.uri().path(), request.headers()) {
        return response;
    }
    let context_state = state.clone();
    let options = state.leptos_options.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(context_state.clone());
            security::provide_nonce();
        },
        move || shell(options.clone()),
    );
    let mut response = render(request).await.into_response();
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

/// The longest error body a server function sends.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Gives server-function errors their HTTP status (401, 403, 404, 409, 422, 429…).
///
/// Leptos answers every server-function error with 500, whether it came from the function or
/// from decoding its arguments; the JSON body says which `AppError` it is.
async fn api_error_status(request: Request<Body>, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_api || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The span of a request: method and path only, since query strings can carry credentials
/// (the iPXE sign-in fallback sends them hex-encoded), and with the boot token of iPXE paths
/// left out.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let path = redacted_path(request.uri().path());
    tracing::debug_span!("request", method = %request.method(), path = %path)
}

/// A path as logs show it: `/ipxe/s/<token>/…` becomes `/ipxe/s/…/…`.
pub fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/ipxe/s/") {
        Some(rest) => {
            let after = rest.find('/').map_or("", |i| &rest[i..]);
            format!("/ipxe/s/…{after}").into()
        }
        None => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_path;

    #[test]
    fn no_boot_token_reaches_a_log_line() {
        assert_eq!(
            redacted_path("/ipxe/s/0123456789abcdef/boot/2/1"),
            "/ipxe/s/…/boot/2/1"
        );
        assert_eq!(redacted_path("/ipxe/s/0123456789abcdef"), "/ipxe/s/…");
        assert_eq!(redacted_path("/api/login"), "/api/login");
    }
}
