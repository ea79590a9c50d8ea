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

/// Where Scores run; capabilities are extra traits on it.
#[async_trait]
pub trait Topology: Send + Sync {
    /// Its name, for progress and the summary.
    fn name(&self) -> &str;

    /// Makes the topology reachable (e.g. starts a local cluster). Must be cheap when already
    /// ready and must not install product components: that is the job of Scores.
    async fn ensure_ready(&self) -> Result<PreparationOutcome, PreparationError>;
}

/// What [`Topology::ensure_ready`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparationOutcome {
    /// The topology was prepared now (e.g. a cluster was created or started).
    Success {
        /// What was done, e.g. `created k3d cluster harmony`.
        details: String,
    },
    /// It was already ready: nothing was done.
    Noop,
}

/// Why a topology could not be made ready; the message says what to do.
#[derive(Debug, thiserror::Error)]
#[error("could not prepare the topology: {message}")]
pub struct PreparationError {
    /// What failed and the fix.
    pub message: String,
    /// The capability failure behind it, when there is one (match on its kind; boxed so the
    /// error stays small).
    #[source]
    pub source: Option<Box<CapabilityError>>,
}

impl PreparationError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }
}

impl From<CapabilityError> for PreparationError {
    /// Keeps the capability's message (it says the fix) and the failure itself.
    fn from(e: CapabilityError) -> Self {
        Self {
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}
