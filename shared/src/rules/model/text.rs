//! The readable forms of rules, as the consoles print them: `allow tcp/443 from
//! 198.51.100.0/24 ("office")`, `100: deny all traffic from 0.0.0.0/0`. The dashboard and
//! every verdict sentence use them.

use super::{Direction, Peer, PortMatch, PortRange, Protocol, Rule, RuleSetKind};

impl Rule {
    /// `tcp/443`, `tcp/8000-8100`, `udp/53,123`, `icmp type 8`, `all traffic`.
    pub fn traffic(&self) -> String {
        traffic_text(self.protocol, &self.ports)
    }

    /// The readable one-line form, e.g. `allow tcp/443 from 198.51.100.0/24 ("office")`,
    /// `100: deny all traffic from 0.0.0.0/0`, `deny-ssh (priority 900): deny tcp/22 from
    /// 0.0.0.0/0 to tag bastion`.
    pub fn one_line(&self, kind: RuleSetKind) -> String {
        if let (RuleSetKind::HostFirewall, Some(h)) = (kind, &self.host) {
            // The rule as its tool prints it is what people search their config for.
            return h.text.clone();
        }
        let mut s = String::new();
        match kind {
            RuleSetKind::AwsSecurityGroup => {}
            RuleSetKind::AwsNetworkAcl => {
                s.push_str(&self.label);
                s.push_str(": ");
            }
            RuleSetKind::GcpFirewall | RuleSetKind::AzureNsg | RuleSetKind::HostFirewall => {
                s.push_str(&self.label);
                if let Some(p) = self.priority {
                    s.push_str(&format!(" (priority {p})"));
                }
                s.push_str(": ");
            }
        }
        if self.disabled {
            s.push_str("[disabled] ");
        }
        s.push_str(self.action.as_str());
        s.push(' ');
        s.push_str(&self.traffic());
        s.push_str(match self.direction {
            Direction::Inbound => " from ",
            Direction::Outbound => " to ",
        });
        s.push_str(&peers_text(&self.peers));
        if let Some(ranges) = &self.source_ports {
            s.push_str(" source ports ");
            s.push_str(&ranges_text(ranges));
        }
        if !self.local.is_empty() {
            s.push_str(match self.direction {
                Direction::Inbound => " to ",
                Direction::Outbound => " from ",
            });
            s.push_str(&peers_text(&self.local));
        }
        if !self.applies_to.is_empty() {
            s.push_str(" on ");
            s.push_str(&peers_text(&self.applies_to));
        }
        if let Some(d) = self.description.as_deref().filter(|d| !d.is_empty()) {
            s.push_str(&format!(" (\"{d}\")"));
        }
        if self.implicit {
            s.push_str(" [default]");
        }
        s
    }
}

pub(crate) fn ranges_text(ranges: &[PortRange]) -> String {
    ranges
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn peers_text(peers: &[Peer]) -> String {
    if peers.is_empty() {
        return "nowhere".to_owned();
    }
    peers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `tcp/443`, `icmp type 8 code 0`, `all traffic`, `proto 47`.
pub(crate) fn traffic_text(protocol: Protocol, ports: &PortMatch) -> String {
    match (protocol, ports) {
        (Protocol::All, _) => "all traffic".to_owned(),
        (p, PortMatch::Any) if p.has_ports() => format!("{p}/all ports"),
        (p, PortMatch::Any) => p.to_string(),
        (p, PortMatch::Ports { ranges }) => format!("{p}/{}", ranges_text(ranges)),
        (p, PortMatch::Icmp { icmp_type, code }) => match (icmp_type, code) {
            (None, _) => p.to_string(),
            (Some(t), None) => format!("{p} type {t}"),
            (Some(t), Some(c)) => format!("{p} type {t} code {c}"),
        },
    }
}
