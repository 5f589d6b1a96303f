//! The smallest rule that admits a refused question, as the provider's CLI command and as
//! the API's JSON.
//!
//! "Smallest" means the one address (/32 or /128), the one protocol and port, and a
//! position that takes effect: below the number or priority of the rule that refused it
//! (any free slot before that rule works, since nothing before it matched). Every value
//! copied from the input into a command is shell-quoted, because rule files come from
//! elsewhere and a pasted command must not do more than it says.

use serde_json::json;

use super::eval::{NearestKind, NearestRule, Question, RuleFix, EPHEMERAL_PORTS};
use super::model::{Cidr, Direction, PortRange, Protocol, Provider, RuleSet, RuleSetKind};

/// Shell quoting, shared with the healthcheck fixes.
pub(crate) use crate::diagnosis::health_fix::sh_quote;

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// What the new rule must admit: the question's traffic, or its reply.
struct Want {
    direction: Direction,
    protocol: Protocol,
    /// tcp/udp destination ports.
    ports: Option<PortRange>,
    /// ICMP type/code (`None` = all).
    icmp: Option<(Option<u8>, Option<u8>)>,
    remote: Cidr,
    reply: bool,
}

impl Want {
    fn of(q: &Question) -> Self {
        Self {
            direction: q.direction,
            protocol: q.protocol,
            ports: q.port.map(PortRange::single),
            icmp: q
                .protocol
                .is_icmp()
                .then_some((q.icmp_type, q.icmp_code.filter(|_| q.icmp_type.is_some()))),
            remote: Cidr::host(q.source),
            reply: false,
        }
    }

    fn reply(q: &Question, direction: Direction) -> Self {
        let mut w = Self::of(q);
        w.direction = direction;
        w.reply = true;
        match q.protocol {
            p if p.has_ports() => w.ports = Some(EPHEMERAL_PORTS),
            Protocol::Icmp => w.icmp = Some((Some(0), None)),
            Protocol::Icmpv6 => w.icmp = Some((Some(129), None)),
            _ => w.ports = None,
        }
        w
    }

    /// `tcp/443`, `tcp/1024-65535`, `icmp type 0`.
    fn traffic(&self) -> String {
        match (self.protocol, self.ports, self.icmp) {
            (p, Some(r), _) => format!("{p}/{r}"),
            (p, None, Some((Some(t), _))) => format!("{p} type {t}"),
            (p, _, _) => p.to_string(),
        }
    }

    fn what(&self) -> String {
        let role = if self.reply { "replies" } else { "traffic" };
        let prep = match self.direction {
            Direction::Inbound => "from",
            Direction::Outbound => "to",
        };
        format!("{} {} {prep} {}", self.traffic(), role, self.remote)
    }
}

/// The rule to add for one refusing layer.
pub(crate) fn for_layer(
    sets: &[&RuleSet],
    kind: RuleSetKind,
    members: &[usize],
    deciding: &[(usize, usize)],
    reply_refused: Option<&(Direction, Vec<PortRange>)>,
    q: &Question,
    nearest: &[NearestRule],
) -> Vec<RuleFix> {
    let deny_priority = deciding
        .first()
        .and_then(|&(si, pos)| sets.get(si)?.rules.get(pos))
        .and_then(|r| r.priority);
    match kind {
        RuleSetKind::AwsSecurityGroup => {
            // Add to the group that already admits this traffic from elsewhere, if any.
            let preferred = nearest
                .iter()
                .find(|n| n.kind == NearestKind::OtherSource && n.rule.set_kind == kind)
                .and_then(|n| {
                    members
                        .iter()
                        .map(|&i| sets[i])
                        .find(|s| s.id == n.rule.set_id)
                });
            let set = preferred.or_else(|| members.first().map(|&i| sets[i]));
            set.map(|s| aws_sg(s, &Want::of(q))).into_iter().collect()
        }
        RuleSetKind::AwsNetworkAcl => {
            let Some(set) = members.first().map(|&i| sets[i]) else {
                return Vec::new();
            };
            let want = match reply_refused {
                Some((dir, _)) => Want::reply(q, *dir),
                None => Want::of(q),
            };
            vec![aws_nacl(set, &want, deny_priority)]
        }
        RuleSetKind::GcpFirewall => members
            .first()
            .map(|&i| gcp(sets[i], &Want::of(q), q, deny_priority))
            .into_iter()
            .collect(),
        RuleSetKind::AzureNsg => members
            .first()
            .map(|&i| azure(sets[i], &Want::of(q), deny_priority))
            .into_iter()
            .collect(),
        // Host firewall fixes are written by eval's host layer (`iptables`/`nft` commands).
        RuleSetKind::HostFirewall => Vec::new(),
    }
}

fn aws_sg(set: &RuleSet, w: &Want) -> RuleFix {
    let mut perm = serde_json::Map::new();
    perm.insert(
        "IpProtocol".into(),
        json!(match w.protocol {
            Protocol::Number(n) => n.to_string(),
            p => p.to_string(),
        }),
    );
    if let Some(r) = w.ports {
        perm.insert("FromPort".into(), json!(r.from));
        perm.insert("ToPort".into(), json!(r.to));
    } else if let Some((t, c)) = w.icmp {
        perm.insert("FromPort".into(), json!(t.map_or(-1, i32::from)));
        perm.insert("ToPort".into(), json!(c.map_or(-1, i32::from)));
    }
    let description = format!("Vantage {}", w.traffic()).replace('/', " ");
    if w.remote.is_ipv4() {
        perm.insert(
            "IpRanges".into(),
            json!([{ "CidrIp": w.remote.to_string(), "Description": description }]),
        );
    } else {
        perm.insert(
            "Ipv6Ranges".into(),
            json!([{ "CidrIpv6": w.remote.to_string(), "Description": description }]),
        );
    }
    let perms = serde_json::Value::Array(vec![serde_json::Value::Object(perm)]);
    let verb = match w.direction {
        Direction::Inbound => "authorize-security-group-ingress",
        Direction::Outbound => "authorize-security-group-egress",
    };
    RuleFix {
        set_id: set.id.clone(),
        provider: Provider::Aws,
        description: format!(
            "Allow {} in security group {}. It admits only this address: for an endpoint \
             that phones and browsers call directly, the address changes with the network.",
            w.what(),
            set.id
        ),
        command: format!(
            "aws ec2 {verb} --group-id {} --ip-permissions {}",
            sh_quote(&set.id),
            sh_quote(&perms.to_string())
        ),
        json: pretty(&perms),
    }
}

/// A free number in `lo..hi` for a new rule in `direction`, preferring multiples of 10 just
/// below `hi` (or, when `hi` is the provider's final rule, just after the last rule).
fn free_slot(
    set: &RuleSet,
    direction: Direction,
    lo: u32,
    hi: u32,
    after_last: bool,
) -> Option<u32> {
    let mut used: Vec<u32> = set
        .rules_in(direction)
        .filter(|r| !r.implicit)
        .filter_map(|r| r.priority)
        .collect();
    used.sort_unstable();
    let free = |n: u32| (lo..hi).contains(&n) && used.binary_search(&n).is_err();
    if after_last {
        let last = used
            .iter()
            .copied()
            .filter(|&n| n < hi)
            .max()
            .unwrap_or(lo.saturating_sub(10).max(90));
        let next = (last / 10 + 1) * 10;
        if free(next) {
            return Some(next);
        }
    }
    let top = hi.saturating_sub(1);
    (lo..=top)
        .rev()
        .filter(|n| n % 10 == 0)
        .find(|&n| free(n))
        .or_else(|| (lo..=top).rev().find(|&n| free(n)))
}

fn aws_nacl(set: &RuleSet, w: &Want, deny: Option<u32>) -> RuleFix {
    let deny = deny.unwrap_or(super::aws_nacl::DEFAULT_RULE_NUMBER);
    let implicit = deny >= super::aws_nacl::DEFAULT_RULE_NUMBER;
    let number = free_slot(
        set,
        w.direction,
        1,
        deny.min(super::aws_nacl::MAX_RULE_NUMBER + 1),
        implicit,
    );
    let proto_num = w.protocol.number().map_or(-1, i32::from);
    let mut entry = serde_json::Map::new();
    entry.insert("NetworkAclId".into(), json!(set.id));
    entry.insert(
        "RuleNumber".into(),
        number.map_or_else(|| json!("<rule-number>"), |n| json!(n)),
    );
    entry.insert("Protocol".into(), json!(proto_num.to_string()));
    entry.insert("RuleAction".into(), json!("allow"));
    entry.insert("Egress".into(), json!(w.direction == Direction::Outbound));
    let cidr_key = if w.remote.is_ipv4() {
        "CidrBlock"
    } else {
        "Ipv6CidrBlock"
    };
    entry.insert(cidr_key.into(), json!(w.remote.to_string()));
    let mut args = vec![
        format!("--network-acl-id {}", sh_quote(&set.id)),
        match w.direction {
            Direction::Inbound => "--ingress".to_owned(),
            Direction::Outbound => "--egress".to_owned(),
        },
        format!(
            "--rule-number {}",
            number.map_or_else(|| "'<rule-number>'".to_owned(), |n| n.to_string())
        ),
        format!("--protocol {proto_num}"),
    ];
    if let Some(r) = w.ports {
        entry.insert("PortRange".into(), json!({ "From": r.from, "To": r.to }));
        args.push(format!("--port-range From={},To={}", r.from, r.to));
    }
    if let Some((t, c)) = w.icmp {
        let (t, c) = (t.map_or(-1, i32::from), c.map_or(-1, i32::from));
        entry.insert("IcmpTypeCode".into(), json!({ "Type": t, "Code": c }));
        args.push(format!("--icmp-type-code Type={t},Code={c}"));
    }
    args.push(if w.remote.is_ipv4() {
        format!("--cidr-block {}", w.remote)
    } else {
        format!("--ipv6-cidr-block {}", w.remote)
    });
    args.push("--rule-action allow".to_owned());
    let why = if w.reply {
        "the ACL is stateless, so the reply needs its own rule"
    } else {
        "rules are evaluated by ascending number"
    };
    let description =
        match number {
            Some(n) => {
                format!(
            "Allow {} in network ACL {} as rule {n}, before rule {} that refuses it ({why}).",
            w.what(),
            set.id,
            if implicit { "*".to_owned() } else { deny.to_string() },
        )
            }
            None => format!(
                "No rule number is free before rule {deny} of {}: renumber or narrow rule {deny} \
             instead, then put the new rule before it.",
                set.id
            ),
        };
    RuleFix {
        set_id: set.id.clone(),
        provider: Provider::Aws,
        description,
        command: format!("aws ec2 create-network-acl-entry {}", args.join(" ")),
        json: pretty(&serde_json::Value::Object(entry)),
    }
}

/// A GCP resource name: lowercase letters, digits and dashes, at most 63 characters.
fn gcp_name(parts: &str) -> String {
    let mut s: String = parts
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let mut s: String = s.chars().take(63).collect();
    while s.ends_with('-') {
        s.pop();
    }
    s
}

fn gcp(set: &RuleSet, w: &Want, q: &Question, deny: Option<u32>) -> RuleFix {
    let implied = deny.is_none_or(|p| p >= super::gcp::IMPLIED_PRIORITY);
    let priority = if implied {
        Some(super::gcp::DEFAULT_PRIORITY)
    } else {
        // Strictly lower: at equal priority the deny would still win.
        deny.and_then(|p| p.checked_sub(1))
    };
    let proto = match w.protocol {
        Protocol::Number(n) => n.to_string(),
        p => p.to_string(),
    };
    let rules_arg = match w.ports {
        Some(r) => format!("{proto}:{r}"),
        None => proto.clone(),
    };
    let name = gcp_name(&format!(
        "allow-{}-{}",
        rules_arg.replace(':', "-"),
        w.remote.addr
    ));
    let (dir, range_flag, range_key) = match w.direction {
        Direction::Inbound => ("INGRESS", "--source-ranges", "sourceRanges"),
        Direction::Outbound => ("EGRESS", "--destination-ranges", "destinationRanges"),
    };
    let target_tag = q.destination.as_ref().and_then(|t| t.tags.first());
    let mut args = vec![
        sh_quote(&name),
        format!("--network={}", sh_quote(&set.id)),
        format!("--direction={dir}"),
        "--action=ALLOW".to_owned(),
        format!("--rules={}", sh_quote(&rules_arg)),
        format!("{range_flag}={}", w.remote),
        format!(
            "--priority={}",
            priority.map_or_else(|| "'<priority>'".to_owned(), |p| p.to_string())
        ),
    ];
    let mut resource = json!({
        "name": name,
        "network": set.network.clone().unwrap_or_else(|| set.id.clone()),
        "direction": dir,
        "priority": priority.map_or_else(|| json!("<priority>"), |p| json!(p)),
        "allowed": [match w.ports {
            Some(r) => json!({ "IPProtocol": proto, "ports": [r.to_string()] }),
            None => json!({ "IPProtocol": proto }),
        }],
        range_key: [w.remote.to_string()],
    });
    if let Some(tag) = target_tag {
        args.push(format!("--target-tags={}", sh_quote(tag)));
        resource["targetTags"] = json!([tag]);
    }
    let description = match priority {
        Some(p) => format!(
            "Allow {} in network {} at priority {p}{}.",
            w.what(),
            set.id,
            if implied {
                " (any priority below the implied 65535 works)".to_owned()
            } else {
                format!(", above the deny rule at priority {}", deny.unwrap_or(0))
            }
        ),
        None => format!(
            "A deny rule at priority 0 refuses it in network {}: nothing can come before it; \
             narrow or remove that rule instead.",
            set.id
        ),
    };
    RuleFix {
        set_id: set.id.clone(),
        provider: Provider::Gcp,
        description,
        command: format!("gcloud compute firewall-rules create {}", args.join(" ")),
        json: pretty(&resource),
    }
}

fn azure(set: &RuleSet, w: &Want, deny: Option<u32>) -> RuleFix {
    const CUSTOM_MIN: u32 = 100;
    const CUSTOM_MAX: u32 = 4096;
    let deny = deny.unwrap_or(65500);
    let default_rule = deny > CUSTOM_MAX;
    let priority = free_slot(
        set,
        w.direction,
        CUSTOM_MIN,
        deny.min(CUSTOM_MAX + 1),
        default_rule,
    );
    let protocol = match w.protocol {
        Protocol::Tcp => "Tcp",
        Protocol::Udp => "Udp",
        Protocol::Icmp | Protocol::Icmpv6 => "Icmp",
        Protocol::Number(50) => "Esp",
        Protocol::Number(51) => "Ah",
        _ => "*",
    };
    let ports = w.ports.map_or_else(|| "*".to_owned(), |r| r.to_string());
    let name: String = format!("Allow-{}-{}-{}", protocol, ports, w.remote.addr)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let (dir, remote_flag, local_flag, remote_key, local_key) = match w.direction {
        Direction::Inbound => (
            "Inbound",
            "--source-address-prefixes",
            "--destination-address-prefixes",
            "sourceAddressPrefix",
            "destinationAddressPrefix",
        ),
        Direction::Outbound => (
            "Outbound",
            "--destination-address-prefixes",
            "--source-address-prefixes",
            "destinationAddressPrefix",
            "sourceAddressPrefix",
        ),
    };
    let rg = set
        .resource_group
        .clone()
        .unwrap_or_else(|| "<resource-group>".to_owned());
    let p = priority.map_or_else(|| "'<priority>'".to_owned(), |p| p.to_string());
    let args = [
        format!("--resource-group {}", sh_quote(&rg)),
        format!("--nsg-name {}", sh_quote(&set.id)),
        format!("--name {}", sh_quote(&name)),
        format!("--priority {p}"),
        format!("--direction {dir}"),
        "--access Allow".to_owned(),
        format!("--protocol {protocol}"),
        format!("{remote_flag} {}", w.remote),
        "--source-port-ranges '*'".to_owned(),
        format!("{local_flag} '*'"),
        format!("--destination-port-ranges {}", sh_quote(&ports)),
    ];
    let mut props = serde_json::Map::new();
    props.insert(
        "priority".into(),
        priority.map_or_else(|| json!("<priority>"), |p| json!(p)),
    );
    props.insert("direction".into(), json!(dir));
    props.insert("access".into(), json!("Allow"));
    props.insert("protocol".into(), json!(protocol));
    props.insert(remote_key.into(), json!(w.remote.to_string()));
    props.insert("sourcePortRange".into(), json!("*"));
    props.insert(local_key.into(), json!("*"));
    props.insert("destinationPortRange".into(), json!(ports));
    let rule = json!({ "name": name, "properties": props });
    let description = match priority {
        Some(p) => format!(
            "Allow {} in NSG {} at priority {p}, before {} that refuses it (lowest priority \
             number wins){}.",
            w.what(),
            set.id,
            if default_rule {
                format!("the default rule at {deny}")
            } else {
                format!("the deny rule at priority {deny}")
            },
            if set.resource_group.is_none() {
                "; fill in the resource group"
            } else {
                ""
            }
        ),
        None => format!(
            "Nothing fits before the deny rule at priority {deny} in NSG {}: custom priorities \
             start at 100 and none is free below it. Renumber or narrow that rule instead, then \
             put the new rule before it.",
            set.id
        ),
    };
    RuleFix {
        set_id: set.id.clone(),
        provider: Provider::Azure,
        description,
        command: format!("az network nsg rule create {}", args.join(" ")),
        json: pretty(&rule),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_values_and_neutralises_the_rest() {
        assert_eq!(sh_quote("sg-0123"), "sg-0123");
        assert_eq!(sh_quote("203.0.113.7/32"), "203.0.113.7/32");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("x'; rm -rf ~; '"), "'x'\\''; rm -rf ~; '\\'''");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn gcp_names_are_valid_resource_names() {
        assert_eq!(
            gcp_name("allow-tcp-443-203.0.113.7"),
            "allow-tcp-443-203-0-113-7"
        );
        assert_eq!(
            gcp_name("allow-tcp-443-2001:db8::1"),
            "allow-tcp-443-2001-db8-1"
        );
        assert!(gcp_name(&"x".repeat(100)).len() <= 63);
    }
}
