//! The plain-text iPXE endpoints: thin handlers over `app::server::boot_flow`.

use app::{
    error::AppError,
    ipxe::{Plan, render},
    server::{
        boot_flow::{self, Urls, paths},
        client::BootToken,
        net::ClientIp,
        services::boot_sessions::{self, BootSession, ClientInfo},
        state::AppState,
    },
};
use axum::{
    Form, Router,
    extract::{FromRequestParts, Path, Query, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use std::collections::HashMap;

/// The iPXE routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ENTRY, get(entry))
        .route(paths::LOGIN, get(login))
        .route(paths::SESSION, get(session_by_query).post(session_by_form))
        .route(paths::START, get(start))
        .route(paths::ORGANIZATION, get(organization))
        .route(paths::GROUP, get(group))
        .route(paths::BOOT, get(boot))
        .route(paths::LOGOUT, get(logout))
        .route(paths::MEMDISK, get(memdisk))
}

/// The client's IP address: the one a trusted proxy names, else the peer's ([`ClientIp`],
/// set by the router for every connection).
struct ClientAddress(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ClientIp>()
                .map(|ClientIp(ip)| ip.to_string()),
        ))
    }
}

/// What iPXE says about itself in the query of the first URLs.
#[derive(Debug, Default, Deserialize)]
struct ClientQuery {
    mac: Option<String>,
    uuid: Option<String>,
    platform: Option<String>,
    arch: Option<String>,
}

impl ClientQuery {
    fn client(&self, address: ClientAddress) -> ClientInfo {
        ClientInfo::checked(
            self.mac.as_deref(),
            self.uuid.as_deref(),
            self.platform.as_deref(),
            self.arch.as_deref(),
            address.0,
        )
    }
}

/// The base URL of this server as the client sees it: the configured public URL, or the
/// request's Host (escaped by the renderer like any other URL).
fn urls(state: &AppState, headers: &HeaderMap) -> Urls {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    Urls::new(&boot_flow::base_url(&state.settings, host))
}

/// A script response; never cached, since every answer depends on the session.
fn script(plan: &Plan) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        render(plan),
    )
        .into_response()
}

/// A failure on our side: iPXE's `|| goto` handler reports it and retries.
fn failure(error: AppError) -> Response {
    tracing::error!(%error, "an iPXE step failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "PXE Cloud could not answer this step; please try again.\n",
    )
        .into_response()
}

fn respond(result: Result<Plan, AppError>) -> Response {
    match result {
        Ok(plan) => script(&plan),
        Err(error) => failure(error),
    }
}

async fn entry(State(state): State<AppState>, headers: HeaderMap) -> Response {
    script(&boot_flow::entry(&urls(&state, &headers)))
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    Query(query): Query<ClientQuery>,
) -> Response {
    let client = query.client(address);
    script(&boot_flow::login(&urls(&state, &headers), &client, None))
}

/// The credentials of the sign-in, as `${username:hexraw}` and `${password:hexraw}`: POSTed
/// from a parameter list where iPXE has `params`, else in the query.
#[derive(Debug, Default, Deserialize)]
struct HexCredentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

impl HexCredentials {
    fn decode(&self) -> Option<(String, String)> {
        Some((from_hex(&self.username)?, from_hex(&self.password)?))
    }
}

/// The query of the sign-in by URL: the client, and the credentials.
#[derive(Debug, Deserialize)]
struct SessionQuery {
    #[serde(flatten)]
    credentials: HexCredentials,
    #[serde(flatten)]
    client: ClientQuery,
}

fn from_hex(hex: &str) -> Option<String> {
    let bytes = hex::decode(hex).ok()?;
    String::from_utf8(bytes).ok()
}

/// Checks the credentials of either way of signing in.
async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientInfo,
    credentials: &HexCredentials,
) -> Response {
    let urls = urls(state, headers);
    let Some((username, password)) = credentials.decode() else {
        return script(&boot_flow::login(
            &urls,
            &client,
            Some("The sign-in could not be read; please try again.".into()),
        ));
    };
    respond(boot_flow::sign_in(state, &urls, &client, &username, &password).await)
}

async fn session_by_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    Query(query): Query<ClientQuery>,
    Form(credentials): Form<HexCredentials>,
) -> Response {
    sign_in(&state, &headers, query.client(address), &credentials).await
}

async fn session_by_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    Query(query): Query<SessionQuery>,
) -> Response {
    sign_in(
        &state,
        &headers,
        query.client.client(address),
        &query.credentials,
    )
    .await
}

/// A step of a signed-in boot session: the session its token resumes (bound to the
/// client's address) and the URLs to answer with. A token that is unknown, expired, foreign,
/// or taking steps too fast is answered here, fail-closed, before any handler runs.
struct Step {
    state: AppState,
    session: BootSession,
    token: BootToken,
    urls: Urls,
}

impl FromRequestParts<AppState> for Step {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?
            .0
            .remove("token")
            .and_then(|text| BootToken::parse(&text));
        let Ok(address) = ClientAddress::from_request_parts(parts, state).await;
        let urls = urls(state, &parts.headers);
        // A token of another shape is never looked up: it is unknown.
        let Some(token) = token else {
            return Err(script(&boot_flow::expired(&urls)));
        };
        let resumed = match boot_sessions::resume(&state.db, &token, address.0.as_deref()).await {
            Ok(Some(resumed)) => resumed,
            Ok(None) => return Err(script(&boot_flow::expired(&urls))),
            Err(error) => return Err(failure(error)),
        };
        // Counted before anything is written: a session slowed down costs one read.
        if !state.boot_steps.allow(resumed.session.token_id) {
            tracing::warn!(
                token_id = resumed.session.token_id,
                "a boot session takes steps too fast; slowed down"
            );
            return Err(script(&boot_flow::too_fast(&urls, &token)));
        }
        if let Err(error) =
            boot_sessions::extend(&state.db, &resumed, state.settings.boot_token_ttl).await
        {
            return Err(failure(error));
        }
        Ok(Self {
            state: state.clone(),
            session: resumed.session,
            token,
            urls,
        })
    }
}

impl Step {
    /// What every step of the boot flow takes, in its order.
    fn parts(&self) -> (&AppState, &Urls, &BootSession, &BootToken) {
        (&self.state, &self.urls, &self.session, &self.token)
    }
}

/// Parses an id from the path; anything else is treated as a step nobody may take.
fn id(text: &str) -> i32 {
    text.parse().unwrap_or(-1)
}

async fn start(step: Step) -> Response {
    let (state, urls, session, token) = step.parts();
    respond(boot_flow::start(state, urls, session, token).await)
}

async fn organization(step: Step, Path((_, organization)): Path<(String, String)>) -> Response {
    let (state, urls, session, token) = step.parts();
    respond(boot_flow::organization(state, urls, session, token, id(&organization)).await)
}

async fn group(step: Step, Path((_, group)): Path<(String, String)>) -> Response {
    let (state, urls, session, token) = step.parts();
    respond(boot_flow::group_menu(state, urls, session, token, id(&group)).await)
}

async fn boot(
    step: Step,
    Path((_, group, version, entry)): Path<(String, String, String, String)>,
) -> Response {
    let (state, urls, session, token) = step.parts();
    let (group, version, entry) = (id(&group), id(&version), id(&entry));
    respond(boot_flow::boot(state, urls, session, token, group, version, entry).await)
}

async fn logout(step: Step) -> Response {
    respond(boot_flow::logout(&step.state, &step.urls, &step.session).await)
}

/// Serves syslinux's memdisk, for ISOs that boot from memory on BIOS machines.
async fn memdisk(State(state): State<AppState>) -> Response {
    let Some(path) = state.settings.memdisk_path.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            "memdisk is not configured on this server\n",
        )
            .into_response();
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "memdisk cannot be read");
            (
                StatusCode::NOT_FOUND,
                "memdisk is not installed on this server (install syslinux-common or set --memdisk)\n",
            )
                .into_response()
        }
    }
}
