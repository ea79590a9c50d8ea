//! Typed configuration for Harmony, with zero setup.
//!
//! Derive [`Config`] on a struct, then read it with [`get`] or [`get_or_prompt`]. Values are
//! resolved through a chain of [`ConfigSource`]s; the first one that has the value wins:
//!
//! 1. [`EnvSource`], `HARMONY_CONFIG_{KEY}` holding JSON;
//! 2. [`SqliteSource`], `~/.local/share/harmony/config/config.db`;
//! 3. [`PromptSource`], asks on the terminal (only through `get_or_prompt`), then saves the answer
//!    to the first persisting source.
//!
//! Build another chain (local files, a team secret store through [`StoreSource`]) with
//! [`ConfigManager::new`] and install it with [`init`].
//!
//! [`get_with_source`] also says where the value came from: a [`Provenance`] (env var, file,
//! SQLite, store, prompted and saved to ...) to match on, which displays as readable text.
//!
//! ```no_run
//! use harmony_config::Config;
//! use serde::{Deserialize, Serialize};
//!
//! /// Database connection.
//! #[derive(Debug, Serialize, Deserialize, schemars::JsonSchema, Config)]
//! #[config(key = "Database")]
//! struct Database {
//!     /// Host name or IP address.
//!     host: String,
//!     port: u16,
//!     #[config(secret)]
//!     password: String,
//! }
//!
//! # async fn run() -> Result<(), harmony_config::ConfigError> {
//! let db: Database = harmony_config::get_or_prompt().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

// Lets `#[derive(Config)]` (which expands to `::harmony_config::Config`) work inside this crate.
extern crate self as harmony_config;

mod config;
mod error;
mod global;
mod manager;
pub mod prompt;
mod provenance;
pub mod source;

pub use config::{Config, env_var_name};
pub use error::ConfigError;
pub use global::{
    default_manager, get, get_or_prompt, get_or_prompt_with_source, get_with_source, init, manager,
    reset, set,
};
pub use harmony_config_derive::Config;
pub use manager::{ConfigManager, Sourced};
pub use provenance::Provenance;
pub use source::env::EnvSource;
pub use source::local_file::LocalFileSource;
pub use source::prompt::PromptSource;
pub use source::sqlite::{SqliteSource, StoredEntry};
pub use source::store::StoreSource;
pub use source::{ConfigRequest, ConfigSource, Lookup, Outage};
