//! `/notifications`: where alerts go and how their delivery went. Channels come from the
//! agent's config file or are added here (`form.rs`); the agent keeps their
//! secrets and shows only where they send. Each can be sent a test; the delivery log lists
//! every notification with its status and attempts, refreshed while the page is open
//! (retries happen on the agent's clock, not on events).

mod form;

use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::alerts::{ChannelInfo, Delivery, NotificationsOverview};

use super::Live;
use crate::api;
use crate::components::loaded::Loaded;
use crate::components::status::{error_text, Empty};
use crate::format::{date_time, interval_label};
use crate::state::{use_refresh, use_session};

/// How often the open page re-reads the log: retries are 10 s apart at first.
const POLL_MS: u32 = 5_000;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let tick = RwSignal::new(0u32);
    if let Ok(handle) = set_interval_with_handle(
        move || tick.update(|t| *t = t.wrapping_add(1)),
        std::time::Duration::from_millis(u64::from(POLL_MS)),
    ) {
        on_cleanup(move || handle.clear());
    }
    let overview = Live::new(move || {
        refresh.track();
        tick.track();
        let token = session.token();
        async move { session.check(api::notifications(&token).await) }
    });
    view! {
        <h1>"Notifications"</h1>
        <Loaded outcome=overview.outcome() what="the notification settings">
            {move || overview.data().get().map(|o| view! { <Body o tick /> })}
        </Loaded>
    }
}

#[component]
fn Body(o: NotificationsOverview, tick: RwSignal<u32>) -> impl IntoView {
    let policy = format!(
        "An alert goes out after {} failed checks in a row and a recovery after {} good ones; {}. A notification is retried with backoff (10 s, doubling, at most 30 min apart) and given up after {} attempts.",
        o.failures,
        o.successes,
        o.remind_every_seconds
            .map_or_else(|| "no reminders".to_owned(), |s| format!("a reminder every {} while it stays down", interval_label(u32::try_from(s).unwrap_or(u32::MAX)))),
        o.max_attempts
    );
    let muted =
        (!o.mute.is_empty()).then(|| view! { <p class="muted">"Muted: " {o.mute.join(", ")}</p> });
    let channels = if o.channels.is_empty() {
        view! {
            <Empty title="No notification channels." testid="no-channels">
                <p>"Add one below, or in the agent's config file (see docs/notifications.md), for example:"</p>
                <pre class="config-example">"[[notifications]]\nname = \"ops\"\nkind = \"slack\"   # webhook, slack, discord, ntfy or email\nurl = \"https://hooks.slack.com/services/…\""</pre>
            </Empty>
        }
        .into_any()
    } else {
        view! {
            <ul class="channels" data-testid="channels">
                {o.channels.into_iter().map(|c| view! { <ChannelRow c tick /> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <p class="muted" data-testid="alert-policy">{policy}</p>
        {muted}
        <section aria-labelledby="channels-title">
            <h2 id="channels-title">"Channels"</h2>
            {channels}
            <form::ChannelForm tick />
        </section>
        <section aria-labelledby="log-title">
            <h2 id="log-title">"Delivery log"</h2>
            <DeliveryLog deliveries=o.deliveries />
        </section>
    }
}

#[component]
fn ChannelRow(c: ChannelInfo, tick: RwSignal<u32>) -> impl IntoView {
    let session = use_session();
    let state = RwSignal::new(None::<Result<(), String>>);
    let sending = RwSignal::new(false);
    let name = c.name.clone();
    let send = move |_| {
        let name = name.clone();
        sending.set(true);
        spawn_local(async move {
            let token = session.token_untracked();
            let r = session.check(api::test_notification(&token, &name).await);
            state.set(Some(r.map_err(|e| error_text(&e))));
            sending.set(false);
            // The log shows the delivery as soon as it is queued.
            tick.update(|t| *t = t.wrapping_add(1));
        });
    };
    let events = if c.events.is_empty() {
        "all events".to_owned()
    } else {
        c.events.join(", ")
    };
    view! {
        <li class="channel" data-testid="channel" data-name=c.name.clone()>
            <div class="channel-head">
                <strong>{c.name.clone()}</strong>
                <span class="badge">{c.kind.clone()}</span>
                {(c.source == "config").then(|| view! { <span class="badge" title="From the agent's config file: change it there">"config file"</span> })}
                {c.has_secret.then(|| view! { <span class="badge" title="A signing secret, token or password is set; it is never shown">"secret set"</span> })}
            </div>
            <code class="small">{c.destination.clone()}</code>
            <span class="muted small">" · " {events}</span>
            <div class="channel-actions">
                <button type="button" class="button secondary small-button" data-testid="send-test" disabled=sending on:click=send>
                    {move || if sending.get() { "Queuing…" } else { "Send test" }}
                </button>
                {(c.source == "dashboard").then(|| view! { <DeleteChannel name=c.name.clone() tick /> })}
                {move || state.get().map(|r| match r {
                    Ok(()) => view! { <span class="small" role="status">"Queued: see the log below."</span> }.into_any(),
                    Err(e) => view! { <span class="small field-error" role="alert">{e}</span> }.into_any(),
                })}
            </div>
        </li>
    }
}

/// "Delete…" then "Delete" / "Keep", for a channel added here.
#[component]
fn DeleteChannel(name: String, tick: RwSignal<u32>) -> impl IntoView {
    let session = use_session();
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let remove = move |_| {
        let name = name.clone();
        spawn_local(async move {
            let token = session.token_untracked();
            match session.check(api::delete_channel(&token, &name).await) {
                Ok(()) => tick.update(|t| *t = t.wrapping_add(1)),
                Err(e) => error.set(Some(error_text(&e))),
            }
            confirming.set(false);
        });
    };
    view! {
        <Show
            when=move || confirming.get()
            fallback=move || view! {
                <button type="button" class="button secondary small-button" data-testid="delete-channel" on:click=move |_| confirming.set(true)>"Delete…"</button>
            }
        >
            <span class="confirm" role="group" aria-label="Confirm delete">
                <button type="button" class="button danger small-button" data-testid="confirm-delete-channel" on:click=remove.clone()>"Delete"</button>
                <button type="button" class="button secondary small-button" on:click=move |_| confirming.set(false)>"Keep"</button>
            </span>
        </Show>
        {move || error.get().map(|e| view! { <span class="small field-error" role="alert">{e}</span> })}
    }
}

#[component]
fn DeliveryLog(deliveries: Vec<Delivery>) -> impl IntoView {
    if deliveries.is_empty() {
        return view! {
            <Empty title="Nothing sent yet." testid="no-deliveries">
                <p>"Alerts appear here with every delivery attempt, as do test notifications."</p>
            </Empty>
        }
        .into_any();
    }
    let rows = deliveries
        .into_iter()
        .map(|d| view! { <DeliveryRow d /> })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="deliveries" data-testid="deliveries">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Alert"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn DeliveryRow(d: Delivery) -> impl IntoView {
    let (class, word) = match d.status.as_str() {
        "sent" => ("badge health-healthy", "sent"),
        "failed" => ("badge health-unhealthy", "gave up"),
        _ => ("badge health-starting", "retrying"),
    };
    let detail = match (d.status.as_str(), &d.last_error, d.next_attempt_at) {
        ("sent", _, _) => d
            .sent_at
            .map(|t| format!("at {}", date_time(t)))
            .unwrap_or_default(),
        (_, Some(e), Some(next)) => format!("{e}; next attempt {}", date_time(next)),
        (_, Some(e), None) => e.clone(),
        _ => "queued".to_owned(),
    };
    let attempts = d
        .log
        .iter()
        .map(|a| view! { <li class:bad=!a.ok>{date_time(a.at)} ": " {a.outcome.clone()}</li> })
        .collect_view();
    view! {
        <tr data-testid="delivery" data-status=d.status.clone()>
            <td class="nowrap">{date_time(d.created_at)}</td>
            <td>{d.channel.clone()}</td>
            <td>
                <code class="small">{d.alert.kind.as_str()}</code>
                " "
                {d.alert.title.clone()}
            </td>
            <td>
                <span class=class>{word}</span>
                " "
                <span class="small">{format!("{} attempt{}", d.attempts, if d.attempts == 1 { "" } else { "s" })}</span>
                <div class="small delivery-detail">{detail}</div>
                {(!d.log.is_empty()).then(|| view! {
                    <details class="attempts"><summary class="small">"Attempts"</summary><ol class="small">{attempts}</ol></details>
                })}
            </td>
        </tr>
    }
}
