//! A headless Chromium session beside a running `commroute serve`, with a
//! deadline on every step.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::serve::server::Server;
use crate::support::process::Lines;

/// How long any one WebDriver step (a click, a page load, a wait) may take.
pub const STEP: Duration = Duration::from_secs(30);

/// How many browsers may run at once: each is a Chromium with its own
/// processes, and the machine has two cores shared with the other tests.
const SLOTS: usize = 2;

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// One place among the [`SLOTS`], given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Slot {
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= SLOTS {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no browser slot freed within 10 minutes");
            running = FREED.wait_timeout(running, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        *running += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        FREED.notify_one();
    }
}

/// The chromedriver to use: `$CHROMEDRIVER`, else `chromedriver` on the
/// `PATH` or in `/usr/bin`. Fails the test, saying how to install it, when
/// there is none.
fn chromedriver() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMEDRIVER") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("chromedriver"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin/chromedriver")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the browser tests need chromedriver and Chromium: `apt-get install chromium chromium-driver` \
                 (Debian's packages; .ci/run installs them), or set CHROMEDRIVER"
            )
        })
}

/// The Chromium binary, when chromedriver would not find it alone.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// A free port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A browser session on a running service. Dropping it closes the session
/// and ends chromedriver (and with it Chromium), then the service.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    // Dropped in this order after `client`: the driver, then the service.
    _driver: Lines,
    pub server: Server,
    _slot: Slot,
}

impl Browser {
    /// Opens a 1280×900 headless Chromium on `server`.
    pub fn open(server: Server) -> Browser {
        Browser::open_sized(server, 1280, 900)
    }

    /// Opens a headless Chromium of `width`×`height` on `server`.
    pub fn open_sized(server: Server, width: u32, height: u32) -> Browser {
        let slot = Slot::take();
        let port = free_port();
        let mut driver = Lines::spawn(
            Command::new(chromedriver())
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1"),
        );
        driver.wait_for("started successfully", STEP);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut args = vec![
            "--headless=new".to_owned(),
            // Tests run as root in CI containers, where the sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-extensions".to_owned(),
            "--no-first-run".to_owned(),
            format!("--window-size={width},{height}"),
        ];
        args.push("--lang=en-US".to_owned());
        let mut options = serde_json::json!({ "args": args });
        if let Some(binary) = chromium() {
            options["binary"] = serde_json::json!(binary.display().to_string());
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".to_owned(), options);
        caps.insert("pageLoadStrategy".to_owned(), serde_json::json!("normal"));
        let url = format!("http://127.0.0.1:{port}");
        let session = rt.block_on(async {
            tokio::time::timeout(STEP, async {
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&url)
                    .await
            })
            .await
        });
        let client = match session {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("chromedriver refused a session: {e}"),
            Err(_) => panic!("no browser session from chromedriver within {STEP:?}"),
        };
        Browser {
            rt,
            client: Some(client),
            _driver: driver,
            server,
            _slot: slot,
        }
    }

    /// The WebDriver client, for steps the helpers below do not cover (use
    /// it inside [`Browser::run`]).
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Runs one step, failing the test with `what` when it errs or takes
    /// longer than [`STEP`].
    pub fn run<T, E: std::fmt::Display>(&self, what: &str, step: impl Future<Output = Result<T, E>>) -> T {
        match self.rt.block_on(async { tokio::time::timeout(STEP, step).await }) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(_) => panic!("{what}: took longer than {STEP:?}"),
        }
    }

    /// Opens `path` of the service and waits until the page says it is
    /// ready (`<body data-ready="true">`, set once its first data is shown).
    pub fn open_page(&self, path: &str) {
        let url = format!("{}{path}", self.server.base);
        self.run(&format!("open {url}"), self.client().goto(&url));
        self.wait_for(&format!("{path} ready"), "body[data-ready='true']");
    }

    /// The first element matching `css`, waiting for it up to [`STEP`].
    pub fn wait_for(&self, what: &str, css: &str) -> Element {
        self.run(
            &format!("wait for {what} (`{css}`)"),
            self.client().wait().at_most(STEP).for_element(Locator::Css(css)),
        )
    }

    /// The first element matching `css`, now.
    pub fn find(&self, css: &str) -> Element {
        self.run(&format!("find `{css}`"), self.client().find(Locator::Css(css)))
    }

    /// Every element matching `css`, now.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.run(&format!("find all `{css}`"), self.client().find_all(Locator::Css(css)))
    }

    /// The visible text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let el = self.find(css);
        self.run(&format!("text of `{css}`"), el.text())
    }

    /// Waits until the text of the first element matching `css` satisfies
    /// `test`; its text then. Fails with the last text seen.
    pub fn wait_text(&self, css: &str, what: &str, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STEP;
        let mut last = String::new();
        loop {
            let found = self.rt.block_on(async {
                let el = self.client().find(Locator::Css(css)).await.ok()?;
                el.text().await.ok()
            });
            if let Some(t) = found {
                if test(&t) {
                    return t;
                }
                last = t;
            }
            assert!(
                Instant::now() < deadline,
                "waited {STEP:?} for `{css}` to show {what}; it shows: {last:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        let el = self.wait_for(css, css);
        self.run(&format!("click `{css}`"), el.click());
    }

    /// Types `text` into the first element matching `css` (after what it holds).
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.wait_for(css, css);
        self.run(&format!("type into `{css}`"), el.send_keys(text));
    }

    /// The text content of every element matching `css`, in page order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let v = self.script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
            vec![css.into()],
        );
        serde_json::from_value(v).expect("a list of texts")
    }

    /// Runs `script` in the page (`return ...;` gives a value).
    pub fn script(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        self.run("run a script in the page", self.client().execute(script, args))
    }

    /// Fails the test when the page scrolls sideways (wider than the
    /// window: what a phone's width must never do).
    pub fn assert_no_sideways_scroll(&self, what: &str) {
        let overflow = self.script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        );
        assert!(
            overflow.as_f64().unwrap_or(1.0) <= 0.0,
            "{what} scrolls sideways by {overflow}px"
        );
    }

    /// Milliseconds from navigation start to the page saying it is ready
    /// (the `commroute-ready` performance mark of `common.js`).
    pub fn ready_ms(&self) -> f64 {
        self.script(
            "const m = performance.getEntriesByName('commroute-ready'); return m.length ? m[m.length - 1].startTime : -1;",
            vec![],
        )
        .as_f64()
        .expect("a number")
    }

    /// Saves a screenshot as `target/screenshots/NAME.png`; its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.run(&format!("screenshot {name}"), self.client().screenshot());
        let dir = screenshots();
        std::fs::create_dir_all(&dir).expect("the screenshots folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

/// `target/screenshots/`.
pub fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp is in target/")
        .join("screenshots")
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Closing politely ends Chromium; the driver is killed after either way.
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        }
    }
}
