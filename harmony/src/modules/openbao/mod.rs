//! OpenBao: the secret store behind Harmony's team-scale configuration.

pub mod setup_api;
