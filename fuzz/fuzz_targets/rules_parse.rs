//! `rules::parse_rules` (format detection, then any of the cloud and host formats) on
//! arbitrary text; whatever `detect_format` says the text is, that format's own entry
//! point must give the same answer as `parse_rules`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_fuzz::{check_rules, NAME_HINT};
use vantage_shared::rules::{
    aws, aws_nacl, azure, detect_format, gcp, iptables, nft, parse_rules, Format,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = parse_rules(text, NAME_HINT);
    check_rules(text, &result);
    let Ok(format) = detect_format(text) else {
        return;
    };
    let direct = match format {
        Format::AwsSecurityGroups => aws::parse_security_groups(text, NAME_HINT),
        Format::AwsSecurityGroupRules => aws::parse_security_group_rules(text, NAME_HINT),
        Format::AwsNetworkAcls => aws_nacl::parse_network_acls(text, NAME_HINT),
        Format::GcpFirewallRules => gcp::parse_firewall_rules(text, NAME_HINT),
        Format::AzureNsg => azure::parse_nsgs(text, NAME_HINT),
        Format::IptablesSave => iptables::parse_iptables_save(text, NAME_HINT),
        Format::NftRuleset => nft::parse_nft_ruleset(text, NAME_HINT),
    };
    assert_eq!(
        direct, result,
        "parse_rules and the {format:?} parser disagree"
    );
});
