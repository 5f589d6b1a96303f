//! Command line, environment and config-file settings, merged in that order of precedence.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Deserializer};
use vantage_shared::probe::{validate_new_target, NewTarget, Target, TargetSource, MAX_TARGETS};

/// Where the agent listens unless told otherwise: loopback only, so nothing is
/// exposed until someone decides to.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Days of healthcheck history to keep.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// How often the agent re-reads every container from Docker, on top of events.
pub const DEFAULT_RESYNC_SECS: u64 = 30;
/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Vantage: see what your Docker hosts can reach, and why not.
#[derive(Debug, Parser)]
#[command(name = "vantage", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: watch Docker, record healthchecks, probe targets, serve the API and dashboard.
    Serve(ServeArgs),
    /// Run every configured check once and exit: 0 all pass, 1 any fails, 2 the config is
    /// bad or the checks cannot run. For cron and CI.
    Check(CheckArgs),
    /// Work with config files (see `vantage config check --help`).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Measure this machine (see `vantage bench gpu --help`).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Ask a running agent whether it is up (`GET /api/health`): exit 0 when it answers,
    /// 1 when not. The container image's healthcheck.
    Health(crate::admin_cli::HealthArgs),
    /// Manage the tokens in the data directory (see `vantage token rotate --help`).
    #[command(subcommand)]
    Token(crate::admin_cli::TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file without starting anything: errors name their line and column.
    /// Exits 0 when it is valid, 2 when not.
    Check {
        /// The TOML file to check.
        file: PathBuf,
    },
}

/// How `vantage check` prints its report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Readable lines, in colour on a terminal (NO_COLOR turns colour off).
    #[default]
    Text,
    /// The report as JSON (docs/check.md describes it).
    Json,
    /// JUnit XML, for CI systems' test views.
    Junit,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    /// The config file whose targets, containers and `[[checks.rules]]` to check.
    #[arg(long, env = "VANTAGE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Ask the agent at this URL (e.g. http://127.0.0.1:8787) instead of probing from here:
    /// its targets, containers and loaded rules. Needs its token (VANTAGE_TOKEN or
    /// --token-file).
    #[arg(long, env = "VANTAGE_AGENT")]
    pub agent: Option<String>,

    /// File holding the agent's token (for --agent); VANTAGE_TOKEN also works.
    #[arg(long, env = "VANTAGE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Docker endpoint for the container checks [default: as for `vantage serve`].
    #[arg(long, env = "VANTAGE_DOCKER_HOST")]
    pub docker_host: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// GPU benchmark: transfers, a 21x21 Gaussian blur chained N times on GPU and CPU,
    /// and the break-even N*. Without a GPU the CPU baseline still runs.
    Gpu(GpuBenchArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct GpuBenchArgs {
    /// Print the whole run record as JSON (the API's GpuRun) instead of tables.
    #[arg(long, env = "VANTAGE_BENCH_JSON")]
    pub json: bool,

    /// Small sizes for a run of seconds: 512x512 image, N up to 8, transfers up to 16 MiB.
    #[arg(long, env = "VANTAGE_BENCH_QUICK")]
    pub quick: bool,

    /// Transfer sizes, comma-separated, e.g. 64K,1M,256M [default: 64K to 256M, x4 steps].
    #[arg(long, env = "VANTAGE_BENCH_SIZES", value_delimiter = ',', value_parser = parse_size_arg)]
    pub sizes: Vec<u64>,

    /// Chain lengths N, comma-separated [default: 1,2,4,8,16,32].
    #[arg(long, env = "VANTAGE_BENCH_NS", value_delimiter = ',')]
    pub ns: Vec<u32>,

    /// Side of the square test image in pixels, 64 to 8192 (the API takes up to 4096)
    /// [default: 4096; 512 with --quick].
    #[arg(long, env = "VANTAGE_BENCH_IMAGE_SIDE")]
    pub image_side: Option<u32>,

    /// Timed repetitions per point [default: 5; 3 with --quick].
    #[arg(long, env = "VANTAGE_BENCH_REPETITIONS")]
    pub repetitions: Option<u32>,

    /// CUDA device ordinal [default: 0].
    #[arg(long, env = "VANTAGE_BENCH_DEVICE")]
    pub device: Option<u32>,

    /// The agent's data directory, whose database stores the run so the dashboard's
    /// history shows it (a running agent may use it at the same time)
    /// [default: as for `vantage serve`, e.g. ~/.local/share/vantage].
    #[arg(long, env = "VANTAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Do not store the run (a throwaway measurement).
    #[arg(long, env = "VANTAGE_BENCH_NO_STORE")]
    pub no_store: bool,
}

fn parse_size_arg(s: &str) -> Result<u64, String> {
    vantage_shared::size::parse_size(s)
}

impl GpuBenchArgs {
    /// The same options `POST /api/gpu/runs` takes.
    pub fn options(&self) -> vantage_shared::gpu::GpuBenchOptions {
        vantage_shared::gpu::GpuBenchOptions {
            quick: self.quick,
            image_side: self.image_side,
            ns: (!self.ns.is_empty()).then(|| self.ns.clone()),
            transfer_sizes: (!self.sizes.is_empty()).then(|| self.sizes.clone()),
            repetitions: self.repetitions,
            device: self.device,
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8787].
    #[arg(long, env = "VANTAGE_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Directory for the history database and the admin token
    /// [default: $XDG_DATA_HOME/vantage, e.g. ~/.local/share/vantage].
    #[arg(long, env = "VANTAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Optional TOML config file (see docs/configuration.md).
    #[arg(long, env = "VANTAGE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Extra host name the dashboard is reached under (repeatable; comma-separated in
    /// the environment). IP addresses and `localhost` are always allowed.
    #[arg(
        long = "allowed-host",
        env = "VANTAGE_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,

    /// Docker endpoint, e.g. unix:///var/run/docker.sock or tcp://127.0.0.1:2375
    /// [default: $DOCKER_HOST, else the local socket].
    #[arg(long, env = "VANTAGE_DOCKER_HOST")]
    pub docker_host: Option<String>,

    /// Probe targets only when asked (the dashboard's buttons, `POST
    /// /api/targets/{id}/probe`), not at their intervals.
    #[arg(long, env = "VANTAGE_NO_SCHEDULED_PROBES")]
    pub no_scheduled_probes: bool,

    /// Days of healthcheck and target history to keep, at least 1 [default: 30].
    #[arg(long, env = "VANTAGE_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,

    /// Seconds between full re-reads of Docker state, on top of live events [default: 30].
    #[arg(long, env = "VANTAGE_RESYNC_SECS")]
    pub resync_secs: Option<u64>,

    /// Reverse proxy whose X-Forwarded-For is believed, as an address or CIDR (repeatable;
    /// comma-separated in the environment). Without it the client address is the peer's.
    #[arg(
        long = "trusted-proxy",
        env = "VANTAGE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,

    /// Also serve `GET /metrics` on this address, with no token (for a Prometheus that
    /// cannot send one). Off by default: `/metrics` on the main address needs the
    /// read-only token in `metrics.token` (or the admin token).
    #[arg(long, env = "VANTAGE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Origin of a dashboard on another address that may call this agent's API, e.g.
    /// https://vantage.example.com (repeatable; comma-separated in the environment). Exact
    /// origins only: `*` is refused, as every call carries a token.
    #[arg(
        long = "cors-allow-origin",
        env = "VANTAGE_CORS_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_allow_origins: Vec<String>,
}

/// The optional TOML file; every key is optional and the command line wins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    #[serde(default)]
    pub cors_allow_origins: Vec<String>,
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    pub docker_host: Option<String>,
    pub retention_days: Option<u32>,
    pub resync_secs: Option<u64>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// `[[targets]]`: what the agent and phone links may probe (with where each stands in
    /// the file, for errors).
    #[serde(default)]
    pub targets: Vec<toml::Spanned<TargetConfig>>,
    /// Security-group / firewall exports to load at start (see docs/configuration.md).
    #[serde(default)]
    pub rules_files: Vec<PathBuf>,
    /// Read this host's firewall (iptables/nftables) at start; needs root.
    #[serde(default)]
    pub read_host_firewall: bool,
    /// Probe every target at its interval (default true).
    pub scheduled_probes: Option<bool>,
    /// `[checks]`: what `vantage check` checks beyond the targets.
    #[serde(default)]
    pub checks: ChecksConfig,
    /// `[alerts]`: when to notify.
    #[serde(default)]
    pub alerts: crate::alerts::config::AlertsConfig,
    /// `[[notifications]]`: where to send alerts.
    #[serde(default)]
    pub notifications: Vec<toml::Spanned<crate::alerts::config::ChannelConfig>>,
    /// The file's text, so that checks after parsing can name a line and column.
    #[serde(skip)]
    text: String,
}

/// `[checks]` of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    /// Containers that must be running and healthy, by name. Absent: every container
    /// Docker has (and none when Docker cannot be reached); present, a missing one fails.
    pub containers: Option<Vec<String>>,
    /// `[[checks.rules]]`: firewall questions and their expected answers.
    #[serde(default)]
    pub rules: Vec<toml::Spanned<vantage_shared::check::RuleCheck>>,
}

/// One `[[targets]]` entry of the config file: the API's [`NewTarget`] (`POST
/// /api/targets`), so the keys are declared once, in `vantage_shared::probe`, and
/// `[targets.firewall]` (`sets = ["sg-…"]`, `destination = { tags = ["web"] }`) is its
/// `RuleScope`, which rejects unknown keys itself.
///
/// Read strictly, as the API reads its bodies (`error::ApiJson`): a misspelt key is an
/// error naming its line. The shared type has no `#[serde(deny_unknown_fields)]` (stored
/// targets written by older agents must stay readable), so the `strict` adapter below
/// checks each key against the field list the derived `Deserialize` passes.
#[derive(Debug, Clone)]
pub struct TargetConfig(pub NewTarget);

impl<'de> Deserialize<'de> for TargetConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NewTarget::deserialize(strict::Strict(d)).map(Self)
    }
}

/// `#[serde(deny_unknown_fields)]` from outside a type: a deserializer wrapper for one
/// struct whose map keys must be among the fields the struct's own visitor names.
mod strict {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
    use serde::Deserialize;

    /// Wraps the deserializer of one struct value.
    pub(super) struct Strict<D>(pub D);

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
        type Error = D::Error;

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0
                .deserialize_struct(name, fields, Fields { visitor, fields })
        }

        // Only a struct's `Deserialize` is handed a `Strict`; anything else reads as before.
        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_any(visitor)
        }

        fn is_human_readable(&self) -> bool {
            self.0.is_human_readable()
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    /// The struct's visitor, handed a map that checks its keys.
    struct Fields<V> {
        visitor: V,
        fields: &'static [&'static str],
    }

    impl<'de, V: Visitor<'de>> Visitor<'de> for Fields<V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.visitor.expecting(f)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
            self.visitor.visit_map(KnownKeys {
                map,
                fields: self.fields,
            })
        }

        // No `visit_seq`: a target is a table. (The derive would also take an array of the
        // values in field order, and with the shared type's defaults even a short one.)
    }

    struct KnownKeys<A> {
        map: A,
        fields: &'static [&'static str],
    }

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for KnownKeys<A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            self.map.next_key_seed(Key {
                seed,
                fields: self.fields,
            })
        }

        fn next_value_seed<S: DeserializeSeed<'de>>(
            &mut self,
            seed: S,
        ) -> Result<S::Value, A::Error> {
            self.map.next_value_seed(seed)
        }

        fn size_hint(&self) -> Option<usize> {
            self.map.size_hint()
        }
    }

    /// One key: read as text, refused when unknown (the error the derive would raise, so
    /// the format's deserializer places it on the key), else handed to the struct's own
    /// field visitor.
    struct Key<K> {
        seed: K,
        fields: &'static [&'static str],
    }

    impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for Key<K> {
        type Value = K::Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
            let key = String::deserialize(d)?;
            if !self.fields.contains(&key.as_str()) {
                return Err(de::Error::unknown_field(&key, self.fields));
            }
            self.seed
                .deserialize(IntoDeserializer::<D::Error>::into_deserializer(key))
        }
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in config file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        // toml's error already names the line, column and key.
        let mut file: Self = toml::from_str(text)?;
        file.text = text.to_owned();
        Ok(file)
    }

    /// `line 12, column 1` of a byte offset in the file.
    pub fn position(&self, offset: usize) -> String {
        let before = self.text.get(..offset).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {column}")
    }

    /// The `[[targets]]`, checked: each valid, ids unique; an error names where the entry
    /// is.
    pub fn checked_targets(&self) -> anyhow::Result<Vec<Target>> {
        if self.targets.len() > MAX_TARGETS {
            anyhow::bail!("at most {MAX_TARGETS} [[targets]] are supported");
        }
        let mut out: Vec<Target> = Vec::new();
        for spanned in &self.targets {
            let at = self.position(spanned.span().start);
            let TargetConfig(new) = spanned.get_ref().clone();
            validate_new_target(&new)
                .map_err(|e| anyhow::anyhow!("{at}: [[targets]] `{}`: {e}", new.name))?;
            let target = Target::from_new(new, TargetSource::Config);
            if out.iter().any(|o| o.id == target.id) {
                anyhow::bail!(
                    "{at}: [[targets]] `{}`: another target has the same id `{}`; rename one",
                    target.name,
                    target.id
                );
            }
            out.push(target);
        }
        Ok(out)
    }

    /// `[alerts]` and the `[[notifications]]` channels, checked; an error names where the
    /// channel is.
    pub fn checked_alerts(&self) -> anyhow::Result<crate::alerts::Settings> {
        let channels = self
            .notifications
            .iter()
            .map(|spanned| {
                let at = self.position(spanned.span().start);
                crate::alerts::config::check_channel(spanned.get_ref().clone())
                    .map_err(|e| anyhow::anyhow!("{at}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        crate::alerts::Settings::from_config(&self.alerts, channels).map_err(anyhow::Error::msg)
    }

    /// The `[[checks.rules]]`, checked; an error names where the entry is.
    pub fn checked_rule_checks(&self) -> anyhow::Result<Vec<vantage_shared::check::RuleCheck>> {
        self.checks
            .rules
            .iter()
            .map(|spanned| {
                let at = self.position(spanned.span().start);
                let check = spanned.get_ref();
                check
                    .validate()
                    .map_err(|e| anyhow::anyhow!("{at}: [[checks.rules]] {e}"))?;
                let q = check.question();
                if q.source.trim().parse::<IpAddr>().is_err() {
                    anyhow::bail!(
                        "{at}: [[checks.rules]] `{}`: source `{}` is not an IPv4 or IPv6 address",
                        check.display_name(),
                        q.source
                    );
                }
                Ok(check.clone())
            })
            .collect()
    }
}

/// Settings after merging command line, environment, file and defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The open, metrics-only listener, when the operator chose one.
    pub metrics_listen: Option<SocketAddr>,
    /// Dashboards on other origins allowed to call the API (exact, serialised origins).
    pub cors_allow_origins: Vec<String>,
    pub data_dir: PathBuf,
    pub allowed_hosts: Vec<String>,
    pub docker_host: String,
    pub retention: Duration,
    pub resync: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<(IpAddr, u8)>,
    /// Targets from the config file, checked.
    pub targets: Vec<Target>,
    /// Rules files to load at start.
    pub rules_files: Vec<PathBuf>,
    /// Read the host's own firewall at start.
    pub read_host_firewall: bool,
    /// Probe every target at its interval.
    pub scheduled_probes: bool,
    /// Alert policy and notification channels.
    pub alerts: crate::alerts::Settings,
}

/// Parses `10.0.0.0/8` or a bare address (a /32 or /128).
fn parse_proxy(s: &str) -> anyhow::Result<(IpAddr, u8)> {
    let s = s.trim();
    let parsed = if s.contains('/') {
        vantage_shared::ownership::parse_cidr(s)
    } else {
        s.parse::<IpAddr>()
            .map(|ip| (ip, if ip.is_ipv4() { 32 } else { 128 }))
            .map_err(|e| e.to_string())
    };
    parsed.map_err(|e| anyhow::anyhow!("trusted proxy `{s}`: {e}"))
}

/// An origin a dashboard is served from, as the browser sends it in `Origin`
/// (`https://vantage.example.com`, `http://10.0.0.5:8787`): exact, never `*`.
pub fn check_cors_origin(s: &str) -> anyhow::Result<String> {
    let s = s.trim();
    if s == "*" || s.eq_ignore_ascii_case("null") {
        anyhow::bail!(
            "cors allow origin `{s}`: give the dashboard's exact origin (https://host[:port]); `*` and `null` are refused, since every API call carries a token"
        );
    }
    // An origin has the shape of an agent's base URL: scheme, host, port, nothing else.
    let base = vantage_shared::fleet::check_agent_url(s)
        .map_err(|e| anyhow::anyhow!("cors allow origin `{s}`: {e}"))?;
    Ok(vantage_shared::cors::serialize_origin(&base))
}

/// The platform's data directory for Vantage.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("vantage")
}

/// The Docker endpoint bollard would use: `DOCKER_HOST`, else the local socket.
pub fn default_docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

impl Config {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        if file.retention_days == Some(0) {
            anyhow::bail!(
                "retention_days must be at least 1 (0 would delete all history every hour)"
            );
        }
        let targets = file.checked_targets()?;
        let alerts = file.checked_alerts()?;
        let mut allowed_hosts = file.allowed_hosts;
        let trusted_proxies = file
            .trusted_proxies
            .iter()
            .chain(&args.trusted_proxies)
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_proxy(s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        allowed_hosts.extend(args.allowed_hosts);
        let listen = match args.listen.or(file.listen) {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        Ok(Self {
            listen,
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            cors_allow_origins: file
                .cors_allow_origins
                .iter()
                .chain(&args.cors_allow_origins)
                .filter(|o| !o.trim().is_empty())
                .map(|o| check_cors_origin(o))
                .collect::<anyhow::Result<Vec<_>>>()?,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(default_data_dir),
            allowed_hosts: allowed_hosts
                .into_iter()
                // Same form as the Host check compares: no port, no brackets, lower case.
                .map(|h| crate::auth::host_name(h.trim()).to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            docker_host: args
                .docker_host
                .or(file.docker_host)
                .unwrap_or_else(default_docker_host),
            retention: Duration::from_secs(
                u64::from(
                    args.retention_days
                        .or(file.retention_days)
                        .unwrap_or(DEFAULT_RETENTION_DAYS),
                ) * 86_400,
            ),
            resync: Duration::from_secs(
                args.resync_secs
                    .or(file.resync_secs)
                    .unwrap_or(DEFAULT_RESYNC_SECS)
                    .max(1),
            ),
            trusted_proxies,
            targets,
            rules_files: file.rules_files,
            read_host_firewall: file.read_host_firewall,
            scheduled_probes: !args.no_scheduled_probes && file.scheduled_probes.unwrap_or(true),
            alerts,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn command_line_beats_file_and_defaults_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nretention_days = 7\nallowed_hosts = [\"Box.Local\"]\n",
        )
        .unwrap();
        let cfg = Config::resolve(ServeArgs {
            config: Some(path),
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            allowed_hosts: vec!["vantage.example".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.listen.port(), 9100);
        assert_eq!(cfg.retention, Duration::from_secs(7 * 86_400));
        assert_eq!(cfg.resync, Duration::from_secs(DEFAULT_RESYNC_SECS));
        assert_eq!(cfg.allowed_hosts, vec!["box.local", "vantage.example"]);
        let cfg = Config::resolve(ServeArgs {
            allowed_hosts: vec!["Vantage.Example:443".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            cfg.allowed_hosts,
            vec!["vantage.example"],
            "ports are not part of a host name"
        );
        std::fs::write(dir.path().join("zero.toml"), "retention_days = 0\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(dir.path().join("zero.toml")),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("at least 1"), "{err:#}");
    }

    #[test]
    fn targets_and_trusted_proxies_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            r#"trusted_proxies = ["10.0.0.0/8"]
[[targets]]
name = "Shop API"
url = "https://api.shop.example/products?page=2"
cors_origin = "https://shop.example"
cors_headers = ["Authorization: Bearer x"]

[[targets]]
name = "db"
url = "db.internal:5432"
"#,
        )
        .unwrap();
        let cfg = Config::resolve(ServeArgs {
            config: Some(path.clone()),
            trusted_proxies: vec!["127.0.0.1".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.targets.len(), 2);
        assert_eq!(cfg.targets[0].id, "shop-api");
        assert_eq!(cfg.targets[0].source, TargetSource::Config);
        assert_eq!(cfg.targets[1].url, "db.internal:5432");
        assert_eq!(
            cfg.trusted_proxies,
            vec![
                ("10.0.0.0".parse().unwrap(), 8),
                ("127.0.0.1".parse().unwrap(), 32)
            ]
        );

        for (text, needle) in [
            ("[[targets]]\nname = \"a\"\nurl = \"ftp://x\"\n", "unsupported scheme"),
            ("[[targets]]\nname = \"a\"\nurl = \"x:1\"\n[[targets]]\nname = \"A\"\nurl = \"y:2\"\n", "same id"),
            ("[[targets]]\nname = \"a\"\nurl = \"x:1\"\nexpected = 200\n", "unknown field"),
            ("trusted_proxies = [\"10.0.0.0/33\"]\n", "trusted proxy"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::resolve(ServeArgs {
                config: Some(path.clone()),
                ..Default::default()
            })
            .unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{text}: {err:#}");
        }
    }

    /// `[[targets]]` reads into the API's `NewTarget`, yet as strictly as a config file
    /// must: an unknown key is refused on its own line, in the target and in its
    /// `[targets.firewall]`, and a target must be a table.
    #[test]
    fn target_keys_are_checked_where_they_stand() {
        let err = |text: &str| format!("{:#}", FileConfig::parse(text).unwrap_err());
        let e = err("[[targets]]\nname = \"a\"\nurl = \"x:1\"\nexpected = 200\n");
        assert!(e.contains("line 4, column 1"), "{e}");
        assert!(
            e.contains(
                "unknown field `expected`, expected one of `name`, `url`, `expected_status`"
            ),
            "{e}"
        );
        let e =
            err("[[targets]]\nname = \"a\"\nurl = \"x:1\"\n[targets.firewall]\nsetz = [\"a\"]\n");
        assert!(e.contains("line 5, column 1"), "{e}");
        assert!(e.contains("unknown field `setz`"), "{e}");
        let e = err("[[targets]]\nurl = \"x:1\"\n");
        assert!(e.contains("missing field `name`"), "{e}");
        let e = err("targets = [[\"a\", \"x:1\"]]\n");
        assert!(e.contains("invalid type: sequence"), "{e}");

        let ok = FileConfig::parse(
            "[[targets]]\nname = \"a\"\nurl = \"x:1\"\nexpected_status = 204\ncors_credentials = true\n[targets.firewall]\nsets = [\"sg-1\"]\n",
        )
        .unwrap();
        let TargetConfig(t) = ok.targets[0].get_ref();
        assert_eq!(t.expected_status, Some(204));
        assert_eq!(
            t.cors_credentials,
            vantage_shared::cors::Credentials::Include
        );
        assert_eq!(t.firewall.sets, vec!["sg-1"]);
    }

    #[test]
    fn bad_config_file_names_the_problem() {
        let err = FileConfig::parse("listen = 12\n").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("listen"), "{text}");
        let err = FileConfig::parse("lisen = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }

    #[test]
    fn checks_after_parsing_name_the_line_and_column() {
        let file = FileConfig::parse(
            "# two targets\n[[targets]]\nname = \"a\"\nurl = \"x:1\"\n\n[[targets]]\nname = \"b\"\nurl = \"ftp://x/\"\n",
        )
        .unwrap();
        let e = format!("{:#}", file.checked_targets().unwrap_err());
        assert!(e.starts_with("line 6, column 1: [[targets]] `b`"), "{e}");
        let file = FileConfig::parse(
            "[checks]\ncontainers = [\"api\"]\n\n[[checks.rules]]\nsource = \"10.0.0.1\"\nport = 443\nexpect = \"allowed\"\n\n[[checks.rules]]\nsource = \"guest\"\nport = 443\nexpect = \"denied\"\n",
        )
        .unwrap();
        assert_eq!(
            file.checks.containers.as_deref(),
            Some(&["api".to_owned()][..])
        );
        let e = format!("{:#}", file.checked_rule_checks().unwrap_err());
        assert!(e.starts_with("line 9, column 1:"), "{e}");
        assert!(e.contains("`guest` is not an IPv4 or IPv6 address"), "{e}");
        let e = FileConfig::parse("[[checks.rules]]\nsource = \"10.0.0.1\"\nexpect = \"maybe\"\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("line 3"), "{e:#}");
    }
}
