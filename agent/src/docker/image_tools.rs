//! What a container's image has to run a healthcheck with: the agent looks, read-only, for
//! a few programs on the container's `PATH` in its root filesystem (the overlay's merged
//! directory, which a running container has on the host). Names are only checked for
//! existence, never followed or run: an absolute symlink inside the image would otherwise
//! point at the host's own files.

use std::path::{Component, Path, PathBuf};

use bollard::models::ContainerInspectResponse;
use vantage_shared::ImageTools;

/// Docker's `PATH` for a container whose image sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The tools of a running container, or `None` where its files cannot be seen (the agent
/// runs in a container without the host's `/var/lib/docker`, another storage driver, a
/// stopped container).
pub(super) fn look(c: &ContainerInspectResponse) -> Option<ImageTools> {
    let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    if !running {
        return None;
    }
    let root = c.graph_driver.as_ref()?.data.get("MergedDir")?;
    let root = Path::new(root);
    if !root.is_dir() {
        return None;
    }
    let env = c
        .config
        .as_ref()
        .and_then(|c| c.env.as_deref())
        .unwrap_or_default();
    Some(in_root(root, path_var(env)))
}

/// The container's `PATH` variable, else Docker's default.
fn path_var(env: &[String]) -> &str {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

/// Looks for each program in each absolute `PATH` entry under `root`.
pub(super) fn in_root(root: &Path, path: &str) -> ImageTools {
    let dirs: Vec<PathBuf> = path.split(':').filter_map(|d| inside(root, d)).collect();
    let programs = ImageTools::LOOKED_FOR
        .iter()
        .filter(|p| dirs.iter().any(|d| exists(&d.join(p))))
        .map(|p| (*p).to_owned())
        .collect();
    ImageTools {
        shell: exists(&root.join("bin/sh")),
        programs,
    }
}

/// `dir` under `root`, refusing anything but plain names (no `..`, relative entries).
fn inside(root: &Path, dir: &str) -> Option<PathBuf> {
    let dir = Path::new(dir);
    if !dir.is_absolute() {
        return None;
    }
    let mut out = root.to_path_buf();
    for part in dir.components() {
        match part {
            Component::RootDir => {}
            Component::Normal(p) => out.push(p),
            _ => return None,
        }
    }
    Some(out)
}

/// The name exists (a file, or a link, e.g. busybox's applets), without following it.
fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_path_without_leaving_the_root() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        std::fs::create_dir_all(r.join("bin")).expect("mkdir");
        std::fs::create_dir_all(r.join("usr/local/bin")).expect("mkdir");
        std::fs::write(r.join("bin/busybox"), b"").expect("busybox");
        std::os::unix::fs::symlink("busybox", r.join("bin/sh")).expect("sh");
        std::os::unix::fs::symlink("busybox", r.join("bin/wget")).expect("wget");
        // An absolute link is not followed: it would lead out of the image.
        std::os::unix::fs::symlink("/usr/bin/python3", r.join("usr/local/bin/python3"))
            .expect("python3");
        let tools = in_root(r, DEFAULT_PATH);
        assert!(tools.shell);
        assert_eq!(tools.programs, ["wget", "python3", "busybox"]);
        // Only the PATH's directories count; `..` and relative entries are refused.
        let tools = in_root(r, "/usr/local/bin:../..:bin:/../../usr/bin");
        assert_eq!(tools.programs, ["python3"]);
        assert_eq!(
            path_var(&["A=1".into(), "PATH=/opt/bin".into()]),
            "/opt/bin"
        );
        assert_eq!(path_var(&[]), DEFAULT_PATH);
    }
}
