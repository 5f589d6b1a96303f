//! A TCP connection is more than its first packet. The SYN is conntrack state NEW; the
//! client's ACK that completes the handshake and every data packet after it are
//! ESTABLISHED. A ruleset that admits the port only with `--ctstate NEW` (or `ct state
//! new`) and has no rule for ESTABLISHED lets the handshake complete, since the host's
//! SYN-ACK goes out through OUTPUT, and then drops the request: the client sees a
//! connection, and no answer. This check evaluates a data packet of the connection after
//! an accepted first packet, and says so when it is refused. Checked against the kernel in
//! `tests/tests/firewall_kernel.rs`.

use super::layer::host_layer_ct;
use super::HostDenial;
use crate::rules::eval::layer::LayerResult;
use crate::rules::eval::{ExplanationCode, Outcome, Question};
use crate::rules::model::{CtState, Direction, Protocol, RuleSet};

/// For an accepted inbound TCP question: evaluates the connection's established packets.
pub(super) fn check(sets: &[&RuleSet], members: &[usize], q: &Question, result: &mut LayerResult) {
    if q.protocol != Protocol::Tcp
        || q.direction != Direction::Inbound
        || result.outcome != Outcome::Allowed
    {
        return;
    }
    let later = host_layer_ct(sets, members, q, CtState::Established);
    match later.outcome {
        Outcome::Allowed => {}
        Outcome::Unknown => result.notes.push(format!(
            "Whether the connection's later packets (conntrack state ESTABLISHED) get \
             through is not known: {}",
            later.explanation
        )),
        Outcome::Denied => {
            let before = std::mem::take(&mut result.explanation);
            result.outcome = Outcome::Denied;
            result.code = ExplanationCode::HostHandshakeOnly;
            result.deciding = later.deciding;
            result.explanation = format!(
                "The first packet gets through, but the connection's later ones do not: \
                 {before} After the handshake the client's packets are conntrack state \
                 ESTABLISHED, and {} So the client connects, then its request gets no answer \
                 and times out. Accept established traffic before the rules that admit new \
                 connections: `-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` \
                 (nft: `ct state established,related accept`).",
                later.explanation
            );
            if let (Some(host), Some(later_host)) = (result.host.as_mut(), later.host) {
                host.verdict.denial = Some(HostDenial::HandshakeOnly);
                host.verdict.trace = later_host.verdict.trace;
            }
        }
    }
}
