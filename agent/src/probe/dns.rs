//! Name resolution for probes: IP literals, `/etc/hosts`, then the system's DNS servers via
//! hickory, with A and AAAA asked separately so each answer keeps its TTL and each record
//! type its own error.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_resolver::config::{ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, Record};
use hickory_resolver::{Resolver, TokioResolver};
use vantage_shared::duration::fmt_limit;
use vantage_shared::host::is_localhost_name;
use vantage_shared::ownership;
use vantage_shared::probe::{AddressFamily, CnameRecord, DnsAnswer, DnsResult};

use super::pipeline::ms;

/// Where the hosts file lives; read on every probe so edits apply at once, as for libc.
pub(crate) const HOSTS_FILE: &str = "/etc/hosts";
/// Hard cap on one record type's lookup, whatever resolv.conf's timeout × attempts say.
const LOOKUP_CAP: Duration = Duration::from_secs(10);

/// The lookup's outcome: the report, plus the addresses to connect to in answer order.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub dns: DnsResult,
    pub addrs: Vec<IpAddr>,
}

fn family(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Ipv4
    } else {
        AddressFamily::Ipv6
    }
}

fn answer(ip: IpAddr, ttl: Option<u32>, docker: &[(String, String)]) -> DnsAnswer {
    DnsAnswer {
        address: ip.to_string(),
        family: family(ip),
        ttl,
        owner: ownership::classify(ip, docker),
    }
}

/// Resolves `host` the way this host's programs would: literal, hosts file, DNS.
pub(crate) async fn resolve(host: &str, docker: &[(String, String)]) -> Resolved {
    let started = Instant::now();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Resolved {
            dns: DnsResult {
                host: host.to_owned(),
                resolver: "literal".to_owned(),
                cnames: Vec::new(),
                answers: vec![answer(ip, None, docker)],
                errors: Vec::new(),
                elapsed_ms: ms(started),
            },
            addrs: vec![ip],
        };
    }

    // libc consults /etc/hosts first ("hosts: files dns" in nsswitch.conf); so do we, so that
    // what the agent probes is what a process on this host would reach.
    let hosts = tokio::fs::read_to_string(HOSTS_FILE)
        .await
        .unwrap_or_default();
    let from_file = hosts_lookup(&hosts, host);
    if !from_file.is_empty() {
        return from_static(
            host,
            HOSTS_FILE,
            from_file,
            "no entry in /etc/hosts",
            started,
            docker,
        );
    }
    // RFC 6761: `localhost` is always loopback; browsers hard-code this too.
    // A resolver reads `localhost.` as the absolute form of the same name.
    if is_localhost_name(host.trim_end_matches('.')) {
        let addrs = vec![
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        ];
        return from_static(
            host,
            "built-in (localhost is always loopback, RFC 6761)",
            addrs,
            "",
            started,
            docker,
        );
    }
    from_dns(host, docker, started).await
}

/// Asks the system's DNS servers (resolv.conf) for A and AAAA, each capped at [`LOOKUP_CAP`].
async fn from_dns(host: &str, docker: &[(String, String)], started: Instant) -> Resolved {
    let (config, mut opts) = match hickory_resolver::system_conf::read_system_conf() {
        Ok(c) => c,
        Err(e) => {
            return Resolved {
                dns: DnsResult {
                    host: host.to_owned(),
                    resolver: "system (/etc/resolv.conf unreadable)".to_owned(),
                    cnames: Vec::new(),
                    answers: Vec::new(),
                    errors: vec![format!("cannot read /etc/resolv.conf: {e}")],
                    elapsed_ms: ms(started),
                },
                addrs: Vec::new(),
            }
        }
    };
    let resolver_label = describe_resolver(&config);
    // The hosts file was handled above, with its provenance recorded.
    opts.use_hosts_file = ResolveHosts::Never;
    let resolver: TokioResolver =
        match Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                return Resolved {
                    dns: DnsResult {
                        host: host.to_owned(),
                        resolver: resolver_label,
                        cnames: Vec::new(),
                        answers: Vec::new(),
                        errors: vec![format!("cannot start the resolver: {e}")],
                        elapsed_ms: ms(started),
                    },
                    addrs: Vec::new(),
                }
            }
        };

    let (a, aaaa) = tokio::join!(
        tokio::time::timeout(LOOKUP_CAP, resolver.ipv4_lookup(host)),
        tokio::time::timeout(LOOKUP_CAP, resolver.ipv6_lookup(host)),
    );
    let mut answers = Vec::new();
    let mut addrs = Vec::new();
    let mut errors = Vec::new();
    let mut cnames: Vec<CnameRecord> = Vec::new();
    for (label, result) in [("A", a), ("AAAA", aaaa)] {
        match result {
            Err(_) => errors.push(format!(
                "{label}: timed out after {}",
                fmt_limit(LOOKUP_CAP)
            )),
            Ok(Err(e)) => errors.push(format!("{label}: {}", describe_error(&e))),
            Ok(Ok(lookup)) => {
                let before = addrs.len();
                for record in lookup.answers() {
                    // The A and AAAA answers usually repeat the same aliases.
                    if let Some(c) = cname_of(record).filter(|c| !cnames.contains(c)) {
                        cnames.push(c);
                    }
                    let ip = match &record.data {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(a) => IpAddr::V6(a.0),
                        _ => continue,
                    };
                    if !addrs.contains(&ip) {
                        addrs.push(ip);
                        answers.push(answer(ip, Some(record.ttl), docker));
                    }
                }
                if addrs.len() == before {
                    errors.push(format!("{label}: no records"));
                }
            }
        }
    }
    Resolved {
        dns: DnsResult {
            host: host.to_owned(),
            resolver: resolver_label,
            cnames,
            answers,
            errors,
            elapsed_ms: ms(started),
        },
        addrs,
    }
}

/// A CNAME answer as the alias it declares, names without DNS's trailing dot.
fn cname_of(record: &Record) -> Option<CnameRecord> {
    let RData::CNAME(target) = &record.data else {
        return None;
    };
    let bare = |n: String| n.trim_end_matches('.').to_owned();
    Some(CnameRecord {
        name: bare(record.name.to_utf8()),
        target: bare(target.0.to_utf8()),
        ttl: record.ttl,
    })
}

fn from_static(
    host: &str,
    resolver: &str,
    addrs: Vec<IpAddr>,
    missing_note: &str,
    started: Instant,
    docker: &[(String, String)],
) -> Resolved {
    let mut errors = Vec::new();
    if !missing_note.is_empty() {
        if !addrs.iter().any(IpAddr::is_ipv4) {
            errors.push(format!("A: {missing_note}"));
        }
        if !addrs.iter().any(IpAddr::is_ipv6) {
            errors.push(format!("AAAA: {missing_note}"));
        }
    }
    Resolved {
        dns: DnsResult {
            host: host.to_owned(),
            resolver: resolver.to_owned(),
            cnames: Vec::new(),
            answers: addrs.iter().map(|&ip| answer(ip, None, docker)).collect(),
            errors,
            elapsed_ms: ms(started),
        },
        addrs,
    }
}

/// `system (/etc/resolv.conf: 10.0.0.2:53, 10.0.0.3:53)`.
fn describe_resolver(config: &ResolverConfig) -> String {
    let mut servers: Vec<String> = Vec::new();
    for ns in config.name_servers() {
        let port = ns.connections.first().map_or(53, |c| c.port);
        let s = std::net::SocketAddr::new(ns.ip, port).to_string();
        if !servers.contains(&s) {
            servers.push(s);
        }
    }
    if servers.is_empty() {
        "system (/etc/resolv.conf: no nameserver)".to_owned()
    } else {
        format!("system (/etc/resolv.conf: {})", servers.join(", "))
    }
}

/// One resolver error in words; the record type is prefixed by the caller.
pub(crate) fn describe_error(e: &NetError) -> String {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => "no such name (NXDOMAIN)".to_owned(),
                ResponseCode::NoError => "no records".to_owned(),
                code => format!("no records ({code})"),
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
            "the DNS server failed (SERVFAIL)".to_owned()
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => {
            "the DNS server refused the query (REFUSED)".to_owned()
        }
        NetError::Timeout => "timed out (no answer from the DNS server)".to_owned(),
        NetError::NoConnections => "no DNS server could be reached".to_owned(),
        other => other.to_string(),
    }
}

/// Every address `/etc/hosts` gives `name`, in file order, without duplicates. Names match
/// case-insensitively and a trailing dot is ignored, as in glibc.
pub(crate) fn hosts_lookup(contents: &str, name: &str) -> Vec<IpAddr> {
    let wanted = name.trim_end_matches('.');
    let mut out = Vec::new();
    for line in contents.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(addr) = fields.next() else { continue };
        // Link-local entries may carry a zone (`fe80::1%eth0`); the address is what counts.
        let Ok(ip) = addr.split('%').next().unwrap_or_default().parse::<IpAddr>() else {
            continue;
        };
        if fields.any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(wanted))
            && !out.contains(&ip)
        {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_shared::probe::AddressOwner;

    #[test]
    fn hosts_file_parsing() {
        let file = "\
# comment line
127.0.0.1\tlocalhost
::1     localhost ip6-localhost ip6-loopback
172.18.0.5 api api.internal # trailing comment
fe80::1%eth0 router
not-an-ip foo
10.0.0.1 API
127.0.0.1 localhost
";
        assert_eq!(
            hosts_lookup(file, "localhost"),
            vec![IpAddr::from([127, 0, 0, 1]), "::1".parse().expect("ip")]
        );
        assert_eq!(
            hosts_lookup(file, "api."),
            vec![IpAddr::from([172, 18, 0, 5]), IpAddr::from([10, 0, 0, 1])]
        );
        assert_eq!(
            hosts_lookup(file, "router"),
            vec!["fe80::1".parse::<IpAddr>().expect("ip")]
        );
        assert!(hosts_lookup(file, "foo").is_empty());
        assert!(hosts_lookup(file, "comment").is_empty());
        assert!(hosts_lookup("", "localhost").is_empty());
    }

    /// The aliases a lookup passes through are kept (they used to be dropped), named
    /// without the trailing dot; address records are not aliases.
    #[test]
    fn cname_answers_become_aliases() {
        use hickory_resolver::proto::rr::rdata::{A, CNAME};
        use hickory_resolver::proto::rr::Name;
        let name = |n: &str| Name::from_ascii(n).expect("name");
        let alias = Record::from_rdata(
            name("shop.example."),
            300,
            RData::CNAME(CNAME(name("shop.example.cdn.cloudflare.net."))),
        );
        assert_eq!(
            cname_of(&alias),
            Some(CnameRecord {
                name: "shop.example".to_owned(),
                target: "shop.example.cdn.cloudflare.net".to_owned(),
                ttl: 300,
            })
        );
        let address = Record::from_rdata(
            name("shop.example.cdn.cloudflare.net."),
            60,
            RData::A(A::new(104, 16, 0, 1)),
        );
        assert_eq!(cname_of(&address), None);
    }

    #[tokio::test]
    async fn literals_skip_dns() {
        let docker = vec![("proj_default".to_owned(), "172.18.0.0/16".to_owned())];
        let r = resolve("172.18.0.5", &docker).await;
        assert_eq!(r.dns.resolver, "literal");
        assert_eq!(r.addrs, vec![IpAddr::from([172, 18, 0, 5])]);
        assert_eq!(r.dns.answers[0].ttl, None);
        assert_eq!(
            r.dns.answers[0].owner,
            AddressOwner::DockerNetwork {
                network: "proj_default".to_owned()
            }
        );
        let r = resolve("::1", &[]).await;
        assert_eq!(r.dns.answers[0].family, AddressFamily::Ipv6);
        assert_eq!(r.dns.answers[0].owner, AddressOwner::Loopback);
    }

    /// `localhost` comes from /etc/hosts when listed there (IPv6 only if the file says so),
    /// and is loopback either way.
    #[tokio::test]
    async fn localhost_resolves_from_the_hosts_file() {
        let file = std::fs::read_to_string(HOSTS_FILE).unwrap_or_default();
        let listed = hosts_lookup(&file, "localhost");
        let r = resolve("localhost", &[]).await;
        assert!(!r.addrs.is_empty());
        assert!(r
            .dns
            .answers
            .iter()
            .all(|a| a.owner == AddressOwner::Loopback && a.ttl.is_none()));
        assert!(
            r.addrs.contains(&IpAddr::from([127, 0, 0, 1])),
            "{:?}",
            r.addrs
        );
        if listed.is_empty() {
            assert!(r.dns.resolver.starts_with("built-in"), "{}", r.dns.resolver);
            assert_eq!(r.addrs.len(), 2);
        } else {
            assert_eq!(r.dns.resolver, HOSTS_FILE);
            assert_eq!(r.addrs, listed);
            let has_v6 = listed.iter().any(IpAddr::is_ipv6);
            assert_eq!(
                r.dns.errors.iter().any(|e| e.starts_with("AAAA:")),
                !has_v6,
                "{:?}",
                r.dns.errors
            );
        }
    }
}
