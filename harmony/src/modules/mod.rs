//! Concrete Scores, one folder per product or concern.

pub mod k8s;
pub mod openbao;
pub mod zitadel;
