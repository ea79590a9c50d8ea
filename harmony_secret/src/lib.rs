//! Secret stores for Harmony.
//!
//! A [`SecretStore`] keeps JSON values under `namespace/key`. Callers normally do not use a store
//! directly: `harmony_config::StoreSource` wraps one as a link in the configuration chain.
//!
//! Stores:
//! - [`LocalFileSecretStore`]: one JSON file per key under `~/.local/share/harmony/secrets/`,
//!   files 0600 in 0700 folders. Zero setup.

pub mod error;
pub mod private_file;
pub mod store;

pub use error::SecretStoreError;
pub use store::SecretStore;
pub use store::local_file::LocalFileSecretStore;
