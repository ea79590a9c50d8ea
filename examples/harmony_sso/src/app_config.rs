//! The two configuration structs the demo stores and reads back. The developer only sees
//! `harmony_config`: neither OpenBao nor the identity provider appears here.

use harmony_config::Config;
use serde::{Deserialize, Serialize};

/// A service's public settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Config)]
#[config(key = "HarmonySsoDemoService")]
pub struct DemoService {
    /// The service's public URL.
    pub url: String,
    /// How many replicas to run.
    pub replicas: u16,
}

impl Default for DemoService {
    fn default() -> Self {
        Self {
            url: "https://demo.harmony.localhost".to_string(),
            replicas: 2,
        }
    }
}

/// The service's database, with a secret password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Config)]
#[config(key = "HarmonySsoDemoDatabase")]
pub struct DemoDatabase {
    /// Database host.
    pub host: String,
    /// Database port.
    pub port: u16,
    /// Database user.
    pub user: String,
    /// Database password (hidden input; shown only as a fingerprint).
    #[config(secret)]
    pub password: String,
}

impl std::fmt::Debug for DemoDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoDatabase")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl DemoDatabase {
    /// The value `--yes` takes: a fresh random password (24 alphanumerics), as one would
    /// generate for a new database.
    pub fn generated() -> Self {
        use rand::Rng;
        use rand::distr::Alphanumeric;
        let password: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        Self {
            host: "db.harmony.localhost".to_string(),
            port: 5432,
            user: "demo".to_string(),
            password,
        }
    }
}
