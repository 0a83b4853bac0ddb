//! The inbox page (`/inbox`) in Chromium: it updates live while a replay in
//! another process writes to the store, keeps the open conversation open,
//! shows a hostile message text as text, toggles the store's screen (10)
//! and the full list, opens a conversation from the keyboard, says when its
//! event stream is gone, and fits a phone. It measures how long a replayed
//! event takes from its commit to the page.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::support::{Browser, STEP};
use crate::serve::playground_inbox::{simulate, timeline, with_db, with_db_and_token};
use crate::support::process::{wait_within, Lines, DEADLINE};

/// The store-screen timeline (12 clients writing to Downtown, then staff
/// answering) cut after its first `events` events, its checks left out.
fn first_events(dir: &Path, events: usize) -> PathBuf {
    let text = std::fs::read_to_string(timeline("store-screen-shows-10-of-12.yaml")).unwrap();
    let (head, rest) = text.split_once("events:\n").expect("the timeline has events");
    let lines: Vec<&str> = rest.lines().take_while(|l| l.starts_with("  - {id:")).collect();
    assert!(events <= lines.len(), "the timeline has {} events", lines.len());
    let path = dir.join(format!("first-{events}.yaml"));
    std::fs::write(&path, format!("{head}events:\n{}\n", lines[..events].join("\n"))).unwrap();
    path
}

/// The store-screen timeline's world, with `events` (YAML lines) instead of its own.
fn with_events(dir: &Path, name: &str, events: &[&str]) -> PathBuf {
    let text = std::fs::read_to_string(timeline("store-screen-shows-10-of-12.yaml")).unwrap();
    let (head, _) = text.split_once("events:\n").unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("{head}events:\n{}\n", events.join("\n"))).unwrap();
    path
}

/// Milliseconds since the epoch, as the page's `performance.timeOrigin + performance.now()`.
fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// Replays `timeline` into `db` in another process; when the row of event
/// `id` came out (simulate prints each batch's rows right after its commit),
/// in epoch milliseconds.
fn replay_until_committed(timeline: &Path, db: &Path, id: &str) -> f64 {
    let mut run = Lines::spawn_stdout(
        Command::new(env!("CARGO_BIN_EXE_commroute"))
            .arg("simulate")
            .arg(timeline)
            .arg("--db")
            .arg(db)
            .args(["--batch", "1"]),
    );
    let mut committed = None;
    while let Some(line) = run.next_within(DEADLINE) {
        if committed.is_none() && line.split_whitespace().nth(1) == Some(id) {
            committed = Some(now_ms());
        }
    }
    let status = wait_within(&mut run.child, DEADLINE, "commroute simulate");
    assert!(status.success(), "simulate {} failed", timeline.display());
    committed.unwrap_or_else(|| panic!("simulate printed no row for {id}"))
}

/// Starts watching the page for `text` in `css`: `window.__seen[text]`
/// becomes the epoch milliseconds at which it appeared.
fn watch_for(b: &Browser, css: &str, text: &str) {
    b.script(
        "const [css, text] = arguments;
         window.__seen = window.__seen || {};
         const el = document.querySelector(css);
         const look = () => {
           if (!(text in window.__seen) && el.textContent.includes(text)) {
             window.__seen[text] = performance.timeOrigin + performance.now();
           }
         };
         new MutationObserver(look).observe(el, { childList: true, subtree: true, characterData: true });
         look();",
        vec![css.into(), text.into()],
    );
}

/// When `text` appeared (epoch milliseconds), waiting up to [`STEP`].
fn seen_at(b: &Browser, text: &str) -> f64 {
    let deadline = Instant::now() + STEP;
    loop {
        let v = b.script(
            "const s = window.__seen || {}; return arguments[0] in s ? s[arguments[0]] : null;",
            vec![text.into()],
        );
        if let Some(ms) = v.as_f64() {
            return ms;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not show {text:?} within {STEP:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn items(b: &Browser) -> Vec<String> {
    b.find_all("#inbox-list button.inbox-item")
        .into_iter()
        .map(|e| b.run("an item's client", e.attr("data-client")).unwrap_or_default())
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

#[test]
fn the_inbox_updates_live_while_a_replay_writes_to_the_store_and_keeps_the_open_conversation() {
    let dir = tempfile::tempdir().unwrap();
    // The store does not exist yet: the page waits for the replay.
    let db = dir.path().join("live.db");
    let b = Browser::open(with_db(&db));
    b.open_page("/inbox");
    eprintln!("inbox: ready {:.0} ms after navigation (empty store)", b.ready_ms());
    b.wait_text("#inbox-list", "that the store is empty", |t| {
        t.contains("The store holds no conversations yet")
    });
    b.wait_text("#inbox-live", "the stream is live", |t| t == "Live");

    // A replay in another process: the first three clients write.
    replay_until_committed(&first_events(dir.path(), 3), &db, "e03");
    b.wait_text("#inbox-summary", "three conversations", |t| {
        t == "3 of 3 conversations at A (the store's screen shows at most 10)"
    });
    assert_eq!(items(&b), ["c03", "c02", "c01"], "most recent first");
    b.click("#inbox-list button[data-client='c01']");
    b.wait_text("#inbox-conv-title", "c01's conversation", |t| {
        t == "Conversation with c01"
    });

    // Each further event, replayed alone: measured from its commit to the page.
    let mut latencies = Vec::new();
    for n in 4..=10 {
        let text = format!("Can I book for Saturday? ({n})");
        watch_for(&b, "#inbox-list", &text);
        let committed = replay_until_committed(&first_events(dir.path(), n), &db, &format!("e{n:02}"));
        let shown = seen_at(&b, &text);
        latencies.push(shown - committed);
        assert_eq!(items(&b)[0], format!("c{n:02}"), "the newest is on top");
    }
    // Staff answer c01, whose conversation is open: it shows the answer,
    // and c01 comes back to the top of the list.
    watch_for(&b, "#inbox-conversation", "Yes, 11am works");
    let text = std::fs::read_to_string(first_events(dir.path(), 12)).unwrap();
    let tl = dir.path().join("answer.yaml");
    std::fs::write(
        &tl,
        format!(
            "{text}  - {{id: e13, at: 2026-03-06T09:20:00Z, type: client_message, client: c03, text: \"Any news?\"}}\n  - {{id: e14, at: 2026-03-06T09:30:00Z, type: staff_message, staff: sam, client: c01, text: \"Yes, 11am works\"}}\n"
        ),
    )
    .unwrap();
    let committed = replay_until_committed(&tl, &db, "e14");
    latencies.push(seen_at(&b, "Yes, 11am works") - committed);
    assert_eq!(b.text("#inbox-conv-title"), "Conversation with c01", "still open");
    b.wait_text("#inbox-summary", "the store's screen of 12", |t| {
        t == "10 of 12 conversations at A (the store's screen shows at most 10)"
    });
    assert_eq!(items(&b)[..3], ["c01", "c03", "c12"]);
    b.screenshot("inbox-live");

    let rounded: Vec<String> = latencies.iter().map(|l| format!("{l:.0}")).collect();
    eprintln!(
        "inbox: a replayed event shows on the page {:.0} ms after its commit (median of {}; each: {} ms; the stream looks every 200 ms)",
        median(latencies.clone()),
        latencies.len(),
        rounded.join(", ")
    );

    // The service goes: the page says so and tries again.
    let pid = b.server.lines.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    b.wait_text("#inbox-live", "that the stream is gone", |t| {
        t.starts_with("Disconnected")
    });
    b.screenshot("inbox-disconnected");
}

#[test]
fn a_message_text_holding_markup_is_shown_as_text_and_injects_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hostile.db");
    let hostile = r#"<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & <b>bold</b>"#;
    let tl = with_events(
        dir.path(),
        "hostile.yaml",
        &[
            &format!(
                "  - {{id: x1, at: 2026-03-06T09:01:00Z, type: client_message, client: c01, text: {}}}",
                serde_json::to_string(hostile).unwrap()
            ),
            "  - {id: x2, at: 2026-03-06T09:02:00Z, type: staff_message, staff: sam, client: c01, text: \"<img src=x onerror=alert(1)>\"}",
        ],
    );
    simulate(&tl, &db);
    let b = Browser::open(with_db(&db));
    b.open_page("/inbox?location=A&client=c01");
    b.wait_text("#inbox-conv-title", "c01's conversation", |t| {
        t == "Conversation with c01"
    });
    let texts: Vec<String> = b
        .find_all("#inbox-conversation .inbox-text")
        .into_iter()
        .map(|e| b.run("a message's text", e.text()))
        .collect();
    assert_eq!(texts, [hostile, "<img src=x onerror=alert(1)>"]);
    // The list's last message too, literally.
    assert!(b.text("#inbox-list").contains("<img src=x onerror=alert(1)>"));
    let injected = b.script(
        "return {
           imgs: document.querySelectorAll('img[src=x]').length,
           bold: document.querySelectorAll('#app b').length,
           scripts: document.querySelectorAll('#app script').length,
           pwned: typeof window.__pwned,
         };",
        vec![],
    );
    assert_eq!(
        injected,
        serde_json::json!({"imgs": 0, "bold": 0, "scripts": 0, "pwned": "undefined"}),
        "markup from a message text became elements"
    );
    b.screenshot("inbox-hostile-text");
}

#[test]
fn the_store_screen_shows_10_the_full_list_12_and_a_conversation_opens_from_the_keyboard() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    simulate(&timeline("store-screen-shows-10-of-12.yaml"), &db);
    let b = Browser::open(with_db(&db));
    // The first load of a fresh browser compiles the modules; the median of
    // five is what a user opening the page sees.
    let ready: Vec<f64> = (0..5)
        .map(|_| {
            b.open_page("/inbox");
            b.ready_ms()
        })
        .collect();
    eprintln!(
        "inbox: ready {:.0} ms after navigation (12 conversations; median of 5: {ready:.0?})",
        median(ready.clone())
    );
    // Every control has a label.
    assert_eq!(b.text("label[for='inbox-location']"), "Location");
    assert_eq!(b.text("label[for='inbox-view-store']"), "Store screen (10 most recent)");
    assert_eq!(b.text("label[for='inbox-view-all']"), "Full list");
    let option = b.text("#inbox-location option");
    assert_eq!(option, "A · Downtown (12 conv. · 12 unread)");

    b.wait_text("#inbox-summary", "the store's screen", |t| {
        t == "10 of 12 conversations at A (the store's screen shows at most 10)"
    });
    assert_eq!(
        items(&b),
        ["c01", "c03", "c12", "c11", "c10", "c09", "c08", "c07", "c06", "c05"]
    );
    // Unread counts: c03 wrote twice.
    assert_eq!(b.text("#inbox-list button[data-client='c03'] .badge"), "2");
    assert!(
        b.find_all("#inbox-list button[data-client='c01'] .badge").is_empty(),
        "c01 was answered"
    );
    b.screenshot("inbox-store-screen");

    b.click("label[for='inbox-view-all']");
    b.wait_text("#inbox-summary", "the full list", |t| t == "12 conversations at A");
    assert_eq!(items(&b).len(), 12);
    assert_eq!(items(&b)[10..], ["c04", "c02"]);

    // The keyboard: Enter on a conversation opens it.
    let c03 = b.find("#inbox-list button[data-client='c03']");
    b.run("press Enter on c03", c03.send_keys("\u{E007}"));
    b.wait_text("#inbox-conv-title", "c03's conversation", |t| {
        t == "Conversation with c03"
    });
    assert_eq!(
        b.text("#inbox-conversation .inbox-facts"),
        "Started by\nthe client, out of the blue\nUnread\nA: 2"
    );
    // The page remembers what is open.
    let url = b.run("the URL", b.client().current_url());
    assert_eq!(url.query(), Some("location=A&view=all&client=c03"));
    b.screenshot("inbox-full-list");
}

#[test]
fn the_inbox_fits_a_phone_and_shows_attempts_notices_and_cues() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("day.db");
    simulate(&timeline("full-day-two-locations.yaml"), &db);
    let b = Browser::open_sized(with_db(&db), 390, 844);
    b.open_page("/inbox?location=B&client=nina");
    b.wait_text("#inbox-conv-title", "nina's conversation", |t| {
        t == "Conversation with nina"
    });
    let notice = b.text("#inbox-conversation .inbox-notice");
    assert!(notice.starts_with("Message failed to deliver"), "{notice}");
    assert!(notice.ends_with("audio cue for rita"), "{notice}");
    b.assert_no_sideways_scroll("the inbox");
    b.screenshot("inbox-phone");
    b.script(
        "document.getElementById('inbox-conversation').scrollIntoView();",
        vec![],
    );
    b.screenshot("inbox-phone-conversation");
    // Paul: the push failed, then SMS went out.
    b.open_page("/inbox?location=A&client=paul");
    b.wait_text("#inbox-conv-title", "paul's conversation", |t| {
        t == "Conversation with paul"
    });
    let attempts: Vec<String> = b
        .find_all("#inbox-conversation .inbox-attempts")
        .into_iter()
        .map(|e| b.run("attempts", e.text()))
        .collect();
    assert!(
        attempts
            .iter()
            .any(|a| a.contains("push failed") && a.contains("sms sent")),
        "{attempts:?}"
    );
    b.script(
        "document.getElementById('inbox-conversation').scrollIntoView();",
        vec![],
    );
    b.screenshot("inbox-phone-attempts");
}

#[test]
fn with_a_token_the_page_asks_for_it_once_and_its_event_stream_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    simulate(&timeline("failed-sms-notice-and-cue.yaml"), &db);
    let b = Browser::open(with_db_and_token(&db));
    b.open_page("/inbox");
    b.type_into("#token-input", "s3cret");
    b.click("#token-form button[type='submit']");
    // After the reload: the conversations, and a live stream (an
    // EventSource could not have sent the token).
    b.wait_text("#inbox-summary", "the conversations", |t| t.contains("conversation"));
    b.wait_text("#inbox-live", "the stream is live", |t| t == "Live");
}
