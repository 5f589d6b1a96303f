//! Who most likely generated an HTTP response (docs/incidents.md, "The 404 that was not a
//! routing error"): a framework's default error, a proxy's error page, or the application,
//! so that two 404s or two 503s with different origins are told apart. The fingerprints are
//! data ([`FINGERPRINTS`]).

use serde::{Deserialize, Serialize};

/// Broad kind of responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// A web framework's built-in answer (no route, method not allowed…): the request
    /// reached the app, but no handler of yours produced it.
    FrameworkDefault,
    /// A reverse proxy or CDN answered itself (no upstream, upstream failed, blocked).
    ProxyErrorPage,
    /// A body your code (or the service behind it) wrote.
    Application,
    /// Nothing matched and there is too little to guess from.
    Unknown,
}

/// The verdict for one response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attribution {
    pub generator: Generator,
    /// Stable id of the matching fingerprint, e.g. `fastapi_404`, `nginx_error_page`.
    pub fingerprint: Option<String>,
    /// Who, in words: "FastAPI/Starlette default 404", "nginx error page (nginx/1.22.1)".
    pub label: String,
    /// Why this attribution: which header or body pattern matched.
    pub evidence: String,
}

/// What a fingerprint looks at. All present conditions must hold.
#[derive(Debug, Clone, Copy)]
pub struct Fingerprint {
    pub id: &'static str,
    pub generator: Generator,
    pub label: &'static str,
    /// Status codes it applies to; empty = any.
    pub statuses: &'static [u16],
    /// Case-insensitive prefix of the `Server` header.
    pub server_prefix: Option<&'static str>,
    /// A response header that must be present (name, case-insensitive).
    pub header_present: Option<&'static str>,
    /// Exact body (after trimming trailing whitespace).
    pub body_exact: Option<&'static str>,
    /// Substrings that must all occur in the body.
    pub body_contains: &'static [&'static str],
}

const ANY: &[u16] = &[];

/// Known responders, most specific first; the first match wins.
pub const FINGERPRINTS: &[Fingerprint] = &[
    // FastAPI/Starlette: exactly 22 bytes for a missing route.
    Fingerprint { id: "fastapi_404", generator: Generator::FrameworkDefault, label: "FastAPI/Starlette default 404 (no such route)", statuses: &[404], server_prefix: None, header_present: None, body_exact: Some(r#"{"detail":"Not Found"}"#), body_contains: &[] },
    Fingerprint { id: "fastapi_405", generator: Generator::FrameworkDefault, label: "FastAPI/Starlette default 405", statuses: &[405], server_prefix: None, header_present: None, body_exact: Some(r#"{"detail":"Method Not Allowed"}"#), body_contains: &[] },
    Fingerprint { id: "uvicorn_500", generator: Generator::FrameworkDefault, label: "Uvicorn/Starlette default 500 (unhandled exception in the app)", statuses: &[500], server_prefix: None, header_present: None, body_exact: Some("Internal Server Error"), body_contains: &[] },
    Fingerprint { id: "express_no_route", generator: Generator::FrameworkDefault, label: "Express default 404 (no such route)", statuses: &[404], server_prefix: None, header_present: None, body_exact: None, body_contains: &["<title>Error</title>", "<pre>Cannot "] },
    Fingerprint { id: "spring_whitelabel", generator: Generator::FrameworkDefault, label: "Spring Boot Whitelabel error page", statuses: ANY, server_prefix: None, header_present: None, body_exact: None, body_contains: &["Whitelabel Error Page"] },
    Fingerprint { id: "spring_json_error", generator: Generator::FrameworkDefault, label: "Spring Boot default JSON error", statuses: ANY, server_prefix: None, header_present: None, body_exact: None, body_contains: &["\"timestamp\"", "\"status\"", "\"error\"", "\"path\""] },
    Fingerprint { id: "werkzeug_error", generator: Generator::FrameworkDefault, label: "Flask/Werkzeug default error page", statuses: ANY, server_prefix: None, header_present: None, body_exact: None, body_contains: &["<title>", "The requested URL was not found on the server"] },
    Fingerprint { id: "django_404", generator: Generator::FrameworkDefault, label: "Django default 404", statuses: &[404], server_prefix: None, header_present: None, body_exact: None, body_contains: &["The requested resource was not found on this server."] },
    Fingerprint { id: "go_not_found", generator: Generator::FrameworkDefault, label: "Go net/http default 404 (also Traefik with no matching router)", statuses: &[404], server_prefix: None, header_present: None, body_exact: Some("404 page not found"), body_contains: &[] },
    // Proxies and CDNs.
    Fingerprint { id: "envoy_no_healthy_upstream", generator: Generator::ProxyErrorPage, label: "Envoy: no healthy upstream (every backend marked unhealthy)", statuses: &[503], server_prefix: None, header_present: None, body_exact: Some("no healthy upstream"), body_contains: &[] },
    Fingerprint { id: "envoy_upstream_connect_error", generator: Generator::ProxyErrorPage, label: "Envoy: upstream connect error (backend refused, reset or timed out)", statuses: ANY, server_prefix: None, header_present: None, body_exact: None, body_contains: &["upstream connect error or disconnect/reset before headers"] },
    Fingerprint { id: "envoy_no_route", generator: Generator::ProxyErrorPage, label: "Envoy: no route matched", statuses: &[404], server_prefix: Some("envoy"), header_present: None, body_exact: Some(""), body_contains: &[] },
    Fingerprint { id: "nginx_error_page", generator: Generator::ProxyErrorPage, label: "nginx error page", statuses: ANY, server_prefix: None, header_present: None, body_exact: None, body_contains: &["<center><h1>", "<hr><center>nginx"] },
    Fingerprint { id: "haproxy_error_page", generator: Generator::ProxyErrorPage, label: "HAProxy error page", statuses: ANY, server_prefix: None, header_present: None, body_exact: None, body_contains: &["No server is available to handle this request"] },
    Fingerprint { id: "cloudflare_error", generator: Generator::ProxyErrorPage, label: "Cloudflare error (the edge could not use your origin)", statuses: &[520, 521, 522, 523, 524, 525, 526, 530], server_prefix: Some("cloudflare"), header_present: None, body_exact: None, body_contains: &[] },
    Fingerprint { id: "cloudfront_error", generator: Generator::ProxyErrorPage, label: "CloudFront error page", statuses: ANY, server_prefix: None, header_present: None, body_exact: None, body_contains: &["Generated by cloudfront (CloudFront)"] },
    Fingerprint { id: "traefik_bad_gateway", generator: Generator::ProxyErrorPage, label: "Traefik: bad gateway", statuses: &[502], server_prefix: None, header_present: None, body_exact: Some("Bad Gateway"), body_contains: &[] },
    Fingerprint { id: "caddy_empty_error", generator: Generator::ProxyErrorPage, label: "Caddy: empty error response", statuses: &[502, 503, 504], server_prefix: Some("caddy"), header_present: None, body_exact: Some(""), body_contains: &[] },
    // Upstream applications that are often proxied straight through (docs/incidents.md,
    // "The 404 that was not a routing error").
    Fingerprint { id: "llm_model_not_found", generator: Generator::Application, label: "An LLM server (Ollama/OpenAI-compatible) saying the model does not exist, passed through", statuses: &[404], server_prefix: None, header_present: None, body_exact: None, body_contains: &["model", "not found"] },
];

/// Case-insensitive header lookup.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn matches(fp: &Fingerprint, status: u16, headers: &[(String, String)], body: &str) -> bool {
    let trimmed = body.trim_end();
    (fp.statuses.is_empty() || fp.statuses.contains(&status))
        && fp.server_prefix.is_none_or(|p| {
            header(headers, "server").is_some_and(|s| s.to_ascii_lowercase().starts_with(p))
        })
        && fp
            .header_present
            .is_none_or(|h| header(headers, h).is_some())
        && fp.body_exact.is_none_or(|b| trimmed == b)
        && fp.body_contains.iter().all(|needle| {
            body.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
}

/// Attributes a response from its status, headers and the first bytes of its body.
pub fn attribute(status: u16, headers: &[(String, String)], body: &[u8]) -> Attribution {
    let text = String::from_utf8_lossy(body);
    if let Some(fp) = FINGERPRINTS
        .iter()
        .find(|fp| matches(fp, status, headers, &text))
    {
        let server = header(headers, "server")
            .map(|s| format!(" (Server: {s})"))
            .unwrap_or_default();
        return Attribution {
            generator: fp.generator,
            fingerprint: Some(fp.id.to_owned()),
            label: format!("{}{server}", fp.label),
            evidence: format!(
                "HTTP {status}, {} body bytes matching the `{}` fingerprint",
                body.len(),
                fp.id
            ),
        };
    }
    // No fingerprint: a 2xx/3xx, or an error body with content, is most likely the app.
    let server = header(headers, "server").unwrap_or("");
    let generator = if (200..400).contains(&status) || !text.trim().is_empty() {
        Generator::Application
    } else {
        Generator::Unknown
    };
    Attribution {
        generator,
        fingerprint: None,
        label: match generator {
            Generator::Application => {
                "the application (no known default or proxy page matched)".to_owned()
            }
            _ => "unknown (empty body, no telling header)".to_owned(),
        },
        evidence: format!(
            "HTTP {status}, {} body bytes{}",
            body.len(),
            if server.is_empty() {
                String::new()
            } else {
                format!(", Server: {server}")
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// status, headers, body, expected generator, expected fingerprint id
    type Case<'a> = (
        u16,
        &'a [(&'a str, &'a str)],
        &'a str,
        Generator,
        Option<&'a str>,
    );

    /// Real bodies as these servers send them.
    #[test]
    fn table() {
        let nginx_502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
        let express = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET /api/items</pre>\n</body>\n</html>\n";
        let haproxy = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
        let spring = r#"{"timestamp":"2026-11-22T10:00:00.000+00:00","status":404,"error":"Not Found","path":"/api/x"}"#;
        let ollama = r#"{"error":"model 'llama3:70b' not found, try pulling it first"}"#;
        let cases: &[Case<'_>] = &[
            (404, &[("content-type", "application/json")], r#"{"detail":"Not Found"}"#, Generator::FrameworkDefault, Some("fastapi_404")),
            (405, &[], r#"{"detail":"Method Not Allowed"}"#, Generator::FrameworkDefault, Some("fastapi_405")),
            (500, &[], "Internal Server Error", Generator::FrameworkDefault, Some("uvicorn_500")),
            (404, &[("x-powered-by", "Express")], express, Generator::FrameworkDefault, Some("express_no_route")),
            (404, &[], spring, Generator::FrameworkDefault, Some("spring_json_error")),
            (404, &[], "404 page not found\n", Generator::FrameworkDefault, Some("go_not_found")),
            (502, &[("server", "nginx/1.22.1")], nginx_502, Generator::ProxyErrorPage, Some("nginx_error_page")),
            (503, &[("server", "envoy")], "no healthy upstream", Generator::ProxyErrorPage, Some("envoy_no_healthy_upstream")),
            (503, &[("server", "envoy")], "upstream connect error or disconnect/reset before headers. reset reason: connection failure", Generator::ProxyErrorPage, Some("envoy_upstream_connect_error")),
            (503, &[], haproxy, Generator::ProxyErrorPage, Some("haproxy_error_page")),
            (521, &[("server", "cloudflare"), ("cf-ray", "8a1b")], "error code: 521", Generator::ProxyErrorPage, Some("cloudflare_error")),
            (502, &[("Server", "Caddy")], "", Generator::ProxyErrorPage, Some("caddy_empty_error")),
            (404, &[], ollama, Generator::Application, Some("llm_model_not_found")),
            (200, &[], "[1,2,3]", Generator::Application, None),
            (404, &[], r#"{"detail":"Item 42 not found"}"#, Generator::Application, None),
            (503, &[], "", Generator::Unknown, None),
        ];
        for (status, headers, body, generator, id) in cases {
            let a = attribute(*status, &h(headers), body.as_bytes());
            assert_eq!(a.generator, *generator, "{status} {body:?}: {a:?}");
            assert_eq!(a.fingerprint.as_deref(), *id, "{status} {body:?}: {a:?}");
        }
    }

    /// The 404 that was not a routing error: two 404s, one from the framework (22 bytes),
    /// one passed through from an upstream LLM server, must not look the same.
    #[test]
    fn two_404s_with_different_origins_are_told_apart() {
        let framework = attribute(404, &[], br#"{"detail":"Not Found"}"#);
        let upstream = attribute(404, &[], br#"{"error":"model \"mistral\" not found"}"#);
        assert_eq!(framework.generator, Generator::FrameworkDefault);
        assert_eq!(upstream.generator, Generator::Application);
        assert!(
            framework.evidence.contains("22 body bytes"),
            "{}",
            framework.evidence
        );
    }

    #[test]
    fn server_header_is_named_in_the_label() {
        let a = attribute(503, &h(&[("Server", "envoy")]), b"no healthy upstream");
        assert!(a.label.ends_with("(Server: envoy)"), "{}", a.label);
    }

    #[test]
    fn fingerprint_ids_are_unique() {
        let mut ids: Vec<&str> = FINGERPRINTS.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
