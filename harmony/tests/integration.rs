//! Integration tests of the SSO Scores (Cargo only discovers `tests/*.rs`, so this file pulls in
//! the modules of `tests/integration/`).
//!
//! - `openbao_setup_real`: the OpenBao setup component against a real `bao` server and a real
//!   OpenID provider (harmony_test_support); runs everywhere.
//! - `k3d_scores`: the Scores on a local k3d cluster (`test_config_round_trip` moved to
//!   `examples/harmony_sso/tests/config_round_trip.rs`); `#[ignore]` (need Docker), run with
//!   `cargo test -p harmony --test integration -- --ignored --test-threads=1`.

#[path = "integration/k3d_scores.rs"]
mod k3d_scores;
#[path = "integration/openbao_ha_real.rs"]
mod openbao_ha_real;
#[path = "integration/openbao_plan_real.rs"]
mod openbao_plan_real;
#[path = "integration/openbao_role_binding_real.rs"]
mod openbao_role_binding_real;
#[path = "integration/openbao_setup_real.rs"]
mod openbao_setup_real;
