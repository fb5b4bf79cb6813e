//! Request guards and response headers that every route shares: writes only from the app's
//! own pages (CSRF), and the headers that keep browsers from misusing any answer.

use app::{
    error::AppError,
    server::{
        net::{self, ClientIp},
        state::AppState,
    },
};
use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderValue, Method, Request, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::net::SocketAddr;

/// Works out the client's address once per request and hands it on as [`ClientIp`]: the
/// peer's, or, from a trusted proxy (`--trusted-proxy`), the one its `Forwarded` or
/// `X-Forwarded-For` header names. Headers from any other peer are ignored, so nobody can
/// pose as another address by sending them.
pub async fn client_address(
    State(state): State<AppState>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let Some(peer) = peer {
        let trusted = &state.settings.trusted_proxies;
        let address = if trusted.is_empty() {
            net::canonical(peer)
        } else {
            let headers = request.headers();
            let text = |name: &str| {
                headers
                    .get_all(name)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
            };
            let hops =
                net::forwarded_hops(text(header::FORWARDED.as_str()), text("x-forwarded-for"));
            net::client_ip(peer, &hops, trusted)
        };
        request.extensions_mut().insert(ClientIp(address));
    }
    next.run(request).await
}

/// Refuses a state-changing request a browser sent from another site.
///
/// Browsers name the page a request comes from in `Origin` (every POST) or, failing that, in
/// `Sec-Fetch-Site`; a request with neither comes from a program, not a browser, and so
/// cannot be forged by a page. The iPXE endpoints are left out: iPXE sends neither, and its
/// sign-in carries the credentials themselves. Bodies other than a form or JSON are refused
/// too, so that a cross-site `text/plain` post cannot pass for JSON (multipart only where
/// files are uploaded).
pub async fn same_origin_writes(
    State(state): State<AppState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if is_write(request.method()) && !request.uri().path().starts_with("/ipxe/") {
        let headers = request.headers();
        if !from_own_origin(headers, state.settings.public_url.as_deref()) {
            tracing::warn!(
                method = %request.method(),
                path = request.uri().path(),
                origin = ?headers.get(header::ORIGIN),
                "refused a cross-site request"
            );
            return AppError::CrossSite.into_response();
        }
        if !readable_body(headers, request.uri().path()) {
            return AppError::CrossSite.into_response();
        }
    }
    next.run(request).await
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The scheme, host and port of a URL, as browsers write an origin.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

/// Whether a request comes from one of the app's own pages, or from no browser at all.
///
/// A page is the app's own when its origin is the public URL's, or is the host the browser
/// sent the request to (`Host`): the browser loaded that page from this server under that
/// name. A page of another site cannot choose the `Host` its requests carry, and a name that
/// was made to point here (DNS rebinding) gets none of this server's cookies.
fn from_own_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        // `null` (a sandboxed frame, a redirect from elsewhere) or unreadable: not ours.
        let Some(origin) = origin.to_str().ok().and_then(origin_of) else {
            return false;
        };
        if public_url.and_then(origin_of).as_deref() == Some(origin.as_str()) {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        return ["http", "https"]
            .iter()
            .any(|scheme| origin_of(&format!("{scheme}://{host}")).as_deref() == Some(&origin));
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin",
        None => true,
    }
}

/// Whether a write's body is one the API reads: none, a form, or JSON; multipart at the
/// upload endpoint.
fn readable_body(headers: &HeaderMap, path: &str) -> bool {
    let Some(kind) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let kind = kind.to_str().unwrap_or_default();
    let essence = kind.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || essence.eq_ignore_ascii_case("application/json")
        || (path == super::router::UPLOAD_PATH
            && essence.eq_ignore_ascii_case("multipart/form-data"))
        || (path.starts_with("/uploads/")
            && essence.eq_ignore_ascii_case(super::files::OFFSET_OCTET_STREAM))
}

/// The nonce of one response's inline scripts (Leptos's hydration and resource scripts), made
/// per request by [`headers`] and handed to the renderer through the request's extensions.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn new() -> Self {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        Self(hex::encode(bytes))
    }
}

/// The Content Security Policy of an answer whose inline scripts carry `nonce`: only the
/// app's own scripts, styles, images and requests; wasm may be compiled; style attributes
/// (set by the editor while dragging) are allowed, inline style sheets are not; no framing,
/// plugins, `<base>` or foreign form targets.
pub fn content_security_policy(nonce: &CspNonce) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
        nonce.0
    )
}

/// Adds the headers every answer carries, and `no-store` to every answer that did not choose
/// its own caching (pages and API answers are per user).
pub async fn headers(mut request: Request<Body>, next: Next) -> Response {
    let nonce = CspNonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Provides the request's [`CspNonce`] to the renderer, which puts it on every inline script
/// (to be called in the Leptos context of a page render).
pub fn provide_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn origins_are_compared_as_browsers_write_them() {
        assert_eq!(
            origin_of("HTTP://Boot.Example.org:80/x").as_deref(),
            Some("http://boot.example.org")
        );
        assert_eq!(
            origin_of("https://boot.example.org:8443").as_deref(),
            Some("https://boot.example.org:8443")
        );
        assert_eq!(origin_of("null"), None);
    }

    #[test]
    fn a_request_is_own_when_its_origin_is_the_public_url_or_the_host() {
        let public = Some("http://boot.example.org:8080");
        assert!(from_own_origin(
            &headers(&[("origin", "http://boot.example.org:8080")]),
            public
        ));
        assert!(!from_own_origin(
            &headers(&[("origin", "http://boot.example.org")]),
            public
        ));
        // The same server reached under another name, as the browser's page was.
        assert!(from_own_origin(
            &headers(&[
                ("origin", "http://10.0.0.5:8080"),
                ("host", "10.0.0.5:8080")
            ]),
            public
        ));
        assert!(!from_own_origin(
            &headers(&[
                ("origin", "http://10.0.0.5:8081"),
                ("host", "10.0.0.5:8080")
            ]),
            public
        ));
        assert!(from_own_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            None
        ));
        assert!(!from_own_origin(
            &headers(&[("origin", "http://evil.lan"), ("host", "127.0.0.1:3000")]),
            None
        ));
        assert!(!from_own_origin(&headers(&[("origin", "null")]), None));
        assert!(!from_own_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            None
        ));
        assert!(from_own_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            None
        ));
        assert!(from_own_origin(&headers(&[]), None));
    }

    #[test]
    fn only_forms_and_json_are_read() {
        let path = "/api/save_menu";
        assert!(readable_body(
            &headers(&[("content-type", "application/x-www-form-urlencoded")]),
            path
        ));
        assert!(readable_body(
            &headers(&[("content-type", "application/json; charset=utf-8")]),
            path
        ));
        assert!(!readable_body(
            &headers(&[("content-type", "text/plain")]),
            path
        ));
        let multipart = headers(&[("content-type", "multipart/form-data; boundary=x")]);
        assert!(!readable_body(&multipart, path));
        assert!(readable_body(&multipart, super::super::router::UPLOAD_PATH));
    }
}
