//! What a container's image has to run a healthcheck with: the agent looks, read-only, for
//! a few programs on the container's `PATH` in its root filesystem (the overlay's merged
//! directory, which a running container has on the host). Links are resolved inside that
//! root, as the container would see them, never against the host's own `/`: an absolute
//! link in an image (`/usr/local/bin -> /opt/bin`) must not lead to the host's programs.
//! Nothing is ever run.

use std::path::{Path, PathBuf};

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
    let dirs: Vec<&str> = path.split(':').filter(|d| d.starts_with('/')).collect();
    let programs = ImageTools::LOOKED_FOR
        .iter()
        .filter(|p| {
            dirs.iter()
                .any(|d| is_file_in_root(root, &format!("{d}/{p}")))
        })
        .map(|p| (*p).to_owned())
        .collect();
    ImageTools {
        shell: is_file_in_root(root, "/bin/sh"),
        programs,
    }
}

/// Links followed while resolving one path, as the kernel's limit.
const MAX_LINKS: usize = 40;

/// Whether `path` (absolute, as the container sees it) is a file in the container whose
/// root filesystem is `root`.
fn is_file_in_root(root: &Path, path: &str) -> bool {
    resolve_in_root(root, path).is_some_and(|p| p.is_file())
}

/// `path` resolved inside `root`: every link, in every component, read and followed
/// relative to `root` (an absolute target starts again at `root`, `..` stops at it), so
/// the result never leaves `root`. `None` for a missing component or a link loop.
fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    // Components still to walk, last first.
    let mut todo: Vec<String> = path.split('/').rev().map(str::to_owned).collect();
    let mut at: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                at.pop();
                continue;
            }
            _ => {}
        }
        let here = at
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&part);
        let meta = std::fs::symlink_metadata(&here).ok()?;
        if !meta.file_type().is_symlink() {
            at.push(part);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return None;
        }
        let target = std::fs::read_link(&here).ok()?;
        let target = target.to_str()?;
        if target.starts_with('/') {
            at.clear();
        }
        todo.extend(target.split('/').rev().map(str::to_owned));
    }
    Some(at.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_path_without_leaving_the_root() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        for d in ["bin", "usr/local/bin", "usr/bin", "opt/py/bin"] {
            std::fs::create_dir_all(r.join(d)).expect("mkdir");
        }
        std::fs::write(r.join("bin/busybox"), b"").expect("busybox");
        std::os::unix::fs::symlink("busybox", r.join("bin/sh")).expect("sh");
        std::os::unix::fs::symlink("busybox", r.join("bin/wget")).expect("wget");
        // An absolute link resolves inside the image: /opt/py/bin/python3 is there.
        std::fs::write(r.join("opt/py/bin/python3"), b"").expect("python3");
        std::os::unix::fs::symlink("/opt/py/bin/python3", r.join("usr/local/bin/python3"))
            .expect("python3 link");
        // A dangling link is not a program.
        std::os::unix::fs::symlink("/nowhere/node", r.join("usr/bin/node")).expect("node");
        let tools = in_root(r, DEFAULT_PATH);
        assert!(tools.shell);
        assert_eq!(tools.programs, ["wget", "python3", "busybox"]);
        // Only absolute PATH entries count.
        let tools = in_root(r, "/usr/local/bin:bin");
        assert_eq!(tools.programs, ["python3"]);
        assert_eq!(
            path_var(&["A=1".into(), "PATH=/opt/bin".into()]),
            "/opt/bin"
        );
        assert_eq!(path_var(&[]), DEFAULT_PATH);
    }

    #[test]
    fn links_never_lead_to_the_hosts_files() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        std::fs::create_dir_all(r.join("usr")).expect("mkdir");
        // A directory linked to an absolute path: the host has /usr/bin/…, the image not.
        std::os::unix::fs::symlink("/usr/bin", r.join("usr/local")).expect("link");
        // `..` past the root stays at the root.
        std::fs::create_dir_all(r.join("x")).expect("mkdir");
        std::os::unix::fs::symlink("../../../../usr/bin", r.join("x/bin")).expect("link");
        let host_has = ["sh", "env", "ls"]
            .into_iter()
            .find(|p| Path::new("/usr/bin").join(p).is_file())
            .expect("a host program in /usr/bin");
        assert!(!is_file_in_root(r, &format!("/usr/local/{host_has}")));
        assert!(!is_file_in_root(r, &format!("/x/bin/{host_has}")));
        // A loop ends.
        std::os::unix::fs::symlink("loop", r.join("loop")).expect("loop");
        assert_eq!(resolve_in_root(r, "/loop/x"), None);
        // The same links inside the image work.
        std::fs::create_dir_all(r.join("usr/bin")).expect("mkdir");
        std::fs::write(r.join("usr/bin/curl"), b"").expect("curl");
        assert!(is_file_in_root(r, "/usr/local/curl"));
        assert!(is_file_in_root(r, "/x/bin/curl"));
    }
}
