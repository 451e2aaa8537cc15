//! The site in a real browser: Debian's Chromium driven through chromedriver (WebDriver), over
//! the API and the site served in this process. A whole trade between two browsers (a seller
//! and a buyer, each with its own profile), once with JavaScript and once without; a trade
//! that expires; a dispute a moderator resolves; a withdrawal through its review and 2FA to its
//! txid; a password reset by mail; a cross-site form refused; signed-in pages not stored.
//! Screenshots of the pages visited, at phone and desktop widths, go to
//! `$CARGO_TARGET_DIR/web-screenshots/`.
//!
//! Without Chromium the tests say so and pass, unless `CI` or `PUPERO_REQUIRE_SERVICES` is set:
//! then a missing browser fails them.

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod dispute;
mod expiry;
mod keyboard;
mod kit;
mod reset;
mod security;
mod tour;
mod trade;
mod withdrawal;
