//! Target URLs, slugs and new-target checks, the CNAME chain, and a mutation fuzz of the
//! URL parser.

use super::*;
use crate::rules::RuleScope;

fn cname(name: &str, target: &str) -> CnameRecord {
    CnameRecord {
        name: name.to_owned(),
        target: target.to_owned(),
        ttl: 300,
    }
}

#[test]
fn cname_chain_follows_the_records_from_the_host() {
    let mut dns = DnsResult {
        host: "shop.example".to_owned(),
        resolver: "system".to_owned(),
        cnames: Vec::new(),
        answers: Vec::new(),
        errors: Vec::new(),
        elapsed_ms: 1.0,
    };
    assert_eq!(dns.cname_chain(), ["shop.example"]);
    // Out of order, with DNS's trailing dots and case, and an unrelated record.
    dns.cnames = vec![
        cname("Shop.Example.cdn.net.", "edge.cdn.net."),
        cname("other.example.", "x.example."),
        cname("shop.example.", "shop.example.cdn.net."),
    ];
    assert_eq!(
        dns.cname_chain(),
        ["shop.example", "shop.example.cdn.net.", "edge.cdn.net."]
    );
    // A loop ends the chain instead of running forever.
    dns.cnames = vec![
        cname("shop.example", "a.example"),
        cname("a.example", "shop.example"),
    ];
    assert_eq!(dns.cname_chain(), ["shop.example", "a.example"]);
}

#[test]
fn target_urls_parse_with_defaults_and_clear_errors() {
    let a = parse_target_url("https://API.Shop.example/products?page=2").unwrap();
    assert_eq!(
        (a.scheme.as_str(), a.host.as_str(), a.port, a.path.as_str()),
        ("https", "api.shop.example", 443, "/products?page=2")
    );
    let a = parse_target_url("http://[2001:db8::1]:8080").unwrap();
    assert_eq!(
        (a.host.as_str(), a.port, a.path.as_str()),
        ("2001:db8::1", 8080, "/")
    );
    assert_eq!(a.authority(), "[2001:db8::1]:8080");
    let a = parse_target_url("db.internal:5432").unwrap();
    assert!(!a.is_http());
    assert_eq!(a.authority(), "db.internal:5432");
    assert_eq!(parse_target_url("http://h?x=1").unwrap().path, "/?x=1");

    for (bad, needle) in [
        ("", "empty"),
        ("ftp://h/", "unsupported scheme"),
        ("http://u:p@h/", "credentials"),
        ("http://h/#top", "fragment"),
        ("db.internal", "needs a port"),
        ("h:0", "not a port"),
        ("h:70000", "not a port"),
        ("2001:db8::1:443", "brackets"),
        ("http://[::1/", "unclosed"),
        ("http://[nope]:1/", "IPv6"),
        ("http:///x", "host is empty"),
        ("http://a b/", "spaces"),
        ("http://ex\u{e4}mple.com/", "not a valid host"),
        ("h:1/path", "needs a scheme"),
    ] {
        let err = parse_target_url(bad).unwrap_err();
        assert!(err.contains(needle), "{bad:?}: {err}");
    }
    assert!(parse_target_url(&format!("http://h/{}", "a".repeat(MAX_TARGET_URL))).is_err());
}

#[test]
fn the_url_parser_never_panics_on_mangled_input() {
    // A cheap deterministic fuzz: every prefix and every single-byte mutation of URLs
    // that exercise each branch (brackets, ports, paths, multi-byte characters).
    let seeds = [
        "https://[2001:db8::1]:443/a?b#c",
        "http://user@h\u{e9}:80/p",
        "[::1]:x",
        "h:1:2",
        "http://\u{1F600}/",
    ];
    let alphabet = [
        '[', ']', ':', '/', '?', '#', '@', '%', '\u{e9}', '0', ' ', '\u{0}',
    ];
    for seed in seeds {
        let chars: Vec<char> = seed.chars().collect();
        for i in 0..=chars.len() {
            let prefix: String = chars[..i].iter().collect();
            let _ = parse_target_url(&prefix);
            for c in alphabet {
                let mut m = chars.clone();
                if i < m.len() {
                    m[i] = c;
                } else {
                    m.push(c);
                }
                let _ = parse_target_url(&m.iter().collect::<String>());
            }
        }
    }
}

#[test]
fn slugs_and_validation() {
    assert_eq!(slug("Shop API (public)"), "shop-api-public");
    assert_eq!(slug("  ***  "), "target");
    let ok = NewTarget {
        name: "x".into(),
        url: "https://h/".into(),
        expected_status: Some(200),
        cors_origin: Some("https://shop.example".into()),
        cors_method: Some("POST".into()),
        cors_headers: vec!["Content-Type: application/json".into()],
        cors_credentials: crate::cors::Credentials::Include,
        cors_mode: Default::default(),
        proxy_admin: None,
        firewall: RuleScope::default(),
        interval_seconds: None,
        interval: None,
    };
    assert!(validate_new_target(&ok).is_ok());
    let admin = |url: &str| crate::proxy_admin::ProxyAdmin {
        kind: crate::proxy_admin::ProxyAdminKind::HaproxyCsv,
        url: url.into(),
        backend: None,
    };
    let proxied = NewTarget {
        proxy_admin: Some(admin("unix:/run/haproxy/admin.sock")),
        ..ok.clone()
    };
    assert!(validate_new_target(&proxied).is_ok());
    let stored = Target::from_new(proxied, TargetSource::Dashboard);
    assert_eq!(
        stored.proxy_admin.map(|a| a.url),
        Some("unix:/run/haproxy/admin.sock".to_owned())
    );
    for (bad, needle) in [
        (
            NewTarget {
                expected_status: Some(700),
                ..ok.clone()
            },
            "not an HTTP status",
        ),
        (
            NewTarget {
                cors_origin: Some("shop.example".into()),
                ..ok.clone()
            },
            "CORS origin",
        ),
        (
            NewTarget {
                cors_method: Some("GE T".into()),
                ..ok.clone()
            },
            "not an HTTP method",
        ),
        (
            NewTarget {
                cors_headers: vec!["nocolon".into()],
                ..ok.clone()
            },
            "Name: value",
        ),
        (
            NewTarget {
                name: "n".repeat(81),
                ..ok.clone()
            },
            "longer than",
        ),
        (
            NewTarget {
                url: "h:1".into(),
                ..ok.clone()
            },
            "need an http",
        ),
        (
            NewTarget {
                firewall: RuleScope {
                    sets: vec![String::new()],
                    destination: None,
                },
                ..ok.clone()
            },
            "not a rule set id",
        ),
        (
            NewTarget {
                proxy_admin: Some(admin("ftp://x/stats")),
                ..ok.clone()
            },
            "must start with http://, https:// or unix:/",
        ),
        (
            NewTarget {
                url: "h:1".into(),
                expected_status: None,
                cors_origin: None,
                cors_method: None,
                cors_headers: vec![],
                cors_credentials: Default::default(),
                proxy_admin: Some(admin("http://127.0.0.1:8404/stats;csv")),
                ..ok.clone()
            },
            "proxy admin endpoint needs an http",
        ),
    ] {
        let err = validate_new_target(&bad).unwrap_err();
        assert!(err.contains(needle), "{err}");
    }
}

fn attempt(outcome: FetchOutcome, status: Option<u16>) -> FetchAttempt {
    FetchAttempt {
        outcome,
        status,
        elapsed_ms: 10,
        error: None,
    }
}

#[test]
fn the_browser_matrix() {
    use FetchOutcome::*;
    let p = |nc, c, status| BrowserCheck {
        target_id: "t".into(),
        no_cors: attempt(nc, None),
        cors: attempt(c, status),
        blocked_by: None,
        timing: None,
    };
    assert_eq!(
        classify_browser(&p(Ok, Ok, Some(200))),
        ReachVerdict::Reachable
    );
    assert_eq!(
        classify_browser(&p(Ok, Ok, Some(503))),
        ReachVerdict::HttpError
    );
    assert_eq!(
        classify_browser(&p(Ok, NetworkError, None)),
        ReachVerdict::CorsBlocked
    );
    assert_eq!(
        classify_browser(&p(Timeout, Timeout, None)),
        ReachVerdict::TimedOut
    );
    assert_eq!(
        classify_browser(&p(NetworkError, NetworkError, None)),
        ReachVerdict::FailedBeforeHttp
    );
    assert_eq!(
        classify_browser(&p(Ok, Timeout, None)),
        ReachVerdict::TimedOut
    );
    assert_eq!(
        classify_browser(&p(Skipped, Skipped, None)),
        ReachVerdict::NotAttempted
    );
    let mut mixed = p(Ok, Ok, Some(200));
    mixed.blocked_by = Some(BrowserBlock::MixedContent);
    assert_eq!(classify_browser(&mixed), ReachVerdict::NotAttempted);
}

#[test]
fn phone_link_lifetimes_are_bounded_and_seconds_win() {
    use std::time::Duration;
    let link = |minutes, seconds| NewPhoneLink {
        ttl_minutes: minutes,
        ttl_seconds: seconds,
        base_url: None,
    };
    assert_eq!(link(None, None).lifetime(), Ok(Duration::from_secs(3600)));
    assert_eq!(link(Some(5), None).lifetime(), Ok(Duration::from_secs(300)));
    assert_eq!(
        link(Some(5), Some(30)).lifetime(),
        Ok(Duration::from_secs(30))
    );
    assert_eq!(
        link(Some(MAX_LINK_TTL_MINUTES), None).lifetime(),
        Ok(Duration::from_secs(86_400))
    );
    for bad in [
        link(Some(0), None),
        link(Some(1441), None),
        link(Some(5), Some(0)),
    ] {
        assert!(bad.lifetime().is_err(), "{bad:?}");
    }
}

#[test]
fn intervals_read_as_people_write_them() {
    assert_eq!(parse_interval("60s"), Ok(60));
    assert_eq!(parse_interval("5m"), Ok(300));
    assert_eq!(parse_interval("1h"), Ok(3600));
    assert_eq!(parse_interval("1m30s"), Ok(90));
    assert_eq!(parse_interval(" 45 "), Ok(45));
    assert_eq!(parse_interval("24h"), Ok(86_400));
    for bad in ["", "4s", "0", "25h", "1m30", "ten", "5x", "s", "-5s"] {
        assert!(parse_interval(bad).is_err(), "{bad}");
    }
    let t = |interval: Option<&str>, seconds: Option<u32>| NewTarget {
        name: "x".into(),
        url: "db:5432".into(),
        expected_status: None,
        cors_origin: None,
        cors_method: None,
        cors_headers: vec![],
        cors_credentials: Default::default(),
        cors_mode: Default::default(),
        proxy_admin: None,
        firewall: RuleScope::default(),
        interval_seconds: seconds,
        interval: interval.map(str::to_owned),
    };
    assert_eq!(t(None, None).interval(), Ok(DEFAULT_INTERVAL_SECONDS));
    assert_eq!(t(Some("2m"), None).interval(), Ok(120));
    assert_eq!(t(None, Some(30)).interval(), Ok(30));
    assert!(t(None, Some(4)).interval().is_err());
    assert!(t(Some("2m"), Some(30)).interval().is_err());
    assert!(validate_new_target(&t(None, Some(100_000))).is_err());
    assert_eq!(
        Target::from_new(t(Some("90s"), None), TargetSource::Config).interval_seconds,
        90
    );
}
