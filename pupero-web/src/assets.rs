//! The stylesheet and the script, served under names carrying a hash of their content so that
//! browsers may keep them for a year (`immutable`) and still never run a stale copy.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// One static file.
pub struct Asset {
    /// Its path with the hash: `/static/app.3f2a1c9b0d.css`.
    pub path: String,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// Hex digits of the content hash in a file's name: enough that two versions never collide.
const HASH_HEX_DIGITS: usize = 10;

fn asset(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
    let digest = Sha256::digest(body);
    let hash: String = digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(HASH_HEX_DIGITS)
        .collect();
    Asset {
        path: format!("/static/{stem}.{hash}.{extension}"),
        content_type,
        body,
    }
}

/// `app.css`.
pub static APP_CSS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    )
});

/// `app.js`, an ES module.
pub static APP_JS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/app.js"),
    )
});

/// The asset served at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    [&*APP_CSS, &*APP_JS].into_iter().find(|a| a.path == path)
}
