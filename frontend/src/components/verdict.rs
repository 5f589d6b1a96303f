//! Reachability verdict badges: one word and a tone per `ReachVerdict`, the same for the
//! agent and for browsers, so columns compare at a glance.

use leptos::prelude::*;
use vantage_shared::probe::ReachVerdict;

/// The words shown for a verdict. `browser`: a browser cannot tell a refused connection
/// from a failed name lookup or TLS handshake, so its `refused` reads "network error".
pub fn verdict_label(v: ReachVerdict, browser: bool) -> &'static str {
    match v {
        ReachVerdict::Reachable => "reachable",
        ReachVerdict::HttpError => "HTTP error",
        ReachVerdict::CorsBlocked => "CORS blocked",
        ReachVerdict::DnsFailed => "DNS failed",
        ReachVerdict::TimedOut => "timed out",
        ReachVerdict::Refused if browser => "network error",
        ReachVerdict::Refused => "refused",
        ReachVerdict::TlsFailed => "TLS failed",
        ReachVerdict::FailedBeforeHttp => "failed before HTTP",
        ReachVerdict::NotAttempted => "not attempted",
        ReachVerdict::Unknown => "unknown",
    }
}

/// `good`, `warn`, `bad`, `info` or `neutral`: the badge colour and glyph (CSS).
pub fn verdict_tone(v: ReachVerdict) -> &'static str {
    match v {
        ReachVerdict::Reachable => "good",
        ReachVerdict::HttpError | ReachVerdict::CorsBlocked => "warn",
        ReachVerdict::DnsFailed
        | ReachVerdict::TimedOut
        | ReachVerdict::Refused
        | ReachVerdict::TlsFailed
        | ReachVerdict::FailedBeforeHttp => "bad",
        ReachVerdict::NotAttempted => "info",
        ReachVerdict::Unknown => "neutral",
    }
}

/// A verdict badge. Test ids and data attributes go on the element around it.
#[component]
pub fn ReachBadge(
    verdict: ReachVerdict,
    #[prop(optional)] browser: bool,
    /// Replaces the label, e.g. "not probed yet".
    #[prop(default = None)]
    text: Option<&'static str>,
) -> impl IntoView {
    view! {
        <span class=format!("badge reach reach-{}", verdict_tone(verdict))>
            {text.unwrap_or_else(|| verdict_label(verdict, browser))}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_words_and_tones() {
        assert_eq!(verdict_label(ReachVerdict::Refused, false), "refused");
        assert_eq!(verdict_label(ReachVerdict::Refused, true), "network error");
        assert_eq!(
            verdict_label(ReachVerdict::CorsBlocked, true),
            "CORS blocked"
        );
        assert_eq!(verdict_tone(ReachVerdict::Reachable), "good");
        assert_eq!(verdict_tone(ReachVerdict::CorsBlocked), "warn");
        assert_eq!(verdict_tone(ReachVerdict::TimedOut), "bad");
        assert_eq!(verdict_tone(ReachVerdict::NotAttempted), "info");
    }
}
