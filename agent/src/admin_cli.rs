//! Small operator commands: `vantage health`, the container image's healthcheck (a
//! `FROM scratch` image has no curl), and `vantage token rotate`, which replaces the admin
//! or metrics token in the data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::auth::{random_hex, write_token, METRICS_TOKEN_FILE, TOKEN_FILE};
use crate::config::{default_data_dir, DEFAULT_LISTEN};

#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// The agent's address, as given to `serve --listen`; a wildcard address (0.0.0.0,
    /// [::]) is asked on loopback [default: 127.0.0.1:8787].
    #[arg(long, env = "VANTAGE_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Replace a token with a new random one and print it. A running agent keeps
    /// accepting the old one until it restarts.
    Rotate(RotateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RotateArgs {
    /// The agent's data directory [default: as for `vantage serve`].
    #[arg(long, env = "VANTAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Rotate the read-only metrics token (`metrics.token`) instead of the admin token.
    #[arg(long)]
    pub metrics: bool,
}

/// `vantage health`: 0 when the agent answers `GET /api/health`, 1 when not.
pub async fn health(args: &HealthArgs) -> ExitCode {
    let mut addr = match args.listen {
        Some(a) => a,
        None => match DEFAULT_LISTEN.parse() {
            Ok(a) => a,
            Err(_) => return ExitCode::FAILURE,
        },
    };
    if addr.ip().is_unspecified() {
        let loopback: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        addr.set_ip(loopback);
    }
    let url = format!("http://{addr}{}", vantage_shared::routes::HEALTH);
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vantage health: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("ok: {url} answered {}", r.status());
            ExitCode::SUCCESS
        }
        Ok(r) => {
            eprintln!("vantage health: {url} answered {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("vantage health: {url}: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error with its causes ("error sending request: … : Connection refused"): reqwest's
/// own message leaves out why.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// `vantage token rotate`: writes a new token (mode 0600) and prints it.
pub fn rotate(args: &RotateArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    if !dir.is_dir() {
        anyhow::bail!(
            "no data directory at {}: pass the agent's --data-dir",
            dir.display()
        );
    }
    let file = if args.metrics {
        METRICS_TOKEN_FILE
    } else {
        TOKEN_FILE
    };
    let path = dir.join(file);
    let token = random_hex()?;
    write_token(&path, &token)?;
    println!("{token}");
    eprintln!(
        "Wrote a new token to {}. Restart the agent (e.g. systemctl restart vantage) for it to take effect{}.",
        path.display(),
        if args.metrics {
            ", and give Prometheus the new file"
        } else {
            "; the old one works until then"
        }
    );
    Ok(())
}
