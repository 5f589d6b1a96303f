//! Why a healthcheck run failed before it reached the app, from Docker's record of the run
//! (exit code and output) and from the check's own configuration (quoting).

use crate::api::{HealthcheckConfig, HealthcheckRun};

/// A failure of the check command itself, not of the app it checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Exit 127, `sh: curl: not found`, or the runtime's "executable file not found".
    Missing { program: String },
    /// Exit 126 or "permission denied": the file exists but is not runnable.
    NotExecutable { program: String },
    /// Killed by a signal (exit 128 + n), e.g. 139, a segmentation fault.
    Crashed { program: String, code: i64 },
    /// A `CMD-SHELL` check in an image without `/bin/sh`.
    NoShell,
    /// "OCI runtime exec failed" for another reason: the runtime's own words.
    RuntimeExec { detail: String },
    /// The command is written for the other form.
    Quoting(Quoting),
}

/// Quoting mistakes between the exec form (`CMD`) and the shell form (`CMD-SHELL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quoting {
    /// `["CMD", "curl -f http://…"]`: Docker looks for a program named by the whole string.
    OneStringInExec { command: String },
    /// `["CMD", "curl", …, "||", "exit", "1"]`: no shell runs an exec-form check, so `||`
    /// reaches the program as an argument.
    ShellSyntaxInExec { token: String },
    /// `test: '["CMD", "curl", …]'` in compose: a quoted list is one shell command.
    ListAsShellString { list: Vec<String> },
    /// `CMD-SHELL "'curl -f http://…'"`: the shell looks for a program named by it all.
    WholeCommandQuoted { inner: String },
}

/// Words that only mean something to a shell.
const SHELL_OPERATORS: [&str; 9] = ["||", "&&", "|", ";", ">", "<", ">>", "2>&1", "&"];

/// The check's form and its words: (`true` for the shell form, the command's words).
pub fn form(cfg: &HealthcheckConfig) -> Option<(bool, Vec<String>)> {
    match cfg.test.split_first() {
        Some((kind, rest)) if kind == "CMD" => Some((false, rest.to_vec())),
        Some((kind, rest)) if kind == "CMD-SHELL" => Some((
            true,
            rest.join(" ")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        )),
        _ => None,
    }
}

/// The program the check runs first, as written.
pub fn first_program(cfg: &HealthcheckConfig) -> Option<String> {
    form(cfg).and_then(|(_, words)| words.first().cloned())
}

/// A quoting mistake in the configuration, whatever the runs say.
pub fn quoting(cfg: &HealthcheckConfig) -> Option<Quoting> {
    match cfg.test.split_first() {
        Some((kind, rest)) if kind == "CMD" => {
            if let [only] = rest {
                if only.trim().contains(char::is_whitespace) {
                    return Some(Quoting::OneStringInExec {
                        command: only.trim().to_owned(),
                    });
                }
            }
            // `["CMD", "sh", "-c", "…$(…)…"]` starts a shell itself: its syntax is meant.
            if starts_a_shell(rest) {
                return None;
            }
            rest.iter()
                .find(|a| is_shell_syntax(a))
                .map(|token| Quoting::ShellSyntaxInExec {
                    token: token.clone(),
                })
        }
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            let command = rest.join(" ");
            let command = command.trim();
            if command.starts_with('[') {
                if let Ok(list) = serde_json::from_str::<Vec<String>>(command) {
                    return Some(Quoting::ListAsShellString { list });
                }
            }
            let inner = ['\'', '"'].iter().find_map(|q| {
                command
                    .strip_prefix(*q)
                    .and_then(|c| c.strip_suffix(*q))
                    .filter(|c| !c.contains(*q) && c.trim().contains(char::is_whitespace))
            })?;
            Some(Quoting::WholeCommandQuoted {
                inner: inner.trim().to_owned(),
            })
        }
        _ => None,
    }
}

/// An exec-form test that runs a shell on a command string (`sh -c '…'`).
fn starts_a_shell(words: &[String]) -> bool {
    let program = words.first().map(|p| p.rsplit('/').next().unwrap_or(p));
    matches!(program, Some("sh" | "bash" | "ash" | "dash" | "zsh"))
        && words.get(1).is_some_and(|a| a == "-c")
}

pub(super) fn is_shell_syntax(arg: &str) -> bool {
    SHELL_OPERATORS.contains(&arg)
        || arg.contains("$(")
        || arg.contains('`')
        || (arg.starts_with('$') && arg.len() > 1)
}

/// Why `run` failed before reaching the app, if it did.
pub fn classify(run: &HealthcheckRun, cfg: &HealthcheckConfig) -> Option<Cause> {
    if run.passed() {
        return None;
    }
    let out = run.output.trim();
    let shell_form = cfg.test.first().is_some_and(|k| k == "CMD-SHELL");
    if out.contains("OCI runtime exec failed") {
        let program = exec_program(out).unwrap_or_default();
        let lower = out.to_ascii_lowercase();
        return Some(
            if lower.contains("executable file not found") || lower.contains("no such file") {
                if shell_form && program == "/bin/sh" {
                    Cause::NoShell
                } else {
                    Cause::Missing { program }
                }
            } else if lower.contains("permission denied") {
                Cause::NotExecutable { program }
            } else {
                Cause::RuntimeExec {
                    detail: out.to_owned(),
                }
            },
        );
    }
    if let Some(cause) = out.lines().find_map(shell_error) {
        return Some(cause);
    }
    let program = first_program(cfg).unwrap_or_default();
    match run.exit_code {
        // Exit 127 without the shell's words: some program the check runs (a script's own
        // `jq`, say) is missing, not necessarily the first one.
        127 => Some(Cause::Missing {
            program: String::new(),
        }),
        126 => Some(Cause::NotExecutable { program }),
        code @ 129..=159 => Some(Cause::Crashed { program, code }),
        _ => None,
    }
}

/// `exec: "curl": executable file not found in $PATH` → `curl`.
fn exec_program(out: &str) -> Option<String> {
    let rest = &out[out.find("exec: \"")? + 7..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// A shell's own error about a program: `/bin/sh: curl: not found`,
/// `sh: 1: curl: not found`, `bash: line 1: curl: command not found`, a script's
/// `/app/check.sh: line 3: jq: command not found`, `/bin/sh: /app/check: Permission denied`.
/// Read from the end: the word before the error is the program, and it has no spaces (a
/// sentence the app printed does).
fn shell_error(line: &str) -> Option<Cause> {
    let line = line.trim();
    let (before, what) = line.rsplit_once(": ")?;
    // The part before holds `<shell or script>: [<line>: ]<program>`.
    let (_, program) = before.rsplit_once(": ")?;
    if program.is_empty() || program.contains(char::is_whitespace) {
        return None;
    }
    let program = program.to_owned();
    match what {
        "not found" | "command not found" | "No such file or directory" => {
            Some(Cause::Missing { program })
        }
        "Permission denied" | "Is a directory" | "cannot execute binary file" => {
            Some(Cause::NotExecutable { program })
        }
        _ => None,
    }
}
