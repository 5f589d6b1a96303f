//! The registry against serde, OpenAPI and docs/findings.md.

use std::collections::BTreeSet;

use super::FindingCode;

/// docs/findings.md, which lists every code with its severity and where it is made.
const FINDINGS_DOC: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/findings.md"));

#[test]
fn every_code_serialises_to_its_string_and_back() {
    for &code in FindingCode::ALL {
        let json = serde_json::to_value(code).expect("serialise");
        assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        let back: FindingCode = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, code);
        assert_eq!(code.to_string(), code.as_str());
    }
}

#[test]
fn codes_are_unique_snake_case() {
    let mut seen = BTreeSet::new();
    for code in FindingCode::ALL {
        let s = code.as_str();
        assert!(seen.insert(s), "{s} twice");
        assert!(
            s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{s} is not snake_case"
        );
    }
}

#[test]
fn compares_with_strings() {
    let code = FindingCode::TcpRefused;
    assert_eq!(code, "tcp_refused");
    assert!(code == *"tcp_refused");
    assert!("tcp_refused" == code);
    assert!(*"tcp_refused" == code);
    assert_ne!(code, "tcp_timed_out");
}

#[test]
fn unknown_codes_do_not_deserialise() {
    assert!(serde_json::from_str::<FindingCode>("\"cors_blocked\"").is_err());
}

/// The codes docs/findings.md lists: the first cell of each table row, when it is one
/// backticked name.
fn documented_codes() -> Vec<&'static str> {
    FINDINGS_DOC
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |"))
        .map(|(code, _)| code)
        .collect()
}

#[test]
fn docs_list_every_code_and_no_other() {
    let documented = documented_codes();
    let known: BTreeSet<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    let listed: BTreeSet<&str> = documented.iter().copied().collect();
    assert_eq!(
        listed.len(),
        documented.len(),
        "a code is listed twice in docs/findings.md"
    );
    let missing: Vec<&&str> = known.difference(&listed).collect();
    let unknown: Vec<&&str> = listed.difference(&known).collect();
    assert!(missing.is_empty(), "not in docs/findings.md: {missing:?}");
    assert!(
        unknown.is_empty(),
        "docs/findings.md names codes that do not exist: {unknown:?}"
    );
}

/// The OpenAPI schema is a string enum of exactly the codes.
#[cfg(feature = "openapi")]
#[test]
fn openapi_schema_is_a_string_enum_of_every_code() {
    use utoipa::PartialSchema;
    let schema = serde_json::to_value(FindingCode::schema()).expect("schema");
    assert_eq!(schema["type"], "string", "{schema:#}");
    let listed: Vec<&str> = schema["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let known: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, known);
}
