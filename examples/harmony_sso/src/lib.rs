//! `harmony_sso`: the whole single-sign-on config loop in one `cargo run`.
//!
//! - [`cli`]: flags, subcommands and the mode (local k3d stack or existing stack);
//! - [`sso_loop`]: the loop as one Score bounded on `SecretVault + IdentityProvider`;
//! - [`session`]: `login`, `logout`, `whoami`;
//! - [`summary`]: the end-of-run summary (secrets only as fingerprints);
//! - [`cleanup`]: `--cleanup [--cluster]`.

pub mod app_config;
pub mod cleanup;
pub mod cli;
pub mod session;
pub mod sso_loop;
pub mod summary;
