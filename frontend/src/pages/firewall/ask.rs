//! "Would this source be allowed?": the question form with one-click sources (each device
//! that reported, this browser), the agent's verdict, and the same question asked for
//! every device that reported.
//!
//! The single question goes to the agent (`POST /api/rules/evaluate`), which evaluates
//! every loaded rule set. The per-device table evaluates here, in the browser, with the
//! same shared function (`vantage_shared::rules::evaluate_refs`) over the same sets
//! (`GET /api/rules`): the same answers without one request per device.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::probe::Comparison;
use vantage_shared::rules::{
    evaluate_refs, summary, DestinationInfo, Protocol, Provider, Question, RuleScope, RuleSet,
    RuleSetKind, Verdict,
};
use vantage_shared::{LoadedRules, RulesQuestion};

use crate::api;
use crate::components::data_table::{Column, DataTable};
use crate::components::rules_verdict::outcome_tone;
use crate::components::status::error_text;
use crate::format::short_user_agent;
use crate::state::use_session;

/// The question as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskFields {
    pub source: String,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    pub port: String,
    /// The rule sets that apply (ids); none ticked means every loaded set.
    pub sets: Vec<String>,
    /// GCP network tags of the instance, comma-separated.
    pub tags: String,
    /// Azure application security groups of the NIC, comma-separated.
    pub asgs: String,
}

impl Default for AskFields {
    fn default() -> Self {
        Self {
            source: String::new(),
            protocol: "tcp".to_owned(),
            port: "443".to_owned(),
            sets: Vec::new(),
            tags: String::new(),
            asgs: String::new(),
        }
    }
}

fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

impl AskFields {
    /// What the form says about the destination, as the shared scope.
    pub fn scope(&self) -> RuleScope {
        let (tags, asgs) = (comma_list(&self.tags), comma_list(&self.asgs));
        RuleScope {
            sets: self.sets.clone(),
            destination: (!tags.is_empty() || !asgs.is_empty()).then(|| DestinationInfo {
                tags,
                application_security_groups: asgs,
                ..DestinationInfo::default()
            }),
        }
    }
}

/// Checks the typed question the way the agent does, giving the request and the
/// equivalent [`Question`] (for evaluating here).
pub fn to_question(f: &AskFields) -> Result<(RulesQuestion, Question), String> {
    let source_text = f.source.trim();
    let source: IpAddr = source_text
        .parse()
        .map_err(|_| format!("`{source_text}` is not an IPv4 or IPv6 address"))?;
    let (protocol, port) = match f.protocol.as_str() {
        "icmp" => (Protocol::Icmp, None),
        p @ ("tcp" | "udp") => {
            let port_text = f.port.trim();
            let port: u16 = port_text
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("port `{port_text}`: give a number from 1 to 65535"))?;
            (
                if p == "udp" {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
                Some(port),
            )
        }
        other => return Err(format!("protocol `{other}`: use tcp, udp or icmp")),
    };
    let scope = f.scope();
    scope.validate()?;
    let mut question = match protocol {
        Protocol::Icmp => Question::ping(source),
        p => Question::new(source, p, port),
    };
    question.destination = scope.destination.clone();
    let request = RulesQuestion {
        source: source.to_string(),
        protocol: Some(f.protocol.clone()),
        port,
        sets: scope.sets,
        destination: scope.destination,
    };
    Ok((request, question))
}

/// A one-click source for the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickSource {
    pub ip: String,
    /// "this browser", or the device's browser and OS ("Safari on iPhone").
    pub label: String,
    pub this_browser: bool,
}

/// Every address a device reported from, newest first, once each; this browser's own
/// report (matched by its device id) first.
pub fn quick_sources(c: &Comparison, this_device: &str) -> Vec<QuickSource> {
    let mut devices: Vec<_> = c.targets.iter().flat_map(|t| &t.devices).collect();
    devices.sort_by_key(|d| std::cmp::Reverse(d.received_at));
    let mut out: Vec<QuickSource> = Vec::new();
    for d in devices {
        if out.iter().any(|q| q.ip == d.client_ip) {
            continue;
        }
        let this_browser = d.device_id == this_device;
        out.push(QuickSource {
            ip: d.client_ip.clone(),
            label: if this_browser {
                "this browser".to_owned()
            } else {
                short_user_agent(&d.user_agent)
            },
            this_browser,
        });
    }
    out.sort_by_key(|q| !q.this_browser);
    out
}

/// The loaded sets the form's scope selects, across files: the agent evaluates the same.
pub fn scoped_sets<'a>(files: &'a [LoadedRules], fields: &AskFields) -> Vec<&'a RuleSet> {
    fields
        .scope()
        .select(files.iter().flat_map(|f| f.sets.iter()))
        .0
}

/// One row of "from every device".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub ip: String,
    pub label: String,
    pub verdict: Verdict,
}

/// The question (protocol and port from the form) asked for every device's address.
pub fn every_device(
    sources: &[QuickSource],
    files: &[LoadedRules],
    fields: &AskFields,
) -> Vec<DeviceRow> {
    let sets = scoped_sets(files, fields);
    sources
        .iter()
        .filter_map(|s| {
            let f = AskFields {
                source: s.ip.clone(),
                ..fields.clone()
            };
            let (_, q) = to_question(&f).ok()?;
            Some(DeviceRow {
                ip: s.ip.clone(),
                label: s.label.clone(),
                verdict: evaluate_refs(&sets, &q),
            })
        })
        .collect()
}

#[component]
pub fn AskForm(
    fields: RwSignal<AskFields>,
    verdict: RwSignal<Option<Verdict>>,
    #[prop(into)] sources: Signal<Vec<QuickSource>>,
    #[prop(into)] files: Signal<Vec<LoadedRules>>,
) -> impl IntoView {
    let session = use_session();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let ask = Callback::new(move |()| {
        if busy.get_untracked() {
            return;
        }
        let (request, _) = match to_question(&fields.get_untracked()) {
            Ok(q) => q,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let token = session.token_untracked();
            let result = session.check(api::evaluate_rules(&token, &request).await);
            busy.set(false);
            match result {
                Ok(v) => verdict.set(Some(v)),
                Err(e) => error.set(Some(error_text(&e))),
            }
        });
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        ask.run(());
    };

    view! {
        <form class="ask-form" data-testid="ask-form" on:submit=on_submit novalidate=true>
            <QuestionFields fields busy error />
            <QuickSources sources fields ask />
            <Show when=move || files.with(|f| !f.is_empty())>
                <ScopeFields fields files />
            </Show>
            {move || error.get().map(|e| view! { <p class="error-box small" role="alert">{e}</p> })}
        </form>
    }
}

/// Source, protocol and port, and the button that asks.
#[component]
fn QuestionFields(
    fields: RwSignal<AskFields>,
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let has_port = move || fields.with(|f| f.protocol != "icmp");
    view! {
        <div class="ask-fields">
            <label class="ask-source">
                <span>"Source IP"</span>
                <input
                    name="source"
                    type="text"
                    inputmode="decimal"
                    placeholder="203.0.113.7"
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=move || error.get().is_some().then_some("true")
                    prop:value=move || fields.with(|f| f.source.clone())
                    on:input=move |ev| fields.update(|f| f.source = event_target_value(&ev))
                />
            </label>
            <label>
                <span>"Protocol"</span>
                <select
                    name="protocol"
                    prop:value=move || fields.with(|f| f.protocol.clone())
                    on:change=move |ev| fields.update(|f| f.protocol = event_target_value(&ev))
                >
                    <option value="tcp">"tcp"</option>
                    <option value="udp">"udp"</option>
                    <option value="icmp">"icmp (ping)"</option>
                </select>
            </label>
            <label class="ask-port">
                <span>"Port"</span>
                <input
                    name="port"
                    type="text"
                    inputmode="numeric"
                    autocomplete="off"
                    disabled=move || !has_port()
                    prop:value=move || fields.with(|f| f.port.clone())
                    on:input=move |ev| fields.update(|f| f.port = event_target_value(&ev))
                />
            </label>
            <button type="submit" class="button" disabled=move || busy.get()>
                {move || if busy.get() { "Asking…" } else { "Ask" }}
            </button>
        </div>
    }
}

/// One button per device that reported, which fills in its address and asks at once; or,
/// before any did, how to get one.
#[component]
fn QuickSources(
    sources: Signal<Vec<QuickSource>>,
    fields: RwSignal<AskFields>,
    ask: Callback<()>,
) -> impl IntoView {
    let quick = move || {
        sources
            .get()
            .into_iter()
            .map(|s| {
                let ip = s.ip.clone();
                view! {
                    <button
                        type="button"
                        class="chip-button"
                        data-testid="quick-source"
                        title=format!("Ask about {}", s.ip)
                        on:click=move |_| {
                            fields.update(|f| f.source = ip.clone());
                            ask.run(());
                        }
                    >
                        <span class="vp-name">{s.ip.clone()}</span>
                        " "
                        <span class="muted small">{s.label.clone()}</span>
                    </button>
                }
            })
            .collect_view()
    };
    view! {
        <Show when=move || sources.with(|s| !s.is_empty())>
            <div class="quick-sources" role="group" aria-label="Devices that reported">
                <span class="small muted">"From a device that reported: "</span>
                {quick}
            </div>
        </Show>
        <Show when=move || sources.with(Vec::is_empty)>
            <p class="small muted">
                "To ask about your phone's address, open a phone link from the "
                <a href="/reach">"Reachability"</a>
                " page on the phone: every device that reports shows up here as a button."
            </p>
        </Show>
    }
}

/// Which comma-separated list of the question a [`ListInput`] edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListField {
    Tags,
    Asgs,
}

impl ListField {
    fn of(self, f: &AskFields) -> &String {
        match self {
            Self::Tags => &f.tags,
            Self::Asgs => &f.asgs,
        }
    }

    fn of_mut(self, f: &mut AskFields) -> &mut String {
        match self {
            Self::Tags => &mut f.tags,
            Self::Asgs => &mut f.asgs,
        }
    }
}

/// A comma-separated list field of the question (GCP tags, Azure ASGs).
#[component]
fn ListInput(
    fields: RwSignal<AskFields>,
    name: &'static str,
    label: &'static str,
    placeholder: &'static str,
    field: ListField,
) -> impl IntoView {
    view! {
        <label>
            <span>{label}</span>
            <input
                name=name
                type="text"
                autocomplete="off"
                spellcheck="false"
                placeholder=placeholder
                prop:value=move || fields.with(|f| field.of(f).clone())
                on:input=move |ev| fields.update(|f| *field.of_mut(f) = event_target_value(&ev))
            />
        </label>
    }
}

fn kind_label(kind: RuleSetKind) -> &'static str {
    match kind {
        RuleSetKind::AwsSecurityGroup => "security group",
        RuleSetKind::AwsNetworkAcl => "network ACL",
        RuleSetKind::GcpFirewall => "GCP firewall",
        RuleSetKind::AzureNsg => "NSG",
        RuleSetKind::HostFirewall => "host firewall",
    }
}

/// A set's entry in the scope list: id, name, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetChoice {
    id: String,
    label: String,
}

/// "Which rules apply": an account export holds every group of every instance, and only
/// the ones attached to this one decide. Ticking none means every loaded set.
#[component]
fn ScopeFields(fields: RwSignal<AskFields>, files: Signal<Vec<LoadedRules>>) -> impl IntoView {
    // Only the ticked ids, so typing a source or a port does not rebuild the list.
    let ticked = Memo::new(move |_| fields.with(|f| f.sets.clone()));
    let choices = Memo::new(move |_| {
        files.with(|files| {
            let mut copies: HashMap<&str, usize> = HashMap::new();
            for set in files.iter().flat_map(|f| f.sets.iter()) {
                *copies.entry(set.id.as_str()).or_default() += 1;
            }
            let mut out: Vec<SetChoice> = Vec::new();
            let mut seen: HashSet<&str> = HashSet::new();
            for set in files.iter().flat_map(|f| f.sets.iter()) {
                if !seen.insert(set.id.as_str()) {
                    continue;
                }
                let mut label = if set.name.is_empty() || set.name == set.id {
                    format!("{} · {}", set.id, kind_label(set.kind))
                } else {
                    format!("{} ({}) · {}", set.id, set.name, kind_label(set.kind))
                };
                // The agent refuses to merge two files' sets under one id: say so up front.
                let n = copies.get(set.id.as_str()).copied().unwrap_or(1);
                if n > 1 {
                    label.push_str(&format!(" · in {n} files: remove one"));
                }
                out.push(SetChoice {
                    id: set.id.clone(),
                    label,
                });
            }
            // A ticked set that was removed stays ticked and says so: silently unticking it
            // would widen the question to every loaded set (the agent answers 400 instead).
            for id in ticked.get() {
                if !out.iter().any(|c| c.id == id) {
                    out.push(SetChoice {
                        label: format!("{id} · not loaded"),
                        id,
                    });
                }
            }
            out
        })
    });
    let has =
        move |p: Provider| files.with(|f| f.iter().flat_map(|f| &f.sets).any(|s| s.provider == p));
    let summary = move || {
        let n = fields.with(|f| f.sets.len());
        if n == 0 {
            "every loaded rule set".to_owned()
        } else {
            format!("{n} of {} rule sets", choices.with(Vec::len))
        }
    };
    view! {
        <details class="scope-fields" data-testid="scope-fields">
            <summary>"Applies to: " <strong data-testid="scope-summary">{summary}</strong></summary>
            <p class="small muted">
                "Tick the security groups attached to the instance (and its subnet's network ACL). An account export holds the groups of every instance: another instance's group must not decide here. None ticked: every loaded set applies."
            </p>
            <fieldset class="scope-sets">
                <legend class="sr-only">"Rule sets that apply"</legend>
                <For each=move || choices.get() key=|c| c.id.clone() let:choice>
                    {
                        let id = choice.id.clone();
                        let id_check = id.clone();
                        view! {
                            <label class="scope-set">
                                <input
                                    type="checkbox"
                                    data-testid="scope-set"
                                    value=id.clone()
                                    prop:checked=move || fields.with(|f| f.sets.contains(&id_check))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let id = id.clone();
                                        fields.update(|f| {
                                            f.sets.retain(|s| *s != id);
                                            if on {
                                                f.sets.push(id);
                                            }
                                        });
                                    }
                                />
                                <code class="small">{choice.label.clone()}</code>
                            </label>
                        }
                    }
                </For>
            </fieldset>
            <Show when=move || has(Provider::Gcp)>
                <ListInput fields name="tags" label="Network tags of the instance (GCP, comma-separated)"
                    placeholder="web, http-server" field=ListField::Tags />
            </Show>
            <Show when=move || has(Provider::Azure)>
                <ListInput fields name="asgs" label="Application security groups of the NIC (Azure, comma-separated)"
                    placeholder="asg-web" field=ListField::Asgs />
            </Show>
        </details>
    }
}

fn device_columns() -> Vec<Column> {
    vec![
        Column::new("Device"),
        Column::new("Rules say"),
        Column::new("Why"),
    ]
}

/// "From every device that reported": the form's protocol and port for each address,
/// evaluated here.
#[component]
pub fn EveryDevice(
    #[prop(into)] rows: Signal<Vec<DeviceRow>>,
    fields: RwSignal<AskFields>,
) -> impl IntoView {
    let traffic = move || {
        fields.with(|f| {
            if f.protocol == "icmp" {
                "icmp (ping)".to_owned()
            } else {
                format!("{}/{}", f.protocol, f.port.trim())
            }
        })
    };
    view! {
        <section class="panel every-device" aria-labelledby="every-device-title">
            <h2 id="every-device-title">"From every device that reported"</h2>
            <p class="small muted">
                "On " <code>{traffic}</code>
                " (the protocol and port above), evaluated in this browser against the same rules."
            </p>
            <Show
                when=move || rows.with(|r| !r.is_empty())
                fallback=|| {
                    view! {
                        <p class="muted small">
                            "No device has reported yet. Send a phone link from the "
                            <a href="/reach">"Reachability"</a>
                            " page, or press “Test from this browser” there."
                        </p>
                    }
                }
            >
                <DataTable columns=device_columns() class="every-device-table">
                    <For each=move || rows.get() key=|r| (r.ip.clone(), r.verdict.outcome, summary(&r.verdict)) let:r>
                        <tr data-testid="every-device-row" data-ip=r.ip.clone() data-outcome=r.verdict.outcome.as_str()>
                            <td data-label="Device">
                                <code>{r.ip.clone()}</code>
                                " "
                                <span class="muted small">{r.label.clone()}</span>
                            </td>
                            <td data-label="Rules say">
                                <span class=format!("badge outcome outcome-{}", outcome_tone(r.verdict.outcome))>
                                    {r.verdict.outcome.as_str()}
                                </span>
                            </td>
                            <td data-label="Why" class="small">{summary(&r.verdict)}</td>
                        </tr>
                    </For>
                </DataTable>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(source: &str, protocol: &str, port: &str) -> AskFields {
        AskFields {
            source: source.into(),
            protocol: protocol.into(),
            port: port.into(),
            ..AskFields::default()
        }
    }

    #[test]
    fn the_scope_goes_into_the_request_and_the_local_question() {
        let f = AskFields {
            sets: vec!["sg-1".into()],
            tags: " web, ,api ".into(),
            ..fields("203.0.113.7", "tcp", "443")
        };
        let (req, q) = to_question(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.sets, ["sg-1"]);
        let tags = req.destination.as_ref().map(|t| t.tags.clone());
        assert_eq!(
            tags.as_deref(),
            Some(&["web".to_owned(), "api".to_owned()][..])
        );
        assert_eq!(q.destination, req.destination);
        // Nothing about the destination: no destination at all (rules selecting one say unknown).
        let (req, _) =
            to_question(&fields("203.0.113.7", "tcp", "443")).unwrap_or_else(|e| panic!("{e}"));
        assert!(req.destination.is_none() && req.sets.is_empty());
    }

    #[test]
    fn questions_are_checked_like_the_agent_does() {
        let (req, q) =
            to_question(&fields(" 203.0.113.7 ", "tcp", "443")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.source, "203.0.113.7");
        assert_eq!(req.port, Some(443));
        assert_eq!(q, Question::tcp([203, 0, 113, 7].into(), 443));
        let (req, q) =
            to_question(&fields("2001:db8::1", "icmp", "")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.port, None);
        assert_eq!(q.icmp_type, Some(128));
        assert!(to_question(&fields("phone", "tcp", "443")).is_err());
        assert!(to_question(&fields("10.0.0.1", "tcp", "0")).is_err());
        assert!(to_question(&fields("10.0.0.1", "udp", "")).is_err());
        assert!(to_question(&fields("10.0.0.1", "sctp", "1")).is_err());
    }

    #[test]
    fn every_device_without_rules_is_unknown() {
        let sources = vec![QuickSource {
            ip: "203.0.113.7".into(),
            label: "this browser".into(),
            this_browser: true,
        }];
        let rows = every_device(&sources, &[], &AskFields::default());
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].verdict.outcome,
            vantage_shared::rules::Outcome::Unknown
        );
    }
}
