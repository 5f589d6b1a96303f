//! The Debian package with the real dpkg: `systemd-analyze verify` passes on the installed
//! unit; install creates the `vantage` user (in the `docker` group when there is one), the
//! binary, the enabled unit and a valid config only root and `vantage` may read; an upgrade
//! keeps the administrator's config edits and the agent's state; purge removes it all.
//! This installs on the test machine as root, as CI machines are meant for.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::workspace_root;

/// Runs a command, returning its output; panics with it when the command fails.
fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install it (apt-get install dpkg systemd adduser)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

/// The newest `target/debian/vantage_*.deb`, refused when older than what goes into it.
fn package() -> PathBuf {
    let how = "build it with `./scripts/build-deb.sh` (scripts/test.sh does)";
    let dir = workspace_root().join("target/debian");
    let deb = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vantage_") && n.ends_with(".deb"))
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no package in {}: {how}", dir.display()));
    let built = std::fs::metadata(&deb).unwrap().modified().unwrap();
    let root = workspace_root();
    for source in [
        root.join("deploy/debian/vantage.service"),
        root.join("deploy/debian/postinst"),
        root.join("deploy/debian/postrm"),
        root.join("deploy/debian/vantage.toml"),
        root.join("agent/Cargo.toml"),
    ] {
        let changed = std::fs::metadata(&source).unwrap().modified().unwrap();
        assert!(
            changed <= built,
            "{} is older than {}: {how}",
            deb.display(),
            source.display()
        );
    }
    deb
}

fn installed_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status} ${Version}", "vantage"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("install ok installed ")
        .map(str::to_owned)
}

/// The same package with its version raised, as the next release would be.
fn next_version(deb: &Path, dir: &Path) -> (PathBuf, String) {
    let tree = dir.join("tree");
    sh(
        "dpkg-deb",
        &["-R", deb.to_str().unwrap(), tree.to_str().unwrap()],
    );
    let control_path = tree.join("DEBIAN/control");
    let control = std::fs::read_to_string(&control_path).unwrap();
    let version = control
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .unwrap()
        .to_owned();
    let next = format!("{version}+next1");
    std::fs::write(
        &control_path,
        control.replace(&format!("Version: {version}"), &format!("Version: {next}")),
    )
    .unwrap();
    let out = dir.join("vantage-next.deb");
    sh(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "-b",
            tree.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    (out, next)
}

#[test]
fn the_package_installs_upgrades_and_purges() {
    let deb = package();
    if installed_version().is_some() {
        sh("dpkg", &["--purge", "vantage"]);
    }
    let work = tempfile::tempdir().unwrap();

    sh("dpkg", &["-i", deb.to_str().unwrap()]);
    let first = installed_version().expect("installed");
    let version = sh("/usr/bin/vantage", &["--version"]);
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    sh("getent", &["passwd", "vantage"]);
    if Command::new("getent")
        .args(["group", "docker"])
        .output()
        .unwrap()
        .status
        .success()
    {
        let groups = sh("id", &["-nG", "vantage"]);
        assert!(groups.split_whitespace().any(|g| g == "docker"), "{groups}");
    }

    // The unit: hardened, enabled, and valid to systemd.
    let unit = Path::new("/lib/systemd/system/vantage.service");
    let text = std::fs::read_to_string(unit).unwrap();
    for line in [
        "User=vantage",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=vantage",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in the unit");
    }
    sh("systemd-analyze", &["verify", unit.to_str().unwrap()]);
    assert!(Path::new("/etc/systemd/system/multi-user.target.wants/vantage.service").exists());

    // The config: valid, readable by the agent's user and root only.
    let config = Path::new("/etc/vantage/vantage.toml");
    let meta = std::fs::metadata(config).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    let group = sh("getent", &["group", "vantage"]);
    assert_eq!(
        group.split(':').nth(2).unwrap().parse::<u32>().unwrap(),
        meta.gid()
    );
    sh(
        "runuser",
        &[
            "-u",
            "vantage",
            "--",
            "/usr/bin/vantage",
            "config",
            "check",
            "/etc/vantage/vantage.toml",
        ],
    );

    // Upgrade: the admin's edit and the agent's state stay.
    let mut edited = std::fs::read_to_string(config).unwrap();
    edited.push_str("retention_days = 7\n");
    std::fs::write(config, &edited).unwrap();
    std::fs::create_dir_all("/var/lib/vantage").unwrap();
    std::fs::write("/var/lib/vantage/state-marker", "kept").unwrap();
    let (next, next_version) = next_version(&deb, work.path());
    sh("dpkg", &["-i", "--force-confold", next.to_str().unwrap()]);
    assert_eq!(
        installed_version().as_deref(),
        Some(next_version.as_str()),
        "upgraded from {first}"
    );
    assert_eq!(std::fs::read_to_string(config).unwrap(), edited);
    assert!(Path::new("/var/lib/vantage/state-marker").exists());

    // Purge: nothing of it is left.
    sh("dpkg", &["--purge", "vantage"]);
    assert_eq!(installed_version(), None);
    for gone in [
        "/usr/bin/vantage",
        "/etc/vantage",
        "/var/lib/vantage",
        "/lib/systemd/system/vantage.service",
    ] {
        assert!(
            !Path::new(gone).exists(),
            "{gone} is still there after purge"
        );
    }
}
