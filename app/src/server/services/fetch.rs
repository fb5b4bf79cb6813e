//! Files the server fetches from a URL into an organization's library.
//!
//! A fetch is an upload the server sends itself: the same row (progress, lease, hash state,
//! quota held from the start), the same writer ([`files::receive`]) and the same end
//! ([`files::make_file`]). It runs in a task of the replica that started it; when that
//! replica dies its lease lapses and any replica's [`orphans`] tick takes it over, asking
//! for the rest with `Range` and `If-Range`. A fetch that fails keeps its row with the
//! reason, for the admin to read, retry or dismiss.
//!
//! Which hosts the server may fetch from is a server setting ([`FetchPolicy`]): by default
//! any http/https host except loopback, link-local and this server's own addresses. Host
//! names are resolved and checked before connecting, and the connection goes to the
//! checked addresses only (a second DNS answer cannot point elsewhere); every redirect is
//! checked the same way.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use chrono::Utc;
use reqwest::{StatusCode, Url, header};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::files::{self, Cadence, Cut, NewUpload, Received};
use crate::{
    error::AppError,
    library::{check_file_name, parse_sha256, suggest_file_name},
    model::Role,
    server::{
        actor::Actor,
        db,
        entities::upload,
        file_store::{FileStore, Part},
        net::{Network, canonical},
    },
};

/// The most redirects one request follows.
const MAX_REDIRECTS: usize = 5;
/// The largest checksum list read.
const MAX_SUMS_BYTES: usize = 1024 * 1024;
/// How long a fetch waits for a connection, and for the next bytes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Interruptions in a row (with nothing new between them) before a fetch gives up.
const ATTEMPTS: u32 = 5;
/// How long asking a file's size, and reading a checksum list, may each take (a request
/// to the app is answered within 30 s).
const ASK_TIMEOUT: Duration = Duration::from_secs(12);
/// The longest URL kept.
const MAX_URL: usize = 2048;

/// Metadata services of cloud providers outside link-local space (AWS and GCP over IPv6,
/// Alibaba): they hand out the machine's credentials.
const CLOUD_METADATA: [IpAddr; 3] = [
    IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(std::net::Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(std::net::Ipv4Addr::new(100, 100, 100, 200)),
];

/// Where the server may fetch from.
#[derive(Debug, Clone, Default)]
pub struct FetchPolicy {
    /// Only these networks, when any are given; else any address but loopback,
    /// link-local, unspecified, multicast and this server's own.
    pub allow: Vec<Network>,
    /// This server's public host name (from its public URL): fetching from it is fetching
    /// from this server.
    pub own_host: Option<String>,
}

impl FetchPolicy {
    /// Why the server may not fetch from `address`, if it may not.
    pub fn refusal(&self, address: IpAddr) -> Option<String> {
        let address = canonical(address);
        if !self.allow.is_empty() {
            if self.allow.iter().any(|network| network.contains(address)) {
                return None;
            }
            let list: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
            return Some(format!(
                "{address} is outside the networks this server may fetch from ({})",
                list.join(", ")
            ));
        }
        // NAT64 (64:ff9b::/96) and IPv4-compatible addresses (::a.b.c.d) reach the IPv4
        // address inside.
        let inner = match address {
            IpAddr::V6(v6)
                if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                    || (v6.segments()[..6] == [0; 6] && v6.segments()[6] != 0) =>
            {
                let [.., a, b, c, d] = v6.octets();
                IpAddr::from([a, b, c, d])
            }
            other => other,
        };
        let kind = match inner {
            a if CLOUD_METADATA.contains(&a) => Some("a cloud provider's metadata address"),
            // Local-use NAT64 (RFC 8215) may reach anything on this side.
            IpAddr::V6(a) if a.segments()[..3] == [0x64, 0xff9b, 1] => {
                Some("a local-use NAT64 address")
            }
            a if a.is_loopback() => Some("a loopback address"),
            a if a.is_unspecified() => Some("the unspecified address"),
            a if a.is_multicast() => Some("a multicast address"),
            IpAddr::V4(a) if a.is_link_local() => Some("a link-local address"),
            IpAddr::V4(a) if a.is_broadcast() => Some("the broadcast address"),
            IpAddr::V6(a) if a.is_unicast_link_local() => Some("a link-local address"),
            _ => None,
        };
        if let Some(kind) = kind {
            return Some(format!("{address} is {kind}"));
        }
        own_addresses()
            .contains(&inner)
            .then(|| format!("{address} is one of this server's own addresses"))
    }

    /// Checks a URL before a request to it: http or https, a host, no credentials; an
    /// address given as such is checked here (a name, when it is resolved).
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "Only http and https URLs can be fetched, not {}:.",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("A URL with a user name or password in it is not kept: make the file reachable without them.".into());
        }
        let refusal = match url.host() {
            None => return Err("The URL has no host.".into()),
            Some(url::Host::Ipv4(v4)) => self.refusal(v4.into()),
            Some(url::Host::Ipv6(v6)) => self.refusal(v6.into()),
            Some(url::Host::Domain(name)) => self
                .own_host
                .as_deref()
                .filter(|own| own.eq_ignore_ascii_case(name.trim_end_matches('.')))
                .map(|_| format!("{name} is this server's own name")),
        };
        match refusal {
            Some(why) => Err(refused(&why)),
            None => Ok(()),
        }
    }
}

fn refused(why: &str) -> String {
    format!("This server does not fetch from there: {why}.")
}

/// The addresses of this machine's interfaces.
fn own_addresses() -> Vec<IpAddr> {
    match nix::ifaddrs::getifaddrs() {
        Ok(interfaces) => interfaces
            .filter_map(|interface| interface.address)
            .filter_map(|address| {
                if let Some(v4) = address.as_sockaddr_in() {
                    Some(IpAddr::V4(v4.ip()))
                } else {
                    address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
                }
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "could not list this machine's addresses");
            Vec::new()
        }
    }
}

/// A refusal by the policy, carried through the HTTP client's errors.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves host names and refuses any whose addresses the policy refuses, so that the
/// client connects only to checked addresses.
struct CheckedResolver(Arc<FetchPolicy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // A failed lookup may pass (the fetch tries again); a refused address does not.
            let lookup =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host.as_str(), 0)))
                    .await
                    .map_err(|_| {
                        std::io::Error::other(format!("looking up {host} took too long"))
                    })?;
            let addresses: Vec<SocketAddr> = lookup
                .map_err(|error| {
                    std::io::Error::other(format!(
                        "the name {host} could not be resolved ({error})"
                    ))
                })?
                .collect();
            if addresses.is_empty() {
                return Err(
                    std::io::Error::other(format!("the name {host} has no address")).into(),
                );
            }
            // One refused address refuses the name: it may point here on the next lookup.
            if let Some(why) = addresses.iter().find_map(|a| policy.refusal(a.ip())) {
                return Err(Refused(refused(&format!("{host} resolves to {why}"))).into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// The server's HTTP client for fetches, with its policy.
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Result<Self, AppError> {
        let policy = Arc::new(policy);
        let redirects = policy.clone();
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    let error = Refused(format!("More than {MAX_REDIRECTS} redirects."));
                    return attempt.error(error);
                }
                match redirects.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(why) => attempt.error(Refused(why)),
                }
            }))
            // A proxy from the environment would connect where the policy cannot see.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(IDLE_TIMEOUT)
            .user_agent(concat!("PXE-Cloud/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                tracing::error!(%error, "could not make the HTTP client for fetches");
                AppError::Internal
            })?;
        Ok(Self { client, policy })
    }

    /// A request to `url`, checked first.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: &[(header::HeaderName, String)],
    ) -> Result<reqwest::Response, Problem> {
        self.policy.check_url(url).map_err(|message| Problem {
            message,
            refused: true,
        })?;
        let mut request = self.client.request(method, url.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send().await.map_err(|error| describe(&error, url))
    }
}

/// Why a request failed, in words for the admin; `refused`: by the policy (trying again
/// will not help).
#[derive(Debug)]
struct Problem {
    message: String,
    refused: bool,
}

impl From<Problem> for String {
    fn from(problem: Problem) -> Self {
        problem.message
    }
}

/// What went wrong with a request.
fn describe(error: &reqwest::Error, url: &Url) -> Problem {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(error) = source {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Problem {
                message: refused.0.clone(),
                refused: true,
            };
        }
        innermost = error.to_string();
        source = error.source();
    }
    let host = url.host_str().unwrap_or("the host");
    let message = if error.is_timeout() {
        format!("{host} did not answer in time.")
    } else if error.is_connect() {
        format!("Could not connect to {host}: {innermost}.")
    } else {
        format!("The request to {host} failed: {innermost}.")
    };
    Problem {
        message,
        refused: false,
    }
}

fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
}

/// The `ETag` (a strong one) or `Last-Modified` of a response: what `If-Range` may name.
fn validator_of(response: &reqwest::Response) -> Option<String> {
    let text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    text(header::ETAG)
        .filter(|tag| !tag.starts_with("W/"))
        .or_else(|| text(header::LAST_MODIFIED))
}

fn content_length(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// `bytes <first>-<last>/<total>` as (first, total).
fn content_range(response: &reqwest::Response) -> Option<(u64, Option<u64>)> {
    let text = response
        .headers()
        .get(header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let (range, total) = text.strip_prefix("bytes ")?.split_once('/')?;
    let (first, _) = range.split_once('-')?;
    Some((first.trim().parse().ok()?, total.trim().parse().ok()))
}

/// The size of the file at `url`: a `HEAD`, or a `GET` of its first byte when the `HEAD`
/// says nothing (or 0: some servers say that of whatever they make as they send it).
async fn probe(fetcher: &Fetcher, url: &Url) -> Result<u64, String> {
    let head = fetcher
        .send(reqwest::Method::HEAD, url, &[])
        .await
        .map_err(String::from)?;
    if head.status().is_success()
        && let Some(length) = content_length(&head).filter(|n| *n > 0)
    {
        return Ok(length);
    }
    // Signed URLs (S3 and the like) may refuse a HEAD and allow the GET: only a file that
    // is not there ends it here.
    if matches!(head.status(), StatusCode::NOT_FOUND | StatusCode::GONE) {
        return Err(format!(
            "The server answered {} for {url}.",
            status_text(head.status())
        ));
    }
    let first = fetcher
        .send(
            reqwest::Method::GET,
            url,
            &[(header::RANGE, "bytes=0-0".to_owned())],
        )
        .await
        .map_err(String::from)?;
    let length = match first.status() {
        StatusCode::PARTIAL_CONTENT => content_range(&first).and_then(|(_, total)| total),
        StatusCode::OK => content_length(&first),
        status => {
            return Err(format!(
                "The server answered {} for {url}.",
                status_text(status)
            ));
        }
    };
    length.ok_or_else(|| {
        format!("The server does not say how large {url} is; the space it takes is held from the start, so it cannot be fetched.")
    })
}

/// The SHA-256 a checksum list gives for the file named `name`: `<hex>  <name>` (or
/// `<hex> *<name>`) lines as `sha256sum` writes them, `SHA256 (<name>) = <hex>` as BSD and
/// Fedora do; a list of one bare checksum is that file's.
pub fn sha256_in_list(text: &str, name: &str) -> Option<String> {
    let same = |listed: &str| {
        let listed = listed.trim().trim_start_matches("./");
        listed == name || listed.rsplit('/').next() == Some(name)
    };
    let mut bare = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("SHA256 (")
            && let Some((listed, hex)) = rest.split_once(") = ")
        {
            if same(listed)
                && let Some(sha) = parse_sha256(hex)
            {
                return Some(sha);
            }
            continue;
        }
        let (hex, listed) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let Some(sha) = parse_sha256(hex) else {
            continue;
        };
        let listed = listed.trim_start().trim_start_matches('*');
        if listed.is_empty() {
            bare.push(sha);
        } else if same(listed) {
            return Some(sha);
        }
    }
    (bare.len() == 1).then(|| bare.remove(0))
}

/// Reads the checksum list at `url` and the SHA-256 it gives for `names` (the first found).
async fn sums(fetcher: &Fetcher, url: &Url, names: &[String]) -> Result<String, String> {
    use futures_util::StreamExt;
    let response = fetcher
        .send(reqwest::Method::GET, url, &[])
        .await
        .map_err(String::from)?;
    if !response.status().is_success() {
        return Err(format!(
            "The server answered {} for the checksum list.",
            status_text(response.status())
        ));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| describe(&error, url).message)?;
        if body.len() + chunk.len() > MAX_SUMS_BYTES {
            return Err("The checksum list is larger than 1 MiB: is it the right URL?".into());
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body);
    names
        .iter()
        .find_map(|name| sha256_in_list(&text, name))
        .ok_or_else(|| {
            format!(
                "The checksum list has no SHA-256 for {}.",
                names.join(" or ")
            )
        })
}

/// The last segment of a URL's path, decoded.
fn last_segment(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

fn parse_url(text: &str, field: &str) -> Result<Url, AppError> {
    let text = text.trim();
    if text.len() > MAX_URL {
        return Err(AppError::invalid(field, "That URL is too long."));
    }
    Url::parse(text).map_err(|error| {
        AppError::invalid(
            field,
            format!("That is not a URL ({error}): e.g. https://example.org/file.iso"),
        )
    })
}

/// What an admin asks the server to fetch.
#[derive(Debug, Clone, Default)]
pub struct NewFetch {
    pub organization_id: i32,
    pub url: String,
    /// The file's name; empty: the URL's last segment.
    pub name: String,
    /// The expected SHA-256, or empty.
    pub sha256: String,
    /// A checksum list (`SHA256SUMS`) that gives it, or empty.
    pub sums_url: String,
    pub public: bool,
}

/// Starts a fetch for an organization's admin: checks the URL against the policy, asks
/// the file's size (the quota is held from the start), reads the checksum list if one is
/// given, and makes the row. The caller spawns [`run`] for it.
pub async fn start(
    conn: &impl db::Conn,
    fetcher: &Fetcher,
    actor: &Actor,
    new: NewFetch,
) -> Result<upload::Model, AppError> {
    actor
        .require_role(conn, new.organization_id, Role::Admin)
        .await?;
    let url = parse_url(&new.url, "url")?;
    fetcher
        .policy
        .check_url(&url)
        .map_err(|why| AppError::invalid("url", why))?;
    let name = match new.name.trim() {
        "" => last_segment(&url)
            .map(|segment| suggest_file_name(&segment))
            .ok_or_else(|| {
                AppError::invalid(
                    "name",
                    "The URL does not end in a file name: name the file.",
                )
            })?,
        name => name.to_owned(),
    };
    check_file_name(&name).map_err(|message| AppError::invalid("name", message))?;
    let (sha256, sums_url) = (new.sha256.trim(), new.sums_url.trim());
    if !sha256.is_empty() && !sums_url.is_empty() {
        return Err(AppError::invalid(
            "sums_url",
            "Give the expected SHA-256 or a checksum list, not both.",
        ));
    }
    if !sha256.is_empty() && parse_sha256(sha256).is_none() {
        return Err(AppError::invalid(
            "sha256",
            "A SHA-256 is 64 hexadecimal digits.",
        ));
    }
    let sums_url = match sums_url {
        "" => None,
        text => {
            let sums_url = parse_url(text, "sums_url")?;
            fetcher
                .policy
                .check_url(&sums_url)
                .map_err(|why| AppError::invalid("sums_url", why))?;
            Some(sums_url)
        }
    };
    // Answered well inside the request's own time limit.
    let slow = |field: &str, what: &str| {
        AppError::invalid(
            field,
            format!("{what} did not answer within {} s.", ASK_TIMEOUT.as_secs()),
        )
    };
    let length = tokio::time::timeout(ASK_TIMEOUT, probe(fetcher, &url))
        .await
        .map_err(|_| slow("url", "The server"))?
        .map_err(|message| AppError::invalid("url", message))?;
    let expected = match &sums_url {
        None => (!sha256.is_empty()).then(|| sha256.to_owned()),
        Some(sums_url) => {
            let names: Vec<String> = last_segment(&url).into_iter().collect();
            Some(
                tokio::time::timeout(ASK_TIMEOUT, sums(fetcher, sums_url, &names))
                    .await
                    .map_err(|_| slow("sums_url", "The checksum list's server"))?
                    .map_err(|message| AppError::invalid("sums_url", message))?,
            )
        }
    };
    files::start_upload(
        conn,
        actor,
        NewUpload {
            organization_id: new.organization_id,
            name,
            length,
            expected_sha256: expected,
            public: new.public,
            source_url: Some(url.to_string()),
            sums_url: sums_url.map(String::from),
        },
    )
    .await
}

/// Lets a fetch that failed run again (resuming from what it has, where the source allows);
/// one running already is left to run. The caller spawns [`run`].
pub async fn retry(conn: &impl db::Conn, actor: &Actor, id: &str) -> Result<(), AppError> {
    // Anyone but an admin of its organization is refused alike, whether or not it exists.
    let Some(upload) = upload::Entity::find_by_id(id.to_owned()).one(conn).await? else {
        actor.require_server_admin()?;
        return Err(AppError::NotFound);
    };
    actor
        .require_role(conn, upload.organization_id, Role::Admin)
        .await?;
    if upload.source_url.is_none() {
        return Err(AppError::invalid(
            "upload",
            "This upload comes from a browser: pick the same file again to resume it.",
        ));
    }
    upload::Entity::update_many()
        .col_expr(upload::Column::Failure, Expr::value(Option::<String>::None))
        .filter(upload::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Fetches that should run and nobody runs: their replica died (the lease lapsed) or
/// stopped before taking them. [`run`] takes each only if nobody else has meanwhile.
pub async fn orphans(conn: &impl db::Conn) -> Result<Vec<String>, AppError> {
    Ok(upload::Entity::find()
        .select_only()
        .column(upload::Column::Id)
        .filter(upload::Column::SourceUrl.is_not_null())
        .filter(upload::Column::Failure.is_null())
        .filter(
            upload::Column::LeaseUntil
                .is_null()
                .or(upload::Column::LeaseUntil.lt(Utc::now())),
        )
        .into_tuple()
        .all(conn)
        .await?)
}

/// How one attempt at a fetch ended.
enum Outcome {
    /// The file is in the library.
    Done,
    /// The fetch was cancelled meanwhile.
    Gone,
    /// It cannot go on by itself: the reason is kept for the admin.
    Failed(String),
    /// It may go on after a pause (`progressed`: it got further than before).
    Interrupted { reason: String, progressed: bool },
}

/// Runs the fetch `id` to its end, unless another task runs it (then returns at once):
/// interrupted attempts are tried again after a pause, [`ATTEMPTS`] in a row at most.
pub async fn run(db: DatabaseConnection, store: FileStore, fetcher: Arc<Fetcher>, id: String) {
    let mut interrupted = 0;
    loop {
        let current = match upload::Entity::find_by_id(id.clone()).one(&db).await {
            Ok(Some(current)) if current.failure.is_none() => current,
            Ok(_) => return,
            Err(error) => return tracing::warn!(%error, fetch = id, "could not read a fetch"),
        };
        let upload = match files::take_lease(&db, current).await {
            Ok(Some(upload)) => upload,
            Ok(None) => return,
            Err(error) => return tracing::warn!(?error, fetch = id, "could not take a fetch"),
        };
        let outcome = attempt(&db, &store, &fetcher, upload.clone()).await;
        let reason = match outcome {
            Outcome::Done | Outcome::Gone => return,
            Outcome::Failed(reason) => reason,
            Outcome::Interrupted { reason, progressed } => {
                interrupted = if progressed { 1 } else { interrupted + 1 };
                if interrupted < ATTEMPTS {
                    tracing::info!(
                        fetch = id,
                        reason,
                        "a fetch was interrupted; it goes on shortly"
                    );
                    let _ = files::unlease(&db, &upload).await;
                    tokio::time::sleep(Duration::from_secs(1 << interrupted)).await;
                    continue;
                }
                reason
            }
        };
        tracing::info!(fetch = id, reason, "a fetch stopped");
        if let Err(error) = fail(&db, &upload, &reason).await {
            tracing::warn!(?error, fetch = id, "could not record why a fetch stopped");
        }
        return;
    }
}

/// Records why a fetch stopped and lets go of it (unless another writer holds it now).
async fn fail(conn: &impl db::Conn, leased: &upload::Model, reason: &str) -> Result<(), AppError> {
    upload::Entity::update_many()
        .col_expr(upload::Column::Failure, Expr::value(Some(reason)))
        .col_expr(
            upload::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(upload::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(files::held(leased))
        .exec(conn)
        .await?;
    Ok(())
}

fn disk_failure(error: &std::io::Error, id: &str) -> Outcome {
    tracing::error!(%error, fetch = id, "a fetch could not be written to the files folder");
    Outcome::Failed(format!(
        "The server could not store the file ({error}): is its files folder full?"
    ))
}

/// How long a request may take to answer (its head): well inside the lease.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

fn interrupted(reason: impl std::fmt::Display) -> Outcome {
    Outcome::Interrupted {
        reason: reason.to_string(),
        progressed: false,
    }
}

/// One request for the rest of the fetch, written as it arrives, holding the lease.
async fn attempt(
    db: &DatabaseConnection,
    store: &FileStore,
    fetcher: &Fetcher,
    mut upload: upload::Model,
) -> Outcome {
    let id = upload.id.clone();
    let mut length = u64::try_from(upload.length).unwrap_or_default();
    let received = u64::try_from(upload.received).unwrap_or_default();
    // Every byte arrived before, and finishing failed: finish now.
    if let Some(sha256) = upload.sha256.clone() {
        return finish(db, store, upload, &sha256).await;
    }
    let Some(url) = upload
        .source_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
    else {
        return Outcome::Failed("The fetch has no URL.".into());
    };
    // The rest, while the bytes are the ones begun; else all of them again.
    let path = store.part(&id);
    let stored = upload.sha256_state.clone();
    let opened_at = std::cmp::min(received, length);
    let part = match files::blocking(move || Part::open(path, opened_at, stored)).await {
        Ok(part) => part,
        // The part lost bytes it had counted: start again.
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            if let Err(error) = begin_again(db, &upload, None).await {
                return interrupted(error);
            }
            let path = store.part(&id);
            match files::blocking(move || Part::open(path, 0, None)).await {
                Ok(part) => part,
                Err(error) => return disk_failure(&error, &id),
            }
        }
        Err(error) => return disk_failure(&error, &id),
    };
    let mut headers = Vec::new();
    if part.written() > 0
        && let Some(validator) = &upload.source_validator
    {
        headers.push((header::RANGE, format!("bytes={}-", part.written())));
        headers.push((header::IF_RANGE, validator.clone()));
    }
    let sent = tokio::time::timeout(
        ANSWER_TIMEOUT,
        fetcher.send(reqwest::Method::GET, &url, &headers),
    )
    .await;
    let response = match sent {
        Ok(Ok(response)) => response,
        Ok(Err(Problem {
            message,
            refused: true,
        })) => return Outcome::Failed(message),
        Ok(Err(Problem { message, .. })) => return interrupted(message),
        Err(_) => {
            return interrupted(format!(
                "{url} did not answer within {} s.",
                ANSWER_TIMEOUT.as_secs()
            ));
        }
    };
    // The lease is renewed as the answer arrives: the wait for it counted against it.
    match files::advance(db, &upload, part.written(), &part.hash_state()).await {
        Ok(true) => {}
        Ok(false) => return Outcome::Gone,
        Err(error) => return interrupted(error),
    }
    let status = response.status();
    let part = match status {
        StatusCode::PARTIAL_CONTENT if !headers.is_empty() => {
            if content_range(&response) != Some((part.written(), Some(length))) {
                // Not the rest asked for: all of it again, next time.
                if let Err(error) = begin_again(db, &upload, None).await {
                    return interrupted(error);
                }
                return interrupted(format!(
                    "{url} answered with bytes other than the rest asked for; the fetch starts over."
                ));
            }
            part
        }
        StatusCode::OK => {
            // Changed since the fetch began: it holds the space of the new bytes, if they fit.
            let now = content_length(&response).filter(|n| *n != length);
            if part.written() > 0 || now.is_some() {
                drop(part);
                match begin_again(db, &upload, now).await {
                    Ok(()) => {}
                    Err(AppError::Invalid { message, .. }) => return Outcome::Failed(message),
                    Err(error) => return interrupted(error),
                }
                if let Some(now) = now {
                    length = now;
                    upload.length = now as i64;
                }
                let path = store.part(&id);
                match files::blocking(move || Part::open(path, 0, None)).await {
                    Ok(part) => part,
                    Err(error) => return disk_failure(&error, &id),
                }
            } else {
                part
            }
        }
        status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
            return interrupted(format!(
                "The server answered {} for {url}.",
                status_text(status)
            ));
        }
        status => {
            return Outcome::Failed(format!(
                "The server answered {} for {url}.",
                status_text(status)
            ));
        }
    };
    if let Err(error) = set_validator(db, &upload, validator_of(&response)).await {
        return interrupted(error);
    }
    let from = part.written();
    let written = files::receive(
        db,
        &upload,
        response.bytes_stream(),
        part,
        length,
        Cadence::FETCH,
        Some(IDLE_TIMEOUT),
    )
    .await;
    let (part, cut) = match written {
        Received::Ended { part, cut } => (part, cut),
        Received::Cancelled => return Outcome::Gone,
        Received::Disk(error) => return disk_failure(&error, &id),
        Received::Failed(error) => return interrupted(error),
    };
    let part = match files::blocking(move || part.sync()).await {
        Ok(part) => part,
        Err(error) => return disk_failure(&error, &id),
    };
    let written = part.written();
    if let Some(Cut::PastLength) = cut {
        // Nothing of it is kept: a retry starts over.
        if let Err(error) = begin_again(db, &upload, None).await {
            tracing::warn!(?error, fetch = id, "could not reset a fetch");
        }
        return Outcome::Failed(format!(
            "{url} sent more than the {length} bytes it announced."
        ));
    }
    if written < length || cut.is_some() {
        if let Err(error) = files::release(db, &upload, written, &part.hash_state()).await {
            return interrupted(error);
        }
        let reason = match cut {
            Some(Cut::Dropped(error)) => format!("The download from {url} broke off: {error}."),
            Some(Cut::Idle) => format!("{url} sent nothing for {} s.", IDLE_TIMEOUT.as_secs()),
            _ => format!("The download from {url} ended early."),
        };
        return Outcome::Interrupted {
            reason,
            progressed: written > from,
        };
    }
    let sha256 = part.finish();
    if let Some(expected) = upload.expected_sha256.as_deref()
        && expected != sha256
    {
        // Nothing of it is kept; a retry fetches it all again.
        if let Err(error) = begin_again(db, &upload, None).await {
            tracing::warn!(?error, fetch = id, "could not reset a fetch");
        }
        if let Err(error) = store.discard(&id).await {
            tracing::warn!(%error, fetch = id, "could not delete a fetch's bytes");
        }
        let from = upload
            .sums_url
            .as_deref()
            .map(|sums| format!(" (from {sums})"))
            .unwrap_or_default();
        return Outcome::Failed(format!(
            "The file arrived with SHA-256 {sha256}, not the {expected} expected{from}; it was not kept. Check the URL (or the checksum), then retry or dismiss."
        ));
    }
    match files::complete(db, &upload, length, &sha256).await {
        Ok(true) => finish(db, store, upload, &sha256).await,
        Ok(false) => Outcome::Gone,
        Err(error) => interrupted(error),
    }
}

async fn finish(
    db: &DatabaseConnection,
    store: &FileStore,
    upload: upload::Model,
    sha256: &str,
) -> Outcome {
    match files::make_file(db, store, upload, sha256).await {
        Ok(_) => Outcome::Done,
        Err(AppError::NotFound) => Outcome::Gone,
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

async fn set_validator(
    conn: &impl db::Conn,
    leased: &upload::Model,
    validator: Option<String>,
) -> Result<(), AppError> {
    upload::Entity::update_many()
        .col_expr(upload::Column::SourceValidator, Expr::value(validator))
        .filter(files::held(leased))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records that a fetch starts over from its first byte (before its part is cut back), so
/// that no later attempt goes on from bytes that are gone; with `length`, the new size of
/// its source, held if the quota allows.
async fn begin_again(
    conn: &impl db::Conn,
    leased: &upload::Model,
    length: Option<u64>,
) -> Result<(), AppError> {
    upload::Entity::update_many()
        .col_expr(upload::Column::Received, Expr::value(0i64))
        .col_expr(
            upload::Column::Sha256State,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            upload::Column::SourceValidator,
            Expr::value(Option::<String>::None),
        )
        .filter(files::held(leased))
        .exec(conn)
        .await?;
    if let Some(length) = length {
        files::resize(conn, leased, length).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A checksum list is whatever a web server sent: any text is read without a panic,
        /// and a SHA-256 found is one.
        #[test]
        fn any_checksum_list_is_read_without_a_panic(text in ".{0,400}", name in "[a-z.]{0,12}") {
            if let Some(sha) = sha256_in_list(&text, &name) {
                proptest::prop_assert!(parse_sha256(&sha).as_deref() == Some(sha.as_str()));
            }
        }
    }

    fn policy(allow: &[&str]) -> FetchPolicy {
        FetchPolicy {
            allow: allow.iter().map(|n| Network::parse(n).unwrap()).collect(),
            own_host: Some("pxe.example.org".into()),
        }
    }

    #[test]
    fn the_default_policy_refuses_this_machine_and_its_neighbourhood() {
        let default = policy(&[]);
        for (address, why) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("64:ff9b::7f00:1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("::7f00:1", "loopback"),
            ("fd00:ec2::254", "metadata"),
            ("100.100.100.200", "metadata"),
            ("64:ff9b:1::a00:1", "NAT64"),
        ] {
            let refusal = default.refusal(address.parse().unwrap());
            assert!(
                refusal.as_deref().is_some_and(|r| r.contains(why)),
                "{address}: {refusal:?}"
            );
        }
        for address in ["192.0.2.10", "10.1.2.3", "2001:db8::1", "151.101.2.132"] {
            assert_eq!(default.refusal(address.parse().unwrap()), None, "{address}");
        }
    }

    #[test]
    fn an_allow_list_allows_only_its_networks() {
        let lab = policy(&["127.0.0.1/32", "10.0.0.0/8"]);
        assert_eq!(lab.refusal("127.0.0.1".parse().unwrap()), None);
        assert_eq!(lab.refusal("10.200.0.1".parse().unwrap()), None);
        let outside = lab.refusal("192.0.2.1".parse().unwrap()).unwrap();
        assert!(outside.contains("127.0.0.1/32, 10.0.0.0/8"), "{outside}");
        assert!(lab.refusal("127.0.0.2".parse().unwrap()).is_some());
    }

    #[test]
    fn urls_are_checked_before_any_request() {
        let default = policy(&[]);
        let check = |url: &str| default.check_url(&Url::parse(url).unwrap());
        assert!(check("https://deb.debian.org/debian/x.iso").is_ok());
        assert!(check("ftp://example.org/x").unwrap_err().contains("http"));
        assert!(check("file:///etc/passwd").unwrap_err().contains("http"));
        assert!(
            check("http://user:pw@example.org/x")
                .unwrap_err()
                .contains("password")
        );
        assert!(
            check("http://127.0.0.1:8080/x")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(check("http://[::1]/x").unwrap_err().contains("loopback"));
        assert!(
            check("http://169.254.169.254/latest")
                .unwrap_err()
                .contains("link-local")
        );
        assert!(
            check("http://PXE.example.org./x")
                .unwrap_err()
                .contains("own name")
        );
    }

    #[test]
    fn checksum_lists_in_each_common_layout_give_the_file_s_sum() {
        let (a, b) = ("a".repeat(64), "B".repeat(64));
        let gnu = format!("{a}  debian-12.iso\n{b} *ubuntu.iso\n");
        assert_eq!(sha256_in_list(&gnu, "debian-12.iso"), Some(a.clone()));
        assert_eq!(sha256_in_list(&gnu, "ubuntu.iso"), Some(b.to_lowercase()));
        assert_eq!(sha256_in_list(&gnu, "other.iso"), None);
        let bsd = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# Fedora.iso: 2 bytes\nSHA256 (Fedora.iso) = {a}\n-----BEGIN PGP SIGNATURE-----\n"
        );
        assert_eq!(sha256_in_list(&bsd, "Fedora.iso"), Some(a.clone()));
        assert_eq!(
            sha256_in_list(&format!("{a}  ./iso/x.iso\n"), "x.iso"),
            Some(a.clone())
        );
        // A list of one bare checksum (`x.iso.sha256`) is the file's; two are not.
        assert_eq!(sha256_in_list(&format!("{a}\n"), "x.iso"), Some(a.clone()));
        assert_eq!(sha256_in_list(&format!("{a}\n{b}\n"), "x.iso"), None);
        assert_eq!(sha256_in_list("not a list at all", "x.iso"), None);
    }
}
