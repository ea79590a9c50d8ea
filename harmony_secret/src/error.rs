//! The one error type every [`crate::SecretStore`] returns.
//!
//! Variants tell apart the situations a caller reacts to differently: a key that is absent
//! ([`SecretStoreError::NotFound`]) is normal and lets a config chain fall through, while a store
//! that is down or sealed is an outage worth a warning. Messages name the store and the key and say
//! what to do next. They never contain secret material (tokens, passwords, values).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    #[error("`{namespace}/{key}` is not in {store}")]
    NotFound {
        store: String,
        namespace: String,
        key: String,
    },

    #[error(
        "{store} is unreachable: {reason}. Check that it is running and that its address is right"
    )]
    Unreachable { store: String, reason: String },

    #[error("{store} is sealed: {}", sealed_advice(auto_unseal.as_deref()))]
    Sealed {
        store: String,
        /// The seal type when the server unseals itself (e.g. `transit`), read from
        /// `sys/seal-status`; `None` for a Shamir seal (someone must unseal it).
        auto_unseal: Option<String>,
    },

    #[error(
        "{store} is not initialized: initialize and unseal it (for a Harmony deployment, run \
         OpenbaoSetupScore; by hand, `bao operator init` then `bao operator unseal`) and retry"
    )]
    NotInitialized { store: String },

    #[error(
        "{store} denied access to `{path}`: the policies of your token do not allow this operation. \
         Ask an operator to grant it (for Harmony: the `harmony-dev` policy)"
    )]
    PermissionDenied { store: String, path: String },

    #[error("{store} rejected the {method} credentials: {reason}")]
    BadCredentials {
        store: String,
        method: String,
        reason: String,
    },

    /// Every configured way to log in failed, not all of them by a rejection (one line each).
    #[error("cannot log in to {store}: {}", attempts.join("; "))]
    LoginFailed {
        store: String,
        attempts: Vec<String>,
    },

    /// Signing in needs a person (a browser login) and none can be reached from here.
    #[error("{store} needs a person to sign in, but {reason}")]
    InteractionRequired { store: String, reason: String },

    #[error("{store} is not configured correctly: {message}")]
    Config { store: String, message: String },

    #[error("`{namespace}/{key}` in {store} holds invalid data: {reason}")]
    InvalidData {
        store: String,
        namespace: String,
        key: String,
        reason: String,
    },

    #[error("{store} cannot use `{path}`: {source}")]
    Io {
        store: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{store} answered HTTP {status} on `{path}`: {message}")]
    Backend {
        store: String,
        status: u16,
        path: String,
        message: String,
    },
}

impl SecretStoreError {
    /// The key is simply absent: not an outage.
    pub fn is_not_found(&self) -> bool {
        matches!(self, SecretStoreError::NotFound { .. })
    }

    /// The store cannot serve anyone right now (down, timed out, sealed or not initialized).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            SecretStoreError::Unreachable { .. }
                | SecretStoreError::Sealed { .. }
                | SecretStoreError::NotInitialized { .. }
        )
    }
}

/// What to do about a sealed OpenBao: unseal it (Shamir), or fix its unsealer (auto-unseal).
fn sealed_advice(auto_unseal: Option<&str>) -> String {
    match auto_unseal {
        None => "unseal it (for a Harmony deployment, run OpenbaoSetupScore again) and retry"
            .to_string(),
        Some(seal) => format!(
            "it auto-unseals with its {seal} seal, so it unseals itself only when its unsealer \
             (the OpenBao/Vault holding its {seal} key) answers. Check that the unsealer is up \
             and unsealed and that its token is valid, then restart this OpenBao; running \
             OpenbaoSetupScore again does not unseal it"
        ),
    }
}
