//! The evaluator's input (what the page asks for, what the server answered) and its output
//! (one row per rule, and the report the API and the dashboard show).

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::evaluate;
use super::syntax::trim_http_whitespace;
use crate::diagnosis::Finding;

/// What the page asks the browser to fetch, as far as CORS cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsRequest {
    /// The page's origin, e.g. `https://shop.example`. Normalised as a browser serialises it
    /// (lowercase, no default port, no path) before use; `null` for opaque origins.
    pub origin: String,
    /// The method as the page's code writes it (`fetch(url, { method })`).
    pub method: String,
    /// Request headers the page sets, as (name, value). Values matter: `Content-Type:
    /// application/json` needs a preflight, `Content-Type: text/plain` does not.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Credentials mode "include" (cookies, HTTP auth, client certificates).
    #[serde(default)]
    pub credentials: bool,
    /// Response headers the page's script reads (e.g. `X-Total-Count` for pagination).
    #[serde(default)]
    pub read_headers: Vec<String>,
}

impl CorsRequest {
    pub fn new(origin: impl Into<String>, method: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            method: method.into(),
            headers: Vec::new(),
            credentials: false,
            read_headers: Vec::new(),
        }
    }

    /// Adds a request header the page sets.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Credentials mode "include".
    pub fn with_credentials(mut self) -> Self {
        self.credentials = true;
        self
    }

    /// Adds a response header the page's script reads.
    pub fn reading(mut self, name: impl Into<String>) -> Self {
        self.read_headers.push(name.into());
        self
    }
}

/// A response as the agent received it, before any CORS filtering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObservedResponse {
    pub status: u16,
    /// Raw (name, value) pairs in received order; a name may repeat.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The response came after following at least one redirect.
    #[serde(default)]
    pub redirected: bool,
}

impl ObservedResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            redirected: false,
        }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_redirect(mut self) -> Self {
        self.redirected = true;
        self
    }

    /// Every value of `name` (case-insensitive), trimmed, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_http_whitespace(v))
    }

    /// Fetch's "get": all values joined by `, `, or `None` when absent. Two
    /// `Access-Control-Allow-Origin` headers therefore read as `a, b`, which matches nothing.
    pub fn get(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self.values(name).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// Which exchange a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CorsStage {
    /// What the page asks for, before anything is sent.
    Request,
    /// The `OPTIONS` preflight response.
    Preflight,
    /// The response to the actual request.
    Actual,
}

impl CorsStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Preflight => "preflight",
            Self::Actual => "actual",
        }
    }
}

impl fmt::Display for CorsStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one rule. Named `CorsVerdict` so that OpenAPI schema names stay unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CorsVerdict {
    Pass,
    /// The browser blocks the request (or hides the response) because of this rule.
    Fail,
    /// Allowed, but fragile or costly (caching, missing `Vary`, an unexposed header).
    Warn,
    /// The rule does not apply to this request, or an earlier failure makes it moot.
    NotApplicable,
}

/// One rule's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsCheck {
    pub stage: CorsStage,
    /// Stable id: `preflight_ok_status`, `acao_present`, `acao_single_value`,
    /// `credentials_no_wildcard`, `acao_matches_origin`, `acac_true`, `method_allowed`,
    /// `headers_allowed`, `max_age`, `redirect`, `vary_origin`, `expose_headers`,
    /// `request_sendable`, `preflight_needed`.
    pub rule: String,
    pub verdict: CorsVerdict,
    /// Plain language, quoting the actual header values.
    pub detail: String,
    /// The response header that fixes this rule, e.g.
    /// `Access-Control-Allow-Origin: https://shop.example`.
    pub header_to_add: Option<String>,
}

/// Everything [`evaluate`] concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsReport {
    /// The origin as the browser sends it.
    pub origin: String,
    /// The method as the browser sends it.
    pub method: String,
    pub preflight_needed: bool,
    /// The preflight's headers (empty when none is needed).
    pub preflight_request_headers: Vec<(String, String)>,
    /// In browser order: request, preflight, actual.
    pub checks: Vec<CorsCheck>,
    /// The page can read the response: no check failed and every response the browser needs
    /// was observed.
    pub allowed: bool,
    /// Index in `checks` of the rule the browser stops at.
    pub first_failure: Option<usize>,
    /// Responses the browser needs that were not observed.
    pub missing: Vec<CorsStage>,
    /// A 5xx (typically a proxy's error page) is what really fails; the browser calls it CORS.
    pub proxy_error_page: bool,
    pub finding: Finding,
}
