//! Serves the dashboard: the Trunk bundles from `dist/` (the dashboard, and the phone
//! link's page from `dist/phone/`), embedded into release builds (read from disk in debug
//! builds), with an explanatory page when they were never built.

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;
use vantage_shared::phone_link::is_phone_path;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../dist/"]
#[allow_missing = true]
struct Dist;

const NOT_BUILT: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vantage: dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f2f2f2;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>The agent is running, but its dashboard was not built</h1>
<p>This binary was compiled without the web dashboard (<code>dist/</code> was empty). The API works: try <code>/api/health</code>.</p>
<p>To build the dashboard, from the repository root:</p>
<pre>./scripts/run.sh        # installs the wasm toolchain, builds dist/ and the agent, runs it</pre>
<p>or by hand, with trunk 0.21, wasm-bindgen-cli and wasm-opt installed:</p>
<pre>trunk build --release     # writes dist/
trunk build phone.html --release --dist dist/phone --public-url /phone/
cargo build --release -p vantage-agent</pre>
</body></html>"#;

/// An embedded file's bytes as a body without copying them: release builds embed the
/// files in the binary (a 745 KB wasm variant would otherwise be copied on every load);
/// debug builds read them from disk.
fn bytes(data: std::borrow::Cow<'static, [u8]>) -> axum::body::Bytes {
    match data {
        std::borrow::Cow::Borrowed(b) => axum::body::Bytes::from_static(b),
        std::borrow::Cow::Owned(v) => axum::body::Bytes::from(v),
    }
}

/// Whether `Accept-Encoding` admits `coding` (listed with no `q`, or a `q` above 0).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let name_ok = parts.next().is_some_and(|n| n.eq_ignore_ascii_case(coding));
            let q = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
            name_ok && q > 0.0
        })
}

/// The precompressed variant of `path` the client accepts, brotli first: its file and its
/// `Content-Encoding`. `None` for identity (or a build without variants).
fn precompressed(
    path: &str,
    headers: &HeaderMap,
) -> Option<(rust_embed::EmbeddedFile, &'static str)> {
    [("br", ".br"), ("gzip", ".gz")]
        .into_iter()
        .filter(|(coding, _)| accepts(headers, coding))
        .find_map(|(coding, ext)| Dist::get(&format!("{path}{ext}")).map(|f| (f, coding)))
}

/// Fallback handler: static files (precompressed when the build made variants and the
/// browser accepts one), the SPA's index for client-side routes, JSON 404 under `/api`.
pub async fn static_handler(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        return ApiError::NotFound(format!("no API route {}", uri.path())).into_response();
    }
    if !path.is_empty() {
        if let Some(file) = Dist::get(path) {
            let mime = file.metadata.mimetype().to_owned();
            // Trunk puts a content hash in every asset name except index.html.
            let cache = if path.ends_with(".html") {
                "no-cache"
            } else {
                "public, max-age=31536000, immutable"
            };
            if let Some((variant, encoding)) = precompressed(path, &headers) {
                return (
                    [
                        (header::CONTENT_TYPE, mime.as_str()),
                        (header::CACHE_CONTROL, cache),
                        (header::CONTENT_ENCODING, encoding),
                        (header::VARY, "accept-encoding"),
                    ],
                    bytes(variant.data),
                )
                    .into_response();
            }
            return (
                [
                    (header::CONTENT_TYPE, mime.as_str()),
                    (header::CACHE_CONTROL, cache),
                ],
                bytes(file.data),
            )
                .into_response();
        }
    }
    // A phone link's page has its own, much smaller bundle (phone.html); without it the
    // dashboard's bundle serves that page too. `path` has lost its leading slashes (so
    // `//p/<code>` counts too, as it always has); the rule is the dashboard's own.
    let is_phone_page = is_phone_path(&format!("/{path}"));
    let index = is_phone_page
        .then(|| Dist::get("phone/index.html"))
        .flatten()
        .or_else(|| Dist::get("index.html"));
    match index {
        Some(index) => (
            [(header::CACHE_CONTROL, "no-cache")],
            Html(bytes(index.data)),
        )
            .into_response(),
        None => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
    }
}

/// Whether the dashboard bundle is present (logged at start).
pub fn dashboard_built() -> bool {
    Dist::get("index.html").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            accept.parse().expect("header value"),
        );
        h
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts(&with("gzip, deflate, br, zstd"), "br"));
        assert!(accepts(&with("gzip;q=0.5, br;q=1.0"), "gzip"));
        assert!(!accepts(&with("gzip, br;q=0"), "br"));
        assert!(!accepts(&with("gzip"), "br"));
        assert!(accepts(&with("GZIP"), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }
}
