//! Cloud rule evaluation and parsing cost (BENCHMARKS.md, "Firewall rules: evaluation and parsing").
//!
//! * `cargo bench -p vantage-shared --bench rules` — criterion measurements: one question
//!   against 10,000 rules (security groups, network ACL with its reply sweep, GCP, Azure),
//!   and parsing a generated 5 MB `aws ec2 describe-security-groups` file.
//! * `<bench binary> generate <path> [bytes]` — writes that generated file (default 5 MB).
//! * `<bench binary> parse <path>` — reads and parses a file once and prints the counts and
//!   the time; run it under `/usr/bin/time -v` for the peak memory of the parse.
//! * `<bench binary> read <path>` — only reads the file: the baseline for that peak.

// Bench code: a failed expect is a failed benchmark with its location.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use vantage_shared::rules::{evaluate, parse_rules, DestinationInfo, Question, RuleSet};

const RULES: usize = 10_000;
const FILE_BYTES: usize = 5_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A `describe-security-groups` document of about `bytes` bytes, shaped like the CLI's
/// output (4-space indent, every list present), with a realistic mix of rules: port
/// ranges, ICMP, `-1`, IPv6, prefix lists and group references.
fn security_groups_json(bytes: usize) -> String {
    let mut groups = Vec::new();
    let mut size = 0;
    let mut g = 0usize;
    while size < bytes {
        let id = format!("sg-{g:017x}");
        let mut perms = Vec::new();
        for p in 0..12 {
            let port = 1000 + ((g * 12 + p) % 60_000) as u16;
            let v4: Vec<serde_json::Value> = (0..3)
                .map(|k| {
                    serde_json::json!({
                        "CidrIp": format!("10.{}.{}.0/24", (g + k) % 256, (p * 7 + k) % 256),
                        "Description": format!("team {k} access")
                    })
                })
                .collect();
            let perm = match p % 6 {
                0 => serde_json::json!({"IpProtocol": "-1", "IpRanges": v4, "Ipv6Ranges": [],
                    "PrefixListIds": [], "UserIdGroupPairs": []}),
                1 => serde_json::json!({"FromPort": 8, "IpProtocol": "icmp", "IpRanges": v4,
                    "Ipv6Ranges": [], "PrefixListIds": [], "ToPort": -1, "UserIdGroupPairs": []}),
                2 => serde_json::json!({"FromPort": port, "IpProtocol": "tcp", "IpRanges": [],
                    "Ipv6Ranges": [{"CidrIpv6": format!("2001:db8:{g:x}::/48")}],
                    "PrefixListIds": [{"PrefixListId": "pl-0123456789abcdef0"}], "ToPort": port,
                    "UserIdGroupPairs": []}),
                3 => serde_json::json!({"FromPort": port, "IpProtocol": "udp", "IpRanges": v4,
                    "Ipv6Ranges": [], "PrefixListIds": [], "ToPort": port.saturating_add(10),
                    "UserIdGroupPairs": []}),
                4 => serde_json::json!({"FromPort": port, "IpProtocol": "tcp", "IpRanges": [],
                    "Ipv6Ranges": [], "PrefixListIds": [], "ToPort": port,
                    "UserIdGroupPairs": [{"GroupId": format!("sg-{:017x}", g + 1), "UserId": "123456789012"}]}),
                _ => serde_json::json!({"FromPort": port, "IpProtocol": "tcp", "IpRanges": v4,
                    "Ipv6Ranges": [], "PrefixListIds": [], "ToPort": port, "UserIdGroupPairs": []}),
            };
            perms.push(perm);
        }
        let group = serde_json::json!({
            "Description": format!("generated group {g}"),
            "GroupName": format!("group-{g}"),
            "IpPermissions": perms,
            "OwnerId": "123456789012",
            "GroupId": id,
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}], "PrefixListIds": [], "UserIdGroupPairs": []}],
            "Tags": [{"Key": "Name", "Value": format!("group-{g}")}],
            "VpcId": "vpc-0a1b2c3d4e5f67890"
        });
        size += pretty(&group).len();
        groups.push(group);
        g += 1;
    }
    // Nesting indents every line further than the estimate above: trim to the target.
    let mut text = pretty(&serde_json::json!({ "SecurityGroups": groups }));
    while text.len() > bytes && groups.len() > 1 {
        let keep = (groups.len() * bytes / text.len()).clamp(1, groups.len() - 1);
        groups.truncate(keep);
        text = pretty(&serde_json::json!({ "SecurityGroups": groups }));
    }
    text
}

fn pretty(v: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).unwrap();
    String::from_utf8(out).unwrap()
}

/// One security group with `n` inbound rules, none of which admits 203.0.113.7 on 443
/// (the incident's worst case: every rule is looked at, then the nearest ones are listed).
fn big_security_group(n: usize) -> Vec<RuleSet> {
    let mut perms = String::new();
    for i in 0..n {
        let port = 1 + (i % 60_000);
        let cidr = format!("10.{}.{}.0/24", (i / 256) % 256, i % 256);
        let _ = write!(
            perms,
            "{}{{\"IpProtocol\": \"tcp\", \"FromPort\": {port}, \"ToPort\": {port}, \"IpRanges\": [{{\"CidrIp\": \"{cidr}\"}}]}}",
            if i == 0 { "" } else { "," }
        );
    }
    let text = format!(
        "{{\"SecurityGroups\": [{{\"GroupId\": \"sg-big\", \"GroupName\": \"big\", \"IpPermissions\": [{perms}]}}]}}"
    );
    parse_rules(&text, "bench").unwrap()
}

/// A network ACL with `n` entries, half inbound and half outbound, with overlapping port
/// ranges in the reply direction (the ephemeral sweep's work).
fn big_network_acl(n: usize) -> Vec<RuleSet> {
    let mut entries = String::new();
    for i in 0..n {
        let egress = i % 2 == 1;
        let number = 1 + i / 2;
        let from = 1024 + (i * 6) % 60_000;
        let to = (from + 5).min(65_535);
        let cidr = format!("10.{}.{}.0/24", (i / 256) % 256, i % 256);
        let _ = write!(
            entries,
            "{}{{\"RuleNumber\": {number}, \"Egress\": {egress}, \"RuleAction\": \"{}\", \"Protocol\": \"6\", \"PortRange\": {{\"From\": {from}, \"To\": {to}}}, \"CidrBlock\": \"{}\"}}",
            if i == 0 { "" } else { "," },
            if i % 3 == 0 { "deny" } else { "allow" },
            if egress { "0.0.0.0/0" } else { cidr.as_str() }
        );
    }
    let text = format!(
        "{{\"NetworkAcls\": [{{\"NetworkAclId\": \"acl-big\", \"Entries\": [{entries}]}}]}}"
    );
    parse_rules(&text, "bench").unwrap()
}

fn big_gcp(n: usize) -> Vec<RuleSet> {
    let mut rules = Vec::new();
    for i in 0..n {
        rules.push(serde_json::json!({
            "name": format!("rule-{i}"),
            "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/prod",
            "direction": "INGRESS",
            "priority": 100 + i % 60_000,
            "sourceRanges": [format!("10.{}.{}.0/24", (i / 256) % 256, i % 256)],
            "targetTags": ["api-lb"],
            if i % 4 == 0 { "denied" } else { "allowed" }: [{"IPProtocol": "tcp", "ports": [format!("{}", 1 + i % 60_000)]}],
        }));
    }
    parse_rules(&serde_json::Value::Array(rules).to_string(), "bench").unwrap()
}

fn big_azure(n: usize) -> Vec<RuleSet> {
    let mut rules = Vec::new();
    for i in 0..n {
        rules.push(serde_json::json!({
            "name": format!("Rule{i}"),
            "priority": 100 + i % 3997,
            "direction": "Inbound",
            "access": if i % 4 == 0 { "Deny" } else { "Allow" },
            "protocol": "Tcp",
            "sourceAddressPrefix": format!("10.{}.{}.0/24", (i / 256) % 256, i % 256),
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": format!("{}", 1 + i % 60_000),
        }));
    }
    let nsg = serde_json::json!({"name": "big-nsg", "resourceGroup": "rg", "securityRules": rules});
    parse_rules(&nsg.to_string(), "bench").unwrap()
}

fn helper_modes(args: &[String]) -> bool {
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let path = args.get(2).expect("generate <path> [bytes]");
            let bytes = args.get(3).map_or(FILE_BYTES, |b| b.parse().unwrap());
            let text = security_groups_json(bytes);
            std::fs::write(path, &text).unwrap();
            println!("wrote {} bytes to {path}", text.len());
            true
        }
        Some("read") => {
            let text = std::fs::read_to_string(args.get(2).expect("read <path>")).unwrap();
            println!("read {} bytes", text.len());
            true
        }
        Some("parse") => {
            let text = std::fs::read_to_string(args.get(2).expect("parse <path>")).unwrap();
            let start = Instant::now();
            let sets = parse_rules(&text, "file").unwrap();
            let took = start.elapsed();
            let rules: usize = sets.iter().map(|s| s.rules.len()).sum();
            println!(
                "parsed {} bytes: {} sets, {rules} rules in {:.1} ms",
                text.len(),
                sets.len(),
                took.as_secs_f64() * 1000.0
            );
            true
        }
        _ => false,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if helper_modes(&args) {
        return;
    }
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();

    let phone = Question::tcp(ip("203.0.113.7"), 443);
    let sg = big_security_group(RULES);
    assert_eq!(sg[0].rules.len(), RULES);
    c.bench_function("evaluate_sg_10000_rules_denied", |b| {
        b.iter(|| evaluate(std::hint::black_box(&sg), &phone));
    });
    let last = Question::tcp(ip("10.39.15.9"), 1 + ((RULES - 1) % 60_000) as u16);
    c.bench_function("evaluate_sg_10000_rules_allowed_by_last", |b| {
        b.iter(|| evaluate(std::hint::black_box(&sg), &last));
    });
    let acl = big_network_acl(RULES);
    let acl_q = Question::tcp(ip("10.0.2.9"), 1 + 1024 + 12);
    c.bench_function("evaluate_nacl_10000_entries_with_reply_sweep", |b| {
        b.iter(|| evaluate(std::hint::black_box(&acl), &acl_q));
    });
    let gcp = big_gcp(RULES);
    let tagged = phone.clone().with_destination(DestinationInfo {
        tags: vec!["api-lb".to_owned()],
        ..DestinationInfo::default()
    });
    c.bench_function("evaluate_gcp_10000_rules_denied", |b| {
        b.iter(|| evaluate(std::hint::black_box(&gcp), &tagged));
    });
    let azure = big_azure(RULES);
    c.bench_function("evaluate_azure_10000_rules_denied", |b| {
        b.iter(|| evaluate(std::hint::black_box(&azure), &phone));
    });

    let file = security_groups_json(FILE_BYTES);
    let sets = parse_rules(&file, "bench").unwrap();
    let rules: usize = sets.iter().map(|s| s.rules.len()).sum();
    println!(
        "generated describe-security-groups: {} bytes, {} groups, {rules} rules",
        file.len(),
        sets.len()
    );
    let mut g = c.benchmark_group("parse");
    g.sample_size(10);
    g.bench_function("parse_describe_security_groups_5mb", |b| {
        b.iter_batched(
            || (),
            |()| parse_rules(std::hint::black_box(&file), "bench").unwrap(),
            BatchSize::PerIteration,
        );
    });
    g.finish();
    c.final_summary();
}
