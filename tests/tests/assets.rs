//! The dashboard's assets are compressed once, at build time (Trunk's post-build hook),
//! and the agent sends the variant the browser accepts: brotli, else gzip, else the file
//! itself. The bytes sent are the build's own variant, and the real `brotli` and `gzip`
//! tools decompress them to the original.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{http, workspace_root, Agent};

/// Decompresses `data` with `tool -d -c` (brotli or gzip).
fn decompress(tool: &str, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} ({e}): apt-get install {tool}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{tool} -d failed");
    out.stdout
}

async fn fetch(url: &str, accept: &str) -> (Option<String>, Vec<u8>) {
    let res = http()
        .get(url)
        .header("accept-encoding", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let coding = res
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    (coding, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_wasm_goes_out_precompressed() {
    let dist = workspace_root().join("dist");
    let wasm = std::fs::read_dir(&dist)
        .unwrap_or_else(|e| panic!("no dist/ ({e}): build the dashboard (scripts/test.sh does)"))
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .find(|n| n.ends_with(".wasm"))
        .expect("a .wasm in dist/");
    for ext in ["br", "gz"] {
        assert!(
            dist.join(format!("{wasm}.{ext}")).is_file(),
            "dist/{wasm}.{ext} missing: the build's compress hook did not run"
        );
    }
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let url = agent.url(&format!("/{wasm}"));
    let original = std::fs::read(dist.join(&wasm)).unwrap();

    let (coding, br) = fetch(&url, "gzip, deflate, br").await;
    assert_eq!(coding.as_deref(), Some("br"));
    assert_eq!(
        br,
        std::fs::read(dist.join(format!("{wasm}.br"))).unwrap(),
        "the build's variant, as it is"
    );
    assert_eq!(decompress("brotli", &br), original);
    assert!(
        br.len() * 3 < original.len(),
        "{} of {} bytes",
        br.len(),
        original.len()
    );

    let (coding, gz) = fetch(&url, "gzip").await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert_eq!(decompress("gzip", &gz), original);

    let (coding, plain) = fetch(&url, "identity").await;
    assert_eq!(coding, None);
    assert_eq!(plain, original);
}
