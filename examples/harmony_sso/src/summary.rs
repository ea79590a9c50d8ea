//! What a run did, rendered for the person at the end. Secret fields are shown only as a short
//! fingerprint (`sha256:` + 8 hex digits of the value), never as the value.

use std::fmt::Write as _;
use std::time::Duration;

use harmony::topology::CapabilityStep;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How the session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// A token or refresh token from the session cache: no browser.
    CachedSession,
    /// A new device authorization: the person approved in the browser.
    DeviceFlow,
    /// OpenBao userpass (`--skip-zitadel`).
    Userpass,
}

impl std::fmt::Display for LoginMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoginMethod::CachedSession => "cached session (no browser)",
            LoginMethod::DeviceFlow => "device flow (approved in the browser)",
            LoginMethod::Userpass => "OpenBao userpass",
        })
    }
}

/// Who is logged in, as OpenBao sees the token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub display_name: String,
    pub policies: Vec<String>,
    /// Seconds left on the token.
    pub ttl_secs: u64,
    /// e.g. `jwt`, `userpass`.
    pub auth_method: String,
}

/// One config value: where it came from and what it holds (secrets as fingerprints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueReport {
    pub key: String,
    /// Where the value was read back from (`ConfigSource::location`).
    pub source: String,
    /// Where it came from before it was stored this run (`--yes` default, prompt, ...), if it
    /// was stored now.
    pub stored_from: Option<String>,
    /// `field = shown value` pairs, secret fields fingerprinted.
    pub fields: Vec<(String, String)>,
}

impl ValueReport {
    /// Describes `value` (a JSON object), fingerprinting `secret_fields`.
    pub fn new(
        key: &str,
        value: &Value,
        secret_fields: &[&str],
        source: String,
        stored_from: Option<String>,
    ) -> Self {
        let fields = match value {
            Value::Object(map) => map
                .iter()
                .map(|(name, v)| {
                    let shown = if secret_fields.contains(&name.as_str()) {
                        fingerprint(v)
                    } else {
                        v.to_string()
                    };
                    (name.clone(), shown)
                })
                .collect(),
            other if secret_fields.is_empty() => vec![("value".into(), other.to_string())],
            other => vec![("value".into(), fingerprint(other))],
        };
        Self {
            key: key.to_string(),
            source,
            stored_from,
            fields,
        }
    }
}

/// `sha256:` and the first 8 hex digits of the SHA-256 of the value's text: enough to tell two
/// values apart, useless to recover it.
pub fn fingerprint(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let digest = Sha256::digest(text.as_bytes());
    format!("sha256:{}", &hex::encode(digest)[..8])
}

/// Everything the end-of-run summary shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunReport {
    /// `local k3d stack` or `existing stack`.
    pub mode: String,
    pub steps: Vec<CapabilityStep>,
    pub openbao_url: String,
    pub kv_mount: String,
    pub policy: String,
    /// `role@mount`, when single sign-on is used.
    pub jwt: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Local hosts reached through `resolve_to`, for the URL list.
    pub urls: Vec<(String, String)>,
    pub login: Option<LoginMethod>,
    pub identity: Option<Identity>,
    pub values: Vec<ValueReport>,
    pub wall_time: Duration,
}

impl RunReport {
    pub fn changed_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.changed).count()
    }

    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "\nharmony_sso summary ({}):", self.mode);
        let _ = writeln!(
            o,
            "  infrastructure: {} step(s), {} changed, {} unchanged",
            self.steps.len(),
            self.changed_steps(),
            self.steps.len() - self.changed_steps()
        );
        for s in &self.steps {
            let _ = writeln!(
                o,
                "    [{}] {}: {}",
                if s.changed { "changed  " } else { "unchanged" },
                s.name,
                s.message
            );
        }
        let _ = writeln!(
            o,
            "  OpenBao:   {} (kv mount {}, policy {})",
            self.openbao_url, self.kv_mount, self.policy
        );
        if let (Some(issuer), Some(client)) = (&self.issuer, &self.client_id) {
            let _ = writeln!(o, "  sign-in:   {issuer} (client id {client})");
        }
        if let Some(jwt) = &self.jwt {
            let _ = writeln!(o, "  JWT role:  {jwt}");
        }
        for (what, url) in &self.urls {
            let _ = writeln!(o, "  {what}: {url}");
        }
        match (&self.identity, &self.login) {
            (Some(id), Some(how)) => {
                let _ = writeln!(
                    o,
                    "  logged in: {} via {how}; policies {}; {} left (auth {})",
                    id.display_name,
                    id.policies.join(","),
                    human_secs(id.ttl_secs),
                    id.auth_method
                );
            }
            (None, Some(how)) => {
                let _ = writeln!(o, "  logged in: via {how}");
            }
            _ => {}
        }
        let _ = writeln!(o, "  config values:");
        for v in &self.values {
            let _ = writeln!(o, "    {} <- {}", v.key, v.source);
            if let Some(from) = &v.stored_from {
                let _ = writeln!(o, "      (stored this run; value from {from})");
            }
            for (name, shown) in &v.fields {
                let _ = writeln!(o, "      {name} = {shown}");
            }
        }
        let _ = writeln!(o, "  wall time: {:.2} s", self.wall_time.as_secs_f64());
        o
    }
}

/// `3h59m`, `42s`.
pub fn human_secs(secs: u64) -> String {
    if secs == u64::MAX {
        return "no expiry".to_string();
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> RunReport {
        RunReport {
            mode: "existing stack".into(),
            steps: vec![
                CapabilityStep::new("OpenbaoScore(openbao/openbao)", false, "unchanged"),
                CapabilityStep::new("OpenbaoSetupScore(openbao/openbao)", true, "configured"),
            ],
            openbao_url: "http://bao.harmony.localhost:8080".into(),
            kv_mount: "secret".into(),
            policy: "harmony-dev".into(),
            jwt: Some("harmony-developer@jwt".into()),
            issuer: Some("http://zitadel.harmony.localhost:8080".into()),
            client_id: Some("client-1".into()),
            urls: vec![],
            login: Some(LoginMethod::CachedSession),
            identity: Some(Identity {
                display_name: "jwt-alice@example.com".into(),
                policies: vec!["default".into(), "harmony-dev".into()],
                ttl_secs: 3 * 3600 + 61,
                auth_method: "jwt".into(),
            }),
            values: vec![ValueReport::new(
                "HarmonySsoDemoDatabase",
                &json!({"host": "db", "port": 5432, "password": "Sup3r-Secret-Pw"}),
                &["password"],
                "OpenBao at http://x (kv mount \"secret\") at `harmony/HarmonySsoDemoDatabase`"
                    .into(),
                Some("--yes default (generated)".into()),
            )],
            wall_time: Duration::from_millis(1234),
        }
    }

    #[test]
    fn summary_shows_sources_and_who_but_never_a_secret_value() {
        let text = report().render();
        assert!(!text.contains("Sup3r-Secret-Pw"), "{text}");
        assert!(
            text.contains(&format!(
                "password = {}",
                fingerprint(&json!("Sup3r-Secret-Pw"))
            )),
            "{text}"
        );
        assert!(text.contains("host = \"db\""), "{text}");
        assert!(
            text.contains("HarmonySsoDemoDatabase <- OpenBao at http://x"),
            "{text}"
        );
        assert!(
            text.contains("logged in: jwt-alice@example.com via cached session"),
            "{text}"
        );
        assert!(text.contains("3h01m left"), "{text}");
        assert!(text.contains("2 step(s), 1 changed, 1 unchanged"), "{text}");
        assert!(text.contains("wall time: 1.23 s"), "{text}");
    }

    #[test]
    fn fingerprints_differ_per_value_and_hide_it() {
        let a = fingerprint(&json!("password-one"));
        let b = fingerprint(&json!("password-two"));
        assert_ne!(a, b);
        assert_eq!(a.len(), "sha256:".len() + 8);
        assert!(!a.contains("password"));
    }

    #[test]
    fn a_non_object_secret_value_is_fingerprinted_too() {
        let v = ValueReport::new("K", &json!("TOPSECRET"), &["x"], "s".into(), None);
        assert!(!format!("{v:?}").contains("TOPSECRET"));
    }
}
