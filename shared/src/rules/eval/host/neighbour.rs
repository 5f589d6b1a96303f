//! IPv6 neighbour discovery. Before the first packet of an IPv6 connection reaches the
//! host, the sender (the client on the same link, or the last router) must learn the
//! host's link-layer address: a neighbour solicitation (ICMPv6 type 135) that the host
//! answers with an advertisement (136), and the host solicits its neighbours the same way.
//! The kernel does not track these (conntrack state `untracked`), so `ct state
//! established,related accept` does not admit them. An input chain that drops them makes
//! every IPv6 connection time out, to "allowed" ports too; this check says so, with the
//! rule that drops them. Checked against the kernel in `tests/tests/firewall_kernel.rs`.

use super::layer::host_layer_ct;
use crate::rules::eval::layer::LayerResult;
use crate::rules::eval::{ExplanationCode, Outcome, Question};
use crate::rules::model::{CtState, Direction, Protocol, RuleSet};

use super::HostDenial;

/// ICMPv6 neighbour solicitation.
const NEIGHBOUR_SOLICITATION: u8 = 135;

/// For an inbound IPv6 question: evaluates the neighbour solicitation that must come first,
/// and when the host drops it, the connection cannot get through whatever `result` says.
pub(super) fn check(sets: &[&RuleSet], members: &[usize], q: &Question, result: &mut LayerResult) {
    let is_nd = q.protocol == Protocol::Icmpv6 && matches!(q.icmp_type, Some(133..=137));
    if !q.source.to_canonical().is_ipv6()
        || q.direction != Direction::Inbound
        || is_nd
        || result.code == ExplanationCode::NoRuleSets
    {
        return;
    }
    let mut nd = q.clone();
    nd.protocol = Protocol::Icmpv6;
    nd.port = None;
    nd.icmp_type = Some(NEIGHBOUR_SOLICITATION);
    nd.icmp_code = Some(0);
    let solicit = host_layer_ct(sets, members, &nd, CtState::Untracked);
    match solicit.outcome {
        Outcome::Allowed => {}
        Outcome::Unknown => result.notes.push(format!(
            "Whether this host answers IPv6 neighbour discovery (ICMPv6 type 135, which \
             conntrack leaves untracked) is not known: {} Without it no IPv6 connection gets \
             through.",
            solicit.explanation
        )),
        Outcome::Denied if result.outcome == Outcome::Denied => result.notes.push(
            "Neighbour discovery (ICMPv6 types 135 and 136) is not admitted either: once \
             this port is open, IPv6 connections would still fail (\"no route to host\") \
             until it is."
                .to_owned(),
        ),
        Outcome::Denied => unresolved(result, solicit),
    }
}

/// The connection would pass, but neighbour discovery does not: the verdict is that.
fn unresolved(result: &mut LayerResult, solicit: LayerResult) {
    let before = std::mem::take(&mut result.explanation);
    result.outcome = Outcome::Denied;
    result.code = ExplanationCode::HostNeighbourDiscovery;
    result.deciding = solicit.deciding;
    result.nothing_matched = solicit.nothing_matched;
    result.explanation = format!(
        "IPv6 needs neighbour discovery first, and this host drops it: {} Neighbour \
         solicitations (ICMPv6 type 135) and advertisements (136) are not part of any \
         connection (conntrack leaves them untracked, so an `established,related` rule does \
         not admit them). Without them the client (or the last router) never learns this \
         host's link-layer address, and every IPv6 connection fails, to allowed ports too: \
         on the same link with \"no route to host\" after about 3 s, through a router as the \
         router reports it (the same error, or a timeout). Accept ICMPv6 types 133 to 137 (router and neighbour discovery) in the input \
         chain, before the rule that drops them. The connection itself: {before}",
        solicit.explanation
    );
    if let (Some(host), Some(nd_host)) = (result.host.as_mut(), solicit.host) {
        host.verdict.denial = Some(HostDenial::Unreachable);
        host.verdict.trace = nd_host.verdict.trace;
        host.fixes = nd_host
            .fixes
            .into_iter()
            .map(|mut f| {
                f.description = format!(
                    "Admits neighbour solicitations from the client; admit type 136 \
                     (advertisements) the same way, or better, ICMPv6 types 133–137 from \
                     anywhere on the link. {}",
                    f.description
                );
                f
            })
            .collect();
        host.nearest = nd_host.nearest;
    }
}
