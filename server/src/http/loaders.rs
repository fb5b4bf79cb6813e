//! The iPXE loaders over HTTP, for UEFI HTTP Boot: ProxyDHCP sends an `HTTPClient` firmware
//! to `/loaders/<name>`, the same bytes TFTP serves. Only the loaders are served here, by
//! name: those read at start and the sets a server admin added (`/loaders/<set>/<file>`);
//! anything else is a 404 that says what exists.

use std::sync::Arc;

use app::server::state::AppState;
use axum::{
    Extension, Router,
    body::{Body, Bytes},
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::tftp::files::LiveFiles;

/// `GET /loaders/{name}` (and `HEAD`).
pub fn routes(files: Arc<LiveFiles>) -> Router<AppState> {
    Router::new()
        .route("/loaders/{*name}", get(loader))
        .layer(Extension(files))
}

async fn loader(Extension(files): Extension<Arc<LiveFiles>>, Path(name): Path<String>) -> Response {
    let files = files.current();
    match files.loader(&name) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "application/efi"),
                // Replaced when a server admin changes the sets, or the server restarts with
                // other loaders.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            Body::from(Bytes::from_owner(bytes)),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!(
                "No loader is named {name:?}; this server has: {}.\n",
                files.loader_names().join(", ")
            ),
        )
            .into_response(),
    }
}
