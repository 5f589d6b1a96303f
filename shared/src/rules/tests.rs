//! Tests across the parsers and the evaluator: the fixture files (`fixtures/valid`,
//! `fixtures/invalid`), the semantics table of each provider, the guest Wi-Fi verdict (docs/incidents.md), and a
//! fuzz-style robustness pass over mutated fixtures.

use std::net::IpAddr;
use std::path::PathBuf;

use super::*;

fn fixtures(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(kind)
}

fn read(kind: &str, name: &str) -> String {
    let path = fixtures(kind).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Our fixtures (other parsers keep theirs in the same directories).
fn ours(kind: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures(kind))
        .expect("fixture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("aws-") || n.starts_with("gcp-") || n.starts_with("azure-"))
        .collect();
    names.sort();
    names
}

fn load(name: &str) -> Vec<RuleSet> {
    parse_rules(&read("valid", name), name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn pick(sets: &[RuleSet], ids: &[&str]) -> Vec<RuleSet> {
    ids.iter()
        .map(|id| {
            sets.iter()
                .find(|s| s.id == *id)
                .unwrap_or_else(|| panic!("no set {id}"))
                .clone()
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn icmp(source: &str, t: u8, code: Option<u8>) -> Question {
    let mut q = Question::new(ip(source), Protocol::Icmp, None);
    q.icmp_type = Some(t);
    q.icmp_code = code;
    q
}

fn target_tags(tags: &[&str]) -> DestinationInfo {
    DestinationInfo {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..DestinationInfo::default()
    }
}

fn destination_address(a: &str) -> DestinationInfo {
    DestinationInfo {
        address: Some(ip(a)),
        ..DestinationInfo::default()
    }
}

/// One row of a semantics table.
struct Case {
    what: &'static str,
    q: Question,
    outcome: Outcome,
    code: ExplanationCode,
}

fn case(what: &'static str, q: Question, outcome: Outcome, code: ExplanationCode) -> Case {
    Case {
        what,
        q,
        outcome,
        code,
    }
}

fn check(sets: &[RuleSet], cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let v = evaluate(sets, &c.q);
        if v.outcome != c.outcome || v.explanation_code != c.code {
            failures.push(format!(
                "{}: expected {} {}, got {} {} — {}\n  {}",
                c.what,
                c.outcome,
                c.code,
                v.outcome,
                v.explanation_code,
                summary(&v),
                v.explanation.replace('\n', "\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Fixtures

#[test]
fn every_valid_fixture_parses_into_the_expected_sets() {
    let expect: &[(&str, Format, usize, usize)] = &[
        // (file, format, sets, rules in the first set)
        (
            "aws-describe-security-groups.json",
            Format::AwsSecurityGroups,
            4,
            6,
        ),
        (
            "aws-describe-security-group-rules.json",
            Format::AwsSecurityGroupRules,
            2,
            3,
        ),
        (
            "aws-describe-network-acls.json",
            Format::AwsNetworkAcls,
            2,
            8,
        ),
        (
            "gcp-firewall-rules-list.json",
            Format::GcpFirewallRules,
            2,
            9,
        ),
        ("azure-nsg-show.json", Format::AzureNsg, 1, 13),
        ("azure-nsg-rest.json", Format::AzureNsg, 1, 9),
        ("azure-nsg-rule-list.json", Format::AzureNsg, 1, 13),
    ];
    let names = ours("valid");
    for (name, format, sets, rules) in expect {
        assert!(names.contains(&(*name).to_owned()), "{name} missing");
        let text = read("valid", name);
        assert_eq!(detect_format(&text).expect(name), *format, "{name}");
        let parsed = load(name);
        assert_eq!(parsed.len(), *sets, "{name}: sets");
        assert_eq!(
            parsed[0].rules.len(),
            *rules,
            "{name}: rules of {}",
            parsed[0].id
        );
        for s in &parsed {
            assert_eq!(s.origin, *name);
            for (i, r) in s.rules.iter().enumerate() {
                assert_eq!(r.position, i, "{name}: positions");
                assert!(
                    r.implicit || !r.path.is_empty(),
                    "{name}: {} has no path",
                    r.label
                );
            }
        }
    }
    assert_eq!(
        names.len(),
        expect.len(),
        "a valid fixture without a row: {names:?}"
    );
}

#[test]
fn fixture_details_survive_parsing() {
    let sgs = load("aws-describe-security-groups.json");
    let app = &sgs[1];
    assert_eq!(app.name, "api-app");
    assert!(app
        .rules
        .iter()
        .any(|r| matches!(&r.peers[0], Peer::SecurityGroup { id, owner }
        if id == "sg-0a1b2c3d4e5f60001" && owner.as_deref() == Some("123456789012"))));
    assert!(app
        .rules
        .iter()
        .any(|r| r.protocol == Protocol::Number(50) && r.ports == PortMatch::Any));
    assert!(sgs[3].rules_in(Direction::Inbound).next().is_none());

    let acls = load("aws-describe-network-acls.json");
    let web = &acls[1];
    assert_eq!(web.name, "public-web");
    assert_eq!(web.associations.len(), 2);
    let stars: Vec<u32> = web
        .rules
        .iter()
        .filter(|r| r.label == "*")
        .filter_map(|r| r.priority)
        .collect();
    // Listed IPv4 `*` entries plus the IPv6 ones this ACL's listing left out.
    assert_eq!(stars, [32767, 32768, 32767, 32768]);

    let gcp = load("gcp-firewall-rules-list.json");
    let prod = &gcp[0];
    assert_eq!(prod.id, "prod");
    assert!(prod
        .rules
        .iter()
        .any(|r| r.disabled && r.label == "allow-https-public"));
    assert_eq!(prod.rules[0].label, "deny-blocklist");

    let nsg = &load("azure-nsg-show.json")[0];
    assert_eq!(nsg.resource_group.as_deref(), Some("shop-rg"));
    assert_eq!(nsg.rules.iter().filter(|r| r.implicit).count(), 6);
    assert_eq!(nsg.rules[0].label, "DenyBlocklist");
    let rest = &load("azure-nsg-rest.json")[0];
    assert_eq!(rest.rules[0].path, "properties.securityRules[1]");
}

/// Where an invalid fixture's error must point: its JSON path, and the text it must find at
/// the reported line and column (`None`: the top of the document).
const INVALID: &[(&str, RulesErrorKind, &str, Option<&str>)] = &[
    (
        "aws-describe-instances.json",
        RulesErrorKind::UnknownFormat,
        "",
        None,
    ),
    (
        "aws-nacl-bad-action.json",
        RulesErrorKind::InvalidField,
        "NetworkAcls[1].Entries[5].RuleAction",
        Some("\"block\""),
    ),
    (
        "aws-nacl-rule-number-string.json",
        RulesErrorKind::InvalidField,
        "NetworkAcls[1].Entries[3].RuleNumber",
        Some("\"130\""),
    ),
    (
        "aws-sg-bad-cidr.json",
        RulesErrorKind::InvalidField,
        "SecurityGroups[1].IpPermissions[3].IpRanges[0].CidrIp",
        Some("\"10.0.0.0/33\""),
    ),
    (
        "aws-sg-fromport-not-a-number.json",
        RulesErrorKind::InvalidField,
        "SecurityGroups[0].IpPermissions[2].FromPort",
        Some("\"eighty\""),
    ),
    (
        "aws-sg-missing-group-id.json",
        RulesErrorKind::InvalidField,
        "SecurityGroups[1]",
        Some("{\n            \"Description\": \"API instances"),
    ),
    (
        "aws-sg-port-range-backwards.json",
        RulesErrorKind::InvalidField,
        "SecurityGroups[0].IpPermissions[1].ToPort",
        Some("79"),
    ),
    (
        "aws-sg-table-output.txt",
        RulesErrorKind::NotJson,
        "",
        Some("-----"),
    ),
    (
        "aws-sg-truncated.json",
        RulesErrorKind::Syntax,
        "SecurityGroups[1]",
        Some("{\n            \"Description\": \"API instances"),
    ),
    (
        "aws-sg-unknown-protocol.json",
        RulesErrorKind::InvalidField,
        "SecurityGroups[1].IpPermissions[3].IpProtocol",
        Some("\"udpp\""),
    ),
    (
        "aws-sgr-rule-without-source.json",
        RulesErrorKind::InvalidField,
        "SecurityGroupRules[2]",
        Some("{\n            \"SecurityGroupRuleId\": \"sgr-0aa11bb22cc33dd03\""),
    ),
    (
        "azure-bad-access.json",
        RulesErrorKind::InvalidField,
        "securityRules[1].access",
        Some("\"Block\""),
    ),
    (
        "azure-bad-address-prefix.json",
        RulesErrorKind::InvalidField,
        "securityRules[0].sourceAddressPrefix",
        Some("\"198.51.100.0/24;10.0.0.0/8\""),
    ),
    (
        "azure-priority-string.json",
        RulesErrorKind::InvalidField,
        "securityRules[3].priority",
        Some("\"130\""),
    ),
    (
        "azure-rest-bad-port.json",
        RulesErrorKind::InvalidField,
        "properties.securityRules[0].properties.destinationPortRange",
        Some("\"443-80\""),
    ),
    (
        "gcp-bad-direction.json",
        RulesErrorKind::InvalidField,
        "[6].direction",
        Some("\"OUTBOUND\""),
    ),
    (
        "gcp-bad-port-range.json",
        RulesErrorKind::InvalidField,
        "[3].allowed[0].ports[2]",
        Some("\"8000-\""),
    ),
    (
        "gcp-priority-out-of-range.json",
        RulesErrorKind::InvalidField,
        "[2].priority",
        Some("70000"),
    ),
    (
        "gcp-trailing-comma.json",
        RulesErrorKind::Syntax,
        "[9].allowed[0].ports",
        Some("]"),
    ),
];

/// 1-based (line, column in characters) of the first occurrence of `needle`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in fixture"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[test]
fn every_invalid_fixture_names_the_field_and_its_position() {
    let names = ours("invalid");
    for name in &names {
        let text = read("invalid", name);
        let e = match parse_rules(&text, name) {
            Ok(_) => panic!("{name} parsed"),
            Err(e) => e,
        };
        let row = INVALID
            .iter()
            .find(|(n, ..)| n == name)
            .unwrap_or_else(|| panic!("{name} has no row in INVALID: {e}"));
        let (_, kind, path, marker) = row;
        assert_eq!(e.kind, *kind, "{name}: {e}");
        assert_eq!(e.path, *path, "{name}: {e}");
        let (line, column) = (e.line.expect("line"), e.column.expect("column"));
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("(line {line}, column {column})")),
            "{shown}"
        );
        if !path.is_empty() {
            assert!(shown.starts_with(path), "{shown}");
        }
        match marker {
            Some(m) => {
                let (l, c) = position_of(&text, m);
                // A syntax error points at the offending character itself.
                if *kind == RulesErrorKind::Syntax && *m == "]" {
                    let at = text
                        .lines()
                        .nth(line - 1)
                        .and_then(|l| l.chars().nth(column - 1));
                    assert_eq!(at, Some(']'), "{name}: {shown}");
                } else {
                    assert_eq!((line, column), (l, c), "{name}: {shown}");
                }
            }
            None => assert_eq!((line, column), (1, 1), "{name}: {shown}"),
        }
        assert!(!e.message.is_empty());
    }
    assert_eq!(names.len(), INVALID.len(), "a row without a fixture");
}

#[test]
fn invalid_messages_read_well() {
    let e = parse_rules(&read("invalid", "aws-sg-fromport-not-a-number.json"), "x")
        .expect_err("invalid");
    assert!(
        e.to_string().starts_with(
            "SecurityGroups[0].IpPermissions[2].FromPort: expected a number, got \"eighty\" (line "
        ),
        "{e}"
    );
    let e = parse_rules(&read("invalid", "aws-describe-instances.json"), "x").expect_err("x");
    assert!(e.message.contains("aws ec2 describe-instances"), "{e}");
    assert!(e
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("describe-security-groups")));
    let e = parse_rules(&read("invalid", "aws-sg-table-output.txt"), "x").expect_err("x");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("--output json")),
        "{e}"
    );
    let e = parse_rules(&read("invalid", "gcp-trailing-comma.json"), "x").expect_err("x");
    assert!(e.message.contains("trailing comma"), "{e}");
    let e = parse_rules(&read("invalid", "azure-bad-access.json"), "x").expect_err("x");
    assert!(e.message.contains("\"Block\""), "{e}");
    let e = parse_rules(&read("invalid", "aws-sg-truncated.json"), "x").expect_err("x");
    assert!(e.message.contains("ends early"), "{e}");
    let e = parse_rules("[]", "x").expect_err("empty");
    assert_eq!(e.kind, RulesErrorKind::UnknownFormat);
    let e = parse_rules("{\"Foo\": 1}", "x").expect_err("unknown");
    assert!(e.message.contains("\"Foo\""), "{e}");
    // One format's entry point refuses another's output, saying which it is.
    let e = gcp::parse_firewall_rules(&read("valid", "azure-nsg-show.json"), "x").expect_err("x");
    assert!(e.message.contains("az network nsg show"), "{e}");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = " ".repeat(MAX_INPUT_BYTES + 1);
    let e = parse_rules(&big, "big").expect_err("too large");
    assert_eq!(e.kind, RulesErrorKind::TooLarge);
    let e = aws::parse_security_groups(&big, "big").expect_err("too large");
    assert_eq!(e.kind, RulesErrorKind::TooLarge);
}

#[test]
fn a_byte_order_mark_is_tolerated() {
    let text = format!("\u{feff}{}", read("valid", "azure-nsg-show.json"));
    assert_eq!(parse_rules(&text, "bom").expect("bom").len(), 1);
}

// ---------------------------------------------------------------------------------------
// Blocked from the guest Wi-Fi (docs/incidents.md)

/// Blocked from the guest Wi-Fi: the phone on the guest network against the load
/// balancer's group.
#[test]
fn guest_wifi_names_the_rule_and_the_fix() {
    let sets = pick(
        &load("aws-describe-security-groups.json"),
        &["sg-0a1b2c3d4e5f60001"],
    );
    let v = evaluate(&sets, &Question::tcp(ip("203.0.113.7"), 443));
    assert_eq!(v.outcome, Outcome::Denied);
    assert_eq!(v.explanation_code, ExplanationCode::EniSgRulesMismatch);
    assert_eq!(
        summary(&v),
        "no inbound rule admits 203.0.113.7 on tcp/443; rules admit only 198.51.100.0/24"
    );
    assert!(v.deciding_rules.is_empty());
    let n = &v.nearest_rules[0];
    assert_eq!(n.kind, eval::NearestKind::OtherSource);
    assert_eq!(
        n.rule.path,
        "SecurityGroups[0].IpPermissions[0].IpRanges[0]"
    );
    assert_eq!(
        n.rule.text,
        "allow tcp/443 from 198.51.100.0/24 (\"office\")"
    );
    let fix = &v.fixes[0];
    assert_eq!(
        fix.command,
        "aws ec2 authorize-security-group-ingress --group-id sg-0a1b2c3d4e5f60001 \
         --ip-permissions '[{\"FromPort\":443,\"IpProtocol\":\"tcp\",\"IpRanges\":[{\"CidrIp\":\
         \"203.0.113.7/32\",\"Description\":\"Vantage tcp 443\"}],\"ToPort\":443}]'"
    );
    let json: serde_json::Value = serde_json::from_str(&fix.json).expect("fix json");
    assert_eq!(json[0]["IpRanges"][0]["CidrIp"], "203.0.113.7/32");
    // The office still gets in, and the row the comparison view shows says so.
    let ok = evaluate(&sets, &Question::tcp(ip("198.51.100.23"), 443));
    assert_eq!(ok.outcome, Outcome::Allowed);
    assert_eq!(
        summary(&ok),
        "allowed: 198.51.100.23 on tcp/443 is admitted by sg-0a1b2c3d4e5f60001 allow tcp/443 \
         from 198.51.100.0/24 (\"office\")"
    );
    let row = eval::to_rules_verdict(&v);
    assert!(!row.admitted);
    assert_eq!(row.source_ip, "203.0.113.7");
    // A dual-stack socket reports the phone as ::ffff:203.0.113.7: same verdict.
    let mapped = evaluate(&sets, &Question::tcp(ip("::ffff:203.0.113.7"), 443));
    assert_eq!(summary(&mapped), summary(&v));
}

#[test]
fn verdicts_serialise_for_the_api() {
    let sets = pick(
        &load("aws-describe-security-groups.json"),
        &["sg-0a1b2c3d4e5f60001"],
    );
    let v = evaluate(&sets, &Question::tcp(ip("203.0.113.7"), 443));
    let json = serde_json::to_value(&v).expect("serialise");
    assert_eq!(json["outcome"], "denied");
    assert_eq!(json["explanation_code"], "ENI_SG_RULES_MISMATCH");
    assert_eq!(json["question"]["source"], "203.0.113.7");
    let back: Verdict = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, v);
    let sets_json = serde_json::to_string(&sets).expect("sets");
    let back: Vec<RuleSet> = serde_json::from_str(&sets_json).expect("sets back");
    assert_eq!(back, sets);
}

// ---------------------------------------------------------------------------------------
// Semantics: AWS security groups (stateful, union of allows, -1 = all ports)

#[test]
fn aws_security_group_semantics() {
    use ExplanationCode as C;
    use Outcome::*;
    let all = load("aws-describe-security-groups.json");
    let lb = pick(&all, &["sg-0a1b2c3d4e5f60001"]);
    check(
        &lb,
        &[
            case(
                "office on 443",
                Question::tcp(ip("198.51.100.9"), 443),
                Allowed,
                C::Allowed,
            ),
            case(
                "guest wifi on 443",
                Question::tcp(ip("203.0.113.7"), 443),
                Denied,
                C::EniSgRulesMismatch,
            ),
            case(
                "office IPv6 on 80",
                Question::tcp(ip("2001:db8:1234::5"), 80),
                Allowed,
                C::Allowed,
            ),
            case(
                "office IPv6 on 443 (v4-only rule)",
                Question::tcp(ip("2001:db8:1234::5"), 443),
                Denied,
                C::EniSgRulesMismatch,
            ),
            case(
                "udp is not tcp",
                Question::udp(ip("198.51.100.9"), 443),
                Denied,
                C::EniSgRulesMismatch,
            ),
            case(
                "icmp 3/4 from anywhere",
                icmp("203.0.113.7", 3, Some(4)),
                Allowed,
                C::Allowed,
            ),
            case(
                "icmp 3/1: other code",
                icmp("203.0.113.7", 3, Some(1)),
                Denied,
                C::EniSgRulesMismatch,
            ),
            case(
                "icmp echo: other type",
                icmp("203.0.113.7", 8, None),
                Denied,
                C::EniSgRulesMismatch,
            ),
            case(
                "icmp 3 without a code",
                icmp("203.0.113.7", 3, None),
                Unknown,
                C::IncompleteQuestion,
            ),
            case(
                "-1 egress: any port out",
                Question::udp(ip("203.0.113.7"), 53).outbound(),
                Allowed,
                C::Allowed,
            ),
            case(
                "tcp without a port",
                Question::new(ip("203.0.113.7"), Protocol::Tcp, None),
                Unknown,
                C::IncompleteQuestion,
            ),
        ],
    );
    let app = pick(&all, &["sg-0a1b2c3d4e5f60002"]);
    check(
        &app,
        &[
            case(
                "SG reference, private source",
                Question::tcp(ip("10.0.5.5"), 8080),
                Unknown,
                C::UnresolvedReference,
            ),
            case(
                "SG reference, public source",
                Question::tcp(ip("203.0.113.7"), 8080),
                Denied,
                C::EniSgRulesMismatch,
            ),
            case(
                "prefix list",
                Question::tcp(ip("203.0.113.7"), 22),
                Unknown,
                C::UnresolvedReference,
            ),
            case(
                "icmpv6 -1/-1 = every type",
                Question::ping(ip("2001:db8::99")),
                Allowed,
                C::Allowed,
            ),
            case(
                "protocol 50 ignores ports",
                Question::new(ip("10.8.3.3"), Protocol::Number(50), None),
                Allowed,
                C::Allowed,
            ),
            case(
                "udp statsd from the VPC",
                Question::udp(ip("10.0.9.9"), 8125),
                Allowed,
                C::Allowed,
            ),
        ],
    );
    let none = pick(&all, &["sg-0a1b2c3d4e5f60004"]);
    check(
        &none,
        &[case(
            "group without inbound rules",
            Question::tcp(ip("10.0.0.1"), 22),
            Denied,
            C::SgHasNoRules,
        )],
    );
    // Groups on one interface are a union: the app group adds nothing for 443, the LB
    // group admits the office.
    let both = pick(&all, &["sg-0a1b2c3d4e5f60001", "sg-0a1b2c3d4e5f60004"]);
    check(
        &both,
        &[
            case(
                "union admits",
                Question::tcp(ip("198.51.100.9"), 443),
                Allowed,
                C::Allowed,
            ),
            case(
                "union refuses",
                Question::tcp(ip("203.0.113.7"), 443),
                Denied,
                C::EniSgRulesMismatch,
            ),
        ],
    );
    // A public source cannot be a member of a referenced group: the verdict says why.
    let v = evaluate(&app, &Question::tcp(ip("203.0.113.7"), 8080));
    assert!(
        v.notes.iter().any(|n| n.contains("public address")),
        "{:?}",
        v.notes
    );
    let v = evaluate(&app, &Question::tcp(ip("203.0.113.7"), 22));
    assert!(summary(&v).starts_with("unknown whether the rules admit 203.0.113.7 on tcp/22: "));
    assert!(v.unknown_reasons[0].reason.contains("pl-0f1e2d3c4b5a69788"));
    // A v6 client against a v4-only rule: the nearest rule says so.
    let v = evaluate(&lb, &Question::tcp(ip("2001:db8:1234::5"), 443));
    assert!(
        v.nearest_rules[0].difference.contains("IPv4 ranges only"),
        "{:?}",
        v.nearest_rules
    );
    assert!(
        v.fixes[0]
            .json
            .contains("\"CidrIpv6\": \"2001:db8:1234::5/128\""),
        "{}",
        v.fixes[0].json
    );
}

// ---------------------------------------------------------------------------------------
// Semantics: AWS network ACLs (stateless, ordered, `*` deny, ephemeral replies)

#[test]
fn aws_network_acl_semantics() {
    use ExplanationCode as C;
    use Outcome::*;
    let acls = load("aws-describe-network-acls.json");
    let web = pick(&acls, &["acl-0a1b2c3d4e5f60002"]);
    check(
        &web,
        &[
            // Replies go only to 32768-65535: a Linux client works, a NAT'd one may not.
            case(
                "443, reply to part of the ephemeral range",
                Question::tcp(ip("203.0.113.7"), 443),
                Unknown,
                C::DependsOnClientPort,
            ),
            case(
                "explicit deny before the allow",
                Question::tcp(ip("192.0.2.9"), 443),
                Denied,
                C::SubnetAclRestriction,
            ),
            case(
                "no entry: the * rule",
                Question::tcp(ip("203.0.113.7"), 22),
                Denied,
                C::SubnetAclRestriction,
            ),
            case(
                "ping and its echo reply",
                Question::ping(ip("203.0.113.7")),
                Allowed,
                C::Allowed,
            ),
            case(
                "IPv6 443, reply to 1024-65535",
                Question::tcp(ip("2001:db8::7"), 443),
                Allowed,
                C::Allowed,
            ),
            case(
                "udp 53 admitted, reply refused",
                Question::udp(ip("10.0.3.3"), 53),
                Denied,
                C::SubnetAclRestriction,
            ),
            case(
                "icmpv6 other type: no reply expected",
                {
                    let mut q = Question::new(ip("2001:db8::7"), Protocol::Icmpv6, None);
                    q.icmp_type = Some(135);
                    q
                },
                Allowed,
                C::Allowed,
            ),
        ],
    );
    let default = pick(&acls, &["acl-0a1b2c3d4e5f60001"]);
    check(
        &default,
        &[case(
            "default ACL admits all",
            Question::tcp(ip("203.0.113.7"), 443),
            Allowed,
            C::Allowed,
        )],
    );

    let v = evaluate(&web, &Question::tcp(ip("192.0.2.9"), 443));
    assert_eq!(
        summary(&v),
        "acl-0a1b2c3d4e5f60002 rule 50 denies 192.0.2.9 on tcp/443: deny all traffic from \
         192.0.2.0/24"
    );
    assert!(
        v.fixes[0].command.contains("--rule-number 40"),
        "{}",
        v.fixes[0].command
    );
    let v = evaluate(&web, &Question::udp(ip("10.0.3.3"), 53));
    assert!(
        summary(&v).starts_with(
            "acl-0a1b2c3d4e5f60002 admits 10.0.3.3 on udp/53, but denies the reply to its \
             ephemeral ports (rule *"
        ),
        "{}",
        summary(&v)
    );
    let fix = &v.fixes[0].command;
    assert!(
        fix.contains("--egress") && fix.contains("--port-range From=1024,To=65535"),
        "{fix}"
    );
    assert!(
        fix.contains("--rule-number 140") && fix.contains("--protocol 17"),
        "{fix}"
    );
    let v = evaluate(&web, &Question::tcp(ip("203.0.113.7"), 443));
    let reason = &v.unknown_reasons[0].reason;
    assert!(
        reason.contains("1024-32767") && reason.contains("32768-60999"),
        "{reason}"
    );
    let v = evaluate(&web, &Question::tcp(ip("203.0.113.7"), 22));
    assert_eq!(v.nearest_rules[0].kind, eval::NearestKind::OtherPort);
    assert!(
        v.fixes[0].command.contains("--ingress --rule-number 160"),
        "{}",
        v.fixes[0].command
    );

    // Order decides: the same two entries, swapped.
    let acl = |first: &str, second: &str| {
        format!(
            r#"{{"NetworkAcls": [{{"NetworkAclId": "acl-t", "Entries": [
  {{"RuleNumber": 100, "Egress": false, "RuleAction": "{first}", "Protocol": "6", "PortRange": {{"From": 443, "To": 443}}, "CidrBlock": "203.0.113.0/24"}},
  {{"RuleNumber": 200, "Egress": false, "RuleAction": "{second}", "Protocol": "-1", "CidrBlock": "0.0.0.0/0"}},
  {{"RuleNumber": 100, "Egress": true, "RuleAction": "allow", "Protocol": "-1", "CidrBlock": "0.0.0.0/0"}}]}}]}}"#
        )
    };
    let deny_first = parse_rules(&acl("deny", "allow"), "t").expect("acl");
    let allow_first = parse_rules(&acl("allow", "deny"), "t").expect("acl");
    let q = Question::tcp(ip("203.0.113.7"), 443);
    assert_eq!(evaluate(&deny_first, &q).outcome, Denied);
    assert_eq!(evaluate(&allow_first, &q).outcome, Allowed);
    assert_eq!(
        evaluate(&deny_first, &Question::tcp(ip("198.51.100.1"), 443)).outcome,
        Allowed
    );

    // Security group and ACL together: both must admit.
    let sgs = load("aws-describe-security-groups.json");
    let mut layered = pick(&sgs, &["sg-0a1b2c3d4e5f60001"]);
    layered.extend(pick(&acls, &["acl-0a1b2c3d4e5f60001"]));
    check(
        &layered,
        &[
            case(
                "SG admits, default ACL admits",
                Question::tcp(ip("198.51.100.9"), 443),
                Allowed,
                C::Allowed,
            ),
            case(
                "SG refuses",
                Question::tcp(ip("203.0.113.7"), 443),
                Denied,
                C::EniSgRulesMismatch,
            ),
        ],
    );
    let mut layered = pick(&sgs, &["sg-0a1b2c3d4e5f60001"]);
    layered.extend(web.clone());
    let v = evaluate(&layered, &Question::tcp(ip("192.0.2.9"), 443));
    // The packet meets the ACL first; both layers refuse, the ACL's code leads.
    assert_eq!(v.explanation_code, C::SubnetAclRestriction);
    assert_eq!(v.layers.len(), 2);
    assert_eq!(v.fixes.len(), 2);
    let two = evaluate(&acls, &Question::tcp(ip("198.51.100.9"), 443));
    assert!(two.notes.iter().any(|n| n.contains("2 network ACLs")));
}

// ---------------------------------------------------------------------------------------
// Semantics: GCP (priority, deny wins ties, implied rules, disabled, targets)

#[test]
fn gcp_firewall_semantics() {
    use ExplanationCode as C;
    use Outcome::*;
    let all = load("gcp-firewall-rules-list.json");
    let prod = pick(&all, &["prod"]);
    let lb = target_tags(&["api-lb"]);
    check(
        &prod,
        &[
            case(
                "office to the LB",
                Question::tcp(ip("198.51.100.9"), 443).with_destination(lb.clone()),
                Allowed,
                C::Allowed,
            ),
            case(
                "office, target tags unknown",
                Question::tcp(ip("198.51.100.9"), 443),
                Unknown,
                C::DestinationNotSpecified,
            ),
            case(
                "office, target without the tag",
                Question::tcp(ip("198.51.100.9"), 443).with_destination(target_tags(&["other"])),
                Denied,
                C::GcpImpliedDenyIngress,
            ),
            case(
                "guest wifi: only a disabled rule would",
                Question::tcp(ip("203.0.113.7"), 443).with_destination(lb.clone()),
                Denied,
                C::GcpImpliedDenyIngress,
            ),
            case(
                "blocklist at 900 beats allows at 1000",
                Question::tcp(ip("192.0.2.5"), 443).with_destination(lb.clone()),
                Denied,
                C::GcpFirewallDenyRule,
            ),
            case(
                "IPv6 office range",
                Question::tcp(ip("2001:db8:1234::9"), 443).with_destination(lb.clone()),
                Allowed,
                C::Allowed,
            ),
            case(
                "health checks, port list",
                Question::tcp(ip("35.191.3.4"), 8050).with_destination(lb.clone()),
                Allowed,
                C::Allowed,
            ),
            case(
                "ICMPv6 by protocol number",
                Question::ping(ip("2001:db8::1")),
                Allowed,
                C::Allowed,
            ),
            case(
                "ICMPv4 is not 58",
                Question::ping(ip("203.0.113.7")),
                Denied,
                C::GcpImpliedDenyIngress,
            ),
            case(
                "egress deny on 25",
                Question::tcp(ip("203.0.113.7"), 25).outbound(),
                Denied,
                C::GcpFirewallDenyRule,
            ),
            case(
                "implied allow egress",
                Question::tcp(ip("203.0.113.7"), 443).outbound(),
                Allowed,
                C::Allowed,
            ),
            case(
                "service-account source, public client",
                Question::tcp(ip("203.0.113.7"), 8080),
                Denied,
                C::GcpImpliedDenyIngress,
            ),
        ],
    );
    let default = pick(&all, &["default"]);
    let db = target_tags(&["db"]);
    check(
        &default,
        &[
            // The tag rule might match, but a later rule allows anyway: no doubt.
            case(
                "source tag maybe, then allow-internal",
                Question::tcp(ip("10.128.0.5"), 5432).with_destination(db.clone()),
                Allowed,
                C::Allowed,
            ),
            case(
                "source tag cannot be a public address",
                Question::tcp(ip("203.0.113.7"), 5432).with_destination(db),
                Denied,
                C::GcpImpliedDenyIngress,
            ),
            case(
                "default-allow-ssh at 65534",
                Question::tcp(ip("203.0.113.7"), 22),
                Allowed,
                C::Allowed,
            ),
        ],
    );

    let v = evaluate(
        &prod,
        &Question::tcp(ip("203.0.113.7"), 443).with_destination(lb.clone()),
    );
    assert_eq!(
        summary(&v),
        "no inbound rule admits 203.0.113.7 on tcp/443; rule allow-https-public would, but is disabled"
    );
    let fix = &v.fixes[0].command;
    assert_eq!(
        fix,
        "gcloud compute firewall-rules create allow-tcp-443-203-0-113-7 --network=prod \
         --direction=INGRESS --action=ALLOW --rules=tcp:443 --source-ranges=203.0.113.7/32 \
         --priority=1000 --target-tags=api-lb"
    );
    let v = evaluate(
        &prod,
        &Question::tcp(ip("192.0.2.5"), 443).with_destination(lb),
    );
    assert!(
        v.fixes[0].command.contains("--priority=899"),
        "{}",
        v.fixes[0].command
    );

    // Deny beats allow at equal priority; a lower number beats both.
    let rules = |allow_priority: u32| {
        format!(
            r#"[{{"name": "a", "network": "n", "priority": {allow_priority}, "direction": "INGRESS",
  "sourceRanges": ["0.0.0.0/0"], "allowed": [{{"IPProtocol": "tcp", "ports": ["443"]}}]}},
 {{"name": "d", "network": "n", "priority": 1000, "direction": "INGRESS",
  "sourceRanges": ["203.0.113.0/24"], "denied": [{{"IPProtocol": "tcp", "ports": ["443"]}}]}}]"#
        )
    };
    let q = Question::tcp(ip("203.0.113.7"), 443);
    let tie = parse_rules(&rules(1000), "t").expect("tie");
    assert_eq!(evaluate(&tie, &q).explanation_code, C::GcpFirewallDenyRule);
    let allow_first = parse_rules(&rules(999), "t").expect("999");
    assert_eq!(evaluate(&allow_first, &q).outcome, Allowed);
    let deny_first = parse_rules(&rules(1001), "t").expect("1001");
    assert_eq!(evaluate(&deny_first, &q).outcome, Denied);
}

// ---------------------------------------------------------------------------------------
// Semantics: Azure (priority, first match, defaults, service tags)

#[test]
fn azure_nsg_semantics() {
    use ExplanationCode as C;
    use Outcome::*;
    let nsg = load("azure-nsg-show.json");
    let proxy = destination_address("10.1.2.10");
    let other = destination_address("10.1.2.11");
    check(
        &nsg,
        &[
            case(
                "office on 443",
                Question::tcp(ip("198.51.100.9"), 443),
                Allowed,
                C::Allowed,
            ),
            case(
                "Internet to the proxy address",
                Question::tcp(ip("203.0.113.7"), 443).with_destination(proxy),
                Allowed,
                C::Allowed,
            ),
            case(
                "Internet, other address: default deny",
                Question::tcp(ip("203.0.113.7"), 443).with_destination(other.clone()),
                Denied,
                C::AzureNsgDefaultDeny,
            ),
            case(
                "Internet, address unknown",
                Question::tcp(ip("203.0.113.7"), 443),
                Unknown,
                C::DestinationNotSpecified,
            ),
            case(
                "blocklist at 100 first",
                Question::tcp(ip("192.0.2.7"), 443),
                Denied,
                C::AzureNsgDenyRule,
            ),
            case(
                "blocklist IPv6",
                Question::tcp(ip("2001:db8:dead::1"), 443),
                Denied,
                C::AzureNsgDenyRule,
            ),
            case(
                "Azure load balancer probe",
                Question::tcp(ip("168.63.129.16"), 80),
                Allowed,
                C::Allowed,
            ),
            case(
                "private source: VirtualNetwork unknown",
                Question::tcp(ip("10.0.0.5"), 22),
                Unknown,
                C::UnresolvedReference,
            ),
            case(
                "service tag GatewayManager",
                Question::tcp(ip("203.0.113.7"), 65300),
                Unknown,
                C::UnresolvedReference,
            ),
            case(
                "ping from the office (Icmp)",
                Question::ping(ip("198.51.100.3")),
                Allowed,
                C::Allowed,
            ),
            case(
                "ASG source from the VNet",
                Question::tcp(ip("10.1.1.5"), 8080),
                Unknown,
                C::UnresolvedReference,
            ),
            case(
                "outbound smtp denied",
                Question::tcp(ip("203.0.113.7"), 25).outbound(),
                Denied,
                C::AzureNsgDenyRule,
            ),
            case(
                "outbound https: AllowInternetOutBound",
                Question::tcp(ip("203.0.113.7"), 443).outbound(),
                Allowed,
                C::Allowed,
            ),
        ],
    );
    let v = evaluate(
        &nsg,
        &Question::tcp(ip("203.0.113.7"), 443).with_destination(other),
    );
    assert_eq!(
        summary(&v),
        "no inbound rule admits 203.0.113.7 on tcp/443; rules admit only 198.51.100.0/24"
    );
    assert!(v
        .nearest_rules
        .iter()
        .any(|n| n.kind == eval::NearestKind::OtherDestination
            && n.difference.contains("10.1.2.10/32")));
    assert!(
        v.notes.iter().any(|n| n.contains("VirtualNetwork")),
        "{:?}",
        v.notes
    );
    let fix = &v.fixes[0].command;
    assert!(
        fix.starts_with("az network nsg rule create --resource-group shop-rg --nsg-name api-nsg"),
        "{fix}"
    );
    assert!(
        fix.contains("--priority 160") && fix.contains("--source-address-prefixes 203.0.113.7/32"),
        "{fix}"
    );
    // Nothing fits before a deny at the lowest priority: the fix says what to do instead.
    let v = evaluate(&nsg, &Question::tcp(ip("192.0.2.7"), 443));
    assert!(
        v.fixes[0]
            .description
            .contains("Nothing fits before the deny rule at priority 100"),
        "{}",
        v.fixes[0].description
    );
    assert!(
        v.fixes[0].command.contains("--priority '<priority>'"),
        "{}",
        v.fixes[0].command
    );

    // The REST form (the first three custom rules) and the flat CLI form mean the same.
    let rest = load("azure-nsg-rest.json");
    for q in [
        Question::tcp(ip("198.51.100.9"), 443),
        Question::tcp(ip("192.0.2.7"), 443),
        Question::tcp(ip("203.0.113.7"), 22),
        Question::tcp(ip("168.63.129.16"), 80),
    ] {
        assert_eq!(
            evaluate(&rest, &q).outcome,
            evaluate(&nsg, &q).outcome,
            "{q:?}"
        );
    }
}

#[test]
fn questions_without_sets_or_with_all_are_unknown() {
    let v = evaluate(&[], &Question::tcp(ip("203.0.113.7"), 443));
    assert_eq!(v.explanation_code, ExplanationCode::NoRuleSets);
    let sets = load("aws-describe-security-groups.json");
    let v = evaluate(
        &sets,
        &Question::new(ip("203.0.113.7"), Protocol::All, None),
    );
    assert_eq!(v.explanation_code, ExplanationCode::IncompleteQuestion);
}

// ---------------------------------------------------------------------------------------
// Robustness: mutated fixtures never panic

/// A small deterministic generator, so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap_or(0) % n.max(1)
    }
}

/// Parses and, when that works, evaluates and summarises: none of it may panic.
fn exercise(text: &str) {
    if let Ok(sets) = parse_rules(text, "fuzz") {
        for q in [
            Question::tcp(ip("203.0.113.7"), 443),
            Question::udp(ip("10.0.0.1"), 53).outbound(),
            Question::ping(ip("2001:db8::1")),
        ] {
            let v = evaluate(&sets, &q);
            let _ = summary(&v);
        }
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Lcg(0x5eed_0004);
    let tokens = [
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "-1",
        "null",
        "true",
        "1e999",
        "-0",
        "99999999999999999999999",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "é",
        "\"*\"",
        "\"::/0\"",
    ];
    // `VANTAGE_RULES_FUZZ_MUTATIONS=100000 cargo test --release … mutated_fixtures` for a
    // longer run; the default keeps the suite fast.
    let mutations: usize = std::env::var("VANTAGE_RULES_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    for name in ours("valid") {
        let text = read("valid", &name);
        let len = text.len();
        // Truncations: every length near the start, then a stride through the file.
        for cut in (0..200.min(len)).chain((200..len).step_by(97)) {
            exercise(&text[..cut]);
        }
        // Byte-level edits at random places (fixtures are ASCII, so any index is a char
        // boundary).
        for _ in 0..mutations {
            let mut t = text.clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(t.len());
                let end = (at + rng.below(8)).min(t.len());
                let token = tokens[rng.below(tokens.len())];
                if t.is_char_boundary(at) && t.is_char_boundary(end) {
                    t.replace_range(at..end, token);
                }
            }
            exercise(&t);
        }
        // Numbers swapped for huge, negative and fractional ones.
        for n in [
            "99999999999999999999",
            "-99999",
            "1.5",
            "1e308",
            "-1",
            "65536",
            "4294967296",
        ] {
            exercise(&text.replace("443", n));
            exercise(&text.replace("65535", n));
            exercise(&text.replace("1000", n));
        }
    }
    // Deep nesting inside a recognised document and on its own.
    let deep = "[".repeat(50_000);
    exercise(&deep);
    exercise(&format!("{{\"SecurityGroups\": {deep}"));
    exercise(&format!(
        "{{\"SecurityGroups\": [{{\"GroupId\": \"sg-1\", \"Tags\": {}1{}}}]}}",
        "[".repeat(200),
        "]".repeat(200)
    ));
    exercise(&"{\"a\":".repeat(10_000));
}

/// The API types register as OpenAPI schemas under names that do not collide with the
/// other shared types (`Verdict`, `Target`… exist elsewhere).
#[cfg(feature = "openapi")]
#[test]
fn openapi_schemas_have_unique_names() {
    use utoipa::{PartialSchema, ToSchema};
    let mut all = vec![
        (Verdict::name().to_string(), Verdict::schema()),
        (RuleSet::name().to_string(), RuleSet::schema()),
        (RulesError::name().to_string(), RulesError::schema()),
    ];
    Verdict::schemas(&mut all);
    RuleSet::schemas(&mut all);
    RulesError::schemas(&mut all);
    let names: Vec<&String> = all.iter().map(|(n, _)| n).collect();
    serde_json::to_string(&all.iter().map(|(_, s)| s).collect::<Vec<_>>())
        .expect("schemas serialise");
    for want in [
        "FirewallVerdict",
        "FirewallQuestion",
        "FirewallRule",
        "FirewallPeer",
        "Cidr",
        "RuleSet",
        "RulesError",
    ] {
        assert!(names.iter().any(|n| *n == want), "{want} not in {names:?}");
    }
    assert_eq!(Verdict::name(), "FirewallVerdict");
    assert!(!names.iter().any(|n| *n == "Verdict" || *n == "Target"));
}

#[test]
fn ephemeral_sweep_matches_port_by_port_evaluation() {
    // Overlapping allow/deny ranges in the reply direction, in an order that matters.
    let text = r#"{"NetworkAcls": [{"NetworkAclId": "acl-s", "Entries": [
  {"RuleNumber": 10, "Egress": false, "RuleAction": "allow", "Protocol": "6", "PortRange": {"From": 443, "To": 443}, "CidrBlock": "0.0.0.0/0"},
  {"RuleNumber": 10, "Egress": true, "RuleAction": "deny", "Protocol": "6", "PortRange": {"From": 40000, "To": 40010}, "CidrBlock": "203.0.113.0/24"},
  {"RuleNumber": 20, "Egress": true, "RuleAction": "allow", "Protocol": "6", "PortRange": {"From": 30000, "To": 50000}, "CidrBlock": "0.0.0.0/0"},
  {"RuleNumber": 30, "Egress": true, "RuleAction": "allow", "Protocol": "6", "PortRange": {"From": 1024, "To": 2000}, "CidrBlock": "198.51.100.0/24"},
  {"RuleNumber": 40, "Egress": true, "RuleAction": "deny", "Protocol": "17", "PortRange": {"From": 1024, "To": 65535}, "CidrBlock": "0.0.0.0/0"},
  {"RuleNumber": 50, "Egress": true, "RuleAction": "allow", "Protocol": "-1", "CidrBlock": "203.0.113.0/24"}]}]}"#;
    let sets = parse_rules(text, "t").expect("acl");
    let refs: Vec<&RuleSet> = sets.iter().collect();
    let q = Question::tcp(ip("203.0.113.7"), 443);
    let packet = eval::tests_support::reply_packet_for(&q);
    let segments = eval::tests_support::segments(&refs, &packet);
    // Port by port, the slow way.
    for port in [
        1024u16, 1500, 2000, 2001, 29_999, 30_000, 39_999, 40_000, 40_010, 40_011, 50_000, 50_001,
        65_535,
    ] {
        let slow = eval::tests_support::first_match_outcome(&refs, &packet, port);
        let fast = segments
            .iter()
            .find(|s| s.0.contains(port))
            .map(|s| s.1)
            .expect("covered");
        assert_eq!(fast, slow, "port {port}: {segments:?}");
    }
    let v = evaluate(&sets, &Question::tcp(ip("203.0.113.7"), 443));
    assert_eq!(v.outcome, Outcome::Unknown);
    assert!(
        v.unknown_reasons[0]
            .reason
            .contains("ports 40000-40010 are denied"),
        "{}",
        v.unknown_reasons[0].reason
    );
}

/// Stateful sets admit the reply without a rule of their own; a stateless ACL does not
/// (see `aws_network_acl_semantics`).
#[test]
fn stateful_sets_need_no_rule_for_the_reply() {
    let sg = r#"{"SecurityGroups": [{"GroupId": "sg-in-only", "IpPermissions": [{"IpProtocol": "tcp",
  "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}], "IpPermissionsEgress": []}]}"#;
    let sets = parse_rules(sg, "t").expect("sg");
    let v = evaluate(&sets, &Question::tcp(ip("203.0.113.7"), 443));
    assert_eq!(v.outcome, Outcome::Allowed);
    assert_eq!(v.deciding_rules.len(), 1);
    // The same group refuses a connection *from* the instance: no egress rules at all.
    let out = evaluate(&sets, &Question::tcp(ip("203.0.113.7"), 443).outbound());
    assert_eq!(out.explanation_code, ExplanationCode::SgHasNoRules);
    assert_eq!(
        summary(&out),
        "no outbound rule admits traffic to 203.0.113.7 on tcp/443; the security groups have no \
         outbound rules at all"
    );

    let nsg = r#"{"name": "n", "securityRules": [
  {"name": "In443", "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
   "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"},
  {"name": "NoOut", "priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "*",
   "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}]}"#;
    let sets = parse_rules(nsg, "t").expect("nsg");
    assert!(sets[0].stateful);
    assert_eq!(
        evaluate(&sets, &Question::tcp(ip("203.0.113.7"), 443)).outcome,
        Outcome::Allowed
    );
}
