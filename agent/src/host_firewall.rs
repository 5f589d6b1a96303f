//! Reads this host's own firewall live: `iptables-save`, `ip6tables-save` and
//! `nft -j list ruleset`, run with fixed arguments (nothing from a request reaches a
//! command line), parsed by the same code as an upload.
//!
//! Reading netfilter needs root (CAP_NET_ADMIN). An agent without it gets each command's
//! own error and a sentence saying what to do instead, never a failure of the agent.
//!
//! With the `nf_tables` backend of iptables (Debian's default since 10), iptables' tables
//! are also nftables tables and `nft -j` shows them with opaque `xt` matches. They are taken
//! from `iptables-save`, which shows every option, and left out of the nft view, so each
//! rule is evaluated once and in full.

use std::time::Duration;

use chrono::Utc;
use tokio::process::Command;
use vantage_shared::rules::{self, RuleSet, MAX_INPUT_BYTES};
use vantage_shared::{HostCommandResult, HostFirewallRead, LoadedRules};

/// The id of the live host rules among the loaded rules.
pub const HOST_RULES_ID: &str = "host";
/// One command may take this long (a host with kube-proxy has tens of thousands of rules).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The tables iptables-nft creates in the `ip` and `ip6` families.
const IPTABLES_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// What one command printed, or why it printed nothing usable.
enum Output {
    /// What it printed, and what it warned about on stderr while succeeding.
    Text(String, String),
    Failed(String),
}

async fn run(program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        // iptables-save looks for modules and locks under the usual paths only.
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LC_ALL", "C");
    let out = match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
        Err(_) => {
            return Output::Failed(format!(
                "did not finish within {} s",
                COMMAND_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Output::Failed("not installed".into())
        }
        Ok(Err(e)) => return Output::Failed(e.to_string()),
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Output::Failed(format!(
            "{} ({})",
            first.trim().chars().take(300).collect::<String>(),
            out.status
        ));
    }
    if out.stdout.len() > MAX_INPUT_BYTES {
        return Output::Failed(format!(
            "printed {} bytes, more than the {} MB Vantage reads",
            out.stdout.len(),
            MAX_INPUT_BYTES / 1_000_000
        ));
    }
    let warnings = String::from_utf8_lossy(&out.stderr).into_owned();
    match String::from_utf8(out.stdout) {
        Ok(text) => Output::Text(text, warnings),
        Err(_) => Output::Failed("printed something that is not UTF-8 text".into()),
    }
}

/// The effective user id, from `/proc/self/status` (no `unsafe` `geteuid` needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Removes iptables-nft's own tables from `nft -j list ruleset` output (see the module
/// header); returns the JSON again and how many tables were left out.
pub fn without_iptables_tables(json: &str, families: &[&str]) -> Result<(String, usize), String> {
    let mut doc: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let Some(items) = doc.get_mut("nftables").and_then(|v| v.as_array_mut()) else {
        return Err("no `nftables` list in the output".into());
    };
    let managed = |family: Option<&str>, table: Option<&str>| {
        family.is_some_and(|f| families.contains(&f))
            && table.is_some_and(|t| IPTABLES_TABLES.contains(&t))
    };
    let mut dropped = 0;
    items.retain(|item| {
        let Some((kind, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            return true;
        };
        let family = body.get("family").and_then(|v| v.as_str());
        let table = if kind == "table" {
            body.get("name")
        } else {
            body.get("table")
        }
        .and_then(|v| v.as_str());
        let drop = managed(family, table);
        if drop && kind == "table" {
            dropped += 1;
        }
        !drop
    });
    serde_json::to_string(&doc)
        .map(|s| (s, dropped))
        .map_err(|e| e.to_string())
}

/// Adds parsed sets to `sets`: how many, or the parser's error as the command's message.
fn add_sets(
    parsed: Result<Vec<RuleSet>, rules::RulesError>,
    sets: &mut Vec<RuleSet>,
) -> Result<usize, String> {
    let parsed = parsed.map_err(|e| format!("could not be read: {e}"))?;
    let n = parsed.len();
    sets.extend(parsed);
    Ok(n)
}

/// What one `iptables-save`-like command gave.
struct Save {
    result: HostCommandResult,
    /// What it printed on stderr while succeeding.
    warnings: String,
    /// Its output parsed and came from iptables' nf_tables backend.
    nf_tables: bool,
    /// It failed for lack of privileges.
    denied: bool,
}

/// Runs `program` (`iptables-save`, `ip6tables-save` or a `-legacy-save`) and adds the
/// tables it printed to `sets`.
async fn read_save(program: &str, sets: &mut Vec<RuleSet>) -> Save {
    let (mut warnings, mut nf_tables, mut denied) = (String::new(), false, false);
    let (ok, message) = match run(program, &[]).await {
        Output::Failed(m) => {
            denied = permission_problem(&m);
            (false, m)
        }
        Output::Text(text, stderr) => {
            warnings = stderr;
            if text.trim().is_empty() {
                (true, "no rules (no table is in use)".to_owned())
            } else {
                match add_sets(rules::iptables::parse_iptables_save(&text, program), sets) {
                    Ok(n) => {
                        nf_tables = text.lines().take(3).any(|l| l.contains("(nf_tables)"));
                        (true, format!("{n} table(s)"))
                    }
                    Err(e) => (false, e),
                }
            }
        }
    };
    Save {
        result: HostCommandResult {
            command: program.to_owned(),
            ok,
            message,
        },
        warnings,
        nf_tables,
        denied,
    }
}

/// Runs the three commands and parses what they printed.
pub async fn read() -> HostFirewallRead {
    // When the commands started: what they print is the firewall as of then.
    let read_at = Utc::now();
    let mut commands = Vec::new();
    let mut sets: Vec<RuleSet> = Vec::new();
    // The nft families whose iptables tables were read in full from iptables-save (so nft's
    // `xt` view of them is left out). Set per family, and only once its output parsed:
    // a failed ip6tables-save must not hide nft's view of the IPv6 rules.
    let mut read_from_iptables: Vec<&str> = Vec::new();
    let mut denied = false;

    for (program, legacy, family) in [
        ("iptables-save", "iptables-legacy-save", "ip"),
        ("ip6tables-save", "ip6tables-legacy-save", "ip6"),
    ] {
        let save = read_save(program, &mut sets).await;
        denied |= save.denied;
        if save.nf_tables {
            read_from_iptables.push(family);
        }
        commands.push(save.result);
        // Both backends in use: the nf_tables iptables-save succeeds, shows only its own
        // rules and warns on stderr. The kernel applies both, so read the legacy ones too.
        if save.warnings.contains("legacy tables present") {
            let legacy = read_save(legacy, &mut sets).await;
            denied |= legacy.denied;
            commands.push(legacy.result);
        }
    }

    let label = "nft -j list ruleset";
    let (ok, message) = match run("nft", &["-j", "list", "ruleset"]).await {
        Output::Failed(m) => {
            denied |= permission_problem(&m);
            (false, m)
        }
        Output::Text(text, _) => {
            let filtered = if read_from_iptables.is_empty() {
                Ok((text, 0))
            } else {
                without_iptables_tables(&text, &read_from_iptables)
            };
            match filtered {
                Err(e) => (false, format!("could not be read: {e}")),
                Ok((json, skipped)) => {
                    let note = if skipped > 0 {
                        format!(
                            "; {skipped} table(s) of iptables' nf_tables backend read from \
                             iptables-save instead"
                        )
                    } else {
                        String::new()
                    };
                    match add_sets(rules::nft::parse_nft_ruleset(&json, label), &mut sets) {
                        Ok(n) => (true, format!("{n} table(s){note}")),
                        // An empty ruleset (or only iptables' tables) is not an error.
                        Err(_) if !json.contains("\"table\"") => {
                            (true, format!("no nftables tables{note}"))
                        }
                        Err(e) => (false, e),
                    }
                }
            }
        }
    };
    commands.push(HostCommandResult {
        command: label.to_owned(),
        ok,
        message,
    });

    let summary = if !sets.is_empty() {
        format!(
            "Read {} table(s) of this host's firewall at {}.",
            sets.len(),
            read_at.format("%H:%M:%S UTC")
        )
    } else if denied {
        let who = match effective_uid() {
            Some(0) => "the agent runs as root but without CAP_NET_ADMIN (in a container: \
                        `--cap-add NET_ADMIN`)"
                .to_owned(),
            Some(uid) => format!("the agent runs as uid {uid}, and reading netfilter needs root"),
            None => "reading netfilter needs root".to_owned(),
        };
        format!(
            "Could not read the firewall: {who}. Run `sudo iptables-save; sudo ip6tables-save` \
             or `sudo nft -j list ruleset` yourself and load the output here."
        )
    } else if commands.iter().all(|c| c.ok) {
        "This host has no firewall rules: every port that a program listens on is open \
         to whoever can route to it."
            .to_owned()
    } else {
        "Could not read the firewall: see each command's message. Install iptables or \
         nftables, or load their output here."
            .to_owned()
    };
    let loaded = (!sets.is_empty()).then(|| LoadedRules {
        id: HOST_RULES_ID.to_owned(),
        name: "This host (live)".to_owned(),
        source: format!(
            "live: {}",
            commands
                .iter()
                .filter(|c| c.ok)
                .map(|c| c.command.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        loaded_at: read_at,
        sets,
    });
    HostFirewallRead {
        read_at,
        summary,
        commands,
        loaded,
    }
}

/// iptables says "Permission denied (you must be root)"; nft says "Operation not permitted".
fn permission_problem(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("permission denied") || m.contains("not permitted") || m.contains("must be root")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_nft_tables_are_left_out_of_the_nft_view() {
        let json = r#"{"nftables":[
          {"metainfo":{"version":"1.0.6","release_name":"x","json_schema_version":1}},
          {"table":{"family":"ip","name":"filter","handle":1}},
          {"chain":{"family":"ip","table":"filter","name":"INPUT","handle":1}},
          {"rule":{"family":"ip","table":"filter","chain":"INPUT","handle":2,"expr":[]}},
          {"table":{"family":"inet","name":"filter","handle":2}},
          {"chain":{"family":"inet","table":"filter","name":"input","handle":1}},
          {"table":{"family":"ip6","name":"nat","handle":3}}
        ]}"#;
        let (out, dropped) = without_iptables_tables(json, &["ip", "ip6"]).expect("filters");
        assert_eq!(dropped, 2);
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        let items = v["nftables"].as_array().expect("list");
        // metainfo + the native `inet filter` table and its chain.
        assert_eq!(items.len(), 3, "{out}");
        assert!(out.contains(r#""family":"inet""#));
        assert!(!out.contains(r#""family":"ip6""#));
    }

    #[test]
    fn only_the_families_read_from_iptables_save_are_left_out() {
        let json = r#"{"nftables":[
          {"table":{"family":"ip","name":"filter","handle":1}},
          {"table":{"family":"ip6","name":"filter","handle":2}}
        ]}"#;
        // ip6tables-save failed: nft's view is all there is of the IPv6 rules.
        let (out, dropped) = without_iptables_tables(json, &["ip"]).expect("filters");
        assert_eq!(dropped, 1);
        assert!(out.contains(r#""family":"ip6""#), "{out}");
        assert!(!out.contains(r#""family":"ip""#), "{out}");
    }

    #[test]
    fn broken_nft_output_is_an_error_not_a_panic() {
        assert!(without_iptables_tables("nope", &["ip"]).is_err());
        assert!(without_iptables_tables("{}", &["ip"]).is_err());
    }

    #[test]
    fn permission_messages_are_recognised() {
        assert!(permission_problem(
            "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)"
        ));
        assert!(permission_problem(
            "netlink: Error: cache initialization failed: Operation not permitted"
        ));
        assert!(!permission_problem("not installed"));
    }
}
