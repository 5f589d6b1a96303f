//! Hooks for the cross-module tests in `rules::tests`: the NACL's ephemeral-port sweep
//! checked against evaluating port by port.

use super::first_match::first_match;
use super::matching::{source_class, Packet};
use super::stateless::{ephemeral_segments, reply_packet};
use super::{Outcome, Question};
use crate::rules::model::{PortRange, RuleSet};

pub(crate) fn reply_packet_for(q: &Question) -> Packet<'_> {
    let p = Packet {
        direction: q.direction,
        protocol: q.protocol,
        port: q.port,
        icmp_type: q.icmp_type,
        icmp_code: q.icmp_code,
        remote: q.source,
        class: source_class(q.source),
        destination: q.destination.as_ref(),
    };
    reply_packet(&p).expect("a reply")
}

pub(crate) fn segments(sets: &[&RuleSet], reply: &Packet) -> Vec<(PortRange, Outcome)> {
    ephemeral_segments(sets, 0, reply)
        .into_iter()
        .map(|s| (s.0, s.1))
        .collect()
}

pub(crate) fn first_match_outcome(sets: &[&RuleSet], reply: &Packet, port: u16) -> Outcome {
    let mut p = reply.clone();
    p.port = Some(port);
    first_match(sets, 0, &p).outcome
}
