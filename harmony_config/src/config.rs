//! The [`Config`] trait: a typed value stored under one key.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A typed configuration value, stored as JSON under [`Config::KEY`].
///
/// Usually derived with `#[derive(Config)]` next to `Serialize`, `Deserialize` and `JsonSchema`.
/// A manual implementation only needs `KEY`:
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// struct AppConfig { host: String }
///
/// impl harmony_config::Config for AppConfig {
///     const KEY: &'static str = "AppConfig";
/// }
/// ```
pub trait Config: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The key the value is stored under; also names the env var `HARMONY_CONFIG_{KEY}`.
    const KEY: &'static str;
    /// Top-level fields (serialized names) that hold secrets: asked with hidden input and never
    /// printed.
    const SECRET_FIELDS: &'static [&'static str] = &[];
}

/// The environment variable that overrides the value stored under `key`.
pub fn env_var_name(key: &str) -> String {
    format!("HARMONY_CONFIG_{key}")
}
