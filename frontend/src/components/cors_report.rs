//! A CORS report: the request as the browser sends it, whether a page can read the answer
//! (in Chromium, and under the Fetch standard where they differ, with every browser's
//! behaviour), and each rule in browser order with the header that fixes it. Used by the
//! probe detail and by the offline CORS page.

use leptos::prelude::*;
use vantage_shared::cors::{CorsCheck, CorsDivergence, CorsReport, CorsVerdict, RequestMode};

use super::badges::RichText;
use super::copy::CopyText;
use super::data_table::{Column, DataTable};

fn cors_word(v: CorsVerdict) -> (&'static str, &'static str) {
    match v {
        CorsVerdict::Pass => ("pass", "good"),
        CorsVerdict::Fail => ("fail", "bad"),
        CorsVerdict::Warn => ("warn", "warn"),
        CorsVerdict::NotApplicable => ("n/a", "neutral"),
    }
}

fn cors_columns() -> Vec<Column> {
    vec![
        Column::new("Stage"),
        Column::new("Rule"),
        Column::new("Verdict"),
        Column::new("Detail"),
    ]
}

fn yes_no(yes: bool, yes_word: &'static str, no_word: &'static str) -> impl IntoView {
    if yes {
        view! { <span class="badge reach reach-good">{yes_word}</span> }.into_any()
    } else {
        view! { <span class="badge reach reach-bad">{no_word}</span> }.into_any()
    }
}

#[component]
pub fn CorsSection(report: CorsReport) -> impl IntoView {
    let c = report;
    let first = c.first_failure;
    let missing = c
        .missing
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let no_cors = c.mode == RequestMode::NoCors;
    let readable_label = if no_cors {
        "The browser sends it"
    } else {
        "A page can read it (Chromium)"
    };
    let standard = (c.standard_allowed != c.allowed).then(|| {
        view! {
            <dt>"Under the Fetch standard"</dt>
            <dd data-testid="cors-standard">{yes_no(c.standard_allowed, "yes", "no")}</dd>
        }
    });
    view! {
        <section class="detail-section wide" data-testid="detail-cors">
            <h4>"CORS"</h4>
            <dl class="kv">
                <dt>"Page origin"</dt>
                <dd><code>{c.origin.clone()}</code></dd>
                <dt>"Request"</dt>
                <dd>
                    <code>{c.method.clone()}</code>
                    ", mode " <code>{c.mode.as_str()}</code>
                    ", credentials " <code>{c.credentials.as_str()}</code>
                    {if c.preflight_needed { ", needs a preflight (OPTIONS)" } else { ", no preflight" }}
                </dd>
                <dt>{readable_label}</dt>
                <dd data-testid="cors-allowed">{yes_no(c.allowed, "yes", "no")}</dd>
                {standard}
            </dl>
            {no_cors
                .then(|| {
                    view! {
                        <p class="note">
                            "A no-cors request never fails CORS, but the page cannot read the answer: it gets status 0, no headers and no body."
                        </p>
                    }
                })}
            {c.proxy_error_page
                .then(|| {
                    view! {
                        <p class="note warn">
                            "The real failure is a 5xx from a proxy or backend: the browser reports it as a CORS error."
                        </p>
                    }
                })}
            {(!missing.is_empty())
                .then(|| view! { <p class="muted small">{format!("Not observed: {missing}")}</p> })}
            {c.divergences.into_iter().map(|d| view! { <Divergence d /> }).collect_view()}
            <DataTable columns=cors_columns() class="detail-table cors-checks">
                {c
                    .checks
                    .into_iter()
                    .enumerate()
                    .map(|(i, check)| view! { <CorsRow check first=first == Some(i) /> })
                    .collect_view()}
            </DataTable>
        </section>
    }
}

/// Where browsers and the standard part ways on this request, browser by browser.
#[component]
fn Divergence(d: CorsDivergence) -> impl IntoView {
    view! {
        <div class="note warn divergence" data-testid="cors-divergence" data-id=d.id.clone()>
            <p>
                <strong>"Browsers and the Fetch standard disagree here. "</strong>
                <RichText text=d.fix.clone() />
            </p>
            <dl class="kv small">
                <dt>"Fetch standard"</dt>
                <dd><RichText text=d.standard /></dd>
                <dt>"Chromium (Chrome, Edge)"</dt>
                <dd><RichText text=d.chromium /></dd>
                <dt>"Firefox"</dt>
                <dd><RichText text=d.firefox /></dd>
                <dt>"Safari"</dt>
                <dd><RichText text=d.safari /></dd>
            </dl>
            <details class="small">
                <summary>"Sources"</summary>
                <ul>
                    {d
                        .sources
                        .into_iter()
                        .map(|s| view! { <li><a href=s.clone() rel="noreferrer" target="_blank">{s.clone()}</a></li> })
                        .collect_view()}
                </ul>
            </details>
        </div>
    }
}

#[component]
fn CorsRow(check: CorsCheck, first: bool) -> impl IntoView {
    let (word, tone) = cors_word(check.verdict);
    view! {
        <tr class=if first { "first-fail" } else { "" } data-rule=check.rule.clone()>
            <td data-label="Stage">{check.stage.as_str()}</td>
            <td data-label="Rule"><code class="rule">{check.rule.clone()}</code></td>
            <td data-label="Verdict">
                <span class=format!("badge reach reach-{tone}")>{word}</span>
                {first.then(|| view! { <span class="stop-here">"the browser stops here"</span> })}
            </td>
            <td data-label="Detail" class="cors-detail">
                {check.detail}
                {check
                    .header_to_add
                    .map(|h| {
                        view! {
                            <div class="header-to-add">
                                <span class="small muted">"Add: "</span>
                                <CopyText text=h label="Copy the header" />
                            </div>
                        }
                    })}
            </td>
        </tr>
    }
}
