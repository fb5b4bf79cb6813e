//! Hosted files over HTTP: served to browsers and boot clients with byte ranges, and
//! uploaded by admins with the tus 1.0 protocol (core, creation, termination), which
//! resumes after a dropped connection or a reload.
//!
//! - `GET|HEAD /files/<id>/<name>`: a signed-in member of the file's organization, or anyone
//!   when the file is public;
//! - `GET|HEAD /f/<boot token>/<id>/<name>`: a machine in a boot session of a member (the
//!   token is checked on every request and extended at most once a minute: `sanboot` reads
//!   an ISO in hundreds of requests, for as long as the booted system runs);
//! - either URL, then `/tree/<path>`: the file at that path inside a library ISO, for whoever
//!   may read the ISO (`{tree}` in an image's arguments: live systems fetch their root file
//!   system from there);
//! - `OPTIONS|POST /uploads`, `HEAD|PATCH|DELETE /uploads/<id>`: an organization's admins.

use std::{collections::HashMap, sync::Arc, time::SystemTime};

use app::{
    api::context::actor_with,
    error::AppError,
    library::ISO_TYPE,
    server::{
        boot_flow::paths,
        client::BootToken,
        entities::{file, upload},
        file_store::{BlobReader, Part},
        iso::read::IsoFile,
        net::ClientIp,
        services::{
            boot_sessions,
            files::{self, Cadence, Cut, NewUpload, QUOTA_FIELD, Reader, Received},
        },
        state::AppState,
    },
};
use axum::{
    Extension, Router,
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use tower_sessions::Session;

use super::ranges::{self, Answer, Validators};

/// Where uploads are created; each is at `UPLOADS_PATH/<id>`.
pub const UPLOADS_PATH: &str = "/uploads";
/// The tus version spoken.
const TUS_VERSION: &str = "1.0.0";
/// The content type of a tus PATCH body.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// The routes of hosted files.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/files/{id}/{name}", get(from_browser))
        .route("/files/{id}/{name}/tree/{*path}", get(from_browser_inside))
        .route(paths::FILE, get(from_boot_client))
        .route(
            &format!("{}{}/{{*path}}", paths::FILE, paths::TREE_SUFFIX),
            get(from_boot_client_inside),
        )
        .route(UPLOADS_PATH, post(create_upload).options(capabilities))
        .route(
            "/uploads/{id}",
            axum::routing::head(upload_offset)
                .patch(append)
                .delete(cancel)
                .options(capabilities),
        )
}

/// Whether a request writes to an upload: it has no overall time limit (a piece of a large
/// file takes as long as the link needs), only the body's idle timeout.
pub fn is_upload_write(method: &Method, path: &str) -> bool {
    method == Method::PATCH && path.starts_with("/uploads/")
}

// ---- Serving ----------------------------------------------------------------------------

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", message.into()),
    )
        .into_response()
}

fn file_id(text: &str) -> Option<i32> {
    text.parse().ok().filter(|id| *id > 0)
}

async fn from_browser(
    State(state): State<AppState>,
    session: Session,
    method: Method,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let request = Request {
        method,
        headers,
        inside: None,
    };
    browser_read(&state, &session, &id, &name, request).await
}

async fn from_browser_inside(
    State(state): State<AppState>,
    session: Session,
    method: Method,
    headers: HeaderMap,
    Path((id, name, path)): Path<(String, String, String)>,
) -> Response {
    let request = Request {
        method,
        headers,
        inside: Some(path),
    };
    browser_read(&state, &session, &id, &name, request).await
}

/// What a download asks for: the file, or (`inside`) a path inside it, an ISO.
struct Request {
    method: Method,
    headers: HeaderMap,
    inside: Option<String>,
}

async fn browser_read(
    state: &AppState,
    session: &Session,
    id: &str,
    name: &str,
    request: Request,
) -> Response {
    let actor = match actor_with(state, session).await {
        Ok(actor) => Some(actor),
        Err(AppError::Unauthenticated | AppError::PasswordChangeRequired) => None,
        Err(error) => return error.into_response(),
    };
    let Some(id) = file_id(id) else {
        return not_found();
    };
    let reader = actor.as_ref().map_or(Reader::Anonymous, Reader::Browser);
    match files::readable(&state.db, reader, id, name).await {
        Ok(file) => serve(state, &file, request, true).await,
        Err(AppError::NotFound) => not_found(),
        Err(error) => error.into_response(),
    }
}

fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "No such file (or it is not yours to read: sign in as a member of its organization).",
    )
}

async fn from_boot_client(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    client: Option<Extension<ClientIp>>,
    Path((token, id, name)): Path<(String, String, String)>,
) -> Response {
    let request = Request {
        method,
        headers,
        inside: None,
    };
    machine_read(&state, client, &token, &id, &name, request).await
}

async fn from_boot_client_inside(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    client: Option<Extension<ClientIp>>,
    Path((token, id, name, path)): Path<(String, String, String, String)>,
) -> Response {
    let request = Request {
        method,
        headers,
        inside: Some(path),
    };
    machine_read(&state, client, &token, &id, &name, request).await
}

async fn machine_read(
    state: &AppState,
    client: Option<Extension<ClientIp>>,
    token: &str,
    id: &str,
    name: &str,
    request: Request,
) -> Response {
    let ended = || {
        text(
            StatusCode::FORBIDDEN,
            "This boot session has ended (or belongs to another machine): boot again and sign in.",
        )
    };
    let Some(token) = BootToken::parse(token) else {
        return ended();
    };
    let address = client.map(|Extension(ClientIp(ip))| ip.to_string());
    let ttl = state.settings.boot_token_ttl;
    let holder = match boot_sessions::holder(&state.db, &token, address.as_deref(), ttl).await {
        Ok(Some(actor)) => actor,
        Ok(None) => return ended(),
        Err(error) => return error.into_response(),
    };
    let Some(id) = file_id(id) else {
        return not_found();
    };
    match files::readable(&state.db, Reader::Machine(&holder), id, name).await {
        Ok(file) => serve(state, &file, request, false).await,
        Err(AppError::NotFound) => not_found(),
        Err(error) => error.into_response(),
    }
}

/// How much of a file is read from disk at a time while it is sent: a range up to this size
/// (iPXE `sanboot` reads an ISO in ranges of a few KiB) is read in one go.
const READ_PIECE: u64 = 256 * 1024;

/// Sends what was asked of a readable file: the file, or a file inside it (an ISO).
async fn serve(
    state: &AppState,
    file: &file::Model,
    request: Request,
    to_browser: bool,
) -> Response {
    let Some(path) = &request.inside else {
        let whole = Served { file, inside: None };
        return send(state, whole, &request.method, &request.headers, to_browser).await;
    };
    let no_such = || {
        text(
            StatusCode::NOT_FOUND,
            format!("{} holds no file /{path}.", file.name),
        )
    };
    if file.content_type != ISO_TYPE {
        return no_such();
    }
    let store = state.file_store();
    let size = file.size.max(0) as u64;
    let tree = match state
        .iso_trees
        .get(&state.db, &store, &file.sha256, size)
        .await
    {
        Ok(tree) => tree,
        Err(error) => return error.into_response(),
    };
    match tree.find(&format!("/{path}")) {
        Some(inside) => {
            let served = Served {
                file,
                inside: Some(inside),
            };
            send(state, served, &request.method, &request.headers, to_browser).await
        }
        None => no_such(),
    }
}

/// What is sent: a library file, or a file inside one (an ISO), by its extents.
#[derive(Clone, Copy)]
struct Served<'a> {
    file: &'a file::Model,
    inside: Option<&'a IsoFile>,
}

impl Served<'_> {
    fn size(self) -> u64 {
        self.inside
            .map_or(self.file.size.max(0) as u64, |inside| inside.size)
    }

    /// Strong: the bytes' SHA-256, and where the file lies in them (two files of an ISO at
    /// the same place and of the same length are the same bytes).
    fn etag(self) -> String {
        match self.inside {
            None => format!("\"{}\"", self.file.sha256),
            Some(inside) => format!(
                "\"{}@{}+{}\"",
                self.file.sha256,
                inside.extents.first().map_or(0, |&(offset, _)| offset),
                inside.size
            ),
        }
    }

    /// The name a browser saves it as: the file's, or the last part of the path inside it,
    /// in characters safe in a header.
    fn download_name(self) -> String {
        let Some(inside) = self.inside else {
            return self.file.name.clone();
        };
        let last = inside.path.rsplit('/').next().unwrap_or_default();
        let safe: String = last
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if safe.is_empty() { "file".into() } else { safe }
    }

    fn content_type(self) -> String {
        match self.inside {
            None => self.file.content_type.clone(),
            Some(_) => "application/octet-stream".into(),
        }
    }

    /// Where the bytes `start..start + length` of what is sent lie in the blob, in order.
    fn pieces(self, start: u64, length: u64) -> Vec<(u64, u64)> {
        match self.inside {
            None => vec![(start, length)],
            Some(inside) => pieces_of(&inside.extents, start, length),
        }
    }
}

/// Where the bytes `start..start + length` of a file made of `extents` (offset, length in
/// the blob, in order) lie in the blob.
fn pieces_of(extents: &[(u64, u64)], start: u64, length: u64) -> Vec<(u64, u64)> {
    let (mut skip, mut left) = (start, length);
    let mut pieces = Vec::new();
    for &(offset, extent) in extents {
        if left == 0 {
            break;
        }
        if skip >= extent {
            skip -= extent;
            continue;
        }
        let take = (extent - skip).min(left);
        pieces.push((offset + skip, take));
        left -= take;
        skip = 0;
    }
    pieces
}

/// Sends a file, or the part of it asked for, from disk.
async fn send(
    state: &AppState,
    served: Served<'_>,
    method: &Method,
    headers: &HeaderMap,
    to_browser: bool,
) -> Response {
    let file = served.file;
    let validators = Validators {
        size: served.size(),
        etag: served.etag(),
        modified: SystemTime::from(file.created_at),
    };
    let mut common = HeaderMap::new();
    let mut put = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            common.insert(name, value);
        }
    };
    put(header::ETAG, &validators.etag);
    put(
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(validators.modified),
    );
    put(header::ACCEPT_RANGES, "bytes");
    // A file's bytes never change under its URL; who may read it can, so caches ask again.
    put(
        header::CACHE_CONTROL,
        if file.public {
            "public, no-cache"
        } else {
            "private, no-cache"
        },
    );
    if to_browser {
        // Never shown in the app's origin: downloaded.
        put(
            header::CONTENT_DISPOSITION,
            &format!("attachment; filename=\"{}\"", served.download_name()),
        );
    }
    let answer = ranges::decide(method, headers, &validators);
    let (status, range) = match answer {
        Answer::NotModified => return (StatusCode::NOT_MODIFIED, common).into_response(),
        Answer::Unsatisfiable => {
            put_owned(
                &mut common,
                header::CONTENT_RANGE,
                format!("bytes */{}", validators.size),
            );
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                common,
                format!(
                    "The range asked lies outside the file ({} bytes).\n",
                    validators.size
                ),
            )
                .into_response();
        }
        Answer::Whole => (StatusCode::OK, 0..=validators.size.saturating_sub(1)),
        Answer::Part(range) => {
            put_owned(
                &mut common,
                header::CONTENT_RANGE,
                format!(
                    "bytes {}-{}/{}",
                    range.start(),
                    range.end(),
                    validators.size
                ),
            );
            (StatusCode::PARTIAL_CONTENT, range)
        }
    };
    let length = if validators.size == 0 {
        0
    } else {
        range.end() - range.start() + 1
    };
    put_owned(&mut common, header::CONTENT_TYPE, served.content_type());
    put_owned(&mut common, header::CONTENT_LENGTH, length.to_string());
    if method == Method::HEAD {
        return (status, common).into_response();
    }
    let path = state.file_store().blob(&file.sha256);
    let pieces = served.pieces(*range.start(), length);
    let reader = state.blobs.clone();
    let body = match (reader.open(&path).await, pieces.as_slice()) {
        (Err(error), _) => Err(error),
        (Ok(_), []) => Ok(Body::empty()),
        // Within one piece: read at once (`length` is at most `READ_PIECE`).
        (Ok(blob), &[(start, length)]) if length <= READ_PIECE => reader
            .read(blob, start, length as usize)
            .await
            .map(Body::from),
        (Ok(blob), _) => Ok(Body::from_stream(read_ahead(reader, blob, pieces))),
    };
    match body {
        Ok(body) => (status, common, body).into_response(),
        Err(error) => {
            tracing::error!(%error, sha256 = file.sha256, file = file.id, "a hosted file's bytes cannot be read");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "This file's bytes are missing from the server's files folder; an administrator has been told in the log.",
            )
        }
    }
}

/// The bytes of `file` at `pieces` (offset, length), in order, as a stream of reads of at
/// most [`READ_PIECE`], the next one read while the last is sent, within the server's memory
/// budget (see [`BlobReader`]). A client that goes away stops the reading (one that stops
/// reading is cut off by the listener's write-stall timeout).
fn read_ahead(
    reader: Arc<BlobReader>,
    file: Arc<std::fs::File>,
    pieces: Vec<(u64, u64)>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for (start, length) in pieces {
            let (mut at, end) = (start, start + length);
            while at < end {
                // At most `READ_PIECE`, so the cast holds.
                let take = (end - at).min(READ_PIECE);
                let piece = reader.read(file.clone(), at, take as usize).await;
                let failed = piece.is_err();
                if sender.send(piece).await.is_err() || failed {
                    return;
                }
                at += take;
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|piece| (piece, receiver))
    })
}

fn put_owned(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

// ---- Uploads (tus 1.0) ------------------------------------------------------------------

/// The tus headers every answer carries.
fn tus(status: StatusCode) -> Response {
    let mut response = status.into_response();
    response.headers_mut().insert(
        HeaderName::from_static("tus-resumable"),
        HeaderValue::from_static(TUS_VERSION),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A refused upload request: the error's status (a quota error is 413, as tus has it) and a
/// JSON body like every API error, with the tus version.
fn refuse(error: AppError) -> Response {
    let status = match &error {
        AppError::Invalid { field, .. } if field == QUOTA_FIELD => StatusCode::PAYLOAD_TOO_LARGE,
        other => StatusCode::from_u16(other.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut response = error.into_response();
    *response.status_mut() = status;
    response.headers_mut().insert(
        HeaderName::from_static("tus-resumable"),
        HeaderValue::from_static(TUS_VERSION),
    );
    response
}

fn bad_request(field: &str, message: &str) -> Response {
    let mut response = refuse(AppError::invalid(field, message));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn number_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_text(headers, name)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
}

/// A request of another tus version is refused (412), as the protocol says.
fn version_refused(headers: &HeaderMap, method: &Method) -> Option<Response> {
    if method == Method::OPTIONS {
        return None;
    }
    match header_text(headers, "tus-resumable") {
        Some(TUS_VERSION) => None,
        _ => {
            let mut response = tus(StatusCode::PRECONDITION_FAILED);
            response.headers_mut().insert(
                HeaderName::from_static("tus-version"),
                HeaderValue::from_static(TUS_VERSION),
            );
            Some(response)
        }
    }
}

async fn capabilities() -> Response {
    let mut response = tus(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    for (name, value) in [
        ("tus-version", TUS_VERSION),
        ("tus-extension", "creation,termination"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers.insert(
        HeaderName::from_static("tus-max-size"),
        HeaderValue::from(files::MAX_FILE_BYTES),
    );
    response
}

/// Reads `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone is an
/// empty value).
fn metadata(text: &str) -> Result<HashMap<String, String>, String> {
    let mut pairs = HashMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| format!("The metadata value of {key:?} is not base64."))?;
        let value = String::from_utf8(bytes)
            .map_err(|_| format!("The metadata value of {key:?} is not text."))?;
        pairs.insert(key.to_owned(), value);
    }
    Ok(pairs)
}

/// What every tus request checks first: its protocol version, then who sends it.
async fn tus_actor(
    state: &AppState,
    session: &Session,
    method: &Method,
    headers: &HeaderMap,
) -> Result<app::server::actor::Actor, Response> {
    if let Some(refused) = version_refused(headers, method) {
        return Err(refused);
    }
    actor_with(state, session).await.map_err(refuse)
}

/// `POST /uploads`: `Upload-Length`, and `Upload-Metadata` with `organization` (its id),
/// `name`, and optionally `sha256` (expected) and `public` (`true`).
async fn create_upload(
    State(state): State<AppState>,
    session: Session,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let actor = match tus_actor(&state, &session, &method, &headers).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    if headers.contains_key("upload-defer-length") {
        return bad_request(
            "length",
            "Say the file's length (Upload-Length) when the upload starts.",
        );
    }
    let Some(length) = number_header(&headers, "upload-length") else {
        return bad_request("length", "Say the file's length in Upload-Length.");
    };
    let fields = match metadata(header_text(&headers, "upload-metadata").unwrap_or_default()) {
        Ok(fields) => fields,
        Err(message) => return bad_request("metadata", &message),
    };
    let Some(organization_id) = fields.get("organization").and_then(|id| id.parse().ok()) else {
        return bad_request(
            "organization",
            "Say the organization's id in the metadata (organization).",
        );
    };
    let new = NewUpload {
        organization_id,
        name: fields.get("name").cloned().unwrap_or_default(),
        length,
        expected_sha256: fields.get("sha256").cloned(),
        public: fields.get("public").is_some_and(|p| p == "true"),
        source_url: None,
        sums_url: None,
    };
    match files::start_upload(&state.db, &actor, new).await {
        Ok(upload) => {
            let mut response = tus(StatusCode::CREATED);
            put_owned(
                response.headers_mut(),
                header::LOCATION,
                format!("{UPLOADS_PATH}/{}", upload.id),
            );
            response.headers_mut().insert(
                HeaderName::from_static("upload-offset"),
                HeaderValue::from(0),
            );
            response
        }
        Err(error) => refuse(error),
    }
}

/// `HEAD /uploads/<id>`: where the upload stands.
async fn upload_offset(
    State(state): State<AppState>,
    session: Session,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let actor = match tus_actor(&state, &session, &method, &headers).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    match files::upload(&state.db, &actor, &id).await {
        Ok(upload) => {
            let mut response = tus(StatusCode::OK);
            let headers = response.headers_mut();
            headers.insert(
                HeaderName::from_static("upload-offset"),
                HeaderValue::from(upload.received),
            );
            headers.insert(
                HeaderName::from_static("upload-length"),
                HeaderValue::from(upload.length),
            );
            response
        }
        Err(error) => refuse(error),
    }
}

/// `DELETE /uploads/<id>`: cancels it; its bytes go and its quota is free again.
async fn cancel(
    State(state): State<AppState>,
    session: Session,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let actor = match tus_actor(&state, &session, &method, &headers).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    match files::cancel(&state.db, &state.file_store(), &actor, &id).await {
        Ok(()) => tus(StatusCode::NO_CONTENT),
        Err(error) => refuse(error),
    }
}

fn disk_error(error: std::io::Error, id: &str) -> Response {
    tracing::error!(%error, upload = id, "an upload could not be written to the files folder");
    let mut response = text(
        StatusCode::INSUFFICIENT_STORAGE,
        "The server could not store this piece (its files folder failed: full, or not writable); try again later.",
    );
    response.headers_mut().insert(
        HeaderName::from_static("tus-resumable"),
        HeaderValue::from_static(TUS_VERSION),
    );
    response
}

/// `PATCH /uploads/<id>`: the next piece, from `Upload-Offset`. What arrives is kept even
/// when the connection drops (synced and counted at the end), so the client goes on from the
/// offset `HEAD` says.
async fn append(
    State(state): State<AppState>,
    session: Session,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let actor = match tus_actor(&state, &session, &method, &headers).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let kind = header_text(&headers, "content-type").unwrap_or_default();
    if !kind.eq_ignore_ascii_case(OFFSET_OCTET_STREAM) {
        let mut response = refuse(AppError::invalid(
            "content-type",
            format!("Send the piece as {OFFSET_OCTET_STREAM}."),
        ));
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    }
    let Some(offset) = number_header(&headers, "upload-offset") else {
        return bad_request("offset", "Say where this piece starts in Upload-Offset.");
    };
    let upload = match files::lease(&state.db, &actor, &id, offset).await {
        Ok(upload) => upload,
        Err(error) => return refuse(error),
    };
    let length = u64::try_from(upload.length).unwrap_or_default();
    // Every byte arrived before, and the request that was finishing it failed: finish now.
    if let Some(sha256) = upload.sha256.clone() {
        return made(&state, upload, &sha256, None).await;
    }
    let store = state.file_store();
    let path = store.part(&upload.id);
    let stored = upload.sha256_state.clone();
    let part = match files::blocking(move || Part::open(path, offset, stored)).await {
        Ok(part) => part,
        Err(error) => {
            let _ = files::unlease(&state.db, &upload).await;
            if error.kind() == std::io::ErrorKind::UnexpectedEof {
                // The part lost bytes it had counted (a crash before they reached the disk,
                // or the folder was restored): start again.
                let _ = files::cancel(&state.db, &store, &actor, &upload.id).await;
                return refuse(AppError::conflict(
                    "upload",
                    "The server lost part of this upload; upload the file again.",
                ));
            }
            return disk_error(error, &upload.id);
        }
    };
    let received = files::receive(
        &state.db,
        &upload,
        body.into_data_stream(),
        part,
        length,
        Cadence::UPLOAD,
        None,
    )
    .await;
    let (part, problem) = match received {
        Received::Cancelled => return lost(&state, &upload.id).await,
        Received::Disk(error) => {
            let _ = files::unlease(&state.db, &upload).await;
            return disk_error(error, &upload.id);
        }
        Received::Failed(error) => {
            let _ = files::unlease(&state.db, &upload).await;
            return refuse(error);
        }
        Received::Ended { part, cut } => (part, cut.map(|cut| cut_off(&upload.id, cut))),
    };
    let part = match files::blocking(move || part.sync()).await {
        Ok(part) => part,
        Err(error) => {
            let _ = files::unlease(&state.db, &upload).await;
            return disk_error(error, &upload.id);
        }
    };
    let received = part.written();
    if received < length {
        if let Err(error) = files::release(&state.db, &upload, received, &part.hash_state()).await {
            return refuse(error);
        }
        if let Some(problem) = problem {
            return problem;
        }
        let mut response = tus(StatusCode::NO_CONTENT);
        response.headers_mut().insert(
            HeaderName::from_static("upload-offset"),
            HeaderValue::from(received),
        );
        return response;
    }
    // Complete (bytes past the length were dropped and are reported after): recorded with
    // its checksum, keeping the lease, so that no other request finishes it.
    let sha256 = part.finish();
    match files::complete(&state.db, &upload, length, &sha256).await {
        Ok(true) => made(&state, upload, &sha256, problem).await,
        Ok(false) => lost(&state, &upload.id).await,
        Err(error) => refuse(error),
    }
}

/// The answer to a piece that may write no more: its upload was cancelled (404), or its
/// lease lapsed and another request took the upload over (409).
async fn lost(state: &AppState, id: &str) -> Response {
    match files::exists(&state.db, id).await {
        Ok(true) => refuse(AppError::conflict(
            "offset",
            "Another request took this upload over; ask where it stands (HEAD) and go on from there.",
        )),
        Ok(false) => refuse(AppError::NotFound),
        Err(error) => refuse(error),
    }
}

/// The answer to a piece whose body stopped early: what arrived is kept.
fn cut_off(id: &str, cut: Cut) -> Response {
    match cut {
        Cut::PastLength => bad_request(
            "length",
            "This piece runs past the length the upload was created with; the bytes past it were not kept.",
        ),
        Cut::Dropped(error) => {
            // The connection dropped or idled out.
            tracing::info!(%error, upload = id, "an upload's piece was cut off; it resumes from what arrived");
            bad_request(
                "body",
                "The piece was cut off; ask where the upload stands (HEAD) and go on.",
            )
        }
        Cut::Idle => bad_request(
            "body",
            "The piece stopped arriving; ask where the upload stands (HEAD) and go on.",
        ),
    }
}

/// Makes a complete upload a file and answers; `problem` is the answer to send even so (a
/// piece that ran past the length).
async fn made(
    state: &AppState,
    upload: upload::Model,
    sha256: &str,
    problem: Option<Response>,
) -> Response {
    let received = upload.length;
    match files::make_file(&state.db, &state.file_store(), upload, sha256).await {
        Ok(file) => {
            if let Some(problem) = problem {
                return problem;
            }
            let mut response = tus(StatusCode::NO_CONTENT);
            let headers = response.headers_mut();
            headers.insert(
                HeaderName::from_static("upload-offset"),
                HeaderValue::from(received),
            );
            put_owned(
                headers,
                header::CONTENT_LOCATION,
                format!("/files/{}/{}", file.id, file.name),
            );
            response
        }
        Err(error) => refuse(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::library::content_type_of;

    #[test]
    fn metadata_pairs_are_read_and_bad_ones_say_which() {
        let fields = metadata("name ZGViaWFuLmlzbw==,organization Mw==, public").unwrap();
        assert_eq!(fields["name"], "debian.iso");
        assert_eq!(fields["organization"], "3");
        assert_eq!(fields["public"], "");
        assert!(metadata("name !!!").unwrap_err().contains("name"));
    }

    #[test]
    fn a_range_of_a_file_inside_an_iso_maps_onto_its_extents() {
        let one = [(4096, 1000)];
        assert_eq!(pieces_of(&one, 0, 1000), [(4096, 1000)]);
        assert_eq!(pieces_of(&one, 10, 5), [(4106, 5)]);
        assert_eq!(pieces_of(&one, 999, 1), [(5095, 1)]);
        // A file over 4 GiB is several extents: a range can straddle them.
        let two = [(8192, 100), (1 << 20, 50)];
        assert_eq!(pieces_of(&two, 0, 150), [(8192, 100), (1 << 20, 50)]);
        assert_eq!(pieces_of(&two, 90, 20), [(8282, 10), (1 << 20, 10)]);
        assert_eq!(pieces_of(&two, 100, 50), [(1 << 20, 50)]);
        assert_eq!(pieces_of(&two, 120, 10), [((1 << 20) + 20, 10)]);
        // Nothing asked, nothing read; past the extents, nothing either.
        assert!(pieces_of(&two, 10, 0).is_empty());
        assert!(pieces_of(&two, 150, 10).is_empty());
    }

    #[test]
    fn kinds_are_told_by_their_first_bytes() {
        let mut iso = vec![0u8; 0x8006];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(content_type_of(&iso), "application/x-iso9660-image");
        let mut kernel = b"MZ".to_vec();
        kernel.resize(0x206, 0);
        kernel[0x202..0x206].copy_from_slice(b"HdrS");
        assert_eq!(content_type_of(&kernel), "application/x-linux-kernel");
        assert_eq!(content_type_of(&[0x1f, 0x8b, 8]), "application/gzip");
        assert_eq!(content_type_of(b"<html>"), "application/octet-stream");
        assert_eq!(content_type_of(b""), "application/octet-stream");
    }
}
