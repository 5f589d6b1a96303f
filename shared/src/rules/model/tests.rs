//! Tests of the model: CIDR parsing and matching, protocol numbers, one-line forms.

use super::*;

#[test]
fn cidr_round_trips_as_text_and_matches_by_prefix() {
    let c: Cidr = "198.51.100.0/24".parse().expect("cidr");
    assert!(c.contains("198.51.100.200".parse().expect("ip")));
    assert!(!c.contains("203.0.113.7".parse().expect("ip")));
    assert_eq!(
        serde_json::to_string(&c).expect("json"),
        "\"198.51.100.0/24\""
    );
    let v6: Cidr = "2001:db8::/32".parse().expect("cidr");
    assert!(v6.contains("2001:db8::1".parse().expect("ip")));
    assert!(!v6.contains("198.51.100.1".parse().expect("ip")));
    assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    assert_eq!(
        Cidr::host("::ffff:203.0.113.7".parse().expect("ip")).to_string(),
        "203.0.113.7/32"
    );
}

#[test]
fn protocol_numbers_normalise_to_names() {
    assert_eq!(Protocol::from_number(6), Protocol::Tcp);
    assert_eq!(Protocol::from_number(58), Protocol::Icmpv6);
    assert_eq!(Protocol::from_number(47), Protocol::Number(47));
    assert!(Protocol::All.covers(Protocol::Udp));
    assert!(!Protocol::Tcp.covers(Protocol::Udp));
}

#[test]
fn one_line_forms_read_like_the_consoles() {
    let mut r = Rule::new(
        "#1",
        Direction::Inbound,
        Action::Allow,
        Protocol::Tcp,
        PortMatch::ports(vec![PortRange::single(443)]),
        vec![Peer::cidr("198.51.100.0/24".parse().expect("cidr"))],
    );
    r.description = Some("office".to_owned());
    assert_eq!(
        r.one_line(RuleSetKind::AwsSecurityGroup),
        "allow tcp/443 from 198.51.100.0/24 (\"office\")"
    );
    let mut n = Rule::new(
        "*",
        Direction::Inbound,
        Action::Deny,
        Protocol::All,
        PortMatch::Any,
        vec![Peer::cidr("0.0.0.0/0".parse().expect("cidr"))],
    );
    n.implicit = true;
    assert_eq!(
        n.one_line(RuleSetKind::AwsNetworkAcl),
        "*: deny all traffic from 0.0.0.0/0 [default]"
    );
}
