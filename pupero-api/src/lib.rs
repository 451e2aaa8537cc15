//! The wire types of Pupero's HTTP API: what the server sends and accepts, and what the Rust
//! SDK decodes. Both use these, so they cannot drift apart.
//!
//! serde is always on. The `openapi` feature adds the poem-openapi derives the server uses to
//! publish its OpenAPI document; a client leaves it off and does not pull the server framework.
//!
//! Closed sets are enums here, with the same snake_case names on the wire and in the document;
//! a new value is a new version of the API.

mod enums;
mod error;

pub use enums::*;
pub use error::{ErrorBody, ErrorCode};
