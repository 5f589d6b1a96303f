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
    #[cfg_attr(feature = "openapi", schema(max_items = 200))]
    pub headers: Vec<(String, String)>,
    /// `cors` (the default) or `no-cors`, as `fetch(url, { mode })`; `<img>` and `<script>`
    /// without a `crossorigin` attribute send `no-cors` requests.
    #[serde(default)]
    pub mode: RequestMode,
    /// `omit`, `same-origin` (fetch's default) or `include` (cookies, HTTP auth, client
    /// certificates). `true` and `false` are read as `include` and `same-origin`.
    #[serde(default)]
    pub credentials: Credentials,
    /// Response headers the page's script reads (e.g. `X-Total-Count` for pagination).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 200))]
    pub read_headers: Vec<String>,
}

impl CorsRequest {
    pub fn new(origin: impl Into<String>, method: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            method: method.into(),
            headers: Vec::new(),
            mode: RequestMode::Cors,
            credentials: Credentials::SameOrigin,
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
        self.credentials = Credentials::Include;
        self
    }

    /// Credentials mode `mode`.
    pub fn credentials(mut self, mode: Credentials) -> Self {
        self.credentials = mode;
        self
    }

    /// Request mode `no-cors`.
    pub fn no_cors(mut self) -> Self {
        self.mode = RequestMode::NoCors;
        self
    }

    /// Adds a response header the page's script reads.
    pub fn reading(mut self, name: impl Into<String>) -> Self {
        self.read_headers.push(name.into());
        self
    }
}

/// Fetch's request mode, as far as a page chooses it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RequestMode {
    /// The page reads the response, so the server must allow its origin.
    #[default]
    Cors,
    /// The page only sends: no preflight, only a few headers, and an opaque response.
    NoCors,
}

impl RequestMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cors => "cors",
            Self::NoCors => "no-cors",
        }
    }
}

/// Fetch's credentials mode: when cookies, HTTP authentication and client certificates go
/// with the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Credentials {
    /// Never.
    Omit,
    /// Only to the page's own origin: a cross-origin request carries none (fetch's default).
    #[default]
    SameOrigin,
    /// Always, also cross-origin; the server must then name the origin and allow credentials.
    Include,
}

impl Credentials {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Omit => "omit",
            Self::SameOrigin => "same-origin",
            Self::Include => "include",
        }
    }

    /// Whether a cross-origin request carries credentials.
    pub fn cross_origin(self) -> bool {
        self == Self::Include
    }
}

/// Reads the three names, and the booleans stored before the modes existed (`true` was
/// "include"; `false`, no credentials cross-origin, is what `same-origin` does).
impl<'de> Deserialize<'de> for Credentials {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Flag(true) => Ok(Self::Include),
            Raw::Flag(false) => Ok(Self::SameOrigin),
            Raw::Name(n) => match n.as_str() {
                "omit" => Ok(Self::Omit),
                "same-origin" => Ok(Self::SameOrigin),
                "include" => Ok(Self::Include),
                other => Err(serde::de::Error::custom(format!(
                    "unknown credentials mode `{other}`: use `omit`, `same-origin` or `include`"
                ))),
            },
        }
    }
}

/// A response as the agent received it, before any CORS filtering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObservedResponse {
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 599))]
    pub status: u16,
    /// Raw (name, value) pairs in received order; a name may repeat.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 200))]
    pub headers: Vec<(String, String)>,
    /// The response came after following at least one redirect.
    #[serde(default)]
    pub redirected: bool,
    /// A redirect on the way left a cross-origin URL for yet another origin, so the browser
    /// sent `Origin: null` from there on (Fetch's tainted origin).
    #[serde(default)]
    pub tainted_origin: bool,
}

impl ObservedResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            redirected: false,
            tainted_origin: false,
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
    /// `request_sendable`, `preflight_needed`, `no_cors_headers`, `opaque_response`.
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
    pub mode: RequestMode,
    pub credentials: Credentials,
    /// What current Chromium does: for `cors`, the page can read the response (no check
    /// failed and every response the browser needs was observed); for `no-cors`, the request
    /// is sent and `fetch` resolves, with an opaque response the page cannot read.
    pub allowed: bool,
    /// What the Fetch standard says. It differs from `allowed` only where shipping browsers
    /// depart from the standard; `divergences` says where and how.
    pub standard_allowed: bool,
    /// The known differences between the standard and browsers that decide this request
    /// (docs/cors.md keeps the table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divergences: Vec<CorsDivergence>,
    /// Index in `checks` of the rule the browser stops at.
    pub first_failure: Option<usize>,
    /// Responses the browser needs that were not observed.
    pub missing: Vec<CorsStage>,
    /// A 5xx (typically a proxy's error page) is what really fails; the browser calls it CORS.
    pub proxy_error_page: bool,
    pub finding: Finding,
}

/// Where the browsers people use depart from the Fetch standard on this request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsDivergence {
    /// Stable id, e.g. `acah_wildcard_authorization`.
    pub id: String,
    /// The rule ([`CorsCheck::rule`]) it changes.
    pub rule: String,
    /// What the Fetch standard does here.
    pub standard: String,
    /// What shipping Chromium does (and so Chrome, Edge, Opera, Android's WebView).
    pub chromium: String,
    pub firefox: String,
    pub safari: String,
    /// A server change after which every browser and the standard agree.
    pub fix: String,
    /// Where each claim comes from.
    pub sources: Vec<String>,
}
