//! [`Inventory`]: the physical material a topology is made of.
//!
//! Bare-metal topologies list hosts here; a Kubernetes topology usually needs nothing, so the
//! default inventory is empty.

/// A machine known to the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub hosts: Vec<Host>,
}

impl Inventory {
    /// The inventory of a topology that discovers everything itself (e.g. a Kubernetes cluster).
    pub fn empty() -> Self {
        Self::default()
    }
}
