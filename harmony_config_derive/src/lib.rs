//! `#[derive(Config)]`: see the `harmony_config` crate.
