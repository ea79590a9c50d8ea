//! [`Inventory`]: the physical material a topology is made of.
//!
//! The topologies Harmony has today (Kubernetes clusters) discover everything themselves, so the
//! inventory is empty; it stays in `Maestro::new` as the place bare-metal topologies will list
//! their machines.

/// The machines and devices a topology is built from; empty for Kubernetes topologies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {}

impl Inventory {
    /// The inventory of a topology that discovers everything itself (e.g. a Kubernetes cluster).
    pub fn empty() -> Self {
        Self::default()
    }
}
