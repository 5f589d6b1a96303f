//! Loading a rules file: pasted or read from disk, checked here at once with the same
//! parser the agent runs (`vantage_shared::rules::parse_rules`, offline, with the JSON
//! path, line and column of what is wrong), then uploaded.

use leptos::html::Textarea;
use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::rules::{parse_rules, RulesError};
use wasm_bindgen::JsCast;

use crate::api;
use crate::components::status::error_text;
use crate::state::{use_refresh, use_session, Refresh, Session};

/// The agent refuses larger uploads (`POST /api/rules`).
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;
/// Lines longer than this are cut around the error's column in the excerpt.
const EXCERPT_CHARS: usize = 100;

/// What the check found in a valid file, for the line under the text box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub sets: usize,
    pub rules: usize,
    /// "security group sg-1 (web)", … (the first few).
    pub titles: Vec<String>,
}

impl Checked {
    pub fn sentence(&self) -> String {
        let more = self.sets.saturating_sub(self.titles.len());
        let mut s = format!(
            "Valid: {} rule set{}, {} rule{} ({}",
            self.sets,
            if self.sets == 1 { "" } else { "s" },
            self.rules,
            if self.rules == 1 { "" } else { "s" },
            self.titles.join(", ")
        );
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        s.push(')');
        s
    }
}

/// Parses the text as the agent will; `None` while it is empty.
pub fn check(text: &str, name: &str) -> Option<Result<Checked, RulesError>> {
    if text.trim().is_empty() {
        return None;
    }
    Some(parse_rules(text, name).map(|sets| Checked {
        sets: sets.len(),
        rules: sets.iter().map(|s| s.rules.len()).sum(),
        titles: sets.iter().take(3).map(|s| s.title()).collect(),
    }))
}

/// The line an error points at, cut to a readable width, and the caret's column in it
/// (both 1-based, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    pub line: usize,
    pub text: String,
    pub caret: usize,
}

pub fn excerpt(text: &str, line: usize, column: usize) -> Option<Excerpt> {
    let src = text.lines().nth(line.checked_sub(1)?)?;
    let chars: Vec<char> = src.chars().collect();
    let col = column.clamp(1, chars.len() + 1);
    let start = col.saturating_sub(EXCERPT_CHARS / 2).min(
        chars
            .len()
            .saturating_sub(EXCERPT_CHARS)
            .max(col.saturating_sub(EXCERPT_CHARS)),
    );
    let end = (start + EXCERPT_CHARS).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    let mut caret = col - start;
    if start > 0 {
        out.insert(0, '…');
        caret += 1;
    }
    if end < chars.len() {
        out.push('…');
    }
    Some(Excerpt {
        line,
        text: out,
        caret,
    })
}

/// The UTF-16 offsets (what `setSelectionRange` takes) of a 1-based line, without its
/// line break.
pub fn line_span_utf16(text: &str, line: usize) -> Option<(u32, u32)> {
    let mut start = 0usize;
    for (i, l) in text.split('\n').enumerate() {
        let len = l.trim_end_matches('\r').encode_utf16().count();
        if i + 1 == line {
            return Some((u32::try_from(start).ok()?, u32::try_from(start + len).ok()?));
        }
        start += l.encode_utf16().count() + 1;
    }
    None
}

/// A label from a file name: `prod-sgs.json` → `prod-sgs`.
pub fn name_from_file(file: &str) -> String {
    match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => file.to_owned(),
    }
}

/// Reads the chosen file's text (`Blob.text()`).
async fn read_file(input: &web_sys::HtmlInputElement) -> Result<Option<(String, String)>, String> {
    let Some(file) = input.files().and_then(|f| f.get(0)) else {
        return Ok(None);
    };
    if file.size() > MAX_UPLOAD_BYTES as f64 {
        return Err(format!(
            "{} is {:.1} MB; the agent accepts at most 8 MB. Filter the command to the groups that matter (e.g. `--group-ids sg-…`).",
            file.name(),
            file.size() / 1_048_576.0
        ));
    }
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .map_err(|e| format!("cannot read {}: {e:?}", file.name()))?;
    Ok(Some((file.name(), text.as_string().unwrap_or_default())))
}

/// The form's state, shared by its parts.
#[derive(Clone, Copy)]
struct LoadState {
    name: RwSignal<String>,
    text: RwSignal<String>,
    busy: RwSignal<bool>,
    /// The agent's refusal, or a file that could not be read.
    other_error: RwSignal<Option<String>>,
    done: RwSignal<Option<String>>,
}

impl LoadState {
    fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            text: RwSignal::new(String::new()),
            busy: RwSignal::new(false),
            other_error: RwSignal::new(None),
            done: RwSignal::new(None),
        }
    }
}

/// Why the text cannot be sent at all (before parsing it).
fn upload_refusal(body: &str) -> Option<&'static str> {
    if body.trim().is_empty() {
        Some("Paste the command's output or choose a file first.")
    } else if body.len() > MAX_UPLOAD_BYTES {
        Some("The agent accepts at most 8 MB per file.")
    } else {
        None
    }
}

/// The label the upload is stored under: the typed name, else a generic one.
fn upload_label(name: &str) -> String {
    let n = name.trim();
    if n.is_empty() {
        "pasted rules".to_owned()
    } else {
        n.to_owned()
    }
}

/// Sends the checked text to the agent and reports the outcome in the form.
async fn upload(session: Session, refresh: Refresh, state: LoadState, label: String, body: String) {
    let token = session.token_untracked();
    let result = session.check(api::upload_rules(&token, &label, &body).await);
    state.busy.set(false);
    match result {
        Ok(loaded) => {
            state.text.set(String::new());
            state.name.set(String::new());
            state.done.set(Some(format!(
                "Loaded {} ({} rule set{}).",
                loaded.name,
                loaded.sets.len(),
                if loaded.sets.len() == 1 { "" } else { "s" }
            )));
            refresh.bump_rules();
            refresh.bump_reach();
        }
        Err(e) => state.other_error.set(Some(error_text(&e))),
    }
}

#[component]
pub fn LoadForm() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let state = LoadState::new();
    let LoadState {
        name,
        text,
        busy,
        other_error,
        done,
    } = state;
    let area = NodeRef::<Textarea>::new();

    let checked = Memo::new(move |_| text.with(|t| check(t, "pasted")));
    let parse_error = move || checked.with(|c| c.as_ref().and_then(|r| r.as_ref().err().cloned()));

    let select_line = Callback::new(move |line: usize| {
        let Some(el) = area.get_untracked() else {
            return;
        };
        if let Some((start, end)) = text.with_untracked(|t| line_span_utf16(t, line)) {
            let _ = el.focus();
            // Selecting scrolls the text box to the line in every current browser.
            let _ = el.set_selection_range(start, end);
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        done.set(None);
        let body = text.get_untracked();
        if let Some(refusal) = upload_refusal(&body) {
            other_error.set(Some(refusal.to_owned()));
            return;
        }
        if parse_error().is_some() {
            // Shown beside the text box already; put the cursor on the line.
            if let Some(line) = parse_error().and_then(|e| e.line) {
                select_line.run(line);
            }
            return;
        }
        let label = upload_label(&name.get_untracked());
        other_error.set(None);
        busy.set(true);
        spawn_local(upload(session, refresh, state, label, body));
    };

    let error_view = move || {
        if let Some(e) = parse_error() {
            let ex = match (e.line, e.column) {
                (Some(l), Some(c)) => text.with(|t| excerpt(t, l, c)),
                _ => None,
            };
            return Some(view! { <ParseError e ex select_line /> }.into_any());
        }
        other_error.get().map(|e| {
            view! {
                <div class="error-box small rules-error" role="alert" id="rules-error" data-testid="rules-error">
                    <p>{e}</p>
                </div>
            }
            .into_any()
        })
    };
    let valid_line = move || {
        checked.with(|c| match c {
            Some(Ok(ok)) => {
                Some(view! { <p class="small good-text" role="status">{"✓ "}{ok.sentence()}</p> })
            }
            _ => None,
        })
    };

    view! {
        <form class="rules-form" data-testid="rules-form" on:submit=on_submit novalidate=true>
            <NameField name />
            <RulesText state area invalid=Signal::derive(move || parse_error().is_some()) />
            <FilePick state />
            <HostHelp state />
            {error_view}
            {valid_line}
            {move || done.get().map(|d| view! { <p class="small good-text" role="status">{d}</p> })}
            <button type="submit" class="button" disabled=move || busy.get()>
                {move || if busy.get() { "Uploading…" } else { "Check and load" }}
            </button>
        </form>
    }
}

/// Which commands read a host's firewall, and when the legacy ones are needed; a save
/// that printed nothing is one click (an empty paste cannot say which family it was).
#[component]
fn HostHelp(state: LoadState) -> impl IntoView {
    let LoadState {
        name,
        text,
        other_error,
        done,
        ..
    } = state;
    let nothing = move |ipv6: bool| {
        other_error.set(None);
        done.set(None);
        name.set(
            if ipv6 {
                "ip6tables-save"
            } else {
                "iptables-save"
            }
            .to_owned(),
        );
        text.set(vantage_shared::rules::iptables::printed_nothing(ipv6));
    };
    view! {
        <details class="small" data-testid="host-paste-help">
            <summary>"A host's own firewall: which commands"</summary>
            <p>
                "Run " <code>"sudo iptables-save"</code> ", " <code>"sudo ip6tables-save"</code>
                " and " <code>"sudo nft -j list ruleset"</code>
                " and load each output. Loading iptables-save and nft's output together is fine: a table iptables keeps in nf_tables shows in both, and counts once."
            </p>
            <p>
                "When iptables-save warns “iptables-legacy tables present”, the legacy backend holds rules too, and the kernel applies both: also load "
                <code>"sudo iptables-legacy-save"</code> " (and " <code>"ip6tables-legacy-save"</code> ")."
            </p>
            <p>
                "A save that prints only its header means that backend has no rules for that family: load it anyway, and IPv6 (or IPv4) questions get “no rules” instead of “unknown”. When the command printed nothing at all, say which one:"
            </p>
            <p class="printed-nothing">
                <button type="button" class="button secondary small-button" data-testid="printed-nothing-v4" on:click=move |_| nothing(false)>
                    <code>"iptables-save"</code> " printed nothing"
                </button>
                <button type="button" class="button secondary small-button" data-testid="printed-nothing-v6" on:click=move |_| nothing(true)>
                    <code>"ip6tables-save"</code> " printed nothing"
                </button>
            </p>
        </details>
    }
}

/// The label the upload is stored under.
#[component]
fn NameField(name: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            <span>"Name"</span>
            <input
                name="name"
                type="text"
                maxlength="120"
                placeholder="prod security groups"
                autocomplete="off"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
        </label>
    }
}

/// The text box the command's output is pasted into.
#[component]
fn RulesText(state: LoadState, area: NodeRef<Textarea>, invalid: Signal<bool>) -> impl IntoView {
    let LoadState {
        text,
        other_error,
        done,
        ..
    } = state;
    view! {
        <label>
            <span>"The command's output (paste)"</span>
            <textarea
                node_ref=area
                name="rules"
                rows="8"
                spellcheck="false"
                placeholder="aws ec2 describe-security-groups, describe-network-acls, gcloud compute firewall-rules list --format=json, az network nsg show, iptables-save, nft -j list ruleset"
                aria-invalid=move || invalid.get().then_some("true")
                aria-describedby="rules-error"
                prop:value=move || text.get()
                on:input=move |ev| {
                    done.set(None);
                    other_error.set(None);
                    text.set(event_target_value(&ev));
                }
            ></textarea>
        </label>
    }
}

/// "…or choose a file": reads it into the text box (and the name, if none was typed).
#[component]
fn FilePick(state: LoadState) -> impl IntoView {
    let LoadState {
        name,
        text,
        other_error,
        done,
        ..
    } = state;
    let on_file = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        spawn_local(async move {
            match read_file(&input).await {
                Ok(Some((file, content))) => {
                    other_error.set(None);
                    done.set(None);
                    if name.with_untracked(String::is_empty) {
                        name.set(name_from_file(&file));
                    }
                    text.set(content);
                }
                Ok(None) => {}
                Err(e) => other_error.set(Some(e)),
            }
        });
    };
    view! {
        <label class="file-pick">
            <span>"…or choose a file"</span>
            <input type="file" accept=".json,.txt,application/json,text/plain" on:change=on_file />
        </label>
    }
}

/// The excerpt's two lines: the text behind a `N | ` gutter, and a caret under the column.
fn excerpt_block(x: &Excerpt) -> String {
    let gutter = format!("{} | ", x.line);
    let caret = format!(
        "{}{}^",
        " ".repeat(gutter.chars().count()),
        " ".repeat(x.caret.saturating_sub(1)),
    );
    format!("{gutter}{}\n{caret}", x.text)
}

/// Where the pasted text is wrong: position, JSON path, message, the line with a caret,
/// the parser's hint, and a button that selects the line in the text box.
#[component]
fn ParseError(e: RulesError, ex: Option<Excerpt>, select_line: Callback<usize>) -> impl IntoView {
    let line = e.line;
    view! {
        <div class="error-box small rules-error" role="alert" id="rules-error" data-testid="rules-error">
            <p class="error-title">
                {match (e.line, e.column) {
                    (Some(l), Some(c)) => format!("Not loadable: line {l}, column {c}"),
                    _ => "Not loadable".to_owned(),
                }}
            </p>
            <p>
                {(!e.path.is_empty()).then(|| view! { <code>{e.path.clone()}</code> ": " })}
                {e.message.clone()}
            </p>
            {ex.map(|x| {
                view! { <pre class="error-excerpt" data-testid="rules-error-line">{excerpt_block(&x)}</pre> }
            })}
            {e.hint.clone().map(|h| view! { <p class="hint">{h}</p> })}
            {line.map(|l| view! {
                <button type="button" class="link-button" on:click=move |_| select_line.run(l)>
                    {format!("Select line {l} in the text")}
                </button>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_points_at_the_column() {
        let text = "{\n  \"SecurityGroups\": [\n    {\"FromPort\": \"eighty\"}\n]}";
        let x = excerpt(text, 3, 17);
        assert_eq!(
            x,
            Some(Excerpt {
                line: 3,
                text: "    {\"FromPort\": \"eighty\"}".into(),
                caret: 17
            })
        );
        assert_eq!(excerpt(text, 9, 1), None);
        assert_eq!(excerpt(text, 0, 1), None);
    }

    #[test]
    fn long_lines_are_cut_around_the_error() {
        let line = "x".repeat(1000);
        let x = excerpt(&line, 1, 500).unwrap_or_else(|| panic!("no excerpt"));
        assert!(x.text.starts_with('…') && x.text.ends_with('…'));
        assert_eq!(x.text.chars().nth(x.caret - 1), Some('x'));
        assert!(x.text.chars().count() <= EXCERPT_CHARS + 2);
    }

    #[test]
    fn line_spans_count_utf16_units() {
        let text = "ab\r\né€😀\nlast";
        assert_eq!(line_span_utf16(text, 1), Some((0, 2)));
        // é and € are one unit each, 😀 two.
        assert_eq!(line_span_utf16(text, 2), Some((4, 8)));
        assert_eq!(line_span_utf16(text, 3), Some((9, 13)));
        assert_eq!(line_span_utf16(text, 4), None);
    }

    #[test]
    fn names_and_checks() {
        assert_eq!(name_from_file("prod-sgs.json"), "prod-sgs");
        assert_eq!(name_from_file(".env"), ".env");
        assert_eq!(name_from_file("rules"), "rules");
        assert_eq!(check("  ", "x"), None);
        let bad = check(r#"{"SecurityGroups": [{"GroupId": 5}]}"#, "x");
        assert!(matches!(bad, Some(Err(e)) if e.line == Some(1)));
    }

    #[test]
    fn the_excerpt_block_puts_the_caret_under_the_column() {
        let x = Excerpt {
            line: 9,
            text: "{\"FromPort\": \"eighty\"}".into(),
            caret: 14,
        };
        // The caret line skips the gutter's 4 characters, then 13 before column 14.
        let caret = format!("{}^", " ".repeat(4 + 13));
        assert_eq!(
            excerpt_block(&x),
            format!("9 | {{\"FromPort\": \"eighty\"}}\n{caret}")
        );
    }

    #[test]
    fn uploads_are_refused_empty_or_too_large_and_labelled() {
        assert!(upload_refusal(" \n").is_some());
        assert!(upload_refusal(&"x".repeat(MAX_UPLOAD_BYTES + 1)).is_some());
        assert_eq!(upload_refusal("{}"), None);
        assert_eq!(upload_label("  prod  "), "prod");
        assert_eq!(upload_label(" "), "pasted rules");
    }
}
