//! App-wide state shared through context: the access token, the refresh version that
//! live events bump, and what the agent last said about Docker and the event stream.

use leptos::prelude::*;
use vantage_shared::DockerStatus;

use crate::api::ApiError;

/// localStorage key of the agent's access token.
pub const TOKEN_KEY: &str = "vantage.token";
/// localStorage key of this browser's random device id (the only thing the phone page stores).
pub const DEVICE_KEY: &str = "vantage.device";

/// The access token and whether the agent has rejected it.
#[derive(Clone, Copy)]
pub struct Session {
    token: RwSignal<Option<String>>,
    /// Set when any call answers 401: the app then asks for a new token.
    rejected: RwSignal<bool>,
}

impl Session {
    /// The token for a request (tracked, so resources refetch when it changes).
    pub fn token(&self) -> String {
        self.token.get().unwrap_or_default()
    }

    /// Whether the app can talk to the agent, or must ask for a token first.
    pub fn needs_token(&self) -> bool {
        self.token.with(|t| t.as_deref().is_none_or(str::is_empty)) || self.rejected.get()
    }

    /// [`Self::token`] for code outside the reactive graph (the event-stream loop).
    pub fn token_untracked(&self) -> String {
        self.token.get_untracked().unwrap_or_default()
    }

    /// [`Self::needs_token`] without subscribing.
    pub fn needs_token_untracked(&self) -> bool {
        self.token
            .with_untracked(|t| t.as_deref().is_none_or(str::is_empty))
            || self.rejected.get_untracked()
    }

    /// Whether the last token was refused (as opposed to never given).
    pub fn was_rejected(&self) -> bool {
        self.rejected.get()
    }

    /// Passes a result through, noting a 401 so the token screen appears.
    pub fn check<T>(&self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        if matches!(result, Err(ApiError::Unauthorized)) {
            self.rejected.set(true);
        }
        result
    }

    /// Stores a token typed or pasted by the user.
    pub fn set_token(&self, token: String) {
        let token = token.trim().to_owned();
        store_token(Some(&token));
        self.token.set(Some(token));
        self.rejected.set(false);
    }

    /// Forgets the stored token (e.g. on a shared computer).
    pub fn forget(&self) {
        store_token(None);
        self.token.set(None);
        self.rejected.set(false);
    }
}

/// Version numbers that live events bump; every page resource tracks one of them.
///
/// Several, so that the reachability page does not refetch its (large) comparison on every
/// healthcheck run of a busy host, nor the Docker pages on every device report, nor the
/// firewall page its (possibly megabytes of) rules on either.
#[derive(Clone, Copy)]
pub struct Refresh {
    docker: RwSignal<u64>,
    reach: RwSignal<u64>,
    rules: RwSignal<u64>,
    gpu: RwSignal<u64>,
    /// The latest progress of a running GPU benchmark, straight from the event stream.
    pub gpu_progress: RwSignal<Option<vantage_shared::gpu::GpuBenchProgress>>,
}

impl Refresh {
    fn new() -> Self {
        Self {
            docker: RwSignal::new(0),
            reach: RwSignal::new(0),
            rules: RwSignal::new(0),
            gpu: RwSignal::new(0),
            gpu_progress: RwSignal::new(None),
        }
    }

    /// Subscribes the current resource or effect to Docker-side refreshes.
    pub fn track(&self) {
        self.docker.track();
    }

    /// Subscribes the current resource or effect to reachability refreshes
    /// (targets, agent probes, device reports).
    pub fn track_reach(&self) {
        self.reach.track();
    }

    /// Subscribes the current resource to changes of the loaded firewall rules.
    pub fn track_rules(&self) {
        self.rules.track();
    }

    /// Subscribes the current resource to GPU benchmark runs finishing.
    pub fn track_gpu(&self) {
        self.gpu.track();
    }

    /// Asks every page to refetch (a retry button, a reconnected event stream).
    pub fn bump(&self) {
        self.bump_docker();
        self.bump_reach();
        self.bump_rules();
        self.bump_gpu();
    }

    /// A GPU benchmark run started or ended.
    pub fn bump_gpu(&self) {
        self.gpu.update(|v| *v = v.wrapping_add(1));
    }

    /// Rules files were loaded or removed.
    pub fn bump_rules(&self) {
        self.rules.update(|v| *v = v.wrapping_add(1));
    }

    /// Docker or healthcheck state changed.
    pub fn bump_docker(&self) {
        self.docker.update(|v| *v = v.wrapping_add(1));
    }

    /// A target, an agent probe or a device report changed.
    pub fn bump_reach(&self) {
        self.reach.update(|v| *v = v.wrapping_add(1));
    }
}

/// The state of the live event stream, for the indicator in the nav bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveState {
    Connecting,
    Live,
    /// Disconnected; the next attempt is in this many seconds.
    Offline {
        retry_in_s: u32,
    },
}

/// What the agent last told us about itself.
#[derive(Clone, Copy)]
pub struct AgentStatus {
    /// From the overview or a `docker` event; `None` until either arrives.
    pub docker: RwSignal<Option<DockerStatus>>,
    pub live: RwSignal<LiveState>,
}

/// Creates and provides all shared state; called once by the app root.
pub fn provide_state() {
    let from_url = take_token_from_url();
    if from_url.is_some() {
        // A dashboard link with a token is for the agent serving it.
        crate::agents::choose(None);
    }
    let chosen = crate::agents::chosen();
    if let Some(agent) = &chosen {
        crate::api::set_base(&agent.url);
    }
    let token = RwSignal::new(match chosen {
        Some(agent) => Some(agent.token).filter(|t| !t.is_empty()),
        None => from_url.or_else(load_token),
    });
    provide_context(Session {
        token,
        rejected: RwSignal::new(false),
    });
    provide_context(Refresh::new());
    provide_context(AgentStatus {
        docker: RwSignal::new(None),
        live: RwSignal::new(LiveState::Connecting),
    });
}

// The helpers fall back to fresh signals rather than panicking: every view is under
// the app root, so the fallback only matters in isolated component tests.

pub fn use_session() -> Session {
    use_context().unwrap_or_else(|| Session {
        token: RwSignal::new(None),
        rejected: RwSignal::new(false),
    })
}

pub fn use_refresh() -> Refresh {
    use_context().unwrap_or_else(Refresh::new)
}

pub fn use_agent_status() -> AgentStatus {
    use_context().unwrap_or_else(|| AgentStatus {
        docker: RwSignal::new(None),
        live: RwSignal::new(LiveState::Connecting),
    })
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The token of the agent serving the page, whichever agent is chosen (the Fleet page
/// asks that agent why another cannot be reached).
pub fn home_token() -> String {
    load_token().unwrap_or_default()
}

fn load_token() -> Option<String> {
    storage()?
        .get_item(TOKEN_KEY)
        .ok()
        .flatten()
        .filter(|t| !t.is_empty())
}

fn store_token(token: Option<&str>) {
    if crate::agents::chosen().is_some() {
        // The token screen while another agent is chosen: that agent's token.
        crate::agents::set_chosen_token(token);
        return;
    }
    if let Some(s) = storage() {
        // A failed write (private mode, quota) only costs a re-paste next visit.
        let _ = match token {
            Some(t) => s.set_item(TOKEN_KEY, t),
            None => s.remove_item(TOKEN_KEY),
        };
    }
}

/// This browser's device id: random, kept in localStorage so that one phone stays one
/// column across runs. Not a secret (it only groups reports), so `Math.random` is enough;
/// `crypto.randomUUID` would not do, as it is missing outside secure contexts (a phone
/// opening `http://203.0.113.5:7070`).
pub fn device_id() -> String {
    let stored = storage()
        .and_then(|s| s.get_item(DEVICE_KEY).ok().flatten())
        .filter(|id| is_device_id(id));
    if let Some(id) = stored {
        return id;
    }
    let id: String = (0..4)
        .map(|_| {
            // 32 random bits per chunk; f64 holds them exactly.
            let n = (js_sys::Math::random() * 4_294_967_296.0) as u32;
            format!("{n:08x}")
        })
        .collect();
    if let Some(s) = storage() {
        // Without storage (private mode) each run is a new device; the report still works.
        let _ = s.set_item(DEVICE_KEY, &id);
    }
    id
}

/// Accepts what [`device_id`] writes, so a tampered value is replaced, not sent.
pub fn is_device_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Moves `?token=…` from the address bar into localStorage, so the token is not left
/// in the history, bookmarks or screenshots.
fn take_token_from_url() -> Option<String> {
    let window = web_sys::window()?;
    let location = window.location();
    let search = location.search().ok()?;
    let (token, rest) = split_token(&search);
    let token = token.filter(|t| !t.is_empty())?;
    store_token(Some(&token));
    let path = location.pathname().unwrap_or_else(|_| "/".to_owned());
    let hash = location.hash().unwrap_or_default();
    if let Ok(history) = window.history() {
        let url = format!("{path}{rest}{hash}");
        // Failing to clean the URL is cosmetic; the token still works.
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
    Some(token)
}

/// Splits a query string (`?a=1&token=x`) into the token and the query without it
/// (`?a=1`, or `""` when nothing is left). Percent-decodes the token.
pub fn split_token(search: &str) -> (Option<String>, String) {
    let query = search.strip_prefix('?').unwrap_or(search);
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("token", v)) => token = Some(percent_decode(v)),
            _ if pair == "token" => token = Some(String::new()),
            _ => rest.push(pair),
        }
    }
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!("?{}", rest.join("&"))
    };
    (token, rest)
}

/// Minimal `application/x-www-form-urlencoded` decoding (tokens are URL-safe anyway).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_32_hex_digits() {
        assert!(is_device_id("0123456789abcdef0123456789abcdef"));
        assert!(!is_device_id("0123456789abcdef"));
        assert!(!is_device_id("0123456789abcdef0123456789abcdeg"));
        assert!(!is_device_id(""));
    }

    #[test]
    fn token_is_split_from_the_query() {
        assert_eq!(
            split_token("?token=abc"),
            (Some("abc".into()), String::new())
        );
        assert_eq!(
            split_token("?a=1&token=abc&b=2"),
            (Some("abc".into()), "?a=1&b=2".into())
        );
        assert_eq!(
            split_token("?from=web&to=db"),
            (None, "?from=web&to=db".into())
        );
        assert_eq!(split_token(""), (None, String::new()));
        assert_eq!(
            split_token("?token=a%2Bb"),
            (Some("a+b".into()), String::new())
        );
        assert_eq!(
            split_token("?token=ab%"),
            (Some("ab%".into()), String::new())
        );
    }
}
