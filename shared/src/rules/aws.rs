//! AWS security groups from `aws ec2 describe-security-groups` and
//! `aws ec2 describe-security-group-rules` JSON.
//!
//! Field names and meanings follow the EC2 API reference (`IpPermission`,
//! `SecurityGroupRule`): `IpProtocol` is `tcp`/`udp`/`icmp`/`icmpv6`, a protocol number, or
//! `-1` for all; for ICMP, `FromPort` is the type and `ToPort` the code, `-1` meaning all;
//! `-1` or a protocol other than tcp/udp/icmp/icmpv6 allows every port whatever the range.
//! Sources are IPv4/IPv6 ranges, prefix lists and security-group references; the last two
//! are kept as references, since their members are not in this JSON.

use serde::Deserialize;

use super::error::RulesError;
use super::locate::{path_string, Seg};
use super::model::{
    Action, Cidr, Direction, Peer, PortMatch, PortRange, Protocol, Rule, RuleSet, RuleSetKind,
};
use super::{parse_expecting, Format, Layout};

const SG_COMMAND: &str = "aws ec2 describe-security-groups";
const SGR_COMMAND: &str = "aws ec2 describe-security-group-rules";

/// Parses `aws ec2 describe-security-groups` output (or its `SecurityGroups` list, or one
/// group): one [`RuleSet`] per group, inbound then outbound rules, one rule per source.
pub fn parse_security_groups(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    parse_expecting(text, Format::AwsSecurityGroups, name_hint)
}

/// Parses `aws ec2 describe-security-group-rules` output: one [`RuleSet`] per `GroupId`, in
/// the order the groups first appear.
pub fn parse_security_group_rules(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    parse_expecting(text, Format::AwsSecurityGroupRules, name_hint)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeSecurityGroups {
    security_groups: Vec<SecurityGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroup {
    group_id: String,
    group_name: Option<String>,
    vpc_id: Option<String>,
    ip_permissions: Option<Vec<IpPermission>>,
    ip_permissions_egress: Option<Vec<IpPermission>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpPermission {
    ip_protocol: String,
    from_port: Option<i64>,
    to_port: Option<i64>,
    ip_ranges: Option<Vec<IpRange>>,
    ipv6_ranges: Option<Vec<Ipv6Range>>,
    prefix_list_ids: Option<Vec<PrefixListId>>,
    user_id_group_pairs: Option<Vec<UserIdGroupPair>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpRange {
    cidr_ip: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipv6Range {
    cidr_ipv6: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PrefixListId {
    prefix_list_id: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserIdGroupPair {
    group_id: Option<String>,
    group_name: Option<String>,
    user_id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeSecurityGroupRules {
    security_group_rules: Vec<SecurityGroupRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroupRule {
    security_group_rule_id: Option<String>,
    group_id: String,
    is_egress: Option<bool>,
    ip_protocol: String,
    from_port: Option<i64>,
    to_port: Option<i64>,
    cidr_ipv4: Option<String>,
    cidr_ipv6: Option<String>,
    prefix_list_id: Option<String>,
    referenced_group_info: Option<ReferencedGroupInfo>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReferencedGroupInfo {
    group_id: Option<String>,
    user_id: Option<String>,
}

/// The path of record `i` for the layout the document uses.
fn record_path(layout: Layout, wrapper: &str, i: usize) -> Vec<Seg> {
    match layout {
        Layout::Wrapped => vec![Seg::key(wrapper), Seg::Idx(i)],
        Layout::List | Layout::RuleList => vec![Seg::Idx(i)],
        Layout::Single => Vec::new(),
    }
}

fn child(path: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.extend_from_slice(more);
    p
}

/// `-1` (all), a name, or a protocol number, as the EC2 API writes `IpProtocol` (NACLs
/// write numbers; the CLI accepts names for both).
pub(crate) fn parse_protocol(s: &str) -> Result<Protocol, String> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "-1" | "all" => Ok(Protocol::All),
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "icmp" => Ok(Protocol::Icmp),
        "icmpv6" => Ok(Protocol::Icmpv6),
        n => n.parse::<u8>().map(Protocol::from_number).map_err(|_| {
            format!(
                "unknown protocol \"{t}\" (expected tcp, udp, icmp, icmpv6, -1 or a protocol \
                 number 0-255)"
            )
        }),
    }
}

/// A port (0–65535) from a JSON number.
pub(crate) fn port(n: i64, what: &str) -> Result<u16, String> {
    u16::try_from(n).map_err(|_| format!("{what} {n} is not a port (0-65535)"))
}

/// An ICMP type or code: `-1` = all, else 0–255.
pub(crate) fn icmp_field(n: i64, what: &str) -> Result<Option<u8>, String> {
    if n == -1 {
        return Ok(None);
    }
    u8::try_from(n)
        .map(Some)
        .map_err(|_| format!("ICMP {what} {n} is out of range (-1 for all, or 0-255)"))
}

/// Which ports a permission covers, with the field at fault on error.
fn permission_ports(
    protocol: Protocol,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<PortMatch, (&'static str, String)> {
    match protocol {
        Protocol::Tcp | Protocol::Udp => match (from, to) {
            (None, None) => Ok(PortMatch::Any),
            (f, t) => {
                let f = f.or(t).unwrap_or(0);
                let t = t.unwrap_or(f);
                // The console writes "all ports" as -1 too.
                if f == -1 && t == -1 {
                    return Ok(PortMatch::Any);
                }
                let from = port(f, "FromPort").map_err(|m| ("FromPort", m))?;
                let to = port(t, "ToPort").map_err(|m| ("ToPort", m))?;
                if to < from {
                    return Err(("ToPort", format!("ToPort {to} is below FromPort {from}")));
                }
                Ok(PortMatch::ports(vec![PortRange::new(from, to)]))
            }
        },
        Protocol::Icmp | Protocol::Icmpv6 => {
            let icmp_type = match from {
                None => None,
                Some(f) => icmp_field(f, "type").map_err(|m| ("FromPort", m))?,
            };
            // With all types, the code is meaningless (AWS requires -1 there too).
            let code = match (icmp_type, to) {
                (None, _) | (_, None) => None,
                (Some(_), Some(t)) => icmp_field(t, "code").map_err(|m| ("ToPort", m))?,
            };
            Ok(PortMatch::Icmp { icmp_type, code })
        }
        // `-1` and other protocol numbers allow every port, whatever the range says.
        Protocol::All | Protocol::Number(_) => Ok(PortMatch::Any),
    }
}

fn parse_cidr_at(text: &str, path: &[Seg], s: &str, v6: bool) -> Result<Cidr, RulesError> {
    let c: Cidr = s
        .parse()
        .map_err(|m: String| RulesError::at(text, path, format!("\"{s}\" is not a CIDR: {m}")))?;
    if c.is_ipv4() == v6 {
        let want = if v6 { "an IPv6" } else { "an IPv4" };
        return Err(RulesError::at(
            text,
            path,
            format!("\"{s}\" is not {want} CIDR"),
        ));
    }
    Ok(c)
}

/// Builds the rules of one permission (one per source), numbering them from `*counter`.
fn permission_rules(
    text: &str,
    perm: &IpPermission,
    path: &[Seg],
    direction: Direction,
    counter: &mut usize,
    out: &mut Vec<Rule>,
) -> Result<(), RulesError> {
    let protocol = parse_protocol(&perm.ip_protocol)
        .map_err(|m| RulesError::at(text, &child(path, &[Seg::key("IpProtocol")]), m))?;
    let ports = permission_ports(protocol, perm.from_port, perm.to_port)
        .map_err(|(field, m)| RulesError::at(text, &child(path, &[Seg::key(field)]), m))?;
    let base = path_string(path);
    let mut push = |peer: Peer, sub: String, description: Option<String>| {
        *counter += 1;
        let mut r = Rule::new(
            format!("#{counter}"),
            direction,
            Action::Allow,
            protocol,
            ports.clone(),
            vec![peer],
        );
        r.description = description.filter(|d| !d.is_empty());
        r.path = format!("{base}.{sub}");
        out.push(r);
    };
    for (i, r) in perm.ip_ranges.iter().flatten().enumerate() {
        let p = child(
            path,
            &[Seg::key("IpRanges"), Seg::Idx(i), Seg::key("CidrIp")],
        );
        let c = parse_cidr_at(text, &p, &r.cidr_ip, false)?;
        push(
            Peer::cidr(c),
            format!("IpRanges[{i}]"),
            r.description.clone(),
        );
    }
    for (i, r) in perm.ipv6_ranges.iter().flatten().enumerate() {
        let p = child(
            path,
            &[Seg::key("Ipv6Ranges"), Seg::Idx(i), Seg::key("CidrIpv6")],
        );
        let c = parse_cidr_at(text, &p, &r.cidr_ipv6, true)?;
        push(
            Peer::cidr(c),
            format!("Ipv6Ranges[{i}]"),
            r.description.clone(),
        );
    }
    for (i, r) in perm.prefix_list_ids.iter().flatten().enumerate() {
        push(
            Peer::PrefixList {
                id: r.prefix_list_id.clone(),
            },
            format!("PrefixListIds[{i}]"),
            r.description.clone(),
        );
    }
    for (i, r) in perm.user_id_group_pairs.iter().flatten().enumerate() {
        let Some(id) = r.group_id.clone().or_else(|| r.group_name.clone()) else {
            let p = child(path, &[Seg::key("UserIdGroupPairs"), Seg::Idx(i)]);
            return Err(RulesError::at(
                text,
                &p,
                "a security-group reference needs \"GroupId\" (or \"GroupName\")",
            ));
        };
        push(
            Peer::SecurityGroup {
                id,
                owner: r.user_id.clone(),
            },
            format!("UserIdGroupPairs[{i}]"),
            r.description.clone(),
        );
    }
    Ok(())
}

pub(crate) fn security_groups(
    text: &str,
    layout: Layout,
    origin: &str,
) -> Result<Vec<RuleSet>, RulesError> {
    let de = |e: serde_json::Error| RulesError::from_serde(text, &e, SG_COMMAND);
    let groups = match layout {
        Layout::Wrapped => {
            serde_json::from_str::<DescribeSecurityGroups>(text)
                .map_err(de)?
                .security_groups
        }
        Layout::List | Layout::RuleList => {
            serde_json::from_str::<Vec<SecurityGroup>>(text).map_err(de)?
        }
        Layout::Single => vec![serde_json::from_str::<SecurityGroup>(text).map_err(de)?],
    };
    let mut sets = Vec::with_capacity(groups.len());
    for (gi, g) in groups.iter().enumerate() {
        let gpath = record_path(layout, "SecurityGroups", gi);
        let name = g.group_name.clone().unwrap_or_else(|| g.group_id.clone());
        let mut set = RuleSet::new(
            RuleSetKind::AwsSecurityGroup,
            g.group_id.clone(),
            name,
            origin,
        );
        set.network = g.vpc_id.clone();
        for (direction, key, perms) in [
            (Direction::Inbound, "IpPermissions", &g.ip_permissions),
            (
                Direction::Outbound,
                "IpPermissionsEgress",
                &g.ip_permissions_egress,
            ),
        ] {
            let mut counter = 0;
            for (pi, perm) in perms.iter().flatten().enumerate() {
                let ppath = child(&gpath, &[Seg::key(key), Seg::Idx(pi)]);
                permission_rules(text, perm, &ppath, direction, &mut counter, &mut set.rules)?;
            }
        }
        sets.push(set.finish());
    }
    Ok(sets)
}

pub(crate) fn security_group_rules(
    text: &str,
    layout: Layout,
    origin: &str,
) -> Result<Vec<RuleSet>, RulesError> {
    let de = |e: serde_json::Error| RulesError::from_serde(text, &e, SGR_COMMAND);
    let rules = match layout {
        Layout::Wrapped => {
            serde_json::from_str::<DescribeSecurityGroupRules>(text)
                .map_err(de)?
                .security_group_rules
        }
        Layout::List | Layout::RuleList => {
            serde_json::from_str::<Vec<SecurityGroupRule>>(text).map_err(de)?
        }
        Layout::Single => vec![serde_json::from_str::<SecurityGroupRule>(text).map_err(de)?],
    };
    let mut sets: Vec<RuleSet> = Vec::new();
    for (ri, r) in rules.iter().enumerate() {
        let path = record_path(layout, "SecurityGroupRules", ri);
        let at = |field: &str| child(&path, &[Seg::key(field)]);
        let protocol = parse_protocol(&r.ip_protocol)
            .map_err(|m| RulesError::at(text, &at("IpProtocol"), m))?;
        let ports = permission_ports(protocol, r.from_port, r.to_port)
            .map_err(|(field, m)| RulesError::at(text, &at(field), m))?;
        let peer = if let Some(c) = &r.cidr_ipv4 {
            Peer::cidr(parse_cidr_at(text, &at("CidrIpv4"), c, false)?)
        } else if let Some(c) = &r.cidr_ipv6 {
            Peer::cidr(parse_cidr_at(text, &at("CidrIpv6"), c, true)?)
        } else if let Some(id) = &r.prefix_list_id {
            Peer::PrefixList { id: id.clone() }
        } else if let Some(g) = r
            .referenced_group_info
            .as_ref()
            .and_then(|g| g.group_id.clone().map(|id| (id, g.user_id.clone())))
        {
            Peer::SecurityGroup {
                id: g.0,
                owner: g.1,
            }
        } else {
            return Err(RulesError::at(
                text,
                &path,
                "the rule names no source or destination (CidrIpv4, CidrIpv6, PrefixListId \
                 or ReferencedGroupInfo.GroupId)",
            ));
        };
        let direction = if r.is_egress.unwrap_or(false) {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let set_index = match sets.iter().position(|s| s.id == r.group_id) {
            Some(i) => i,
            None => {
                sets.push(RuleSet::new(
                    RuleSetKind::AwsSecurityGroup,
                    r.group_id.clone(),
                    r.group_id.clone(),
                    origin,
                ));
                sets.len() - 1
            }
        };
        let set = &mut sets[set_index];
        let label = r
            .security_group_rule_id
            .clone()
            .unwrap_or_else(|| format!("#{}", set.rules_in(direction).count() + 1));
        let mut rule = Rule::new(label, direction, Action::Allow, protocol, ports, vec![peer]);
        rule.id = r.security_group_rule_id.clone();
        rule.description = r.description.clone().filter(|d| !d.is_empty());
        rule.path = path_string(&path);
        set.rules.push(rule);
    }
    // Inbound first, as describe-security-groups lists them; the order within a direction
    // does not matter for a union of allows, so the input order is kept.
    Ok(sets
        .into_iter()
        .map(|mut s| {
            s.rules.sort_by_key(|r| r.direction == Direction::Outbound);
            s.finish()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RulesErrorKind;

    const TWO_GROUPS: &str = r#"{
  "SecurityGroups": [
    {
      "GroupId": "sg-0a1b2c3d4e5f60001",
      "GroupName": "api-lb",
      "VpcId": "vpc-0123456789abcdef0",
      "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "198.51.100.0/24", "Description": "office"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "-1",
         "UserIdGroupPairs": [{"GroupId": "sg-0fff", "UserId": "123456789012"}],
         "PrefixListIds": [{"PrefixListId": "pl-0abc"}]}
      ],
      "IpPermissionsEgress": [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
      ]
    },
    {"GroupId": "sg-2", "GroupName": "empty", "IpPermissions": [], "IpPermissionsEgress": []}
  ]
}"#;

    #[test]
    fn groups_become_one_rule_per_source() {
        let sets = parse_security_groups(TWO_GROUPS, "sg.json").expect("parses");
        assert_eq!(sets.len(), 2);
        let s = &sets[0];
        assert_eq!(
            (s.id.as_str(), s.name.as_str()),
            ("sg-0a1b2c3d4e5f60001", "api-lb")
        );
        assert_eq!(s.network.as_deref(), Some("vpc-0123456789abcdef0"));
        let lines: Vec<String> = s.rules.iter().map(|r| r.one_line(s.kind)).collect();
        assert_eq!(
            lines,
            [
                "allow tcp/443 from 198.51.100.0/24 (\"office\")",
                "allow icmp type 8 from 10.0.0.0/8",
                "allow all traffic from prefix list pl-0abc",
                "allow all traffic from security group sg-0fff",
                "allow all traffic to 0.0.0.0/0",
                "allow all traffic to ::/0",
            ]
        );
        assert_eq!(
            s.rules[0].path,
            "SecurityGroups[0].IpPermissions[0].IpRanges[0]"
        );
        assert_eq!(s.rules[4].position, 4);
        assert!(sets[1].rules.is_empty());
    }

    #[test]
    fn bare_list_and_single_group_are_accepted() {
        let list = r#"[{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "192.0.2.1/32"}]}]}]"#;
        let sets = parse_security_groups(list, "l").expect("list");
        assert_eq!(sets[0].rules[0].protocol, Protocol::Tcp);
        assert_eq!(sets[0].rules[0].path, "[0].IpPermissions[0].IpRanges[0]");
        let single = r#"{"GroupId": "sg-1", "IpPermissions": []}"#;
        assert_eq!(parse_security_groups(single, "s").expect("single").len(), 1);
    }

    #[test]
    fn bad_values_name_their_field() {
        let bad = r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
  {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 70, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}"#;
        let e = parse_security_groups(bad, "x").expect_err("range");
        assert_eq!(e.kind, RulesErrorKind::InvalidField);
        assert_eq!(e.path, "SecurityGroups[0].IpPermissions[0].ToPort");
        assert_eq!(e.message, "ToPort 70 is below FromPort 80");
        assert_eq!(e.line, Some(2));

        let bad = r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
  {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "Ipv6Ranges": [{"CidrIpv6": "10.0.0.0/8"}]}]}]}"#;
        let e = parse_security_groups(bad, "x").expect_err("family");
        assert_eq!(
            e.path,
            "SecurityGroups[0].IpPermissions[0].Ipv6Ranges[0].CidrIpv6"
        );
        assert!(e.message.contains("not an IPv6 CIDR"), "{e}");

        let bad = r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcpp"}]}]}"#;
        let e = parse_security_groups(bad, "x").expect_err("proto");
        assert_eq!(e.path, "SecurityGroups[0].IpPermissions[0].IpProtocol");
    }

    #[test]
    fn security_group_rules_group_by_group_id() {
        let text = r#"{"SecurityGroupRules": [
  {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-a", "IsEgress": false, "IpProtocol": "tcp",
   "FromPort": 443, "ToPort": 443, "CidrIpv4": "198.51.100.0/24"},
  {"SecurityGroupRuleId": "sgr-2", "GroupId": "sg-a", "IsEgress": true, "IpProtocol": "-1",
   "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0"},
  {"SecurityGroupRuleId": "sgr-3", "GroupId": "sg-b", "IsEgress": false, "IpProtocol": "tcp",
   "FromPort": 5432, "ToPort": 5432, "ReferencedGroupInfo": {"GroupId": "sg-a", "UserId": "1"}},
  {"SecurityGroupRuleId": "sgr-4", "GroupId": "sg-a", "IsEgress": false, "IpProtocol": "icmpv6",
   "FromPort": -1, "ToPort": -1, "CidrIpv6": "2001:db8::/32"}
]}"#;
        let sets = parse_security_group_rules(text, "r").expect("parses");
        assert_eq!(sets.len(), 2);
        let a = &sets[0];
        let labels: Vec<&str> = a.rules.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["sgr-1", "sgr-4", "sgr-2"]);
        assert_eq!(
            a.rules[1].ports,
            PortMatch::Icmp {
                icmp_type: None,
                code: None
            }
        );
        assert!(matches!(
            sets[1].rules[0].peers[0],
            Peer::SecurityGroup { .. }
        ));
    }
}
