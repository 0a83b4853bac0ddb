//! The playground in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, with `fantoccini`), against the real
//! `commroute serve` on an ephemeral port. Every WebDriver step has a
//! deadline; at most two browsers run at once. `.ci/run` installs Debian's
//! `chromium` and `chromium-driver` when they are missing: these tests never
//! skip.
//!
//! Each test saves screenshots under `target/screenshots/`.

// Each page's tests use part of the support.
#![allow(dead_code)]

mod inbox;
mod land;
mod matrix;
mod rules;
mod shell;
pub mod support;
