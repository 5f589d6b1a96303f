//! Firewall rules: AWS security groups and network ACLs, GCP VPC firewall rules,
//! Azure NSGs and the host's own firewall (iptables, nftables), parsed into one model and
//! evaluated for a question such as "would 203.0.113.7 reach tcp/443?".
//!
//! * [`parse_rules`] detects the format (the JSON's shape, or `iptables-save`'s `*filter` /
//!   `:INPUT ACCEPT [0:0]` / `-A` lines) and returns every rule set in it; each format also
//!   has its own `pub` entry point (for fuzzing and for callers that know the format):
//!   [`aws::parse_security_groups`], [`aws::parse_security_group_rules`],
//!   [`aws_nacl::parse_network_acls`], [`gcp::parse_firewall_rules`], [`azure::parse_nsgs`],
//!   [`iptables::parse_iptables_save`], [`nft::parse_nft_ruleset`]. Errors name the JSON
//!   path (or the line of `iptables-save` output) and the line/column ([`RulesError`]).
//! * [`evaluate`] answers a [`Question`] against the rule sets that apply to one resource
//!   and returns a [`Verdict`]: allowed / denied / unknown, the deciding rules, an
//!   explanation code modelled on AWS Reachability Analyzer's, the nearest rules when none
//!   matched, and the rule to add. [`summary`] is its one-line form (the sentence in
//!   docs/incidents.md, "Blocked from the guest Wi-Fi").
//!
//! Everything here is pure (no I/O), so the dashboard evaluates in the browser, offline.

pub mod aws;
pub mod aws_nacl;
pub mod azure;
pub mod error;
pub mod eval;
mod fix;
pub mod gcp;
pub mod iptables;
mod locate;
pub mod model;
pub mod nft;
pub mod scope;

#[cfg(test)]
mod host_backends_tests;
#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

pub use error::{RulesError, RulesErrorKind};
pub use eval::{
    evaluate, evaluate_refs, summary, to_rules_verdict, DestinationInfo, ExplanationCode,
    HostDenial, HostPath, HostVerdict, LayerVerdict, NearestKind, NearestRule, Outcome, Question,
    RuleFix, RuleRef, UnknownReason, Verdict,
};
pub use model::{
    Action, Cidr, CtState, Direction, HostAction, HostAddr, HostBackend, HostChain, HostChainType,
    HostFamily, HostHook, HostMatch, HostRule, HostTable, IcmpTypeCode, IptablesBackend, Peer,
    PortMatch, PortRange, Protocol, Provider, Rule, RuleSet, RuleSetKind,
};
pub use scope::RuleScope;

/// Inputs larger than this are refused before any parsing (20 MB: a few thousand security
/// groups; the dashboard and the agent both hold the text in memory).
pub const MAX_INPUT_BYTES: usize = 20 * 1_000_000;

/// The input formats [`parse_rules`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `aws ec2 describe-security-groups` (also its `SecurityGroups` list or one group).
    AwsSecurityGroups,
    /// `aws ec2 describe-security-group-rules`.
    AwsSecurityGroupRules,
    /// `aws ec2 describe-network-acls`.
    AwsNetworkAcls,
    /// `gcloud compute firewall-rules list --format=json` (also one rule, or the REST
    /// API's `{"items": […]}`).
    GcpFirewallRules,
    /// `az network nsg show` / `az network nsg list` / `az network nsg rule list`, flattened
    /// CLI form or the REST form with `properties`.
    AzureNsg,
    /// `iptables-save` / `ip6tables-save` (both concatenated are fine): text, not JSON.
    IptablesSave,
    /// `nft -j list ruleset` (or `nft -j list table …`).
    NftRuleset,
}

impl Format {
    /// The command whose output this is, for messages.
    pub fn command(self) -> &'static str {
        match self {
            Self::AwsSecurityGroups => "aws ec2 describe-security-groups",
            Self::AwsSecurityGroupRules => "aws ec2 describe-security-group-rules",
            Self::AwsNetworkAcls => "aws ec2 describe-network-acls",
            Self::GcpFirewallRules => "gcloud compute firewall-rules list --format=json",
            Self::AzureNsg => "az network nsg show",
            Self::IptablesSave => "iptables-save",
            Self::NftRuleset => "nft -j list ruleset",
        }
    }
}

/// How the records sit in the document: under the command's wrapper key, as a bare list
/// (`--query SecurityGroups`, `gcloud … list`), or as a single record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Wrapped,
    List,
    Single,
    /// A bare list of Azure rules (`az network nsg rule list`), without their NSG.
    RuleList,
}

/// Parses the output of any supported command, detecting which from the JSON's shape.
///
/// Returns every rule set in it: all security groups, all network ACLs, one set per GCP
/// network, one per NSG. `name_hint` (a file name or label) is kept as each set's `origin`.
pub fn parse_rules(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    // iptables-save is text: recognised by its own lines before anything expects JSON.
    if let Some(t) = iptables_text(text)? {
        return iptables::iptables_save(t, name_hint);
    }
    let text = prepare(text)?;
    let (format, layout) = detect(text)?;
    parse_as(text, format, layout, name_hint)
}

fn parse_as(
    text: &str,
    format: Format,
    layout: Layout,
    origin: &str,
) -> Result<Vec<RuleSet>, RulesError> {
    match format {
        Format::AwsSecurityGroups => aws::security_groups(text, layout, origin),
        Format::AwsSecurityGroupRules => aws::security_group_rules(text, layout, origin),
        Format::AwsNetworkAcls => aws_nacl::network_acls(text, layout, origin),
        Format::GcpFirewallRules => gcp::firewall_rules(text, layout, origin),
        Format::AzureNsg => azure::nsgs(text, layout, origin),
        Format::IptablesSave => iptables::iptables_save(text, origin),
        Format::NftRuleset => nft::ruleset(text, origin),
    }
}

/// The entry point of one format: the common checks, then the format must be `want`.
pub(crate) fn parse_expecting(
    text: &str,
    want: Format,
    origin: &str,
) -> Result<Vec<RuleSet>, RulesError> {
    if let Some(t) = iptables_text(text)? {
        if want == Format::IptablesSave {
            return iptables::iptables_save(t, origin);
        }
        return Err(RulesError::unknown_format(
            t,
            format!(
                "this is the output of `iptables-save`, not of `{}`",
                want.command()
            ),
        ));
    }
    let text = prepare(text)?;
    let (format, layout) = detect(text)?;
    if format != want {
        return Err(RulesError::unknown_format(
            text,
            format!(
                "this is the output of `{}`, not of `{}`",
                format.command(),
                want.command()
            ),
        ));
    }
    parse_as(text, format, layout, origin)
}

/// Which supported format `text` is, from its shape alone.
pub fn detect_format(text: &str) -> Result<Format, RulesError> {
    if iptables_text(text)?.is_some() {
        return Ok(Format::IptablesSave);
    }
    let text = prepare(text)?;
    detect(text).map(|(f, _)| f)
}

/// `text` without its byte-order mark when it is `iptables-save` output (checking the size
/// first); `None` when it is not.
pub(crate) fn iptables_text(text: &str) -> Result<Option<&str>, RulesError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(RulesError::too_large(text.len(), MAX_INPUT_BYTES));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Ok(iptables::looks_like(text).then_some(text))
}

/// The checks every entry point makes first: size, byte-order mark, looks like JSON.
pub(crate) fn prepare(text: &str) -> Result<&str, RulesError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(RulesError::too_large(text.len(), MAX_INPUT_BYTES));
    }
    // PowerShell's redirection writes a BOM; serde_json rejects it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match text.bytes().position(|b| !b.is_ascii_whitespace()) {
        None => Err(RulesError::unknown_format(text, "the input is empty")),
        Some(i) if !matches!(text.as_bytes()[i], b'{' | b'[') => {
            // Near misses of the host formats say which command to run instead.
            Err(iptables::near_miss(text)
                .or_else(|| nft::near_miss(text))
                .unwrap_or_else(|| RulesError::not_json(text, i)))
        }
        Some(_) => Ok(text),
    }
}

/// Detects the format and layout; the shape check also surfaces JSON syntax errors.
pub(crate) fn detect(text: &str) -> Result<(Format, Layout), RulesError> {
    let shape: Shape = serde_json::from_str(text)
        .map_err(|e| RulesError::from_serde(text, &e, "a supported command"))?;
    let has = |keys: &Keys, names: &[&str]| {
        names
            .iter()
            .any(|n| keys.keys.iter().chain(&keys.props).any(|k| k == n))
    };
    match shape {
        Shape::Object(k) => {
            if has(&k, &["nftables"]) {
                Ok((Format::NftRuleset, Layout::Wrapped))
            } else if has(&k, &["SecurityGroups"]) {
                Ok((Format::AwsSecurityGroups, Layout::Wrapped))
            } else if has(&k, &["SecurityGroupRules"]) {
                Ok((Format::AwsSecurityGroupRules, Layout::Wrapped))
            } else if has(&k, &["NetworkAcls"]) {
                Ok((Format::AwsNetworkAcls, Layout::Wrapped))
            } else if has(&k, &["IpPermissions", "IpPermissionsEgress"]) {
                Ok((Format::AwsSecurityGroups, Layout::Single))
            } else if has(&k, &["Entries"]) && has(&k, &["NetworkAclId"]) {
                Ok((Format::AwsNetworkAcls, Layout::Single))
            } else if has(&k, &["securityRules", "defaultSecurityRules"]) {
                Ok((Format::AzureNsg, Layout::Single))
            } else if k.items_firewall {
                Ok((Format::GcpFirewallRules, Layout::Wrapped))
            } else if is_gcp_rule(&k) {
                Ok((Format::GcpFirewallRules, Layout::Single))
            } else {
                Err(RulesError::unknown_format(text, unknown_object_message(&k)))
            }
        }
        Shape::Array(None) => Err(RulesError::unknown_format(
            text,
            "the list is empty: there are no rules to load (gcloud and az print `[]` when \
             the project or resource group has none)",
        )),
        Shape::Array(Some(k)) => {
            if has(&k, &["IpPermissions", "IpPermissionsEgress"]) {
                Ok((Format::AwsSecurityGroups, Layout::List))
            } else if has(&k, &["SecurityGroupRuleId", "IsEgress"]) {
                Ok((Format::AwsSecurityGroupRules, Layout::List))
            } else if has(&k, &["Entries"]) {
                Ok((Format::AwsNetworkAcls, Layout::List))
            } else if has(&k, &["securityRules", "defaultSecurityRules"]) {
                Ok((Format::AzureNsg, Layout::List))
            } else if has(&k, &["access"]) && has(&k, &["direction"]) {
                Ok((Format::AzureNsg, Layout::RuleList))
            } else if is_gcp_rule(&k) {
                Ok((Format::GcpFirewallRules, Layout::List))
            } else {
                Err(RulesError::unknown_format(
                    text,
                    format!(
                        "a list of objects with keys {}: not the output of a supported command",
                        key_list(&k.keys)
                    ),
                ))
            }
        }
        Shape::Scalar => Err(RulesError::unknown_format(
            text,
            "a single JSON value, not the output of a supported command",
        )),
    }
}

fn is_gcp_rule(k: &Keys) -> bool {
    k.kind.as_deref() == Some("compute#firewall")
        || k.keys.iter().any(|x| x == "allowed" || x == "denied")
}

fn key_list(keys: &[String]) -> String {
    let mut shown: Vec<String> = keys.iter().take(6).map(|k| format!("\"{k}\"")).collect();
    if keys.len() > 6 {
        shown.push("…".to_owned());
    }
    if shown.is_empty() {
        "(none)".to_owned()
    } else {
        shown.join(", ")
    }
}

/// Names the command a document came from when it is a near miss, so the person knows
/// which command to run instead.
fn unknown_object_message(k: &Keys) -> String {
    let near = [
        ("Reservations", "aws ec2 describe-instances"),
        ("NetworkInterfaces", "aws ec2 describe-network-interfaces"),
        ("Subnets", "aws ec2 describe-subnets"),
        ("Vpcs", "aws ec2 describe-vpcs"),
        ("LoadBalancers", "aws elbv2 describe-load-balancers"),
    ];
    for (key, command) in near {
        if k.keys.iter().any(|x| x == key) {
            return format!(
                "this is the output of `{command}`, which lists no rules: take the group \
                 or ACL ids from it and run the matching describe command"
            );
        }
    }
    format!(
        "an object with keys {}: not the output of a supported command",
        key_list(&k.keys)
    )
}

/// The keys of an object, the keys of its `properties` (Azure REST form), its `kind`, and
/// whether `items` holds GCP firewall rules (the REST list form).
#[derive(Debug, Default)]
struct Keys {
    keys: Vec<String>,
    props: Vec<String>,
    kind: Option<String>,
    items_firewall: bool,
}

/// Just enough of a document's shape to tell the formats apart, read in one pass that
/// skips every value below the second level.
#[derive(Debug)]
enum Shape {
    Object(Keys),
    /// The keys of the first element, `None` when empty.
    Array(Option<Keys>),
    Scalar,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object or list")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
                Ok(Shape::Object(read_keys(map)?))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let first = seq.next_element::<KeysOf>()?.map(|k| k.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Shape::Array(first))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Scalar)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Scalar)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Scalar)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Scalar)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Scalar)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
                Ok(Shape::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

fn read_keys<'de, A: MapAccess<'de>>(mut map: A) -> Result<Keys, A::Error> {
    let mut keys = Keys::default();
    while let Some(k) = map.next_key::<String>()? {
        match k.as_str() {
            "properties" => keys.props = map.next_value::<KeysOf>()?.0.keys,
            "kind" => keys.kind = map.next_value::<StrOrIgnore>()?.0,
            "items" => {
                let first = map.next_value::<FirstKeys>()?.0;
                keys.items_firewall = first.as_ref().is_some_and(is_gcp_rule);
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        keys.keys.push(k);
    }
    Ok(keys)
}

/// The keys of a value if it is an object; nothing otherwise.
struct KeysOf(Keys);

impl<'de> Deserialize<'de> for KeysOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeysOf;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeysOf, A::Error> {
                Ok(KeysOf(read_keys(map)?))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeysOf, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KeysOf(Keys::default()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeysOf, E> {
                Ok(KeysOf(Keys::default()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeysOf, E> {
                Ok(KeysOf(Keys::default()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeysOf, E> {
                Ok(KeysOf(Keys::default()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeysOf, E> {
                Ok(KeysOf(Keys::default()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<KeysOf, E> {
                Ok(KeysOf(Keys::default()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeysOf, E> {
                Ok(KeysOf(Keys::default()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of the first element of a list (GCP's REST `items`).
struct FirstKeys(Option<Keys>);

impl<'de> Deserialize<'de> for FirstKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Shape::deserialize(d)? {
            Shape::Array(first) => Ok(FirstKeys(first)),
            _ => Ok(FirstKeys(None)),
        }
    }
}

/// A string value, or nothing for any other type.
struct StrOrIgnore(Option<String>);

impl<'de> Deserialize<'de> for StrOrIgnore {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(StrOrIgnore(Some(s))),
            _ => Ok(StrOrIgnore(None)),
        }
    }
}
