//! HAProxy's admin outputs: the stats CSV (`# pxname,svname,…`, the stats page with `;csv`
//! or `show stat`) and `show servers state` (numbers, from the stats socket).

use super::{ProxyServer, ServerState};

/// HAProxy's check status codes in the order of its `enum healthcheck_status`, which is what
/// `show servers state` writes as `srv_check_status` (checked against HAProxy 2.6: 8 is
/// L4CON, 15 L7OK).
const CHECK_STATUS: [&str; 21] = [
    "UNK", "INI", "START", "CHECKED", "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK",
    "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L57DATA", "L7OK", "L7OKC", "L7STS", "PROCERR",
    "PROCTOUT", "PROCOK",
];

/// A check status in words, with HAProxy's code: "health check: connection refused (L4CON)".
fn check_words(status: &str, code: &str, detail: &str) -> Option<String> {
    let status = status.trim_start_matches('*').trim();
    let words = match status {
        "" | "UNK" | "INI" | "START" | "L4OK" | "L6OK" | "L7OK" | "L7OKC" | "PROCOK" => {
            return None
        }
        "L4TOUT" => "TCP connect timed out".to_owned(),
        "L4CON" => {
            if detail.is_empty() {
                "TCP connection failed".to_owned()
            } else {
                detail.to_lowercase()
            }
        }
        "SOCKERR" => "socket error".to_owned(),
        "L6TOUT" => "TLS handshake timed out".to_owned(),
        "L6RSP" => "TLS error".to_owned(),
        "L7TOUT" => "timeout (no HTTP answer in time)".to_owned(),
        "L7RSP" => "invalid HTTP answer".to_owned(),
        "L7STS" if !code.is_empty() => format!("HTTP {code}"),
        "L7STS" => "bad HTTP status".to_owned(),
        "HANA" => "too many errors on live traffic".to_owned(),
        "PROCERR" | "PROCTOUT" => "external check failed".to_owned(),
        other => other.to_lowercase(),
    };
    Some(format!("health check: {words} ({status})"))
}

fn server_state(status: &str) -> ServerState {
    let s = status.trim();
    if s.starts_with("DOWN") {
        ServerState::Down
    } else if s.starts_with("MAINT") {
        ServerState::Maintenance
    } else if s.starts_with("DRAIN") || s.starts_with("NOLB") {
        ServerState::Draining
    } else {
        // `UP`, `UP 1/3` (failing, not yet down), `no check`.
        ServerState::Up
    }
}

/// The stats CSV: one row per frontend, backend and server, named by the `# pxname,…` header.
pub fn parse_haproxy_csv(text: &str) -> Result<Vec<ProxyServer>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines
        .next()
        .and_then(|l| l.strip_prefix('#'))
        .ok_or("not HAProxy stats CSV: it starts with `# pxname,svname,…`")?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let at = |name: &str| cols.iter().position(|c| *c == name);
    let (px, sv, st) = match (at("pxname"), at("svname"), at("status")) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => return Err("HAProxy stats CSV without pxname, svname and status columns".into()),
    };
    let (chk, code, last, addr) = (
        at("check_status"),
        at("check_code"),
        at("last_chk"),
        at("addr"),
    );
    let mut out = Vec::new();
    for line in lines {
        let f = csv_fields(line);
        let f: Vec<&str> = f.iter().map(String::as_str).collect();
        let get = |i: Option<usize>| i.and_then(|i| f.get(i)).map_or("", |v| v.trim());
        let name = get(Some(sv));
        if matches!(name, "" | "FRONTEND" | "BACKEND") {
            continue;
        }
        let state = server_state(get(Some(st)));
        let reason = if state == ServerState::Up {
            None
        } else if state == ServerState::Down {
            check_words(get(chk), get(code), get(last))
        } else {
            Some(format!(
                "set to {} by an operator",
                get(Some(st)).to_lowercase()
            ))
        };
        out.push(ProxyServer {
            backend: get(Some(px)).to_owned(),
            name: name.to_owned(),
            address: Some(get(addr)).filter(|a| !a.is_empty()).map(str::to_owned),
            state,
            reason,
        });
    }
    Ok(out)
}

/// One CSV line's fields. HAProxy quotes a field that holds a comma or a quote (free text
/// such as `last_chk` or the agent's `last_agt`), doubling inner quotes.
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// `show servers state`: a version line, a `# be_id be_name …` header, space-separated rows.
pub fn parse_haproxy_servers_state(text: &str) -> Result<Vec<ProxyServer>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines
        .by_ref()
        .find_map(|l| l.strip_prefix('#'))
        .ok_or("not `show servers state` output: it has a `# be_id be_name …` header")?;
    let cols: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| cols.iter().position(|c| *c == name);
    let need = ["be_name", "srv_name", "srv_op_state", "srv_admin_state"];
    if need.iter().any(|n| at(n).is_none()) {
        return Err(format!(
            "`show servers state` without the {} columns",
            need.join(", ")
        ));
    }
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let get = |n: &str| at(n).and_then(|i| f.get(i)).copied().unwrap_or("");
        let admin: u32 = get("srv_admin_state").parse().unwrap_or(0);
        // SRV_ADMF_*: forced, inherited, configured and DNS-resolution maintenance; forced
        // and inherited drain. 0x40 only says the FQDN was set on the socket.
        let state = if admin & (0x01 | 0x02 | 0x04 | 0x20) != 0 {
            ServerState::Maintenance
        } else if admin & (0x08 | 0x10) != 0 {
            ServerState::Draining
        } else if get("srv_op_state") == "0" {
            ServerState::Down
        } else {
            ServerState::Up
        };
        let check = get("srv_check_status")
            .parse::<usize>()
            .ok()
            .and_then(|i| CHECK_STATUS.get(i))
            .copied()
            .unwrap_or("");
        let reason = match state {
            ServerState::Up => None,
            ServerState::Down => check_words(check, "", ""),
            _ => Some("set by an operator".to_owned()),
        };
        let address = match (get("srv_addr"), get("srv_port")) {
            ("" | "-", _) => None,
            (a, "" | "-" | "0") => Some(a.to_owned()),
            (a, p) if a.contains(':') => Some(format!("[{a}]:{p}")),
            (a, p) => Some(format!("{a}:{p}")),
        };
        out.push(ProxyServer {
            backend: get("be_name").to_owned(),
            name: get("srv_name").to_owned(),
            address,
            state,
            reason,
        });
    }
    Ok(out)
}
