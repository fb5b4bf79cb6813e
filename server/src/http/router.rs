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
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, Request, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{timeout::RequestBodyTimeoutLayer, trace::TraceLayer};
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

use std::{sync::Arc, time::Duration};

use super::{assets, files, ipxe, loaders, security};
use crate::tftp::files::LiveFiles;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "pxecloud_session";

/// The whole app as one router, ready to serve; with the boot server's files, the iPXE
/// loaders too (for UEFI HTTP Boot).
pub fn router(state: AppState, boot_files: Option<Arc<LiveFiles>>) -> Router {
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
        .merge(files::routes())
        .merge(boot_files.map(loaders::routes).unwrap_or_default())
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
        .layer(middleware::from_fn(request_timeout))
        .layer(middleware::from_fn(report_timeouts))
        .layer(RequestBodyTimeoutLayer::new(BODY_IDLE_TIMEOUT))
        .layer(middleware::from_fn(body_limits))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::same_origin_writes,
        ))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::client_address,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The app as the HTTPS listener serves it: browsers are told to come back over HTTPS only.
pub fn with_hsts(app: Router) -> Router {
    app.layer(middleware::from_fn(
        |request: Request<Body>, next: Next| async move {
            let mut response = next.run(request).await;
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
            response
        },
    ))
}

/// The app as the plain-HTTP listener serves it while HTTPS is on: the iPXE steps, the
/// loaders and the health check as they are (iPXE and firmware speak plain HTTP), and every other request sent to the
/// same path on the HTTPS port, so that no browser sends a password in clear.
pub fn ipxe_only(app: Router, https_port: u16) -> Router {
    app.layer(middleware::from_fn(
        move |request: Request<Body>, next: Next| async move {
            let path = request.uri().path();
            if path == "/boot.ipxe"
                || path == "/healthz"
                || path.starts_with("/ipxe/")
                || path.starts_with("/f/")
                || path.starts_with("/files/")
                || path.starts_with(crate::dhcp::policy::LOADERS_PATH)
            {
                return next.run(request).await;
            }
            https_redirect(&request, https_port)
        },
    ))
}

/// A permanent redirect to the HTTPS listener, under the name the browser used.
fn https_redirect(request: &Request<Body>, https_port: u16) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host.parse::<axum::http::uri::Authority>().ok());
    let Some(host) = host else {
        return (
            StatusCode::BAD_REQUEST,
            "This server answers browsers over HTTPS only; the request named no host.\n",
        )
            .into_response();
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{}{port}{path}", host.host());
    match HeaderValue::from_str(&location) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
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

/// Answers a request that takes longer than [`REQUEST_TIMEOUT`] (from its head to its
/// answer's head) with a 503; a piece of an upload has no such limit (a large one takes as
/// long as the link needs), only the body's idle timeout.
async fn request_timeout(request: Request<Body>, next: Next) -> Response {
    if files::is_upload_write(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// How long a request may take from its head to its answer's head; then it gets a 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request body may pause between two pieces.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest body of most requests: forms of a few fields.
pub const SMALL_BODY: usize = 64 * 1024;
/// The largest body of the server functions that take a whole menu or image as JSON.
pub const LARGE_BODY: usize = 4 * 1024 * 1024;
/// The server functions whose bodies may be `LARGE_BODY`.
const LARGE_BODY_PATHS: [&str; 3] = ["/api/save_menu", "/api/create_image", "/api/update_image"];
/// The server function that takes a loader set's files, as multipart/form-data.
pub const UPLOAD_PATH: &str = "/api/add_loader_set";

/// Caps each request's body by its path, before anything reads it: a declared length over
/// the cap is answered 413 at once, and a body that turns out longer is cut off there (the
/// server function then answers 422).
///
/// The upload takes multipart/form-data only: the server-function layer cannot read another
/// kind (it would fail on a missing boundary), so anything else is a 415 here.
async fn body_limits(mut request: Request<Body>, next: Next) -> Response {
    let path = request.uri().path();
    let limit = if LARGE_BODY_PATHS.contains(&path) {
        LARGE_BODY
    } else if path == UPLOAD_PATH {
        app::api::loader_sets::UPLOAD_MAX_BYTES + SMALL_BODY
    } else {
        SMALL_BODY
    };
    if path == UPLOAD_PATH && request.method() == axum::http::Method::POST {
        let multipart = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
                    && multer::parse_boundary(value).is_ok()
            });
        if !multipart {
            let error = AppError::invalid("files", "Send the files as multipart/form-data.");
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                serde_json::to_string(&error).unwrap_or_default(),
            )
                .into_response();
        }
    }
    // A piece of a hosted-file upload is streamed to disk, capped by the length the upload
    // was created with.
    if files::is_upload_write(request.method(), path) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        let message = format!("The request is too large: at most {} KiB.", limit / 1024);
        let body = if path.starts_with("/api/") {
            serde_json::to_string(&AppError::invalid("", message)).unwrap_or_default()
        } else {
            message
        };
        return (StatusCode::PAYLOAD_TOO_LARGE, body).into_response();
    }
    let upload = path == UPLOAD_PATH;
    DefaultBodyLimit::max(limit).apply(&mut request);
    // The upload is read as a stream, which `DefaultBodyLimit` does not reach: a body sent
    // without a length (chunked) is cut off at the limit here, and the upload then fails
    // with a field error.
    if upload {
        let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
        return next.run(request).await;
    }
    next.run(request).await
}

/// The longest error body a server function sends.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Gives server-function errors their HTTP status (401, 403, 404, 409, 422, 429, 503…) and,
/// when the client should come back later, a `Retry-After`.
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
        if let Some(seconds) = error.retry_after_secs() {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The span of a request: method and path only, since query strings can carry credentials
/// (the iPXE sign-in fallback sends them hex-encoded), and with the boot token of iPXE paths
/// left out.
/// Says in the log which request ran into `REQUEST_TIMEOUT` (the client only sees a 503):
/// a render or a query that never ends is a bug to find, not a load to shed quietly.
async fn report_timeouts(request: Request<Body>, next: Next) -> Response {
    let method = request.method().clone();
    let path = redacted_path(request.uri().path()).into_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let took = started.elapsed();
    if response.status() == StatusCode::SERVICE_UNAVAILABLE && took >= REQUEST_TIMEOUT {
        tracing::warn!(
            %method,
            %path,
            seconds = took.as_secs(),
            "a request was cut off after the request timeout; its work never finished"
        );
    }
    response
}

fn request_span(request: &Request<Body>) -> tracing::Span {
    let path = redacted_path(request.uri().path());
    tracing::debug_span!("request", method = %request.method(), path = %path)
}

/// A path as logs show it: `/ipxe/s/<token>/…` becomes `/ipxe/s/…/…`, and a boot client's
/// file `/f/<token>/…` becomes `/f/…/…`.
pub fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in ["/ipxe/s/", "/f/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let after = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}…{after}").into();
        }
    }
    path.into()
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
        assert_eq!(
            redacted_path("/f/0123456789abcdef/7/debian.iso"),
            "/f/…/7/debian.iso"
        );
    }
}
