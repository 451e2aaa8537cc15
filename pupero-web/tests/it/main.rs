//! The site's pages through poem's test client, over a real API in this process: each page
//! renders, the security headers and the CSRF and cross-site checks, the two-stage login, and a
//! whole trade with plain forms (as a browser without JavaScript sends them).

#[path = "../support/mod.rs"]
mod support;

mod account;
mod flow;
mod live;
mod pages;
mod security;
mod wallet;
