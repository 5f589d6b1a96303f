//! Azure network security groups from `az network nsg show` (also `nsg list` and
//! `nsg rule list`) JSON.
//!
//! The CLI flattens each rule (`"priority": 100` at the rule's top level); the REST API and
//! ARM templates nest the same fields under `properties`. Both are read. Rules are
//! evaluated by ascending priority and the first match wins; the six default rules
//! (65000–65500) are read from `defaultSecurityRules` when present and added otherwise,
//! marked `implicit`.
//!
//! Addresses may be `*`, CIDRs, single addresses or service tags. The evaluator resolves
//! `Internet`, `VirtualNetwork` and `AzureLoadBalancer` as far as it honestly can and
//! reports any other tag as unknown.

use serde::Deserialize;

use super::error::RulesError;
use super::gcp::parse_port_range;
use super::locate::{path_string, Seg};
use super::model::{
    short_id, Action, Cidr, Direction, Peer, PortMatch, PortRange, Protocol, Rule, RuleSet,
    RuleSetKind,
};
use super::{parse_expecting, Format, Layout};

const COMMAND: &str = "az network nsg show";

/// Parses `az network nsg show` output (one NSG), `az network nsg list` (several) or
/// `az network nsg rule list` (the rules of one NSG, without its defaults).
pub fn parse_nsgs(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    parse_expecting(text, Format::AzureNsg, name_hint)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Nsg {
    name: Option<String>,
    id: Option<String>,
    resource_group: Option<String>,
    security_rules: Option<Vec<AzRule>>,
    default_security_rules: Option<Vec<AzRule>>,
    properties: Option<NsgProperties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NsgProperties {
    security_rules: Option<Vec<AzRule>>,
    default_security_rules: Option<Vec<AzRule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AzRule {
    name: Option<String>,
    id: Option<String>,
    /// The REST form: the same fields one level down.
    properties: Option<Box<AzRule>>,
    priority: Option<i64>,
    direction: Option<String>,
    access: Option<String>,
    protocol: Option<String>,
    description: Option<String>,
    source_address_prefix: Option<String>,
    source_address_prefixes: Option<Vec<String>>,
    destination_address_prefix: Option<String>,
    destination_address_prefixes: Option<Vec<String>>,
    source_port_range: Option<String>,
    source_port_ranges: Option<Vec<String>>,
    destination_port_range: Option<String>,
    destination_port_ranges: Option<Vec<String>>,
    source_application_security_groups: Option<Vec<AsgRef>>,
    destination_application_security_groups: Option<Vec<AsgRef>>,
}

#[derive(Deserialize)]
struct AsgRef {
    id: Option<String>,
}

fn with(path: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.extend_from_slice(more);
    p
}

/// The values of a singular field and its plural twin, each with its path.
fn both<'a>(
    path: &[Seg],
    one_key: &str,
    one: &'a Option<String>,
    many_key: &str,
    many: &'a Option<Vec<String>>,
) -> Vec<(&'a str, Vec<Seg>)> {
    let mut v = Vec::new();
    if let Some(s) = one.as_deref().filter(|s| !s.is_empty()) {
        v.push((s, with(path, &[Seg::key(one_key)])));
    }
    for (i, s) in many.iter().flatten().enumerate() {
        v.push((s.as_str(), with(path, &[Seg::key(many_key), Seg::Idx(i)])));
    }
    v
}

fn address(text: &str, s: &str, path: &[Seg]) -> Result<Peer, RulesError> {
    let t = s.trim();
    if t == "*" || t.eq_ignore_ascii_case("any") {
        return Ok(Peer::Any);
    }
    if let Ok(c) = t.parse::<Cidr>() {
        return Ok(Peer::cidr(c));
    }
    // Service tags are letters, digits, dots and dashes (`Storage.WestEurope`,
    // `AzureCloud.eastus2`); anything else is a typo in an address.
    let tag_like = t
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && t.starts_with(|c: char| c.is_ascii_alphabetic());
    if !tag_like {
        return Err(RulesError::at(
            text,
            path,
            format!("\"{t}\" is not an address, a CIDR, `*` or a service tag"),
        ));
    }
    Ok(Peer::AzureServiceTag { tag: t.to_owned() })
}

fn port_ranges(
    text: &str,
    values: &[(&str, Vec<Seg>)],
) -> Result<Option<Vec<PortRange>>, RulesError> {
    let mut ranges = Vec::new();
    for (s, p) in values {
        if s.trim() == "*" {
            return Ok(None);
        }
        ranges.push(parse_port_range(s).map_err(|m| RulesError::at(text, p, m))?);
    }
    Ok((!ranges.is_empty()).then_some(ranges))
}

fn required<'a>(
    text: &str,
    path: &[Seg],
    value: &'a Option<String>,
    field: &str,
) -> Result<&'a str, RulesError> {
    value
        .as_deref()
        .ok_or_else(|| RulesError::at(text, path, format!("missing field \"{field}\"")))
}

/// One rule (flat CLI form or REST form with `properties`), read field by field.
fn rule(text: &str, r: &AzRule, path: &[Seg], implicit: bool) -> Result<Rule, RulesError> {
    let (e, fpath) = match &r.properties {
        Some(p) => (p.as_ref(), with(path, &[Seg::key("properties")])),
        None => (r, path.to_vec()),
    };
    let f = Fields {
        text,
        e,
        fpath: &fpath,
    };
    let name = r
        .name
        .clone()
        .or_else(|| e.name.clone())
        .unwrap_or_else(|| path_string(path));
    let priority = f.priority(implicit)?;
    let direction = f.direction()?;
    let action = f.action()?;
    let protocol = f.protocol()?;
    let ports = f.ports(protocol)?;
    let source_ports = f.source_ports(protocol)?;
    let (peers, local, applies_to) = f.sides(direction)?;
    let mut out = Rule::new(name, direction, action, protocol, ports, peers);
    out.id = r.id.clone().or_else(|| e.id.clone());
    out.priority = Some(priority);
    // `*` on the local side restricts nothing.
    out.local = if local.contains(&Peer::Any) {
        Vec::new()
    } else {
        local
    };
    out.applies_to = applies_to;
    out.source_ports = source_ports;
    out.implicit = implicit;
    out.description = e.description.clone().filter(|d| !d.is_empty());
    out.path = path_string(path);
    Ok(out)
}

/// A rule's addresses sorted by role: (peers, local side, target ASGs).
type Sides = (Vec<Peer>, Vec<Peer>, Vec<Peer>);

/// A rule's fields (`e`) at `fpath` in `text`, for errors that point at the field.
struct Fields<'a> {
    text: &'a str,
    e: &'a AzRule,
    fpath: &'a [Seg],
}

impl Fields<'_> {
    fn at(&self, field: &str) -> Vec<Seg> {
        with(self.fpath, &[Seg::key(field)])
    }

    fn priority(&self, implicit: bool) -> Result<u32, RulesError> {
        // Custom rules take 100-4096; the defaults sit at 65000-65500.
        let allowed = if implicit { 0..=65535 } else { 100..=4096 };
        match self.e.priority {
            None => Err(RulesError::at(
                self.text,
                self.fpath,
                "missing field \"priority\"",
            )),
            Some(p) => u32::try_from(p)
                .ok()
                .filter(|p| allowed.contains(p))
                .ok_or_else(|| {
                    RulesError::at(
                        self.text,
                        &self.at("priority"),
                        format!(
                            "priority {p} is outside {}-{}",
                            allowed.start(),
                            allowed.end()
                        ),
                    )
                }),
        }
    }

    fn direction(&self) -> Result<Direction, RulesError> {
        let direction_text = required(self.text, self.fpath, &self.e.direction, "direction")?;
        match direction_text.to_ascii_lowercase().as_str() {
            "inbound" => Ok(Direction::Inbound),
            "outbound" => Ok(Direction::Outbound),
            _ => {
                let other = direction_text;
                Err(RulesError::at(
                    self.text,
                    &self.at("direction"),
                    format!("direction \"{other}\" is neither \"Inbound\" nor \"Outbound\""),
                ))
            }
        }
    }

    fn action(&self) -> Result<Action, RulesError> {
        let access_text = required(self.text, self.fpath, &self.e.access, "access")?;
        match access_text.to_ascii_lowercase().as_str() {
            "allow" => Ok(Action::Allow),
            "deny" => Ok(Action::Deny),
            _ => {
                let other = access_text;
                Err(RulesError::at(
                    self.text,
                    &self.at("access"),
                    format!("access \"{other}\" is neither \"Allow\" nor \"Deny\""),
                ))
            }
        }
    }

    fn protocol(&self) -> Result<Protocol, RulesError> {
        let protocol_text = self.e.protocol.as_deref().unwrap_or("*");
        match protocol_text.to_ascii_lowercase().as_str() {
            "*" | "any" => Ok(Protocol::All),
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "icmp" => Ok(Protocol::Icmp),
            "esp" => Ok(Protocol::Number(50)),
            "ah" => Ok(Protocol::Number(51)),
            _ => {
                let other = protocol_text;
                Err(RulesError::at(
                    self.text,
                    &self.at("protocol"),
                    format!("protocol \"{other}\" is not one of *, Tcp, Udp, Icmp, Esp, Ah"),
                ))
            }
        }
    }

    /// The destination ports, as far as the protocol has any.
    fn ports(&self, protocol: Protocol) -> Result<PortMatch, RulesError> {
        let e = self.e;
        let dports = both(
            self.fpath,
            "destinationPortRange",
            &e.destination_port_range,
            "destinationPortRanges",
            &e.destination_port_ranges,
        );
        Ok(if protocol.has_ports() {
            match port_ranges(self.text, &dports)? {
                None => PortMatch::Any,
                Some(r) => PortMatch::ports(r),
            }
        } else if protocol.is_icmp() {
            PortMatch::Icmp {
                icmp_type: None,
                code: None,
            }
        } else {
            PortMatch::Any
        })
    }

    /// The source ports; `None` when they restrict nothing.
    fn source_ports(&self, protocol: Protocol) -> Result<Option<Vec<PortRange>>, RulesError> {
        let e = self.e;
        let sports = both(
            self.fpath,
            "sourcePortRange",
            &e.source_port_range,
            "sourcePortRanges",
            &e.source_port_ranges,
        );
        Ok(if protocol == Protocol::All || protocol.has_ports() {
            port_ranges(self.text, &sports)?.filter(|r| !r.iter().any(|x| x.is_all()))
        } else {
            None
        })
    }

    fn addresses(
        &self,
        one_key: &str,
        one: &Option<String>,
        many_key: &str,
        many: &Option<Vec<String>>,
    ) -> Result<Vec<Peer>, RulesError> {
        both(self.fpath, one_key, one, many_key, many)
            .into_iter()
            .map(|(s, p)| address(self.text, s, &p))
            .collect::<Result<Vec<_>, _>>()
    }

    /// Which side is the peer depends on the direction. No peer at all means any.
    fn sides(&self, direction: Direction) -> Result<Sides, RulesError> {
        let e = self.e;
        let asgs = |list: &Option<Vec<AsgRef>>| -> Vec<Peer> {
            list.iter()
                .flatten()
                .filter_map(|a| a.id.clone())
                .map(|id| Peer::AzureAsg { id })
                .collect()
        };
        let sources = self.addresses(
            "sourceAddressPrefix",
            &e.source_address_prefix,
            "sourceAddressPrefixes",
            &e.source_address_prefixes,
        )?;
        let destinations = self.addresses(
            "destinationAddressPrefix",
            &e.destination_address_prefix,
            "destinationAddressPrefixes",
            &e.destination_address_prefixes,
        )?;
        let source_asgs = asgs(&e.source_application_security_groups);
        let destination_asgs = asgs(&e.destination_application_security_groups);
        let (mut peers, local, applies_to) = match direction {
            Direction::Inbound => (
                [sources, source_asgs].concat(),
                destinations,
                destination_asgs,
            ),
            Direction::Outbound => (
                [destinations, destination_asgs].concat(),
                sources,
                source_asgs,
            ),
        };
        if peers.is_empty() {
            peers.push(Peer::Any);
        }
        Ok((peers, local, applies_to))
    }
}

/// Azure's six default rules, as `az network nsg show` lists them.
fn default_rules() -> Vec<Rule> {
    let tag = |t: &str| Peer::AzureServiceTag { tag: t.to_owned() };
    let mut v = Vec::new();
    for (name, priority, direction, action, peer, local) in [
        (
            "AllowVnetInBound",
            65000,
            Direction::Inbound,
            Action::Allow,
            tag("VirtualNetwork"),
            Some(tag("VirtualNetwork")),
        ),
        (
            "AllowAzureLoadBalancerInBound",
            65001,
            Direction::Inbound,
            Action::Allow,
            tag("AzureLoadBalancer"),
            None,
        ),
        (
            "DenyAllInBound",
            65500,
            Direction::Inbound,
            Action::Deny,
            Peer::Any,
            None,
        ),
        (
            "AllowVnetOutBound",
            65000,
            Direction::Outbound,
            Action::Allow,
            tag("VirtualNetwork"),
            Some(tag("VirtualNetwork")),
        ),
        (
            "AllowInternetOutBound",
            65001,
            Direction::Outbound,
            Action::Allow,
            tag("Internet"),
            None,
        ),
        (
            "DenyAllOutBound",
            65500,
            Direction::Outbound,
            Action::Deny,
            Peer::Any,
            None,
        ),
    ] {
        let mut r = Rule::new(
            name,
            direction,
            action,
            Protocol::All,
            PortMatch::Any,
            vec![peer],
        );
        r.priority = Some(priority);
        r.local = local.into_iter().collect();
        r.implicit = true;
        v.push(r);
    }
    v
}

/// The resource group named in an Azure resource id (`/resourceGroups/<rg>/…`).
fn resource_group_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
        }
    }
    None
}

/// The NSG named in a rule's resource id (`…/networkSecurityGroups/<nsg>/securityRules/…`).
fn nsg_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("networkSecurityGroups") {
            return parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
        }
    }
    None
}

fn finish(mut set: RuleSet, has_defaults: bool) -> RuleSet {
    if !has_defaults {
        set.rules.extend(default_rules());
    }
    set.rules
        .sort_by_key(|r| (r.direction == Direction::Outbound, r.priority));
    set.finish()
}

fn nsg_set(text: &str, nsg: &Nsg, path: &[Seg], origin: &str) -> Result<RuleSet, RulesError> {
    let name = nsg
        .name
        .clone()
        .or_else(|| nsg.id.as_deref().map(|i| short_id(i).to_owned()))
        .unwrap_or_else(|| origin.to_owned());
    let mut set = RuleSet::new(RuleSetKind::AzureNsg, name.clone(), name, origin);
    set.resource_group = nsg
        .resource_group
        .clone()
        .or_else(|| nsg.id.as_deref().and_then(resource_group_of));
    let (base, rules, defaults) = match &nsg.properties {
        Some(p) if p.security_rules.is_some() || p.default_security_rules.is_some() => (
            with(path, &[Seg::key("properties")]),
            &p.security_rules,
            &p.default_security_rules,
        ),
        _ => (
            path.to_vec(),
            &nsg.security_rules,
            &nsg.default_security_rules,
        ),
    };
    for (key, list, implicit) in [
        ("securityRules", rules, false),
        ("defaultSecurityRules", defaults, true),
    ] {
        for (i, r) in list.iter().flatten().enumerate() {
            let p = with(&base, &[Seg::key(key), Seg::Idx(i)]);
            set.rules.push(rule(text, r, &p, implicit)?);
        }
    }
    let has_defaults = defaults.as_ref().is_some_and(|d| !d.is_empty());
    Ok(finish(set, has_defaults))
}

pub(crate) fn nsgs(text: &str, layout: Layout, origin: &str) -> Result<Vec<RuleSet>, RulesError> {
    let de = |e: serde_json::Error| RulesError::from_serde(text, &e, COMMAND);
    match layout {
        Layout::Single | Layout::Wrapped => {
            let nsg: Nsg = serde_json::from_str(text).map_err(de)?;
            Ok(vec![nsg_set(text, &nsg, &[], origin)?])
        }
        Layout::List => {
            let list: Vec<Nsg> = serde_json::from_str(text).map_err(de)?;
            list.iter()
                .enumerate()
                .map(|(i, n)| nsg_set(text, n, &[Seg::Idx(i)], origin))
                .collect()
        }
        Layout::RuleList => {
            let list: Vec<AzRule> = serde_json::from_str(text).map_err(de)?;
            let first_id = list
                .iter()
                .find_map(|r| r.id.clone().or_else(|| r.properties.as_ref()?.id.clone()));
            let name = first_id
                .as_deref()
                .and_then(nsg_of)
                .unwrap_or_else(|| origin.to_owned());
            let mut set = RuleSet::new(RuleSetKind::AzureNsg, name.clone(), name, origin);
            set.resource_group = first_id.as_deref().and_then(resource_group_of);
            for (i, r) in list.iter().enumerate() {
                set.rules.push(rule(text, r, &[Seg::Idx(i)], false)?);
            }
            Ok(vec![finish(set, false)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = r#"{
  "name": "api-nsg",
  "id": "/subscriptions/0000/resourceGroups/shop-rg/providers/Microsoft.Network/networkSecurityGroups/api-nsg",
  "resourceGroup": "shop-rg",
  "securityRules": [
    {"name": "AllowHttpsOffice", "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
     "sourceAddressPrefix": "198.51.100.0/24", "sourceAddressPrefixes": [], "sourcePortRange": "*",
     "destinationAddressPrefix": "*", "destinationPortRange": "443", "destinationPortRanges": []},
    {"name": "AllowFromStorage", "priority": 200, "direction": "Inbound", "access": "Allow", "protocol": "*",
     "sourceAddressPrefix": "Storage.WestEurope", "destinationAddressPrefix": "10.1.0.4",
     "sourcePortRange": "*", "destinationPortRanges": ["8080", "9000-9010"]}
  ]
}"#;

    #[test]
    fn flat_cli_form_with_defaults_added() {
        let sets = parse_nsgs(SHOW, "nsg.json").expect("parses");
        let s = &sets[0];
        assert_eq!(s.resource_group.as_deref(), Some("shop-rg"));
        let lines: Vec<String> = s.rules.iter().map(|r| r.one_line(s.kind)).collect();
        assert_eq!(
            lines,
            [
                "AllowHttpsOffice (priority 100): allow tcp/443 from 198.51.100.0/24",
                "AllowFromStorage (priority 200): allow all traffic from service tag Storage.WestEurope to 10.1.0.4/32",
                "AllowVnetInBound (priority 65000): allow all traffic from service tag VirtualNetwork to service tag VirtualNetwork [default]",
                "AllowAzureLoadBalancerInBound (priority 65001): allow all traffic from service tag AzureLoadBalancer [default]",
                "DenyAllInBound (priority 65500): deny all traffic from any address [default]",
                "AllowVnetOutBound (priority 65000): allow all traffic to service tag VirtualNetwork from service tag VirtualNetwork [default]",
                "AllowInternetOutBound (priority 65001): allow all traffic to service tag Internet [default]",
                "DenyAllOutBound (priority 65500): deny all traffic to any address [default]",
            ]
        );
    }

    #[test]
    fn rest_form_and_rule_list_are_read() {
        let rest = r#"{"name": "n", "id": "/subscriptions/1/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/n",
  "properties": {"securityRules": [{"name": "r1", "properties": {"priority": 130, "direction": "Inbound",
    "access": "Deny", "protocol": "Udp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
    "destinationAddressPrefix": "*", "destinationPortRange": "53"}}]}}"#;
        let s = &parse_nsgs(rest, "x").expect("rest")[0];
        assert_eq!(s.resource_group.as_deref(), Some("rg1"));
        assert_eq!(s.rules[0].path, "properties.securityRules[0]");
        assert_eq!(
            s.rules[0].one_line(s.kind),
            "r1 (priority 130): deny udp/53 from any address"
        );

        let list = r#"[{"name": "r1", "id": "/subscriptions/1/resourceGroups/rg2/providers/Microsoft.Network/networkSecurityGroups/web-nsg/securityRules/r1",
  "priority": 300, "direction": "Inbound", "access": "Allow", "protocol": "Icmp", "sourceAddressPrefix": "Internet",
  "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}]"#;
        let s = &parse_nsgs(list, "x").expect("rule list")[0];
        assert_eq!(
            (s.id.as_str(), s.resource_group.as_deref()),
            ("web-nsg", Some("rg2"))
        );
        assert_eq!(s.rules.len(), 7);
    }

    #[test]
    fn bad_fields_are_located() {
        let bad = SHOW.replace(
            "\"destinationPortRange\": \"443\"",
            "\"destinationPortRange\": \"https\"",
        );
        let e = parse_nsgs(&bad, "x").expect_err("port");
        assert_eq!(e.path, "securityRules[0].destinationPortRange");
        assert_eq!(e.line, Some(8));
        let bad = SHOW.replace("\"198.51.100.0/24\"", "\"198.51.100.0/24 \"");
        assert!(
            parse_nsgs(&bad, "x").is_ok(),
            "surrounding space is tolerated"
        );
        let bad = SHOW.replace("\"198.51.100.0/24\"", "\"198.51.100.0/40\"");
        let e = parse_nsgs(&bad, "x").expect_err("cidr");
        assert_eq!(e.path, "securityRules[0].sourceAddressPrefix");
    }
}
