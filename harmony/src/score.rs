//! [`Score`]: the declarative description of a wanted state.

use crate::interpret::Interpret;
use crate::topology::Topology;

/// What is wanted, independent of how it is achieved.
///
/// A Score is a plain value (usually `Debug + Clone + Serialize`). It is generic over the topology
/// and bounds `T` on the capabilities it needs, e.g. `impl<T: Topology + K8sclient> Score<T> for X`,
/// so pairing it with a topology that lacks them is a compile error. Running a Score twice must
/// change nothing the second time, and Scores must not depend on the order they run in.
pub trait Score<T: Topology>: Send + Sync {
    /// A short stable name shown in listings and summaries.
    fn name(&self) -> String;

    /// The interpret that brings the topology to the wanted state.
    fn create_interpret(&self) -> Box<dyn Interpret<T>>;
}
