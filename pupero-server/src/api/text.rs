//! `Text`: a request field that is a JSON string, and nothing else (see [`pupero_api::Text`]).

pub use pupero_api::Text;
