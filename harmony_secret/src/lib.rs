//! Secret stores for Harmony.
//!
//! A [`SecretStore`] keeps JSON values under `namespace/key`. Callers normally do not use a store
//! directly: `harmony_config::StoreSource` wraps one as a link in the configuration chain.
//!
//! Stores:
//! - [`LocalFileSecretStore`]: one JSON file per key under `~/.local/share/harmony/secrets/`,
//!   files 0600 in 0700 folders. Zero setup.
//! - [`OpenbaoSecretStore`]: an OpenBao (or Vault) KV v2 engine, shared by a team. Built with
//!   [`OpenbaoSecretStore::builder`] or [`OpenbaoSecretStore::from_env`]; logs in lazily on first
//!   use through the auth chain explicit token → cached SSO session (renewed with its refresh
//!   token when expired) → OIDC device flow ([`ZitadelOidcAuth`]) + jwt login → userpass.
//!   Reads are one HTTP round trip with a 2 s default timeout; failures map onto
//!   [`SecretStoreError`] (Unreachable, Sealed, PermissionDenied, BadCredentials, NotFound, …).
//!   [`OpenbaoSecretStore::whoami`] and [`OpenbaoSecretStore::logout`] back `login`/`logout`
//!   commands.
//! - [`auth::oidc`]: the OIDC device flow, refresh and revocation ([`ZitadelOidcAuth`]). Its
//!   failures are an [`IdentityProviderError`]; the store turns them into the
//!   [`SecretStoreError`] of the same kind and message.
//!
//! [`SecretManager`] is the older typed facade (store chosen by `HARMONY_SECRET_STORE`).
//!
//! The OpenBao store and the OIDC flow (with their HTTP/TLS/OAuth dependencies) sit behind the
//! `openbao` feature, on by default. With `default-features = false` the crate is the local-file
//! store, [`private_file`], [`redact`], [`redacted`] and [`text`] only.
//!
//! Credentials are held in [`Secret`] ([`secrecy::SecretString`]): `Debug` prints `[REDACTED]`,
//! there is no `Display`, and the memory is zeroed on drop; no token, password, id_token or
//! refresh token is ever logged.

#![warn(missing_docs)]

#[cfg(feature = "openbao")]
pub mod auth;
pub mod data_dir;
pub mod error;
pub mod error_report;
pub mod manager;
#[cfg(feature = "openbao")]
pub mod openbao_http;
pub mod private_file;
pub mod redact;
pub mod redacted;
pub mod store;
pub mod text;

#[cfg(feature = "openbao")]
pub use auth::oidc::{
    ALLOW_NO_TTY_ENV, DeviceCodeInfo, DeviceCodePrompt, OidcTokens, ZitadelOidcAuth,
};
#[cfg(feature = "openbao")]
pub use error::IdentityProviderError;
pub use error::SecretStoreError;
pub use manager::SecretManager;
pub use redacted::{ExposeSecret, Secret, SecretString};
pub use store::SecretStore;
pub use store::local_file::LocalFileSecretStore;
#[cfg(feature = "openbao")]
pub use store::openbao::{
    LogoutReport, OpenbaoSecretStore, OpenbaoSecretStoreBuilder, StoredKey, WhoAmI,
};
