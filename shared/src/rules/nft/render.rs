//! A rule's readable one-line text, close to what `nft list ruleset` prints.

use std::fmt::Write as _;

use serde_json::Value;

/// A readable one-line form of a rule, close to `nft list ruleset`'s.
pub(super) fn render_rule(expr: &[Value], comment: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in expr {
        let Some((k, body)) = e.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let part = match k.as_str() {
            "match" => {
                let left = body.get("left").map_or_else(String::new, render_value);
                let right = body.get("right").map_or_else(String::new, render_value);
                match body.get("op").and_then(Value::as_str).unwrap_or("==") {
                    "==" | "in" => format!("{left} {right}"),
                    op => format!("{left} {op} {right}"),
                }
            }
            "counter" => "counter".to_owned(),
            "accept" | "drop" | "return" | "continue" => k.clone(),
            "jump" | "goto" => format!(
                "{k} {}",
                body.get("target").and_then(Value::as_str).unwrap_or("?")
            ),
            "reject" => match body {
                Value::Null => "reject".to_owned(),
                b => {
                    let mut s = "reject".to_owned();
                    if let Some(t) = b.get("type").and_then(Value::as_str) {
                        let _ = write!(s, " with {t}");
                    }
                    if let Some(c) = b.get("expr") {
                        let _ = write!(s, " {}", render_value(c));
                    }
                    s
                }
            },
            "dnat" | "snat" => {
                let mut s = format!("{k} to");
                if let Some(a) = body.get("addr") {
                    let _ = write!(s, " {}", render_value(a));
                }
                if let Some(p) = body.get("port") {
                    let _ = write!(s, ":{}", render_value(p));
                }
                s
            }
            "redirect" => match body.get("port") {
                Some(p) => format!("redirect to :{}", render_value(p)),
                None => "redirect".to_owned(),
            },
            "xt" => format!(
                "xt {} {}",
                body.get("type").and_then(Value::as_str).unwrap_or("?"),
                body.get("name").and_then(Value::as_str).unwrap_or("?")
            ),
            "vmap" => format!(
                "{} vmap {}",
                body.get("key").map_or_else(String::new, render_value),
                body.get("data").map_or_else(String::new, render_value)
            ),
            "log" => "log".to_owned(),
            other => other.to_owned(),
        };
        parts.push(part);
    }
    let mut s = parts.join(" ");
    if let Some(c) = comment {
        let _ = write!(s, " comment \"{c}\"");
    }
    s
}

pub(super) fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => a.iter().map(render_value).collect::<Vec<_>>().join(","),
        Value::Object(o) => {
            let Some((k, body)) = o.iter().next() else {
                return String::new();
            };
            match k.as_str() {
                "payload" => format!(
                    "{} {}",
                    body.get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("raw"),
                    body.get("field").and_then(Value::as_str).unwrap_or("")
                ),
                "meta" => {
                    let key = body.get("key").and_then(Value::as_str).unwrap_or("");
                    match key {
                        "iifname" | "oifname" | "iif" | "oif" => key.to_owned(),
                        _ => format!("meta {key}"),
                    }
                }
                "ct" => format!(
                    "ct {}",
                    body.get("key").and_then(Value::as_str).unwrap_or("")
                ),
                "fib" => "fib daddr type".to_owned(),
                "prefix" => format!(
                    "{}/{}",
                    body.get("addr").map_or_else(String::new, render_value),
                    body.get("len").map_or_else(String::new, render_value)
                ),
                "range" => match body.as_array().map(Vec::as_slice) {
                    Some([a, b]) => format!("{}-{}", render_value(a), render_value(b)),
                    _ => body.to_string(),
                },
                "set" => match body {
                    Value::Array(a) => format!(
                        "{{ {} }}",
                        a.iter()
                            .map(|x| match x {
                                Value::Array(pair) => pair
                                    .iter()
                                    .map(render_value)
                                    .collect::<Vec<_>>()
                                    .join(" : "),
                                x => render_value(x),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    x => render_value(x),
                },
                "elem" => body.get("val").map_or_else(String::new, render_value),
                "accept" | "drop" | "return" | "continue" => k.clone(),
                "jump" | "goto" => format!(
                    "{k} {}",
                    body.get("target").and_then(Value::as_str).unwrap_or("?")
                ),
                "&" | "|" => match body.as_array().map(Vec::as_slice) {
                    Some([a, b]) => format!("{} {k} {}", render_value(a), render_value(b)),
                    _ => body.to_string(),
                },
                _ => v.to_string(),
            }
        }
    }
}
