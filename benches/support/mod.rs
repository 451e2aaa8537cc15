//! What the HTTP benches share: the API served in this process on a free local port.

use std::sync::Arc;

use pupero_server::AppState;
use tokio::sync::oneshot;

/// The API serving `state` on 127.0.0.1, until [`Served::stop`].
pub(crate) struct Served {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves `state` on a free local port.
pub(crate) async fn serve(state: Arc<AppState>) -> anyhow::Result<Served> {
    let (stop, stopped) = oneshot::channel::<()>();
    let (bound_tx, bound_rx) = oneshot::channel();
    let server = tokio::spawn(pupero_server::serve(
        state,
        async move {
            let _ = stopped.await;
        },
        move |a| {
            let _ = bound_tx.send(a);
        },
    ));
    let base = format!("http://{}", bound_rx.await?);
    Ok(Served { base, stop, server })
}

impl Served {
    /// Stops the server and waits for it.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}
