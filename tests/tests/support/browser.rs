//! The browser side of the end-to-end tests: headless Chromium driven over WebDriver
//! (chromedriver, killed with its browser on drop), and the waits and checks the browser
//! tests share (an element appearing, a field filled as typing fills it, a page that fits
//! a 360 px phone, screenshots under `target/screenshots/`).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use super::workspace_root;

pub const CHROMIUM: &str = "/usr/bin/chromium";

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver in its own process group; dropping kills the group, which takes
/// Chromium with it (killing chromedriver alone leaves the browser running).
/// `VANTAGE_WEBDRIVER=http://127.0.0.1:PORT` uses an already running driver
/// instead (for debugging with `chromedriver --verbose --log-path=…`).
pub struct Driver {
    child: Option<Child>,
    url: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    pub fn start() -> Self {
        if let Ok(url) = std::env::var("VANTAGE_WEBDRIVER") {
            let profile = tempfile::tempdir().expect("profile dir");
            return Self {
                child: None,
                url,
                _profile: profile,
            };
        }
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} missing: apt-get install chromium chromium-driver"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            _profile: tempfile::tempdir().expect("profile dir"),
        }
    }

    pub async fn client(&self, width: u32, height: u32) -> Client {
        let profile = self._profile.path().join(format!("p{width}"));
        let caps = chrome_capabilities(width, height, &profile);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("WebDriver session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SIGTERM lets Chromium shut down its helpers; SIGKILL only what is left.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
        }
    }
}

pub fn require_dashboard() {
    for (index, build) in [
        ("dist/index.html", "trunk build --release"),
        (
            "dist/phone/index.html",
            "trunk build phone.html --release --dist dist/phone --public-url /phone/",
        ),
    ] {
        let index = workspace_root().join(index);
        assert!(
            index.exists(),
            "{} missing: build it with `{build}` (scripts/test.sh does)",
            index.display()
        );
    }
}

pub fn screenshot_dir() -> PathBuf {
    let dir = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Waits for a CSS selector, with the page's text in the panic message.
pub async fn wait_css(c: &Client, css: &str, timeout: Duration) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(timeout)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let text = c.find(Locator::Css("body")).await.ok();
            let text = match text {
                Some(b) => b.text().await.unwrap_or_default(),
                None => String::new(),
            };
            panic!("{css} did not appear ({e}); page text:\n{text}");
        }
    }
}

/// Live updates may re-render an element between finding and using it: find it
/// afresh and retry a few times rather than hold on to a stale reference.
pub async fn click_fresh(c: &Client, css: &str) {
    let mut last = None;
    for _ in 0..5 {
        // Centred, so the sticky top bar cannot be over it.
        let _ = c
            .execute(
                "document.querySelector(arguments[0])?.scrollIntoView({block: 'center'})",
                vec![css.into()],
            )
            .await;
        match c.find(Locator::Css(css)).await {
            Ok(e) => match e.click().await {
                Ok(()) => return,
                Err(err) => last = Some(err),
            },
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not click {css}: {last:?}");
}

pub async fn text_fresh(c: &Client, css: &str) -> String {
    let mut last = None;
    for _ in 0..5 {
        match c.find(Locator::Css(css)).await {
            Ok(e) => match e.text().await {
                Ok(t) => return t,
                Err(err) => last = Some(err),
            },
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not read {css}: {last:?}");
}

/// Sets a form field's value the way typing does (an `input` event Leptos listens to).
pub async fn fill(c: &Client, css: &str, value: &str) {
    wait_css(c, css, Duration::from_secs(10)).await;
    c.execute(
        "const el = document.querySelector(arguments[0]); el.value = arguments[1]; \
         el.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![css.into(), value.into()],
    )
    .await
    .unwrap();
}

/// Waits until the element's attribute has the value; panics with what it had.
pub async fn wait_attr(c: &Client, css: &str, attr: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            last = e.attr(attr).await.ok().flatten();
            if last.as_deref() == Some(want) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} [{attr}] is {last:?}, not {want:?}");
}

/// Scrolls the first element matching `css` to the middle of the screen and saves a
/// screenshot as `file` in [`screenshot_dir`].
pub async fn screenshot_at(c: &Client, css: &str, file: &str) {
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
        vec![serde_json::Value::String(css.to_owned())],
    )
    .await
    .unwrap_or_else(|e| panic!("scroll to {css}: {e}"));
    let png = c
        .screenshot()
        .await
        .unwrap_or_else(|e| panic!("screenshot: {e}"));
    std::fs::write(screenshot_dir().join(file), png).unwrap_or_else(|e| panic!("{file}: {e}"));
}

/// Opens `path` on a 360 px phone (tokenized first), waits for `ready`, saves a screenshot
/// and fails if the page scrolls sideways.
pub async fn fits_a_phone(
    driver: &Driver,
    agent: &super::Agent,
    path: &str,
    ready: &str,
    shot: &str,
) {
    let p = driver.client(360, 780).await;
    p.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_css(&p, "main", Duration::from_secs(20)).await;
    p.goto(&agent.url(path)).await.unwrap();
    wait_css(&p, ready, Duration::from_secs(20)).await;
    check_fits(&p, path, shot).await;
    p.close().await.unwrap();
}

/// On a 360 px phone client: saves a screenshot and fails, naming what sticks out, if the
/// page is wider than the screen.
pub async fn check_fits(p: &Client, path: &str, shot: &str) {
    let figures = p
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .unwrap();
    let (width, viewport) = (figures[0].as_u64().unwrap(), figures[1].as_u64().unwrap());
    // Content wider than the screen makes mobile Chromium widen the layout viewport to
    // fit it, so a viewport over 360 is itself the overflow: name what sticks out.
    let wide = p
        .execute(
            "return [...document.querySelectorAll('body *')] \
               .filter(e => e.getBoundingClientRect().right > 361 || e.scrollWidth > e.clientWidth + 1) \
               .slice(0, 12).map(e => e.tagName + '.' + e.className + ' ' + \
                 Math.round(e.getBoundingClientRect().right) + 'px, scroll ' + e.scrollWidth + '/' + e.clientWidth + ': ' + \
                 (e.textContent || '').trim().slice(0, 60))",
            vec![],
        )
        .await
        .unwrap();
    std::fs::write(screenshot_dir().join(shot), p.screenshot().await.unwrap()).unwrap();
    assert_eq!(
        viewport, 360,
        "{path}: the layout viewport grew to {viewport}px, so something is wider than the \
         360px screen: {wide:#}"
    );
    assert!(
        width <= viewport,
        "{path} is {width}px wide on a {viewport}px screen"
    );
}

/// WebDriver capabilities for a headless Chromium session `width` × `height` with its own
/// profile directory; under 500 px wide, a phone's viewport (touch, pixel ratio 2), which
/// desktop Chromium will not make as a window.
pub fn chrome_capabilities(
    width: u32,
    height: u32,
    profile: &std::path::Path,
) -> serde_json::Map<String, serde_json::Value> {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        &format!("--window-size={width},{height}"),
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut options = serde_json::json!({ "binary": CHROMIUM, "args": args });
    if width < 500 {
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true }
        });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    caps
}
