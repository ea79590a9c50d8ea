//! [`Topology`]: where Scores run, and which capabilities that place offers.
//!
//! Capabilities are traits implemented by topologies. They model industry concepts ("a
//! Kubernetes API", "a PostgreSQL service"), not particular tools, so the tool behind one can be
//! swapped without touching the Scores that use it.

use async_trait::async_trait;

mod capabilities;
mod capability_error;
mod secret_vault;

pub use capabilities::*;
pub use capability_error::{BoxError, CapabilityError};
pub use secret_vault::*;

#[async_trait]
pub trait Topology: Send + Sync {
    fn name(&self) -> &str;

    /// Makes the topology reachable (e.g. starts a local cluster). Must be cheap when already
    /// ready and must not install product components: that is the job of Scores.
    async fn ensure_ready(&self) -> Result<PreparationOutcome, PreparationError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparationOutcome {
    /// The topology was prepared now (e.g. a cluster was created or started).
    Success { details: String },
    /// It was already ready: nothing was done.
    Noop,
}

#[derive(Debug, thiserror::Error)]
#[error("could not prepare the topology: {message}")]
pub struct PreparationError {
    pub message: String,
}

impl PreparationError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
