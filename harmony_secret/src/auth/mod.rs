//! Sign-in to identity providers, independent of any secret store.
//!
//! [`oidc`]: the OIDC device flow (RFC 8628), refresh and revocation, used by
//! [`crate::OpenbaoSecretStore`] for single sign-on.

pub mod oidc;
