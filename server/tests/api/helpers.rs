//! `spawn_app()`: a server of our own, on its own database, for one test.

use app::server::{
    actor::Actor,
    entities::organization,
    services::{
        accounts::{self, NewUser},
        organizations,
    },
    state::{AppState, Settings},
};
use app::{
    model::Role,
    validate::{NewPassword, Username},
};
use reqwest::{StatusCode, header};
use sea_orm::{ConnectionTrait, Database};
use server::{
    config::Config,
    database,
    http::{self, router},
    serve,
};
use std::{net::SocketAddr, sync::Arc};

/// A fresh, empty database URL for the backend under test.
pub async fn fresh_database_url() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("PXECLOUD_TEST_DATABASE").as_deref() {
        Ok("postgres") => {
            let admin_url = std::env::var("PXECLOUD_TEST_POSTGRES_URL")
                .expect("PXECLOUD_TEST_POSTGRES_URL names the test server's admin URL");
            let name = format!("pxecloud_test_{}", hex_id());
            let admin = Database::connect(&admin_url)
                .await
                .expect("the test Postgres is up");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("can create a test database");
            let _ = admin.close().await;
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    }
}

/// A loopback port that was free a moment ago, for a server started as a separate process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hex_id() -> String {
    (0..12)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

/// One running server and a cookie-keeping client for it.
pub struct TestApp {
    pub address: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
    _files_dir: tempfile::TempDir,
}

/// A client that keeps cookies and does not follow redirects, so tests can see them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What the test server offers as iPXE loaders over HTTP: one, `snponly.efi`.
pub const LOADER: &[u8] = b"MZ a stand-in for snponly.efi";

pub fn boot_files() -> server::tftp::files::BootFiles {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snponly.efi"), LOADER).unwrap();
    std::fs::write(dir.path().join("not-a-loader"), b"secret").unwrap();
    // Read whole at start: the folder can go.
    server::tftp::files::BootFiles::new(dir.path(), None, 8080)
}

/// Starts a server with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `adjust` has changed its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let (database_url, dir) = fresh_database_url().await;
    spawn_on(database_url, dir, adjust).await
}

/// Starts a server on an existing database (e.g. to restart one).
pub async fn spawn_on(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_full(database_url, dir, adjust, |_| {}, http::Limits::default()).await
}

/// Starts a server after `adjust_state` has changed its state (its hasher, say), serving
/// with `limits`.
pub async fn spawn_custom(
    adjust_state: impl FnOnce(&mut AppState),
    limits: http::Limits,
) -> TestApp {
    let (database_url, dir) = fresh_database_url().await;
    spawn_full(database_url, dir, |_| {}, adjust_state, limits).await
}

async fn spawn_full(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    adjust: impl FnOnce(&mut Settings),
    adjust_state: impl FnOnce(&mut AppState),
    limits: http::Limits,
) -> TestApp {
    let config = Config {
        database_url: database_url.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::load(&Default::default(), None).unwrap()
    };
    let db = database::connect(&database_url).await.expect("connects");
    database::migrate(&db, &database_url)
        .await
        .expect("migrates");
    let mut state = serve::state(db, &config).expect("state");
    let mut settings = (*state.settings).clone();
    // Each server its own files folder (replicas of one test share theirs by `adjust`).
    let files_dir = tempfile::tempdir().expect("a files folder");
    settings.files_dir = files_dir.path().to_owned();
    adjust(&mut settings);
    state.settings = Arc::new(settings);
    adjust_state(&mut state);
    state
        .file_store()
        .prepare()
        .await
        .expect("the files folder");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // The loaders, with the sets server admins add, as `serve` follows them.
    let files = Arc::new(server::tftp::files::LiveFiles::new(boot_files()));
    serve::follow_loader_sets(state.db.clone(), files.clone()).await;
    if state.boot_server.is_none() {
        state.boot_server = Some(Arc::new(server::boot_status::Probe {
            http: Some(address),
            http_port: address.port(),
            files: Some(files.clone()),
            ..Default::default()
        }));
    }
    let app = router::router(state.clone(), Some(files));
    tokio::spawn(http::serve(
        listener,
        app,
        limits,
        std::future::pending::<()>(),
    ));
    TestApp {
        address,
        state,
        client: client(),
        database_url,
        _dir: dir,
        _files_dir: files_dir,
    }
}

impl TestApp {
    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Creates a user directly through the service.
    pub async fn create_user(&self, name: &str, password: &str, server_admin: bool) -> i32 {
        let new = NewUser {
            username: Username::parse(name).unwrap(),
            email: None,
            password: NewPassword::parse(password).unwrap(),
            is_server_admin: server_admin,
        };
        accounts::create_user(&self.state.db, &self.state.hasher, &Actor::operator(), new)
            .await
            .unwrap()
            .id
    }

    /// Creates an organization and adds members with roles.
    pub async fn create_organization(
        &self,
        name: &str,
        members: &[(&str, Role)],
    ) -> organization::Model {
        let operator = Actor::operator();
        let org = organizations::create(&self.state.db, &operator, name, "")
            .await
            .unwrap();
        for (username, role) in members {
            organizations::set_member(
                &self.state.db,
                &operator,
                org.id,
                &Username::parse(username).unwrap(),
                *role,
            )
            .await
            .unwrap();
        }
        org
    }

    /// Makes a user a member of an organization with a role (or changes the role).
    pub async fn set_member(&self, organization_id: i32, username: &str, role: Role) {
        organizations::set_member(
            &self.state.db,
            &Actor::operator(),
            organization_id,
            &Username::parse(username).unwrap(),
            role,
        )
        .await
        .unwrap();
    }

    /// Makes these users active server admins again, directly in the database.
    pub async fn restore_server_admins(&self, user_ids: &[i32]) {
        use app::server::entities::user;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        user::Entity::update_many()
            .col_expr(user::Column::IsServerAdmin, Expr::value(true))
            .col_expr(user::Column::IsDisabled, Expr::value(false))
            .filter(user::Column::Id.is_in(user_ids.iter().copied()))
            .exec(&self.state.db)
            .await
            .unwrap();
    }

    /// Calls a server function with form fields, using this app's client.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
        call_with(&self.client, self, endpoint, form).await
    }

    /// Signs in with the app's client and checks that it worked.
    pub async fn login(&self, username: &str, password: &str) {
        let response = self
            .call("login", &[("username", username), ("password", password)])
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login of {username} failed"
        );
    }
}

/// Calls a server function with form fields, using any client.
pub async fn call_with(
    client: &reqwest::Client,
    app: &TestApp,
    endpoint: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(&format!("/api/{endpoint}")))
        .header(header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The JSON body of a response.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// The value of the session cookie a response sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{}=", router::SESSION_COOKIE)))
        .map(str::to_owned)
}

/// An ISO made by xorriso (installed by `.ci/setup`) from `files` (path, bytes), Rock Ridge
/// and Joliet names.
pub fn make_iso(volume: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for (path, bytes) in files {
        let path = tree.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let out = dir.path().join("image.iso");
    let made = std::process::Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", volume, "-o"])
        .arg(&out)
        .arg(&tree)
        .output()
        .expect("xorriso runs (apt-get install xorriso)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::read(out).unwrap()
}

/// Puts `bytes` in an organization's library as `name`, as a finished upload leaves them
/// (the blob on disk, the row with the type the bytes say); the file's id.
pub async fn library_file(app: &TestApp, organization_id: i32, name: &str, bytes: &[u8]) -> i32 {
    use app::server::entities::file;
    use sea_orm::{
        ActiveModelTrait,
        ActiveValue::{NotSet, Set},
    };
    use sha2::{Digest, Sha256};
    let sha = hex::encode(Sha256::digest(bytes));
    let blob = app.state.file_store().blob(&sha);
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, bytes).unwrap();
    file::ActiveModel {
        id: NotSet,
        organization_id: Set(organization_id),
        name: Set(name.into()),
        size: Set(bytes.len() as i64),
        content_type: Set(app::library::content_type_of(bytes).into()),
        sha256: Set(sha),
        public: Set(false),
        added_by: Set(None),
        added_by_name: Set("operator".into()),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap()
    .id
}

/// A web server on 127.0.0.1 that the server under test fetches files from:
///
/// - `/files/<name>`: the bytes set for `name` (see [`Origin::set`]), with a strong `ETag`,
///   `HEAD`, and `Range: bytes=<n>-` honoured while `If-Range` names the current bytes;
/// - `/slow/<name>`: the same, sent in 64 KiB pieces 60 ms apart;
/// - `/cut/<name>`: the first `GET` sends half of the bytes and breaks off; later ones are
///   as `/files/`;
/// - `/chunked/<name>`: the bytes without a length (and `HEAD` without one);
/// - `/signed/<name>`: as `/files/`, but `HEAD` is 403 (as signed URLs signed for `GET`);
/// - `/away`: a redirect to `http://169.254.0.1/x.iso`;
/// - `/SHA256SUMS`: the checksum list set by [`Origin::set_sums`];
/// - anything else: 404.
///
/// Each request is recorded (method, path, `Range`, `If-Range`).
#[derive(Clone)]
pub struct Origin {
    pub address: SocketAddr,
    state: Arc<OriginState>,
}

#[derive(Default)]
struct OriginState {
    files: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
    sums: std::sync::Mutex<String>,
    requests: std::sync::Mutex<Vec<OriginRequest>>,
    cut: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A request the origin received.
#[derive(Debug, Clone)]
pub struct OriginRequest {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
}

impl Origin {
    pub async fn start() -> Self {
        use axum::{Router, routing::any};
        let state = Arc::new(OriginState::default());
        let app = Router::new()
            .fallback(any(origin_answer))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { address, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Serves `bytes` as `name`.
    pub fn set(&self, name: &str, bytes: &[u8]) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(name.to_owned(), bytes.to_vec());
    }

    pub fn set_sums(&self, text: &str) {
        *self.state.sums.lock().unwrap() = text.to_owned();
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<OriginRequest> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn origin_answer(
    axum::extract::State(state): axum::extract::State<Arc<OriginState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::{
        body::{Body, Bytes},
        http::{HeaderValue, StatusCode as Status, header as h},
        response::IntoResponse,
    };
    use sha2::{Digest, Sha256};
    let text = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let path = request.uri().path().to_owned();
    let head = request.method() == axum::http::Method::HEAD;
    state.requests.lock().unwrap().push(OriginRequest {
        method: request.method().to_string(),
        path: path.clone(),
        range: text(h::RANGE),
        if_range: text(h::IF_RANGE),
    });
    if path == "/away" {
        return (Status::FOUND, [(h::LOCATION, "http://169.254.0.1/x.iso")]).into_response();
    }
    if path == "/SHA256SUMS" {
        return state.sums.lock().unwrap().clone().into_response();
    }
    let Some((kind, name)) = path.trim_start_matches('/').split_once('/') else {
        return Status::NOT_FOUND.into_response();
    };
    let Some(bytes) = state.files.lock().unwrap().get(name).cloned() else {
        return Status::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..16]);
    if kind == "chunked" {
        let pieces: Vec<Result<Bytes, std::io::Error>> = bytes
            .chunks(4096)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        // Streamed, even the empty body of a HEAD: so no length is said.
        let pieces = if head { Vec::new() } else { pieces };
        let body = Body::from_stream(futures_util::stream::iter(pieces));
        return (Status::OK, body).into_response();
    }
    if kind == "signed" && head {
        return Status::FORBIDDEN.into_response();
    }
    let first_cut = kind == "cut" && !head && state.cut.lock().unwrap().insert(name.to_owned());
    let start = text(h::RANGE)
        .and_then(|r| {
            r.strip_prefix("bytes=")?
                .strip_suffix('-')?
                .parse::<usize>()
                .ok()
        })
        .filter(|_| text(h::IF_RANGE).is_none_or(|v| v == etag))
        .filter(|start| *start < bytes.len());
    let rest = Bytes::from(bytes[start.unwrap_or(0)..].to_vec());
    let mut response = if head {
        Body::empty().into_response()
    } else if first_cut {
        let half = rest.slice(..rest.len() / 2);
        let broken: Vec<Result<Bytes, std::io::Error>> =
            vec![Ok(half), Err(std::io::Error::other("cut"))];
        Body::from_stream(futures_util::stream::iter(broken)).into_response()
    } else if kind == "slow" {
        let pieces: Vec<Bytes> = rest.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
        let stream =
            futures_util::StreamExt::then(futures_util::stream::iter(pieces), |piece| async move {
                tokio::time::sleep(std::time::Duration::from_millis(60)).await;
                Ok::<_, std::io::Error>(piece)
            });
        Body::from_stream(stream).into_response()
    } else {
        Body::from(rest.clone()).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(h::ETAG, HeaderValue::from_str(&etag).unwrap());
    headers.insert(h::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(h::CONTENT_LENGTH, HeaderValue::from(rest.len()));
    if let Some(start) = start {
        *response.status_mut() = Status::PARTIAL_CONTENT;
        response.headers_mut().insert(
            h::CONTENT_RANGE,
            HeaderValue::from_str(&format!(
                "bytes {start}-{}/{}",
                bytes.len() - 1,
                bytes.len()
            ))
            .unwrap(),
        );
    }
    response
}
