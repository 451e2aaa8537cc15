//! Web sessions: a random 256-bit id in a cookie, and on the server what it stands for — the
//! user's SDK client holding their API tokens (which never reach the browser), a login waiting
//! for its second factor, and things shown once.
//!
//! The store is a trait so that sessions can outlive the process later; [`MemorySessions`]
//! keeps them in memory, bounded in number and idle time.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rand::RngCore;

/// A session ends after this long without a request (the spec's idle limit).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// A session ends this long after it started, whatever its use.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// A password waits this long for its second factor before the login starts over.
pub const PENDING_LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Most sessions held in memory: a visitor costs a few hundred bytes, so this bounds the
/// process to tens of megabytes whatever a crawler does.
pub const MAX_SESSIONS: usize = 100_000;

/// A session id: 32 random bytes, written as 64 hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId([u8; 32]);

impl SessionId {
    /// A fresh random id.
    pub fn random() -> SessionId {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        SessionId(bytes)
    }

    /// The id in a cookie's value; `None` unless exactly 64 lower-case hex digits.
    pub fn parse(text: &str) -> Option<SessionId> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
            let hex = |b: u8| match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            };
            bytes[i] = hex(pair[0])? << 4 | hex(pair[1])?;
        }
        Some(SessionId(bytes))
    }

    /// The bytes the CSRF token is derived from.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The cookie's value.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Never printed: the id is a bearer credential.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(…)")
    }
}

/// A password that passed, waiting for the account's second factor. Kept on the server so that
/// the second form never carries the password.
pub struct PendingLogin {
    /// The username or e-mail address typed.
    pub login: String,
    /// The password typed.
    pub password: String,
    /// Where to go once logged in.
    pub next: String,
    started: Instant,
}

impl PendingLogin {
    /// A login waiting from now.
    pub fn new(login: String, password: String, next: String) -> PendingLogin {
        PendingLogin {
            login,
            password,
            next,
            started: Instant::now(),
        }
    }

    /// Whether it may still be finished.
    pub fn is_fresh(&self) -> bool {
        self.started.elapsed() < PENDING_LOGIN_TIMEOUT
    }
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// An API key just made, to show once: its `Debug` hides the key.
pub struct NewKey {
    /// Its label.
    pub name: String,
    /// The key itself.
    pub key: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What changes in a session between requests.
#[derive(Debug, Default)]
pub struct SessionData {
    /// The signed-in user's name.
    pub username: Option<String>,
    /// Whether the signed-in user may moderate.
    pub role: Option<pupero_sdk::Role>,
    /// A login waiting for its second factor.
    pub pending_login: Option<PendingLogin>,
    /// Recovery codes to show once, right after 2FA was turned on.
    pub recovery_codes: Option<Vec<String>>,
    /// An API key to show once, right after it was made.
    pub new_api_key: Option<NewKey>,
    /// A message for the next page (key of a message).
    pub flash: Option<&'static str>,
}

/// One browser's session.
pub struct WebSession {
    /// The user's SDK client: their tokens, refreshed as they expire; the process's shared
    /// connection pool.
    pub client: pupero_sdk::Client,
    data: Mutex<SessionData>,
    started: Instant,
    last_seen: Mutex<Instant>,
}

impl fmt::Debug for WebSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSession").finish_non_exhaustive()
    }
}

impl WebSession {
    /// A session acting through `client`.
    pub fn new(client: pupero_sdk::Client) -> WebSession {
        WebSession {
            client,
            data: Mutex::default(),
            started: Instant::now(),
            last_seen: Mutex::new(Instant::now()),
        }
    }

    /// Its changing part.
    pub fn data(&self) -> MutexGuard<'_, SessionData> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a user is signed in.
    pub fn is_signed_in(&self) -> bool {
        self.data().username.is_some() && self.client.is_logged_in()
    }

    /// Whether the session has ended by time.
    pub fn is_expired(&self) -> bool {
        let last_seen = *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        last_seen.elapsed() >= IDLE_TIMEOUT || self.started.elapsed() >= ABSOLUTE_TIMEOUT
    }

    /// Notes a request.
    pub fn touch(&self) {
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

/// Where sessions are kept.
pub trait SessionStore: Send + Sync + 'static {
    /// The live session with this id.
    fn get(&self, id: &SessionId) -> Option<Arc<WebSession>>;
    /// Keeps a session under `id`.
    fn insert(&self, id: SessionId, session: Arc<WebSession>);
    /// Ends a session.
    fn remove(&self, id: &SessionId);
}

/// Sessions in this process's memory: lost on restart (users sign in again).
#[derive(Default)]
pub struct MemorySessions {
    sessions: Mutex<HashMap<SessionId, Arc<WebSession>>>,
}

impl MemorySessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, Arc<WebSession>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sessions held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionStore for MemorySessions {
    fn get(&self, id: &SessionId) -> Option<Arc<WebSession>> {
        let mut sessions = self.lock();
        let session = sessions.get(id)?.clone();
        if session.is_expired() {
            sessions.remove(id);
            return None;
        }
        Some(session)
    }

    fn insert(&self, id: SessionId, session: Arc<WebSession>) {
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| !s.is_expired());
        }
        if sessions.len() >= MAX_SESSIONS {
            // Still full of live sessions: a visitor who never signed in goes first.
            let victim = sessions
                .iter()
                .find(|(_, s)| !s.is_signed_in())
                .or_else(|| sessions.iter().next())
                .map(|(id, _)| id.clone());
            if let Some(victim) = victim {
                sessions.remove(&victim);
            }
        }
        sessions.insert(id, session);
    }

    fn remove(&self, id: &SessionId) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_hex() {
        let id = SessionId::random();
        assert_eq!(SessionId::parse(&id.to_hex()), Some(id.clone()));
        assert_ne!(SessionId::random(), id);
        assert_eq!(SessionId::parse("00"), None);
        assert_eq!(SessionId::parse(&"G".repeat(64)), None);
        assert_eq!(SessionId::parse(&id.to_hex().to_uppercase()), None);
        assert_eq!(format!("{id:?}"), "SessionId(…)");
    }

    #[test]
    fn a_removed_session_is_gone() {
        let store = MemorySessions::default();
        let client = pupero_sdk::Client::new("http://127.0.0.1:9").unwrap();
        let id = SessionId::random();
        store.insert(id.clone(), Arc::new(WebSession::new(client)));
        assert!(store.get(&id).is_some());
        store.remove(&id);
        assert!(store.get(&id).is_none());
        assert!(store.is_empty());
    }
}
