//! Host names that always mean this machine: `localhost` and the names under it (RFC 6761
//! §6.3), and loopback IP literals. The agent's Host header check, its DNS step and the
//! dashboard's mixed-content decision ask the same question; this is their one answer.
//! Also where an authority (`host:port`, `[2001:db8::1]:443`) splits into its parts, for
//! target URLs, CORS origins and Host headers alike.

use std::net::IpAddr;

/// Whether `name` is `localhost` or a name under it (`app.localhost`), in any letter case.
///
/// The name is taken as given: a trailing dot (the absolute form `localhost.`) is not
/// stripped here. The agent's DNS step strips it first, as a resolver does; the Host
/// header check and the dashboard's URL checks have always compared the name as written.
pub fn is_localhost_name(name: &str) -> bool {
    const NAME: &[u8] = b"localhost";
    const SUFFIX: &[u8] = b".localhost";
    let n = name.as_bytes();
    n.eq_ignore_ascii_case(NAME)
        || (n.len() >= SUFFIX.len() && n[n.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX))
}

/// Whether `host` (a name or an IP literal without brackets) is this machine: a loopback
/// address or a `localhost` name. Browsers count such URLs as "potentially trustworthy".
pub fn is_loopback_host(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => is_localhost_name(host),
    }
}

/// Why an authority does not split into a host and a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorityError {
    /// `[2001:db8::1` without its `]`.
    UnclosedBracket,
    /// Something other than `:port` after the `]`.
    JunkAfterBracket,
    /// An IPv6 literal without brackets: its colons cannot be told from the port's.
    UnbracketedIpv6,
}

/// An authority's host and port as written, IPv6 brackets removed: `[2001:db8::1]:443`
/// gives `2001:db8::1` and `443`, `example.com` gives no port. Each caller judges the
/// parts by its own rules (a target URL explains what is wrong, an origin is simply not
/// one, a Host header is refused), so nothing else is checked here.
pub fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), AuthorityError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or(AuthorityError::UnclosedBracket)?;
        return match after {
            "" => Ok((host, None)),
            p => p
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or(AuthorityError::JunkAfterBracket),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, _)) if h.contains(':') => Err(AuthorityError::UnbracketedIpv6),
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(split_host_port("example.com"), Ok(("example.com", None)));
        assert_eq!(
            split_host_port("example.com:8080"),
            Ok(("example.com", Some("8080")))
        );
        assert_eq!(
            split_host_port("example.com:"),
            Ok(("example.com", Some("")))
        );
        assert_eq!(split_host_port("[2001:db8::1]"), Ok(("2001:db8::1", None)));
        assert_eq!(split_host_port("[::1]:443"), Ok(("::1", Some("443"))));
        assert_eq!(
            split_host_port("[::1"),
            Err(AuthorityError::UnclosedBracket)
        );
        assert_eq!(
            split_host_port("[::1]443"),
            Err(AuthorityError::JunkAfterBracket)
        );
        assert_eq!(
            split_host_port("2001:db8::1"),
            Err(AuthorityError::UnbracketedIpv6)
        );
    }

    #[test]
    fn localhost_names() {
        // `.localhost` (an empty label) passes, as it always has in every copy of this check.
        for yes in [
            "localhost",
            "LOCALHOST",
            "app.localhost",
            "a.b.Localhost",
            ".localhost",
        ] {
            assert!(is_localhost_name(yes), "{yes}");
        }
        for no in [
            "",
            "localhost.",
            "mylocalhost",
            "localhost.example",
            "127.0.0.1",
        ] {
            assert!(!is_localhost_name(no), "{no}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for yes in [
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "localhost",
            "app.localhost",
        ] {
            assert!(is_loopback_host(yes), "{yes}");
        }
        for no in ["10.0.0.5", "::ffff:127.0.0.1", "example.com", "[::1]"] {
            assert!(!is_loopback_host(no), "{no}");
        }
    }
}
