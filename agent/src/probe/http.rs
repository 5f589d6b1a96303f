//! One HTTP/1.1 exchange over an already connected (and, for https, verified) stream, with
//! hyper's connection API so every phase can be timed here; plus the URL arithmetic that
//! redirects and CORS origins need.
//!
//! Everything is capped: the exchange (headers and body) has one deadline, at most
//! [`BODY_KEEP`] bytes of body are kept in memory (each frame is copied up to that and
//! dropped), and counting stops at [`BODY_COUNT_CAP`]. Preflights and redirect hops read no
//! body at all (see [`BodyRead`]).

use std::time::{Duration, Instant};
use vantage_shared::duration::fmt_secs;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use vantage_shared::probe::TargetAddress;

/// Body bytes kept in memory (for the fingerprint; the report shows [`BODY_HEAD`]).
pub(crate) const BODY_KEEP: usize = 64 * 1024;
/// Body bytes counted before giving up on knowing the full size.
pub(crate) const BODY_COUNT_CAP: u64 = 10 * 1024 * 1024;
/// Body bytes shown in the report.
pub(crate) const BODY_HEAD: usize = 512;
/// `User-Agent` of every probe request.
pub(crate) const USER_AGENT: &str = concat!("vantage-probe/", env!("CARGO_PKG_VERSION"));

/// A stream hyper can run over: plain TCP or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The request line and headers, exactly as sent.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub method: String,
    /// Origin-form: `/path?query`.
    pub path: String,
    /// Every header including `Host`, in order.
    pub headers: Vec<(String, String)>,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Incoming {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// At most [`BODY_KEEP`] bytes.
    pub body: Vec<u8>,
    /// Bytes counted (all of them unless `truncated`).
    pub body_size: u64,
    /// The body was longer than [`BODY_COUNT_CAP`] or did not finish before the deadline.
    pub truncated: bool,
    /// The deadline passed while the body was still arriving.
    pub body_timed_out: bool,
    /// The body was not read ([`BodyRead`]): `body` is empty and `body_size` is 0.
    pub body_skipped: bool,
    /// From the request being handed to hyper to the response head being parsed.
    pub first_byte_ms: f64,
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExchangeError {
    /// Nothing (or no complete head) within the deadline.
    Timeout { after_ms: f64 },
    /// The request could not be built (a bad header from the target's configuration).
    BadRequest(String),
    /// The connection failed: reset, closed, not HTTP.
    Failed(String),
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout { after_ms } => {
                write!(f, "no HTTP response within {}", fmt_secs(*after_ms))
            }
            Self::BadRequest(e) => write!(f, "the request could not be built: {e}"),
            Self::Failed(e) => f.write_str(e),
        }
    }
}

/// How much of the response body an exchange reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyRead {
    /// None: preflights, whose body no browser reads.
    Skip,
    /// The body, capped, unless the response is a redirect ([`redirect_location`]): a hop's
    /// body is never shown, and reading it would let every hop hold the probe for a whole
    /// request timeout.
    UnlessRedirect,
}

/// The `Location` of a response the probe follows: 301, 302, 303, 307 or 308 with one.
pub(crate) fn redirect_location(status: u16, headers: &[(String, String)]) -> Option<&str> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.as_str())
}

/// Aborts hyper's connection task when the exchange ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `req` over `io` and reads the answer, all within `timeout`; how much of the body is
/// read is `read`'s choice.
pub(crate) async fn exchange(
    io: Box<dyn Io>,
    req: &Outgoing,
    timeout: Duration,
    read: BodyRead,
) -> Result<Incoming, ExchangeError> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || ExchangeError::Timeout {
        after_ms: started.elapsed().as_secs_f64() * 1000.0,
    };

    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(req.path.as_str());
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| ExchangeError::BadRequest(e.to_string()))?;

    let handshake = hyper::client::conn::http1::Builder::new()
        // Title-Case names on the wire, as browsers send them over HTTP/1.1: HTTP says case
        // does not matter, but some WAFs and hand-written servers disagree.
        .title_case_headers(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io));
    let (mut sender, conn) = match tokio::time::timeout_at(deadline, handshake).await {
        Err(_) => return Err(timed_out()),
        Ok(Err(e)) => return Err(ExchangeError::Failed(e.to_string())),
        Ok(Ok(pair)) => pair,
    };
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));

    let sent = Instant::now();
    let response = match tokio::time::timeout_at(deadline, sender.send_request(request)).await {
        Err(_) => return Err(timed_out()),
        Ok(Err(e)) => return Err(ExchangeError::Failed(describe_hyper_error(&e))),
        Ok(Ok(r)) => r,
    };
    let first_byte_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut incoming = Incoming {
        status,
        headers,
        first_byte_ms,
        ..Incoming::default()
    };
    let skip = match read {
        BodyRead::Skip => true,
        BodyRead::UnlessRedirect => redirect_location(status, &incoming.headers).is_some(),
    };
    if skip {
        // Dropping the response and the connection (`_driver`) discards the unread body.
        incoming.body_skipped = true;
        return Ok(incoming);
    }

    let mut body = response.into_body();
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                incoming.truncated = true;
                incoming.body_timed_out = true;
                break;
            }
            Ok(None) => break,
            // A reset mid-body still leaves a status and what arrived; say it was cut.
            Ok(Some(Err(_))) => {
                incoming.truncated = true;
                break;
            }
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let room = BODY_KEEP.saturating_sub(incoming.body.len());
                incoming
                    .body
                    .extend_from_slice(&data[..data.len().min(room)]);
                incoming.body_size += data.len() as u64;
                if incoming.body_size >= BODY_COUNT_CAP {
                    incoming.truncated = true;
                    break;
                }
            }
        }
    }
    Ok(incoming)
}

fn describe_hyper_error(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        "the connection closed before a complete HTTP response arrived".to_owned()
    } else if e.is_parse() {
        format!("the answer is not valid HTTP/1.1 ({e}; TLS or another protocol on this port?)")
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        msg
    }
}

/// `Host` as a browser sends it: no default port, IPv6 in brackets.
pub(crate) fn host_header(addr: &TargetAddress) -> String {
    origin_of(addr)
        .split_once("://")
        .map(|(_, h)| h.to_owned())
        .unwrap_or_default()
}

/// The origin of a URL, serialised as browsers do (`https://shop.example`, `http://[::1]:8080`).
pub(crate) fn origin_of(addr: &TargetAddress) -> String {
    let host = if addr.host.contains(':') {
        format!("[{}]", addr.host)
    } else {
        addr.host.clone()
    };
    let default = match addr.scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => 0,
    };
    if addr.port == default {
        format!("{}://{host}", addr.scheme)
    } else {
        format!("{}://{host}:{}", addr.scheme, addr.port)
    }
}

/// The full URL of a parsed target.
pub(crate) fn url_of(addr: &TargetAddress) -> String {
    format!("{}{}", origin_of(addr), addr.path)
}

/// Resolves a `Location` against the URL that returned it (RFC 3986 §5.2, for the forms
/// servers send). The fragment is dropped: it is never sent.
pub(crate) fn resolve_location(base: &TargetAddress, location: &str) -> Result<String, String> {
    let loc = location.trim();
    let loc = loc.split('#').next().unwrap_or_default();
    if loc.is_empty() {
        return Ok(url_of(base));
    }
    let scheme_end = loc.find(':');
    let has_scheme = scheme_end.is_some_and(|i| {
        i > 0
            && loc[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && loc.as_bytes()[0].is_ascii_alphabetic()
    });
    if has_scheme {
        let scheme = loc[..scheme_end.unwrap_or(0)].to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "the redirect goes to a `{scheme}:` URL, which fetch() cannot follow"
            ));
        }
        return Ok(loc.to_owned());
    }
    if let Some(rest) = loc.strip_prefix("//") {
        return Ok(format!("{}://{rest}", base.scheme));
    }
    let origin = origin_of(base);
    let (base_path, _base_query) = base.path.split_once('?').unwrap_or((&base.path, ""));
    if loc.starts_with('/') {
        let (p, q) = split_query(loc);
        return Ok(format!("{origin}{}{q}", remove_dot_segments(p)));
    }
    if loc.starts_with('?') {
        return Ok(format!("{origin}{base_path}{loc}"));
    }
    let dir = match base_path.rfind('/') {
        Some(i) => &base_path[..=i],
        None => "/",
    };
    let (p, q) = split_query(loc);
    Ok(format!(
        "{origin}{}{q}",
        remove_dot_segments(&format!("{dir}{p}"))
    ))
}

fn split_query(s: &str) -> (&str, &str) {
    match s.find('?') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// RFC 3986 §5.2.4 on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_shared::probe::parse_target_url;

    fn base(u: &str) -> TargetAddress {
        parse_target_url(u).expect("test URL parses")
    }

    #[test]
    fn locations_resolve_like_a_browser() {
        let b = base("https://api.example.com/v1/items/list?page=2");
        let table = [
            ("https://other.example/x", "https://other.example/x"),
            ("HTTP://Other.example/x", "HTTP://Other.example/x"),
            ("//cdn.example/a", "https://cdn.example/a"),
            ("/login?next=%2F", "https://api.example.com/login?next=%2F"),
            ("/a/./b/../c", "https://api.example.com/a/c"),
            ("other", "https://api.example.com/v1/items/other"),
            ("../up", "https://api.example.com/v1/up"),
            ("../../../../top", "https://api.example.com/top"),
            ("?page=3", "https://api.example.com/v1/items/list?page=3"),
            ("/x#frag", "https://api.example.com/x"),
            ("", "https://api.example.com/v1/items/list?page=2"),
        ];
        for (loc, want) in table {
            assert_eq!(resolve_location(&b, loc).as_deref(), Ok(want), "{loc}");
        }
        assert!(resolve_location(&b, "ftp://files.example/x").is_err());
        assert!(resolve_location(&b, "javascript:alert(1)").is_err());
        let v6 = base("http://[::1]:8080/a/b");
        assert_eq!(
            resolve_location(&v6, "c").as_deref(),
            Ok("http://[::1]:8080/a/c")
        );
    }

    #[test]
    fn origins_and_host_headers_drop_default_ports() {
        assert_eq!(
            origin_of(&base("https://a.example:443/x")),
            "https://a.example"
        );
        assert_eq!(
            origin_of(&base("http://a.example:8080/x")),
            "http://a.example:8080"
        );
        assert_eq!(host_header(&base("http://[::1]:80/")), "[::1]");
        assert_eq!(host_header(&base("https://[::1]:8443/")), "[::1]:8443");
        assert_eq!(
            url_of(&base("http://a.example?q=1")),
            "http://a.example/?q=1"
        );
    }
}
