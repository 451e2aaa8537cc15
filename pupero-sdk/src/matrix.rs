//! Linking the logged-in user's Matrix account to the server's trade-chat bridge.

use crate::{Client, Error};

pub use pupero_api::{MatrixLink, MatrixLinkStarted};

impl Client {
    /// Starts linking `matrix_user_id` (`@name:server.org`): the account is invited to a room
    /// by the bridge's user and must send the returned code there (needs a login).
    pub async fn start_matrix_link(
        &self,
        matrix_user_id: &str,
    ) -> Result<MatrixLinkStarted, Error> {
        let body = pupero_api::MatrixLinkRequest {
            matrix_user_id: matrix_user_id.into(),
        };
        self.send(
            reqwest::Method::POST,
            "/api/v1/me/matrix",
            Some(&body),
            true,
        )
        .await
    }

    /// The linked (or pending) Matrix account; `NOT_FOUND` when there is none.
    pub async fn matrix_link(&self) -> Result<MatrixLink, Error> {
        self.send(reqwest::Method::GET, "/api/v1/me/matrix", None::<&()>, true)
            .await
    }

    /// Unlinks the Matrix account.
    pub async fn unlink_matrix(&self) -> Result<(), Error> {
        self.send_empty(reqwest::Method::DELETE, "/api/v1/me/matrix")
            .await
    }
}
