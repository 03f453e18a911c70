//! `/v1/sys/seal-status`, `/v1/sys/unseal` and `/v1/sys/keys`: the seal and the keyring
//! (docs/keys.md).

use reqwest::Method;
use scaivault_proto::keys::{KeyringStatus, SealStatus};

use crate::{Call, Client};

impl Client {
    /// `GET /v1/sys/seal-status` (no token needed).
    pub fn seal_status(&self) -> Call<'_, SealStatus> {
        self.call(Method::GET, self.url(&["v1", "sys", "seal-status"], &[]))
    }

    /// `POST /v1/sys/unseal`: asks a sealed server to try its root key provider now and waits
    /// for the attempt (no token needed). A `503` carries the status as its body.
    pub fn unseal(&self) -> Call<'_, SealStatus> {
        let mut call = self
            .call(Method::POST, self.url(&["v1", "sys", "unseal"], &[]))
            .timeout(std::time::Duration::from_secs(40));
        call.accept.push(503);
        call
    }

    /// `GET /v1/sys/keys` (operators).
    pub fn keyring_status(&self) -> Call<'_, KeyringStatus> {
        self.call(Method::GET, self.url(&["v1", "sys", "keys"], &[]))
    }

    /// `POST /v1/sys/keys/rotate` (operators).
    pub fn rotate_keys(&self) -> Call<'_, KeyringStatus> {
        self.call(
            Method::POST,
            self.url(&["v1", "sys", "keys", "rotate"], &[]),
        )
    }
}
