//! The site (wasm, js, css, `public/`) embedded in the binary, served with content types,
//! cache headers and precompressed variants.
//!
//! cargo-leptos writes `pkg/pxecloud.{js,wasm,css}` under fixed names. The server names them
//! `pkg/pxecloud.<build id>.<ext>` in the pages it renders, the build id being a hash of
//! their contents, so that those URLs can be cached forever.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use rust_embed::Embed;
use std::sync::OnceLock;

/// The built site, embedded at compile time (read from disk in debug builds).
#[derive(Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../target/site"]
struct Site;

/// The base name cargo-leptos gives the front-end files.
pub const OUTPUT_NAME: &str = "pxecloud";
const PKG_DIR: &str = "pkg";
const HASHED: [&str; 3] = ["js", "wasm", "css"];

/// A short hash of the front-end files; changes whenever any of them changes.
pub fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for ext in HASHED {
            if let Some(file) = Site::get(&format!("{PKG_DIR}/{OUTPUT_NAME}.{ext}")) {
                hasher.update(file.metadata.sha256_hash());
            }
        }
        hex::encode(&hasher.finalize()[..8])
    })
}

/// The output name the pages use for the front-end files, build id included.
pub fn hashed_output_name() -> String {
    format!("{OUTPUT_NAME}.{}", build_id())
}

/// Whether the front end was built into this binary (tests of the API do without it).
pub fn front_end_present() -> bool {
    Site::get(&format!("{PKG_DIR}/{OUTPUT_NAME}.wasm")).is_some()
}

/// Maps a requested path to the embedded file, and whether it may be cached forever.
fn resolve(path: &str) -> Option<(String, bool)> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty()
        || path
            .split('/')
            .any(|segment| segment == ".." || segment.is_empty())
    {
        return None;
    }
    let hashed_prefix = format!("{PKG_DIR}/{OUTPUT_NAME}.{}.", build_id());
    if let Some(ext) = path.strip_prefix(&hashed_prefix)
        && HASHED.contains(&ext)
    {
        return Some((format!("{PKG_DIR}/{OUTPUT_NAME}.{ext}"), true));
    }
    Some((path.to_owned(), false))
}

fn accepts(headers: &HeaderMap, encoding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case(encoding) && !refused
        })
}

/// Serves an embedded file, or `None` when there is no such file.
pub fn serve(path: &str, headers: &HeaderMap) -> Option<Response> {
    let (file_path, immutable) = resolve(path)?;
    let file = Site::get(&file_path)?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300, must-revalidate"
    };
    let mime = mime_guess::from_path(&file_path).first_or_octet_stream();

    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        }) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, encoding) = [("br", "br"), ("gzip", "gz")]
            .into_iter()
            .find_map(|(encoding, suffix)| {
                accepts(headers, encoding)
                    .then(|| Site::get(&format!("{file_path}.{suffix}")))
                    .flatten()
                    .map(|variant| (variant.data, Some(encoding)))
            })
            .unwrap_or((file.data, None));
        let mut response = Response::new(Body::from(body.into_owned()));
        let response_headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
            response_headers.insert(header::CONTENT_TYPE, value);
        }
        if let Some(encoding) = encoding {
            response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_map_to_the_built_files_and_are_immutable() {
        let js = format!("/pkg/pxecloud.{}.js", build_id());
        assert_eq!(resolve(&js), Some(("pkg/pxecloud.js".into(), true)));
        assert_eq!(
            resolve("/pkg/pxecloud.js"),
            Some(("pkg/pxecloud.js".into(), false))
        );
        assert_eq!(resolve("/favicon.ico"), Some(("favicon.ico".into(), false)));
    }

    #[test]
    fn paths_that_climb_out_are_refused() {
        assert_eq!(resolve("/../Cargo.toml"), None);
        assert_eq!(resolve("/pkg/../../x"), None);
        assert_eq!(resolve("//etc/passwd"), None);
        assert_eq!(resolve("/"), None);
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br;q=0"),
        );
        assert!(accepts(&headers, "gzip"));
        assert!(!accepts(&headers, "br"));
    }
}
