//! The shape of `nft -j list ruleset`'s JSON as far as it is read: the `nftables` list of
//! single-key objects (`table`, `chain`, `rule`, `set`/`map`), and JSON paths for errors.

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::rules::locate::Seg;

/// The whole document: `{"nftables": [{"table": {…}}, {"chain": {…}}, …]}`.
#[derive(Deserialize)]
pub(super) struct Doc {
    pub(super) nftables: Vec<Entry>,
}

/// One element of the `nftables` list: a single-key object.
pub(super) enum Entry {
    Table(TableObj),
    Chain(ChainObj),
    Rule(RuleObj),
    Set(SetObj),
    Other,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object such as {\"rule\": {…}}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                let mut out = Entry::Other;
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        "table" => out = Entry::Table(map.next_value()?),
                        "chain" => out = Entry::Chain(map.next_value()?),
                        "rule" => out = Entry::Rule(map.next_value()?),
                        "set" | "map" => out = Entry::Set(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
pub(super) struct TableObj {
    pub(super) family: String,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct ChainObj {
    pub(super) family: String,
    pub(super) table: String,
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) chain_type: Option<String>,
    pub(super) hook: Option<String>,
    pub(super) prio: Option<Value>,
    pub(super) policy: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RuleObj {
    pub(super) family: String,
    pub(super) table: String,
    pub(super) chain: String,
    pub(super) handle: Option<u64>,
    pub(super) comment: Option<String>,
    #[serde(default)]
    pub(super) expr: Vec<Value>,
}

#[derive(Deserialize)]
pub(super) struct SetObj {
    pub(super) family: String,
    pub(super) table: String,
    pub(super) name: String,
    pub(super) elem: Option<Value>,
}

/// A key in a JSON path.
pub(super) fn seg(k: &str) -> Seg {
    Seg::key(k)
}

/// `path` followed by `more`.
pub(super) fn child(path: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.extend_from_slice(more);
    p
}
