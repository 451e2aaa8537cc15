//! Live updates for pages open with JavaScript on: `GET /live` answers a `text/event-stream`
//! that says which trade, or the wallet, just changed, and `static/app.js` reloads the page's
//! live regions when it concerns them.
//!
//! The API allows a user few event streams, and the browser may have many tabs: so one upstream
//! stream per user, opened through the SDK with that user's session, is fanned out here to every
//! tab ([`Hub`]). It starts at the user's newest event, so no history is replayed, and ends when
//! the last tab goes. Tabs learn only that something changed and fetch the page again through
//! the ordinary handlers: the stream carries no data that the page would not show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use poem::web::sse::{Event, SSE};
use poem::{IntoResponse, Response, handler};
use pupero_sdk::{EventKind, UserEvent};
use tokio::sync::{broadcast, watch};

use crate::guard::Ctx;
use crate::pages::Failure;

/// Changes queued for a slow tab before it misses some; a missed change only costs a reload.
const TAB_BUFFER: usize = 64;

/// Pages of the user's events read (500 each) to find the newest: the API keeps 30 days, and a
/// user with more than this many events starts a little behind, which costs a few reloads.
const MAX_HEAD_PAGES: u32 = 100;

/// Events per page while looking for the newest: the API's largest page.
const HEAD_PAGE_SIZE: u32 = 500;

/// A comment this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What a tab is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The trade with this id changed (state, chat).
    Trade(uuid::Uuid),
    /// The balance, a deposit or a withdrawal changed.
    Wallet,
    /// The upstream stream ended: the tab reconnects, which opens a new one.
    Closed,
}

impl Change {
    /// The change an API event stands for, if a page shows it.
    pub fn of(event: &UserEvent) -> Option<Change> {
        use EventKind::*;
        match event.kind {
            _ if event.trade_id.is_some() => event.trade_id.map(Change::Trade),
            BalanceChanged | DepositSeen | DepositConfirmations | DepositCredited | DepositGone
            | WithdrawalSigned | WithdrawalBroadcast | WithdrawalConfirmed | WithdrawalFailed => {
                Some(Change::Wallet)
            }
            _ => None,
        }
    }
}

/// One user's upstream, shared by their tabs; the upstream task ends when the last tab goes.
struct Channel {
    tx: broadcast::Sender<Change>,
    /// Whether the upstream is connected: changes after this moment reach the tabs.
    ready: watch::Receiver<bool>,
    task: tokio::task::AbortHandle,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The users' upstream streams.
#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<String, Weak<Channel>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// A tab of `user`: the user's channel, opened with `client` when there is none.
    fn join(
        &self,
        user: &str,
        client: pupero_sdk::Client,
    ) -> (Arc<Channel>, broadcast::Receiver<Change>) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.retain(|_, channel| channel.strong_count() > 0);
        if let Some(channel) = users.get(user).and_then(Weak::upgrade)
            && !channel.task.is_finished()
        {
            let rx = channel.tx.subscribe();
            return (channel, rx);
        }
        let (tx, rx) = broadcast::channel(TAB_BUFFER);
        let (ready_tx, ready) = watch::channel(false);
        let task = tokio::spawn(upstream(client, tx.clone(), ready_tx)).abort_handle();
        let channel = Arc::new(Channel { tx, ready, task });
        users.insert(user.to_owned(), Arc::downgrade(&channel));
        (channel, rx)
    }

    /// Users with an upstream stream open now.
    pub fn open_streams(&self) -> usize {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .values()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.task.is_finished())
            .count()
    }
}

/// The seq of the user's newest event, read page by page.
async fn head(client: &pupero_sdk::Client) -> Result<u64, pupero_sdk::Error> {
    let mut after = 0;
    for _ in 0..MAX_HEAD_PAGES {
        let page = client.events(after, Some(HEAD_PAGE_SIZE)).await?;
        after = page.next;
        if !page.has_more {
            break;
        }
    }
    Ok(after)
}

/// Follows the user's events from the newest on, telling the tabs what changed, until the
/// stream ends or fails (the tabs then reconnect and a new upstream starts).
async fn upstream(
    client: pupero_sdk::Client,
    tx: broadcast::Sender<Change>,
    ready: watch::Sender<bool>,
) {
    let stream = match head(&client).await {
        Ok(after) => client.event_stream(after).await,
        Err(e) => Err(e),
    };
    match stream {
        Ok(mut events) => {
            ready.send_replace(true);
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        if let Some(change) = Change::of(&event) {
                            // No tab listening right now is no error.
                            let _ = tx.send(change);
                        }
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "event stream ended");
                        break;
                    }
                }
            }
        }
        Err(e) => tracing::info!(error = %e, "event stream not opened"),
    }
    let _ = tx.send(Change::Closed);
}

/// `GET /live`: the signed-in user's changes as server-sent events: `ready` once they flow
/// (what changed before is on the page or comes with the reload `ready` prompts), then `trade`
/// with the trade's id, `wallet`, `any` after changes were missed, `closed` at the end.
#[handler]
pub(crate) fn live(ctx: Ctx) -> Result<Response, Failure> {
    let client = ctx.client()?;
    let Some(user) = ctx.session.data().username.clone() else {
        return Err(Failure::SignIn);
    };
    let (channel, rx) = ctx.web.live.join(&user, client);
    let mut ready = channel.ready.clone();
    let first = futures_util::stream::once(async move {
        // Connected, or gone (the `closed` that follows says so).
        let _ = ready.wait_for(|ready| *ready).await;
        Event::message("ready").event_type("ready")
    });
    let changes = futures_util::stream::unfold(Some((channel, rx)), |state| async move {
        let (channel, mut rx) = state?;
        let event = match rx.recv().await {
            Ok(Change::Trade(id)) => Event::message(id.to_string()).event_type("trade"),
            Ok(Change::Wallet) => Event::message("wallet").event_type("wallet"),
            // Changes missed: whatever is shown may be stale.
            Err(broadcast::error::RecvError::Lagged(_)) => Event::message("any").event_type("any"),
            Ok(Change::Closed) | Err(broadcast::error::RecvError::Closed) => {
                return Some((Event::message("closed").event_type("closed"), None));
            }
        };
        Some((event, Some((channel, rx))))
    });
    let events = first.chain(changes);
    let mut response = SSE::new(events).keep_alive(KEEP_ALIVE).into_response();
    // A user's own changes: like their pages, never stored.
    response.headers_mut().insert(
        poem::http::header::CACHE_CONTROL,
        poem::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
