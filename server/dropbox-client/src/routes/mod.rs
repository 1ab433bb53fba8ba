//! Route implementations, grouped by Dropbox namespace.

pub mod files;
pub(crate) mod users;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{CallState, DropboxClient, Host, Payload, Received};
use crate::error::Error;
use crate::wire::header_arg;

impl DropboxClient {
    /// RPC call: JSON argument in the body, JSON result.
    pub(crate) async fn rpc<A: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: &'static str,
        arg: &A,
        st: &mut CallState,
    ) -> Result<T, Error> {
        let json = serde_json::to_string(arg).map_err(|e| Error::Decode(e.to_string()))?;
        let body = expect_body(
            self.send(route, Host::Api, &Payload::Rpc { json: &json }, st)
                .await?,
        )?;
        decode_json(route, &body)
    }

    /// Content-upload call: argument header, bytes body, JSON result.
    pub(crate) async fn upload_call<A: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: &'static str,
        arg: &A,
        body: Bytes,
        st: &mut CallState,
    ) -> Result<T, Error> {
        let arg = header_arg(arg)?;
        let payload = Payload::Upload { arg: &arg, body };
        let reply = expect_body(self.send(route, Host::Content, &payload, st).await?)?;
        decode_json(route, &reply)
    }
}

fn expect_body(r: Received) -> Result<Bytes, Error> {
    match r {
        Received::Body(b) => Ok(b),
        Received::Stream(_) => Err(Error::Decode("unexpected streamed reply".into())),
    }
}

pub(crate) fn decode_json<T: DeserializeOwned>(route: &str, body: &[u8]) -> Result<T, Error> {
    // Void results arrive as `null` or (from lax servers) an empty body.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| Error::Decode(format!("{route}: {e}")))
}
