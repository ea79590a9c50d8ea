//! Turns OpenBao's "the id_token does not satisfy the role's `bound_claims`" answer into a
//! sentence a person can act on (which role or claim is missing, whom to ask).
//!
//! OpenBao answers a JWT login whose token misses a bound claim with HTTP 400 and
//! `error validating claims: claim "<claim or JSON pointer>" is missing` (or `... does not match
//! any associated bound claim values`). Harmony binds Zitadel's project-roles claim through a
//! pointer `/urn:zitadel:iam:org:project:roles/<role>/<org id>`, so the role is in the pointer.

const ZITADEL_ROLES_POINTER: &str = "/urn:zitadel:iam:org:project:roles/";

/// The explanation for a refused JWT login, when OpenBao's `reason` is a bound-claim refusal.
pub(crate) fn explain(reason: &str) -> Option<String> {
    let (claim, missing) = refused_claim(reason)?;
    if let Some(rest) = claim.strip_prefix(ZITADEL_ROLES_POINTER) {
        let role = unescape(rest.split('/').next().unwrap_or(rest));
        return Some(format!(
            "your account does not have the project role `{role}`{}; ask an administrator of the identity \
             provider (Zitadel) to grant it to you, then log in again",
            if missing {
                ""
            } else {
                " for this organisation"
            }
        ));
    }
    if claim == "email_verified" {
        return Some(
            "your email address is not verified at the identity provider; verify it there, then log in again"
                .to_string(),
        );
    }
    Some(format!(
        "your id_token {} the claim `{claim}` this login role requires; ask an administrator to check your account",
        if missing {
            "lacks"
        } else {
            "does not have the expected value of"
        }
    ))
}

/// `(claim, is_missing)` from `claim "<c>" is missing` / `claim "<c>" does not match ...`.
fn refused_claim(reason: &str) -> Option<(String, bool)> {
    let start = reason.find("claim \"")? + "claim \"".len();
    let rest = &reason[start..];
    let end = rest.find('"')?;
    let claim = rest[..end].to_string();
    let tail = &rest[end + 1..];
    if tail.trim_start().starts_with("is missing") {
        Some((claim, true))
    } else if tail.trim_start().starts_with("does not match") {
        Some((claim, false))
    } else {
        None
    }
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_zitadel_role_is_named() {
        let m = explain(
            "error validating claims: claim \"/urn:zitadel:iam:org:project:roles/harmony-developer/100\" is missing",
        )
        .unwrap();
        assert!(m.contains("`harmony-developer`"), "{m}");
        assert!(m.contains("grant"), "{m}");
    }

    #[test]
    fn unverified_email_and_other_claims_are_explained_and_other_errors_left_alone() {
        let m = explain("error validating claims: claim \"email_verified\" does not match any associated bound claim values").unwrap();
        assert!(m.contains("not verified"), "{m}");
        let m = explain("error validating claims: claim \"groups\" is missing").unwrap();
        assert!(m.contains("`groups`"), "{m}");
        assert_eq!(explain("role \"x\" could not be found"), None);
        assert_eq!(
            explain("error validating claims: aud claim does not match any bound audience"),
            None
        );
    }
}
