//! Market pages served as bytes serialized once: while the order book under a page has not
//! changed, every request for it gets the same bytes.
//!
//! [`JsonBytes`] is a JSON response serialized by serde instead of through poem-openapi's
//! value tree, documented with its type's schema as `Json<T>` is: the document does not change.
//! The two serializations agree (a test compares them on every field of a page).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use pupero_core::Timestamp;
use pupero_core::offer::OfferQuery;
use pupero_market::offers::BookStamp;

/// Pages kept at once; past this many the cache starts over (a market has few popular queries;
/// an attacker asking many distinct ones only makes each of them a miss).
pub const MAX_CACHED_PAGES: usize = 4_096;

const JSON: &str = "application/json; charset=utf-8";

/// A JSON response of type `T`, already serialized.
pub struct JsonBytes<T> {
    bytes: Bytes,
    kind: PhantomData<fn() -> T>,
}

impl<T: serde::Serialize> JsonBytes<T> {
    /// `value`, serialized.
    pub fn new(value: &T) -> JsonBytes<T> {
        let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        JsonBytes {
            bytes: Bytes::from(bytes),
            kind: PhantomData,
        }
    }
}

impl<T> Clone for JsonBytes<T> {
    fn clone(&self) -> JsonBytes<T> {
        JsonBytes {
            bytes: self.bytes.clone(),
            kind: PhantomData,
        }
    }
}

impl<T: Type> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = JSON;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> Response {
        Response::builder().content_type(JSON).body(self.bytes)
    }
}

impl<T: ToJSON> ApiResponse for JsonBytes<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Serialized market pages by query, each with the book state it was made from.
#[derive(Debug)]
pub struct PageCache<T> {
    pages: Mutex<HashMap<OfferQuery, (BookStamp, Bytes)>>,
    kind: PhantomData<fn() -> T>,
}

impl<T> Default for PageCache<T> {
    fn default() -> PageCache<T> {
        PageCache {
            pages: Mutex::default(),
            kind: PhantomData,
        }
    }
}

impl<T> PageCache<T> {
    /// The page of `query` made from the book at `version`, if it is still the page at `now`.
    pub fn get(&self, query: &OfferQuery, version: u64, now: Timestamp) -> Option<JsonBytes<T>> {
        let pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        let (stamp, bytes) = pages.get(query)?;
        (stamp.version == version && stamp.fresh_until.is_none_or(|until| now <= until)).then(
            || JsonBytes {
                bytes: bytes.clone(),
                kind: PhantomData,
            },
        )
    }

    /// Keeps `page`, made from the book at `stamp`, for `query`.
    pub fn put(&self, query: OfferQuery, stamp: BookStamp, page: &JsonBytes<T>) {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        if pages.len() >= MAX_CACHED_PAGES && !pages.contains_key(&query) {
            pages.clear();
        }
        pages.insert(query, (stamp, page.bytes.clone()));
    }
}
