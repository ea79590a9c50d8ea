//! Harmony: infrastructure as real code.
//!
//! - a [`score::Score`] says *what* is wanted (declarative, idempotent);
//! - a [`topology::Topology`] says *where*, and which capabilities it offers (traits such as
//!   [`topology::K8sclient`]); a Score bounded on a capability the topology lacks does not compile;
//! - an [`interpret::Interpret`] does the work, against those capabilities only.
//!
//! The domain modules (`score`, `interpret`, `topology`, `inventory`) import no Kubernetes, Helm or
//! OpenBao crate: adapters in `infra` do, and `modules` holds the concrete Scores.

#![warn(missing_docs)]

pub mod infra;
pub mod interpret;
pub mod inventory;
pub mod maestro;
pub mod modules;
pub mod plan;
pub mod progress;
pub mod score;
pub mod topology;

pub use maestro::{Args, Maestro, run};

/// The guides' examples, compiled and run as doc-tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/writing-a-score.md")]
pub struct WritingAScoreGuide;

#[cfg(doctest)]
#[doc = include_str!("../../docs/writing-a-capability.md")]
pub struct WritingACapabilityGuide;
