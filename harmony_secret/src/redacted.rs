//! [`Secret`]: credentials held in [`secrecy::SecretString`], so they never show in `Debug` output
//! and are zeroed when dropped.
//!
//! Read a value with [`ExposeSecret::expose_secret`] only where it is sent over the wire or written
//! to a private file. [`SecretString`] does not implement `Serialize` on purpose; the few places
//! that must write a credential (the session cache file, the oauth2 token response) opt in with
//! `#[serde(serialize_with = ...)]` and the helpers here.

pub use secrecy::{ExposeSecret, SecretString};

/// A credential (token, password, id_token, refresh token): [`secrecy::SecretString`].
///
/// An alias kept for code written against the former own type: build one with
/// `Secret::from("...")` (or `.into()`), read it with [`ExposeSecret::expose_secret`]. `Debug`
/// prints `SecretBox<str>([REDACTED])`; there is no `Display`.
pub type Secret = SecretString;

/// Whether two secrets hold the same value (`SecretString` has no `PartialEq`, so no `==` is
/// ever written by accident next to a secret in a log line).
#[cfg(any(feature = "openbao", test))]
pub(crate) fn same(a: &Secret, b: &Secret) -> bool {
    a.expose_secret() == b.expose_secret()
}

/// `#[serde(serialize_with = "crate::redacted::serialize")]`: writes the value itself.
#[cfg(any(feature = "openbao", test))]
pub(crate) fn serialize<S: serde::Serializer>(secret: &Secret, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(secret.expose_secret())
}

/// [`serialize`] for an optional secret.
#[cfg(any(feature = "openbao", test))]
pub(crate) fn serialize_option<S: serde::Serializer>(
    secret: &Option<Secret>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(s) => ser.serialize_some(s.expose_secret()),
        None => ser.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Entry {
        #[serde(serialize_with = "serialize")]
        token: Secret,
        #[serde(serialize_with = "serialize_option")]
        refresh: Option<Secret>,
    }

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::from("hvs.very-secret");
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
        assert_eq!(s.expose_secret(), "hvs.very-secret");
    }

    #[test]
    fn serialize_helpers_round_trip_and_debug_stays_hidden() {
        let e = Entry {
            token: Secret::from("s.token"),
            refresh: Some(Secret::from("rt-123")),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"token":"s.token","refresh":"rt-123"}"#);
        let back: Entry = serde_json::from_str(&json).unwrap();
        assert!(same(&back.token, &e.token));
        assert_eq!(back.refresh.as_ref().unwrap().expose_secret(), "rt-123");
        let shown = format!("{back:?}");
        assert!(
            !shown.contains("s.token") && !shown.contains("rt-123"),
            "{shown}"
        );
        assert!(!same(&back.token, &Secret::from("other")));
    }
}
