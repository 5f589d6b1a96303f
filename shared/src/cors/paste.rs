//! Responses pasted by a person: the output of `curl -i` (or `curl -si -L`, or the `<`
//! lines of `curl -v`), or bare `Name: value` header lines copied from a browser's network
//! panel. [`parse_response`] turns one into the [`ObservedResponse`] the evaluator takes,
//! and says on which line it could not.

use std::fmt;

use super::syntax::{is_token, trim_http_whitespace};
use super::types::ObservedResponse;

/// Longest paste taken, in bytes: far more than any response head.
pub const MAX_PASTE_BYTES: usize = 64 * 1024;
/// Most header lines taken from one paste.
const MAX_HEADERS: usize = 500;

/// Why a paste could not be read, with the 1-based line it concerns (0: the whole paste).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasteError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for PasteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

fn err(line: usize, message: impl Into<String>) -> PasteError {
    PasteError {
        line,
        message: message.into(),
    }
}

/// What a paste held: the final response, and whether it had a status line at all (bare
/// headers are taken as status `assumed_status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastedResponse {
    pub response: ObservedResponse,
    pub had_status_line: bool,
    /// Redirect responses before the final one (`curl -L`).
    pub redirects: usize,
}

/// `HTTP/1.1 204 No Content`, `HTTP/2 200`: the status, or `None` for another line.
fn status_line(line: &str) -> Option<Result<u16, String>> {
    let rest = line.strip_prefix("HTTP/")?;
    let mut parts = rest.split_whitespace();
    let _version = parts.next()?;
    let code = parts.next().unwrap_or_default();
    Some(match code.parse::<u16>() {
        Ok(n) if (100..=599).contains(&n) && code.len() == 3 => Ok(n),
        _ => Err(format!("`{line}` has no three-digit status code")),
    })
}

/// A line of `curl -v` output: `< ` marks the response, everything else (`> `, `* `, `{ `,
/// `} `) is the request or curl's own notes.
enum Verbose<'a> {
    Response(&'a str),
    Other,
    Plain(&'a str),
}

fn verbose(line: &str) -> Verbose<'_> {
    if let Some(r) = line
        .strip_prefix("< ")
        .or(line.strip_prefix('<').filter(|r| r.is_empty()))
    {
        Verbose::Response(r)
    } else if ["> ", "* ", "{ ", "} "].iter().any(|p| line.starts_with(p)) || line == ">" {
        Verbose::Other
    } else {
        Verbose::Plain(line)
    }
}

/// Reads a pasted response. Several response heads (1xx, redirects followed by `curl -L`,
/// a proxy's `Connection established`) give the last one, marked redirected when one
/// before it was a redirect; the body after the final head is ignored.
pub fn parse_response(text: &str, assumed_status: u16) -> Result<PastedResponse, PasteError> {
    if text.len() > MAX_PASTE_BYTES {
        return Err(err(
            0,
            format!("the paste is {} bytes; at most {MAX_PASTE_BYTES} are read (the response head is enough)", text.len()),
        ));
    }
    let is_verbose = text.lines().any(|l| l.starts_with("< "));
    let mut heads: Vec<Head> = Vec::new();
    let mut in_head = false;
    let mut saw_any = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = match verbose(raw.trim_end_matches('\r')) {
            Verbose::Response(r) => r,
            Verbose::Other => continue,
            Verbose::Plain(_) if is_verbose => continue,
            Verbose::Plain(p) => p,
        };
        if let Some(status) = status_line(line.trim_start()) {
            let status = status.map_err(|m| err(n, m))?;
            heads.push(Head::new(Some(status)));
            in_head = true;
            saw_any = true;
            continue;
        }
        if line.trim().is_empty() {
            // A blank line ends a head; what follows is a body unless another head starts.
            in_head = false;
            continue;
        }
        if !in_head && saw_any {
            continue; // body text
        }
        if !saw_any {
            heads.push(Head::new(None));
            in_head = true;
            saw_any = true;
        }
        let Some(Head { headers, .. }) = heads.last_mut() else {
            continue;
        };
        header_line(headers, line, n)?;
    }
    last_response(&heads, assumed_status)
}

/// Adds header line `line` (number `n`) to `headers`: `Name: value`, or a continuation.
fn header_line(
    headers: &mut Vec<(String, String)>,
    line: &str,
    n: usize,
) -> Result<(), PasteError> {
    if line.starts_with([' ', '\t']) {
        // obs-fold: a continuation of the previous header's value.
        let Some((_, value)) = headers.last_mut() else {
            return Err(err(n, "a continuation line with no header before it"));
        };
        value.push(' ');
        value.push_str(trim_http_whitespace(line));
        return Ok(());
    }
    let Some((name, value)) = line.split_once(':') else {
        return Err(err(
            n,
            format!(
                "`{}` is not a header (`Name: value`) or a status line (`HTTP/1.1 200 OK`)",
                shorten(line)
            ),
        ));
    };
    if !is_token(name) {
        return Err(err(n, format!("`{}` is not a header name", shorten(name))));
    }
    if headers.len() >= MAX_HEADERS {
        return Err(err(
            n,
            format!("more than {MAX_HEADERS} headers in one response"),
        ));
    }
    headers.push((name.to_owned(), trim_http_whitespace(value).to_owned()));
    Ok(())
}

/// One response head of a paste: its status (`None` for bare header lines) and headers.
struct Head {
    status: Option<u16>,
    headers: Vec<(String, String)>,
}

impl Head {
    fn new(status: Option<u16>) -> Self {
        Self {
            status,
            headers: Vec::new(),
        }
    }
}

/// The final response among `heads`: interim (1xx) heads come before the real one, and
/// redirects before it make it redirected.
fn last_response(heads: &[Head], assumed_status: u16) -> Result<PastedResponse, PasteError> {
    let finals: Vec<&Head> = heads
        .iter()
        .filter(|h| !matches!(h.status, Some(100..=199)))
        .collect();
    let Some(last) = finals.last() else {
        return Err(err(
            0,
            "nothing to read: paste the response headers, or the output of `curl -i`",
        ));
    };
    let redirects = finals[..finals.len() - 1]
        .iter()
        .filter(|h| {
            matches!(h.status, Some(300..=399))
                && h.headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("location"))
        })
        .count();
    let response = ObservedResponse {
        status: last.status.unwrap_or(assumed_status),
        headers: last.headers.clone(),
        redirected: redirects > 0,
        tainted_origin: false,
    };
    Ok(PastedResponse {
        response,
        had_status_line: last.status.is_some(),
        redirects,
    })
}

/// A line cut for an error message.
fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_i_output_with_a_body() {
        let text = "HTTP/1.1 204 No Content\r\nServer: nginx\r\nAccess-Control-Allow-Origin: https://shop.example\r\nAccess-Control-Allow-Methods: GET, PUT\r\n\r\n";
        let p = parse_response(text, 200).expect("parses");
        assert_eq!(p.response.status, 204);
        assert!(p.had_status_line);
        assert_eq!(
            p.response.get("access-control-allow-methods").as_deref(),
            Some("GET, PUT")
        );
        let with_body =
            "HTTP/2 200\ncontent-type: application/json\n\n{\"ok\": true}\nnot: a header\n";
        let p = parse_response(with_body, 200).expect("parses");
        assert_eq!(p.response.headers.len(), 1);
    }

    #[test]
    fn bare_headers_take_the_assumed_status() {
        let p = parse_response("Access-Control-Allow-Origin: *\nVary: Origin", 204).expect("ok");
        assert_eq!(p.response.status, 204);
        assert!(!p.had_status_line);
        assert_eq!(p.response.headers.len(), 2);
    }

    #[test]
    fn curl_l_keeps_the_last_response_and_marks_the_redirect() {
        let text = "HTTP/1.1 301 Moved Permanently\nLocation: https://api.example/v1/\n\nHTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nAccess-Control-Allow-Origin: *\n\nbody";
        let p = parse_response(text, 200).expect("parses");
        assert_eq!(p.response.status, 200);
        assert!(p.response.redirected);
        assert_eq!(p.redirects, 1);
        assert_eq!(
            p.response.headers,
            vec![("Access-Control-Allow-Origin".to_owned(), "*".to_owned())]
        );
    }

    #[test]
    fn curl_v_reads_only_the_response_lines() {
        let text = "*   Trying 127.0.0.1:8080...\n> OPTIONS /api HTTP/1.1\n> Host: x\n> Origin: https://shop.example\n>\n< HTTP/1.1 204 No Content\n< Access-Control-Allow-Origin: https://shop.example\n< \n* Connection #0 left intact\n";
        let p = parse_response(text, 200).expect("parses");
        assert_eq!(p.response.status, 204);
        assert_eq!(p.response.headers.len(), 1);
    }

    #[test]
    fn continuation_lines_join_the_value() {
        let p = parse_response(
            "HTTP/1.1 200 OK\nAccess-Control-Allow-Headers: a,\n  b\n",
            200,
        )
        .expect("ok");
        assert_eq!(
            p.response.get("access-control-allow-headers").as_deref(),
            Some("a, b")
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_response("HTTP/1.1 200 OK\nthis is prose\n", 200).expect_err("prose");
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        let e = parse_response("HTTP/1.1 OK\n", 200).expect_err("no code");
        assert_eq!(e.line, 1);
        let e = parse_response("Bad Name: x\n", 200).expect_err("space in name");
        assert!(e.message.contains("header name"), "{e}");
        let e = parse_response("\n\n  \n", 200).expect_err("empty");
        assert_eq!(e.line, 0);
        let e = parse_response(&"a: b\n".repeat(20_000), 200).expect_err("huge");
        assert!(e.message.contains("bytes"), "{e}");
        let e = parse_response(" folded\n", 200).expect_err("fold first");
        assert_eq!(e.line, 1);
    }
}
