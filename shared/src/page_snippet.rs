//! The console snippet that tests from the page users really visit: pasted into the
//! browser's console on that page (`https://shop.example`), it runs the phone page's two
//! checks per target (a `no-cors` and a `cors` fetch, 8 s each) from that origin and posts
//! the report to the agent with the phone link's code. The agent admits that origin for
//! the reports route alone, and only while a link is valid (`agent/src/reach/page_cors.rs`).

use crate::diagnosis::vantage_points::BROWSER_TIMEOUT_MS;

/// One target the snippet checks: its id and URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnippetTarget {
    pub id: String,
    pub url: String,
}

/// The snippet, one paste, for the agent at `agent_base` and the link `code`. Only
/// `http(s)` targets go in: a browser cannot test `host:port`.
pub fn console_snippet(agent_base: &str, code: &str, targets: &[SnippetTarget]) -> String {
    let list: Vec<(String, String)> = targets
        .iter()
        .filter(|t| t.url.starts_with("http://") || t.url.starts_with("https://"))
        .map(|t| (t.id.clone(), t.url.clone()))
        .collect();
    format!(
        "(async () => {{\n\
         \x20 const agent = {agent}, code = {code}, targets = {targets};\n\
         \x20 const once = async (url, mode) => {{\n\
         \x20   const ctl = new AbortController(), t0 = performance.now();\n\
         \x20   const timer = setTimeout(() => ctl.abort(), {timeout});\n\
         \x20   const ms = () => Math.round(performance.now() - t0);\n\
         \x20   try {{\n\
         \x20     const r = await fetch(url, {{ mode, signal: ctl.signal, cache: \"no-store\" }});\n\
         \x20     return {{ outcome: \"ok\", status: mode === \"cors\" ? r.status : null, elapsed_ms: ms(), error: null }};\n\
         \x20   }} catch (e) {{\n\
         \x20     return {{ outcome: e.name === \"AbortError\" ? \"timeout\" : \"network_error\", status: null, elapsed_ms: ms(), error: String(e).slice(0, 300) }};\n\
         \x20   }} finally {{ clearTimeout(timer); }}\n\
         \x20 }};\n\
         \x20 const results = [];\n\
         \x20 for (const [target_id, url] of targets) {{\n\
         \x20   results.push({{ target_id, no_cors: await once(url, \"no-cors\"), cors: await once(url, \"cors\"), blocked_by: null, timing: null }});\n\
         \x20 }}\n\
         \x20 const device_id = (\"page-\" + location.host).replace(/[^A-Za-z0-9_-]/g, \"-\").slice(0, 64);\n\
         \x20 const r = await fetch(agent + \"/api/reports\", {{ method: \"POST\", headers: {{ Authorization: \"Bearer \" + code, \"Content-Type\": \"application/json\" }}, body: JSON.stringify({{ device_id, page_origin: location.origin, results }}) }});\n\
         \x20 console.log(\"Vantage: the agent answered\", r.status, await r.json());\n\
         }})();\n",
        agent = js(&agent_base.trim_end_matches('/')),
        code = js(&code),
        targets = js(&list),
        timeout = BROWSER_TIMEOUT_MS,
    )
}

/// A JSON literal for the snippet (JSON is valid JavaScript, strings escaped).
fn js<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippet_carries_the_agent_the_code_and_http_targets_only() {
        let s = console_snippet(
            "http://203.0.113.5:8787/",
            "abc123",
            &[
                SnippetTarget {
                    id: "shop-api".into(),
                    url: "https://api.shop.example/products?q=\"x\"".into(),
                },
                SnippetTarget {
                    id: "db".into(),
                    url: "db.internal:5432".into(),
                },
            ],
        );
        assert!(s.contains(r#"const agent = "http://203.0.113.5:8787", code = "abc123", targets = [["shop-api","https://api.shop.example/products?q=\"x\""]];"#), "{s}");
        assert!(!s.contains("db.internal"), "{s}");
        assert!(s.contains("setTimeout(() => ctl.abort(), 8000)"), "{s}");
        assert!(s.contains("page_origin: location.origin"), "{s}");
    }
}
