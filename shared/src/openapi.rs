//! What the request types' OpenAPI schemas cannot say with field attributes: the forms a
//! target URL takes, and the rules that tie one field to another (a TCP target takes no
//! HTTP options; a TCP or UDP question needs a port). [`refine`] adds them to the derived
//! schemas, so the document states every check the handlers make (docs/api.md,
//! "Contract"). Built only with the `openapi` feature (the agent); the dashboard leaves it out.

use utoipa::openapi::schema::{
    AllOf, AnyOf, ArrayBuilder, ObjectBuilder, OneOf, Schema, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};

/// An IPv6 address in its usual forms (one with an embedded IPv4 tail, `::ffff:192.0.2.1`,
/// parses too but is not described here).
macro_rules! ipv6 {
    () => {
        concat!(
            r"(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,7}:",
            r"|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}",
            r"|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}",
            r"|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}",
            r"|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}",
            r"|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}",
            r"|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}|:((:[0-9A-Fa-f]{1,4}){1,7}|:))"
        )
    };
}

/// A host as `parse_target_url` takes it: a name or IPv4 address, or a bracketed IPv6
/// address.
macro_rules! host {
    () => {
        concat!(r"([A-Za-z0-9._-]{1,253}|\[", ipv6!(), r"\])")
    };
}

/// A port, 1–65535.
macro_rules! port {
    () => {
        r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
    };
}

/// `http://` or `https://` (any case), the host, an optional port, and an optional path
/// and query of printable ASCII without `#` (the fragment is never sent).
pub const HTTP_TARGET_URL: &str = concat!(
    "^[hH][tT][tT][pP][sS]?://",
    host!(),
    "(:",
    port!(),
    r#")?([/?][!"$-~]*)?$"#
);

/// `host:port`, for a TCP check: no scheme, no path.
pub const TCP_TARGET: &str = concat!("^", host!(), ":", port!(), "$");

/// `protocol` in a rules question (any case; the field's own pattern allows `icmp` too).
const PORT_PROTOCOLS: &str = "^([tT][cC][pP]|[uU][dD][pP])$";
const ICMP: &str = "^[iI][cC][mM][pP]$";

/// An IPv4 address, as `Ipv4Addr` parses it (no leading zeros).
macro_rules! ipv4 {
    () => {
        r"((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    };
}

/// `192.0.2.1:80` or `[2001:db8::1]:80`, as `SocketAddr` parses it (port 0–65535).
pub const SOCKET_ADDRESS: &str = concat!(
    "^(",
    ipv4!(),
    r"|\[",
    ipv6!(),
    r"\]):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)$"
);

fn ip_address_of(description: &str, null: bool) -> Schema {
    let format = |f| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(f)))
            .into()
    };
    let mut any = AnyOf::new();
    any.items = vec![format(KnownFormat::Ipv4), format(KnownFormat::Ipv6)];
    if null {
        any.items.push(self::null().into());
    }
    any.description = Some(description.into());
    Schema::AnyOf(any)
}

/// An IPv4 or IPv6 address (`schema_with` for a string field that holds one).
pub fn ip_address() -> Schema {
    ip_address_of("An IPv4 or IPv6 address.", false)
}

/// An IPv4 or IPv6 address, or `null` (`schema_with` for an `Option<IpAddr>`).
pub fn optional_ip_address() -> Schema {
    ip_address_of("An IPv4 or IPv6 address, or null.", true)
}

/// `ip:port`, or `null` (`schema_with` for an `Option<SocketAddr>`).
pub fn optional_socket_address() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(SOCKET_ADDRESS))
        .description(Some(
            "An address and port, `192.0.2.1:80` or `[2001:db8::1]:80`, or null.",
        ))
        .into()
}

/// Adds the cross-field rules to the request schemas in `components`.
pub fn refine(components: &mut utoipa::openapi::Components) {
    let schemas = &mut components.schemas;
    if let Some(target) = schemas.remove("NewTarget") {
        schemas.insert("NewTarget".into(), new_target(target));
    }
    if let Some(admin) = schemas.remove("ProxyAdmin") {
        schemas.insert("ProxyAdmin".into(), proxy_admin(admin));
    }
    if let Some(question) = schemas.remove("RulesQuestion") {
        schemas.insert("RulesQuestion".into(), rules_question(question));
    }
    schemas.insert("Credentials".into(), credentials());
}

/// `Credentials`: the three names, or the booleans targets were stored with before the
/// modes existed (read as `include` and `same-origin`).
fn credentials() -> RefOr<Schema> {
    let names: Schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["omit", "same-origin", "include"]))
        .into();
    let flag: Schema = ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some(
            "The old form: `true` is `include`, `false` is `same-origin`.",
        ))
        .into();
    let mut one = OneOf::new();
    one.items = vec![names.into(), flag.into()];
    one.description =
        Some("Fetch's credentials mode: `omit`, `same-origin` (the default) or `include`.".into());
    Schema::OneOf(one).into()
}

/// `properties` only, for the variants of a `oneOf`.
fn variant(title: &str, required: &[&str], properties: Vec<(&str, Schema)>) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new().title(Some(title));
    for r in required {
        b = b.required(*r);
    }
    for (name, schema) in properties {
        b = b.property(name, schema);
    }
    b.into()
}

fn string_matching(pattern: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .into()
}

/// Exactly these values, typed by what they are (a bare builder would say `object`).
fn only(values: Vec<serde_json::Value>) -> Schema {
    let mut types: Vec<Type> = Vec::new();
    for v in &values {
        let t = match v {
            serde_json::Value::Bool(_) => Type::Boolean,
            serde_json::Value::Number(_) => Type::Number,
            _ => Type::String,
        };
        if !types.contains(&t) {
            types.push(t);
        }
    }
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter(types))
        .enum_values(Some(values))
        .into()
}

fn null() -> Schema {
    ObjectBuilder::new().schema_type(Type::Null).into()
}

/// The derived object with a `oneOf` of its variants: `allOf: [object, {oneOf: …}]`.
fn with_variants(base: RefOr<Schema>, variants: Vec<RefOr<Schema>>) -> RefOr<Schema> {
    let mut base = base;
    // The description stays on the whole schema, where readers look for it.
    let description = match &mut base {
        RefOr::T(Schema::Object(o)) => o.description.take(),
        _ => None,
    };
    let mut one = OneOf::new();
    one.items = variants;
    let mut all = AllOf::new();
    all.items = vec![base, Schema::OneOf(one).into()];
    all.description = description;
    Schema::AllOf(all).into()
}

/// `validate_new_target`: the URL is an HTTP(S) URL or `host:port`, and a TCP target has
/// none of the HTTP options (expected status, CORS origin, method, headers, credentials).
fn new_target(base: RefOr<Schema>) -> RefOr<Schema> {
    let http = variant(
        "HTTP target",
        &[],
        vec![("url", string_matching(HTTP_TARGET_URL))],
    );
    let no_headers = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .max_items(Some(0))
        .into();
    let tcp = variant(
        "TCP target",
        &[],
        vec![
            ("url", string_matching(TCP_TARGET)),
            ("expected_status", null()),
            ("cors_origin", null()),
            ("cors_method", null()),
            ("cors_headers", no_headers),
            (
                "cors_credentials",
                only(vec!["same-origin".into(), false.into()]),
            ),
            ("cors_mode", only(vec!["cors".into()])),
            ("proxy_admin", null()),
        ],
    );
    with_variants(base, vec![http, tcp])
}

/// `ProxyAdmin::validate`: Envoy's `/clusters` is read over HTTP only; HAProxy's outputs
/// also on its stats socket (`unix:/…`).
fn proxy_admin(base: RefOr<Schema>) -> RefOr<Schema> {
    let haproxy = variant(
        "HAProxy",
        &[],
        vec![(
            "kind",
            only(vec!["haproxy_csv".into(), "haproxy_servers_state".into()]),
        )],
    );
    let envoy = variant(
        "Envoy",
        &[],
        vec![
            ("kind", only(vec!["envoy_clusters".into()])),
            ("url", string_matching("^https?://")),
        ],
    );
    with_variants(base, vec![haproxy, envoy])
}

/// The rules question: `tcp` (the default) and `udp` need a port, `icmp` takes none.
fn rules_question(base: RefOr<Schema>) -> RefOr<Schema> {
    let ports = variant(
        "tcp or udp",
        &["port"],
        vec![
            (
                "protocol",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .pattern(Some(PORT_PROTOCOLS))
                    .into(),
            ),
            (
                "port",
                ObjectBuilder::new().schema_type(Type::Integer).into(),
            ),
        ],
    );
    let icmp = variant(
        "icmp",
        &["protocol"],
        vec![("protocol", string_matching(ICMP))],
    );
    with_variants(base, vec![ports, icmp])
}
