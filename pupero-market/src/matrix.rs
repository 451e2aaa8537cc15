//! The Matrix bridge (optional): each trade's chat also lives in a Matrix room, for people who
//! prefer Element or any other Matrix client. Pupero's own chat stays the record.
//!
//! Pupero is an *application service* of the homeserver: it registers the users of its
//! namespace (one per Pupero user who writes, and the bridge's own) with its `as_token` and acts
//! as them by identity assertion, so no Matrix password exists anywhere.
//!
//! - **Linking.** A user names their Matrix account ([`Market::start_matrix_link`]) and is
//!   shown a code; the bridge invites that account to a room of its own and the account sends
//!   the code there. Only then is the account linked: both sides said so. Only linked accounts
//!   are invited to trade rooms, and only their messages are taken in.
//! - **Pupero → Matrix.** Every chat message and trade step writes a row of `matrix_outbox` in
//!   the same transaction ([`NewMatrixJob`]); [`run_matrix_bridge`] sends the rows in order.
//!   A row's id is the Matrix transaction id of what it sends, so a retry after a crash or a
//!   timeout gives the homeserver the same transaction, which it does not apply twice.
//! - **Rooms.** One per trade, alias `#<room prefix><trade id>`, invite-only, made by the
//!   bridge's user when the trade's first row goes out and one of its parties is linked; the
//!   parties' linked accounts are invited; a dispute invites every linked moderator with
//!   moderator power; when the chat closes, the room becomes read-only. Rooms are **not
//!   encrypted**, by design: moderators must be able to read a disputed trade's conversation.
//! - **Matrix → Pupero.** The homeserver pushes transactions to `PUT
//!   /_matrix/app/v1/transactions/{txnId}` (authenticated by `hs_token`); a text message of a
//!   linked account in its trade's room becomes a chat message under exactly the API's rules
//!   ([`Market::post_message`]: rate limit, length and characters, who may write, the chat
//!   window). Everything else is ignored, and each event is taken in once.
//!
//! With the bridge off nothing is written to the outbox and nothing contacts Matrix.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pupero_core::limits::CHAT_GRACE_SECS;
use pupero_core::{Caller, Timestamp, TradeId, TradeState, UserId};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Market;
use crate::error::{Error, ErrorKind};
use crate::settings::MatrixSettings;
use crate::store::{MatrixJob, MatrixLinkRow, NewMatrixJob, StoreError};

/// How long one call to the homeserver may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Delay before the second attempt at a row, doubled after each further failure, up to
/// [`RETRY_MAX_DELAY_SECS`]. Longer than a call may take, so a claimed row is not due again
/// while its attempt runs.
const RETRY_FIRST_DELAY_SECS: u64 = 20;

const _: () = assert!(RETRY_FIRST_DELAY_SECS > CALL_TIMEOUT.as_secs());

/// The longest delay between two attempts at a row.
const RETRY_MAX_DELAY_SECS: u64 = 10 * 60;

/// Attempts at one row before it is given up (about an hour of a homeserver down); the rows
/// after it wait meanwhile, since a room's messages go in order.
const MAX_ATTEMPTS: u32 = 10;

/// Rows one pass sends at most before it looks at its wake-ups again.
const MAX_JOBS_PER_PASS: u32 = 100;

/// How often the bridge looks at the outbox without being woken (rows of other processes,
/// retries) and for chats that closed.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Rooms closed in one pass at most.
const MAX_CLOSED_PER_PASS: u32 = 100;

/// How long a link's code may be sent back.
pub const LINK_TTL_SECS: u64 = 15 * 60;

/// Wrong codes a pending link takes before it is dropped (and must be asked for again).
pub const MAX_LINK_ATTEMPTS: u32 = 5;

/// Characters of a link's code: no 0/O or 1/I/L to misread.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Characters in a link's code: 31^8 ≈ 2^39 codes against [`MAX_LINK_ATTEMPTS`] guesses.
const CODE_LEN: usize = 8;

/// The longest Matrix user id (the specification's bound).
const MAX_MATRIX_ID_LEN: usize = 255;

/// Power of the moderators invited to a disputed trade's room (Matrix's "moderator").
const MODERATOR_POWER: u32 = 50;

/// Power needed to post once a room is closed: only the bridge's user has it.
const CLOSED_POWER: u32 = 100;

/// What the rooms and the link answer say of encryption.
pub const UNENCRYPTED_NOTE: &str = "This room is not end-to-end encrypted: Pupero's moderators can read it if the trade is disputed.";

/// A Matrix user id, checked: `@localpart:server`, with the localpart in the characters the
/// specification allows for new users.
pub fn parse_matrix_user_id(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if s.len() > MAX_MATRIX_ID_LEN {
        return Err("a Matrix user id is at most 255 characters");
    }
    let Some((local, server)) = s.strip_prefix('@').and_then(|rest| rest.split_once(':')) else {
        return Err("a Matrix user id looks like @name:server.org");
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-/+".contains(&b));
    let server_ok = !server.is_empty()
        && server
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !local_ok || !server_ok {
        return Err("a Matrix user id looks like @name:server.org (lowercase name)");
    }
    Ok(s.to_owned())
}

/// A new link code.
fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// The stored form of a code as a person types it back (spaces and case do not matter).
fn code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    Sha256::digest(normal.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Delay after `attempts` attempts.
fn retry_delay_secs(attempts: u32) -> u64 {
    crate::jobs::backoff_secs(RETRY_FIRST_DELAY_SECS, RETRY_MAX_DELAY_SECS, attempts)
}

/// What a trade's step says in its room.
fn step_notice(state: TradeState) -> &'static str {
    match state {
        TradeState::Escrowed => "The trade is open: the seller's XMR is held in escrow.",
        TradeState::Paid => "The buyer marked the payment as sent.",
        TradeState::Released => "The seller confirmed the payment and released the XMR.",
        TradeState::Cancelled => "The trade was cancelled; the XMR went back to the seller.",
        TradeState::Expired => "The trade expired; the XMR went back to the seller.",
        TradeState::Disputed => "A dispute was opened: a moderator will read this conversation.",
        TradeState::Resolved => "A moderator resolved the dispute.",
    }
}

/// The row a trade's step queues, when the bridge is on.
pub fn step_job(trade: TradeId, state: TradeState) -> NewMatrixJob {
    NewMatrixJob {
        id: Uuid::now_v7(),
        job: if state == TradeState::Disputed {
            MatrixJob::Dispute
        } else {
            MatrixJob::Notice
        },
        trade: Some(trade),
        user: None,
        body: Some(step_notice(state).to_owned()),
    }
}

/// A homeserver's refusal or failure.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {status} {errcode}")]
pub struct MatrixError {
    what: &'static str,
    /// The HTTP status, 0 when none came.
    status: u16,
    /// The Matrix error code (`M_FORBIDDEN`), or what went wrong.
    errcode: String,
}

impl MatrixError {
    /// A refusal that trying again will not change (a 4xx other than rate limiting).
    fn permanent(&self) -> bool {
        (400..500).contains(&self.status) && self.status != 429 && self.status != 408
    }
}

/// The homeserver's client-server API, as the application service.
pub struct MatrixClient {
    http: reqwest::Client,
    settings: MatrixSettings,
}

impl MatrixClient {
    fn new(settings: MatrixSettings) -> Result<MatrixClient, String> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(MatrixClient { http, settings })
    }

    /// The bridge's own user.
    pub fn bot(&self) -> String {
        self.user_id(&self.settings.sender_localpart)
    }

    fn user_id(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.settings.server_name)
    }

    /// The Matrix user that speaks for Pupero user `user`.
    fn puppet(&self, user: UserId) -> String {
        self.user_id(&self.puppet_localpart(user))
    }

    fn puppet_localpart(&self, user: UserId) -> String {
        format!("{}{}", self.settings.user_prefix, user.as_uuid().simple())
    }

    /// The alias of trade `trade`'s room.
    pub fn alias(&self, trade: TradeId) -> String {
        format!(
            "#{}{}:{}",
            self.settings.room_prefix,
            trade.as_uuid().simple(),
            self.settings.server_name
        )
    }

    /// Whether `user_id` is one of the bridge's own users (never taken in).
    pub fn is_ours(&self, user_id: &str) -> bool {
        user_id == self.bot()
            || user_id
                .strip_prefix('@')
                .is_some_and(|rest| rest.starts_with(&self.settings.user_prefix))
    }

    /// Whether `token` is the homeserver's (`hs_token`), compared in constant time.
    pub fn is_homeserver(&self, token: &str) -> bool {
        let expected = self.settings.hs_token.expose().as_bytes();
        token.len() == expected.len()
            && token
                .bytes()
                .zip(expected)
                .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    async fn call(
        &self,
        what: &'static str,
        method: reqwest::Method,
        path: &[&str],
        as_user: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, MatrixError> {
        let failed = |status: u16, errcode: String| MatrixError {
            what,
            status,
            errcode,
        };
        let mut url = reqwest::Url::parse(&self.settings.homeserver_url)
            .map_err(|e| failed(0, e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| failed(0, "the homeserver URL cannot take a path".to_owned()))?
            .pop_if_empty()
            .extend(["_matrix", "client", "v3"])
            .extend(path);
        if let Some(user) = as_user {
            url.query_pairs_mut().append_pair("user_id", user);
        }
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.settings.as_token.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            failed(
                0,
                if e.is_timeout() {
                    "timeout"
                } else {
                    "unreachable"
                }
                .to_owned(),
            )
        })?;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            let errcode = value["errcode"].as_str().unwrap_or("no errcode").to_owned();
            Err(failed(status, errcode))
        }
    }

    /// Registers `localpart` in the namespace (nothing when it exists).
    async fn register(&self, localpart: &str) -> Result<(), MatrixError> {
        let body = json!({"type": "m.login.application_service", "username": localpart});
        match self
            .call(
                "register",
                reqwest::Method::POST,
                &["register"],
                None,
                Some(&body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.errcode == "M_USER_IN_USE" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Invites `user` to `room`, or nothing when they are invited or joined already.
    async fn invite(&self, room: &str, user: &str) -> Result<(), MatrixError> {
        let body = json!({"user_id": user});
        let bot = self.bot();
        match self
            .call(
                "invite",
                reqwest::Method::POST,
                &["rooms", room, "invite"],
                Some(&bot),
                Some(&body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == 403 => {
                let state = self
                    .call(
                        "membership",
                        reqwest::Method::GET,
                        &["rooms", room, "state", "m.room.member", user],
                        Some(&bot),
                        None,
                    )
                    .await;
                match state {
                    Ok(m) if matches!(m["membership"].as_str(), Some("invite" | "join")) => Ok(()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn join(&self, room: &str, user: &str) -> Result<(), MatrixError> {
        self.call(
            "join",
            reqwest::Method::POST,
            &["rooms", room, "join"],
            Some(user),
            Some(&json!({})),
        )
        .await
        .map(drop)
    }

    /// Sends `content` to `room` as `user` in transaction `txn`: sent again, the same
    /// transaction is the same event.
    async fn send(
        &self,
        room: &str,
        user: &str,
        txn: Uuid,
        content: &Value,
    ) -> Result<(), MatrixError> {
        let txn = txn.to_string();
        self.call(
            "send",
            reqwest::Method::PUT,
            &["rooms", room, "send", "m.room.message", &txn],
            Some(user),
            Some(content),
        )
        .await
        .map(drop)
    }

    async fn resolve_alias(&self, alias: &str) -> Result<Option<String>, MatrixError> {
        match self
            .call(
                "alias",
                reqwest::Method::GET,
                &["directory", "room", alias],
                None,
                None,
            )
            .await
        {
            Ok(v) => Ok(v["room_id"].as_str().map(str::to_owned)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Changes the power levels of `room` with `change`.
    async fn change_power(
        &self,
        room: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<(), MatrixError> {
        let bot = self.bot();
        let path = ["rooms", room, "state", "m.room.power_levels", ""];
        let mut levels = self
            .call(
                "power levels",
                reqwest::Method::GET,
                &path,
                Some(&bot),
                None,
            )
            .await?;
        change(&mut levels);
        self.call(
            "power levels",
            reqwest::Method::PUT,
            &path,
            Some(&bot),
            Some(&levels),
        )
        .await
        .map(drop)
    }
}

/// The bridge of one process: its client, and what it knows it did already.
pub struct Bridge {
    /// The homeserver.
    pub client: MatrixClient,
    /// Wakes the sender (a row was queued).
    pub wake: tokio::sync::Notify,
    /// Users registered, and puppets joined to rooms, by this process (saves calls only: each
    /// call is harmless twice).
    done: std::sync::Mutex<HashSet<String>>,
}

impl Bridge {
    /// The bridge for `settings`.
    pub fn new(settings: MatrixSettings) -> Result<Bridge, String> {
        Ok(Bridge {
            client: MatrixClient::new(settings)?,
            wake: tokio::sync::Notify::new(),
            done: std::sync::Mutex::default(),
        })
    }

    fn done(&self, key: &str) -> bool {
        self.done.lock().is_ok_and(|d| d.contains(key))
    }

    fn mark(&self, key: String) {
        if let Ok(mut d) = self.done.lock() {
            d.insert(key);
        }
    }
}

/// What one pass of the sender did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeOutcome {
    /// Nothing was due.
    Idle,
    /// A row went out.
    Sent,
    /// A row was skipped (its room has no linked party) or given up.
    Dropped,
    /// A row failed and waits for its retry.
    Retrying,
}

/// A link as its user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixLinkView {
    /// The Matrix account.
    pub matrix_user_id: String,
    /// Whether it is confirmed.
    pub linked: bool,
    /// Until when the code may be sent, while pending.
    pub expires_at: Option<Timestamp>,
    /// The bridge's user, who invites the account.
    pub bridge_user: String,
}

fn bridge_off() -> Error {
    Error::not_found("the Matrix bridge is not enabled on this server")
}

impl Market {
    fn bridge(&self) -> Result<&Bridge, Error> {
        self.matrix.as_ref().ok_or_else(bridge_off)
    }

    /// Starts linking `user`'s Matrix account `matrix_user_id` (replacing any link they had):
    /// returns the code the account must send in the room the bridge invites it to, within
    /// [`LINK_TTL_SECS`].
    pub async fn start_matrix_link(
        &self,
        user: UserId,
        matrix_user_id: &str,
    ) -> Result<(String, MatrixLinkView), Error> {
        let bridge = self.bridge()?;
        self.limits.check_matrix_link(user)?;
        let account = parse_matrix_user_id(matrix_user_id).map_err(Error::validation)?;
        if bridge.client.is_ours(&account) {
            return Err(Error::validation("that Matrix user is one of Pupero's own"));
        }
        let code = new_code();
        let now = self.now();
        let expires_at = now.plus_secs(LINK_TTL_SECS);
        let username = self.username(user).await?;
        let job = NewMatrixJob {
            id: Uuid::now_v7(),
            job: MatrixJob::Link,
            trade: None,
            user: Some(user),
            body: Some(format!(
                "Pupero user {username} asked to link this Matrix account. If that was you, send \
                 here the code Pupero showed you; if not, ignore this room. Once linked, you are \
                 invited to the rooms of your trades. {UNENCRYPTED_NOTE}"
            )),
        };
        self.store
            .start_matrix_link(user, &account, &code_hash(&code), expires_at, &job, now)
            .await?;
        bridge.wake.notify_one();
        Ok((
            code,
            MatrixLinkView {
                matrix_user_id: account,
                linked: false,
                expires_at: Some(expires_at),
                bridge_user: bridge.client.bot(),
            },
        ))
    }

    /// `user`'s link, if any (a lapsed pending one is none).
    pub async fn matrix_link(&self, user: UserId) -> Result<Option<MatrixLinkView>, Error> {
        let bridge = self.bridge()?;
        let now = self.now();
        Ok(self
            .store
            .matrix_link(user)
            .await?
            .filter(|l| l.linked_at.is_some() || l.expires_at > now)
            .map(|l| MatrixLinkView {
                linked: l.linked_at.is_some(),
                expires_at: l.linked_at.is_none().then_some(l.expires_at),
                matrix_user_id: l.matrix_user_id,
                bridge_user: bridge.client.bot(),
            }))
    }

    /// Ends `user`'s link: their account is invited to no new room, and nothing it sends is
    /// taken in any more.
    pub async fn unlink_matrix(&self, user: UserId) -> Result<(), Error> {
        self.bridge()?;
        if self.store.delete_matrix_link(user).await? {
            Ok(())
        } else {
            Err(Error::not_found("no Matrix account is linked"))
        }
    }

    /// Takes in the events of one transaction the homeserver pushed.
    pub async fn matrix_transaction(&self, events: &[Value]) -> Result<(), Error> {
        let bridge = self.bridge()?;
        for event in events {
            let (Some(event_id), Some(sender), Some(room)) = (
                event["event_id"].as_str(),
                event["sender"].as_str(),
                event["room_id"].as_str(),
            ) else {
                continue;
            };
            if event["type"] != "m.room.message"
                || event["content"]["msgtype"] != "m.text"
                || bridge.client.is_ours(sender)
            {
                continue;
            }
            let Some(body) = event["content"]["body"].as_str() else {
                continue;
            };
            if let Some(link) = self.store.pending_matrix_link_in_room(room).await? {
                self.answer_link(bridge, &link, sender, body, event_id)
                    .await?;
                continue;
            }
            let Some(trade) = self.store.trade_of_matrix_room(room).await? else {
                continue;
            };
            let Some(user) = self.store.user_linked_to(sender).await? else {
                tracing::debug!(room, sender, "message of an unlinked account ignored");
                continue;
            };
            let Some(row) = self.store.user_by_id(user).await? else {
                continue;
            };
            if row.disabled {
                continue;
            }
            let caller = Caller::session(user, row.role);
            match self
                .post_matrix_message(trade, &caller, body, event_id)
                .await
            {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Internal || e.kind() == ErrorKind::Unavailable => {
                    return Err(e);
                }
                Err(e) => {
                    tracing::info!(room, sender, reason = %e, "message from Matrix not taken in");
                }
            }
        }
        Ok(())
    }

    /// A message in a link's room: the code, from the account being linked, confirms it.
    async fn answer_link(
        &self,
        bridge: &Bridge,
        link: &MatrixLinkRow,
        sender: &str,
        body: &str,
        event_id: &str,
    ) -> Result<(), Error> {
        let now = self.now();
        if sender != link.matrix_user_id || link.expires_at <= now {
            return Ok(());
        }
        if link.code_hash.as_deref() != Some(code_hash(body).as_str()) {
            if self.store.count_matrix_link_attempt(link.user).await? >= MAX_LINK_ATTEMPTS {
                self.store.delete_matrix_link(link.user).await?;
            }
            return Ok(());
        }
        let answer = NewMatrixJob {
            id: Uuid::now_v7(),
            job: MatrixJob::Notice,
            trade: None,
            user: Some(link.user),
            body: Some("Linked: you will be invited to the rooms of your new trades.".to_owned()),
        };
        if self
            .store
            .confirm_matrix_link(link, event_id, &answer, now)
            .await?
        {
            tracing::info!(user_id = %link.user, account = %link.matrix_user_id, "Matrix account linked");
            bridge.wake.notify_one();
        }
        Ok(())
    }

    /// One step of the sender: sends the oldest row of the outbox, if it is due.
    pub async fn deliver_next_matrix_job(&self) -> Result<BridgeOutcome, Error> {
        let bridge = self.bridge()?;
        let now = self.now();
        let Some(due) = self.store.due_matrix_job(now).await? else {
            return Ok(BridgeOutcome::Idle);
        };
        let retry_at = now.plus_secs(retry_delay_secs(due.attempts.saturating_add(1)));
        if !self
            .store
            .claim_matrix_job(due.id, due.attempts, retry_at)
            .await?
        {
            return Ok(BridgeOutcome::Retrying);
        }
        let result = self.send_job(bridge, &due).await;
        match result {
            Ok(sent) => {
                self.failpoint("matrix.after_send").await;
                self.store
                    .finish_matrix_job(due.id, true, self.now())
                    .await?;
                Ok(if sent {
                    BridgeOutcome::Sent
                } else {
                    BridgeOutcome::Dropped
                })
            }
            Err(e) if e.permanent() || due.attempts.saturating_add(1) >= MAX_ATTEMPTS => {
                tracing::warn!(job = %due.id, kind = due.job.as_str(), error = %e, "Matrix bridge gave up a row");
                self.store
                    .finish_matrix_job(due.id, false, self.now())
                    .await?;
                Ok(BridgeOutcome::Dropped)
            }
            Err(e) => {
                tracing::warn!(job = %due.id, kind = due.job.as_str(), error = %e, "Matrix bridge will retry");
                Ok(BridgeOutcome::Retrying)
            }
        }
    }

    /// Does what row `due` asks; `Ok(false)` when there was nobody to send it to.
    async fn send_job(
        &self,
        bridge: &Bridge,
        due: &crate::store::DueMatrixJob,
    ) -> Result<bool, MatrixError> {
        let client = &bridge.client;
        let bot = client.bot();
        self.registered(bridge, &client.settings.sender_localpart)
            .await?;
        let body = due.body.clone().unwrap_or_default();
        let notice = json!({"msgtype": "m.notice", "body": body});
        if let Some(trade) = due.trade {
            let Some(room) = self.trade_room(bridge, trade).await? else {
                return Ok(false);
            };
            match due.job {
                MatrixJob::Message => {
                    let Some(author) = due.user else {
                        return Ok(false);
                    };
                    let puppet = self.puppet_in(bridge, author, &room).await?;
                    let text = json!({"msgtype": "m.text", "body": body});
                    client.send(&room, &puppet, due.id, &text).await?;
                }
                MatrixJob::Dispute => {
                    let moderators = self.store.linked_moderators().await.map_err(store_failed)?;
                    for m in &moderators {
                        client.invite(&room, m).await?;
                    }
                    client
                        .change_power(&room, |levels| {
                            for m in &moderators {
                                levels["users"][m] = json!(MODERATOR_POWER);
                            }
                        })
                        .await?;
                    client.send(&room, &bot, due.id, &notice).await?;
                }
                MatrixJob::Close => {
                    client
                        .change_power(&room, |levels| {
                            levels["events_default"] = json!(CLOSED_POWER);
                            levels["invite"] = json!(CLOSED_POWER);
                        })
                        .await?;
                    client.send(&room, &bot, due.id, &notice).await?;
                }
                MatrixJob::Notice | MatrixJob::Link => {
                    client.send(&room, &bot, due.id, &notice).await?;
                }
            }
            return Ok(true);
        }
        // A link's room: made for the `Link` row, answered in by a `Notice`.
        let Some(user) = due.user else {
            return Ok(false);
        };
        let Some(link) = self.store.matrix_link(user).await.map_err(store_failed)? else {
            return Ok(false);
        };
        let room = match (&link.room_id, due.job) {
            (Some(room), _) => room.clone(),
            (None, MatrixJob::Link) => {
                let created = client
                    .call(
                        "create link room",
                        reqwest::Method::POST,
                        &["createRoom"],
                        Some(&bot),
                        Some(&json!({
                            "preset": "trusted_private_chat",
                            "is_direct": true,
                            "invite": [link.matrix_user_id],
                            "name": "Pupero: link your account",
                            "topic": UNENCRYPTED_NOTE,
                        })),
                    )
                    .await?;
                let room = created["room_id"].as_str().unwrap_or_default().to_owned();
                self.store
                    .set_matrix_link_room(user, &room)
                    .await
                    .map_err(store_failed)?;
                room
            }
            (None, _) => return Ok(false),
        };
        client.send(&room, &bot, due.id, &notice).await?;
        Ok(true)
    }

    /// Registers `localpart` once per process.
    async fn registered(&self, bridge: &Bridge, localpart: &str) -> Result<(), MatrixError> {
        let key = format!("user {localpart}");
        if !bridge.done(&key) {
            bridge.client.register(localpart).await?;
            bridge.mark(key);
        }
        Ok(())
    }

    /// The Matrix user of `author`, registered, named and joined to `room`.
    async fn puppet_in(
        &self,
        bridge: &Bridge,
        author: UserId,
        room: &str,
    ) -> Result<String, MatrixError> {
        let client = &bridge.client;
        let puppet = client.puppet(author);
        let key = format!("{puppet} in {room}");
        if bridge.done(&key) {
            return Ok(puppet);
        }
        self.registered(bridge, &client.puppet_localpart(author))
            .await?;
        if let Ok(name) = self.username(author).await {
            let body = json!({"displayname": format!("{name} (Pupero)")});
            client
                .call(
                    "display name",
                    reqwest::Method::PUT,
                    &["profile", &puppet, "displayname"],
                    Some(&puppet),
                    Some(&body),
                )
                .await?;
        }
        client.invite(room, &puppet).await?;
        client.join(room, &puppet).await?;
        bridge.mark(key);
        Ok(puppet)
    }

    /// Trade `trade`'s room: made now, with its parties' linked accounts invited, if it does
    /// not exist yet and one of them is linked; `None` if neither is.
    async fn trade_room(
        &self,
        bridge: &Bridge,
        trade: TradeId,
    ) -> Result<Option<String>, MatrixError> {
        if let Some(room) = self.store.matrix_room(trade).await.map_err(store_failed)? {
            return Ok(Some(room));
        }
        let row = self.store.trade(trade).await.map_err(store_failed)?;
        let Some(row) = row else { return Ok(None) };
        let parties = [row.trade.seller(), row.trade.buyer()];
        let accounts = self
            .store
            .linked_accounts(&parties)
            .await
            .map_err(store_failed)?;
        if accounts.is_empty() {
            return Ok(None);
        }
        let client = &bridge.client;
        let bot = client.bot();
        let alias = client.alias(trade);
        let alias_localpart = alias
            .trim_start_matches('#')
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let body = json!({
            "preset": "private_chat",
            "visibility": "private",
            "room_alias_name": alias_localpart,
            "name": format!("Pupero trade {}", &trade.to_string()[..8]),
            "topic": format!("The chat of a Pupero trade. {UNENCRYPTED_NOTE}"),
            // The bridge's user made the room: it holds all power (as its creator in
            // current room versions), and only it invites.
            "power_level_content_override": {
                "invite": 100, "kick": 100, "ban": 100, "redact": 100,
                "state_default": 100, "events_default": 0,
            },
        });
        let room = match client
            .call(
                "create room",
                reqwest::Method::POST,
                &["createRoom"],
                Some(&bot),
                Some(&body),
            )
            .await
        {
            Ok(created) => created["room_id"].as_str().map(str::to_owned),
            // Made by another process, or by this one before it stopped.
            Err(e) if e.errcode == "M_ROOM_IN_USE" => client.resolve_alias(&alias).await?,
            Err(e) => return Err(e),
        };
        let Some(room) = room else {
            return Err(MatrixError {
                what: "create room",
                status: 0,
                errcode: "no room id".to_owned(),
            });
        };
        for account in &accounts {
            client.invite(&room, account).await?;
        }
        self.store
            .insert_matrix_room(trade, &room, self.now())
            .await
            .map_err(store_failed)?;
        Ok(Some(room))
    }

    /// Closes the rooms of trades whose chat closed; returns how many.
    pub async fn close_finished_matrix_rooms(&self) -> Result<u32, Error> {
        let bridge = self.bridge()?;
        let now = self.now();
        let before = Timestamp::from_unix_ms(
            now.as_unix_ms()
                .saturating_sub(CHAT_GRACE_SECS.saturating_mul(1000)),
        );
        let mut closed = 0;
        for trade in self
            .store
            .matrix_rooms_to_close(before, MAX_CLOSED_PER_PASS)
            .await?
        {
            let job = NewMatrixJob {
                id: Uuid::now_v7(),
                job: MatrixJob::Close,
                trade: Some(trade),
                user: None,
                body: Some(
                    "The chat of this trade is closed; this room is read-only now.".to_owned(),
                ),
            };
            if self.store.close_matrix_room(trade, &job, now).await? {
                closed += 1;
            }
        }
        if closed > 0 {
            bridge.wake.notify_one();
        }
        Ok(closed)
    }
}

fn store_failed(e: StoreError) -> MatrixError {
    MatrixError {
        what: "database",
        status: 0,
        errcode: crate::error::chain(&e),
    }
}

/// The bridge's sender: sends the outbox whenever woken and every `POLL_INTERVAL`, and closes
/// the rooms of closed chats. Runs in every serving process that has the bridge: rows are
/// claimed, and a row sent twice is one transaction to the homeserver.
pub async fn run_matrix_bridge(state: Arc<Market>) {
    let Some(bridge) = state.matrix.as_ref() else {
        return;
    };
    loop {
        if let Err(e) = state.close_finished_matrix_rooms().await {
            tracing::warn!(error = %e, "closing Matrix rooms failed");
        }
        for _ in 0..MAX_JOBS_PER_PASS {
            match state.deliver_next_matrix_job().await {
                Ok(BridgeOutcome::Idle | BridgeOutcome::Retrying) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Matrix outbox unavailable");
                    break;
                }
            }
        }
        tokio::select! {
            () = bridge.wake.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_user_ids_are_checked() {
        for good in [
            "@alice:example.org",
            "@a.b_c=d-e/f+g:matrix.example.org:8448",
            " @bob:pupero.test ",
        ] {
            assert!(parse_matrix_user_id(good).is_ok(), "{good}");
        }
        for bad in [
            "alice:example.org",
            "@:example.org",
            "@Alice:example.org",
            "@alice",
            "@alice:",
            "@al ice:x.org",
            "@alice:ex ample.org",
        ] {
            assert!(parse_matrix_user_id(bad).is_err(), "{bad}");
        }
        assert!(parse_matrix_user_id(&format!("@{}:x.org", "a".repeat(260))).is_err());
    }

    #[test]
    fn codes_are_typed_back_in_any_case_and_spacing() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        let typed = format!(" {} {} ", code[..4].to_lowercase(), &code[4..]);
        assert_eq!(code_hash(&typed), code_hash(&code));
        assert_ne!(code_hash("AAAAAAAA"), code_hash("AAAAAAAB"));
    }

    #[test]
    fn retries_double_up_to_the_cap() {
        let delays: Vec<u64> = (1..=MAX_ATTEMPTS).map(retry_delay_secs).collect();
        assert_eq!(delays[..4], [20, 40, 80, 160]);
        assert_eq!(delays.last(), Some(&RETRY_MAX_DELAY_SECS));
    }
}
