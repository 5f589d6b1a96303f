//! Live updates: the agent's server-sent events, turned into debounced page refreshes.
//!
//! Every event only says "something changed"; pages refetch what they show (Docker pages
//! on Docker events, the reachability page on target, probe and device events). A busy host
//! (50 containers probing every 2 s) sends ~25 events a second, so refreshes are
//! debounced, with a ceiling so that a steady stream cannot postpone them forever.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;
use gloo_timers::callback::Timeout;
use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::AgentEvent;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use crate::api;
use crate::state::{AgentStatus, LiveState, Refresh, Session};

/// Quiet time after the last event before pages refetch.
pub const QUIET_MS: f64 = 300.0;
/// Longest a refresh waits while events keep coming.
pub const MAX_WAIT_MS: f64 = 2000.0;

/// Debounce with a ceiling: fire `quiet` after the last event, but no later than
/// `max_wait` after the first event not yet acted on.
#[derive(Debug, Clone)]
pub struct Debounce {
    quiet_ms: f64,
    max_wait_ms: f64,
    first_pending: Option<f64>,
}

impl Debounce {
    pub fn new(quiet_ms: f64, max_wait_ms: f64) -> Self {
        Self {
            quiet_ms,
            max_wait_ms,
            first_pending: None,
        }
    }

    /// Records an event at `now` (ms) and returns when the refresh should fire.
    pub fn event(&mut self, now: f64) -> f64 {
        let first = *self.first_pending.get_or_insert(now);
        (now + self.quiet_ms).min(first + self.max_wait_ms)
    }

    /// The refresh fired: the next event starts a new window.
    pub fn fired(&mut self) {
        self.first_pending = None;
    }
}

/// Seconds to wait before reconnect attempt `attempt` (1-based): quick at first,
/// then every 30 s so a stopped agent is not hammered.
pub fn backoff_s(attempt: u32) -> u32 {
    const STEPS: [u32; 6] = [1, 2, 5, 10, 20, 30];
    let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    STEPS.get(i).copied().unwrap_or(30)
}

/// Whether an SSE event (by its `event:` name) concerns the reachability page.
pub fn is_reach_event(kind: &str) -> bool {
    api::REACH_EVENTS.contains(&kind)
}

/// Whether an SSE event concerns the firewall page's loaded rules.
pub fn is_rules_event(kind: &str) -> bool {
    api::RULES_EVENTS.contains(&kind)
}

/// Starts the event-stream loop for the life of the page.
pub fn start(session: Session, refresh: Refresh, status: AgentStatus) {
    let debounce = Rc::new(RefCell::new(Debounce::new(QUIET_MS, MAX_WAIT_MS)));
    let timer: Rc<RefCell<Option<Timeout>>> = Rc::new(RefCell::new(None));

    // Which pages the pending refresh is for: (Docker pages, reachability page, firewall page).
    let pending: Rc<Cell<(bool, bool, bool)>> = Rc::new(Cell::new((false, false, false)));

    let on_event: Rc<dyn Fn(String, Option<String>)> =
        Rc::new(move |kind: String, data: Option<String>| {
            // A Docker status change is shown at once, without waiting for a refetch.
            if let Some(Ok(AgentEvent::Docker { status: docker })) =
                data.as_deref().map(serde_json::from_str::<AgentEvent>)
            {
                status.docker.set(Some(docker));
            }
            // GPU benchmark events go to the GPU page at once and touch nothing else.
            if api::GPU_EVENTS.contains(&kind.as_str()) {
                match data.as_deref().map(serde_json::from_str::<AgentEvent>) {
                    Some(Ok(AgentEvent::GpuBenchProgress { progress })) => {
                        refresh.gpu_progress.set(Some(progress));
                    }
                    _ => {
                        refresh.gpu_progress.set(None);
                        refresh.bump_gpu();
                    }
                }
                return;
            }
            let (docker, reach, rules) = pending.get();
            let for_reach = is_reach_event(&kind);
            let for_rules = is_rules_event(&kind);
            pending.set((
                docker || !(for_reach || for_rules),
                reach || for_reach,
                rules || for_rules,
            ));
            let now = js_sys::Date::now();
            let at = debounce.borrow_mut().event(now);
            let delay = (at - now).max(0.0).round() as u32;
            let debounce = Rc::clone(&debounce);
            let pending = Rc::clone(&pending);
            // Replacing the pending timeout drops (cancels) it.
            *timer.borrow_mut() = Some(Timeout::new(delay, move || {
                debounce.borrow_mut().fired();
                let (docker, reach, rules) = pending.replace((false, false, false));
                if docker {
                    refresh.bump_docker();
                }
                if reach {
                    refresh.bump_reach();
                }
                if rules {
                    refresh.bump_rules();
                }
            }));
        });

    spawn_local(async move {
        let mut attempt: u32 = 0;
        let mut ever_connected = false;
        loop {
            if session.needs_token_untracked() {
                status.live.set(LiveState::Offline { retry_in_s: 0 });
                sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            status.live.set(LiveState::Connecting);
            let token = session.token_untracked();
            if let Ok(ticket) = session.check(api::event_ticket(&token).await) {
                if let Ok(source) = api::open_events(&ticket.ticket) {
                    let opened = follow(
                        &source,
                        Rc::clone(&on_event),
                        status,
                        refresh,
                        ever_connected,
                    )
                    .await;
                    if opened {
                        ever_connected = true;
                        attempt = 0;
                    }
                }
            }
            attempt = attempt.saturating_add(1);
            for left in (1..=backoff_s(attempt)).rev() {
                status.live.set(LiveState::Offline { retry_in_s: left });
                sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    });
}

/// Follows one event stream until it fails; returns whether it was ever open.
async fn follow(
    source: &EventSource,
    on_event: Rc<dyn Fn(String, Option<String>)>,
    status: AgentStatus,
    refresh: Refresh,
    reconnect: bool,
) -> bool {
    let opened = Rc::new(Cell::new(false));
    let (tx, rx) = oneshot::channel::<()>();
    let tx = RefCell::new(Some(tx));

    let on_open = {
        let opened = Rc::clone(&opened);
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            opened.set(true);
            status.live.set(LiveState::Live);
            // Events may have been missed while disconnected.
            if reconnect {
                refresh.bump();
            }
        })
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        on_event(e.type_(), e.data().as_string());
    });
    // The ticket is single-use, so the browser's own reconnect cannot succeed:
    // treat any error as the end of this stream and reconnect with a new ticket.
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(());
        }
    });

    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    for name in api::EVENT_NAMES.iter().chain(&["message"]) {
        let _ = source.add_event_listener_with_callback(name, on_message.as_ref().unchecked_ref());
    }

    let _ = rx.await;
    // Close before the closures drop, so the browser never calls a freed closure.
    source.close();
    source.set_onopen(None);
    source.set_onerror(None);
    for name in api::EVENT_NAMES.iter().chain(&["message"]) {
        let _ =
            source.remove_event_listener_with_callback(name, on_message.as_ref().unchecked_ref());
    }
    opened.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_waits_for_quiet() {
        let mut d = Debounce::new(300.0, 2000.0);
        assert_eq!(d.event(0.0), 300.0);
        assert_eq!(d.event(100.0), 400.0);
        d.fired();
        assert_eq!(d.event(1000.0), 1300.0);
    }

    #[test]
    fn debounce_has_a_ceiling_under_a_steady_stream() {
        let mut d = Debounce::new(300.0, 2000.0);
        let mut at = 0.0;
        for i in 0..100 {
            at = d.event(f64::from(i) * 40.0);
        }
        assert_eq!(at, 2000.0);
    }

    #[test]
    fn reach_events_are_told_apart() {
        assert!(is_reach_event("agent_probed"));
        assert!(is_reach_event("device_reported"));
        assert!(is_reach_event("targets_changed"));
        assert!(!is_reach_event("healthcheck_run"));
        assert!(!is_reach_event("message"));
        // Loading rules changes every device's rules verdict in the comparison too.
        assert!(is_reach_event("rules_changed"));
        assert!(is_rules_event("rules_changed"));
        assert!(!is_rules_event("device_reported"));
    }

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(backoff_s(1), 1);
        assert_eq!(backoff_s(3), 5);
        assert_eq!(backoff_s(6), 30);
        assert_eq!(backoff_s(100), 30);
        assert_eq!(backoff_s(0), 1);
    }
}
