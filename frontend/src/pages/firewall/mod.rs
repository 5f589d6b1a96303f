//! `/firewall` (docs/incidents.md, "Blocked from the guest Wi-Fi"): load security groups,
//! network ACLs, GCP firewall rules, Azure NSGs and host firewalls; see them as tables; ask
//! "would this source be allowed?" and see the deciding rule highlighted, for one address
//! or every device that reported.

mod ask;
mod load;

use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::rules::{RuleScope, Verdict};
use vantage_shared::{HostFirewallRead, LoadedRules};

use super::Live;
use crate::api;
use crate::components::loaded::Loaded;
use crate::components::rules_table::{RuleMarks, RuleSetTable};
use crate::components::rules_verdict::VerdictPanel;
use crate::components::status::{error_text, Empty};
use crate::format::date_time;
use crate::state::{device_id, use_refresh, use_session};
pub use ask::{every_device, quick_sources, to_question, AskFields, AskForm, EveryDevice};
pub use load::LoadForm;

#[component]
pub fn FirewallPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let rules = Live::new(move || {
        refresh.track_rules();
        let token = session.token();
        async move { session.check(api::rules(&token).await) }
    });
    // Only for the devices' addresses; a failure here just leaves out the quick buttons.
    let comparison = Live::new(move || {
        refresh.track_reach();
        let token = session.token();
        async move { session.check(api::comparison(&token).await) }
    });
    view! {
        <h1>"Firewall rules"</h1>
        <p class="lead">
            "Which rule lets a source in, or keeps it out: load the security groups, network ACLs, firewall rules or NSGs in front of your service and ask about an address, your phone's, or every device that reported."
        </p>
        <Loaded outcome=rules.outcome() what="rules">
            <FirewallBody rules comparison />
        </Loaded>
    }
}

#[component]
fn FirewallBody(
    rules: Live<Vec<LoadedRules>>,
    comparison: Live<vantage_shared::probe::Comparison>,
) -> impl IntoView {
    let files = rules.data();
    let files = Signal::derive(move || files.get().unwrap_or_default());
    let me = device_id();
    let sources = comparison.select(move |c| quick_sources(c, &me));
    let sources = Signal::derive(move || sources.get().unwrap_or_default());
    let fields = RwSignal::new(AskFields::default());
    let verdict = RwSignal::new(None::<Verdict>);
    let marks =
        Signal::derive(move || verdict.with(|v| v.as_ref().map(RuleMarks::of).unwrap_or_default()));
    // A verdict is about the rules and the scope it was asked with: drop it when either
    // changes (a re-read host firewall keeps its id but not its `loaded_at`).
    Effect::new(move |prev: Option<(Vec<(String, i64)>, RuleScope)>| {
        let loaded: Vec<(String, i64)> = files.with(|f| {
            f.iter()
                .map(|f| (f.id.clone(), f.loaded_at.timestamp_millis()))
                .collect()
        });
        let key = (loaded, fields.with(AskFields::scope));
        if prev.as_ref().is_some_and(|p| *p != key) {
            verdict.set(None);
        }
        key
    });
    let device_rows = Memo::new(move |_| {
        let s = sources.get();
        let f = fields.get();
        files.with(|files| every_device(&s, files, &f))
    });
    let has_rules = move || files.with(|f| !f.is_empty());

    view! {
        <div class="two-col firewall-panels">
            <section class="panel" aria-labelledby="ask-title">
                <h2 id="ask-title">"Would this source be allowed?"</h2>
                <Show when=move || !has_rules()>
                    <p class="small muted">"Load rules first (beside this form): without them every answer is “unknown”."</p>
                </Show>
                <AskForm fields verdict sources files />
            </section>
            <section class="panel" aria-labelledby="load-title">
                <h2 id="load-title">"Load rules"</h2>
                <LoadForm />
                <HostFirewall />
            </section>
        </div>
        {move || verdict.get().map(|verdict| view! { <VerdictPanel verdict /> })}
        <Show when=has_rules>
            <EveryDevice rows=device_rows fields />
        </Show>
        <section aria-labelledby="loaded-title" class="loaded-rules">
            <h2 id="loaded-title">"Loaded rules"</h2>
            <Show
                when=has_rules
                fallback=|| {
                    view! {
                        <Empty title="No rules loaded yet.">
                            <p>
                                "Paste or choose the output of " <code>"aws ec2 describe-security-groups"</code> ", "
                                <code>"aws ec2 describe-network-acls"</code> ", "
                                <code>"gcloud compute firewall-rules list --format=json"</code> ", "
                                <code>"az network nsg show"</code> ", " <code>"iptables-save"</code> " or "
                                <code>"nft -j list ruleset"</code>
                                ". It is checked in this browser first; nothing leaves it until you press “Check and load”."
                            </p>
                            <p>"Or list the files in the agent's config: " <code>"rules_files = [\"sgs.json\"]"</code> "."</p>
                        </Empty>
                    }
                }
            >
                <For each=move || files.get() key=|f| (f.id.clone(), f.loaded_at) let:file>
                    <RulesFile file marks />
                </For>
            </Show>
        </section>
    }
}

/// "This host's firewall": the agent runs `iptables-save`, `ip6tables-save` and `nft -j
/// list ruleset` itself (it needs root), and says per command what came of it.
#[component]
fn HostFirewall() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let read = RwSignal::new(None::<HostFirewallRead>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    spawn_local(async move {
        let token = session.token_untracked();
        if let Ok(Some(last)) = session.check(api::host_firewall(&token).await) {
            read.set(Some(last));
        }
    });
    let read_now = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let token = session.token_untracked();
            let result = session.check(api::read_host_firewall(&token).await);
            busy.set(false);
            match result {
                Ok(r) => {
                    read.set(Some(r));
                    refresh.bump_rules();
                    refresh.bump_reach();
                }
                Err(e) => error.set(Some(format!("Reading failed: {}", error_text(&e)))),
            }
        });
    };
    view! {
        <div class="host-read" data-testid="host-firewall">
            <h3>"This host's firewall"</h3>
            <p class="small muted">
                "The agent reads iptables and nftables on the machine it runs on (it needs root). Docker's published ports are followed through its DNAT rules."
            </p>
            <button type="button" class="button secondary" data-testid="read-host" disabled=move || busy.get() on:click=read_now>
                {move || match (busy.get(), read.with(Option::is_some)) {
                    (true, _) => "Reading…",
                    (false, true) => "Read again",
                    (false, false) => "Read this host's firewall",
                }}
            </button>
            {move || error.get().map(|e| view! { <p class="error-box small" role="alert">{e}</p> })}
            {move || read.get().map(|r| {
                let ok = r.loaded.is_some();
                view! {
                    <p class=if ok { "small" } else { "small error-box" } data-testid="host-summary" role="status">
                        {r.summary.clone()}
                    </p>
                    <ul class="small">
                        {r.commands.iter().map(|c| view! {
                            <li class=if c.ok { "" } else { "failed" }>
                                <code>{c.command.clone()}</code> ": " {c.message.clone()}
                            </li>
                        }).collect_view()}
                    </ul>
                }
            })}
        </div>
    }
}

/// One loaded file: its name and source, a remove button for uploads, and its sets.
#[component]
fn RulesFile(file: LoadedRules, marks: Signal<RuleMarks>) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // Uploads, and this host's live rules (which otherwise apply to every question).
    let deletable = file.id.starts_with("db-") || file.id == "host";
    let id = file.id.clone();
    let remove = move || {
        let id = id.clone();
        spawn_local(async move {
            let token = session.token_untracked();
            match session.check(api::delete_rules(&token, &id).await) {
                Ok(()) => {
                    refresh.bump_rules();
                    refresh.bump_reach();
                }
                Err(e) => error.set(Some(format!("Remove failed: {}", error_text(&e)))),
            }
        });
    };
    let remove = StoredValue::new(remove);
    let source = if file.source == "dashboard" {
        "uploaded from the dashboard".to_owned()
    } else if let Some(commands) = file.source.strip_prefix("live: ") {
        format!("read live by the agent ({commands})")
    } else {
        format!("from {} (agent config)", file.source)
    };
    let n_sets = file.sets.len();
    view! {
        <article class="rules-file panel" data-testid="rules-file" data-rules-id=file.id.clone()>
            <header class="rules-file-head">
                <div>
                    <h3>{file.name.clone()}</h3>
                    <p class="muted small">
                        {source} " · " {format!("{n_sets} rule set{}", if n_sets == 1 { "" } else { "s" })} " · loaded "
                        {date_time(file.loaded_at)}
                    </p>
                </div>
                {deletable.then(|| view! {
                    <div class="target-actions">
                        {move || if confirming.get() {
                            view! {
                                <span class="confirm" role="group" aria-label="Confirm remove">
                                    <button type="button" class="button danger small-button" data-testid="confirm-remove-rules"
                                        on:click=move |_| { confirming.set(false); remove.with_value(|r| r()); }>
                                        "Remove"
                                    </button>
                                    <button type="button" class="button secondary small-button" on:click=move |_| confirming.set(false)>
                                        "Keep"
                                    </button>
                                </span>
                            }.into_any()
                        } else {
                            view! {
                                <button type="button" class="button secondary small-button" data-testid="remove-rules"
                                    on:click=move |_| confirming.set(true)>
                                    "Remove…"
                                </button>
                            }.into_any()
                        }}
                    </div>
                })}
            </header>
            {move || error.get().map(|e| view! { <p class="error-box small" role="alert">{e}</p> })}
            {file.sets.into_iter().map(|set| view! { <RuleSetTable set marks /> }).collect_view()}
        </article>
    }
}
