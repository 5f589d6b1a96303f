//! Which redirects the probe follows, and what it carries across them. At most
//! [`MAX_REDIRECTS`] hops; never into loopback, link-local or unspecified addresses unless
//! the target itself resolves there ([`redirect_block`]); and the configured page headers
//! (credentials) never go to another origin, https → http included. The browser's own
//! rewriting of its request at a redirect is [`super::cors_request`]'s.

use std::net::IpAddr;

use vantage_shared::diagnosis::agent_probe::{notes, ProbeStop, Sensitive};
use vantage_shared::probe::{parse_target_url, HttpResult, RedirectHop, TargetAddress};

use super::cors_request::browser_follows;
use super::http;
use super::pipeline::Run;

/// Redirects followed before giving up (browsers allow 20; five is plenty for an API and
/// bounds what one probe can cost).
pub const MAX_REDIRECTS: usize = 5;

/// The [`Sensitive`] class of `ip`, if it is in one; IPv4-mapped IPv6 counts as its IPv4
/// address, as the kernel routes it.
fn sensitive_class(ip: IpAddr) -> Option<Sensitive> {
    match ip.to_canonical() {
        IpAddr::V4(v4) if v4.is_loopback() => Some(Sensitive::Loopback),
        IpAddr::V4(v4) if v4.is_link_local() => Some(Sensitive::LinkLocal),
        // 0.0.0.0/8 is "this network": Linux delivers 0.0.0.0 to the local host.
        IpAddr::V4(v4) if v4.octets()[0] == 0 => Some(Sensitive::Unspecified),
        IpAddr::V6(v6) if v6.is_loopback() => Some(Sensitive::Loopback),
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(Sensitive::LinkLocal),
        IpAddr::V6(v6) if v6.is_unspecified() => Some(Sensitive::Unspecified),
        _ => None,
    }
}

/// Whether a redirect hop that resolved to `hop` may be followed from a target that resolved
/// to `target`: `None` when it may, otherwise the first address in a [`Sensitive`] class
/// the target does not share. Every address counts, since every one would be connected to.
pub(crate) fn redirect_block(target: &[IpAddr], hop: &[IpAddr]) -> Option<(IpAddr, Sensitive)> {
    let allowed: Vec<Sensitive> = target
        .iter()
        .filter_map(|&ip| sensitive_class(ip))
        .collect();
    hop.iter().find_map(|&ip| {
        sensitive_class(ip)
            .filter(|class| !allowed.contains(class))
            .map(|class| (ip, class))
    })
}

/// Checks a hop's resolved `addrs` before anything connects to them. The first hop's are the
/// target's, and set the classes later hops may stay in. A hop (at `url`) that leads
/// elsewhere is not followed: the probe stops at the redirect response that led there
/// (`pending`, with the address that sent it), and `dns`, `tcp` and `tls` stay those of the
/// hop that answered with the redirect.
pub(super) fn check_addresses(
    run: &mut Run,
    addrs: &[IpAddr],
    url: &str,
    pending: &mut Option<(HttpResult, String)>,
) -> Result<(), ProbeStop> {
    if run.hops.is_empty() {
        run.target_addrs = addrs.to_vec();
    } else if let Some((ip, class)) = redirect_block(&run.target_addrs, addrs) {
        let (http, addr) = pending.take().unzip();
        run.probe.http = http;
        return Err(ProbeStop::RedirectBlocked {
            addr: addr.unwrap_or_default(),
            to: url.to_owned(),
            ip,
            class,
        });
    }
    Ok(())
}

/// A redirect response (`result`, from `addr`) at `current` pointing at `location`: the next
/// hop, or where the probe stops (past [`MAX_REDIRECTS`], or a `Location` the browser could
/// not follow either, with `result` as the probe's HTTP answer). A followed redirect is
/// recorded, `result` becomes `pending` (see [`check_addresses`]), and the browser's request
/// and the page headers are carried across it.
pub(super) fn next_hop(
    run: &mut Run,
    current: &TargetAddress,
    location: String,
    result: HttpResult,
    addr: String,
    pending: &mut Option<(HttpResult, String)>,
) -> Result<TargetAddress, ProbeStop> {
    if run.hops.len() >= MAX_REDIRECTS {
        run.probe.http = Some(result);
        return Err(ProbeStop::RedirectLimit {
            limit: MAX_REDIRECTS,
        });
    }
    let next = match http::resolve_location(current, &location).and_then(|u| parse_target_url(&u)) {
        Ok(n) => n,
        Err(error) => {
            run.probe.http = Some(result);
            return Err(ProbeStop::RedirectBroken { error });
        }
    };
    let (url, status) = (result.url.clone(), result.status);
    *pending = Some((result, addr));
    run.hops.push(RedirectHop {
        url,
        status,
        location,
    });
    let (cur, nxt) = (http::origin_of(current), http::origin_of(&next));
    let cross_origin = cur != nxt;
    if let Some(c) = run.cors.as_mut() {
        c.taint_origin(&cur, cross_origin);
        // Headers withheld below are reported by name, before the browser's own
        // rewriting removes any of them.
        if cross_origin && run.page_headers && !c.same_origin && !c.hop.headers.is_empty() {
            let names: Vec<&str> = c.hop.headers.iter().map(|(n, _)| n.as_str()).collect();
            run.notes
                .push(notes::redirect_headers_withheld(&names, &cur, &nxt));
        }
        browser_follows(&mut c.hop, status, cross_origin);
    }
    if cross_origin {
        run.page_headers = false;
    }
    Ok(next)
}
