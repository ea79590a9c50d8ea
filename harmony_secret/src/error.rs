//! The one error type every [`crate::SecretStore`] returns.
//!
//! Variants tell apart the situations a caller reacts to differently: a key that is absent
//! ([`SecretStoreError::NotFound`]) is normal and lets a config chain fall through, while a store
//! that is down or sealed is an outage worth a warning. Messages name the store and the key and say
//! what to do next. They never contain secret material (tokens, passwords, values).

use std::path::PathBuf;

/// Why a [`crate::SecretStore`] operation failed. Every variant names the store (`store`: e.g.
/// `OpenBao at https://bao.example.com`, or a file folder) so the message says where to look.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// The key is absent: normal, a configuration chain falls through to its next source.
    #[error("`{namespace}/{key}` is not in {store}")]
    NotFound {
        /// The store asked.
        store: String,
        /// The namespace asked.
        namespace: String,
        /// The key asked.
        key: String,
    },

    /// No answer: the store (or the identity provider) is down, timed out or cannot be
    /// reached over TLS.
    #[error(
        "{store} is unreachable: {reason}. Check that it is running and that its address is right"
    )]
    Unreachable {
        /// The store (or identity provider) asked.
        store: String,
        /// What failed (connection refused, timeout, TLS, gateway status), with a hint.
        reason: String,
    },

    /// The server is sealed: it answers but serves no secret until unsealed.
    #[error("{store} is sealed: {}", sealed_advice(auto_unseal.as_deref()))]
    Sealed {
        /// The store asked.
        store: String,
        /// The seal type when the server unseals itself (e.g. `transit`), read from
        /// `sys/seal-status`; `None` for a Shamir seal (someone must unseal it).
        auto_unseal: Option<String>,
    },

    /// The server was never initialized (`bao operator init`).
    #[error(
        "{store} is not initialized: initialize and unseal it (for a Harmony deployment, run \
         OpenbaoSetupScore; by hand, `bao operator init` then `bao operator unseal`) and retry"
    )]
    NotInitialized {
        /// The store asked.
        store: String,
    },

    /// Logged in, but the token's policies do not allow the operation.
    #[error(
        "{store} denied access to `{path}`: the policies of your token do not allow this operation. \
         Ask an operator to grant it (for Harmony: the `harmony-dev` policy)"
    )]
    PermissionDenied {
        /// The store asked.
        store: String,
        /// The API path refused (no secret in it).
        path: String,
    },

    /// A login method was refused (bad token or password, denied sign-in, expired code).
    #[error("{store} rejected the {method} credentials: {reason}")]
    BadCredentials {
        /// The store (or identity provider) that refused.
        store: String,
        /// The login method (`token`, `userpass`, `OIDC device flow`, ...).
        method: String,
        /// Why, and what to do.
        reason: String,
    },

    /// Every configured way to log in failed, not all of them by a rejection (one line each).
    #[error("cannot log in to {store}: {}", attempts.join("; "))]
    LoginFailed {
        /// The store.
        store: String,
        /// One line per login method tried.
        attempts: Vec<String>,
    },

    /// Signing in needs a person (a browser login) and none can be reached from here.
    #[error("{store} needs a person to sign in, but {reason}")]
    InteractionRequired {
        /// The store (or identity provider).
        store: String,
        /// Why no one can sign in, and the ways around it.
        reason: String,
    },

    /// The settings cannot work (a missing or malformed variable, a bad URL, a CA file that
    /// cannot be read, ...).
    #[error("{store} is not configured correctly: {message}")]
    Config {
        /// The store.
        store: String,
        /// What is wrong, naming the variable or builder option to fix.
        message: String,
        /// The error behind it when there is one (e.g. an
        /// [`HttpClientError`](crate::openbao_http::HttpClientError) naming the CA file, or the
        /// [`IdentityProviderError`]); `message` already says what it says.
        #[source]
        source: Option<BoxError>,
    },

    /// The stored value is not what was expected (not JSON, wrong shape).
    #[error("`{namespace}/{key}` in {store} holds invalid data: {reason}")]
    InvalidData {
        /// The store.
        store: String,
        /// The namespace read.
        namespace: String,
        /// The key read.
        key: String,
        /// What is wrong (never the value itself).
        reason: String,
    },

    /// A local file or folder cannot be read or written.
    #[error("{store} cannot use `{path}`: {source}")]
    Io {
        /// The store.
        store: String,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// An HTTP answer none of the other variants explains.
    #[error("{store} answered HTTP {status} on `{path}`: {message}")]
    Backend {
        /// The store (or identity provider).
        store: String,
        /// The HTTP status.
        status: u16,
        /// The API path or URL asked (no secret in it).
        path: String,
        /// The server's error text.
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

/// A cause kept behind an error (`Send + Sync` so errors cross tasks).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the identity provider (OIDC single sign-on, e.g. Zitadel) could not sign someone in,
/// renew a session or revoke a refresh token.
///
/// Returned by [`crate::ZitadelOidcAuth`]. The OpenBao store turns it into a
/// [`SecretStoreError`] with the same message (`From`), so a configuration chain falls through
/// the same way: [`IdentityProviderError::Unreachable`] becomes
/// [`SecretStoreError::Unreachable`], a refusal becomes [`SecretStoreError::BadCredentials`],
/// and so on. Messages name the provider's address and what to do; they never contain a token.
#[cfg(feature = "openbao")]
#[derive(Debug, thiserror::Error)]
pub enum IdentityProviderError {
    /// No usable answer: connection refused, timeout, TLS failure, or a gateway status
    /// (502/503/504).
    #[error(
        "the identity provider at {issuer} is unreachable: {reason}. Check that it is running \
         and that its address is right"
    )]
    Unreachable {
        /// The issuer URL.
        issuer: String,
        /// What failed, with the transport error's chain and a TLS hint when one applies.
        reason: String,
        /// The transport error (request URLs removed), when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// The provider or the client settings cannot work (bad issuer or endpoint URL, a
    /// discovery document of another issuer, no device-code grant, an http downgrade, ...).
    #[error("the identity provider at {issuer} is not configured correctly: {message}")]
    Misconfigured {
        /// The issuer URL.
        issuer: String,
        /// What is wrong and how to fix it.
        message: String,
        /// The error behind it when there is one (e.g. a
        /// [`TlsConfigError`](crate::openbao_http::TlsConfigError) naming the CA file);
        /// `message` already says what it says.
        #[source]
        source: Option<BoxError>,
    },

    /// An HTTP answer that is neither success nor an OAuth error (e.g. discovery answered 404).
    #[error("the identity provider at {issuer} answered HTTP {status} on `{url}`: {message}")]
    BadResponse {
        /// The issuer URL.
        issuer: String,
        /// The HTTP status.
        status: u16,
        /// The URL asked (no secrets: tokens travel in the body).
        url: String,
        /// What the answer means.
        message: String,
    },

    /// Signing in needs a person and none can see the sign-in code from here.
    #[error("the identity provider at {issuer} needs a person to sign in, but {reason}")]
    InteractionRequired {
        /// The issuer URL.
        issuer: String,
        /// Why no one can sign in, and the ways around it.
        reason: String,
    },

    /// The person denied or cancelled the sign-in in the browser (`access_denied`).
    #[error("the identity provider at {issuer} rejected the OIDC {step} credentials: {DENIED}")]
    Denied {
        /// The issuer URL.
        issuer: String,
        /// The OAuth step (`device flow`, `refresh`, ...).
        step: String,
    },

    /// The device code expired before the sign-in was completed (`expired_token`).
    #[error("the identity provider at {issuer} rejected the OIDC {step} credentials: {EXPIRED}")]
    Expired {
        /// The issuer URL.
        issuer: String,
        /// The OAuth step.
        step: String,
    },

    /// The refresh token is no longer valid (`invalid_grant` on refresh): sign in again.
    #[error(
        "the identity provider at {issuer} rejected the OIDC refresh credentials: {REFRESH_INVALID}"
    )]
    RefreshTokenInvalid {
        /// The issuer URL.
        issuer: String,
    },

    /// The provider does not accept this client id for the flow (`invalid_client`,
    /// `unauthorized_client`).
    #[error(
        "the identity provider at {issuer} rejected the OIDC {step} credentials: {}",
        client_refused(.client_id, .code)
    )]
    ClientRefused {
        /// The issuer URL.
        issuer: String,
        /// The OAuth step.
        step: String,
        /// The client id sent.
        client_id: String,
        /// The OAuth error code.
        code: String,
    },

    /// Any other OAuth error answer.
    #[error(
        "the identity provider at {issuer} rejected the OIDC {step} credentials: {step} failed: {code}"
    )]
    Refused {
        /// The issuer URL.
        issuer: String,
        /// The OAuth step.
        step: String,
        /// The OAuth error code.
        code: String,
    },
}

#[cfg(feature = "openbao")]
const DENIED: &str = "the sign-in was denied or cancelled in the browser (access_denied)";
#[cfg(feature = "openbao")]
const EXPIRED: &str = "the device code expired before the sign-in was completed (expired_token): \
                       run the command again and approve within the time shown";
#[cfg(feature = "openbao")]
const REFRESH_INVALID: &str = "the refresh token is no longer valid (invalid_grant): sign in again";

#[cfg(feature = "openbao")]
fn client_refused(client_id: &str, code: &str) -> String {
    format!("the provider does not accept client `{client_id}` for the device flow ({code})")
}

#[cfg(feature = "openbao")]
impl IdentityProviderError {
    /// The issuer URL of the provider.
    pub fn issuer(&self) -> &str {
        match self {
            Self::Unreachable { issuer, .. }
            | Self::Misconfigured { issuer, .. }
            | Self::BadResponse { issuer, .. }
            | Self::InteractionRequired { issuer, .. }
            | Self::Denied { issuer, .. }
            | Self::Expired { issuer, .. }
            | Self::RefreshTokenInvalid { issuer }
            | Self::ClientRefused { issuer, .. }
            | Self::Refused { issuer, .. } => issuer,
        }
    }

    /// The provider cannot serve anyone right now (an outage, not an answer about the request).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// The provider answered and refused (denied, expired, invalid refresh token, client).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::Denied { .. }
                | Self::Expired { .. }
                | Self::RefreshTokenInvalid { .. }
                | Self::ClientRefused { .. }
                | Self::Refused { .. }
        )
    }
}

/// The same message, as the store error a configuration chain reacts to: an outage stays an
/// outage ([`SecretStoreError::Unreachable`]), a refusal is [`SecretStoreError::BadCredentials`],
/// a settings problem [`SecretStoreError::Config`], an odd answer [`SecretStoreError::Backend`].
#[cfg(feature = "openbao")]
impl From<IdentityProviderError> for SecretStoreError {
    fn from(e: IdentityProviderError) -> Self {
        let store = format!("the identity provider at {}", e.issuer());
        let refused = |step: &str, reason: String| SecretStoreError::BadCredentials {
            store: store.clone(),
            method: format!("OIDC {step}"),
            reason,
        };
        if let IdentityProviderError::Misconfigured { message, .. } = &e {
            return SecretStoreError::Config {
                store,
                message: message.clone(),
                source: Some(Box::new(e)),
            };
        }
        match e {
            IdentityProviderError::Unreachable { reason, .. } => {
                SecretStoreError::Unreachable { store, reason }
            }
            IdentityProviderError::Misconfigured { .. } => unreachable!("handled above"),
            IdentityProviderError::BadResponse {
                status,
                url,
                message,
                ..
            } => SecretStoreError::Backend {
                store,
                status,
                path: url,
                message,
            },
            IdentityProviderError::InteractionRequired { reason, .. } => {
                SecretStoreError::InteractionRequired { store, reason }
            }
            IdentityProviderError::Denied { step, .. } => refused(&step, DENIED.to_string()),
            IdentityProviderError::Expired { step, .. } => refused(&step, EXPIRED.to_string()),
            IdentityProviderError::RefreshTokenInvalid { .. } => {
                refused("refresh", REFRESH_INVALID.to_string())
            }
            IdentityProviderError::ClientRefused {
                step,
                client_id,
                code,
                ..
            } => refused(&step, client_refused(&client_id, &code)),
            IdentityProviderError::Refused { step, code, .. } => {
                refused(&step, format!("{step} failed: {code}"))
            }
        }
    }
}

#[cfg(all(test, feature = "openbao"))]
mod tests {
    use super::*;

    /// A provider that is configured wrongly stays inspectable through the store error: the
    /// chain falls through the same way (`Config`), and the provider's own kind is its source.
    #[test]
    fn a_misconfigured_provider_is_a_store_config_error_keeping_the_provider_error() {
        let e = SecretStoreError::from(IdentityProviderError::Misconfigured {
            issuer: "https://idp.example.com".into(),
            message: "no device-code grant".into(),
            source: None,
        });
        assert_eq!(
            e.to_string(),
            "the identity provider at https://idp.example.com is not configured correctly: \
             no device-code grant"
        );
        let cause = std::error::Error::source(&e).expect("the provider error is kept");
        assert!(
            matches!(
                cause.downcast_ref::<IdentityProviderError>(),
                Some(IdentityProviderError::Misconfigured { issuer, .. }) if issuer == "https://idp.example.com"
            ),
            "{cause:?}"
        );
    }
}
