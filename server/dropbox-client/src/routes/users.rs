//! users/get_current_account and auth/token/revoke.

use crate::client::{CallState, DropboxClient};
use crate::error::{AuthError, Error};
use crate::wire::Account;

impl DropboxClient {
    /// `users/get_current_account` (body `null`): also the cheapest "does this connection
    /// work" check.
    pub async fn get_current_account(&self) -> Result<Account, Error> {
        self.rpc("users/get_current_account", &(), &mut CallState::default())
            .await
    }

    /// `auth/token/revoke`: revokes the access token (and with it the refresh token).
    pub async fn revoke_token(&self) -> Result<(), Error> {
        let mut st = CallState::default();
        let r: Result<serde_json::Value, Error> = self.rpc("auth/token/revoke", &(), &mut st).await;
        match r {
            Ok(_) => Ok(()),
            // The first attempt went through but its answer was lost.
            Err(Error::Unauthorized {
                tag: AuthError::InvalidAccessToken,
                ..
            }) if st.after_unknown => Ok(()),
            Err(e) => Err(e),
        }
    }
}
