//! A broken healthcheck command is not a broken app. When the latest run failed before it
//! could reach the app (the program is missing, not executable or crashed, the runtime could
//! not start it, or the command is quoted for the other form), the finding says so, and its
//! fix uses what the image has, written the way the container was started.

mod cause;
mod replace;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

pub use cause::{classify, quoting, Cause, Quoting};
pub use replace::Replacement;

use super::health_fix::{self, Launch, Settings};
use super::restarts::exit_meaning;
use super::{Finding, FindingCode, Severity};
use crate::api::{HealthcheckConfig, HealthcheckRun, PortMapping};

/// What the diagnosis looks at for one container.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub launch: Launch<'a>,
    pub config: &'a HealthcheckConfig,
    /// Runs before the latest start belong to an earlier life of the container.
    pub started_at: Option<DateTime<Utc>>,
    /// Recorded runs, any order.
    pub runs: &'a [HealthcheckRun],
    /// For a URL to check when the old check names none.
    pub ports: &'a [PortMapping],
    /// Docker marks the container unhealthy now.
    pub unhealthy: bool,
}

/// The finding when the latest run since the start failed in the check command itself.
pub fn diagnose(input: &Input<'_>) -> Option<Finding> {
    let latest = input
        .runs
        .iter()
        .filter(|r| input.started_at.is_none_or(|s| r.start >= s))
        .max_by_key(|r| r.start)?;
    if latest.passed() {
        return None;
    }
    let cause = match quoting(input.config) {
        Some(q) => Cause::Quoting(q),
        None => classify(latest, input.config)?,
    };
    Some(finding(input, latest, &cause))
}

fn finding(input: &Input<'_>, latest: &HealthcheckRun, cause: &Cause) -> Finding {
    let severity = if input.unhealthy {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let code = match cause {
        Cause::Quoting(_) => FindingCode::HealthcheckCommandQuoting,
        _ => FindingCode::HealthcheckCommandBroken,
    };
    let fix = fix(input, cause);
    let f = Finding::new(code, severity, summary(cause), explanation(input, latest));
    match fix {
        Some((description, snippet)) => match snippet {
            Some((text, lang)) => f.with_fix(description, Some(text), Some(lang)),
            None => f.with_fix(description, None, None),
        },
        None => f,
    }
}

fn summary(cause: &Cause) -> String {
    let what = match cause {
        Cause::Missing { program } if program.is_empty() => {
            "a program it runs is not in the image (exit 127)".to_owned()
        }
        Cause::Missing { program } => format!("`{program}` is not in the image"),
        Cause::NotExecutable { program } => format!("`{program}` cannot be executed"),
        Cause::Crashed { program, code } => {
            format!(
                "`{program}` crashed with exit {code}, {}",
                exit_meaning(*code, false)
            )
        }
        Cause::NoShell => "the image has no /bin/sh to run its CMD-SHELL check".to_owned(),
        Cause::RuntimeExec { .. } => "Docker's runtime could not start it".to_owned(),
        Cause::Quoting(q) => {
            return format!(
                "The healthcheck command is quoted for the other form: {}",
                quoting_summary(q)
            )
        }
    };
    format!("The healthcheck command itself is broken: {what}")
}

fn quoting_summary(q: &Quoting) -> String {
    match q {
        Quoting::OneStringInExec { command } => {
            format!("[\"CMD\", \"{command}\"] runs a program named `{command}`")
        }
        Quoting::ShellSyntaxInExec { token } => format!(
            "`{token}` reaches the program as an argument, because no shell runs a CMD check"
        ),
        Quoting::ListAsShellString { .. } => {
            "the list is in quotes, so the shell runs it as one command".to_owned()
        }
        Quoting::WholeCommandQuoted { inner } => {
            format!(
                "the whole command is in quotes, so the shell looks for a program named `{inner}`"
            )
        }
    }
}

fn explanation(input: &Input<'_>, latest: &HealthcheckRun) -> String {
    let output = latest.output.trim().lines().next().unwrap_or("").trim();
    let output = if output.is_empty() {
        "no output".to_owned()
    } else {
        format!("“{output}”")
    };
    let consequence = if input.unhealthy {
        "Docker marks the container unhealthy because of the check, while the app may be serving fine (and whatever waits for `service_healthy` or routes by health stops sending it traffic)."
            .to_owned()
    } else {
        format!(
            "Docker will mark the container unhealthy after {} such failures, whatever the app does.",
            input.config.retries
        )
    };
    format!(
        "The last run of `{}` ended with exit {} and {output}: it failed before it reached the app, so it says nothing about the app itself. {consequence}",
        input.config.command_display(),
        latest.exit_code,
    )
}

/// The fix's description and its snippet with the snippet's language.
type Fix = (String, Option<(String, &'static str)>);

fn fix(input: &Input<'_>, cause: &Cause) -> Option<Fix> {
    let launch = input.launch;
    let c = launch.container();
    match cause {
        Cause::Missing { program } => Some(use_another(input, program, false)),
        Cause::Crashed { program, .. } => Some(use_another(input, program, true)),
        Cause::NotExecutable { program } => {
            let mut text = format!(
                "Make `{program}` executable in the image: `RUN chmod +x {program}` in the Dockerfile, then rebuild."
            );
            let (other, snippet) = use_another(input, program, false);
            text.push_str(&format!(" Or: {other}"));
            Some((text, snippet))
        }
        Cause::NoShell => Some(without_shell(input)),
        Cause::RuntimeExec { .. } => Some((
            "Run the check by hand to see the runtime's whole error, and whether the program exists in the image.".to_owned(),
            Some((
                format!("{}\n", health_fix::exec_command(c, &input.config.test)),
                "shell",
            )),
        )),
        Cause::Quoting(q) => {
            let test = requoted(q, &input.config.test);
            let mut text = format!(
                "Write it as `{}`.",
                serde_json::to_string(&test).unwrap_or_default()
            );
            if matches!(q, Quoting::ListAsShellString { .. }) {
                text.push_str(
                    " In compose, `test:` takes the list itself, without quotes around it.",
                );
            }
            text.push(' ');
            text.push_str(&launch.how_to_apply());
            Some((text, Some(snippet_for(input, &test))))
        }
    }
}

/// The test the quoting meant.
fn requoted(q: &Quoting, test: &[String]) -> Vec<String> {
    let shell = |c: &str| vec!["CMD-SHELL".to_owned(), c.to_owned()];
    match q {
        Quoting::OneStringInExec { command } => {
            let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            if words
                .iter()
                .any(|w| w.contains(['\'', '"', '$', '|', '&', ';', '>', '<']))
            {
                shell(command)
            } else {
                std::iter::once("CMD".to_owned()).chain(words).collect()
            }
        }
        // The words as the shell should see them: operators bare, the rest quoted.
        Quoting::ShellSyntaxInExec { .. } => shell(
            &test[1..]
                .iter()
                .map(|w| {
                    if cause::is_shell_syntax(w) {
                        w.clone()
                    } else {
                        health_fix::sh_quote(w)
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Quoting::ListAsShellString { list } => match list.first().map(String::as_str) {
            Some("CMD" | "CMD-SHELL") => list.clone(),
            _ => std::iter::once("CMD".to_owned())
                .chain(list.iter().cloned())
                .collect(),
        },
        Quoting::WholeCommandQuoted { inner } => shell(inner),
    }
}

/// The snippet for a new test: compose or `docker run` flags, except that `--health-cmd`
/// needs a shell, so an image known to lack one gets a Dockerfile line instead.
fn snippet_for(input: &Input<'_>, test: &[String]) -> (String, &'static str) {
    let no_shell = input.config.tools.as_ref().is_some_and(|t| !t.shell);
    if no_shell && matches!(input.launch, Launch::DockerRun { .. }) {
        return (health_fix::dockerfile(test), "dockerfile");
    }
    health_fix::snippet(
        input.launch,
        &Settings {
            test,
            timings: None,
        },
    )
}

/// A check with a program the image has, in place of `failed`.
fn use_another(input: &Input<'_>, failed: &str, crashed: bool) -> Fix {
    let words = cause::form(input.config)
        .map(|(_, w)| w)
        .unwrap_or_default();
    let url = replace::url(&words, input.ports);
    let tools = input.config.tools.as_ref();
    match replace::replacement(failed, crashed, url.as_deref(), tools) {
        Replacement::Command { test, seen } => {
            // The program: the exec form's first word, or the shell line's.
            let program = test[1].split_whitespace().next().unwrap_or_default();
            let mut text = if seen {
                format!("Check {} with `{program}`, which the image has.", url.unwrap_or_default())
            } else {
                format!(
                    "Check {} with a program the image has, e.g. `{program}` (Vantage could not look into the image's files: the agent runs in a container, or the container is not running; `docker exec {} which curl wget python3 node` lists what it has).",
                    url.unwrap_or_default(),
                    input.launch.container()
                )
            };
            text.push(' ');
            text.push_str(&input.launch.how_to_apply());
            (text, Some(snippet_for(input, &test)))
        }
        Replacement::NothingInImage => (
            "The image has none of curl, wget, python3, node or busybox. Add one (`RUN apt-get install -y --no-install-recommends curl`, or `RUN apk add --no-cache curl` on Alpine), or let the app check itself (a health subcommand of its own binary).".to_owned(),
            None,
        ),
        Replacement::NoUrl => (
            "Request the app's health URL with a program the image has (curl, wget, python3 or node); the old check names no URL and the container exposes no port to guess one from.".to_owned(),
            None,
        ),
    }
}

/// A `CMD-SHELL` check in an image without a shell: the same words in the exec form, when
/// they use no shell syntax.
fn without_shell(input: &Input<'_>) -> Fix {
    let words = cause::form(input.config)
        .map(|(_, w)| w)
        .unwrap_or_default();
    if words.is_empty()
        || words
            .iter()
            .any(|w| cause::is_shell_syntax(w) || w.contains(['\'', '"']))
    {
        return (
            "Without a shell only the exec form runs: write the check as [\"CMD\", \"program\", \"arg\", …], without shell syntax (`||`, pipes, quotes, `$VAR`).".to_owned(),
            None,
        );
    }
    let test: Vec<String> = std::iter::once("CMD".to_owned()).chain(words).collect();
    let text = match input.launch {
        Launch::Compose { .. } => format!(
            "Use the exec form, which needs no shell. {}",
            input.launch.how_to_apply()
        ),
        Launch::DockerRun { .. } => "Use the exec form, which needs no shell. `docker run --health-cmd` always runs through /bin/sh, so put the check in the image's Dockerfile (or start the container with compose).".to_owned(),
    };
    let snippet = match input.launch {
        Launch::Compose { .. } => health_fix::snippet(
            input.launch,
            &Settings {
                test: &test,
                timings: None,
            },
        ),
        Launch::DockerRun { .. } => (health_fix::dockerfile(&test), "dockerfile"),
    };
    (text, Some(snippet))
}
