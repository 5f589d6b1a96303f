//! Host names that always mean this machine: `localhost` and the names under it (RFC 6761
//! §6.3), and loopback IP literals. The agent's Host header check, its DNS step and the
//! dashboard's mixed-content decision ask the same question; this is their one answer.

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

#[cfg(test)]
mod tests {
    use super::*;

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
