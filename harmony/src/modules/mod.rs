//! Concrete Scores, one folder per product or concern.

pub mod helm;
pub mod k8s;
pub mod openbao;
pub mod postgresql;
pub mod zitadel;
