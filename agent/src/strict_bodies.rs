//! Request bodies are strict (`error::ApiJson` refuses a key its type does not have), so
//! the OpenAPI document says so: every object schema a request body reaches gets
//! `additionalProperties: false`. Schemathesis and other clients then generate and expect
//! exactly what the agent takes. A tuple, such as a `[name, value]` header, gets its exact
//! length. Response schemas are left open: an agent may add fields.

use std::collections::BTreeSet;

use serde_json::Value;

/// Marks every object schema reachable from a JSON request body as closed.
pub fn forbid_unknown_fields(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut v) = serde_json::to_value(&doc) else {
        return doc;
    };
    let mut names = BTreeSet::new();
    if let Some(paths) = v.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for op in ops.values_mut() {
                let schema = op.pointer_mut("/requestBody/content/application~1json/schema");
                if let Some(schema) = schema {
                    close(schema, &mut names);
                }
            }
        }
    }
    // Closing a component may reach further components: until nothing new is found.
    let mut done = BTreeSet::new();
    while let Some(name) = names.iter().find(|n| !done.contains(*n)).cloned() {
        done.insert(name.clone());
        let pointer = format!(
            "/components/schemas/{}",
            name.replace('~', "~0").replace('/', "~1")
        );
        if let Some(schema) = v.pointer_mut(&pointer) {
            close(schema, &mut names);
        }
    }
    serde_json::from_value(v).unwrap_or(doc)
}

/// Closes `schema` and what it nests; collects the components it refers to.
fn close(schema: &mut Value, refs: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    refs.insert(name.to_owned());
                }
                return;
            }
            let is_object = map.get("type").is_some_and(|t| {
                t == "object"
                    || t.as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "object"))
            });
            if is_object
                && map.contains_key("properties")
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            // A tuple (`(name, value)`) is an array of exactly its `prefixItems`: serde
            // refuses one item more or less, so the document says so.
            let tuple_len = match (map.get("prefixItems"), map.get("items")) {
                (Some(Value::Array(prefix)), Some(Value::Bool(false))) => Some(prefix.len()),
                _ => None,
            };
            if let Some(n) = tuple_len.filter(|_| !map.contains_key("minItems")) {
                map.insert("minItems".to_owned(), Value::from(n));
            }
            for key in ["properties"] {
                if let Some(Value::Object(props)) = map.get_mut(key) {
                    for p in props.values_mut() {
                        close(p, refs);
                    }
                }
            }
            for key in ["items", "additionalProperties"] {
                if let Some(inner) = map.get_mut(key) {
                    close(inner, refs);
                }
            }
            // An `allOf` is a base object listing every property, then conditions on some
            // of them (`shared::openapi::refine`): only the base is closed, since a closed
            // condition would refuse the properties it does not repeat.
            if let Some(Value::Array(parts)) = map.get_mut("allOf") {
                if let Some(base) = parts.first_mut() {
                    close(base, refs);
                }
            }
            // Alternatives each list their own properties (an enum's variants).
            for key in ["oneOf", "anyOf"] {
                if let Some(Value::Array(parts)) = map.get_mut(key) {
                    for p in parts {
                        close(p, refs);
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| close(i, refs)),
        _ => {}
    }
}
