//! "Test from another device": a short-lived phone link with its QR code, and the
//! devices that reported through one (docs/incidents.md, "Blocked from the guest Wi-Fi").

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::host::is_loopback_host;
use vantage_shared::probe::{
    NewPhoneLink, PhoneLink, DEFAULT_LINK_TTL_MINUTES, MAX_LINK_TTL_MINUTES,
};

use vantage_shared::page_snippet::{console_snippet, SnippetTarget};
use vantage_shared::phone_link::PHONE_PAGE_PREFIX;

use crate::api;
use crate::check::PageContext;
use crate::components::copy::CopyText;
use crate::components::finding::Snippet;
use crate::components::qr::QrCodeSvg;
use crate::components::status::error_text;
use crate::format::{ago, clock, countdown, date_time, short_user_agent};
use crate::pages::Live;
use crate::state::{use_refresh, use_session};

/// One device that reported, as the panel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSeen {
    pub device_id: String,
    pub client_ip: String,
    pub user_agent: String,
    pub received_at: DateTime<Utc>,
}

/// Whether the address typed for the phone is one no other device can use.
fn base_is_loopback(base: &str) -> bool {
    PageContext::from_origin(base.trim().trim_end_matches('/'))
        .is_some_and(|p| is_loopback_host(&p.host))
}

/// Where the agent listens, in the hint: the advice to listen elsewhere only when it listens
/// on loopback alone; nothing while the agent has not said.
fn listen_hint(loopback_only: Option<bool>, listening_on: Option<&str>) -> Option<String> {
    match (loopback_only, listening_on) {
        (Some(true), Some(at)) => Some(format!(
            "The agent listens on {at}, which only this machine can reach: start it with --listen 0.0.0.0:8787 (or an address the phone can reach) to accept other devices."
        )),
        (Some(false), Some(at)) => Some(format!("The agent listens on {at}.")),
        _ => None,
    }
}

/// Checks the TTL field: whole minutes, 1 to [`MAX_LINK_TTL_MINUTES`].
pub fn parse_ttl(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(m) if (1..=MAX_LINK_TTL_MINUTES).contains(&m) => Ok(m),
        _ => Err(format!(
            "the lifetime must be 1 to {MAX_LINK_TTL_MINUTES} minutes"
        )),
    }
}

/// Checks the base URL field: an `http://` or `https://` origin the phone will open.
pub fn parse_base_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    if PageContext::from_origin(s).is_none()
        || s.split("://").nth(1).is_some_and(|r| r.contains('/'))
    {
        return Err(format!(
            "`{s}` is not an address like http://203.0.113.5:8787"
        ));
    }
    Ok(s.to_owned())
}

/// The active links, newest first: expired ones dropped, and the one this page just
/// created merged in even before the list refetches.
fn active_links(
    mut all: Vec<PhoneLink>,
    created: Option<PhoneLink>,
    now: DateTime<Utc>,
) -> Vec<PhoneLink> {
    if let Some(c) = created {
        // The list rebuilds each URL from the address this dashboard was loaded
        // from; the created link carries the address the admin chose for the phone.
        match all.iter_mut().find(|l| l.code == c.code) {
            Some(l) => *l = c,
            None => all.push(c),
        }
    }
    all.retain(|l| l.expires_at > now);
    all.sort_by_key(|l| std::cmp::Reverse(l.created_at));
    all
}

/// The form's fields, checked, as the request that creates a link.
fn new_link_request(ttl: &str, base: &str) -> Result<NewPhoneLink, String> {
    parse_ttl(ttl).and_then(|ttl| {
        parse_base_url(base).map(|base| NewPhoneLink {
            ttl_minutes: Some(ttl),
            ttl_seconds: None,
            base_url: Some(base),
        })
    })
}

#[component]
pub fn PhoneLinkPanel(
    #[prop(into)] devices: Signal<Vec<DeviceSeen>>,
    now: RwSignal<DateTime<Utc>>,
    links: Live<Vec<PhoneLink>>,
    /// Targets with a page origin: the console snippet tests them from that page.
    page_targets: Signal<Vec<SnippetTarget>>,
) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let page = PageContext::current();
    let base = RwSignal::new(page.map(|p| p.origin).unwrap_or_default());
    let loopback = move || base.with(|b| base_is_loopback(b));
    // Where the agent listens, from its overview (once; an older agent does not say).
    let listening = RwSignal::new(None::<(Option<bool>, Option<String>)>);
    spawn_local(async move {
        let token = session.token_untracked();
        if let Ok(o) = api::overview(&token).await {
            listening.set(Some((o.loopback_only(), o.listening_on.clone())));
        }
    });
    let ttl = RwSignal::new(DEFAULT_LINK_TTL_MINUTES.to_string());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Set when this page created a link: shown at once, before the list refetches.
    let created = RwSignal::new(None::<PhoneLink>);

    let list = links.data();
    let active =
        Memo::new(move |_| active_links(list.get().unwrap_or_default(), created.get(), now.get()));
    let newest = Memo::new(move |_| active.with(|a| a.first().cloned()));
    let others = Memo::new(move |_| active.with(|a| a.iter().skip(1).cloned().collect::<Vec<_>>()));

    let on_create = Callback::new(move |()| {
        if busy.get_untracked() {
            return;
        }
        let request = match new_link_request(&ttl.get_untracked(), &base.get_untracked()) {
            Ok(r) => r,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let token = session.token_untracked();
            let result = session.check(api::create_phone_link(&token, &request).await);
            busy.set(false);
            match result {
                Ok(link) => {
                    created.set(Some(link));
                    refresh.bump_reach();
                }
                Err(e) => error.set(Some(error_text(&e))),
            }
        });
    });
    let revoke = Callback::new(move |code: String| {
        spawn_local(async move {
            let token = session.token_untracked();
            match session.check(api::revoke_phone_link(&token, &code).await) {
                Ok(()) => {
                    if created.with_untracked(|c| c.as_ref().is_some_and(|c| c.code == code)) {
                        created.set(None);
                    }
                    refresh.bump_reach();
                }
                Err(e) => error.set(Some(format!("Revoke failed: {}", error_text(&e)))),
            }
        });
    });
    let has_link = Signal::derive(move || newest.with(Option::is_some));

    view! {
        <section class="panel phone-panel" aria-labelledby="phone-title">
            <h2 id="phone-title">"Test from another device"</h2>
            <p>
                "A link that runs the same checks in another browser — a phone on the guest Wi-Fi or on LTE — and sends the results here. It can only list the targets and report; it expires by itself."
            </p>
            <NewestLink newest now revoke />
            <PageSnippet newest page_targets />
            <OtherLinks others revoke />
            <LinkForm base ttl busy has_link on_create />
            <p id="phone-address-hint" class="small muted" data-testid="phone-address-hint">
                "The phone must be able to open this address. A phone on another network (LTE, guest Wi-Fi) needs one it can reach, such as this machine's public IP and the agent's port. "
                {move || listening.with(|l| l.as_ref().and_then(|(lo, at)| listen_hint(*lo, at.as_deref())))}
            </p>
            {move || loopback()
                .then(|| {
                    view! {
                        <p class="note warn" role="note" data-testid="loopback-base">
                            "This address is loopback, which no other device can reach: change it before creating the link."
                        </p>
                    }
                })}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <h3>"Devices that reported"</h3>
            <ReportedDevices devices now />
        </section>
    }
}

/// The newest active link: its QR code, its URL to copy, its countdown and a revoke button.
#[component]
fn NewestLink(
    newest: Memo<Option<PhoneLink>>,
    now: RwSignal<DateTime<Utc>>,
    revoke: Callback<String>,
) -> impl IntoView {
    move || {
        newest.get().map(|link| {
            let code = link.code.clone();
            let expires = link.expires_at;
            view! {
                <div class="phone-link" data-testid="phone-link">
                    <QrCodeSvg text=link.url.clone() label=format!("QR code of {}", link.url) />
                    <div class="phone-link-text">
                        <p class="small muted">"Scan it with the phone's camera, or open:"</p>
                        <CopyText text=link.url.clone() testid="phone-link-url" label="Copy the link" />
                        <p class="small">
                            "Expires in "
                            <strong class="countdown" data-testid="phone-link-countdown">
                                {move || countdown((expires - now.get()).num_milliseconds())}
                            </strong>
                            {format!(" (at {})", clock(expires))}
                        </p>
                        <button
                            type="button"
                            class="button secondary"
                            data-testid="revoke-link"
                            on:click=move |_| revoke.run(code.clone())
                        >
                            "Revoke"
                        </button>
                    </div>
                </div>
            }
        })
    }
}

/// "Test from the page users visit": the console snippet for the newest link, shown when a
/// target names a page origin.
#[component]
fn PageSnippet(
    newest: Memo<Option<PhoneLink>>,
    page_targets: Signal<Vec<SnippetTarget>>,
) -> impl IntoView {
    move || {
        let targets = page_targets.get();
        let link = newest.get()?;
        if targets.is_empty() {
            return None;
        }
        let base = link
            .url
            .split(PHONE_PAGE_PREFIX)
            .next()
            .unwrap_or_default()
            .to_owned();
        let snippet = console_snippet(&base, &link.code, &targets);
        Some(view! {
            <details class="page-snippet small" data-testid="page-snippet">
                <summary>"Test from the page users visit"</summary>
                <p>
                    "The phone page runs on the agent's address, so its CORS check is for that origin. To test from the real page (your shop's), open it in a browser, paste this into the developer console, and press Enter: it runs the same checks from that origin and reports here, as one more device."
                </p>
                <p class="muted">
                    "The agent accepts the report from the targets' page origins only, and only while this link is valid. From an https page the agent must be reachable over https too (browsers block an http request from an https page)."
                </p>
                <Snippet text=snippet language=Some("javascript".to_owned()) />
            </details>
        })
    }
}

/// The other active links, folded away, each with its own revoke button.
#[component]
fn OtherLinks(others: Memo<Vec<PhoneLink>>, revoke: Callback<String>) -> impl IntoView {
    view! {
        <Show when=move || others.with(|o| !o.is_empty())>
            <details class="other-links">
                <summary>{move || match others.with(Vec::len) {
                    1 => "1 more active link".to_owned(),
                    n => format!("{n} more active links"),
                }}</summary>
                <ul>
                    <For each=move || others.get() key=|l| l.code.clone() let:l>
                        {
                            let code = l.code.clone();
                            view! {
                                <li>
                                    <code>{l.url.clone()}</code>
                                    {format!(" until {} ", clock(l.expires_at))}
                                    <button type="button" class="link-button" on:click=move |_| revoke.run(code.clone())>
                                        "Revoke"
                                    </button>
                                </li>
                            }
                        }
                    </For>
                </ul>
            </details>
        </Show>
    }
}

/// The address and lifetime fields and the button that creates a link.
#[component]
fn LinkForm(
    base: RwSignal<String>,
    ttl: RwSignal<String>,
    busy: RwSignal<bool>,
    has_link: Signal<bool>,
    on_create: Callback<()>,
) -> impl IntoView {
    view! {
        <form
            class="phone-form"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                on_create.run(());
            }
        >
            <label class="grow">
                <span>"Address the phone opens"</span>
                <input
                    type="text"
                    inputmode="url"
                    spellcheck="false"
                    autocomplete="off"
                    prop:value=move || base.get()
                    on:input=move |ev| base.set(event_target_value(&ev))
                    aria-describedby="phone-address-hint"
                />
            </label>
            <label>
                <span>"Valid for (minutes)"</span>
                <input
                    type="number"
                    min="1"
                    max=MAX_LINK_TTL_MINUTES.to_string()
                    inputmode="numeric"
                    class="ttl"
                    prop:value=move || ttl.get()
                    on:input=move |ev| ttl.set(event_target_value(&ev))
                />
            </label>
            <button type="submit" class="button" data-testid="create-phone-link" disabled=move || busy.get()>
                {move || {
                    if busy.get() {
                        "Creating…"
                    } else if has_link.get() {
                        "New link"
                    } else {
                        "Create link"
                    }
                }}
            </button>
        </form>
    }
}

/// The devices that reported through a link, newest report as sent, with how long ago.
#[component]
fn ReportedDevices(
    devices: Signal<Vec<DeviceSeen>>,
    now: RwSignal<DateTime<Utc>>,
) -> impl IntoView {
    view! {
        <Show
            when=move || devices.with(|d| !d.is_empty())
            fallback=|| view! { <p class="muted small">"None yet. Results appear here as soon as a device sends them."</p> }
        >
            <ul class="devices" aria-live="polite">
                <For
                    each=move || devices.get()
                    key=|d| (d.device_id.clone(), d.received_at)
                    let:d
                >
                    {
                        let at = d.received_at;
                        view! {
                            <li data-testid="reported-device" data-client-ip=d.client_ip.clone()>
                                <strong>{d.client_ip.clone()}</strong>
                                <span class="small" title=d.user_agent.clone()>{short_user_agent(&d.user_agent)}</span>
                                <time class="muted small" datetime=at.to_rfc3339() title=date_time(at)>
                                    {move || ago(now.get(), at)}
                                </time>
                            </li>
                        }
                    }
                </For>
            </ul>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_advice_follows_the_facts() {
        assert!(base_is_loopback("http://127.0.0.1:8787/"));
        assert!(base_is_loopback("http://localhost:8787"));
        assert!(!base_is_loopback("http://203.0.113.5:8787"));
        let hint = listen_hint(Some(true), Some("127.0.0.1:8787")).unwrap_or_default();
        assert!(hint.contains("--listen 0.0.0.0:8787"), "{hint}");
        assert_eq!(
            listen_hint(Some(false), Some("0.0.0.0:8787")).as_deref(),
            Some("The agent listens on 0.0.0.0:8787.")
        );
        assert_eq!(listen_hint(None, None), None);
    }

    #[test]
    fn link_settings_are_checked() {
        assert_eq!(parse_ttl(" 60 "), Ok(60));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("1441").is_err());
        assert!(parse_ttl("soon").is_err());
        assert_eq!(
            parse_base_url("http://203.0.113.5:8787/"),
            Ok("http://203.0.113.5:8787".into())
        );
        assert_eq!(
            parse_base_url("https://[2001:db8::1]"),
            Ok("https://[2001:db8::1]".into())
        );
        assert!(parse_base_url("203.0.113.5:8787").is_err());
        assert!(parse_base_url("http://x/p/abc").is_err());
    }
}
