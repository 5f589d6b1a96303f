//! AWS network ACLs from `aws ec2 describe-network-acls` JSON.
//!
//! A network ACL is stateless: entries are evaluated in ascending `RuleNumber`, the first
//! match decides, and the reply to admitted traffic needs its own entry in the other
//! direction (to the client's ephemeral ports). Every ACL ends with the `*` entries that deny
//! everything (AWS lists them as rule 32767 for IPv4 and 32768 for IPv6); we add them when
//! the input left them out, so the evaluator never has to know about them.

use serde::Deserialize;

use super::aws::{icmp_field, parse_protocol, port};
use super::error::RulesError;
use super::locate::{path_string, Seg};
use super::model::{
    Action, Cidr, Direction, Peer, PortMatch, PortRange, Protocol, Rule, RuleSet, RuleSetKind,
};
use super::{parse_expecting, Format, Layout};

const COMMAND: &str = "aws ec2 describe-network-acls";

/// The rule number of the built-in final IPv4 deny, shown as `*`.
pub const DEFAULT_RULE_NUMBER: u32 = 32767;
/// The rule number AWS lists for the built-in final IPv6 deny (also shown as `*`).
pub const DEFAULT_RULE_NUMBER_V6: u32 = 32768;
/// The highest number a person can give a rule.
pub const MAX_RULE_NUMBER: u32 = 32766;

/// Parses `aws ec2 describe-network-acls` output (or its `NetworkAcls` list, or one ACL):
/// one [`RuleSet`] per ACL, rules sorted by direction and rule number, `*` deny included.
pub fn parse_network_acls(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    parse_expecting(text, Format::AwsNetworkAcls, name_hint)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeNetworkAcls {
    network_acls: Vec<NetworkAcl>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkAcl {
    network_acl_id: String,
    vpc_id: Option<String>,
    is_default: Option<bool>,
    entries: Option<Vec<Entry>>,
    associations: Option<Vec<Association>>,
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Association {
    subnet_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    rule_number: i64,
    egress: Option<bool>,
    rule_action: String,
    protocol: String,
    port_range: Option<NaclPortRange>,
    icmp_type_code: Option<IcmpTypeCode>,
    cidr_block: Option<String>,
    ipv6_cidr_block: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NaclPortRange {
    from: Option<i64>,
    to: Option<i64>,
}

#[derive(Deserialize)]
struct IcmpTypeCode {
    #[serde(rename = "Type")]
    icmp_type: Option<i64>,
    #[serde(rename = "Code")]
    code: Option<i64>,
}

fn label(number: u32) -> String {
    if number >= DEFAULT_RULE_NUMBER {
        "*".to_owned()
    } else {
        number.to_string()
    }
}

fn entry_rule(text: &str, e: &Entry, path: &[Seg]) -> Result<Rule, RulesError> {
    let number = entry_number(text, e, path)?;
    let action = entry_action(text, e, path)?;
    let protocol = parse_protocol(&e.protocol)
        .map_err(|m| RulesError::at(text, &field_path(path, "Protocol"), m))?;
    let ports = entry_ports(text, e, path, protocol)?;
    let c = entry_cidr(text, e, path)?;
    let direction = if e.egress.unwrap_or(false) {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let mut rule = Rule::new(
        label(number),
        direction,
        action,
        protocol,
        ports,
        vec![Peer::cidr(c)],
    );
    rule.priority = Some(number);
    rule.implicit = number >= DEFAULT_RULE_NUMBER;
    rule.path = path_string(path);
    Ok(rule)
}

fn field_path(path: &[Seg], field: &str) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg::key(field));
    p
}

fn entry_number(text: &str, e: &Entry, path: &[Seg]) -> Result<u32, RulesError> {
    u32::try_from(e.rule_number)
        .ok()
        .filter(|n| (1..=DEFAULT_RULE_NUMBER_V6).contains(n))
        .ok_or_else(|| {
            RulesError::at(
                text,
                &field_path(path, "RuleNumber"),
                format!(
                    "rule number {} is outside 1-32766 (32767 and 32768 are the built-in `*` \
                     rules)",
                    e.rule_number
                ),
            )
        })
}

fn entry_action(text: &str, e: &Entry, path: &[Seg]) -> Result<Action, RulesError> {
    match e.rule_action.to_ascii_lowercase().as_str() {
        "allow" => Ok(Action::Allow),
        "deny" => Ok(Action::Deny),
        _ => Err(RulesError::at(
            text,
            &field_path(path, "RuleAction"),
            format!(
                "RuleAction \"{}\" is neither \"allow\" nor \"deny\"",
                e.rule_action
            ),
        )),
    }
}

/// TCP/UDP without a PortRange, or ICMP without IcmpTypeCode, cannot be created; if a
/// hand-edited file has one, reading it as "all" is what the entry literally says.
fn entry_ports(
    text: &str,
    e: &Entry,
    path: &[Seg],
    protocol: Protocol,
) -> Result<PortMatch, RulesError> {
    Ok(match protocol {
        Protocol::Tcp | Protocol::Udp => match &e.port_range {
            None => PortMatch::Any,
            Some(r) => port_range_match(text, r, path)?,
        },
        Protocol::Icmp | Protocol::Icmpv6 => match &e.icmp_type_code {
            None => PortMatch::Icmp {
                icmp_type: None,
                code: None,
            },
            Some(tc) => icmp_match(text, tc, path)?,
        },
        Protocol::All | Protocol::Number(_) => PortMatch::Any,
    })
}

fn port_range_match(text: &str, r: &NaclPortRange, path: &[Seg]) -> Result<PortMatch, RulesError> {
    let mut p = field_path(path, "PortRange");
    let from = r.from.unwrap_or(0);
    let to = r.to.unwrap_or(from);
    p.push(Seg::key("From"));
    let f = port(from, "From").map_err(|m| RulesError::at(text, &p, m))?;
    p.pop();
    p.push(Seg::key("To"));
    let t = port(to, "To").map_err(|m| RulesError::at(text, &p, m))?;
    if t < f {
        return Err(RulesError::at(
            text,
            &p,
            format!("PortRange.To {t} is below PortRange.From {f}"),
        ));
    }
    Ok(PortMatch::ports(vec![PortRange::new(f, t)]))
}

fn icmp_match(text: &str, tc: &IcmpTypeCode, path: &[Seg]) -> Result<PortMatch, RulesError> {
    let mut p = field_path(path, "IcmpTypeCode");
    p.push(Seg::key("Type"));
    let icmp_type = match tc.icmp_type {
        None => None,
        Some(t) => icmp_field(t, "type").map_err(|m| RulesError::at(text, &p, m))?,
    };
    p.pop();
    p.push(Seg::key("Code"));
    let code = match (icmp_type, tc.code) {
        (None, _) | (_, None) => None,
        (Some(_), Some(c)) => icmp_field(c, "code").map_err(|m| RulesError::at(text, &p, m))?,
    };
    Ok(PortMatch::Icmp { icmp_type, code })
}

/// The entry's IPv4 block, else its IPv6 one.
fn entry_cidr(text: &str, e: &Entry, path: &[Seg]) -> Result<Cidr, RulesError> {
    let cidr = match (&e.cidr_block, &e.ipv6_cidr_block) {
        (Some(c), _) => (c, "CidrBlock"),
        (None, Some(c)) => (c, "Ipv6CidrBlock"),
        (None, None) => {
            return Err(RulesError::at(
                text,
                path,
                "the entry has neither \"CidrBlock\" nor \"Ipv6CidrBlock\"",
            ))
        }
    };
    cidr.0.parse().map_err(|m: String| {
        RulesError::at(
            text,
            &field_path(path, cidr.1),
            format!("\"{}\" is not a CIDR: {m}", cidr.0),
        )
    })
}

/// The `*` entry for one direction and family, added when the input lacks it.
fn default_deny(direction: Direction, v6: bool) -> Rule {
    let everything = if v6 {
        Cidr::host(std::net::Ipv6Addr::UNSPECIFIED.into())
    } else {
        Cidr::host(std::net::Ipv4Addr::UNSPECIFIED.into())
    };
    let mut r = Rule::new(
        "*",
        direction,
        Action::Deny,
        Protocol::All,
        PortMatch::Any,
        vec![Peer::cidr(Cidr {
            prefix: 0,
            ..everything
        })],
    );
    r.priority = Some(if v6 {
        DEFAULT_RULE_NUMBER_V6
    } else {
        DEFAULT_RULE_NUMBER
    });
    r.implicit = true;
    r
}

pub(crate) fn network_acls(
    text: &str,
    layout: Layout,
    origin: &str,
) -> Result<Vec<RuleSet>, RulesError> {
    let de = |e: serde_json::Error| RulesError::from_serde(text, &e, COMMAND);
    let acls = match layout {
        Layout::Wrapped => {
            serde_json::from_str::<DescribeNetworkAcls>(text)
                .map_err(de)?
                .network_acls
        }
        Layout::List | Layout::RuleList => {
            serde_json::from_str::<Vec<NetworkAcl>>(text).map_err(de)?
        }
        Layout::Single => vec![serde_json::from_str::<NetworkAcl>(text).map_err(de)?],
    };
    let mut sets = Vec::with_capacity(acls.len());
    for (ai, acl) in acls.iter().enumerate() {
        let apath = match layout {
            Layout::Wrapped => vec![Seg::key("NetworkAcls"), Seg::Idx(ai)],
            Layout::List | Layout::RuleList => vec![Seg::Idx(ai)],
            Layout::Single => Vec::new(),
        };
        let tag_name = acl
            .tags
            .iter()
            .flatten()
            .find(|t| t.key == "Name")
            .and_then(|t| t.value.clone());
        let name = tag_name.unwrap_or_else(|| {
            if acl.is_default.unwrap_or(false) {
                "default".to_owned()
            } else {
                acl.network_acl_id.clone()
            }
        });
        let mut set = RuleSet::new(
            RuleSetKind::AwsNetworkAcl,
            acl.network_acl_id.clone(),
            name,
            origin,
        );
        set.network = acl.vpc_id.clone();
        set.associations = acl
            .associations
            .iter()
            .flatten()
            .filter_map(|a| a.subnet_id.clone())
            .collect();
        for (ei, e) in acl.entries.iter().flatten().enumerate() {
            let mut p = apath.clone();
            p.extend([Seg::key("Entries"), Seg::Idx(ei)]);
            set.rules.push(entry_rule(text, e, &p)?);
        }
        for direction in [Direction::Inbound, Direction::Outbound] {
            for v6 in [false, true] {
                let present = set.rules.iter().any(|r| {
                    r.direction == direction
                        && r.implicit
                        && matches!(&r.peers[..], [Peer::Cidr { cidr }] if cidr.is_ipv4() != v6)
                });
                if !present {
                    set.rules.push(default_deny(direction, v6));
                }
            }
        }
        // Inbound first, then by rule number (the v4 `*` is 32767, the v6 one 32768).
        set.rules
            .sort_by_key(|r| (r.direction == Direction::Outbound, r.priority));
        sets.push(set.finish());
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACL: &str = r#"{
  "NetworkAcls": [{
    "NetworkAclId": "acl-0123",
    "VpcId": "vpc-1",
    "IsDefault": false,
    "Associations": [{"NetworkAclAssociationId": "aclassoc-1", "NetworkAclId": "acl-0123", "SubnetId": "subnet-aaa"}],
    "Tags": [{"Key": "Name", "Value": "public-web"}],
    "Entries": [
      {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "6", "PortRange": {"From": 1024, "To": 65535}, "RuleAction": "allow", "RuleNumber": 100},
      {"CidrBlock": "203.0.113.0/24", "Egress": false, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 90},
      {"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "6", "PortRange": {"From": 443, "To": 443}, "RuleAction": "allow", "RuleNumber": 100},
      {"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "1", "IcmpTypeCode": {"Type": 8, "Code": -1}, "RuleAction": "allow", "RuleNumber": 110},
      {"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767}
    ]
  }]
}"#;

    #[test]
    fn entries_sort_by_rule_number_and_gain_the_star_rule() {
        let sets = parse_network_acls(ACL, "acl.json").expect("parses");
        let s = &sets[0];
        assert_eq!(s.name, "public-web");
        assert!(!s.stateful);
        assert_eq!(s.associations, ["subnet-aaa"]);
        let lines: Vec<String> = s.rules.iter().map(|r| r.one_line(s.kind)).collect();
        assert_eq!(
            lines,
            [
                "90: deny all traffic from 203.0.113.0/24",
                "100: allow tcp/443 from 0.0.0.0/0",
                "110: allow icmp type 8 from 0.0.0.0/0",
                "*: deny all traffic from 0.0.0.0/0 [default]",
                "*: deny all traffic from ::/0 [default]",
                "100: allow tcp/1024-65535 to 0.0.0.0/0",
                "*: deny all traffic to 0.0.0.0/0 [default]",
                "*: deny all traffic to ::/0 [default]",
            ]
        );
        // The listed `*` keeps its place in the input; the added ones have none.
        assert_eq!(s.rules[3].path, "NetworkAcls[0].Entries[4]");
        assert_eq!(s.rules[4].path, "");
    }

    #[test]
    fn bad_action_and_rule_number_are_located() {
        let bad = ACL.replace(
            "\"RuleAction\": \"deny\", \"RuleNumber\": 90",
            "\"RuleAction\": \"block\", \"RuleNumber\": 90",
        );
        let e = parse_network_acls(&bad, "x").expect_err("action");
        assert_eq!(e.path, "NetworkAcls[0].Entries[1].RuleAction");
        assert_eq!(e.line, Some(10));
        let bad = ACL.replace("\"RuleNumber\": 110", "\"RuleNumber\": 40000");
        assert!(parse_network_acls(&ACL.replace("32767", "32768"), "x").is_ok());
        let e = parse_network_acls(&bad, "x").expect_err("number");
        assert_eq!(e.path, "NetworkAcls[0].Entries[3].RuleNumber");
    }
}
