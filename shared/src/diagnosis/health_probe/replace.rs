//! A check command that uses what the image has: the same URL, requested with a program
//! found in the container (or, where the agent could not look, the likeliest one).

use crate::api::{ImageTools, PortMapping};

/// The replacement check, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replacement {
    /// An exec-form test (`["CMD", …]`), and whether the program was seen in the image.
    Command { test: Vec<String>, seen: bool },
    /// The agent looked and the image has none of the programs a check can use.
    NothingInImage,
    /// No URL to check could be found in the old check or the container's ports.
    NoUrl,
}

/// The URL the old check requested, else `http://localhost:<port>/` of the container's
/// first TCP port.
pub fn url(words: &[String], ports: &[PortMapping]) -> Option<String> {
    let from_words = words.iter().find_map(|w| {
        let w = w.trim_matches(|c| c == '\'' || c == '"');
        (w.starts_with("http://") || w.starts_with("https://")).then(|| w.to_owned())
    });
    from_words.or_else(|| {
        ports
            .iter()
            .find(|p| p.protocol == "tcp")
            .map(|p| format!("http://localhost:{}/", p.container_port))
    })
}

/// The test that requests `url` with `program`: the exec form, or the shell form when the
/// URL holds a variable (`http://localhost:${PORT}/`) only a shell expands.
pub fn command(program: &str, url: &str) -> Vec<String> {
    let literal = serde_json::to_string(url).unwrap_or_default();
    let words: Vec<String> = match program {
        "curl" => ["curl", "-fsS", "-o", "/dev/null", url].map(str::to_owned).to_vec(),
        "wget" => ["wget", "-q", "-O", "/dev/null", url].map(str::to_owned).to_vec(),
        "busybox" => ["busybox", "wget", "-q", "-O", "/dev/null", url]
            .map(str::to_owned)
            .to_vec(),
        "node" => vec![
            "node".to_owned(),
            "-e".to_owned(),
            format!("fetch({literal}).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"),
        ],
        "python3" => vec![
            "python3".to_owned(),
            "-c".to_owned(),
            format!("import urllib.request; urllib.request.urlopen({literal}, timeout=5)"),
        ],
        // `python` may well be Python 2, which has urllib2 instead.
        python => vec![
            python.to_owned(),
            "-c".to_owned(),
            format!(
                "try:\n    from urllib.request import urlopen\nexcept ImportError:\n    from urllib2 import urlopen\nurlopen({literal}, timeout=5)"
            ),
        ],
    };
    if url.contains('$') {
        // The URL's word in double quotes (the shell expands it), the others quoted as is.
        let line: Vec<String> = words
            .iter()
            .map(|w| {
                if w == url {
                    format!("\"{url}\"")
                } else {
                    crate::diagnosis::health_fix::sh_quote(w)
                }
            })
            .collect();
        return vec!["CMD-SHELL".to_owned(), line.join(" ")];
    }
    std::iter::once("CMD".to_owned()).chain(words).collect()
}

/// Whether `program` can take a URL that only a shell expands (its URL is a word of its own).
fn takes_shell_url(program: &str) -> bool {
    matches!(program, "curl" | "wget" | "busybox")
}

/// Programs that must not be offered: the one that failed, and busybox's own `wget` when
/// busybox is what crashed (its applets are one binary).
fn excluded(failed: &str, crashed: bool) -> Vec<&'static str> {
    let base = failed.rsplit('/').next().unwrap_or(failed);
    ImageTools::LOOKED_FOR
        .into_iter()
        .filter(|p| {
            *p == base
                || (crashed
                    && matches!(base, "wget" | "busybox")
                    && matches!(*p, "wget" | "busybox"))
        })
        .collect()
}

/// The check to use instead of one whose program `failed` (missing, not executable or
/// crashed).
pub fn replacement(
    failed: &str,
    crashed: bool,
    url: Option<&str>,
    tools: Option<&ImageTools>,
) -> Replacement {
    let Some(url) = url else {
        return Replacement::NoUrl;
    };
    let skip = excluded(failed, crashed);
    let shell_url = url.contains('$');
    let usable = |p: &str| !skip.contains(&p) && (!shell_url || takes_shell_url(p));
    match tools {
        Some(t) => ImageTools::LOOKED_FOR
            .into_iter()
            .find(|p| usable(p) && t.has(p))
            .map_or(Replacement::NothingInImage, |p| Replacement::Command {
                test: command(p, url),
                seen: true,
            }),
        // Unseen: wget is in busybox and Alpine images, curl in most others.
        None => {
            let Some(p) = ["wget", "curl", "python3"].into_iter().find(|p| usable(p)) else {
                return Replacement::NothingInImage;
            };
            Replacement::Command {
                test: command(p, url),
                seen: false,
            }
        }
    }
}
