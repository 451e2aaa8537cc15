//! The wire types of Pupero's HTTP API: what the server sends and accepts, and what the Rust
//! SDK decodes. Both use these, so they cannot drift apart.
//!
//! serde is always on. The `openapi` feature adds the poem-openapi derives the server uses to
//! publish its OpenAPI document; a client leaves it off and does not pull the server framework.
//!
//! Requests and responses are grouped by resource, as the server's `api` modules are, and all
//! re-exported at the crate root (their names are unique: they are the document's schemas).
//!
//! Closed sets are enums here, with the same snake_case names on the wire and in the document;
//! a new value is a new version of the API.

#![deny(missing_docs)]

mod enums;
mod error;
mod text;

pub mod account;
pub mod admin;
pub mod admin_wallet;
pub mod api_keys;
pub mod auth;
pub mod chat;
pub mod events;
pub mod health;
pub mod matrix;
pub mod offers;
pub mod prices;
pub mod profile;
pub mod totp;
pub mod trades;
pub mod wallet;

pub use account::*;
pub use admin::*;
pub use admin_wallet::*;
pub use api_keys::*;
pub use auth::*;
pub use chat::*;
pub use enums::*;
pub use error::{ErrorBody, ErrorCode};
pub use events::*;
pub use health::*;
pub use matrix::*;
pub use offers::*;
pub use prices::*;
pub use profile::*;
pub use text::Text;
pub use totp::*;
pub use trades::*;
pub use wallet::*;
