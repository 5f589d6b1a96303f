//! What one vantage point observed for one target, in full: the agent's DNS answers, TCP
//! attempts, TLS certificate, HTTP answer, timing, CORS checks and the proxy's own view of its
//! backends, and a browser's two fetches (docs/incidents.md: "Blocked from the guest Wi-Fi",
//! "Proxy says 503, backend says 200", "Two containers that cannot talk", "The 404 that was not
//! a routing error").

use chrono::Utc;
use leptos::prelude::*;
use vantage_shared::browser::{LOCAL_NETWORK_ACCESS, MIXED_CONTENT, MIXED_CONTENT_FIX};
use vantage_shared::fingerprint::Generator;
use vantage_shared::probe::{
    AddressFamily, AgentProbe, BrowserBlock, BrowserCheck, DnsResult, FetchAttempt, FetchOutcome,
    HttpResult, TcpAttempt, TcpOutcome, TlsResult,
};

use super::badges::RichText;
use super::cors_report::CorsSection;
use super::data_table::{Column, DataTable};
use super::proxy_view::ProxySection;
use super::timing_bar::{Phases, TimingBar};
use crate::format::{bytes, coarse, date_time, millis};
use vantage_shared::ownership::owner_label;

/// Every part of an agent probe that is present (a phone link sees a redacted one).
#[component]
pub fn AgentDetail(probe: AgentProbe) -> impl IntoView {
    let nothing = probe.dns.is_none()
        && probe.tcp.is_empty()
        && probe.tls.is_none()
        && probe.http.is_none()
        && probe.cors.is_none();
    view! {
        <div class="probe-detail agent-sections">
            {nothing.then(|| view! { <p class="muted small">"No details recorded."</p> })}
            {probe.dns.map(|d| view! { <DnsSection d /> })}
            {(!probe.tcp.is_empty()).then(|| view! { <TcpSection attempts=probe.tcp /> })}
            {probe.tls.map(|t| view! { <TlsSection t /> })}
            {probe.http.map(|h| view! { <HttpSection h /> })}
            {probe.cors.map(|c| view! { <CorsSection report=c /> })}
            {probe.proxy.map(|obs| view! { <ProxySection obs /> })}
        </div>
    }
}

fn family(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    }
}

fn dns_columns() -> Vec<Column> {
    vec![
        Column::new("Address"),
        Column::new("Family"),
        Column::new("Owner"),
        Column::new("TTL").num(),
    ]
}

#[component]
fn DnsSection(d: DnsResult) -> impl IntoView {
    // Shown only when the name is an alias: a CDN or load balancer is often behind one.
    let chain = d.cname_chain();
    let aliases = (chain.len() > 1).then(|| {
        view! {
            <p class="small cname-chain" data-testid="dns-cnames">
                "CNAME: " <code>{chain.join(" → ")}</code>
            </p>
        }
    });
    view! {
        <section class="detail-section" data-testid="detail-dns">
            <h4>"DNS"</h4>
            <p class="muted small">
                <code>{d.host.clone()}</code> {format!(" via {} · {}", d.resolver, millis(d.elapsed_ms))}
            </p>
            {aliases}
            {(!d.answers.is_empty())
                .then(|| {
                    view! {
                        <DataTable columns=dns_columns() class="detail-table">
                            {d
                                .answers
                                .into_iter()
                                .map(|a| {
                                    view! {
                                        <tr>
                                            <td data-label="Address"><code>{a.address}</code></td>
                                            <td data-label="Family">{family(a.family)}</td>
                                            <td data-label="Owner"><RichText text=owner_label(&a.owner) /></td>
                                            <td data-label="TTL" class="num">
                                                {a.ttl.map(|t| format!("{t} s")).unwrap_or_else(|| "—".into())}
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </DataTable>
                    }
                })}
            {(!d.errors.is_empty())
                .then(|| {
                    view! {
                        <ul class="detail-errors">
                            {d.errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}
                        </ul>
                    }
                })}
        </section>
    }
}

fn tcp_word(o: TcpOutcome) -> (&'static str, &'static str) {
    match o {
        TcpOutcome::Connected => ("connected", "good"),
        TcpOutcome::Refused => ("refused", "bad"),
        TcpOutcome::TimedOut => ("timed out", "bad"),
        TcpOutcome::Unreachable => ("unreachable", "bad"),
        TcpOutcome::Error => ("error", "bad"),
    }
}

fn tcp_columns() -> Vec<Column> {
    vec![
        Column::new("Address"),
        Column::new("Outcome"),
        Column::new("Time").num(),
        Column::new("Error"),
    ]
}

#[component]
fn TcpSection(attempts: Vec<TcpAttempt>) -> impl IntoView {
    view! {
        <section class="detail-section" data-testid="detail-tcp">
            <h4>"TCP connect, per address"</h4>
            <DataTable columns=tcp_columns() class="detail-table">
                {attempts
                    .into_iter()
                    .map(|a| {
                        let (word, tone) = tcp_word(a.outcome);
                        view! {
                            <tr>
                                <td data-label="Address">
                                    <code>{a.address}</code>
                                    " "
                                    <span class="muted small">{family(a.family)}</span>
                                </td>
                                <td data-label="Outcome">
                                    <span class=format!("badge reach reach-{tone}")>{word}</span>
                                </td>
                                <td data-label="Time" class="num">{millis(a.elapsed_ms)}</td>
                                <td data-label="Error" class="small">{a.error.unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </DataTable>
        </section>
    }
}

/// "expires in 23 d 4 h" / "expired 2 d 1 h ago", and whether it is soon or past.
fn expiry(t: &TlsResult) -> Option<(String, bool)> {
    let not_after = t.not_after?;
    let left = (not_after - Utc::now()).num_milliseconds();
    Some(if left < 0 {
        (format!("expired {} ago", coarse(-left)), true)
    } else {
        (
            format!("expires in {}", coarse(left)),
            left < 14 * 86_400_000,
        )
    })
}

#[component]
fn TlsSection(t: TlsResult) -> impl IntoView {
    let exp = expiry(&t);
    let validity = match (t.not_before, t.not_after) {
        (Some(a), Some(b)) => Some(format!("{} → {}", date_time(a), date_time(b))),
        (None, Some(b)) => Some(format!("until {}", date_time(b))),
        _ => None,
    };
    let protocol = [
        t.protocol.clone(),
        t.cipher.clone(),
        t.alpn.clone().map(|a| format!("ALPN {a}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    view! {
        <section class="detail-section" data-testid="detail-tls">
            <h4>"TLS"</h4>
            <dl class="kv">
                <dt>"Handshake"</dt>
                <dd>
                    {if t.ok {
                        view! { <span class="badge reach reach-good">"verified"</span> }.into_any()
                    } else {
                        view! { <span class="badge reach reach-bad">"failed"</span> }.into_any()
                    }}
                    {format!(" {}", millis(t.elapsed_ms))}
                    {t.error.map(|e| view! { <p class="detail-error">{e}</p> })}
                </dd>
                {(!protocol.is_empty()).then(|| view! { <dt>"Protocol"</dt><dd>{protocol}</dd> })}
                <dt>"SNI"</dt>
                <dd>
                    <code>{t.sni}</code>
                    {t.sni_mismatch
                        .then(|| view! { <span class="badge reach reach-bad">"certificate does not name this host"</span> })}
                </dd>
                {t.subject.map(|s| view! { <dt>"Subject"</dt><dd>{s}</dd> })}
                {t.issuer.map(|s| view! { <dt>"Issuer"</dt><dd>{s}</dd> })}
                {(!t.sans.is_empty())
                    .then(|| {
                        view! {
                            <dt>"Names (SANs)"</dt>
                            <dd class="sans">
                                {t.sans.into_iter().map(|s| view! { <code>{s}</code> " " }).collect_view()}
                            </dd>
                        }
                    })}
                {validity
                    .map(|v| {
                        view! {
                            <dt>"Valid"</dt>
                            <dd>
                                {v}
                                {exp
                                    .map(|(text, urgent)| {
                                        view! {
                                            " "
                                            <span class=if urgent { "badge reach reach-bad" } else { "badge" }>{text}</span>
                                        }
                                    })}
                            </dd>
                        }
                    })}
            </dl>
        </section>
    }
}

fn generator_word(g: Generator) -> &'static str {
    match g {
        Generator::FrameworkDefault => "framework default",
        Generator::ProxyErrorPage => "proxy error page",
        Generator::Application => "application",
        Generator::Unknown => "unknown",
    }
}

#[component]
fn HttpSection(h: HttpResult) -> impl IntoView {
    let status_tone = if h.status >= 400 {
        "bad"
    } else if h.status >= 300 {
        "info"
    } else {
        "good"
    };
    let phases = Phases::from(&h.timing);
    let headers = h.headers.clone();
    view! {
        <section class="detail-section wide" data-testid="detail-http">
            <h4>"HTTP"</h4>
            <dl class="kv">
                <dt>"Status"</dt>
                <dd>
                    <span class=format!("badge reach reach-{status_tone}") data-testid="http-status">{h.status}</span>
                    " " <code>{h.url.clone()}</code>
                </dd>
                <dt>"Body"</dt>
                <dd>
                    {bytes(h.body_size)}
                    {h.body_truncated.then_some(" (only the start was read)")}
                </dd>
                <dt>"Generated by"</dt>
                <dd data-testid="fingerprint" data-generator=generator_word(h.fingerprint.generator)>
                    <strong>{h.fingerprint.label.clone()}</strong>
                    <span class="muted small">
                        {format!(" ({})", generator_word(h.fingerprint.generator))}
                    </span>
                    {(!h.fingerprint.evidence.is_empty())
                        .then(|| view! { <p class="muted small">{h.fingerprint.evidence.clone()}</p> })}
                </dd>
            </dl>
            {(!h.body_head.is_empty())
                .then(|| {
                    view! {
                        <p class="small muted">"First bytes of the body"</p>
                        <pre class="body-head" tabindex="0">{h.body_head.clone()}</pre>
                    }
                })}
            <p class="small muted">"Timing"</p>
            <TimingBar phases />
            {(!h.redirects.is_empty())
                .then(|| {
                    view! {
                        <p class="small muted">"Redirects"</p>
                        <ol class="redirects">
                            {h
                                .redirects
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <li>
                                            <span class="badge">{r.status}</span>
                                            " " <code>{r.url}</code> " → " <code>{r.location}</code>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                    }
                })}
            {(!headers.is_empty())
                .then(|| {
                    view! {
                        <details class="headers">
                            <summary>{format!("Response headers ({})", headers.len())}</summary>
                            <pre tabindex="0">
                                {headers
                                    .into_iter()
                                    .map(|(n, v)| format!("{n}: {v}\n"))
                                    .collect::<String>()}
                            </pre>
                        </details>
                    }
                })}
        </section>
    }
}

fn fetch_word(a: &FetchAttempt) -> (&'static str, &'static str) {
    match a.outcome {
        FetchOutcome::Ok => ("answered", "good"),
        FetchOutcome::NetworkError => ("network error", "bad"),
        FetchOutcome::Timeout => ("timed out", "bad"),
        FetchOutcome::Skipped => ("skipped", "neutral"),
    }
}

#[component]
fn Attempt(label: &'static str, a: FetchAttempt) -> impl IntoView {
    let (word, tone) = fetch_word(&a);
    let time = (a.outcome != FetchOutcome::Skipped).then(|| millis(f64::from(a.elapsed_ms)));
    view! {
        <dt>{label}</dt>
        <dd>
            <span class=format!("badge reach reach-{tone}")>{word}</span>
            {a.status.map(|s| format!(" {s}"))}
            {time.map(|t| format!(" in {t}"))}
            {a.error.map(|e| view! { <span class="small muted">{format!(" · {e}")}</span> })}
        </dd>
    }
}

/// A browser's two fetches, what stopped it, and its Resource Timing when exposed.
#[component]
pub fn BrowserDetail(check: BrowserCheck) -> impl IntoView {
    let block = check.blocked_by.map(|b| match b {
        BrowserBlock::MixedContent => {
            format!("Not attempted: {MIXED_CONTENT}. {MIXED_CONTENT_FIX}")
        }
        BrowserBlock::LocalNetworkAccess => format!("Failed: {LOCAL_NETWORK_ACCESS}."),
    });
    view! {
        <div class="probe-detail browser-detail">
            {block.map(|b| view! { <p class="note info">{b}</p> })}
            <dl class="kv">
                <Attempt label="no-cors fetch" a=check.no_cors />
                <Attempt label="cors fetch" a=check.cors />
            </dl>
            {match check.timing {
                Some(t) => view! { <TimingBar phases=Phases::from(&t) /> }.into_any(),
                None => {
                    view! {
                        <p class="muted small">
                            "No timing: the browser only exposes it for the same origin or when the target sends "
                            <code>"Timing-Allow-Origin"</code> "."
                        </p>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}
