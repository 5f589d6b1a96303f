//! Snapshot of the command-line help: a changed flag, default or env var shows up
//! in review as a diff of `tests/snapshots/*.txt`. Regenerate with `UPDATE_SNAPSHOTS=1`.

use std::path::Path;
use std::process::Command;

fn check_snapshot(name: &str, args: &[&str]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vantage"));
    // clap prints the current value of each option's variable: unset them all.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VANTAGE_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .args(args)
        // clap wraps help to the terminal width; fix it so the snapshot is stable.
        .env("COLUMNS", "100")
        .output()
        .expect("run vantage");
    assert!(out.status.success(), "vantage {args:?} failed");
    let got = String::from_utf8(out.stdout).expect("utf-8 help");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &got).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        got, want,
        "help text changed: review it, then run with UPDATE_SNAPSHOTS=1"
    );
}

#[test]
fn top_level_help() {
    check_snapshot("help.txt", &["--help"]);
}

#[test]
fn serve_help() {
    check_snapshot("serve-help.txt", &["serve", "--help"]);
}

#[test]
fn bench_gpu_help() {
    check_snapshot("bench-gpu-help.txt", &["bench", "gpu", "--help"]);
}

#[test]
fn check_help() {
    check_snapshot("check-help.txt", &["check", "--help"]);
}

#[test]
fn config_check_help() {
    check_snapshot("config-check-help.txt", &["config", "check", "--help"]);
}
