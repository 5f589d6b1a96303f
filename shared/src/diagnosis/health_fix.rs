//! Healthcheck fixes written the way the container was started: a compose snippet under
//! its compose service name (from the `com.docker.compose.service` label), or `docker run`
//! flags for a container started without compose. A container's healthcheck is fixed when
//! it is created, so either way the fix takes effect when the container is recreated.

use crate::api::{ContainerSummary, HealthcheckConfig};
use crate::duration::compose_duration;

/// How the container was started, which decides the fix's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch<'a> {
    /// From compose: the fix goes under `services.<service>`.
    Compose {
        service: &'a str,
        container: &'a str,
    },
    /// With `docker run` (or an API client): the fix is `--health-*` flags.
    DockerRun { container: &'a str },
}

impl<'a> Launch<'a> {
    pub fn of(c: &'a ContainerSummary) -> Self {
        match c.compose_service.as_deref() {
            Some(service) => Self::Compose {
                service,
                container: &c.name,
            },
            None => Self::DockerRun { container: &c.name },
        }
    }

    /// The container's name, for `docker exec` and the like.
    pub fn container(&self) -> &'a str {
        match *self {
            Self::Compose { container, .. } | Self::DockerRun { container } => container,
        }
    }

    /// "recreate it with `docker compose up -d api`" or "… with these flags".
    pub fn how_to_apply(&self) -> String {
        match self {
            Self::Compose { service, .. } => format!(
                "Put it in the compose file and recreate the container: `docker compose up -d {service}`."
            ),
            Self::DockerRun { container } => format!(
                "`{container}` was started without compose: recreate it (`docker rm -f {container}`, then the same `docker run`) with these flags in place of its `--health-*` ones."
            ),
        }
    }
}

/// The healthcheck a fix writes out: the command and, optionally, its timings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings<'a> {
    /// As Docker stores it: `["CMD", …]` or `["CMD-SHELL", "…"]`.
    pub test: &'a [String],
    pub timings: Option<Timings>,
}

/// The timing fields of a healthcheck, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub start_period_ms: u64,
    pub retries: u64,
}

impl Timings {
    pub fn of(cfg: &HealthcheckConfig) -> Self {
        Self {
            interval_ms: cfg.interval_ms,
            timeout_ms: cfg.timeout_ms,
            start_period_ms: cfg.start_period_ms,
            retries: cfg.retries,
        }
    }
}

/// The snippet for `launch` and its language (`yaml` or `shell`).
pub fn snippet(launch: Launch<'_>, s: &Settings<'_>) -> (String, &'static str) {
    match launch {
        Launch::Compose { service, .. } => (compose(service, s), "yaml"),
        Launch::DockerRun { .. } => (run_flags(s), "shell"),
    }
}

fn compose(service: &str, s: &Settings<'_>) -> String {
    // Compose substitutes `$VAR` from the host's environment: `$$` is a literal `$`.
    let test = serde_json::to_string(s.test)
        .unwrap_or_else(|_| "[]".to_owned())
        .replace('$', "$$");
    let mut out = format!("services:\n  {service}:\n    healthcheck:\n      test: {test}\n");
    if let Some(t) = s.timings {
        out.push_str(&format!(
            "      interval: {}\n      timeout: {}\n      retries: {}\n      start_period: {}\n",
            compose_duration(t.interval_ms),
            compose_duration(t.timeout_ms),
            t.retries,
            compose_duration(t.start_period_ms),
        ));
    }
    out
}

/// `--health-cmd` always runs through `/bin/sh -c`: an exec-form test becomes its words,
/// each quoted for the shell.
fn run_flags(s: &Settings<'_>) -> String {
    let mut out = format!("--health-cmd {}", sh_quote(&shell_command(s.test)));
    if let Some(t) = s.timings {
        out.push_str(&format!(
            " \\\n--health-interval {} --health-timeout {} --health-retries {} --health-start-period {}",
            compose_duration(t.interval_ms),
            compose_duration(t.timeout_ms),
            t.retries,
            compose_duration(t.start_period_ms),
        ));
    }
    out.push('\n');
    out
}

/// The image's own `HEALTHCHECK` line for an exec-form test (the form that needs no shell).
pub fn dockerfile(test: &[String]) -> String {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            format!("HEALTHCHECK CMD {}\n", rest.join(" "))
        }
        _ => format!(
            "HEALTHCHECK CMD {}\n",
            serde_json::to_string(test.get(1..).unwrap_or_default())
                .unwrap_or_else(|_| "[]".to_owned())
        ),
    }
}

/// `docker exec` running the test by hand, as Docker runs it: a `CMD-SHELL` test through
/// `sh -c` inside the container (never the user's own shell), an exec-form test as its words.
pub fn exec_command(container: &str, test: &[String]) -> String {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            format!(
                "docker exec {container} sh -c {}",
                sh_quote(&rest.join(" "))
            )
        }
        _ => format!("docker exec {container} {}", shell_command(test)),
    }
}

/// The test as one shell command line.
pub fn shell_command(test: &[String]) -> String {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => rest.join(" "),
        Some((kind, rest)) if kind == "CMD" => rest
            .iter()
            .map(|a| sh_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
        _ => test.join(" "),
    }
}

/// Quotes `s` for a POSIX shell unless it is plainly safe.
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:=,@+%".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn compose_containers_get_a_snippet_under_their_service() {
        let test = words(&[
            "CMD",
            "wget",
            "-q",
            "-O",
            "/dev/null",
            "http://localhost:8000/",
        ]);
        let launch = Launch::Compose {
            service: "api",
            container: "shop-api-1",
        };
        let timings = Timings {
            interval_ms: 2000,
            timeout_ms: 5000,
            start_period_ms: 30_000,
            retries: 3,
        };
        let (s, lang) = snippet(
            launch,
            &Settings {
                test: &test,
                timings: Some(timings),
            },
        );
        assert_eq!(lang, "yaml");
        assert_eq!(
            s,
            "services:\n  api:\n    healthcheck:\n      test: [\"CMD\",\"wget\",\"-q\",\"-O\",\"/dev/null\",\"http://localhost:8000/\"]\n      interval: 2s\n      timeout: 5s\n      retries: 3\n      start_period: 30s\n"
        );
        assert!(launch.how_to_apply().contains("docker compose up -d api"));
    }

    #[test]
    fn docker_run_containers_get_flags_with_a_shell_command() {
        let launch = Launch::DockerRun { container: "api" };
        let exec = words(&[
            "CMD",
            "python3",
            "-c",
            "import urllib.request as u; u.urlopen('http://localhost:8000/')",
        ]);
        let (s, lang) = snippet(
            launch,
            &Settings {
                test: &exec,
                timings: None,
            },
        );
        assert_eq!(lang, "shell");
        // The shell reads the flag's value back as the exec form's words.
        let value = s.trim_end().strip_prefix("--health-cmd ").expect("flag");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {value}"))
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "python3 -c 'import urllib.request as u; u.urlopen('\\''http://localhost:8000/'\\'')'\n"
        );
        let shell = words(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"]);
        let (s, _) = snippet(
            launch,
            &Settings {
                test: &shell,
                timings: Some(Timings {
                    interval_ms: 1000,
                    timeout_ms: 90_000,
                    start_period_ms: 0,
                    retries: 5,
                }),
            },
        );
        assert_eq!(
            s,
            "--health-cmd 'curl -f http://localhost/ || exit 1' \\\n--health-interval 1s --health-timeout 1m30s --health-retries 5 --health-start-period 0s\n"
        );
        assert!(launch.how_to_apply().contains("docker rm -f api"));
    }
}
