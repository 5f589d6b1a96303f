//! Shared checks and input shapes for the fuzz targets in `fuzz_targets/`.
//!
//! Every target calls a parser or evaluator with untrusted input; a panic anywhere (including
//! an `assert!` here) is a finding. The checks below are the cheap invariants the callers
//! rely on: located errors point inside the text, successful parses survive a serde round
//! trip (the agent stores rule sets and the dashboard receives them as JSON), and every
//! verdict and report can be serialised.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::{Arbitrary, Unstructured};
use vantage_shared::cors::{CorsRequest, Credentials, ObservedResponse, RequestMode};
use vantage_shared::rules::{
    DestinationInfo, Direction, Outcome, PortMatch, Protocol, Question, RuleSet, RulesError,
    Verdict,
};

/// The name hint every rules target passes (kept as each set's `origin`).
pub const NAME_HINT: &str = "fuzz.json";

/// Checks the result of any rules parser for `text`.
pub fn check_rules(text: &str, result: &Result<Vec<RuleSet>, RulesError>) {
    match result {
        Ok(sets) => check_sets(sets),
        Err(e) => check_error(text, e),
    }
}

/// A parse error must say something and, when it has a position, point inside `text`.
pub fn check_error(text: &str, e: &RulesError) {
    assert!(!e.message.trim().is_empty(), "empty error message: {e:?}");
    assert!(!e.to_string().trim().is_empty());
    // The position is computed on the text without its byte-order mark, which is on line 1.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(line) = e.line {
        let lines = text.split('\n').count();
        assert!(
            (1..=lines).contains(&line),
            "error line {line} outside 1..={lines}: {e:?}"
        );
        if let Some(column) = e.column {
            let width = text
                .split('\n')
                .nth(line - 1)
                .map_or(0, |l| l.chars().count());
            assert!(
                (1..=width + 1).contains(&column),
                "error column {column} outside 1..={} on line {line}: {e:?}",
                width + 1
            );
        }
    }
    if let Some(column) = e.column {
        assert!(column >= 1, "column 0: {e:?}");
    }
    let json = serde_json::to_string(e).expect("RulesError serialises");
    let back: RulesError = serde_json::from_str(&json).expect("RulesError deserialises");
    assert_eq!(&back, e, "RulesError does not survive a serde round trip");
}

/// Parsed rule sets are in evaluation order, have sane ranges, print, and round-trip.
pub fn check_sets(sets: &[RuleSet]) {
    for set in sets {
        assert!(!set.title().is_empty());
        for (i, rule) in set.rules.iter().enumerate() {
            assert_eq!(rule.position, i, "position out of order in {}", set.id);
            let _ = rule.one_line(set.kind);
            let _ = rule.traffic();
            if let PortMatch::Ports { ranges } = &rule.ports {
                for r in ranges {
                    assert!(r.from <= r.to, "backwards port range {r:?} in {}", set.id);
                }
            }
            if let Some(ranges) = &rule.source_ports {
                for r in ranges {
                    assert!(r.from <= r.to, "backwards source ports {r:?} in {}", set.id);
                }
            }
            for peer in rule.peers.iter().chain(&rule.local).chain(&rule.applies_to) {
                if let vantage_shared::rules::Peer::Cidr { cidr } = peer {
                    let max = if cidr.is_ipv4() { 32 } else { 128 };
                    assert!(
                        cidr.prefix <= max,
                        "prefix /{} on {}",
                        cidr.prefix,
                        cidr.addr
                    );
                }
            }
        }
    }
    let json = serde_json::to_string(sets).expect("rule sets serialise");
    let back: Vec<RuleSet> = serde_json::from_str(&json).unwrap_or_else(|e| {
        panic!("rule sets do not deserialise from their own JSON: {e}\n{json}")
    });
    assert_eq!(back, sets, "rule sets do not survive a serde round trip");
}

/// A verdict serialises, round-trips, has a summary, its fixes carry valid JSON, and every
/// rule it names exists in `sets` at the position it gives (the dashboard highlights the
/// deciding rule by set id and position).
pub fn check_verdict(v: &Verdict, sets: &[&RuleSet]) {
    let _ = vantage_shared::rules::summary(v);
    let _ = vantage_shared::rules::to_rules_verdict(v);
    assert!(!v.explanation.trim().is_empty(), "empty explanation: {v:?}");
    if v.outcome == Outcome::Allowed {
        assert!(v.fixes.is_empty(), "fixes for allowed traffic: {v:?}");
    }
    for fix in &v.fixes {
        assert!(!fix.command.is_empty());
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&fix.json) {
            panic!("fix JSON does not parse ({e}): {}", fix.json);
        }
    }
    let refs = v
        .deciding_rules
        .iter()
        .chain(v.nearest_rules.iter().map(|n| &n.rule))
        .chain(v.unknown_reasons.iter().filter_map(|u| u.rule.as_ref()))
        .chain(v.layers.iter().flat_map(|l| &l.deciding_rules))
        .chain(
            v.host
                .iter()
                .flat_map(|h| h.dnat_rule.iter().chain(&h.trace)),
        );
    for r in refs {
        let found = sets.iter().any(|s| {
            s.id == r.set_id
                && s.rules
                    .get(r.position)
                    .is_some_and(|rule| rule.label == r.label)
        });
        assert!(found, "verdict names a rule that is not in the sets: {r:?}");
    }
    let json = serde_json::to_string(v).expect("verdict serialises");
    let back: Verdict = serde_json::from_str(&json).expect("verdict deserialises");
    assert_eq!(&back, v, "verdict does not survive a serde round trip");
}

/// How many bytes at the start of a `rules_evaluate` input describe the question; the rest
/// is the rules text. Fixed so that seeds can be written by hand: 64 bytes, then the JSON.
pub const QUESTION_HEADER: usize = 64;

/// Where the question's remote address comes from.
#[derive(Debug, Arbitrary)]
enum SourceSpec {
    /// The address (or a neighbour) of a CIDR in the rules, so questions hit rules.
    FromRules {
        index: u16,
        offset: u8,
    },
    V4([u8; 4]),
    V6([u8; 16]),
    /// IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which the evaluator reads as IPv4.
    Mapped([u8; 4]),
}

#[derive(Debug, Arbitrary)]
struct QuestionSpec {
    source: SourceSpec,
    protocol: u8,
    port: Option<u16>,
    icmp_type: Option<u8>,
    icmp_code: Option<u8>,
    outbound: bool,
    destination: Option<DestinationSpec>,
    /// Which sets to pass (bit i = set i); 0 = all.
    set_mask: u16,
}

#[derive(Debug, Arbitrary)]
struct DestinationSpec {
    address: Option<[u8; 4]>,
    /// Indexes into the tags/accounts/ASGs the rules mention.
    tags: Vec<u8>,
    accounts: Vec<u8>,
    asgs: Vec<u8>,
    /// Host firewall: the arrival interface (index into [`INTERFACES`], past its end =
    /// none) and a Docker published port's container address.
    interface: u8,
    published_to: Option<([u8; 4], u16)>,
}

/// Interfaces a host-firewall question may name: the usual ones and Docker's bridges.
const INTERFACES: &[&str] = &["eth0", "lo", "docker0", "wlan0", "br-0a1b2c3d4e5f", "ens3"];

/// Builds a question from the header bytes, drawing addresses and names from `sets` so
/// that the question exercises matching rather than always missing.
pub fn question_from(header: &[u8], sets: &[RuleSet]) -> (Question, Vec<usize>) {
    let mut u = Unstructured::new(header);
    let spec = QuestionSpec::arbitrary(&mut u).unwrap_or(QuestionSpec {
        source: SourceSpec::V4([203, 0, 113, 7]),
        protocol: 0,
        port: Some(443),
        icmp_type: None,
        icmp_code: None,
        outbound: false,
        destination: None,
        set_mask: 0,
    });
    let mut cidrs = Vec::new();
    let mut tags = Vec::new();
    let mut accounts = Vec::new();
    let mut asgs = Vec::new();
    for rule in sets.iter().flat_map(|s| &s.rules) {
        for peer in rule.peers.iter().chain(&rule.local).chain(&rule.applies_to) {
            use vantage_shared::rules::Peer;
            match peer {
                Peer::Cidr { cidr } => cidrs.push(*cidr),
                Peer::GcpTag { tag } => tags.push(tag.clone()),
                Peer::GcpServiceAccount { account } => accounts.push(account.clone()),
                Peer::AzureAsg { id } => asgs.push(id.clone()),
                _ => {}
            }
        }
    }
    let source = match spec.source {
        SourceSpec::FromRules { index, offset } if !cidrs.is_empty() => {
            let c = cidrs[usize::from(index) % cidrs.len()];
            // The network address plus a small offset: inside for most prefixes, just
            // outside for host routes.
            match c.addr {
                IpAddr::V4(a) => {
                    IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add(u32::from(offset))))
                }
                IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(
                    u128::from(a).wrapping_add(u128::from(offset)),
                )),
            }
        }
        SourceSpec::FromRules { .. } => IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        SourceSpec::V4(b) => IpAddr::V4(Ipv4Addr::from(b)),
        SourceSpec::V6(b) => IpAddr::V6(Ipv6Addr::from(b)),
        SourceSpec::Mapped(b) => IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped()),
    };
    // Mostly the common protocols; `all` and odd numbers too, which a question should not
    // carry but the API accepts from JSON.
    let protocol = match spec.protocol % 8 {
        0 | 1 => Protocol::Tcp,
        2 => Protocol::Udp,
        3 => Protocol::Icmp,
        4 => Protocol::Icmpv6,
        5 => Protocol::All,
        _ => Protocol::from_number(spec.protocol),
    };
    let pick = |idx: &[u8], from: &[String]| -> Vec<String> {
        if from.is_empty() {
            return Vec::new();
        }
        idx.iter()
            .map(|&i| from[usize::from(i) % from.len()].clone())
            .collect()
    };
    let destination = spec.destination.map(|t| DestinationInfo {
        address: t.address.map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        tags: pick(&t.tags, &tags),
        service_accounts: pick(&t.accounts, &accounts),
        application_security_groups: pick(&t.asgs, &asgs),
        interface: INTERFACES
            .get(usize::from(t.interface))
            .map(|i| (*i).to_owned()),
        published_to: t
            .published_to
            .map(|(a, port)| std::net::SocketAddr::from((Ipv4Addr::from(a), port))),
    });
    let question = Question {
        source,
        protocol,
        port: spec.port,
        icmp_type: spec.icmp_type,
        icmp_code: spec.icmp_code,
        direction: if spec.outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        destination,
    };
    let chosen = (0..sets.len())
        .filter(|&i| spec.set_mask == 0 || (i < 16 && spec.set_mask & (1 << i) != 0))
        .collect();
    (question, chosen)
}

/// A header name: mostly one the CORS rules care about, sometimes anything.
#[derive(Debug)]
pub struct HeaderName(pub String);

const HEADER_NAMES: &[&str] = &[
    "Access-Control-Allow-Origin",
    "access-control-allow-credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Allow-Private-Network",
    "Vary",
    "Location",
    "Content-Type",
    "Content-Language",
    "Accept",
    "Accept-Language",
    "Authorization",
    "Range",
    "Cookie",
    "Set-Cookie",
    "Origin",
    "X-Requested-With",
    "X-Api-Key",
    "X-Total-Count",
    "X-HTTP-Method-Override",
    "Server",
    "Proxy-Authorization",
    "Sec-Fetch-Mode",
    "Content-Length",
    "Host",
];

impl<'a> Arbitrary<'a> for HeaderName {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let i = u.int_in_range(0..=HEADER_NAMES.len())?;
        Ok(Self(match HEADER_NAMES.get(i) {
            Some(n) => (*n).to_owned(),
            None => String::arbitrary(u)?,
        }))
    }
}

/// A header value: mostly one that means something to CORS, sometimes anything.
#[derive(Debug)]
pub struct HeaderValue(pub String);

const HEADER_VALUES: &[&str] = &[
    "*",
    "https://shop.example",
    "https://Shop.example:443",
    "null",
    "true",
    "True",
    "GET, POST, PUT",
    "*, Authorization",
    "Content-Type, X-Api-Key",
    "application/json",
    "text/plain;charset=UTF-8",
    "multipart/form-data; boundary=x",
    "Origin",
    "600",
    "-1",
    "99999999999999999999",
    "bytes=0-",
    "",
    " ",
];

impl<'a> Arbitrary<'a> for HeaderValue {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let i = u.int_in_range(0..=HEADER_VALUES.len())?;
        Ok(Self(match HEADER_VALUES.get(i) {
            Some(v) => (*v).to_owned(),
            None => String::arbitrary(u)?,
        }))
    }
}

/// An origin: a few realistic ones (incl. forms that normalise), or anything.
#[derive(Debug)]
pub struct OriginText(pub String);

const ORIGINS: &[&str] = &[
    "https://shop.example",
    "HTTPS://Shop.Example:443/",
    "http://localhost:8080",
    "http://[::1]:80",
    "null",
    "https://user@shop.example/path?q#f",
];

impl<'a> Arbitrary<'a> for OriginText {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let i = u.int_in_range(0..=ORIGINS.len())?;
        Ok(Self(match ORIGINS.get(i) {
            Some(o) => (*o).to_owned(),
            None => String::arbitrary(u)?,
        }))
    }
}

/// A method: the usual ones in several spellings, or anything.
#[derive(Debug)]
pub struct MethodText(pub String);

const METHODS: &[&str] = &[
    "GET", "get", "POST", "post", "PUT", "put", "PATCH", "patch", "DELETE", "OPTIONS", "HEAD",
    "CONNECT", "TRACE", "TRACK", " Post ",
];

impl<'a> Arbitrary<'a> for MethodText {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let i = u.int_in_range(0..=METHODS.len())?;
        Ok(Self(match METHODS.get(i) {
            Some(m) => (*m).to_owned(),
            None => String::arbitrary(u)?,
        }))
    }
}

#[derive(Debug, Arbitrary)]
pub struct CorsInput {
    origin: OriginText,
    method: MethodText,
    headers: Vec<(HeaderName, HeaderValue)>,
    credentials: u8,
    no_cors: bool,
    read_headers: Vec<HeaderName>,
    preflight: Option<ResponseInput>,
    actual: Option<ResponseInput>,
}

#[derive(Debug, Arbitrary)]
pub struct ResponseInput {
    status: u16,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// A value to echo as `Access-Control-Allow-Origin`: the request's origin, as given or
    /// serialised, so that the later checks are reached.
    echo_origin: Option<bool>,
    redirected: bool,
    tainted_origin: bool,
}

impl CorsInput {
    pub fn request(&self) -> CorsRequest {
        CorsRequest {
            origin: self.origin.0.clone(),
            method: self.method.0.clone(),
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.0.clone(), v.0.clone()))
                .collect(),
            mode: if self.no_cors {
                RequestMode::NoCors
            } else {
                RequestMode::Cors
            },
            credentials: match self.credentials % 3 {
                0 => Credentials::Omit,
                1 => Credentials::SameOrigin,
                _ => Credentials::Include,
            },
            read_headers: self.read_headers.iter().map(|n| n.0.clone()).collect(),
        }
    }

    pub fn responses(&self) -> (Option<ObservedResponse>, Option<ObservedResponse>) {
        let build = |r: &ResponseInput| {
            let mut headers: Vec<(String, String)> = r
                .headers
                .iter()
                .map(|(n, v)| (n.0.clone(), v.0.clone()))
                .collect();
            match r.echo_origin {
                Some(true) => headers.push((
                    "Access-Control-Allow-Origin".to_owned(),
                    vantage_shared::cors::serialize_origin(&self.origin.0),
                )),
                Some(false) => headers.push((
                    "Access-Control-Allow-Origin".to_owned(),
                    self.origin.0.clone(),
                )),
                None => {}
            }
            ObservedResponse {
                status: r.status,
                headers,
                redirected: r.redirected,
                tainted_origin: r.tainted_origin,
            }
        };
        (
            self.preflight.as_ref().map(build),
            self.actual.as_ref().map(build),
        )
    }
}
