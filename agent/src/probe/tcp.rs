//! TCP connects to every resolved address at once (up to [`MAX_ADDRESSES`]), each timed and
//! classified, so a firewall that drops one address family (or one backend) shows up as such.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use vantage_shared::duration::fmt_secs;

use tokio::net::TcpStream;
use vantage_shared::probe::{AddressFamily, TcpAttempt, TcpOutcome};

/// Addresses connected to per hop. A name can resolve to hundreds of addresses (a broken or
/// hostile zone, or a hosts file); each one costs a socket and a connect, so the rest are
/// counted and reported, not tried.
pub(crate) const MAX_ADDRESSES: usize = 16;

/// One attempt, with the stream when it connected.
pub(crate) struct Attempt {
    pub addr: SocketAddr,
    pub report: TcpAttempt,
    pub stream: Option<TcpStream>,
}

/// `198.51.100.10:443` or `[2001:db8::1]:443`.
pub(crate) fn display_addr(addr: SocketAddr) -> String {
    addr.to_string()
}

/// What an `io::Error` from `connect` means for reachability.
pub(crate) fn classify_error(e: &io::Error) -> TcpOutcome {
    // Raw errno values (Linux) cover kernels and sandboxes that map to `Other`.
    const ECONNREFUSED: i32 = 111;
    const ENETUNREACH: i32 = 101;
    const EHOSTUNREACH: i32 = 113;
    const ETIMEDOUT: i32 = 110;
    // An ICMPv6 administratively-prohibited (or policy-fail, reject-route) answer.
    const EACCES: i32 = 13;
    match e.kind() {
        io::ErrorKind::ConnectionRefused => TcpOutcome::Refused,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            TcpOutcome::Unreachable
        }
        io::ErrorKind::TimedOut => TcpOutcome::TimedOut,
        _ => match e.raw_os_error() {
            Some(ECONNREFUSED) => TcpOutcome::Refused,
            Some(ENETUNREACH) | Some(EHOSTUNREACH) | Some(EACCES) => TcpOutcome::Unreachable,
            Some(ETIMEDOUT) => TcpOutcome::TimedOut,
            _ => TcpOutcome::Error,
        },
    }
}

/// Connects to one address within `timeout`.
pub(crate) async fn connect_one(addr: SocketAddr, timeout: Duration) -> Attempt {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, TcpStream::connect(addr)).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let family = if addr.is_ipv4() {
        AddressFamily::Ipv4
    } else {
        AddressFamily::Ipv6
    };
    let report = |outcome, error: Option<String>| TcpAttempt {
        address: display_addr(addr),
        family,
        outcome,
        elapsed_ms,
        error,
    };
    match result {
        Ok(Ok(stream)) => {
            // Requests are small and sent at once; Nagle would only add latency to timings.
            let _ = stream.set_nodelay(true);
            Attempt {
                addr,
                report: report(TcpOutcome::Connected, None),
                stream: Some(stream),
            }
        }
        Ok(Err(e)) => Attempt {
            addr,
            report: report(classify_error(&e), Some(e.to_string())),
            stream: None,
        },
        Err(_) => Attempt {
            addr,
            report: report(
                TcpOutcome::TimedOut,
                Some(format!(
                    "no answer within {}",
                    fmt_secs(timeout.as_secs_f64() * 1000.0)
                )),
            ),
            stream: None,
        },
    }
}

/// The addresses to try, at most [`MAX_ADDRESSES`], in answer order. When there are more,
/// the two families take turns so that a long A answer cannot hide a broken IPv6 path (and
/// the reverse): the address-family findings need both.
pub(crate) fn capped(addrs: &[IpAddr]) -> Vec<IpAddr> {
    if addrs.len() <= MAX_ADDRESSES {
        return addrs.to_vec();
    }
    let (mut v4, mut v6) = (
        addrs.iter().enumerate().filter(|(_, ip)| ip.is_ipv4()),
        addrs.iter().enumerate().filter(|(_, ip)| ip.is_ipv6()),
    );
    let mut keep: Vec<(usize, IpAddr)> = Vec::with_capacity(MAX_ADDRESSES);
    while keep.len() < MAX_ADDRESSES {
        let (a, b) = (v4.next(), v6.next());
        if a.is_none() && b.is_none() {
            break;
        }
        keep.extend(a.into_iter().chain(b).map(|(i, &ip)| (i, ip)));
    }
    keep.truncate(MAX_ADDRESSES);
    keep.sort_unstable_by_key(|&(i, _)| i);
    keep.into_iter().map(|(_, ip)| ip).collect()
}

/// Connects to the [`capped`] addresses concurrently; attempts come back in address order.
/// `addrs.len()` minus the attempts returned is how many were skipped.
pub(crate) async fn connect_all(addrs: &[IpAddr], port: u16, timeout: Duration) -> Vec<Attempt> {
    futures_util::future::join_all(
        capped(addrs)
            .into_iter()
            .map(|ip| connect_one(SocketAddr::new(ip, port), timeout)),
    )
    .await
}

/// The connection to use: the fastest that connected, as happy eyeballs would end up with.
pub(crate) fn pick(attempts: &mut [Attempt]) -> Option<(TcpStream, SocketAddr, f64)> {
    let best = attempts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.stream.is_some())
        .min_by(|(_, a), (_, b)| a.report.elapsed_ms.total_cmp(&b.report.elapsed_ms))
        .map(|(i, _)| i)?;
    let a = &mut attempts[best];
    let stream = a.stream.take()?;
    Some((stream, a.addr, a.report.elapsed_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_classify_by_kind_and_errno() {
        let table = [
            (
                io::Error::from(io::ErrorKind::ConnectionRefused),
                TcpOutcome::Refused,
            ),
            (
                io::Error::from(io::ErrorKind::HostUnreachable),
                TcpOutcome::Unreachable,
            ),
            (
                io::Error::from(io::ErrorKind::NetworkUnreachable),
                TcpOutcome::Unreachable,
            ),
            (
                io::Error::from(io::ErrorKind::TimedOut),
                TcpOutcome::TimedOut,
            ),
            (io::Error::from_raw_os_error(111), TcpOutcome::Refused),
            (io::Error::from_raw_os_error(113), TcpOutcome::Unreachable),
            (io::Error::from_raw_os_error(101), TcpOutcome::Unreachable),
            (
                io::Error::from(io::ErrorKind::PermissionDenied),
                TcpOutcome::Error,
            ),
        ];
        for (e, want) in table {
            assert_eq!(classify_error(&e), want, "{e:?}");
        }
    }

    #[tokio::test]
    async fn refused_port_is_refused() {
        // Bind, learn the port, close: nothing listens there any more.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let mut attempts = connect_all(
            &[IpAddr::from([127, 0, 0, 1])],
            port,
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(attempts[0].report.outcome, TcpOutcome::Refused);
        assert!(attempts[0].report.error.is_some());
        assert!(pick(&mut attempts).is_none());
    }

    #[tokio::test]
    async fn connects_and_picks_the_connected_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut attempts = connect_all(
            &[IpAddr::from([127, 0, 0, 1])],
            port,
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(attempts[0].report.outcome, TcpOutcome::Connected);
        assert_eq!(attempts[0].report.address, format!("127.0.0.1:{port}"));
        let (_, addr, _) = pick(&mut attempts).expect("a connection");
        assert_eq!(display_addr(addr), format!("127.0.0.1:{port}"));
    }
}
