//! Kubernetes-level Scores.

pub mod coredns;
pub mod resource;
