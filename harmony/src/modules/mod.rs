//! Concrete Scores, one folder per product or concern.

pub mod openbao;
pub mod zitadel;
