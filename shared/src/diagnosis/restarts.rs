//! What a container's stored lifecycle events say: when it restarted, what its last exit
//! code means, and whether it is in a restart loop (N restarts within M minutes).

use chrono::{DateTime, Duration, Utc};

use super::{Finding, FindingCode, Severity};
use crate::api::{ExitExplained, LifecycleEvent, LifecycleKind};

/// Restarts within [`LOOP_MINUTES`] that make a restart loop.
pub const LOOP_RESTARTS: usize = 3;
pub const LOOP_MINUTES: i64 = 10;
/// An `oom` event this close to a `die` caused it: Docker sends them together, the `oom`
/// usually first, but under cgroup v2 it can arrive just after the exit.
const OOM_TO_DIE_SECS: i64 = 5;

/// What an exit code means, as people search for it: 137, 139 and 143 are the signals
/// (128 + n) a process dies of; `oom` says the kernel's OOM killer acted just before.
pub fn exit_meaning(code: i64, oom: bool) -> String {
    let text = match code {
        137 if oom => {
            "killed by the kernel's out-of-memory killer (SIGKILL): the container \
                       needs more memory than its limit, or leaks it"
        }
        0 => {
            "exited normally: the main process finished (a restart policy of `always` \
              starts it again)"
        }
        1 => "a general error: the application stopped itself",
        2 => "bad arguments or a shell error in the command",
        125 => "Docker could not run the container (an error in the daemon or the run options)",
        126 => "the command could not be executed (permissions, or not a program)",
        127 => "the command was not found in the image",
        130 => "interrupted (SIGINT)",
        134 => "aborted (SIGABRT): an assertion failed or the runtime aborted",
        137 => {
            "killed by SIGKILL: the kernel's out-of-memory killer, `docker kill`, or a stop \
                that outlasted its grace period"
        }
        139 => "a segmentation fault (SIGSEGV): the process read memory it may not",
        143 => "stopped by SIGTERM: `docker stop`, a restart, or an orchestrator",
        c if (129..=159).contains(&c) => return format!("killed by signal {}", c - 128),
        c => return format!("the application's own exit code {c}"),
    };
    text.to_owned()
}

/// Events (any order) oldest first, none after `now`.
fn sorted(events: &[LifecycleEvent], now: DateTime<Utc>) -> Vec<&LifecycleEvent> {
    let mut v: Vec<&LifecycleEvent> = events.iter().filter(|e| e.at <= now).collect();
    v.sort_by_key(|e| e.at);
    v
}

/// One start after a death: when, and whether someone asked for it (`docker restart`,
/// stop then start) rather than the process dying on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    pub at: DateTime<Utc>,
    pub requested: bool,
}

/// Whether a `kill` event's signal ends the process (what `docker stop`, `docker kill`
/// and `docker restart` send), rather than asking it to reload or report (HUP, USR1,
/// USR2, WINCH, by name or number).
fn terminating(signal: Option<&str>) -> bool {
    const NOT_ENDING: [&str; 8] = ["1", "10", "12", "28", "HUP", "USR1", "USR2", "WINCH"];
    let Some(s) = signal else {
        return true;
    };
    let name = s.trim().to_ascii_uppercase();
    !NOT_ENDING.contains(&name.trim_start_matches("SIG"))
}

/// Every restart in `events`: a `start` after a `die` since the previous start.
pub fn restarts(events: &[LifecycleEvent], now: DateTime<Utc>) -> Vec<Restart> {
    let mut out = Vec::new();
    let (mut died, mut requested) = (false, false);
    for e in sorted(events, now) {
        match e.kind {
            LifecycleKind::Die => died = true,
            LifecycleKind::Stop => requested = true,
            // `docker kill -s HUP` asks for a reload, not an exit.
            LifecycleKind::Kill if terminating(e.signal.as_deref()) => requested = true,
            LifecycleKind::Start => {
                if died {
                    out.push(Restart {
                        at: e.at,
                        requested,
                    });
                }
                (died, requested) = (false, false);
            }
            _ => {}
        }
    }
    out
}

/// The newest `die` with its code explained.
pub fn last_exit(events: &[LifecycleEvent], now: DateTime<Utc>) -> Option<ExitExplained> {
    let sorted = sorted(events, now);
    let die = sorted.iter().rev().find(|e| e.kind == LifecycleKind::Die)?;
    let code = die.exit_code?;
    let near = Duration::seconds(OOM_TO_DIE_SECS);
    let oom = sorted
        .iter()
        .any(|e| e.kind == LifecycleKind::Oom && (e.at - die.at).abs() <= near);
    Some(ExitExplained {
        at: die.at,
        exit_code: code,
        oom_killed: oom,
        meaning: exit_meaning(code, oom),
    })
}

/// A restart loop: at least [`LOOP_RESTARTS`] restarts nobody asked for within the last
/// [`LOOP_MINUTES`], with the last exit explained.
pub fn restart_loop(name: &str, events: &[LifecycleEvent], now: DateTime<Utc>) -> Option<Finding> {
    let since = now - Duration::minutes(LOOP_MINUTES);
    let n = restarts(events, now)
        .iter()
        .filter(|r| !r.requested && r.at > since)
        .count();
    if n < LOOP_RESTARTS {
        return None;
    }
    let exit = last_exit(events, now);
    let why = exit
        .as_ref()
        .map(|x| format!("; it last exited with code {}: {}", x.exit_code, x.meaning))
        .unwrap_or_default();
    let advice = match exit.as_ref() {
        Some(x) if x.oom_killed => {
            "Raise its memory limit (`mem_limit` in compose, `--memory` for `docker run`) \
             or find what grows; `docker inspect` shows `OOMKilled: true` after such an exit."
        }
        Some(x) if x.exit_code == 139 => {
            "A crash in native code: check the image's architecture and native libraries, \
             and the last lines of `docker logs`."
        }
        _ => "Its last log lines (`docker logs --tail 50`) say why it exits.",
    };
    Some(Finding::new(
        FindingCode::ContainerRestartLoop,
        Severity::Critical,
        format!(
            "`{name}` is in a restart loop: {n} restarts in the last {LOOP_MINUTES} minutes{why}"
        ),
        format!(
            "Docker's restart policy starts it again each time the main process dies, so it \
             never stays up. {advice}"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn ev(secs: i64, kind: LifecycleKind, exit_code: Option<i64>) -> LifecycleEvent {
        LifecycleEvent {
            at: Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap() + Duration::seconds(secs),
            kind,
            exit_code,
            signal: None,
            health: None,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 5, 0).unwrap()
    }

    /// Start, then `n` crashes of `code` (with an OOM event when 137), each restarted.
    fn crashing(n: i64, code: i64, oom: bool) -> Vec<LifecycleEvent> {
        let mut v = vec![ev(0, LifecycleKind::Start, None)];
        for i in 1..=n {
            if oom {
                v.push(ev(i * 20 - 1, LifecycleKind::Oom, None));
            }
            v.push(ev(i * 20, LifecycleKind::Die, Some(code)));
            v.push(ev(i * 20 + 1, LifecycleKind::Start, None));
        }
        v
    }

    #[test]
    fn an_oom_loop_is_named_with_its_exit_code() {
        let f = restart_loop("api", &crashing(4, 137, true), now()).expect("a loop");
        assert_eq!(f.code, FindingCode::ContainerRestartLoop);
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.summary.contains("4 restarts in the last 10 minutes"),
            "{}",
            f.summary
        );
        assert!(f
            .summary
            .contains("code 137: killed by the kernel's out-of-memory killer"));
        assert!(f.explanation.contains("memory limit"), "{}", f.explanation);
    }

    #[test]
    fn an_oom_event_after_the_exit_still_counts() {
        let events = vec![
            ev(0, LifecycleKind::Start, None),
            ev(10, LifecycleKind::Die, Some(137)),
            ev(11, LifecycleKind::Oom, None),
        ];
        assert!(last_exit(&events, now()).unwrap().oom_killed);
    }

    #[test]
    fn a_reload_signal_is_not_a_requested_restart() {
        let mut hup = ev(5, LifecycleKind::Kill, None);
        hup.signal = Some("SIGHUP".into());
        let events = vec![
            ev(0, LifecycleKind::Start, None),
            hup,
            ev(10, LifecycleKind::Die, Some(1)),
            ev(11, LifecycleKind::Start, None),
        ];
        assert!(!restarts(&events, now())[0].requested);
        assert!(terminating(Some("15")) && terminating(Some("SIGKILL")) && terminating(None));
        assert!(!terminating(Some("1")) && !terminating(Some("HUP")));
    }

    #[test]
    fn segfaults_and_sigterm_read_apart() {
        let f = restart_loop("api", &crashing(3, 139, false), now()).unwrap();
        assert!(f.summary.contains("segmentation fault"), "{}", f.summary);
        let x = last_exit(&crashing(1, 143, false), now()).unwrap();
        assert!(x.meaning.contains("SIGTERM") && !x.oom_killed);
        // 137 without an OOM event may be `docker kill` as much as memory.
        let x = last_exit(&crashing(1, 137, false), now()).unwrap();
        assert!(x.meaning.contains("docker kill") && !x.oom_killed);
        assert_eq!(exit_meaning(130 + 5, false), "killed by signal 7");
        assert_eq!(exit_meaning(3, false), "the application's own exit code 3");
    }

    #[test]
    fn fewer_restarts_old_ones_and_requested_ones_are_no_loop() {
        assert!(restart_loop("api", &crashing(2, 1, false), now()).is_none());
        // Three crashes, but an hour ago.
        let old = now() + Duration::hours(1);
        assert!(restart_loop("api", &crashing(3, 1, false), old).is_none());
        // `docker restart` three times: kill, die, stop, start each time.
        let mut v = vec![ev(0, LifecycleKind::Start, None)];
        for i in 1..=3 {
            v.push(ev(i * 20, LifecycleKind::Kill, None));
            v.push(ev(i * 20 + 1, LifecycleKind::Die, Some(143)));
            v.push(ev(i * 20 + 2, LifecycleKind::Stop, None));
            v.push(ev(i * 20 + 3, LifecycleKind::Start, None));
        }
        let r = restarts(&v, now());
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|r| r.requested));
        assert!(restart_loop("api", &v, now()).is_none());
    }
}
