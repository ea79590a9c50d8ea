//! Zitadel: the identity provider (OIDC) for Harmony's single sign-on.

pub mod api;
